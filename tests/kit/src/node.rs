//! Real `sigmic serve` processes, for what an in-process server cannot show: SIGKILL and
//! restart, SIGTERM, several processes on one database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{self, PASSWORD, TestDb, assert_ok};
use crate::model::ModelServer;

/// A `sigmic serve` process; killed when dropped.
pub struct Node {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    pub async fn start(
        dir: &Path,
        db: &TestDb,
        port: u16,
        model: &ModelServer,
        name: &str,
    ) -> Node {
        Self::start_with(dir, db, port, model, name, &[]).await
    }

    /// `start`, with more settings as `SIGMIC_…` variables.
    pub async fn start_with(
        dir: &Path,
        db: &TestDb,
        port: u16,
        model: &ModelServer,
        name: &str,
        settings: &[(&str, &str)],
    ) -> Node {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = Command::new(crate::sigmic_bin());
        cmd.arg("serve")
            .current_dir(dir)
            .env("SIGMIC_CONFIG", dir.join("no-such.toml"))
            .env("SIGMIC_DATA_DIR", dir.join("data"))
            .env("SIGMIC_ADDR", format!("127.0.0.1:{port}"))
            .env("SIGMIC_AUTH__ARGON2_MEMORY_KIB", "1024")
            .env("SIGMIC_AUTH__ARGON2_ITERATIONS", "1")
            .env("SIGMIC_SANDBOX__WARM_POOL", "0")
            .env("SIGMIC_TASKS__RETRY_BASE_MS", "10")
            .env("SIGMIC_TASKS__POLL_INTERVAL_MS", "200")
            .env("SIGMIC_TASKS__LEASE_SECS", "3")
            .env("SIGMIC_LOG", "info")
            .env("OPENAI_API_KEY", "test-openai-key")
            .env("OPENAI_BASE_URL", format!("{}/v1", model.url()))
            .env("SIGMIC_DEFAULT_MODEL", "openai/test-model")
            .envs(settings.iter().copied())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        match &db.url {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        let child = cmd.spawn().expect("start sigmic");
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/healthz", node.base)).await
                && r.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start: {}",
                node.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the time the process took to exit.
    pub fn term(&mut self) -> Duration {
        let started = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let _ = self.child.wait();
        started.elapsed()
    }
}

/// Signs someone up on `base` and answers an API key of their default project.
pub async fn key_for(base: &str) -> String {
    key_and_session(base).await.0
}

/// Signs someone up on `base`: an API key of their default project, their signed-in client
/// and the project's id.
pub async fn key_and_session(base: &str) -> (String, reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let u = harness::unique();
    assert_ok(
        http.post(format!("{base}/api/v1/auth/signup"))
            .json(&json!({"email": format!("r{u}@example.com"), "username": format!("r{u}"), "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let me = assert_ok(http.get(format!("{base}/api/v1/me")).send().await.unwrap()).await;
    let project = me["projects"][0]["id"].as_str().unwrap().to_owned();
    let key = assert_ok(
        http.post(format!("{base}/api/v1/projects/{project}/api-keys"))
            .json(&json!({"name": "recovery"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    (key["key"].as_str().unwrap().to_owned(), http, project)
}
