use crate::http::extract::Path;
use axum::extract::State;

use crate::http::extract::ApiJson;
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::{self as dto, input};

/// The caller's organization.
#[utoipa::path(get, path = "/api/v1/organization", tag = "organization",
    security(("session" = [])),
    responses(
        (status = 200, description = "The organization", body = Envelope<dto::Organization>),
        (status = 403, description = "FORBIDDEN for API keys", body = ErrorEnvelope),
    ))]
pub async fn get_org(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<dto::Organization> {
    Ok(Data(state.services.organization(&caller).await?))
}

/// Rename the organization (org admins).
#[utoipa::path(patch, path = "/api/v1/organization", tag = "organization",
    security(("session" = [])), request_body = input::Rename,
    responses(
        (status = 200, description = "Renamed", body = Envelope<dto::Organization>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN", body = ErrorEnvelope),
    ))]
pub async fn rename_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<input::Rename>,
) -> ApiResult<dto::Organization> {
    Ok(Data(
        state
            .services
            .rename_organization(&caller, &body.name)
            .await?,
    ))
}

/// Members of the organization and their roles.
#[utoipa::path(get, path = "/api/v1/organization/members", tag = "organization",
    security(("session" = [])),
    responses((status = 200, description = "Members", body = Envelope<Vec<dto::OrgMember>>)))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<dto::OrgMember>> {
    Ok(Data(state.services.org_members(&caller).await?))
}

/// Change a member's role (org admins). The last admin cannot be demoted.
#[utoipa::path(patch, path = "/api/v1/organization/members/{userId}", tag = "organization",
    security(("session" = [])), request_body = input::SetRole,
    params(("userId" = String, Path, description = "The member's user id")),
    responses(
        (status = 200, description = "The member", body = Envelope<dto::OrgMember>),
        (status = 400, description = "VALIDATION_ERROR (last admin)", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn set_member_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<input::SetRole>,
) -> ApiResult<dto::OrgMember> {
    Ok(Data(
        state
            .services
            .set_org_role(&caller, &user_id, body.role)
            .await?,
    ))
}

/// Remove a member (org admins): their sessions end and the keys they created stop working.
#[utoipa::path(delete, path = "/api/v1/organization/members/{userId}", tag = "organization",
    security(("session" = [])),
    params(("userId" = String, Path, description = "The member's user id")),
    responses(
        (status = 200, description = "`{removed: true}`", body = Envelope<Done>),
        (status = 400, description = "VALIDATION_ERROR (last admin)", body = ErrorEnvelope),
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Done> {
    state.services.remove_org_member(&caller, &user_id).await?;
    Ok(Data(Done::removed()))
}

/// Pending invitations (org admins).
#[utoipa::path(get, path = "/api/v1/organization/invitations", tag = "organization",
    security(("session" = [])),
    responses((status = 200, description = "Pending invitations", body = Envelope<Vec<dto::Invitation>>)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<dto::Invitation>> {
    Ok(Data(state.services.invitations(&caller).await?))
}

/// Invite someone by email (org admins). The answer carries the single-use registration link;
/// it is emailed when SMTP is configured.
#[utoipa::path(post, path = "/api/v1/organization/invitations", tag = "organization",
    security(("session" = [])), request_body = input::Invite,
    responses(
        (status = 200, description = "The invitation and its link", body = Envelope<dto::CreatedInvitation>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
    ))]
pub async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<input::Invite>,
) -> ApiResult<dto::CreatedInvitation> {
    Ok(Data(state.services.invite(&caller, body).await?))
}

/// Withdraw a pending invitation (org admins).
#[utoipa::path(delete, path = "/api/v1/organization/invitations/{invitationId}", tag = "organization",
    security(("session" = [])),
    params(("invitationId" = String, Path, description = "The invitation id")),
    responses(
        (status = 200, description = "`{revoked: true}`", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state.services.revoke_invitation(&caller, &id).await?;
    Ok(Data(Done::revoked()))
}
