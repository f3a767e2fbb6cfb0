//! The widget (API.md, "Widget"): the token exchange a customer's backend calls, the widget's
//! own session, and (extension) a project's widget apps,
//! `/api/v1/projects/{projectId}/widget-apps`.

use axum::extract::State;

use crate::http::extract::{ApiJson, OptionalJson, Path};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::widget as dto;

/// Exchange a widget app's credentials for a token acting as one end user (called by the
/// customer's backend, never a web page: it carries the app's secret). The end user's `env`
/// and `secrets` are kept encrypted on the server for their tasks, replacing those of an
/// earlier exchange; the token carries neither.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "widget", request_body = dto::TokenRequest,
    responses(
        (status = 200, description = "`{token, expiresAt}`", body = Envelope<dto::IssuedToken>),
        (status = 400, description = "MISSING_CREDENTIALS, MISSING_END_USER_ID, INVALID_EXPIRES_IN, INVALID_ENV or VALIDATION_ERROR", body = ErrorEnvelope),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (per widget app), with `Retry-After`", body = ErrorEnvelope),
        (status = 501, description = "JWT_NOT_CONFIGURED", body = ErrorEnvelope),
    ))]
pub async fn exchange(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<dto::TokenRequest>,
) -> ApiResult<dto::IssuedToken> {
    Ok(Data(state.services.exchange_widget_token(body).await?))
}

/// The widget's app, look and end user, for its token (widget tokens only).
#[utoipa::path(get, path = "/api/v1/widget/session", tag = "widget",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session", body = Envelope<dto::WidgetSession>),
        (status = 401, description = "INVALID_TOKEN", body = ErrorEnvelope),
        (status = 403, description = "ORIGIN_NOT_ALLOWED, or FORBIDDEN for other credentials", body = ErrorEnvelope),
    ))]
pub async fn session(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<dto::WidgetSession> {
    Ok(Data(state.services.widget_session(&caller).await?))
}

/// (extension) The project's widget apps (people in the project).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/widget-apps", tag = "widget",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Oldest first", body = Envelope<Vec<dto::WidgetApp>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::WidgetApp>> {
    Ok(Data(
        state.services.widget_apps(&caller, &project_id).await?,
    ))
}

/// (extension) Add a widget app (project admins). Its `appSecret` is in this answer only.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/widget-apps", tag = "widget",
    security(("session" = [])), request_body = dto::WidgetAppInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "Added, with its secret", body = Envelope<dto::WidgetAppWithSecret>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::WidgetAppInput>,
) -> ApiResult<dto::WidgetAppWithSecret> {
    Ok(Data(
        state
            .services
            .create_widget_app(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) One widget app.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/widget-apps/{appId}", tag = "widget",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("appId" = String, Path, description = "The app's id"),
    ),
    responses(
        (status = 200, description = "Found", body = Envelope<dto::WidgetApp>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, app_id)): Path<(String, String)>,
) -> ApiResult<dto::WidgetApp> {
    Ok(Data(
        state
            .services
            .widget_app(&caller, &project_id, &app_id)
            .await?,
    ))
}

/// (extension) Change an app's name, origins or look (project admins); what is left out
/// stays.
#[utoipa::path(patch, path = "/api/v1/projects/{projectId}/widget-apps/{appId}", tag = "widget",
    security(("session" = [])), request_body = dto::WidgetAppInput,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("appId" = String, Path, description = "The app's id"),
    ),
    responses(
        (status = 200, description = "Changed", body = Envelope<dto::WidgetApp>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, app_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::WidgetAppInput>,
) -> ApiResult<dto::WidgetApp> {
    Ok(Data(
        state
            .services
            .update_widget_app(&caller, &project_id, &app_id, body)
            .await?,
    ))
}

/// (extension) Delete a widget app (project admins): its tokens stop working at once; its
/// end users' conversations stay with the project.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/widget-apps/{appId}", tag = "widget",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("appId" = String, Path, description = "The app's id"),
    ),
    responses(
        (status = 200, description = "`{deleted: true}`", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, app_id)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_widget_app(&caller, &project_id, &app_id)
        .await?;
    Ok(Data(Done::deleted()))
}

/// (extension) A new secret, shown once (project admins). The old one keeps working for
/// `overlapMinutes` (60 by default), so the site's backend can switch without downtime.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/widget-apps/{appId}/rotate-secret", tag = "widget",
    security(("session" = [])), request_body = dto::RotateSecret,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("appId" = String, Path, description = "The app's id"),
    ),
    responses(
        (status = 200, description = "The app with its new secret", body = Envelope<dto::WidgetAppWithSecret>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, app_id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<dto::RotateSecret>,
) -> ApiResult<dto::WidgetAppWithSecret> {
    Ok(Data(
        state
            .services
            .rotate_widget_secret(&caller, &project_id, &app_id, body)
            .await?,
    ))
}
