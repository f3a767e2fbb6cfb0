//! A scripted model server for tests: speaks the Anthropic Messages, OpenAI Chat Completions
//! and Gemini streaming dialects on their real paths, over real HTTP and SSE, and answers each
//! call with the next scripted `Turn`.
//!
//! Conversations are told apart by a key in their first user message (`script`), so tasks
//! running in parallel each get their own turns; `push` feeds every other conversation in
//! order. A conversation whose turns ran out gets the text "(script exhausted)", so a test
//! fails on its assertions instead of hanging.
//!
//! ```ignore
//! let server = ModelServer::start().await;
//! server.script("task-7", vec![
//!     Turn::tool_call("run_shell_command", json!({"command": "ls"})),
//!     Turn::text_chunks(vec!["Do", "ne."]).with_usage(120, 8),
//! ]);
//! let providers = Providers::from_config(&server.llm_config())?;
//! ```
//!
//! `start_with_control` adds a small JSON API under `/_control/` so that another process (the
//! browser tests, through `examples/model_server.rs`) can script it over HTTP, with turns
//! written as `TurnSpec`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};
use sigmic::config::LlmConfig;
use sigmic::llm::ProviderKind;

/// The key `llm_config` hands out for all three providers.
pub const TEST_KEY: &str = "sk-test-model-server";

/// What the server answers a conversation without turns left.
pub const EXHAUSTED: &str = "(script exhausted)";

// ---------------------------------------------------------------------------------------------
// Turns
// ---------------------------------------------------------------------------------------------

/// One scripted answer to one model call.
#[derive(Debug, Clone)]
pub struct Turn {
    kind: TurnKind,
    thought: Option<String>,
    usage: Option<(u64, u64)>,
    chunk_delay: Duration,
    drop_after: Option<usize>,
}

#[derive(Debug, Clone)]
enum TurnKind {
    Reply {
        text: Vec<String>,
        calls: Vec<(String, Value)>,
    },
    Error {
        status: u16,
        message: String,
        retry_after: Option<u64>,
    },
    Hang,
}

impl Turn {
    fn of(kind: TurnKind) -> Self {
        Self {
            kind,
            thought: None,
            usage: None,
            chunk_delay: Duration::ZERO,
            drop_after: None,
        }
    }

    /// A text answer in one chunk.
    pub fn text(text: impl Into<String>) -> Self {
        Self::text_chunks(vec![text.into()])
    }

    /// A text answer streamed in these pieces, one SSE event each.
    pub fn text_chunks<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Self {
        Self::of(TurnKind::Reply {
            text: chunks.into_iter().map(Into::into).collect(),
            calls: Vec::new(),
        })
    }

    /// One tool call; its arguments are streamed in pieces where the dialect does that.
    pub fn tool_call(name: impl Into<String>, args: Value) -> Self {
        Self::tool_calls(vec![(name.into(), args)])
    }

    /// Several tool calls in one answer, in this order.
    pub fn tool_calls<S: Into<String>>(calls: impl IntoIterator<Item = (S, Value)>) -> Self {
        Self::of(TurnKind::Reply {
            text: Vec::new(),
            calls: calls.into_iter().map(|(n, a)| (n.into(), a)).collect(),
        })
    }

    /// An HTTP error before any streaming, in the dialect's error shape. A 429 carries
    /// `Retry-After: 0` unless `with_retry_after` says otherwise.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::of(TurnKind::Error {
            status,
            message: message.into(),
            retry_after: (status == 429).then_some(0),
        })
    }

    /// Response headers, then nothing until the client goes away.
    pub fn hang() -> Self {
        Self::of(TurnKind::Hang)
    }

    /// Text streamed before the answer's tool calls (or more text after its chunks).
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        if let TurnKind::Reply { text: chunks, .. } = &mut self.kind {
            chunks.push(text.into());
        }
        self
    }

    /// Reasoning streamed before the answer (Anthropic thinking with a signature, OpenAI
    /// `reasoning_content`, Gemini `thought: true` parts).
    pub fn with_thought(mut self, thought: impl Into<String>) -> Self {
        self.thought = Some(thought.into());
        self
    }

    /// The token counts reported; without it they are made up from the sizes.
    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage = Some((input_tokens, output_tokens));
        self
    }

    /// The `Retry-After` seconds of an error turn.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        if let TurnKind::Error { retry_after, .. } = &mut self.kind {
            *retry_after = Some(secs);
        }
        self
    }

    /// Sends only the first `n` SSE events, then breaks the connection (no terminal event,
    /// no clean end of the chunked body).
    pub fn drop_after(mut self, n: usize) -> Self {
        self.drop_after = Some(n);
        self
    }

    /// Waits this long between two SSE events.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------------------------

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub provider: ProviderKind,
    /// Path and query, e.g. `/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse`.
    pub path: String,
    /// The model named in the body (or, for Gemini, the path).
    pub model: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    /// The key from the dialect's auth header (`Bearer ` removed), if any.
    pub api_key: Option<String>,
    pub body: Value,
    /// The text of the first user message, which conversations are keyed by.
    pub first_user_text: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    /// `None`: any non-empty key passes.
    api_key: Option<String>,
    state: Mutex<Scripts>,
    /// One line on stderr per model call (with the control API: a process's log).
    log: bool,
}

#[derive(Default)]
struct Scripts {
    keyed: Vec<(String, VecDeque<Turn>)>,
    fifo: VecDeque<Turn>,
    requests: Vec<Recorded>,
    next_id: u64,
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ModelServer {
    /// A server that accepts any non-empty key (each request records the one it carried).
    pub async fn start() -> ModelServer {
        Self::serve(None).await
    }

    /// A server that accepts exactly `key`.
    pub async fn start_with_key(key: &str) -> ModelServer {
        Self::serve(Some(key.to_owned())).await
    }

    /// A server on `addr` that accepts any non-empty key and also answers the `/_control/` API,
    /// for scripting from another process. Fails when `addr` is taken. Bodies and answers are
    /// JSON; a body the API does not understand gets a 400 with `{"error": "…"}`, and nothing
    /// of it is queued.
    ///
    /// - `POST /_control/script` `{"key": "…", "turns": [TurnSpec…]}`: `script`. Answers
    ///   `{"queued": n}`, the turns that key has left.
    /// - `POST /_control/push` `{"turns": [TurnSpec…]}`: `push`. Answers `{"queued": n}`, the
    ///   pushed turns left.
    /// - `GET /_control/requests?key=…`: the requests of the conversation whose first user
    ///   message contains `key` (every request without `key`), oldest first, as
    ///   `[{"provider", "path", "model", "body", "firstUserText"}]`.
    pub async fn start_with_control(addr: SocketAddr) -> std::io::Result<ModelServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(Self::serve_on(listener, None, true))
    }

    async fn serve(api_key: Option<String>) -> ModelServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, api_key, false)
    }

    fn serve_on(
        listener: tokio::net::TcpListener,
        api_key: Option<String>,
        control: bool,
    ) -> ModelServer {
        let shared = Arc::new(Shared {
            api_key,
            state: Mutex::new(Scripts::default()),
            log: control,
        });
        let mut app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/chat/completions", post(openai))
            .route("/v1/models", get(list_models_v1))
            .route("/v1beta/models", get(list_models_gemini))
            .route("/v1beta/models/{*rest}", post(gemini));
        if control {
            app = app
                .route("/_control/script", post(control_script))
                .route("/_control/push", post(control_push))
                .route("/_control/requests", get(control_requests));
        }
        let app = app.with_state(shared.clone());
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ModelServer { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`: the base URL for Anthropic and Gemini.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL for OpenAI-compatible clients, with its `/v1`.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// A configuration with all three providers pointing here, keyed with `TEST_KEY`, and
    /// short timeouts.
    pub fn llm_config(&self) -> LlmConfig {
        LlmConfig {
            anthropic_api_key: Some(TEST_KEY.into()),
            anthropic_base_url: Some(self.url()),
            openai_api_key: Some(TEST_KEY.into()),
            openai_base_url: Some(self.openai_base_url()),
            gemini_api_key: Some(TEST_KEY.into()),
            gemini_base_url: Some(self.url()),
            connect_timeout_secs: 5,
            read_timeout_secs: 10,
            ..LlmConfig::default()
        }
    }

    /// Turns for the conversation whose first user message contains `key` (the longest
    /// matching key wins). Adds to that conversation's turns if it has some already.
    pub fn script(&self, key: &str, turns: Vec<Turn>) {
        self.shared.script(key, turns);
    }

    /// Turns for conversations without a script of their own, first come first served.
    pub fn push(&self, turns: Vec<Turn>) {
        self.shared.push(turns);
    }

    /// Every request received, in order, including refused ones.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// The requests of the conversation whose first user message contains `key`.
    pub fn requests_for(&self, key: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.first_user_text.contains(key))
            .collect()
    }

    /// Turns not yet used, scripted and pushed together.
    pub fn turns_left(&self) -> usize {
        let state = self.shared.state.lock().unwrap();
        state.fifo.len() + state.keyed.iter().map(|(_, q)| q.len()).sum::<usize>()
    }
}

impl Shared {
    /// `ModelServer::script`; answers how many turns that key has left.
    fn script(&self, key: &str, turns: Vec<Turn>) -> usize {
        let mut state = self.state.lock().unwrap();
        match state.keyed.iter_mut().find(|(k, _)| k == key) {
            Some((_, queue)) => {
                queue.extend(turns);
                queue.len()
            }
            None => {
                let queued = turns.len();
                state.keyed.push((key.to_owned(), turns.into()));
                queued
            }
        }
    }

    /// `ModelServer::push`; answers how many pushed turns are left.
    fn push(&self, turns: Vec<Turn>) -> usize {
        let mut state = self.state.lock().unwrap();
        state.fifo.extend(turns);
        state.fifo.len()
    }

    /// The next turn of the conversation whose first user message is `first`.
    fn next_turn(&self, first: &str) -> Turn {
        let mut state = self.state.lock().unwrap();
        let keyed = state
            .keyed
            .iter_mut()
            .filter(|(k, _)| first.contains(k.as_str()))
            .max_by_key(|(k, _)| k.len());
        let turn = match keyed {
            Some((_, queue)) => queue.pop_front(),
            None => state.fifo.pop_front(),
        };
        turn.unwrap_or_else(|| Turn::text(EXHAUSTED))
    }

    fn next_id(&self) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        state.next_id
    }
}

// ---------------------------------------------------------------------------------------------
// The control API (`start_with_control` only)
// ---------------------------------------------------------------------------------------------

/// One `Turn` as JSON, camelCase, every field optional. A turn is one of:
///
/// - a reply: `text` (one chunk) or `chunks` (one SSE event each), then `calls`
///   (`[{"name": "write_file", "args": {…}}]`), any of them, with optional `thought`,
///   `usage` (`[input, output]`), `chunkDelayMs` and `dropAfter`;
/// - an error: `{"error": {"status": 429, "message": "…"}, "retryAfter": 1}`;
/// - `{"hang": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TurnSpec {
    text: Option<String>,
    chunks: Option<Vec<String>>,
    calls: Option<Vec<CallSpec>>,
    thought: Option<String>,
    usage: Option<(u64, u64)>,
    chunk_delay_ms: Option<u64>,
    drop_after: Option<usize>,
    error: Option<ErrorSpec>,
    retry_after: Option<u64>,
    #[serde(default)]
    hang: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallSpec {
    name: String,
    #[serde(default = "empty_object")]
    args: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorSpec {
    status: u16,
    #[serde(default = "default_error_message")]
    message: String,
}

fn empty_object() -> Value {
    json!({})
}

fn default_error_message() -> String {
    "scripted error".to_owned()
}

impl TryFrom<TurnSpec> for Turn {
    type Error = String;

    fn try_from(spec: TurnSpec) -> Result<Turn, String> {
        let reply = spec.text.is_some() || spec.chunks.is_some() || spec.calls.is_some();
        let reply_only = [
            ("thought", spec.thought.is_some()),
            ("usage", spec.usage.is_some()),
            ("chunkDelayMs", spec.chunk_delay_ms.is_some()),
            ("dropAfter", spec.drop_after.is_some()),
        ];
        let kinds = usize::from(reply) + usize::from(spec.error.is_some()) + usize::from(spec.hang);
        if kinds != 1 {
            return Err(
                "a turn is exactly one of: a reply (text, chunks, calls), an error, or hang: true"
                    .to_owned(),
            );
        }
        if spec.retry_after.is_some() && spec.error.is_none() {
            return Err("retryAfter belongs to an error turn".to_owned());
        }
        if !reply && let Some((field, _)) = reply_only.iter().find(|(_, set)| *set) {
            return Err(format!(
                "{field} belongs to a reply turn (text, chunks, calls)"
            ));
        }
        if let Some(error) = spec.error {
            if !(400..=599).contains(&error.status) {
                return Err(format!(
                    "error.status must be 400 to 599, not {}",
                    error.status
                ));
            }
            let turn = Turn::error(error.status, error.message);
            return Ok(match spec.retry_after {
                Some(secs) => turn.with_retry_after(secs),
                None => turn,
            });
        }
        if spec.hang {
            return Ok(Turn::hang());
        }
        let text = match (spec.text, spec.chunks) {
            (Some(_), Some(_)) => return Err("give text or chunks, not both".to_owned()),
            (Some(text), None) => vec![text],
            (None, Some(chunks)) => chunks,
            (None, None) => Vec::new(),
        };
        let calls = spec.calls.unwrap_or_default();
        if let Some(call) = calls.iter().find(|c| !c.args.is_object()) {
            return Err(format!("the args of call {} must be an object", call.name));
        }
        let mut turn = Turn::tool_calls(calls.into_iter().map(|c| (c.name, c.args)));
        for piece in text {
            turn = turn.with_text(piece);
        }
        if let Some(thought) = spec.thought {
            turn = turn.with_thought(thought);
        }
        if let Some((input, output)) = spec.usage {
            turn = turn.with_usage(input, output);
        }
        if let Some(ms) = spec.chunk_delay_ms {
            turn = turn.chunk_delay(Duration::from_millis(ms));
        }
        if let Some(n) = spec.drop_after {
            turn = turn.drop_after(n);
        }
        Ok(turn)
    }
}

impl Turn {
    /// What the turn answers, in a few words, for a log.
    fn summary(&self) -> String {
        match &self.kind {
            TurnKind::Reply { text, calls } => {
                let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
                let text: String = text.concat().chars().take(60).collect();
                format!("text {text:?}, calls {names:?}")
            }
            TurnKind::Error { status, .. } => format!("error {status}"),
            TurnKind::Hang => "hang".to_owned(),
        }
    }

    /// A turn from its JSON form (`TurnSpec`), or why it is not one.
    pub fn from_json(value: Value) -> Result<Turn, String> {
        let spec: TurnSpec = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Turn::try_from(spec)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptBody {
    key: String,
    turns: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    turns: Vec<Value>,
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

/// The body as `T`, or what is wrong with it.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("body: {e}"))
}

/// Each turn converted, or what is wrong with the first bad one (all or nothing).
fn parse_turns(turns: Vec<Value>) -> Result<Vec<Turn>, String> {
    turns
        .into_iter()
        .enumerate()
        .map(|(i, value)| Turn::from_json(value).map_err(|e| format!("turns[{i}]: {e}")))
        .collect()
}

async fn control_script(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let parsed = parse_body::<ScriptBody>(&body).and_then(|b| {
        if b.key.is_empty() {
            return Err("key: empty (it would match every conversation; use push)".to_owned());
        }
        Ok((b.key, parse_turns(b.turns)?))
    });
    match parsed {
        Ok((key, turns)) => axum::Json(json!({"queued": s.script(&key, turns)})).into_response(),
        Err(message) => bad_request(message),
    }
}

async fn control_push(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_body::<PushBody>(&body).and_then(|b| parse_turns(b.turns)) {
        Ok(turns) => axum::Json(json!({"queued": s.push(turns)})).into_response(),
        Err(message) => bad_request(message),
    }
}

#[derive(Deserialize)]
struct RequestsQuery {
    key: Option<String>,
}

async fn control_requests(
    State(s): State<Arc<Shared>>,
    Query(query): Query<RequestsQuery>,
) -> Response {
    let requests = s.state.lock().unwrap().requests.clone();
    let list: Vec<Value> = requests
        .into_iter()
        .filter(|r| {
            query
                .key
                .as_deref()
                .is_none_or(|key| r.first_user_text.contains(key))
        })
        .map(|r| {
            json!({
                "provider": r.provider.as_str(),
                "path": r.path,
                "model": r.model,
                "body": r.body,
                "firstUserText": r.first_user_text,
            })
        })
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

async fn anthropic(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = header_str(&headers, "x-api-key");
    handle(
        &s,
        ProviderKind::Anthropic,
        "/v1/messages".into(),
        None,
        headers_of(&headers, key),
        body,
    )
}

async fn openai(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = header_str(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
    handle(
        &s,
        ProviderKind::OpenAi,
        "/v1/chat/completions".into(),
        None,
        headers_of(&headers, key),
        body,
    )
}

/// The models every dialect's models endpoint lists.
pub const LISTED_MODELS: [&str; 4] = [
    "claude-sonnet-4-5",
    "gemini-2.5-pro",
    "gpt-4.1",
    "gpt-4o-mini",
];

/// Whether a listing request carries the key this server wants (any non-empty one without).
fn key_ok(shared: &Shared, given: Option<String>) -> bool {
    match (given, &shared.api_key) {
        (Some(given), Some(wanted)) => &given == wanted,
        (Some(given), None) => !given.is_empty(),
        (None, _) => false,
    }
}

/// `GET /v1/models`: OpenAI's and Anthropic's listing (the same shape: `data[].id`). Refused
/// with the dialect's 401 when the key is wrong.
async fn list_models_v1(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let bearer = header_str(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
    let anthropic = header_str(&headers, "x-api-key");
    let (provider, key) = match anthropic {
        Some(k) => (ProviderKind::Anthropic, Some(k)),
        None => (ProviderKind::OpenAi, bearer),
    };
    if !key_ok(&s, key) {
        return error_response(provider, 401, "invalid API key", None);
    }
    let data: Vec<Value> = LISTED_MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "type": "model"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /v1beta/models`: Gemini's listing, with an embedding model chat cannot use.
async fn list_models_gemini(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !key_ok(&s, header_str(&headers, "x-goog-api-key")) {
        return error_response(ProviderKind::Gemini, 401, "API key not valid.", None);
    }
    let mut models: Vec<Value> = LISTED_MODELS
        .iter()
        .map(|id| json!({"name": format!("models/{id}"), "supportedGenerationMethods": ["generateContent"]}))
        .collect();
    models.push(json!({"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}));
    axum::Json(json!({"models": models})).into_response()
}

async fn gemini(
    State(s): State<Arc<Shared>>,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = match &query {
        Some(q) => format!("/v1beta/models/{rest}?{q}"),
        None => format!("/v1beta/models/{rest}"),
    };
    let Some(model) = rest.strip_suffix(":streamGenerateContent") else {
        return error_response(
            ProviderKind::Gemini,
            404,
            &format!("no method for {rest}"),
            None,
        );
    };
    // Gemini also takes the key as `?key=`; the clients under test must not use it, but the
    // recording shows it if they do.
    let key = header_str(&headers, "x-goog-api-key").or_else(|| {
        query.as_deref().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("key=").map(str::to_owned))
        })
    });
    handle(
        &s,
        ProviderKind::Gemini,
        path,
        Some(model.to_owned()),
        headers_of(&headers, key),
        body,
    )
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn headers_of(headers: &HeaderMap, key: Option<String>) -> (Vec<(String, String)>, Option<String>) {
    let list = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    (list, key)
}

fn handle(
    shared: &Shared,
    provider: ProviderKind,
    path: String,
    path_model: Option<String>,
    (headers, api_key): (Vec<(String, String)>, Option<String>),
    body: Bytes,
) -> Response {
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return error_response(provider, 400, "the body is not JSON", None);
    };
    let model = path_model
        .or_else(|| json["model"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let first_user_text = first_user_text(provider, &json);
    shared.state.lock().unwrap().requests.push(Recorded {
        provider,
        path,
        model: model.clone(),
        headers,
        api_key: api_key.clone(),
        body: json.clone(),
        first_user_text: first_user_text.clone(),
    });
    let authorized = match (&api_key, &shared.api_key) {
        (Some(given), Some(wanted)) => given == wanted,
        (Some(given), None) => !given.is_empty(),
        (None, _) => false,
    };
    if !authorized {
        let message = match provider {
            ProviderKind::Anthropic => "invalid x-api-key",
            ProviderKind::OpenAi => "Incorrect API key provided.",
            ProviderKind::Gemini => "API key not valid. Please pass a valid API key.",
        };
        return error_response(provider, 401, message, None);
    }
    let turn = shared.next_turn(&first_user_text);
    if shared.log {
        let first: String = first_user_text.chars().take(80).collect();
        eprintln!(
            "{} {model} {first:?}: {}",
            provider.as_str(),
            turn.summary()
        );
    }
    match &turn.kind {
        TurnKind::Error {
            status,
            message,
            retry_after,
        } => error_response(provider, *status, message, *retry_after),
        TurnKind::Hang => sse_response(stream::pending::<Result<Bytes, std::io::Error>>().boxed()),
        TurnKind::Reply { text, calls } => {
            let (input, output) = turn.usage.unwrap_or_else(|| {
                let out_chars: usize = text.iter().map(String::len).sum::<usize>()
                    + calls
                        .iter()
                        .map(|(_, a)| a.to_string().len())
                        .sum::<usize>()
                    + turn.thought.as_ref().map_or(0, String::len);
                ((body.len() / 4).max(1) as u64, (out_chars / 4 + 1) as u64)
            });
            let reply = Reply {
                model: &model,
                thought: turn.thought.as_deref(),
                text,
                calls,
                input,
                output,
            };
            let events = match provider {
                ProviderKind::Anthropic => reply.anthropic(shared),
                ProviderKind::OpenAi => reply.openai(shared),
                ProviderKind::Gemini => reply.gemini(),
            };
            play(events, turn.chunk_delay, turn.drop_after)
        }
    }
}

/// The text of the first user message, whatever the dialect.
fn first_user_text(provider: ProviderKind, body: &Value) -> String {
    let (list, role, content) = match provider {
        ProviderKind::Anthropic => ("messages", "user", "content"),
        ProviderKind::OpenAi => ("messages", "user", "content"),
        ProviderKind::Gemini => ("contents", "user", "parts"),
    };
    let Some(first) = body[list]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == role))
    else {
        return String::new();
    };
    match &first[content] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// An HTTP error in the dialect's own shape.
fn error_response(
    provider: ProviderKind,
    status: u16,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let body = match provider {
        ProviderKind::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        ProviderKind::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                429 => ("requests", json!("rate_limit_exceeded")),
                s if s >= 500 => ("server_error", Value::Null),
                _ => ("invalid_request_error", Value::Null),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        ProviderKind::Gemini => {
            let kind = match status {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                _ => "INTERNAL",
            };
            json!({"error": {"code": status, "message": message, "status": kind}})
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
    }
    response
}

fn sse_response(
    body: futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

/// Streams the events with `delay` between them; `drop_after` breaks the connection after
/// that many (an error in the body makes hyper abort it without the chunked terminator).
fn play(events: Vec<String>, delay: Duration, drop_after: Option<usize>) -> Response {
    let total = events.len();
    let sent = drop_after.map_or(total, |n| n.min(total));
    let cut = drop_after.is_some();
    let body = stream::iter(events.into_iter().take(sent).enumerate())
        .then(move |(i, event)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, std::io::Error>(Bytes::from(event))
        })
        .chain(stream::iter(cut.then_some(())).then(|()| async {
            // Hyper writes what it has only once the body waits: without the pause
            // the error would abort the response before its head left, which is a
            // different failure (no stream at all).
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "dropped by the script",
            ))
        }))
        .boxed();
    sse_response(body)
}

// ---------------------------------------------------------------------------------------------
// The three dialects' streams
// ---------------------------------------------------------------------------------------------

struct Reply<'a> {
    model: &'a str,
    thought: Option<&'a str>,
    text: &'a [String],
    calls: &'a [(String, Value)],
    input: u64,
    output: u64,
}

fn named(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn data(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// `text` in up to three pieces, split at character boundaries: how arguments are streamed.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

impl Reply<'_> {
    fn anthropic(&self, shared: &Shared) -> Vec<String> {
        let mut out = vec![
            named(
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": format!("msg_{}", shared.next_id()), "type": "message", "role": "assistant",
                    "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": self.input, "output_tokens": 1},
                }}),
            ),
            named("ping", json!({"type": "ping"})),
        ];
        let mut index = 0;
        let start = |index: u32, block: Value| {
            named(
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": block}),
            )
        };
        let delta = |index: u32, delta: Value| {
            named(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            )
        };
        let stop = |index: u32| {
            named(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            )
        };
        if let Some(thought) = self.thought {
            out.push(start(
                index,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ));
            for piece in pieces(thought) {
                out.push(delta(
                    index,
                    json!({"type": "thinking_delta", "thinking": piece}),
                ));
            }
            let signature = format!("sig-{}", shared.next_id());
            out.push(delta(
                index,
                json!({"type": "signature_delta", "signature": signature}),
            ));
            out.push(stop(index));
            index += 1;
        }
        if !self.text.is_empty() {
            out.push(start(index, json!({"type": "text", "text": ""})));
            for piece in self.text {
                out.push(delta(index, json!({"type": "text_delta", "text": piece})));
            }
            out.push(stop(index));
            index += 1;
        }
        for (name, args) in self.calls {
            let id = format!("toolu_{:04}", shared.next_id());
            out.push(start(
                index,
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
            ));
            out.push(delta(
                index,
                json!({"type": "input_json_delta", "partial_json": ""}),
            ));
            for piece in pieces(&args.to_string()) {
                out.push(delta(
                    index,
                    json!({"type": "input_json_delta", "partial_json": piece}),
                ));
            }
            out.push(stop(index));
            index += 1;
        }
        let reason = if self.calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        out.push(named(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null},
                   "usage": {"output_tokens": self.output}}),
        ));
        out.push(named("message_stop", json!({"type": "message_stop"})));
        out
    }

    fn openai(&self, shared: &Shared) -> Vec<String> {
        let id = format!("chatcmpl-{}", shared.next_id());
        let chunk = |delta: Value, finish: Value| {
            data(&json!({
                "id": id, "object": "chat.completion.chunk", "created": 0, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            }))
        };
        let mut out = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        if let Some(thought) = self.thought {
            for piece in pieces(thought) {
                out.push(chunk(json!({"reasoning_content": piece}), Value::Null));
            }
        }
        for piece in self.text {
            out.push(chunk(json!({"content": piece}), Value::Null));
        }
        for (index, (name, args)) in self.calls.iter().enumerate() {
            let call_id = format!("call_{:04}", shared.next_id());
            out.push(chunk(
                json!({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                       "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in pieces(&args.to_string()) {
                out.push(chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                    Value::Null,
                ));
            }
        }
        let reason = if self.calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        out.push(chunk(json!({}), json!(reason)));
        out.push(data(&json!({
            "id": id, "object": "chat.completion.chunk", "created": 0, "model": self.model,
            "choices": [],
            "usage": {"prompt_tokens": self.input, "completion_tokens": self.output,
                      "total_tokens": self.input + self.output},
        })));
        out.push("data: [DONE]\n\n".to_owned());
        out
    }

    fn gemini(&self) -> Vec<String> {
        let chunk = |parts: Value, finish: Option<&str>, output: u64| {
            let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
            if let Some(finish) = finish {
                candidate["finishReason"] = json!(finish);
            }
            // Gemini's own framing is CRLF.
            format!(
                "data: {}\r\n\r\n",
                json!({
                    "candidates": [candidate],
                    "usageMetadata": {"promptTokenCount": self.input, "candidatesTokenCount": output,
                                      "totalTokenCount": self.input + output},
                    "modelVersion": self.model,
                })
            )
        };
        let mut out = Vec::new();
        if let Some(thought) = self.thought {
            for piece in pieces(thought) {
                out.push(chunk(json!([{"text": piece, "thought": true}]), None, 0));
            }
        }
        for piece in self.text {
            out.push(chunk(json!([{"text": piece}]), None, 0));
        }
        for (name, args) in self.calls {
            out.push(chunk(
                json!([{"functionCall": {"name": name, "args": args}}]),
                None,
                0,
            ));
        }
        out.push(chunk(json!([{"text": ""}]), Some("STOP"), self.output));
        out
    }
}
