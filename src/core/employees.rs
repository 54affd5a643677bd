//! The configured employees, indexed by id and by login once at start-up.

use std::collections::HashMap;
use std::sync::Arc;

use crate::lead::{Employee, EmployeeDirectory, EmployeeId};

#[derive(Debug, Default)]
pub struct Employees {
    list: Vec<Employee>,
    by_id: HashMap<EmployeeId, usize>,
    /// Lower-cased: logins are e-mails, and people type them in any case.
    by_login: HashMap<String, usize>,
    active_ids: Arc<[EmployeeId]>,
}

impl Employees {
    pub fn new(list: Vec<Employee>) -> Employees {
        let by_id = list
            .iter()
            .enumerate()
            .map(|(index, employee)| (employee.id, index))
            .collect();
        let by_login = list
            .iter()
            .enumerate()
            .map(|(index, employee)| (employee.login.to_lowercase(), index))
            .collect();
        let active_ids = list
            .iter()
            .filter(|employee| employee.active)
            .map(|employee| employee.id)
            .collect();
        Employees {
            list,
            by_id,
            by_login,
            active_ids,
        }
    }

    pub fn by_login(&self, login: &str) -> Option<&Employee> {
        let index = match self.by_login.get(login) {
            Some(index) => Some(index),
            None => self.by_login.get(&login.to_lowercase()),
        };
        index.map(|index| &self.list[*index])
    }

    /// Employees who may receive leads, in configuration order.
    pub fn active(&self) -> impl Iterator<Item = &Employee> {
        self.list.iter().filter(|employee| employee.active)
    }

    /// Ids of the active employees, shared with every insert without copying.
    pub fn active_ids(&self) -> Arc<[EmployeeId]> {
        self.active_ids.clone()
    }
}

impl EmployeeDirectory for Employees {
    fn by_id(&self, id: EmployeeId) -> Option<&Employee> {
        self.by_id.get(&id).map(|index| &self.list[*index])
    }
}
