//! The built-in tools a task's model calls — shell, files, web — with the names and argument
//! shapes models are used to, and the registry that lists and runs them.
//!
//! Every call answers a `ToolResult`, never an error: a refused path or a bad argument is
//! something the model reads and acts on, so it is an `ok: false` result whose `output` says
//! what to do. Every result passes through the task's `Redactor` on its way out (output, data
//! and error text alike), in one place (`ToolRegistry::execute`), so no tool can forget.

mod args;
mod definitions;
mod files;
mod shell;
mod web;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::mcp::toolbox::McpToolbox;
use crate::sandbox::{Redactor, Sandbox};
use crate::workspace::Workspace;

pub use definitions::{Builtin, ToolDefinition};

/// What a tool call answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    /// The call did what was asked (for `run_shell_command`: the command exited 0).
    pub ok: bool,
    /// What the model sees.
    pub output: String,
    /// The same, structured, for UIs and events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ToolResult {
    pub fn success(output: impl Into<String>, data: impl Serialize) -> Self {
        Self {
            ok: true,
            output: output.into(),
            data: serde_json::to_value(data).ok(),
        }
    }

    pub fn error(output: impl Into<String>) -> Self {
        Self {
            ok: false,
            output: output.into(),
            data: None,
        }
    }

    fn redacted(self, redactor: &Redactor) -> Self {
        if redactor.is_empty() {
            return self;
        }
        Self {
            ok: self.ok,
            output: redactor.redact(&self.output),
            data: self.data.map(|d| redactor.redact_json(d)),
        }
    }
}

/// What the tools of one task act on.
#[derive(Clone)]
pub struct ToolContext {
    pub sandbox: Arc<dyn Sandbox>,
    pub workspace: Workspace,
    /// The task's secrets, taken out of every result.
    pub redactor: Redactor,
    /// Fetching and search, built from `config.web` (shared by all tasks).
    pub web: Arc<crate::web::Web>,
    /// The project's network policy, which `web_fetch` obeys like the sandbox's programs.
    pub network: crate::egress::NetworkPolicy,
    /// The run's connected MCP servers, whose tools are offered beside the built-ins.
    pub mcp: Option<Arc<McpToolbox>>,
}

/// The built-in tools of one task.
#[derive(Clone)]
pub struct ToolRegistry {
    ctx: ToolContext,
}

impl ToolRegistry {
    pub fn new(ctx: ToolContext) -> Self {
        Self { ctx }
    }

    pub fn context(&self) -> &ToolContext {
        &self.ctx
    }

    fn offered(&self, tool: Builtin) -> bool {
        match tool {
            Builtin::WebSearch => {
                self.ctx.web.searcher.is_some()
                    && self.ctx.network != crate::egress::NetworkPolicy::Off
            }
            Builtin::WebFetch => self.ctx.network != crate::egress::NetworkPolicy::Off,
            _ => true,
        }
    }

    /// The tools offered to the model: all built-ins, `web_search` only when a search backend
    /// is configured, and neither web tool when the project's network is off.
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        let mut tools: Vec<ToolDefinition> = Builtin::ALL
            .into_iter()
            .filter(|t| self.offered(*t))
            .map(Builtin::definition)
            .collect();
        if let Some(mcp) = &self.ctx.mcp {
            tools.extend(mcp.definitions());
        }
        tools
    }

    /// The MCP servers' tools as they stand: lists again those a server said changed.
    pub async fn refresh(&self) {
        if let Some(mcp) = &self.ctx.mcp {
            mcp.refresh_changed().await;
        }
    }

    /// Whether a call only reads, so it may run beside others: built-ins that read, and MCP
    /// tools their server marks `readOnlyHint`.
    pub fn is_read_only(&self, name: &str) -> bool {
        match Builtin::from_name(name) {
            Some(tool) => tool.is_read_only(),
            None => self.ctx.mcp.as_ref().is_some_and(|m| m.is_read_only(name)),
        }
    }

    fn mcp_tool(&self, name: &str) -> Option<&Arc<McpToolbox>> {
        self.ctx.mcp.as_ref().filter(|m| m.offers(name))
    }

    fn lookup(&self, name: &str) -> Result<Builtin, String> {
        match Builtin::from_name(name) {
            Some(tool) if self.offered(tool) => Ok(tool),
            Some(_) if self.ctx.network == crate::egress::NetworkPolicy::Off => Err(format!(
                "`{name}` is not available: network access is off for this project."
            )),
            Some(_) => Err(format!(
                "`{name}` is not available: no web search backend is configured for this server."
            )),
            None => {
                let names: Vec<&str> = Builtin::ALL
                    .into_iter()
                    .filter(|t| self.offered(*t))
                    .map(Builtin::name)
                    .collect();
                Err(format!(
                    "Unknown tool `{name}`. Available tools: {}.",
                    names.join(", ")
                ))
            }
        }
    }

    /// Checks a call's name and arguments without running it (for approval prompts).
    pub fn validate(&self, name: &str, args: &Value) -> Result<(), String> {
        if let Some(mcp) = self.mcp_tool(name) {
            return mcp.check_arguments(name, args);
        }
        let tool = self.lookup(name)?;
        args::validate(tool, args.clone())
    }

    /// Runs one call. Unknown tools and bad arguments are answered as `ok: false` results.
    pub async fn execute(&self, name: &str, args: Value) -> ToolResult {
        let result = match (self.mcp_tool(name), self.lookup(name)) {
            (Some(mcp), _) => mcp.call(name, args, &self.ctx.workspace).await,
            (None, Err(message)) => ToolResult::error(message),
            (None, Ok(tool)) => self.run(tool, args).await,
        };
        result.redacted(&self.ctx.redactor)
    }

    async fn run(&self, tool: Builtin, raw: Value) -> ToolResult {
        let ctx = &self.ctx;
        let outcome = match tool {
            Builtin::RunShellCommand => match args::parse(tool, raw) {
                Ok(a) => shell::run(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::ReadFile => match args::parse(tool, raw) {
                Ok(a) => files::read_file(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::WriteFile => match args::parse(tool, raw) {
                Ok(a) => files::write_file(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::Replace => match args::parse(tool, raw) {
                Ok(a) => files::replace(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::ListDirectory => match args::parse(tool, raw) {
                Ok(a) => files::list_directory(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::Glob => match args::parse(tool, raw) {
                Ok(a) => files::glob(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::SearchFileContent => match args::parse(tool, raw) {
                Ok(a) => files::search_file_content(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::WebFetch => match args::parse(tool, raw) {
                Ok(a) => web::fetch(ctx, a).await,
                Err(e) => Err(e),
            },
            Builtin::WebSearch => match args::parse(tool, raw) {
                Ok(a) => web::search(ctx, a).await,
                Err(e) => Err(e),
            },
        };
        outcome.unwrap_or_else(ToolResult::error)
    }
}
