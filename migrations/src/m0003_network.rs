//! A project's network policy: its mode (`off`, `internet`, `allowList`) and, for an
//! allow-list, its domains as a JSON array. Existing projects keep internet access, the
//! behaviour they had.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    NetworkMode,
    NetworkAllow,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .add_column(
                    ColumnDef::new(Projects::NetworkMode)
                        .string_len(16)
                        .not_null()
                        .default("internet"),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Projects::Table)
                .add_column(ColumnDef::new(Projects::NetworkAllow).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Projects::NetworkAllow, Projects::NetworkMode] {
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
