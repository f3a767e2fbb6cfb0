use crate::http::extract::Path;
use axum::extract::State;

use crate::http::extract::ApiJson;
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::{self as dto, input};

/// Projects the caller can reach (an API key: its own).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    responses((status = 200, description = "Projects", body = Envelope<Vec<dto::Project>>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Vec<dto::Project>> {
    Ok(Data(state.services.list_projects(&caller).await?))
}

/// Create a project (org admins).
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects",
    security(("session" = [])), request_body = input::Rename,
    responses(
        (status = 200, description = "The project", body = Envelope<dto::Project>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<input::Rename>,
) -> ApiResult<dto::Project> {
    Ok(Data(
        state.services.create_project(&caller, &body.name).await?,
    ))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}", tag = "projects",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The project", body = Envelope<dto::Project>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<dto::Project> {
    Ok(Data(state.services.project(&caller, &project_id).await?))
}

/// Rename a project (org admins).
#[utoipa::path(patch, path = "/api/v1/projects/{projectId}", tag = "projects",
    security(("session" = [])), request_body = input::Rename,
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "The project", body = Envelope<dto::Project>)))]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<input::Rename>,
) -> ApiResult<dto::Project> {
    Ok(Data(
        state
            .services
            .rename_project(&caller, &project_id, &body.name)
            .await?,
    ))
}

/// Delete a project with its members and keys (org admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}", tag = "projects",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "`{deleted: true}`", body = Envelope<Done>)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Done> {
    state.tasks.delete_project(&caller, &project_id).await?;
    Ok(Data(Done::deleted()))
}

/// People who can use the project; org admins are listed as implicit admins.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/members", tag = "projects",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Members", body = Envelope<Vec<dto::ProjectMember>>)))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::ProjectMember>> {
    Ok(Data(
        state.services.project_members(&caller, &project_id).await?,
    ))
}

/// Grant an organization member access to the project (project admins).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/members", tag = "projects",
    security(("session" = [])), request_body = input::AddProjectMember,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The member", body = Envelope<dto::ProjectMember>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<input::AddProjectMember>,
) -> ApiResult<dto::ProjectMember> {
    Ok(Data(
        state
            .services
            .add_project_member(&caller, &project_id, body)
            .await?,
    ))
}

/// Change a project member's role (project admins).
#[utoipa::path(patch, path = "/api/v1/projects/{projectId}/members/{userId}", tag = "projects",
    security(("session" = [])), request_body = input::SetRole,
    params(("projectId" = String, Path, description = "The project id"),
           ("userId" = String, Path, description = "The member's user id")),
    responses((status = 200, description = "The member", body = Envelope<dto::ProjectMember>)))]
pub async fn set_member_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<input::SetRole>,
) -> ApiResult<dto::ProjectMember> {
    Ok(Data(
        state
            .services
            .set_project_role(&caller, &project_id, &user_id, body.role)
            .await?,
    ))
}

/// Take away a member's access to the project (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/members/{userId}", tag = "projects",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id"),
           ("userId" = String, Path, description = "The member's user id")),
    responses((status = 200, description = "`{removed: true}`", body = Envelope<Done>)))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, user_id)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .remove_project_member(&caller, &project_id, &user_id)
        .await?;
    Ok(Data(Done::removed()))
}

/// (extension) A project's settings: the model its tasks use.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/settings", tag = "projects",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Settings", body = Envelope<dto::ProjectSettings>)))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<dto::ProjectSettings> {
    Ok(Data(
        state
            .services
            .project_settings(&caller, &project_id)
            .await?,
    ))
}

/// (extension) Change a project's settings (project admins).
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/settings", tag = "projects",
    security(("session" = [])), request_body = dto::ProjectSettings,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Settings", body = Envelope<dto::ProjectSettings>),
        (status = 400, description = "VALIDATION_ERROR: not `provider/model`", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN", body = ErrorEnvelope),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::ProjectSettings>,
) -> ApiResult<dto::ProjectSettings> {
    Ok(Data(
        state
            .services
            .update_project_settings(&caller, &project_id, body)
            .await?,
    ))
}
