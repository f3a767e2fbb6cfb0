//! Language-model providers behind one trait. Each dialect (Anthropic Messages, OpenAI Chat
//! Completions, Google Gemini) is a small client of our own over `reqwest` + SSE that maps its
//! wire stream to one normalized `StreamEvent`, so the agent loop never sees a dialect.
//!
//! Why not a multi-provider crate: none handles streaming tool calls of all three well on our
//! toolchain (see STACK.md); codex and goose write their own for the same reason.

mod anthropic;
mod gemini;
mod openai;
pub mod pricing;
mod sse;

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::LlmConfig;

/// Which wire dialect a model is reached with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Anthropic,
    /// OpenAI Chat Completions, and every server that speaks it (Ollama, vLLM, llama.cpp,
    /// OpenRouter) through `openai_base_url`.
    OpenAi,
    Gemini,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [Self::Anthropic, Self::OpenAi, Self::Gemini];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::OpenAi => "openai",
            Self::Gemini => "gemini",
        }
    }
}

/// A model as projects name it: `provider/model`, e.g. `anthropic/claude-sonnet-4-5` or
/// `openai/llama3.1:8b` for a local OpenAI-compatible server. The model part may itself
/// contain slashes (`openai/meta-llama/Llama-3.1-8B`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    pub provider: ProviderKind,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a model name: write `provider/model`, where provider is anthropic, openai or gemini (e.g. `anthropic/claude-sonnet-4-5`)"
)]
pub struct BadModelRef(pub String);

impl FromStr for ModelRef {
    type Err = BadModelRef;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadModelRef(s.to_owned());
        let (provider, model) = s.trim().split_once('/').ok_or_else(bad)?;
        let provider = match provider.to_ascii_lowercase().as_str() {
            "anthropic" => ProviderKind::Anthropic,
            "openai" => ProviderKind::OpenAi,
            "gemini" | "google" => ProviderKind::Gemini,
            _ => return Err(bad()),
        };
        if model.is_empty() || model.chars().count() > 200 || model.chars().any(char::is_whitespace)
        {
            return Err(bad());
        }
        Ok(Self {
            provider,
            model: model.to_owned(),
        })
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider.as_str(), self.model)
    }
}

/// A model as settings and tasks name it: `<connection>/<model id>`, where the connection is
/// an organization's named provider or one of the server's (`anthropic`, `openai`, `gemini`).
/// The model part may itself contain slashes (`openrouter/meta-llama/llama-3.1-8b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelName {
    /// Lower case; `google` reads as `gemini`.
    pub connection: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a model name: write `<connection>/<model id>`, e.g. `anthropic/claude-sonnet-4-5` or `my-ollama/llama3.1:8b`"
)]
pub struct BadModelName(pub String);

/// Whether `name` can name a connection: 1–40 of `a-z`, `0-9`, `-` and `_`, starting with a
/// letter (what a model name's first part may be).
pub fn is_connection_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Whether `id` can be a model's id at its provider: 1–200 of letters, digits and `._:/@+-`,
/// without `..`. Ids go into request paths (Gemini's), so nothing that reshapes a URL.
pub fn is_model_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@+-".contains(c))
}

impl FromStr for ModelName {
    type Err = BadModelName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadModelName(s.to_owned());
        let (connection, model) = s.trim().split_once('/').ok_or_else(bad)?;
        let mut connection = connection.to_ascii_lowercase();
        if connection == "google" {
            "gemini".clone_into(&mut connection);
        }
        if !is_connection_name(&connection) || !is_model_id(model) {
            return Err(bad());
        }
        Ok(Self {
            connection,
            model: model.to_owned(),
        })
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.connection, self.model)
    }
}

impl ProviderKind {
    /// A server connection's name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "anthropic" => Some(Self::Anthropic),
            "openai" => Some(Self::OpenAi),
            "gemini" | "google" => Some(Self::Gemini),
            _ => None,
        }
    }
}

impl From<protocol::ModelProviderKind> for ProviderKind {
    fn from(k: protocol::ModelProviderKind) -> Self {
        match k {
            protocol::ModelProviderKind::Anthropic => Self::Anthropic,
            protocol::ModelProviderKind::Openai => Self::OpenAi,
            protocol::ModelProviderKind::Gemini => Self::Gemini,
        }
    }
}

impl From<ProviderKind> for protocol::ModelProviderKind {
    fn from(k: ProviderKind) -> Self {
        match k {
            ProviderKind::Anthropic => Self::Anthropic,
            ProviderKind::OpenAi => Self::Openai,
            ProviderKind::Gemini => Self::Gemini,
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: Value,
}

/// One call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (Gemini has none: the client makes one up).
    pub id: String,
    pub name: String,
    /// Parsed arguments; an object. Arguments that are not valid JSON arrive as
    /// `{"_raw": "<text>"}` so the loop can tell the model what was wrong.
    pub args: Value,
}

/// A piece of a message in the normalized conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    /// Reasoning the provider returned. `signature` is Anthropic's opaque proof that must be
    /// sent back with the thinking block; other providers leave it empty.
    Thinking {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    ToolCall(ToolCall),
    ToolResult {
        call_id: String,
        /// The tool's name (Gemini answers a call by name).
        name: String,
        output: String,
        is_error: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One message of the conversation sent to a model. Tool results travel in `User` messages
/// (as Anthropic has it); each client maps them to its dialect (`tool` messages for OpenAI,
/// `functionResponse` parts for Gemini). Consecutive messages of the same role are allowed:
/// clients merge them where their dialect requires alternation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            parts: vec![Part::Text { text: text.into() }],
        }
    }
}

/// Maps each message's parts with `part` (dropping the ones it answers `None` for) and merges
/// consecutive messages of one role, for dialects whose roles must alternate.
fn merge_by_role(
    messages: &[Message],
    part: impl Fn(&Part) -> Option<Value>,
) -> Vec<(Role, Vec<Value>)> {
    let mut merged: Vec<(Role, Vec<Value>)> = Vec::new();
    for message in messages {
        let mapped: Vec<Value> = message.parts.iter().filter_map(&part).collect();
        if mapped.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some((role, existing)) if *role == message.role => existing.extend(mapped),
            _ => merged.push((message.role, mapped)),
        }
    }
    merged
}

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The model's name at its provider (the part after `provider/`).
    pub model: String,
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_output_tokens: u32,
}

/// Why a model turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished its answer (or asked for tools: see the turn's tool calls).
    EndTurn,
    ToolUse,
    /// The output token limit cut the answer.
    MaxTokens,
    /// A provider-side filter stopped the answer.
    Refusal,
    Other,
}

/// The one stream every provider's dialect is mapped to.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of the visible answer.
    TextDelta(String),
    /// A piece of reasoning.
    ThinkingDelta(String),
    /// Anthropic's signature for the thinking block that just ended.
    ThinkingSignature(String),
    /// A complete tool call: clients assemble argument deltas themselves.
    ToolCall(ToolCall),
    /// Token counts so far for this call (may arrive more than once; the last one wins).
    Usage(Usage),
    /// The last event of a successful stream.
    End(StopReason),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// How a provider call failed, classified so the loop knows whether to retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// Worth retrying: 429, 5xx, 529 (overloaded), a connection error, a dropped stream.
    #[error("{message}")]
    Transient {
        message: String,
        /// From the provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Retrying will not help: bad request, bad key, unknown model, context too long.
    #[error("{message}")]
    Permanent {
        status: Option<u16>,
        message: String,
    },
    /// The provider a model needs has no credentials on this server.
    #[error("{0}")]
    NotConfigured(String),
}

impl LlmError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

/// A model provider: streaming, with tool calls.
#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Starts a call. Errors before the first byte (HTTP status, connection) are returned
    /// here; errors mid-stream arrive as the stream's items, after which it ends.
    async fn stream(&self, request: Request) -> Result<EventStream, LlmError>;

    /// The models it offers, from its models endpoint.
    async fn list_models(&self) -> Result<Vec<String>, LlmError>;
}

/// The providers the server's operator configured (environment or `sigmic.toml`), built once.
/// Organizations' own connections are in `crate::models`.
#[derive(Clone)]
pub struct Providers {
    anthropic: Option<Arc<dyn Provider>>,
    openai: Option<Arc<dyn Provider>>,
    gemini: Option<Arc<dyn Provider>>,
    base_urls: [Option<String>; 3],
    default_model: Option<String>,
}

/// Timeouts every model client shares; callers add what they need (a guarded resolver).
pub fn client_builder(config: &LlmConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        // Between chunks, not for the whole answer: long answers stream for minutes.
        .read_timeout(Duration::from_secs(config.read_timeout_secs))
}

fn build_client(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, LlmError> {
    builder.build().map_err(|e| LlmError::Permanent {
        status: None,
        message: format!("cannot build the HTTP client: {e}"),
    })
}

/// A client of `kind`'s dialect at `base_url` (the provider's own when `None`). Anthropic and
/// Gemini want a key; an OpenAI-compatible server on a local network often wants none.
pub fn connect(
    kind: ProviderKind,
    http: reqwest::Client,
    api_key: Option<String>,
    base_url: Option<String>,
) -> Result<Arc<dyn Provider>, LlmError> {
    let api_key = api_key.filter(|k| !k.is_empty());
    let needs_key =
        || LlmError::NotConfigured(format!("The {} provider needs an API key.", kind.as_str()));
    Ok(match kind {
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(
            http,
            api_key.ok_or_else(needs_key)?,
            base_url,
        )),
        ProviderKind::OpenAi => Arc::new(openai::OpenAi::new(http, api_key, base_url)),
        ProviderKind::Gemini => Arc::new(gemini::Gemini::new(
            http,
            api_key.ok_or_else(needs_key)?,
            base_url,
        )),
    })
}

impl Providers {
    pub fn from_config(config: &LlmConfig) -> Result<Self, LlmError> {
        let http = build_client(client_builder(config))?;
        let build = |kind, key: &Option<String>, base: &Option<String>| {
            connect(kind, http.clone(), key.clone(), base.clone()).ok()
        };
        let anthropic = config.anthropic_api_key.as_ref().and_then(|_| {
            build(
                ProviderKind::Anthropic,
                &config.anthropic_api_key,
                &config.anthropic_base_url,
            )
        });
        // An OpenAI-compatible server on the local network often wants no key at all.
        let openai = (config.openai_api_key.is_some() || config.openai_base_url.is_some())
            .then(|| {
                build(
                    ProviderKind::OpenAi,
                    &config.openai_api_key,
                    &config.openai_base_url,
                )
            })
            .flatten();
        let gemini = config.gemini_api_key.as_ref().and_then(|_| {
            build(
                ProviderKind::Gemini,
                &config.gemini_api_key,
                &config.gemini_base_url,
            )
        });
        Ok(Self {
            anthropic,
            openai,
            gemini,
            base_urls: [
                config.anthropic_base_url.clone(),
                config.openai_base_url.clone(),
                config.gemini_base_url.clone(),
            ],
            default_model: config.default_model.clone(),
        })
    }

    /// Which providers have credentials, for start-up logs and readiness.
    pub fn configured(&self) -> Vec<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .filter(|k| self.get(*k).is_some())
            .collect()
    }

    /// The operator's client for `kind`, if they configured one.
    pub fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn Provider>> {
        match kind {
            ProviderKind::Anthropic => self.anthropic.as_ref(),
            ProviderKind::OpenAi => self.openai.as_ref(),
            ProviderKind::Gemini => self.gemini.as_ref(),
        }
    }

    /// Where the operator pointed `kind`, when not at the provider itself.
    pub fn base_url(&self, kind: ProviderKind) -> Option<&str> {
        let i = match kind {
            ProviderKind::Anthropic => 0,
            ProviderKind::OpenAi => 1,
            ProviderKind::Gemini => 2,
        };
        self.base_urls[i].as_deref()
    }

    /// `SIGMIC_DEFAULT_MODEL`: what a project without a model of its own uses.
    pub fn default_model(&self) -> Option<&str> {
        self.default_model
            .as_deref()
            .filter(|m| !m.trim().is_empty())
    }

    /// A client for organizations' connections: the operator's timeouts, and every address
    /// checked by `resolver` (an organization admin chooses the URL; the server connects).
    pub fn guarded_client(
        config: &LlmConfig,
        resolver: Arc<dyn reqwest::dns::Resolve>,
    ) -> Result<reqwest::Client, LlmError> {
        build_client(
            client_builder(config)
                .dns_resolver(resolver)
                // A proxy from the environment would connect to addresses never checked.
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none()),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn model_refs_parse_and_print() {
        let m: ModelRef = "anthropic/claude-sonnet-4-5".parse().unwrap();
        assert_eq!(m.provider, ProviderKind::Anthropic);
        assert_eq!(m.model, "claude-sonnet-4-5");
        let m: ModelRef = "openai/meta-llama/Llama-3.1-8B".parse().unwrap();
        assert_eq!(m.model, "meta-llama/Llama-3.1-8B");
        assert_eq!(m.to_string(), "openai/meta-llama/Llama-3.1-8B");
        for bad in ["claude", "mistral/x", "openai/", "openai/a b", ""] {
            assert!(bad.parse::<ModelRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn model_names_parse_and_print() {
        let m: ModelName = "Acme-OpenAI/gpt-4o".parse().unwrap();
        assert_eq!(m.connection, "acme-openai");
        assert_eq!(m.to_string(), "acme-openai/gpt-4o");
        let m: ModelName = "google/gemini-2.5-pro".parse().unwrap();
        assert_eq!(m.connection, "gemini");
        let m: ModelName = "router/meta-llama/llama-3.1-8b".parse().unwrap();
        assert_eq!(m.model, "meta-llama/llama-3.1-8b");
        for bad in [
            "claude",
            "1abc/x",
            "openai/",
            "openai/a b",
            "",
            "a.b/x",
            "/x",
        ] {
            assert!(bad.parse::<ModelName>().is_err(), "{bad}");
        }
    }
}
