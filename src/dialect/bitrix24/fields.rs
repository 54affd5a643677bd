//! `crm.lead.fields`: the field directory, derived once at start-up from the
//! mapping file (which fields exist, which are writable, their types) and its
//! `[values.titles]` labels.

use serde_json::{json, Map, Value};

use crate::lead::path::{EmployeeAttr, FieldPath};
use crate::mapping::Mapping;

/// Bitrix24's type name for a canonical field, and the status directory
/// behind a crm_status field.
fn type_of(path: &FieldPath) -> (&'static str, Option<&'static str>) {
    match path {
        FieldPath::Id | FieldPath::Int(_) => ("integer", None),
        FieldPath::Stage => ("crm_status", Some("STATUS")),
        FieldPath::Channel => ("crm_status", Some("SOURCE")),
        FieldPath::Employee(_, EmployeeAttr::Id) => ("user", None),
        FieldPath::CreatedAt | FieldPath::UpdatedAt | FieldPath::CompletedAt => ("datetime", None),
        FieldPath::Birthdate => ("date", None),
        FieldPath::Opportunity => ("double", None),
        FieldPath::Opened | FieldPath::HasEmail | FieldPath::HasPhone => ("char", None),
        FieldPath::ContactIds => ("crm_contact", None),
        FieldPath::Phones | FieldPath::Emails | FieldPath::Webs | FieldPath::Messengers => {
            ("crm_multifield", None)
        }
        other if other.to_string() == "honorific" => ("crm_status", Some("HONORIFIC")),
        other if other.to_string() == "currency" => ("crm_currency", None),
        _ => ("string", None),
    }
}

pub fn describe(mapping: &Mapping, multifields: &[(String, FieldPath)]) -> Value {
    let titles = mapping.value_map("titles");
    let title = |name: &str| titles.map_or(name, |map| map.label(name)).to_owned();
    let record = mapping.record("lead");
    let mut shown: Vec<&str> = record
        .map(|record| record.column_names().collect())
        .unwrap_or_default();
    shown.extend(multifields.iter().map(|(name, _)| name.as_str()));
    // Write-only names (CONTACT_IDS) that no result column shows.
    let mut write_only: Vec<(&str, &FieldPath)> = mapping
        .fields()
        .filter(|(name, _)| !shown.contains(name))
        .collect();
    write_only.sort_by_key(|(name, _)| *name);

    let mut out = Map::new();
    let mut add = |name: &str, path: Option<&FieldPath>, multiple: bool| {
        let writable = mapping
            .field(name)
            .is_some_and(|(path, _)| path.is_writable());
        let (kind, status) = path.map_or(("string", None), type_of);
        let mut entry = json!({
            "type": kind,
            "isRequired": false,
            "isReadOnly": !writable,
            "isImmutable": false,
            "isMultiple": multiple,
            "isDynamic": false,
            "title": title(name),
        });
        if let (Some(status), Value::Object(entry)) = (status, &mut entry) {
            entry.insert("statusType".into(), Value::String(status.into()));
        }
        out.insert(name.to_owned(), entry);
    };
    if let Some(record) = record {
        for name in record.column_names() {
            add(name, record.column_path(name), false);
        }
    }
    for (name, path) in write_only {
        match path {
            // Custom values without a column are lists kept whole (LINK).
            FieldPath::Custom(_) => add(name, Some(&FieldPath::Messengers), true),
            _ => add(name, Some(path), *path == FieldPath::ContactIds),
        }
    }
    for (name, path) in multifields {
        add(name, Some(path), true);
    }
    Value::Object(out)
}
