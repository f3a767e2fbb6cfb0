//! Tasks: the task row (also the work queue, claimed with a lease), the conversation
//! (messages and tool calls) and the event log every stream replays. Project settings that
//! tasks read (the model) live on the project.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Model,
}

#[derive(DeriveIden)]
enum ProjectPrompts {
    Table,
    Id,
    ProjectId,
    Name,
    Content,
    Position,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    OrgId,
    ProjectId,
    ApiKeyId,
    UserId,
    Title,
    Status,
    Message,
    SystemPrompt,
    ShowInHistory,
    AutoExecute,
    Env,
    Error,
    Model,
    AllowedTools,
    MessageCount,
    LastSeq,
    InputTokens,
    OutputTokens,
    CostUsd,
    WorkerId,
    LeaseUntil,
    LeaseEpoch,
    CancelRequested,
    RunStartedAt,
    CreatedAt,
    StartedAt,
    CompletedAt,
    LastActivityAt,
}

#[derive(DeriveIden)]
enum TaskMessages {
    Table,
    Id,
    TaskId,
    Position,
    Role,
    Parts,
    AttachedFiles,
    Seq,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TaskToolCalls {
    Table,
    TaskId,
    CallId,
    MessageId,
    Position,
    ToolName,
    Args,
    Status,
    Output,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum TaskEvents {
    Table,
    TaskId,
    Seq,
    Kind,
    Data,
    CreatedAt,
}

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(36)
        .not_null()
        .primary_key()
        .to_owned()
}

fn ref_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(36).not_null().to_owned()
}

fn opt_ref_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(36).null().to_owned()
}

fn time_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn opt_time_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn int_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .add_column(ColumnDef::new(Projects::Model).string_len(255).null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectPrompts::Table)
                .col(id_col(ProjectPrompts::Id))
                .col(ref_col(ProjectPrompts::ProjectId))
                .col(
                    ColumnDef::new(ProjectPrompts::Name)
                        .string_len(100)
                        .not_null(),
                )
                .col(ColumnDef::new(ProjectPrompts::Content).text().not_null())
                .col(int_col(ProjectPrompts::Position))
                .col(time_col(ProjectPrompts::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectPrompts::Table, ProjectPrompts::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .col(id_col(Tasks::Id))
                .col(ref_col(Tasks::OrgId))
                .col(ref_col(Tasks::ProjectId))
                .col(opt_ref_col(Tasks::ApiKeyId))
                .col(opt_ref_col(Tasks::UserId))
                .col(ColumnDef::new(Tasks::Title).string_len(200).not_null())
                .col(ColumnDef::new(Tasks::Status).string_len(24).not_null())
                .col(ColumnDef::new(Tasks::Message).text().not_null())
                .col(ColumnDef::new(Tasks::SystemPrompt).text().null())
                .col(ColumnDef::new(Tasks::ShowInHistory).boolean().not_null())
                .col(ColumnDef::new(Tasks::AutoExecute).boolean().not_null())
                .col(ColumnDef::new(Tasks::Env).text().null())
                .col(ColumnDef::new(Tasks::Error).text().null())
                .col(ColumnDef::new(Tasks::Model).string_len(255).null())
                .col(
                    ColumnDef::new(Tasks::AllowedTools)
                        .text()
                        .not_null()
                        .default("[]"),
                )
                .col(int_col(Tasks::MessageCount))
                .col(int_col(Tasks::LastSeq))
                .col(int_col(Tasks::InputTokens))
                .col(int_col(Tasks::OutputTokens))
                .col(ColumnDef::new(Tasks::CostUsd).double().null())
                .col(ColumnDef::new(Tasks::WorkerId).string_len(64).null())
                .col(opt_time_col(Tasks::LeaseUntil))
                .col(int_col(Tasks::LeaseEpoch))
                .col(
                    ColumnDef::new(Tasks::CancelRequested)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(opt_time_col(Tasks::RunStartedAt))
                .col(time_col(Tasks::CreatedAt))
                .col(opt_time_col(Tasks::StartedAt))
                .col(opt_time_col(Tasks::CompletedAt))
                .col(time_col(Tasks::LastActivityAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Tasks::Table, Tasks::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tasks_project_activity")
                .table(Tasks::Table)
                .col(Tasks::ProjectId)
                .col(Tasks::LastActivityAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tasks_queue")
                .table(Tasks::Table)
                .col(Tasks::Status)
                .col(Tasks::LeaseUntil)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TaskMessages::Table)
                .col(id_col(TaskMessages::Id))
                .col(ref_col(TaskMessages::TaskId))
                .col(int_col(TaskMessages::Position))
                .col(ColumnDef::new(TaskMessages::Role).string_len(16).not_null())
                .col(ColumnDef::new(TaskMessages::Parts).text().not_null())
                .col(ColumnDef::new(TaskMessages::AttachedFiles).text().null())
                .col(int_col(TaskMessages::Seq))
                .col(time_col(TaskMessages::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(TaskMessages::Table, TaskMessages::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_task_messages_position")
                .table(TaskMessages::Table)
                .col(TaskMessages::TaskId)
                .col(TaskMessages::Position)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TaskToolCalls::Table)
                .col(ref_col(TaskToolCalls::TaskId))
                .col(
                    ColumnDef::new(TaskToolCalls::CallId)
                        .string_len(128)
                        .not_null(),
                )
                .col(ref_col(TaskToolCalls::MessageId))
                .col(int_col(TaskToolCalls::Position))
                .col(
                    ColumnDef::new(TaskToolCalls::ToolName)
                        .string_len(128)
                        .not_null(),
                )
                .col(ColumnDef::new(TaskToolCalls::Args).text().not_null())
                .col(
                    ColumnDef::new(TaskToolCalls::Status)
                        .string_len(24)
                        .not_null(),
                )
                .col(ColumnDef::new(TaskToolCalls::Output).text().null())
                .col(time_col(TaskToolCalls::CreatedAt))
                .col(opt_time_col(TaskToolCalls::CompletedAt))
                .primary_key(
                    Index::create()
                        .col(TaskToolCalls::TaskId)
                        .col(TaskToolCalls::CallId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(TaskToolCalls::Table, TaskToolCalls::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TaskEvents::Table)
                .col(ref_col(TaskEvents::TaskId))
                .col(ColumnDef::new(TaskEvents::Seq).big_integer().not_null())
                .col(ColumnDef::new(TaskEvents::Kind).string_len(32).not_null())
                .col(ColumnDef::new(TaskEvents::Data).text().not_null())
                .col(time_col(TaskEvents::CreatedAt))
                .primary_key(Index::create().col(TaskEvents::TaskId).col(TaskEvents::Seq))
                .foreign_key(
                    ForeignKey::create()
                        .from(TaskEvents::Table, TaskEvents::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TaskEvents::Table.into_iden(),
            TaskToolCalls::Table.into_iden(),
            TaskMessages::Table.into_iden(),
            Tasks::Table.into_iden(),
            ProjectPrompts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .drop_column(Projects::Model)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
