//! Task secrets, in this process's memory only (never in the store), for as long as the run
//! that uses them: they are dropped when it completes or fails, when the task is cancelled or
//! deleted, and when someone other than the caller who supplied them follows up.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

/// Secret values by name. `Debug` never prints a value, so no log line can leak one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(BTreeMap<String, String>);

impl SecretValues {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self(values)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values, for the sandbox's environment and the redactor.
    pub fn expose(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

/// Who supplied a task's secrets: an API key, or a person with their session. Only they may
/// send a message the secrets are used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOwner {
    ApiKey(String),
    Person(String),
    /// A widget's end user: their secrets come from the token exchange, not a request.
    EndUser(String),
}

struct Held {
    owner: SecretOwner,
    values: SecretValues,
}

/// The secrets of the tasks this process runs.
#[derive(Default)]
pub struct SecretStore {
    held: Mutex<HashMap<String, Held>>,
}

impl SecretStore {
    pub fn remember(&self, task_id: &str, owner: SecretOwner, values: SecretValues) {
        if values.is_empty() {
            return;
        }
        if let Ok(mut held) = self.held.lock() {
            held.insert(task_id.to_owned(), Held { owner, values });
        }
    }

    pub fn values(&self, task_id: &str) -> SecretValues {
        self.held
            .lock()
            .ok()
            .and_then(|h| h.get(task_id).map(|s| s.values.clone()))
            .unwrap_or_default()
    }

    /// Whether the task holds secrets that `caller` did not supply.
    pub fn held_for_other(&self, task_id: &str, caller: &SecretOwner) -> bool {
        self.held
            .lock()
            .ok()
            .and_then(|h| h.get(task_id).map(|s| &s.owner != caller))
            .unwrap_or(false)
    }

    pub fn forget(&self, task_id: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(task_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_a_value() {
        let values = SecretValues::new(BTreeMap::from([(
            "TOKEN".to_owned(),
            "s3cr3t-value".to_owned(),
        )]));
        let printed = format!("{values:?}");
        assert!(
            printed.contains("TOKEN") && !printed.contains("s3cr3t"),
            "{printed}"
        );
    }
}
