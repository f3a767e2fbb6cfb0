//! A project's prompts: named blocks of text added, in order, to the system prompt of every
//! task (the enabled ones). Project admins write them; everyone in the project reads them.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use super::access::{Caller, ProjectScope};
use super::{Services, new_id, ts, validate};
use crate::error::{ApiError, Error, Result};
use crate::store::entities::project_prompt;
use protocol::policy as dto;

const MAX_PROMPTS: usize = 50;
const MAX_CONTENT_CHARS: usize = 20_000;

fn to_dto(row: &project_prompt::Model) -> dto::Prompt {
    dto::Prompt {
        id: row.id.clone(),
        name: row.name.clone(),
        content: row.content.clone(),
        enabled: row.enabled,
        position: u32::try_from(row.position).unwrap_or(0),
        created_at: ts(row.created_at),
        updated_at: ts(row.updated_at.unwrap_or(row.created_at)),
    }
}

pub(super) struct Checked {
    pub name: String,
    pub content: String,
    pub enabled: bool,
    pub position: Option<usize>,
}

pub(super) fn check(input: dto::PromptInput) -> Result<Checked, ApiError> {
    let name =
        validate::name(&input.name, 100, "Prompt name").map_err(|m| ApiError::field("name", m))?;
    if input.content.trim().is_empty() {
        return Err(ApiError::field("content", "A prompt needs some text."));
    }
    if input.content.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::field(
            "content",
            format!("At most {MAX_CONTENT_CHARS} characters."),
        ));
    }
    if input.content.contains('\0') {
        return Err(ApiError::field(
            "content",
            "The text contains a NUL character.",
        ));
    }
    // The document states the position as a 32-bit integer; a client past it is refused
    // rather than read as "last".
    if input.position.is_some_and(|p| i32::try_from(p).is_err()) {
        return Err(ApiError::field(
            "position",
            format!("Use a position from 0 to {}.", i32::MAX),
        ));
    }
    Ok(Checked {
        name,
        content: input.content,
        enabled: input.enabled.unwrap_or(true),
        position: input
            .position
            .map(|p| usize::try_from(p).unwrap_or(usize::MAX)),
    })
}

/// The project's prompts in their order.
pub(super) async fn ordered<C: sea_orm::ConnectionTrait>(
    db: &C,
    project_id: &str,
) -> Result<Vec<project_prompt::Model>, sea_orm::DbErr> {
    project_prompt::Entity::find()
        .filter(project_prompt::Column::ProjectId.eq(project_id))
        .order_by_asc(project_prompt::Column::Position)
        .order_by_asc(project_prompt::Column::CreatedAt)
        .all(db)
        .await
}

/// Puts `id` at `position` (last when `None` or past the end) and numbers them all 0…n.
async fn renumber(
    txn: &DatabaseTransaction,
    mut rows: Vec<project_prompt::Model>,
    id: &str,
    position: Option<usize>,
) -> Result<(), sea_orm::DbErr> {
    if let Some(from) = rows.iter().position(|r| r.id == id) {
        let moved = rows.remove(from);
        let to = position.unwrap_or(rows.len()).min(rows.len());
        rows.insert(to, moved);
    }
    for (i, row) in rows.into_iter().enumerate() {
        let at = i64::try_from(i).unwrap_or(i64::MAX);
        if row.position != at {
            let mut active: project_prompt::ActiveModel = row.into();
            active.position = Set(at);
            active.update(txn).await?;
        }
    }
    Ok(())
}

impl Services {
    pub async fn prompts(&self, caller: &Caller, project_id: &str) -> Result<Vec<dto::Prompt>> {
        let scope = self.project_scope(caller, project_id).await?;
        Ok(ordered(self.db(), scope.project_id())
            .await?
            .iter()
            .map(to_dto)
            .collect())
    }

    pub async fn prompt(&self, caller: &Caller, project_id: &str, id: &str) -> Result<dto::Prompt> {
        let scope = self.project_scope(caller, project_id).await?;
        Ok(to_dto(&self.prompt_row(&scope, id).await?))
    }

    /// Adds a prompt at its position, or last (project admins).
    pub async fn create_prompt(
        &self,
        caller: &Caller,
        project_id: &str,
        input: dto::PromptInput,
    ) -> Result<dto::Prompt> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let prompt = check(input)?;
        let project = scope.project_id().to_owned();
        let id = new_id();
        let row_id = id.clone();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    let rows = ordered(txn, &project).await?;
                    if rows.len() >= MAX_PROMPTS {
                        return Err(ApiError::field(
                            "name",
                            format!("A project has at most {MAX_PROMPTS} prompts."),
                        )
                        .into());
                    }
                    let now = Utc::now();
                    let row = project_prompt::ActiveModel {
                        id: Set(row_id.clone()),
                        project_id: Set(project),
                        name: Set(prompt.name),
                        content: Set(prompt.content),
                        position: Set(i64::try_from(rows.len()).unwrap_or(i64::MAX)),
                        created_at: Set(now),
                        enabled: Set(prompt.enabled),
                        updated_at: Set(Some(now)),
                    }
                    .insert(txn)
                    .await?;
                    let mut all = rows;
                    all.push(row);
                    renumber(txn, all, &row_id, prompt.position).await?;
                    Ok(())
                })
            })
            .await?;
        self.prompt(caller, project_id, &id).await
    }

    /// Replaces a prompt; a `position` moves it (project admins).
    pub async fn replace_prompt(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
        input: dto::PromptInput,
    ) -> Result<dto::Prompt> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.prompt_row(&scope, id).await?;
        let prompt = check(input)?;
        let project = scope.project_id().to_owned();
        let keep = usize::try_from(row.position).ok();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    let row_id = row.id.clone();
                    let mut active: project_prompt::ActiveModel = row.into();
                    active.name = Set(prompt.name);
                    active.content = Set(prompt.content);
                    active.enabled = Set(prompt.enabled);
                    active.updated_at = Set(Some(Utc::now()));
                    active.update(txn).await?;
                    let rows = ordered(txn, &project).await?;
                    renumber(txn, rows, &row_id, prompt.position.or(keep)).await?;
                    Ok(())
                })
            })
            .await?;
        self.prompt(caller, project_id, id).await
    }

    pub async fn delete_prompt(&self, caller: &Caller, project_id: &str, id: &str) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.prompt_row(&scope, id).await?;
        let project = scope.project_id().to_owned();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    project_prompt::Entity::delete_by_id(row.id.clone())
                        .exec(txn)
                        .await?;
                    let rows = ordered(txn, &project).await?;
                    renumber(txn, rows, "", None).await?;
                    Ok(())
                })
            })
            .await?;
        Ok(())
    }

    async fn prompt_row(&self, scope: &ProjectScope, id: &str) -> Result<project_prompt::Model> {
        project_prompt::Entity::find_by_id(id.to_owned())
            .filter(project_prompt::Column::ProjectId.eq(scope.project_id()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Prompt").into())
    }
}
