//! (extension) A project's audit log: `/api/v1/projects/{projectId}/audit`, and the same as CSV.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ErrorResponse;
use crate::http::extract::{Path, Query};
use crate::http::{ApiResult, AppState, Data, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol::policy as dto;

/// (extension) Every tool call's decision, newest first: the rule or mode that decided, who
/// answered a call that asked, and how it ended (project admins).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/audit", tag = "audit",
    security(("bearer" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id"), dto::AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = Envelope<dto::AuditPage>),
        (status = 400, description = "VALIDATION_ERROR: a filter that cannot be read", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    Query(q): Query<dto::AuditQuery>,
) -> ApiResult<dto::AuditPage> {
    Ok(Data(state.services.audit(&caller, &project_id, &q).await?))
}

/// (extension) The entries the filters select, as CSV (project admins).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/audit/export", tag = "audit",
    security(("bearer" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id"), dto::AuditQuery),
    responses(
        (status = 200, description = "A CSV file", content_type = "text/csv", body = String),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    Query(q): Query<dto::AuditQuery>,
) -> Result<Response, ErrorResponse> {
    let entries = state
        .services
        .audit_export(&caller, &project_id, &q)
        .await?;
    let csv = crate::services::audit::to_csv(&entries)?;
    let mut res = csv.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit.csv\""),
    );
    Ok(res)
}
