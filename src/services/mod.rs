//! The rules of the platform. HTTP handlers and the Console's server functions both call these,
//! so a permission or a limit lives in exactly one place.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod budgets;
mod config_diff;
pub mod conversations;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod mcp_servers;
pub mod model_providers;
pub mod orgs;
pub mod policies;
pub mod project_config;
pub mod project_secrets;
pub mod projects;
pub mod prompts;
pub mod schedules;
pub mod skills;
pub mod subagents;
pub mod tasks;
pub mod usage;
mod validate;
pub mod widget_apps;
mod widget_tokens;

use std::sync::Arc;

use crate::config::Config;
use crate::mcp::client::Connector;
use crate::store::Db;
use crate::vault::Vault;

#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    config: Arc<Config>,
    vault: Vault,
    mcp: Connector,
    /// Model connections: the operator's and organizations'.
    models: Arc<crate::models::ModelCatalog>,
    /// Where "Test connection" starts a local MCP server: a throwaway sandbox. Set once the
    /// server has its sandboxes (a CLI command has none).
    sandboxes: std::sync::OnceLock<Arc<crate::sandbox::manager::SandboxManager>>,
    limits: limits::LoginLimits,
    mailer: Option<mail::Mailer>,
    /// A hash to verify unknown emails against, so log-in timing does not reveal accounts.
    dummy_hash: tokio::sync::OnceCell<String>,
    /// Whose access just shrank (a person's id): open streams of theirs check they may still
    /// see their task, instead of every stream polling the store.
    access_changes: tokio::sync::broadcast::Sender<String>,
    widget: widget_tokens::WidgetState,
}

impl Services {
    pub fn new(
        db: Db,
        config: Arc<Config>,
        vault: Vault,
        mcp: Connector,
        models: Arc<crate::models::ModelCatalog>,
        signer: Option<crate::widget::token::TokenSigner>,
    ) -> Result<Self, mail::MailError> {
        let mailer = match &config.smtp {
            Some(smtp) => Some(mail::Mailer::new(smtp)?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                limits: limits::LoginLimits::new(&config.auth),
                widget: widget_tokens::WidgetState::new(
                    signer,
                    config.auth.widget_token_exchanges_per_app_per_minute,
                ),
                db,
                config,
                vault,
                mcp,
                models,
                sandboxes: std::sync::OnceLock::new(),
                mailer,
                dummy_hash: tokio::sync::OnceCell::new(),
                access_changes: tokio::sync::broadcast::channel(256).0,
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn widget(&self) -> &widget_tokens::WidgetState {
        &self.inner.widget
    }

    /// Encrypts and decrypts what is stored secret (see `crate::vault`).
    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// Which model a project's tasks use, through which connection.
    pub fn models(&self) -> &Arc<crate::models::ModelCatalog> {
        &self.inner.models
    }

    /// Gives the services the server's sandboxes (for testing local MCP servers).
    pub fn use_sandboxes(&self, sandboxes: Arc<crate::sandbox::manager::SandboxManager>) {
        let _ = self.inner.sandboxes.set(sandboxes);
    }

    pub(crate) fn sandboxes(&self) -> Option<&Arc<crate::sandbox::manager::SandboxManager>> {
        self.inner.sandboxes.get()
    }

    /// Connects to MCP servers under the deployment's address rules.
    pub fn mcp_connector(&self) -> &Connector {
        &self.inner.mcp
    }

    /// Says that what `user_id` (or keys they created) may reach just shrank.
    fn access_changed(&self, user_id: &str) {
        // No receiver means no open stream: nothing to tell.
        let _ = self.inner.access_changes.send(user_id.to_owned());
    }

    /// Ids of people whose access shrank, from now on.
    pub fn access_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.inner.access_changes.subscribe()
    }
}

pub use crate::ids::new_id;

pub(crate) use crate::rfc3339::ts;
