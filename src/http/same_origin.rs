//! Cross-site request forgery: a browser sends the session cookie with any request to us,
//! whichever site made it. So a state-changing request that the cookie would authenticate (and
//! login and signup, which set it) must come from our own pages: `Sec-Fetch-Site` says so
//! where browsers send it, `Origin` elsewhere. Requests that carry their own credential
//! (`Authorization`, `X-API-Key`) cannot be forged this way and pass; so do requests from
//! programs, which send neither header.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::{ApiError, ErrorResponse};

pub async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let headers = req.headers();
    let own_credential =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    if !safe && !own_credential && cross_site(headers, &state.services.config().public_url()) {
        return ErrorResponse(ApiError::forbidden(
            "This request came from another site and would act with your session: it was refused. Use Sigmic's own pages, or an API key.",
        ))
        .into_response();
    }
    next.run(req).await
}

fn cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        // `same-site` is a sibling domain, which may be someone else's.
        return !matches!(site, "same-origin" | "none");
    }
    match text(header::ORIGIN.as_str()) {
        // Not a browser (or one too old to say): nothing rides on a cookie it did not choose.
        None => false,
        Some(origin) => {
            let Some(from) = authority(origin) else {
                // `null` (a sandboxed frame, a file) or garbage.
                return true;
            };
            let host = text(header::HOST.as_str()).map(str::to_ascii_lowercase);
            Some(&from) != host.as_ref() && Some(&from) != authority(public_url).as_ref()
        }
    }
}

/// `host[:port]` of a URL, lower-cased, with the port only where it is not the scheme's.
fn authority(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap_or_else(|_| unreachable!()));
        }
        h
    }

    #[test]
    fn origins_are_compared_by_host_and_port() {
        let public = "https://sigmic.example.com";
        let same = headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!cross_site(&same, public));
        let public_origin = headers(&[
            ("origin", "https://sigmic.example.com"),
            ("host", "10.0.0.1"),
        ]);
        assert!(!cross_site(&public_origin, public));
        let other_port = headers(&[
            ("origin", "http://127.0.0.1:4000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(cross_site(&other_port, public));
        assert!(cross_site(&headers(&[("origin", "null")]), public));
        assert!(cross_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            public
        ));
        assert!(!cross_site(&headers(&[]), public));
    }
}
