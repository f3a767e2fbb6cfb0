//! (extension) Conversations: the caller's own tasks as the Chat UI's history shows them —
//! listed and searched, renamed, deleted. Handlers parse and call `TaskService`.

use crate::http::extract::{Path, Query};
use axum::extract::State;
use protocol::task::input::RenameConversation;
use protocol::task::query::ConversationQuery;
use protocol::task::{self as dto, Deleted};

use crate::error::ErrorResponse;
use crate::http::extract::ApiJson;
use crate::http::{ApiResult, AppState, Data, Envelope, ErrorEnvelope, Paged};
use crate::services::access::Caller;

/// (extension) The caller's own conversations in a project, newest activity first.
///
/// A person's conversations are the tasks they made with their session (the Chat UI), not
/// those made with their API keys; an API key's are the tasks it made. Only tasks with
/// `showInHistory` count, and a project admin, too, sees only their own here.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(ConversationQuery),
    responses(
        (status = 200, description = "(extension) Task items and `pagination`", body = Paged<dto::Task>),
        (status = 400, description = "VALIDATION_ERROR: `q` or `limit`", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: no such project in the caller's scope", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ConversationQuery>,
) -> Result<axum::Json<Paged<dto::Task>>, ErrorResponse> {
    let (data, pagination) = state
        .tasks
        .conversations(
            &caller,
            q.project_id.as_deref(),
            q.q.as_deref(),
            q.limit,
            q.offset,
        )
        .await?;
    Ok(axum::Json(Paged {
        success: true,
        data,
        pagination,
    }))
}

/// (extension) Rename one of the caller's conversations; answers the task object.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The conversation's (task's) id")),
    request_body = RenameConversation,
    responses(
        (status = 200, description = "(extension) The task", body = Envelope<dto::Task>),
        (status = 400, description = "VALIDATION_ERROR: `title`", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: not one of the caller's conversations", body = ErrorEnvelope),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RenameConversation>,
) -> ApiResult<dto::Task> {
    Ok(Data(
        state
            .tasks
            .rename_conversation(&caller, &id, body.title.as_deref())
            .await?,
    ))
}

/// (extension) Delete one of the caller's conversations for good: an active one is cancelled
/// first, then its messages, tool calls, events and files are removed.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "conversations",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The conversation's (task's) id")),
    responses(
        (status = 200, description = "(extension) `{message: \"Conversation deleted\"}`", body = Envelope<Deleted>),
        (status = 404, description = "NOT_FOUND: not one of the caller's conversations", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Deleted> {
    Ok(Data(state.tasks.delete_conversation(&caller, &id).await?))
}
