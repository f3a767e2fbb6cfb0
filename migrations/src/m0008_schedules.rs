//! Scheduled tasks and project secrets: a project's schedules, each time they fired or were
//! skipped (unique per time, so a time fires once however many processes run), which
//! schedule started a task and which project secrets it reads, and the secrets themselves
//! (sealed by the vault, never in the clear).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    OrgId,
    ProjectId,
    Name,
    Cron,
    Timezone,
    Message,
    Env,
    AutoExecute,
    Enabled,
    EndsAt,
    MissedRuns,
    AllowOverlap,
    NextRunAt,
    LastRunAt,
    PausedReason,
    RunAs,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScheduleRuns {
    Table,
    Id,
    ScheduleId,
    Slot,
    ScheduledFor,
    Trigger,
    Outcome,
    Reason,
    TaskId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectSecrets {
    Table,
    ProjectId,
    Name,
    Sealed,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    ProjectId,
    ScheduleId,
    ProjectSecrets,
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
                .table(Schedules::Table)
                .col(
                    ColumnDef::new(Schedules::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Schedules::OrgId).string_len(36).not_null())
                .col(
                    ColumnDef::new(Schedules::ProjectId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(Schedules::Name).string_len(200).not_null())
                .col(ColumnDef::new(Schedules::Cron).string_len(200).not_null())
                .col(
                    ColumnDef::new(Schedules::Timezone)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(Schedules::Message).text().not_null())
                .col(ColumnDef::new(Schedules::Env).text().not_null())
                .col(ColumnDef::new(Schedules::AutoExecute).boolean().null())
                .col(ColumnDef::new(Schedules::Enabled).boolean().not_null())
                .col(
                    ColumnDef::new(Schedules::EndsAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Schedules::MissedRuns)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(Schedules::AllowOverlap).boolean().not_null())
                .col(
                    ColumnDef::new(Schedules::NextRunAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Schedules::LastRunAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Schedules::PausedReason).text().null())
                .col(ColumnDef::new(Schedules::RunAs).string_len(36).not_null())
                .col(timestamp(Schedules::CreatedAt))
                .col(timestamp(Schedules::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Schedules::Table, Schedules::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_schedules_project")
                .table(Schedules::Table)
                .col(Schedules::ProjectId)
                .to_owned(),
        )
        .await?;
        // What every process polls: the schedules that are due.
        m.create_index(
            Index::create()
                .name("idx_schedules_due")
                .table(Schedules::Table)
                .col(Schedules::NextRunAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ScheduleRuns::Table)
                .col(
                    ColumnDef::new(ScheduleRuns::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ScheduleRuns::ScheduleId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(ScheduleRuns::Slot).string_len(64).not_null())
                .col(timestamp(ScheduleRuns::ScheduledFor))
                .col(
                    ColumnDef::new(ScheduleRuns::Trigger)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ScheduleRuns::Outcome)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(ScheduleRuns::Reason).text().null())
                .col(ColumnDef::new(ScheduleRuns::TaskId).string_len(36).null())
                .col(timestamp(ScheduleRuns::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ScheduleRuns::Table, ScheduleRuns::ScheduleId)
                        .to(Schedules::Table, Schedules::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_schedule_runs_slot")
                .table(ScheduleRuns::Table)
                .col(ScheduleRuns::ScheduleId)
                .col(ScheduleRuns::Slot)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_schedule_runs_created")
                .table(ScheduleRuns::Table)
                .col(ScheduleRuns::ScheduleId)
                .col(ScheduleRuns::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectSecrets::Table)
                .col(
                    ColumnDef::new(ProjectSecrets::ProjectId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ProjectSecrets::Name)
                        .string_len(128)
                        .not_null(),
                )
                // Sealed by the vault for (project, name); never in the clear.
                .col(ColumnDef::new(ProjectSecrets::Sealed).text().not_null())
                .col(
                    ColumnDef::new(ProjectSecrets::UpdatedBy)
                        .string_len(36)
                        .not_null(),
                )
                .col(timestamp(ProjectSecrets::CreatedAt))
                .col(timestamp(ProjectSecrets::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ProjectSecrets::ProjectId)
                        .col(ProjectSecrets::Name),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectSecrets::Table, ProjectSecrets::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        // SQLite adds one column per ALTER.
        m.alter_table(
            Table::alter()
                .table(Tasks::Table)
                .add_column(ColumnDef::new(Tasks::ScheduleId).string_len(36).null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tasks::Table)
                .add_column(ColumnDef::new(Tasks::ProjectSecrets).text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tasks_project_schedule")
                .table(Tasks::Table)
                .col(Tasks::ProjectId)
                .col(Tasks::ScheduleId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
