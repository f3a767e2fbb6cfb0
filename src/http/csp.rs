//! The Content-Security-Policy of every answer. Pages run the hydration script the server
//! wrote into them (allowed by a nonce made for that one answer), the site's own files and
//! its WebAssembly, and nothing else; no page may be framed. API answers — JSON, and files
//! people download from a task — may run nothing at all, so an HTML artifact opened in the
//! browser cannot script the Console's origin.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The nonce of one page answer: in the request's extensions for the renderer, and in the
/// policy header.
#[derive(Debug, Clone)]
pub struct CspNonce(pub Arc<str>);

const API_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox";

fn page_policy(nonce: &str) -> String {
    // Styles may be inline: the pages set `style` attributes, which carry no script.
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

pub async fn content_security_policy(mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/api/") && req.uri().path() != "/api/docs" {
        let mut resp = next.run(req).await;
        resp.headers_mut()
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(API_POLICY));
        return resp;
    }
    let nonce = match crate::secrets::random_hex(16) {
        Ok(n) => n,
        // Without randomness no nonce can be trusted: the page gets no inline script.
        Err(_) => String::from("unavailable"),
    };
    req.extensions_mut()
        .insert(CspNonce(Arc::from(nonce.as_str())));
    let mut resp = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce)) {
        resp.headers_mut()
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(value);
    }
    resp
}
