//! One typed configuration, read from an optional `sigmic.toml` and then the environment
//! (`SIGMIC_…`, plus the conventional `DATABASE_URL`). Every field has a default that runs on
//! one machine with nothing else installed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read or create the key {path}: {source}")]
    Key {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where `serve` listens.
    pub addr: SocketAddr,
    /// Holds the SQLite database, the signing key and (later) workspaces.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; a SQLite file in the data dir when unset.
    pub database_url: Option<String>,
    /// The address people reach Sigmic at, used in links (invitations). Derived from `addr`
    /// when unset.
    pub public_url: Option<String>,
    /// Secure cookies; turn on behind TLS.
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` for the client address (only behind a proxy you run).
    pub trust_proxy: bool,
    /// Where the built site (hydrate WASM, CSS, assets) lives; found next to the binary or
    /// in the build's output when unset.
    pub site_root: Option<PathBuf>,
    pub auth: AuthConfig,
    pub smtp: Option<SmtpConfig>,
    pub sandbox: SandboxConfig,
    pub uploads: UploadsConfig,
    pub web: WebConfig,
    pub mcp: McpConfig,
    pub llm: LlmConfig,
    pub tasks: TasksConfig,
    pub schedules: SchedulesConfig,
}

/// Model providers. The usual environment variables fill these: `ANTHROPIC_API_KEY`,
/// `ANTHROPIC_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `GEMINI_API_KEY`,
/// `GEMINI_BASE_URL`, and `SIGMIC_DEFAULT_MODEL`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// `provider/model` used when a project names none, e.g. `anthropic/claude-sonnet-4-5`.
    pub default_model: Option<String>,
    pub anthropic_api_key: Option<String>,
    pub anthropic_base_url: Option<String>,
    pub openai_api_key: Option<String>,
    /// An OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenRouter): `http://host:11434/v1`.
    pub openai_base_url: Option<String>,
    pub gemini_api_key: Option<String>,
    pub gemini_base_url: Option<String>,
    /// Let organizations' model connections be on loopback, private and link-local addresses
    /// (a model server on the local network, such as Ollama). Off: only internet addresses.
    /// Cloud metadata addresses are refused either way; the operator's own providers above
    /// are not checked.
    pub allow_private_addresses: bool,
    pub connect_timeout_secs: u64,
    /// Longest silence between two chunks of a streamed answer.
    pub read_timeout_secs: u64,
    /// Output tokens asked for per model call.
    pub max_output_tokens: u32,
}

// Keys are secrets: never in logs or debug output.
impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |k: &Option<String>| if k.is_some() { "set" } else { "unset" };
        f.debug_struct("LlmConfig")
            .field("default_model", &self.default_model)
            .field("anthropic_api_key", &set(&self.anthropic_api_key))
            .field("anthropic_base_url", &self.anthropic_base_url)
            .field("openai_api_key", &set(&self.openai_api_key))
            .field("openai_base_url", &self.openai_base_url)
            .field("gemini_api_key", &set(&self.gemini_api_key))
            .field("gemini_base_url", &self.gemini_base_url)
            .field("allow_private_addresses", &self.allow_private_addresses)
            .finish_non_exhaustive()
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            default_model: None,
            anthropic_api_key: None,
            anthropic_base_url: None,
            openai_api_key: None,
            openai_base_url: None,
            gemini_api_key: None,
            gemini_base_url: None,
            allow_private_addresses: false,
            connect_timeout_secs: 10,
            read_timeout_secs: 300,
            max_output_tokens: 8192,
        }
    }
}

/// How tasks run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TasksConfig {
    /// Tasks this process works on at once; more wait, `pending`, in the queue.
    pub max_concurrent: usize,
    /// Tasks of one project running at once across all workers (0: no bound beyond
    /// `max_concurrent`). Projects take turns in the queue either way.
    pub max_concurrent_per_project: usize,
    /// Model calls per task run before it stops with an error.
    pub max_turns: u32,
    /// Wall time of one run of a task (from its start or follow-up to its end).
    pub max_run_secs: u64,
    /// The context window assumed for models whose window is not known.
    pub context_window_tokens: u64,
    /// Retries of a transient model error (429, 5xx, dropped stream) before the task fails.
    pub model_retries: u32,
    /// First retry delay; doubled each time, with jitter.
    pub retry_base_ms: u64,
    /// How long a worker's claim on a task lasts without being renewed. After a crash, another
    /// worker (or this one, restarted) takes the task over when it runs out.
    pub lease_secs: u64,
    /// How often workers look for claimable tasks besides being woken.
    pub poll_interval_ms: u64,
    /// Streamed text is written to the event log at most this often per task.
    pub coalesce_ms: u64,
    /// Seconds between `:heartbeat` comments on a stream.
    pub heartbeat_secs: u64,
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 16,
            max_concurrent_per_project: 0,
            max_turns: 100,
            max_run_secs: 60 * 60,
            context_window_tokens: 128_000,
            model_retries: 5,
            retry_base_ms: 1000,
            lease_secs: 30,
            poll_interval_ms: 1000,
            coalesce_ms: 50,
            heartbeat_secs: 15,
        }
    }
}

/// Scheduled tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulesConfig {
    /// How often each process looks for schedules that are due.
    pub tick_ms: u64,
    /// A time fired later than this after it was due counts as missed (the server was
    /// down), and a schedule that skips missed runs skips it.
    pub missed_after_secs: u64,
    /// A schedule pauses itself after this many failed runs in a row.
    pub pause_after_failures: u32,
    /// Schedules per project.
    pub max_per_project: usize,
    /// Accept a sixth, leading seconds field (`*/10 * * * * *`). Off: schedules fire at most
    /// once a minute.
    pub allow_seconds: bool,
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        Self {
            tick_ms: 1000,
            missed_after_secs: 60,
            pause_after_failures: 5,
            max_per_project: 50,
            allow_seconds: false,
        }
    }
}

/// Commands always run under bubblewrap: there is no unisolated mode to configure by mistake.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Wall time per command.
    pub command_timeout_secs: u64,
    /// Memory of all processes of one sandbox together.
    pub memory_mb: u64,
    /// Processes (and threads) alive at once in one sandbox.
    pub max_processes: u64,
    /// Largest single file a command may write.
    pub max_file_size_mb: u64,
    /// Total size of a workspace; a command that grows it past this is reported.
    pub max_workspace_mb: u64,
    /// Output kept per stream per command; the rest is cut with a note.
    pub max_output_bytes: usize,
    /// A sandbox with no command for this long ends its processes (the workspace stays).
    pub idle_timeout_secs: u64,
    /// Sandboxes started ahead of time, so a task's first command does not wait for one.
    pub warm_pool: usize,
    /// The `sigmic` binary bubblewrap starts as each sandbox's supervisor; this very program
    /// when unset. (Tests that embed the server name the built binary here.)
    pub supervisor: Option<PathBuf>,
    /// Limit memory and processes with cgroups (v1, or a delegated v2 subtree) where this
    /// host lets the server make them; off, or where it cannot, rlimits are the limits.
    pub cgroups: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    pub max_files: usize,
    pub max_file_bytes: u64,
    /// Bounds on what one `.zip` may extract to (zip bombs).
    pub max_zip_entries: usize,
    pub max_extracted_bytes: u64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Let `web_fetch` reach loopback, private and link-local addresses (off: SSRF guard).
    pub allow_private_addresses: bool,
    /// A SearXNG instance for `web_search` (its JSON API must be enabled).
    pub searxng_url: Option<String>,
    /// A Brave Search API key for `web_search`.
    pub brave_api_key: Option<String>,
    pub fetch_max_bytes: u64,
    pub fetch_timeout_secs: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            command_timeout_secs: 300,
            memory_mb: 2048,
            max_processes: 512,
            max_file_size_mb: 1024,
            max_workspace_mb: 10 * 1024,
            max_output_bytes: 64 * 1024,
            idle_timeout_secs: 15 * 60,
            warm_pool: 2,
            supervisor: None,
            cgroups: true,
        }
    }
}

/// Connections to projects' MCP servers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Let remote MCP servers be on loopback, private and link-local addresses (off: only
    /// internet addresses). Cloud metadata addresses are refused either way.
    pub allow_private_addresses: bool,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            max_files: 20,
            max_file_bytes: 50 * 1024 * 1024,
            max_zip_entries: 10_000,
            max_extracted_bytes: 1024 * 1024 * 1024,
        }
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            searxng_url: None,
            brave_api_key: None,
            fetch_max_bytes: 5 * 1024 * 1024,
            fetch_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub session_ttl_hours: u64,
    pub invitation_ttl_hours: u64,
    /// Failed logins per account before it is locked for `lockout_minutes`.
    pub max_failed_logins_per_account: u32,
    pub lockout_minutes: u64,
    /// Login attempts per client address per minute.
    pub login_attempts_per_address_per_minute: u32,
    /// Accounts created per client address per hour (0: no limit).
    pub signups_per_address_per_hour: u32,
    /// Argon2id memory cost in KiB. Lower it only for tests.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Key used to sign tokens (widget JWTs). Generated into the data dir when unset; when
    /// set to a file that does not exist, no tokens are issued (`JWT_NOT_CONFIGURED`).
    pub signing_key_file: Option<PathBuf>,
    /// The longest a widget token may last (`expiresIn` beyond it is refused).
    pub widget_token_max_hours: u64,
    /// Token exchanges per widget app per minute, across its end users (0: no limit).
    pub widget_token_exchanges_per_app_per_minute: u32,
    /// Key that encrypts secrets stored in the database (MCP server headers and env).
    /// Generated into the data dir (`encryption.key`) when unset; keep it apart from database
    /// backups, and keep it: without it those values cannot be read back.
    pub encryption_key_file: Option<PathBuf>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtps://user:pass@host:465` or `smtp://host:587?tls=required`, as lettre reads them.
    pub url: String,
    pub from: String,
}

// The key and the mail password are secrets: never in logs or debug output.
impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("allow_private_addresses", &self.allow_private_addresses)
            .field("searxng_url", &self.searxng_url)
            .field(
                "brave_api_key",
                &if self.brave_api_key.is_some() {
                    "set"
                } else {
                    "unset"
                },
            )
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match url::Url::parse(&self.url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "(not a URL)".to_owned(),
        };
        f.debug_struct("SmtpConfig")
            .field("url", &url)
            .field("from", &self.from)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            public_url: None,
            secure_cookies: false,
            trust_proxy: false,
            site_root: None,
            auth: AuthConfig::default(),
            smtp: None,
            sandbox: SandboxConfig::default(),
            uploads: UploadsConfig::default(),
            web: WebConfig::default(),
            mcp: McpConfig::default(),
            llm: LlmConfig::default(),
            tasks: TasksConfig::default(),
            schedules: SchedulesConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 30,
            invitation_ttl_hours: 24 * 7,
            max_failed_logins_per_account: 10,
            lockout_minutes: 15,
            login_attempts_per_address_per_minute: 30,
            signups_per_address_per_hour: 20,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            signing_key_file: None,
            widget_token_max_hours: 24,
            widget_token_exchanges_per_app_per_minute: 600,
            encryption_key_file: None,
        }
    }
}

impl Config {
    /// Reads `sigmic.toml` (or the file named by `SIGMIC_CONFIG`) if present, then the
    /// environment: `SIGMIC_ADDR`, `SIGMIC_DATA_DIR`, `SIGMIC_AUTH__SESSION_TTL_HOURS`, …
    /// and `DATABASE_URL`.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("SIGMIC_CONFIG").unwrap_or_else(|_| "sigmic.toml".to_owned());
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(
                Env::prefixed("SIGMIC_")
                    .filter(|key| is_setting(key.as_str()))
                    .split("__"),
            )
            // The conventional unprefixed name; figment lower-cases it to the field's name.
            .merge(Env::raw().filter(|key| key == "database_url"))
            // Providers' own conventional names.
            .merge(
                Env::raw()
                    .filter_map(|key| {
                        PROVIDER_VARS
                            .iter()
                            .find(|(var, _)| key.as_str().eq_ignore_ascii_case(var))
                            .map(|(_, field)| format!("llm.{field}").into())
                    })
                    .split("."),
            )
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("sigmic.db").display()
            ),
        }
    }

    /// The database URL with any password masked, for logs.
    pub fn database_url_for_log(&self) -> String {
        let url = self.database_url();
        match url::Url::parse(&url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => url,
        }
    }

    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.addr),
        }
    }

    pub fn ensure_data_dir(&self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|source| ConfigError::DataDir {
            path: self.data_dir.clone(),
            source,
        })
    }

    /// The token-signing key: generated once into the data dir (mode 0600) so restarts keep
    /// issued tokens valid, or read from the configured file. `None` when the operator named
    /// a file that is not there: they chose not to issue widget tokens.
    pub fn signing_key(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let Some(path) = self.auth.signing_key_file.clone() else {
            let path = self.data_dir.join("signing.key");
            return load_or_create_key(&path)
                .map(Some)
                .map_err(|source| ConfigError::Key { path, source });
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => hex::decode(text.trim())
                .map(Some)
                .map_err(|e| ConfigError::Key {
                    path,
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Key { path, source }),
        }
    }
}

impl Config {
    /// The key that encrypts secrets at rest: from the configured file, or generated once
    /// into the data dir (mode 0600). Never in the database.
    pub fn encryption_key(&self) -> Result<Vec<u8>, ConfigError> {
        let path = self
            .auth
            .encryption_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("encryption.key"));
        load_or_create_key(&path).map_err(|source| ConfigError::Key { path, source })
    }
}

impl AuthConfig {
    pub fn session_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(
            i64::try_from(self.session_ttl_hours).unwrap_or(i64::MAX / 3_600_000),
        )
    }

    pub fn invitation_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(
            i64::try_from(self.invitation_ttl_hours).unwrap_or(i64::MAX / 3_600_000),
        )
    }

    pub fn lockout(&self) -> Duration {
        Duration::from_secs(self.lockout_minutes.saturating_mul(60))
    }
}

/// The top-level settings `SIGMIC_…` variables may name. Other `SIGMIC_…` variables (a test
/// harness's, say) are not settings and are left alone, while a typo in `sigmic.toml` is still
/// an error.
/// Environment variables read under their providers' usual names, and the field they fill.
const PROVIDER_VARS: [(&str, &str); 7] = [
    ("ANTHROPIC_API_KEY", "anthropic_api_key"),
    ("ANTHROPIC_BASE_URL", "anthropic_base_url"),
    ("OPENAI_API_KEY", "openai_api_key"),
    ("OPENAI_BASE_URL", "openai_base_url"),
    ("GEMINI_API_KEY", "gemini_api_key"),
    ("GEMINI_BASE_URL", "gemini_base_url"),
    ("SIGMIC_DEFAULT_MODEL", "default_model"),
];

const SETTINGS: [&str; 16] = [
    "addr",
    "data_dir",
    "database_url",
    "public_url",
    "secure_cookies",
    "trust_proxy",
    "site_root",
    "auth",
    "smtp",
    "sandbox",
    "uploads",
    "web",
    "mcp",
    "llm",
    "tasks",
    "schedules",
];

fn is_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let top = key.split("__").next().unwrap_or_default();
    let top = top.split('.').next().unwrap_or_default();
    SETTINGS.contains(&top)
}

fn load_or_create_key(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            getrandom::fill(&mut key).map_err(std::io::Error::other)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            write_private(path, hex::encode(&key).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let config = Config {
            smtp: Some(SmtpConfig {
                url: "smtps://mailer:mail-pass-771@smtp.example.com:465".to_owned(),
                from: "Sigmic <s@example.com>".to_owned(),
            }),
            web: WebConfig {
                brave_api_key: Some("brave-key-5521".to_owned()),
                ..WebConfig::default()
            },
            llm: LlmConfig {
                openai_api_key: Some("sk-openai-9931".to_owned()),
                ..LlmConfig::default()
            },
            ..Config::default()
        };
        let printed = format!("{config:?}");
        for secret in ["mail-pass-771", "brave-key-5521", "sk-openai-9931"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("smtp.example.com"), "{printed}");
    }
}
