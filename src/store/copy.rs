//! `leadgate store copy`: one store's leads, deliveries and sessions into
//! another, backend to backend, through the store traits alone. Leads go in
//! id order, a page at a time, each page one transaction at the
//! destination; a run stopped half way resumes after the last lead the
//! destination holds, and a finished copy run again adds nothing. At the
//! end the counts on both sides are compared.

use super::{
    Compare, Condition, DeliveryFilter, LeadQuery, Operand, Sort, SortKey, Store, StoreError,
};
use crate::lead::path::FieldPath;

/// Leads read and written per page.
const PAGE: u64 = 2_000;

/// How far a copy has come, for a progress display.
pub trait Progress {
    /// The leads the source holds (the length of the bar).
    fn total(&self, leads: u64);
    /// `leads` more leads were read from the source.
    fn advance(&self, leads: u64);
}

/// What a copy did, and what each side holds at the end.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub leads_copied: u64,
    pub deliveries_copied: u64,
    pub sessions_copied: u64,
    pub leads: Counts,
    pub deliveries: Counts,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub source: u64,
    pub destination: u64,
}

impl Copied {
    /// Every lead and delivery of the source is at the destination.
    pub fn complete(&self) -> bool {
        self.leads.destination >= self.leads.source
            && self.deliveries.destination >= self.deliveries.source
    }
}

async fn lead_count(store: &dyn Store) -> Result<u64, StoreError> {
    let page = store
        .query(LeadQuery {
            count_total: true,
            limit: Some(0),
            ..LeadQuery::default()
        })
        .await?;
    Ok(page.total.unwrap_or_default())
}

async fn delivery_count(store: &dyn Store) -> Result<u64, StoreError> {
    let counts = store.count_deliveries(chrono::Utc::now()).await?;
    Ok(counts
        .iter()
        .map(|target| target.pending + target.in_flight + target.delivered + target.dead)
        .sum())
}

/// The greatest lead id `store` holds.
async fn newest_id(store: &dyn Store) -> Result<i64, StoreError> {
    let page = store
        .query(LeadQuery {
            sort: vec![Sort {
                key: SortKey::Id,
                descending: true,
            }],
            limit: Some(1),
            ..LeadQuery::default()
        })
        .await?;
    Ok(page
        .leads
        .first()
        .and_then(|lead| lead.id)
        .unwrap_or_default())
}

pub async fn copy(
    source: &dyn Store,
    destination: &dyn Store,
    progress: &dyn Progress,
) -> Result<Copied, StoreError> {
    let mut copied = Copied::default();
    progress.total(lead_count(source).await?);
    // Resuming: the destination holds every lead up to its newest one.
    let mut after = newest_id(destination).await?;
    if after > 0 {
        let done = source
            .query(LeadQuery {
                conditions: vec![Condition {
                    field: FieldPath::Id,
                    compare: Compare::LessOrEqual,
                    operands: vec![Operand::Int(after)],
                }],
                count_total: true,
                limit: Some(0),
                ..LeadQuery::default()
            })
            .await?;
        progress.advance(done.total.unwrap_or_default());
    }
    loop {
        let page = source
            .query(LeadQuery {
                conditions: vec![Condition {
                    field: FieldPath::Id,
                    compare: Compare::Greater,
                    operands: vec![Operand::Int(after)],
                }],
                sort: vec![Sort {
                    key: SortKey::Id,
                    descending: false,
                }],
                limit: Some(PAGE),
                walk_ids: true,
                ..LeadQuery::default()
            })
            .await?;
        let Some(last) = page.leads.last().and_then(|lead| lead.id) else {
            break;
        };
        let read = page.leads.len() as u64;
        copied.leads_copied += destination.import_leads(page.leads).await?;
        progress.advance(read);
        after = last;
    }
    let mut after_delivery = None;
    loop {
        let rows = source
            .list_deliveries(DeliveryFilter {
                after_id: after_delivery,
                limit: Some(PAGE),
                ..DeliveryFilter::default()
            })
            .await?;
        let Some(last) = rows.last().map(|row| row.id) else {
            break;
        };
        copied.deliveries_copied += destination.import_deliveries(rows).await?;
        after_delivery = Some(last);
    }
    let now = chrono::Utc::now();
    for (digest, session) in source.export_sessions().await? {
        destination
            .put_session(digest, session.subject, session.expires, now)
            .await?;
        copied.sessions_copied += 1;
    }
    copied.leads = Counts {
        source: lead_count(source).await?,
        destination: lead_count(destination).await?,
    };
    copied.deliveries = Counts {
        source: delivery_count(source).await?,
        destination: delivery_count(destination).await?,
    };
    Ok(copied)
}
