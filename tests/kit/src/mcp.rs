//! Real MCP servers for the tests, from the package registries: the reference "everything"
//! server (npm `@modelcontextprotocol/server-everything`, installed by `npm ci` from the
//! repository's `package.json`), started on a free loopback port over Streamable HTTP or
//! legacy SSE.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `mcp-server-time` from PyPI, installed by `.ci/setup` where sandboxes see it (a
/// virtualenv of the system's Python under `/usr/local`).
pub const MCP_SERVER_TIME: &str = "/usr/local/lib/sigmic-test/mcp-server-time/bin/mcp-server-time";

/// The Python of that installation, which has the official Python MCP SDK.
pub const MCP_PYTHON: &str = "/usr/local/lib/sigmic-test/mcp-server-time/bin/python";

/// A stdio server for `python -c` whose process dies mid-call on demand (see the file).
pub const CRASHY_SERVER: &str = include_str!("../fixtures/crashy_mcp.py");

/// How a started server speaks.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    StreamableHttp,
    Sse,
}

/// A running "everything" server; stopped when dropped.
pub struct Everything {
    child: Child,
    pub port: u16,
    transport: Transport,
}

fn entry_point() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Everything {
    pub fn start(transport: Transport) -> Self {
        let script = entry_point();
        assert!(
            script.exists(),
            "{} is missing: run `npm ci` in the repository (the set-up does)",
            script.display()
        );
        let port = free_port();
        let mode = match transport {
            Transport::StreamableHttp => "streamableHttp",
            Transport::Sse => "sse",
        };
        let child = Command::new("node")
            .arg(&script)
            .arg(mode)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let server = Self {
            child,
            port,
            transport,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the everything server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The address an MCP client is configured with.
    pub fn url(&self) -> String {
        match self.transport {
            Transport::StreamableHttp => format!("http://127.0.0.1:{}/mcp", self.port),
            Transport::Sse => format!("http://127.0.0.1:{}/sse", self.port),
        }
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- a test server of our own

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::response::IntoResponse;
use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;

/// What the test server saw, for assertions.
#[derive(Default)]
pub struct Seen {
    /// Calls that were cancelled by the client (`notifications/cancelled`).
    pub cancelled: AtomicUsize,
    /// Calls of each kind that started.
    pub calls: AtomicUsize,
    /// `tools/list` requests.
    pub listings: AtomicUsize,
    /// `add_tool` was called: `extra` is listed.
    pub extra: AtomicBool,
}

/// Tools, five per page of `tools/list`:
/// `echo {text}`, `slow {ms, steps}` (progress every step), `hang`, `fail` (`isError`),
/// `image` (a PNG), `big {kb}`, `add_tool`
/// (`extra` appears, announced with `tools/list_changed`), `page_0`…`page_7` (padding, to
/// page the list), and `extra` once added.
#[derive(Clone)]
struct Tools {
    seen: Arc<Seen>,
}

const PAGE: usize = 5;
/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn tool(name: &str, description: &str, schema: serde_json::Value) -> Tool {
    let schema = match schema {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    Tool::new(name.to_owned(), description.to_owned(), Arc::new(schema))
}

fn object(properties: serde_json::Value, required: &[&str]) -> serde_json::Value {
    json!({"type": "object", "properties": properties, "required": required})
}

impl Tools {
    fn all(&self) -> Vec<Tool> {
        let mut tools = vec![
            tool(
                "echo",
                "Says the text back.",
                object(json!({"text": {"type": "string"}}), &["text"]),
            ),
            tool(
                "slow",
                "Takes `ms` milliseconds, reporting progress `steps` times.",
                object(
                    json!({"ms": {"type": "integer"}, "steps": {"type": "integer"}}),
                    &["ms"],
                ),
            ),
            tool("hang", "Never answers.", object(json!({}), &[])),
            tool("fail", "Always fails.", object(json!({}), &[])),
            tool("image", "Returns a tiny PNG.", object(json!({}), &[])),
            tool(
                "big",
                "Returns `kb` kilobytes of text.",
                object(json!({"kb": {"type": "integer"}}), &["kb"]),
            ),
            tool("add_tool", "Adds the tool `extra`.", object(json!({}), &[])),
        ];
        for i in 0..8 {
            tools.push(tool(
                &format!("page_{i}"),
                "Padding.",
                object(json!({}), &[]),
            ));
        }
        if self.seen.extra.load(Ordering::SeqCst) {
            tools.push(tool("extra", "Appeared later.", object(json!({}), &[])));
        }
        tools
    }
}

fn text(t: impl Into<String>) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(t.into())]))
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.seen.listings.fetch_add(1, Ordering::SeqCst);
        let start: usize = request
            .and_then(|r| r.cursor)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let all = self.all();
        let page: Vec<Tool> = all.iter().skip(start).take(PAGE).cloned().collect();
        let mut result = ListToolsResult::with_all_items(page);
        if start + PAGE < all.len() {
            result.next_cursor = Some((start + PAGE).to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.seen.calls.fetch_add(1, Ordering::SeqCst);
        let args = request.arguments.unwrap_or_default();
        let int = |k: &str| args.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        match request.name.as_ref() {
            "echo" => Ok(text(
                args.get("text")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default(),
            )),
            "slow" => {
                let steps = int("steps").max(1);
                let each = std::time::Duration::from_millis(int("ms") / steps);
                let token = context.meta.get_progress_token();
                for step in 0..steps {
                    tokio::time::sleep(each).await;
                    if let Some(token) = token.clone() {
                        let _ = context
                            .peer
                            .notify_progress(ProgressNotificationParam::new(
                                token,
                                (step + 1) as f64,
                            ))
                            .await;
                    }
                }
                Ok(text(format!("slept {} ms", int("ms"))))
            }
            "hang" => {
                context.ct.cancelled().await;
                self.seen.cancelled.fetch_add(1, Ordering::SeqCst);
                Ok(text("cancelled"))
            }
            "fail" => Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                ContentBlock::text("the order system is down"),
            ]))),
            "image" => Ok(CallToolResponse::Complete(CallToolResult::success(vec![
                ContentBlock::text("here is the chart"),
                ContentBlock::image(PNG, "image/png"),
            ]))),
            "big" => Ok(text(
                "x".repeat(usize::try_from(int("kb")).unwrap_or(0) * 1024),
            )),
            "add_tool" => {
                self.seen.extra.store(true, Ordering::SeqCst);
                let _ = context.peer.notify_tool_list_changed().await;
                Ok(text("added"))
            }
            "extra" => Ok(text("extra works")),
            name if name.starts_with("page_") => Ok(text(name.to_owned())),
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }
    }
}

/// Our own MCP server on a loopback port (Streamable HTTP), in this process.
pub struct TestServer {
    pub seen: Arc<Seen>,
    pub port: u16,
    stop: tokio_util::sync::CancellationToken,
}

impl TestServer {
    pub async fn start() -> Self {
        let seen = Arc::new(Seen::default());
        let tools = Tools {
            seen: Arc::clone(&seen),
        };
        let (port, stop) = serve(tools, None).await;
        Self { seen, port, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `handler` over Streamable HTTP at `/mcp` on a free loopback port; with `token`,
/// only requests carrying `Authorization: Bearer <token>` get through.
async fn serve<H: ServerHandler + Clone + Send + Sync + 'static>(
    handler: H,
    token: Option<String>,
) -> (u16, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = tokio_util::sync::CancellationToken::new();
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token()),
    );
    let router =
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let expected = token.as_ref().map(|t| format!("Bearer {t}"));
                    async move {
                        let given = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok());
                        match expected {
                            Some(e) if given != Some(e.as_str()) => {
                                axum::http::StatusCode::UNAUTHORIZED.into_response()
                            }
                            _ => next.run(req).await,
                        }
                    }
                },
            ));
    let ended = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move { ended.cancelled().await })
            .await;
    });
    (port, stop)
}

// ------------------------------------------------ systems of record with paged listings

/// A system of record behind MCP ("orders", "payments"): one read-only tool,
/// `list_<name> {cursor?}`, answering a page of records as JSON
/// (`{"items": […], "nextCursor": "…"}`), and only to callers with its bearer token.
pub struct Ledger {
    pub port: u16,
    /// `list_<name>` calls that got through.
    pub calls: Arc<AtomicUsize>,
    stop: tokio_util::sync::CancellationToken,
}

#[derive(Clone)]
struct LedgerTools {
    name: String,
    records: Arc<Vec<serde_json::Value>>,
    page: usize,
    calls: Arc<AtomicUsize>,
}

impl ServerHandler for LedgerTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut list = tool(
            &format!("list_{}", self.name),
            &format!(
                "Lists {} in pages of {}; pass the answer's nextCursor as cursor for the next.",
                self.name, self.page
            ),
            json!({"type": "object", "properties": {"cursor": {"type": "string"}}}),
        );
        list.annotations = Some(rmcp::model::ToolAnnotations::new().read_only(true));
        Ok(ListToolsResult::with_all_items(vec![list]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name.as_ref() != format!("list_{}", self.name) {
            return Err(ErrorData::invalid_params("no such tool", None));
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let start: usize = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("cursor"))
            .and_then(|c| c.as_str())
            .map(|c| {
                c.parse()
                    .map_err(|_| ErrorData::invalid_params("bad cursor", None))
            })
            .transpose()?
            .unwrap_or(0);
        let items: Vec<&serde_json::Value> =
            self.records.iter().skip(start).take(self.page).collect();
        let next =
            (start + self.page < self.records.len()).then(|| (start + self.page).to_string());
        Ok(text(
            json!({"items": items, "nextCursor": next}).to_string(),
        ))
    }
}

impl Ledger {
    pub async fn start(
        name: &str,
        token: &str,
        records: Vec<serde_json::Value>,
        page: usize,
    ) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let tools = LedgerTools {
            name: name.to_owned(),
            records: Arc::new(records),
            page,
            calls: Arc::clone(&calls),
        };
        let (port, stop) = serve(tools, Some(token.to_owned())).await;
        Self { port, calls, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
