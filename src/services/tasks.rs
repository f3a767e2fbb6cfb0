//! Tasks as callers see them: create, list, read, follow up, approve, cancel, and their files.
//! The rules (who sees which task, the limits of the API page) live here; the runtime does
//! the work.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::dto::task::{
    self as dto, CreatedTask, ErrorEvent, FollowUpAccepted, History, StreamEvent,
    TaskStatus as DtoStatus, TaskUsage, ToolResultEvent,
};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::Value;

use super::access::{Actor, Caller, ProjectScope};
use super::{Services, new_id, ts};
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::runtime::Runtime;
use crate::runtime::conversation::{CallStatus, Conversation};
use crate::runtime::events::{self, Writer};
use crate::store::entities::{Role, TaskStatus, task, task_message, task_tool_call, user};
use crate::workspace::{UploadBatch, UploadedFile, Workspace};

pub const MESSAGE_MAX_CHARS: usize = 200_000;
pub const SYSTEM_PROMPT_MAX_CHARS: usize = 100_000;
pub const ENV_MAX_ENTRIES: usize = 100;
pub const ENV_VALUE_MAX_BYTES: usize = 64 * 1024;
pub const LIST_DEFAULT: u64 = 50;
pub const LIST_MAX: u64 = 100;

/// The fields of a new task, as parsed from JSON or multipart.
#[derive(Debug, Default)]
pub struct NewTask {
    pub message: Option<String>,
    pub system_prompt: Option<String>,
    pub show_in_history: Option<bool>,
    pub auto_execute: Option<bool>,
    pub env: Option<Value>,
    pub secrets: Option<Value>,
    /// (extension) For people signed in: the project; their default project when unset.
    pub project_id: Option<String>,
}

/// A task being created: its id and workspace exist so uploads can stream into it before
/// the row is written. Dropped without `create`, it leaves nothing behind.
pub struct Draft {
    pub id: String,
    scope: ProjectScope,
    workspace: Workspace,
    upload: Option<UploadBatch>,
    /// The workspace was made for this draft (a new task): removed unless the task is
    /// written.
    fresh: bool,
}

impl Drop for Draft {
    fn drop(&mut self) {
        // A refused request (bad field, too many files, a broken body) leaves nothing: the
        // batch removes its staging; a new task's empty workspace goes here.
        if self.fresh {
            drop(self.upload.take());
            if let Err(e) = std::fs::remove_dir_all(self.workspace.root())
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(task = %self.id, error = %e, "cannot remove a refused task's workspace");
            }
        }
    }
}

impl Draft {
    /// The upload batch, started on the first file.
    pub fn upload(&mut self, limits: &crate::config::UploadsConfig) -> Result<&mut UploadBatch> {
        if self.upload.is_none() {
            self.upload = Some(
                self.workspace
                    .begin_upload(limits)
                    .map_err(|e| Error::Api(e.to_api_error()))?,
            );
        }
        self.upload
            .as_mut()
            .ok_or_else(|| Error::Api(ApiError::internal()))
    }
}

/// Who may see which tasks of a project.
enum Visibility {
    /// An API key sees the tasks it created.
    Key(String),
    /// A project admin sees all; a member their own (made in the Chat UI or with their keys).
    Person { user_id: String, admin: bool },
}

#[derive(Clone)]
pub struct TaskService {
    services: Services,
    runtime: Arc<Runtime>,
}

impl TaskService {
    pub fn new(services: Services, runtime: Arc<Runtime>) -> Self {
        Self { services, runtime }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub(super) fn db(&self) -> &crate::store::Db {
        self.services.db()
    }

    fn visibility(scope: &ProjectScope) -> Visibility {
        match &scope.actor {
            Actor::ApiKey { key_id, .. } => Visibility::Key(key_id.clone()),
            Actor::User { user_id } => Visibility::Person {
                user_id: user_id.clone(),
                admin: scope.role == Role::Admin,
            },
        }
    }

    fn visible(scope: &ProjectScope) -> Condition {
        let base = Condition::all().add(task::Column::ProjectId.eq(scope.project_id()));
        match Self::visibility(scope) {
            Visibility::Key(key_id) => base.add(task::Column::ApiKeyId.eq(key_id)),
            Visibility::Person { admin: true, .. } => base,
            Visibility::Person { user_id, .. } => base.add(task::Column::UserId.eq(user_id)),
        }
    }

    /// The project a caller's tasks live in: an API key's own, or the one a person names
    /// (their default when they name none).
    pub async fn project_for(
        &self,
        caller: &Caller,
        project_id: Option<&str>,
    ) -> Result<ProjectScope> {
        let id =
            match (caller, project_id) {
                (Caller::ApiKey(k), _) => k.key.project_id.clone(),
                (Caller::User(_), Some(p)) if !p.is_empty() => p.to_owned(),
                (Caller::User(u), _) => u.user.default_project_id.clone().ok_or_else(|| {
                    ApiError::field("projectId", "Name the project (`projectId`).")
                })?,
            };
        self.services.project_scope(caller, &id).await
    }

    /// One task the caller may see, with its scope.
    pub(super) async fn find(
        &self,
        caller: &Caller,
        task_id: &str,
    ) -> Result<(task::Model, ProjectScope)> {
        let not_found = || Error::Api(ApiError::not_found("Task"));
        let row = task::Entity::find_by_id(task_id.to_owned())
            .one(self.db())
            .await?
            .ok_or_else(not_found)?;
        if caller.org_id() != Some(row.org_id.as_str()) {
            return Err(not_found());
        }
        let scope = match self.services.project_scope(caller, &row.project_id).await {
            Ok(s) => s,
            Err(Error::Api(e)) if e.code == ErrorCode::NotFound => return Err(not_found()),
            Err(e) => return Err(e),
        };
        let visible = match Self::visibility(&scope) {
            Visibility::Key(key_id) => row.api_key_id.as_deref() == Some(key_id.as_str()),
            Visibility::Person { admin: true, .. } => true,
            Visibility::Person { user_id, .. } => row.user_id.as_deref() == Some(user_id.as_str()),
        };
        if !visible {
            return Err(not_found());
        }
        Ok((row, scope))
    }

    /// Checks the caller may reach the task; for the stream and file handlers.
    pub async fn authorize(&self, caller: &Caller, task_id: &str) -> Result<task::Model> {
        Ok(self.find(caller, task_id).await?.0)
    }

    /// Starts a new task for the caller: id and workspace, before any field is read.
    pub async fn draft(&self, caller: &Caller, project_id: Option<&str>) -> Result<Draft> {
        let scope = self.project_for(caller, project_id).await?;
        self.ensure_sandbox()?;
        let id = new_id();
        let workspace = self
            .runtime
            .sandboxes()
            .open_workspace(&id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot open a workspace");
                Error::Api(ApiError::internal())
            })?;
        Ok(Draft {
            id,
            scope,
            workspace,
            upload: None,
            fresh: true,
        })
    }

    fn ensure_sandbox(&self) -> Result<()> {
        if let Some(reason) = self.runtime.sandboxes().unavailable() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("Tasks cannot run on this server: the sandbox is unavailable ({reason})."),
            )
            .into());
        }
        Ok(())
    }

    /// Writes the task and its first message, moves its files into place, and queues it.
    pub async fn create(&self, mut draft: Draft, input: NewTask) -> Result<CreatedTask> {
        // On any error below, dropping the draft removes its workspace.
        let checked = check_new_task(input)?;
        let files = match draft.upload.take() {
            Some(batch) => batch
                .commit()
                .await
                .map_err(|e| Error::Api(e.to_api_error()))?,
            None => Vec::new(),
        };
        let now = Utc::now();
        let (api_key_id, user_id) = match &draft.scope.actor {
            Actor::ApiKey { key_id, created_by } => {
                (Some(key_id.clone()), Some(created_by.clone()))
            }
            Actor::User { user_id } => (None, Some(user_id.clone())),
        };
        let row = task::ActiveModel {
            id: Set(draft.id.clone()),
            org_id: Set(draft.scope.org_id().to_owned()),
            project_id: Set(draft.scope.project_id().to_owned()),
            api_key_id: Set(api_key_id),
            user_id: Set(user_id),
            title: Set(title_of(&checked.message)),
            status: Set(TaskStatus::Pending),
            message: Set(checked.message.clone()),
            system_prompt: Set(checked.system_prompt),
            show_in_history: Set(checked.show_in_history),
            auto_execute: Set(checked.auto_execute),
            env: Set((!checked.env.is_empty())
                .then(|| serde_json::to_string(&checked.env).unwrap_or_default())),
            error: Set(None),
            model: Set(None),
            allowed_tools: Set("[]".to_owned()),
            message_count: Set(0),
            last_seq: Set(0),
            input_tokens: Set(0),
            output_tokens: Set(0),
            cost_usd: Set(None),
            worker_id: Set(None),
            lease_until: Set(None),
            lease_epoch: Set(0),
            cancel_requested: Set(false),
            run_started_at: Set(None),
            created_at: Set(now),
            started_at: Set(None),
            completed_at: Set(None),
            last_activity_at: Set(now),
        };
        let message = checked.message;
        let task_id = draft.id.clone();
        let written = self
            .db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    task::Entity::insert(row)
                        .exec_without_returning(txn)
                        .await?;
                    insert_user_message(txn, &task_id, &message, &files).await
                })
            })
            .await;
        written?;
        draft.fresh = false;
        self.runtime.remember_secrets(&draft.id, checked.secrets);
        self.runtime.wake();
        Ok(CreatedTask {
            id: draft.id.clone(),
            status: DtoStatus::Pending,
        })
    }

    /// The caller's tasks, newest activity first.
    pub async fn list(
        &self,
        caller: &Caller,
        project_id: Option<&str>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<(Vec<dto::Task>, dto_pagination::Pagination)> {
        let scope = self.project_for(caller, project_id).await?;
        self.page(Self::visible(&scope), limit, offset).await
    }

    /// One page of the tasks matching `condition` (which carries the caller's scope), newest
    /// activity first, with list items' shape and `pagination`.
    pub(super) async fn page(
        &self,
        condition: Condition,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<(Vec<dto::Task>, dto_pagination::Pagination)> {
        let limit = limit.unwrap_or(LIST_DEFAULT);
        if limit == 0 || limit > LIST_MAX {
            return Err(
                ApiError::field("limit", format!("Use a limit from 1 to {LIST_MAX}.")).into(),
            );
        }
        let offset = offset.unwrap_or(0);
        let query = task::Entity::find().filter(condition);
        let total = query.clone().count(self.db()).await?;
        let rows = query
            .order_by_desc(task::Column::LastActivityAt)
            .order_by_desc(task::Column::Id)
            .limit(limit)
            .offset(offset)
            .all(self.db())
            .await?;
        let names = self.usernames(&rows).await?;
        let items = rows
            .into_iter()
            .map(|t| {
                let username = t.user_id.as_ref().and_then(|u| names.get(u).cloned());
                task_dto(t, username, None)
            })
            .collect();
        Ok((
            items,
            dto_pagination::Pagination {
                total,
                limit,
                offset,
                has_more: offset.saturating_add(limit) < total,
            },
        ))
    }

    async fn usernames(&self, rows: &[task::Model]) -> Result<BTreeMap<String, String>> {
        let ids: Vec<String> = rows.iter().filter_map(|t| t.user_id.clone()).collect();
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        Ok(user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Username)
            .filter(user::Column::Id.is_in(ids))
            .into_tuple::<(String, String)>()
            .all(self.db())
            .await?
            .into_iter()
            .collect())
    }

    pub async fn get(&self, caller: &Caller, task_id: &str) -> Result<dto::Task> {
        let (row, _) = self.find(caller, task_id).await?;
        let conv = Conversation::load(self.db(), &row.id).await?;
        let names = self.usernames(std::slice::from_ref(&row)).await?;
        let username = row.user_id.as_ref().and_then(|u| names.get(u).cloned());
        Ok(task_dto(row, username, Some(&conv)))
    }

    pub async fn history(&self, caller: &Caller, task_id: &str) -> Result<History> {
        let (row, _) = self.find(caller, task_id).await?;
        let conv = Conversation::load(self.db(), &row.id).await?;
        Ok(History {
            task_id: row.id.clone(),
            conversation_id: row.id.clone(),
            status: status_dto(row.status),
            messages: conv.history(),
        })
    }

    /// Starts a follow-up: the task's id and workspace (restored if it expired), for uploads.
    pub async fn follow_up_draft(&self, caller: &Caller, task_id: &str) -> Result<Draft> {
        let (row, scope) = self.find(caller, task_id).await?;
        self.ensure_sandbox()?;
        let workspace = self
            .runtime
            .sandboxes()
            .open_workspace(&row.id)
            .await
            .map_err(|e| {
                tracing::error!(task = %row.id, error = %e, "cannot open a workspace");
                Error::Api(ApiError::internal())
            })?;
        Ok(Draft {
            id: row.id,
            scope,
            workspace,
            upload: None,
            fresh: false,
        })
    }

    /// Adds a message. An active task reads it after its current step (it is queued in the
    /// conversation); a finished one runs again.
    pub async fn follow_up(
        &self,
        mut draft: Draft,
        message: Option<String>,
    ) -> Result<FollowUpAccepted> {
        let message = match check_message(message) {
            Ok(m) => m,
            Err(e) => return Err(e.into()),
        };
        let files = match draft.upload.take() {
            Some(batch) => batch
                .commit()
                .await
                .map_err(|e| Error::Api(e.to_api_error()))?,
            None => Vec::new(),
        };
        let task_id = draft.id.clone();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    insert_user_message(txn, &task_id, &message, &files).await?;
                    // A finished task runs again: back in the queue, with a fresh run.
                    task::Entity::update_many()
                        .col_expr(task::Column::Status, Expr::value(TaskStatus::Pending))
                        .col_expr(task::Column::Error, Expr::value(Option::<String>::None))
                        .col_expr(
                            task::Column::CompletedAt,
                            Expr::value(Option::<chrono::DateTime<Utc>>::None),
                        )
                        .col_expr(task::Column::CancelRequested, Expr::value(false))
                        .col_expr(
                            task::Column::RunStartedAt,
                            Expr::value(Option::<chrono::DateTime<Utc>>::None),
                        )
                        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
                        .col_expr(
                            task::Column::LeaseUntil,
                            Expr::value(Option::<chrono::DateTime<Utc>>::None),
                        )
                        .filter(task::Column::Id.eq(&task_id))
                        .filter(task::Column::Status.is_in([
                            TaskStatus::Completed,
                            TaskStatus::Failed,
                            TaskStatus::Cancelled,
                        ]))
                        .exec(txn)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        self.runtime.wake();
        Ok(FollowUpAccepted {
            status: DtoStatus::Running,
        })
    }

    /// Decides on a call that waits for approval.
    pub async fn approve(
        &self,
        caller: &Caller,
        task_id: &str,
        call_id: &str,
        outcome: &str,
    ) -> Result<dto::Approved> {
        let outcome = match outcome {
            "proceed_once" => Decision::Once,
            "proceed_always" => Decision::Always,
            "cancel" => Decision::Cancel,
            other => {
                return Err(ApiError::field(
                    "outcome",
                    format!(
                        "`{other}` is not an outcome: use proceed_once, proceed_always or cancel."
                    ),
                )
                .into());
            }
        };
        let (row, _) = self.find(caller, task_id).await?;
        let call = task_tool_call::Entity::find_by_id((row.id.clone(), call_id.to_owned()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Tool call"))?;
        if CallStatus::parse(&call.status) != CallStatus::AwaitingApproval {
            return Err(ApiError::conflict(format!(
                "The tool call `{call_id}` is not waiting for approval (it is {}).",
                call.status
            ))
            .into());
        }
        let db = self.db().clone();
        let hub = Arc::clone(self.runtime.hub());
        let id = row.id.clone();
        let tool = call.tool_name.clone();
        let cid = call.call_id.clone();
        let logged = db
            .transaction::<_, Vec<events::Logged>, Error>(move |txn| {
                Box::pin(async move {
                    let (status, output) = match outcome {
                        Decision::Cancel => (
                            CallStatus::Cancelled,
                            Some("The user declined this tool call. Do not retry it; continue without it or ask the user.".to_owned()),
                        ),
                        _ => (CallStatus::Approved, None),
                    };
                    let res = task_tool_call::Entity::update_many()
                        .col_expr(task_tool_call::Column::Status, Expr::value(status.as_str()))
                        .col_expr(task_tool_call::Column::Output, Expr::value(output.clone()))
                        .filter(task_tool_call::Column::TaskId.eq(&id))
                        .filter(task_tool_call::Column::CallId.eq(&cid))
                        .filter(task_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
                        .exec(txn)
                        .await?;
                    if res.rows_affected == 0 {
                        return Err(ApiError::conflict(format!("The tool call `{cid}` was decided already.")).into());
                    }
                    if outcome == Decision::Always {
                        let t = task::Entity::find_by_id(id.clone()).one(txn).await?;
                        let mut allowed: Vec<String> = t
                            .as_ref()
                            .and_then(|t| serde_json::from_str(&t.allowed_tools).ok())
                            .unwrap_or_default();
                        if !allowed.contains(&tool) {
                            allowed.push(tool.clone());
                        }
                        task::Entity::update_many()
                            .col_expr(task::Column::AllowedTools, Expr::value(serde_json::to_string(&allowed).unwrap_or_default()))
                            .filter(task::Column::Id.eq(&id))
                            .exec(txn)
                            .await?;
                        // Other calls of the same tool waiting now are allowed too.
                        task_tool_call::Entity::update_many()
                            .col_expr(task_tool_call::Column::Status, Expr::value(CallStatus::Approved.as_str()))
                            .filter(task_tool_call::Column::TaskId.eq(&id))
                            .filter(task_tool_call::Column::ToolName.eq(&tool))
                            .filter(task_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
                            .exec(txn)
                            .await?;
                    }
                    let events = match output {
                        Some(output) => vec![StreamEvent::ToolResult(ToolResultEvent {
                            call_id: cid.clone(),
                            status: "cancelled".to_owned(),
                            output,
                        })],
                        None => Vec::new(),
                    };
                    let logged = events::write_events(txn, &id, Writer::Api, &events)
                        .await
                        .map_err(log_error)?;
                    Ok(logged)
                })
            })
            .await?;
        hub.publish(&row.id, &logged);
        crate::runtime::requeue_after_decision(self.db(), &row.id).await?;
        self.runtime.wake();
        Ok(dto::Approved {
            approved: outcome != Decision::Cancel,
        })
    }

    /// Cancels an active task: its run stops (on whichever process runs it) and its
    /// processes are killed; calls not finished are reported cancelled.
    pub async fn cancel(&self, caller: &Caller, task_id: &str) -> Result<dto::Cancelled> {
        let (row, _) = self.find(caller, task_id).await?;
        let id = row.id.clone();
        let logged = self
            .db()
            .transaction::<_, Vec<events::Logged>, Error>(move |txn| {
                Box::pin(async move {
                    let res = task::Entity::update_many()
                        .col_expr(task::Column::Status, Expr::value(TaskStatus::Cancelled))
                        .col_expr(task::Column::CancelRequested, Expr::value(true))
                        .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
                        // A new epoch fences the worker that ran it, wherever it is.
                        .col_expr(task::Column::LeaseEpoch, Expr::col(task::Column::LeaseEpoch).add(1))
                        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
                        .col_expr(task::Column::LeaseUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
                        .filter(task::Column::Id.eq(&id))
                        .filter(task::Column::Status.is_in([
                            TaskStatus::Pending,
                            TaskStatus::Running,
                            TaskStatus::AwaitingApproval,
                        ]))
                        .exec(txn)
                        .await?;
                    if res.rows_affected == 0 {
                        return Err(ApiError::conflict(
                            "The task is not running: only pending, running or awaiting_approval tasks can be cancelled.",
                        )
                        .into());
                    }
                    let open: Vec<String> = task_tool_call::Entity::find()
                        .select_only()
                        .column(task_tool_call::Column::CallId)
                        .filter(task_tool_call::Column::TaskId.eq(&id))
                        .filter(task_tool_call::Column::Status.is_in([
                            CallStatus::Pending.as_str(),
                            CallStatus::AwaitingApproval.as_str(),
                            CallStatus::Approved.as_str(),
                            CallStatus::Executing.as_str(),
                        ]))
                        .into_tuple()
                        .all(txn)
                        .await?;
                    let note = "The task was cancelled before this tool call finished.";
                    task_tool_call::Entity::update_many()
                        .col_expr(task_tool_call::Column::Status, Expr::value(CallStatus::Cancelled.as_str()))
                        .col_expr(task_tool_call::Column::Output, Expr::value(note))
                        .filter(task_tool_call::Column::TaskId.eq(&id))
                        .filter(task_tool_call::Column::CallId.is_in(open.clone()))
                        .exec(txn)
                        .await?;
                    let mut events: Vec<StreamEvent> = open
                        .into_iter()
                        .map(|call_id| {
                            StreamEvent::ToolResult(ToolResultEvent {
                                call_id,
                                status: "cancelled".to_owned(),
                                output: note.to_owned(),
                            })
                        })
                        .collect();
                    events.push(StreamEvent::Error(ErrorEvent {
                        code: "TASK_CANCELLED".to_owned(),
                        message: "The task was cancelled.".to_owned(),
                    }));
                    events::write_events(txn, &id, Writer::Api, &events)
                        .await
                        .map_err(log_error)
                })
            })
            .await?;
        self.runtime.hub().publish(&row.id, &logged);
        self.runtime.abort_local(&row.id).await;
        Ok(dto::Cancelled {
            message: "Task cancelled".to_owned(),
        })
    }

    pub async fn artifacts(
        &self,
        caller: &Caller,
        task_id: &str,
    ) -> Result<Vec<crate::workspace::Artifact>> {
        let (row, _) = self.find(caller, task_id).await?;
        let ws = self.workspace_of(&row.id).await?;
        tokio::task::spawn_blocking(move || ws.artifacts())
            .await?
            .map_err(|e| Error::Api(e.to_api_error()))
    }

    pub async fn open_artifact(
        &self,
        caller: &Caller,
        task_id: &str,
        path: &str,
    ) -> Result<crate::workspace::ArtifactDownload> {
        let (row, _) = self.find(caller, task_id).await?;
        let ws = self.workspace_of(&row.id).await?;
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || ws.open_artifact(&path))
            .await?
            .map_err(|e| Error::Api(e.to_api_error()))
    }

    async fn workspace_of(&self, task_id: &str) -> Result<Workspace> {
        self.runtime
            .sandboxes()
            .open_workspace(task_id)
            .await
            .map_err(|e| {
                tracing::error!(task = task_id, error = %e, "cannot open a workspace");
                Error::Api(ApiError::internal())
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Once,
    Always,
    Cancel,
}

fn log_error(e: events::LogError) -> Error {
    match e {
        events::LogError::Db(db) => Error::Db(db),
        events::LogError::Fenced => {
            Error::Api(ApiError::conflict("The task changed meanwhile; try again."))
        }
    }
}

/// Inserts a person's message (counted, positioned after everything so far).
async fn insert_user_message(
    txn: &sea_orm::DatabaseTransaction,
    task_id: &str,
    message: &str,
    files: &[UploadedFile],
) -> Result<()> {
    let (id, position, seq) = crate::runtime::agent::next_message(txn, task_id, Writer::Api)
        .await
        .map_err(log_error)?;
    let attached: Vec<dto::AttachedFile> = files
        .iter()
        .map(|f| dto::AttachedFile {
            name: f.name.clone(),
            path: f.path.clone(),
        })
        .collect();
    let parts = vec![crate::llm::Part::Text {
        text: message.to_owned(),
    }];
    task_message::Entity::insert(task_message::ActiveModel {
        id: Set(id),
        task_id: Set(task_id.to_owned()),
        position: Set(position),
        role: Set("user".to_owned()),
        parts: Set(serde_json::to_string(&parts).unwrap_or_else(|_| "[]".to_owned())),
        attached_files: Set(
            (!attached.is_empty()).then(|| serde_json::to_string(&attached).unwrap_or_default())
        ),
        seq: Set(seq),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

struct Checked {
    message: String,
    system_prompt: Option<String>,
    show_in_history: bool,
    auto_execute: bool,
    env: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
}

fn check_message(message: Option<String>) -> std::result::Result<String, ApiError> {
    let message = message.unwrap_or_default();
    if message.trim().is_empty() {
        return Err(ApiError::field(
            "message",
            "Write a message: it is required and cannot be empty.",
        ));
    }
    if message.chars().count() > MESSAGE_MAX_CHARS {
        return Err(ApiError::field(
            "message",
            format!("The message is too long: at most {MESSAGE_MAX_CHARS} characters."),
        ));
    }
    Ok(message)
}

fn check_new_task(input: NewTask) -> std::result::Result<Checked, ApiError> {
    let message = check_message(input.message)?;
    if let Some(p) = &input.system_prompt
        && p.chars().count() > SYSTEM_PROMPT_MAX_CHARS
    {
        return Err(ApiError::field(
            "systemPrompt",
            format!("The system prompt is too long: at most {SYSTEM_PROMPT_MAX_CHARS} characters."),
        ));
    }
    let env = check_env("env", input.env)?;
    let secrets = check_env("secrets", input.secrets)?;
    Ok(Checked {
        message,
        system_prompt: input.system_prompt.filter(|p| !p.trim().is_empty()),
        show_in_history: input.show_in_history.unwrap_or(true),
        auto_execute: input.auto_execute.unwrap_or(true),
        env,
        secrets,
    })
}

/// `env` and `secrets`: an object of strings with names a shell accepts.
pub fn check_env(
    field: &str,
    value: Option<Value>,
) -> std::result::Result<BTreeMap<String, String>, ApiError> {
    let invalid = |message: String| {
        let mut e = ApiError::new(ErrorCode::InvalidEnv, message.clone());
        e.fields.insert(field.to_owned(), message);
        e
    };
    let map = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(invalid(format!(
                "`{field}` must be an object of strings, like {{\"NAME\": \"value\"}}."
            )));
        }
    };
    if map.len() > ENV_MAX_ENTRIES {
        return Err(invalid(format!(
            "`{field}` has {} entries; at most {ENV_MAX_ENTRIES} are allowed.",
            map.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (name, value) in map {
        if !env_name_ok(&name) {
            return Err(invalid(format!(
                "`{name}` in `{field}` is not a valid name: use letters, digits and `_`, not starting with a digit ([A-Za-z_][A-Za-z0-9_]*)."
            )));
        }
        let Value::String(value) = value else {
            return Err(invalid(format!(
                "The value of `{name}` in `{field}` must be a string."
            )));
        };
        if value.len() > ENV_VALUE_MAX_BYTES {
            return Err(invalid(format!(
                "The value of `{name}` in `{field}` is over {} KB.",
                ENV_VALUE_MAX_BYTES / 1024
            )));
        }
        if value.contains('\0') {
            return Err(invalid(format!(
                "The value of `{name}` in `{field}` contains a NUL character."
            )));
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn env_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

/// A title from the first message: its first line, cut at a word near 80 characters.
pub fn title_of(message: &str) -> String {
    let line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= 80 {
        return line.to_owned();
    }
    let cut: String = line.chars().take(80).collect();
    let at = cut.rfind(' ').filter(|i| *i > 40).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
}

pub fn status_dto(s: TaskStatus) -> DtoStatus {
    match s {
        TaskStatus::Pending => DtoStatus::Pending,
        TaskStatus::Running => DtoStatus::Running,
        TaskStatus::AwaitingApproval => DtoStatus::AwaitingApproval,
        TaskStatus::Completed => DtoStatus::Completed,
        TaskStatus::Failed => DtoStatus::Failed,
        TaskStatus::Cancelled => DtoStatus::Cancelled,
    }
}

fn task_dto(t: task::Model, username: Option<String>, conv: Option<&Conversation>) -> dto::Task {
    dto::Task {
        session_id: t.id.clone(),
        conversation_id: t.id.clone(),
        status: status_dto(t.status),
        env: t.env.as_deref().and_then(|e| serde_json::from_str(e).ok()),
        created_at: ts(t.created_at),
        started_at: t.started_at.map(ts),
        completed_at: t.completed_at.map(ts),
        last_activity_at: ts(t.last_activity_at),
        message_count: u64::try_from(t.message_count).unwrap_or(0),
        output: conv.and_then(Conversation::output),
        pending_approvals: conv
            .map(Conversation::pending_approvals)
            .unwrap_or_default(),
        usage: TaskUsage {
            input_tokens: u64::try_from(t.input_tokens).unwrap_or(0),
            output_tokens: u64::try_from(t.output_tokens).unwrap_or(0),
            cost_usd: t.cost_usd,
        },
        id: t.id,
        api_key_id: t.api_key_id,
        username,
        message: t.message,
        title: t.title,
        system_prompt: t.system_prompt,
        show_in_history: t.show_in_history,
        auto_execute: t.auto_execute,
        error: t.error,
        model: t.model,
    }
}

pub mod dto_pagination {
    /// `pagination` of list answers.
    #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Pagination {
        pub total: u64,
        pub limit: u64,
        pub offset: u64,
        pub has_more: bool,
    }
}
