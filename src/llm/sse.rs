//! What the three clients share: sending the request, classifying failures, and driving a
//! dialect's decoder over the SSE body so each client only says what its events mean.

use std::collections::VecDeque;
use std::error::Error as _;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt, stream};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::{EventStream, LlmError, StreamEvent};

/// The message of every stream that ended without its dialect's last event.
pub(crate) const CUT_OFF: &str = "the model's stream was cut off";

/// The largest models listing read, and the most ids kept of it.
const MAX_LISTING_BYTES: usize = 4 << 20;
const MAX_LISTED: usize = 2000;

/// Longest piece of an error body quoted back when it is not JSON we understand.
const MAX_QUOTED: usize = 500;

/// One dialect's reading of its SSE events.
pub(crate) trait Decoder: Send + 'static {
    /// Reads one SSE event and pushes what it means onto `out`. Pushing `End` finishes the
    /// stream: the rest of the body is not read.
    fn event(&mut self, name: &str, data: &str, out: &mut Vec<StreamEvent>)
    -> Result<(), LlmError>;

    /// The body ended before `End` was pushed. Dialects that end on a marker event treat this
    /// as a cut-off; Gemini ends by closing the body and finishes here.
    fn close(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        let _ = out;
        Err(cut_off(None))
    }
}

/// `base` without a trailing slash, or `default` when none was configured.
pub(crate) fn base_url(base: Option<String>, default: &str) -> String {
    base.map(|b| b.trim().trim_end_matches('/').to_owned())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Sends a JSON body and returns the response once its status is a success.
/// `provider` names the provider in messages; `secret` is scrubbed from anything quoted back.
pub(crate) async fn post_json(
    request: reqwest::RequestBuilder,
    body: &Value,
    provider: &str,
    secret: Option<&str>,
) -> Result<reqwest::Response, LlmError> {
    let body = serde_json::to_vec(body).map_err(|e| LlmError::Permanent {
        status: None,
        message: format!("cannot encode the request to {provider}: {e}"),
    })?;
    let response = request
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "text/event-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| LlmError::Transient {
            message: redact(
                format!("cannot reach {provider}: {}", with_sources(&e)),
                secret,
            ),
            retry_after: None,
        })?;
    check_status(response, provider, secret).await
}

/// GETs a JSON answer (a models list), its failures classified like a model call's.
pub(crate) async fn get_json(
    request: reqwest::RequestBuilder,
    provider: &str,
    secret: Option<&str>,
) -> Result<Value, LlmError> {
    let unreachable = |e: reqwest::Error| LlmError::Transient {
        message: redact(
            format!("cannot reach {provider}: {}", with_sources(&e)),
            secret,
        ),
        retry_after: None,
    };
    let response = request
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(unreachable)?;
    let mut response = check_status(response, provider, secret).await?;
    // The URL may be anyone's: a listing larger than any real one is refused, not buffered.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_LISTING_BYTES {
            return Err(LlmError::Permanent {
                status: None,
                message: format!(
                    "{provider} answered more than {} MiB to a models listing",
                    MAX_LISTING_BYTES >> 20
                ),
            });
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| LlmError::Permanent {
        status: None,
        message: format!("{provider} answered something that is not JSON: {e}"),
    })
}

/// The string `field` of each object in `list`, sorted, without duplicates: at most
/// `MAX_LISTED` ids, each one a model name could carry (others are left out).
pub(crate) fn ids(list: Option<&Value>, field: &str, strip: &str) -> Vec<String> {
    let mut ids: Vec<String> = list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get(field).and_then(Value::as_str))
        .map(|id| id.strip_prefix(strip).unwrap_or(id).to_owned())
        .filter(|id| super::is_model_id(id))
        .take(MAX_LISTED)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Passes a successful response through; turns any other into the classified error.
pub(crate) async fn check_status(
    response: reqwest::Response,
    provider: &str,
    secret: Option<&str>,
) -> Result<reqwest::Response, LlmError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    // A body that fails to arrive still leaves the status to classify.
    let body = response.text().await.unwrap_or_default();
    Err(status_error(
        status.as_u16(),
        retry_after,
        &body,
        provider,
        secret,
    ))
}

/// Classifies an HTTP error status. Rate limits, timeouts, conflicts and server trouble
/// (5xx, Anthropic's 529 "overloaded") pass with time; anything else is the request's fault.
pub(crate) fn status_error(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    provider: &str,
    secret: Option<&str>,
) -> LlmError {
    let detail = error_message(body).unwrap_or_else(|| {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no details")
            .to_owned()
    });
    let message = redact(
        format!("{provider} answered HTTP {status}: {detail}"),
        secret,
    );
    if is_transient_status(status) {
        LlmError::Transient {
            message,
            retry_after,
        }
    } else {
        LlmError::Permanent {
            status: Some(status),
            message,
        }
    }
}

pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..=599).contains(&status)
}

/// `Retry-After` in seconds. The HTTP-date form is not used by model providers.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The human part of a provider's JSON error body. Anthropic, OpenAI and Gemini all say
/// `{"error": {"message": …}}`; compatible servers say `{"error": "…"}`, `{"message": …}` or
/// `{"detail": …}`; Gemini's streaming endpoint may wrap the body in an array.
fn error_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        // HTML error pages from proxies say nothing useful beyond the status.
        if body.starts_with('<') {
            return None;
        }
        return Some(truncate(body));
    };
    let value = match &value {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    let found = value
        .pointer("/error/message")
        .or_else(|| value.get("error").filter(|e| e.is_string()))
        .or_else(|| value.get("message"))
        .or_else(|| value.get("detail"))
        .and_then(Value::as_str)
        .map(truncate);
    found.or_else(|| Some(truncate(body)))
}

/// An error object the provider sent inside the stream (`{"type": …, "message": …}` and
/// the like), classified like the statuses: overloaded, rate-limited and internal errors
/// pass with time.
pub(crate) fn stream_error(provider: &str, error: &Value) -> LlmError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(truncate)
        .unwrap_or_else(|| truncate(&error.to_string()));
    let message = format!("{provider} reported an error mid-stream: {message}");
    let kind = ["type", "status", "code"]
        .iter()
        .filter_map(|k| error.get(*k))
        .collect::<Vec<_>>();
    let transient = kind.iter().any(|v| match v {
        Value::String(s) => matches!(
            s.as_str(),
            "overloaded_error"
                | "api_error"
                | "rate_limit_error"
                | "server_error"
                | "rate_limit_exceeded"
                | "RESOURCE_EXHAUSTED"
                | "UNAVAILABLE"
                | "INTERNAL"
                | "DEADLINE_EXCEEDED"
        ),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .is_some_and(is_transient_status),
        _ => false,
    });
    if transient {
        LlmError::Transient {
            message,
            retry_after: None,
        }
    } else {
        LlmError::Permanent {
            status: None,
            message,
        }
    }
}

/// The error for a stream that ended early; `why` is the transport's reason, if any.
pub(crate) fn cut_off(why: Option<String>) -> LlmError {
    LlmError::Transient {
        message: match why {
            Some(why) => format!("{CUT_OFF}: {why}"),
            None => CUT_OFF.to_owned(),
        },
        retry_after: None,
    }
}

/// An event whose data is not the JSON the dialect promises: retrying the same request
/// would most likely get the same answer.
pub(crate) fn unreadable(provider: &str, error: &serde_json::Error) -> LlmError {
    LlmError::Permanent {
        status: None,
        message: format!("{provider} sent a stream event that is not valid JSON: {error}"),
    }
}

/// Arguments of a tool call from their streamed text: always an object. Empty means no
/// arguments; anything that is not a JSON object is kept raw so the loop can show the model
/// what it wrote.
pub(crate) fn parse_args(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => value,
        _ => serde_json::json!({ "_raw": text }),
    }
}

/// The body of a response as bytes, with transport failures already classified.
pub(crate) fn body(
    response: reqwest::Response,
) -> impl Stream<Item = Result<Bytes, LlmError>> + Send + 'static {
    response
        .bytes_stream()
        .map(|chunk| chunk.map_err(|e| cut_off(Some(with_sources(&e)))))
}

type SseEvents = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<LlmError>>> + Send>>;

/// Drives `decoder` over an SSE body: the normalized stream a provider hands out.
pub(crate) fn decode<S, D>(bytes: S, decoder: D) -> EventStream
where
    S: Stream<Item = Result<Bytes, LlmError>> + Send + 'static,
    D: Decoder,
{
    let driver = Driver {
        events: Box::pin(bytes.eventsource()),
        decoder,
        pending: VecDeque::new(),
        finished: false,
    };
    Box::pin(stream::unfold(driver, |mut driver| async move {
        let item = driver.next_item().await?;
        Some((item, driver))
    }))
}

struct Driver<D> {
    events: SseEvents,
    decoder: D,
    pending: VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
}

impl<D: Decoder> Driver<D> {
    async fn next_item(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            let mut out = Vec::new();
            let result = match self.events.next().await {
                Some(Ok(event)) => self.decoder.event(&event.event, &event.data, &mut out),
                Some(Err(EventStreamError::Transport(e))) => Err(e),
                Some(Err(e)) => Err(LlmError::Permanent {
                    status: None,
                    message: format!("the model's stream is not readable SSE: {e}"),
                }),
                None => {
                    self.finished = true;
                    self.decoder.close(&mut out)
                }
            };
            if matches!(out.last(), Some(StreamEvent::End(_))) {
                self.finished = true;
            }
            self.pending.extend(out.into_iter().map(Ok));
            if let Err(e) = result {
                self.pending.push_back(Err(e));
                self.finished = true;
            }
        }
    }
}

/// An error with its causes: reqwest's own message alone ("error decoding response body")
/// hides whether it was a timeout or a reset.
fn with_sources(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Keys never travel into messages, even when a proxy echoes a header back.
fn redact(text: String, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if secret.len() >= 4 && text.contains(secret) => {
            text.replace(secret, "[redacted]")
        }
        _ => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// Runs a decoder over literal SSE text, delivered in pieces of `piece` bytes so event
    /// boundaries fall inside chunks as they do on the network.
    pub(crate) async fn run<D: Decoder>(
        decoder: D,
        wire: &str,
        piece: usize,
    ) -> Vec<Result<StreamEvent, LlmError>> {
        let chunks: Vec<Result<Bytes, LlmError>> = wire
            .as_bytes()
            .chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        decode(stream::iter(chunks), decoder).collect().await
    }

    #[test]
    fn statuses_are_classified() {
        let e = status_error(429, Some(Duration::from_secs(3)), "", "X", None);
        assert_eq!(
            e,
            LlmError::Transient {
                message: "X answered HTTP 429: Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(3)),
            }
        );
        for s in [408, 409, 500, 502, 503, 529] {
            assert!(status_error(s, None, "", "X", None).is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!status_error(s, None, "", "X", None).is_transient(), "{s}");
        }
    }

    #[test]
    fn error_bodies_give_their_message() {
        let anthropic = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too big"}}"#;
        let e = status_error(400, None, anthropic, "Anthropic", None);
        assert_eq!(
            e.to_string(),
            "Anthropic answered HTTP 400: max_tokens: too big"
        );
        let gemini =
            r#"[{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}]"#;
        assert!(
            status_error(400, None, gemini, "G", None)
                .to_string()
                .ends_with("API key not valid")
        );
        let ollama = r#"{"error":"model \"x\" not found"}"#;
        assert!(
            status_error(404, None, ollama, "O", None)
                .to_string()
                .ends_with("model \"x\" not found")
        );
        assert!(
            status_error(502, None, "<html>bad gateway</html>", "O", None)
                .to_string()
                .ends_with("Bad Gateway")
        );
    }

    #[test]
    fn keys_are_redacted() {
        let body = r#"{"error":{"message":"key sk-secret-123 is revoked"}}"#;
        let e = status_error(401, None, body, "O", Some("sk-secret-123"));
        assert!(!e.to_string().contains("sk-secret-123"), "{e}");
        assert!(e.to_string().contains("[redacted]"));
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn args_are_always_objects() {
        assert_eq!(parse_args(""), serde_json::json!({}));
        assert_eq!(parse_args(r#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(
            parse_args(r#"{"a":"#),
            serde_json::json!({"_raw": "{\"a\":"})
        );
        assert_eq!(parse_args("[1]"), serde_json::json!({"_raw": "[1]"}));
    }

    #[test]
    fn mid_stream_errors_are_classified() {
        let e = stream_error(
            "A",
            &serde_json::json!({"type": "overloaded_error", "message": "Overloaded"}),
        );
        assert!(e.is_transient());
        let e = stream_error("G", &serde_json::json!({"code": 503, "message": "busy"}));
        assert!(e.is_transient());
        let e = stream_error(
            "A",
            &serde_json::json!({"type": "invalid_request_error", "message": "no"}),
        );
        assert!(!e.is_transient());
        assert!(e.to_string().ends_with("no"));
    }

    #[test]
    fn base_urls_lose_trailing_slashes() {
        assert_eq!(base_url(None, "https://d"), "https://d");
        assert_eq!(base_url(Some(" ".into()), "https://d"), "https://d");
        assert_eq!(
            base_url(Some("http://h/v1/".into()), "https://d"),
            "http://h/v1"
        );
    }
}
