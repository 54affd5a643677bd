//! Lead ⇄ Bitrix24 `fields`. Scalar fields go through the mapping file's
//! field and value maps; the dialect itself handles what a flat map cannot
//! say: multifields (PHONE/EMAIL/WEB/IM as lists of {VALUE, VALUE_TYPE}),
//! UF_CRM_* user fields (kept as custom fields) and IS_RETURN_CUSTOMER.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::error::Bitrix24Error;
use crate::core::Employees;
use crate::http::{scalar_text, Args};
use crate::lead::path::{FieldPath, WriteContext};
use crate::lead::{ContactKind, ContactPoint, EmployeeDirectory, Lead};
use crate::mapping::{Mapping, ValueMap};

/// Prefix of user fields; anything after it is the portal's own name.
pub const USER_FIELD_PREFIX: &str = "UF_";

/// A field name as results write it: upper case, and `ufCrm_…` (the
/// spelling of newer methods, which the seed also lists) as `UF_CRM_…`.
pub fn wire_field_name(name: &str) -> String {
    match name.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("ufcrm") => {
            let rest = name[5..].trim_start_matches('_').to_ascii_uppercase();
            format!("UF_CRM_{rest}")
        }
        _ => name.to_ascii_uppercase(),
    }
}

/// The canonical contact lists, in the order results list them.
pub const CONTACT_LISTS: [FieldPath; 4] = [
    FieldPath::Phones,
    FieldPath::Emails,
    FieldPath::Webs,
    FieldPath::Messengers,
];

pub fn contact_list<'a>(lead: &'a Lead, path: &FieldPath) -> &'a [ContactPoint] {
    match path {
        FieldPath::Phones => &lead.phones,
        FieldPath::Emails => &lead.emails,
        FieldPath::Webs => &lead.webs,
        _ => &lead.messengers,
    }
}

/// A contact list as a portal shows it: a lead with no web address but a
/// site URL (a SalesMan `site`, a UIS site) shows that URL as its one `WEB`
/// item, typed `WORK` as a portal types a company site.
pub fn shown_contacts<'a>(lead: &'a Lead, path: &FieldPath) -> Cow<'a, [ContactPoint]> {
    let list = contact_list(lead, path);
    match (path, list.is_empty(), &lead.site.url) {
        (FieldPath::Webs, true, Some(url)) => Cow::Owned(vec![ContactPoint {
            value: url.clone(),
            normalized: url.to_lowercase(),
            kind: ContactKind::Work,
            label: None,
        }]),
        _ => Cow::Borrowed(list),
    }
}

fn contact_list_mut<'a>(lead: &'a mut Lead, path: &FieldPath) -> &'a mut Vec<ContactPoint> {
    match path {
        FieldPath::Phones => &mut lead.phones,
        FieldPath::Emails => &mut lead.emails,
        FieldPath::Webs => &mut lead.webs,
        _ => &mut lead.messengers,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Add,
    /// Only the fields sent change; multifield elements carrying an `ID`
    /// replace (or, with an empty VALUE, delete) that element.
    Update,
}

/// Lead ⇄ `fields` through the mapping file. It holds no store, so
/// `leadgate translate` and tests decode with it alone.
pub struct Codec {
    pub(super) mapping: Arc<Mapping>,
    pub(super) write_context: WriteContext,
    employees: Arc<Employees>,
    /// Multifield wire names (PHONE, EMAIL, ...) with their contact list, in
    /// result order.
    pub(super) multifields: Vec<(String, FieldPath)>,
    /// Fields kept whole as custom values (LINK) that no result column
    /// shows: (wire name, custom name). Written only when present.
    pub(super) kept_whole: Vec<(String, String)>,
}

impl Codec {
    pub fn new(
        mapping: Arc<Mapping>,
        write_context: WriteContext,
        employees: Arc<Employees>,
    ) -> Codec {
        let mut multifields: Vec<(String, FieldPath)> = mapping
            .fields()
            .filter(|(_, path)| CONTACT_LISTS.contains(path))
            .map(|(name, path)| (name.to_owned(), path.clone()))
            .collect();
        multifields.sort_by_key(|(name, path)| {
            (
                CONTACT_LISTS.iter().position(|list| list == path),
                name.clone(),
            )
        });
        let shown: Vec<&str> = mapping
            .record("lead")
            .map(|record| record.column_names().collect())
            .unwrap_or_default();
        let mut kept_whole: Vec<(String, String)> = mapping
            .fields()
            .filter(|(name, _)| !shown.contains(name))
            .filter_map(|(name, path)| match path {
                FieldPath::Custom(custom) => Some((name.to_owned(), custom.clone())),
                _ => None,
            })
            .collect();
        kept_whole.sort();
        Codec {
            mapping,
            write_context,
            employees,
            multifields,
            kept_whole,
        }
    }

    fn value_types(&self) -> Option<&ValueMap> {
        self.mapping.value_map("value_type")
    }

    /// The lead a `crm.lead.add` call describes, not yet stored.
    pub fn decode_add(&self, args: &Args) -> Result<Lead, Bitrix24Error> {
        let Some(Value::Object(fields)) = args.get("fields") else {
            return Err(Bitrix24Error::FieldsNotArray);
        };
        let mut lead = Lead::new(chrono::Utc::now());
        self.decode_fields(fields, &mut lead, Mode::Add)?;
        if let Some(id) = lead.assigned_to {
            if self.employees.by_id(id).is_none() {
                return Err(Bitrix24Error::Invalid(format!(
                    "Field ASSIGNED_BY_ID: user {id} not found"
                )));
            }
        }
        Ok(lead)
    }

    /// Writes `fields` into `lead`.
    pub fn decode_fields(
        &self,
        fields: &Map<String, Value>,
        lead: &mut Lead,
        mode: Mode,
    ) -> Result<(), Bitrix24Error> {
        let mut scalars: Vec<(String, String)> = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let name = wire_field_name(name);
            if name.starts_with(USER_FIELD_PREFIX) {
                lead.custom.insert(name, value.clone());
                continue;
            }
            let Some((path, _)) = self.mapping.field(&name) else {
                // Bitrix24 ignores fields it does not know.
                continue;
            };
            if CONTACT_LISTS.contains(path) {
                self.decode_multifield(&name, path, value, lead, mode)?;
                continue;
            }
            match value {
                Value::Array(items) if *path == FieldPath::ContactIds => {
                    for item in items {
                        if let Some(text) = scalar_text(item) {
                            scalars.push((name.clone(), text));
                        }
                    }
                }
                // Lists the canonical model has no place for (LINK) are kept whole.
                Value::Array(_) | Value::Object(_) if matches!(path, FieldPath::Custom(_)) => {
                    if let FieldPath::Custom(custom) = path {
                        lead.custom.insert(custom.clone(), value.clone());
                    }
                }
                Value::Array(_) | Value::Object(_) => {
                    return Err(Bitrix24Error::Invalid(format!(
                        "Field {name} must be a single value"
                    )))
                }
                scalar => {
                    let text = scalar_text(scalar).unwrap_or_default();
                    // On update an empty value empties the field, as on a portal.
                    if mode == Mode::Update && text.trim().is_empty() {
                        path.clear(lead).map_err(|error| {
                            Bitrix24Error::Invalid(format!("Field {name}: {error}"))
                        })?;
                        continue;
                    }
                    scalars.push((name, text));
                }
            }
        }
        let pairs = scalars
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()));
        self.mapping
            .decode_into(lead, pairs, &[], &self.write_context)
            .map_err(|error| match error {
                crate::mapping::DecodeError::UnknownValue { wire_field } => {
                    Bitrix24Error::Invalid(format!("Field {wire_field} has an unknown value"))
                }
                crate::mapping::DecodeError::Field { wire_field, source } => {
                    Bitrix24Error::Invalid(format!("Field {wire_field}: {source}"))
                }
            })?;
        // An origin needs both parts to identify anything; half of one is
        // kept as sent instead of becoming a de-duplication key.
        if let Some(origin) = &lead.origin {
            if origin.system.is_empty() || origin.external_id.is_empty() {
                let origin = lead.origin.take();
                for (path, text) in [
                    (FieldPath::OriginSystem, origin.as_ref().map(|o| &o.system)),
                    (
                        FieldPath::OriginExternalId,
                        origin.as_ref().map(|o| &o.external_id),
                    ),
                ] {
                    if let Some(text) = text.filter(|text| !text.is_empty()) {
                        let name = self.mapping.wire_name(&path.to_string()).to_owned();
                        lead.custom.insert(name, Value::String(text.clone()));
                    }
                }
            }
        }
        Ok(())
    }

    fn decode_multifield(
        &self,
        name: &str,
        path: &FieldPath,
        value: &Value,
        lead: &mut Lead,
        mode: Mode,
    ) -> Result<(), Bitrix24Error> {
        let elements: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            // Forms send `fields[PHONE][n0][VALUE]`: an object of elements.
            Value::Object(map) if map.values().all(Value::is_object) => map.values().collect(),
            other => vec![other],
        };
        // Element IDs name positions in the list as stored, so every
        // replacement and removal is resolved before any of them applies.
        let mut replaced: Vec<(usize, ContactPoint)> = Vec::new();
        let mut removed: Vec<usize> = Vec::new();
        let mut appended: Vec<ContactPoint> = Vec::new();
        if mode == Mode::Update && contact_list(lead, path).is_empty() {
            // The item a read showed in place of an empty list (the site's
            // URL as `WEB`) is the one an update's element ID 1 names.
            let shown = shown_contacts(lead, path).into_owned();
            *contact_list_mut(lead, path) = shown;
        }
        let stored = contact_list(lead, path).len();
        for element in elements {
            let (id, text, value_type) = match element {
                Value::Object(map) => {
                    let field = |key: &str| {
                        map.iter()
                            .find(|(name, _)| name.eq_ignore_ascii_case(key))
                            .and_then(|(_, value)| scalar_text(value))
                    };
                    (field("ID"), field("VALUE"), field("VALUE_TYPE"))
                }
                scalar => (None, scalar_text(scalar), None),
            };
            let point = self.contact_point(path, &text.unwrap_or_default(), value_type.as_deref());
            let position = match (mode, id) {
                (Mode::Update, Some(id)) => Some(
                    id.trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|id| id.checked_sub(1))
                        .filter(|index| *index < stored)
                        .ok_or_else(|| {
                            Bitrix24Error::Invalid(format!("{name}: element ID {id} not found"))
                        })?,
                ),
                _ => None,
            };
            match position {
                Some(index) if point.value.is_empty() => removed.push(index),
                Some(index) => replaced.push((index, point)),
                None if point.value.is_empty() => {}
                None => appended.push(point),
            }
        }
        let list = contact_list_mut(lead, path);
        for (index, point) in replaced {
            list[index] = point;
        }
        removed.sort_unstable();
        removed.dedup();
        for index in removed.into_iter().rev() {
            list.remove(index);
        }
        list.extend(appended);
        Ok(())
    }

    fn contact_point(
        &self,
        path: &FieldPath,
        text: &str,
        value_type: Option<&str>,
    ) -> ContactPoint {
        let mut point = match path {
            FieldPath::Phones => {
                ContactPoint::phone(text, &self.write_context.default_country_code)
            }
            FieldPath::Emails => ContactPoint::email(text),
            _ => ContactPoint::plain(text),
        };
        if let Some(value_type) = value_type.map(str::trim).filter(|kind| !kind.is_empty()) {
            let kind = self
                .value_types()
                .and_then(|map| map.to_canonical(value_type))
                .and_then(ContactKind::parse);
            match kind {
                Some(kind) => point.kind = kind,
                None => {
                    point.kind = ContactKind::Other;
                    point.label = Some(value_type.to_owned());
                }
            }
        }
        point
    }

    /// A lead as `crm.lead.get` writes it.
    pub fn encode_lead(&self, lead: &Lead) -> Map<String, Value> {
        let Some(record) = self.mapping.record("lead") else {
            return Map::new();
        };
        let mut object = record.encode(&self.mapping, lead, self.employees.as_ref());
        if object.contains_key(RETURN_CUSTOMER) {
            let returning = lead.company_id.is_some() || !lead.contact_ids.is_empty();
            object.insert(
                RETURN_CUSTOMER.into(),
                Value::String(if returning { "Y" } else { "N" }.into()),
            );
        }
        for (name, custom) in &self.kept_whole {
            if let Some(value) = lead.custom.get(custom) {
                object.insert(name.clone(), multifield_items(name, value));
            }
        }
        for (name, value) in &lead.custom {
            if name.starts_with(USER_FIELD_PREFIX) {
                object.insert(name.clone(), value.clone());
            }
        }
        for (name, path) in &self.multifields {
            let points = shown_contacts(lead, path);
            if points.is_empty() {
                continue;
            }
            let elements = points
                .iter()
                .enumerate()
                .map(|(index, point)| {
                    let value_type = point.label.clone().unwrap_or_else(|| {
                        self.value_types()
                            .and_then(|map| map.to_wire(point.kind.as_str()))
                            .unwrap_or(point.kind.as_str())
                            .to_owned()
                    });
                    serde_json::json!({
                        "ID": (index + 1).to_string(),
                        "VALUE_TYPE": value_type,
                        "VALUE": point.value,
                        "TYPE_ID": name,
                    })
                })
                .collect();
            object.insert(name.clone(), Value::Array(elements));
        }
        object
    }
}

/// A multifield kept whole (LINK) as a portal writes every multifield:
/// each item `{ID, VALUE_TYPE, VALUE, TYPE_ID}`, in that order, whatever a
/// writer left out (`ID` by position, `VALUE_TYPE` `USER` as for open-line
/// users). A value that is not a list of items is written as it was kept.
fn multifield_items(name: &str, kept: &Value) -> Value {
    let items: Vec<&Value> = match kept {
        Value::Array(items) => items.iter().collect(),
        // PHP-style `LINK[n0][VALUE]=…` arrives as an object of items.
        Value::Object(items) if items.values().all(Value::is_object) => items.values().collect(),
        other => return other.clone(),
    };
    let mut written = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(item) = item else {
            return kept.clone();
        };
        let text = |key: &str| item.get(key).and_then(scalar_text);
        let mut element = Map::new();
        element.insert(
            "ID".into(),
            Value::String(text("ID").unwrap_or_else(|| (index + 1).to_string())),
        );
        element.insert(
            "VALUE_TYPE".into(),
            Value::String(text("VALUE_TYPE").unwrap_or_else(|| "USER".into())),
        );
        element.insert(
            "VALUE".into(),
            item.get("VALUE").cloned().unwrap_or(Value::Null),
        );
        element.insert("TYPE_ID".into(), Value::String(name.to_owned()));
        written.push(Value::Object(element));
    }
    Value::Array(written)
}

/// Derived on read from COMPANY_ID / CONTACT_ID, as the portal sets it.
const RETURN_CUSTOMER: &str = "IS_RETURN_CUSTOMER";
