//! The transactional outbox in canonical terms: one delivery row per lead and
//! target, written in the lead's own insert transaction, then claimed,
//! finished, retried and replayed by the forwarding workers and the
//! `leadgate deliveries` command. Claims are leases kept in the store, so a
//! worker that dies mid-delivery gives its rows back when the lease runs out,
//! whichever process picks them up.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lead::{Lead, LeadId};

/// Where a delivery stands. "In flight" is a pending row with a live claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Failed for good (permanent error or retries exhausted); the last
    /// error is kept, and `retry` puts it back in the queue.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// Proof of one claim on a delivery row: finishing with a stale claim (the
/// lease ran out and someone else took the row) changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub delivery_id: i64,
    /// How many times the row has been claimed, this claim included.
    pub claims: i64,
}

/// A claimed delivery, with the lead to send.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub claim: Claim,
    pub target: String,
    pub lead: Lead,
    /// Failed attempts before this one.
    pub attempts: u32,
    /// 0 for the lead's own delivery (the add); 1, 2, ... for the changes
    /// forwarded after it, in order.
    pub revision: u32,
    /// For a change: the lead's id at the target, as its add recorded it.
    pub external_id: Option<String>,
}

impl ClaimedDelivery {
    /// A change to a lead the target already has, not the lead itself.
    pub fn is_update(&self) -> bool {
        self.revision > 0
    }

    /// An earlier claim may have reached the target before its worker
    /// stopped (a crash, a timeout): the adapter should look before it adds.
    pub fn maybe_sent_before(&self) -> bool {
        self.claims_before() > 0
    }

    fn claims_before(&self) -> i64 {
        self.claim.claims - 1
    }
}

/// A claimed delivery's outcome, recorded under the claim that sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedDelivery {
    pub claim: Claim,
    pub outcome: DeliveryOutcome,
}

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum DeliveryOutcome {
    Delivered {
        /// The lead's id at the target, where it has one.
        external_id: Option<String>,
    },
    /// Try again at `due`.
    Retry {
        error: String,
        due: DateTime<Utc>,
    },
    Dead {
        error: String,
    },
    /// Cut short by a shutdown while on the wire: back to the queue, due
    /// now, attempts unchanged; the claim still counts as a possible send.
    Requeue {
        error: String,
    },
}

/// A delivery row as `deliveries list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub lead_id: LeadId,
    pub target: String,
    /// 0: the lead itself; 1, 2, ...: the changes forwarded after it.
    pub revision: u32,
    pub state: DeliveryState,
    pub in_flight: bool,
    pub attempts: u32,
    pub due_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which delivery rows a listing or a retry covers; every given part must hold.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub ids: Option<Vec<i64>>,
    pub target: Option<String>,
    pub state: Option<DeliveryState>,
    pub lead_id: Option<LeadId>,
    /// Rows delivered with this id at the target (the lead a target's
    /// event names).
    pub external_id: Option<String>,
    /// Rows with a greater id (paging).
    pub after_id: Option<i64>,
    pub limit: Option<u64>,
}

/// Per target: the rows not yet delivered, read through the indexes of
/// pending and dead rows only, so it stays cheap however many delivered
/// rows the outbox keeps (metrics read it at every scrape).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryBacklog {
    pub target: String,
    /// Waiting for a worker (due now or later).
    pub pending: u64,
    /// Claimed by a worker whose lease has not run out.
    pub in_flight: u64,
    pub dead: u64,
    /// When the oldest row still pending (in flight included) was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
}

impl DeliveryBacklog {
    /// Folds per-state rows of one target into one backlog each, in
    /// target order.
    pub fn merge(rows: Vec<DeliveryBacklog>) -> Vec<DeliveryBacklog> {
        let mut merged: std::collections::BTreeMap<String, DeliveryBacklog> =
            std::collections::BTreeMap::new();
        for row in rows {
            let entry = merged
                .entry(row.target.clone())
                .or_insert_with(|| DeliveryBacklog {
                    target: row.target.clone(),
                    ..DeliveryBacklog::default()
                });
            entry.pending += row.pending;
            entry.in_flight += row.in_flight;
            entry.dead += row.dead;
            entry.oldest_pending = match (entry.oldest_pending, row.oldest_pending) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        merged.into_values().collect()
    }
}

/// Per target: how many rows are in each state (the admin overview).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    pub target: String,
    pub pending: u64,
    pub in_flight: u64,
    pub delivered: u64,
    pub dead: u64,
    /// Of `pending`, those waiting again after a failed attempt.
    pub retrying: u64,
}
