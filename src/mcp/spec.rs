//! An MCP server's configuration as the platform checks and keeps it: a name, where it is
//! (a remote URL or a program run in the sandbox), and which of its tools are offered. Built
//! from what people write (`protocol::McpServerInput`), with every mistake named by its field.

use std::collections::BTreeMap;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use protocol::{McpServerInput, McpTransport};
use serde::{Deserialize, Serialize};

use super::template;

const NAME_MAX: usize = 40;
/// Names the API's paths use for other things (`…/mcp-servers/import`).
const RESERVED_NAMES: &[&str] = &["import", "export"];
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=600_000;
const MAX_ENTRIES: usize = 100;
const MAX_VALUE_CHARS: usize = 8 * 1024;
const MAX_URL_CHARS: usize = 2048;

/// A checked server name: what `mcp__<name>__<tool>` is built from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServerName(String);

impl ServerName {
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(format!("A name has 1 to {NAME_MAX} characters."));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("A name has only letters, digits, `-` and `_`.".into());
        }
        if name.contains("__") {
            return Err("A name has no `__` (it separates the parts of a tool's name).".into());
        }
        if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!("`{name}` is reserved; choose another name."));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ServerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a server is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Remote {
        transport: McpTransport,
        url: String,
        headers: BTreeMap<String, String>,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<String>,
    },
}

impl Endpoint {
    pub fn transport(&self) -> McpTransport {
        match self {
            Self::Remote { transport, .. } => *transport,
            Self::Stdio { .. } => McpTransport::Stdio,
        }
    }
}

/// Which of a server's tools are offered: all, or those `include` names, minus `exclude`.
#[derive(Debug, Clone)]
pub struct ToolFilter {
    include: Vec<String>,
    exclude: Vec<String>,
    include_set: GlobSet,
    exclude_set: GlobSet,
}

impl PartialEq for ToolFilter {
    fn eq(&self, other: &Self) -> bool {
        self.include == other.include && self.exclude == other.exclude
    }
}

impl Eq for ToolFilter {}

impl ToolFilter {
    /// Each pattern is an exact name or a glob; the error gives the index of a bad one.
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Result<Self, (bool, usize, String)> {
        let build = |patterns: &[String], is_include: bool| {
            let mut set = GlobSetBuilder::new();
            for (i, p) in patterns.iter().enumerate() {
                if p.trim().is_empty() {
                    return Err((is_include, i, "A pattern is not empty.".to_owned()));
                }
                let glob = Glob::new(p).map_err(|e| (is_include, i, e.kind().to_string()))?;
                set.add(glob);
            }
            set.build()
                .map_err(|e| (is_include, 0, e.kind().to_string()))
        };
        Ok(Self {
            include_set: build(&include, true)?,
            exclude_set: build(&exclude, false)?,
            include,
            exclude,
        })
    }

    pub fn allows(&self, tool: &str) -> bool {
        (self.include.is_empty() || self.include_set.is_match(tool))
            && !self.exclude_set.is_match(tool)
    }

    pub fn include(&self) -> &[String] {
        &self.include
    }

    pub fn exclude(&self) -> &[String] {
        &self.exclude
    }
}

/// A project's MCP server, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServerSpec {
    pub name: ServerName,
    pub endpoint: Endpoint,
    pub timeout: Duration,
    pub enabled: bool,
    pub filter: ToolFilter,
}

/// The part of a spec kept in clear in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredConfig {
    pub transport: McpTransport,
    #[serde(default)]
    pub url: Option<String>,
    pub timeout_ms: u64,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub include_tools: Vec<String>,
    #[serde(default)]
    pub exclude_tools: Vec<String>,
}

/// The part kept encrypted: header and env values often hold static tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SealedValues {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Field errors of one input, keyed by field path (`headers.Authorization`, `args[2]`).
pub type FieldErrors = BTreeMap<String, String>;

impl McpServerSpec {
    /// Checks `input`. `path_name` is the name a replace addresses (used when the body has
    /// none); `prefix` is put before every field name (an import's `mcpServers.<name>.`).
    pub fn from_input(
        input: &McpServerInput,
        path_name: Option<&str>,
        prefix: &str,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut bad = |field: &str, message: String| {
            errors.entry(format!("{prefix}{field}")).or_insert(message);
        };
        let name = match input.name.as_deref().or(path_name) {
            Some(n) => ServerName::parse(n.trim()).map_err(|e| bad("name", e)).ok(),
            None => {
                bad("name", "A name is required.".into());
                None
            }
        };
        let transport = match input.kind.as_deref() {
            Some(t) => McpTransport::parse(t.trim())
                .ok_or_else(|| {
                    bad(
                        "type",
                        format!("`{t}` is not a transport: use http, sse or stdio."),
                    )
                })
                .ok(),
            None if input.command.is_some() => Some(McpTransport::Stdio),
            None if input.url.is_some() => Some(McpTransport::Http),
            None => {
                bad(
                    "type",
                    "Say how to reach the server: a `url` (http or sse) or a `command` (stdio)."
                        .into(),
                );
                None
            }
        };
        let timeout_ms = input.timeout.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !TIMEOUT_MS.contains(&timeout_ms) {
            bad(
                "timeout",
                format!(
                    "A timeout is {} to {} milliseconds.",
                    TIMEOUT_MS.start(),
                    TIMEOUT_MS.end()
                ),
            );
        }
        let endpoint = transport.and_then(|t| endpoint(input, t, &mut bad));
        let filter = ToolFilter::new(input.include_tools.clone(), input.exclude_tools.clone())
            .map_err(|(is_include, i, e)| {
                let list = if is_include {
                    "includeTools"
                } else {
                    "excludeTools"
                };
                bad(&format!("{list}[{i}]"), format!("Not a name or glob: {e}."));
            })
            .ok();
        for (list, items) in [
            ("includeTools", &input.include_tools),
            ("excludeTools", &input.exclude_tools),
        ] {
            if items.len() > MAX_ENTRIES {
                bad(list, format!("At most {MAX_ENTRIES} patterns."));
            }
        }
        match (name, endpoint, filter) {
            (Some(name), Some(endpoint), Some(filter)) if errors.is_empty() => Ok(Self {
                name,
                endpoint,
                timeout: Duration::from_millis(timeout_ms),
                enabled: input.enabled.unwrap_or(true),
                filter,
            }),
            _ => Err(errors),
        }
    }

    /// The keys its `{{mcp.KEY}}` placeholders name.
    pub fn placeholder_keys(&self) -> Vec<String> {
        let texts: Vec<&String> = match &self.endpoint {
            Endpoint::Remote { url, headers, .. } => {
                std::iter::once(url).chain(headers.values()).collect()
            }
            Endpoint::Stdio {
                command, args, env, ..
            } => std::iter::once(command)
                .chain(args.iter())
                .chain(env.values())
                .collect(),
        };
        texts.into_iter().flat_map(|t| template::keys(t)).collect()
    }

    /// The clear and the secret halves, for the database.
    pub fn to_stored(&self) -> (StoredConfig, SealedValues) {
        let mut stored = StoredConfig {
            transport: self.endpoint.transport(),
            url: None,
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            command: None,
            args: Vec::new(),
            cwd: None,
            include_tools: self.filter.include().to_vec(),
            exclude_tools: self.filter.exclude().to_vec(),
        };
        let mut sealed = SealedValues::default();
        match &self.endpoint {
            Endpoint::Remote { url, headers, .. } => {
                stored.url = Some(url.clone());
                sealed.headers = headers.clone();
            }
            Endpoint::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                stored.command = Some(command.clone());
                stored.args = args.clone();
                stored.cwd = cwd.clone();
                sealed.env = env.clone();
            }
        }
        (stored, sealed)
    }

    /// A spec back from its stored halves (written by `to_stored`, so already checked).
    pub fn from_stored(
        name: &str,
        enabled: bool,
        stored: StoredConfig,
        sealed: SealedValues,
    ) -> Result<Self, String> {
        let name = ServerName::parse(name)?;
        let endpoint = match stored.transport {
            McpTransport::Stdio => Endpoint::Stdio {
                command: stored.command.unwrap_or_default(),
                args: stored.args,
                env: sealed.env,
                cwd: stored.cwd,
            },
            transport => Endpoint::Remote {
                transport,
                url: stored.url.unwrap_or_default(),
                headers: sealed.headers,
            },
        };
        let filter =
            ToolFilter::new(stored.include_tools, stored.exclude_tools).map_err(|(_, _, e)| e)?;
        Ok(Self {
            name,
            endpoint,
            timeout: Duration::from_millis(stored.timeout_ms),
            enabled,
            filter,
        })
    }

    /// The server as the API shows it; header and env values masked unless `reveal`.
    pub fn to_input(&self, reveal: bool) -> McpServerInput {
        let mask = |values: &BTreeMap<String, String>| {
            values
                .iter()
                .map(|(k, v)| {
                    let shown = if reveal { v.clone() } else { MASK.to_owned() };
                    (k.clone(), shown)
                })
                .collect()
        };
        let mut out = McpServerInput {
            name: Some(self.name.to_string()),
            kind: Some(self.endpoint.transport().as_str().to_owned()),
            enabled: Some(self.enabled),
            include_tools: self.filter.include().to_vec(),
            exclude_tools: self.filter.exclude().to_vec(),
            ..McpServerInput::default()
        };
        match &self.endpoint {
            Endpoint::Remote { url, headers, .. } => {
                out.url = Some(url.clone());
                out.headers = mask(headers);
                out.timeout = u64::try_from(self.timeout.as_millis()).ok();
            }
            Endpoint::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                out.command = Some(command.clone());
                out.args = args.clone();
                out.env = mask(env);
                out.cwd = cwd.clone();
            }
        }
        out
    }
}

/// What members see instead of a header or env value.
pub const MASK: &str = "********";

fn endpoint(
    input: &McpServerInput,
    transport: McpTransport,
    bad: &mut impl FnMut(&str, String),
) -> Option<Endpoint> {
    let before = std::cell::Cell::new(0usize);
    let mut fail = |field: &str, message: String| {
        before.set(before.get() + 1);
        bad(field, message);
    };
    let templated = |field: &str, value: &str, fail: &mut dyn FnMut(&str, String)| {
        if value.contains('\0') {
            fail(field, "A value has no NUL character.".into());
        } else if value.chars().count() > MAX_VALUE_CHARS {
            fail(field, format!("At most {MAX_VALUE_CHARS} characters."));
        } else if let Err(e) = template::check(value) {
            fail(field, format!("{e}."));
        }
    };
    let endpoint = if transport.is_remote() {
        for (field, given) in [
            ("command", input.command.is_some()),
            ("args", !input.args.is_empty()),
            ("env", !input.env.is_empty()),
            ("cwd", input.cwd.is_some()),
        ] {
            if given {
                fail(field, "Only a stdio server has this.".into());
            }
        }
        let url = input.url.as_deref().map(str::trim).unwrap_or_default();
        check_url(url, &mut fail);
        if input.headers.len() > MAX_ENTRIES {
            fail("headers", format!("At most {MAX_ENTRIES} headers."));
        }
        for (name, value) in &input.headers {
            let field = format!("headers.{name}");
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                fail(&field, "Not a header name.".into());
            } else if value.contains(['\r', '\n']) {
                fail(&field, "A header value is one line.".into());
            } else {
                templated(&field, value, &mut fail);
            }
        }
        Endpoint::Remote {
            transport,
            url: url.to_owned(),
            headers: input.headers.clone(),
        }
    } else {
        if input.url.is_some() {
            fail("url", "A stdio server has a `command`, not a `url`.".into());
        }
        if !input.headers.is_empty() {
            fail("headers", "Only a remote server has headers.".into());
        }
        let command = input.command.as_deref().map(str::trim).unwrap_or_default();
        if command.is_empty() {
            fail("command", "A stdio server needs a command to run.".into());
        } else {
            templated("command", command, &mut fail);
        }
        if input.args.len() > MAX_ENTRIES {
            fail("args", format!("At most {MAX_ENTRIES} arguments."));
        }
        for (i, arg) in input.args.iter().enumerate() {
            templated(&format!("args[{i}]"), arg, &mut fail);
        }
        if input.env.len() > MAX_ENTRIES {
            fail("env", format!("At most {MAX_ENTRIES} variables."));
        }
        for (name, value) in &input.env {
            let field = format!("env.{name}");
            if !is_env_name(name) {
                fail(
                    &field,
                    "A variable name is letters, digits and `_`, not starting with a digit.".into(),
                );
            } else {
                templated(&field, value, &mut fail);
            }
        }
        let cwd = input
            .cwd
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(cwd) = cwd {
            let path = std::path::Path::new(cwd);
            let inside = path.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            }) || cwd == "/workspace"
                || cwd.starts_with("/workspace/") && !cwd.contains("..");
            if !inside {
                fail(
                    "cwd",
                    "A working directory is inside the workspace (`data`, or `/workspace/data`)."
                        .into(),
                );
            }
        }
        Endpoint::Stdio {
            command: command.to_owned(),
            args: input.args.clone(),
            env: input.env.clone(),
            cwd: cwd.map(|c| {
                c.strip_prefix("/workspace")
                    .unwrap_or(c)
                    .trim_start_matches('/')
                    .to_owned()
            }),
        }
    };
    (before.get() == 0).then_some(endpoint)
}

fn check_url(url: &str, fail: &mut impl FnMut(&str, String)) {
    if url.is_empty() {
        return fail("url", "A remote server needs its url.".into());
    }
    if url.chars().count() > MAX_URL_CHARS {
        return fail("url", format!("At most {MAX_URL_CHARS} characters."));
    }
    if let Err(e) = template::check(url) {
        return fail("url", format!("{e}."));
    }
    // Placeholders stand for values known only when a task connects; check the rest.
    let mut values = BTreeMap::new();
    for key in template::keys(url) {
        values.insert(key, "placeholder".to_owned());
    }
    let probe = template::fill(url, &values).unwrap_or_else(|_| url.to_owned());
    match url::Url::parse(&probe) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(u) => fail(
            "url",
            format!(
                "A server's url is http:// or https://, not {}:.",
                u.scheme()
            ),
        ),
        Err(e) => fail("url", format!("Not a URL: {e}.")),
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn input(json: serde_json::Value) -> McpServerInput {
        serde_json::from_value(json).unwrap()
    }

    fn errors(json: serde_json::Value) -> FieldErrors {
        McpServerSpec::from_input(&input(json), None, "").unwrap_err()
    }

    #[test]
    fn the_shapes_other_clients_use_are_understood() {
        let remote = McpServerSpec::from_input(
            &input(
                serde_json::json!({"name": "orders", "url": "https://orders.test/mcp",
                "headers": {"Authorization": "Bearer {{mcp.TOKEN}}"}}),
            ),
            None,
            "",
        )
        .unwrap();
        assert_eq!(remote.endpoint.transport(), McpTransport::Http);
        assert!(remote.enabled);
        let local = McpServerSpec::from_input(
            &input(serde_json::json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]})),
            Some("everything"),
            "",
        )
        .unwrap();
        assert_eq!(local.endpoint.transport(), McpTransport::Stdio);
        assert_eq!(local.name.as_str(), "everything");
        let (stored, sealed) = local.to_stored();
        let back = McpServerSpec::from_stored("everything", true, stored, sealed).unwrap();
        assert_eq!(back, local);
    }

    #[test]
    fn every_mistake_is_named_by_its_field() {
        let e = errors(serde_json::json!({"name": "a", "type": "websocket", "url": "wss://x"}));
        assert!(e.contains_key("type"), "{e:?}");
        let e = errors(serde_json::json!({"name": "a", "type": "http", "url": "ftp://x.test/"}));
        assert!(e["url"].contains("http"), "{e:?}");
        let e = errors(serde_json::json!({"name": "a", "type": "stdio", "command": "  "}));
        assert!(e.contains_key("command"), "{e:?}");
        let e = errors(
            serde_json::json!({"name": "a", "command": "x", "includeTools": ["ok", "bad[" ]}),
        );
        assert!(e.contains_key("includeTools[1]"), "{e:?}");
        let e = errors(serde_json::json!({"name": "a", "url": "https://x.test/",
            "headers": {"Authorization": "Bearer {{mcp.}}"}}));
        assert!(e["headers.Authorization"].contains("no key"), "{e:?}");
        let e = errors(serde_json::json!({"name": "a b", "command": "x"}));
        assert!(e.contains_key("name"), "{e:?}");
        let e = errors(serde_json::json!({"name": "a", "command": "x", "cwd": "../etc"}));
        assert!(e.contains_key("cwd"), "{e:?}");
        let e = errors(serde_json::json!({"name": "export", "command": "x"}));
        assert!(e.contains_key("name"), "{e:?}");
    }

    #[test]
    fn filters_take_names_and_globs() {
        let f = ToolFilter::new(
            vec!["get_*".into(), "echo".into()],
            vec!["get_secret".into()],
        )
        .unwrap();
        assert!(f.allows("echo"));
        assert!(f.allows("get_sum"));
        assert!(!f.allows("get_secret"));
        assert!(!f.allows("add"));
        let all = ToolFilter::new(vec![], vec!["*_danger".into()]).unwrap();
        assert!(all.allows("anything"));
        assert!(!all.allows("very_danger"));
    }
}
