//! Skills and subagents: a project's skills (each a folder of files, replaced whole by a new
//! version), which built-in subagents it offers, and the calls subagents make (rows of the
//! task's calls with the call that delegated to them, so approvals and the audit log treat
//! them like any other call).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Subagents,
}

#[derive(DeriveIden)]
enum Skills {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    Instructions,
    Enabled,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkillFiles {
    Table,
    SkillId,
    Path,
    Content,
    Size,
    Executable,
}

#[derive(DeriveIden)]
enum TaskToolCalls {
    Table,
    ParentCallId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Enabled subagents by name, as a JSON object; none until an admin turns one on.
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .add_column(
                    ColumnDef::new(Projects::Subagents)
                        .text()
                        .not_null()
                        .default("{}"),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(TaskToolCalls::Table)
                .add_column(
                    ColumnDef::new(TaskToolCalls::ParentCallId)
                        .string_len(200)
                        .null(),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Skills::Table)
                .col(
                    ColumnDef::new(Skills::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Skills::ProjectId).string_len(36).not_null())
                .col(ColumnDef::new(Skills::Name).string_len(64).not_null())
                .col(ColumnDef::new(Skills::Description).text().not_null())
                .col(ColumnDef::new(Skills::Instructions).text().not_null())
                .col(ColumnDef::new(Skills::Enabled).boolean().not_null())
                .col(ColumnDef::new(Skills::Version).big_integer().not_null())
                .col(
                    ColumnDef::new(Skills::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Skills::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Skills::Table, Skills::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_skills_project_name")
                .table(Skills::Table)
                .col(Skills::ProjectId)
                .col(Skills::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        // A skill's files live in the database beside it, so a new version replaces the old
        // in one transaction and a deleted project takes its skills along.
        m.create_table(
            Table::create()
                .table(SkillFiles::Table)
                .col(
                    ColumnDef::new(SkillFiles::SkillId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(SkillFiles::Path).string_len(1024).not_null())
                .col(ColumnDef::new(SkillFiles::Content).blob().not_null())
                .col(ColumnDef::new(SkillFiles::Size).big_integer().not_null())
                .col(ColumnDef::new(SkillFiles::Executable).boolean().not_null())
                .primary_key(
                    Index::create()
                        .col(SkillFiles::SkillId)
                        .col(SkillFiles::Path),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(SkillFiles::Table, SkillFiles::SkillId)
                        .to(Skills::Table, Skills::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
