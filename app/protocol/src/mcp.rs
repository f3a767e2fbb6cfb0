//! (extension) A project's MCP servers, in the shape people paste from other MCP clients
//! (Claude Desktop, Cursor, VS Code): remote `{type: "http" | "sse", url, headers, timeout}`
//! or local `{type: "stdio", command, args, env, cwd}`, each with `enabled` and tool
//! filters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How Sigmic talks to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum McpTransport {
    /// Streamable HTTP (the current MCP transport).
    #[serde(rename = "http")]
    Http,
    /// The legacy HTTP+SSE transport (protocol version 2024-11-05).
    #[serde(rename = "sse")]
    Sse,
    /// A local program speaking MCP on its stdin and stdout, run inside the task's sandbox.
    #[serde(rename = "stdio")]
    Stdio,
}

impl McpTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Sse => "sse",
            Self::Stdio => "stdio",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" | "streamable-http" | "streamableHttp" => Some(Self::Http),
            "sse" => Some(Self::Sse),
            "stdio" => Some(Self::Stdio),
            _ => None,
        }
    }

    pub fn is_remote(self) -> bool {
        !matches!(self, Self::Stdio)
    }
}

/// An MCP server as written: create, replace, and each entry of an import. `type` may be
/// left out where the entry says it (`command`: stdio; `url`: http), as other clients allow.
/// `{{mcp.KEY}}` in `url`, `headers`, `env` and `args` is filled when a task connects, from
/// its `env` and `secrets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpServerInput {
    /// Unique in the project: letters, digits, `-` and `_`, at most 40 characters. Tools are
    /// offered as `mcp__<name>__<tool>`. Taken from the path on a replace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 40))]
    pub name: Option<String>,
    /// `http`, `sse` or `stdio`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "http"))]
    pub kind: Option<String>,
    /// Remote: the server's `http(s)://` address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    pub url: Option<String>,
    /// Remote: headers sent with every request (stored encrypted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Remote: how long connecting and each request may take, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 600000))]
    pub timeout: Option<u64>,
    /// Local: the program to run, e.g. `npx` or `uvx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Local: its environment (stored encrypted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Local: its working directory, relative to the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Connected for tasks when true (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Only these tools (names or globs such as `get_*`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_tools: Vec<String>,
    /// Never these tools (names or globs); applied after `includeTools`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tools: Vec<String>,
}

/// What the last connection to a server showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpServerStatus {
    /// `ok` or `failed`.
    pub state: McpServerState,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Tools offered (after filtering) when it connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<u32>,
    pub checked_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum McpServerState {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "failed")]
    Failed,
}

/// An MCP server as the API answers it. Header and env values are shown to project admins
/// and masked (`********`) for everyone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpServer {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: McpTransport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_tools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tools: Vec<String>,
    /// The last connection's outcome (a test, or a task's start); absent until one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<McpServerStatus>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<McpServer> for McpServerInput {
    /// The server as it would be written again (values as the reader was shown them).
    fn from(s: McpServer) -> Self {
        Self {
            name: Some(s.name),
            kind: Some(s.kind.as_str().to_owned()),
            url: s.url,
            headers: s.headers,
            timeout: s.timeout,
            command: s.command,
            args: s.args,
            env: s.env,
            cwd: s.cwd,
            enabled: Some(s.enabled),
            include_tools: s.include_tools,
            exclude_tools: s.exclude_tools,
        }
    }
}

/// The `{"mcpServers": {name: server}}` document Claude Desktop, Cursor and VS Code use
/// (VS Code's `servers` key is read too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpServersDocument {
    #[serde(default, alias = "servers")]
    pub mcp_servers: BTreeMap<String, McpServerInput>,
}

/// One tool a server offers, as a test lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpToolInfo {
    /// The tool's name on the server.
    pub name: String,
    /// The name the model calls it by: `mcp__<server>__<tool>`.
    pub offered_as: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether `includeTools`/`excludeTools` let it through.
    pub included: bool,
    /// The server says the tool only reads (`readOnlyHint`).
    #[serde(default)]
    pub read_only: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input_schema: serde_json::Value,
}

/// What "Test connection" found: the tools, or the exact reason it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpTestResult {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The server's name and version, from its `initialize` answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<String>,
    #[serde(default)]
    pub tools: Vec<McpToolInfo>,
    /// Time to connect and list, in milliseconds.
    pub elapsed_ms: u64,
}

/// Values for a test's `{{mcp.KEY}}` placeholders, as a task would give them. Used for this
/// test only, never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct McpTestRequest {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
    pub secrets: Option<BTreeMap<String, String>>,
}
