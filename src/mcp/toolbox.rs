//! The MCP servers of one run: connected together at its start (a server that cannot connect
//! is reported and left out, never waited for past its timeout), their tools offered beside
//! the built-ins, calls routed to their server, results turned into what the model reads, and
//! every connection closed when the run ends.

use std::collections::BTreeMap;
use std::sync::RwLock;

use base64::Engine;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::{Map, Value};

use super::client::{Connection, Connector, McpError, Place, RemoteTool};
use super::schema::clean_for_providers;
use super::{McpServerSpec, ServerName};
use crate::tools::{ToolDefinition, ToolResult};
use crate::workspace::Workspace;

/// Text of one result the model is given at most; the rest is cut with a note.
const MAX_RESULT_CHARS: usize = 64 * 1024;
/// Largest image or blob a result may save into the workspace.
const MAX_SAVED_BYTES: usize = 20 * 1024 * 1024;

/// A server that could not be used for this run, and why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub server: ServerName,
    pub reason: String,
}

/// One offered tool: the name the model uses, where it lives, and what it takes.
#[derive(Debug, Clone)]
struct Offered {
    server: usize,
    tool: String,
    read_only: bool,
    repeatable: bool,
    definition: ToolDefinition,
}

struct Server {
    spec: McpServerSpec,
    connection: tokio::sync::RwLock<Option<Connection>>,
}

/// The connected servers of one run.
pub struct McpToolbox {
    connector: Connector,
    /// The run's env and secrets, for `{{mcp.KEY}}` when a dropped connection is made again.
    values: BTreeMap<String, String>,
    /// The task's sandbox, where local servers run.
    place: Place,
    servers: Vec<Server>,
    offered: RwLock<Vec<Offered>>,
}

impl McpToolbox {
    /// Connects every server in `specs` side by side, each bounded by its own timeout.
    pub async fn connect(
        connector: Connector,
        specs: Vec<McpServerSpec>,
        values: BTreeMap<String, String>,
        place: Place,
    ) -> (Self, Vec<Failure>) {
        let attempts = futures_util::future::join_all(
            specs
                .iter()
                .map(|spec| connector.connect(spec, &values, &place)),
        )
        .await;
        let mut servers = Vec::new();
        let mut failures = Vec::new();
        for (spec, attempt) in specs.into_iter().zip(attempts) {
            match attempt {
                Ok(connection) => servers.push(Server {
                    spec,
                    connection: tokio::sync::RwLock::new(Some(connection)),
                }),
                Err(e) => failures.push(Failure {
                    server: spec.name.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        let toolbox = Self {
            connector,
            values,
            place,
            servers,
            offered: RwLock::new(Vec::new()),
        };
        toolbox.reoffer().await;
        (toolbox, failures)
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Each connected server and how many of its tools are offered.
    pub async fn tool_counts(&self) -> Vec<(ServerName, usize)> {
        let mut counts = Vec::new();
        for server in &self.servers {
            if let Some(c) = server.connection.read().await.as_ref() {
                counts.push((
                    server.spec.name.clone(),
                    c.tools().iter().filter(|t| t.included).count(),
                ));
            }
        }
        counts
    }

    /// The tools offered to the model, as the servers last listed them.
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        self.offered
            .read()
            .map(|o| o.iter().map(|t| t.definition.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `name` is one of the offered tools.
    pub fn offers(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Whether the server says `name` only reads (`readOnlyHint`).
    pub fn is_read_only(&self, name: &str) -> bool {
        self.find(name).is_some_and(|o| o.read_only)
    }

    fn find(&self, name: &str) -> Option<Offered> {
        self.offered
            .read()
            .ok()?
            .iter()
            .find(|o| o.definition.name == name)
            .cloned()
    }

    /// Whether `args` fit the tool's input schema (for approval prompts).
    pub fn check_arguments(&self, name: &str, args: &Value) -> Result<(), String> {
        let offered = self
            .find(name)
            .ok_or_else(|| format!("Unknown tool `{name}`."))?;
        super::schema::check_arguments(&offered.definition.parameters, args)
    }

    /// Lists again the tools of every server that said they changed
    /// (`notifications/tools/list_changed`); called before each model call.
    pub async fn refresh_changed(&self) {
        let mut changed = false;
        for server in &self.servers {
            let mut guard = server.connection.write().await;
            if let Some(connection) = guard.as_mut().filter(|c| c.tools_changed()) {
                if let Err(e) = connection.refresh_tools().await {
                    tracing::warn!(server = %server.spec.name, error = %e, "MCP tools could not be listed again");
                }
                changed = true;
            }
        }
        if changed {
            self.reoffer().await;
        }
    }

    async fn reoffer(&self) {
        let mut offered = Vec::new();
        for (index, server) in self.servers.iter().enumerate() {
            let guard = server.connection.read().await;
            let Some(connection) = guard.as_ref() else {
                continue;
            };
            offered.extend(
                connection
                    .tools()
                    .iter()
                    .filter(|t| t.included)
                    .map(|t| offer(index, &server.spec.name, t)),
            );
        }
        if let Ok(mut slot) = self.offered.write() {
            *slot = offered;
        }
    }

    /// Runs one call of an offered tool. Arguments are checked against the tool's schema
    /// first. A dropped connection is made again once before the call fails; the call itself
    /// is sent again only when that cannot do anything twice: the connection was found closed
    /// before sending, or the server marks the tool read-only or idempotent.
    pub async fn call(&self, name: &str, args: Value, workspace: &Workspace) -> ToolResult {
        let Some(offered) = self.find(name) else {
            return ToolResult::error(format!("Unknown tool `{name}`."));
        };
        let Some(server) = self.servers.get(offered.server) else {
            return ToolResult::error(format!("Unknown tool `{name}`."));
        };
        let arguments = match args {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return ToolResult::error(format!(
                    "The arguments of `{name}` are an object, not {other}."
                ));
            }
        };
        if let Err(problem) = super::schema::check_arguments(
            &offered.definition.parameters,
            &Value::Object(arguments.clone()),
        ) {
            return ToolResult::error(format!(
                "The arguments do not fit `{name}`'s input schema: {problem}. Nothing was sent."
            ));
        }
        let outcome = {
            let guard = server.connection.read().await;
            match guard.as_ref() {
                Some(c) => c.call(&offered.tool, Some(arguments.clone())).await,
                None => Err(McpError::Lost(
                    "an earlier attempt to connect again failed".into(),
                )),
            }
        };
        let outcome = match outcome {
            Err(e) if e.is_connection_lost() => {
                let again = matches!(e, McpError::Lost(_)) || offered.repeatable;
                match self.reconnect(server).await {
                    Err(reason) => Err(McpError::Lost(format!(
                        "{e}; connecting again failed: {reason}"
                    ))),
                    Ok(()) if !again => {
                        return ToolResult::error(format!(
                            "The connection to the MCP server `{}` dropped while `{}` was running, \
                             so whether it took effect is unknown. The connection is back: check \
                             before calling it again. ({e})",
                            server.spec.name, offered.tool
                        ));
                    }
                    Ok(()) => {
                        let guard = server.connection.read().await;
                        match guard.as_ref() {
                            Some(c) => c.call(&offered.tool, Some(arguments)).await,
                            None => Err(e),
                        }
                    }
                }
            }
            other => other,
        };
        match outcome {
            Ok(result) => to_tool_result(&server.spec.name, &offered.tool, result, workspace).await,
            Err(e) => ToolResult::error(format!(
                "The MCP server `{}` could not run `{}`: {e}",
                server.spec.name, offered.tool
            )),
        }
    }

    async fn reconnect(&self, server: &Server) -> Result<(), McpError> {
        let mut guard = server.connection.write().await;
        if guard.as_ref().is_some_and(|c| !c.is_closed()) {
            // Another call got here first and connected again.
            return Ok(());
        }
        if let Some(old) = guard.take() {
            old.close().await;
        }
        match self
            .connector
            .connect(&server.spec, &self.values, &self.place)
            .await
        {
            Ok(connection) => {
                tracing::info!(server = %server.spec.name, "MCP server reconnected");
                *guard = Some(connection);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(server = %server.spec.name, error = %e, "MCP server could not be reconnected");
                Err(e)
            }
        }
    }

    /// Closes every connection (the run ended, was cancelled or failed).
    pub async fn close(&self) {
        let closing = self.servers.iter().map(|server| async move {
            if let Some(connection) = server.connection.write().await.take() {
                connection.close().await;
            }
        });
        futures_util::future::join_all(closing).await;
    }
}

fn offer(server: usize, server_name: &ServerName, tool: &RemoteTool) -> Offered {
    let description = tool
        .tool
        .description
        .as_deref()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("`{}` of the MCP server `{server_name}`.", tool.tool.name));
    Offered {
        server,
        tool: tool.tool.name.to_string(),
        read_only: tool.read_only(),
        repeatable: tool.repeatable(),
        definition: ToolDefinition {
            name: tool.offered.clone(),
            description,
            parameters: clean_for_providers(Value::Object((*tool.tool.input_schema).clone())),
        },
    }
}

/// What the model reads of a result: its text, structured content as JSON, and images and
/// resources described by type and size (saved into the workspace, so the model can use
/// them with its file tools). `isError` is a failed call.
async fn to_tool_result(
    server: &ServerName,
    tool: &str,
    result: CallToolResult,
    workspace: &Workspace,
) -> ToolResult {
    let mut parts: Vec<String> = Vec::new();
    let mut saved: Vec<Value> = Vec::new();
    for (index, block) in result.content.iter().enumerate() {
        match block {
            ContentBlock::Text(t) => parts.push(t.text.clone()),
            ContentBlock::Image(image) => {
                let note = save_blob(
                    workspace,
                    server,
                    tool,
                    index,
                    &image.mime_type,
                    &image.data,
                )
                .await;
                parts.push(format!("[image, {}: {}]", image.mime_type, note.0));
                saved.extend(note.1);
            }
            ContentBlock::Audio(audio) => {
                let note = save_blob(
                    workspace,
                    server,
                    tool,
                    index,
                    &audio.mime_type,
                    &audio.data,
                )
                .await;
                parts.push(format!("[audio, {}: {}]", audio.mime_type, note.0));
                saved.extend(note.1);
            }
            ContentBlock::Resource(embedded) => match &embedded.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    parts.push(format!("[resource {uri}]\n{text}"));
                }
                ResourceContents::BlobResourceContents {
                    uri,
                    mime_type,
                    blob,
                    ..
                } => {
                    let mime = mime_type.as_deref().unwrap_or("application/octet-stream");
                    let note = save_blob(workspace, server, tool, index, mime, blob).await;
                    parts.push(format!("[resource {uri}, {mime}: {}]", note.0));
                    saved.extend(note.1);
                }
                _ => parts.push("[a resource of a kind this client does not know]".into()),
            },
            ContentBlock::ResourceLink(link) => {
                let size = link
                    .size
                    .map(|s| format!(", {s} bytes"))
                    .unwrap_or_default();
                let mime = link.mime_type.as_deref().unwrap_or("unknown type");
                parts.push(format!("[resource link {} ({mime}{size})]", link.uri));
            }
            _ => parts.push("[content of a kind this client does not know]".into()),
        }
    }
    if let Some(structured) = &result.structured_content {
        let text = structured.to_string();
        if !parts.iter().any(|p| p.trim() == text) {
            parts.push(text);
        }
    }
    let mut output = parts.join("\n");
    if output.chars().count() > MAX_RESULT_CHARS {
        let cut: String = output.chars().take(MAX_RESULT_CHARS).collect();
        output = format!(
            "{cut}\n[the result was cut at {MAX_RESULT_CHARS} characters of {}]",
            output.chars().count()
        );
    }
    if output.is_empty() {
        output = "(the tool returned nothing)".to_owned();
    }
    let data = serde_json::json!({
        "server": server.as_str(),
        "tool": tool,
        "structuredContent": result.structured_content,
        "saved": saved,
    });
    if result.is_error == Some(true) {
        ToolResult {
            ok: false,
            output,
            data: Some(data),
        }
    } else {
        ToolResult::success(output, data)
    }
}

/// Saves a base64 blob into the workspace under `mcp/<server>/`; says where and how big.
async fn save_blob(
    workspace: &Workspace,
    server: &ServerName,
    tool: &str,
    index: usize,
    mime: &str,
    data: &str,
) -> (String, Option<Value>) {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.trim()) else {
        return ("not valid base64, not saved".into(), None);
    };
    let size = bytes.len();
    if size > MAX_SAVED_BYTES {
        return (format!("{size} bytes, too large to save"), None);
    }
    let extension = mime_guess::get_mime_extensions_str(mime)
        .and_then(|e| e.first())
        .copied()
        .unwrap_or("bin");
    let stem: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = format!(
        "mcp/{server}/{stem}-{}-{index}.{extension}",
        crate::ids::new_id().get(..8).unwrap_or("0")
    );
    let ws = workspace.clone();
    let target = path.clone();
    let written =
        tokio::task::spawn_blocking(move || ws.write_file(&target, &bytes).map(|o| o.path)).await;
    match written {
        Ok(Ok(shown)) => (
            format!("{size} bytes, saved as {shown}"),
            Some(serde_json::json!({"path": shown, "mimeType": mime, "bytes": size})),
        ),
        _ => (format!("{size} bytes, could not be saved"), None),
    }
}
