//! Reads on PostgreSQL: one lead, filtered pages and the per-employee
//! counters. Filters on indexed columns compare typed parameters; any other
//! canonical field is read from the `doc` JSONB by a path bound as a
//! parameter, so field names never become SQL text.

use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::GenericClient;

use super::{database, micros};
use crate::lead::path::{EmployeeAttr, EmployeeSlot, FieldPath};
use crate::lead::{EmployeeId, Lead, LeadId};
use crate::store::{
    AssigneeStats, Compare, Condition, LeadPage, LeadQuery, Operand, SortKey, StoreError, TimeRange,
};

pub(super) fn read_lead(id: LeadId, doc: Json<Lead>) -> Lead {
    let Json(mut lead) = doc;
    lead.id = Some(id);
    lead
}

pub(super) async fn get(
    client: &impl GenericClient,
    id: LeadId,
) -> Result<Option<Lead>, StoreError> {
    let row = client
        .query_opt("SELECT doc FROM leads WHERE id = $1", &[&id])
        .await
        .map_err(database)?;
    row.map(|row| {
        let doc: Json<Lead> = row.try_get(0).map_err(|error| StoreError::Corrupt {
            id,
            reason: error.to_string(),
        })?;
        Ok(read_lead(id, doc))
    })
    .transpose()
}

type Param = Box<dyn ToSql + Sync + Send>;

/// SQL text and its parameters, numbered as they are added so placeholders
/// and values never drift apart.
#[derive(Default)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) params: Vec<Param>,
}

impl Sql {
    fn text(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    fn value(&mut self, value: impl ToSql + Sync + Send + 'static) -> &mut Self {
        self.params.push(Box::new(value));
        let placeholder = format!("${}", self.params.len());
        self.text.push_str(&placeholder);
        self
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| param.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The parts of a WHERE clause, joined with AND.
#[derive(Default)]
struct Filter {
    parts: Vec<String>,
}

/// Where a canonical field lives in a row.
enum Location {
    /// An integer column (ids, times in microseconds, flags as 0/1).
    Number(&'static str),
    /// A text column.
    Text(&'static str),
    /// A contact list in the document; `kind` when `lead_contacts` indexes it.
    Contacts {
        key: &'static str,
        kind: Option<&'static str>,
    },
    /// Any other value in the document, by path.
    Document(Vec<String>),
}

fn locate(field: &FieldPath) -> Location {
    match field {
        FieldPath::Id => Location::Number("id"),
        FieldPath::CreatedAt => Location::Number("created_at"),
        FieldPath::UpdatedAt => Location::Number("updated_at"),
        FieldPath::CompletedAt => Location::Number("completed_at"),
        FieldPath::Stage => Location::Text("stage"),
        FieldPath::Kind => Location::Text("kind"),
        FieldPath::HasEmail => Location::Number("has_email"),
        FieldPath::HasPhone => Location::Number("has_phone"),
        FieldPath::Duration => Location::Number("((completed_at - created_at) / 1000000)"),
        FieldPath::Employee(slot, EmployeeAttr::Id) => Location::Number(match slot {
            EmployeeSlot::AssignedTo => "assigned_to",
            EmployeeSlot::CreatedBy => "created_by",
            EmployeeSlot::CompletedBy => "completed_by",
            EmployeeSlot::LockedBy => "lock_by",
        }),
        FieldPath::Phones => Location::Contacts {
            key: "phones",
            kind: Some("phone"),
        },
        FieldPath::Emails => Location::Contacts {
            key: "emails",
            kind: Some("email"),
        },
        FieldPath::Webs => Location::Contacts {
            key: "webs",
            kind: None,
        },
        FieldPath::Messengers => Location::Contacts {
            key: "messengers",
            kind: None,
        },
        FieldPath::ContactIds => Location::Document(vec!["contact_ids".into(), "0".into()]),
        FieldPath::Custom(name) => Location::Document(vec!["custom".into(), name.clone()]),
        other => {
            let text = other.to_string();
            match text.as_str() {
                "site.id" => Location::Number("site_id"),
                "department_id" => Location::Number("department_id"),
                _ => Location::Document(text.split('.').map(str::to_owned).collect()),
            }
        }
    }
}

/// An operand as a number, where it is one (text that reads as a number
/// counts, as it does for an integer column in SQLite).
fn operand_number(operand: &Operand) -> Option<f64> {
    match operand {
        Operand::Int(number) => Some(*number as f64),
        Operand::Float(number) => Some(*number),
        Operand::Bool(flag) => Some(f64::from(u8::from(*flag))),
        Operand::Time(time) => Some(micros(*time) as f64),
        Operand::Text(text) => text.trim().parse().ok(),
        Operand::Null => None,
    }
}

/// How an operand is compared with a subject: with an integer column, with
/// a number read from the document, or as text.
#[derive(Clone, Copy, PartialEq)]
enum Domain {
    Integer,
    Float,
    Text,
}

/// An operand for an integer column: itself when whole, else `None` (and
/// the column is compared as a float).
fn whole(number: f64) -> Option<i64> {
    (number.fract() == 0.0 && number.abs() < 9.0e18).then_some(number as i64)
}

fn comparison(sql: &mut Sql, subject: &str, domain: Domain, condition: &Condition) -> String {
    let first = condition.operands.first().cloned().unwrap_or(Operand::Null);
    let negate = matches!(
        condition.compare,
        Compare::NotEqual | Compare::NotIn | Compare::NotContains | Compare::NotLike
    );
    let mut test = Sql {
        text: String::new(),
        params: std::mem::take(&mut sql.params),
    };
    let scalar = |test: &mut Sql, operator: &str, operand: &Operand| match domain {
        Domain::Integer | Domain::Float => match operand_number(operand) {
            Some(number) => match (domain, whole(number)) {
                (Domain::Integer, Some(integer)) => {
                    test.text(subject).text(operator).value(integer);
                }
                (Domain::Integer, None) => {
                    test.text(subject)
                        .text("::float8")
                        .text(operator)
                        .value(number);
                }
                _ => {
                    test.text(subject).text(operator).value(number);
                }
            },
            // A word never equals, nor orders against, a number.
            None => {
                test.text("FALSE");
            }
        },
        Domain::Text => {
            test.text(subject)
                .text(operator)
                .value(operand.as_text())
                .text(" COLLATE \"C\"");
        }
    };
    match condition.compare {
        Compare::Equal | Compare::NotEqual if first == Operand::Null => {
            test.text(subject)
                .text(if negate { " IS NOT NULL" } else { " IS NULL" });
        }
        Compare::Equal | Compare::NotEqual => scalar(&mut test, " = ", &first),
        Compare::Less => scalar(&mut test, " < ", &first),
        Compare::LessOrEqual => scalar(&mut test, " <= ", &first),
        Compare::Greater => scalar(&mut test, " > ", &first),
        Compare::GreaterOrEqual => scalar(&mut test, " >= ", &first),
        Compare::In | Compare::NotIn => match domain {
            Domain::Integer => {
                let numbers: Vec<i64> = condition
                    .operands
                    .iter()
                    .filter_map(operand_number)
                    .filter_map(whole)
                    .collect();
                test.text(subject).text(" = ANY(").value(numbers).text(")");
            }
            Domain::Float => {
                let numbers: Vec<f64> = condition
                    .operands
                    .iter()
                    .filter_map(operand_number)
                    .collect();
                test.text(subject).text(" = ANY(").value(numbers).text(")");
            }
            Domain::Text => {
                let texts: Vec<String> = condition.operands.iter().map(Operand::as_text).collect();
                test.text(subject).text(" = ANY(").value(texts).text(")");
            }
        },
        // SQLite's LIKE, which the embedded store uses, ignores case; so
        // does ILIKE, for every alphabet.
        Compare::Contains | Compare::NotContains => {
            let pattern = format!("%{}%", crate::store::escape_like(&first.as_text()));
            test.text(subject).text("::text ILIKE ").value(pattern);
        }
        Compare::Like | Compare::NotLike => {
            test.text(subject)
                .text("::text ILIKE ")
                .value(first.as_text());
        }
    }
    sql.params = test.params;
    if negate && first != Operand::Null {
        // NOT over NULL is NULL: "not equal to x" includes leads without
        // the field, as a CRM filter does.
        format!("({subject} IS NULL OR NOT ({}))", test.text)
    } else {
        test.text
    }
}

fn push_condition(sql: &mut Sql, filter: &mut Filter, condition: &Condition) {
    let part = condition_sql(sql, condition);
    filter.parts.push(part);
}

fn condition_sql(sql: &mut Sql, condition: &Condition) -> String {
    match locate(&condition.field) {
        Location::Number(column) => comparison(sql, column, Domain::Integer, condition),
        Location::Text(column) => comparison(sql, column, Domain::Text, condition),
        Location::Document(path) => {
            let placeholder = {
                sql.params.push(Box::new(path));
                format!("${}", sql.params.len())
            };
            let numeric = condition
                .operands
                .iter()
                .any(|operand| matches!(operand, Operand::Int(_) | Operand::Float(_)));
            if numeric {
                let subject = format!(
                    "(CASE WHEN jsonb_typeof(doc #> {placeholder}) = 'number' \
                     THEN (doc #>> {placeholder})::float8 END)"
                );
                comparison(sql, &subject, Domain::Float, condition)
            } else {
                let subject = format!("(doc #>> {placeholder})");
                comparison(sql, &subject, Domain::Text, condition)
            }
        }
        Location::Contacts { key, kind } => {
            // Each element of the list, compared on its normalised form so
            // that +7 900 and 8 900 are the same phone.
            let test = comparison(
                sql,
                "COALESCE(item ->> 'normalized', item #>> '{}')",
                Domain::Text,
                condition,
            );
            let mut exists = format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> '{key}') = 'array' \
                 THEN doc -> '{key}' ELSE '[]'::jsonb END) AS item WHERE {test})"
            );
            let equality = matches!(condition.compare, Compare::Equal | Compare::In)
                && !condition.operands.contains(&Operand::Null);
            if let (Some(kind), true) = (kind, equality) {
                // Candidates from the contact index; the document decides.
                let wanted: Vec<String> = condition.operands.iter().map(Operand::as_text).collect();
                sql.params.push(Box::new(kind.to_owned()));
                let kind_at = sql.params.len();
                sql.params.push(Box::new(wanted));
                let wanted_at = sql.params.len();
                exists = format!(
                    "id IN (SELECT lead_id FROM lead_contacts WHERE kind = ${kind_at} \
                     AND value = ANY(${wanted_at})) AND {exists}"
                );
            }
            exists
        }
    }
}

fn build_filter(sql: &mut Sql, query: &LeadQuery) -> Filter {
    let mut filter = Filter::default();
    let mut list = |sql: &mut Sql, column: &str, values: Option<Vec<i64>>| {
        if let Some(values) = values {
            sql.params.push(Box::new(values));
            filter
                .parts
                .push(format!("{column} = ANY(${})", sql.params.len()));
        }
    };
    list(sql, "id", query.ids.clone());
    list(sql, "assigned_to", query.assigned_to.clone());
    list(sql, "created_by", query.created_by.clone());
    list(sql, "completed_by", query.completed_by.clone());
    list(sql, "site_id", query.site_ids.clone());
    list(sql, "department_id", query.department_ids.clone());
    let mut texts = |sql: &mut Sql, column: &str, values: Option<Vec<String>>| {
        if let Some(values) = values {
            sql.params.push(Box::new(values));
            filter
                .parts
                .push(format!("{column} = ANY(${})", sql.params.len()));
        }
    };
    texts(
        sql,
        "stage",
        query.stages.as_ref().map(|stages| {
            stages
                .iter()
                .map(|stage| stage.as_str().to_owned())
                .collect()
        }),
    );
    texts(
        sql,
        "kind",
        query
            .kinds
            .as_ref()
            .map(|kinds| kinds.iter().map(|kind| kind.as_str().to_owned()).collect()),
    );
    for (column, range) in [
        ("created_at", &query.created),
        ("updated_at", &query.updated),
        ("completed_at", &query.completed),
    ] {
        range_parts(sql, &mut filter, column, range);
    }
    if let Some(flag) = query.has_email {
        filter
            .parts
            .push(format!("has_email = {}", i64::from(flag)));
    }
    if let Some(flag) = query.has_phone {
        filter
            .parts
            .push(format!("has_phone = {}", i64::from(flag)));
    }
    if let Some(needle) = &query.text_contains {
        sql.params.push(Box::new(needle.clone()));
        filter.parts.push(format!(
            "strpos(lower(doc ->> 'text'), lower(${})) > 0",
            sql.params.len()
        ));
    }
    for condition in &query.conditions {
        push_condition(sql, &mut filter, condition);
    }
    if !query.any_of.is_empty() {
        let alternatives: Vec<String> = query
            .any_of
            .iter()
            .map(|group| {
                let parts: Vec<String> = group
                    .iter()
                    .map(|condition| condition_sql(sql, condition))
                    .collect();
                if parts.is_empty() {
                    "TRUE".to_owned()
                } else {
                    format!("({})", parts.join(" AND "))
                }
            })
            .collect();
        filter
            .parts
            .push(format!("({})", alternatives.join(" OR ")));
    }
    filter
}

fn range_parts(sql: &mut Sql, filter: &mut Filter, column: &str, range: &TimeRange) {
    if let Some(from) = range.from {
        sql.params.push(Box::new(micros(from)));
        filter
            .parts
            .push(format!("{column} >= ${}", sql.params.len()));
    }
    if let Some(to) = range.to {
        sql.params.push(Box::new(micros(to)));
        filter
            .parts
            .push(format!("{column} < ${}", sql.params.len()));
    }
}

fn where_clause(filter: &Filter) -> String {
    if filter.parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filter.parts.join(" AND "))
    }
}

/// ORDER BY in SQLite's order of values, which the embedded store
/// defines: missing first, then numbers by value, then text byte by byte.
fn order_by(sql: &mut Sql, query: &LeadQuery) -> String {
    let mut clauses: Vec<String> = Vec::new();
    for sort in &query.sort {
        let direction = if sort.descending { "DESC" } else { "ASC" };
        let nulls = if sort.descending {
            "NULLS LAST"
        } else {
            "NULLS FIRST"
        };
        let column = match &sort.key {
            SortKey::Id => "id".to_owned(),
            SortKey::CreatedAt => "created_at".to_owned(),
            SortKey::UpdatedAt => "updated_at".to_owned(),
            SortKey::CompletedAt => "completed_at".to_owned(),
            SortKey::Stage => "CASE stage WHEN 'new' THEN 0 WHEN 'in_progress' THEN 1 \
                 WHEN 'processed' THEN 2 WHEN 'converted' THEN 3 WHEN 'junk' THEN 4 ELSE 5 END"
                .to_owned(),
            SortKey::Field(field) => match locate(field) {
                Location::Number(column) => column.to_owned(),
                Location::Text(column) => format!("{column} COLLATE \"C\""),
                Location::Contacts { key, .. } => {
                    format!("(doc #>> '{{{key},0,value}}') COLLATE \"C\"")
                }
                Location::Document(path) => {
                    sql.params.push(Box::new(path));
                    let at = sql.params.len();
                    clauses.push(format!(
                        "(CASE WHEN doc #>> ${at} IS NULL THEN 0 \
                         WHEN jsonb_typeof(doc #> ${at}) IN ('number', 'boolean') THEN 1 ELSE 2 END) {direction}"
                    ));
                    clauses.push(format!(
                        "(CASE WHEN jsonb_typeof(doc #> ${at}) = 'number' \
                         THEN (doc #>> ${at})::float8 END) {direction} {nulls}"
                    ));
                    format!("(doc #>> ${at}) COLLATE \"C\"")
                }
            },
        };
        clauses.push(format!("{column} {direction} {nulls}"));
    }
    // The id makes the order total, so paging neither skips nor repeats rows.
    let id_direction = match query.sort.last() {
        Some(last) if last.descending => "DESC",
        _ => "ASC",
    };
    clauses.push(format!("id {id_direction}"));
    format!(" ORDER BY {}", clauses.join(", "))
}

pub(super) async fn query(
    client: &impl GenericClient,
    query: &LeadQuery,
) -> Result<LeadPage, StoreError> {
    let mut sql = Sql::default();
    let filter = build_filter(&mut sql, query);
    let clause = where_clause(&filter);
    let total = if query.count_total {
        let count_sql = format!("SELECT COUNT(*) FROM leads{clause}");
        let row = client
            .query_one(&count_sql, &sql.refs())
            .await
            .map_err(database)?;
        let count: i64 = row.get(0);
        Some(count.max(0) as u64)
    } else {
        None
    };
    let order = order_by(&mut sql, query);
    let limit = query.limit.map(|limit| limit.min(i64::MAX as u64) as i64);
    let offset = query.offset.min(i64::MAX as u64) as i64;
    sql.text = format!("SELECT id, doc FROM leads{clause}{order}");
    if let Some(limit) = limit {
        sql.text(" LIMIT ").value(limit);
    }
    sql.text(" OFFSET ").value(offset);
    let rows = client
        .query(&sql.text, &sql.refs())
        .await
        .map_err(database)?;
    let mut leads = Vec::with_capacity(rows.len());
    for row in rows {
        let id: LeadId = row.get(0);
        let doc: Json<Lead> = row.try_get(1).map_err(|error| StoreError::Corrupt {
            id,
            reason: error.to_string(),
        })?;
        leads.push(read_lead(id, doc));
    }
    Ok(LeadPage { leads, total })
}

/// Per-employee counters over `window`: open leads created in it, and
/// leads no longer open completed in it.
pub(super) async fn assignee_stats(
    client: &impl GenericClient,
    window: TimeRange,
) -> Result<Vec<AssigneeStats>, StoreError> {
    let from = window.from.map_or(i64::MIN, micros);
    let to = window.to.map_or(i64::MAX, micros);
    let rows = client
        .query(
            "SELECT assigned_to,
                COUNT(*) FILTER (WHERE stage IN ('new', 'in_progress')
                                 AND created_at >= $1 AND created_at < $2),
                COUNT(*) FILTER (WHERE stage NOT IN ('new', 'in_progress')
                                 AND completed_at >= $1 AND completed_at < $2)
             FROM leads
             WHERE assigned_to IS NOT NULL
               AND ((created_at >= $1 AND created_at < $2)
                    OR (completed_at >= $1 AND completed_at < $2))
             GROUP BY assigned_to ORDER BY assigned_to",
            &[&from, &to],
        )
        .await
        .map_err(database)?;
    Ok(rows
        .into_iter()
        .map(|row| AssigneeStats {
            employee: row.get::<_, EmployeeId>(0),
            open: row.get::<_, i64>(1).max(0) as u64,
            processed: row.get::<_, i64>(2).max(0) as u64,
        })
        .filter(|stats| stats.open > 0 || stats.processed > 0)
        .collect())
}
