//! Whether a tool call runs at once or waits for a person. Today a task's `autoExecute` and
//! the tools a person allowed for the rest of the task ("always") decide; a project's rules
//! plug in here.

use serde_json::Value;

use crate::store::entities::task;

/// What happens to a call before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Run,
    Ask,
}

/// The rules a run's calls are held to, read from the task when its calls are worked on (the
/// allowed tools grow as people answer "always").
pub(super) struct Policy {
    auto_execute: bool,
    allowed_tools: Vec<String>,
}

impl Policy {
    pub fn of(task: &task::Model) -> Self {
        Self {
            auto_execute: task.auto_execute,
            allowed_tools: serde_json::from_str(&task.allowed_tools).unwrap_or_default(),
        }
    }

    pub fn verdict(&self, tool: &str, _args: &Value) -> Verdict {
        if self.auto_execute || self.allowed_tools.iter().any(|t| t == tool) {
            Verdict::Run
        } else {
            Verdict::Ask
        }
    }
}
