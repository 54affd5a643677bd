//! Commands on the canonical model, shared by every dialect: create a lead
//! (validate, assign, store durably), read one, list, and count per employee.
//! Core knows the employee directory and the assignment rules; it knows
//! nothing of wire formats, and the store decides ids and durability.

pub mod access;
mod assign;
mod employees;
mod local_counters;
mod sessions;
pub use sessions::digest_of;

use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use thiserror::Error;

use crate::forward::{Doorbell, ForwardRules};
use crate::lead::{Employee, EmployeeId, Lead, LeadError, LeadId, Stage, ValidationRules};
use crate::store::{
    Assignment, Deleted, Inserted, LeadChange, LeadPage, LeadQuery, LeadStore, SessionStore,
    SharedCounters, StoreError, TimeRange,
};

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use access::{Routing, RoutingRule, Scope};
pub use assign::AssignedBy;
pub use employees::Employees;
pub use local_counters::LocalCounters;
pub use sessions::Session;

/// How long a lead lock lasts, and how far taking it again extends it
/// (LiveTex `Leads.lock`: 30 minutes).
pub const LOCK_PERIOD: chrono::Duration = chrono::Duration::minutes(30);

/// Why an employee cannot have a lead.
#[derive(Debug, Error)]
pub enum AccessError {
    #[error("no such lead")]
    NotFound,
    #[error("the lead is outside the employee's access")]
    Forbidden,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<StoreError> for AccessError {
    fn from(error: StoreError) -> Self {
        AccessError::Core(CoreError::Store(error))
    }
}

#[derive(Debug, Error)]
pub enum CoreError {
    #[error(transparent)]
    Invalid(#[from] LeadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a dialect asks for when it creates a lead.
#[derive(Debug, Default)]
pub struct NewLead<'a> {
    pub lead: Lead,
    /// Login of the employee the caller wants the lead assigned to.
    pub requested_assignee: Option<&'a str>,
    /// The authenticated employee sending it.
    pub created_by: Option<&'a Employee>,
    /// Who gets leads nobody else claims.
    pub default_assignee: Option<&'a Employee>,
    /// Leave the stage as sent even when an assignee is found (Bitrix24
    /// keeps STATUS_ID NEW; SalesMan moves an assigned lead to "in work").
    pub keep_stage: bool,
    /// The API the lead arrived through (`salesman`, `bitrix24`, ...), for
    /// the forwarding rules.
    pub received_via: &'static str,
}

/// One employee's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeStats<'a> {
    pub employee: &'a Employee,
    pub open: u64,
    pub processed: u64,
}

pub struct Core {
    store: Arc<dyn LeadStore>,
    sessions: Arc<dyn SessionStore>,
    employees: Arc<Employees>,
    routing: Routing,
    clock: Arc<dyn Clock>,
    forwarding: ForwardRules,
    doorbell: Doorbell,
    /// Inbound limits kept for the whole fleet, on a store replicas share.
    shared_counters: Option<Arc<dyn SharedCounters>>,
}

impl Core {
    /// Core over one backend that keeps both leads and sessions.
    pub fn new<S: LeadStore + SessionStore>(store: Arc<S>, employees: Employees) -> Core {
        Core::from_parts(store.clone(), store, employees)
    }

    pub fn from_parts(
        store: Arc<dyn LeadStore>,
        sessions: Arc<dyn SessionStore>,
        employees: Employees,
    ) -> Core {
        Core {
            store,
            sessions,
            employees: Arc::new(employees),
            routing: Routing::default(),
            clock: Arc::new(SystemClock),
            forwarding: ForwardRules::default(),
            doorbell: Doorbell::default(),
            shared_counters: None,
        }
    }

    /// Keeps the dialects' inbound limits in `counters`, shared with every
    /// replica on the store.
    pub fn with_shared_counters(self, counters: Option<Arc<dyn SharedCounters>>) -> Core {
        Core {
            shared_counters: counters,
            ..self
        }
    }

    /// Where inbound limits are counted for the fleet; `None`: this
    /// process alone counts them.
    pub fn shared_counters(&self) -> Option<&Arc<dyn SharedCounters>> {
        self.shared_counters.as_ref()
    }

    /// Which new leads are forwarded where, and the bell that wakes the
    /// delivery workers once they are stored.
    pub fn with_forwarding(self, forwarding: ForwardRules, doorbell: Doorbell) -> Core {
        Core {
            forwarding,
            doorbell,
            ..self
        }
    }

    pub fn with_routing(self, routing: Routing) -> Core {
        Core { routing, ..self }
    }

    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Core {
        Core { clock, ..self }
    }

    /// Now, on the injected clock, to the microsecond the store keeps.
    pub fn now(&self) -> DateTime<Utc> {
        crate::lead::truncate_to_micros(self.clock.now())
    }

    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// A page of the leads `viewer` may see in `scope`, redacted for them.
    pub async fn query_for(
        &self,
        viewer: &Employee,
        scope: Scope,
        mut query: LeadQuery,
    ) -> Result<LeadPage, CoreError> {
        let groups = self.routing.scope(viewer, scope);
        if !groups.is_empty() {
            if query.any_of.is_empty() {
                query.any_of = groups;
            } else {
                // Both restrictions hold: the caller's own OR-groups must
                // meet the scope's, so combine them pairwise.
                let mut combined = Vec::with_capacity(query.any_of.len() * groups.len());
                for mine in &query.any_of {
                    for scope_group in &groups {
                        let mut both = mine.clone();
                        both.extend(scope_group.iter().cloned());
                        combined.push(both);
                    }
                }
                query.any_of = combined;
            }
        }
        let mut page = self.store.query(query).await?;
        for lead in &mut page.leads {
            access::redact(viewer, lead);
        }
        Ok(page)
    }

    /// One lead as `viewer` may see it in `scope`.
    pub async fn get_for(
        &self,
        viewer: &Employee,
        scope: Scope,
        id: LeadId,
    ) -> Result<Lead, AccessError> {
        let mut lead = self.store.get(id).await?.ok_or(AccessError::NotFound)?;
        if !self.routing.can_see(viewer, &lead, scope) {
            return Err(AccessError::Forbidden);
        }
        access::redact(viewer, &mut lead);
        Ok(lead)
    }

    /// Takes or prolongs `viewer`'s lock on a lead. `false` when another
    /// employee holds an unexpired lock. One conditional update in the
    /// store decides between concurrent callers, in any process.
    pub async fn lock(&self, viewer: &Employee, id: LeadId) -> Result<bool, AccessError> {
        self.relock(viewer, id, |held, me, now| {
            let until = match held {
                // The holder locking again adds another period.
                Some(lock) => lock.until + LOCK_PERIOD,
                None => now + LOCK_PERIOD,
            };
            Some(crate::lead::Lock { by: me, until })
        })
        .await
    }

    /// Releases `viewer`'s lock. `true` also for a lead nobody holds;
    /// `false` when another employee holds it.
    pub async fn unlock(&self, viewer: &Employee, id: LeadId) -> Result<bool, AccessError> {
        self.relock(viewer, id, |_, _, _| None).await
    }

    /// The lock change both commands share: refused (`false`) while another
    /// employee holds an unexpired lock; otherwise `next` gets the caller's
    /// own unexpired lock, if any, and says what the lock becomes.
    async fn relock(
        &self,
        viewer: &Employee,
        id: LeadId,
        next: impl FnOnce(
                Option<&crate::lead::Lock>,
                EmployeeId,
                DateTime<Utc>,
            ) -> Option<crate::lead::Lock>
            + Send
            + 'static,
    ) -> Result<bool, AccessError> {
        self.get_for(viewer, Scope::Visible, id).await?;
        let now = self.now();
        let me = viewer.id;
        let change = Box::new(move |lead: &mut Lead| {
            let held = lead.lock.as_ref().filter(|lock| lock.until > now);
            if held.is_some_and(|lock| lock.by != me) {
                return Err(LeadError::LockedByOther);
            }
            lead.lock = next(held, me, now);
            Ok(())
        });
        match self.store.update(id, change).await {
            Ok(Some(_)) => Ok(true),
            Ok(None) => Err(AccessError::NotFound),
            Err(StoreError::Rejected(LeadError::LockedByOther)) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Marks a lead processed by `viewer`, with their answer. A lead already
    /// processed is left exactly as it is.
    pub async fn complete(
        &self,
        viewer: &Employee,
        id: LeadId,
        answer_text: Option<String>,
        rules: &ValidationRules,
    ) -> Result<Lead, AccessError> {
        self.get_for(viewer, Scope::Visible, id).await?;
        let now = self.now();
        let me = viewer.id;
        let rules = rules.clone();
        let change = Box::new(move |lead: &mut Lead| {
            if lead.completed_at.is_some() {
                return Err(LeadError::AlreadyCompleted);
            }
            lead.stage = Stage::Processed;
            lead.completed_at = Some(now);
            lead.completed_by = Some(me);
            if answer_text.is_some() {
                lead.answer_text = answer_text;
            }
            rules.check(lead)
        });
        match self.store_update(id, change, None).await {
            Ok(Some(lead)) => Ok(lead),
            Ok(None) => Err(AccessError::NotFound),
            // Already completed: idempotent, nothing changes.
            Err(StoreError::Rejected(LeadError::AlreadyCompleted)) => {
                self.get_for(viewer, Scope::Visible, id).await
            }
            Err(StoreError::Rejected(error)) => Err(CoreError::Invalid(error).into()),
            Err(error) => Err(error.into()),
        }
    }

    pub fn employees(&self) -> &Employees {
        &self.employees
    }

    /// The directory itself, for the dialects' store-free codecs.
    pub fn shared_employees(&self) -> Arc<Employees> {
        self.employees.clone()
    }

    /// Validates, assigns and stores a lead. Returns only once it is durable.
    pub async fn create_lead(
        &self,
        new: NewLead<'_>,
        rules: &ValidationRules,
    ) -> Result<(Inserted, AssignedBy), CoreError> {
        let NewLead {
            lead,
            requested_assignee,
            created_by,
            default_assignee,
            keep_stage,
            received_via,
        } = new;
        // Boxed once here rather than moved, by value, through every future
        // and channel between this call and the store's writer.
        let mut lead = Box::new(lead);
        let created_at = lead.created_at;
        settle_completion(&mut lead, created_at);
        rules.check(&lead)?;
        let deliver_to = self.forwarding.targets_for(received_via, &lead);
        let queued = deliver_to.clone();
        if lead.created_by.is_none() {
            lead.created_by = created_by.map(|employee| employee.id);
        }
        if lead.received_via.is_none() {
            lead.received_via = Some(received_via.to_owned());
        }
        let (inserted, assigned_by) = match assign::plan(
            &self.employees,
            &mut lead,
            requested_assignee,
            default_assignee,
        ) {
            assign::Plan::Decided(assigned_by) => {
                if lead.stage == Stage::New && !keep_stage {
                    lead.stage = Stage::InProgress;
                }
                let inserted = self
                    .store
                    .insert(lead, Assignment::default(), deliver_to)
                    .await?;
                (inserted, assigned_by)
            }
            assign::Plan::InStore(mut assignment) => {
                if keep_stage {
                    assignment.stage_when_found = None;
                }
                let fallback = assignment.fallback;
                let inserted = self.store.insert(lead, assignment, deliver_to).await?;
                let assigned_by = if inserted.assigned_by_contact {
                    AssignedBy::EarlierContact
                } else if fallback.is_some() {
                    AssignedBy::Default
                } else {
                    AssignedBy::Nobody
                };
                (inserted, assigned_by)
            }
        };
        if inserted.created {
            self.doorbell.ring(&queued);
            crate::meters::leads_accepted(received_via, 1);
        }
        Ok((inserted, assigned_by))
    }

    pub async fn get(&self, id: LeadId) -> Result<Option<Lead>, CoreError> {
        Ok(self.store.get(id).await?)
    }

    /// Applies `change` to a stored lead and validates the result, inside
    /// the store's transaction. `None` when there is no such lead.
    pub async fn update(
        &self,
        id: LeadId,
        change: impl FnOnce(&mut Lead) -> Result<(), LeadError> + Send + 'static,
        rules: &ValidationRules,
    ) -> Result<Option<Lead>, CoreError> {
        self.validated_update(id, change, rules, None).await
    }

    /// A change that came from target `source` (its CRM changed the lead):
    /// applied and validated like [`Core::update`], and forwarded to every
    /// other target that applies changes, never back to `source`.
    pub async fn update_from_target(
        &self,
        source: &str,
        id: LeadId,
        change: impl FnOnce(&mut Lead) -> Result<(), LeadError> + Send + 'static,
        rules: &ValidationRules,
    ) -> Result<Option<Lead>, CoreError> {
        self.validated_update(id, change, rules, Some(source)).await
    }

    async fn validated_update(
        &self,
        id: LeadId,
        change: impl FnOnce(&mut Lead) -> Result<(), LeadError> + Send + 'static,
        rules: &ValidationRules,
        source: Option<&str>,
    ) -> Result<Option<Lead>, CoreError> {
        let rules = rules.clone();
        let now = self.now();
        let change: LeadChange = Box::new(move |lead: &mut Lead| {
            change(lead)?;
            settle_completion(lead, now);
            rules.check(lead)
        });
        match self.store_update(id, change, source).await {
            Ok(updated) => Ok(updated),
            Err(StoreError::Rejected(error)) => Err(CoreError::Invalid(error)),
            Err(error) => Err(CoreError::Store(error)),
        }
    }

    /// Every change a caller makes goes through here: the store queues it
    /// for the targets that apply changes (but `source`, where it came
    /// from), and their workers are woken.
    async fn store_update(
        &self,
        id: LeadId,
        change: LeadChange,
        source: Option<&str>,
    ) -> Result<Option<Lead>, StoreError> {
        let targets: Vec<String> = self
            .forwarding
            .updates_to()
            .iter()
            .filter(|target| Some(target.as_str()) != source)
            .cloned()
            .collect();
        let wake = targets.clone();
        let updated = self.store.update_and_forward(id, change, targets).await?;
        if !wake.is_empty() {
            self.doorbell.ring(&wake);
        }
        Ok(updated)
    }

    /// Removes a lead; `false` when there was none.
    pub async fn delete(&self, id: LeadId) -> Result<bool, CoreError> {
        Ok(self.store.delete(id).await?)
    }

    /// [`Core::update`] on behalf of `viewer`: refused, changing nothing,
    /// when the lead as stored is outside the viewer's rights
    /// ([`access::Routing::can_change`]); the check runs inside the store's
    /// transaction, so a concurrent reassignment cannot slip past it.
    pub async fn update_for(
        &self,
        viewer: &Employee,
        id: LeadId,
        change: impl FnOnce(&mut Lead) -> Result<(), LeadError> + Send + 'static,
        rules: &ValidationRules,
    ) -> Result<Lead, AccessError> {
        let routing = self.routing.clone();
        let viewer = viewer.clone();
        let guarded = move |lead: &mut Lead| {
            if !routing.can_change(&viewer, lead) {
                return Err(LeadError::NotPermitted);
            }
            change(lead)
        };
        match self.update(id, guarded, rules).await {
            Ok(Some(lead)) => Ok(lead),
            Ok(None) => Err(AccessError::NotFound),
            Err(CoreError::Invalid(LeadError::NotPermitted)) => Err(AccessError::Forbidden),
            Err(error) => Err(error.into()),
        }
    }

    /// [`Core::delete`] on behalf of `viewer`, refused outside their rights.
    /// The rights are checked on the lead as the delete's transaction
    /// finds it, so a reassignment just before cannot slip through.
    pub async fn delete_for(&self, viewer: &Employee, id: LeadId) -> Result<(), AccessError> {
        let routing = self.routing.clone();
        let viewer = viewer.clone();
        let check = Box::new(move |lead: &Lead| routing.can_change(&viewer, lead));
        match self.store.delete_if(id, Some(check)).await? {
            Deleted::Deleted => Ok(()),
            Deleted::Missing => Err(AccessError::NotFound),
            Deleted::Refused => Err(AccessError::Forbidden),
        }
    }

    pub async fn query(&self, query: LeadQuery) -> Result<LeadPage, CoreError> {
        Ok(self.store.query(query).await?)
    }

    /// Open leads created and leads completed in the calendar month that holds
    /// `now` on the wall clock of `timezone`, for every active employee in
    /// configuration order (employees with nothing get zeros).
    pub async fn monthly_stats(
        &self,
        now: DateTime<Utc>,
        timezone: FixedOffset,
    ) -> Result<Vec<EmployeeStats<'_>>, CoreError> {
        let window = month_window(now, timezone);
        let counted = self.store.assignee_stats(window).await?;
        Ok(self
            .employees
            .active()
            .map(|employee| {
                let found = counted.iter().find(|stats| stats.employee == employee.id);
                EmployeeStats {
                    employee,
                    open: found.map_or(0, |stats| stats.open),
                    processed: found.map_or(0, |stats| stats.processed),
                }
            })
            .collect())
    }
}

/// The calendar month holding `now` in `timezone`, as a UTC window.
pub fn month_window(now: DateTime<Utc>, timezone: FixedOffset) -> TimeRange {
    let local = now.with_timezone(&timezone).date_naive();
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1);
    let next = first.and_then(|first| first.checked_add_months(chrono::Months::new(1)));
    let start_of = |day: NaiveDate| {
        timezone
            .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .single()
            .map(|time| time.with_timezone(&Utc))
    };
    TimeRange {
        from: first.and_then(start_of),
        to: next.and_then(start_of),
    }
}

#[cfg(test)]
mod tests;

/// A lead is completed exactly while its stage is closed, whichever
/// dialect moved it: closed without a completion time (Bitrix24 `STATUS_ID`
/// of a closed semantic, a SalesMan or UIS status) it is completed `now`;
/// reopened, it is no longer completed. SalesMan's `datum_do` and `stat`
/// read the completion.
fn settle_completion(lead: &mut Lead, now: DateTime<Utc>) {
    if lead.stage.is_open() {
        lead.completed_at = None;
        lead.completed_by = None;
    } else if lead.completed_at.is_none() {
        lead.completed_at = Some(now.max(lead.created_at));
    }
}
