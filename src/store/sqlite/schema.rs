//! Versioned schema migrations, tracked in SQLite's `user_version`. A migration
//! is appended, never edited: a database created by any earlier release
//! upgrades by running the ones it has not seen, in one transaction each.

use rusqlite::Connection;

/// Index `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: leads, with the columns the list filters of all four dialects need
    // indexed; the whole canonical lead is kept as JSON in `doc`.
    r#"
    CREATE TABLE leads (
        id                 INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        completed_at       INTEGER,
        stage              TEXT    NOT NULL,
        kind               TEXT,
        assigned_to        INTEGER,
        created_by         INTEGER,
        completed_by       INTEGER,
        site_id            INTEGER,
        department_id      INTEGER,
        has_email          INTEGER NOT NULL,
        has_phone          INTEGER NOT NULL,
        lock_by            INTEGER,
        lock_until         INTEGER,
        origin_system      TEXT,
        origin_external_id TEXT,
        doc                TEXT    NOT NULL
    );
    CREATE INDEX leads_created_at   ON leads (created_at);
    CREATE INDEX leads_updated_at   ON leads (updated_at);
    CREATE INDEX leads_completed_at ON leads (completed_at) WHERE completed_at IS NOT NULL;
    CREATE INDEX leads_stage        ON leads (stage, created_at);
    CREATE INDEX leads_assigned_to  ON leads (assigned_to, created_at);
    CREATE INDEX leads_site         ON leads (site_id, created_at) WHERE site_id IS NOT NULL;
    CREATE INDEX leads_department   ON leads (department_id, created_at) WHERE department_id IS NOT NULL;
    -- Most leads carry an e-mail or a phone, so "has one" is answered well by
    -- scanning the time index, and only the few without get an index entry
    -- (every index entry is write cost on each insert).
    CREATE INDEX leads_without_email ON leads (created_at) WHERE has_email = 0;
    CREATE INDEX leads_without_phone ON leads (created_at) WHERE has_phone = 0;
    CREATE UNIQUE INDEX leads_origin ON leads (origin_system, origin_external_id)
        WHERE origin_system IS NOT NULL;

    -- Normalised contacts, for "assign to whoever had this phone before".
    -- One B-tree, keyed the way it is searched.
    CREATE TABLE lead_contacts (
        kind    TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        lead_id INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
        PRIMARY KEY (kind, value, lead_id)
    ) WITHOUT ROWID;
    "#,
    // 2: lead_contacts is merged in bulk (see contacts.rs); this records up
    // to which lead it is complete. Stores created by version 1 wrote it at
    // once, so it covers every lead they hold.
    r#"
    CREATE TABLE store_meta (
        key   TEXT    PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO store_meta (key, value)
        SELECT 'contacts_merged_upto', COALESCE(MAX(id), 0) FROM leads;
    "#,
    // 3: session keys a dialect issues (UIS login.user), by digest, so every
    // process sharing the store accepts them and a logout ends them for all.
    r#"
    CREATE TABLE sessions (
        digest  TEXT    PRIMARY KEY,
        subject TEXT    NOT NULL,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: the transactional outbox. One row per lead and forwarding target,
    // written in the lead's insert transaction. A pending row with
    // `claimed_until` in the future is in flight; `claims` counts claims so
    // a worker whose lease ran out cannot overwrite its successor's result.
    // No foreign key: a delivery outlives a deleted lead as a dead row.
    r#"
    CREATE TABLE deliveries (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        lead_id       INTEGER NOT NULL,
        target        TEXT    NOT NULL,
        state         TEXT    NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        claims        INTEGER NOT NULL DEFAULT 0,
        due_at        INTEGER NOT NULL,
        claimed_until INTEGER,
        last_error    TEXT,
        external_id   TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        UNIQUE (lead_id, target)
    );
    CREATE INDEX deliveries_due ON deliveries (target, due_at) WHERE state = 'pending';
    CREATE INDEX deliveries_dead ON deliveries (target, id) WHERE state = 'dead';
    "#,
    // 5: lead_contacts without its foreign key. Deleting a lead cascaded to
    // its rows, but the key starts with the contact, so each delete scanned
    // the whole table while the single writer, and every insert behind it,
    // waited: 93 ms at 1.5 M contacts, seconds at tens of millions. An index
    // on lead_id made the delete a probe but cost inserts 13% (each merge
    // slice touched its whole recent range). The writer now deletes a lead's
    // rows by key from the lead's own contacts (on delete, and on update for
    // the contacts it had). Copied in key order, so the copy appends.
    r#"
    CREATE TABLE lead_contacts_keyed (
        kind    TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        lead_id INTEGER NOT NULL,
        PRIMARY KEY (kind, value, lead_id)
    ) WITHOUT ROWID;
    INSERT INTO lead_contacts_keyed (kind, value, lead_id)
        SELECT kind, value, lead_id FROM lead_contacts ORDER BY kind, value, lead_id;
    DROP TABLE lead_contacts;
    ALTER TABLE lead_contacts_keyed RENAME TO lead_contacts;
    "#,
    // 6: lead_contacts keyed by bucket of lead ids first (buckets.rs,
    // `BUCKET_SHIFT`: 16 384 leads a bucket). Keyed by contact alone,
    // scattered phones cost a page read and write per merged contact once
    // the table outgrew a merge; a merge now writes into the newest bucket.
    r#"
    CREATE TABLE lead_contacts_bucketed (
        bucket  INTEGER NOT NULL,
        kind    TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        lead_id INTEGER NOT NULL,
        PRIMARY KEY (bucket, kind, value, lead_id)
    ) WITHOUT ROWID;
    INSERT INTO lead_contacts_bucketed (bucket, kind, value, lead_id)
        SELECT lead_id >> 14, kind, value, lead_id FROM lead_contacts
        ORDER BY lead_id >> 14, kind, value, lead_id;
    DROP TABLE lead_contacts;
    ALTER TABLE lead_contacts_bucketed RENAME TO lead_contacts;
    "#,
    // 7: per-employee, per-hour counters behind `stat` (stats.rs), filled
    // from the leads already stored. An hour is the floor of the time in
    // microseconds over 3 600 000 000, negative times included.
    r#"
    CREATE TABLE assignee_hours (
        assigned_to INTEGER NOT NULL,
        hour        INTEGER NOT NULL,
        open        INTEGER NOT NULL,
        processed   INTEGER NOT NULL,
        PRIMARY KEY (assigned_to, hour)
    ) WITHOUT ROWID;
    INSERT INTO assignee_hours (assigned_to, hour, open, processed)
        SELECT assigned_to, hour, SUM(open), SUM(processed) FROM (
            SELECT assigned_to,
                   (created_at - (((created_at % 3600000000) + 3600000000) % 3600000000))
                       / 3600000000 AS hour,
                   1 AS open, 0 AS processed
            FROM leads
            WHERE assigned_to IS NOT NULL AND stage IN ('new', 'in_progress')
            UNION ALL
            SELECT assigned_to,
                   (completed_at - (((completed_at % 3600000000) + 3600000000) % 3600000000))
                       / 3600000000,
                   0, 1
            FROM leads
            WHERE assigned_to IS NOT NULL AND stage NOT IN ('new', 'in_progress')
              AND completed_at IS NOT NULL
        )
        GROUP BY assigned_to, hour;
    "#,
    // 8: the ids alone, in order. A deep page of an unfiltered list
    // (Bitrix24 `start=500000`) finds its first id by stepping over small
    // index entries instead of whole rows with their documents (read.rs).
    r#"
    CREATE INDEX leads_ids ON leads (id);
    "#,
    // 9: leads created per hour and stage, and the span of their ids
    // (stats.rs): the total of a window of creation times, and where its
    // leads lie along the primary key. Filled from the leads already stored.
    r#"
    CREATE TABLE created_hours (
        hour     INTEGER NOT NULL,
        stage    TEXT    NOT NULL,
        leads    INTEGER NOT NULL,
        first_id INTEGER NOT NULL,
        last_id  INTEGER NOT NULL,
        PRIMARY KEY (hour, stage)
    ) WITHOUT ROWID;
    INSERT INTO created_hours (hour, stage, leads, first_id, last_id)
        SELECT (created_at - (((created_at % 3600000000) + 3600000000) % 3600000000))
                   / 3600000000 AS hour,
               stage, COUNT(*), MIN(id), MAX(id)
        FROM leads
        GROUP BY hour, stage;
    "#,
    // 10: deliveries of a lead's changes. A lead now has, per target, its
    // own delivery (revision 0) and one row per change forwarded after it
    // (1, 2, ...), sent in that order (outbox.rs). SQLite cannot alter a
    // UNIQUE constraint, so the table is copied; the id sequence carries on.
    // A target's event names a lead by its id there: `deliveries_external`.
    r#"
    CREATE TABLE deliveries_revised (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        lead_id       INTEGER NOT NULL,
        target        TEXT    NOT NULL,
        revision      INTEGER NOT NULL DEFAULT 0,
        state         TEXT    NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        claims        INTEGER NOT NULL DEFAULT 0,
        due_at        INTEGER NOT NULL,
        claimed_until INTEGER,
        last_error    TEXT,
        external_id   TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        UNIQUE (lead_id, target, revision)
    );
    INSERT INTO deliveries_revised (id, lead_id, target, revision, state, attempts, claims,
            due_at, claimed_until, last_error, external_id, created_at, updated_at)
        SELECT id, lead_id, target, 0, state, attempts, claims, due_at, claimed_until,
            last_error, external_id, created_at, updated_at
        FROM deliveries ORDER BY id;
    DELETE FROM sqlite_sequence WHERE name = 'deliveries_revised';
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'deliveries_revised', seq FROM sqlite_sequence WHERE name = 'deliveries';
    DROP TABLE deliveries;
    ALTER TABLE deliveries_revised RENAME TO deliveries;
    CREATE INDEX deliveries_due ON deliveries (target, due_at) WHERE state = 'pending';
    CREATE INDEX deliveries_dead ON deliveries (target, id) WHERE state = 'dead';
    CREATE INDEX deliveries_external ON deliveries (target, external_id)
        WHERE external_id IS NOT NULL;
    "#,
];

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > latest_version() {
        // A newer leadgate wrote this file; running old code on it could
        // silently drop columns it does not know, so refuse instead.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "database schema version {current} is newer than this leadgate knows ({})",
                latest_version()
            )),
        ));
    }
    if current > 0 && current < latest_version() {
        // Some upgrades rebuild a table; on a large store that takes seconds,
        // and the log should say why start-up is slow.
        tracing::info!(
            from = current,
            to = latest_version(),
            "upgrading the store's schema"
        );
    }
    // A rebuild that sorts a large table spills its sort to a temporary
    // file instead of holding it all in memory (the connection keeps temp
    // tables in memory otherwise): re-bucketing 2.5 M contact rows took
    // 215 MB of RSS that way.
    let temp_store: i64 = conn.query_row("PRAGMA temp_store", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA temp_store = FILE")?;
    let migrated = run_migrations(conn, current);
    conn.execute_batch(&format!("PRAGMA temp_store = {temp_store}"))?;
    migrated
}

fn run_migrations(conn: &mut Connection, current: i64) -> rusqlite::Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_from_empty_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, latest_version());
    }

    /// Migrations sort on disk, and the connection gets its own setting back.
    #[test]
    fn migrating_leaves_the_temp_store_setting_as_it_was() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA temp_store = MEMORY").unwrap();
        migrate(&mut conn).unwrap();
        let temp_store: i64 = conn
            .query_row("PRAGMA temp_store", [], |row| row.get(0))
            .unwrap();
        assert_eq!(temp_store, 2);
    }

    /// A store as release `version` left it, holding what `rows` inserts,
    /// then upgraded to the latest schema.
    fn upgraded_from(version: usize, rows: &str) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!("PRAGMA user_version = {version}; {rows}"))
            .unwrap();
        migrate(&mut conn).unwrap();
        conn
    }

    /// A store made by version 4 keeps every contact row through the
    /// rebuild, and loses only the foreign key.
    #[test]
    fn contact_rows_survive_the_rebuild_without_the_foreign_key() {
        let conn = upgraded_from(
            4,
            "PRAGMA foreign_keys = ON;
             INSERT INTO leads (id, created_at, updated_at, stage, has_email, has_phone, doc)
                 VALUES (1, 0, 0, 'new', 0, 1, '{}'), (2, 0, 0, 'new', 1, 0, '{}');
             INSERT INTO lead_contacts VALUES ('phone', '+79001112233', 1),
                 ('email', 'anna@example.ru', 2), ('phone', '+79001112233', 2);",
        );
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT kind, value, lead_id FROM lead_contacts")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("email".into(), "anna@example.ru".into(), 2),
                ("phone".into(), "+79001112233".into(), 1),
                ("phone".into(), "+79001112233".into(), 2),
            ]
        );
        let foreign_keys: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_foreign_key_list('lead_contacts')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(foreign_keys, 0);
    }

    /// A version-5 store keeps every contact row, each in the bucket the
    /// contact index computes for its lead.
    #[test]
    fn contact_rows_move_into_their_leads_buckets() {
        let conn = upgraded_from(
            5,
            "INSERT INTO lead_contacts VALUES ('phone', '+79001112233', 1),
                 ('phone', '+79001112233', 40000), ('email', 'anna@example.ru', 16384);",
        );
        let rows: Vec<(i64, String, String, i64)> = conn
            .prepare("SELECT bucket, kind, value, lead_id FROM lead_contacts")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let bucket = super::super::buckets::bucket_of;
        assert_eq!(
            rows,
            [
                (bucket(1), "phone".into(), "+79001112233".into(), 1),
                (
                    bucket(16384),
                    "email".into(),
                    "anna@example.ru".into(),
                    16384
                ),
                (bucket(40000), "phone".into(), "+79001112233".into(), 40000),
            ]
        );
        assert_eq!((bucket(1), bucket(16384), bucket(40000)), (0, 1, 2));
    }

    /// A version-6 store gets its statistics counters from the leads it
    /// holds: open leads by the hour they were created, processed ones by
    /// the hour they were completed, hours floored (a time before 1970
    /// too), leads without an assignee left out.
    #[test]
    fn counters_are_filled_from_the_stored_leads() {
        let hour = 3_600_000_000i64;
        let conn = upgraded_from(
            6,
            &format!(
                "INSERT INTO leads (id, created_at, updated_at, completed_at, stage, assigned_to,
                        has_email, has_phone, doc)
                 VALUES (1, {a}, 0, NULL, 'new', 4, 0, 0, '{{}}'),
                        (2, {b}, 0, NULL, 'in_progress', 4, 0, 0, '{{}}'),
                        (3, {a}, 0, {c}, 'processed', 4, 0, 0, '{{}}'),
                        (4, {a}, 0, NULL, 'new', NULL, 0, 0, '{{}}'),
                        (5, -1, 0, NULL, 'new', 5, 0, 0, '{{}}');",
                a = 10 * hour + 5,
                b = 10 * hour + hour - 1,
                c = 12 * hour,
            ),
        );
        let rows: Vec<(i64, i64, i64, i64)> = conn
            .prepare("SELECT assigned_to, hour, open, processed FROM assignee_hours ORDER BY 1, 2")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(4, 10, 2, 0), (4, 12, 0, 1), (5, -1, 1, 0)]);
    }

    /// A version-8 store gets its leads counted per hour of creation and
    /// stage, with the first and last of their ids; hours are floored, a
    /// time before 1970 too.
    #[test]
    fn creation_hours_are_counted_from_the_stored_leads() {
        let hour = 3_600_000_000i64;
        let conn = upgraded_from(
            8,
            &format!(
                "INSERT INTO leads (id, created_at, updated_at, stage, has_email, has_phone, doc)
                 VALUES (1, {a}, 0, 'new', 0, 0, '{{}}'), (2, {b}, 0, 'junk', 0, 0, '{{}}'),
                        (3, {c}, 0, 'new', 0, 0, '{{}}'), (4, -1, 0, 'new', 0, 0, '{{}}');",
                a = 10 * hour,
                b = 11 * hour - 1,
                c = 11 * hour,
            ),
        );
        let rows: Vec<(i64, String, i64, i64, i64)> = conn
            .prepare("SELECT hour, stage, leads, first_id, last_id FROM created_hours")
            .unwrap()
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (-1, "new".into(), 1, 4, 4),
                (10, "junk".into(), 1, 2, 2),
                (10, "new".into(), 1, 1, 1),
                (11, "new".into(), 1, 3, 3)
            ]
        );
    }

    /// Deleting a lead touches no table but `leads` by itself: no cascade
    /// scanning every contact (the writer removes the lead's rows by key).
    #[test]
    fn deleting_a_lead_does_not_scan_the_contact_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        let plan: Vec<String> = conn
            .prepare("EXPLAIN QUERY PLAN DELETE FROM leads WHERE id = 1")
            .unwrap()
            .query_map([], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN")),
            "{plan:?}"
        );
    }
}
