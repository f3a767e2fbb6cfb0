//! MCP servers in tasks, through the Task API with the scripted model and a real MCP server
//! (the reference "everything" server from npm): the project's servers are connected at the
//! run's start, their tools offered beside the built-ins, called with checked arguments, and a
//! server that cannot connect is named on the stream while the task goes on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::mcp::{Everything, MCP_SERVER_TIME, Transport};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{
    Owner, app_with, create_task, log_all, owner, tool_outputs, wait_status,
};

async fn add_server(app: &TestApp, o: &Owner, body: Value) {
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/projects/{}/mcp-servers", o.project_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
}

fn offered_tools(model: &ModelServer, key: &str) -> Vec<String> {
    let requests = model.requests_for(key);
    let first = requests.first().expect("the model was asked");
    first.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_calls_a_projects_mcp_tools_beside_the_builtins() {
    let everything = Everything::start(Transport::StreamableHttp);
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |c| {
        c.mcp.allow_private_addresses = true
    })
    .await;
    let o = owner(&app).await;
    add_server(
        &app,
        &o,
        json!({
            "name": "everything",
            "url": everything.url(),
            "headers": {"Authorization": "Bearer {{mcp.SHOP_TOKEN}}"},
            "includeTools": ["echo", "get-sum", "get-structured-content"],
        }),
    )
    .await;
    // A server that is not there: named on the stream, and the task goes on.
    add_server(
        &app,
        &o,
        json!({"name": "offline", "url": "http://127.0.0.1:9/mcp", "timeout": 2000}),
    )
    .await;

    let k = format!("mcp-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("mcp__everything__get-sum", json!({"a": 2, "b": 40})),
            Turn::tool_call(
                "mcp__everything__echo",
                json!({"message": "hello over MCP"}),
            ),
            Turn::tool_call("mcp__everything__get-sum", json!({"a": "two"})),
            Turn::tool_call(
                "mcp__everything__get-structured-content",
                json!({"location": "New York"}),
            ),
            Turn::text("done"),
        ],
    );
    let secret = format!("shop-token-{}", unique());
    let id = create_task(
        &app,
        &o.key,
        json!({
            "message": format!("{k}: use the tools"),
            "secrets": {"SHOP_TOKEN": secret},
        }),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 120).await;

    let tools = offered_tools(&model, &k);
    for name in [
        "run_shell_command",
        "read_file",
        "mcp__everything__get-sum",
        "mcp__everything__echo",
    ] {
        assert!(
            tools.iter().any(|t| t == name),
            "{name} not offered: {tools:?}"
        );
    }
    assert!(
        !tools.iter().any(|t| t == "mcp__everything__get-tiny-image"),
        "filtered out: {tools:?}"
    );
    let get_sum = model.requests_for(&k)[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "mcp__everything__get-sum")
        .cloned()
        .unwrap();
    assert_eq!(
        get_sum["input_schema"]["properties"]["a"]["type"], "number",
        "{get_sum}"
    );

    let outputs = tool_outputs(&app, &o.key, &id).await;
    assert!(outputs[0].contains("42"), "{outputs:?}");
    assert!(outputs[1].contains("hello over MCP"), "{outputs:?}");
    assert!(
        outputs[2].contains("input schema") && outputs[2].contains("/a"),
        "checked before sending: {outputs:?}"
    );
    assert!(
        outputs[3].contains("temperature"),
        "structured content: {outputs:?}"
    );

    let events = log_all(&app, &o.key, &id).await;
    let notice = events
        .iter()
        .find(|f| {
            f.event == "status"
                && f.data["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("offline"))
        })
        .unwrap_or_else(|| panic!("no status naming the offline server: {events:?}"));
    assert_eq!(notice.data["status"], "connecting");
    let log = serde_json::to_string(&events.iter().map(|f| &f.data).collect::<Vec<_>>()).unwrap();
    assert!(
        !log.contains(&secret),
        "the filled token reached the stream"
    );
    assert!(
        files_containing(app.data_dir(), secret.as_bytes()).is_empty(),
        "the token was written down"
    );

    // The servers' statuses say what the run found.
    let resp = app
        .req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/mcp-servers", o.project_id),
        )
        .send()
        .await
        .unwrap();
    let servers = assert_ok(resp).await;
    let state = |name: &str| {
        servers
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["status"]["state"]
            .clone()
    };
    assert_eq!(
        (state("everything"), state("offline")),
        (json!("ok"), json!("failed"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_sse_transport_carries_calls_too() {
    let everything = Everything::start(Transport::Sse);
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |c| c.mcp.allow_private_addresses = true).await;
    let o = owner(&app).await;
    add_server(
        &app,
        &o,
        json!({"name": "legacy", "type": "sse", "url": everything.url()}),
    )
    .await;
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/projects/{}/mcp-servers/legacy/test", o.project_id),
        )
        .send()
        .await
        .unwrap();
    let result = assert_ok(resp).await;
    assert_eq!(result["ok"], true, "{result}");
    assert!(
        result["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "get-sum"),
        "{result}"
    );

    let k = format!("sse-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("mcp__legacy__get-sum", json!({"a": 20, "b": 3})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: add")})).await;
    wait_status(&app, &o.key, &id, "completed", 120).await;
    let outputs = tool_outputs(&app, &o.key, &id).await;
    assert!(outputs[0].contains("23"), "{outputs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_servers_run_inside_the_tasks_sandbox() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    add_server(
        &app,
        &o,
        json!({
            "name": "everything",
            "command": "mcp-server-everything",
            "args": ["stdio"],
            "env": {"SHOP_API_KEY": "{{mcp.SHOP_KEY}}"},
            "includeTools": ["get-env", "get-sum"],
        }),
    )
    .await;
    add_server(
        &app,
        &o,
        json!({
            "name": "time",
            "command": MCP_SERVER_TIME,
            "args": ["--local-timezone=UTC"],
            "excludeTools": ["convert_time"],
        }),
    )
    .await;

    let k = format!("stdio-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("mcp__everything__get-env", json!({})),
            Turn::tool_call(
                "mcp__time__get_current_time",
                json!({"timezone": "Europe/Berlin"}),
            ),
            Turn::tool_call(
                "mcp__time__get_current_time",
                json!({"timezone": "Mars/Olympus_Mons"}),
            ),
            Turn::tool_call("mcp__everything__get-sum", json!({"a": 1, "b": 2})),
            Turn::text("done"),
        ],
    );
    let secret = format!("shop-key-{}", unique());
    let id = create_task(
        &app,
        &o.key,
        json!({
            "message": format!("{k}: local tools"),
            "secrets": {"SHOP_KEY": secret},
        }),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 120).await;

    let tools = offered_tools(&model, &k);
    let events = log_all(&app, &o.key, &id).await;
    let notices: Vec<&Value> = events
        .iter()
        .filter(|f| f.event == "status")
        .map(|f| &f.data)
        .collect();
    assert!(
        tools.iter().any(|t| t == "mcp__time__get_current_time"),
        "{tools:?} {notices:?}"
    );
    assert!(
        !tools.iter().any(|t| t == "mcp__time__convert_time"),
        "{tools:?}"
    );

    let outputs = tool_outputs(&app, &o.key, &id).await;
    // The server's environment is the sandbox's: its home, not the host's, and the filled
    // placeholder, which the output never shows.
    assert!(outputs[0].contains("/tmp/home"), "{}", outputs[0]);
    assert!(outputs[0].contains("SHOP_API_KEY"), "{}", outputs[0]);
    assert!(
        !outputs[0].contains(&secret),
        "a filled value reached the output"
    );
    assert!(outputs[1].contains("Europe/Berlin"), "{}", outputs[1]);
    assert!(
        outputs[2].to_lowercase().contains("timezone"),
        "{}",
        outputs[2]
    );
    assert!(outputs[3].contains('3'), "{}", outputs[3]);
    let history = assert_ok(
        app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/history"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let text = history.to_string();
    assert!(
        text.contains("\"status\":\"error\""),
        "the unknown zone is a failed call: {text}"
    );
    assert!(files_containing(app.data_dir(), secret.as_bytes()).is_empty());
}

/// What real servers rarely do on demand, from our own test server: long calls kept alive
/// by progress, a hanging call given up on and cancelled at the server, `isError`, an image,
/// an oversized result, a tool list that changes, and a tool list in pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edges_of_mcp_from_a_server_of_our_own() {
    use sigmic_testkit::mcp::TestServer;
    use std::sync::atomic::Ordering;
    let lab = TestServer::start().await;
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |c| {
        c.mcp.allow_private_addresses = true
    })
    .await;
    let o = owner(&app).await;
    add_server(
        &app,
        &o,
        json!({"name": "lab", "url": lab.url(), "timeout": 1500}),
    )
    .await;

    let k = format!("lab-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("mcp__lab__slow", json!({"ms": 3000, "steps": 12})),
            Turn::tool_call("mcp__lab__hang", json!({})),
            Turn::tool_call("mcp__lab__fail", json!({})),
            Turn::tool_call("mcp__lab__image", json!({})),
            Turn::tool_call("mcp__lab__big", json!({"kb": 200})),
            Turn::tool_call("mcp__lab__add_tool", json!({})),
            Turn::tool_call("mcp__lab__extra", json!({})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: edges")})).await;
    wait_status(&app, &o.key, &id, "completed", 120).await;
    let outputs = tool_outputs(&app, &o.key, &id).await;

    assert!(
        outputs[0].contains("slept 3000 ms"),
        "progress kept it alive: {}",
        outputs[0]
    );
    assert!(
        outputs[1].contains("no answer within 1500 ms"),
        "{}",
        outputs[1]
    );
    assert!(
        outputs[2].contains("the order system is down"),
        "{}",
        outputs[2]
    );
    assert!(
        outputs[3].contains("image/png") && outputs[3].contains("saved as mcp/lab/"),
        "{}",
        outputs[3]
    );
    assert!(
        outputs[4].contains("[the result was cut at"),
        "{}",
        &outputs[4][outputs[4].len().saturating_sub(200)..]
    );
    assert!(outputs[4].len() < 100 * 1024, "{}", outputs[4].len());
    assert!(outputs[6].contains("extra works"), "{}", outputs[6]);

    // The hanging call was cancelled at the server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lab.seen.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never heard of the cancel"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The image is a file of the workspace.
    let saved = outputs[3]
        .split("saved as ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    let file = app.data_dir().join("workspaces").join(&id).join(saved);
    assert!(
        std::fs::read(&file).unwrap().starts_with(b"\x89PNG"),
        "{}",
        file.display()
    );

    // Every page of the list was offered; `extra` only after it was announced.
    let requests = model.requests_for(&k);
    let names = |i: usize| -> Vec<String> {
        requests[i].body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        names(0).contains(&"mcp__lab__page_7".to_owned()),
        "{:?}",
        names(0)
    );
    assert!(!names(0).contains(&"mcp__lab__extra".to_owned()));
    assert!(
        names(6).contains(&"mcp__lab__extra".to_owned()),
        "{:?}",
        names(6)
    );
    assert!(lab.seen.listings.load(Ordering::SeqCst) >= 4);
}

/// A local server whose process dies mid-call. The connection is made again once (a new
/// process in the same sandbox); a read-only call is sent again and answers, a call that
/// may have acted is not sent twice and says so, and a server that will not come back fails
/// the call with the reason while the task goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_mid_call_is_connected_again_once() {
    use sigmic_testkit::mcp::{CRASHY_SERVER, MCP_PYTHON};
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    add_server(
        &app,
        &o,
        json!({"name": "crashy", "command": MCP_PYTHON, "args": ["-c", CRASHY_SERVER]}),
    )
    .await;

    let k = format!("crashy-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("mcp__crashy__balance", json!({})),
            Turn::tool_call("mcp__crashy__charge", json!({"amount": 5})),
            Turn::tool_call("mcp__crashy__balance", json!({})),
            Turn::tool_call("mcp__crashy__die_for_good", json!({})),
            Turn::tool_call("mcp__crashy__balance", json!({})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: crash")})).await;
    wait_status(&app, &o.key, &id, "completed", 120).await;
    let outputs = tool_outputs(&app, &o.key, &id).await;

    assert!(
        outputs[0].contains("balance 42 (process 2)"),
        "read-only: sent again to the new process: {}",
        outputs[0]
    );
    assert!(
        outputs[1].contains("whether it took effect is unknown"),
        "{}",
        outputs[1]
    );
    assert!(
        outputs[2].contains("balance 42 (process 3)"),
        "the connection is back after the charge: {}",
        outputs[2]
    );
    assert!(
        outputs[3].contains("connecting again failed"),
        "{}",
        outputs[3]
    );
    assert!(
        outputs[4].contains("could not run `balance`"),
        "{}",
        outputs[4]
    );
    // Every process ran in the task's sandbox, writing to its workspace: three answered (a
    // fourth would mean `charge` was sent again and killed it), the last would not start.
    let starts = std::fs::read_to_string(
        app.data_dir()
            .join("workspaces")
            .join(&id)
            .join(".crashy-starts"),
    )
    .unwrap();
    assert_eq!(starts.lines().count(), 3, "{starts}");
}

/// The orders in the seed use case: twelve, and what each should have been paid.
fn orders() -> Vec<Value> {
    (1..=12)
        .map(|i| json!({"order": format!("o-{i}"), "amount": i * 10}))
        .collect()
}

/// The payments: one order unpaid (o-4), one paid short (o-7), one payment for an order
/// that does not exist (o-99).
fn payments() -> Vec<Value> {
    let mut paid: Vec<Value> = (1..=12)
        .filter(|i| *i != 4)
        .map(|i| {
            let amount = if i == 7 { 65 } else { i * 10 };
            json!({"payment": format!("p-{i}"), "order": format!("o-{i}"), "amount": amount})
        })
        .collect();
    paid.push(json!({"payment": "p-99", "order": "o-99", "amount": 5}));
    paid
}

const MATCH_PY: &str = r#"import csv, json
orders = {o["order"]: o["amount"] for o in json.load(open("orders.json"))}
paid = {}
for p in json.load(open("payments.json")):
    paid[p["order"]] = paid.get(p["order"], 0) + p["amount"]
with open("discrepancies.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["order", "expected", "paid", "issue"])
    for order in sorted(set(orders) | set(paid), key=lambda o: int(o[2:])):
        expected, got = orders.get(order), paid.get(order)
        if expected is None:
            w.writerow([order, "", got, "payment without order"])
        elif got is None:
            w.writerow([order, expected, "", "unpaid"])
        elif got != expected:
            w.writerow([order, expected, got, "amount differs"])
print("matched", len(orders), "orders against", len(paid), "paid orders")
"#;

/// Sigmic's first use case end to end: reconcile two systems. Two MCP servers with paged
/// listings, reached with tokens that arrive as the task's `secrets` and fill `{{mcp.KEY}}`;
/// the agent pages through both, runs a matching script in the sandbox, and the discrepancy
/// CSV comes from the artifacts API. The tokens are found nowhere: not in the data dir, the
/// server's log, or the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_orders_against_payments_over_two_mcp_servers() {
    use sigmic_testkit::mcp::Ledger;
    // Random, as real tokens are: a secret's first six characters are redacted wherever they
    // stand, so a token beginning like a word would hide that word too.
    let orders_token = format!("ot_{}", random_hex(16));
    let payments_token = format!("pt_{}", random_hex(16));
    let orders_server = Ledger::start("orders", &orders_token, orders(), 5).await;
    let payments_server = Ledger::start("payments", &payments_token, payments(), 5).await;
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |c| {
        c.mcp.allow_private_addresses = true
    })
    .await;
    let o = owner(&app).await;
    for (name, url, key) in [
        ("orders", orders_server.url(), "ORDERS_TOKEN"),
        ("payments", payments_server.url(), "PAYMENTS_TOKEN"),
    ] {
        add_server(
            &app,
            &o,
            json!({
                "name": name,
                "type": "http",
                "url": url,
                "headers": {"Authorization": format!("Bearer {{{{mcp.{key}}}}}")},
            }),
        )
        .await;
    }

    let k = format!("reconcile-{}", unique());
    let mut turns = Vec::new();
    for system in ["orders", "payments"] {
        let tool = format!("mcp__{system}__list_{system}");
        turns.push(Turn::tool_call(&tool, json!({})));
        turns.push(Turn::tool_call(&tool, json!({"cursor": "5"})));
        turns.push(Turn::tool_call(&tool, json!({"cursor": "10"})));
    }
    // What the model read from the pages, written down for the script.
    turns.push(Turn::tool_call(
        "write_file",
        json!({"path": "orders.json", "content": Value::Array(orders()).to_string()}),
    ));
    turns.push(Turn::tool_call(
        "write_file",
        json!({"path": "payments.json", "content": Value::Array(payments()).to_string()}),
    ));
    turns.push(Turn::tool_call(
        "write_file",
        json!({"path": "match.py", "content": MATCH_PY}),
    ));
    turns.push(Turn::tool_call(
        "run_shell_command",
        json!({"command": "python3 match.py"}),
    ));
    turns.push(Turn::text("Three discrepancies: see discrepancies.csv."));
    model.script(&k, turns);

    let id = create_task(
        &app,
        &o.key,
        json!({
            "message": format!("{k}: reconcile this month's orders against payments"),
            "secrets": {"ORDERS_TOKEN": orders_token, "PAYMENTS_TOKEN": payments_token},
        }),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 120).await;

    let outputs = tool_outputs(&app, &o.key, &id).await;
    // Each page came from its server, and the last says there is no more.
    for (i, first) in [
        (0, "o-1"),
        (1, "o-6"),
        (2, "o-11"),
        (3, "p-1"),
        (4, "p-7"),
        (5, "p-12"),
    ] {
        assert!(outputs[i].contains(first), "page {i}: {}", outputs[i]);
    }
    assert!(outputs[2].contains("\"nextCursor\":null"), "{}", outputs[2]);
    assert!(outputs[5].contains("p-99"), "{}", outputs[5]);
    assert_eq!(
        orders_server
            .calls
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(
        payments_server
            .calls
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert!(
        outputs[9].contains("matched 12 orders against 12 paid orders"),
        "{}",
        outputs[9]
    );
    // The pages reached the model as the results of its calls.
    let requests = model.requests_for(&k);
    assert!(requests[1].body.to_string().contains("o-5"));

    let resp = app
        .bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts/download?path=discrepancies.csv"),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv");
    assert_eq!(
        resp.text().await.unwrap().replace("\r\n", "\n"),
        "order,expected,paid,issue\n\
         o-4,40,,unpaid\n\
         o-7,70,65,amount differs\n\
         o-99,,5,payment without order\n"
    );

    let events = log_all(&app, &o.key, &id).await;
    let stream =
        serde_json::to_string(&events.iter().map(|f| &f.data).collect::<Vec<_>>()).unwrap();
    let log = server_log();
    assert!(log.contains(&id), "the log was kept");
    let rows = if is_postgres() {
        app.pg_rows_text().await
    } else {
        String::new()
    };
    for token in [&orders_token, &payments_token] {
        assert!(
            !stream.contains(token.as_str()),
            "a token reached the stream"
        );
        assert!(!log.contains(token.as_str()), "a token reached the log");
        assert!(
            files_containing(app.data_dir(), token.as_bytes()).is_empty(),
            "a token was written down"
        );
        assert!(!rows.contains(token.as_str()), "a token is in the database");
    }
}
