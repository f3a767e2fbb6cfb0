//! (extension) What a project's agent may do without asking: tool policy rules, the project's
//! fallback mode, what a rule decides for a given call ("try it"), and the audit log of every
//! call's decision.

use serde::{Deserialize, Serialize};

/// What happens to a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Decision {
    /// It runs.
    #[serde(rename = "allow")]
    Allow,
    /// It waits for a person's approval.
    #[serde(rename = "ask")]
    Ask,
    /// It never runs; the model is told the project's policy does not allow it.
    #[serde(rename = "deny")]
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Self::Allow),
            "ask" => Some(Self::Ask),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// What decides a call no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyMode {
    /// Every call runs.
    #[default]
    #[serde(rename = "allowAll")]
    AllowAll,
    /// Read-only calls run (built-in read-only tools, MCP tools annotated `readOnlyHint`);
    /// everything else asks.
    #[serde(rename = "askWrites")]
    AskWrites,
    /// Every call asks.
    #[serde(rename = "askAll")]
    AskAll,
}

impl PolicyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowAll => "allowAll",
            Self::AskWrites => "askWrites",
            Self::AskAll => "askAll",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowAll" => Some(Self::AllowAll),
            "askWrites" => Some(Self::AskWrites),
            "askAll" => Some(Self::AskAll),
            _ => None,
        }
    }
}

/// A rule as written: create and replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ToolPolicyInput {
    /// A tool's name or a glob over names, built-in and MCP alike: `write_file`,
    /// `mcp__payments__refund*`, `mcp__crm__*`.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 200, example = "mcp__payments__refund*")
    )]
    pub tool: String,
    pub decision: Decision,
    /// A CEL expression over the call: `args` (its arguments) and `tool` (its name), e.g.
    /// `args.amount > 100`. The rule applies only when it is true; an expression that fails
    /// when a call is checked counts as `ask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2000, example = "args.amount > 100")
    )]
    pub condition: Option<String>,
    /// Why the rule exists, for the people who read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub note: Option<String>,
}

/// A rule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ToolPolicy {
    pub id: String,
    pub tool: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// "Try it": a call to decide, without running anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyCheckRequest {
    pub tool: String,
    /// The call's arguments (an object); none when omitted.
    #[serde(default)]
    pub args: serde_json::Value,
    /// Whether the tool is read-only, for the `askWrites` mode; the server knows for
    /// built-in tools and answers from that when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// What the project's policy decides for one call, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyCheck {
    pub decision: Decision,
    /// The rule that decided; none when the project's mode did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<ToolPolicy>,
    /// In words: which rule, or which mode, and conditions that failed.
    pub reason: String,
    /// Every rule whose pattern and condition matched.
    pub matched: Vec<ToolPolicy>,
}

/// Who answered a call that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    /// `user`, `apiKey` or `endUser`.
    pub kind: String,
    pub id: String,
    /// A person's username, a key's name, an end user's id.
    pub name: String,
}

/// One tool call's decision and outcome. Rows are only ever added; each part (the answer,
/// the outcome) is written once, when it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    /// When the policy decided.
    pub time: String,
    pub task_id: String,
    pub call_id: String,
    pub tool: String,
    /// The arguments, with secrets redacted.
    pub args: serde_json::Value,
    /// What the policy decided: `allow`, `ask` or `deny`.
    pub decision: Decision,
    /// The rule that decided (as it read then); none when the mode or the task did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<AuditRule>,
    pub reason: String,
    /// For `ask`: `approved` or `denied`, once someone answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<AuditActor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// `success`, `error`, `denied` or `cancelled`; none while it is still open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// A rule as an audit entry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditRule {
    pub id: String,
    pub tool: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// The filters of `GET …/audit` and `…/audit/export`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// A tool's name, or a pattern with `*` (`mcp__payments__*`).
    pub tool: Option<String>,
    /// `allow`, `ask` or `deny`.
    pub decision: Option<String>,
    /// Who answered: a person's username or id, an API key's name or id.
    pub person: Option<String>,
    pub task_id: Option<String>,
    /// From this time on (RFC 3339, or a date: `2026-12-01`).
    pub from: Option<String>,
    /// Before this time (RFC 3339, or a date, meaning its end).
    pub to: Option<String>,
    /// The `nextCursor` of the previous page.
    pub before: Option<String>,
    /// Entries per page, 1–200 (50). The export takes at most this many (all when omitted).
    pub limit: Option<u64>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; none on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A named block of text added to every task's system prompt, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PromptInput {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 20000))]
    pub content: String,
    /// Added to tasks when true (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Where it goes among the project's prompts (0 first); last when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub position: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    pub id: String,
    pub name: String,
    pub content: String,
    pub enabled: bool,
    pub position: u32,
    pub created_at: String,
    pub updated_at: String,
}
