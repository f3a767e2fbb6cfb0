//! Assembles the application: REST API + OpenAPI, the Leptos site (pages, server functions,
//! static assets), and the middleware every request passes. It sits above both the handlers
//! (`api`, `console`) and the edge they share (`http`), so neither of those reaches up here.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::any;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::console::Console;
use crate::error::{ApiError, ErrorCode, ErrorResponse};
use crate::http::AppState;
use crate::http::extract::client_ip;

/// The router and the OpenAPI document it serves.
pub fn build(state: AppState) -> Router {
    let backend: app::backend::SharedBackend = Arc::new(Console::new(
        state.services.clone(),
        state.tasks.clone(),
        Arc::clone(&state.openapi_json),
    ));
    let routes = generate_route_list(app::App);
    let context = move || provide_context(backend.clone());

    let (api, _) = crate::api::router().split_for_parts();
    Router::new()
        .merge(api)
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_ip,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .with_state(state)
}

/// The document as JSON, built once at start-up from the registered routes.
pub fn openapi_document() -> String {
    let (_, doc) = crate::api::router().split_for_parts();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".to_owned())
}

async fn api_not_found() -> ErrorResponse {
    ErrorResponse(ApiError::not_found("Endpoint"))
}

async fn method_not_allowed(method: axum::http::Method) -> ErrorResponse {
    ErrorResponse(ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "This endpoint does not take {method}; the API reference (/api/docs) lists what it takes."
        ),
    ))
}
