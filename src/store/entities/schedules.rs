//! Schedules, the times they fired or skipped, and project secrets.

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
