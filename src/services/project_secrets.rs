//! A project's secret store as people manage it: project admins write and delete values,
//! people in the project see the names, and nobody reads a value back. The values themselves
//! (sealing, reading them for a run) are `crate::project_secrets`.

use chrono::Utc;
use protocol::schedule::{ProjectSecret, SetSecret};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use super::Services;
use super::access::Caller;
use super::tasks::check_env;
use crate::error::{ApiError, ErrorCode, Result};
use crate::project_secrets::seal;
use crate::rfc3339::ts;
use crate::store::entities::project_secret;

/// Secrets per project.
pub const MAX_SECRETS: u64 = 100;
const VALUE_MAX_CHARS: usize = 64 * 1024;

impl Services {
    /// The names of the project's secrets (people in the project).
    pub async fn project_secrets(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<Vec<ProjectSecret>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let rows = project_secret::Entity::find()
            .filter(project_secret::Column::ProjectId.eq(scope.project_id()))
            .order_by_asc(project_secret::Column::Name)
            .all(self.db())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ProjectSecret {
                name: r.name,
                updated_at: ts(r.updated_at),
            })
            .collect())
    }

    /// Sets a secret's value (project admins); the answer names it, never the value.
    pub async fn set_project_secret(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
        input: SetSecret,
    ) -> Result<ProjectSecret> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        // The same rules as a task's `secrets`: a name a shell accepts, a bounded value.
        let value = input.value.unwrap_or_default();
        if value.is_empty() {
            return Err(ApiError::field("value", "Write the secret's value.").into());
        }
        if value.chars().count() > VALUE_MAX_CHARS {
            return Err(ApiError::field(
                "value",
                format!("A secret is at most {VALUE_MAX_CHARS} characters."),
            )
            .into());
        }
        let checked =
            check_env("name", Some(serde_json::json!({ name: value }))).map_err(|mut e| {
                e.code = ErrorCode::ValidationError;
                e
            })?;
        let Some((name, value)) = checked.into_iter().next() else {
            return Err(ApiError::field("name", "Name the secret.").into());
        };
        let exists =
            project_secret::Entity::find_by_id((scope.project_id().to_owned(), name.clone()))
                .one(self.db())
                .await?
                .is_some();
        if !exists {
            let count = project_secret::Entity::find()
                .filter(project_secret::Column::ProjectId.eq(scope.project_id()))
                .count(self.db())
                .await?;
            if count >= MAX_SECRETS {
                return Err(ApiError::field(
                    "name",
                    format!("A project has at most {MAX_SECRETS} secrets; delete one first."),
                )
                .into());
            }
        }
        let sealed = seal(self.vault(), scope.project_id(), &name, &value)
            .map_err(|_| ApiError::internal())?;
        let now = Utc::now();
        project_secret::Entity::insert(project_secret::ActiveModel {
            project_id: Set(scope.project_id().to_owned()),
            name: Set(name.clone()),
            sealed: Set(sealed),
            updated_by: Set(user_id),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                project_secret::Column::ProjectId,
                project_secret::Column::Name,
            ])
            .update_columns([
                project_secret::Column::Sealed,
                project_secret::Column::UpdatedBy,
                project_secret::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(self.db())
        .await?;
        Ok(ProjectSecret {
            name,
            updated_at: ts(now),
        })
    }

    pub async fn delete_project_secret(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let gone =
            project_secret::Entity::delete_by_id((scope.project_id().to_owned(), name.to_owned()))
                .exec(self.db())
                .await?;
        if gone.rows_affected == 0 {
            return Err(ApiError::not_found("Secret").into());
        }
        Ok(())
    }

    /// A task naming project secrets: each must exist in its project.
    pub(super) async fn check_project_secrets(
        &self,
        project_id: &str,
        names: &[String],
    ) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let found: Vec<String> = project_secret::Entity::find()
            .filter(project_secret::Column::ProjectId.eq(project_id))
            .filter(project_secret::Column::Name.is_in(names.to_vec()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        if let Some(missing) = names.iter().find(|n| !found.contains(n)) {
            return Err(ApiError::field(
                "projectSecrets",
                format!("The project has no secret named `{missing}`."),
            )
            .into());
        }
        Ok(())
    }
}
