//! The embeddable widget: a project's widget apps (their secret stored only as a hash, with
//! the one before a rotation kept until its overlap ends), the end users their tokens act as
//! (their env and secrets sealed by the vault), and which end user a task belongs to.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WidgetApps {
    Table,
    Id,
    ProjectId,
    Name,
    SecretHash,
    PreviousSecretHash,
    PreviousSecretExpiresAt,
    AllowedOrigins,
    Look,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WidgetEndUsers {
    Table,
    Id,
    AppId,
    ExternalId,
    Sealed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    ProjectId,
    EndUserId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WidgetApps::Table)
                .col(
                    ColumnDef::new(WidgetApps::Id)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WidgetApps::ProjectId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(WidgetApps::Name).string_len(200).not_null())
                .col(
                    ColumnDef::new(WidgetApps::SecretHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WidgetApps::PreviousSecretHash)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(WidgetApps::PreviousSecretExpiresAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                // JSON: the origins as written (normalised), and the look.
                .col(ColumnDef::new(WidgetApps::AllowedOrigins).text().not_null())
                .col(ColumnDef::new(WidgetApps::Look).text().not_null())
                .col(
                    ColumnDef::new(WidgetApps::CreatedBy)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WidgetApps::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WidgetApps::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WidgetApps::Table, WidgetApps::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_widget_apps_project")
                .table(WidgetApps::Table)
                .col(WidgetApps::ProjectId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WidgetEndUsers::Table)
                .col(
                    ColumnDef::new(WidgetEndUsers::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WidgetEndUsers::AppId)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WidgetEndUsers::ExternalId)
                        .string_len(256)
                        .not_null(),
                )
                // `{env, secrets}` sealed by the vault for this row; never in the clear.
                .col(ColumnDef::new(WidgetEndUsers::Sealed).text().not_null())
                .col(
                    ColumnDef::new(WidgetEndUsers::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WidgetEndUsers::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WidgetEndUsers::Table, WidgetEndUsers::AppId)
                        .to(WidgetApps::Table, WidgetApps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_widget_end_users_app_external")
                .table(WidgetEndUsers::Table)
                .col(WidgetEndUsers::AppId)
                .col(WidgetEndUsers::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;

        // No foreign key: a deleted widget app takes its end users, while their
        // conversations stay with the project for its admins.
        m.alter_table(
            Table::alter()
                .table(Tasks::Table)
                .add_column(ColumnDef::new(Tasks::EndUserId).string_len(36).null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tasks_project_end_user")
                .table(Tasks::Table)
                .col(Tasks::ProjectId)
                .col(Tasks::EndUserId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
