//! `cargo bench --bench tasks`: the task platform's figures, side by side in one run, against a
//! real `sigmic serve` (release build) and the scripted model server over HTTP:
//!
//! - task creation latency (p50, p99) and throughput;
//! - time to the first streamed `content` through Sigmic, minus the same time straight from
//!   the model server: the platform's overhead;
//! - replay of a 10,000-event history;
//! - server memory per idle stream with 5,000 streams open;
//! - one event's delivery latency to 1,000 subscribers.
//!
//! `DATABASE_URL=postgres://…` runs it against PostgreSQL (the database must exist and be
//! empty); SQLite in a temporary data dir otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigmic_testkit::model::{ModelServer, Turn};

const BIN: &str = env!("CARGO_BIN_EXE_sigmic");

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn pct(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s[rank.min(s.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn start(model: &ModelServer, dir: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .current_dir(dir)
        .env("SIGMIC_CONFIG", dir.join("none.toml"))
        .env("SIGMIC_DATA_DIR", dir.join("data"))
        .env("SIGMIC_ADDR", format!("127.0.0.1:{port}"))
        .env("SIGMIC_AUTH__ARGON2_MEMORY_KIB", "1024")
        .env("SIGMIC_AUTH__ARGON2_ITERATIONS", "1")
        .env("SIGMIC_SANDBOX__WARM_POOL", "0")
        .env("SIGMIC_TASKS__MAX_CONCURRENT", "32")
        .env("SIGMIC_TASKS__COALESCE_MS", "0")
        .env("SIGMIC_TASKS__POLL_INTERVAL_MS", "200")
        .env("SIGMIC_LOG", "warn")
        .env("OPENAI_API_KEY", "bench")
        .env("OPENAI_BASE_URL", model.openai_base_url())
        .env("SIGMIC_DEFAULT_MODEL", "openai/bench-model")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if std::env::var("DATABASE_URL").is_err() {
        cmd.env_remove("DATABASE_URL");
    }
    let child = cmd.spawn().expect("start sigmic");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{}/healthz", server.base))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

async fn data(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body["data"].clone()
}

async fn create(http: &reqwest::Client, base: &str, key: &str, body: Value) -> String {
    data(
        http.post(format!("{base}/api/v1/tasks"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn task(http: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    data(
        http.get(format!("{base}/api/v1/tasks/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn wait_status(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    status: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let t = task(http, base, key, id).await;
        if t["status"] == status {
            return t;
        }
        assert!(Instant::now() < deadline, "never {status}: {t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads SSE frames from a response, calling `on` with (event, data, id) until it answers
/// false or the stream ends.
async fn frames(mut resp: reqwest::Response, mut on: impl FnMut(&str, &str, Option<i64>) -> bool) {
    let mut buf = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let raw: String = buf.drain(..end + 2).collect();
            let (mut ev, mut data, mut id) = ("", String::new(), None);
            for line in raw.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    ev = v;
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                } else if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                }
            }
            let ev = ev.to_owned();
            if !ev.is_empty() && !on(&ev, &data, id) {
                return;
            }
        }
    }
}

fn stream_req(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    after: i64,
) -> reqwest::RequestBuilder {
    http.get(format!("{base}/api/v1/tasks/{id}/stream"))
        .bearer_auth(key)
        .header("Last-Event-ID", after.to_string())
}

fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    raise_fd_limit();
    let model = ModelServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&model, tmp.path()).await;
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    data(
        http.post(format!("{base}/api/v1/auth/signup"))
            .json(&json!({"email": "bench@example.com", "username": "bench", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let me = data(http.get(format!("{base}/api/v1/me")).send().await.unwrap()).await;
    let project = me["projects"][0]["id"].as_str().unwrap().to_owned();
    let key = data(
        http.post(format!("{base}/api/v1/projects/{project}/api-keys"))
            .json(&json!({"name": "bench"}))
            .send()
            .await
            .unwrap(),
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = if std::env::var("DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "sigmic task bench ({db}, release build, {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!();

    // 1. Creation latency and throughput. Each task runs too (one short model answer).
    for _ in 0..20 {
        create(&http, &base, &key, json!({"message": "warm up"})).await;
    }
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        create(&http, &base, &key, json!({"message": "latency"})).await;
        lat.push(ms(t.elapsed()));
    }
    let total = 400;
    let workers = 8;
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..total / workers {
                create(&http, &base, &key, json!({"message": "throughput"})).await;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let throughput = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "task creation          p50 {:7.2} ms   p99 {:7.2} ms   ({} sequential)",
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        lat.len()
    );
    println!(
        "creation throughput    {throughput:7.0} tasks/s   ({total} tasks, {workers} concurrent clients)"
    );
    // Let the queue drain before timing streams.
    let deadline = Instant::now() + Duration::from_secs(300);
    while model.requests().len() < 720 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 2. Time to first content: through Sigmic, and straight from the model server.
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for i in 0..100 {
        let k = format!("ttft-direct-{i}-end");
        model.script(&k, vec![Turn::text_chunks(vec!["first", " rest"])]);
        let t = Instant::now();
        let resp = http
            .post(format!("{}/chat/completions", model.openai_base_url()))
            .bearer_auth("bench")
            .json(&json!({"model": "bench-model", "stream": true, "messages": [{"role": "user", "content": k}]}))
            .send()
            .await
            .unwrap();
        let mut first = None;
        let mut buf = String::new();
        let mut resp = resp;
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            if buf.contains("\"content\":\"first\"") {
                first = Some(t.elapsed());
                break;
            }
        }
        direct.push(ms(first.expect("first content from the model server")));

        let k = format!("ttft-sigmic-{i}-end");
        model.script(&k, vec![Turn::text_chunks(vec!["first", " rest"])]);
        let t = Instant::now();
        let id = create(&http, &base, &key, json!({"message": k})).await;
        let resp = stream_req(&http, &base, &key, &id, 0).send().await.unwrap();
        let mut first = None;
        frames(resp, |ev, _, _| {
            if ev == "content" {
                first = Some(t.elapsed());
                false
            } else {
                true
            }
        })
        .await;
        through.push(ms(first.expect("first content through sigmic")));
    }
    println!(
        "first content          through Sigmic p50 {:6.2} ms p99 {:6.2} ms | model server alone p50 {:6.2} ms p99 {:6.2} ms | overhead p50 {:6.2} ms p99 {:6.2} ms",
        pct(&through, 50.0),
        pct(&through, 99.0),
        pct(&direct, 50.0),
        pct(&direct, 99.0),
        pct(&through, 50.0) - pct(&direct, 50.0),
        pct(&through, 99.0) - pct(&direct, 99.0)
    );

    // 3. Replaying a 10,000-event history (one content event per streamed piece).
    let k = "replay-10k-end";
    let pieces: Vec<String> = (0..9_996).map(|i| format!("p{i} ")).collect();
    model.script(k, vec![Turn::text_chunks(pieces)]);
    let id = create(&http, &base, &key, json!({"message": k})).await;
    let t = wait_status(&http, &base, &key, &id, "completed").await;
    let _ = t;
    let mut replays = Vec::new();
    let mut count = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let resp = stream_req(&http, &base, &key, &id, 0).send().await.unwrap();
        count = 0;
        frames(resp, |_, _, _| {
            count += 1;
            true
        })
        .await;
        replays.push(ms(t.elapsed()));
    }
    println!(
        "replay of {count} events  p50 {:7.1} ms   (5 runs, min {:.1} ms)",
        pct(&replays, 50.0),
        pct(&replays, 0.0)
    );

    // 4. One event to 1,000 subscribers: a task waits for approval, 1,000 streams watch it,
    // and refusing the call logs one `tool_result`.
    let mut delivery = Vec::new();
    for round in 0..3 {
        let k = format!("fanout-{round}-end");
        model.script(
            &k,
            vec![
                Turn::tool_call("list_directory", json!({"path": "."})),
                Turn::text("ok"),
            ],
        );
        let id = create(
            &http,
            &base,
            &key,
            json!({"message": k, "autoExecute": false}),
        )
        .await;
        let t = wait_status(&http, &base, &key, &id, "awaiting_approval").await;
        let call = t["pendingApprovals"][0]["callId"]
            .as_str()
            .unwrap()
            .to_owned();
        let last = last_seq(&http, &base, &key, &id).await;
        let subs = open_streams(&http, &base, &key, &id, last, 1000).await;
        let t0 = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let mut waiters = Vec::new();
        for resp in subs {
            let t0 = Arc::clone(&t0);
            waiters.push(tokio::spawn(async move {
                let mut got = None;
                frames(resp, |ev, _, _| {
                    if ev == "tool_result" {
                        got = Some(Instant::now());
                        false
                    } else {
                        true
                    }
                })
                .await;
                let start = t0.lock().unwrap().unwrap();
                ms(got.expect("the event arrived") - start)
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        *t0.lock().unwrap() = Some(Instant::now());
        data(
            http.post(format!("{base}/api/v1/tasks/{id}/tools/{call}/approve"))
                .bearer_auth(&key)
                .json(&json!({"outcome": "cancel"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        for w in waiters {
            delivery.push(w.await.unwrap());
        }
        wait_status(&http, &base, &key, &id, "completed").await;
    }
    println!(
        "one event to 1,000 subscribers   p50 {:7.2} ms   p99 {:7.2} ms   ({} deliveries, from the request that logs it)",
        pct(&delivery, 50.0),
        pct(&delivery, 99.0),
        delivery.len()
    );

    // 5. Memory per idle stream: 5,000 streams on a task that waits for approval.
    let k = "idle-5000-end";
    model.script(
        k,
        vec![Turn::tool_call("list_directory", json!({"path": "."}))],
    );
    let id = create(
        &http,
        &base,
        &key,
        json!({"message": k, "autoExecute": false}),
    )
    .await;
    wait_status(&http, &base, &key, &id, "awaiting_approval").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();
    let last = last_seq(&http, &base, &key, &id).await;
    let streams = open_streams(&http, &base, &key, &id, last, 5000).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    println!(
        "idle streams           {} open: server RSS {:.1} MiB → {:.1} MiB, {:.1} KiB per stream",
        streams.len(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / streams.len() as f64
    );
    drop(streams);
}

async fn last_seq(http: &reqwest::Client, base: &str, key: &str, id: &str) -> i64 {
    let resp = stream_req(http, base, key, id, 0).send().await.unwrap();
    let mut last = 0;
    // The log so far, then stop at the first quiet moment.
    let read = frames(resp, |_, _, seq| {
        if let Some(s) = seq {
            last = s;
        }
        true
    });
    let _ = tokio::time::timeout(Duration::from_millis(500), read).await;
    last
}

/// Opens `n` streams resuming after `after` (no history), 250 at a time.
async fn open_streams(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    after: i64,
    n: usize,
) -> Vec<reqwest::Response> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = (n - out.len()).min(250);
        let mut opening = Vec::with_capacity(batch);
        for _ in 0..batch {
            opening.push(stream_req(http, base, key, id, after).send());
        }
        for r in futures_util::future::join_all(opening).await {
            out.push(r.unwrap());
        }
    }
    out
}
