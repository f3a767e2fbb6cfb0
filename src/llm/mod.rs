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
}

/// The providers this server has credentials for, built once from the configuration.
#[derive(Clone)]
pub struct Providers {
    anthropic: Option<Arc<dyn Provider>>,
    openai: Option<Arc<dyn Provider>>,
    gemini: Option<Arc<dyn Provider>>,
    default_model: Option<String>,
}

impl Providers {
    pub fn from_config(config: &LlmConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            // Between chunks, not for the whole answer: long answers stream for minutes.
            .read_timeout(Duration::from_secs(config.read_timeout_secs))
            .build()
            .map_err(|e| LlmError::Permanent {
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let anthropic = config.anthropic_api_key.as_ref().map(|key| {
            Arc::new(anthropic::Anthropic::new(
                http.clone(),
                key.clone(),
                config.anthropic_base_url.clone(),
            )) as Arc<dyn Provider>
        });
        // An OpenAI-compatible server on the local network often wants no key at all.
        let openai =
            (config.openai_api_key.is_some() || config.openai_base_url.is_some()).then(|| {
                Arc::new(openai::OpenAi::new(
                    http.clone(),
                    config.openai_api_key.clone(),
                    config.openai_base_url.clone(),
                )) as Arc<dyn Provider>
            });
        let gemini = config.gemini_api_key.as_ref().map(|key| {
            Arc::new(gemini::Gemini::new(
                http.clone(),
                key.clone(),
                config.gemini_base_url.clone(),
            )) as Arc<dyn Provider>
        });
        Ok(Self {
            anthropic,
            openai,
            gemini,
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

    fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn Provider>> {
        match kind {
            ProviderKind::Anthropic => self.anthropic.as_ref(),
            ProviderKind::OpenAi => self.openai.as_ref(),
            ProviderKind::Gemini => self.gemini.as_ref(),
        }
    }

    /// The model a task uses: the project's, else the server's default, else the first
    /// configured provider's usual model.
    pub fn choose(&self, project_model: Option<&str>) -> Result<ModelRef, LlmError> {
        let named = project_model
            .filter(|m| !m.trim().is_empty())
            .or(self.default_model.as_deref());
        if let Some(name) = named {
            return name
                .parse::<ModelRef>()
                .map_err(|e| LlmError::NotConfigured(e.to_string()));
        }
        let kind = self
            .configured()
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::NotConfigured(NOT_CONFIGURED.to_owned()))?;
        Ok(ModelRef {
            provider: kind,
            model: pricing::usual_model(kind).to_owned(),
        })
    }

    /// The provider for a model, or an error that says what to configure.
    pub fn provider(&self, model: &ModelRef) -> Result<Arc<dyn Provider>, LlmError> {
        self.get(model.provider).cloned().ok_or_else(|| {
            let var = match model.provider {
                ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
                ProviderKind::OpenAi => "OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server)",
                ProviderKind::Gemini => "GEMINI_API_KEY",
            };
            LlmError::NotConfigured(format!(
                "The model `{model}` needs the {} provider, which is not configured on this server. Set {var} in the server's environment and restart it, or choose another model in the project's settings.",
                model.provider.as_str()
            ))
        })
    }
}

const NOT_CONFIGURED: &str = "No model provider is configured on this server. Set ANTHROPIC_API_KEY, OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server such as Ollama or vLLM) or GEMINI_API_KEY in the server's environment and restart it; SIGMIC_DEFAULT_MODEL (e.g. `anthropic/claude-sonnet-4-5`) picks the default model.";

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
    fn nothing_configured_says_what_to_set() {
        let p = Providers::from_config(&LlmConfig::default()).unwrap();
        let err = p.choose(None).unwrap_err();
        assert!(err.to_string().contains("ANTHROPIC_API_KEY"), "{err}");
        let m = p.choose(Some("gemini/gemini-2.5-pro")).unwrap();
        let err = p.provider(&m).err().unwrap();
        assert!(err.to_string().contains("GEMINI_API_KEY"), "{err}");
    }
}
