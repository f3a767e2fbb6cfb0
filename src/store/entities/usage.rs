//! Usage per model call and the monthly budgets that limit it.

pub mod usage_record {
    use sea_orm::entity::prelude::*;

    /// One model call of a task (its main loop or a subagent), written by the ledger in the
    /// transaction that adds it to the task's totals.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "usage_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub project_id: String,
        pub task_id: String,
        pub api_key_id: Option<String>,
        /// The widget end user (`widget_end_users.id`) whose conversation it was.
        pub end_user_id: Option<String>,
        /// The person the task acts for.
        pub user_id: Option<String>,
        /// The model as the task names it (`<provider or connection>/<model id>`).
        pub model: Option<String>,
        pub input_tokens: i64,
        pub output_tokens: i64,
        /// `None` for a model without a known price.
        pub cost_usd: Option<f64>,
        /// `created_at`'s UTC day, `YYYY-MM-DD`.
        pub day: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project_budget {
    use sea_orm::entity::prelude::*;

    /// A project's monthly limits in US dollars; `None` is no limit.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_budgets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: String,
        pub monthly_usd: Option<f64>,
        /// What each widget end user of the project may spend in a month.
        pub end_user_monthly_usd: Option<f64>,
        pub updated_by: Option<String>,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_key_budget {
    use sea_orm::entity::prelude::*;

    /// An API key's monthly limit in US dollars; `None` is no limit.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_key_budgets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub api_key_id: String,
        pub project_id: String,
        pub monthly_usd: Option<f64>,
        pub updated_by: Option<String>,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
