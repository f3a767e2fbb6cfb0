//! What a project's agent may do: tool policy rules, the project's fallback mode and task
//! defaults, prompts that can be switched off, and the audit log of every call's decision.
//! Existing projects keep the behaviour they had: every call allowed, `autoExecute` true.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    PolicyMode,
    AutoExecute,
    MaxTurns,
    MaxMinutes,
}

#[derive(DeriveIden)]
enum ProjectPrompts {
    Table,
    Enabled,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ToolPolicies {
    Table,
    Id,
    ProjectId,
    Tool,
    Decision,
    Condition,
    Note,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Id,
    ProjectId,
    TaskId,
    CallId,
    Tool,
    Args,
    Decision,
    Rule,
    Reason,
    Answer,
    AnsweredByKind,
    AnsweredById,
    AnsweredByName,
    AnsweredAt,
    Outcome,
    FinishedAt,
    CreatedAt,
}

fn timestamp<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in [
            ColumnDef::new(Projects::PolicyMode)
                .string_len(16)
                .not_null()
                .default("allowAll")
                .to_owned(),
            ColumnDef::new(Projects::AutoExecute)
                .boolean()
                .not_null()
                .default(true)
                .to_owned(),
            ColumnDef::new(Projects::MaxTurns)
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Projects::MaxMinutes)
                .integer()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        for column in [
            ColumnDef::new(ProjectPrompts::Enabled)
                .boolean()
                .not_null()
                .default(true)
                .to_owned(),
            ColumnDef::new(ProjectPrompts::UpdatedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(ProjectPrompts::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(ToolPolicies::Table)
                .col(
                    ColumnDef::new(ToolPolicies::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ToolPolicies::ProjectId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ToolPolicies::Tool)
                        .string_len(200)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ToolPolicies::Decision)
                        .string_len(8)
                        .not_null(),
                )
                .col(ColumnDef::new(ToolPolicies::Condition).text().null())
                .col(ColumnDef::new(ToolPolicies::Note).text().null())
                .col(timestamp(ToolPolicies::CreatedAt))
                .col(timestamp(ToolPolicies::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ToolPolicies::Table, ToolPolicies::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tool_policies_project")
                .table(ToolPolicies::Table)
                .col(ToolPolicies::ProjectId)
                .to_owned(),
        )
        .await?;

        // One row per tool call; ids are UUIDv7, so they sort by time.
        m.create_table(
            Table::create()
                .table(AuditEntries::Table)
                .col(
                    ColumnDef::new(AuditEntries::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AuditEntries::ProjectId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuditEntries::TaskId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuditEntries::CallId)
                        .string_len(200)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuditEntries::Tool)
                        .string_len(200)
                        .not_null(),
                )
                .col(ColumnDef::new(AuditEntries::Args).text().not_null())
                .col(
                    ColumnDef::new(AuditEntries::Decision)
                        .string_len(8)
                        .not_null(),
                )
                .col(ColumnDef::new(AuditEntries::Rule).text().null())
                .col(ColumnDef::new(AuditEntries::Reason).text().not_null())
                .col(ColumnDef::new(AuditEntries::Answer).string_len(16).null())
                .col(
                    ColumnDef::new(AuditEntries::AnsweredByKind)
                        .string_len(16)
                        .null(),
                )
                .col(
                    ColumnDef::new(AuditEntries::AnsweredById)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(AuditEntries::AnsweredByName)
                        .string_len(200)
                        .null(),
                )
                .col(
                    ColumnDef::new(AuditEntries::AnsweredAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(AuditEntries::Outcome).string_len(16).null())
                .col(
                    ColumnDef::new(AuditEntries::FinishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(timestamp(AuditEntries::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(AuditEntries::Table, AuditEntries::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_entries_project_id")
                .table(AuditEntries::Table)
                .col(AuditEntries::ProjectId)
                .col(AuditEntries::Id)
                .to_owned(),
        )
        .await?;
        // A call is decided once, even when two workers race to decide it.
        m.create_index(
            Index::create()
                .name("idx_audit_entries_call")
                .table(AuditEntries::Table)
                .col(AuditEntries::TaskId)
                .col(AuditEntries::CallId)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditEntries::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ToolPolicies::Table).to_owned())
            .await?;
        for column in [ProjectPrompts::UpdatedAt, ProjectPrompts::Enabled] {
            m.alter_table(
                Table::alter()
                    .table(ProjectPrompts::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        for column in [
            Projects::MaxMinutes,
            Projects::MaxTurns,
            Projects::AutoExecute,
            Projects::PolicyMode,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
