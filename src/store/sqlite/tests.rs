//! The SQLite store: the shared conformance suite, and what only this
//! backend has (the merged contact index, the maintenance switch).

use std::sync::Arc;

use chrono::{Duration, Utc};

use super::*;
use crate::lead::{ContactPoint, Stage};
use crate::store::conformance::{insert_as_is, lead_at};
use crate::store::Assignment;

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(SqliteOptions::new(dir.path().join("nested/leads.db"))).expect("store opens")
}

const MERGE_MARK: &str = "SELECT value FROM store_meta WHERE key = 'contacts_merged_upto'";
const CONTACT_ROWS: &str = "SELECT COUNT(*) FROM lead_contacts";

/// One number read straight from the file, as the next open would see it.
fn stored_number(dir: &tempfile::TempDir, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.path().join("nested/leads.db"))
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn contacts_stay_findable_while_a_merge_is_written_in_slices() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let assignment = Assignment {
        by_earlier_contact: true,
        eligible: Arc::from(vec![1, 2, 3]),
        stage_when_found: None,
        fallback: None,
    };
    let phone = |index: i64| format!("+7900000{index:04}");
    let mut ids = Vec::new();
    for index in 0..40 {
        // Every fifth lead repeats the phone of the lead four before it, so
        // it must find that lead's assignee wherever the merge stands.
        let mut lead = lead_at(index);
        let repeats = index % 5 == 4;
        lead.phones.push(ContactPoint::phone(
            &phone(if repeats { index - 4 } else { index }),
            "7",
        ));
        if !repeats {
            lead.assigned_to = Some(1 + index % 3);
        }
        let inserted = store
            .insert(Box::new(lead), assignment.clone(), Vec::new())
            .await
            .unwrap();
        if repeats {
            assert_eq!(
                inserted.lead.assigned_to,
                Some(1 + (index - 4) % 3),
                "lead {index}"
            );
            assert!(inserted.assigned_by_contact, "lead {index}");
        }
        let id = inserted.lead.id.unwrap();
        ids.push(id);
        if index == 24 {
            // The merge of leads 16..=23 began with this batch and wrote its
            // first slice; lead 23's row sorts last, so it is still unwritten.
            assert!(store.delete(ids[23]).await.unwrap());
        }
    }
    let mut after_delete = lead_at(50);
    after_delete
        .phones
        .push(ContactPoint::phone(&phone(23), "7"));
    let orphan = store
        .insert(Box::new(after_delete), assignment.clone(), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        orphan.lead.assigned_to, None,
        "the deleted lead is forgotten"
    );
    let last = orphan.lead.id.unwrap();
    store.close().await.unwrap();

    assert_eq!(stored_number(&dir, MERGE_MARK), last);
    assert_eq!(
        stored_number(&dir, CONTACT_ROWS),
        40,
        "41 leads with a phone, one deleted"
    );
}

/// A store opened beside the gateway without maintenance (`leadgate
/// deliveries`) leaves the contact table and its mark alone, even on close.
#[tokio::test]
async fn a_store_without_maintenance_never_merges_contacts() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Dropped without close, as after a crash: the tail is not merged.
        let gateway = open(&dir);
        for minute in 0..3 {
            let mut lead = lead_at(minute);
            lead.phones
                .push(ContactPoint::phone(&format!("+7900111000{minute}"), "7"));
            gateway
                .insert(Box::new(lead), Assignment::default(), Vec::new())
                .await
                .unwrap();
        }
    }
    let beside = SqliteStore::open(SqliteOptions {
        maintenance: false,
        ..SqliteOptions::new(dir.path().join("nested/leads.db"))
    })
    .unwrap();
    beside.close().await.unwrap();
    assert_eq!(stored_number(&dir, CONTACT_ROWS), 0);
}

/// Leads without any phone or e-mail still move the merge mark, so opening
/// the store never re-reads an unbounded number of leads.
#[tokio::test]
async fn the_merge_mark_advances_over_leads_without_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut last = 0;
    for minute in 0..20 {
        let mut lead = lead_at(minute);
        lead.name = Some(format!("no contacts {minute}"));
        last = store
            .insert(Box::new(lead), Assignment::default(), Vec::new())
            .await
            .unwrap()
            .lead
            .id
            .unwrap();
    }
    store.close().await.unwrap();
    assert_eq!(stored_number(&dir, MERGE_MARK), last);
}

/// Deleting a lead removes its rows from the contact table (merged on
/// close), and only its own.
#[tokio::test]
async fn deleting_a_lead_removes_its_merged_contact_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut ids = Vec::new();
    for minute in 0..2 {
        let mut lead = lead_at(minute);
        lead.phones.push(ContactPoint::phone("+79001112233", "7"));
        lead.emails
            .push(ContactPoint::email(&format!("person{minute}@example.ru")));
        lead.assigned_to = Some(4);
        ids.push(insert_as_is(&store, lead).await);
    }
    store.close().await.unwrap();
    assert_eq!(stored_number(&dir, CONTACT_ROWS), 4);

    let store = open(&dir);
    assert!(store.delete(ids[0]).await.unwrap());
    store.close().await.unwrap();
    assert_eq!(stored_number(&dir, CONTACT_ROWS), 2);
    assert_eq!(
        stored_number(
            &dir,
            &format!(
                "SELECT COUNT(*) FROM lead_contacts WHERE lead_id = {}",
                ids[1]
            )
        ),
        2
    );
}

/// A phone corrected by an update no longer leads to the lead's assignee;
/// the new one does, whether the old rows were merged or still in memory.
#[tokio::test]
async fn an_updated_contact_replaces_the_old_one_in_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let assignment = Assignment {
        by_earlier_contact: true,
        eligible: Arc::from(vec![4, 5]),
        stage_when_found: None,
        fallback: Some(5),
    };
    let store = open(&dir);
    let mut lead = lead_at(0);
    lead.phones.push(ContactPoint::phone("+79001112233", "7"));
    lead.assigned_to = Some(4);
    let id = insert_as_is(&store, lead).await;
    store.close().await.unwrap();

    let store = open(&dir);
    store
        .update(
            id,
            Box::new(|lead: &mut Lead| {
                lead.phones = vec![ContactPoint::phone("+79004445566", "7")];
                Ok(())
            }),
        )
        .await
        .unwrap()
        .unwrap();
    for (minute, phone, expected) in [(1, "+79001112233", 5), (2, "+79004445566", 4)] {
        let mut next = lead_at(minute);
        next.phones.push(ContactPoint::phone(phone, "7"));
        let inserted = store
            .insert(Box::new(next), assignment.clone(), Vec::new())
            .await
            .unwrap();
        assert_eq!(inserted.lead.assigned_to, Some(expected), "{phone}");
    }
    store.close().await.unwrap();
    assert_eq!(
        stored_number(
            &dir,
            &format!("SELECT COUNT(*) FROM lead_contacts WHERE lead_id = {id}")
        ),
        1
    );
}

mod outbox {
    use super::*;
    use crate::store::{DeliveryFilter, TimeRange};

    /// Deliveries come due when their lead is stored, at the real now.
    fn at(second: i64) -> chrono::DateTime<Utc> {
        static BASE: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
        *BASE.get_or_init(|| Utc::now() + Duration::seconds(5)) + Duration::seconds(second)
    }

    async fn lead_for(store: &SqliteStore, targets: &[&str]) -> i64 {
        let inserted = store
            .insert(
                Box::new(lead_at(0)),
                Assignment::default(),
                targets.iter().map(|name| name.to_string()).collect(),
            )
            .await
            .unwrap();
        inserted.lead.id.unwrap()
    }

    #[tokio::test]
    async fn a_second_opener_without_maintenance_works_beside_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = open(&dir);
        lead_for(&gateway, &["crm"]).await;
        let command = SqliteStore::open(SqliteOptions {
            maintenance: false,
            ..SqliteOptions::new(dir.path().join("nested/leads.db"))
        })
        .unwrap();
        assert_eq!(
            command
                .replay_deliveries("archive".into(), TimeRange::default(), at(0))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            command
                .list_deliveries(DeliveryFilter::default())
                .await
                .unwrap()
                .len(),
            2
        );
        command.close().await.unwrap();
        // The gateway's own store carries on and sees the command's work.
        lead_for(&gateway, &["crm"]).await;
        let archive = gateway
            .claim_deliveries("archive".into(), 10, at(0), at(60))
            .await
            .unwrap();
        assert_eq!(archive.len(), 1);
        gateway.close().await.unwrap();
    }
}

/// The SQLite store in a directory of its own, reopened on the same file.
struct SqliteBackend {
    dir: tempfile::TempDir,
}

impl SqliteBackend {
    fn new() -> SqliteBackend {
        SqliteBackend {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }
}

impl crate::store::conformance::Backend for SqliteBackend {
    type Store = SqliteStore;

    async fn open(&self) -> SqliteStore {
        open(&self.dir)
    }
}

mod conformance {
    crate::store::conformance::store_conformance!(async { Some(super::SqliteBackend::new()) });
}

/// Every selective list filter is answered through an index: the plan of its
/// page never scans the whole `leads` table. (A stage has five values, so a
/// stage filter matches a large share of all leads; walking ids in order
/// until the page is full is the better plan for it, and SQLite's
/// statistics choose it.)
#[tokio::test]
async fn documented_filters_use_an_index() {
    use crate::lead::path::FieldPath;
    use crate::store::{Compare, Condition, LeadQuery, Operand, TimeRange};
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // Each filter below selects about a tenth of the leads, as real lists
    // do; the planner's statistics (gathered on open) then prefer indexes.
    for minute in 0..200 {
        let mut lead = lead_at(minute);
        lead.phones
            .push(ContactPoint::phone(&format!("+7900111{minute:04}"), "7"));
        if minute % 10 != 0 {
            lead.emails
                .push(ContactPoint::email(&format!("person{minute}@example.ru")));
        } else {
            lead.stage = Stage::Processed;
            lead.completed_at = Some(lead.created_at);
            lead.site.id = Some(5);
        }
        lead.assigned_to = Some(1 + minute % 10);
        insert_as_is(&store, lead).await;
    }
    store.close().await.unwrap();
    // Opening the store again gathers the planner's statistics.
    open(&dir).close().await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("nested/leads.db")).unwrap();
    let window = TimeRange {
        from: Some(lead_at(100).created_at),
        to: Some(lead_at(110).created_at),
    };
    let equal = |field: FieldPath, operand: &str| Condition {
        field,
        compare: Compare::Equal,
        operands: vec![Operand::Text(operand.into())],
    };
    let cases = [
        (
            "created",
            LeadQuery {
                created: window,
                ..LeadQuery::default()
            },
        ),
        (
            "updated",
            LeadQuery {
                updated: window,
                ..LeadQuery::default()
            },
        ),
        (
            "completed",
            LeadQuery {
                completed: window,
                ..LeadQuery::default()
            },
        ),
        (
            "assignee",
            LeadQuery {
                assigned_to: Some(vec![2]),
                ..LeadQuery::default()
            },
        ),
        (
            "site",
            LeadQuery {
                site_ids: Some(vec![5]),
                ..LeadQuery::default()
            },
        ),
        (
            "without an e-mail",
            LeadQuery {
                has_email: Some(false),
                ..LeadQuery::default()
            },
        ),
        (
            "ids",
            LeadQuery {
                ids: Some(vec![3, 4]),
                ..LeadQuery::default()
            },
        ),
        (
            "phone",
            LeadQuery {
                conditions: vec![equal(FieldPath::Phones, "+79001110007")],
                ..LeadQuery::default()
            },
        ),
        (
            "e-mail",
            LeadQuery {
                conditions: vec![equal(FieldPath::Emails, "anna@example.ru")],
                ..LeadQuery::default()
            },
        ),
    ];
    for (name, query) in cases {
        let plan = super::read::plan(&conn, &query).unwrap();
        assert!(
            !plan.iter().any(|step| step == "SCAN leads"),
            "{name}: {plan:?}"
        );
    }
    // A page of a window in id order walks the window's ids rather than
    // sorting the whole window (a report's page, a list by date).
    for descending in [false, true] {
        let query = LeadQuery {
            created: window,
            sort: vec![crate::store::Sort {
                key: crate::store::SortKey::Id,
                descending,
            }],
            limit: Some(50),
            ..LeadQuery::default()
        };
        let plan = super::read::plan(&conn, &query).unwrap();
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH leads USING INTEGER PRIMARY KEY"))
                && !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
}
