//! Configuration problems, and the checks every settings section shares.
//!
//! Each section (a dialect's, forwarding's, the server's) checks itself
//! into one [`Problems`] list, so `leadgate check` reports everything wrong
//! at once, each with its file, key and reason. Cross-references between
//! sections ("this login must be an employee") go through one helper here
//! so they read the same everywhere.

use thiserror::Error;

use crate::lead::Employee;
use crate::mapping::MappingError;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: {key}: {problem}")]
pub struct ConfigProblem {
    pub file: String,
    pub key: String,
    pub problem: String,
}

impl From<MappingError> for ConfigProblem {
    fn from(error: MappingError) -> Self {
        ConfigProblem {
            file: error.file,
            key: error.key,
            problem: error.problem,
        }
    }
}

/// Problems one per line, indented, for an error message.
pub fn listed(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The problems found so far in one configuration file, and what checks
/// need to know about the rest of it.
pub struct Problems<'a> {
    source: &'a str,
    employees: &'a [Employee],
    found: Vec<ConfigProblem>,
}

impl<'a> Problems<'a> {
    /// Problems of the file `source`, whose `[[employees]]` are `employees`.
    pub fn new(source: &'a str, employees: &'a [Employee]) -> Problems<'a> {
        Problems {
            source,
            employees,
            found: Vec::new(),
        }
    }

    pub fn add(&mut self, key: &str, problem: impl Into<String>) {
        self.found.push(ConfigProblem {
            file: self.source.to_owned(),
            key: key.to_owned(),
            problem: problem.into(),
        });
    }

    /// A problem found in another file (a mapping file names its own).
    pub fn push(&mut self, problem: ConfigProblem) {
        self.found.push(problem);
    }

    /// The employee whose login is `login` (case-insensitive); a problem at
    /// `key` when there is none.
    pub fn employee(&mut self, key: &str, login: &str) -> Option<&'a Employee> {
        let found = self
            .employees
            .iter()
            .find(|employee| employee.login.eq_ignore_ascii_case(login));
        if found.is_none() {
            self.add(
                key,
                format!("{login:?} is not the login of any [[employees]] entry"),
            );
        }
        found
    }

    /// A problem at `key` when `value` is empty or only white space.
    pub fn not_blank(&mut self, key: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(key, "must not be empty");
        }
    }

    /// A problem at `key` when `value` is zero.
    pub fn above_zero(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.add(key, "must be above 0");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    pub fn into_vec(self) -> Vec<ConfigProblem> {
        self.found
    }
}
