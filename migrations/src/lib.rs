//! Schema migrations. Every migration must run unchanged on SQLite and PostgreSQL, so they are
//! written with sea-query's schema builder, never raw SQL.

pub use sea_orm_migration::prelude::*;

mod m0001_accounts;
mod m0002_tasks;
mod m0003_network;
mod m0004_mcp_servers;
mod m0005_policies;
mod m0006_skills;
mod m0007_widget;
mod m0008_schedules;
mod m0009_model_providers;
mod m0010_usage_budgets;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_accounts::Migration),
            Box::new(m0002_tasks::Migration),
            Box::new(m0003_network::Migration),
            Box::new(m0004_mcp_servers::Migration),
            Box::new(m0005_policies::Migration),
            Box::new(m0006_skills::Migration),
            Box::new(m0007_widget::Migration),
            Box::new(m0008_schedules::Migration),
            Box::new(m0009_model_providers::Migration),
            Box::new(m0010_usage_budgets::Migration),
        ]
    }
}
