//! Mapping compilation, decoding and record encoding with the built-in SalesMan file.

use super::*;
use crate::lead::{Channel, Employee, Outcome, Role, Stage};

fn salesman() -> Mapping {
    Mapping::built_in("salesman").expect("built-in salesman mapping compiles")
}

fn context() -> WriteContext {
    WriteContext::default()
}

#[test]
fn decodes_a_seed_request() {
    let mapping = salesman();
    let mut lead = Lead::default();
    let pairs = [
        ("login", "vladislav@isaler.ru"),
        ("apikey", "key"),
        ("action", "add"),
        ("title", "Андреев владислав"),
        ("email", "vladislav@god.ry"),
        ("phone", "+79001234567"),
        ("company", "SalesMan"),
        ("description", "The best crm practice"),
        ("ip", "127.0.0.1"),
        ("country", "Ruusia"),
        ("city", "Perm"),
        ("path", "Test Path"),
        ("partner", ""),
        ("utm_source", "yandex"),
        ("form_color", "blue"),
    ];
    mapping
        .decode_into(
            &mut lead,
            pairs,
            &["login", "apikey", "action", "user"],
            &context(),
        )
        .unwrap();
    assert_eq!(lead.name.as_deref(), Some("Андреев владислав"));
    assert_eq!(lead.emails[0].normalized, "vladislav@god.ry");
    assert_eq!(lead.phones[0].normalized, "+79001234567");
    assert_eq!(lead.text.as_deref(), Some("The best crm practice"));
    assert_eq!(lead.visit.city.as_deref(), Some("Perm"));
    assert_eq!(lead.channel, Some(Channel::Other));
    assert_eq!(lead.channel_description.as_deref(), Some("Test Path"));
    assert_eq!(lead.partner, None, "an empty value is not a value");
    assert_eq!(lead.utm.source.as_deref(), Some("yandex"));
    assert_eq!(
        lead.kind,
        Some(crate::lead::LeadKind::Form),
        "default applied"
    );
    assert_eq!(
        lead.custom.get("form_color"),
        Some(&serde_json::json!("blue"))
    );
    assert!(
        !lead.custom.contains_key("login"),
        "reserved names are not custom fields"
    );
}

#[test]
fn known_channel_names_become_channels() {
    let mapping = salesman();
    let mut lead = Lead::default();
    mapping
        .decode_into(&mut lead, [("path", "Сайт")], &[], &context())
        .unwrap();
    assert_eq!(lead.channel, Some(Channel::Web));
}

#[test]
fn encodes_list_rows_as_php_strings() {
    let mapping = salesman();
    let employees = vec![Employee {
        id: 7,
        name: "Иванов Иван".into(),
        login: "ivanov@example.ru".into(),
        role: Role::Manager,
        active: true,
    }];
    let created = chrono::DateTime::parse_from_rfc3339("2024-01-03T06:15:00Z")
        .unwrap()
        .to_utc();
    let mut lead = Lead::new(created);
    lead.id = Some(1001);
    lead.stage = Stage::Junk;
    lead.outcome = Some(Outcome::NotTarget);
    lead.assigned_to = Some(7);
    lead.channel = Some(Channel::Web);
    let row = mapping
        .record("list")
        .unwrap()
        .encode(&mapping, &lead, &employees);
    let json = serde_json::Value::Object(row);
    assert_eq!(json["id"], "1001");
    assert_eq!(
        json["datum"], "2024-01-03 09:15:00",
        "Moscow wall-clock time"
    );
    assert_eq!(json["datum_do"], serde_json::Value::Null);
    assert_eq!(json["status"], "3", "junk is written as closed");
    assert_eq!(json["statusName"], "Закрыт");
    assert_eq!(json["rezult"], "4");
    assert_eq!(json["rezultName"], "Не целевой");
    assert_eq!(json["user"], "7");
    assert_eq!(json["userName"], "Иванов Иван");
    assert_eq!(json["clientpath"], "1");
    assert_eq!(json["clientpathName"], "Сайт");
    assert_eq!(json["clid"], "0");
    assert_eq!(json["deal"], serde_json::Value::Null);
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys.first().map(|k| k.as_str()), Some("id"));
    assert_eq!(keys.last().map(|k| k.as_str()), Some("clientpathName"));
}

#[test]
fn open_lead_has_rezult_zero() {
    let mapping = salesman();
    let lead = Lead {
        id: Some(1),
        ..Lead::default()
    };
    let row = mapping
        .record("info")
        .unwrap()
        .encode(&mapping, &lead, &Vec::new());
    // Codes and ids are JSON integers in `info`, as the real handler
    // writes them; their names stay text.
    assert_eq!(row["rezult"], 0);
    assert_eq!(row["rezultName"], "0");
    assert_eq!(row["status"], 0);
    assert_eq!(row["statusName"], "Открыт");
    assert_eq!(row["iduser"], 0);
}

#[test]
fn status_filter_covers_every_stage_written_the_same() {
    let mapping = salesman();
    let status = mapping.value_map("status").unwrap();
    let mut closed: Vec<&str> = status.canonicals_written_as("3").collect();
    closed.sort_unstable();
    assert_eq!(closed, ["closed", "junk"]);
}

#[test]
fn column_paths_resolve_sort_names() {
    let mapping = salesman();
    let list = mapping.record("list").unwrap();
    assert_eq!(list.column_path("datum"), Some(&FieldPath::CreatedAt));
    assert_eq!(list.column_path("clid"), None);
}

#[test]
fn compile_errors_name_file_key_and_problem() {
    let text = r#"
[dialect]
name = "x"
timezone = "Moscow"
[fields]
a = "nowhere"
b = { path = "stage" }
c = { path = "stage", values = "missing" }
d = { path = "outcome", values = "bad" }
[values.bad]
decode = { "1" = "spammy" }
[[records.r]]
name = "q"
path = "stage"
const = "1"
"#;
    let errors = Mapping::from_toml("my.toml", text).unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|error| error.key.as_str()).collect();
    assert!(errors.iter().all(|error| error.file == "my.toml"));
    for expected in [
        "dialect.timezone",
        "fields.a",
        "fields.b",
        "fields.c.values",
        "values.bad.decode.1",
        "records.r[0] (q)",
    ] {
        assert!(keys.contains(&expected), "missing {expected} in {keys:?}");
    }
    let message = errors
        .iter()
        .find(|error| error.key == "values.bad.decode.1")
        .unwrap()
        .to_string();
    assert!(
        message.contains("spammy") && message.contains("not_target"),
        "{message}"
    );
}

#[test]
fn toml_syntax_errors_are_reported() {
    let errors = Mapping::from_toml("broken.toml", "[dialect\nname=").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, "broken.toml");
}

#[test]
fn unknown_wire_value_without_fallback_is_an_error() {
    let text = r#"
[dialect]
name = "x"
[fields]
st = { path = "stage", values = "s" }
[values.s]
decode = { "0" = "new" }
"#;
    let mapping = Mapping::from_toml("x.toml", text).unwrap();
    let mut lead = Lead::default();
    let error = mapping
        .decode_into(&mut lead, [("st", "9")], &[], &context())
        .unwrap_err();
    assert_eq!(
        error,
        DecodeError::UnknownValue {
            wire_field: "st".into()
        }
    );
}
