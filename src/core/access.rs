//! Who sees which leads, and how much of them: LiveTex's access levels
//! (seed 000), applied here once for every dialect that has roles.
//!
//! - admin and admin_partner: every lead, full data;
//! - chief: every lead, without `text` and `answer_text`;
//! - chief_partner: every lead, full data only for their own;
//! - manager and operator: their own leads and the leads routed to them.
//!
//! "Own" is a lead assigned to or created by the employee (LiveTex's
//! `is_managed`); "routed" is a lead the routing rules in config send to the
//! employee, by site and department.

use crate::lead::path::{EmployeeAttr, EmployeeSlot, FieldPath};
use crate::lead::{Employee, EmployeeId, Lead, Role};
use crate::store::{Compare, Condition, Operand};

/// One routing rule: leads of these sites and departments (an empty list
/// means any) go to these employees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingRule {
    pub site_ids: Vec<i64>,
    pub department_ids: Vec<i64>,
    pub employees: Vec<EmployeeId>,
}

#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub rules: Vec<RoutingRule>,
}

/// Which leads a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything the employee's role lets them see (`Leads.list`).
    Visible,
    /// Only leads routed to the employee (`Leads.listRouted`).
    Routed,
}

fn condition(field: FieldPath, compare: Compare, operands: Vec<Operand>) -> Condition {
    Condition {
        field,
        compare,
        operands,
    }
}

fn ids(list: &[i64]) -> Vec<Operand> {
    list.iter().map(|id| Operand::Int(*id)).collect()
}

impl RoutingRule {
    fn matches(&self, lead: &Lead) -> bool {
        let site =
            self.site_ids.is_empty() || lead.site.id.is_some_and(|id| self.site_ids.contains(&id));
        let department = self.department_ids.is_empty()
            || lead
                .department_id
                .is_some_and(|id| self.department_ids.contains(&id));
        site && department
    }

    /// The same test as store conditions.
    fn conditions(&self) -> Vec<Condition> {
        let mut group = Vec::new();
        if !self.site_ids.is_empty() {
            group.push(condition(
                FieldPath::parse("site.id").unwrap_or(FieldPath::Id),
                Compare::In,
                ids(&self.site_ids),
            ));
        }
        if !self.department_ids.is_empty() {
            group.push(condition(
                FieldPath::parse("department_id").unwrap_or(FieldPath::Id),
                Compare::In,
                ids(&self.department_ids),
            ));
        }
        group
    }
}

impl Routing {
    fn rules_for(&self, employee: EmployeeId) -> impl Iterator<Item = &RoutingRule> {
        self.rules
            .iter()
            .filter(move |rule| rule.employees.contains(&employee))
    }

    pub fn is_routed(&self, employee: &Employee, lead: &Lead) -> bool {
        self.rules_for(employee.id).any(|rule| rule.matches(lead))
    }

    /// Store condition groups, one of which a lead must meet to be seen.
    /// Empty means no restriction.
    pub fn scope(&self, employee: &Employee, scope: Scope) -> Vec<Vec<Condition>> {
        let routed: Vec<Vec<Condition>> = self
            .rules_for(employee.id)
            .map(RoutingRule::conditions)
            .collect();
        let nothing = || vec![vec![condition(FieldPath::Id, Compare::In, Vec::new())]];
        match scope {
            Scope::Routed if routed.is_empty() => nothing(),
            Scope::Routed => routed,
            Scope::Visible if sees_every_lead(employee.role) => Vec::new(),
            Scope::Visible => {
                let mut groups = routed;
                for slot in [EmployeeSlot::AssignedTo, EmployeeSlot::CreatedBy] {
                    groups.push(vec![condition(
                        FieldPath::Employee(slot, EmployeeAttr::Id),
                        Compare::Equal,
                        vec![Operand::Int(employee.id)],
                    )]);
                }
                groups
            }
        }
    }

    /// Whether `employee` may see `lead` at all in `scope`.
    pub fn can_see(&self, employee: &Employee, lead: &Lead, scope: Scope) -> bool {
        match scope {
            Scope::Routed => self.is_routed(employee, lead),
            Scope::Visible => {
                sees_every_lead(employee.role)
                    || is_own(employee, lead)
                    || self.is_routed(employee, lead)
            }
        }
    }
}

impl Routing {
    /// Whether `employee` may change or delete `lead`: an administrator any
    /// lead; everyone else (a chief reads all, but changes as a manager
    /// does) only their own and the ones routed to them.
    pub fn can_change(&self, employee: &Employee, lead: &Lead) -> bool {
        changes_every_lead(employee.role)
            || is_own(employee, lead)
            || self.is_routed(employee, lead)
    }
}

fn changes_every_lead(role: Role) -> bool {
    matches!(role, Role::Admin | Role::AdminPartner)
}

fn sees_every_lead(role: Role) -> bool {
    matches!(
        role,
        Role::Admin | Role::AdminPartner | Role::Chief | Role::ChiefPartner
    )
}

/// LiveTex's `is_managed`: one of the employee's own leads.
pub fn is_own(employee: &Employee, lead: &Lead) -> bool {
    lead.assigned_to == Some(employee.id) || lead.created_by == Some(employee.id)
}

/// Removes what the employee's role may not read.
pub fn redact(employee: &Employee, lead: &mut Lead) {
    let hide_texts = match employee.role {
        Role::Chief => true,
        Role::ChiefPartner => !is_own(employee, lead),
        _ => false,
    };
    if hide_texts {
        lead.text = None;
        lead.answer_text = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn employee(id: EmployeeId, role: Role) -> Employee {
        Employee {
            id,
            name: format!("e{id}"),
            login: format!("e{id}@example.ru"),
            role,
            active: true,
        }
    }

    #[test]
    fn roles_see_and_read_as_the_seed_says() {
        let routing = Routing {
            rules: vec![RoutingRule {
                site_ids: vec![12],
                department_ids: vec![],
                employees: vec![3],
            }],
        };
        let mut lead = Lead::default();
        lead.site.id = Some(12);
        lead.assigned_to = Some(9);
        lead.text = Some("secret".into());
        let operator = employee(3, Role::Operator);
        let stranger = employee(4, Role::Manager);
        assert!(routing.can_see(&operator, &lead, Scope::Visible));
        assert!(routing.can_see(&operator, &lead, Scope::Routed));
        assert!(!routing.can_see(&stranger, &lead, Scope::Visible));
        assert!(routing.can_see(&employee(9, Role::Operator), &lead, Scope::Visible));
        assert!(!routing.can_see(&employee(9, Role::Operator), &lead, Scope::Routed));
        assert!(routing.can_see(&employee(5, Role::Chief), &lead, Scope::Visible));

        let mut chief_copy = lead.clone();
        redact(&employee(5, Role::Chief), &mut chief_copy);
        assert_eq!(chief_copy.text, None);
        let mut partner_copy = lead.clone();
        redact(&employee(6, Role::ChiefPartner), &mut partner_copy);
        assert_eq!(partner_copy.text, None);
        let mut own_copy = lead.clone();
        redact(&employee(9, Role::ChiefPartner), &mut own_copy);
        assert_eq!(own_copy.text.as_deref(), Some("secret"));
        let mut admin_copy = lead.clone();
        redact(&employee(1, Role::Admin), &mut admin_copy);
        assert_eq!(admin_copy, lead);
    }
}
