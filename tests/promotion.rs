//! Promoting a configuration through the API: exported from a `dev-sandbox` project (secret
//! values never in it), its differences with `customer-support` listed by a dry run that
//! changes nothing, applied in one go, and a task in the target behaving by it; a document
//! with a mistake refused whole, naming where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{app_with, create_task, get_task, owner};

async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = app.req(client, method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    assert_ok(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_configuration_is_exported_compared_and_applied_to_another_project() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let c = &o.client;
    let dev = app.create_project(c, "dev-sandbox").await;
    let dev = dev["id"].as_str().unwrap().to_owned();
    let target = o.project_id.clone();
    let dev_secret = format!("sk-dev-{}", random_hex(12));
    let prod_secret = format!("sk-prod-{}", random_hex(12));

    // What was tried in dev-sandbox.
    let p = |project: &str, rest: &str| format!("/api/v1/projects/{project}/{rest}");
    call(&app, c, Method::POST, &p(&dev, "tool-policies"), Some(json!({"tool": "write_file", "decision": "ask", "condition": "args.path.endsWith('.csv')", "note": "reports are reviewed"}))).await;
    call(
        &app,
        c,
        Method::POST,
        &p(&dev, "prompts"),
        Some(json!({"name": "Tone", "content": "Answer in one paragraph."})),
    )
    .await;
    call(&app, c, Method::POST, &p(&dev, "skills"), Some(json!({"name": "refund-check", "description": "Checks a refund against the policy.", "instructions": "Run the script.", "files": {"scripts/check.sh": "#!/bin/sh\necho ok\n"}}))).await;
    call(
        &app,
        c,
        Method::PUT,
        &p(&dev, "subagents"),
        Some(json!({"researcher": true})),
    )
    .await;
    call(
        &app,
        c,
        Method::PUT,
        &p(&dev, "settings"),
        Some(json!({"policyMode": "allowAll", "autoExecute": true, "maxTurns": 40})),
    )
    .await;
    for project in [&dev, &target] {
        let secret = if project == &dev {
            &dev_secret
        } else {
            &prod_secret
        };
        call(&app, c, Method::POST, &p(project, "mcp-servers"), Some(json!({
            "name": "crm", "url": "https://crm.example.com/mcp",
            "headers": {"Authorization": format!("Bearer {secret}"), "X-Tenant": "{{mcp.TENANT}}"}
        }))).await;
    }
    // What customer-support has that dev-sandbox does not.
    call(
        &app,
        c,
        Method::POST,
        &p(&target, "tool-policies"),
        Some(json!({"tool": "run_shell_command", "decision": "deny"})),
    )
    .await;

    let doc = call(&app, c, Method::GET, &p(&dev, "config"), None).await;
    let text = doc.to_string();
    assert!(
        !text.contains(&dev_secret),
        "a secret value left in the export: {text}"
    );
    assert_eq!(doc["version"], 1);
    assert_eq!(
        doc["mcpServers"]["crm"]["headers"]["Authorization"],
        "********"
    );
    assert_eq!(
        doc["mcpServers"]["crm"]["headers"]["X-Tenant"],
        "{{mcp.TENANT}}"
    );
    assert_eq!(doc["skills"][0]["files"][0]["path"], "scripts/check.sh");
    assert_eq!(doc["subagents"]["researcher"], true);

    // A dry run lists the differences and changes nothing.
    let dry = call(
        &app,
        c,
        Method::POST,
        &format!("{}?dryRun=true", p(&target, "config")),
        Some(doc.clone()),
    )
    .await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["applied"], false);
    let changes: Vec<(String, String, String)> = dry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["section"].as_str().unwrap().into(),
                c["name"].as_str().unwrap().into(),
                c["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |section: &str, name: &str, change: &str| {
        changes.contains(&(section.to_owned(), name.to_owned(), change.to_owned()))
    };
    assert!(has("toolPolicy", "write_file", "add"), "{changes:?}");
    assert!(
        has("toolPolicy", "run_shell_command", "remove"),
        "{changes:?}"
    );
    assert!(has("prompt", "Tone", "add"), "{changes:?}");
    assert!(has("skill", "refund-check", "add"), "{changes:?}");
    assert!(has("subagent", "researcher", "update"), "{changes:?}");
    assert!(has("settings", "maxTurns", "update"), "{changes:?}");
    // The MCP server is the same but for its secret, which the document does not carry.
    assert!(
        !changes.iter().any(|(s, ..)| s == "mcpServer"),
        "{changes:?}"
    );
    let rules = call(&app, c, Method::GET, &p(&target, "tool-policies"), None).await;
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["tool"], "run_shell_command");

    // A mistake anywhere refuses the whole document, naming where.
    let mut broken = doc.clone();
    broken["toolPolicies"][0]["condition"] = json!("args.path.endsWith(");
    broken["skills"][0]["name"] = json!("Bad Name");
    let resp = app
        .req(c, Method::POST, &p(&target, "config"))
        .json(&broken)
        .send()
        .await
        .unwrap();
    let err = assert_field_error(resp, "toolPolicies[0].condition").await;
    assert!(err["fields"]["skills[0].name"].is_string(), "{err}");
    assert_eq!(
        call(&app, c, Method::GET, &p(&target, "skills"), None).await,
        json!([])
    );

    // Applied.
    let done = call(
        &app,
        c,
        Method::POST,
        &p(&target, "config"),
        Some(doc.clone()),
    )
    .await;
    assert_eq!(done["applied"], true);
    let rules = call(&app, c, Method::GET, &p(&target, "tool-policies"), None).await;
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["tool"], "write_file");
    assert_eq!(rules[0]["condition"], "args.path.endsWith('.csv')");
    let skills = call(&app, c, Method::GET, &p(&target, "skills"), None).await;
    assert_eq!(skills[0]["name"], "refund-check");
    let crm = call(&app, c, Method::GET, &p(&target, "mcp-servers/crm"), None).await;
    assert_eq!(
        crm["headers"]["Authorization"],
        format!("Bearer {prod_secret}"),
        "the target keeps its own secret"
    );
    let settings = call(&app, c, Method::GET, &p(&target, "settings"), None).await;
    assert_eq!(settings["maxTurns"], 40);
    // Applying it again changes nothing.
    let again = call(
        &app,
        c,
        Method::POST,
        &format!("{}?dryRun=true", p(&target, "config")),
        Some(doc),
    )
    .await;
    assert_eq!(again["changes"], json!([]), "{again}");

    // A task in the target behaves by the new configuration: the CSV write asks, the shell
    // is no longer denied, the skill and the prompt are in its prompt, the subagent offered.
    let k = format!("promoted-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "/skills/refund-check/scripts/check.sh"}),
            ),
            Turn::tool_call(
                "write_file",
                json!({"path": "refunds.csv", "content": "a,b"}),
            ),
            Turn::text("done"),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: check refunds")}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let t = get_task(&app, &o.key, &id).await;
        if let Some(p) = t["pendingApprovals"].as_array().and_then(|p| p.first()) {
            break p.clone();
        }
        assert!(Instant::now() < deadline, "nothing waits: {t:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(held["args"]["path"], "refunds.csv");
    let first = &model.requests_for(&k)[0].body;
    let system = first["system"].to_string();
    assert!(
        system.contains("refund-check: Checks a refund against the policy."),
        "{system}"
    );
    assert!(system.contains("Answer in one paragraph."), "{system}");
    let tools = first["tools"].to_string();
    assert!(tools.contains("\"researcher\""), "{tools}");
    let second = model.requests_for(&k)[1].body.to_string();
    assert!(second.contains("ok"), "the skill's script ran: {second}");
    app.stop().await;
}
