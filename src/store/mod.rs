//! The database: connecting, migrating, and the entities. Queries live with the services that
//! own the rules; every one that reads project data takes the caller's resolved scope.

pub mod entities;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sigmic_migrations::{Migrator, MigratorTrait};

pub type Db = DatabaseConnection;

/// Connects and runs pending migrations, so a fresh data dir or database just works.
pub async fn connect(url: &str) -> Result<Db, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    // sea-orm logs every statement at info by default; statements carry hashed credentials
    // only, but they are noise in an operator's log.
    opts.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite serialises writers; one connection avoids `database is locked` under load.
        opts.max_connections(1);
        // Write-ahead logging with `synchronous = NORMAL`: a commit is one append, not a
        // journal round of fsyncs, and still survives the process being killed (only an OS
        // crash or power loss may lose the last commits). Task events are written per step.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
        });
    }
    let db = Database::connect(opts).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Short name of the backend for the start-up log line.
pub fn backend_name(db: &Db) -> &'static str {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "PostgreSQL",
        sea_orm::DatabaseBackend::Sqlite => "SQLite",
        _ => "MySQL",
    }
}

/// A write lost to a unique index (a name taken by a concurrent request).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
