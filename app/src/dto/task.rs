//! Tasks as the Task API, the stream and the Chat UI see them (API.md, "Tasks" and "The
//! stream"). Field names are the public contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Running,
    AwaitingApproval,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running | Self::AwaitingApproval)
    }
}

/// Where a tool call stands. The server stores it as text; the stream and history show the
/// same words (except `approved`, which they show as `pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// Asked for, not started (it runs when its turn in order comes).
    Pending,
    AwaitingApproval,
    /// A person allowed it; runs when its turn comes.
    Approved,
    /// Started. Found like this by a new worker, it was interrupted by a crash.
    Executing,
    Success,
    Error,
    Cancelled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Approved => "approved",
            Self::Executing => "executing",
            Self::Success => "success",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads the words back; anything else is an error, never taken for success.
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "awaiting_approval" => Self::AwaitingApproval,
            "approved" => Self::Approved,
            "executing" => Self::Executing,
            "success" => Self::Success,
            "cancelled" => Self::Cancelled,
            _ => Self::Error,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Error | Self::Cancelled)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Thought {
    pub subject: String,
    pub description: String,
}

/// A tool call as shown in a task's output and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ToolCallView {
    pub call_id: String,
    pub tool_name: String,
    /// `pending`, `awaiting_approval`, `executing`, `success`, `error` or `cancelled`.
    pub status: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub args: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PendingApproval {
    pub call_id: String,
    pub tool_name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub args: Value,
}

/// What the latest run of a task produced so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskOutput {
    pub content: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts: Option<Vec<Thought>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallView>>,
}

/// (extension) Tokens the task's model calls used, and their price where the model's is known.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// The task object. List items carry the same fields without `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub api_key_id: Option<String>,
    pub username: Option<String>,
    pub session_id: String,
    pub conversation_id: String,
    pub status: TaskStatus,
    pub message: String,
    /// (extension) A short title, from the first message.
    pub title: String,
    pub system_prompt: Option<String>,
    pub show_in_history: bool,
    pub auto_execute: bool,
    pub env: Option<BTreeMap<String, String>>,
    pub error: Option<String>,
    /// (extension) `provider/model` the task runs with, once chosen.
    pub model: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub last_activity_at: String,
    pub message_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<TaskOutput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_approvals: Vec<PendingApproval>,
    pub usage: TaskUsage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AttachedFile {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

/// One message of a task's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryMessage {
    pub id: String,
    pub role: MessageRole,
    pub content: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_files: Option<Vec<AttachedFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts: Option<Vec<Thought>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallView>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub task_id: String,
    pub conversation_id: String,
    pub status: TaskStatus,
    pub messages: Vec<HistoryMessage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedTask {
    pub id: String,
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FollowUpAccepted {
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Approved {
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Cancelled {
    pub message: String,
}

/// A file in a task's workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub name: String,
    pub path: String,
    pub size: u64,
    pub mime_type: String,
    /// `document`, `image`, `code`, `data`, `archive`, `other`…
    pub category: String,
    pub modified_at: String,
}

/// The events of `GET /api/v1/tasks/{id}/stream`, as `event: <name>` and `data: <json>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum StreamEvent {
    HistoryMessage(HistoryMessage),
    HistoryDone(HistoryDone),
    Status(StatusEvent),
    Thought(Thought),
    Content(ContentEvent),
    ToolCall(ToolCallEvent),
    ToolResult(ToolResultEvent),
    SubagentStart(SubagentStart),
    SubagentThought(SubagentThought),
    SubagentTool(SubagentTool),
    SubagentEnd(SubagentEnd),
    Error(ErrorEvent),
    Done(DoneEvent),
}

impl StreamEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::HistoryMessage(_) => "history_message",
            Self::HistoryDone(_) => "history_done",
            Self::Status(_) => "status",
            Self::Thought(_) => "thought",
            Self::Content(_) => "content",
            Self::ToolCall(_) => "tool_call",
            Self::ToolResult(_) => "tool_result",
            Self::SubagentStart(_) => "subagent_start",
            Self::SubagentThought(_) => "subagent_thought",
            Self::SubagentTool(_) => "subagent_tool",
            Self::SubagentEnd(_) => "subagent_end",
            Self::Error(_) => "error",
            Self::Done(_) => "done",
        }
    }

    /// The event's `data` as JSON text.
    pub fn data_json(&self) -> String {
        let value = match self {
            Self::HistoryMessage(d) => serde_json::to_string(d),
            Self::HistoryDone(d) => serde_json::to_string(d),
            Self::Status(d) => serde_json::to_string(d),
            Self::Thought(d) => serde_json::to_string(d),
            Self::Content(d) => serde_json::to_string(d),
            Self::ToolCall(d) => serde_json::to_string(d),
            Self::ToolResult(d) => serde_json::to_string(d),
            Self::SubagentStart(d) => serde_json::to_string(d),
            Self::SubagentThought(d) => serde_json::to_string(d),
            Self::SubagentTool(d) => serde_json::to_string(d),
            Self::SubagentEnd(d) => serde_json::to_string(d),
            Self::Error(d) => serde_json::to_string(d),
            Self::Done(d) => serde_json::to_string(d),
        };
        value.unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads an event back from its name and data (the store, or a client's stream).
    pub fn parse(name: &str, data: &str) -> Option<Self> {
        let data: Value = serde_json::from_str(data).ok()?;
        serde_json::from_value(serde_json::json!({ "event": name, "data": data })).ok()
    }

    /// The last event of a run: after it, a stream closes.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Done(_) | Self::Error(_))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDone {
    pub message_count: u64,
    pub is_streaming: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEvent {
    /// `connecting`, `processing` or `retrying`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentEvent {
    pub text: String,
    pub is_partial: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallEvent {
    pub call_id: String,
    pub tool_name: String,
    /// `executing`, or `awaiting_approval` when it waits for a person.
    pub status: String,
    pub args: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultEvent {
    pub call_id: String,
    /// `success`, `error` or `cancelled`.
    pub status: String,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubagentStart {
    pub agent_name: String,
    pub display_name: String,
    pub description: String,
    pub objective: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubagentThought {
    pub agent_name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubagentTool {
    pub agent_name: String,
    pub status: String,
    pub tool_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubagentEnd {
    pub agent_name: String,
    pub terminate_reason: String,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoneEvent {
    pub final_response: String,
}

pub mod input {
    use serde::{Deserialize, Serialize};

    /// A follow-up message (JSON form).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    pub struct FollowUp {
        pub message: String,
    }

    /// A decision on a tool call: `proceed_once`, `proceed_always` or `cancel`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    pub struct Approve {
        pub outcome: String,
    }
}
