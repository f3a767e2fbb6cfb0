//! (extension) A project's skills: `/api/v1/projects/{projectId}/skills`.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header;

use crate::error::ErrorResponse;
use crate::http::extract::{ApiJson, Path};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use crate::services::skills::SkillSource;
use protocol::ApiError;
use protocol::skills as dto;

/// The most a skill's request may carry: a ZIP of the 5 MB a skill holds, or its JSON.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A skill as JSON (`SkillInput`) or as `multipart/form-data` with the ZIP in `file` and an
/// optional `enabled` (`true`/`false`).
pub struct SkillForm(SkillSource);

impl FromRequest<AppState> for SkillForm {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let ApiJson(input) = ApiJson::<dto::SkillInput>::from_request(req, state).await?;
            return Ok(Self(SkillSource::Json(input)));
        }
        let mut form = Multipart::from_request(req, state)
            .await
            .map_err(|e| ErrorResponse(ApiError::field("body", e.body_text())))?;
        let (mut bytes, mut enabled) = (None, None);
        while let Some(field) = form.next_field().await.map_err(multipart_error)? {
            match field.name().unwrap_or_default() {
                "file" => bytes = Some(field.bytes().await.map_err(multipart_error)?.to_vec()),
                "enabled" => {
                    let text = field.text().await.map_err(multipart_error)?;
                    enabled = Some(match text.trim() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ErrorResponse(ApiError::field(
                                "enabled",
                                "`true` or `false`.",
                            )));
                        }
                    });
                }
                _ => {}
            }
        }
        let bytes = bytes.ok_or_else(|| {
            ErrorResponse(ApiError::field(
                "file",
                "Send the skill's folder as a ZIP in the `file` field.",
            ))
        })?;
        Ok(Self(SkillSource::Zip { bytes, enabled }))
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ErrorResponse {
    let status = e.status();
    let message = e.body_text();
    ErrorResponse(if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            protocol::ErrorCode::PayloadTooLarge,
            format!(
                "A skill's upload is at most {} MB.",
                BODY_LIMIT / 1024 / 1024
            ),
        )
    } else {
        ApiError::field("body", message)
    })
}

/// (extension) The project's skills, by name.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/skills", tag = "skills",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "By name", body = Envelope<Vec<dto::Skill>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::Skill>> {
    Ok(Data(state.services.skills(&caller, &project_id).await?))
}

/// (extension) Add a skill (project admins): JSON, or `multipart/form-data` with a ZIP of the
/// skill's folder in `file` (`SKILL.md` at its top or in its one folder; at most 5 MB and 200
/// files unpacked; no links, no paths outside the folder).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/skills", tag = "skills",
    security(("session" = [])),
    request_body(content = dto::SkillInput, content_type = "application/json"),
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Added", body = Envelope<dto::Skill>),
        (status = 400, description = "VALIDATION_ERROR, naming the field (`file` for an archive)", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    SkillForm(source): SkillForm,
) -> ApiResult<dto::Skill> {
    Ok(Data(
        state
            .services
            .create_skill(&caller, &project_id, source)
            .await?,
    ))
}

/// (extension) One skill.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/skills/{name}", tag = "skills",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The skill's name"),
    ),
    responses(
        (status = 200, description = "Found", body = Envelope<dto::Skill>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
) -> ApiResult<dto::Skill> {
    Ok(Data(
        state.services.skill(&caller, &project_id, &name).await?,
    ))
}

/// (extension) Replace a skill with a new version, whole (project admins). Runs already going
/// keep the version they started with.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/skills/{name}", tag = "skills",
    security(("session" = [])),
    request_body(content = dto::SkillInput, content_type = "application/json"),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The skill's name"),
    ),
    responses(
        (status = 200, description = "Replaced", body = Envelope<dto::Skill>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
        (status = 413, description = "PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
    SkillForm(source): SkillForm,
) -> ApiResult<dto::Skill> {
    Ok(Data(
        state
            .services
            .replace_skill(&caller, &project_id, &name, source)
            .await?,
    ))
}

/// (extension) Turn a skill on or off (project admins).
#[utoipa::path(patch, path = "/api/v1/projects/{projectId}/skills/{name}", tag = "skills",
    security(("session" = [])), request_body = dto::SkillToggle,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The skill's name"),
    ),
    responses(
        (status = 200, description = "Changed", body = Envelope<dto::Skill>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn toggle(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::SkillToggle>,
) -> ApiResult<dto::Skill> {
    Ok(Data(
        state
            .services
            .set_skill_enabled(&caller, &project_id, &name, body.enabled)
            .await?,
    ))
}

/// (extension) Remove a skill (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/skills/{name}", tag = "skills",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The skill's name"),
    ),
    responses(
        (status = 200, description = "Removed", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_skill(&caller, &project_id, &name)
        .await?;
    Ok(Data(Done::removed()))
}
