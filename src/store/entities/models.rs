//! Model providers organizations connect.

pub mod model_provider {
    use sea_orm::entity::prelude::*;

    /// An organization's connection to a model provider, named as projects name it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "model_providers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        /// Unique in its organization, lower case.
        pub name: String,
        /// `anthropic`, `openai` or `gemini`.
        pub kind: String,
        pub base_url: Option<String>,
        /// The API key sealed by the vault for `model-provider:<id>`.
        pub api_key: Option<String>,
        /// `untested`, `ok` or `failing`.
        pub status: String,
        pub status_message: Option<String>,
        pub checked_at: Option<ChronoDateTimeUtc>,
        /// JSON list of model ids the last successful test found.
        pub models: String,
        pub created_by: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
