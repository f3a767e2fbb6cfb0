//! (extension) A project's prompts: `/api/v1/projects/{projectId}/prompts`.

use axum::extract::State;

use crate::http::extract::{ApiJson, Path};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::policy as dto;

/// (extension) The project's prompts in order: named blocks of text added to every task's system prompt (the enabled ones).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/prompts", tag = "prompts",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "In order", body = Envelope<Vec<dto::Prompt>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::Prompt>> {
    Ok(Data(state.services.prompts(&caller, &project_id).await?))
}

/// (extension) Add a prompt (project admins).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/prompts", tag = "prompts",
    security(("session" = [])), request_body = dto::PromptInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Added", body = Envelope<dto::Prompt>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::PromptInput>,
) -> ApiResult<dto::Prompt> {
    Ok(Data(
        state
            .services
            .create_prompt(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) One prompt.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/prompts/{promptId}", tag = "prompts",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("promptId" = String, Path, description = "The prompt's id"),
    ),
    responses(
        (status = 200, description = "Found", body = Envelope<dto::Prompt>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult<dto::Prompt> {
    Ok(Data(
        state.services.prompt(&caller, &project_id, &id).await?,
    ))
}

/// (extension) Replace a prompt (project admins).
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/prompts/{promptId}", tag = "prompts",
    security(("session" = [])), request_body = dto::PromptInput,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("promptId" = String, Path, description = "The prompt's id"),
    ),
    responses(
        (status = 200, description = "Replaced", body = Envelope<dto::Prompt>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::PromptInput>,
) -> ApiResult<dto::Prompt> {
    Ok(Data(
        state
            .services
            .replace_prompt(&caller, &project_id, &id, body)
            .await?,
    ))
}

/// (extension) Remove a prompt (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/prompts/{promptId}", tag = "prompts",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("promptId" = String, Path, description = "The prompt's id"),
    ),
    responses(
        (status = 200, description = "Removed", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_prompt(&caller, &project_id, &id)
        .await?;
    Ok(Data(Done::removed()))
}
