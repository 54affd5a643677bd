//! The index behind "assign to whoever had this phone or e-mail before".
//!
//! Phones and e-mails are random keys: inserting each new lead's contacts into
//! the `lead_contacts` B-tree at commit time dirtied one page per contact per
//! commit, which made up most of what the WAL had to write (and the benchmark
//! twice as slow). So the writer keeps the contacts of its most recent leads
//! in memory (the tail) and merges them into `lead_contacts` in bulk, sorted,
//! every few thousand leads, where many contacts share each page written.
//!
//! A merge is written a slice at a time, one slice inside each insert batch's
//! own transaction (sharing its fsync), in key order so consecutive slices
//! touch neighbouring pages. Written in one go, each merge held the single
//! writer, and so every insert waiting on it, for ~7 ms ten times a second:
//! most of the benchmark's p99. The tail keeps a merge's leads until its last
//! slice, which also moves the merge mark, is committed.
//!
//! Nothing is lost by this: the tail is derived from leads already committed
//! (their documents hold the contacts), and `store_meta.contacts_merged_upto`
//! records which leads the table covers, so opening the store rebuilds the
//! tail from the leads after it. Only the writer thread touches this, and
//! lookups consult the current batch, then the tail, then the table, which is
//! newest first, so the answer is the same as with a table written at once.
//!
//! The table is keyed by bucket of lead ids first (16 384 leads each), then
//! by contact. Keyed by contact alone, phones scattered as real people's are
//! put every merged row on a page of its own once the table outgrew a merge:
//! a page read and a page written per contact, 60-90 log frames a commit,
//! p99 past 20 ms by 600k leads. A merge now writes into the newest bucket
//! only, a few hundred pages however large the store grows. A look-up probes
//! the buckets newest first, and only those whose own Bloom filter may hold
//! the contact (`bucket_filters.rs` keeps them bit-sliced, so asking all of
//! them costs a few memory reads); a bucket with an eligible lead holds the
//! newest one.

use std::cmp::Reverse;
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::bloom::{Bloom, ItemHash};
use super::bucket_filters::BucketFilters;
use super::buckets::bucket_of;
use super::read::read_lead;
use crate::lead::{EmployeeId, Lead, LeadId};
use crate::store::StoreError;

/// Contacts held in memory before a merge starts: bounds memory and the
/// leads re-read on open. Unit tests merge every few leads so both paths are
/// exercised.
const MERGE_ROWS: usize = if cfg!(test) { 8 } else { 2048 };
/// Contacts a merge writes per lead of the insert batch it rides in. A fixed
/// 256-row slice could not keep up with batches of more than ~128 leads
/// (Bitrix24 `batch` at 64 connections commits up to 512 at once): the tail
/// grew without bound, 410 MB of RSS in 8 s. Four rows per lead drain it
/// (about two contacts per lead) twice as fast as it fills at any batch
/// size, and a slice stays a fixed share of its batch's cost.
const MERGE_ROWS_PER_LEAD: usize = 4;
/// The smallest slice, so a trickle of single-lead batches still merges.
const MERGE_SLICE_MIN: usize = if cfg!(test) { 3 } else { 32 };

type Key = (&'static str, String);

#[derive(Default)]
pub(super) struct ContactIndex {
    /// Committed leads after `merged_upto` with an assignee, per contact,
    /// oldest first.
    tail: HashMap<Key, Vec<(LeadId, EmployeeId)>>,
    /// Committed contacts not yet in `lead_contacts`.
    pending: Vec<(Key, LeadId)>,
    merged_upto: LeadId,
    /// Contacts of leads written in the open transaction; they count for
    /// later leads of the same batch but join the tail only on commit.
    staged: Vec<(Key, LeadId, Option<EmployeeId>)>,
    /// Newest lead written in the open transaction, and how many.
    staged_newest: Option<LeadId>,
    staged_leads: usize,
    /// Newest committed lead, and committed leads since the last merge: the
    /// mark advances over leads without contacts too, so opening the store
    /// never re-reads more than a bounded number of leads.
    committed_newest: LeadId,
    unmerged_leads: usize,
    /// Every contact in `lead_contacts` or on its way there: skips the
    /// probe for new people.
    merged: Bloom,
    /// The same per bucket: a repeat contact probes only the buckets that
    /// may hold it.
    buckets: BucketFilters,
    /// The merge being written, a slice per insert batch.
    merging: Option<Merge>,
    /// Where the merge will stand once the open transaction commits.
    staged_slice_end: Option<usize>,
    /// This process merges (not a `leadgate deliveries` beside a gateway).
    merges: bool,
}

/// The contacts of the leads up to `upto`, sorted as the table is keyed
/// (bucket, then contact), written from `next` on.
#[derive(Default)]
struct Merge {
    rows: Vec<(Key, LeadId)>,
    next: usize,
    upto: LeadId,
}

fn keys(lead: &Lead) -> impl Iterator<Item = Key> + '_ {
    let phones = lead.phones.iter().map(|point| ("phone", point));
    let emails = lead.emails.iter().map(|point| ("email", point));
    phones
        .chain(emails)
        .filter(|(_, point)| !point.normalized.is_empty())
        .map(|(kind, point)| (kind, point.normalized.clone()))
}

impl ContactIndex {
    /// Reads the merge mark and rebuilds the tail from the leads after it.
    /// `merges` is false for a process that must leave the file's upkeep to
    /// the gateway beside it.
    pub fn load(conn: &Connection, merges: bool) -> Result<ContactIndex, StoreError> {
        let merged_upto: LeadId = conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'contacts_merged_upto'",
                [],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let mut index = ContactIndex {
            merged_upto,
            committed_newest: merged_upto,
            merges,
            ..ContactIndex::default()
        };
        let mut merged = conn.prepare("SELECT bucket, kind, value FROM lead_contacts")?;
        let mut rows = merged.query([])?;
        while let Some(row) = rows.next()? {
            let kind: String = row.get(1)?;
            let value: String = row.get(2)?;
            index.remember(row.get(0)?, &kind, &value);
        }
        drop(rows);
        let mut statement = conn.prepare("SELECT id, doc FROM leads WHERE id > ?1 ORDER BY id")?;
        let mut rows = statement.query([merged_upto])?;
        while let Some(row) = rows.next()? {
            let id: LeadId = row.get(0)?;
            let doc: String = row.get(1)?;
            let lead = read_lead(id, &doc)?;
            index.stage(&lead);
        }
        index.commit_staged();
        Ok(index)
    }

    /// The assignee of the most recent lead sharing one of `lead`'s contacts,
    /// among `eligible` employees.
    pub fn latest_assignee(
        &self,
        tx: &Transaction<'_>,
        lead: &Lead,
        eligible: &[EmployeeId],
    ) -> Result<Option<EmployeeId>, StoreError> {
        let wanted: Vec<Key> = keys(lead).collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let found = self
            .staged
            .iter()
            .rev()
            .find(|(key, _, assignee)| {
                assignee.is_some_and(|assignee| eligible.contains(&assignee))
                    && wanted.contains(key)
            })
            .and_then(|(_, _, assignee)| *assignee);
        if found.is_some() {
            return Ok(found);
        }
        let newest_in_tail = wanted
            .iter()
            .filter_map(|key| self.tail.get(key))
            .filter_map(|leads| {
                leads
                    .iter()
                    .rev()
                    .find(|(_, assignee)| eligible.contains(assignee))
            })
            .max_by_key(|(lead_id, _)| *lead_id);
        if let Some((_, assignee)) = newest_in_tail {
            return Ok(Some(*assignee));
        }
        let maybe_merged: Vec<(Key, ItemHash)> = wanted
            .into_iter()
            .filter_map(|key| {
                let hash = self.merged.hash(&(key.0, key.1.as_str()));
                self.merged.may_contain_hash(hash).then_some((key, hash))
            })
            .collect();
        if maybe_merged.is_empty() {
            return Ok(None);
        }
        merged_assignee(tx, &self.buckets, &maybe_merged, eligible)
    }

    /// Notes in the filters that `lead_contacts` holds, or is about to
    /// hold, a row for this contact in `bucket`.
    fn remember(&mut self, bucket: i64, kind: &str, value: &str) {
        let hash = self.merged.hash(&(kind, value));
        self.merged.insert_hash(hash);
        self.buckets.insert(bucket, hash);
    }

    /// Records a lead just written in the open transaction.
    pub fn stage(&mut self, lead: &Lead) {
        if let Some(id) = lead.id {
            self.staged_newest = Some(self.staged_newest.map_or(id, |newest| newest.max(id)));
            self.staged_leads += 1;
            for key in keys(lead) {
                self.staged.push((key, id, lead.assigned_to));
            }
        }
    }

    /// The open transaction committed: its leads join the tail, and the
    /// merge slice it wrote counts.
    pub fn commit_staged(&mut self) {
        if let Some(end) = self.staged_slice_end.take() {
            self.advance_merge(end);
        }
        if let Some(newest) = self.staged_newest.take() {
            self.committed_newest = self.committed_newest.max(newest);
        }
        self.unmerged_leads += std::mem::take(&mut self.staged_leads);
        for (key, id, assignee) in self.staged.drain(..) {
            if let Some(assignee) = assignee {
                self.tail
                    .entry(key.clone())
                    .or_default()
                    .push((id, assignee));
            }
            self.pending.push((key, id));
        }
    }

    /// The open transaction rolled back: forget its leads.
    pub fn discard_staged(&mut self) {
        self.staged_slice_end = None;
        self.staged.clear();
        self.staged_newest = None;
        self.staged_leads = 0;
    }

    /// Drops what the index holds for a lead that was deleted or is about
    /// to be re-recorded after an update.
    pub fn forget(&mut self, id: LeadId) {
        self.tail.retain(|_, leads| {
            leads.retain(|(lead_id, _)| *lead_id != id);
            !leads.is_empty()
        });
        self.pending.retain(|(_, lead_id)| *lead_id != id);
        // Rows already written are the deleter's (`delete_rows`); the rest
        // must not be written for a lead that is gone.
        if let Some(merge) = &mut self.merging {
            let unwritten = merge.rows.split_off(merge.next);
            merge
                .rows
                .extend(unwritten.into_iter().filter(|(_, lead_id)| *lead_id != id));
        }
    }

    /// Records an updated lead inside the open transaction `tx`: its contacts
    /// are written to `lead_contacts` at once (an update of an old lead is not
    /// re-read on open, so it cannot wait for a merge) and, when the lead is
    /// recent enough to be in the tail, go there too so the tail keeps its
    /// newest-first order. Call `commit_staged` after the commit.
    pub fn record_update(&mut self, tx: &Transaction<'_>, lead: &Lead) -> Result<(), StoreError> {
        let Some(id) = lead.id else {
            return Ok(());
        };
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO lead_contacts (bucket, kind, value, lead_id)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (kind, value) in keys(lead) {
            insert.execute(params![bucket_of(id), kind, value, id])?;
            self.remember(bucket_of(id), kind, &value);
            if id > self.merged_upto {
                self.staged.push(((kind, value), id, lead.assigned_to));
            }
        }
        Ok(())
    }

    /// Inside the transaction deleting or updating `lead` (as stored):
    /// removes its rows by key, a probe per contact point (a key starting
    /// with the lead would make every merge slow instead). Then `forget`.
    pub fn delete_rows(&self, tx: &Transaction<'_>, lead: &Lead) -> Result<(), StoreError> {
        let Some(id) = lead.id else {
            return Ok(());
        };
        let mut delete = tx.prepare_cached(
            "DELETE FROM lead_contacts
             WHERE bucket = ?1 AND kind = ?2 AND value = ?3 AND lead_id = ?4",
        )?;
        for (kind, value) in keys(lead) {
            delete.execute(params![bucket_of(id), kind, value, id])?;
        }
        Ok(())
    }

    fn needs_merge(&self) -> bool {
        self.pending.len() >= MERGE_ROWS || self.unmerged_leads >= MERGE_ROWS
    }

    /// Inside an insert batch's transaction: writes the next slice of the
    /// merge in progress, starting one when the tail is due. Call
    /// `commit_staged` after the commit. A slice that fails is rolled back
    /// alone (its own savepoint) and retried with a later batch, so the
    /// index's upkeep never fails an insert.
    pub fn write_merge_slice(&mut self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if !self.merges || (self.merging.is_none() && !self.needs_merge()) {
            return Ok(());
        }
        tx.prepare_cached("SAVEPOINT contact_merge")?.execute([])?;
        match self.write_slice(tx, self.slice_rows()) {
            Ok(()) => {
                tx.prepare_cached("RELEASE contact_merge")?.execute([])?;
                Ok(())
            }
            Err(error) => {
                self.staged_slice_end = None;
                tx.prepare_cached("ROLLBACK TO contact_merge")?
                    .execute([])?;
                tx.prepare_cached("RELEASE contact_merge")?.execute([])?;
                tracing::warn!(%error, "contact index merge slice failed; will retry");
                Ok(())
            }
        }
    }

    /// Rows the open transaction's slice may write: a share of its batch,
    /// and more while merges lag behind (leads with many contacts), so the
    /// tail stays bounded whatever the leads carry.
    fn slice_rows(&self) -> usize {
        let for_batch = (MERGE_ROWS_PER_LEAD * self.staged_leads).max(MERGE_SLICE_MIN);
        for_batch * (1 + self.pending.len() / MERGE_ROWS)
    }

    /// Writes everything the tail holds into `lead_contacts` and moves the
    /// mark (on close, so the next open re-reads nothing).
    pub fn merge_all(&mut self, conn: &mut Connection) -> Result<(), StoreError> {
        while self.merges && (self.merging.is_some() || self.unmerged_leads > 0) {
            let written = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                self.write_slice(&tx, usize::MAX)?;
                tx.commit()?;
                Ok(())
            })();
            match written {
                Ok(()) => self.commit_staged(),
                Err(error) => {
                    self.discard_staged();
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Starts a merge of everything committed so far when none is running.
    fn start_merge(&mut self) -> &mut Merge {
        if self.merging.is_none() {
            let mut rows = std::mem::take(&mut self.pending);
            rows.sort_unstable_by(|(key, id), (other_key, other_id)| {
                (bucket_of(*id), key, id).cmp(&(bucket_of(*other_id), other_key, other_id))
            });
            for ((kind, value), id) in &rows {
                self.remember(bucket_of(*id), kind, value);
            }
            self.unmerged_leads = 0;
            self.merging = Some(Merge {
                rows,
                next: 0,
                upto: self.committed_newest.max(self.merged_upto),
            });
        }
        // Set just above when there was none.
        self.merging.get_or_insert_with(Merge::default)
    }

    /// Writes up to `limit` rows of the merge and, with its last rows, the
    /// new merge mark; nothing in memory moves until `commit_staged`.
    fn write_slice(&mut self, tx: &Transaction<'_>, limit: usize) -> Result<(), StoreError> {
        let merge = self.start_merge();
        let end = merge.rows.len().min(merge.next.saturating_add(limit));
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO lead_contacts (bucket, kind, value, lead_id)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for ((kind, value), id) in &merge.rows[merge.next..end] {
            insert.execute(params![bucket_of(*id), kind, value, id])?;
        }
        if end == merge.rows.len() {
            tx.prepare_cached(
                "INSERT INTO store_meta (key, value) VALUES ('contacts_merged_upto', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([merge.upto])?;
        }
        self.staged_slice_end = Some(end);
        Ok(())
    }

    /// A slice is committed; after the last one the merged leads leave the
    /// tail (leads committed since the merge began stay).
    fn advance_merge(&mut self, end: usize) {
        let Some(merge) = &mut self.merging else {
            return;
        };
        merge.next = end;
        if merge.next < merge.rows.len() {
            return;
        }
        let upto = merge.upto;
        self.merging = None;
        self.merged_upto = upto;
        self.tail.retain(|_, leads| {
            leads.retain(|(lead_id, _)| *lead_id > upto);
            !leads.is_empty()
        });
    }
}

/// The newest eligible assignee among merged leads. Buckets split the lead
/// ids in ranges, so the newest bucket with an eligible lead for any of the
/// contacts holds the answer: buckets are probed newest first, each only for
/// the contacts its filter may hold (one indexed probe each).
fn merged_assignee(
    tx: &Transaction<'_>,
    buckets: &BucketFilters,
    wanted: &[(Key, ItemHash)],
    eligible: &[EmployeeId],
) -> Result<Option<EmployeeId>, StoreError> {
    let mut statement = tx.prepare_cached(
        "SELECT c.lead_id, l.assigned_to FROM lead_contacts c JOIN leads l ON l.id = c.lead_id
         WHERE c.bucket = ?1 AND c.kind = ?2 AND c.value = ?3 AND l.assigned_to IS NOT NULL
         ORDER BY c.lead_id DESC",
    )?;
    // (bucket, contact) pairs worth a probe, newest bucket first.
    let mut probes = Vec::new();
    let mut found = Vec::new();
    for (contact, (_, hash)) in wanted.iter().enumerate() {
        found.clear();
        buckets.may_hold(*hash, &mut found);
        probes.extend(found.iter().map(|&bucket| (bucket, contact)));
    }
    probes.sort_unstable_by_key(|&(bucket, contact)| (Reverse(bucket), contact));
    probes.dedup();
    let mut best: Option<(LeadId, EmployeeId)> = None;
    let mut current = None;
    for (bucket, contact) in probes {
        if current != Some(bucket) {
            if let Some((_, assignee)) = best {
                return Ok(Some(assignee));
            }
            current = Some(bucket);
        }
        let ((kind, value), _) = &wanted[contact];
        let mut rows = statement.query(params![bucket, kind, value])?;
        while let Some(row) = rows.next()? {
            let lead_id: LeadId = row.get(0)?;
            if best.is_some_and(|(newest, _)| newest >= lead_id) {
                break;
            }
            let assignee: EmployeeId = row.get(1)?;
            if eligible.contains(&assignee) {
                best = Some((lead_id, assignee));
                break;
            }
        }
    }
    Ok(best.map(|(_, assignee)| assignee))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rusqlite::{Connection, TransactionBehavior};

    use rusqlite::params;

    use super::{ContactIndex, MERGE_ROWS};
    use crate::lead::{ContactPoint, EmployeeId, Lead, LeadId};

    fn lead_with_phone(id: LeadId, assignee: EmployeeId, phone: &str) -> Lead {
        let mut lead = Lead::new(Utc::now());
        lead.id = Some(id);
        lead.assigned_to = Some(assignee);
        lead.phones.push(ContactPoint::phone(phone, "7"));
        lead
    }

    /// Commits `leads` (id, assignee, phone) and merges them all into
    /// `lead_contacts`, so look-ups go to the table, not the tail.
    fn merged(conn: &mut Connection, leads: &[(LeadId, EmployeeId, &str)]) -> ContactIndex {
        let mut index = ContactIndex::load(conn, true).unwrap();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        for &(id, assignee, phone) in leads {
            tx.execute(
                "INSERT INTO leads (id, created_at, updated_at, stage, has_email, has_phone,
                                    assigned_to, doc)
                 VALUES (?1, 0, 0, 'new', 0, 1, ?2, '{}')",
                params![id, assignee],
            )
            .unwrap();
            index.stage(&lead_with_phone(id, assignee, phone));
        }
        tx.commit().unwrap();
        index.commit_staged();
        index.merge_all(conn).unwrap();
        assert!(index.tail.is_empty());
        index
    }

    fn assignee_for(
        conn: &mut Connection,
        index: &ContactIndex,
        phones: &[&str],
        eligible: &[EmployeeId],
    ) -> Option<EmployeeId> {
        let mut lead = Lead::new(Utc::now());
        for phone in phones {
            lead.phones.push(ContactPoint::phone(phone, "7"));
        }
        let tx = conn.transaction().unwrap();
        index.latest_assignee(&tx, &lead, eligible).unwrap()
    }

    /// Rows land in their lead's bucket, and a look-up answers with the
    /// newest eligible lead across buckets, also after reopening (the
    /// buckets' filters are rebuilt from the table) and after a delete.
    #[test]
    fn the_newest_eligible_lead_answers_across_buckets() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let anna = "+79001112233";
        let index = merged(
            &mut conn,
            &[
                (5, 1, anna),
                (20_000, 2, anna),
                (40_000, 3, "+79005556677"),
                (40_001, 3, "+79008889900"),
            ],
        );
        let rows: Vec<(i64, LeadId)> = conn
            .prepare("SELECT bucket, lead_id FROM lead_contacts ORDER BY lead_id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(0, 5), (1, 20_000), (2, 40_000), (2, 40_001)]);

        assert_eq!(
            assignee_for(&mut conn, &index, &[anna], &[1, 2, 3]),
            Some(2)
        );
        assert_eq!(assignee_for(&mut conn, &index, &[anna], &[1, 3]), Some(1));
        let both = [anna, "+79005556677"];
        assert_eq!(assignee_for(&mut conn, &index, &both, &[1, 2, 3]), Some(3));
        assert_eq!(assignee_for(&mut conn, &index, &both, &[1, 2]), Some(2));
        assert_eq!(
            assignee_for(&mut conn, &index, &["+79000000000"], &[1, 2, 3]),
            None
        );

        let index = ContactIndex::load(&conn, true).unwrap();
        assert_eq!(
            assignee_for(&mut conn, &index, &[anna], &[1, 2, 3]),
            Some(2)
        );

        let tx = conn.transaction().unwrap();
        index
            .delete_rows(&tx, &lead_with_phone(20_000, 2, anna))
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(
            assignee_for(&mut conn, &index, &[anna], &[1, 2, 3]),
            Some(1)
        );
    }

    /// Big batches of leads with several contacts each: the rows waiting to
    /// be merged stay bounded instead of growing with every batch.
    #[test]
    fn merges_keep_up_with_big_batches() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let mut index = ContactIndex::load(&conn, true).unwrap();
        let mut next_id = 0;
        let mut most_waiting = 0;
        for _ in 0..60 {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            for _ in 0..200 {
                next_id += 1;
                let mut lead = Lead::new(Utc::now());
                lead.id = Some(next_id);
                lead.assigned_to = Some(1);
                lead.phones.push(ContactPoint::phone(
                    &format!("+7900{:07}", next_id * 7919 % 10_000_000),
                    "7",
                ));
                lead.phones.push(ContactPoint::phone(
                    &format!("+7901{:07}", next_id * 104_729 % 10_000_000),
                    "7",
                ));
                lead.emails
                    .push(ContactPoint::email(&format!("p{next_id}@example.ru")));
                index.stage(&lead);
            }
            index.write_merge_slice(&tx).unwrap();
            tx.commit().unwrap();
            index.commit_staged();
            let unwritten = index
                .merging
                .as_ref()
                .map_or(0, |merge| merge.rows.len() - merge.next);
            most_waiting = most_waiting.max(index.pending.len() + unwritten);
        }
        // 36 000 contacts went in; with a fixed slice most would still wait.
        assert!(
            most_waiting <= 4 * 200 * 3 + MERGE_ROWS,
            "{most_waiting} rows waiting"
        );
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM lead_contacts", [], |row| row.get(0))
            .unwrap();
        assert!(
            stored >= 36_000 - most_waiting as i64,
            "{stored} rows stored"
        );
    }
}
