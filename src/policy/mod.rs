//! A project's tool policy: which calls run, which wait for a person, which never run.
//!
//! Among the rules that match a call (pattern, then condition), `deny` beats `ask` beats
//! `allow`; a condition that fails on the call counts as `ask`, never as `allow`. A call no
//! rule matches is decided by the project's mode.

mod rule;
pub mod store;

pub use protocol::policy::{Decision, PolicyMode};
pub use rule::{
    Bindings, Condition, MAX_CONDITION_CHARS, MAX_PATTERN_CHARS, Rule, RuleError, ToolPattern,
};

use serde_json::Value;

/// A project's rules and mode, compiled once and shared by every call they decide.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    rules: Vec<Rule>,
    mode: PolicyMode,
}

/// What decided a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The rule with this id.
    Rule(String),
    /// No rule matched: the project's mode.
    Mode(PolicyMode),
}

/// The decision for one call, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub source: Source,
    pub reason: String,
    /// The ids of every rule that matched (pattern and condition), in the set's order.
    pub matched: Vec<String>,
}

impl PolicySet {
    pub fn new(rules: Vec<Rule>, mode: PolicyMode) -> Self {
        Self { rules, mode }
    }

    pub fn mode(&self) -> PolicyMode {
        self.mode
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Decides a call of `tool` with `args`; `read_only` says whether the tool only reads
    /// (for the `askWrites` mode).
    pub fn evaluate(&self, tool: &str, args: &Value, read_only: bool) -> Evaluation {
        // The strongest decision so far, what made it, and why.
        let mut best: Option<(Decision, &str, String)> = None;
        let mut matched = Vec::new();
        // Made for the first condition this call meets, then shared by the rest.
        let mut bindings: Option<Bindings> = None;
        for rule in self.rules.iter().filter(|r| r.pattern.matches(tool)) {
            let (decision, why) = match &rule.condition {
                None => (
                    rule.decision,
                    format!(
                        "rule `{}` → {}",
                        rule.pattern.as_str(),
                        rule.decision.as_str()
                    ),
                ),
                Some(c) => match c.holds(bindings.get_or_insert_with(|| Bindings::new(tool, args)))
                {
                    Ok(true) => (
                        rule.decision,
                        format!(
                            "rule `{}` when `{}` → {}",
                            rule.pattern.as_str(),
                            c.as_str(),
                            rule.decision.as_str()
                        ),
                    ),
                    Ok(false) => continue,
                    // Unknown whether it applies: a person decides, whatever the rule says
                    // (a failing `deny` condition still asks rather than allows).
                    Err(e) => (
                        Decision::Ask,
                        format!(
                            "rule `{}`: its condition `{}` failed on this call ({e}), so a person decides",
                            rule.pattern.as_str(),
                            c.as_str()
                        ),
                    ),
                },
            };
            matched.push(rule.id.clone());
            if best.as_ref().is_none_or(|(d, ..)| decision > *d) {
                best = Some((decision, rule.id.as_str(), why));
            }
        }
        if let Some((decision, id, reason)) = best {
            return Evaluation {
                decision,
                source: Source::Rule(id.to_owned()),
                reason,
                matched,
            };
        }
        let (decision, reason) = match self.mode {
            PolicyMode::AllowAll => (
                Decision::Allow,
                "no rule matched; the project allows every call",
            ),
            PolicyMode::AskWrites if read_only => (
                Decision::Allow,
                "no rule matched; the tool only reads, and the project asks only for writes",
            ),
            PolicyMode::AskWrites => (
                Decision::Ask,
                "no rule matched; the project asks for anything that writes",
            ),
            PolicyMode::AskAll => (
                Decision::Ask,
                "no rule matched; the project asks for every call",
            ),
        };
        Evaluation {
            decision,
            source: Source::Mode(self.mode),
            reason: reason.to_owned(),
            matched,
        }
    }

    /// Tools a rule without a condition denies outright: they need not be offered at all.
    pub fn hides(&self, tool: &str) -> bool {
        self.rules.iter().any(|r| {
            r.decision == Decision::Deny && r.condition.is_none() && r.pattern.matches(tool)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn rule(id: &str, tool: &str, decision: Decision, condition: Option<&str>) -> Rule {
        Rule::new(id.to_owned(), tool, decision, condition).unwrap()
    }

    #[test]
    fn deny_beats_ask_beats_allow() {
        let set = PolicySet::new(
            vec![
                rule("a", "mcp__payments__*", Decision::Allow, None),
                rule(
                    "b",
                    "mcp__payments__refund*",
                    Decision::Ask,
                    Some("args.amount > 100"),
                ),
                rule("c", "mcp__payments__refund_all", Decision::Deny, None),
            ],
            PolicyMode::AskAll,
        );
        let e = set.evaluate("mcp__payments__refund", &json!({"amount": 250}), false);
        assert_eq!(
            (e.decision, e.source),
            (Decision::Ask, Source::Rule("b".into()))
        );
        assert_eq!(e.matched, vec!["a", "b"]);
        let e = set.evaluate("mcp__payments__refund", &json!({"amount": 50}), false);
        assert_eq!(
            (e.decision, e.source),
            (Decision::Allow, Source::Rule("a".into()))
        );
        let e = set.evaluate("mcp__payments__refund_all", &json!({"amount": 1}), false);
        assert_eq!(
            (e.decision, e.source),
            (Decision::Deny, Source::Rule("c".into()))
        );
        assert!(set.hides("mcp__payments__refund_all"));
        assert!(!set.hides("mcp__payments__refund"));
    }

    #[test]
    fn a_failing_condition_asks_even_for_allow_and_deny() {
        let set = PolicySet::new(
            vec![
                rule(
                    "a",
                    "send",
                    Decision::Allow,
                    Some("args.to.endsWith('@us.com')"),
                ),
                rule("d", "wipe", Decision::Deny, Some("args.really")),
            ],
            PolicyMode::AllowAll,
        );
        let e = set.evaluate("send", &json!({}), true);
        assert_eq!(e.decision, Decision::Ask, "{}", e.reason);
        assert!(e.reason.contains("failed"), "{}", e.reason);
        assert_eq!(
            set.evaluate("wipe", &json!({}), true).decision,
            Decision::Ask
        );
        assert_eq!(
            set.evaluate("wipe", &json!({"really": true}), true)
                .decision,
            Decision::Deny
        );
    }

    #[test]
    fn the_mode_decides_what_no_rule_matches() {
        let modes = |mode| PolicySet::new(Vec::new(), mode);
        let args = json!({});
        assert_eq!(
            modes(PolicyMode::AllowAll)
                .evaluate("x", &args, false)
                .decision,
            Decision::Allow
        );
        assert_eq!(
            modes(PolicyMode::AskWrites)
                .evaluate("x", &args, true)
                .decision,
            Decision::Allow
        );
        assert_eq!(
            modes(PolicyMode::AskWrites)
                .evaluate("x", &args, false)
                .decision,
            Decision::Ask
        );
        assert_eq!(
            modes(PolicyMode::AskAll)
                .evaluate("x", &args, true)
                .decision,
            Decision::Ask
        );
    }
}
