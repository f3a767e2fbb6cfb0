//! The Task API (API.md, "Tasks" and "The stream"). Handlers parse — JSON or multipart, with
//! uploads streamed into the task's workspace as they arrive — and call `TaskService`.

mod form;

use std::convert::Infallible;
use std::time::Duration;

use crate::http::extract::{Path, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use protocol::task::query::{DownloadQuery, ListQuery, ProjectQuery, StreamQuery};
use protocol::task::{self as dto, input};

use crate::error::{ApiError, ErrorResponse};
use crate::http::extract::ApiJson;
use crate::http::{ApiResult, AppState, Data, Envelope, ErrorEnvelope, Paged};
use crate::services::access::Caller;
use form::TaskForm;

/// Create a task and start it. Answers at once; the work happens in the background.
///
/// `application/json`, or `multipart/form-data` with `files` (at most 20, 50 MB each; a
/// `.zip` is extracted under `uploads/`) and `env`/`secrets` as JSON-encoded fields.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    request_body(content = input::CreateTask, content_type = "application/json"),
    params(ProjectQuery),
    responses(
        (status = 200, description = "`{id, status: \"pending\"}`", body = Envelope<dto::CreatedTask>),
        (status = 400, description = "VALIDATION_ERROR or INVALID_ENV", body = ErrorEnvelope),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ProjectQuery>,
    form: TaskForm<input::CreateTask>,
) -> ApiResult<dto::CreatedTask> {
    let project = match &form {
        TaskForm::Json(body) => body.project_id.clone().or(q.project_id),
        TaskForm::Multipart(_) => q.project_id,
    };
    let mut draft = state.tasks.draft(&caller, project.as_deref()).await?;
    let input = form.read(&state, &mut draft).await?;
    Ok(Data(state.tasks.create(draft, input).await?))
}

/// The caller's tasks, newest activity first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(ListQuery),
    responses((status = 200, description = "Tasks and `pagination`", body = Paged<dto::Task>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Paged<dto::Task>>, ErrorResponse> {
    let (data, pagination) = state
        .tasks
        .list(
            &caller,
            q.project_id.as_deref(),
            q.schedule_id.as_deref(),
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

/// One task, with its `output` and `pendingApprovals`.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id")),
    responses(
        (status = 200, description = "The task", body = Envelope<dto::Task>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<dto::Task> {
    Ok(Data(state.tasks.get(&caller, &id).await?))
}

/// The conversation, for building a UI.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/history", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id")),
    responses((status = 200, description = "The history", body = Envelope<dto::History>)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<dto::History> {
    Ok(Data(state.tasks.history(&caller, &id).await?))
}

/// Server-sent events: history (`history_message` …, `history_done`), then live events until
/// `done` or `error`, with `:heartbeat` every 15 s. With `Last-Event-ID` (or `?after=`), only
/// the events after that sequence number. (extension) Events carry their sequence number as
/// `id:`, and so does `history_done`: the point the history stands for, to resume after.
/// (extension) For a finished task, `history_done` adds `status`, `error {code, message}`
/// (the last run's, when `failed` or `cancelled`) and `usage {inputTokens, outputTokens,
/// costUsd}`; `done` adds the task's `usage`.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/stream", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id"), StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, description = "Resume after this event")),
    responses((status = 200, description = "`text/event-stream`", content_type = "text/event-stream", body = protocol::stream::SseFrame)))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let header_after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            // Exactly an integer, as the document says: no sign but `-`, no spaces.
            let digits = v.strip_prefix('-').unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ErrorResponse(ApiError::field(
                    "Last-Event-ID",
                    "`Last-Event-ID` must be the number of an event of this stream.",
                )));
            }
            v.parse::<i64>().map_err(|_| {
                ErrorResponse(ApiError::field(
                    "Last-Event-ID",
                    "`Last-Event-ID` must be the number of an event of this stream.",
                ))
            })
        })
        .transpose()?;
    let heartbeat = Duration::from_secs(state.services.config().tasks.heartbeat_secs.max(1));
    let frames = state
        .tasks
        .stream(&caller, &id, header_after.or(q.after))
        .await?;
    let events = frames.map(|f| {
        let mut ev = Event::default().event(f.event).data(&*f.data);
        if let Some(id) = f.id {
            ev = ev.id(id.to_string());
        }
        Ok::<_, Infallible>(ev)
    });
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
        .into_response();
    // Proxies must not buffer a stream.
    res.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

/// A follow-up message (JSON `{message}`, or multipart `message` + `files`). A finished task
/// runs again; a running one reads it after its current step.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/messages", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id")),
    request_body(content = input::FollowUp, content_type = "application/json"),
    responses(
        (status = 200, description = "`{status: \"running\"}`", body = Envelope<dto::FollowUpAccepted>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
    ))]
pub async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    form: TaskForm<input::FollowUp>,
) -> ApiResult<dto::FollowUpAccepted> {
    let mut draft = state.tasks.follow_up_draft(&caller, &id).await?;
    let input = form.read(&state, &mut draft).await?;
    Ok(Data(state.tasks.follow_up(draft, input.message).await?))
}

/// Decide on a tool call awaiting approval.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/tools/{callId}/approve", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id"),
           ("callId" = String, Path, description = "The tool call id")),
    request_body = input::Approve,
    responses(
        (status = 200, description = "`{approved}`", body = Envelope<dto::Approved>),
        (status = 400, description = "VALIDATION_ERROR: unknown outcome", body = ErrorEnvelope),
        (status = 409, description = "CONFLICT: the call is not waiting", body = ErrorEnvelope),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, call_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<input::Approve>,
) -> ApiResult<dto::Approved> {
    Ok(Data(
        state
            .tasks
            .approve(&caller, &id, &call_id, &body.outcome)
            .await?,
    ))
}

/// Cancel a `pending`, `running` or `awaiting_approval` task.
#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id")),
    responses(
        (status = 200, description = "`{message: \"Task cancelled\"}`", body = Envelope<dto::Cancelled>),
        (status = 409, description = "CONFLICT: the task is not active", body = ErrorEnvelope),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<dto::Cancelled> {
    Ok(Data(state.tasks.cancel(&caller, &id).await?))
}

/// Files in the task's workspace.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/artifacts", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id")),
    responses((status = 200, description = "Files", body = Envelope<Vec<dto::Artifact>>)))]
pub async fn artifacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<dto::Artifact>> {
    Ok(Data(state.tasks.artifacts(&caller, &id).await?))
}

/// One file's bytes.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/artifacts/download", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id"), DownloadQuery),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ErrorResponse> {
    let file = state.tasks.open_artifact(&caller, &id, &q.path).await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(
        tokio::fs::File::from_std(file.file),
    ));
    let mut res = Response::new(body);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.mime_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `attachment; filename="…"` with an ASCII fallback, and the exact name in `filename*`.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
