//! Which built-in subagents a project offers its agent: everyone in the project sees the
//! list; project admins turn them on and off.

use std::collections::BTreeMap;

use sea_orm::{ActiveModelTrait, Set};

use super::Services;
use super::access::Caller;
use crate::error::{ApiError, Result};
use crate::store::entities::project;
use crate::subagents;
use protocol::skills as dto;

impl Services {
    pub async fn subagents(&self, caller: &Caller, project_id: &str) -> Result<Vec<dto::Subagent>> {
        let scope = self.project_scope(caller, project_id).await?;
        Ok(listing(&scope.project.subagents))
    }

    /// Turns the named subagents on (`true`) or off; the others stay as they are (project
    /// admins). An unknown name is refused, naming it.
    pub async fn set_subagents(
        &self,
        caller: &Caller,
        project_id: &str,
        choice: BTreeMap<String, bool>,
    ) -> Result<Vec<dto::Subagent>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let merged = merge_subagents(&scope.project.subagents, &choice)?;
        let mut active: project::ActiveModel = scope.project.into();
        active.subagents = Set(merged.clone());
        active.update(self.db()).await?;
        Ok(listing(&merged))
    }
}

/// The stored choice with `choice` applied, or the unknown names as field errors.
pub(crate) fn merge_subagents(
    stored: &str,
    choice: &BTreeMap<String, bool>,
) -> Result<String, ApiError> {
    let unknown: BTreeMap<String, String> = choice
        .keys()
        .filter(|name| subagents::find(name).is_none())
        .map(|name| {
            let known: Vec<&str> = subagents::ALL.iter().map(|s| s.name).collect();
            (
                name.clone(),
                format!(
                    "No built-in subagent is called `{name}`; there are: {}.",
                    known.join(", ")
                ),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::fields(unknown));
    }
    let mut on = subagents::enabled(stored);
    on.extend(choice.iter().map(|(k, v)| (k.clone(), *v)));
    Ok(serde_json::to_string(&on).unwrap_or_else(|_| "{}".to_owned()))
}

fn listing(stored: &str) -> Vec<dto::Subagent> {
    let on = subagents::enabled(stored);
    subagents::ALL
        .iter()
        .map(|s| s.to_dto(on.get(s.name).copied().unwrap_or(false)))
        .collect()
}
