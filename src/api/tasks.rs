//! The Task API (API.md, "Tasks" and "The stream"). Handlers parse — JSON or multipart, with
//! uploads streamed into the task's workspace as they arrive — and call `TaskService`.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ErrorResponse};
use crate::http::extract::ApiJson;
use crate::http::{ApiResult, AppState, Data, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use crate::services::tasks::{Draft, NewTask, dto_pagination::Pagination};
use app::dto::task::{self as dto, input};

/// JSON body of `POST /api/v1/tasks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTaskBody {
    /// The instruction.
    pub message: Option<String>,
    /// Added to the project's prompts for this task.
    pub system_prompt: Option<String>,
    /// Listed in the Chat UI history (default true).
    pub show_in_history: Option<bool>,
    /// false: every tool call waits for approval (default true).
    pub auto_execute: Option<bool>,
    /// Plain variables for the sandbox: an object of strings.
    #[schema(value_type = Option<Object>)]
    pub env: Option<Value>,
    /// Like `env`, but never stored, logged, streamed or returned.
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Value>,
    /// (extension) For signed-in people: the project (default: their default project).
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ProjectQuery {
    /// (extension) For signed-in people: the project; their default project when unset.
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// 1 to 100, default 50.
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// (extension) For signed-in people: the project; their default project when unset.
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// (extension) Resume after this sequence number, like `Last-Event-ID`.
    pub after: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DownloadQuery {
    /// The file's path in the workspace, as the artifacts list gives it.
    pub path: String,
}

/// A list answer: `{success, data, pagination}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// JSON bodies and the text fields of a multipart body together.
const TEXT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Bounds a request body: JSON to `TEXT_BODY_LIMIT`, multipart to its files plus that. Past
/// the bound, reading fails and the request is answered `PAYLOAD_TOO_LARGE`.
fn limited(state: &AppState, req: Request) -> Request {
    let limit = if is_multipart(req.headers()) {
        let u = &state.services.config().uploads;
        usize::try_from(u.max_file_bytes.saturating_mul(u.max_files as u64))
            .unwrap_or(usize::MAX)
            .saturating_add(TEXT_BODY_LIMIT)
    } else {
        TEXT_BODY_LIMIT
    };
    req.map(|b| Body::new(http_body_util::Limited::new(b, limit)))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn bad_bool(field: &str) -> ErrorResponse {
    ErrorResponse(ApiError::field(
        field,
        format!("`{field}` must be \"true\" or \"false\"."),
    ))
}

fn parse_bool(field: &str, value: &str) -> Result<bool, ErrorResponse> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad_bool(field)),
    }
}

fn json_field(field: &str, value: &str) -> Result<Value, ErrorResponse> {
    if value.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(value).map_err(|_| {
        let mut e = ApiError::new(
            app::error::ErrorCode::InvalidEnv,
            format!("`{field}` must be a JSON object of strings, like {{\"NAME\": \"value\"}}."),
        );
        e.fields.insert(field.to_owned(), e.message.clone());
        ErrorResponse(e)
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ErrorResponse {
    let status = e.status();
    let code = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        app::error::ErrorCode::PayloadTooLarge
    } else {
        app::error::ErrorCode::ValidationError
    };
    ErrorResponse(ApiError::new(
        code,
        format!("The multipart body could not be read: {}", e.body_text()),
    ))
}

/// Reads a multipart body: text fields into `fields`, files streamed into the draft.
async fn read_multipart(
    state: &AppState,
    draft: &mut Draft,
    mut multipart: Multipart,
    mut on_text: impl FnMut(&str, String) -> Result<(), ErrorResponse>,
) -> Result<(), ErrorResponse> {
    let limits = state.services.config().uploads.clone();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" || name == "files[]" || field.file_name().is_some() {
            let file_name = field.file_name().unwrap_or("upload").to_owned();
            let batch = draft.upload(&limits)?;
            batch
                .add(&file_name, field)
                .await
                .map_err(|e| ErrorResponse(e.to_api_error()))?;
        } else {
            let text = field.text().await.map_err(multipart_error)?;
            on_text(&name, text)?;
        }
    }
    Ok(())
}

/// Create a task and start it. Answers at once; the work happens in the background.
///
/// `application/json`, or `multipart/form-data` with `files` (at most 20, 50 MB each; a
/// `.zip` is extracted under `uploads/`) and `env`/`secrets` as JSON-encoded fields.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    request_body(content = CreateTaskBody, content_type = "application/json"),
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
    req: Request,
) -> ApiResult<dto::CreatedTask> {
    let req = limited(&state, req);
    if is_multipart(req.headers()) {
        let multipart = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ErrorResponse(ApiError::field("body", e.body_text())))?;
        let mut draft = state.tasks.draft(&caller, q.project_id.as_deref()).await?;
        let mut input = NewTask::default();
        read_multipart(&state, &mut draft, multipart, |name, text| {
            match name {
                "message" => input.message = Some(text),
                "systemPrompt" => input.system_prompt = Some(text),
                "showInHistory" => input.show_in_history = Some(parse_bool(name, &text)?),
                "autoExecute" => input.auto_execute = Some(parse_bool(name, &text)?),
                "env" => input.env = Some(json_field(name, &text)?),
                "secrets" => input.secrets = Some(json_field(name, &text)?),
                _ => {}
            }
            Ok(())
        })
        .await?;
        Ok(Data(state.tasks.create(draft, input).await?))
    } else {
        let ApiJson(body) = ApiJson::<CreateTaskBody>::from_request(req, &state).await?;
        let project = body.project_id.clone().or(q.project_id);
        let draft = state.tasks.draft(&caller, project.as_deref()).await?;
        let input = NewTask {
            message: body.message,
            system_prompt: body.system_prompt,
            show_in_history: body.show_in_history,
            auto_execute: body.auto_execute,
            env: body.env,
            secrets: body.secrets,
            project_id: project,
        };
        Ok(Data(state.tasks.create(draft, input).await?))
    }
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
        .list(&caller, q.project_id.as_deref(), q.limit, q.offset)
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
#[utoipa::path(get, path = "/api/v1/tasks/{id}/stream", tag = "tasks",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("id" = String, Path, description = "The task id"), StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event")),
    responses((status = 200, description = "`text/event-stream`", content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let task = state.tasks.authorize(&caller, &id).await?;
    let header_after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ErrorResponse(ApiError::field(
                    "Last-Event-ID",
                    "`Last-Event-ID` must be the number of an event of this stream.",
                ))
            })
        })
        .transpose()?;
    let after = header_after.or(q.after).map(|n| n.max(0));
    let heartbeat = Duration::from_secs(state.services.config().tasks.heartbeat_secs.max(1));
    let frames = crate::runtime::stream::frames(state.tasks.runtime().clone(), task.id, after);
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
    req: Request,
) -> ApiResult<dto::FollowUpAccepted> {
    let req = limited(&state, req);
    if is_multipart(req.headers()) {
        let multipart = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ErrorResponse(ApiError::field("body", e.body_text())))?;
        let mut draft = state.tasks.follow_up_draft(&caller, &id).await?;
        let mut message = None;
        read_multipart(&state, &mut draft, multipart, |name, text| {
            if name == "message" {
                message = Some(text);
            }
            Ok(())
        })
        .await?;
        Ok(Data(state.tasks.follow_up(draft, message).await?))
    } else {
        let ApiJson(body) = ApiJson::<FollowUpBody>::from_request(req, &state).await?;
        let draft = state.tasks.follow_up_draft(&caller, &id).await?;
        Ok(Data(state.tasks.follow_up(draft, body.message).await?))
    }
}

#[derive(Debug, Deserialize)]
pub struct FollowUpBody {
    pub message: Option<String>,
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
    responses((status = 200, description = "Files", body = Envelope<Vec<crate::workspace::Artifact>>)))]
pub async fn artifacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<crate::workspace::Artifact>> {
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
