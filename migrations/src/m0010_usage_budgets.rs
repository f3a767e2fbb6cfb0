//! Usage and budgets: one row per model call (who spent what, on which model, when), and the
//! monthly limits in US dollars a project admin sets for the project, for each widget end user
//! of it, and for each API key.
//!
//! Usage rows carry no foreign key to their task or key: what was spent stays spent when a
//! conversation is deleted or a key revoked, or a budget could be reset by deleting things.
//! Money is a double like `tasks.cost_usd`: prices are fractions of a cent per token, and a
//! month's sum is shown to the cent and compared once per model call.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UsageRecords {
    Table,
    Id,
    OrgId,
    ProjectId,
    TaskId,
    ApiKeyId,
    EndUserId,
    UserId,
    Model,
    InputTokens,
    OutputTokens,
    CostUsd,
    /// The UTC day (`YYYY-MM-DD`) of `created_at`: grouping by day the same way on both
    /// databases, without date functions that differ between them.
    Day,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectBudgets {
    Table,
    ProjectId,
    MonthlyUsd,
    EndUserMonthlyUsd,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeyBudgets {
    Table,
    ApiKeyId,
    ProjectId,
    MonthlyUsd,
    UpdatedBy,
    UpdatedAt,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(36).not_null().to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UsageRecords::Table)
                .col(id(UsageRecords::Id).primary_key())
                .col(id(UsageRecords::OrgId))
                .col(id(UsageRecords::ProjectId))
                .col(id(UsageRecords::TaskId))
                .col(ColumnDef::new(UsageRecords::ApiKeyId).string_len(36).null())
                .col(
                    ColumnDef::new(UsageRecords::EndUserId)
                        .string_len(36)
                        .null(),
                )
                .col(ColumnDef::new(UsageRecords::UserId).string_len(36).null())
                .col(ColumnDef::new(UsageRecords::Model).string_len(300).null())
                .col(
                    ColumnDef::new(UsageRecords::InputTokens)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UsageRecords::OutputTokens)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(UsageRecords::CostUsd).double().null())
                .col(ColumnDef::new(UsageRecords::Day).string_len(10).not_null())
                .col(timestamp(UsageRecords::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UsageRecords::Table, UsageRecords::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The project's usage over a range, and its spend this month.
        m.create_index(
            Index::create()
                .name("idx_usage_records_project_time")
                .table(UsageRecords::Table)
                .col(UsageRecords::ProjectId)
                .col(UsageRecords::CreatedAt)
                .to_owned(),
        )
        .await?;
        // A key's and an end user's spend this month, read before their tasks' model calls.
        m.create_index(
            Index::create()
                .name("idx_usage_records_key_time")
                .table(UsageRecords::Table)
                .col(UsageRecords::ApiKeyId)
                .col(UsageRecords::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_usage_records_end_user_time")
                .table(UsageRecords::Table)
                .col(UsageRecords::EndUserId)
                .col(UsageRecords::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectBudgets::Table)
                .col(id(ProjectBudgets::ProjectId).primary_key())
                .col(ColumnDef::new(ProjectBudgets::MonthlyUsd).double().null())
                .col(
                    ColumnDef::new(ProjectBudgets::EndUserMonthlyUsd)
                        .double()
                        .null(),
                )
                .col(
                    ColumnDef::new(ProjectBudgets::UpdatedBy)
                        .string_len(36)
                        .null(),
                )
                .col(timestamp(ProjectBudgets::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectBudgets::Table, ProjectBudgets::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeyBudgets::Table)
                .col(id(ApiKeyBudgets::ApiKeyId).primary_key())
                .col(id(ApiKeyBudgets::ProjectId))
                .col(ColumnDef::new(ApiKeyBudgets::MonthlyUsd).double().null())
                .col(
                    ColumnDef::new(ApiKeyBudgets::UpdatedBy)
                        .string_len(36)
                        .null(),
                )
                .col(timestamp(ApiKeyBudgets::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeyBudgets::Table, ApiKeyBudgets::ApiKeyId)
                        .to(ApiKeys::Table, ApiKeys::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeyBudgets::Table, ApiKeyBudgets::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_key_budgets_project")
                .table(ApiKeyBudgets::Table)
                .col(ApiKeyBudgets::ProjectId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
