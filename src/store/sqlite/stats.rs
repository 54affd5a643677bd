//! The counters behind per-employee statistics (SalesMan `stat`): for each
//! employee and hour, the leads created in that hour that are open now, and
//! the leads completed in that hour that are not open now. The writer keeps
//! them in each lead's own transaction (insert, update, delete), so a month
//! is a sum over some 744 rows per employee instead of a pass over every
//! lead of the month. A window that does not start or end on a whole hour
//! counts its partial hours from the leads themselves.
//!
//! Beside them, the leads created in each hour at each stage, and the span
//! of their ids: the total a list or a UIS report shows for a window of
//! creation times, which otherwise counted a million index entries for a
//! month of leads, and where along the primary key a page of that window
//! ordered by id lies (read.rs), which otherwise sorted the whole window.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, Transaction};

use super::time::micros;
use crate::lead::{EmployeeId, Lead};
use crate::store::{AssigneeStats, StoreError, TimeRange};

/// An hour in microseconds, the unit of the counters.
const HOUR: i64 = 3_600_000_000;

/// What one lead adds to the counters: +1 open in the hour it was created
/// while it is open, or +1 processed in the hour it was completed once it
/// is not; nothing without an assignee.
fn contribution(lead: &Lead) -> Option<(EmployeeId, i64, i64, i64)> {
    let assignee = lead.assigned_to?;
    if lead.stage.is_open() {
        Some((assignee, micros(lead.created_at).div_euclid(HOUR), 1, 0))
    } else {
        let completed = lead.completed_at?;
        Some((assignee, micros(completed).div_euclid(HOUR), 0, 1))
    }
}

/// Adds (`sign` 1) or takes back (`sign` -1) what `lead` contributes,
/// inside the transaction that stores, changes or deletes it.
pub(super) fn count(tx: &Transaction<'_>, lead: &Lead, sign: i64) -> Result<(), StoreError> {
    // The id span only widens: a lead that leaves an hour (deleted, or
    // its creation time changed) leaves the span a little wider than its
    // leads, which is still a true bound.
    let id = lead.id.unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO created_hours (hour, stage, leads, first_id, last_id)
             VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (hour, stage) DO UPDATE SET leads = leads + excluded.leads,
             first_id = MIN(first_id, excluded.first_id),
             last_id = MAX(last_id, excluded.last_id)",
    )?
    .execute(params![
        micros(lead.created_at).div_euclid(HOUR),
        lead.stage.as_str(),
        sign,
        id
    ])?;
    let Some((assignee, hour, open, processed)) = contribution(lead) else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO assignee_hours (assigned_to, hour, open, processed) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (assigned_to, hour) DO UPDATE
         SET open = open + excluded.open, processed = processed + excluded.processed",
    )?
    .execute(params![assignee, hour, open * sign, processed * sign])?;
    Ok(())
}

/// Per-employee counters over `window`; employees with nothing to count
/// are left out.
pub(super) fn assignee_stats(
    conn: &Connection,
    window: TimeRange,
) -> Result<Vec<AssigneeStats>, StoreError> {
    let mut totals: BTreeMap<EmployeeId, (i64, i64)> = BTreeMap::new();
    // One snapshot for the counters and the partial hours.
    let tx = conn.unchecked_transaction()?;
    match (window.from.map(micros), window.to.map(micros)) {
        (Some(from), Some(to)) => {
            let first_whole = from.div_euclid(HOUR) + i64::from(from.rem_euclid(HOUR) != 0);
            let end_whole = to.div_euclid(HOUR);
            if first_whole < end_whole {
                let mut statement = tx.prepare_cached(
                    "SELECT assigned_to, SUM(open), SUM(processed) FROM assignee_hours
                     WHERE hour >= ?1 AND hour < ?2 GROUP BY assigned_to",
                )?;
                let mut rows = statement.query(params![first_whole, end_whole])?;
                while let Some(row) = rows.next()? {
                    let entry = totals.entry(row.get(0)?).or_default();
                    entry.0 += row.get::<_, i64>(1)?;
                    entry.1 += row.get::<_, i64>(2)?;
                }
                exact(&tx, from, first_whole * HOUR, &mut totals)?;
                exact(&tx, end_whole * HOUR, to, &mut totals)?;
            } else {
                exact(&tx, from, to, &mut totals)?;
            }
        }
        (from, to) => exact(
            &tx,
            from.unwrap_or(i64::MIN),
            to.unwrap_or(i64::MAX),
            &mut totals,
        )?,
    }
    Ok(totals
        .into_iter()
        .filter(|(_, (open, processed))| *open > 0 || *processed > 0)
        .map(|(employee, (open, processed))| AssigneeStats {
            employee,
            open: open.max(0) as u64,
            processed: processed.max(0) as u64,
        })
        .collect())
}

/// The counters of `[from, to)` read from the leads themselves.
fn exact(
    tx: &Transaction<'_>,
    from: i64,
    to: i64,
    totals: &mut BTreeMap<EmployeeId, (i64, i64)>,
) -> Result<(), StoreError> {
    if from >= to {
        return Ok(());
    }
    let mut statement = tx.prepare_cached(
        "SELECT assigned_to,
                SUM(stage IN ('new', 'in_progress') AND created_at >= ?1 AND created_at < ?2),
                SUM(stage NOT IN ('new', 'in_progress') AND completed_at >= ?1 AND completed_at < ?2)
         FROM leads
         WHERE assigned_to IS NOT NULL
           AND ((created_at >= ?1 AND created_at < ?2) OR (completed_at >= ?1 AND completed_at < ?2))
         GROUP BY assigned_to",
    )?;
    let mut rows = statement.query(params![from, to])?;
    while let Some(row) = rows.next()? {
        let entry = totals.entry(row.get(0)?).or_default();
        entry.0 += row.get::<_, i64>(1)?;
        entry.1 += row.get::<_, i64>(2)?;
    }
    Ok(())
}

/// A set of leads the hourly counters can count: created in `window`, at
/// one of `stages` (any when `None`), and with a phone or an e-mail when
/// `with` says so.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Counted {
    pub window: TimeRange,
    pub stages: Option<Vec<&'static str>>,
    pub with: Option<Presence>,
}

/// A contact a count asks leads to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presence {
    Phone,
    Email,
}

impl Counted {
    /// `AND stage IN (?, ...)` with its values, or nothing for any stage.
    fn stage_clause(&self) -> (String, Vec<Value>) {
        match &self.stages {
            None => (String::new(), Vec::new()),
            Some(stages) => (
                format!(" AND stage IN ({})", vec!["?"; stages.len()].join(", ")),
                stages
                    .iter()
                    .map(|stage| Value::Text((*stage).into()))
                    .collect(),
            ),
        }
    }

    /// The window in microseconds, an open end as the farthest time.
    fn bounds(&self) -> (i64, i64) {
        (
            self.window.from.map(micros).unwrap_or(i64::MIN),
            self.window.to.map(micros).unwrap_or(i64::MAX),
        )
    }
}

/// How many leads `counted` names: the hourly counts of its whole hours,
/// the leads of its partial hours counted from the time index, less those
/// without the contact it asks for (few, held by a partial index).
pub(super) fn created_count(conn: &Connection, counted: &Counted) -> Result<u64, StoreError> {
    let (from, to) = counted.bounds();
    if from >= to {
        return Ok(0);
    }
    // One snapshot for the counters and the partial hours.
    let tx = conn.unchecked_transaction()?;
    let first_whole = from.div_euclid(HOUR) + i64::from(from.rem_euclid(HOUR) != 0);
    let end_whole = to.div_euclid(HOUR);
    let (stages, stage_values) = counted.stage_clause();
    let mut total = if first_whole < end_whole {
        let mut values = vec![Value::Integer(first_whole), Value::Integer(end_whole)];
        values.extend(stage_values.iter().cloned());
        let whole: i64 = tx
            .prepare_cached(&format!(
                "SELECT COALESCE(SUM(leads), 0) FROM created_hours WHERE hour >= ? AND hour < ?{stages}"
            ))?
            .query_row(params_from_iter(values.iter()), |row| row.get(0))?;
        whole
            + exact_count(&tx, counted, from, first_whole.saturating_mul(HOUR), None)?
            + exact_count(&tx, counted, end_whole.saturating_mul(HOUR), to, None)?
    } else {
        exact_count(&tx, counted, from, to, None)?
    };
    if let Some(presence) = counted.with {
        total -= exact_count(&tx, counted, from, to, Some(presence))?;
    }
    Ok(total.max(0) as u64)
}

/// Leads of `counted`'s stages created in `[from, to)`, or only those
/// lacking `lacking`, counted from the leads' indexes.
fn exact_count(
    tx: &Transaction<'_>,
    counted: &Counted,
    from: i64,
    to: i64,
    lacking: Option<Presence>,
) -> Result<i64, StoreError> {
    if from >= to {
        return Ok(0);
    }
    // Literal flags, so SQLite uses the partial index of leads without.
    let flag = match lacking {
        None => "",
        Some(Presence::Phone) => " AND has_phone = 0",
        Some(Presence::Email) => " AND has_email = 0",
    };
    let (stages, stage_values) = counted.stage_clause();
    let mut values = vec![Value::Integer(from), Value::Integer(to)];
    values.extend(stage_values);
    Ok(tx
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM leads WHERE created_at >= ? AND created_at < ?{stages}{flag}"
        ))?
        .query_row(params_from_iter(values.iter()), |row| row.get(0))?)
}

/// Where the leads created in a window lie along the primary key: every
/// one of them has an id in `first..=last`. `leads` is how many were
/// created in the hours the window touches (at least as many as in the
/// window itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct IdSpan {
    pub first: i64,
    pub last: i64,
    pub leads: i64,
}

impl IdSpan {
    /// Ids in the span, most of them leads outside the window when the
    /// window's leads are scattered among others.
    pub fn width(&self) -> i64 {
        self.last
            .saturating_sub(self.first)
            .saturating_add(1)
            .max(0)
    }
}

/// The id span of `counted`'s stages in the hours its window touches;
/// `None` when no such lead was ever created in them.
pub(super) fn created_span(
    conn: &Connection,
    counted: &Counted,
) -> Result<Option<IdSpan>, StoreError> {
    let (from, to) = counted.bounds();
    let mut values = vec![
        Value::Integer(from.div_euclid(HOUR)),
        Value::Integer(to.saturating_sub(1).div_euclid(HOUR)),
    ];
    let (stages, stage_values) = counted.stage_clause();
    values.extend(stage_values);
    let span = conn
        .prepare_cached(&format!(
            "SELECT MIN(first_id), MAX(last_id), COALESCE(SUM(leads), 0) FROM created_hours
             WHERE hour >= ? AND hour <= ?{stages}"
        ))?
        .query_row(params_from_iter(values.iter()), |row| {
            Ok(row
                .get::<_, Option<i64>>(0)?
                .zip(row.get::<_, Option<i64>>(1)?)
                .map(|(first, last)| IdSpan {
                    first,
                    last,
                    leads: row.get(2).unwrap_or_default(),
                }))
        })?;
    Ok(span)
}
