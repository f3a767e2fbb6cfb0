//! Tasks as callers see them: create, list, read, follow up, approve, cancel, and their files.
//! The rules (who sees which task, the limits of the API page) live here; the runtime does
//! the work.

mod draft;
mod input;
mod removal;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use futures_util::{Stream, StreamExt};
use protocol::envelope::Pagination;
use protocol::stream::{RunStatus, StatusEvent, StreamEvent};
use protocol::task::input::CreateTask;
use protocol::task::{
    self as dto, ApprovalOutcome, CallStatus, CreatedTask, FollowUpAccepted, History,
    TaskStatus as DtoStatus,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use tokio::sync::broadcast::error::RecvError;

use super::access::{self, Actor, Caller, ProjectScope};
use super::{Services, new_id};
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::ledger::{Ledger, LedgerError};
use crate::project_secrets::ProjectSecretUse;
use crate::runtime::Runtime;
use crate::runtime::conversation::Conversation;
use crate::runtime::secrets::{SecretOwner, SecretValues};
use crate::runtime::stream::Frame;
use crate::store::entities::{Role, TaskStatus, task, task_tool_call, user};
use crate::workspace::Workspace;

pub use draft::Draft;

/// What the stream says when a follow-up from someone else drops the task's secrets.
const SECRETS_DROPPED: &str = "This message comes from someone other than the caller who supplied the task's secrets: the task continues without them.";

fn secret_owner(actor: &Actor) -> SecretOwner {
    match actor {
        Actor::ApiKey { key_id, .. } => SecretOwner::ApiKey(key_id.clone()),
        Actor::User { user_id } => SecretOwner::Person(user_id.clone()),
        Actor::EndUser { end_user_id } => SecretOwner::EndUser(end_user_id.clone()),
    }
}

/// How often an open stream checks its caller still has access, for what ends without
/// anyone acting (an expiring key or session, a change made by another node).
const ACCESS_RECHECK: std::time::Duration = std::time::Duration::from_secs(300);
pub use input::{LIST_DEFAULT, LIST_MAX, LIST_MAX_OFFSET, check_env, title_of};
pub use view::status_dto;
use view::task_dto;

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Db(db) => Error::Db(db),
            LedgerError::Fenced => ApiError::conflict("The task changed meanwhile; try again.").into(),
            LedgerError::NotActive => ApiError::conflict(
                "The task is not running: only pending, running or awaiting_approval tasks can be cancelled.",
            )
            .into(),
            LedgerError::AlreadyDecided => {
                ApiError::conflict("The tool call was decided already.").into()
            }
            LedgerError::NotFound => ApiError::not_found("Task").into(),
        }
    }
}

/// Who may see which tasks of a project.
enum Visibility {
    /// An API key sees the tasks it created.
    Key(String),
    /// A project admin sees all; a member their own (made in the Chat UI or with their keys).
    Person { user_id: String, admin: bool },
    /// A widget's end user sees their own conversations only.
    EndUser(String),
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

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub(super) fn db(&self) -> &crate::store::Db {
        self.services.db()
    }

    fn ledger(&self) -> &Ledger {
        self.runtime.ledger()
    }

    fn visibility(scope: &ProjectScope) -> Visibility {
        match &scope.actor {
            Actor::ApiKey { key_id, .. } => Visibility::Key(key_id.clone()),
            Actor::User { user_id } => Visibility::Person {
                user_id: user_id.clone(),
                admin: scope.role == Role::Admin,
            },
            Actor::EndUser { end_user_id } => Visibility::EndUser(end_user_id.clone()),
        }
    }

    fn visible(scope: &ProjectScope) -> Condition {
        let base = Condition::all().add(task::Column::ProjectId.eq(scope.project_id()));
        match Self::visibility(scope) {
            Visibility::Key(key_id) => base.add(task::Column::ApiKeyId.eq(key_id)),
            Visibility::Person { admin: true, .. } => base,
            Visibility::Person { user_id, .. } => base.add(task::Column::UserId.eq(user_id)),
            Visibility::EndUser(id) => base.add(task::Column::EndUserId.eq(id)),
        }
    }

    /// The project a caller's tasks live in: an API key's own, or the one a person names
    /// (their default when they name none).
    pub async fn project_for(
        &self,
        caller: &Caller,
        project_id: Option<&str>,
    ) -> Result<ProjectScope> {
        let id = match (caller, project_id) {
            (Caller::ApiKey(k), _) => k.key.project_id.clone(),
            // A widget's own project; naming another finds nothing (the scope check below).
            (Caller::Widget(_), Some(p)) if !p.is_empty() => p.to_owned(),
            (Caller::Widget(w), _) => w.app.project_id.clone(),
            (Caller::User(_), Some(p)) if !p.is_empty() => p.to_owned(),
            // Their default project was deleted: there is none to fall back on.
            (Caller::User(u), _) => u
                .user
                .default_project_id
                .clone()
                .ok_or_else(|| ApiError::not_found("Default project"))?,
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
            Visibility::EndUser(id) => row.end_user_id.as_deref() == Some(id.as_str()),
        };
        if !visible {
            return Err(not_found());
        }
        Ok((row, scope))
    }

    /// The task's event stream for one client (see `runtime::stream`): the history, or the
    /// events after `after`, then live events until the run ends.
    pub async fn stream(
        &self,
        caller: &Caller,
        task_id: &str,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Frame> + Send + 'static> {
        let (row, _) = self.find(caller, task_id).await?;
        let lost = self.clone().access_lost(caller.clone(), row.id.clone());
        Ok(crate::runtime::stream::frames(
            Arc::clone(&self.runtime),
            row.id,
            after.map(|n| n.max(0)),
        )
        .take_until(lost))
    }

    /// Resolves once `caller` may no longer see the task: their key was revoked or its
    /// creator lost the project, their session ended, they were removed or demoted. Checked
    /// when someone's access shrinks and, for what expires on its own, every few minutes.
    async fn access_lost(self, caller: Caller, task_id: String) {
        let mut changes = self.services.access_changes();
        loop {
            tokio::select! {
                changed = changes.recv() => match changed {
                    Ok(who) if who != caller.person_id() && who != access::EVERYONE => continue,
                    // Fell behind on changes: check, as one of them may be ours.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => changes = self.services.access_changes(),
                },
                () = tokio::time::sleep(ACCESS_RECHECK) => {}
            }
            // Boxed: the check is rare, and every open stream carries this future.
            match Box::pin(self.still_sees(&caller, &task_id)).await {
                Ok(false) => return,
                Ok(true) => {}
                // The store did not answer: keep the stream; the next check decides.
                Err(e) => {
                    tracing::warn!(task = %task_id, error = %e, "cannot check a stream's access")
                }
            }
        }
    }

    async fn still_sees(&self, caller: &Caller, task_id: &str) -> Result<bool> {
        let Some(fresh) = self.services.refresh_caller(caller).await? else {
            return Ok(false);
        };
        match self.find(&fresh, task_id).await {
            Ok(_) => Ok(true),
            // A task deleted while streamed ends its stream itself, with what was published
            // to it; only a task that is still there but out of reach ends it here.
            Err(Error::Api(e)) if e.code == ErrorCode::NotFound => {
                Ok(task::Entity::find_by_id(task_id.to_owned())
                    .one(self.db())
                    .await?
                    .is_none())
            }
            Err(e) => Err(e),
        }
    }

    /// Starts a new task for the caller: id and workspace, before any field is read.
    pub async fn draft(&self, caller: &Caller, project_id: Option<&str>) -> Result<Draft> {
        let scope = self.project_for(caller, project_id).await?;
        self.ensure_sandbox()?;
        let id = new_id();
        let workspace = self.workspace_of(&id).await?;
        Ok(Draft {
            id,
            scope,
            workspace,
            upload: None,
            fresh: true,
            schedule_id: None,
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
    pub async fn create(&self, mut draft: Draft, input: CreateTask) -> Result<CreatedTask> {
        // On any error below, dropping the draft removes its workspace.
        let checked = input::check_new_task(input)?;
        if checked.model.is_some() && !draft.scope.project.allow_model_choice {
            return Err(ApiError::field(
                "model",
                "This project does not let a conversation pick its model: its admins choose it in the project's settings.",
            )
            .into());
        }
        let project_secrets = match (&draft.schedule_id, checked.project_secrets.clone()) {
            (Some(_), _) => Some(ProjectSecretUse::All),
            (None, Some(names)) => {
                if matches!(draft.scope.actor, Actor::EndUser { .. }) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidEnv,
                        "A widget cannot name project secrets: the token exchange sets its end user's secrets.",
                    )
                    .into());
                }
                self.services
                    .check_project_secrets(draft.scope.project_id(), &names)
                    .await?;
                Some(ProjectSecretUse::Named(names))
            }
            (None, None) => None,
        };
        let files = draft.commit_files().await?;
        let now = Utc::now();
        let (api_key_id, user_id, end_user_id) = match &draft.scope.actor {
            Actor::ApiKey { key_id, created_by } => {
                (Some(key_id.clone()), Some(created_by.clone()), None)
            }
            Actor::User { user_id } => (None, Some(user_id.clone()), None),
            Actor::EndUser { end_user_id } => {
                // The customer's backend sets an end user's values, in the token exchange;
                // the visitor's browser cannot add any.
                if !checked.env.is_empty() || !checked.secrets.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::InvalidEnv,
                        "A widget cannot send env or secrets: the token exchange sets them for its end user.",
                    )
                    .into());
                }
                (None, None, Some(end_user_id.clone()))
            }
        };
        let row = task::ActiveModel {
            id: Set(draft.id.clone()),
            org_id: Set(draft.scope.org_id().to_owned()),
            project_id: Set(draft.scope.project_id().to_owned()),
            api_key_id: Set(api_key_id),
            user_id: Set(user_id),
            end_user_id: Set(end_user_id),
            schedule_id: Set(draft.schedule_id.clone()),
            project_secrets: Set(project_secrets.map(|u| u.to_column())),
            title: Set(title_of(&checked.message)),
            status: Set(TaskStatus::Pending),
            message: Set(checked.message.clone()),
            system_prompt: Set(checked.system_prompt),
            show_in_history: Set(checked.show_in_history),
            // Left out, the project's default (true unless its admins changed it).
            auto_execute: Set(checked
                .auto_execute
                .unwrap_or(draft.scope.project.auto_execute)),
            env: Set((!checked.env.is_empty())
                .then(|| serde_json::to_string(&checked.env).unwrap_or_default())),
            error: Set(None),
            model: Set(None),
            requested_model: Set(checked.model.as_ref().map(ToString::to_string)),
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
        self.ledger()
            .create(&draft.id, row, checked.message, files)
            .await?;
        draft.fresh = false;
        self.runtime.secrets().remember(
            &draft.id,
            secret_owner(&draft.scope.actor),
            SecretValues::new(checked.secrets),
        );
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
        schedule_id: Option<&str>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<(Vec<dto::Task>, Pagination)> {
        let scope = self.project_for(caller, project_id).await?;
        let mut visible = Self::visible(&scope);
        if let Some(id) = schedule_id {
            visible = visible.add(task::Column::ScheduleId.eq(id));
        }
        self.page(visible, limit, offset).await
    }

    /// One page of the tasks matching `condition` (which carries the caller's scope), newest
    /// activity first, with list items' shape and `pagination`.
    pub(super) async fn page(
        &self,
        condition: Condition,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<(Vec<dto::Task>, Pagination)> {
        let limit = limit.unwrap_or(LIST_DEFAULT);
        if limit == 0 || limit > LIST_MAX {
            return Err(
                ApiError::field("limit", format!("Use a limit from 1 to {LIST_MAX}.")).into(),
            );
        }
        let offset = offset.unwrap_or(0);
        if offset > LIST_MAX_OFFSET {
            return Err(ApiError::field(
                "offset",
                format!("Use an offset from 0 to {LIST_MAX_OFFSET}."),
            )
            .into());
        }
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
        Ok((items, Pagination::new(total, limit, offset)))
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
        // A widget visitor's conversation runs with their values from the token exchange:
        // only they may continue it (a project admin reads it).
        if let Some(end_user) = &row.end_user_id
            && !matches!(&scope.actor, Actor::EndUser { end_user_id } if end_user_id == end_user)
        {
            return Err(ApiError::forbidden(
                "This conversation belongs to a widget visitor: it can be read here, and only they can continue it.",
            )
            .into());
        }
        self.ensure_sandbox()?;
        let workspace = self.workspace_of(&row.id).await?;
        Ok(Draft {
            id: row.id,
            scope,
            workspace,
            upload: None,
            fresh: false,
            schedule_id: None,
        })
    }

    /// Adds a message. An active task reads it after its current step (it is queued in the
    /// conversation); a finished one runs again.
    pub async fn follow_up(
        &self,
        mut draft: Draft,
        message: Option<String>,
    ) -> Result<FollowUpAccepted> {
        let message = input::check_message(message)?;
        let files = draft.commit_files().await?;
        // Secrets belong to whoever supplied them: anyone else's message must not be able to
        // make the agent use (or reveal) them.
        let owner = secret_owner(&draft.scope.actor);
        let drop_secrets = self.runtime.secrets().held_for_other(&draft.id, &owner);
        let notice = drop_secrets.then(|| {
            StreamEvent::Status(StatusEvent {
                status: RunStatus::Processing,
                message: Some(SECRETS_DROPPED.to_owned()),
                attempt: None,
                delay_ms: None,
            })
        });
        if drop_secrets {
            // Out of memory before the message is in: no run can use them for it.
            self.runtime.secrets().forget(&draft.id);
        }
        self.ledger()
            .follow_up(&draft.id, message, files, notice)
            .await?;
        if drop_secrets {
            // The run in progress (its sandbox started with them) goes on in a new one, and
            // reads the message there.
            self.runtime.drop_secrets(&draft.id).await;
        }
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
        let Some(outcome) = ApprovalOutcome::parse(outcome) else {
            return Err(ApiError::field(
                "outcome",
                format!(
                    "`{outcome}` is not an outcome: use proceed_once, proceed_always or cancel."
                ),
            )
            .into());
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
        match self
            .ledger()
            .decide(
                &row.id,
                &call.call_id,
                &call.tool_name,
                outcome,
                caller.audit_actor(),
            )
            .await
        {
            Err(LedgerError::AlreadyDecided) => {
                return Err(ApiError::conflict(format!(
                    "The tool call `{call_id}` was decided already."
                ))
                .into());
            }
            other => other?,
        }
        self.runtime.wake();
        Ok(dto::Approved {
            approved: outcome != ApprovalOutcome::Cancel,
        })
    }

    /// Cancels an active task: its run stops (on whichever process runs it) and its
    /// processes are killed; calls not finished are reported cancelled.
    pub async fn cancel(&self, caller: &Caller, task_id: &str) -> Result<dto::Cancelled> {
        let (row, _) = self.find(caller, task_id).await?;
        self.ledger().cancel(&row.id).await?;
        self.runtime.secrets().forget(&row.id);
        self.runtime.abort_local(&row.id).await;
        Ok(dto::Cancelled {
            message: "Task cancelled".to_owned(),
        })
    }

    pub async fn artifacts(&self, caller: &Caller, task_id: &str) -> Result<Vec<dto::Artifact>> {
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
