//! The `q` search criteria and the `sort` of Leads.list / listRouted, into
//! store conditions. `q` is `name=value` criteria joined by `;` (or `&`);
//! id lists are comma-separated; `created_at`, `updated_at` and `duration`
//! also take `>=`, `<=`, `>`, `<`; dates take every LiveTex input format and
//! the relative tokens (`today`, `lastday`, `last3days`, `lastweek`,
//! `lastmonth`, `lastyear`), read as "on or after". Fields that are Lead
//! fields are found through the mapping's `lead` record.

use chrono::{DateTime, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::error::LivetexError;
use super::Livetex;
use crate::core::Scope;
use crate::lead::path::{parse_flag, EmployeeAttr, EmployeeSlot, FieldPath};
use crate::lead::Employee;
use crate::store::{Compare, Condition, Operand, Sort, SortKey};

/// Id-list criteria and the canonical field each searches.
const ID_LISTS: &[(&str, &str)] = &[
    ("ids", "id"),
    ("site_ids", "site.id"),
    ("department_ids", "department_id"),
    ("created_by_ids", "created_by"),
    ("assigned_to_ids", "assigned_to"),
    ("completed_by_ids", "completed_by"),
];

/// Most criteria one `q` may join: each is a clause of one SQL statement,
/// whose expression tree SQLite bounds, and no search needs more.
pub const MAX_CRITERIA: usize = 50;
/// Most ids one id-list criterion may list.
pub const MAX_IDS: usize = 1000;

/// Criteria whose name is not the Lead field's: (criterion, field).
const ALIASES: &[(&str, &str)] = &[("enter_page", "entry_page"), ("keyword", "search_query")];

const COMPARATORS: &[(&str, Compare)] = &[
    (">=", Compare::GreaterOrEqual),
    ("<=", Compare::LessOrEqual),
    ("!=", Compare::NotEqual),
    (">", Compare::Greater),
    ("<", Compare::Less),
    ("=", Compare::Equal),
];

/// What `q` asks for: conditions that must all hold, and groups of which one
/// must (is_managed=yes: assigned to or created by the caller).
#[derive(Debug, Default)]
pub struct Criteria {
    pub conditions: Vec<Condition>,
    pub any_of: Vec<Vec<Condition>>,
}

fn condition(field: FieldPath, compare: Compare, operands: Vec<Operand>) -> Condition {
    Condition {
        field,
        compare,
        operands,
    }
}

impl Livetex {
    fn record_path(&self, name: &str) -> Option<FieldPath> {
        self.mapping
            .record("lead")
            .and_then(|record| record.column_path(name))
            .cloned()
    }

    pub fn criteria(
        &self,
        q: Option<&str>,
        viewer: &Employee,
        scope: Scope,
    ) -> Result<Criteria, LivetexError> {
        let mut criteria = Criteria::default();
        let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
            return Ok(criteria);
        };
        let invalid = || LivetexError::invalid("q");
        let parts: Vec<&str> = q
            .split([';', '&'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        if parts.len() > MAX_CRITERIA {
            return Err(invalid());
        }
        for part in parts {
            let (at, operator, compare) = COMPARATORS
                .iter()
                .filter_map(|(operator, compare)| {
                    part.find(operator).map(|at| (at, *operator, *compare))
                })
                .min_by_key(|(at, operator, _)| (*at, std::cmp::Reverse(operator.len())))
                .ok_or_else(invalid)?;
            let name = part[..at].trim().to_ascii_lowercase();
            let value = part[at + operator.len()..].trim();
            let equality = matches!(compare, Compare::Equal | Compare::NotEqual);

            if let Some((_, field)) = ID_LISTS.iter().find(|(criterion, _)| *criterion == name) {
                if value.split(',').nth(MAX_IDS).is_some() {
                    return Err(invalid());
                }
                let ids = value
                    .split(',')
                    .map(|id| id.trim().parse::<i64>().map(Operand::Int))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| invalid())?;
                let field = FieldPath::parse(field).ok_or_else(invalid)?;
                let compare = if compare == Compare::NotEqual {
                    Compare::NotIn
                } else {
                    Compare::In
                };
                if !equality {
                    return Err(invalid());
                }
                criteria.conditions.push(condition(field, compare, ids));
                continue;
            }
            match name.as_str() {
                "visitor_ids" if equality => {
                    if value.split(',').nth(MAX_IDS).is_some() {
                        return Err(invalid());
                    }
                    let ids = value
                        .split(',')
                        .map(|id| Operand::Text(id.trim().to_owned()))
                        .collect();
                    let field = FieldPath::parse("visit.visitor_id").ok_or_else(invalid)?;
                    criteria.conditions.push(condition(field, Compare::In, ids));
                }
                "email_exists" | "phone_exists" if equality => {
                    let flag = parse_flag(value).ok_or_else(invalid)?;
                    let field = if name == "email_exists" {
                        FieldPath::HasEmail
                    } else {
                        FieldPath::HasPhone
                    };
                    let flag = if compare == Compare::NotEqual {
                        !flag
                    } else {
                        flag
                    };
                    criteria.conditions.push(condition(
                        field,
                        Compare::Equal,
                        vec![Operand::Bool(flag)],
                    ));
                }
                "is_managed" if equality && scope == Scope::Visible => {
                    let flag = parse_flag(value).ok_or_else(invalid)?;
                    let flag = if compare == Compare::NotEqual {
                        !flag
                    } else {
                        flag
                    };
                    let mine = |slot| {
                        condition(
                            FieldPath::Employee(slot, EmployeeAttr::Id),
                            if flag {
                                Compare::Equal
                            } else {
                                Compare::NotEqual
                            },
                            vec![Operand::Int(viewer.id)],
                        )
                    };
                    if flag {
                        criteria.any_of.push(vec![mine(EmployeeSlot::AssignedTo)]);
                        criteria.any_of.push(vec![mine(EmployeeSlot::CreatedBy)]);
                    } else {
                        criteria.conditions.push(mine(EmployeeSlot::AssignedTo));
                        criteria.conditions.push(mine(EmployeeSlot::CreatedBy));
                    }
                }
                "creator_type" if equality && scope == Scope::Routed => {
                    let created_by = FieldPath::Employee(EmployeeSlot::CreatedBy, EmployeeAttr::Id);
                    let by_visitor = match value {
                        "visitor" => true,
                        "employee" => false,
                        _ => return Err(invalid()),
                    };
                    let by_visitor = by_visitor == (compare == Compare::Equal);
                    criteria.conditions.push(condition(
                        created_by,
                        if by_visitor {
                            Compare::Equal
                        } else {
                            Compare::NotEqual
                        },
                        vec![Operand::Null],
                    ));
                }
                "text" if equality => {
                    let compare = if compare == Compare::Equal {
                        Compare::Contains
                    } else {
                        Compare::NotContains
                    };
                    let field = self.record_path("text").ok_or_else(invalid)?;
                    criteria.conditions.push(condition(
                        field,
                        compare,
                        vec![Operand::Text(value.to_owned())],
                    ));
                }
                "created_at" | "updated_at" | "completed_at" => {
                    let field = self.record_path(&name).ok_or_else(invalid)?;
                    let (from, to) = self.time_value(value).ok_or_else(invalid)?;
                    match (compare, to) {
                        // A day, or a relative token, with `=`: inside it.
                        (Compare::Equal, Some(to)) => {
                            criteria.conditions.push(condition(
                                field.clone(),
                                Compare::GreaterOrEqual,
                                vec![Operand::Time(from)],
                            ));
                            criteria.conditions.push(condition(
                                field,
                                Compare::Less,
                                vec![Operand::Time(to)],
                            ));
                        }
                        (compare, _) => criteria.conditions.push(condition(
                            field,
                            compare,
                            vec![Operand::Time(from)],
                        )),
                    }
                }
                "duration" => {
                    let seconds: i64 = value.parse().map_err(|_| invalid())?;
                    criteria.conditions.push(condition(
                        FieldPath::Duration,
                        compare,
                        vec![Operand::Int(seconds)],
                    ));
                }
                "type" | "result" if equality => {
                    let (path, values) = self.mapping.field(&name).ok_or_else(invalid)?;
                    let values = values.ok_or_else(invalid)?;
                    let canonicals: Vec<Operand> = values
                        .canonicals_written_as(value)
                        .map(|canonical| Operand::Text(canonical.to_owned()))
                        .collect();
                    if canonicals.is_empty() {
                        return Err(invalid());
                    }
                    let compare = if compare == Compare::Equal {
                        Compare::In
                    } else {
                        Compare::NotIn
                    };
                    criteria
                        .conditions
                        .push(condition(path.clone(), compare, canonicals));
                }
                other if equality => {
                    let field_name = ALIASES
                        .iter()
                        .find(|(criterion, _)| *criterion == other)
                        .map_or(other, |(_, field)| field);
                    let field = match field_name {
                        "search_engine" | "ext_referer" | "int_referer" | "entry_page"
                        | "search_query" => self.record_path(field_name).ok_or_else(invalid)?,
                        _ => return Err(invalid()),
                    };
                    criteria.conditions.push(condition(
                        field,
                        compare,
                        vec![Operand::Text(value.to_owned())],
                    ));
                }
                _ => return Err(invalid()),
            }
        }
        Ok(criteria)
    }

    /// A LiveTex `datetime` input: the instant it names and, for a whole day
    /// or a relative token, where that period ends. Without an offset it is
    /// Moscow time (the mapping's time zone).
    pub fn time_value(&self, text: &str) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        let zone = self.mapping.timezone;
        let now = self.core.now();
        let local_midnight = |date: NaiveDate| {
            zone.from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
                .single()
                .map(|time| time.with_timezone(&Utc))
        };
        let today = local_midnight(now.with_timezone(&zone).date_naive())?;
        let relative = match text.to_ascii_lowercase().as_str() {
            "today" => Some(today),
            "lastday" => Some(today - Duration::days(1)),
            "last3days" => Some(today - Duration::days(3)),
            "lastweek" => Some(today - Duration::days(7)),
            "lastmonth" => today.checked_sub_months(Months::new(1)),
            "lastyear" => today.checked_sub_months(Months::new(12)),
            _ => None,
        };
        if let Some(from) = relative {
            return Some((from, Some(now + Duration::seconds(1))));
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Some((time.with_timezone(&Utc), None));
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
            "%Y%m%d%H%M%S",
            "%Y%m%d%H%M",
            "%d.%m.%Y %H:%M:%S",
            "%d.%m.%Y %H:%M",
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %H:%M",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                let time = zone
                    .from_local_datetime(&naive)
                    .single()?
                    .with_timezone(&Utc);
                return Some((time, None));
            }
        }
        for format in ["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%m/%d/%Y"] {
            if let Ok(date) = NaiveDate::parse_from_str(text, format) {
                let from = local_midnight(date)?;
                return Some((from, Some(from + Duration::days(1))));
            }
        }
        None
    }

    /// `sort=field:a|d` over created_at, updated_at, duration, result.
    pub fn sort(&self, text: Option<&str>) -> Result<Vec<Sort>, LivetexError> {
        let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
            return Ok(vec![Sort {
                key: SortKey::CreatedAt,
                descending: true,
            }]);
        };
        let mut sort = Vec::new();
        for item in text.split(',') {
            let (name, direction) = item.trim().split_once(':').unwrap_or((item.trim(), "a"));
            let descending = match direction.trim() {
                "a" | "asc" => false,
                "d" | "desc" => true,
                _ => return Err(LivetexError::invalid("sort")),
            };
            let key = match name.trim() {
                "created_at" => SortKey::CreatedAt,
                "updated_at" => SortKey::UpdatedAt,
                "duration" => SortKey::Field(FieldPath::Duration),
                "result" => SortKey::Stage,
                _ => return Err(LivetexError::invalid("sort")),
            };
            sort.push(Sort { key, descending });
        }
        Ok(sort)
    }
}
