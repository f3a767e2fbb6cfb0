//! What a project's agent may reach and do: MCP servers, tool policies and their audit log, prompts, skills.

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
