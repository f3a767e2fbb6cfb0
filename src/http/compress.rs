//! Compression of answers: JSON, pages and text above a kilobyte, in brotli or gzip as the
//! client accepts. The site's own files are compressed once at build time (their `.br` and
//! `.gz` are sent as they are, and carry `Content-Encoding` already); streams are never
//! compressed (a compressor holds bytes back until it has enough, and an event must go out
//! at once), and downloads go out byte for byte.

use axum::http::{HeaderMap, StatusCode, Version, header};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Below this, compression saves less than it costs.
const MIN_SIZE: u16 = 1024;

/// Types worth compressing: text that is often large and repetitive.
const COMPRESSIBLE: &[&str] = &[
    "application/json",
    "application/problem+json",
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "image/svg+xml",
];

pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Default)
        .compress_when(SizeAbove::new(MIN_SIZE).and(compressible))
}

fn compressible(
    status: StatusCode,
    _: Version,
    headers: &HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    if status == StatusCode::NO_CONTENT || headers.contains_key(header::CONTENT_DISPOSITION) {
        return false;
    }
    let Some(kind) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = kind.split(';').next().unwrap_or_default().trim();
    COMPRESSIBLE.iter().any(|t| essence.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_static(v)))
            .collect()
    }

    fn ok(h: &HeaderMap) -> bool {
        compressible(StatusCode::OK, Version::HTTP_11, h, &Default::default())
    }

    #[test]
    fn answers_and_pages_are_compressed_streams_and_downloads_are_not() {
        assert!(ok(&headers(&[(header::CONTENT_TYPE, "application/json")])));
        assert!(ok(&headers(&[(
            header::CONTENT_TYPE,
            "text/html; charset=utf-8"
        )])));
        assert!(!ok(&headers(&[(
            header::CONTENT_TYPE,
            "text/event-stream"
        )])));
        assert!(!ok(&headers(&[(header::CONTENT_TYPE, "image/png")])));
        assert!(!ok(&headers(&[
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"a.json\""
            ),
        ])));
        assert!(!ok(&HeaderMap::new()));
    }
}
