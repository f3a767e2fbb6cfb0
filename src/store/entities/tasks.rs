//! Tasks, their conversation, their tool calls and their event log.

use sea_orm::entity::prelude::*;

/// A task's lifecycle: `pending → running → completed | failed | cancelled`, and
/// `running ⇄ awaiting_approval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
pub enum TaskStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "awaiting_approval")]
    AwaitingApproval,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Still being worked on (or waiting for a person); cancel applies, streams stay open.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running | Self::AwaitingApproval)
    }
}

pub mod task {
    use sea_orm::entity::prelude::*;

    use super::TaskStatus;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "tasks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub project_id: String,
        pub api_key_id: Option<String>,
        /// The person the task acts for: its creator, or the creator of its API key.
        pub user_id: Option<String>,
        /// The widget end user (`widget_end_users.id`) whose conversation this is.
        pub end_user_id: Option<String>,
        /// The schedule that started the task (no foreign key: its runs outlive it).
        pub schedule_id: Option<String>,
        /// Which project secrets its runs read: `ProjectSecretUse` as JSON; none when null.
        pub project_secrets: Option<String>,
        pub title: String,
        pub status: TaskStatus,
        pub message: String,
        pub system_prompt: Option<String>,
        pub show_in_history: bool,
        pub auto_execute: bool,
        /// JSON object of plain variables (never secrets).
        pub env: Option<String>,
        pub error: Option<String>,
        /// The model its last run used, `<connection>/<model id>`.
        pub model: Option<String>,
        /// The model the person picked when they started it; the project's when null.
        pub requested_model: Option<String>,
        /// JSON list of tool names approved with `proceed_always`.
        pub allowed_tools: String,
        pub message_count: i64,
        /// The last event sequence number handed out.
        pub last_seq: i64,
        pub input_tokens: i64,
        pub output_tokens: i64,
        pub cost_usd: Option<f64>,
        /// The worker holding the task, until `lease_until`.
        pub worker_id: Option<String>,
        pub lease_until: Option<ChronoDateTimeUtc>,
        /// Bumped by every claim; a worker's writes name the epoch it claimed, so a worker
        /// that lost its lease cannot write over its successor.
        pub lease_epoch: i64,
        pub cancel_requested: bool,
        pub run_started_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
        pub started_at: Option<ChronoDateTimeUtc>,
        pub completed_at: Option<ChronoDateTimeUtc>,
        pub last_activity_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task_message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub task_id: String,
        pub position: i64,
        /// `user` or `assistant`.
        pub role: String,
        /// JSON list of `llm::Part` (text and thinking; tool calls are rows of their own).
        pub parts: String,
        /// JSON list of `{name, path}`.
        pub attached_files: Option<String>,
        /// The event sequence number at which this message was complete.
        pub seq: i64,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task_tool_call {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_tool_calls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub call_id: String,
        pub message_id: String,
        pub position: i64,
        pub tool_name: String,
        /// JSON arguments.
        pub args: String,
        /// `pending`, `awaiting_approval`, `approved`, `executing`, `success`, `error`,
        /// `cancelled`.
        pub status: String,
        pub output: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub completed_at: Option<ChronoDateTimeUtc>,
        /// A subagent's call: the call that delegated to it. Not part of the conversation the
        /// main agent sees.
        pub parent_call_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub kind: String,
        /// The event's JSON `data`.
        pub data: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
