//! Error policy. Services answer `ApiError` (the wire error of the contract) for anything the
//! caller can act on, and `Internal` for everything else; internal errors are logged with their
//! cause and answered with a generic message, so no SQL, path or stack reaches a client. This
//! module is the one place an error becomes an HTTP response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use protocol::error::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("transaction: {0}")]
    Txn(#[from] sea_orm::TransactionError<sea_orm::DbErr>),
    #[error(transparent)]
    Random(#[from] crate::secrets::RandomError),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("background task: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("secrets at rest: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("stored MCP server: {0}")]
    McpStored(#[from] crate::mcp::stored::StoredError),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(e: sea_orm::TransactionError<Error>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => Self::Db(db),
            sea_orm::TransactionError::Transaction(inner) => inner,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error as a caller sees it; internal causes are logged here, once.
    pub fn into_api(self) -> ApiError {
        match self {
            Self::Api(e) => e,
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        e.into_api()
    }
}

/// The HTTP face of an `ApiError`: the envelope of `API.md`.
pub struct ErrorResponse(pub ApiError);

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let e = self.0;
        let status =
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = e.retry_after_secs;
        let body = protocol::envelope::ErrorEnvelope::new(e);
        let mut res = (status, Json(body)).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ErrorResponse(self.into_api()).into_response()
    }
}

impl From<ApiError> for ErrorResponse {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<Error> for ErrorResponse {
    fn from(e: Error) -> Self {
        Self(e.into_api())
    }
}
