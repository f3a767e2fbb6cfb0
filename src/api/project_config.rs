//! (extension) A project's subagents and its whole configuration:
//! `/api/v1/projects/{projectId}/subagents` and `…/config`.

use std::collections::BTreeMap;

use axum::extract::State;

use crate::http::extract::{ApiJson, Path, Query};
use crate::http::{ApiResult, AppState, Data, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::skills as dto;

/// A configuration document carries its skills' files whole.
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// (extension) The built-in subagents and whether the project offers them.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/subagents", tag = "subagents",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Every built-in subagent", body = Envelope<Vec<dto::Subagent>>)))]
pub async fn subagents(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::Subagent>> {
    Ok(Data(state.services.subagents(&caller, &project_id).await?))
}

/// (extension) Turn subagents on or off by name, e.g. `{"researcher": true}` (project admins);
/// the ones not named stay as they are.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/subagents", tag = "subagents",
    security(("session" = [])), request_body = BTreeMap<String, bool>,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Every built-in subagent", body = Envelope<Vec<dto::Subagent>>),
        (status = 400, description = "VALIDATION_ERROR: a name no subagent has", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn set_subagents(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<BTreeMap<String, bool>>,
) -> ApiResult<Vec<dto::Subagent>> {
    Ok(Data(
        state
            .services
            .set_subagents(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) The project's whole configuration as one document: settings, MCP servers
/// (header and env values never included), tool policies, prompts, skills and subagents.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/config", tag = "config",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "The document", body = Envelope<dto::ProjectConfig>)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<dto::ProjectConfig> {
    Ok(Data(
        state.services.export_config(&caller, &project_id).await?,
    ))
}

/// (extension) Make the project's configuration the document's (project admins): what it
/// lacks is removed, what differs replaced, in one transaction. `?dryRun=true` only lists the
/// differences.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/config", tag = "config",
    security(("session" = [])), request_body = dto::ProjectConfig,
    params(("projectId" = String, Path, description = "The project id"), dto::ConfigImportQuery),
    responses(
        (status = 200, description = "The differences, and whether they were applied", body = Envelope<dto::ConfigImport>),
        (status = 400, description = "VALIDATION_ERROR, naming each field at fault in the document", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
    ))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    Query(query): Query<dto::ConfigImportQuery>,
    ApiJson(body): ApiJson<dto::ProjectConfig>,
) -> ApiResult<dto::ConfigImport> {
    Ok(Data(
        state
            .services
            .import_config(&caller, &project_id, body, query.dry_run.unwrap_or(false))
            .await?,
    ))
}
