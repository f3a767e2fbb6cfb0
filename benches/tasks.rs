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
//! - the sandbox's command latency against a plain process spawn (`sigmic bench sandbox`);
//!
//! then every figure beside its goal (SPEC.md), and the regression checks: ratios of a figure
//! to a baseline measured in the same run (the model server alone, a task read, one
//! subscriber, a plain spawn), each with its limit. Any ratio past its limit fails the run
//! (exit code 1): these machines are too noisy for absolute times.
//!
//! `-- --quick` is the short version CI runs (fewer samples, the same checks).
//! `SIGMIC_BENCH_BIN` names the server binary (default: the one `cargo bench` built).
//! `DATABASE_URL=postgres://…` runs it against PostgreSQL (the database must exist and be
//! empty); SQLite in a temporary data dir otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigmic_testkit::model::{ModelServer, Turn};

fn bin() -> String {
    std::env::var("SIGMIC_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sigmic").to_owned())
}

/// How many samples each figure takes.
struct Sizes {
    latency: usize,
    throughput: usize,
    ttft: usize,
    replay_events: usize,
    fanout_rounds: usize,
    idle_streams: usize,
    sandbox_runs: usize,
}

impl Sizes {
    fn full() -> Self {
        Self {
            latency: 300,
            throughput: 400,
            ttft: 100,
            replay_events: 9_996,
            fanout_rounds: 3,
            idle_streams: 5_000,
            sandbox_runs: 200,
        }
    }

    fn quick() -> Self {
        Self {
            latency: 100,
            throughput: 160,
            ttft: 40,
            replay_events: 1_996,
            fanout_rounds: 1,
            idle_streams: 2_000,
            sandbox_runs: 60,
        }
    }
}

/// A ratio of two figures of this run, and the most it may be. The limits are what this
/// machine measured (SPEC.md) with room for its noise; a change that passes one made the
/// platform slower than the baseline it is compared with, not the machine.
struct Check {
    name: &'static str,
    ratio: f64,
    limit: f64,
}

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
    let mut cmd = Command::new(bin());
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
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { Sizes::quick() } else { Sizes::full() };
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
        "sigmic bench ({db}, {} cores{})",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        if quick { ", quick" } else { "" }
    );
    println!();

    // 1. Creation latency and throughput. Each task runs too (one short model answer). The
    // baseline: reading a task back, through the same authentication.
    let mut warm_id = String::new();
    for _ in 0..20 {
        warm_id = create(&http, &base, &key, json!({"message": "warm up"})).await;
    }
    let mut lat = Vec::new();
    for _ in 0..n.latency {
        let t = Instant::now();
        create(&http, &base, &key, json!({"message": "latency"})).await;
        lat.push(ms(t.elapsed()));
    }
    let mut read = Vec::new();
    for _ in 0..n.latency {
        let t = Instant::now();
        task(&http, &base, &key, &warm_id).await;
        read.push(ms(t.elapsed()));
    }
    let total = n.throughput;
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
        "task creation          p50 {:7.2} ms   p99 {:7.2} ms   ({} sequential; a task read p50 {:.2} ms)",
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        lat.len(),
        pct(&read, 50.0)
    );
    println!(
        "creation throughput    {throughput:7.0} tasks/s   ({total} tasks, {workers} concurrent clients)"
    );
    // Let the queue drain before timing streams.
    let created = 20 + n.latency + workers * (total / workers);
    let deadline = Instant::now() + Duration::from_secs(300);
    while model.requests().len() < created && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 2. Time to first content: through Sigmic, and straight from the model server.
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for i in 0..n.ttft {
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
    let overhead = (
        pct(&through, 50.0) - pct(&direct, 50.0),
        pct(&through, 99.0) - pct(&direct, 99.0),
    );
    println!(
        "first content          through Sigmic p50 {:6.2} ms p99 {:6.2} ms | model server alone p50 {:6.2} ms p99 {:6.2} ms | overhead p50 {:6.2} ms p99 {:6.2} ms",
        pct(&through, 50.0),
        pct(&through, 99.0),
        pct(&direct, 50.0),
        pct(&direct, 99.0),
        overhead.0,
        overhead.1
    );

    // 3. Replaying a long history (one content event per streamed piece).
    let k = "replay-end";
    let pieces: Vec<String> = (0..n.replay_events).map(|i| format!("p{i} ")).collect();
    model.script(k, vec![Turn::text_chunks(pieces)]);
    let id = create(&http, &base, &key, json!({"message": k})).await;
    wait_status(&http, &base, &key, &id, "completed").await;
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
    // and refusing the call logs one `tool_result`. The baseline: the same to one subscriber.
    let mut delivery = Vec::new();
    for round in 0..n.fanout_rounds {
        delivery
            .extend(fan_out(&http, &model, &base, &key, &format!("fanout-{round}"), 1000).await);
    }
    let mut single = Vec::new();
    for round in 0..10 {
        single.extend(fan_out(&http, &model, &base, &key, &format!("single-{round}"), 1).await);
    }
    println!(
        "one event to 1,000 subscribers   p50 {:7.2} ms   p99 {:7.2} ms   ({} deliveries, from the request that logs it; to one subscriber p50 {:.2} ms)",
        pct(&delivery, 50.0),
        pct(&delivery, 99.0),
        delivery.len(),
        pct(&single, 50.0)
    );

    // 5. Memory per idle stream: streams on a task that waits for approval.
    let k = "idle-streams-end";
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
    let streams = open_streams(&http, &base, &key, &id, last, n.idle_streams).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    let per_stream = (after.saturating_sub(before)) as f64 / streams.len() as f64;
    println!(
        "idle streams           {} open: server RSS {:.1} MiB → {:.1} MiB, {per_stream:.1} KiB per stream",
        streams.len(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
    );
    drop(streams);
    drop(server);

    // 6. The sandbox: a task's commands against a plain process spawn.
    let out = Command::new(bin())
        .args([
            "bench",
            "sandbox",
            "--json",
            "--runs",
            &n.sandbox_runs.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run sigmic bench sandbox");
    assert!(out.status.success(), "sigmic bench sandbox failed");
    let sb: Value = serde_json::from_slice(&out.stdout).expect("the sandbox figures");
    let sb50 = |k: &str| sb[k]["p50Ms"].as_f64().unwrap();
    println!(
        "sandbox                plain spawn p50 {:.2} ms | next command p50 {:.2} ms | first command from the pool p50 {:.2} ms | cold start p50 {:.2} ms",
        sb50("plain"),
        sb50("warm"),
        sb50("first"),
        sb50("cold")
    );

    println!();
    println!("{:<58} {:>18} {:>18}", "figure", "measured", "goal");
    let rows: [(&str, String, &str); 7] = [
        (
            "create, stream, first content − the model's, p50 / p99",
            format!("{:.1} / {:.1} ms", overhead.0, overhead.1),
            if db == "SQLite" {
                "≤ 3 / 8 ms"
            } else {
                "≤ 6 / 12 ms"
            },
        ),
        (
            "task creation throughput, 8 clients",
            format!("{throughput:.0} /s"),
            if db == "SQLite" {
                "≥ 1500 /s"
            } else {
                "≥ 1000 /s"
            },
        ),
        (
            "one event to 1,000 subscribers, p99",
            format!("{:.1} ms", pct(&delivery, 99.0)),
            "≤ 20 ms",
        ),
        (
            "server memory per idle stream",
            format!("{per_stream:.1} KiB"),
            "≤ 2 KiB",
        ),
        (
            "sandbox: next command, p50 / plain spawn",
            format!("{:.2}×", sb50("warm") / sb50("plain")),
            "≤ 1.3×",
        ),
        (
            // What a task created by the API waits for: its sandbox starts on its first command.
            "sandbox: a task's first command (cold), p50 / plain spawn",
            format!("{:.2}×", sb50("cold") / sb50("plain")),
            "≤ 1.6×",
        ),
        (
            "sandbox: cold start, p50",
            format!("{:.1} ms", sb50("cold")),
            "≤ 10 ms",
        ),
    ];
    for (name, measured, goal) in rows {
        println!("{name:<58} {measured:>18} {goal:>18}");
    }

    let checks = [
        Check {
            name: "first content through Sigmic / the model server alone, p50",
            ratio: pct(&through, 50.0) / pct(&direct, 50.0),
            limit: 25.0,
        },
        Check {
            name: "task creation / a task read, p50",
            ratio: pct(&lat, 50.0) / pct(&read, 50.0),
            limit: 8.0,
        },
        Check {
            name: "one event to 1,000 subscribers p99 / to one p50",
            ratio: pct(&delivery, 99.0) / pct(&single, 50.0),
            limit: 60.0,
        },
        Check {
            name: "sandbox next command / plain spawn, p50",
            ratio: sb50("warm") / sb50("plain"),
            limit: 2.5,
        },
        Check {
            name: "sandbox first command (cold) / plain spawn, p50",
            ratio: sb50("cold") / sb50("plain"),
            limit: 60.0,
        },
    ];
    // Memory is not noisy like time: the figure itself has a limit.
    const IDLE_STREAM_LIMIT_KIB: f64 = 32.0;
    println!();
    println!(
        "{:<58} {:>18} {:>18}",
        "regression check (same run)", "ratio", "limit"
    );
    let mut failed = Vec::new();
    for c in &checks {
        let ok = c.ratio <= c.limit;
        println!(
            "{:<58} {:>17.2}× {:>17.1}×{}",
            c.name,
            c.ratio,
            c.limit,
            if ok { "" } else { "  REGRESSED" }
        );
        if !ok {
            failed.push(c.name);
        }
    }
    let ok = per_stream <= IDLE_STREAM_LIMIT_KIB;
    println!(
        "{:<58} {:>14.1} KiB {:>14.1} KiB{}",
        "server memory per idle stream",
        per_stream,
        IDLE_STREAM_LIMIT_KIB,
        if ok { "" } else { "  REGRESSED" }
    );
    if !ok {
        failed.push("server memory per idle stream");
    }
    if !failed.is_empty() {
        eprintln!("bench: past the limit: {}", failed.join("; "));
        std::process::exit(1);
    }
}

/// One logged event to `subscribers` streams: a task waits for approval, the streams watch
/// it, and refusing the call logs one `tool_result`. Each delivery's time in ms, from the
/// request that logs it.
async fn fan_out(
    http: &reqwest::Client,
    model: &ModelServer,
    base: &str,
    key: &str,
    name: &str,
    subscribers: usize,
) -> Vec<f64> {
    let k = format!("{name}-end");
    model.script(
        &k,
        vec![
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::text("ok"),
        ],
    );
    let id = create(http, base, key, json!({"message": k, "autoExecute": false})).await;
    let t = wait_status(http, base, key, &id, "awaiting_approval").await;
    let call = t["pendingApprovals"][0]["callId"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = last_seq(http, base, key, &id).await;
    let subs = open_streams(http, base, key, &id, last, subscribers).await;
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
            .bearer_auth(key)
            .json(&json!({"outcome": "cancel"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut delivery = Vec::new();
    for w in waiters {
        delivery.push(w.await.unwrap());
    }
    wait_status(http, base, key, &id, "completed").await;
    delivery
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
