//! Tasks as the Task API, the stream and the Chat UI see them (API.md, "Tasks" and "The
//! stream"). Field names are the public contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Where a tool call stands. The stream and the history show these words, except
/// `approved`, which they show as `pending` (approval is the server's bookkeeping). A word this
/// version does not know reads as `error`, never as success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Asked for, not started (it runs when its turn in order comes).
    Pending,
    AwaitingApproval,
    /// A person allowed it; runs when its turn comes.
    Approved,
    /// Started. Found like this by a new worker, it was interrupted by a crash.
    Executing,
    Success,
    Cancelled,
    // Last: serde takes only the last variant as the catch-all for unknown words.
    #[serde(other)]
    Error,
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

    /// The status people see: `approved` shows as `pending`.
    pub fn public(self) -> Self {
        match self {
            Self::Approved => Self::Pending,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thought {
    pub subject: String,
    pub description: String,
}

/// A tool call as shown in a task's output and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ToolCallView {
    pub call_id: String,
    pub tool_name: String,
    /// `pending`, `awaiting_approval`, `executing`, `success`, `error` or `cancelled`.
    pub status: CallStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PendingApproval {
    pub call_id: String,
    pub tool_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: Value,
}

/// What the latest run of a task produced so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// The task object. List items carry the same fields without `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// (extension) The schedule that started the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<TaskOutput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_approvals: Vec<PendingApproval>,
    pub usage: TaskUsage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachedFile {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

/// One message of a task's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub task_id: String,
    pub conversation_id: String,
    pub status: TaskStatus,
    pub messages: Vec<HistoryMessage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedTask {
    pub id: String,
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUpAccepted {
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approved {
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cancelled {
    pub message: String,
}

/// What kind of file an artifact is, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ArtifactCategory {
    Document,
    Image,
    Media,
    Code,
    Data,
    Archive,
    #[serde(other)]
    Other,
}

/// A file in a task's workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The file's name (last path component).
    pub name: String,
    /// Relative to the workspace root, `/`-separated: what the download takes back.
    pub path: String,
    pub size: u64,
    pub mime_type: String,
    pub category: ArtifactCategory,
    /// RFC 3339; null where the file system does not tell.
    pub modified_at: Option<String>,
}

/// (extension) The answer of deleting a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    /// `"Conversation deleted"`
    pub message: String,
}

/// What the Task API takes.
pub mod input {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// The JSON body of `POST /api/v1/tasks`. Multipart bodies carry the same fields as form
    /// fields (`env`/`secrets` JSON-encoded), plus `files`.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "camelCase")]
    pub struct CreateTask {
        /// The instruction: not blank, at most 200,000 characters.
        #[cfg_attr(
            feature = "openapi",
            schema(value_type = String, required = true, max_length = 200_000, pattern = r"^(?![\s\S]*\x00)[\s\S]*\S")
        )]
        pub message: Option<String>,
        /// Added to the project's prompts for this task; at most 100,000 characters.
        #[cfg_attr(
            feature = "openapi",
            schema(max_length = 100_000, pattern = r"^(?![\s\S]*\x00)")
        )]
        pub system_prompt: Option<String>,
        /// Listed in the Chat UI history (default true).
        pub show_in_history: Option<bool>,
        /// false: every tool call waits for approval (default true).
        pub auto_execute: Option<bool>,
        /// Plain variables for the sandbox: an object of strings.
        #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
        pub env: Option<Value>,
        /// Like `env`, but never stored, logged, streamed or returned.
        #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
        pub secrets: Option<Value>,
        /// (extension) For signed-in people: the project (default: their default project).
        pub project_id: Option<String>,
        /// (extension) Names of project secrets the task uses, as if given in `secrets`
        /// (which wins a clash); read from the project's store for every run.
        pub project_secrets: Option<Vec<String>>,
        /// (extension) The model of this conversation, `<connection>/<model id>`, where the
        /// project lets people pick one (`allowModelChoice`); the project's when left out.
        #[cfg_attr(feature = "openapi", schema(max_length = 241))]
        pub model: Option<String>,
    }

    /// A follow-up message (JSON form).
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct FollowUp {
        /// Not blank, at most 200,000 characters.
        #[cfg_attr(
            feature = "openapi",
            schema(value_type = String, required = true, max_length = 200_000, pattern = r"^(?![\s\S]*\x00)[\s\S]*\S")
        )]
        pub message: Option<String>,
    }

    /// A decision on a tool call: `proceed_once`, `proceed_always` or `cancel`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Approve {
        #[cfg_attr(feature = "openapi", schema(value_type = crate::task::ApprovalOutcome))]
        pub outcome: String,
    }

    /// (extension) Body of `PATCH /api/v1/conversations/{id}`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct RenameConversation {
        /// The new title: at most 200 characters, not blank, no control characters.
        #[cfg_attr(
            feature = "openapi",
            schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = r"^(?![\s\S]*[\x00-\x1f\x7f-\x9f])[\s\S]*\S")
        )]
        pub title: Option<String>,
    }
}

/// A person's decision on a tool call that waits for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOutcome {
    ProceedOnce,
    /// This call, and every later call of the same tool in the task.
    ProceedAlways,
    Cancel,
}

impl ApprovalOutcome {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "proceed_once" => Some(Self::ProceedOnce),
            "proceed_always" => Some(Self::ProceedAlways),
            "cancel" => Some(Self::Cancel),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProceedOnce => "proceed_once",
            Self::ProceedAlways => "proceed_always",
            Self::Cancel => "cancel",
        }
    }
}

/// What the Task API reads from query strings.
pub mod query {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[serde(rename_all = "camelCase")]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    pub struct ProjectQuery {
        /// (extension) For signed-in people: the project; their default project when unset.
        pub project_id: Option<String>,
    }

    /// A page of the caller's tasks (`GET /api/v1/tasks`) or conversations.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[serde(rename_all = "camelCase")]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    pub struct ListQuery {
        /// 1 to 100, default 50.
        #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
        pub limit: Option<u64>,
        /// Items to skip, default 0.
        #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 2_147_483_647))]
        pub offset: Option<u64>,
        /// (extension) For signed-in people: the project; their default project when unset.
        pub project_id: Option<String>,
        /// (extension) Only the runs of this schedule.
        pub schedule_id: Option<String>,
    }

    /// (extension) A page of the caller's own conversations.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[serde(rename_all = "camelCase")]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    pub struct ConversationQuery {
        /// For signed-in people: the project; their default project when unset. An API key
        /// always answers for its own project.
        pub project_id: Option<String>,
        /// Keeps conversations whose title or first message contains this text, ignoring
        /// case; `%` and `_` are taken literally. At most 200 characters.
        #[cfg_attr(feature = "openapi", param(max_length = 200))]
        pub q: Option<String>,
        /// 1 to 100, default 50.
        #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
        pub limit: Option<u64>,
        /// Items to skip, default 0.
        #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 2_147_483_647))]
        pub offset: Option<u64>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    pub struct StreamQuery {
        /// (extension) Resume after this sequence number, like `Last-Event-ID`.
        pub after: Option<i64>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    pub struct DownloadQuery {
        /// The file's path in the workspace, as the artifacts list gives it.
        pub path: String,
    }
}
