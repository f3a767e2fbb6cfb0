//! A server's row and its spec, both ways: the clear half of the configuration as JSON, the
//! header and env values sealed by the vault, bound to the row's id.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::McpServerSpec;
use super::spec::{SealedValues, StoredConfig};
use crate::store::Db;
use crate::store::entities::mcp_server;
use crate::vault::{Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("a stored MCP server does not read back: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// What the vault binds a server's sealed values to: its row.
fn vault_owner(id: &str) -> String {
    format!("mcp-server:{id}")
}

/// The `config` and `sealed` columns of the row `id` holding `spec`.
pub fn columns(
    vault: &Vault,
    id: &str,
    spec: &McpServerSpec,
) -> Result<(String, String), StoredError> {
    let (stored, sealed) = spec.to_stored();
    let config = serde_json::to_string(&stored).map_err(|e| StoredError::Corrupt(e.to_string()))?;
    let sealed = serde_json::to_vec(&sealed).map_err(|e| StoredError::Corrupt(e.to_string()))?;
    Ok((config, vault.seal(&vault_owner(id), &sealed)?))
}

pub fn spec(vault: &Vault, row: &mcp_server::Model) -> Result<McpServerSpec, StoredError> {
    let stored: StoredConfig =
        serde_json::from_str(&row.config).map_err(|e| StoredError::Corrupt(e.to_string()))?;
    let sealed = vault.open(&vault_owner(&row.id), &row.sealed)?;
    let sealed: SealedValues =
        serde_json::from_slice(&sealed).map_err(|e| StoredError::Corrupt(e.to_string()))?;
    McpServerSpec::from_stored(&row.name, row.enabled, stored, sealed).map_err(StoredError::Corrupt)
}

/// The enabled servers of a project, by name, for a task's run.
pub async fn enabled(
    db: &Db,
    vault: &Vault,
    project_id: &str,
) -> Result<Vec<McpServerSpec>, StoredError> {
    let rows = mcp_server::Entity::find()
        .filter(mcp_server::Column::ProjectId.eq(project_id))
        .filter(mcp_server::Column::Enabled.eq(true))
        .order_by_asc(mcp_server::Column::Name)
        .all(db)
        .await?;
    rows.iter().map(|row| spec(vault, row)).collect()
}

/// Remembers what the last connection to a server showed (a test, or a task's start).
pub async fn record_status(
    db: &Db,
    project_id: &str,
    name: &str,
    status: &protocol::McpServerStatus,
) -> Result<(), StoredError> {
    let json = serde_json::to_string(status).map_err(|e| StoredError::Corrupt(e.to_string()))?;
    mcp_server::Entity::update_many()
        .col_expr(mcp_server::Column::Status, Expr::value(json))
        .filter(mcp_server::Column::ProjectId.eq(project_id))
        .filter(mcp_server::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(())
}
