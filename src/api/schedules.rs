//! (extension) Scheduled tasks, `/api/v1/projects/{projectId}/schedules`, and the project's
//! secret store, `/api/v1/projects/{projectId}/secrets`, whose values reach scheduled runs.

use axum::extract::{FromRequest, Multipart, Request, State};
use futures_util::TryStreamExt;
use protocol::schedule as dto;
use protocol::task::CreatedTask;
use serde::Deserialize;

use crate::error::{ApiError, ErrorResponse};
use crate::http::extract::{ApiJson, Path, Query};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::scheduler::Scheduler;
use crate::services::access::Caller;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The project's schedules, with their next five times (people in the project).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/schedules", tag = "schedules",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Oldest first", body = Envelope<Vec<dto::Schedule>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::Schedule>> {
    Ok(Data(state.services.schedules(&caller, &project_id).await?))
}

/// Add a schedule (project admins). Its runs act for its creator and read all the project's
/// secrets.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/schedules", tag = "schedules",
    security(("session" = [])), request_body = dto::ScheduleInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Added", body = Envelope<dto::Schedule>),
        (status = 400, description = "VALIDATION_ERROR naming the field (`cron`, `timezone`, …), or INVALID_ENV", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::ScheduleInput>,
) -> ApiResult<dto::Schedule> {
    Ok(Data(
        state
            .services
            .create_schedule(&caller, &project_id, body)
            .await?,
    ))
}

/// What an expression means before it is saved: in words, and its next five times.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/schedules/preview", tag = "schedules",
    security(("session" = [])), request_body = dto::PreviewInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The expression read", body = Envelope<dto::SchedulePreview>),
        (status = 400, description = "VALIDATION_ERROR naming `cron` or `timezone`", body = ErrorEnvelope),
    ))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::PreviewInput>,
) -> ApiResult<dto::SchedulePreview> {
    Ok(Data(
        state
            .services
            .preview_schedule(&caller, &project_id, body)
            .await?,
    ))
}

/// One schedule.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/schedules/{id}", tag = "schedules",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
    ),
    responses(
        (status = 200, description = "Found", body = Envelope<dto::Schedule>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult<dto::Schedule> {
    Ok(Data(
        state.services.schedule(&caller, &project_id, &id).await?,
    ))
}

/// Change a schedule (project admins); what is left out stays. Saving a paused schedule
/// resumes it, acting from then on for the admin who saved it.
#[utoipa::path(patch, path = "/api/v1/projects/{projectId}/schedules/{id}", tag = "schedules",
    security(("session" = [])), request_body = dto::ScheduleInput,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
    ),
    responses(
        (status = 200, description = "Changed", body = Envelope<dto::Schedule>),
        (status = 400, description = "VALIDATION_ERROR naming the field, or INVALID_ENV", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::ScheduleInput>,
) -> ApiResult<dto::Schedule> {
    Ok(Data(
        state
            .services
            .update_schedule(&caller, &project_id, &id, body)
            .await?,
    ))
}

/// Delete a schedule and its files (project admins). The tasks it started stay.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/schedules/{id}", tag = "schedules",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
    ),
    responses(
        (status = 200, description = "`{deleted: true}`", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_schedule(&caller, &project_id, &id)
        .await?;
    Ok(Data(Done::deleted()))
}

/// Run a schedule now (project admins), acting for whoever asks; its time table is
/// unchanged. Answers the task, which streams like any other.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/schedules/{id}/run", tag = "schedules",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
    ),
    responses(
        (status = 200, description = "`{id, status: \"pending\"}`", body = Envelope<CreatedTask>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "CONFLICT: the run could not start, with why", body = ErrorEnvelope),
    ))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult<CreatedTask> {
    Ok(Data(
        Scheduler::new(state.tasks.clone())
            .run_now(&caller, &project_id, &id)
            .await?,
    ))
}

/// The schedule's latest runs and skipped times, newest first, with their tasks' status.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/schedules/{id}/runs", tag = "schedules",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "Newest first", body = Envelope<Vec<dto::ScheduleRun>>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Vec<dto::ScheduleRun>> {
    Ok(Data(
        state
            .services
            .schedule_runs(&caller, &project_id, &id, q.limit)
            .await?,
    ))
}

/// Attach files to every run (project admins): `multipart/form-data` with `files`; a file of
/// the same name is replaced. Each run finds them in `uploads/`.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/schedules/{id}/files", tag = "schedules",
    security(("session" = [])),
    request_body(content_type = "multipart/form-data", description = "`files`: one or more files"),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
    ),
    responses(
        (status = 200, description = "The files added", body = Envelope<Vec<dto::ScheduleFile>>),
        (status = 400, description = "VALIDATION_ERROR naming `files`", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
    ))]
pub async fn add_files(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
    request: Request,
) -> ApiResult<Vec<dto::ScheduleFile>> {
    // Read here rather than as an extractor, so a body that is not a form answers with the
    // API's envelope.
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|e| {
            ErrorResponse(ApiError::field(
                "files",
                format!("Send the files as multipart/form-data: {}", e.body_text()),
            ))
        })?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        ErrorResponse(ApiError::field(
            "files",
            format!("The form could not be read: {e}"),
        ))
    };
    let mut added = Vec::new();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let body = field.map_err(|e| e.to_string());
        added.push(
            state
                .services
                .add_schedule_file(&caller, &project_id, &id, &name, Box::pin(body))
                .await?,
        );
    }
    if added.is_empty() {
        return Err(ApiError::field("files", "Send at least one file in `files`.").into());
    }
    Ok(Data(added))
}

/// Remove a file from the schedule's runs (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/schedules/{id}/files/{name}", tag = "schedules",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("id" = String, Path, description = "The schedule's id"),
        ("name" = String, Path, description = "The file's name"),
    ),
    responses(
        (status = 200, description = "`{deleted: true}`", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id, name)): Path<(String, String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_schedule_file(&caller, &project_id, &id, &name)
        .await?;
    Ok(Data(Done::deleted()))
}

/// The names of the project's secrets (people in the project); values are never answered.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/secrets", tag = "schedules",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "By name", body = Envelope<Vec<dto::ProjectSecret>>)))]
pub async fn list_secrets(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::ProjectSecret>> {
    Ok(Data(
        state.services.project_secrets(&caller, &project_id).await?,
    ))
}

/// Set a project secret (project admins). Stored encrypted; it reaches scheduled runs, and
/// API tasks that name it in `projectSecrets`, as a secret: in the sandbox's environment, in
/// `{{mcp.KEY}}`, redacted from every output.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/secrets/{name}", tag = "schedules",
    security(("session" = [])), request_body = dto::SetSecret,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "A name a shell accepts: [A-Za-z_][A-Za-z0-9_]*"),
    ),
    responses(
        (status = 200, description = "Set (its name only)", body = Envelope<dto::ProjectSecret>),
        (status = 400, description = "VALIDATION_ERROR naming `name` or `value`", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn set_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::SetSecret>,
) -> ApiResult<dto::ProjectSecret> {
    Ok(Data(
        state
            .services
            .set_project_secret(&caller, &project_id, &name, body)
            .await?,
    ))
}

/// Delete a project secret (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/secrets/{name}", tag = "schedules",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The secret's name"),
    ),
    responses(
        (status = 200, description = "`{deleted: true}`", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_project_secret(&caller, &project_id, &name)
        .await?;
    Ok(Data(Done::deleted()))
}
