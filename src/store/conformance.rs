//! What every store backend must do, written once over the store traits.
//!
//! Each backend's tests instantiate the whole suite with
//! `store_conformance!(expression opening a fresh Backend)`, so SQLite
//! today and PostgreSQL next are held to the same behaviour: ids, origins,
//! assignment by earlier contact, updates as changes inside the store,
//! filters and sorting, statistics, sessions and the outbox's leases.
//! Tests of one backend's own machinery stay beside that backend.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};

use crate::lead::{ContactPoint, Lead, LeadId, Origin, Stage};
use crate::store::{
    AssigneeStats, Assignment, DeliveryFilter, DeliveryOutcome, DeliveryState, LeadQuery,
    LeadStore, Outbox, Session, SessionStore, Sort, SortKey, Store, StoreError, TimeRange,
};

/// A backend under test: its stores open on the same data every time, empty
/// at first, as a restarted gateway would find it.
pub(crate) trait Backend: Send + Sync + 'static {
    type Store: Store;

    fn open(&self) -> impl std::future::Future<Output = Self::Store> + Send;
}

/// Stores `lead` with its own assignee (no look-up) and returns its id.
pub(crate) async fn insert_as_is(store: &impl LeadStore, lead: Lead) -> LeadId {
    store
        .insert(Box::new(lead), Assignment::default(), Vec::new())
        .await
        .unwrap()
        .lead
        .id
        .unwrap()
}

/// A lead created `minute` minutes into a fixed morning.
pub(crate) fn lead_at(minute: i64) -> Lead {
    let base = Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap();
    Lead::new(base + Duration::minutes(minute))
}

/// Deliveries come due when their lead is stored, at the real now.
fn at(second: i64) -> chrono::DateTime<Utc> {
    static BASE: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| Utc::now() + Duration::seconds(5)) + Duration::seconds(second)
}

async fn lead_for(store: &impl Store, targets: &[&str]) -> i64 {
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

pub(crate) async fn insert_then_get_returns_the_same_lead(backend: &impl Backend) {
    let store = backend.open().await;
    let mut lead = lead_at(0);
    lead.name = Some("Анна".into());
    lead.phones
        .push(ContactPoint::phone("8 900 111 22 33", "7"));
    lead.custom
        .insert("color".into(), serde_json::json!({"a": [1, 2]}));
    let inserted = store
        .insert(Box::new(lead.clone()), Assignment::default(), Vec::new())
        .await
        .unwrap();
    assert!(inserted.created);
    let id = inserted.lead.id.unwrap();
    let read = store.get(id).await.unwrap().unwrap();
    lead.id = Some(id);
    assert_eq!(read, lead);
    assert_eq!(store.get(id + 1000).await.unwrap(), None);
}

pub(crate) async fn concurrent_inserts_all_get_distinct_ids_and_survive_reopen(
    backend: &impl Backend,
) {
    let store = Arc::new(backend.open().await);
    let mut tasks = Vec::new();
    for n in 0..300 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut lead = lead_at(n);
            lead.name = Some(format!("lead {n}"));
            insert_as_is(store.as_ref(), lead).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 300);
    store.close().await.unwrap();
    assert!(matches!(
        store
            .insert(Box::new(lead_at(0)), Assignment::default(), Vec::new())
            .await,
        Err(StoreError::Closed)
    ));
    drop(store);

    let reopened = backend.open().await;
    let page = reopened
        .query(LeadQuery {
            count_total: true,
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, Some(300));
}

pub(crate) async fn same_origin_is_stored_once(backend: &impl Backend) {
    let store = backend.open().await;
    let mut lead = lead_at(0);
    lead.origin = Some(Origin {
        system: "crm".into(),
        external_id: "42".into(),
    });
    let first = store
        .insert(Box::new(lead.clone()), Assignment::default(), Vec::new())
        .await
        .unwrap();
    let second = store
        .insert(Box::new(lead), Assignment::default(), Vec::new())
        .await
        .unwrap();
    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.lead.id, second.lead.id);
}

pub(crate) async fn filters_sort_and_paging(backend: &impl Backend) {
    let store = backend.open().await;
    for n in 0..10 {
        let mut lead = lead_at(n * 60);
        lead.stage = if n % 2 == 0 { Stage::New } else { Stage::Junk };
        lead.assigned_to = Some(if n < 5 { 1 } else { 2 });
        if n % 3 == 0 {
            lead.emails.push(ContactPoint::email("a@b.ru"));
        }
        lead.text = Some(format!("Message number {n}"));
        store
            .insert(Box::new(lead), Assignment::default(), Vec::new())
            .await
            .unwrap();
    }
    let run = |query: LeadQuery| store.query(query);
    let page = run(LeadQuery {
        stages: Some(vec![Stage::Junk]),
        assigned_to: Some(vec![2]),
        count_total: true,
        ..LeadQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(
        page.total,
        Some(3),
        "junk leads 5, 7, 9 belong to employee 2"
    );

    let page = run(LeadQuery {
        sort: vec![Sort {
            key: SortKey::CreatedAt,
            descending: true,
        }],
        offset: 2,
        limit: Some(3),
        ..LeadQuery::default()
    })
    .await
    .unwrap();
    let texts: Vec<_> = page
        .leads
        .iter()
        .map(|lead| lead.text.clone().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Message number 7", "Message number 6", "Message number 5"]
    );

    let page = run(LeadQuery {
        created: TimeRange {
            from: Some(lead_at(120).created_at),
            to: Some(lead_at(240).created_at),
        },
        has_email: Some(true),
        ..LeadQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(page.leads.len(), 1, "only lead 3 has e-mail in [2h, 4h)");

    let page = run(LeadQuery {
        text_contains: Some("NUMBER 4".into()),
        ..LeadQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(page.leads.len(), 1);

    let page = run(LeadQuery {
        assigned_to: Some(vec![]),
        ..LeadQuery::default()
    })
    .await
    .unwrap();
    assert!(page.leads.is_empty(), "an empty set matches nothing");
}

pub(crate) async fn assignee_found_by_earlier_contact_inside_the_insert(backend: &impl Backend) {
    let store = backend.open().await;
    let mut first = lead_at(0);
    first
        .phones
        .push(ContactPoint::phone("+7 900 111-22-33", "7"));
    first.assigned_to = Some(5);
    store
        .insert(Box::new(first), Assignment::default(), Vec::new())
        .await
        .unwrap();
    let mut later = lead_at(1);
    later.emails.push(ContactPoint::email("X@Y.RU"));
    later.assigned_to = Some(6);
    store
        .insert(Box::new(later), Assignment::default(), Vec::new())
        .await
        .unwrap();
    let mut by_retired = lead_at(2);
    by_retired.emails.push(ContactPoint::email("old@y.ru"));
    by_retired.assigned_to = Some(9);
    store
        .insert(Box::new(by_retired), Assignment::default(), Vec::new())
        .await
        .unwrap();

    let assignment = Assignment {
        by_earlier_contact: true,
        eligible: Arc::from(vec![5, 6, 7]),
        stage_when_found: Some(Stage::InProgress),
        fallback: Some(7),
    };
    let with = |phone: Option<&str>, email: Option<&str>| {
        let mut lead = lead_at(10);
        lead.phones
            .extend(phone.map(|p| ContactPoint::phone(p, "7")));
        lead.emails.extend(email.map(ContactPoint::email));
        lead
    };
    let by_phone = store
        .insert(
            Box::new(with(Some("8 900 111 22 33"), None)),
            assignment.clone(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(by_phone.lead.assigned_to, Some(5));
    assert!(by_phone.assigned_by_contact);
    assert_eq!(by_phone.lead.stage, Stage::InProgress);
    // Both match: the most recent earlier lead wins.
    let both = store
        .insert(
            Box::new(with(Some("+79001112233"), Some("x@y.ru"))),
            assignment.clone(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        both.lead.assigned_to,
        Some(5),
        "the phone lead above is newer"
    );
    let by_email = store
        .insert(
            Box::new(with(None, Some("x@y.ru"))),
            assignment.clone(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        by_email.lead.assigned_to,
        Some(5),
        "x@y.ru was last given to 5"
    );
    // An ineligible earlier assignee does not count; the fallback applies.
    let retired = store
        .insert(
            Box::new(with(None, Some("old@y.ru"))),
            assignment.clone(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(retired.lead.assigned_to, Some(7));
    assert!(!retired.assigned_by_contact);
    // Given to the fallback, it has a responsible employee: in work.
    assert_eq!(retired.lead.stage, Stage::InProgress);
    // With nobody to give it to, it stays new.
    let unassigned = store
        .insert(
            Box::new(with(None, Some("nobody@y.ru"))),
            Assignment {
                fallback: None,
                ..assignment.clone()
            },
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(unassigned.lead.assigned_to, None);
    assert_eq!(unassigned.lead.stage, Stage::New);
    // What was decided is what was stored.
    let stored = store.get(by_phone.lead.id.unwrap()).await.unwrap().unwrap();
    assert_eq!(stored, *by_phone.lead);
}

pub(crate) async fn stats_count_open_by_creation_and_processed_by_completion(
    backend: &impl Backend,
) {
    let store = backend.open().await;
    let march = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
    let april = Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap();
    let mut open_lead = lead_at(0);
    open_lead.assigned_to = Some(1);
    store
        .insert(Box::new(open_lead), Assignment::default(), Vec::new())
        .await
        .unwrap();
    let mut done = Lead::new(march - Duration::days(3));
    done.assigned_to = Some(1);
    done.stage = Stage::Processed;
    done.completed_at = Some(march + Duration::days(2));
    store
        .insert(Box::new(done), Assignment::default(), Vec::new())
        .await
        .unwrap();
    let mut february = Lead::new(march - Duration::days(3));
    february.assigned_to = Some(2);
    store
        .insert(Box::new(february), Assignment::default(), Vec::new())
        .await
        .unwrap();

    let stats = store
        .assignee_stats(TimeRange {
            from: Some(march),
            to: Some(april),
        })
        .await
        .unwrap();
    assert_eq!(
        stats,
        vec![AssigneeStats {
            employee: 1,
            open: 1,
            processed: 1
        }]
    );
}

/// Per-employee statistics equal a count over the leads themselves for any
/// window, aligned to hours or not, after inserts, stage changes,
/// reassignments, reopenings and deletes.
pub(crate) async fn stats_agree_with_the_leads_for_any_window(backend: &impl Backend) {
    let store = backend.open().await;
    let base = Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap();
    let mut ids = Vec::new();
    for k in 0..120i64 {
        let mut lead = Lead::new(base + Duration::minutes(k * 17));
        lead.assigned_to = (k % 11 != 0).then_some(1 + k % 3);
        if k % 3 != 0 {
            lead.phones
                .push(ContactPoint::phone(&format!("+7900555{k:04}"), "7"));
        }
        if k % 2 == 0 {
            lead.emails
                .push(ContactPoint::email(&format!("person{k}@example.ru")));
        }
        if k % 4 == 0 {
            lead.stage = Stage::Processed;
            lead.completed_at = Some(lead.created_at + Duration::minutes(k * 7));
        }
        ids.push(insert_as_is(&store, lead).await);
    }
    for (k, id) in ids.iter().enumerate() {
        let change: Option<crate::store::LeadChange> = match k {
            k if k % 17 == 0 => {
                assert!(store.delete(*id).await.unwrap());
                None
            }
            k if k % 13 == 0 => Some(Box::new(|lead: &mut Lead| {
                lead.stage = Stage::New;
                lead.completed_at = None;
                Ok(())
            })),
            k if k % 7 == 0 => Some(Box::new(|lead: &mut Lead| {
                lead.assigned_to = Some(9);
                Ok(())
            })),
            k if k % 5 == 0 => Some(Box::new(|lead: &mut Lead| {
                lead.stage = Stage::Processed;
                lead.completed_at = Some(lead.created_at + Duration::minutes(90));
                Ok(())
            })),
            k if k % 11 == 0 => Some(Box::new(|lead: &mut Lead| {
                lead.created_at += Duration::minutes(200);
                Ok(())
            })),
            _ => None,
        };
        if let Some(change) = change {
            store.update(*id, change).await.unwrap().unwrap();
        }
    }
    let leads = store.query(LeadQuery::default()).await.unwrap().leads;
    let windows = [
        (base, base + Duration::hours(34)),
        (
            base + Duration::minutes(5),
            base + Duration::minutes(20 * 60 + 13),
        ),
        (base + Duration::minutes(61), base + Duration::minutes(62)),
        (base - Duration::hours(1), base + Duration::hours(100)),
        (base + Duration::minutes(59), base + Duration::minutes(121)),
    ];
    for (from, to) in windows {
        let mut expected: Vec<AssigneeStats> = Vec::new();
        for lead in &leads {
            let Some(employee) = lead.assigned_to else {
                continue;
            };
            let inside = |time: chrono::DateTime<Utc>| time >= from && time < to;
            let open = lead.stage.is_open() && inside(lead.created_at);
            let processed = !lead.stage.is_open() && lead.completed_at.is_some_and(inside);
            if !(open || processed) {
                continue;
            }
            match expected.iter_mut().find(|stats| stats.employee == employee) {
                Some(stats) => {
                    stats.open += u64::from(open);
                    stats.processed += u64::from(processed);
                }
                None => expected.push(AssigneeStats {
                    employee,
                    open: u64::from(open),
                    processed: u64::from(processed),
                }),
            }
        }
        expected.sort_by_key(|stats| stats.employee);
        let mut stats = store
            .assignee_stats(TimeRange {
                from: Some(from),
                to: Some(to),
            })
            .await
            .unwrap();
        stats.sort_by_key(|stats| stats.employee);
        assert_eq!(stats, expected, "window {from} .. {to}");
        // The total of a list over a window of creation times, of all
        // leads and of those with a phone or an e-mail.
        let inside = |lead: &&Lead| lead.created_at >= from && lead.created_at < to;
        let created = TimeRange {
            from: Some(from),
            to: Some(to),
        };
        let expected_totals = [
            leads.iter().filter(inside).count(),
            leads
                .iter()
                .filter(inside)
                .filter(|lead| lead.has_phone())
                .count(),
            leads
                .iter()
                .filter(inside)
                .filter(|lead| lead.has_email())
                .count(),
            leads
                .iter()
                .filter(inside)
                .filter(|lead| lead.stage.is_open() && lead.has_phone())
                .count(),
        ];
        let totals = [
            LeadQuery {
                created,
                ..LeadQuery::default()
            },
            LeadQuery {
                created,
                has_phone: Some(true),
                ..LeadQuery::default()
            },
            LeadQuery {
                created,
                conditions: vec![crate::store::Condition {
                    field: crate::lead::path::FieldPath::HasEmail,
                    compare: crate::store::Compare::Equal,
                    operands: vec![crate::store::Operand::Bool(true)],
                }],
                ..LeadQuery::default()
            },
            LeadQuery {
                created,
                stages: Some(vec![Stage::InProgress, Stage::New, Stage::InProgress]),
                has_phone: Some(true),
                ..LeadQuery::default()
            },
        ];
        for (query, expected) in totals.into_iter().zip(expected_totals) {
            let page = store
                .query(LeadQuery {
                    count_total: true,
                    limit: Some(1),
                    ..query
                })
                .await
                .unwrap();
            assert_eq!(page.total, Some(expected as u64), "window {from} .. {to}");
        }
    }
    let everything = store
        .query(LeadQuery {
            count_total: true,
            limit: Some(0),
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(everything.total, Some(leads.len() as u64));
    let processed = store
        .query(LeadQuery {
            stages: Some(vec![Stage::Processed]),
            count_total: true,
            limit: Some(0),
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        processed.total,
        Some(
            leads
                .iter()
                .filter(|lead| lead.stage == Stage::Processed)
                .count() as u64
        )
    );
    store.close().await.unwrap();
    // The counters are in the store, not in memory.
    let reopened = backend.open().await;
    let again = reopened
        .assignee_stats(TimeRange {
            from: Some(base),
            to: Some(base + Duration::hours(34)),
        })
        .await
        .unwrap();
    assert!(!again.is_empty());
    reopened.close().await.unwrap();
}

/// A page of a window of creation times in id order is exact however the
/// store finds it: leads arriving in time order, imported ones dated
/// earlier among them, some deleted or moved to another time, pages at
/// any offset in both directions, with their totals.
pub(crate) async fn window_pages_in_id_order_are_exact(backend: &impl Backend) {
    let store = backend.open().await;
    let base = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
    let mut ids = Vec::new();
    for k in 0..150i64 {
        // Every seventh lead is an import dated days earlier.
        let minutes = if k % 7 == 3 { k * 11 - 3000 } else { k * 11 };
        let mut lead = Lead::new(base + Duration::minutes(minutes));
        if k % 4 != 0 {
            lead.phones
                .push(ContactPoint::phone(&format!("+7900666{k:04}"), "7"));
        }
        if k % 3 == 1 {
            lead.stage = Stage::Processed;
            lead.completed_at = Some(lead.created_at);
        }
        ids.push(insert_as_is(&store, lead).await);
    }
    for (k, id) in ids.iter().enumerate() {
        if k % 13 == 5 {
            assert!(store.delete(*id).await.unwrap());
        } else if k % 17 == 2 {
            store
                .update(
                    *id,
                    Box::new(|lead: &mut Lead| {
                        lead.created_at -= Duration::hours(30);
                        Ok(())
                    }),
                )
                .await
                .unwrap();
        } else if k % 11 == 4 {
            store
                .update(
                    *id,
                    Box::new(|lead: &mut Lead| {
                        lead.stage = Stage::Processed;
                        lead.completed_at = Some(lead.created_at);
                        Ok(())
                    }),
                )
                .await
                .unwrap();
        }
    }
    let leads = store.query(LeadQuery::default()).await.unwrap().leads;
    let windows = [
        (Some(base), Some(base + Duration::hours(24))),
        (
            Some(base + Duration::hours(2)),
            Some(base + Duration::hours(20)),
        ),
        (Some(base - Duration::hours(60)), None),
        (None, Some(base + Duration::minutes(100))),
        (
            Some(base + Duration::minutes(61)),
            Some(base + Duration::minutes(65)),
        ),
        (Some(base + Duration::days(30)), None),
    ];
    for (from, to) in windows {
        let created = TimeRange { from, to };
        for (has_phone, stages) in [
            (None, None),
            (Some(true), None),
            (None, Some(vec![Stage::Processed])),
        ] {
            let mut expected: Vec<LeadId> = leads
                .iter()
                .filter(|lead| from.is_none_or(|from| lead.created_at >= from))
                .filter(|lead| to.is_none_or(|to| lead.created_at < to))
                .filter(|lead| has_phone.is_none() || lead.has_phone())
                .filter(|lead| {
                    stages
                        .as_ref()
                        .is_none_or(|stages| stages.contains(&lead.stage))
                })
                .filter_map(|lead| lead.id)
                .collect();
            expected.sort_unstable();
            for descending in [false, true] {
                let ordered: Vec<LeadId> = if descending {
                    expected.iter().rev().copied().collect()
                } else {
                    expected.clone()
                };
                for offset in [0u64, 7, 40, 200] {
                    let want: Vec<LeadId> = ordered
                        .iter()
                        .skip(offset as usize)
                        .take(10)
                        .copied()
                        .collect();
                    let paged = LeadQuery {
                        has_phone,
                        sort: vec![Sort {
                            key: SortKey::Id,
                            descending,
                        }],
                        offset,
                        limit: Some(10),
                        count_total: true,
                        ..LeadQuery::default()
                    };
                    // The window said as ranges, and as conditions the way
                    // dialect filters say it (`>DATE_CREATE`, `result=`).
                    let mut conditions = Vec::new();
                    let compare = |compare, time| crate::store::Condition {
                        field: crate::lead::path::FieldPath::CreatedAt,
                        compare,
                        operands: vec![crate::store::Operand::Time(time)],
                    };
                    if let Some(from) = from {
                        conditions.push(compare(
                            crate::store::Compare::Greater,
                            from - Duration::microseconds(1),
                        ));
                    }
                    if let Some(to) = to {
                        conditions.push(compare(
                            crate::store::Compare::LessOrEqual,
                            to - Duration::microseconds(1),
                        ));
                    }
                    if let Some(stages) = &stages {
                        conditions.push(crate::store::Condition {
                            field: crate::lead::path::FieldPath::Stage,
                            compare: crate::store::Compare::In,
                            operands: stages
                                .iter()
                                .map(|stage| crate::store::Operand::Text(stage.as_str().into()))
                                .chain([crate::store::Operand::Text("no such stage".into())])
                                .collect(),
                        });
                    }
                    let ranged = LeadQuery {
                        created,
                        stages: stages.clone(),
                        ..paged.clone()
                    };
                    let said = LeadQuery {
                        conditions,
                        ..paged
                    };
                    for query in [ranged, said] {
                        let page = store.query(query).await.unwrap();
                        let got: Vec<LeadId> =
                            page.leads.iter().filter_map(|lead| lead.id).collect();
                        assert_eq!(
                            got, want,
                            "{from:?}..{to:?} phone {has_phone:?} desc {descending} offset {offset}"
                        );
                        assert_eq!(page.total, Some(expected.len() as u64));
                    }
                }
            }
        }
    }
}

/// A page far into an unfiltered list by id is the same page whichever way
/// the store finds its start, in both directions and past the end.
pub(crate) async fn deep_pages_by_id_are_exact(backend: &impl Backend) {
    let store = Arc::new(backend.open().await);
    let inserts = (0..1_300).map(|minute| {
        let store = Arc::clone(&store);
        async move { insert_as_is(store.as_ref(), lead_at(minute)).await }
    });
    let mut ids = futures_util::future::join_all(inserts).await;
    ids.sort_unstable();
    for (offset, limit, descending) in [
        (1_100usize, 50usize, false),
        (1_100, 50, true),
        (1_290, 50, false),
        (1_000, 1, true),
        (5_000, 10, false),
    ] {
        let page = store
            .query(LeadQuery {
                sort: vec![Sort {
                    key: SortKey::Id,
                    descending,
                }],
                offset: offset as u64,
                limit: Some(limit as u64),
                ..LeadQuery::default()
            })
            .await
            .unwrap();
        let got: Vec<LeadId> = page.leads.iter().filter_map(|lead| lead.id).collect();
        let mut ordered = ids.clone();
        if descending {
            ordered.reverse();
        }
        let expected: Vec<LeadId> = ordered.into_iter().skip(offset).take(limit).collect();
        assert_eq!(
            got, expected,
            "offset {offset}, limit {limit}, descending {descending}"
        );
    }
    store.close().await.unwrap();
}

/// Whether the store was closed or dropped without closing (as after a
/// crash), a reopened store finds the earlier lead's assignee.
pub(crate) async fn earlier_contacts_are_found_after_close_and_after_a_crash(
    backend: &impl Backend,
) {
    // Each pass its own person and employee, so the second cannot be
    // answered by the first's lead.
    for (clean, stored_phone, sent_phone, employee) in [
        (true, "+79005556677", "8 900 555 66 77", 4),
        (false, "+79005556688", "8 900 555 66 88", 5),
    ] {
        {
            let store = backend.open().await;
            let mut first = lead_at(0);
            first.phones.push(ContactPoint::phone(stored_phone, "7"));
            first.assigned_to = Some(employee);
            store
                .insert(Box::new(first), Assignment::default(), Vec::new())
                .await
                .unwrap();
            if clean {
                store.close().await.unwrap();
            }
        }
        let store = backend.open().await;
        let mut again = lead_at(1);
        again.phones.push(ContactPoint::phone(sent_phone, "7"));
        let inserted = store
            .insert(
                Box::new(again),
                Assignment {
                    by_earlier_contact: true,
                    eligible: Arc::from(vec![4, 5]),
                    stage_when_found: None,
                    fallback: None,
                },
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            inserted.lead.assigned_to,
            Some(employee),
            "clean close: {clean}"
        );
        store.close().await.unwrap();
    }
}

pub(crate) async fn concurrent_updates_of_different_fields_all_survive_a_reopen(
    backend: &impl Backend,
) {
    let store = Arc::new(backend.open().await);
    let id = store
        .insert(Box::new(lead_at(0)), Assignment::default(), Vec::new())
        .await
        .unwrap()
        .lead
        .id
        .unwrap();
    let mut tasks = Vec::new();
    for index in 0..20 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .update(
                    id,
                    Box::new(move |lead: &mut Lead| {
                        lead.custom.insert(format!("field{index}"), index.into());
                        Ok(())
                    }),
                )
                .await
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_some());
    }
    store.close().await.unwrap();
    let store = backend.open().await;
    let lead = store.get(id).await.unwrap().unwrap();
    assert_eq!(lead.custom.len(), 20, "no update overwrote another");
    assert!(lead.updated_at > lead.created_at);
    assert!(store
        .update(id + 1, Box::new(|_: &mut Lead| Ok(())))
        .await
        .unwrap()
        .is_none());
}

pub(crate) async fn a_refused_change_writes_nothing_and_delete_removes_for_good(
    backend: &impl Backend,
) {
    let store = backend.open().await;
    let mut lead = lead_at(0);
    lead.name = Some("before".into());
    lead.phones.push(ContactPoint::phone("+79001112233", "7"));
    lead.assigned_to = Some(4);
    let id = insert_as_is(&store, lead).await;
    let refused = store
        .update(
            id,
            Box::new(|lead: &mut Lead| {
                lead.name = Some("after".into());
                Err(crate::lead::LeadError::ContactRequired)
            }),
        )
        .await;
    assert!(matches!(refused, Err(StoreError::Rejected(_))));
    assert_eq!(
        store.get(id).await.unwrap().unwrap().name.as_deref(),
        Some("before")
    );

    // A checked delete sees the lead as stored: refused, nothing changes.
    let refused = store
        .delete_if(
            id,
            Some(Box::new(|lead: &Lead| {
                lead.name.as_deref() == Some("other")
            })),
        )
        .await
        .unwrap();
    assert_eq!(refused, crate::store::Deleted::Refused);
    assert!(store.get(id).await.unwrap().is_some());
    let allowed = store
        .delete_if(
            id,
            Some(Box::new(|lead: &Lead| {
                lead.name.as_deref() == Some("before")
            })),
        )
        .await
        .unwrap();
    assert_eq!(allowed, crate::store::Deleted::Deleted);
    assert_eq!(
        store
            .delete_if(id, Some(Box::new(|_: &Lead| true)))
            .await
            .unwrap(),
        crate::store::Deleted::Missing
    );
    assert!(!store.delete(id).await.unwrap());
    assert_eq!(store.get(id).await.unwrap(), None);
    // A deleted lead no longer decides who gets the same person next time.
    let mut again = lead_at(1);
    again
        .phones
        .push(ContactPoint::phone("8 900 111 22 33", "7"));
    let inserted = store
        .insert(
            Box::new(again),
            Assignment {
                by_earlier_contact: true,
                eligible: Arc::from(vec![4, 5]),
                stage_when_found: None,
                fallback: Some(5),
            },
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(inserted.lead.assigned_to, Some(5));
    assert!(!inserted.assigned_by_contact);
}

/// Substring and pattern filters find what the documents hold now: a
/// rewritten title is found by its new words only, a deleted lead not at
/// all; ASCII case is ignored, as LIKE does; a needle of one or two
/// characters and a pattern without a long literal run still work.
pub(crate) async fn substring_filters_follow_updates_and_deletions(backend: &impl Backend) {
    use crate::lead::path::FieldPath;
    use crate::store::{Compare, Condition, Operand};
    let store = backend.open().await;
    let titled = |minute: i64, title: &str| {
        let mut lead = lead_at(minute);
        lead.title = Some(title.into());
        lead
    };
    let renamed = insert_as_is(&store, titled(0, "Заявка с сайта: Anna Ivanova")).await;
    let deleted = insert_as_is(&store, titled(1, "Callback for Anna Petrova")).await;
    let kept = insert_as_is(&store, titled(2, "Order from ANNA SMIRNOVA")).await;
    insert_as_is(&store, lead_at(3)).await;
    store
        .update(
            renamed,
            Box::new(|lead: &mut Lead| {
                lead.title = Some("Заявка с сайта: Boris Orlov".into());
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert!(store.delete(deleted).await.unwrap());
    // The newest leads, which a store may not have indexed yet.
    let newest = insert_as_is(&store, titled(4, "Newest caller Zoya")).await;
    let ids = |compare: Compare, needle: &str| {
        let store = &store;
        let needle = needle.to_owned();
        async move {
            let page = store
                .query(LeadQuery {
                    conditions: vec![Condition {
                        field: FieldPath::parse("title").unwrap(),
                        compare,
                        operands: vec![Operand::Text(needle)],
                    }],
                    count_total: true,
                    ..LeadQuery::default()
                })
                .await
                .unwrap();
            let ids: Vec<LeadId> = page.leads.iter().filter_map(|lead| lead.id).collect();
            assert_eq!(page.total, Some(ids.len() as u64));
            ids
        }
    };
    assert_eq!(ids(Compare::Contains, "anna").await, [kept]);
    assert_eq!(ids(Compare::Contains, "Boris Or").await, [renamed]);
    assert_eq!(ids(Compare::Contains, "сайта").await, [renamed]);
    assert_eq!(
        ids(Compare::Contains, "Ivanova").await,
        Vec::<LeadId>::new()
    );
    assert_eq!(
        ids(Compare::Contains, "Petrova").await,
        Vec::<LeadId>::new()
    );
    assert_eq!(ids(Compare::Contains, "Or").await, [renamed, kept]);
    assert_eq!(ids(Compare::Like, "%smirn_va").await, [kept]);
    assert_eq!(ids(Compare::Like, "%r%").await, [renamed, kept, newest]);
    assert_eq!(ids(Compare::Contains, "caller z").await, [newest]);
}

pub(crate) async fn conditions_compare_any_field(backend: &impl Backend) {
    use crate::lead::path::FieldPath;
    use crate::store::{Compare, Condition, LeadQuery, Operand};
    let store = backend.open().await;
    for index in 0..10i64 {
        let mut lead = lead_at(index);
        lead.name = Some(format!("Name {index}"));
        lead.opportunity = Some(index as f64 * 10.0);
        lead.phones
            .push(ContactPoint::phone(&format!("8 900 000 00 0{index}"), "7"));
        if index % 2 == 0 {
            lead.custom.insert("UF_X".into(), "even".into());
        }
        store
            .insert(Box::new(lead), Assignment::default(), Vec::new())
            .await
            .unwrap();
    }
    let count = |conditions: Vec<Condition>| {
        let store = &store;
        async move {
            store
                .query(LeadQuery {
                    conditions,
                    count_total: true,
                    ..LeadQuery::default()
                })
                .await
                .unwrap()
                .total
                .unwrap()
        }
    };
    let condition = |field: FieldPath, compare: Compare, operands: Vec<Operand>| Condition {
        field,
        compare,
        operands,
    };
    let name = FieldPath::parse("name").unwrap();
    assert_eq!(
        count(vec![condition(
            FieldPath::Opportunity,
            Compare::GreaterOrEqual,
            vec![Operand::Float(50.0)]
        )])
        .await,
        5
    );
    assert_eq!(
        count(vec![condition(
            name.clone(),
            Compare::Contains,
            vec![Operand::Text("e 1".into())]
        )])
        .await,
        1
    );
    assert_eq!(
        count(vec![condition(
            name.clone(),
            Compare::Like,
            vec![Operand::Text("Name _".into())]
        )])
        .await,
        10
    );
    assert_eq!(
        count(vec![condition(
            name,
            Compare::NotContains,
            vec![Operand::Text("%".into())]
        )])
        .await,
        10
    );
    assert_eq!(
        count(vec![condition(
            FieldPath::Phones,
            Compare::Equal,
            vec![Operand::Text("+79000000003".into())]
        )])
        .await,
        1
    );
    assert_eq!(
        count(vec![condition(
            FieldPath::Custom("UF_X".into()),
            Compare::Equal,
            vec![Operand::Null]
        )])
        .await,
        5
    );
    assert_eq!(
        count(vec![condition(
            FieldPath::Custom("UF_X".into()),
            Compare::NotEqual,
            vec![Operand::Text("even".into())]
        )])
        .await,
        5
    );
    assert_eq!(
        count(vec![condition(
            FieldPath::Id,
            Compare::In,
            vec![Operand::Int(1), Operand::Int(3)]
        )])
        .await,
        2
    );
    assert_eq!(
        count(vec![condition(
            FieldPath::Id,
            Compare::NotIn,
            vec![Operand::Int(1), Operand::Int(3)]
        )])
        .await,
        8
    );
    assert_eq!(
        count(vec![
            condition(FieldPath::Id, Compare::Greater, vec![Operand::Int(2)]),
            condition(FieldPath::Id, Compare::LessOrEqual, vec![Operand::Int(5)]),
        ])
        .await,
        3
    );
}

pub(crate) async fn sessions_are_kept_purged_when_expired_and_ended(backend: &impl Backend) {
    let store = backend.open().await;
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let hour = Duration::hours(1);
    store
        .put_session(
            "old".into(),
            "a@x.ru".into(),
            now + Duration::minutes(1),
            now,
        )
        .await
        .unwrap();
    store
        .put_session(
            "new".into(),
            "b@x.ru".into(),
            now + hour * 3,
            now + hour * 2,
        )
        .await
        .unwrap();
    assert_eq!(
        store.session("old".into()).await.unwrap(),
        None,
        "expired ones are purged"
    );
    assert_eq!(
        store.session("new".into()).await.unwrap(),
        Some(Session {
            subject: "b@x.ru".to_owned(),
            expires: now + hour * 3
        })
    );
    assert!(store.end_session("new".into()).await.unwrap());
    assert!(!store.end_session("new".into()).await.unwrap());
    assert_eq!(store.session("new".into()).await.unwrap(), None);
}

pub(crate) async fn a_new_lead_is_queued_for_each_target_and_claimed_once(backend: &impl Backend) {
    let store = backend.open().await;
    let first = lead_for(&store, &["crm", "hook"]).await;
    let second = lead_for(&store, &["crm"]).await;
    lead_for(&store, &[]).await;

    let claimed = store
        .claim_deliveries("crm".into(), 10, at(0), at(60))
        .await
        .unwrap();
    let ids: Vec<_> = claimed.iter().map(|d| d.lead.id.unwrap()).collect();
    assert_eq!(ids, [first, second]);
    assert!(claimed.iter().all(|d| !d.maybe_sent_before()));
    // Leased: nobody else gets them until the lease runs out.
    assert!(store
        .claim_deliveries("crm".into(), 10, at(30), at(90))
        .await
        .unwrap()
        .is_empty());
    let hook = store
        .claim_deliveries("hook".into(), 10, at(0), at(60))
        .await
        .unwrap();
    assert_eq!(hook.len(), 1);

    store
        .finish_deliveries(
            vec![
                crate::store::FinishedDelivery {
                    claim: claimed[0].claim,
                    outcome: DeliveryOutcome::Delivered {
                        external_id: Some("77".into()),
                    },
                },
                crate::store::FinishedDelivery {
                    claim: claimed[1].claim,
                    outcome: DeliveryOutcome::Retry {
                        error: "HTTP 503".into(),
                        due: at(100),
                    },
                },
            ],
            at(1),
        )
        .await
        .unwrap();
    let rows = store
        .list_deliveries(DeliveryFilter {
            target: Some("crm".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows[0].state, DeliveryState::Delivered);
    assert_eq!(rows[0].external_id.as_deref(), Some("77"));
    assert_eq!(rows[1].state, DeliveryState::Pending);
    assert_eq!(rows[1].attempts, 1);
    assert_eq!(rows[1].last_error.as_deref(), Some("HTTP 503"));
    let counts = store.count_deliveries(at(2)).await.unwrap();
    let crm = counts.iter().find(|row| row.target == "crm").unwrap();
    assert_eq!(
        (crm.pending, crm.retrying, crm.delivered, crm.dead),
        (1, 1, 1, 0),
        "the failed one waits again: pending and retrying"
    );
    // Not due before its retry time.
    assert!(store
        .claim_deliveries("crm".into(), 10, at(99), at(160))
        .await
        .unwrap()
        .is_empty());
    let again = store
        .claim_deliveries("crm".into(), 10, at(100), at(160))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert!(again[0].maybe_sent_before());
}

pub(crate) async fn an_expired_lease_is_claimed_again_and_the_stale_claim_changes_nothing(
    backend: &impl Backend,
) {
    let store = backend.open().await;
    lead_for(&store, &["crm"]).await;
    let first = store
        .claim_deliveries("crm".into(), 10, at(0), at(60))
        .await
        .unwrap();
    let second = store
        .claim_deliveries("crm".into(), 10, at(61), at(120))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert!(second[0].maybe_sent_before());
    store
        .finish_deliveries(
            vec![crate::store::FinishedDelivery {
                claim: first[0].claim,
                outcome: DeliveryOutcome::Dead {
                    error: "late".into(),
                },
            }],
            at(62),
        )
        .await
        .unwrap();
    let row = &store
        .list_deliveries(DeliveryFilter::default())
        .await
        .unwrap()[0];
    assert_eq!(row.state, DeliveryState::Pending);
    assert_eq!(row.last_error, None);
}

pub(crate) async fn dead_rows_are_retried_and_leads_are_replayed_by_window(backend: &impl Backend) {
    let store = backend.open().await;
    let lead = lead_for(&store, &["crm"]).await;
    let claimed = store
        .claim_deliveries("crm".into(), 10, at(0), at(60))
        .await
        .unwrap();
    store
        .finish_deliveries(
            vec![crate::store::FinishedDelivery {
                claim: claimed[0].claim,
                outcome: DeliveryOutcome::Dead {
                    error: "HTTP 401".into(),
                },
            }],
            at(1),
        )
        .await
        .unwrap();
    let dead = DeliveryFilter {
        state: Some(DeliveryState::Dead),
        ..Default::default()
    };
    assert_eq!(store.list_deliveries(dead.clone()).await.unwrap().len(), 1);
    assert_eq!(
        store.retry_deliveries(dead.clone(), at(2)).await.unwrap(),
        1
    );
    assert_eq!(store.retry_deliveries(dead, at(2)).await.unwrap(), 0);
    let row = &store
        .list_deliveries(DeliveryFilter::default())
        .await
        .unwrap()[0];
    assert_eq!((row.state, row.attempts), (DeliveryState::Pending, 0));
    assert_eq!(row.last_error.as_deref(), Some("HTTP 401"));

    // Replay to a target added later, and to one that lost its data.
    let everything = TimeRange::default();
    assert_eq!(
        store
            .replay_deliveries("archive".into(), everything, at(3))
            .await
            .unwrap(),
        1
    );
    let archive = store
        .claim_deliveries("archive".into(), 10, at(3), at(60))
        .await
        .unwrap();
    assert_eq!(archive[0].lead.id, Some(lead));
    let empty_window = TimeRange {
        from: Some(at(0) + Duration::days(3650)),
        to: None,
    };
    assert_eq!(
        store
            .replay_deliveries("archive".into(), empty_window, at(4))
            .await
            .unwrap(),
        0
    );
    let counts = store.count_deliveries(at(5)).await.unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!(counts[0].target, "archive");
    assert_eq!(counts[0].in_flight, 1);
    assert_eq!(counts[1].pending, 1);
}

pub(crate) async fn a_requeued_delivery_is_due_at_once_keeps_its_attempts_and_counts_as_maybe_sent(
    backend: &impl Backend,
) {
    let store = backend.open().await;
    lead_for(&store, &["crm"]).await;
    let first = store
        .claim_deliveries("crm".into(), 10, at(0), at(60))
        .await
        .unwrap();
    store
        .finish_deliveries(
            vec![crate::store::FinishedDelivery {
                claim: first[0].claim,
                outcome: DeliveryOutcome::Requeue {
                    error: "interrupted".into(),
                },
            }],
            at(1),
        )
        .await
        .unwrap();
    let again = store
        .claim_deliveries("crm".into(), 10, at(1), at(60))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 0);
    assert!(again[0].maybe_sent_before());
}

pub(crate) async fn a_deleted_lead_is_dead_lettered_not_handed_out(backend: &impl Backend) {
    let store = backend.open().await;
    let lead = lead_for(&store, &["crm"]).await;
    assert!(store.delete(lead).await.unwrap());
    assert!(store
        .claim_deliveries("crm".into(), 10, at(0), at(60))
        .await
        .unwrap()
        .is_empty());
    let row = &store
        .list_deliveries(DeliveryFilter::default())
        .await
        .unwrap()[0];
    assert_eq!(row.state, DeliveryState::Dead);
}

pub(crate) async fn queued_deliveries_survive_a_reopen(backend: &impl Backend) {
    {
        let store = backend.open().await;
        lead_for(&store, &["crm"]).await;
        store.close().await.unwrap();
    }
    let store = backend.open().await;
    assert_eq!(
        store
            .claim_deliveries("crm".into(), 10, at(0), at(60))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The revisions of `lead`'s rows at `target`, in id order.
async fn revisions(store: &impl Store, lead: LeadId, target: &str) -> Vec<u32> {
    store
        .list_deliveries(DeliveryFilter {
            lead_id: Some(lead),
            target: Some(target.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|row| row.revision)
        .collect()
}

fn delivered(claim: crate::store::Claim, external_id: &str) -> crate::store::FinishedDelivery {
    crate::store::FinishedDelivery {
        claim,
        outcome: DeliveryOutcome::Delivered {
            external_id: Some(external_id.into()),
        },
    }
}

pub(crate) async fn changes_reach_targets_that_have_the_lead_in_order_and_coalesce(
    backend: &impl Backend,
) {
    let store = backend.open().await;
    let lead = lead_for(&store, &["crm", "hook", "later"]).await;
    let everywhere = || -> Vec<String> {
        ["crm", "hook", "later", "other"]
            .iter()
            .map(|name| name.to_string())
            .collect()
    };
    let change = |text: &'static str| -> crate::store::LeadChange {
        Box::new(move |lead: &mut Lead| {
            lead.text = Some(text.into());
            Ok(())
        })
    };
    // Nothing sent yet: the lead goes as it is when sent, no change queued.
    store
        .update_and_forward(lead, change("one"), everywhere())
        .await
        .unwrap();
    assert_eq!(revisions(&store, lead, "crm").await, [0]);

    // crm in flight, hook delivered, later never claimed, other never had it.
    let crm = store
        .claim_deliveries("crm".into(), 10, at(0), at(60))
        .await
        .unwrap();
    let hook = store
        .claim_deliveries("hook".into(), 10, at(0), at(60))
        .await
        .unwrap();
    store
        .finish_deliveries(vec![delivered(hook[0].claim, "h1")], at(1))
        .await
        .unwrap();
    store
        .update_and_forward(lead, change("two"), everywhere())
        .await
        .unwrap();
    assert_eq!(revisions(&store, lead, "crm").await, [0, 1]);
    assert_eq!(revisions(&store, lead, "hook").await, [0, 1]);
    assert_eq!(revisions(&store, lead, "later").await, [0]);
    assert!(revisions(&store, lead, "other").await.is_empty());

    // A change still waiting carries the next one too.
    store
        .update_and_forward(lead, change("three"), everywhere())
        .await
        .unwrap();
    assert_eq!(revisions(&store, lead, "crm").await, [0, 1]);
    // Neither is a change forwarded: a field targets are not sent again.
    store
        .update_and_forward(
            lead,
            Box::new(|lead: &mut Lead| {
                lead.company = Some("ООО Ромашка".into());
                Ok(())
            }),
            everywhere(),
        )
        .await
        .unwrap();
    assert_eq!(revisions(&store, lead, "hook").await, [0, 1]);

    // The change waits for the lead itself.
    assert!(store
        .claim_deliveries("crm".into(), 10, at(2), at(60))
        .await
        .unwrap()
        .is_empty());
    store
        .finish_deliveries(vec![delivered(crm[0].claim, "77")], at(3))
        .await
        .unwrap();
    let first_change = store
        .claim_deliveries("crm".into(), 10, at(4), at(60))
        .await
        .unwrap();
    assert_eq!(first_change.len(), 1);
    assert!(first_change[0].is_update());
    assert_eq!(first_change[0].revision, 1);
    assert_eq!(first_change[0].external_id.as_deref(), Some("77"));
    assert_eq!(first_change[0].lead.text.as_deref(), Some("three"));

    // A change made while the last one is on the wire gets a row of its
    // own, sent after it.
    store
        .update_and_forward(lead, change("four"), everywhere())
        .await
        .unwrap();
    assert_eq!(revisions(&store, lead, "crm").await, [0, 1, 2]);
    assert!(store
        .claim_deliveries("crm".into(), 10, at(5), at(60))
        .await
        .unwrap()
        .is_empty());
    store
        .finish_deliveries(vec![delivered(first_change[0].claim, "77")], at(6))
        .await
        .unwrap();
    let second_change = store
        .claim_deliveries("crm".into(), 10, at(7), at(60))
        .await
        .unwrap();
    assert_eq!(second_change.len(), 1);
    assert_eq!(second_change[0].revision, 2);
    assert_eq!(second_change[0].lead.text.as_deref(), Some("four"));
    // A plain update forwards nothing.
    store.update(lead, change("five")).await.unwrap();
    assert_eq!(revisions(&store, lead, "hook").await, [0, 1]);
}

/// `store_conformance!(fresh_backend)` expands to one `#[tokio::test]` per
/// conformance check, each on a backend of its own. The expression is
/// awaited and gives `Option<Backend>`: `None` skips (a backend whose
/// service is not configured on this machine, after saying so loudly).
macro_rules! store_conformance {
    ($backend:expr) => {
        $crate::store::conformance::store_conformance!(@tests $backend; insert_then_get_returns_the_same_lead, concurrent_inserts_all_get_distinct_ids_and_survive_reopen, same_origin_is_stored_once, filters_sort_and_paging, assignee_found_by_earlier_contact_inside_the_insert, stats_count_open_by_creation_and_processed_by_completion, stats_agree_with_the_leads_for_any_window, window_pages_in_id_order_are_exact, deep_pages_by_id_are_exact, earlier_contacts_are_found_after_close_and_after_a_crash, concurrent_updates_of_different_fields_all_survive_a_reopen, a_refused_change_writes_nothing_and_delete_removes_for_good, substring_filters_follow_updates_and_deletions, conditions_compare_any_field, sessions_are_kept_purged_when_expired_and_ended, a_new_lead_is_queued_for_each_target_and_claimed_once, an_expired_lease_is_claimed_again_and_the_stale_claim_changes_nothing, dead_rows_are_retried_and_leads_are_replayed_by_window, a_requeued_delivery_is_due_at_once_keeps_its_attempts_and_counts_as_maybe_sent, a_deleted_lead_is_dead_lettered_not_handed_out, queued_deliveries_survive_a_reopen, changes_reach_targets_that_have_the_lead_in_order_and_coalesce);
    };
    (@tests $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(backend) = $backend.await else {
                    return;
                };
                $crate::store::conformance::$name(&backend).await;
            }
        )*
    };
}
pub(crate) use store_conformance;
