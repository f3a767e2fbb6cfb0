//! People and access: users, organizations, projects, memberships, invitations, sessions and
//! API keys. Identifiers are UUIDv7 strings so rows sort by creation on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Username,
    Name,
    PasswordHash,
    DefaultProjectId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrgMembers {
    Table,
    OrgId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OrgId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrgId,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ProjectId,
    Name,
    Prefix,
    KeyHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id_col(Users::Id))
                .col(
                    ColumnDef::new(Users::Email)
                        .string_len(320)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(Users::Username)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Users::Name).string_len(200).not_null())
                .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                .col(
                    ColumnDef::new(Users::DefaultProjectId)
                        .string_len(36)
                        .null(),
                )
                .col(time_col(Users::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(id_col(Organizations::Id))
                .col(
                    ColumnDef::new(Organizations::Name)
                        .string_len(200)
                        .not_null(),
                )
                .col(time_col(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OrgMembers::Table)
                .col(ref_col(OrgMembers::OrgId))
                .col(ref_col(OrgMembers::UserId))
                .col(ColumnDef::new(OrgMembers::Role).string_len(16).not_null())
                .col(time_col(OrgMembers::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(OrgMembers::OrgId)
                        .col(OrgMembers::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(OrgMembers::Table, OrgMembers::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(OrgMembers::Table, OrgMembers::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_org_members_user")
                .table(OrgMembers::Table)
                .col(OrgMembers::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(id_col(Projects::Id))
                .col(ref_col(Projects::OrgId))
                .col(ColumnDef::new(Projects::Name).string_len(100).not_null())
                .col(time_col(Projects::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Projects::Table, Projects::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_projects_org_name")
                .table(Projects::Table)
                .col(Projects::OrgId)
                .col(Projects::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectMembers::Table)
                .col(ref_col(ProjectMembers::ProjectId))
                .col(ref_col(ProjectMembers::UserId))
                .col(
                    ColumnDef::new(ProjectMembers::Role)
                        .string_len(16)
                        .not_null(),
                )
                .col(time_col(ProjectMembers::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(ProjectMembers::ProjectId)
                        .col(ProjectMembers::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectMembers::Table, ProjectMembers::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectMembers::Table, ProjectMembers::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Invitations::Table)
                .col(id_col(Invitations::Id))
                .col(ref_col(Invitations::OrgId))
                .col(
                    ColumnDef::new(Invitations::Email)
                        .string_len(320)
                        .not_null(),
                )
                .col(ColumnDef::new(Invitations::Role).string_len(16).not_null())
                .col(
                    ColumnDef::new(Invitations::TokenHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ref_col(Invitations::InvitedBy))
                .col(time_col(Invitations::CreatedAt))
                .col(time_col(Invitations::ExpiresAt))
                .col(opt_time_col(Invitations::AcceptedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Invitations::Table, Invitations::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(id_col(Sessions::Id))
                .col(ref_col(Sessions::UserId))
                .col(
                    ColumnDef::new(Sessions::TokenHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(time_col(Sessions::CreatedAt))
                .col(time_col(Sessions::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Sessions::Table, Sessions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(id_col(ApiKeys::Id))
                .col(ref_col(ApiKeys::ProjectId))
                .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                .col(ColumnDef::new(ApiKeys::Prefix).string_len(32).not_null())
                .col(
                    ColumnDef::new(ApiKeys::KeyHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ref_col(ApiKeys::CreatedBy))
                .col(time_col(ApiKeys::CreatedAt))
                .col(opt_time_col(ApiKeys::LastUsedAt))
                .col(opt_time_col(ApiKeys::ExpiresAt))
                .col(opt_time_col(ApiKeys::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::ProjectId)
                        .to(Projects::Table, Projects::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_keys_project")
                .table(ApiKeys::Table)
                .col(ApiKeys::ProjectId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ApiKeys::Table.into_iden(),
            Sessions::Table.into_iden(),
            Invitations::Table.into_iden(),
            ProjectMembers::Table.into_iden(),
            Projects::Table.into_iden(),
            OrgMembers::Table.into_iden(),
            Organizations::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
