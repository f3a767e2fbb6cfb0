//! The `sigmic` binary: `migrate`, `user create`, `key create`, and `serve` using what they made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigmic_testkit::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_sigmic");

/// A command for the binary with a clean, test-local environment.
fn sigmic(dir: &Path, db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env("SIGMIC_CONFIG", dir.join("no-such-sigmic.toml"))
        .env("SIGMIC_DATA_DIR", dir.join("data"))
        .env("SIGMIC_AUTH__ARGON2_MEMORY_KIB", "1024")
        .env("SIGMIC_AUTH__ARGON2_ITERATIONS", "1")
        .env_remove("SIGMIC_LOG")
        .env_remove("SIGMIC_ADDR");
    match &db.url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run sigmic");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    } // stdin closed here
    child.wait_with_output().unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Kills the server child when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn cli_creates_user_and_key_that_the_server_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = TestDb::create().await;

    let out = run(sigmic(dir, &db, &["migrate"]), None);
    assert!(out.status.success(), "migrate failed: {}", describe(&out));

    let out = run(
        sigmic(
            dir,
            &db,
            &[
                "user",
                "create",
                "--email",
                "ops@example.com",
                "--username",
                "ops",
                "--name",
                "Ops Person",
            ],
        ),
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "user create failed: {}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(PASSWORD),
        "the password must not be echoed"
    );

    // Same email again fails, with a message and a non-zero status.
    let out = run(
        sigmic(
            dir,
            &db,
            &[
                "user",
                "create",
                "--email",
                "ops@example.com",
                "--username",
                "ops2",
            ],
        ),
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        !out.status.success(),
        "duplicate user must fail: {}",
        describe(&out)
    );
    assert!(!out.stderr.is_empty(), "say why: {}", describe(&out));

    // A too-short password is refused.
    let out = run(
        sigmic(
            dir,
            &db,
            &["user", "create", "--email", "short@example.com"],
        ),
        Some("short\n"),
    );
    assert!(
        !out.status.success(),
        "short password must fail: {}",
        describe(&out)
    );

    let out = run(
        sigmic(
            dir,
            &db,
            &[
                "key",
                "create",
                "--email",
                "ops@example.com",
                "--name",
                "deploy",
            ],
        ),
        None,
    );
    assert!(
        out.status.success(),
        "key create failed: {}",
        describe(&out)
    );
    let key = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        is_api_key(&key),
        "stdout must be the key alone: {}",
        describe(&out)
    );

    let out = run(
        sigmic(
            dir,
            &db,
            &[
                "key",
                "create",
                "--email",
                "ops@example.com",
                "--project",
                "Default",
                "--name",
                "second",
            ],
        ),
        None,
    );
    assert!(
        out.status.success(),
        "key create --project failed: {}",
        describe(&out)
    );
    let second = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(is_api_key(&second) && second != key, "{}", describe(&out));

    for bad in [
        vec!["key", "create", "--email", "nobody@example.com"],
        vec![
            "key",
            "create",
            "--email",
            "ops@example.com",
            "--project",
            "No Such Project",
        ],
    ] {
        let out = run(sigmic(dir, &db, &bad), None);
        assert!(
            !out.status.success(),
            "{bad:?} must fail: {}",
            describe(&out)
        );
        assert!(!is_api_key(String::from_utf8_lossy(&out.stdout).trim()));
    }

    // Serve from the same data dir / database.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = sigmic(dir, &db, &["serve", "--addr", &addr, "--data-dir"]);
    cmd.arg(dir.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut server = Server(cmd.spawn().expect("start sigmic serve"));

    let base = format!("http://{addr}");
    let http = bare_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(resp) = http.get(format!("{base}/readyz")).send().await
            && resp.status() == 200
        {
            break;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("sigmic serve exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "sigmic serve did not become ready on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let resp = http
        .get(format!("{base}/api/v1/me"))
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    let me = assert_ok(resp).await;
    assert_eq!(me["type"], "apiKey");
    assert_eq!(me["apiKey"]["name"], "deploy");
    assert_eq!(me["organization"]["name"], "Ops Person's organization");
    assert_eq!(me["projects"].as_array().map(Vec::len), Some(1), "{me}");
    assert_eq!(me["projects"][0]["name"], "Default");

    let resp = http
        .get(format!("{base}/api/v1/me"))
        .header("X-API-Key", &second)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["apiKey"]["name"], "second");

    // The password given on stdin is the account's password.
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": "ops@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let data = assert_ok(resp).await;
    assert_eq!(data["user"]["username"], "ops");
    assert_eq!(data["user"]["name"], "Ops Person");
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": "ops@example.com", "password": format!("{PASSWORD}\n") }))
        .send()
        .await
        .unwrap();
    let (status, body): (_, Value) = json_body(resp).await;
    assert_eq!(
        status, 401,
        "the newline ending stdin is not part of the password: {body}"
    );

    let _ = server.0.kill();
    let _ = server.0.wait();
    drop(server);
}

#[tokio::test]
async fn cli_tolerates_its_own_log_variable() {
    // `SIGMIC_LOG` sets the log filter; it must not be mistaken for a configuration key.
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::create().await;
    let mut cmd = sigmic(tmp.path(), &db, &["migrate"]);
    cmd.env("SIGMIC_LOG", "debug");
    let out = run(cmd, None);
    assert!(
        out.status.success(),
        "migrate with SIGMIC_LOG set failed: {}",
        describe(&out)
    );
}
