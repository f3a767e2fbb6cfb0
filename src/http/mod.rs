//! The HTTP edge: state, extractors, the success envelope and the router.

pub mod extract;
pub mod router;

use axum::Json;
use axum::extract::FromRef;
use axum::response::{IntoResponse, Response};
use leptos::prelude::LeptosOptions;
use serde::Serialize;

use crate::error::ErrorResponse;
use crate::services::Services;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub leptos_options: LeptosOptions,
    /// The OpenAPI document, rendered once at start-up.
    pub openapi_json: std::sync::Arc<String>,
    pub sandboxes: std::sync::Arc<crate::sandbox::manager::SandboxManager>,
    pub tasks: crate::services::tasks::TaskService,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// `{"success": true, "data": …}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: T,
}

/// `{"success": false, "error": {code, message, fields?}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub error: app::error::ApiError,
}

pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(Envelope {
            success: true,
            data: self.0,
        })
        .into_response()
    }
}

pub type ApiResult<T> = Result<Data<T>, ErrorResponse>;

/// Small answers to deletions and the like.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logged_out: Option<bool>,
}

impl Done {
    fn flag(f: impl FnOnce(&mut Self)) -> Self {
        let mut d = Self {
            removed: None,
            revoked: None,
            deleted: None,
            logged_out: None,
        };
        f(&mut d);
        d
    }
    pub fn removed() -> Self {
        Self::flag(|d| d.removed = Some(true))
    }
    pub fn revoked() -> Self {
        Self::flag(|d| d.revoked = Some(true))
    }
    pub fn deleted() -> Self {
        Self::flag(|d| d.deleted = Some(true))
    }
    pub fn logged_out() -> Self {
        Self::flag(|d| d.logged_out = Some(true))
    }
}
