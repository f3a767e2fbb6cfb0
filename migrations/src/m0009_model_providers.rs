//! Model providers an organization connects (its API key sealed by the vault, never in the
//! clear), whether a project lets a person pick the model of a new conversation, and the model
//! a task was started with when its person picked one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ModelProviders {
    Table,
    Id,
    OrgId,
    Name,
    Kind,
    BaseUrl,
    ApiKey,
    Status,
    StatusMessage,
    CheckedAt,
    Models,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    AllowModelChoice,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    RequestedModel,
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
                .table(ModelProviders::Table)
                .col(
                    ColumnDef::new(ModelProviders::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ModelProviders::OrgId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ModelProviders::Name)
                        .string_len(40)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ModelProviders::Kind)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(ModelProviders::BaseUrl).text().null())
                // Sealed by the vault for this row; never in the clear.
                .col(ColumnDef::new(ModelProviders::ApiKey).text().null())
                .col(
                    ColumnDef::new(ModelProviders::Status)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(ModelProviders::StatusMessage).text().null())
                .col(
                    ColumnDef::new(ModelProviders::CheckedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                // A JSON list of the model ids the last successful test found.
                .col(ColumnDef::new(ModelProviders::Models).text().not_null())
                .col(
                    ColumnDef::new(ModelProviders::CreatedBy)
                        .string_len(36)
                        .not_null(),
                )
                .col(timestamp(ModelProviders::CreatedAt))
                .col(timestamp(ModelProviders::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ModelProviders::Table, ModelProviders::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Projects name a connection by name: one per name in an organization.
        m.create_index(
            Index::create()
                .name("idx_model_providers_name")
                .table(ModelProviders::Table)
                .col(ModelProviders::OrgId)
                .col(ModelProviders::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .add_column(
                    ColumnDef::new(Projects::AllowModelChoice)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tasks::Table)
                .add_column(ColumnDef::new(Tasks::RequestedModel).text().null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
