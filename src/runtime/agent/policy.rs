//! Whether a call runs at once, waits for a person, or never runs: the project's tool policy
//! (`crate::policy`), then what the task adds. `autoExecute: false` asks for every call the
//! project would allow; it never lifts a project's `ask` or `deny`. A tool a person allowed
//! "always" in this task runs without asking where only the project's mode or the task's
//! `autoExecute` asked, never past an explicit `ask` rule, which asks every time.

use protocol::policy::{AuditRule, Decision};

use crate::ledger::Decided;
use crate::policy::{PolicySet, Source};
use crate::runtime::conversation::StoredCall;
use crate::sandbox::Redactor;
use crate::store::entities::task;

pub(super) struct Policy<'a> {
    set: &'a PolicySet,
    auto_execute: bool,
    /// Tools people allowed for the rest of the task (they grow as people answer "always").
    allowed_tools: Vec<String>,
}

impl<'a> Policy<'a> {
    pub fn of(task: &task::Model, set: &'a PolicySet) -> Self {
        Self {
            set,
            auto_execute: task.auto_execute,
            allowed_tools: serde_json::from_str(&task.allowed_tools).unwrap_or_default(),
        }
    }

    /// The decision for a call not decided yet, with its record for the audit log.
    pub fn decide(&self, call: &StoredCall, read_only: bool, redactor: &Redactor) -> Decided {
        let tool = call.tool_name.as_str();
        let found = self.set.evaluate(tool, &call.args, read_only);
        let by_rule = match &found.source {
            Source::Rule(id) => self.set.rule(id),
            Source::Mode(_) => None,
        };
        let allowed_always = self.allowed_tools.iter().any(|t| t == tool);
        let (decision, reason) = match found.decision {
            Decision::Deny => (Decision::Deny, found.reason),
            Decision::Ask if by_rule.is_none() && allowed_always => (
                Decision::Allow,
                format!(
                    "{}; a person allowed this tool for the rest of the task",
                    found.reason
                ),
            ),
            Decision::Ask => (Decision::Ask, found.reason),
            Decision::Allow if !self.auto_execute && !allowed_always => (
                Decision::Ask,
                format!(
                    "{}; the task asks before every call (autoExecute is false)",
                    found.reason
                ),
            ),
            Decision::Allow => (Decision::Allow, found.reason),
        };
        Decided {
            call_id: call.call_id.clone(),
            tool: tool.to_owned(),
            args: redactor.redact_json(call.args.clone()),
            decision,
            rule: by_rule.map(|r| AuditRule {
                id: r.id.clone(),
                tool: r.pattern.as_str().to_owned(),
                decision: r.decision,
                condition: r.condition.as_ref().map(|c| c.as_str().to_owned()),
            }),
            reason,
        }
    }
}
