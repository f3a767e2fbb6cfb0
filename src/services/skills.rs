//! A project's skills: project admins add them (a ZIP of the folder, or JSON written in the
//! Console), replace them with a new version, turn them on and off and delete them; everyone
//! in the project reads them. A refused skill writes nothing.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::access::{Caller, ProjectScope};
use super::{Services, ts};
use crate::error::{ApiError, Error, Result};
use crate::skills::{self, SkillBundle, SkillError, SkillName, stored};
use crate::store::entities::skill;
use protocol::ErrorCode;
use protocol::skills as dto;

/// A skill as it arrives.
pub enum SkillSource {
    Json(dto::SkillInput),
    /// A ZIP of the skill's folder; `enabled` from the form (true when absent).
    Zip {
        bytes: Vec<u8>,
        enabled: Option<bool>,
    },
}

impl From<SkillError> for ApiError {
    fn from(e: SkillError) -> Self {
        if e.too_large {
            let mut api = ApiError::new(ErrorCode::PayloadTooLarge, e.message.clone());
            api.fields.insert(e.field, e.message);
            api
        } else {
            ApiError::field(&e.field, e.message)
        }
    }
}

impl Services {
    pub async fn skills(&self, caller: &Caller, project_id: &str) -> Result<Vec<dto::Skill>> {
        let scope = self.project_scope(caller, project_id).await?;
        let mut out = Vec::new();
        for row in stored::rows(self.db(), scope.project_id()).await? {
            out.push(self.skill_dto(row).await?);
        }
        Ok(out)
    }

    pub async fn skill(&self, caller: &Caller, project_id: &str, name: &str) -> Result<dto::Skill> {
        let scope = self.project_scope(caller, project_id).await?;
        let row = self.skill_row(&scope, name).await?;
        self.skill_dto(row).await
    }

    /// Adds a skill (project admins). A name the project has already is refused on `name`.
    pub async fn create_skill(
        &self,
        caller: &Caller,
        project_id: &str,
        source: SkillSource,
    ) -> Result<dto::Skill> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let (bundle, enabled) = self.read_skill(source).await?;
        let project = scope.project_id().to_owned();
        let row = self
            .db()
            .transaction::<_, skill::Model, Error>(move |txn| {
                Box::pin(async move {
                    let rows = stored::rows(txn, &project).await?;
                    let name = bundle.manifest.name.as_str();
                    if rows.iter().any(|r| r.name == name) {
                        return Err(ApiError::field(
                            "name",
                            format!(
                                "The project has a skill named `{name}` already: replace it (PUT) to give it a new version."
                            ),
                        )
                        .into());
                    }
                    if rows.len() >= skills::MAX_SKILLS {
                        return Err(ApiError::field(
                            "name",
                            format!("A project has at most {} skills.", skills::MAX_SKILLS),
                        )
                        .into());
                    }
                    Ok(stored::save(txn, &project, &bundle, enabled, None).await?)
                })
            })
            .await?;
        self.skill_dto(row).await
    }

    /// Replaces a skill's files and text with a new version (project admins). The name in the
    /// body must be the skill's: a skill is renamed by adding it under the new name.
    pub async fn replace_skill(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
        source: SkillSource,
    ) -> Result<dto::Skill> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.skill_row(&scope, name).await?;
        let keep_enabled = row.enabled;
        let (bundle, enabled) = match source {
            SkillSource::Zip { bytes, enabled } => {
                self.read_skill(SkillSource::Zip {
                    bytes,
                    enabled: enabled.or(Some(keep_enabled)),
                })
                .await?
            }
            SkillSource::Json(mut input) => {
                input.enabled = input.enabled.or(Some(keep_enabled));
                self.read_skill(SkillSource::Json(input)).await?
            }
        };
        if bundle.manifest.name.as_str() != row.name {
            let field = "name";
            return Err(ApiError::field(
                field,
                format!(
                    "This is the skill `{}`; the new version is named `{}`. Add it as a new skill instead.",
                    row.name, bundle.manifest.name
                ),
            )
            .into());
        }
        let project = scope.project_id().to_owned();
        let row = self
            .db()
            .transaction::<_, skill::Model, Error>(move |txn| {
                Box::pin(async move {
                    Ok(stored::save(txn, &project, &bundle, enabled, Some(row)).await?)
                })
            })
            .await?;
        self.skill_dto(row).await
    }

    /// Turns a skill on or off for the project's next runs (project admins).
    pub async fn set_skill_enabled(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
        enabled: bool,
    ) -> Result<dto::Skill> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.skill_row(&scope, name).await?;
        let mut active: skill::ActiveModel = row.into();
        active.enabled = Set(enabled);
        active.updated_at = Set(Utc::now());
        let row = active.update(self.db()).await?;
        self.skill_dto(row).await
    }

    pub async fn delete_skill(&self, caller: &Caller, project_id: &str, name: &str) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.skill_row(&scope, name).await?;
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move { Ok(stored::delete(txn, vec![row.id]).await?) })
            })
            .await?;
        Ok(())
    }

    /// Checks a skill as it arrived; a ZIP is unpacked off the async threads.
    pub(crate) async fn read_skill(&self, source: SkillSource) -> Result<(SkillBundle, bool)> {
        match source {
            SkillSource::Json(input) => {
                let bundle = SkillBundle::from_input(&input).map_err(ApiError::from)?;
                Ok((bundle, input.enabled.unwrap_or(true)))
            }
            SkillSource::Zip { bytes, enabled } => {
                let staging = self.config().data_dir.join("staging");
                let bundle =
                    tokio::task::spawn_blocking(move || SkillBundle::from_zip(&bytes, &staging))
                        .await?
                        .map_err(ApiError::from)?;
                Ok((bundle, enabled.unwrap_or(true)))
            }
        }
    }

    async fn skill_row(&self, scope: &ProjectScope, name: &str) -> Result<skill::Model> {
        let not_found = || Error::from(ApiError::not_found("Skill"));
        let name = SkillName::parse(name, "name").map_err(|_| not_found())?;
        skill::Entity::find()
            .filter(skill::Column::ProjectId.eq(scope.project_id()))
            .filter(skill::Column::Name.eq(name.as_str()))
            .one(self.db())
            .await?
            .ok_or_else(not_found)
    }

    async fn skill_dto(&self, row: skill::Model) -> Result<dto::Skill> {
        Ok(dto::Skill {
            files: stored::index(self.db(), &row.id).await?,
            name: row.name,
            description: row.description,
            instructions: row.instructions,
            enabled: row.enabled,
            version: u32::try_from(row.version).unwrap_or(u32::MAX),
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
        })
    }
}
