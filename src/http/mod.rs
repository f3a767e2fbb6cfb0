//! The HTTP edge the handlers share: state, extractors and the success envelope. The router
//! that puts the handlers together is `crate::routes`, above this.

pub mod compress;
pub mod cors;
pub mod csp;
pub mod extract;
pub mod same_origin;

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

pub use protocol::envelope::{Done, Envelope, ErrorEnvelope, Paged};

pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(Envelope::ok(self.0)).into_response()
    }
}

pub type ApiResult<T> = Result<Data<T>, ErrorResponse>;
