//! Reads: one lead, filtered pages, contact look-ups and counters. SQL text
//! depends only on which filters are present and on the length of short
//! lists (long ones travel as one JSON array parameter), so the
//! per-connection statement cache serves repeated shapes.

use std::borrow::Cow;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::stats::{self, Counted, IdSpan, Presence};
use super::time::micros;
use crate::lead::path::{EmployeeAttr, EmployeeSlot, FieldPath};
use crate::lead::{Lead, LeadId, Stage};
use crate::store::{
    Compare, Condition, LeadPage, LeadQuery, Operand, SortKey, StoreError, TimeRange,
};

pub(super) fn read_lead(id: LeadId, doc: &str) -> Result<Lead, StoreError> {
    let mut lead: Lead = serde_json::from_str(doc).map_err(|error| StoreError::Corrupt {
        id,
        reason: error.to_string(),
    })?;
    lead.id = Some(id);
    Ok(lead)
}

pub(super) fn get(conn: &Connection, id: LeadId) -> Result<Option<Lead>, StoreError> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM leads WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    doc.map(|doc| read_lead(id, &doc)).transpose()
}

/// Lists up to this long get a placeholder per value (one cached
/// statement per length); longer ones one JSON array parameter.
const SHORT_LIST: usize = 16;

/// Builds the WHERE clause and its parameters for a query.
struct Filter {
    sql: String,
    values: Vec<Value>,
    /// What the contact index covers, when the query compares a phone or
    /// an e-mail for equality (see [`ContactCoverage`]).
    coverage: Option<ContactCoverage>,
}

/// How far `lead_contacts` can answer "which leads have this phone or
/// e-mail": its buckets, and the newest lead merged into it. Leads after
/// that are only in the writer's memory tail, so their documents are read
/// instead. Turns an equality on phones or e-mails from a scan of every
/// document into one index seek per bucket plus the unmerged tail.
#[derive(Clone)]
struct ContactCoverage {
    /// Every bucket that can hold a lead, as a JSON array.
    buckets: String,
    merged_upto: LeadId,
}

fn contact_coverage(conn: &Connection) -> Result<ContactCoverage, StoreError> {
    let newest: LeadId = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM leads")?
        .query_row([], |row| row.get(0))?;
    let merged_upto: LeadId = conn
        .prepare_cached("SELECT value FROM store_meta WHERE key = 'contacts_merged_upto'")?
        .query_row([], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let buckets: Vec<i64> = (0..=super::buckets::bucket_of(newest)).collect();
    Ok(ContactCoverage {
        buckets: serde_json::to_string(&buckets).unwrap_or_else(|_| "[]".into()),
        merged_upto,
    })
}

/// The index kind of a contact list the index holds, for an equality on it.
fn indexed_contact(condition: &Condition) -> Option<&'static str> {
    let kind = match condition.field {
        FieldPath::Phones => "phone",
        FieldPath::Emails => "email",
        _ => return None,
    };
    let texts = condition
        .operands
        .iter()
        .all(|operand| matches!(operand, Operand::Text(text) if !text.is_empty()));
    (matches!(condition.compare, Compare::Equal | Compare::In)
        && !condition.operands.is_empty()
        && texts)
        .then_some(kind)
}

/// The contact index's coverage, when `query` compares a phone or an
/// e-mail for equality anywhere.
fn coverage_for(
    conn: &Connection,
    query: &LeadQuery,
) -> Result<Option<ContactCoverage>, StoreError> {
    let needed = query
        .conditions
        .iter()
        .chain(query.any_of.iter().flatten())
        .any(|condition| indexed_contact(condition).is_some());
    needed.then(|| contact_coverage(conn)).transpose()
}

impl Filter {
    fn push(&mut self, condition: &str, values: impl IntoIterator<Item = Value>) {
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(condition);
        self.values.extend(values);
    }

    /// `column IN (...)`. Short lists get a placeholder per value, so the
    /// planner knows how many values it is matching and uses the column's
    /// index when that is selective; long ones travel as one JSON array.
    fn json_list<T: serde::Serialize>(&mut self, column: &str, items: &Option<Vec<T>>) {
        let Some(items) = items else {
            return;
        };
        let values: Vec<Value> = items
            .iter()
            .filter_map(|item| match serde_json::to_value(item).ok()? {
                serde_json::Value::Number(number) => number.as_i64().map(Value::Integer),
                serde_json::Value::String(text) => Some(Value::Text(text)),
                _ => None,
            })
            .collect();
        if values.len() == items.len() && values.len() <= SHORT_LIST {
            let placeholders = vec!["?"; values.len()].join(", ");
            self.push(&format!("{column} IN ({placeholders})"), values);
        } else {
            let list = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
            self.push(
                &format!("{column} IN (SELECT value FROM json_each(?))"),
                [Value::Text(list)],
            );
        }
    }

    /// `prefix` "+" keeps SQLite from answering the range with the
    /// column's index (see `LeadQuery::walk_ids`).
    fn range(&mut self, column: &str, range: &TimeRange, prefix: &str) {
        if let Some(from) = range.from {
            self.push(
                &format!("{prefix}{column} >= ?"),
                [Value::Integer(micros(from))],
            );
        }
        if let Some(to) = range.to {
            self.push(
                &format!("{prefix}{column} < ?"),
                [Value::Integer(micros(to))],
            );
        }
    }
}

/// What a query's SQL is built from besides the query itself: the contact
/// index's coverage and, for a window of creation times read in id order,
/// the ids the window's leads lie between.
#[derive(Default)]
struct Lookups {
    coverage: Option<ContactCoverage>,
    span: Option<IdSpan>,
}

/// Windows whose hours hold fewer leads than this are answered from the
/// time index and sorted: cheap at that size, and the hourly id span is
/// too coarse to beat it. Unit tests walk spans of a few leads, so both
/// ways are exercised.
const SPAN_WALK_LEADS: i64 = if cfg!(test) { 2 } else { 4_096 };

fn lookups(conn: &Connection, query: &LeadQuery) -> Result<Lookups, StoreError> {
    let by_id = match query.sort.as_slice() {
        [] => true,
        [sort] => sort.key == SortKey::Id,
        _ => false,
    };
    let span = if by_id && !query.walk_ids && query.created != TimeRange::default() {
        match counted_by_hour(query) {
            // A page of a large window in id order: walked along the
            // primary key between the window's first and last ids, where
            // the time index would hand SQLite the whole window to sort.
            // Leads mostly arrive in time order, so the span holds little
            // else; when it does not, the time index is used after all.
            Some(counted) => stats::created_span(conn, &counted)?.filter(|span| {
                span.leads >= SPAN_WALK_LEADS && span.width() <= span.leads.saturating_mul(2)
            }),
            None => None,
        }
    } else {
        None
    };
    Ok(Lookups {
        coverage: coverage_for(conn, query)?,
        span,
    })
}

fn build_filter(query: &LeadQuery, lookups: Lookups) -> Filter {
    let mut filter = Filter {
        sql: String::new(),
        values: Vec::new(),
        coverage: lookups.coverage,
    };
    filter.json_list("id", &query.ids);
    if let Some(span) = lookups.span {
        filter.push(
            "id >= ? AND id <= ?",
            [Value::Integer(span.first), Value::Integer(span.last)],
        );
    }
    let prefix = if query.walk_ids || lookups.span.is_some() {
        "+"
    } else {
        ""
    };
    filter.range("created_at", &query.created, prefix);
    filter.range("updated_at", &query.updated, prefix);
    filter.range("completed_at", &query.completed, prefix);
    filter.json_list("stage", &query.stages);
    filter.json_list("kind", &query.kinds);
    filter.json_list("assigned_to", &query.assigned_to);
    filter.json_list("created_by", &query.created_by);
    filter.json_list("completed_by", &query.completed_by);
    filter.json_list("site_id", &query.site_ids);
    filter.json_list("department_id", &query.department_ids);
    // Literals, not parameters: only a literal lets SQLite use the partial
    // indexes on leads without an e-mail or phone.
    if let Some(flag) = query.has_email {
        filter.push(
            if flag {
                "has_email = 1"
            } else {
                "has_email = 0"
            },
            [],
        );
    }
    if let Some(flag) = query.has_phone {
        filter.push(
            if flag {
                "has_phone = 1"
            } else {
                "has_phone = 0"
            },
            [],
        );
    }
    if let Some(needle) = &query.text_contains {
        filter.push(
            "instr(lower(json_extract(doc, '$.text')), lower(?)) > 0",
            [Value::Text(needle.clone())],
        );
    }
    for condition in &query.conditions {
        push_condition(&mut filter, condition);
    }
    if !query.any_of.is_empty() {
        let mut alternatives = Vec::with_capacity(query.any_of.len());
        let mut values = Vec::new();
        for group in &query.any_of {
            let mut inner = Filter {
                sql: String::new(),
                values: Vec::new(),
                coverage: filter.coverage.clone(),
            };
            for condition in group {
                push_condition(&mut inner, condition);
            }
            // " WHERE a AND b" → "(a AND b)"; an empty group is always true.
            let body = inner.sql.trim_start_matches(" WHERE ");
            alternatives.push(if body.is_empty() {
                "1".to_owned()
            } else {
                format!("({body})")
            });
            values.extend(inner.values);
        }
        filter.push(&format!("({})", alternatives.join(" OR ")), values);
    }
    filter
}

/// Where a canonical field lives in a row: an indexed column, a contact list
/// in the document, or any other value in the document (by JSON path, bound
/// as a parameter so field names never become SQL text).
enum Location {
    Column(&'static str),
    Contacts(&'static str),
    Document(String),
}

fn locate(field: &FieldPath) -> Location {
    match field {
        FieldPath::Id => Location::Column("id"),
        FieldPath::CreatedAt => Location::Column("created_at"),
        FieldPath::UpdatedAt => Location::Column("updated_at"),
        FieldPath::CompletedAt => Location::Column("completed_at"),
        FieldPath::Stage => Location::Column("stage"),
        FieldPath::Kind => Location::Column("kind"),
        FieldPath::HasEmail => Location::Column("has_email"),
        FieldPath::Duration => Location::Column("((completed_at - created_at) / 1000000)"),
        FieldPath::HasPhone => Location::Column("has_phone"),
        FieldPath::Employee(slot, EmployeeAttr::Id) => Location::Column(match slot {
            EmployeeSlot::AssignedTo => "assigned_to",
            EmployeeSlot::CreatedBy => "created_by",
            EmployeeSlot::CompletedBy => "completed_by",
            EmployeeSlot::LockedBy => "lock_by",
        }),
        FieldPath::Phones => Location::Contacts("$.phones"),
        FieldPath::Emails => Location::Contacts("$.emails"),
        FieldPath::Webs => Location::Contacts("$.webs"),
        FieldPath::Messengers => Location::Contacts("$.messengers"),
        FieldPath::ContactIds => Location::Document("$.contact_ids[0]".into()),
        FieldPath::Custom(name) => Location::Document(format!("$.custom.{}", json_key(name))),
        other => {
            let text = other.to_string();
            if text == "site.id" {
                return Location::Column("site_id");
            }
            if text == "department_id" {
                return Location::Column("department_id");
            }
            let keys: Vec<String> = text.split('.').map(json_key).collect();
            Location::Document(format!("$.{}", keys.join(".")))
        }
    }
}

/// A JSON path key, quoted so any name is one key.
fn json_key(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn operand_value(operand: &Operand) -> Value {
    match operand {
        Operand::Null => Value::Null,
        Operand::Text(text) => Value::Text(text.clone()),
        Operand::Int(number) => Value::Integer(*number),
        Operand::Float(number) => Value::Real(*number),
        Operand::Bool(flag) => Value::Integer(i64::from(*flag)),
        Operand::Time(time) => Value::Integer(micros(*time)),
    }
}

/// SQL text and its parameters, built in step so placeholders and values
/// never drift apart.
#[derive(Default)]
struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn text(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn value(&mut self, value: Value) -> &mut Self {
        self.text.push('?');
        self.values.push(value);
        self
    }

    fn append(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.values.extend(other.values.iter().cloned());
        self
    }
}

fn push_condition(filter: &mut Filter, condition: &Condition) {
    let mut subject = Sql::default();
    let location = locate(&condition.field);
    match &location {
        Location::Column(column) => {
            subject.text(column);
        }
        // Each element of the list, compared on its normalised form so that
        // +7 900 and 8 900 are the same phone.
        Location::Contacts(_) => {
            subject.text("COALESCE(json_extract(item.value, '$.normalized'), item.value)");
        }
        Location::Document(path) => {
            subject
                .text("json_extract(doc, ")
                .value(Value::Text(path.clone()))
                .text(")");
        }
    }
    let first = condition.operands.first().cloned().unwrap_or(Operand::Null);
    let negate = matches!(
        condition.compare,
        Compare::NotEqual | Compare::NotIn | Compare::NotContains | Compare::NotLike
    );
    let mut test = Sql::default();
    if negate && first != Operand::Null {
        // SQL's NOT over NULL is NULL: "not equal to x" must include leads
        // without the field, as a CRM filter does.
        test.text("(").append(&subject).text(" IS NULL OR NOT ");
    }
    match condition.compare {
        Compare::Equal | Compare::NotEqual if first == Operand::Null => {
            test.append(&subject)
                .text(if negate { " IS NOT NULL" } else { " IS NULL" });
        }
        Compare::Equal | Compare::NotEqual => {
            test.append(&subject)
                .text(" = ")
                .value(operand_value(&first));
        }
        Compare::Less => {
            test.append(&subject)
                .text(" < ")
                .value(operand_value(&first));
        }
        Compare::LessOrEqual => {
            test.append(&subject)
                .text(" <= ")
                .value(operand_value(&first));
        }
        Compare::Greater => {
            test.append(&subject)
                .text(" > ")
                .value(operand_value(&first));
        }
        Compare::GreaterOrEqual => {
            test.append(&subject)
                .text(" >= ")
                .value(operand_value(&first));
        }
        Compare::In | Compare::NotIn => {
            let list = serde_json::Value::Array(
                condition
                    .operands
                    .iter()
                    .map(|operand| match operand_value(operand) {
                        Value::Integer(number) => serde_json::Value::from(number),
                        Value::Real(number) => serde_json::Value::from(number),
                        Value::Text(text) => serde_json::Value::String(text),
                        _ => serde_json::Value::Null,
                    })
                    .collect(),
            );
            test.append(&subject)
                .text(" IN (SELECT value FROM json_each(")
                .value(Value::Text(list.to_string()))
                .text("))");
        }
        Compare::Contains | Compare::NotContains => {
            test.append(&subject)
                .text(" LIKE '%' || ")
                .value(Value::Text(crate::store::escape_like(&first.as_text())))
                .text(" || '%' ESCAPE '\\'");
        }
        Compare::Like | Compare::NotLike => {
            test.append(&subject)
                .text(" LIKE ")
                .value(Value::Text(first.as_text()));
        }
    }
    if negate && first != Operand::Null {
        test.text(")");
    }
    match location {
        Location::Contacts(path) => {
            let mut exists = Sql::default();
            if let (Some(kind), Some(coverage)) = (indexed_contact(condition), &filter.coverage) {
                // Candidates from the index (a superset of the matches:
                // every merged lead with that normalised contact, and every
                // lead after the merge mark); the document check below
                // decides.
                let wanted = serde_json::Value::Array(
                    condition
                        .operands
                        .iter()
                        .map(|operand| serde_json::Value::String(operand.as_text()))
                        .collect(),
                );
                exists
                    .text("(id IN (SELECT lead_id FROM lead_contacts WHERE bucket IN (SELECT value FROM json_each(")
                    .value(Value::Text(coverage.buckets.clone()))
                    .text(")) AND kind = ")
                    .value(Value::Text(kind.into()))
                    .text(" AND value IN (SELECT value FROM json_each(")
                    .value(Value::Text(wanted.to_string()))
                    .text(")) UNION ALL SELECT id FROM leads WHERE id > ")
                    .value(Value::Integer(coverage.merged_upto))
                    .text(")) AND ");
            }
            exists
                .text("EXISTS (SELECT 1 FROM json_each(doc, ")
                .value(Value::Text(path.to_owned()))
                .text(") AS item WHERE ")
                .append(&test)
                .text(")");
            filter.push(&exists.text, exists.values);
        }
        _ => filter.push(&test.text, test.values),
    }
}

fn order_by(query: &LeadQuery, values: &mut Vec<Value>) -> String {
    let mut clauses: Vec<String> = query
        .sort
        .iter()
        .map(|sort| {
            let column = match &sort.key {
                SortKey::Field(field) => match locate(field) {
                    Location::Column(column) => column,
                    Location::Contacts(path) => {
                        values.push(Value::Text(format!("{path}[0].value")));
                        "json_extract(doc, ?)"
                    }
                    Location::Document(path) => {
                        values.push(Value::Text(path));
                        "json_extract(doc, ?)"
                    }
                },
                SortKey::Id => "id",
                SortKey::CreatedAt => "created_at",
                SortKey::UpdatedAt => "updated_at",
                SortKey::CompletedAt => "completed_at",
                SortKey::Stage => {
                    "CASE stage WHEN 'new' THEN 0 WHEN 'in_progress' THEN 1 WHEN 'processed' THEN 2 \
                     WHEN 'converted' THEN 3 WHEN 'junk' THEN 4 ELSE 5 END"
                }
            };
            format!("{column} {}", if sort.descending { "DESC" } else { "ASC" })
        })
        .collect();
    // The id makes the order total, so paging neither skips nor repeats rows.
    let id_direction = match query.sort.last() {
        Some(last) if last.descending => "DESC",
        _ => "ASC",
    };
    clauses.push(format!("id {id_direction}"));
    format!(" ORDER BY {}", clauses.join(", "))
}

pub(super) fn query(conn: &Connection, query: &LeadQuery) -> Result<LeadPage, StoreError> {
    let query = &*folded(query);
    let filter = build_filter(query, lookups(conn, query)?);
    let total = if let (true, Some(counted)) = (query.count_total, counted_by_hour(query)) {
        Some(stats::created_count(conn, &counted)?)
    } else if query.count_total {
        let sql = format!("SELECT COUNT(*) FROM leads{}", filter.sql);
        let count: i64 = conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(filter.values.iter()), |row| {
                row.get(0)
            })?;
        Some(count.max(0) as u64)
    } else {
        None
    };
    let (sql, values) = page_statement(query, filter);
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
    let mut leads = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let doc: String = row.get(1)?;
        leads.push(read_lead(id, &doc)?);
    }
    Ok(LeadPage { leads, total })
}

/// The leads `query` filters, when the hourly counters can count them: it
/// filters on nothing but a window of creation times, stages, and at most
/// one of having a phone or having an e-mail.
fn counted_by_hour(query: &LeadQuery) -> Option<Counted> {
    let LeadQuery {
        ids: None,
        created,
        updated,
        completed,
        stages,
        kinds: None,
        assigned_to: None,
        created_by: None,
        completed_by: None,
        site_ids: None,
        department_ids: None,
        has_email,
        has_phone,
        text_contains: None,
        conditions,
        any_of,
        ..
    } = query
    else {
        return None;
    };
    if *updated != TimeRange::default() || *completed != TimeRange::default() || !any_of.is_empty()
    {
        return None;
    }
    let mut required = Vec::new();
    for (flag, presence) in [(has_phone, Presence::Phone), (has_email, Presence::Email)] {
        match flag {
            None => {}
            Some(true) => required.push(presence),
            Some(false) => return None,
        }
    }
    for condition in conditions {
        let presence = match condition.field {
            FieldPath::HasPhone => Presence::Phone,
            FieldPath::HasEmail => Presence::Email,
            _ => return None,
        };
        let present = matches!(
            (condition.compare, condition.operands.as_slice()),
            (Compare::Equal, [Operand::Bool(true) | Operand::Int(1)])
        );
        if !present {
            return None;
        }
        required.push(presence);
    }
    required.dedup();
    let with = match required.as_slice() {
        [] => None,
        [presence] => Some(*presence),
        _ => return None,
    };
    let stages = stages.as_ref().map(|stages| {
        let mut names: Vec<&'static str> = stages.iter().map(|stage| stage.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    });
    Some(Counted {
        window: *created,
        stages,
        with,
    })
}

/// `query` with its conditions on the creation time and on the stage
/// moved into the window and the stage list they restrict (a Bitrix24
/// `>DATE_CREATE`, a LiveTex `result=`), so the counters, the id span and
/// the indexes see them. The leads it matches are the same.
fn folded(query: &LeadQuery) -> Cow<'_, LeadQuery> {
    let foldable = |condition: &Condition| match (condition.field.clone(), condition.compare) {
        (FieldPath::CreatedAt, compare) => {
            matches!(condition.operands.as_slice(), [Operand::Time(_)])
                && matches!(
                    compare,
                    Compare::Equal
                        | Compare::Less
                        | Compare::LessOrEqual
                        | Compare::Greater
                        | Compare::GreaterOrEqual
                )
        }
        (FieldPath::Stage, Compare::Equal | Compare::In) => {
            !condition.operands.is_empty()
                && condition
                    .operands
                    .iter()
                    .all(|operand| matches!(operand, Operand::Text(_)))
        }
        _ => false,
    };
    if !query.conditions.iter().any(foldable) {
        return Cow::Borrowed(query);
    }
    let mut folded = query.clone();
    let (moved, kept): (Vec<Condition>, Vec<Condition>) = std::mem::take(&mut folded.conditions)
        .into_iter()
        .partition(foldable);
    folded.conditions = kept;
    let micro = chrono::Duration::microseconds(1);
    for condition in moved {
        match (&condition.field, condition.operands.as_slice()) {
            (FieldPath::CreatedAt, [Operand::Time(time)]) => {
                let window = &mut folded.created;
                let (from, to) = match condition.compare {
                    Compare::Equal => (Some(*time), Some(*time + micro)),
                    Compare::Less => (None, Some(*time)),
                    Compare::LessOrEqual => (None, Some(*time + micro)),
                    Compare::Greater => (Some(*time + micro), None),
                    _ => (Some(*time), None),
                };
                window.from = window.from.max(from);
                window.to = match (window.to, to) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            _ => {
                // A stage name no lead can have matches nothing, as the
                // comparison would.
                let named: Vec<Stage> = condition
                    .operands
                    .iter()
                    .filter_map(|operand| match operand {
                        Operand::Text(text) => Stage::parse(text),
                        _ => None,
                    })
                    .collect();
                folded.stages = Some(match folded.stages.take() {
                    Some(earlier) => earlier
                        .into_iter()
                        .filter(|stage| named.contains(stage))
                        .collect(),
                    None => named,
                });
            }
        }
    }
    Cow::Owned(folded)
}

/// Offsets from which an unfiltered page by id seeks its first id through
/// `leads_ids` rather than stepping over the rows before it.
const DEEP_OFFSET: u64 = 1_000;

/// The SELECT of one page of `query`, and its parameters.
fn page_statement(query: &LeadQuery, filter: Filter) -> (String, Vec<Value>) {
    let by_id_only = match query.sort.as_slice() {
        [] => Some(false),
        [sort] if sort.key == SortKey::Id => Some(sort.descending),
        _ => None,
    };
    if let (true, Some(descending), true) = (
        filter.sql.is_empty(),
        by_id_only,
        query.offset >= DEEP_OFFSET,
    ) {
        let (direction, bound) = if descending {
            ("DESC", "<=")
        } else {
            ("ASC", ">=")
        };
        let sql = format!(
            "SELECT id, doc FROM leads WHERE id {bound} (SELECT id FROM leads INDEXED BY leads_ids
             ORDER BY id {direction} LIMIT 1 OFFSET ?) ORDER BY id {direction} LIMIT ?"
        );
        let limit = query
            .limit
            .map_or(-1, |limit| limit.min(i64::MAX as u64) as i64);
        let offset = query.offset.min(i64::MAX as u64) as i64;
        return (sql, vec![Value::Integer(offset), Value::Integer(limit)]);
    }
    let mut values = filter.values;
    let order = order_by(query, &mut values);
    values.push(Value::Integer(
        query
            .limit
            .map_or(-1, |limit| limit.min(i64::MAX as u64) as i64),
    ));
    values.push(Value::Integer(query.offset.min(i64::MAX as u64) as i64));
    let sql = format!(
        "SELECT id, doc FROM leads{}{order} LIMIT ? OFFSET ?",
        filter.sql,
    );
    (sql, values)
}

/// SQLite's plan for one page of `query`, a line per step.
#[cfg(test)]
pub(super) fn plan(conn: &Connection, query: &LeadQuery) -> Result<Vec<String>, StoreError> {
    let query = &*folded(query);
    let (sql, values) = page_statement(query, build_filter(query, lookups(conn, query)?));
    let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let steps = statement
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            row.get::<_, String>(3)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(steps)
}
