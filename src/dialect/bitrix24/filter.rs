//! `filter`, `order` and `select` of list methods, from Bitrix24 field names
//! to canonical conditions the store evaluates. A filter key is an optional
//! operator prefix and a field (`>=DATE_CREATE`, `%TITLE`, `@ID`, `!STATUS_ID`);
//! values are typed by the field's canonical path, enumerations go through
//! the mapping's value maps, dates without an offset are portal time.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::codec::{wire_field_name, CONTACT_LISTS, USER_FIELD_PREFIX};
use super::{Args, Bitrix24, Bitrix24Error};
use crate::http::scalar_text;
use crate::lead::contact::normalize_phone;
use crate::lead::path::{parse_flag, EmployeeAttr, FieldPath};
use crate::store::{Compare, Condition, Operand, Sort, SortKey};

/// Operator prefixes, longest first so `>=` is not read as `>`.
const OPERATORS: &[(&str, Compare)] = &[
    ("!%=", Compare::NotLike),
    ("!=%", Compare::NotLike),
    (">=", Compare::GreaterOrEqual),
    ("<=", Compare::LessOrEqual),
    ("=%", Compare::Like),
    ("%=", Compare::Like),
    ("!@", Compare::NotIn),
    ("!%", Compare::NotContains),
    ("!=", Compare::NotEqual),
    (">", Compare::Greater),
    ("<", Compare::Less),
    ("@", Compare::In),
    ("%", Compare::Contains),
    ("=", Compare::Equal),
    ("!", Compare::NotEqual),
];

fn split_operator(key: &str) -> (Compare, &str) {
    OPERATORS
        .iter()
        .find_map(|(prefix, compare)| key.strip_prefix(prefix).map(|field| (*compare, field)))
        .unwrap_or((Compare::Equal, key))
}

/// Most conditions one `filter` may hold. Bitrix24 documents no limit; a
/// form or report asks for a handful, and each condition is a clause of
/// one SQL statement, whose expression tree SQLite bounds.
pub const MAX_FILTER_CONDITIONS: usize = 100;
/// Most values one condition may list (`filter[ID][]=…`).
pub const MAX_FILTER_VALUES: usize = 1000;
/// Most keys one `order` may hold; a lead has fewer sortable fields.
pub const MAX_ORDER_KEYS: usize = 50;

impl Bitrix24 {
    /// The canonical path behind a field name of results or of `fields`.
    pub fn field_path(&self, name: &str) -> Option<FieldPath> {
        if name.starts_with(USER_FIELD_PREFIX) {
            return Some(FieldPath::Custom(name.to_owned()));
        }
        if let Some((path, _)) = self.codec.mapping.field(name) {
            return Some(path.clone());
        }
        self.codec
            .mapping
            .record("lead")
            .and_then(|record| record.column_path(name))
            .cloned()
    }

    pub fn conditions(&self, args: &Args) -> Result<Vec<Condition>, Bitrix24Error> {
        let filter = match args.get("filter") {
            Some(Value::Object(filter)) => filter,
            None | Some(Value::String(_)) => return Ok(Vec::new()),
            Some(_) => {
                return Err(Bitrix24Error::BadArgument(
                    "filter must be an object".into(),
                ))
            }
        };
        if filter.len() > MAX_FILTER_CONDITIONS {
            return Err(Bitrix24Error::BadArgument(format!(
                "filter has more than {MAX_FILTER_CONDITIONS} conditions"
            )));
        }
        let mut conditions = Vec::with_capacity(filter.len());
        for (key, value) in filter {
            let (mut compare, name) = split_operator(key.trim());
            let name = wire_field_name(name);
            let Some(field) = self.field_path(&name) else {
                // The portal ignores filter fields it does not know.
                // Not named in the log: an unknown name may be anything the
                // caller typed.
                tracing::debug!("unknown Bitrix24 filter field ignored");
                continue;
            };
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                Value::Object(map) => map.values().collect(),
                single => vec![single],
            };
            if values.len() > MAX_FILTER_VALUES {
                return Err(Bitrix24Error::BadArgument(format!(
                    "filter {key}: more than {MAX_FILTER_VALUES} values"
                )));
            }
            if values.len() != 1 || matches!(value, Value::Array(_)) {
                compare = match compare {
                    Compare::Equal | Compare::In => Compare::In,
                    Compare::NotEqual | Compare::NotIn => Compare::NotIn,
                    other => other,
                };
            }
            let mut operands = Vec::with_capacity(values.len());
            let mut unmatchable = false;
            for value in values {
                let text = scalar_text(value).ok_or_else(|| {
                    Bitrix24Error::BadArgument(format!("filter {key}: expected a value"))
                })?;
                match self.operand(&field, &name, &text, compare)? {
                    Some(operand) => operands.push(operand),
                    None => unmatchable = true,
                }
            }
            if unmatchable {
                // A value no lead can have (STATUS_ID=NO_SUCH): "equal to it"
                // matches nothing, "not equal to it" leaves the rest as is.
                match compare {
                    Compare::Equal | Compare::In => compare = Compare::In,
                    Compare::NotEqual | Compare::NotIn if operands.is_empty() => continue,
                    Compare::NotEqual | Compare::NotIn => compare = Compare::NotIn,
                    _ => {}
                }
            }
            conditions.push(Condition {
                field,
                compare,
                operands,
            });
        }
        Ok(conditions)
    }

    /// The operand a filter value stands for; `None` for a value of an
    /// enumeration that no lead can have.
    fn operand(
        &self,
        field: &FieldPath,
        name: &str,
        text: &str,
        compare: Compare,
    ) -> Result<Option<Operand>, Bitrix24Error> {
        let text = text.trim();
        let bad = |expected: &str| {
            Bitrix24Error::BadArgument(format!("filter {name}: {text:?} is not {expected}"))
        };
        // An empty value tests for absence, as `filter[!COMPANY_ID]=` does.
        if text.is_empty() && !matches!(compare, Compare::Like | Compare::NotLike) {
            return Ok(Some(Operand::Null));
        }
        if matches!(
            compare,
            Compare::Contains | Compare::NotContains | Compare::Like | Compare::NotLike
        ) {
            return Ok(Some(Operand::Text(text.to_owned())));
        }
        Ok(Some(match field {
            FieldPath::Id
            | FieldPath::Int(_)
            | FieldPath::ContactIds
            | FieldPath::Employee(_, EmployeeAttr::Id) => {
                Operand::Int(text.parse().map_err(|_| bad("an integer"))?)
            }
            FieldPath::Opportunity => Operand::Float(
                text.replace(',', ".")
                    .parse()
                    .map_err(|_| bad("a number"))?,
            ),
            FieldPath::CreatedAt | FieldPath::UpdatedAt | FieldPath::CompletedAt => {
                Operand::Time(self.parse_time(text).ok_or_else(|| bad("a date"))?)
            }
            FieldPath::Birthdate => Operand::Text(
                crate::lead::path::parse_date(text.get(..10).unwrap_or(text))
                    .ok_or_else(|| bad("a date"))?
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            FieldPath::Opened | FieldPath::HasEmail | FieldPath::HasPhone => {
                Operand::Bool(parse_flag(text).ok_or_else(|| bad("Y or N"))?)
            }
            FieldPath::Phones => Operand::Text(normalize_phone(
                text,
                &self.codec.write_context.default_country_code,
            )),
            FieldPath::Emails => Operand::Text(text.to_lowercase()),
            path if CONTACT_LISTS.contains(path) => Operand::Text(text.to_owned()),
            _ => match self
                .codec
                .mapping
                .field(name)
                .and_then(|(_, values)| values)
            {
                // STATUS_ID=NEW: compare the canonical stage.
                Some(values) => match values.to_canonical(text) {
                    Some(canonical) => Operand::Text(canonical.to_owned()),
                    None => return Ok(None),
                },
                None => Operand::Text(text.to_owned()),
            },
        }))
    }

    /// ISO 8601 with or without offset or time, or the portal's
    /// `31.01.2024 10:00:00`; without an offset it is portal time.
    pub fn parse_time(&self, text: &str) -> Option<DateTime<Utc>> {
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Some(time.with_timezone(&Utc));
        }
        if let Ok(time) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z") {
            return Some(time.with_timezone(&Utc));
        }
        let naive = [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
            "%d.%m.%Y %H:%M:%S",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            ["%Y-%m-%d", "%d.%m.%Y"]
                .iter()
                .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
                .map(|date| date.and_time(chrono::NaiveTime::MIN))
        })?;
        self.codec
            .mapping
            .timezone
            .from_local_datetime(&naive)
            .single()
            .map(|time| time.with_timezone(&Utc))
    }

    /// `order`: `{FIELD: ASC|DESC}` in the order given.
    pub fn sort(&self, args: &Args) -> Result<Vec<Sort>, Bitrix24Error> {
        let order = match args.get("order") {
            Some(Value::Object(order)) => order,
            None | Some(Value::String(_)) => return Ok(Vec::new()),
            Some(_) => return Err(Bitrix24Error::BadArgument("order must be an object".into())),
        };
        if order.len() > MAX_ORDER_KEYS {
            return Err(Bitrix24Error::BadArgument(format!(
                "order has more than {MAX_ORDER_KEYS} fields"
            )));
        }
        let mut sort = Vec::with_capacity(order.len());
        for (name, direction) in order {
            let direction = scalar_text(direction).unwrap_or_default();
            let descending = match direction.trim().to_ascii_uppercase().as_str() {
                "ASC" | "" => false,
                "DESC" => true,
                _ => {
                    return Err(Bitrix24Error::BadArgument(format!(
                        "order {name}: {direction:?} is not ASC or DESC"
                    )))
                }
            };
            let name = wire_field_name(name);
            let Some(field) = self.field_path(&name) else {
                continue;
            };
            let key = match field {
                FieldPath::Id => SortKey::Id,
                FieldPath::CreatedAt => SortKey::CreatedAt,
                FieldPath::UpdatedAt => SortKey::UpdatedAt,
                FieldPath::CompletedAt => SortKey::CompletedAt,
                other => SortKey::Field(other),
            };
            sort.push(Sort { key, descending });
        }
        Ok(sort)
    }
}

/// `filter[ENTITY_ID]` of crm.status.list: one name or a list.
pub fn entity_filter(args: &Args) -> Result<Option<Vec<String>>, Bitrix24Error> {
    let Some(Value::Object(filter)) = args.get("filter") else {
        return Ok(None);
    };
    let Some((_, value)) = filter.iter().find(|(key, _)| {
        key.trim_start_matches(['=', '@'])
            .eq_ignore_ascii_case("ENTITY_ID")
    }) else {
        return Ok(None);
    };
    Ok(Some(match value {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        other => vec![scalar_text(other).unwrap_or_default()],
    }))
}
