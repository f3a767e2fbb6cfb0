//! Extractors whose rejections speak the API's error envelope.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::error::{ApiError, ErrorCode, ErrorResponse};
use crate::services::access::Caller;
use app::backend::ClientIp;

/// A request that must carry credentials.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(state.services.require_caller(&parts.headers).await?)
    }
}

/// A request that may carry credentials (log-out works signed out too).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(state.services.authenticate(&parts.headers).await?))
    }
}

/// JSON bodies; a malformed one answers `VALIDATION_ERROR` saying what was wrong.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ErrorResponse))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ErrorResponse {
    fn from(r: JsonRejection) -> Self {
        let code = match r {
            JsonRejection::BytesRejection(_) => ErrorCode::PayloadTooLarge,
            _ => ErrorCode::ValidationError,
        };
        ErrorResponse(ApiError::new(
            code,
            format!("The request body is not valid: {}", r.body_text()),
        ))
    }
}

/// The client's address for rate limits: the socket peer, or the first `X-Forwarded-For` hop
/// when the operator says a proxy in front can be trusted.
pub async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = state
        .services
        .config()
        .trust_proxy
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        })
        .flatten();
    if let Some(ip) = forwarded.or(peer) {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

pub fn ip_of(parts_ext: &axum::http::Extensions) -> Option<IpAddr> {
    parts_ext.get::<ClientIp>().map(|c| c.0)
}
