//! One tool policy rule, checked and compiled: a pattern over tool names, a decision, and an
//! optional CEL condition over the call.

use std::sync::Arc;

use globset::{Glob, GlobMatcher};
use protocol::policy::Decision;
use serde_json::Value;

/// Longest pattern and condition a rule may have.
pub const MAX_PATTERN_CHARS: usize = 200;
pub const MAX_CONDITION_CHARS: usize = 2000;

/// Why a rule cannot be saved; each names the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("a tool name or glob is required")]
    EmptyPattern,
    #[error("at most {MAX_PATTERN_CHARS} characters")]
    PatternTooLong,
    #[error("not a valid glob: {0}")]
    BadPattern(String),
    #[error("at most {MAX_CONDITION_CHARS} characters")]
    ConditionTooLong,
    /// `line` and `column` count from 1.
    #[error("line {line}, column {column}: {message}")]
    BadCondition {
        line: usize,
        column: usize,
        message: String,
    },
}

impl RuleError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::EmptyPattern | Self::PatternTooLong | Self::BadPattern(_) => "tool",
            Self::ConditionTooLong | Self::BadCondition { .. } => "condition",
        }
    }
}

/// A glob over tool names (`*` matches across `__`, so `mcp__crm__*` is every CRM tool).
#[derive(Debug, Clone)]
pub struct ToolPattern {
    source: String,
    /// `None` for a plain name, compared as it is.
    matcher: Option<GlobMatcher>,
}

impl ToolPattern {
    pub fn parse(source: &str) -> Result<Self, RuleError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(RuleError::EmptyPattern);
        }
        if source.chars().count() > MAX_PATTERN_CHARS {
            return Err(RuleError::PatternTooLong);
        }
        let matcher = if source.contains(['*', '?', '[', '{']) {
            let glob =
                Glob::new(source).map_err(|e| RuleError::BadPattern(e.kind().to_string()))?;
            Some(glob.compile_matcher())
        } else {
            None
        };
        Ok(Self {
            source: source.to_owned(),
            matcher,
        })
    }

    fn literal(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            matcher: None,
        }
    }

    pub fn matches(&self, tool: &str) -> bool {
        match &self.matcher {
            None => self.source == tool,
            Some(m) => m.is_match(tool),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A call as conditions read it (`args`, `tool`), made once per call: building CEL's
/// environment and converting the arguments cost more than most conditions do.
pub struct Bindings(Result<cel::Context<'static, 'static>, String>);

impl Bindings {
    pub fn new(tool: &str, args: &Value) -> Self {
        let mut context = cel::Context::default();
        let bound = context
            .add_variable("args", args)
            .map_err(|e| format!("the arguments cannot be read: {e}"));
        context.add_variable_from_value("tool", tool.to_owned());
        Self(bound.map(|()| context))
    }
}

/// A compiled CEL expression over `args` and `tool`.
#[derive(Clone)]
pub struct Condition {
    source: String,
    /// A stored condition that no longer compiles (a newer CEL reads it differently) fails
    /// on every call, so its rule asks.
    program: Result<Arc<cel::Program>, String>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl Condition {
    pub fn compile(source: &str) -> Result<Self, RuleError> {
        if source.chars().count() > MAX_CONDITION_CHARS {
            return Err(RuleError::ConditionTooLong);
        }
        let program = cel::Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map_or((0, 0), |e| e.pos);
            // cel counts both from 1.
            RuleError::BadCondition {
                line: usize::try_from(line).unwrap_or(0).max(1),
                column: usize::try_from(column).unwrap_or(0).max(1),
                message: first.map_or_else(|| errors.to_string(), |e| e.msg.clone()),
            }
        })?;
        Ok(Self {
            source: source.to_owned(),
            program: Ok(Arc::new(program)),
        })
    }

    /// A condition read back from the database, checked when it was saved.
    pub fn stored(source: &str) -> Self {
        Self::compile(source).unwrap_or_else(|e| Self {
            source: source.to_owned(),
            program: Err(e.to_string()),
        })
    }

    /// Whether the call meets the condition; an error when the expression fails on it (a
    /// missing key, a type it cannot compare) or is not true or false.
    pub fn holds(&self, call: &Bindings) -> Result<bool, String> {
        let context = call.0.as_ref().map_err(Clone::clone)?;
        let program = self
            .program
            .as_ref()
            .map_err(|e| format!("it does not compile: {e}"))?;
        match program.execute(context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("it gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A rule ready to be checked against calls.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub pattern: ToolPattern,
    pub decision: Decision,
    pub condition: Option<Condition>,
}

impl Rule {
    pub fn new(
        id: String,
        tool: &str,
        decision: Decision,
        condition: Option<&str>,
    ) -> Result<Self, RuleError> {
        let condition = condition
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Condition::compile)
            .transpose()?;
        Ok(Self {
            id,
            pattern: ToolPattern::parse(tool)?,
            decision,
            condition,
        })
    }

    /// A rule read back from the database. It was checked when saved; should its pattern no
    /// longer parse, it matches its own text exactly, and a condition that no longer
    /// compiles makes it ask.
    pub fn stored(id: String, tool: &str, decision: Decision, condition: Option<&str>) -> Self {
        let pattern = ToolPattern::parse(tool).unwrap_or_else(|_| ToolPattern::literal(tool));
        Self {
            id,
            pattern,
            decision,
            condition: condition
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(Condition::stored),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_are_names_or_globs() {
        let crm = ToolPattern::parse("mcp__crm__*").unwrap();
        assert!(crm.matches("mcp__crm__create_ticket"));
        assert!(!crm.matches("mcp__crmx__create_ticket"));
        let exact = ToolPattern::parse("write_file").unwrap();
        assert!(exact.matches("write_file"));
        assert!(!exact.matches("write_files"));
        assert_eq!(ToolPattern::parse("mcp__[").unwrap_err().field(), "tool");
    }

    #[test]
    fn conditions_read_the_arguments() {
        let call = |tool: &str, args: Value| Bindings::new(tool, &args);
        let c = Condition::compile("args.amount > 100").unwrap();
        assert_eq!(c.holds(&call("refund", json!({"amount": 250}))), Ok(true));
        assert_eq!(c.holds(&call("refund", json!({"amount": 50}))), Ok(false));
        assert_eq!(c.holds(&call("refund", json!({"amount": 100.5}))), Ok(true));
        assert!(
            c.holds(&call("refund", json!({}))).is_err(),
            "a missing key fails"
        );
        let to = Condition::compile(r#"args.to.endsWith("@ourcompany.com")"#).unwrap();
        assert_eq!(
            to.holds(&call("send", json!({"to": "a@ourcompany.com"}))),
            Ok(true)
        );
        let many = Condition::compile("size(args.recipients) > 5").unwrap();
        assert_eq!(
            many.holds(&call("send", json!({"recipients": [1, 2, 3, 4, 5, 6]}))),
            Ok(true)
        );
        let named = Condition::compile("tool == 'send' && args.to != ''").unwrap();
        assert_eq!(named.holds(&call("send", json!({"to": "x"}))), Ok(true));
        let not_bool = Condition::compile("args.amount").unwrap();
        assert!(
            not_bool
                .holds(&call("refund", json!({"amount": 1})))
                .is_err()
        );
    }

    #[test]
    fn a_condition_that_does_not_compile_says_where() {
        match Condition::compile("args.amount >") {
            Err(RuleError::BadCondition { line, column, .. }) => {
                assert_eq!(line, 1);
                assert!(column >= 13, "{column}");
            }
            other => panic!("{other:?}"),
        }
    }
}
