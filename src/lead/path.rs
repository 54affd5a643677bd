//! Canonical field paths (`name`, `utm.source`, `assigned_to.login`, `custom.X`):
//! the vocabulary mapping files use to say where a wire field lands.
//!
//! This is the only place that knows how a path reads and writes a [`Lead`], so
//! a mapping file is checked against it once at start-up and the per-request
//! work is a match on a small enum, never string handling.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use super::contact::ContactPoint;
use super::enums::{Channel, LeadKind, Outcome, Stage};
use super::validate::LeadError;
use super::{EmployeeId, Lead, Origin};

type TextGet = fn(&Lead) -> &Option<String>;
type TextSet = fn(&mut Lead) -> &mut Option<String>;
type IntGet = fn(&Lead) -> Option<i64>;
type IntSet = fn(&mut Lead) -> &mut Option<i64>;

/// Plain optional text fields: (path, read, write).
const TEXT_FIELDS: &[(&str, TextGet, TextSet)] = &[
    ("title", |l| &l.title, |l| &mut l.title),
    ("name", |l| &l.name, |l| &mut l.name),
    ("second_name", |l| &l.second_name, |l| &mut l.second_name),
    ("last_name", |l| &l.last_name, |l| &mut l.last_name),
    ("honorific", |l| &l.honorific, |l| &mut l.honorific),
    ("post", |l| &l.post, |l| &mut l.post),
    ("company", |l| &l.company, |l| &mut l.company),
    ("text", |l| &l.text, |l| &mut l.text),
    ("answer_text", |l| &l.answer_text, |l| &mut l.answer_text),
    (
        "channel_description",
        |l| &l.channel_description,
        |l| &mut l.channel_description,
    ),
    ("utm.source", |l| &l.utm.source, |l| &mut l.utm.source),
    ("utm.medium", |l| &l.utm.medium, |l| &mut l.utm.medium),
    ("utm.campaign", |l| &l.utm.campaign, |l| &mut l.utm.campaign),
    ("utm.term", |l| &l.utm.term, |l| &mut l.utm.term),
    ("utm.content", |l| &l.utm.content, |l| &mut l.utm.content),
    ("utm.referrer", |l| &l.utm.referrer, |l| &mut l.utm.referrer),
    ("visit.ip", |l| &l.visit.ip, |l| &mut l.visit.ip),
    (
        "visit.country",
        |l| &l.visit.country,
        |l| &mut l.visit.country,
    ),
    ("visit.city", |l| &l.visit.city, |l| &mut l.visit.city),
    (
        "visit.ext_referer",
        |l| &l.visit.ext_referer,
        |l| &mut l.visit.ext_referer,
    ),
    (
        "visit.int_referer",
        |l| &l.visit.int_referer,
        |l| &mut l.visit.int_referer,
    ),
    (
        "visit.entry_page",
        |l| &l.visit.entry_page,
        |l| &mut l.visit.entry_page,
    ),
    (
        "visit.search_engine",
        |l| &l.visit.search_engine,
        |l| &mut l.visit.search_engine,
    ),
    (
        "visit.search_query",
        |l| &l.visit.search_query,
        |l| &mut l.visit.search_query,
    ),
    (
        "visit.visitor_id",
        |l| &l.visit.visitor_id,
        |l| &mut l.visit.visitor_id,
    ),
    ("site.url", |l| &l.site.url, |l| &mut l.site.url),
    (
        "conversation_id",
        |l| &l.conversation_id,
        |l| &mut l.conversation_id,
    ),
    ("partner", |l| &l.partner, |l| &mut l.partner),
    ("currency", |l| &l.currency, |l| &mut l.currency),
    (
        "address.line1",
        |l| &l.address.line1,
        |l| &mut l.address.line1,
    ),
    (
        "address.line2",
        |l| &l.address.line2,
        |l| &mut l.address.line2,
    ),
    ("address.city", |l| &l.address.city, |l| &mut l.address.city),
    (
        "address.postal_code",
        |l| &l.address.postal_code,
        |l| &mut l.address.postal_code,
    ),
    (
        "address.region",
        |l| &l.address.region,
        |l| &mut l.address.region,
    ),
    (
        "address.province",
        |l| &l.address.province,
        |l| &mut l.address.province,
    ),
    (
        "address.country",
        |l| &l.address.country,
        |l| &mut l.address.country,
    ),
    (
        "address.country_code",
        |l| &l.address.country_code,
        |l| &mut l.address.country_code,
    ),
];

/// Optional integer fields: (path, read, write).
const INT_FIELDS: &[(&str, IntGet, IntSet)] = &[
    ("site.id", |l| l.site.id, |l| &mut l.site.id),
    (
        "department_id",
        |l| l.department_id,
        |l| &mut l.department_id,
    ),
    ("company_id", |l| l.company_id, |l| &mut l.company_id),
    (
        "visit.page_count",
        |l| l.visit.page_count,
        |l| &mut l.visit.page_count,
    ),
    (
        "visit.visit_count",
        |l| l.visit.visit_count,
        |l| &mut l.visit.visit_count,
    ),
];

/// Which employee reference of a lead a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmployeeSlot {
    AssignedTo,
    CreatedBy,
    CompletedBy,
    LockedBy,
}

/// Which attribute of that employee the path reads (writes always take an id or login).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmployeeAttr {
    Id,
    Login,
    Name,
}

/// A compiled canonical path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldPath {
    Id,
    Text(usize),
    Int(usize),
    Emails,
    Phones,
    Webs,
    Messengers,
    Kind,
    Stage,
    Outcome,
    Channel,
    Employee(EmployeeSlot, EmployeeAttr),
    CompletedAt,
    CreatedAt,
    UpdatedAt,
    Birthdate,
    Opportunity,
    Opened,
    OriginSystem,
    OriginExternalId,
    /// Ids of contacts in the CRM the lead is linked to (Bitrix24 CONTACT_ID/CONTACT_IDS).
    ContactIds,
    /// Seconds from creation to completion (LiveTex `duration`), read-only.
    Duration,
    /// Read-only flags derived from the contact lists.
    HasEmail,
    HasPhone,
    /// First, middle and last name in one text, read-only: what a target
    /// with a single name field (SalesMan `title`, UIS `name`) is sent.
    FullName,
    Custom(String),
}

/// A borrowed view of one field's value, for encoders.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Absent,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
    Date(NaiveDate),
    /// A canonical enum value (stage, outcome, kind, channel).
    Enum(&'static str),
    Employee(EmployeeId, EmployeeAttr),
    Json(&'a serde_json::Value),
    /// A text composed from several fields (`full_name`).
    Composed(String),
}

/// Settings a write needs that are not part of the value itself.
#[derive(Clone, Debug)]
pub struct WriteContext {
    /// Country code applied to national phone numbers ("7").
    pub default_country_code: String,
}

impl Default for WriteContext {
    fn default() -> Self {
        WriteContext {
            default_country_code: "7".into(),
        }
    }
}

impl FieldPath {
    /// Whether a change to this field is forwarded to targets that apply
    /// changes ([`crate::lead::Lead::forwarded_state_differs`]).
    pub fn is_forwarded_state(&self) -> bool {
        match self {
            FieldPath::Stage
            | FieldPath::Outcome
            | FieldPath::CompletedAt
            | FieldPath::Employee(EmployeeSlot::AssignedTo | EmployeeSlot::CompletedBy, _) => true,
            FieldPath::Text(index) => {
                matches!(TEXT_FIELDS[*index].0, "text" | "answer_text")
            }
            _ => false,
        }
    }

    /// Every path that `parse` accepts besides `custom.<name>`, for error messages.
    pub fn known_paths() -> Vec<&'static str> {
        let mut paths: Vec<&'static str> = vec![
            "id",
            "emails",
            "phones",
            "webs",
            "messengers",
            "kind",
            "stage",
            "outcome",
            "channel",
            "completed_at",
            "created_at",
            "updated_at",
            "birthdate",
            "opportunity",
            "opened",
            "origin.system",
            "origin.external_id",
            "contact_ids",
            "duration",
            "has_email",
            "has_phone",
            "full_name",
        ];
        paths.extend(TEXT_FIELDS.iter().map(|(name, _, _)| *name));
        paths.extend(INT_FIELDS.iter().map(|(name, _, _)| *name));
        paths.extend([
            "assigned_to",
            "created_by",
            "completed_by",
            "locked_by",
            "assigned_to.login",
            "assigned_to.name",
            "created_by.login",
            "created_by.name",
            "completed_by.login",
            "completed_by.name",
            "locked_by.login",
            "locked_by.name",
            "custom.<name>",
        ]);
        paths
    }

    pub fn parse(path: &str) -> Option<FieldPath> {
        if let Some(index) = TEXT_FIELDS.iter().position(|(name, _, _)| *name == path) {
            return Some(FieldPath::Text(index));
        }
        if let Some(index) = INT_FIELDS.iter().position(|(name, _, _)| *name == path) {
            return Some(FieldPath::Int(index));
        }
        if let Some(name) = path.strip_prefix("custom.") {
            return (!name.is_empty()).then(|| FieldPath::Custom(name.to_owned()));
        }
        let (head, attr) = match path.split_once('.') {
            Some((head, "login")) => (head, Some(EmployeeAttr::Login)),
            Some((head, "name")) => (head, Some(EmployeeAttr::Name)),
            Some((head, "id")) => (head, Some(EmployeeAttr::Id)),
            _ => (path, None),
        };
        let slot = match head {
            "assigned_to" => Some(EmployeeSlot::AssignedTo),
            "created_by" => Some(EmployeeSlot::CreatedBy),
            "completed_by" => Some(EmployeeSlot::CompletedBy),
            "locked_by" => Some(EmployeeSlot::LockedBy),
            _ => None,
        };
        if let Some(slot) = slot {
            return Some(FieldPath::Employee(slot, attr.unwrap_or(EmployeeAttr::Id)));
        }
        Some(match path {
            "id" => FieldPath::Id,
            "emails" | "email" => FieldPath::Emails,
            "phones" | "phone" => FieldPath::Phones,
            "webs" => FieldPath::Webs,
            "messengers" => FieldPath::Messengers,
            "kind" => FieldPath::Kind,
            "stage" => FieldPath::Stage,
            "outcome" => FieldPath::Outcome,
            "channel" => FieldPath::Channel,
            "completed_at" => FieldPath::CompletedAt,
            "created_at" => FieldPath::CreatedAt,
            "updated_at" => FieldPath::UpdatedAt,
            "birthdate" => FieldPath::Birthdate,
            "opportunity" => FieldPath::Opportunity,
            "opened" => FieldPath::Opened,
            "origin.system" => FieldPath::OriginSystem,
            "origin.external_id" => FieldPath::OriginExternalId,
            "contact_ids" => FieldPath::ContactIds,
            "duration" => FieldPath::Duration,
            "has_email" => FieldPath::HasEmail,
            "has_phone" => FieldPath::HasPhone,
            "full_name" => FieldPath::FullName,
            _ => return None,
        })
    }

    /// The canonical names this path accepts, if it is an enum-valued path.
    pub fn vocabulary(&self) -> Option<&'static [&'static str]> {
        match self {
            FieldPath::Kind => Some(LeadKind::NAMES),
            FieldPath::Stage => Some(Stage::NAMES),
            FieldPath::Outcome => Some(Outcome::NAMES),
            FieldPath::Channel => Some(Channel::NAMES),
            _ => None,
        }
    }

    /// Whether a client may write this path through a mapping (ids and
    /// timestamps belong to the gateway).
    pub fn is_writable(&self) -> bool {
        !matches!(
            self,
            FieldPath::Id
                | FieldPath::CreatedAt
                | FieldPath::UpdatedAt
                | FieldPath::Employee(_, EmployeeAttr::Name)
                | FieldPath::HasEmail
                | FieldPath::HasPhone
                | FieldPath::Duration
                | FieldPath::FullName
        )
    }

    pub fn get<'a>(&self, lead: &'a Lead) -> FieldValue<'a> {
        fn text(value: &Option<String>) -> FieldValue<'_> {
            value
                .as_deref()
                .map_or(FieldValue::Absent, FieldValue::Text)
        }
        fn first(points: &[ContactPoint]) -> FieldValue<'_> {
            points
                .first()
                .map_or(FieldValue::Absent, |point| FieldValue::Text(&point.value))
        }
        match self {
            FieldPath::Id => lead.id.map_or(FieldValue::Absent, FieldValue::Int),
            FieldPath::Text(index) => text((TEXT_FIELDS[*index].1)(lead)),
            FieldPath::Int(index) => {
                (INT_FIELDS[*index].1)(lead).map_or(FieldValue::Absent, FieldValue::Int)
            }
            FieldPath::Emails => first(&lead.emails),
            FieldPath::Phones => first(&lead.phones),
            FieldPath::Webs => first(&lead.webs),
            FieldPath::Messengers => first(&lead.messengers),
            FieldPath::Kind => lead
                .kind
                .map_or(FieldValue::Absent, |v| FieldValue::Enum(v.as_str())),
            FieldPath::Stage => FieldValue::Enum(lead.stage.as_str()),
            FieldPath::Outcome => lead
                .outcome
                .map_or(FieldValue::Absent, |v| FieldValue::Enum(v.as_str())),
            FieldPath::Channel => lead
                .channel
                .map_or(FieldValue::Absent, |v| FieldValue::Enum(v.as_str())),
            FieldPath::Employee(slot, attr) => {
                let id = match slot {
                    EmployeeSlot::AssignedTo => lead.assigned_to,
                    EmployeeSlot::CreatedBy => lead.created_by,
                    EmployeeSlot::CompletedBy => lead.completed_by,
                    EmployeeSlot::LockedBy => lead.lock.as_ref().map(|lock| lock.by),
                };
                id.map_or(FieldValue::Absent, |id| FieldValue::Employee(id, *attr))
            }
            FieldPath::CompletedAt => lead
                .completed_at
                .map_or(FieldValue::Absent, FieldValue::Time),
            FieldPath::CreatedAt => FieldValue::Time(lead.created_at),
            FieldPath::UpdatedAt => FieldValue::Time(lead.updated_at),
            FieldPath::Birthdate => lead.birthdate.map_or(FieldValue::Absent, FieldValue::Date),
            FieldPath::Opportunity => lead
                .opportunity
                .map_or(FieldValue::Absent, FieldValue::Float),
            FieldPath::Opened => lead.opened.map_or(FieldValue::Absent, FieldValue::Bool),
            FieldPath::OriginSystem => lead.origin.as_ref().map_or(FieldValue::Absent, |origin| {
                FieldValue::Text(&origin.system)
            }),
            FieldPath::OriginExternalId => {
                lead.origin.as_ref().map_or(FieldValue::Absent, |origin| {
                    FieldValue::Text(&origin.external_id)
                })
            }
            FieldPath::ContactIds => lead
                .contact_ids
                .first()
                .map_or(FieldValue::Absent, |id| FieldValue::Int(*id)),
            FieldPath::Duration => lead.completed_at.map_or(FieldValue::Absent, |completed| {
                FieldValue::Int((completed - lead.created_at).num_seconds().max(0))
            }),
            FieldPath::HasEmail => FieldValue::Bool(lead.has_email()),
            FieldPath::HasPhone => FieldValue::Bool(lead.has_phone()),
            FieldPath::FullName => {
                let parts: Vec<&str> = [&lead.name, &lead.second_name, &lead.last_name]
                    .into_iter()
                    .filter_map(|part| part.as_deref().map(str::trim))
                    .filter(|part| !part.is_empty())
                    .collect();
                match parts.as_slice() {
                    [] => FieldValue::Absent,
                    [only] => FieldValue::Text(only),
                    _ => FieldValue::Composed(parts.join(" ")),
                }
            }
            FieldPath::Custom(name) => lead
                .custom
                .get(name)
                .map_or(FieldValue::Absent, FieldValue::Json),
        }
    }

    /// Writes a wire text value (already translated by a value map, if any).
    /// An empty value leaves the field unset, as every dialect treats `x=` as "not given".
    /// Employee references by login are resolved by the caller (core), not here.
    pub fn set_text(
        &self,
        lead: &mut Lead,
        value: &str,
        context: &WriteContext,
    ) -> Result<(), LeadError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Ok(());
        }
        let invalid = |expected: &'static str| LeadError::InvalidValue {
            field: self.to_string(),
            expected,
        };
        match self {
            FieldPath::Text(index) => *(TEXT_FIELDS[*index].2)(lead) = Some(value.to_owned()),
            FieldPath::Int(index) => {
                *(INT_FIELDS[*index].2)(lead) =
                    Some(trimmed.parse().map_err(|_| invalid("an integer"))?)
            }
            FieldPath::Emails => lead.emails.push(ContactPoint::email(trimmed)),
            FieldPath::Phones => lead
                .phones
                .push(ContactPoint::phone(trimmed, &context.default_country_code)),
            FieldPath::Webs => lead.webs.push(ContactPoint::plain(trimmed)),
            FieldPath::Messengers => lead.messengers.push(ContactPoint::plain(trimmed)),
            FieldPath::Kind => {
                lead.kind = Some(LeadKind::parse(trimmed).ok_or_else(|| invalid("a lead kind"))?)
            }
            FieldPath::Stage => {
                lead.stage = Stage::parse(trimmed).ok_or_else(|| invalid("a stage"))?
            }
            FieldPath::Outcome => {
                lead.outcome = Some(Outcome::parse(trimmed).ok_or_else(|| invalid("an outcome"))?)
            }
            FieldPath::Channel => {
                lead.channel = Some(Channel::parse(trimmed).ok_or_else(|| invalid("a channel"))?)
            }
            FieldPath::Employee(slot, EmployeeAttr::Id) => {
                let id: EmployeeId = trimmed.parse().map_err(|_| invalid("an employee id"))?;
                match slot {
                    EmployeeSlot::AssignedTo => lead.assigned_to = Some(id),
                    EmployeeSlot::CreatedBy => lead.created_by = Some(id),
                    EmployeeSlot::CompletedBy => lead.completed_by = Some(id),
                    EmployeeSlot::LockedBy => {
                        return Err(invalid("a lock taken through Leads.lock"))
                    }
                }
            }
            FieldPath::Employee(_, _) => return Err(invalid("an employee id")),
            FieldPath::CompletedAt => {
                lead.completed_at =
                    Some(parse_time(trimmed).ok_or_else(|| invalid("a date and time"))?)
            }
            FieldPath::Birthdate => {
                lead.birthdate =
                    Some(parse_date(trimmed).ok_or_else(|| invalid("a date (YYYY-MM-DD)"))?)
            }
            FieldPath::Opportunity => {
                let amount: f64 = trimmed
                    .replace(',', ".")
                    .parse()
                    .map_err(|_| invalid("a number"))?;
                if !amount.is_finite() {
                    return Err(invalid("a finite number"));
                }
                lead.opportunity = Some(amount);
            }
            FieldPath::Opened => {
                lead.opened = Some(parse_flag(trimmed).ok_or_else(|| invalid("Y or N"))?)
            }
            FieldPath::OriginSystem => origin_mut(lead).system = trimmed.to_owned(),
            FieldPath::OriginExternalId => origin_mut(lead).external_id = trimmed.to_owned(),
            FieldPath::Custom(name) => {
                lead.custom
                    .insert(name.clone(), serde_json::Value::String(value.to_owned()));
            }
            FieldPath::ContactIds => {
                let id: i64 = trimmed.parse().map_err(|_| invalid("an integer"))?;
                if !lead.contact_ids.contains(&id) {
                    lead.contact_ids.push(id);
                }
            }
            FieldPath::Id
            | FieldPath::CreatedAt
            | FieldPath::UpdatedAt
            | FieldPath::HasEmail
            | FieldPath::HasPhone
            | FieldPath::Duration => return Err(invalid("a field set by the gateway")),
            FieldPath::FullName => {
                return Err(invalid("read only: write name, second_name and last_name"))
            }
        }
        Ok(())
    }

    /// Unsets what this path names (an update that sends an empty value).
    /// Paths the gateway sets itself are refused as in `set_text`.
    pub fn clear(&self, lead: &mut Lead) -> Result<(), LeadError> {
        match self {
            FieldPath::Text(index) => *(TEXT_FIELDS[*index].2)(lead) = None,
            FieldPath::Int(index) => *(INT_FIELDS[*index].2)(lead) = None,
            FieldPath::Emails => lead.emails.clear(),
            FieldPath::Phones => lead.phones.clear(),
            FieldPath::Webs => lead.webs.clear(),
            FieldPath::Messengers => lead.messengers.clear(),
            FieldPath::ContactIds => lead.contact_ids.clear(),
            FieldPath::Kind => lead.kind = None,
            FieldPath::Outcome => lead.outcome = None,
            FieldPath::Channel => lead.channel = None,
            FieldPath::Birthdate => lead.birthdate = None,
            FieldPath::Opportunity => lead.opportunity = None,
            FieldPath::Opened => lead.opened = None,
            FieldPath::CompletedAt => lead.completed_at = None,
            FieldPath::Employee(EmployeeSlot::AssignedTo, EmployeeAttr::Id) => {
                lead.assigned_to = None
            }
            FieldPath::Employee(EmployeeSlot::CompletedBy, EmployeeAttr::Id) => {
                lead.completed_by = None
            }
            FieldPath::OriginSystem | FieldPath::OriginExternalId => lead.origin = None,
            FieldPath::Custom(name) => {
                lead.custom.shift_remove(name);
            }
            // A lead always has a stage; the rest belongs to the gateway.
            other => {
                return Err(LeadError::InvalidValue {
                    field: other.to_string(),
                    expected: "a value (this field cannot be emptied)",
                })
            }
        }
        Ok(())
    }
}

fn origin_mut(lead: &mut Lead) -> &mut Origin {
    lead.origin.get_or_insert_with(|| Origin {
        system: String::new(),
        external_id: String::new(),
    })
}

/// `Y`/`N` (Bitrix24), `1`/`0`, `yes`/`no`, `true`/`false` (LiveTex).
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "1" | "true" => Some(true),
        "n" | "no" | "0" | "false" => Some(false),
        _ => None,
    }
}

pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .ok()
}

/// RFC 3339 with an offset; without one the time is taken as UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot_name = |slot: &EmployeeSlot| match slot {
            EmployeeSlot::AssignedTo => "assigned_to",
            EmployeeSlot::CreatedBy => "created_by",
            EmployeeSlot::CompletedBy => "completed_by",
            EmployeeSlot::LockedBy => "locked_by",
        };
        match self {
            FieldPath::Text(index) => f.write_str(TEXT_FIELDS[*index].0),
            FieldPath::Int(index) => f.write_str(INT_FIELDS[*index].0),
            FieldPath::Custom(name) => write!(f, "custom.{name}"),
            FieldPath::Employee(slot, EmployeeAttr::Id) => f.write_str(slot_name(slot)),
            FieldPath::Employee(slot, EmployeeAttr::Login) => {
                write!(f, "{}.login", slot_name(slot))
            }
            FieldPath::Employee(slot, EmployeeAttr::Name) => write!(f, "{}.name", slot_name(slot)),
            other => f.write_str(match other {
                FieldPath::Id => "id",
                FieldPath::Emails => "emails",
                FieldPath::Phones => "phones",
                FieldPath::Webs => "webs",
                FieldPath::Messengers => "messengers",
                FieldPath::Kind => "kind",
                FieldPath::Stage => "stage",
                FieldPath::Outcome => "outcome",
                FieldPath::Channel => "channel",
                FieldPath::CompletedAt => "completed_at",
                FieldPath::CreatedAt => "created_at",
                FieldPath::UpdatedAt => "updated_at",
                FieldPath::Birthdate => "birthdate",
                FieldPath::Opportunity => "opportunity",
                FieldPath::Opened => "opened",
                FieldPath::OriginSystem => "origin.system",
                FieldPath::ContactIds => "contact_ids",
                FieldPath::Duration => "duration",
                FieldPath::HasEmail => "has_email",
                FieldPath::HasPhone => "has_phone",
                FieldPath::FullName => "full_name",
                _ => "origin.external_id",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_parses_and_prints_back() {
        for path in FieldPath::known_paths() {
            if path == "custom.<name>" {
                continue;
            }
            let parsed = FieldPath::parse(path).unwrap_or_else(|| panic!("{path} does not parse"));
            // "email"/"phone" are aliases; everything else prints as written.
            assert_eq!(parsed.to_string(), path);
        }
        assert_eq!(
            FieldPath::parse("custom.color"),
            Some(FieldPath::Custom("color".into()))
        );
        assert_eq!(FieldPath::parse("nonsense"), None);
        assert_eq!(FieldPath::parse("custom."), None);
    }

    #[test]
    fn set_then_get() {
        let context = WriteContext::default();
        let mut lead = Lead::default();
        FieldPath::parse("utm.source")
            .unwrap()
            .set_text(&mut lead, "yandex", &context)
            .unwrap();
        FieldPath::parse("phones")
            .unwrap()
            .set_text(&mut lead, "8 (900) 111-22-33", &context)
            .unwrap();
        FieldPath::parse("stage")
            .unwrap()
            .set_text(&mut lead, "junk", &context)
            .unwrap();
        FieldPath::parse("site.id")
            .unwrap()
            .set_text(&mut lead, "12", &context)
            .unwrap();
        assert_eq!(lead.utm.source.as_deref(), Some("yandex"));
        assert_eq!(lead.phones[0].normalized, "+79001112233");
        assert_eq!(FieldPath::Stage.get(&lead), FieldValue::Enum("junk"));
        assert_eq!(
            FieldPath::parse("site.id").unwrap().get(&lead),
            FieldValue::Int(12)
        );
    }

    #[test]
    fn bad_values_are_typed_errors() {
        let context = WriteContext::default();
        let mut lead = Lead::default();
        let error = FieldPath::parse("site.id")
            .unwrap()
            .set_text(&mut lead, "twelve", &context);
        assert!(
            matches!(error, Err(LeadError::InvalidValue { ref field, .. }) if field == "site.id")
        );
        assert!(FieldPath::Stage
            .set_text(&mut lead, "bogus", &context)
            .is_err());
        assert!(FieldPath::Id.set_text(&mut lead, "5", &context).is_err());
    }
}
