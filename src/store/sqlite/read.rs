//! Reads: one lead, filtered pages, contact look-ups and counters. SQL text
//! depends only on which filters are present (lists travel as one JSON array
//! parameter), so the per-connection statement cache serves repeated shapes.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use crate::lead::{Lead, LeadId};
use crate::store::{AssigneeStats, LeadPage, LeadQuery, SortKey, StoreError, TimeRange};

pub(super) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

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

/// Builds the WHERE clause and its parameters for a query.
struct Filter {
    sql: String,
    values: Vec<Value>,
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

    fn json_list<T: serde::Serialize>(&mut self, column: &str, items: &Option<Vec<T>>) {
        if let Some(items) = items {
            let list = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
            self.push(
                &format!("{column} IN (SELECT value FROM json_each(?))"),
                [Value::Text(list)],
            );
        }
    }

    fn range(&mut self, column: &str, range: &TimeRange) {
        if let Some(from) = range.from {
            self.push(&format!("{column} >= ?"), [Value::Integer(micros(from))]);
        }
        if let Some(to) = range.to {
            self.push(&format!("{column} < ?"), [Value::Integer(micros(to))]);
        }
    }
}

fn build_filter(query: &LeadQuery) -> Filter {
    let mut filter = Filter {
        sql: String::new(),
        values: Vec::new(),
    };
    filter.json_list("id", &query.ids);
    filter.range("created_at", &query.created);
    filter.range("updated_at", &query.updated);
    filter.range("completed_at", &query.completed);
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
    filter
}

fn order_by(query: &LeadQuery) -> String {
    let mut clauses: Vec<String> = query
        .sort
        .iter()
        .map(|sort| {
            let column = match sort.key {
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
    let filter = build_filter(query);
    let total = if query.count_total {
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
    let mut values = filter.values;
    values.push(Value::Integer(
        query
            .limit
            .map_or(-1, |limit| limit.min(i64::MAX as u64) as i64),
    ));
    values.push(Value::Integer(query.offset.min(i64::MAX as u64) as i64));
    let sql = format!(
        "SELECT id, doc FROM leads{}{} LIMIT ? OFFSET ?",
        filter.sql,
        order_by(query)
    );
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

pub(super) fn assignee_stats(
    conn: &Connection,
    window: TimeRange,
) -> Result<Vec<AssigneeStats>, StoreError> {
    let from = window.from.map_or(i64::MIN, micros);
    let to = window.to.map_or(i64::MAX, micros);
    let mut statement = conn.prepare_cached(
        "SELECT assigned_to,
                SUM(stage IN ('new', 'in_progress') AND created_at >= ?1 AND created_at < ?2),
                SUM(stage NOT IN ('new', 'in_progress') AND completed_at >= ?1 AND completed_at < ?2)
         FROM leads
         WHERE assigned_to IS NOT NULL
           AND ((created_at >= ?1 AND created_at < ?2) OR (completed_at >= ?1 AND completed_at < ?2))
         GROUP BY assigned_to",
    )?;
    let rows = statement.query_map(params![from, to], |row| {
        Ok(AssigneeStats {
            employee: row.get(0)?,
            open: row.get::<_, i64>(1)?.max(0) as u64,
            processed: row.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
