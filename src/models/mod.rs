//! Which model a task runs with, and through which connection. A model is named
//! `<connection>/<model id>`; the connection is one an organization made (its key sealed in
//! the store) or one the server's operator configured (`anthropic`, `openai`, `gemini`). The
//! organization's wins a clash of names, so an organization can bring its own key for a
//! provider the operator also offers.
//!
//! Connections an organization made are reached through a client whose every address is
//! checked by the guard (an organization admin picks the URL, the server connects), and are
//! marked failing when their provider refuses them, so the Console can say which to fix.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use protocol::ConnectionStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::config::LlmConfig;
use crate::egress::{AddressGuard, GuardedResolver};
use crate::llm::{self, LlmError, ModelName, ModelRef, Provider, ProviderKind, Providers};
use crate::store::Db;
use crate::store::entities::model_provider;
use crate::vault::Vault;

/// The connection a model is reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// The operator's, from the server's environment.
    Server(ProviderKind),
    /// An organization's row.
    Organization {
        id: String,
        name: String,
        /// Whether its last test or call succeeded.
        ok: bool,
    },
}

impl Connection {
    /// Whether nothing needs recording after a successful call.
    pub fn known_ok(&self) -> bool {
        match self {
            Self::Server(_) => true,
            Self::Organization { ok, .. } => *ok,
        }
    }

    /// What a task says when the provider refused the connection's credentials (401/403):
    /// which connection, and who can fix it. `None` for other failures.
    pub fn refusal(&self, error: &LlmError) -> Option<String> {
        if !matches!(
            error,
            LlmError::Permanent {
                status: Some(401 | 403),
                ..
            }
        ) {
            return None;
        }
        Some(match self {
            Self::Organization { name, .. } => format!(
                "The model connection `{name}` was refused by its provider ({error}). An organization admin can fix its API key under Organization → Model providers."
            ),
            Self::Server(kind) => format!(
                "The server's `{}` connection was refused by its provider ({error}). The server's operator can fix its key ({}).",
                kind.as_str(),
                env_var(*kind)
            ),
        })
    }
}

/// A model ready to call.
#[derive(Clone)]
pub struct Resolved {
    pub name: ModelName,
    /// The dialect and model id, for prices and context windows.
    pub model: ModelRef,
    pub provider: Arc<dyn Provider>,
    pub connection: Connection,
}

/// Why a project's model cannot be used, in words that say what to fix and who can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// No model anywhere: neither the project, the organization nor the server names one.
    #[error(
        "No model is set up yet. An organization admin can connect a model provider in the Console (Organization → Model providers) and pick the project's model under Settings → Model; the server's operator can also give the server a provider (ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL, GEMINI_API_KEY)."
    )]
    NoModel,
    #[error("{0}")]
    BadName(String),
    #[error(
        "The model `{name}` names the connection `{connection}`, which this organization does not have. An organization admin can connect it under Organization → Model providers, or a project admin can pick another model under Settings → Model."
    )]
    UnknownConnection { name: String, connection: String },
    #[error(
        "The model `{name}` needs the server's `{connection}` provider, which its operator has not set up ({var}), and this organization has no connection of that name. An organization admin can connect one under Organization → Model providers, or a project admin can pick another model under Settings → Model."
    )]
    ServerProviderMissing {
        name: String,
        connection: String,
        var: &'static str,
    },
    #[error(
        "The model connection `{connection}` cannot be used: {reason}. An organization admin can fix it under Organization → Model providers."
    )]
    Broken { connection: String, reason: String },
}

pub struct ModelCatalog {
    db: Db,
    vault: Vault,
    server: Providers,
    /// Organizations' connections go through this one: every address checked.
    guarded: reqwest::Client,
    resolver: GuardedResolver,
    /// What the operator's providers offer, asked when first needed and kept a while: a page
    /// listing models must not wait on a provider every time.
    server_models: tokio::sync::Mutex<HashMap<ProviderKind, (Instant, Vec<String>)>>,
}

/// How long a server provider's model list is kept; a failed listing is asked again sooner.
const SERVER_MODELS_TTL: Duration = Duration::from_secs(600);
const SERVER_MODELS_RETRY: Duration = Duration::from_secs(60);
const SERVER_MODELS_WAIT: Duration = Duration::from_secs(5);

impl ModelCatalog {
    pub fn new(
        db: Db,
        vault: Vault,
        server: Providers,
        config: &LlmConfig,
        guard: AddressGuard,
    ) -> Result<Self, LlmError> {
        let resolver = GuardedResolver::new(guard);
        let guarded = Providers::guarded_client(config, Arc::new(resolver.clone()))?;
        Ok(Self {
            db,
            vault,
            server,
            guarded,
            resolver,
            server_models: Default::default(),
        })
    }

    pub fn server(&self) -> &Providers {
        &self.server
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// What the operator's `kind` provider offers (empty when it cannot say).
    pub async fn server_models(&self, kind: ProviderKind) -> Vec<String> {
        if let Some((at, models)) = self.server_models.lock().await.get(&kind) {
            let ttl = if models.is_empty() {
                SERVER_MODELS_RETRY
            } else {
                SERVER_MODELS_TTL
            };
            if at.elapsed() < ttl {
                return models.clone();
            }
        }
        self.refresh_server_models(kind, SERVER_MODELS_WAIT)
            .await
            .unwrap_or_default()
    }

    /// Asks the operator's `kind` provider for its models now.
    pub async fn refresh_server_models(
        &self,
        kind: ProviderKind,
        wait: Duration,
    ) -> Result<Vec<String>, String> {
        let provider = self
            .server
            .get(kind)
            .cloned()
            .ok_or_else(|| format!("The server has no {} provider.", kind.as_str()))?;
        let listed = match tokio::time::timeout(wait, provider.list_models()).await {
            Ok(Ok(models)) => Ok(models),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "The provider did not answer within {} seconds.",
                wait.as_secs()
            )),
        };
        self.server_models
            .lock()
            .await
            .insert(kind, (Instant::now(), listed.clone().unwrap_or_default()));
        listed
    }

    /// The model a task of `org_id` runs with when it (or its project) names `named`: that
    /// one, else the server's default, else the organization's first connection's usual model,
    /// else the first of the server's providers' usual model.
    ///
    /// With `look_up`, an organization connection's host is looked up and checked with its
    /// port now (as a run does before it calls); without, only an address in its URL is (a
    /// page that asks which model a project uses never waits on DNS).
    pub async fn resolve(
        &self,
        org_id: &str,
        named: Option<&str>,
        look_up: bool,
    ) -> Result<Resolved, Unusable> {
        let connections = self.connections(org_id).await?;
        let name = match named.filter(|n| !n.trim().is_empty()) {
            Some(n) => n
                .parse::<ModelName>()
                .map_err(|e| Unusable::BadName(e.to_string()))?,
            None => self.default_name(&connections)?,
        };
        if let Some(row) = connections.iter().find(|c| c.name == name.connection) {
            return self.open(row, name, look_up).await;
        }
        let kind = ProviderKind::from_name(&name.connection);
        match kind.and_then(|k| self.server.get(k).map(|p| (k, p.clone()))) {
            Some((kind, provider)) => Ok(Resolved {
                model: ModelRef {
                    provider: kind,
                    model: name.model.clone(),
                },
                name,
                provider,
                connection: Connection::Server(kind),
            }),
            None => match kind {
                Some(kind) => Err(Unusable::ServerProviderMissing {
                    name: name.to_string(),
                    connection: name.connection,
                    var: env_var(kind),
                }),
                None => Err(Unusable::UnknownConnection {
                    name: name.to_string(),
                    connection: name.connection,
                }),
            },
        }
    }

    /// An organization's connections, oldest first.
    pub async fn connections(&self, org_id: &str) -> Result<Vec<model_provider::Model>, Unusable> {
        model_provider::Entity::find()
            .filter(model_provider::Column::OrgId.eq(org_id))
            .order_by_asc(model_provider::Column::CreatedAt)
            .all(&self.db)
            .await
            .map_err(Unusable::from)
    }

    fn default_name(&self, connections: &[model_provider::Model]) -> Result<ModelName, Unusable> {
        if let Some(name) = self.server.default_model() {
            return name
                .parse::<ModelName>()
                .map_err(|e| Unusable::BadName(e.to_string()));
        }
        if let Some(row) = connections.first()
            && let Some(model) = usual_model(row)
        {
            return Ok(ModelName {
                connection: row.name.clone(),
                model,
            });
        }
        let kind = self
            .server
            .configured()
            .into_iter()
            .next()
            .ok_or(Unusable::NoModel)?;
        Ok(ModelName {
            connection: kind.as_str().to_owned(),
            model: llm::pricing::usual_model(kind).to_owned(),
        })
    }

    /// A client for an organization's connection, after checking where it points.
    async fn open(
        &self,
        row: &model_provider::Model,
        name: ModelName,
        look_up: bool,
    ) -> Result<Resolved, Unusable> {
        let broken = |reason: String| Unusable::Broken {
            connection: row.name.clone(),
            reason,
        };
        let (kind, provider) = self.client(row, look_up).await.map_err(broken)?;
        Ok(Resolved {
            model: ModelRef {
                provider: kind,
                model: name.model.clone(),
            },
            name,
            provider,
            connection: Connection::Organization {
                id: row.id.clone(),
                name: row.name.clone(),
                ok: row.status == ConnectionStatus::Ok.as_str(),
            },
        })
    }

    /// The provider client of an organization's connection: its key opened, its URL checked
    /// (its host looked up too with `resolve`, to say at once why it is refused).
    pub async fn client(
        &self,
        row: &model_provider::Model,
        resolve: bool,
    ) -> Result<(ProviderKind, Arc<dyn Provider>), String> {
        let kind = ProviderKind::from_name(&row.kind)
            .ok_or_else(|| format!("its kind `{}` is not known", row.kind))?;
        let key = match &row.api_key {
            Some(sealed) => {
                Some(open_key(&self.vault, &row.id, sealed).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let base = row
            .base_url
            .clone()
            .unwrap_or_else(|| default_base(kind).to_owned());
        self.resolver.check_url(&base, resolve).await?;
        let provider = llm::connect(kind, self.guarded.clone(), key, row.base_url.clone())
            .map_err(|e| e.to_string())?;
        Ok((kind, provider))
    }

    /// Records what a call through `connection` said about it. The operator's connections
    /// have no row: their failures are in the task's error and the server's log.
    pub async fn record(&self, connection: &Connection, outcome: Result<(), &str>) {
        let Connection::Organization { id, .. } = connection else {
            return;
        };
        let (status, message) = match outcome {
            Ok(()) => (ConnectionStatus::Ok, None),
            Err(m) => (ConnectionStatus::Failing, Some(m.to_owned())),
        };
        let result = model_provider::Entity::update_many()
            .col_expr(model_provider::Column::Status, Expr::value(status.as_str()))
            .col_expr(model_provider::Column::StatusMessage, Expr::value(message))
            .col_expr(model_provider::Column::CheckedAt, Expr::value(Utc::now()))
            .filter(model_provider::Column::Id.eq(id.as_str()))
            // Only a change is written: a healthy connection's calls cost no write.
            .filter(model_provider::Column::Status.ne(status.as_str()))
            .exec(&self.db)
            .await;
        if let Err(e) = result {
            tracing::warn!(connection = %id, error = %e, "could not record a model connection's state");
        }
    }
}

impl From<sea_orm::DbErr> for Unusable {
    fn from(e: sea_orm::DbErr) -> Self {
        Unusable::Broken {
            connection: "(any)".to_owned(),
            reason: format!("the store could not be read ({e})"),
        }
    }
}

/// The operator's variable that gives the server `kind`'s provider.
fn env_var(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        ProviderKind::OpenAi => "OPENAI_API_KEY or OPENAI_BASE_URL",
        ProviderKind::Gemini => "GEMINI_API_KEY",
    }
}

/// Where a provider is reached when its connection names no URL (for the address check).
pub fn default_base(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Anthropic => "https://api.anthropic.com",
        ProviderKind::OpenAi => "https://api.openai.com/v1",
        ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
    }
}

/// What the vault seals a connection's key for: a key copied into another row does not open.
pub fn key_owner(id: &str) -> String {
    format!("model-provider:{id}")
}

pub fn open_key(vault: &Vault, id: &str, sealed: &str) -> Result<String, crate::vault::VaultError> {
    let bytes = vault.open(&key_owner(id), sealed)?;
    String::from_utf8(bytes).map_err(|_| crate::vault::VaultError::Open)
}

/// The model ids a connection's last test found.
pub fn listed_models(row: &model_provider::Model) -> Vec<String> {
    serde_json::from_str(&row.models).unwrap_or_default()
}

/// The model a connection serves when a project names none: the provider's usual one, or
/// for a self-hosted OpenAI-compatible server, the first its test listed.
fn usual_model(row: &model_provider::Model) -> Option<String> {
    let kind = ProviderKind::from_name(&row.kind)?;
    let listed = listed_models(row);
    let usual = llm::pricing::usual_model(kind);
    if listed.is_empty() && (kind != ProviderKind::OpenAi || row.base_url.is_none()) {
        return Some(usual.to_owned());
    }
    if listed.iter().any(|m| m == usual) {
        return Some(usual.to_owned());
    }
    listed.into_iter().next()
}
