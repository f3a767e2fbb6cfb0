//! Extractors whose rejections speak the API's error envelope.

use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
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
        let caller = state.services.require_caller(&parts.headers).await?;
        // A widget token reaches its end user's tasks and nothing else of the API, whatever
        // a service would let a member of the project read.
        if matches!(caller, Caller::Widget(_)) && !super::cors::widget_path(parts.uri.path()) {
            return Err(ErrorResponse(ApiError::forbidden(
                "A widget token can only use the Task API, as its end user.",
            )));
        }
        Ok(caller)
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
///
/// Every body the API takes is an object. serde's derived structs would also accept an array
/// of their fields in order (`[]` for one whose fields are all optional), so anything else is
/// refused before it is read.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state).await?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(ErrorResponse(ApiError::new(
                ErrorCode::ValidationError,
                "The request body is not valid: it must be a JSON object",
            )));
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

impl From<BytesRejection> for ErrorResponse {
    fn from(r: BytesRejection) -> Self {
        ErrorResponse(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The request body is not valid: {}", r.body_text()),
        ))
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let empty = match headers.get(axum::http::header::CONTENT_LENGTH) {
            Some(len) => len == "0",
            None => headers.get(axum::http::header::TRANSFER_ENCODING).is_none(),
        };
        if empty {
            return Ok(Self(T::default()));
        }
        let ApiJson(value) = ApiJson::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

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

/// Query strings; a malformed one (`limit=1e9`, a missing required field) answers
/// `VALIDATION_ERROR` in the envelope, never a plain-text body.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ErrorResponse))]
pub struct Query<T>(pub T);

/// Path parameters, with the same errors as `Query`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ErrorResponse))]
pub struct Path<T>(pub T);

impl From<QueryRejection> for ErrorResponse {
    fn from(r: QueryRejection) -> Self {
        ErrorResponse(ApiError::new(
            ErrorCode::ValidationError,
            format!("The query string is not valid: {}", r.body_text()),
        ))
    }
}

impl From<PathRejection> for ErrorResponse {
    fn from(r: PathRejection) -> Self {
        match r {
            PathRejection::FailedToDeserializePathParams(e) => ErrorResponse(ApiError::new(
                ErrorCode::ValidationError,
                format!("The path is not valid: {}", e.body_text()),
            )),
            // A route declared without the parameters its handler reads: our bug.
            other => {
                tracing::error!(rejection = %other.body_text(), "path parameters missing");
                ErrorResponse(ApiError::internal())
            }
        }
    }
}

/// The client's address for rate limits: the socket peer, or, when the operator says a proxy
/// in front can be trusted, the last `X-Forwarded-For` hop: the address that proxy saw. The
/// hops to its left are whatever the client wrote, so a client could pick any of them.
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
                .and_then(|v| v.rsplit(',').next())
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
