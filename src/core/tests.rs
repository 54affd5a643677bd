//! Core commands against a real SQLite store in a temporary directory.

use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::*;
use crate::lead::{ContactPoint, Employee, Role};
use crate::store::sqlite::{SqliteOptions, SqliteStore};

fn employee(id: i64, login: &str, active: bool) -> Employee {
    Employee {
        id,
        name: format!("Employee {id}"),
        login: login.into(),
        role: Role::Manager,
        active,
    }
}

fn core(dir: &tempfile::TempDir) -> Core {
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("leads.db"))).unwrap();
    Core::new(
        Arc::new(store),
        Employees::new(vec![
            employee(1, "coordinator@example.ru", true),
            employee(2, "Anna@Example.ru", true),
            employee(3, "gone@example.ru", false),
        ]),
    )
}

fn lead_with_phone(phone: &str) -> Lead {
    let mut lead = Lead::new(Utc::now());
    lead.phones.push(ContactPoint::phone(phone, "7"));
    lead
}

#[tokio::test]
async fn assignment_prefers_request_then_earlier_contact_then_default() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir);
    let default = core.employees().by_login("coordinator@example.ru");
    let rules = ValidationRules::default();

    let (first, by) = core
        .create_lead(
            NewLead {
                lead: lead_with_phone("+7 900 111-22-33"),
                requested_assignee: Some("anna@example.ru"),
                default_assignee: default,
                ..NewLead::default()
            },
            &rules,
        )
        .await
        .unwrap();
    assert_eq!(by, AssignedBy::Requested);
    assert_eq!(first.lead.assigned_to, Some(2));
    assert_eq!(first.lead.stage, Stage::InProgress);

    // The same person writes again in another notation: Anna keeps them.
    let (second, by) = core
        .create_lead(
            NewLead {
                lead: lead_with_phone("8 (900) 111 22 33"),
                default_assignee: default,
                ..NewLead::default()
            },
            &rules,
        )
        .await
        .unwrap();
    assert_eq!(by, AssignedBy::EarlierContact);
    assert_eq!(second.lead.assigned_to, Some(2));

    // A stranger asking for an inactive employee goes to the coordinator, open.
    let (third, by) = core
        .create_lead(
            NewLead {
                lead: lead_with_phone("+7 911 000 00 00"),
                requested_assignee: Some("gone@example.ru"),
                default_assignee: default,
                ..NewLead::default()
            },
            &rules,
        )
        .await
        .unwrap();
    assert_eq!(by, AssignedBy::Default);
    assert_eq!(third.lead.assigned_to, Some(1));
    // A lead with a responsible employee is in work, however it got one.
    assert_eq!(third.lead.stage, Stage::InProgress);
}

#[tokio::test]
async fn invalid_leads_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir);
    let mut lead = Lead::new(Utc::now());
    lead.company = Some("x".repeat(100 * 1024));
    let result = core
        .create_lead(
            NewLead {
                lead,
                ..NewLead::default()
            },
            &ValidationRules::default(),
        )
        .await;
    assert!(matches!(result, Err(CoreError::Invalid(_))));
    let page = core.query(LeadQuery::default()).await.unwrap();
    assert!(page.leads.is_empty());
}

#[tokio::test]
async fn stats_list_every_active_employee() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir);
    core.create_lead(
        NewLead {
            lead: lead_with_phone("+79001112233"),
            requested_assignee: Some("anna@example.ru"),
            ..NewLead::default()
        },
        &ValidationRules::default(),
    )
    .await
    .unwrap();
    let moscow = FixedOffset::east_opt(3 * 3600).unwrap();
    let stats = core.monthly_stats(Utc::now(), moscow).await.unwrap();
    let rows: Vec<(&str, u64, u64)> = stats
        .iter()
        .map(|row| (row.employee.login.as_str(), row.open, row.processed))
        .collect();
    assert_eq!(
        rows,
        [("coordinator@example.ru", 0, 0), ("Anna@Example.ru", 1, 0)]
    );
}

#[test]
fn month_window_follows_the_local_calendar() {
    let moscow = FixedOffset::east_opt(3 * 3600).unwrap();
    // 22:30 UTC on 31 January is already 1 February in Moscow.
    let now = Utc.with_ymd_and_hms(2024, 1, 31, 22, 30, 0).unwrap();
    let window = month_window(now, moscow);
    assert_eq!(
        window.from,
        Some(Utc.with_ymd_and_hms(2024, 1, 31, 21, 0, 0).unwrap())
    );
    assert_eq!(
        window.to,
        Some(Utc.with_ymd_and_hms(2024, 2, 29, 21, 0, 0).unwrap())
    );
}
