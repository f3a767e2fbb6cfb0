//! (extension) Conversations: the tasks shown in a person's Chat UI history, as that person's
//! own — listed and searched, renamed, deleted for good. A conversation is a task that
//! `own` selects; whoever else may see the task through the Task API (a project admin), it
//! is not theirs to list, rename or delete here — except a schedule's runs, which every
//! admin of the project follows.

use protocol::envelope::Pagination;
use protocol::task::{self as dto, Deleted};
use sea_orm::sea_query::{BinOper, Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::access::{Actor, Caller, ProjectScope};
use super::tasks::TaskService;
use super::validate;
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::ledger::LedgerError;
use crate::store::entities::{Role, task};

/// Longest search text (characters, after trimming).
pub const QUERY_MAX_CHARS: usize = 200;
/// Longest title (characters, after trimming); the column holds this many.
pub const TITLE_MAX_CHARS: usize = 200;

impl TaskService {
    /// The caller's own conversations in a project, in their scope: a person's are the tasks
    /// they made in the Chat UI or the Task API with their session (not with their API keys);
    /// an API key's are the tasks it made. Only tasks listed in the history count.
    fn own(scope: &ProjectScope) -> Condition {
        let base = Condition::all()
            .add(task::Column::OrgId.eq(scope.org_id()))
            .add(task::Column::ProjectId.eq(scope.project_id()))
            .add(task::Column::ShowInHistory.eq(true));
        match &scope.actor {
            Actor::ApiKey { key_id, .. } => base.add(task::Column::ApiKeyId.eq(key_id.as_str())),
            Actor::User { user_id } => {
                let mine = Condition::all()
                    .add(task::Column::UserId.eq(user_id.as_str()))
                    .add(task::Column::ApiKeyId.is_null());
                // A project's scheduled runs are its admins' to follow, whoever they act for.
                if scope.role == Role::Admin {
                    base.add(
                        Condition::any()
                            .add(mine)
                            .add(task::Column::ScheduleId.is_not_null()),
                    )
                } else {
                    base.add(mine)
                }
            }
            Actor::EndUser { end_user_id } => {
                base.add(task::Column::EndUserId.eq(end_user_id.as_str()))
            }
        }
    }

    /// The caller's conversations, newest activity first; `q` keeps those whose title or
    /// first message contains it (case-insensitively, taken literally).
    pub async fn conversations(
        &self,
        caller: &Caller,
        project_id: Option<&str>,
        q: Option<&str>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<(Vec<dto::Task>, Pagination)> {
        if let Some(q) = q
            && q.chars().count() > QUERY_MAX_CHARS
        {
            return Err(ApiError::field(
                "q",
                format!("The search text is too long: at most {QUERY_MAX_CHARS} characters."),
            )
            .into());
        }
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let scope = self.project_for(caller, project_id).await?;
        let mut condition = Self::own(&scope);
        if let Some(q) = q {
            let pattern = format!("%{}%", escape_like(q));
            condition = condition.add(
                Condition::any()
                    .add(contains(task::Column::Title, &pattern))
                    .add(contains(task::Column::Message, &pattern)),
            );
        }
        self.page(condition, limit, offset).await
    }

    /// One of the caller's own conversations, with its scope; anything else is not found.
    async fn find_own(
        &self,
        caller: &Caller,
        task_id: &str,
    ) -> Result<(task::Model, ProjectScope)> {
        let not_found = || Error::Api(ApiError::not_found("Conversation"));
        let scope = match self.find(caller, task_id).await {
            Ok((_, scope)) => scope,
            Err(Error::Api(e)) if e.code == ErrorCode::NotFound => return Err(not_found()),
            Err(e) => return Err(e),
        };
        let row = task::Entity::find_by_id(task_id.to_owned())
            .filter(Self::own(&scope))
            .one(self.db())
            .await?
            .ok_or_else(not_found)?;
        Ok((row, scope))
    }

    /// Renames one of the caller's conversations; answers the task as `get` does.
    pub async fn rename_conversation(
        &self,
        caller: &Caller,
        task_id: &str,
        title: Option<&str>,
    ) -> Result<dto::Task> {
        let (row, scope) = self.find_own(caller, task_id).await?;
        let title = validate::name(title.unwrap_or_default(), TITLE_MAX_CHARS, "The title")
            .map_err(|m| ApiError::field("title", m))?;
        let res = task::Entity::update_many()
            .col_expr(task::Column::Title, Expr::value(title))
            .filter(task::Column::Id.eq(row.id.as_str()))
            .filter(Self::own(&scope))
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 {
            // Deleted meanwhile.
            return Err(ApiError::not_found("Conversation").into());
        }
        self.get(caller, &row.id).await
    }

    /// Deletes one of the caller's conversations for good: an active one is cancelled first
    /// (as `cancel` does: its worker fenced, its processes killed), then its rows go in one
    /// transaction, then its workspace and snapshot.
    pub async fn delete_conversation(&self, caller: &Caller, task_id: &str) -> Result<Deleted> {
        let (row, scope) = self.find_own(caller, task_id).await?;
        match self.remove_task(&row.id, Self::own(&scope)).await {
            Err(LedgerError::NotFound) => return Err(ApiError::not_found("Conversation").into()),
            other => other?,
        }
        Ok(Deleted {
            message: "Conversation deleted".to_owned(),
        })
    }
}

/// `LOWER(column) LIKE LOWER(pattern) ESCAPE '\'`: the same case folding on both sides, by
/// the database, so SQLite and PostgreSQL answer alike.
fn contains(column: task::Column, pattern: &str) -> Expr {
    let pattern = Expr::Binary(
        Box::new(Func::lower(Expr::val(pattern)).into()),
        BinOper::Escape,
        Box::new(Expr::Constant('\\'.into())),
    );
    Func::lower(Expr::col(column)).binary(BinOper::Like, pattern)
}

/// The user's text taken literally in a LIKE pattern: `\`, `%` and `_` escaped with `\`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_taken_literally() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("plain"), "plain");
    }
}
