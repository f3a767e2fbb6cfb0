//! (extension) A project's tool policy rules: `/api/v1/projects/{projectId}/tool-policies`,
//! and what they decide for a call (`…/check`).

use axum::extract::State;

use crate::http::extract::{ApiJson, Path};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::policy as dto;

/// (extension) The project's tool policy rules, oldest first. Among the rules that match a call, `deny` beats `ask` beats `allow`; a call no rule matches is decided by the project's `policyMode`.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/tool-policies", tag = "tool-policies",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "In order", body = Envelope<Vec<dto::ToolPolicy>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::ToolPolicy>> {
    Ok(Data(
        state.services.tool_policies(&caller, &project_id).await?,
    ))
}

/// (extension) Add a rule (project admins).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/tool-policies", tag = "tool-policies",
    security(("session" = [])), request_body = dto::ToolPolicyInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Added", body = Envelope<dto::ToolPolicy>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::ToolPolicyInput>,
) -> ApiResult<dto::ToolPolicy> {
    Ok(Data(
        state
            .services
            .create_tool_policy(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) One rule.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/tool-policies/{ruleId}", tag = "tool-policies",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("ruleId" = String, Path, description = "The rule's id"),
    ),
    responses(
        (status = 200, description = "Found", body = Envelope<dto::ToolPolicy>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
) -> ApiResult<dto::ToolPolicy> {
    Ok(Data(
        state
            .services
            .tool_policy(&caller, &project_id, &id)
            .await?,
    ))
}

/// (extension) Replace a rule (project admins).
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/tool-policies/{ruleId}", tag = "tool-policies",
    security(("session" = [])), request_body = dto::ToolPolicyInput,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("ruleId" = String, Path, description = "The rule's id"),
    ),
    responses(
        (status = 200, description = "Replaced", body = Envelope<dto::ToolPolicy>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::ToolPolicyInput>,
) -> ApiResult<dto::ToolPolicy> {
    Ok(Data(
        state
            .services
            .replace_tool_policy(&caller, &project_id, &id, body)
            .await?,
    ))
}

/// (extension) Remove a rule (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/tool-policies/{ruleId}", tag = "tool-policies",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("ruleId" = String, Path, description = "The rule's id"),
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
        .delete_tool_policy(&caller, &project_id, &id)
        .await?;
    Ok(Data(Done::removed()))
}

/// (extension) "Try it": what the project's rules and mode decide for a call, which rule
/// decided and why. Nothing runs.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/tool-policies/check", tag = "tool-policies",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])), request_body = dto::PolicyCheckRequest,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The decision", body = Envelope<dto::PolicyCheck>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
    ))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::PolicyCheckRequest>,
) -> ApiResult<dto::PolicyCheck> {
    Ok(Data(
        state
            .services
            .check_tool_policy(&caller, &project_id, body)
            .await?,
    ))
}
