//! A project's MCP servers: their checked configuration (`spec`), the `{{mcp.KEY}}`
//! placeholders in it (`template`), and the names their tools are offered to the model by.
//! The official SDK, `rmcp`, stays behind this module: its majors come often.

pub mod client;
pub mod schema;
pub mod spec;
pub mod sse;
pub mod stored;
pub mod template;
pub mod toolbox;

pub use spec::{Endpoint, McpServerSpec, ServerName, ToolFilter};

use sha2::{Digest, Sha256};

/// What a worker needs to reach a project's MCP servers: the vault their values are sealed
/// with, and the connector that applies the deployment's address rules.
#[derive(Clone)]
pub struct McpAccess {
    pub vault: crate::vault::Vault,
    pub connector: client::Connector,
}

/// Model providers accept tool names of at most 64 characters out of `[A-Za-z0-9_-]`.
const TOOL_NAME_MAX: usize = 64;
pub const TOOL_PREFIX: &str = "mcp__";

/// The name the model calls `tool` of `server` by: `mcp__<server>__<tool>`, with characters
/// providers refuse replaced by `_`, and a long name cut and made unique by a hash of the
/// tool's real name.
pub fn offered_name(server: &ServerName, tool: &str) -> String {
    let clean: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{TOOL_PREFIX}{server}__{clean}");
    if name.len() <= TOOL_NAME_MAX && clean == tool {
        return name;
    }
    let hash = hex::encode(&Sha256::digest(tool.as_bytes())[..4]);
    let keep = TOOL_NAME_MAX.saturating_sub(hash.len() + 1);
    let cut: String = name.chars().take(keep).collect();
    format!("{cut}_{hash}")
}

/// An error with its causes, as one line: rmcp and reqwest wrap the reason a connection
/// failed.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn offered_names_are_names_every_provider_accepts() {
        let server = ServerName::parse("orders").unwrap();
        assert_eq!(
            offered_name(&server, "list_orders"),
            "mcp__orders__list_orders"
        );
        let dotted = offered_name(&server, "orders.list");
        assert!(dotted.starts_with("mcp__orders__orders_list_"), "{dotted}");
        assert_ne!(dotted, offered_name(&server, "orders/list"));
        let long = offered_name(&server, &"x".repeat(100));
        assert!(long.len() <= 64, "{long}");
        assert!(
            dotted
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }
}
