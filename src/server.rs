//! Starting and stopping the server: open the database (migrating it), build the services and
//! the router, bind, serve until asked to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::http::AppState;
use crate::runtime::Runtime;
use crate::sandbox::manager::SandboxManager;
use crate::scheduler::Scheduler;
use crate::services::Services;
use crate::services::tasks::TaskService;
use crate::store;
use crate::widget::token::TokenSigner;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("SMTP: {0}")]
    Mail(#[from] crate::services::mail::MailError),
    #[error("sandbox: {0}")]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("model providers: {0}")]
    Llm(#[from] crate::llm::LlmError),
    #[error("web tools: {0}")]
    Web(#[from] crate::web::WebError),
    #[error("secrets at rest: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("MCP client: {0}")]
    Mcp(#[from] crate::mcp::client::McpError),
    #[error("widget tokens: {0}")]
    Token(#[from] crate::widget::token::TokenError),
}

/// How long running steps get to finish on shutdown before they are interrupted.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A server that is listening.
pub struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    sandboxes: Arc<SandboxManager>,
    reaper: JoinHandle<()>,
    runtime: Arc<Runtime>,
    workers: JoinHandle<()>,
    schedules: CancellationToken,
    scheduler: JoinHandle<()>,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Stops taking work and connections: running tasks finish the step they are in and are
    /// handed back for the next start; open streams end; in-flight requests complete.
    pub async fn shutdown(self) {
        // No new scheduled runs while the running ones are handed back.
        self.schedules.cancel();
        let _ = self.scheduler.await;
        self.runtime.shutdown(SHUTDOWN_GRACE).await;
        self.workers.abort();
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.reaper.abort();
        self.sandboxes.shutdown().await;
    }

    /// Serves until the process is asked to stop (Ctrl-C or SIGTERM).
    pub async fn until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// Opens the database for commands that do not serve (CLI).
pub async fn open(config: &Config) -> Result<Services, StartError> {
    config.ensure_data_dir()?;
    let db = store::connect(&config.database_url()).await?;
    // The data dir is passable by the sandbox user (to reach workspaces); the database in it
    // is the server's alone.
    if config.database_url.is_none() {
        use std::os::unix::fs::PermissionsExt;
        for name in ["sigmic.db", "sigmic.db-wal", "sigmic.db-shm"] {
            let path = config.data_dir.join(name);
            if path.exists() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                    |source| ConfigError::DataDir {
                        path: path.clone(),
                        source,
                    },
                )?;
            }
        }
    }
    let vault = crate::vault::Vault::new(&config.encryption_key()?)?;
    let mcp = crate::mcp::client::Connector::new(crate::egress::AddressGuard::new(
        config.mcp.allow_private_addresses,
        crate::egress::OwnAddresses::from_config(config),
    ))?;
    let signer = config
        .signing_key()?
        .map(|key| TokenSigner::new(&key))
        .transpose()?;
    if signer.is_none() {
        tracing::warn!("no signing key: widget tokens are not issued (auth.signing_key_file)");
    }
    let models = crate::models::ModelCatalog::new(
        db.clone(),
        vault.clone(),
        crate::llm::Providers::from_config(&config.llm)?,
        &config.llm,
        crate::egress::AddressGuard::new(
            config.llm.allow_private_addresses,
            crate::egress::OwnAddresses::from_config(config),
        ),
    )?;
    Ok(Services::new(
        db,
        Arc::new(config.clone()),
        vault,
        mcp,
        Arc::new(models),
        signer,
    )?)
}

pub async fn start(config: Config) -> Result<Running, StartError> {
    config.ensure_data_dir()?;
    let services = open(&config).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let site = crate::site::Site::locate(&config);
    let leptos_options = site.leptos_options(addr);
    // Checked before serving: a server that cannot isolate says so now, and refuses tasks.
    let sandboxes = SandboxManager::with_guard(
        config.sandbox.clone(),
        &config.data_dir,
        crate::egress::AddressGuard::from_config(&config),
    )
    .await?;
    services.use_sandboxes(Arc::clone(&sandboxes));
    let sandbox_status = match sandboxes.unavailable() {
        None => "bubblewrap".to_owned(),
        Some(reason) => format!("UNAVAILABLE ({reason})"),
    };
    let reaper = sandboxes.spawn_reaper();
    {
        let pool = Arc::clone(&sandboxes);
        tokio::spawn(async move { pool.fill_pool().await });
    }
    let configured: Vec<&str> = services
        .models()
        .server()
        .configured()
        .iter()
        .map(|k| k.as_str())
        .collect();
    let web = Arc::new(crate::web::Web::from_config(&config)?);
    let runtime = Runtime::new(
        services.db().clone(),
        Arc::new(config.clone()),
        Arc::clone(&sandboxes),
        Arc::clone(services.models()),
        web,
        crate::mcp::McpAccess {
            vault: services.vault().clone(),
            connector: services.mcp_connector().clone(),
        },
        node_name(addr),
    );
    let workers = runtime.start();
    let tasks = TaskService::new(services.clone(), Arc::clone(&runtime));
    let schedules = CancellationToken::new();
    let scheduler = Scheduler::new(tasks.clone()).spawn(schedules.clone());
    let state = AppState {
        tasks,
        sandboxes: Arc::clone(&sandboxes),
        services: services.clone(),
        leptos_options,
        openapi_json: Arc::new(crate::routes::openapi_document()),
    };
    let router = crate::routes::build(state);
    tracing::info!(
        "Sigmic listening on http://{addr} (database: {} at {}, sandbox: {sandbox_status}, models: {}, data dir: {}, site: {})",
        store::backend_name(services.db()),
        config.database_url_for_log(),
        if configured.is_empty() {
            "none configured".to_owned()
        } else {
            configured.join(", ")
        },
        config.data_dir.display(),
        site.root.display(),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Streams write small frames one after another: without TCP_NODELAY, Nagle holds
        // each behind the client's delayed ACK (40 ms per event).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(Running {
        addr,
        stop,
        task,
        sandboxes,
        reaper,
        runtime,
        workers,
        schedules,
        scheduler,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// This process in the task queue: host and port, the same after a restart.
fn node_name(addr: SocketAddr) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", addr.port())
}
