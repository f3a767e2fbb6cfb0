//! Widget apps and the end users their tokens act as.

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
