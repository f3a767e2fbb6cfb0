//! A project's MCP servers. The clear part of a server's configuration is a JSON document
//! (`config`); header and env values, which often hold tokens, are one sealed value
//! (`sealed`, AES-256-GCM under a key that is never in the database). `status` is the last
//! connection's outcome, as JSON.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum McpServers {
    Table,
    Id,
    ProjectId,
    Name,
    Enabled,
    Config,
    Sealed,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(McpServers::Table)
                .col(
                    ColumnDef::new(McpServers::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(McpServers::ProjectId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(McpServers::Name).string_len(64).not_null())
                .col(ColumnDef::new(McpServers::Enabled).boolean().not_null())
                .col(ColumnDef::new(McpServers::Config).text().not_null())
                .col(ColumnDef::new(McpServers::Sealed).text().not_null())
                .col(ColumnDef::new(McpServers::Status).text().null())
                .col(
                    ColumnDef::new(McpServers::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(McpServers::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(McpServers::Table, McpServers::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Names are unique per project; a concurrent create of the same name loses here.
        m.create_index(
            Index::create()
                .name("idx_mcp_servers_project_name")
                .table(McpServers::Table)
                .col(McpServers::ProjectId)
                .col(McpServers::Name)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(McpServers::Table).to_owned())
            .await
    }
}
