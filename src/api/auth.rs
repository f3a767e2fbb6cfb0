use crate::http::extract::Path;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ErrorResponse;
use crate::http::extract::{ApiJson, MaybeCaller};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use crate::services::accounts::user_dto;
use protocol::{self as dto, input};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: dto::User,
}

fn with_cookie(body: impl IntoResponse, cookie: &str) -> Response {
    let mut res = body.into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Create an account. Without `invitationToken`: a personal organization and a "Default"
/// project come with it. With one: the person joins the inviting organization.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = input::Signup,
    responses(
        (status = 200, description = "Signed up; the session cookie is set", body = Envelope<SignedIn>),
        (status = 400, description = "VALIDATION_ERROR, with `fields`", body = ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED, with `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ext: axum::http::Extensions,
    ApiJson(body): ApiJson<input::Signup>,
) -> Result<Response, ErrorResponse> {
    let ip = crate::http::extract::ip_of(&ext);
    let opened = state.services.signup(body.into(), ip).await?;
    let cookie = state.services.session_cookie(&opened.token);
    Ok(with_cookie(
        Data(SignedIn {
            user: user_dto(&opened.user),
        }),
        &cookie,
    ))
}

/// Log in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = input::Login,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = Envelope<SignedIn>),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED, with `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ext: axum::http::Extensions,
    ApiJson(body): ApiJson<input::Login>,
) -> Result<Response, ErrorResponse> {
    let ip = crate::http::extract::ip_of(&ext);
    let opened = state.services.login(&body.email, body.password, ip).await?;
    let cookie = state.services.session_cookie(&opened.token);
    Ok(with_cookie(
        Data(SignedIn {
            user: user_dto(&opened.user),
        }),
        &cookie,
    ))
}

/// End the session and clear its cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, description = "`{loggedOut: true}`", body = Envelope<Done>)))]
pub async fn logout(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, ErrorResponse> {
    state.services.logout(caller.as_ref()).await?;
    Ok(with_cookie(
        Data(Done::logged_out()),
        &state.services.clear_session_cookie(),
    ))
}

/// What an invitation link invites to, for the registration page.
#[utoipa::path(get, path = "/api/v1/invitations/{token}", tag = "auth",
    params(("token" = String, Path, description = "The token of the invitation link")),
    responses(
        (status = 200, description = "The invitation", body = Envelope<dto::InvitationPreview>),
        (status = 404, description = "Unknown, used or expired", body = ErrorEnvelope),
    ))]
pub async fn invitation_preview(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<dto::InvitationPreview> {
    Ok(Data(state.services.invitation_preview(&token).await?))
}

/// Who is calling: a person (session) or an API key, their organization and projects.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = Envelope<dto::Me>),
        (status = 401, description = "AUTH_REQUIRED, INVALID_API_KEY, INVALID_AUTH_FORMAT", body = ErrorEnvelope),
    ))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<dto::Me> {
    Ok(Data(state.services.me(&caller).await?))
}
