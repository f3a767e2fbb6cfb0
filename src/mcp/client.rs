//! One live connection to an MCP server, through `rmcp`: connect within the server's timeout,
//! list every page of its tools, call them, notice when the server says its list changed,
//! and close. Remote servers are reached through a resolver that checks every address
//! against the deployment's address guard, so a configured URL cannot be pointed at cloud
//! metadata or (unless the operator allows it) at private and loopback addresses.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, Tool,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ServiceExt};

use super::spec::{Endpoint, McpServerSpec};
use super::sse::LegacySse;
use super::{ServerName, error_chain, offered_name, template};
use crate::egress::{AddressGuard, GuardedResolver};
use crate::sandbox::{Program, Redactor, Sandbox};
use protocol::McpTransport;

/// Why a server could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum McpError {
    #[error("{0}")]
    Placeholder(#[from] template::MissingKey),
    #[error("`{host}` is refused: {reason}")]
    Blocked { host: String, reason: String },
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the server failed the request: {0}")]
    Request(String),
    /// Found closed before the request was sent: nothing reached the server.
    #[error("the connection was lost: {0}")]
    Lost(String),
    /// Broke while a request was out: the server may or may not have acted on it.
    #[error("the connection dropped during the request: {0}")]
    Dropped(String),
    #[error("stdio servers run inside the task's sandbox, which this connection has none of")]
    NoSandbox,
}

impl McpError {
    /// The connection itself failed (not the request): worth connecting again.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Self::Lost(_) | Self::Dropped(_))
    }

    fn from_service(e: rmcp::ServiceError) -> Self {
        match e {
            rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_) => {
                Self::Dropped(error_chain(&e))
            }
            other => Self::Request(error_chain(&other)),
        }
    }
}

/// A server's tool, as the model is offered it.
#[derive(Debug, Clone)]
pub struct RemoteTool {
    /// `mcp__<server>__<tool>`.
    pub offered: String,
    pub tool: Tool,
    /// `includeTools`/`excludeTools` let it through.
    pub included: bool,
}

impl RemoteTool {
    pub fn read_only(&self) -> bool {
        self.tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false)
    }

    /// Running it twice does no more than running it once (read-only or idempotent, by the
    /// server's annotations): a call cut off by a dropped connection may be sent again.
    pub fn repeatable(&self) -> bool {
        self.read_only()
            || self
                .tool
                .annotations
                .as_ref()
                .and_then(|a| a.idempotent_hint)
                .unwrap_or(false)
    }
}

/// Hears what the server tells the client unasked.
#[derive(Clone, Default)]
struct Listener {
    tools_changed: Arc<AtomicBool>,
    /// Any progress notification: a long call is still alive.
    progress: Arc<tokio::sync::Notify>,
    next_token: Arc<std::sync::atomic::AtomicI64>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("sigmic", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.store(true, Ordering::SeqCst);
    }

    async fn on_progress(
        &self,
        _params: rmcp::model::ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.notify_waiters();
    }
}

/// A connected server.
pub struct Connection {
    pub name: ServerName,
    service: RunningService<RoleClient, Listener>,
    listener: Listener,
    spec: McpServerSpec,
    tools: Vec<RemoteTool>,
    pub server_info: Option<String>,
    /// A local server's stderr, going to the server's log.
    stderr_log: Option<tokio::task::JoinHandle<()>>,
}

/// Where a connection is made from: a task's sandbox (local servers run there) and what is
/// kept out of logs.
#[derive(Clone, Default)]
pub struct Place {
    pub sandbox: Option<Arc<dyn Sandbox>>,
    pub redactor: Redactor,
}

/// Makes connections: the HTTP client every remote server is reached through.
#[derive(Clone)]
pub struct Connector {
    guard: AddressGuard,
    http: reqwest::Client,
}

impl Connector {
    pub fn new(guard: AddressGuard) -> Result<Self, McpError> {
        let http = reqwest::Client::builder()
            // Every name is resolved, and every address checked, by the guard.
            .dns_resolver(Arc::new(GuardedResolver::new(guard.clone())))
            // A proxy from the environment would connect to addresses never checked.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!(
                "Sigmic/",
                env!("CARGO_PKG_VERSION"),
                " (MCP client)"
            ))
            .build()
            .map_err(|e| McpError::Connect(e.to_string()))?;
        Ok(Self { guard, http })
    }

    /// Connects `spec` with `values` (the task's env and secrets) filled into its
    /// placeholders, and lists its tools; all within the server's timeout.
    pub async fn connect(
        &self,
        spec: &McpServerSpec,
        values: &BTreeMap<String, String>,
        place: &Place,
    ) -> Result<Connection, McpError> {
        let timeout = spec.timeout;
        tokio::time::timeout(timeout, self.connect_inner(spec, values, place))
            .await
            .map_err(|_| McpError::Timeout(timeout.as_millis()))?
    }

    async fn connect_inner(
        &self,
        spec: &McpServerSpec,
        values: &BTreeMap<String, String>,
        place: &Place,
    ) -> Result<Connection, McpError> {
        let listener = Listener::default();
        let mut stderr_log = None;
        let service = match &spec.endpoint {
            Endpoint::Remote {
                transport,
                url,
                headers,
            } => {
                let url = template::fill(url, values)?;
                self.check_host(&url).await?;
                let mut filled = reqwest::header::HeaderMap::new();
                for (name, value) in headers {
                    let value = template::fill(value, values)?;
                    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|e| McpError::Connect(format!("header {name}: {e}")))?;
                    let value = reqwest::header::HeaderValue::from_str(&value)
                        .map_err(|e| McpError::Connect(format!("header {name}: {e}")))?;
                    filled.insert(name, value);
                }
                if *transport == McpTransport::Sse {
                    let transport = LegacySse::connect(self.http.clone(), &url, filled)
                        .await
                        .map_err(|e| McpError::Connect(e.to_string()))?;
                    listener
                        .clone()
                        .serve(transport)
                        .await
                        .map_err(|e| McpError::Connect(error_chain(&e)))?
                } else {
                    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(
                        filled
                            .into_iter()
                            .filter_map(|(k, v)| Some((k?, v)))
                            .collect(),
                    );
                    let transport =
                        StreamableHttpClientTransport::with_client(self.http.clone(), config);
                    listener
                        .clone()
                        .serve(transport)
                        .await
                        .map_err(|e| McpError::Connect(error_chain(&e)))?
                }
            }
            Endpoint::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let Some(sandbox) = &place.sandbox else {
                    return Err(McpError::NoSandbox);
                };
                let mut line = format!("exec {}", shell_quote(&template::fill(command, values)?));
                for arg in args {
                    line.push(' ');
                    line.push_str(&shell_quote(&template::fill(arg, values)?));
                }
                let mut filled = Vec::new();
                for (name, value) in env {
                    filled.push((name.clone(), template::fill(value, values)?));
                }
                let program = Program {
                    command: line,
                    cwd: cwd.clone().unwrap_or_default(),
                    env: filled,
                };
                let attached = sandbox
                    .attach(program)
                    .await
                    .map_err(|e| McpError::Connect(e.to_string()))?;
                let said = Arc::new(std::sync::Mutex::new(Vec::new()));
                stderr_log = Some(log_stderr(
                    spec.name.clone(),
                    attached.stderr,
                    place.redactor.clone(),
                    Arc::clone(&said),
                ));
                let (read, write) = attached.stdio.into_split();
                match listener.clone().serve((read, write)).await {
                    Ok(service) => service,
                    Err(e) => {
                        // The program's own words say more than "connection closed": give
                        // them a moment to arrive.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let said = said.lock().map(|s| s.join(" / ")).unwrap_or_default();
                        let mut reason = error_chain(&e);
                        if !said.is_empty() {
                            reason.push_str(&format!(" (the server's stderr: {said})"));
                        }
                        return Err(McpError::Connect(reason));
                    }
                }
            }
        };
        let server_info = service
            .peer_info()
            .and_then(|info| info.server_info.clone())
            .map(|i| format!("{} {}", i.name, i.version));
        let mut connection = Connection {
            name: spec.name.clone(),
            service,
            listener,
            spec: spec.clone(),
            tools: Vec::new(),
            server_info,
            stderr_log,
        };
        connection.refresh_tools().await?;
        Ok(connection)
    }

    /// Checks the URL's host before connecting, so a refusal is reported as such (the
    /// resolver enforces it again for every connection the transport makes). A host that is
    /// an address never reaches the resolver: it is checked only here.
    async fn check_host(&self, url: &str) -> Result<(), McpError> {
        let parsed = url::Url::parse(url).map_err(|e| McpError::Connect(e.to_string()))?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let ip: Option<IpAddr> = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                if self.guard.is_own_host(name) {
                    return Err(McpError::Blocked {
                        host: name.to_owned(),
                        reason: "it is this Sigmic server".into(),
                    });
                }
                GuardedResolver::new(self.guard.clone())
                    .allowed(name, port)
                    .await
                    .map_err(McpError::Connect)?;
                None
            }
            None => None,
        };
        match ip {
            Some(ip) => self
                .guard
                .check(SocketAddr::new(ip, port))
                .map_err(|refused| McpError::Blocked {
                    host: ip.to_string(),
                    reason: refused.to_string(),
                }),
            None => Ok(()),
        }
    }
}

impl Connection {
    /// The server's tools, all of them, `included` saying which the filters let through.
    pub fn tools(&self) -> &[RemoteTool] {
        &self.tools
    }

    /// Whether the server said its tools changed since they were last listed.
    pub fn tools_changed(&self) -> bool {
        self.listener.tools_changed.load(Ordering::SeqCst)
    }

    /// Lists every page of the server's tools again.
    pub async fn refresh_tools(&mut self) -> Result<(), McpError> {
        self.listener.tools_changed.store(false, Ordering::SeqCst);
        let listed = tokio::time::timeout(self.spec.timeout, self.service.peer().list_all_tools())
            .await
            .map_err(|_| McpError::Timeout(self.spec.timeout.as_millis()))?
            .map_err(McpError::from_service)?;
        self.tools = listed
            .into_iter()
            .map(|tool| RemoteTool {
                offered: offered_name(&self.name, &tool.name),
                included: self.spec.filter.allows(&tool.name),
                tool,
            })
            .collect();
        Ok(())
    }

    /// Calls `tool` (its name on the server). The call is given up on when the server is
    /// silent (no answer, no progress notification) for its timeout; dropping it tells the
    /// server (`notifications/cancelled`).
    pub async fn call(
        &self,
        tool: &str,
        arguments: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<CallToolResult, McpError> {
        use rmcp::model::{NumberOrString, ProgressToken, RequestParamsMeta};
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        if self.is_closed() {
            return Err(McpError::Lost("the server had closed it".into()));
        }
        let token = self.listener.next_token.fetch_add(1, Ordering::SeqCst);
        params.set_progress_token(ProgressToken(NumberOrString::Number(token)));
        let peer = self.service.peer().clone();
        let call = peer.call_tool(params);
        tokio::pin!(call);
        loop {
            let progressed = self.listener.progress.notified();
            tokio::select! {
                result = &mut call => return result.map_err(McpError::from_service),
                () = progressed => {}
                () = tokio::time::sleep(self.spec.timeout) => {
                    return Err(McpError::Timeout(self.spec.timeout.as_millis()));
                }
            }
        }
    }

    /// The session has ended: the program exited, the server went away, or it was closed.
    pub fn is_closed(&self) -> bool {
        self.service.is_closed() || self.service.peer().is_transport_closed()
    }

    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }

    /// Ends the session (a Streamable HTTP server is told with a DELETE; a local server's
    /// stdin closes and it is ended).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.service.cancel()).await;
        if let Some(log) = self.stderr_log {
            log.abort();
        }
    }
}

/// What testing a server found.
pub struct Probe {
    pub server_info: Option<String>,
    pub tools: Vec<RemoteTool>,
    pub elapsed: Duration,
}

impl Connector {
    /// Connects, lists and closes: "Test connection".
    pub async fn probe(
        &self,
        spec: &McpServerSpec,
        values: &BTreeMap<String, String>,
        place: &Place,
    ) -> Result<Probe, (McpError, Duration)> {
        let started = Instant::now();
        match self.connect(spec, values, place).await {
            Ok(connection) => {
                let probe = Probe {
                    server_info: connection.server_info.clone(),
                    tools: connection.tools.clone(),
                    elapsed: started.elapsed(),
                };
                connection.close().await;
                Ok(probe)
            }
            Err(e) => Err((e, started.elapsed())),
        }
    }
}

/// `word` as one shell word.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// A local server's stderr, line by line into the server's log, secrets taken out. Never to
/// the model.
/// Keeps the last lines it said, for the reason a start failed.
fn log_stderr(
    server: ServerName,
    stream: tokio::net::UnixStream,
    redactor: Redactor,
    said: Arc<std::sync::Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncBufReadExt;
    const KEPT: usize = 5;
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line: String = line.chars().take(500).collect();
            let line = redactor.redact(&line);
            tracing::info!(mcp_server = %server, "stderr: {line}");
            if let Ok(mut kept) = said.lock() {
                if kept.len() == KEPT {
                    kept.remove(0);
                }
                kept.push(line);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("npx"), "npx");
        assert_eq!(shell_quote("--local-timezone=UTC"), "--local-timezone=UTC");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }
}
