//! Test harness: a real Sigmic server in-process, on its own port, with its own data dir and its
//! own database (a SQLite file, or a fresh PostgreSQL database when `DATABASE_URL` names one).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sigmic::config::Config;
use tracing_subscriber::fmt::TestWriter;
use tracing_subscriber::fmt::writer::{MakeWriter, MakeWriterExt};

pub const PASSWORD: &str = "correct horse battery";
pub const SESSION_COOKIE: &str = "sigmic_session";
/// Its name behind TLS (`secure_cookies`).
pub const SECURE_SESSION_COOKIE: &str = "__Host-sigmic_session";

// ---------------------------------------------------------------------------------------------
// Database per test
// ---------------------------------------------------------------------------------------------

/// The database a test runs against. SQLite (the default) lives in the test's data dir and goes
/// with it; a PostgreSQL database is created fresh and dropped when this value drops.
pub struct TestDb {
    /// `None` for SQLite in the data dir; the fresh database's URL for PostgreSQL.
    pub url: Option<String>,
    /// Only held: dropping it drops the PostgreSQL database.
    _pg: Option<PgDrop>,
}

struct PgDrop {
    admin_url: String,
    name: String,
}

impl Drop for PgDrop {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside #[tokio::test]'s runtime, which cannot be blocked on; use a thread
        // with a runtime of its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sea_orm::ConnectionTrait;
                if let Ok(db) = sea_orm::Database::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    if let Err(e) = db.execute_unprepared(&sql).await {
                        eprintln!("could not drop test database {name}: {e}");
                    }
                    let _ = db.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("random source");
    hex::encode(buf)
}

pub fn is_postgres() -> bool {
    std::env::var("DATABASE_URL")
        .map(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
        .unwrap_or(false)
}

impl TestDb {
    pub async fn create() -> TestDb {
        let Ok(admin_url) = std::env::var("DATABASE_URL") else {
            return TestDb {
                url: None,
                _pg: None,
            };
        };
        if !is_postgres() {
            // sqlite (or empty): a file in the test's data dir.
            return TestDb {
                url: None,
                _pg: None,
            };
        }
        use sea_orm::ConnectionTrait;
        let name = format!("sigmic_t_{}", random_hex(8));
        let admin = sea_orm::Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to DATABASE_URL {admin_url}: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        TestDb {
            url: Some(url.to_string()),
            _pg: Some(PgDrop { admin_url, name }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub config: Config,
    /// A client without a cookie store, for requests whose credentials are set by hand.
    pub http: Client,
    // Field order is drop order: the server stops before its database and data dir go.
    running: Option<sigmic::server::Running>,
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

/// Everything the servers of this test binary have logged so far.
static LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

#[derive(Clone, Copy)]
struct KeptLog;

impl std::io::Write for KeptLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for KeptLog {
    type Writer = KeptLog;

    fn make_writer(&'a self) -> KeptLog {
        *self
    }
}

/// The log of every server this test binary started (they share one subscriber).
pub fn server_log() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after `tweak` has adjusted the test configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        // The server's log, shown with a failing test's output and kept for `server_log`.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("sigmic=info,warn")
            .with_ansi(false)
            .with_writer(TestWriter::new().and(KeptLog))
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDb::create().await;
        let mut config = Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().join("data"),
            database_url: db.url.clone(),
            ..Config::default()
        };
        config.auth.argon2_memory_kib = 1024;
        config.auth.argon2_iterations = 1;
        // Tests sign many people up from one address; the test of the limit sets it.
        config.auth.signups_per_address_per_hour = 0;
        // The test binary cannot be a sandbox's supervisor; the built server can.
        config.sandbox.supervisor = Some(crate::sigmic_bin());
        config.sandbox.warm_pool = 0;
        tweak(&mut config);
        let running = sigmic::server::start(config.clone())
            .await
            .unwrap_or_else(|e| panic!("server starts: {e:?}"));
        let addr = running.addr();
        TestApp {
            addr,
            base: format!("http://{addr}"),
            config,
            http: bare_client(),
            running: Some(running),
            db,
            dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// A request with no credentials at all.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// A request authenticated with `Authorization: Bearer <token>`.
    pub fn bearer(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", format!("Bearer {token}"))
    }

    /// A request authenticated with `X-API-Key: <key>`.
    pub fn x_api_key(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-API-Key", key)
    }

    /// A request carrying a session cookie set by hand (no cookie store involved).
    pub fn with_session(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Cookie", format!("{SESSION_COOKIE}={token}"))
    }

    /// A request through `client` (usually one with a cookie store holding a session).
    pub fn req(&self, client: &Client, method: Method, path: &str) -> RequestBuilder {
        client.request(method, self.url(path))
    }

    // -- accounts ------------------------------------------------------------------------------

    /// Signs up (no invitation) and returns a cookie-holding client and `data.user`.
    pub async fn signup(&self, email: &str, username: &str, password: &str) -> (Client, Value) {
        self.signup_body(json!({ "email": email, "username": username, "password": password }))
            .await
    }

    /// Signs up with an arbitrary body; panics unless it succeeds.
    pub async fn signup_body(&self, body: Value) -> (Client, Value) {
        let client = cookie_client();
        let resp = client
            .post(self.url("/api/v1/auth/signup"))
            .json(&body)
            .send()
            .await
            .expect("signup request");
        let data = assert_ok(resp).await;
        (client, data["user"].clone())
    }

    /// Signs up and also returns the raw session token (from `Set-Cookie`).
    pub async fn signup_token(&self, email: &str, username: &str) -> (String, Value) {
        let resp = self
            .anon(Method::POST, "/api/v1/auth/signup")
            .json(&json!({ "email": email, "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("signup request");
        let token = session_cookie(&resp).expect("signup sets the session cookie");
        let data = assert_ok(resp).await;
        (token, data["user"].clone())
    }

    /// Logs in; panics unless it succeeds. Returns a cookie-holding client.
    pub async fn login(&self, email: &str, password: &str) -> Client {
        let client = cookie_client();
        let resp = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request");
        assert_ok(resp).await;
        client
    }

    /// Logs in and returns the raw session token.
    pub async fn login_token(&self, email: &str, password: &str) -> String {
        let resp = self
            .anon(Method::POST, "/api/v1/auth/login")
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request");
        let token = session_cookie(&resp).expect("login sets the session cookie");
        assert_ok(resp).await;
        token
    }

    /// `GET /api/v1/me` through a cookie client; returns `data`.
    pub async fn me(&self, client: &Client) -> Value {
        let resp = self
            .req(client, Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap();
        assert_ok(resp).await
    }

    /// `GET /api/v1/me` with an API key as Bearer; returns `data`.
    pub async fn me_key(&self, key: &str) -> Value {
        let resp = self
            .bearer(Method::GET, "/api/v1/me", key)
            .send()
            .await
            .unwrap();
        assert_ok(resp).await
    }

    /// The id of the first project `/me` lists for this client.
    pub async fn first_project(&self, client: &Client) -> String {
        let me = self.me(client).await;
        me["projects"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no project in /me: {me}"))
            .to_owned()
    }

    // -- organizations -------------------------------------------------------------------------

    /// Invites `email` (as an org admin's client) and returns the invitation's `data`.
    pub async fn invite(&self, admin: &Client, email: &str, role: &str) -> Value {
        let resp = self
            .req(admin, Method::POST, "/api/v1/organization/invitations")
            .json(&json!({ "email": email, "role": role }))
            .send()
            .await
            .unwrap();
        assert_ok(resp).await
    }

    /// Invites and registers a new person into the admin's org; returns (client, user).
    pub async fn add_org_member(
        &self,
        admin: &Client,
        email: &str,
        username: &str,
        role: &str,
    ) -> (Client, Value) {
        let inv = self.invite(admin, email, role).await;
        let token = invite_token(&inv);
        self.signup_body(json!({
            "email": email, "username": username, "password": PASSWORD, "invitationToken": token
        }))
        .await
    }

    // -- projects ------------------------------------------------------------------------------

    pub async fn create_project(&self, admin: &Client, name: &str) -> Value {
        let resp = self
            .req(admin, Method::POST, "/api/v1/projects")
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_ok(resp).await
    }

    pub async fn add_project_member(
        &self,
        admin: &Client,
        project_id: &str,
        user_id: &str,
        role: &str,
    ) {
        let resp = self
            .req(
                admin,
                Method::POST,
                &format!("/api/v1/projects/{project_id}/members"),
            )
            .json(&json!({ "userId": user_id, "role": role }))
            .send()
            .await
            .unwrap();
        assert_ok(resp).await;
    }

    // -- API keys ------------------------------------------------------------------------------

    /// Creates a key in a project and returns its value.
    pub async fn create_key(&self, client: &Client, project_id: &str, name: &str) -> String {
        let data = self
            .create_key_full(client, project_id, json!({ "name": name }))
            .await;
        data["key"].as_str().expect("key in the answer").to_owned()
    }

    /// Creates a key with the given body and returns the whole `data`.
    pub async fn create_key_full(&self, client: &Client, project_id: &str, body: Value) -> Value {
        let resp = self
            .req(
                client,
                Method::POST,
                &format!("/api/v1/projects/{project_id}/api-keys"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_ok(resp).await
    }

    /// Revokes a key (as `client`).
    pub async fn revoke_key(&self, client: &Client, project_id: &str, key_id: &str) {
        let resp = self
            .req(
                client,
                Method::DELETE,
                &format!("/api/v1/projects/{project_id}/api-keys/{key_id}"),
            )
            .send()
            .await
            .unwrap();
        let data = assert_ok(resp).await;
        assert_eq!(data["revoked"], json!(true), "{data}");
    }

    // -- the database behind the server ---------------------------------------------------------

    /// A sea-orm connection to the server's database (for checks the API cannot make).
    /// Every row of every table of a PostgreSQL test database, as JSON text.
    pub async fn pg_rows_text(&self) -> String {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let db = self.db_conn().await;
        let tables = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'".to_owned(),
            ))
            .await
            .expect("list tables");
        let mut out = String::new();
        for t in tables {
            let name: String = t.try_get("", "tablename").unwrap();
            let rows = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT row_to_json(t)::text AS j FROM \"{name}\" t"),
                ))
                .await
                .expect("read table");
            for row in rows {
                let text: String = row.try_get("", "j").unwrap();
                out.push_str(&text);
                out.push('\n');
            }
        }
        out
    }

    pub async fn db_conn(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(self.config.database_url())
            .await
            .expect("connect to the test database")
    }
}

// ---------------------------------------------------------------------------------------------
// Clients and responses
// ---------------------------------------------------------------------------------------------

pub fn cookie_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn bare_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The raw `Set-Cookie` header that sets the session cookie, if any.
pub fn session_set_cookie(resp: &Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| {
            v.starts_with(&format!("{SESSION_COOKIE}="))
                || v.starts_with(&format!("{SECURE_SESSION_COOKIE}="))
        })
        .map(str::to_owned)
}

/// The session token a response sets (non-empty value of `sigmic_session`).
pub fn session_cookie(resp: &Response) -> Option<String> {
    let header = session_set_cookie(resp)?;
    let (_, value) = header.split(';').next()?.trim().split_once('=')?;
    let value = value.trim_matches('"').to_owned();
    (!value.is_empty()).then_some(value)
}

/// The token part of an invitation answer's `link` (`…/signup?invite=<token>`).
pub fn invite_token(invitation: &Value) -> String {
    let link = invitation["link"]
        .as_str()
        .unwrap_or_else(|| panic!("no link: {invitation}"));
    let url = url::Url::parse(link).unwrap_or_else(|e| panic!("link {link} is not a URL: {e}"));
    assert_eq!(url.path(), "/signup", "invitation link {link}");
    url.query_pairs()
        .find(|(k, _)| k == "invite")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no invite= in {link}"))
}

/// Reads a response as (status, JSON body); panics with the text if it is not JSON.
pub async fn json_body(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("response body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {text}"));
    (status, value)
}

/// Asserts a success envelope (2xx, `success: true`) and returns `data`.
pub async fn assert_ok(resp: Response) -> Value {
    let url = resp.url().clone();
    let (status, body) = json_body(resp).await;
    assert!(
        status.is_success() && body["success"] == json!(true),
        "expected success from {url}, got {status}: {body}"
    );
    assert!(
        body.get("data").is_some(),
        "success without data from {url}: {body}"
    );
    body["data"].clone()
}

/// Asserts an error envelope with this status and code; returns the `error` object.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    let url = resp.url().clone();
    let (got, body) = json_body(resp).await;
    assert_eq!(
        (got.as_u16(), body["error"]["code"].as_str()),
        (status, Some(code)),
        "expected {status} {code} from {url}, got {got}: {body}"
    );
    assert_eq!(
        body["success"],
        json!(false),
        "error envelope needs success:false: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        !message.trim().is_empty(),
        "error without a message: {body}"
    );
    body["error"].clone()
}

/// Asserts a VALIDATION_ERROR that names `field` in `fields`; returns the `error` object.
pub async fn assert_field_error(resp: Response, field: &str) -> Value {
    let err = assert_error(resp, 400, "VALIDATION_ERROR").await;
    assert!(
        err["fields"][field].as_str().is_some_and(|m| !m.is_empty()),
        "expected fields.{field} in {err}"
    );
    err
}

/// `sigmic_` + 64 lowercase hex.
pub fn is_api_key(s: &str) -> bool {
    s.strip_prefix("sigmic_").is_some_and(|rest| {
        rest.len() == 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `needle` occurs in any file under `dir`; returns the files that contain it. The
/// sandbox's copy of the server binary (`sandbox-bin/`) is code, not data, and is skipped.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "sandbox-bin"))
        .filter(|p| {
            std::fs::read(p)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// A unique suffix for names and emails within one test.
pub fn unique() -> String {
    random_hex(4)
}

/// RFC 3339 for now + `millis` milliseconds (negative for the past), millisecond precision.
pub fn rfc3339_in(millis: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(millis))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
