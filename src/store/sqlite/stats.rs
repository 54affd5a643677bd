//! The counters behind per-employee statistics (SalesMan `stat`): for each
//! employee and hour, the leads created in that hour that are open now, and
//! the leads completed in that hour that are not open now. The writer keeps
//! them in each lead's own transaction (insert, update, delete), so a month
//! is a sum over some 744 rows per employee instead of a pass over every
//! lead of the month. A window that does not start or end on a whole hour
//! counts its partial hours from the leads themselves.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, Transaction};

use super::read::micros;
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
