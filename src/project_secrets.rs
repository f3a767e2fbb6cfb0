//! A project's secret store: values its admins write and nobody reads back, sealed by the
//! vault (bound to the project and the name), that reach the project's scheduled tasks, and
//! API tasks that name them, as `secrets`: in the sandbox's environment, in `{{mcp.KEY}}`,
//! and redacted from every output. Runs read them from the store each time, so a changed
//! value applies from the next run and a restart needs nothing from memory.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::store::entities::project_secret;
use crate::vault::{Vault, VaultError};

/// Which of its project's secrets a task's runs read, as stored on the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectSecretUse {
    /// Every one (a schedule's runs).
    All,
    /// Those the task named.
    Named(Vec<String>),
}

const ALL: &str = "*";

impl ProjectSecretUse {
    /// The task column's text.
    pub fn to_column(&self) -> String {
        match self {
            Self::All => ALL.to_owned(),
            Self::Named(names) => serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned()),
        }
    }

    pub fn from_column(text: &str) -> Self {
        if text == ALL {
            return Self::All;
        }
        Self::Named(serde_json::from_str(text).unwrap_or_default())
    }
}

fn owner(project_id: &str, name: &str) -> String {
    format!("project-secret:{project_id}:{name}")
}

pub fn seal(
    vault: &Vault,
    project_id: &str,
    name: &str,
    value: &str,
) -> Result<String, VaultError> {
    vault.seal(&owner(project_id, name), value.as_bytes())
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectSecretsError {
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error("the project secret `{0}` cannot be opened: {1}")]
    Vault(String, VaultError),
}

/// The values a run of a task of `project_id` gets. A named secret deleted since is left
/// out (the run goes on without it, as a task whose `secrets` lacked it).
pub async fn values_for_run(
    db: &crate::store::Db,
    vault: &Vault,
    project_id: &str,
    used: &ProjectSecretUse,
) -> Result<BTreeMap<String, String>, ProjectSecretsError> {
    let mut query =
        project_secret::Entity::find().filter(project_secret::Column::ProjectId.eq(project_id));
    if let ProjectSecretUse::Named(names) = used {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        query = query.filter(project_secret::Column::Name.is_in(names.clone()));
    }
    let mut out = BTreeMap::new();
    for row in query.all(db).await? {
        let bytes = vault
            .open(&owner(project_id, &row.name), &row.sealed)
            .map_err(|e| ProjectSecretsError::Vault(row.name.clone(), e))?;
        let value = String::from_utf8(bytes)
            .map_err(|_| ProjectSecretsError::Vault(row.name.clone(), VaultError::Open))?;
        out.insert(row.name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_round_trip_through_the_task_column() {
        for used in [
            ProjectSecretUse::All,
            ProjectSecretUse::Named(vec!["A".to_owned(), "B_2".to_owned()]),
            ProjectSecretUse::Named(Vec::new()),
        ] {
            assert_eq!(ProjectSecretUse::from_column(&used.to_column()), used);
        }
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_project_and_name() -> Result<(), VaultError> {
        let vault = Vault::new(&[3; 32])?;
        let sealed = seal(&vault, "p1", "TOKEN", "hunter2-value")?;
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            vault.open(&owner("p1", "TOKEN"), &sealed)?,
            b"hunter2-value"
        );
        assert!(vault.open(&owner("p2", "TOKEN"), &sealed).is_err());
        assert!(vault.open(&owner("p1", "OTHER"), &sealed).is_err());
        Ok(())
    }
}
