//! Cross-origin access for the embeddable widget, and nothing else. A page on a customer's
//! site calls the Task API with a widget token (never a cookie: no credentials mode), so the
//! API answers CORS for the paths a widget uses and only for origins some widget app lists;
//! which app's origins a request may come from is checked with its token
//! (`ORIGIN_NOT_ALLOWED`). The widget's own files (`/widget.js`, `/widget/…`) may be loaded
//! from any page.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The API paths a widget calls: the only ones a widget token may use.
pub fn widget_path(path: &str) -> bool {
    path == "/api/v1/tasks"
        || path.starts_with("/api/v1/tasks/")
        || path == "/api/v1/widget/session"
}

fn asset_path(path: &str) -> bool {
    path == "/widget.js" || path.starts_with("/widget/")
}

pub async fn widget_cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if asset_path(&path) {
        let mut resp = next.run(req).await;
        let headers = resp.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            "cross-origin-resource-policy",
            HeaderValue::from_static("cross-origin"),
        );
        // Not content-hashed yet: revalidate (cheap, by Last-Modified) rather than serve a
        // stale widget after an upgrade.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return resp;
    }
    if !widget_path(&path) {
        return next.run(req).await;
    }
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    let known = match state.services.widget_origin_known(&origin).await {
        Ok(known) => known,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the widget apps' origins");
            false
        }
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if known {
            allow(resp.headers_mut(), &origin);
            let headers = resp.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, DELETE"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, last-event-id"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            );
        }
        return resp.map(|_| Body::empty());
    }
    let mut resp = next.run(req).await;
    if known {
        allow(resp.headers_mut(), &origin);
    }
    resp
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after, content-disposition"),
        );
    }
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}
