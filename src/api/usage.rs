//! (extension) A project's usage and budgets: `/api/v1/projects/{projectId}/usage`,
//! `…/budget` and `…/api-keys/{keyId}/budget`.

use axum::extract::State;
use protocol::usage as dto;

use crate::http::extract::{ApiJson, Path, Query};
use crate::http::{ApiResult, AppState, Data, Envelope, ErrorEnvelope};
use crate::services::access::Caller;

/// (extension) Tokens, cost and tasks per UTC day, per API key or per model over a range,
/// with the range's totals (project admins). Cost is at list prices; calls to a model
/// without a known price count their tokens only.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/usage", tag = "usage",
    security(("bearer" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id"), dto::UsageQuery),
    responses(
        (status = 200, description = "The groups and the totals", body = Envelope<dto::UsageReport>),
        (status = 400, description = "VALIDATION_ERROR naming `from`, `to` or `groupBy`", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin, or an API key", body = ErrorEnvelope),
    ))]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    Query(q): Query<dto::UsageQuery>,
) -> ApiResult<dto::UsageReport> {
    Ok(Data(
        state
            .services
            .project_usage(&caller, &project_id, &q)
            .await?,
    ))
}

/// (extension) The project's monthly budgets and what it spent this month, UTC (project
/// admins).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/budget", tag = "usage",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The budgets and this month's spend", body = Envelope<dto::ProjectBudget>),
        (status = 403, description = "FORBIDDEN: not a project admin, or an API key", body = ErrorEnvelope),
    ))]
pub async fn get_budget(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<dto::ProjectBudget> {
    Ok(Data(
        state.services.project_budget(&caller, &project_id).await?,
    ))
}

/// (extension) Set the project's monthly budget and each widget end user's (project admins).
/// A task whose budget is used up does not start, and a running one stops before its next
/// model call, with the error `BUDGET_EXCEEDED`.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/budget", tag = "usage",
    security(("session" = [])), request_body = dto::ProjectBudgetInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Set", body = Envelope<dto::ProjectBudget>),
        (status = 400, description = "VALIDATION_ERROR naming `monthlyUsd` or `endUserMonthlyUsd`: negative or too large", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin, or an API key", body = ErrorEnvelope),
    ))]
pub async fn put_budget(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::ProjectBudgetInput>,
) -> ApiResult<dto::ProjectBudget> {
    Ok(Data(
        state
            .services
            .set_project_budget(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) An API key's monthly budget and what its tasks spent this month, UTC
/// (project admins).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/api-keys/{keyId}/budget", tag = "usage",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("keyId" = String, Path, description = "The API key's id"),
    ),
    responses(
        (status = 200, description = "The budget and this month's spend", body = Envelope<dto::ApiKeyBudget>),
        (status = 403, description = "FORBIDDEN: not a project admin, or an API key", body = ErrorEnvelope),
    ))]
pub async fn get_key_budget(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, key_id)): Path<(String, String)>,
) -> ApiResult<dto::ApiKeyBudget> {
    Ok(Data(
        state
            .services
            .api_key_budget(&caller, &project_id, &key_id)
            .await?,
    ))
}

/// (extension) Set an API key's monthly budget (project admins; a key cannot change its
/// own). Its tasks stop with `BUDGET_EXCEEDED` once it is used up; other keys go on.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/api-keys/{keyId}/budget", tag = "usage",
    security(("session" = [])), request_body = dto::ApiKeyBudgetInput,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("keyId" = String, Path, description = "The API key's id"),
    ),
    responses(
        (status = 200, description = "Set", body = Envelope<dto::ApiKeyBudget>),
        (status = 400, description = "VALIDATION_ERROR naming `monthlyUsd`: negative or too large", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin, or an API key", body = ErrorEnvelope),
    ))]
pub async fn put_key_budget(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, key_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::ApiKeyBudgetInput>,
) -> ApiResult<dto::ApiKeyBudget> {
    Ok(Data(
        state
            .services
            .set_api_key_budget(&caller, &project_id, &key_id, body)
            .await?,
    ))
}
