//! A project's network policy, set through the API and obeyed by a task's shell and by
//! `web_fetch`, against hosts this test builds itself. The test runs itself again inside new
//! network and mount namespaces; there a second network namespace, linked by a veth pair,
//! holds the "internet" (203.0.113.10 and .11), a private host (10.66.0.10) and a metadata
//! service (169.254.169.254), with names in a private `/etc/hosts`. No packet leaves the
//! machine, whatever the code under test does. Needs root (as the CI machine runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{Owner, app_with, create_task, owner, tool_outputs, wait_status};

/// Set in the copy of this test that runs inside the namespaces.
const INNER: &str = "SIGMIC_NETWORK_TEST_INNER";

const HOSTS: &str = "127.0.0.1 localhost\n\
203.0.113.10 allowed.test\n\
203.0.113.11 other.test\n\
10.66.0.10 internal.test\n";

#[test]
fn a_projects_network_policy_binds_the_shell_and_web_fetch() {
    if std::env::var_os(INNER).is_some() {
        return inner();
    }
    let status = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_projects_network_policy_binds_the_shell_and_web_fetch",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        // The database on this machine's loopback is out of the namespace's reach.
        .env_remove("DATABASE_URL")
        .status()
        .expect("run unshare");
    assert!(status.success(), "the test inside the namespaces failed");
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A host of the "internet" namespace: answers every request with its name, counting them.
fn serve(listener: TcpListener, name: &'static str, hits: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            hits.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = format!("hello from {name}");
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

struct Net {
    holder: std::process::Child,
    private_hits: Arc<AtomicUsize>,
    metadata_hits: Arc<AtomicUsize>,
    own_hits: Arc<AtomicUsize>,
}

/// The namespace this copy of the test runs in (A), and the one it makes for the hosts (B).
fn build_network() -> Net {
    sh(&["ip", "link", "set", "lo", "up"]);
    let holder = Command::new("unshare")
        .args(["--net", "sleep", "600"])
        .spawn()
        .unwrap();
    let pid = holder.id().to_string();
    let ns = format!("/proc/{pid}/ns/net");
    // The holder must be in its namespace before the link is moved there.
    for _ in 0..100 {
        if std::fs::read_link(&ns).ok() != std::fs::read_link("/proc/self/ns/net").ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sh(&[
        "ip", "link", "add", "sgv0", "type", "veth", "peer", "name", "sgv1", "netns", &pid,
    ]);
    sh(&["ip", "addr", "add", "203.0.113.1/24", "dev", "sgv0"]);
    sh(&["ip", "link", "set", "sgv0", "up"]);
    sh(&["ip", "route", "add", "10.66.0.0/24", "dev", "sgv0"]);
    sh(&["ip", "route", "add", "169.254.169.254/32", "dev", "sgv0"]);
    let net_arg = format!("--net={ns}");
    let in_b = |args: &[&str]| {
        let mut all = vec!["nsenter", net_arg.as_str(), "ip"];
        all.extend_from_slice(args);
        sh(&all);
    };
    in_b(&["link", "set", "lo", "up"]);
    for addr in [
        "203.0.113.10/24",
        "203.0.113.11/24",
        "10.66.0.10/24",
        "169.254.169.254/32",
    ] {
        in_b(&["addr", "add", addr, "dev", "sgv1"]);
    }
    in_b(&["link", "set", "sgv1", "up"]);

    // Names for the hosts, in this mount namespace only.
    let hosts = std::env::temp_dir().join(format!("sigmic-hosts-{}", std::process::id()));
    std::fs::write(&hosts, HOSTS).unwrap();
    sh(&["mount", "--bind", hosts.to_str().unwrap(), "/etc/hosts"]);

    // Sockets belong to the namespace they are made in: a thread enters B, binds, and leaves.
    let b = std::fs::File::open(&ns).unwrap();
    let listeners = std::thread::spawn(move || {
        nix::sched::setns(&b, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        [
            "203.0.113.10:80",
            "203.0.113.11:80",
            "10.66.0.10:80",
            "169.254.169.254:80",
        ]
        .map(|a| TcpListener::bind(a).unwrap())
    })
    .join()
    .unwrap();
    let [internet, other, private, metadata] = listeners;
    let (private_hits, metadata_hits, own_hits) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    serve(internet, "the internet", Arc::default());
    serve(other, "another site", Arc::default());
    serve(private, "a private host", Arc::clone(&private_hits));
    serve(metadata, "the metadata service", Arc::clone(&metadata_hits));
    // A service on this machine's own (non-loopback) address.
    serve(
        TcpListener::bind("203.0.113.1:8080").unwrap(),
        "this machine",
        Arc::clone(&own_hits),
    );
    Net {
        holder,
        private_hits,
        metadata_hits,
        own_hits,
    }
}

/// Each probe prints `<name> <http status> <curl exit code>`.
const PROBES: &str = r#"
p() { n=$1; shift; printf '%s ' "$n"; curl -s -m 5 -o /dev/null -w '%{http_code}' "$@"; echo " $?"; }
p allowed http://allowed.test/
p other http://other.test/
p internal http://internal.test/
p literal http://203.0.113.10/
p metadata http://169.254.169.254/latest/meta-data/
p host http://203.0.113.1:8080/
p tunnel -p http://allowed.test/
p direct --noproxy '*' http://203.0.113.10/
"#;

/// What the probes printed, as `name → (status, curl exit)`.
fn parse(stdout: &str) -> std::collections::BTreeMap<String, (String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.to_owned(),
                (w.next()?.to_owned(), w.next()?.to_owned()),
            ))
        })
        .collect()
}

async fn set_network(app: &TestApp, o: &Owner, network: Value) -> reqwest::Response {
    app.req(
        &o.client,
        Method::PUT,
        &format!("/api/v1/projects/{}/settings", o.project_id),
    )
    .json(&json!({ "model": null, "network": network }))
    .send()
    .await
    .unwrap()
}

/// Runs the probes (and `web_fetch` calls) in a task; answers the outputs of its calls.
async fn probe(app: &TestApp, model: &ModelServer, o: &Owner, fetches: &[&str]) -> Vec<String> {
    let k = format!("net-{}", unique());
    let mut turns = vec![Turn::tool_call(
        "run_shell_command",
        json!({ "command": PROBES }),
    )];
    for url in fetches {
        turns.push(Turn::tool_call("web_fetch", json!({ "url": url })));
    }
    turns.push(Turn::text("done"));
    model.script(&k, turns);
    let id = create_task(app, &o.key, json!({ "message": format!("{k}: probe") })).await;
    wait_status(app, &o.key, &id, "completed", 120).await;
    tool_outputs(app, &o.key, &id).await
}

fn expect(outputs: &[String], want: &[(&str, &str)]) {
    let got = parse(outputs[0].split_once("Stdout:").map_or("", |(_, s)| s));
    for (name, status) in want {
        let (code, exit) = got
            .get(*name)
            .unwrap_or_else(|| panic!("no `{name}` probe in {:?}", outputs[0]));
        match *status {
            // curl could not connect at all (no route: the sandbox has only loopback).
            "unreachable" => assert!(
                code == "000" && exit != "0",
                "{name}: {code} {exit}\n{}",
                outputs[0]
            ),
            // A CONNECT the proxy refused: curl reports the proxy's status as a failure.
            "refused-tunnel" => assert!(exit != "0", "{name}: {code} {exit}\n{}", outputs[0]),
            _ => assert_eq!(code, status, "{name}: exit {exit}\n{}", outputs[0]),
        }
    }
}

fn inner() {
    let net = build_network();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let model = ModelServer::start().await;
            let app = app_with(&model, "openai", |c| {
                c.web.allow_private_addresses = false;
            })
            .await;
            let o = owner(&app).await;

            // Internet only is the default: public hosts answer, through the proxy and
            // through a tunnel; private, metadata and this machine's own addresses do not,
            // and nothing gets past the proxy by ignoring it.
            let settings = assert_ok(
                app.req(
                    &o.client,
                    Method::GET,
                    &format!("/api/v1/projects/{}/settings", o.project_id),
                )
                .send()
                .await
                .unwrap(),
            )
            .await;
            assert_eq!(settings["network"]["mode"], "internet");
            let out = probe(
                &app,
                &model,
                &o,
                &["http://allowed.test/", "http://internal.test/"],
            )
            .await;
            expect(
                &out,
                &[
                    ("allowed", "200"),
                    ("other", "200"),
                    ("literal", "200"),
                    ("internal", "403"),
                    ("metadata", "403"),
                    ("host", "403"),
                    ("tunnel", "200"),
                    ("direct", "unreachable"),
                ],
            );
            assert!(out[1].contains("hello from the internet"), "{}", out[1]);
            assert!(out[2].contains("private"), "{}", out[2]);

            // An allow-list: only its hosts, and a private host stays out even when listed.
            let resp = set_network(
                &app,
                &o,
                json!({"mode": "allowList", "allowedDomains": ["allowed.test", "internal.test"]}),
            )
            .await;
            assert_eq!(
                assert_ok(resp).await["network"]["allowedDomains"],
                json!(["allowed.test", "internal.test"])
            );
            let out = probe(
                &app,
                &model,
                &o,
                &["http://allowed.test/", "http://other.test/"],
            )
            .await;
            expect(
                &out,
                &[
                    ("allowed", "200"),
                    ("other", "403"),
                    ("literal", "403"),
                    ("internal", "403"),
                    ("metadata", "403"),
                    ("host", "403"),
                    ("tunnel", "200"),
                    ("direct", "unreachable"),
                ],
            );
            assert!(out[1].contains("hello from the internet"), "{}", out[1]);
            assert!(
                out[2].contains("not on this project's list of allowed domains"),
                "{}",
                out[2]
            );

            // Off: nothing at all, and web_fetch is not offered.
            assert_ok(set_network(&app, &o, json!({"mode": "off"})).await).await;
            let out = probe(&app, &model, &o, &["http://allowed.test/"]).await;
            expect(
                &out,
                &[
                    ("allowed", "403"),
                    ("other", "403"),
                    ("tunnel", "refused-tunnel"),
                    ("direct", "unreachable"),
                ],
            );
            assert!(out[1].contains("network access is off"), "{}", out[1]);

            assert_eq!(net.private_hits.load(Ordering::SeqCst), 0, "private host");
            assert_eq!(net.metadata_hits.load(Ordering::SeqCst), 0, "metadata");
            assert_eq!(net.own_hits.load(Ordering::SeqCst), 0, "this machine");
            app.stop().await;
        });
    let mut holder = net.holder;
    let _ = holder.kill();
    let _ = holder.wait();
}

/// A policy that cannot be enforced as written is refused, naming the entry, and the
/// settings stay as they were.
#[tokio::test]
async fn a_bad_network_policy_is_refused_with_the_field() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .signup("net-admin@example.com", "netadmin", PASSWORD)
        .await;
    let project = app.first_project(&client).await;
    let path = format!("/api/v1/projects/{project}/settings");
    for (network, field) in [
        (
            json!({"mode": "allowList", "allowedDomains": ["ok.example", "https://x.example/"]}),
            "network.allowedDomains[1]",
        ),
        (
            json!({"mode": "allowList", "allowedDomains": ["*.com"]}),
            "network.allowedDomains[0]",
        ),
        (
            json!({"mode": "allowList", "allowedDomains": ["10.0.0.1"]}),
            "network.allowedDomains[0]",
        ),
    ] {
        let resp = app
            .req(&client, Method::PUT, &path)
            .json(&json!({ "model": null, "network": network }))
            .send()
            .await
            .unwrap();
        let err = assert_error(resp, 400, "VALIDATION_ERROR").await;
        assert!(err["fields"][field].is_string(), "{field}: {err:#}");
    }
    let resp = app
        .req(&client, Method::PUT, &path)
        .json(&json!({ "model": null, "network": {"mode": "everything"} }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    let settings = assert_ok(app.req(&client, Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(
        settings["network"],
        json!({"mode": "internet", "allowedDomains": []})
    );
}
