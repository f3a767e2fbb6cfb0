//! sea-orm entities, one module per table of `migrations/src/m0001_accounts.rs`. Relations are
//! left out on purpose: queries join explicitly so every one shows the scope it filters by.

use sea_orm::entity::prelude::*;

/// A role in an organization or a project, stored as `admin` / `member`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Role {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "member")]
    Member,
}

impl From<Role> for protocol::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
        }
    }
}

impl From<protocol::Role> for Role {
    fn from(r: protocol::Role) -> Self {
        match r {
            protocol::Role::Admin => Self::Admin,
            protocol::Role::Member => Self::Member,
        }
    }
}

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub email: String,
        pub username: String,
        pub name: String,
        pub password_hash: String,
        pub default_project_id: Option<String>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod organization {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org_member {
    use sea_orm::entity::prelude::*;

    use super::Role;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub role: Role,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "projects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub name: String,
        pub created_at: ChronoDateTimeUtc,
        /// `provider/model`; the server's default when `None`.
        pub model: Option<String>,
        /// `off`, `internet` or `allowList` (`crate::egress::NetworkPolicy`).
        pub network_mode: String,
        /// The allow-list's domains, a JSON array.
        pub network_allow: Option<String>,
        /// What decides a call no tool policy rule matches (`protocol::policy::PolicyMode`).
        pub policy_mode: String,
        /// `autoExecute` of a task that does not say.
        pub auto_execute: bool,
        /// Bounds of a run, within the operator's; the operator's when `None`.
        pub max_turns: Option<i32>,
        pub max_minutes: Option<i32>,
        /// Built-in subagents it offers: a JSON object of name to `true`.
        pub subagents: String,
    }

    impl Model {
        pub fn policy_mode(&self) -> protocol::policy::PolicyMode {
            protocol::policy::PolicyMode::parse(&self.policy_mode).unwrap_or_default()
        }

        pub fn network_policy(&self) -> crate::egress::NetworkPolicy {
            crate::egress::NetworkPolicy::from_stored(
                &self.network_mode,
                self.network_allow.as_deref(),
            )
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod mcp_server {
    use sea_orm::entity::prelude::*;

    /// A project's MCP server (`crate::mcp::McpServerSpec`): `config` is the clear part as
    /// JSON, `sealed` the header and env values encrypted by the vault, `status` the last
    /// connection's outcome as JSON.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mcp_servers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub name: String,
        pub enabled: bool,
        pub config: String,
        pub sealed: String,
        pub status: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project_member {
    use sea_orm::entity::prelude::*;

    use super::Role;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub role: Role,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invitation {
    use sea_orm::entity::prelude::*;

    use super::Role;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invitations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub email: String,
        pub role: Role,
        pub token_hash: String,
        pub invited_by: String,
        pub created_at: ChronoDateTimeUtc,
        pub expires_at: ChronoDateTimeUtc,
        pub accepted_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub token_hash: String,
        pub created_at: ChronoDateTimeUtc,
        pub expires_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub name: String,
        pub prefix: String,
        pub key_hash: String,
        pub created_by: String,
        pub created_at: ChronoDateTimeUtc,
        pub last_used_at: Option<ChronoDateTimeUtc>,
        pub expires_at: Option<ChronoDateTimeUtc>,
        pub revoked_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tool_policy {
    use sea_orm::entity::prelude::*;

    /// A project's tool policy rule (`crate::policy::Rule` once compiled).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tool_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub tool: String,
        /// `allow`, `ask` or `deny`.
        pub decision: String,
        pub condition: Option<String>,
        pub note: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_entry {
    use sea_orm::entity::prelude::*;

    /// One tool call's decision (`protocol::policy::AuditEntry`): inserted when the policy
    /// decides; `answer*` and `outcome`/`finished_at` are each written once, when they happen.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub task_id: String,
        pub call_id: String,
        pub tool: String,
        /// JSON, redacted.
        pub args: String,
        pub decision: String,
        /// JSON (`protocol::policy::AuditRule`).
        pub rule: Option<String>,
        pub reason: String,
        pub answer: Option<String>,
        /// Who answered (`protocol::policy::AuditActor`): `user`, `apiKey` or `endUser`.
        pub answered_by_kind: Option<String>,
        pub answered_by_id: Option<String>,
        pub answered_by_name: Option<String>,
        pub answered_at: Option<ChronoDateTimeUtc>,
        pub outcome: Option<String>,
        pub finished_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project_prompt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_prompts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub name: String,
        pub content: String,
        pub position: i64,
        pub created_at: ChronoDateTimeUtc,
        pub enabled: bool,
        pub updated_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

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
        pub model: Option<String>,
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

pub mod skill {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skills")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub name: String,
        pub description: String,
        /// The body of its `SKILL.md`.
        pub instructions: String,
        pub enabled: bool,
        pub version: i64,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod skill_file {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skill_files")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub skill_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub path: String,
        pub content: Vec<u8>,
        /// Bytes of `content`, so a listing need not read the contents.
        pub size: i64,
        pub executable: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod widget_app {
    use sea_orm::entity::prelude::*;

    /// A project's widget app; `id` is its public `appId`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "widget_apps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project_id: String,
        pub name: String,
        /// SHA-256 of the secret; the secret itself is shown once and never stored.
        pub secret_hash: String,
        /// The secret before the last rotation, valid until `previous_secret_expires_at`.
        pub previous_secret_hash: Option<String>,
        pub previous_secret_expires_at: Option<ChronoDateTimeUtc>,
        /// JSON array of normalised origins.
        pub allowed_origins: String,
        /// JSON `WidgetLook`.
        pub look: String,
        pub created_by: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod widget_end_user {
    use sea_orm::entity::prelude::*;

    /// Someone a widget token acts as, named by the customer (`external_id`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "widget_end_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub app_id: String,
        pub external_id: String,
        /// `{env, secrets}` sealed by the vault for this row.
        pub sealed: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod schedule {
    use sea_orm::entity::prelude::*;

    /// A project's schedule: when it fires (`cron` in `timezone`) and the task it starts.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "schedules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub project_id: String,
        pub name: String,
        pub cron: String,
        pub timezone: String,
        pub message: String,
        /// JSON object of plain variables.
        pub env: String,
        pub auto_execute: Option<bool>,
        pub enabled: bool,
        pub ends_at: Option<ChronoDateTimeUtc>,
        /// `runLatest` or `skip`.
        pub missed_runs: String,
        pub allow_overlap: bool,
        /// The next time it is due; null when it will not fire again. Advanced by whichever
        /// process claims the time (compare-and-set on the old value), so a time fires once.
        pub next_run_at: Option<ChronoDateTimeUtc>,
        pub last_run_at: Option<ChronoDateTimeUtc>,
        pub paused_reason: Option<String>,
        /// The person its runs act for.
        pub run_as: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod schedule_run {
    use sea_orm::entity::prelude::*;

    /// One time of a schedule: the task it started, or why it was skipped. Unique per
    /// (schedule, `slot`), the database's guarantee that a time fires once.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "schedule_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub schedule_id: String,
        /// The due time as RFC 3339 UTC, or `manual:<id>` for "Run now".
        pub slot: String,
        pub scheduled_for: ChronoDateTimeUtc,
        /// `schedule`, `catchUp` or `manual`.
        pub trigger: String,
        /// `started` or `skipped`.
        pub outcome: String,
        pub reason: Option<String>,
        pub task_id: Option<String>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project_secret {
    use sea_orm::entity::prelude::*;

    /// A value admins give a project's tasks, sealed by the vault; never read back.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub sealed: String,
        pub updated_by: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
