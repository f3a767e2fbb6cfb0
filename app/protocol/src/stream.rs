//! The events of `GET /api/v1/tasks/{id}/stream` (API.md, "The stream"): each frame is
//! `event: <name>` and `data: <json>`. Statuses and codes are enums, so a client matches on
//! them rather than on words.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::{CallStatus, HistoryMessage, TaskStatus, TaskUsage, Thought};

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

    /// Reads an event back from its name and data (the store, or a client's stream). Each
    /// payload is read straight from its text: going through a `Value` and the tagged enum
    /// would build every payload's reader twice more, which the browser bundles pay for.
    pub fn parse(name: &str, data: &str) -> Option<Self> {
        fn read<T: serde::de::DeserializeOwned>(data: &str) -> Option<T> {
            serde_json::from_str(data).ok()
        }
        Some(match name {
            "history_message" => Self::HistoryMessage(read(data)?),
            "history_done" => Self::HistoryDone(read(data)?),
            "status" => Self::Status(read(data)?),
            "thought" => Self::Thought(read(data)?),
            "content" => Self::Content(read(data)?),
            "tool_call" => Self::ToolCall(read(data)?),
            "tool_result" => Self::ToolResult(read(data)?),
            "subagent_start" => Self::SubagentStart(read(data)?),
            "subagent_thought" => Self::SubagentThought(read(data)?),
            "subagent_tool" => Self::SubagentTool(read(data)?),
            "subagent_end" => Self::SubagentEnd(read(data)?),
            "error" => Self::Error(read(data)?),
            "done" => Self::Done(read(data)?),
            _ => return None,
        })
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
    /// (extension) The task's status when the history was read. With `error` and `usage`, a
    /// client shows how a finished task ended without reading its event log: a finished
    /// task's stream closes after this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// (extension) How the last run ended, when the task is `failed` or `cancelled`: its
    /// last `error` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorEvent>,
    /// (extension) The task's tokens and cost so far, once it is finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TaskUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEvent {
    pub status: RunStatus,
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
    pub status: CallStatus,
    pub args: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultEvent {
    pub call_id: String,
    /// `success`, `error` or `cancelled`.
    pub status: CallStatus,
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
    pub status: SubagentToolStatus,
    pub tool_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubagentEnd {
    pub agent_name: String,
    pub terminate_reason: TerminateReason,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub code: RunErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoneEvent {
    pub final_response: String,
    /// (extension) The task's tokens and cost, all its runs together, as it completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TaskUsage>,
}

/// Where a run stands, for a client's status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A new run begins.
    Connecting,
    /// The model is being asked (again, with an `attempt`, after a retry).
    Processing,
    /// The model call failed for a passing reason, or the run continues after an
    /// interruption: drop the partial answer shown.
    Retrying,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubagentToolStatus {
    Start,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TerminateReason {
    Goal,
    MaxTurns,
    Timeout,
    Error,
}

/// Why a run ended in `error`. A code this version does not know reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunErrorCode {
    /// Someone cancelled the task.
    TaskCancelled,
    /// No model provider can serve the project's model.
    ModelNotConfigured,
    /// The model call failed for good (after its retries).
    ModelError,
    /// The task's sandbox could not start.
    SandboxUnavailable,
    /// The run went past its time limit.
    Timeout,
    /// The run used its model calls without finishing.
    MaxTurns,
    /// (extension) A monthly budget (the project's, the API key's or the widget end user's)
    /// is used up; the message names it.
    BudgetExceeded,
    InternalError,
    #[serde(other)]
    Other,
}

impl RunErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskCancelled => "TASK_CANCELLED",
            Self::ModelNotConfigured => "MODEL_NOT_CONFIGURED",
            Self::ModelError => "MODEL_ERROR",
            Self::SandboxUnavailable => "SANDBOX_UNAVAILABLE",
            Self::Timeout => "TIMEOUT",
            Self::MaxTurns => "MAX_TURNS",
            Self::BudgetExceeded => "BUDGET_EXCEEDED",
            Self::InternalError => "INTERNAL_ERROR",
            Self::Other => "OTHER",
        }
    }

    /// The run was stopped by one of its bounds rather than broken: a client says which
    /// bound, not that something failed. Exhaustive on purpose, so that a new code is
    /// placed here (a code this version does not know reads as a failure).
    pub fn is_limit(self) -> bool {
        match self {
            Self::Timeout | Self::MaxTurns | Self::BudgetExceeded => true,
            Self::TaskCancelled
            | Self::ModelNotConfigured
            | Self::ModelError
            | Self::SandboxUnavailable
            | Self::InternalError
            | Self::Other => false,
        }
    }
}

/// (for the OpenAPI document) One frame of `text/event-stream` as a task's stream sends it:
/// the event's name, its JSON payload as text, and its number in the task's log (which
/// `Last-Event-ID` resumes after). Heartbeats are comments, not frames.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SseFrame {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
    pub retry: Option<u64>,
}
