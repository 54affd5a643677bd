//! Employees as the canonical model sees them: who a lead is assigned to,
//! who created, locked or completed it. The directory itself comes from config.

use serde::{Deserialize, Serialize};

pub type EmployeeId = i64;

/// LiveTex's role vocabulary, the most detailed of the four dialects; the others
/// only distinguish users from administrators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    AdminPartner,
    Chief,
    ChiefPartner,
    Manager,
    #[default]
    Operator,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub id: EmployeeId,
    pub name: String,
    pub login: String,
    #[serde(default)]
    pub role: Role,
    /// Inactive employees keep their leads but get no new ones and no stats row.
    #[serde(default = "default_active")]
    pub active: bool,
}

fn default_active() -> bool {
    true
}

/// Resolves employee references when a lead is written out. Core implements it
/// over the configured employees; tests implement it over a slice.
pub trait EmployeeDirectory {
    fn by_id(&self, id: EmployeeId) -> Option<&Employee>;
}

impl EmployeeDirectory for Vec<Employee> {
    fn by_id(&self, id: EmployeeId) -> Option<&Employee> {
        self.iter().find(|employee| employee.id == id)
    }
}
