//! The contract's `ApiError` as the error of the Console's server functions. Leptos needs its
//! own trait on that type, and the contract crate knows nothing of Leptos, so it is wrapped
//! here; it reads as the `ApiError` inside.

use std::ops::Deref;

use serde::{Deserialize, Serialize};

pub use protocol::error::{ApiError, ErrorCode, FieldErrors};

/// An `ApiError` crossing a server function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerError(pub ApiError);

impl Deref for ServerError {
    type Target = ApiError;

    fn deref(&self) -> &ApiError {
        &self.0
    }
}

impl From<ApiError> for ServerError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        e.0
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ServerError {}

impl leptos::server_fn::error::FromServerFnError for ServerError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        Self(match value {
            E::Request(_) => ApiError::new(
                ErrorCode::Unavailable,
                "Could not reach the server. Check your connection and try again.",
            ),
            E::Args(m) | E::MissingArg(m) => ApiError::new(ErrorCode::ValidationError, m),
            _ => ApiError::internal(),
        })
    }
}
