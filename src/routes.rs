//! Assembles the application: REST API + OpenAPI, the Leptos site (pages, server functions,
//! static assets), and the middleware every request passes. It sits above both the handlers
//! (`api`, `console`) and the edge they share (`http`), so neither of those reaches up here.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::console::Console;
use crate::error::{ApiError, ErrorCode, ErrorResponse};
use crate::http::AppState;
use crate::http::cors::widget_cors;
use crate::http::csp::{CspNonce, content_security_policy};
use crate::http::extract::client_ip;
use crate::http::same_origin::refuse_cross_site;

/// The router and the OpenAPI document it serves.
pub fn build(state: AppState) -> Router {
    let backend: app::backend::SharedBackend = Arc::new(Console::new(
        state.services.clone(),
        state.tasks.clone(),
        Arc::clone(&state.openapi_json),
    ));
    let routes = generate_route_list(app::App);
    let context = move || {
        provide_context(backend.clone());
        // The page's inline hydration script carries the nonce its CSP header allows.
        if let Some(nonce) = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<CspNonce>().cloned())
        {
            provide_context(leptos::nonce::Nonce::from_value(nonce.0));
        }
    };

    let (api, _) = crate::api::router().split_for_parts();
    // Behind TLS, browsers are told to use nothing else for a year.
    let hsts = state.services.config().secure_cookies.then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    let site_root = std::path::PathBuf::from(state.leptos_options.site_root.as_ref());
    let router = Router::new()
        .merge(api)
        .route("/api/{*rest}", any(api_not_found));
    crate::site::static_files(router, &site_root)
        .method_not_allowed_fallback(method_not_allowed)
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .layer(axum::middleware::from_fn(limit_console_bodies))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            widget_cors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_ip,
        ))
        .layer(axum::middleware::from_fn(content_security_policy))
        .layer(axum::middleware::from_fn(crate::site::cache_control))
        .layer(crate::http::compress::layer())
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
        .layer(tower::util::option_layer(hsts))
        .with_state(state)
}

/// The document as JSON, built once at start-up from the registered routes.
pub fn openapi_document() -> String {
    crate::api::document()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
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

/// Bodies the Console's server functions and pages take: forms, never files.
const CONSOLE_BODY_LIMIT: usize = 1024 * 1024;

/// Bounds every body outside the API (which bounds its own, per route), so no server
/// function reads an unbounded one: a declared length over the bound is refused at once, a
/// longer stream is cut where it passes it.
async fn limit_console_bodies(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > CONSOLE_BODY_LIMIT) {
        return ErrorResponse(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The request body is over {} KB.", CONSOLE_BODY_LIMIT / 1024),
        ))
        .into_response();
    }
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, CONSOLE_BODY_LIMIT)));
    next.run(req).await
}
