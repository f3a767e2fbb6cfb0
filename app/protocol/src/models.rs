//! (extension) Model providers an organization connects (`/api/v1/organization/model-providers`)
//! and the models a project can use (`/api/v1/projects/{projectId}/models`).
//!
//! A model is named `<connection>/<model id>`: the connection is an organization's named
//! provider (`acme-openai/gpt-4o`) or one the server's operator set in its environment
//! (`anthropic/…`, `openai/…`, `gemini/…`). An organization's connection wins a clash of names.

use serde::{Deserialize, Serialize};

/// The wire dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ModelProviderKind {
    /// Anthropic's Messages API.
    Anthropic,
    /// OpenAI Chat Completions, and every server that speaks it (OpenRouter, Ollama, vLLM,
    /// llama.cpp) at its `baseUrl`.
    Openai,
    /// Google's Gemini API.
    Gemini,
}

impl ModelProviderKind {
    pub const ALL: [Self; 3] = [Self::Anthropic, Self::Openai, Self::Gemini];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::Openai => "openai",
            Self::Gemini => "gemini",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Anthropic => "Anthropic",
            Self::Openai => "OpenAI-compatible",
            Self::Gemini => "Google Gemini",
        }
    }
}

/// Who set a connection up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionSource {
    /// An organization admin, in the Console or the API.
    Organization,
    /// The server's operator, in its environment: read-only here.
    Server,
}

/// What the last use of a connection said about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    /// Not tested since it was made or its key changed.
    #[default]
    Untested,
    /// Its last test or model call succeeded.
    Ok,
    /// Its provider refused it (401/403) or could not be reached: see `statusMessage`.
    Failing,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untested => "untested",
            Self::Ok => "ok",
            Self::Failing => "failing",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "ok" => Self::Ok,
            "failing" => Self::Failing,
            _ => Self::Untested,
        }
    }
}

/// `POST /api/v1/organization/model-providers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelProviderInput {
    /// How projects name it: the part before `/` of `<name>/<model id>`. 1–40 of `a-z`, `0-9`,
    /// `-` and `_`, starting with a letter.
    #[cfg_attr(feature = "openapi", schema(example = "acme-openai"))]
    pub name: String,
    pub kind: ModelProviderKind,
    /// The provider's API root: for `openai`, with its version path (`http://ollama:11434/v1`);
    /// for `anthropic` and `gemini`, the server root. The provider's own when left out.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Stored encrypted; never shown again. May be left out for an OpenAI-compatible server
    /// that wants none.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// `PATCH /api/v1/organization/model-providers/{id}`: what is left out stays.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelProviderUpdate {
    #[serde(default)]
    pub name: Option<String>,
    /// `""` goes back to the provider's own.
    #[serde(default)]
    pub base_url: Option<String>,
    /// A new key; `""` removes it.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// A connection to a model provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelProvider {
    /// `server-<kind>` for the operator's.
    pub id: String,
    pub name: String,
    pub kind: ModelProviderKind,
    pub source: ConnectionSource,
    /// What it is reached at; the provider's own when null.
    pub base_url: Option<String>,
    /// Whether a key is set (its value is never returned).
    pub has_api_key: bool,
    pub status: ConnectionStatus,
    /// The provider's words when it failed.
    pub status_message: Option<String>,
    pub checked_at: Option<String>,
    /// The models its last successful test listed.
    pub models: Vec<String>,
    /// An organization connection of the same name hides a server one.
    pub shadowed: bool,
    pub created_at: Option<String>,
}

/// `POST /api/v1/organization/model-providers/{id}/test`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelProviderTest {
    pub ok: bool,
    /// The models it offers (its models endpoint), sorted.
    pub models: Vec<String>,
    /// Why it failed, in the provider's words where it gave any.
    pub message: Option<String>,
    pub elapsed_ms: u64,
    pub provider: ModelProvider,
}

/// A model a project can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelChoice {
    /// `<connection>/<model id>`, what settings and tasks name.
    pub name: String,
    pub connection: String,
    pub source: ConnectionSource,
}

/// `GET /api/v1/projects/{projectId}/models`: what the project's tasks run with, and what else
/// they could.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectModels {
    /// The model a new task would use: the project's, else the server's or organization's
    /// default. Null when there is none.
    pub current: Option<String>,
    /// Whether `current` can be used: its connection exists and is not failing.
    pub usable: bool,
    /// What to fix when it cannot, in words.
    pub problem: Option<String>,
    /// The connection to fix, when one is failing.
    pub failing_connection: Option<String>,
    /// Everything the organization's and the server's connections offer.
    pub choices: Vec<ModelChoice>,
    /// Whether a person may pick another model for a new conversation.
    pub allow_model_choice: bool,
    /// Whether the caller can connect providers (an organization admin).
    pub can_connect: bool,
}
