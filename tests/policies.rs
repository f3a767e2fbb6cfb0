//! What a project's agent may do, through the API: tool policy rules checked when saved,
//! their decisions on real tasks run by the scripted model (each decision, each mode,
//! precedence, conditions true, false and failing, `autoExecute`, MCP tools by pattern), the
//! audit log of every call, and the settings and prompts that go with them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{
    Owner, app_with, create_task, get_task, owner, tool_outputs, wait_status,
};

async fn add_rule(app: &TestApp, o: &Owner, body: Value) -> Value {
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/projects/{}/tool-policies", o.project_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

async fn put_settings(app: &TestApp, o: &Owner, body: Value) -> Value {
    let resp = app
        .req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/settings", o.project_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

async fn approve(app: &TestApp, o: &Owner, task: &str, call: &str, outcome: &str) {
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/tasks/{task}/tools/{call}/approve"),
        )
        .json(&json!({ "outcome": outcome }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
}

/// The call waiting for approval now, once there is one other than `not`.
async fn pending(app: &TestApp, o: &Owner, task: &str, not: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = get_task(app, &o.key, task).await;
        if let Some(p) = t["pendingApprovals"].as_array().and_then(|p| p.first())
            && Some(p["callId"].as_str().unwrap()) != not
        {
            return p.clone();
        }
        assert!(Instant::now() < deadline, "nothing waits: {t:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn audit(app: &TestApp, o: &Owner, query: &str) -> Vec<Value> {
    let resp = app
        .req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/audit?{query}", o.project_id),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await["entries"].as_array().unwrap().clone()
}

fn offered(model: &ModelServer, key: &str) -> Vec<String> {
    model.requests_for(key)[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn rules_are_checked_when_saved_and_only_project_admins_write_them() {
    let app = TestApp::spawn().await;
    let o = owner(&app).await;
    let base = format!("/api/v1/projects/{}/tool-policies", o.project_id);
    for (body, field, says) in [
        (json!({"tool": "", "decision": "ask"}), "tool", "required"),
        (json!({"tool": "mcp__[", "decision": "ask"}), "tool", "glob"),
        (
            json!({"tool": "x", "decision": "ask", "condition": "args.amount >"}),
            "condition",
            "line 1, column",
        ),
        (
            json!({"tool": "x", "decision": "ask", "condition": "x".repeat(2001)}),
            "condition",
            "2000",
        ),
    ] {
        let resp = app
            .req(&o.client, Method::POST, &base)
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = assert_field_error(resp, field).await;
        assert!(
            err["fields"][field].as_str().unwrap().contains(says),
            "{err}"
        );
    }
    let resp = app
        .req(&o.client, Method::POST, &base)
        .json(&json!({"tool": "x", "decision": "maybe"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    // Nothing was written by any of them.
    let list = assert_ok(app.req(&o.client, Method::GET, &base).send().await.unwrap()).await;
    assert_eq!(list, json!([]));

    let rule = add_rule(
        &app,
        &o,
        json!({"tool": "mcp__payments__refund*", "decision": "ask", "condition": "args.amount > 100", "note": "big refunds"}),
    )
    .await;
    assert_eq!(rule["decision"], "ask");
    assert_eq!(rule["condition"], "args.amount > 100");
    let id = rule["id"].as_str().unwrap();

    // A member sees the rules and asks what they decide, but cannot change them; neither can
    // an API key.
    let u = unique();
    let (member, _) = app
        .add_org_member(
            &o.client,
            &format!("m{u}@example.com"),
            &format!("m{u}"),
            "member",
        )
        .await;
    let me = app.me(&member).await;
    let member_id = me["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{me}"))
        .to_owned();
    app.add_project_member(&o.client, &o.project_id, &member_id, "member")
        .await;
    let seen = assert_ok(app.req(&member, Method::GET, &base).send().await.unwrap()).await;
    assert_eq!(seen[0]["id"], id);
    for (who, how) in [(Some(&member), "member"), (None, "api key")] {
        let req = match who {
            Some(c) => app.req(c, Method::POST, &base),
            None => app.bearer(Method::POST, &base, &o.key),
        };
        let resp = req
            .json(&json!({"tool": "x", "decision": "allow"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{how}");
        let resp = match who {
            Some(c) => app.req(c, Method::DELETE, &format!("{base}/{id}")),
            None => app.bearer(Method::DELETE, &format!("{base}/{id}"), &o.key),
        }
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 403, "{how}");
    }

    // "Try it".
    let check = |args: Value| {
        app.bearer(Method::POST, &format!("{base}/check"), &o.key)
            .json(&json!({"tool": "mcp__payments__refund_order", "args": args}))
            .send()
    };
    let big = assert_ok(check(json!({"amount": 250})).await.unwrap()).await;
    assert_eq!(big["decision"], "ask");
    assert_eq!(big["rule"]["id"], id);
    let small = assert_ok(check(json!({"amount": 50})).await.unwrap()).await;
    assert_eq!(small["decision"], "allow");
    assert!(small["rule"].is_null());
    assert!(
        small["reason"]
            .as_str()
            .unwrap()
            .contains("no rule matched")
    );
    let broken = assert_ok(check(json!({"currency": "EUR"})).await.unwrap()).await;
    assert_eq!(
        broken["decision"], "ask",
        "a failing condition asks: {broken}"
    );
    assert!(broken["reason"].as_str().unwrap().contains("failed"));

    // Replace, then delete.
    let resp = app
        .req(&o.client, Method::PUT, &format!("{base}/{id}"))
        .json(&json!({"tool": "mcp__payments__*", "decision": "deny"}))
        .send()
        .await
        .unwrap();
    let replaced = assert_ok(resp).await;
    assert_eq!(replaced["decision"], "deny");
    assert!(replaced["condition"].is_null());
    let resp = app
        .req(&o.client, Method::DELETE, &format!("{base}/{id}"))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .req(&o.client, Method::GET, &format!("{base}/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    app.stop().await;
}

/// Deny, ask and allow on one task; precedence among matching rules; a condition true,
/// false and failing; the audit log of each call, with who approved it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_decision_on_a_task_and_its_audit() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let deny = add_rule(
        &app,
        &o,
        json!({"tool": "run_shell_command", "decision": "deny"}),
    )
    .await;
    let ask_csv = add_rule(
        &app,
        &o,
        json!({"tool": "write_file", "decision": "ask", "condition": "args.path.endsWith('.csv')"}),
    )
    .await;
    // Matches every write too, but `ask` beats `allow`.
    add_rule(&app, &o, json!({"tool": "write_*", "decision": "allow"})).await;
    // Fails on calls without `limit`: a person decides.
    add_rule(
        &app,
        &o,
        json!({"tool": "read_file", "decision": "allow", "condition": "args.limit < 10"}),
    )
    .await;

    let k = format!("decide-{}", unique());
    let token = format!("tok_{}", random_hex(16));
    model.script(
        &k,
        vec![
            Turn::tool_call("run_shell_command", json!({"command": "touch denied.txt"})),
            Turn::tool_call(
                "write_file",
                json!({"path": "notes.txt", "content": format!("token {token}")}),
            ),
            Turn::tool_call(
                "write_file",
                json!({"path": "report.csv", "content": "a,b"}),
            ),
            Turn::tool_call("read_file", json!({"path": "notes.txt"})),
            Turn::text("done"),
        ],
    );
    // `autoExecute: true` (the default) does not lift the project's `ask`.
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: go"), "autoExecute": true, "secrets": {"TOKEN": token}}),
    )
    .await;
    let csv = pending(&app, &o, &id, None).await;
    assert_eq!(csv["toolName"], "write_file");
    assert_eq!(csv["args"]["path"], "report.csv");
    let csv_call = csv["callId"].as_str().unwrap().to_owned();
    approve(&app, &o, &id, &csv_call, "proceed_once").await;
    let read = pending(&app, &o, &id, Some(&csv_call)).await;
    assert_eq!(read["toolName"], "read_file");
    let read_call = read["callId"].as_str().unwrap().to_owned();
    approve(&app, &o, &id, &read_call, "cancel").await;
    wait_status(&app, &o.key, &id, "completed", 60).await;

    // Denied outright: not offered, and a call of it anyway never ran.
    assert!(!offered(&model, &k).contains(&"run_shell_command".to_owned()));
    let outputs = tool_outputs(&app, &o.key, &id).await;
    assert!(
        outputs[0].contains("Not allowed by this project's tool policy"),
        "{}",
        outputs[0]
    );
    let workspace = app.data_dir().join("workspaces").join(&id);
    assert!(!workspace.join("denied.txt").exists(), "a denied call ran");
    assert!(workspace.join("notes.txt").exists());
    assert!(workspace.join("report.csv").exists());

    let entries = audit(&app, &o, "").await;
    assert_eq!(entries.len(), 4, "{entries:#?}");
    // Newest first.
    let by_tool = |tool: &str, path: Option<&str>| -> Value {
        entries
            .iter()
            .find(|e| e["tool"] == tool && path.is_none_or(|p| e["args"]["path"] == p))
            .cloned()
            .unwrap_or_else(|| panic!("no entry for {tool}: {entries:#?}"))
    };
    let denied = by_tool("run_shell_command", None);
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["rule"]["id"], deny["id"]);
    assert_eq!(denied["outcome"], "denied");
    let free = by_tool("write_file", Some("notes.txt"));
    assert_eq!(free["decision"], "allow");
    assert_eq!(free["outcome"], "success");
    assert!(free["answeredBy"].is_null());
    let asked = by_tool("write_file", Some("report.csv"));
    assert_eq!(asked["decision"], "ask");
    assert_eq!(asked["rule"]["id"], ask_csv["id"]);
    assert_eq!(asked["answer"], "approved");
    assert_eq!(asked["answeredBy"]["kind"], "user");
    assert!(
        asked["answeredBy"]["name"]
            .as_str()
            .unwrap()
            .starts_with("owner")
    );
    assert!(asked["answeredAt"].is_string());
    assert_eq!(asked["outcome"], "success");
    let failing = by_tool("read_file", None);
    assert_eq!(failing["decision"], "ask");
    assert!(failing["reason"].as_str().unwrap().contains("failed"));
    assert_eq!(failing["answer"], "denied");
    assert_eq!(failing["outcome"], "denied");

    // Filters.
    assert_eq!(audit(&app, &o, "decision=ask").await.len(), 2);
    assert_eq!(audit(&app, &o, "tool=write_*").await.len(), 2);
    let person = asked["answeredBy"]["name"].as_str().unwrap();
    assert_eq!(audit(&app, &o, &format!("person={person}")).await.len(), 2);
    assert_eq!(audit(&app, &o, "to=2000-01-01").await.len(), 0);
    let page = assert_ok(
        app.req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/audit?limit=3", o.project_id),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = audit(&app, &o, &format!("limit=3&before={cursor}")).await;
    assert_eq!(rest.len(), 1);

    // The CSV holds the same, and an argument that looks like a formula stays text.
    let resp = app
        .req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/audit/export", o.project_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = resp.text().await.unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("time,task,call,tool")
    );
    assert!(text.contains("report.csv"));
    // `limit` holds for the export too: a page of it, within the same bounds.
    let export = |query: &'static str| {
        app.req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/audit/export?{query}", o.project_id),
        )
        .send()
    };
    let two = export("limit=2").await.unwrap().text().await.unwrap();
    assert_eq!(two.lines().count(), 3, "{two}");
    for bad in ["limit=0", "limit=9223372036854775808"] {
        assert_field_error(export(bad).await.unwrap(), "limit").await;
    }
    // A secret in a call's arguments is redacted in the log and its export.
    assert!(!text.contains(&token));
    assert!(!serde_json::to_string(&entries).unwrap().contains(&token));
    assert!(
        free["args"]["content"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:TOKEN]"),
        "{free}"
    );

    // Members and API keys do not read it.
    let resp = app
        .bearer(
            Method::GET,
            &format!("/api/v1/projects/{}/audit", o.project_id),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    app.stop().await;
}

/// What no rule matches: the project's mode; `autoExecute: false` asks for the rest; an
/// "always" answer covers a tool the mode asked for, not one a rule asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_and_auto_execute() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let settings = put_settings(&app, &o, json!({"policyMode": "askWrites"})).await;
    assert_eq!(settings["policyMode"], "askWrites");
    assert_eq!(settings["autoExecute"], true);

    // askWrites: reads run, writes ask; "always" then covers the next write.
    let k = format!("writes-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::tool_call("write_file", json!({"path": "a.txt", "content": "a"})),
            Turn::tool_call("write_file", json!({"path": "b.txt", "content": "b"})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let first = pending(&app, &o, &id, None).await;
    assert_eq!(first["args"]["path"], "a.txt");
    approve(
        &app,
        &o,
        &id,
        first["callId"].as_str().unwrap(),
        "proceed_always",
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let entries = audit(&app, &o, &format!("taskId={id}")).await;
    let decisions: Vec<&str> = entries
        .iter()
        .rev()
        .map(|e| e["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allow", "ask", "allow"], "{entries:#?}");
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap()
            .contains("rest of the task")
    );

    // A rule that asks asks every time, "always" or not.
    add_rule(&app, &o, json!({"tool": "write_file", "decision": "ask"})).await;
    let k = format!("rule-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("write_file", json!({"path": "c.txt", "content": "c"})),
            Turn::tool_call("write_file", json!({"path": "d.txt", "content": "d"})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let c = pending(&app, &o, &id, None).await;
    let c_call = c["callId"].as_str().unwrap().to_owned();
    approve(&app, &o, &id, &c_call, "proceed_always").await;
    let d = pending(&app, &o, &id, Some(&c_call)).await;
    assert_eq!(d["args"]["path"], "d.txt");
    approve(&app, &o, &id, d["callId"].as_str().unwrap(), "proceed_once").await;
    wait_status(&app, &o.key, &id, "completed", 60).await;

    // allowAll with autoExecute false asks for every call; the project's default applies to
    // a task that does not say.
    put_settings(
        &app,
        &o,
        json!({"policyMode": "askAll", "autoExecute": false}),
    )
    .await;
    let k = format!("all-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(task["autoExecute"], false, "{task:#}");
    let read = pending(&app, &o, &id, None).await;
    assert_eq!(read["toolName"], "list_directory");
    approve(
        &app,
        &o,
        &id,
        read["callId"].as_str().unwrap(),
        "proceed_once",
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    app.stop().await;
}

/// MCP tools by pattern, and the `askWrites` mode reading their `readOnlyHint`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_by_pattern() {
    use sigmic_testkit::mcp::{Ledger, TestServer};
    let orders = Ledger::start("orders", "tok", vec![json!({"order": "o-1"})], 5).await;
    let lab = TestServer::start().await;
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |c| {
        c.mcp.allow_private_addresses = true
    })
    .await;
    let o = owner(&app).await;
    for body in [
        json!({"name": "orders", "url": orders.url(), "headers": {"Authorization": "Bearer tok"}}),
        json!({"name": "lab", "url": lab.url()}),
    ] {
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
    put_settings(&app, &o, json!({"policyMode": "askWrites"})).await;
    add_rule(
        &app,
        &o,
        json!({"tool": "mcp__lab__page_*", "decision": "deny"}),
    )
    .await;
    add_rule(
        &app,
        &o,
        json!({"tool": "mcp__lab__*", "decision": "allow", "condition": "tool == 'mcp__lab__echo' && args.text != 'secret'"}),
    )
    .await;

    let k = format!("mcp-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("mcp__orders__list_orders", json!({})),
            Turn::tool_call("mcp__lab__echo", json!({"text": "hello"})),
            Turn::tool_call("mcp__lab__page_1", json!({})),
            Turn::tool_call("mcp__lab__echo", json!({"text": "secret"})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let asked = pending(&app, &o, &id, None).await;
    assert_eq!(
        asked["args"]["text"], "secret",
        "only the write no rule allows asks"
    );
    approve(&app, &o, &id, asked["callId"].as_str().unwrap(), "cancel").await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let tools = offered(&model, &k);
    assert!(
        !tools.iter().any(|t| t.starts_with("mcp__lab__page_")),
        "{tools:?}"
    );
    assert!(tools.contains(&"mcp__lab__echo".to_owned()));
    let outputs = tool_outputs(&app, &o.key, &id).await;
    assert!(outputs[0].contains("o-1"), "read-only: ran: {}", outputs[0]);
    assert!(outputs[1].contains("hello"), "{}", outputs[1]);
    assert!(outputs[2].contains("Not allowed"), "{}", outputs[2]);
    app.stop().await;
}

/// Settings bound a run within the operator's limits; prompts go into the system prompt in
/// order, the disabled ones left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_and_prompts() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let settings = format!("/api/v1/projects/{}/settings", o.project_id);
    for (body, field) in [
        (json!({"maxTurns": 0}), "maxTurns"),
        (json!({"maxTurns": 100000}), "maxTurns"),
        (json!({"maxMinutes": 100000}), "maxMinutes"),
        (json!({"policyMode": "sometimes"}), ""),
    ] {
        let resp = app
            .req(&o.client, Method::PUT, &settings)
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = assert_error(resp, 400, "VALIDATION_ERROR").await;
        if !field.is_empty() {
            assert!(err["fields"][field].is_string(), "{err}");
        }
    }
    let s = put_settings(&app, &o, json!({"maxTurns": 2, "maxMinutes": 5})).await;
    assert_eq!(s["maxTurns"], 2);

    let base = format!("/api/v1/projects/{}/prompts", o.project_id);
    let add = |body: Value| app.req(&o.client, Method::POST, &base).json(&body).send();
    let tone = assert_ok(
        add(json!({"name": "Tone", "content": "Answer in French."}))
            .await
            .unwrap(),
    )
    .await;
    assert_ok(
        add(json!({"name": "Off", "content": "Never shown.", "enabled": false}))
            .await
            .unwrap(),
    )
    .await;
    let first = assert_ok(
        add(json!({"name": "Rules", "content": "Refunds need a reason.", "position": 0}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first["position"], 0);
    let list = assert_ok(app.req(&o.client, Method::GET, &base).send().await.unwrap()).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Rules", "Tone", "Off"]);
    let resp = add(json!({"name": "", "content": "x"})).await.unwrap();
    assert_field_error(resp, "name").await;
    // Past the 32-bit position the document states: refused, not read as "last".
    let resp = add(json!({"name": "Far", "content": "x", "position": 2_147_483_648_u64}))
        .await
        .unwrap();
    assert_field_error(resp, "position").await;
    let resp = app
        .req(
            &o.client,
            Method::PUT,
            &format!("{base}/{}", tone["id"].as_str().unwrap()),
        )
        .json(&json!({"name": "Tone", "content": "Answer in German.", "position": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["position"], 2);

    // Three model calls needed, two allowed.
    let k = format!("turns-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::text("never reached"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let task = wait_status(&app, &o.key, &id, "failed", 60).await;
    assert!(
        task["error"].to_string().contains("2 model calls"),
        "{task:#}"
    );
    let system = model.requests_for(&k)[0].body["system"].to_string();
    let (rules, german) = (
        system.find("Refunds need a reason").unwrap(),
        system.find("Answer in German").unwrap(),
    );
    assert!(rules < german, "in order: {system}");
    assert!(!system.contains("Never shown"));
    assert!(!system.contains("French"));
    app.stop().await;
}
