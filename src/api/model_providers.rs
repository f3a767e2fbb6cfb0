//! (extension) An organization's model providers, and the models a project can use.

use axum::extract::State;

use crate::http::extract::{ApiJson, Path};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol as dto;

/// The organization's model providers, and the server's (read-only). Organization admins.
#[utoipa::path(get, path = "/api/v1/organization/model-providers", tag = "models",
    security(("session" = [])),
    responses(
        (status = 200, description = "Connections; keys are never returned", body = Envelope<Vec<dto::ModelProvider>>),
        (status = 403, description = "FORBIDDEN: not an organization admin, or an API key", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<dto::ModelProvider>> {
    Ok(Data(state.services.model_providers(&caller).await?))
}

/// Connect a model provider (organization admins). Its API key is stored encrypted and never
/// shown again.
#[utoipa::path(post, path = "/api/v1/organization/model-providers", tag = "models",
    security(("session" = [])), request_body = dto::ModelProviderInput,
    responses(
        (status = 200, description = "The connection", body = Envelope<dto::ModelProvider>),
        (status = 400, description = "VALIDATION_ERROR naming the field", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN", body = ErrorEnvelope),
        (status = 409, description = "CONFLICT: the name is taken", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<dto::ModelProviderInput>,
) -> ApiResult<dto::ModelProvider> {
    Ok(Data(
        state.services.create_model_provider(&caller, body).await?,
    ))
}

/// Rename a connection, or change its URL or key (what is left out stays).
#[utoipa::path(patch, path = "/api/v1/organization/model-providers/{id}", tag = "models",
    security(("session" = [])), request_body = dto::ModelProviderUpdate,
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "The connection", body = Envelope<dto::ModelProvider>),
        (status = 400, description = "VALIDATION_ERROR naming the field", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN, also for the server's connections", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<dto::ModelProviderUpdate>,
) -> ApiResult<dto::ModelProvider> {
    Ok(Data(
        state
            .services
            .update_model_provider(&caller, &id, body)
            .await?,
    ))
}

/// Remove a connection. Projects that name it then say which connection is missing.
#[utoipa::path(delete, path = "/api/v1/organization/model-providers/{id}", tag = "models",
    security(("session" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "`{removed: true}`", body = Envelope<Done>),
        (status = 403, description = "FORBIDDEN", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state.services.delete_model_provider(&caller, &id).await?;
    Ok(Data(Done::removed()))
}

/// Call the provider: whether the key and URL work, and the models it offers.
#[utoipa::path(post, path = "/api/v1/organization/model-providers/{id}/test", tag = "models",
    security(("session" = [])),
    params(("id" = String, Path, description = "The connection's id, or `server-<kind>`")),
    responses(
        (status = 200, description = "The outcome; a failed test is `ok: false` with the provider's words", body = Envelope<dto::ModelProviderTest>),
        (status = 403, description = "FORBIDDEN", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<dto::ModelProviderTest> {
    Ok(Data(
        state.services.test_model_provider(&caller, &id).await?,
    ))
}

/// The model the project's tasks use, whether it can be used (and what to fix), and what the
/// organization's and the server's connections offer.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/models", tag = "models",
    security(("session" = []), ("bearer" = []), ("apiKey" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project's models", body = Envelope<dto::ProjectModels>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn project_models(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<dto::ProjectModels> {
    Ok(Data(
        state.services.project_models(&caller, &project_id).await?,
    ))
}
