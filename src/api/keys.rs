use crate::http::extract::Path;
use axum::extract::State;

use crate::http::extract::ApiJson;
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::{self as dto, input};

/// The project's API keys (never their values).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/api-keys", tag = "api-keys",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Keys", body = Envelope<Vec<dto::ApiKey>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::ApiKey>> {
    Ok(Data(state.services.api_keys(&caller, &project_id).await?))
}

/// Create a key. Its value is in this answer only; store it now.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/api-keys", tag = "api-keys",
    security(("session" = [])), request_body = input::CreateApiKey,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The key, with its value", body = Envelope<dto::CreatedApiKey>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<input::CreateApiKey>,
) -> ApiResult<dto::CreatedApiKey> {
    Ok(Data(
        state
            .services
            .create_api_key(&caller, &project_id, body)
            .await?,
    ))
}

/// Revoke a key (its creator or a project admin). It stops working at once.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/api-keys/{keyId}", tag = "api-keys",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id"),
           ("keyId" = String, Path, description = "The key id")),
    responses((status = 200, description = "`{revoked: true}`", body = Envelope<Done>)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, key_id)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .revoke_api_key(&caller, &project_id, &key_id)
        .await?;
    Ok(Data(Done::revoked()))
}

/// Legacy: create a key in the user's default project, signed in as that user. An API key
/// cannot create keys.
#[utoipa::path(post, path = "/api/users/{username}/api-keys", tag = "api-keys",
    security(("session" = [])), request_body = input::CreateApiKey,
    params(("username" = String, Path, description = "The caller's own username")),
    responses(
        (status = 200, description = "The key, with its value", body = Envelope<dto::CreatedApiKey>),
        (status = 403, description = "FORBIDDEN: called with an API key", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND for anyone else's username", body = ErrorEnvelope),
    ))]
pub async fn create_legacy(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<input::CreateApiKey>,
) -> ApiResult<dto::CreatedApiKey> {
    Ok(Data(
        state
            .services
            .create_legacy_api_key(&caller, &username, body)
            .await?,
    ))
}
