//! Usage per day, API key and model, and monthly budgets that stop tasks with
//! `BUDGET_EXCEEDED`: the project's and each API key's. On SQLite, and on PostgreSQL when
//! `DATABASE_URL` names one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use sigmic_testkit::harness::{
    TestApp, assert_error, assert_field_error, assert_ok, json_body, unique,
};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::*;

/// A model with a list price: $2 per million input tokens, $8 per million output tokens.
const PRICED: &str = "openai/gpt-4.1";

/// What `turn` costs on `PRICED`.
const TURN_USD: f64 = 0.28;

/// 100k tokens in and 10k out: `TURN_USD`.
fn turn(text: &str) -> Turn {
    Turn::text(text).with_usage(100_000, 10_000)
}

async fn priced_app(model: &ModelServer) -> TestApp {
    app_with(model, "openai", |c| {
        c.llm.default_model = Some(PRICED.to_owned());
    })
    .await
}

fn usd(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn assert_usd(v: &Value, expected: f64) {
    assert!((usd(v) - expected).abs() < 1e-9, "{v} is not {expected}");
}

async fn send(
    app: &TestApp,
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app.req(client, method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn usage(app: &TestApp, client: &Client, project: &str, query: &str) -> Value {
    assert_ok(
        send(
            app,
            client,
            Method::GET,
            &format!("/api/v1/projects/{project}/usage?{query}"),
            None,
        )
        .await,
    )
    .await
}

async fn set_project_budget(app: &TestApp, client: &Client, project: &str, body: Value) -> Value {
    assert_ok(
        send(
            app,
            client,
            Method::PUT,
            &format!("/api/v1/projects/{project}/budget"),
            Some(body),
        )
        .await,
    )
    .await
}

/// A new key of the project: (id, secret).
async fn new_key(app: &TestApp, client: &Client, project: &str, name: &str) -> (String, String) {
    let data = app
        .create_key_full(client, project, json!({ "name": name }))
        .await;
    (
        data["id"].as_str().unwrap().to_owned(),
        data["key"].as_str().unwrap().to_owned(),
    )
}

/// Runs a task with one scripted answer to its end; answers its id.
async fn run_task(app: &TestApp, model: &ModelServer, key: &str, status: &str) -> String {
    let k = format!("task-{}", unique());
    model.script(&k, vec![turn("Done.")]);
    let id = create_task(app, key, json!({ "message": format!("{k}: go") })).await;
    wait_status(app, key, &id, status, 30).await;
    id
}

/// The `error` event that ended the task's run.
async fn run_error(app: &TestApp, key: &str, id: &str) -> Value {
    let frames = log_all(app, key, id).await;
    of(&frames, "error")
        .last()
        .map(|f| f.data.clone())
        .unwrap_or_else(|| panic!("no error event: {:?}", names(&frames)))
}

#[tokio::test]
async fn usage_sums_match_per_day_per_key_and_per_model() {
    let model = ModelServer::start().await;
    let app = priced_app(&model).await;
    let o = owner(&app).await;
    let (a_id, a_key) = new_key(&app, &o.client, &o.project_id, "alpha").await;
    let (b_id, b_key) = new_key(&app, &o.client, &o.project_id, "beta").await;

    // Alpha: one task with a follow-up (two calls); beta: one task (one call).
    let k = format!("usage-{}", unique());
    model.script(
        &k,
        vec![turn("First."), Turn::text("Second.").with_usage(200_000, 0)],
    );
    let a_task = create_task(&app, &a_key, json!({ "message": format!("{k}: one") })).await;
    wait_status(&app, &a_key, &a_task, "completed", 30).await;
    assert_ok(
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{a_task}/messages"),
            &a_key,
        )
        .json(&json!({ "message": "two" }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    wait_status(&app, &a_key, &a_task, "completed", 30).await;
    let b_task = run_task(&app, &model, &b_key, "completed").await;
    let task = get_task(&app, &b_key, &b_task).await;
    let model_name = task["model"].as_str().unwrap().to_owned();
    assert!(model_name.ends_with("gpt-4.1"), "{task}");

    let alpha_usd = TURN_USD + 0.4;
    let total_usd = alpha_usd + TURN_USD;

    let by_key = usage(&app, &o.client, &o.project_id, "groupBy=key").await;
    assert_eq!(by_key["groupBy"], "key");
    let rows = by_key["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{by_key:#}");
    // Most expensive first.
    assert_eq!(rows[0]["key"], a_id.as_str());
    assert_eq!(rows[0]["name"], "alpha");
    assert_eq!(rows[0]["inputTokens"], 300_000);
    assert_eq!(rows[0]["outputTokens"], 10_000);
    assert_usd(&rows[0]["costUsd"], alpha_usd);
    assert_eq!(rows[0]["tasks"], 1);
    assert_eq!(rows[0]["calls"], 2);
    assert_eq!(rows[1]["key"], b_id.as_str());
    assert_eq!(rows[1]["name"], "beta");
    assert_usd(&rows[1]["costUsd"], TURN_USD);
    assert_eq!(rows[1]["tasks"], 1);

    let totals = &by_key["totals"];
    assert_eq!(totals["inputTokens"], 400_000);
    assert_eq!(totals["outputTokens"], 20_000);
    assert_usd(&totals["costUsd"], total_usd);
    assert_eq!(totals["tasks"], 2);
    assert_eq!(totals["calls"], 3);
    assert_eq!(totals["unpricedCalls"], 0);

    // The same calls, grouped otherwise, add up to the same totals.
    for group in ["day", "model"] {
        let report = usage(&app, &o.client, &o.project_id, &format!("groupBy={group}")).await;
        assert_eq!(report["totals"], *totals, "{group}: {report:#}");
        let rows = report["rows"].as_array().unwrap();
        let sum = |field: &str| rows.iter().map(|r| r[field].as_i64().unwrap()).sum::<i64>();
        assert_eq!(sum("inputTokens"), 400_000, "{group}");
        assert_eq!(sum("outputTokens"), 20_000, "{group}");
        assert_eq!(sum("calls"), 3, "{group}");
        let cost: f64 = rows.iter().map(|r| usd(&r["costUsd"])).sum();
        assert!((cost - total_usd).abs() < 1e-9, "{group}: {report:#}");
    }
    let by_model = usage(&app, &o.client, &o.project_id, "groupBy=model").await;
    assert_eq!(by_model["rows"][0]["key"], model_name.as_str());
    // Days are UTC days; the default range is this month so far, which holds today.
    let by_day = usage(&app, &o.client, &o.project_id, "").await;
    assert_eq!(by_day["groupBy"], "day");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let days: Vec<&str> = by_day["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert!(days.contains(&today.as_str()), "{by_day:#}");

    // A range before the calls holds nothing; dates are whole days.
    let empty = usage(
        &app,
        &o.client,
        &o.project_id,
        "from=2020-01-01&to=2020-01-31",
    )
    .await;
    assert_eq!(empty["rows"], json!([]));
    assert_eq!(empty["totals"]["calls"], 0);
    let whole_day = usage(
        &app,
        &o.client,
        &o.project_id,
        &format!("from={today}&to={today}&groupBy=key"),
    )
    .await;
    assert_eq!(whole_day["totals"], *totals);

    // Values that cannot be read name their parameter.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-05-02&to=2026-05-01", "to"),
        ("groupBy=week", "groupBy"),
        ("groupBy=", "groupBy"),
    ] {
        let resp = send(
            &app,
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/usage?{query}", o.project_id),
            None,
        )
        .await;
        assert_field_error(resp, field).await;
    }

    // The budget reads what the project spent this month.
    let budget = assert_ok(
        send(
            &app,
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/budget", o.project_id),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(budget["monthlyUsd"], Value::Null);
    assert_usd(&budget["usedUsd"], total_usd);
    let key_budget = assert_ok(
        send(
            &app,
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/api-keys/{a_id}/budget", o.project_id),
            None,
        )
        .await,
    )
    .await;
    assert_usd(&key_budget["usedUsd"], alpha_usd);
    assert_eq!(key_budget["name"], "alpha");
}

#[tokio::test]
async fn budgets_are_for_project_admins_and_must_be_sensible() {
    let model = ModelServer::start().await;
    let app = priced_app(&model).await;
    let o = owner(&app).await;
    let (key_id, _) = new_key(&app, &o.client, &o.project_id, "ci").await;
    let project_budget = format!("/api/v1/projects/{}/budget", o.project_id);
    let key_budget = format!("/api/v1/projects/{}/api-keys/{key_id}/budget", o.project_id);
    let usage_path = format!("/api/v1/projects/{}/usage", o.project_id);

    // An admin sets and reads them.
    let set = set_project_budget(
        &app,
        &o.client,
        &o.project_id,
        json!({"monthlyUsd": 25.5, "endUserMonthlyUsd": 1}),
    )
    .await;
    assert_usd(&set["monthlyUsd"], 25.5);
    assert_usd(&set["endUserMonthlyUsd"], 1.0);
    assert_usd(&set["usedUsd"], 0.0);
    assert_eq!(
        set["month"],
        chrono::Utc::now().format("%Y-%m").to_string().as_str()
    );
    // A limit left out stays; null removes one.
    let set = set_project_budget(&app, &o.client, &o.project_id, json!({"monthlyUsd": 30})).await;
    assert_usd(&set["monthlyUsd"], 30.0);
    assert_usd(&set["endUserMonthlyUsd"], 1.0);
    let set = set_project_budget(
        &app,
        &o.client,
        &o.project_id,
        json!({"monthlyUsd": 25.5, "endUserMonthlyUsd": null}),
    )
    .await;
    assert_eq!(set["endUserMonthlyUsd"], Value::Null, "{set}");
    let set = set_project_budget(
        &app,
        &o.client,
        &o.project_id,
        json!({"endUserMonthlyUsd": 1}),
    )
    .await;
    assert_usd(&set["monthlyUsd"], 25.5);
    assert_usd(&set["endUserMonthlyUsd"], 1.0);
    let key = assert_ok(
        send(
            &app,
            &o.client,
            Method::PUT,
            &key_budget,
            Some(json!({"monthlyUsd": 3})),
        )
        .await,
    )
    .await;
    assert_usd(&key["monthlyUsd"], 3.0);
    assert_eq!(key["apiKeyId"], key_id.as_str());

    // A project member may not read or change them, nor read usage.
    let u = unique();
    let (member, user) = app
        .add_org_member(
            &o.client,
            &format!("m{u}@example.com"),
            &format!("m{u}"),
            "member",
        )
        .await;
    let member_id = user["id"].as_str().or(user["user"]["id"].as_str()).unwrap();
    app.add_project_member(&o.client, &o.project_id, member_id, "member")
        .await;
    for (method, path, body) in [
        (Method::GET, &project_budget, None),
        (
            Method::PUT,
            &project_budget,
            Some(json!({"monthlyUsd": 1000})),
        ),
        (Method::GET, &key_budget, None),
        (Method::PUT, &key_budget, Some(json!({"monthlyUsd": null}))),
        (Method::GET, &usage_path, None),
    ] {
        let resp = send(&app, &member, method.clone(), path, body).await;
        assert_error(resp, 403, "FORBIDDEN").await;
    }

    // An API key cannot raise a budget, its own included.
    for (method, path, body) in [
        (
            Method::PUT,
            &project_budget,
            Some(json!({"monthlyUsd": 1000})),
        ),
        (Method::PUT, &key_budget, Some(json!({"monthlyUsd": 1000}))),
        (Method::GET, &project_budget, None),
    ] {
        let resp = app
            .bearer(method, path, &o.key)
            .json(&body.unwrap_or(Value::Null))
            .send()
            .await
            .unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
    }

    // Nothing changed.
    let now = assert_ok(send(&app, &o.client, Method::GET, &project_budget, None).await).await;
    assert_usd(&now["monthlyUsd"], 25.5);

    // Negative, too large or not a number: refused, naming the field.
    for (body, field) in [
        (json!({"monthlyUsd": -1}), "monthlyUsd"),
        (
            json!({"monthlyUsd": 5, "endUserMonthlyUsd": -0.5}),
            "endUserMonthlyUsd",
        ),
        (json!({"monthlyUsd": 1e12}), "monthlyUsd"),
    ] {
        let resp = send(&app, &o.client, Method::PUT, &project_budget, Some(body)).await;
        assert_field_error(resp, field).await;
    }
    let resp = send(
        &app,
        &o.client,
        Method::PUT,
        &key_budget,
        Some(json!({"monthlyUsd": -3})),
    )
    .await;
    assert_field_error(resp, "monthlyUsd").await;
    let resp = send(
        &app,
        &o.client,
        Method::PUT,
        &key_budget,
        Some(json!({"monthlyUsd": "lots"})),
    )
    .await;
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 400, "{body}");

    // Null removes a limit.
    let cleared = set_project_budget(
        &app,
        &o.client,
        &o.project_id,
        json!({"monthlyUsd": null, "endUserMonthlyUsd": null}),
    )
    .await;
    assert_eq!(cleared["monthlyUsd"], Value::Null);
    assert_eq!(cleared["endUserMonthlyUsd"], Value::Null);

    // Another project's key is not found from this one.
    let other = app.create_project(&o.client, "Other").await;
    let other_id = other["id"].as_str().unwrap();
    let resp = send(
        &app,
        &o.client,
        Method::GET,
        &format!("/api/v1/projects/{other_id}/api-keys/{key_id}/budget"),
        None,
    )
    .await;
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_task_over_the_project_budget_ends_without_calling_the_model() {
    let model = ModelServer::start().await;
    let app = priced_app(&model).await;
    let o = owner(&app).await;
    set_project_budget(&app, &o.client, &o.project_id, json!({"monthlyUsd": 0.25})).await;

    // Below the budget when it starts: it runs, and passes it.
    run_task(&app, &model, &o.key, "completed").await;

    // Now the budget is used up: the next task does not reach the model.
    let k = format!("over-{}", unique());
    model.script(&k, vec![turn("Never.")]);
    let id = create_task(&app, &o.key, json!({ "message": format!("{k}: go") })).await;
    let task = wait_status(&app, &o.key, &id, "failed", 30).await;
    let error = run_error(&app, &o.key, &id).await;
    assert_eq!(error["code"], "BUDGET_EXCEEDED", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("project's monthly budget of $0.25")
            && message.contains("$0.28 this month")
            && message.contains("Settings → Usage"),
        "{message}"
    );
    assert!(model.requests_for(&k).is_empty(), "the model was called");
    assert!(
        task["error"].to_string().contains("monthly budget"),
        "{task}"
    );

    // A follow-up does not start either.
    assert_ok(
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
            &o.key,
        )
        .json(&json!({ "message": "again" }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    wait_status(&app, &o.key, &id, "failed", 30).await;
    assert!(model.requests_for(&k).is_empty(), "the model was called");

    // Raising it lets tasks run again.
    set_project_budget(&app, &o.client, &o.project_id, json!({"monthlyUsd": 10})).await;
    run_task(&app, &model, &o.key, "completed").await;
}

#[tokio::test]
async fn a_running_task_stops_at_its_next_model_call_once_over_budget() {
    let model = ModelServer::start().await;
    let app = priced_app(&model).await;
    let o = owner(&app).await;
    set_project_budget(&app, &o.client, &o.project_id, json!({"monthlyUsd": 0.1})).await;

    let k = format!("mid-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("list_directory", json!({"path": "."})).with_usage(100_000, 10_000),
            turn("Never."),
        ],
    );
    let id = create_task(&app, &o.key, json!({ "message": format!("{k}: look") })).await;
    wait_status(&app, &o.key, &id, "failed", 30).await;
    let error = run_error(&app, &o.key, &id).await;
    assert_eq!(error["code"], "BUDGET_EXCEEDED", "{error}");
    // The call it asked for ran; the model was not asked again.
    assert_eq!(model.requests_for(&k).len(), 1);
    assert_eq!(tool_outputs(&app, &o.key, &id).await.len(), 1);
}

#[tokio::test]
async fn a_key_budget_stops_that_keys_tasks_only() {
    let model = ModelServer::start().await;
    let app = priced_app(&model).await;
    let o = owner(&app).await;
    let (capped_id, capped) = new_key(&app, &o.client, &o.project_id, "capped").await;
    let (_, free) = new_key(&app, &o.client, &o.project_id, "free").await;
    let set = assert_ok(
        send(
            &app,
            &o.client,
            Method::PUT,
            &format!(
                "/api/v1/projects/{}/api-keys/{capped_id}/budget",
                o.project_id
            ),
            Some(json!({"monthlyUsd": 0.2})),
        )
        .await,
    )
    .await;
    assert_usd(&set["monthlyUsd"], 0.2);

    run_task(&app, &model, &capped, "completed").await;
    let k = format!("capped-{}", unique());
    model.script(&k, vec![turn("Never.")]);
    let id = create_task(&app, &capped, json!({ "message": format!("{k}: go") })).await;
    wait_status(&app, &capped, &id, "failed", 30).await;
    let error = run_error(&app, &capped, &id).await;
    assert_eq!(error["code"], "BUDGET_EXCEEDED", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("API key \"capped\""),
        "{error}"
    );
    assert!(model.requests_for(&k).is_empty());

    // The other key, and the project, go on.
    run_task(&app, &model, &free, "completed").await;
    run_task(&app, &model, &free, "completed").await;

    let used = assert_ok(
        send(
            &app,
            &o.client,
            Method::GET,
            &format!(
                "/api/v1/projects/{}/api-keys/{capped_id}/budget",
                o.project_id
            ),
            None,
        )
        .await,
    )
    .await;
    assert_usd(&used["usedUsd"], TURN_USD);
}

/// A task of a widget end user, created and awaited with their token from the app's origin.
async fn end_user_task(
    app: &TestApp,
    model: &ModelServer,
    token: &str,
    status: &str,
) -> (String, Value) {
    const ORIGIN: &str = "http://shop.test:8080";
    let k = format!("end-user-{}", unique());
    model.script(&k, vec![turn("Done.")]);
    let created = assert_ok(
        app.bearer(Method::POST, "/api/v1/tasks", token)
            .header("Origin", ORIGIN)
            .json(&json!({ "message": format!("{k}: go") }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let task = assert_ok(
            app.bearer(Method::GET, &format!("/api/v1/tasks/{id}"), token)
                .header("Origin", ORIGIN)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if task["status"] == status {
            return (k, task);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {status}: {task:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_end_user_budget_stops_that_end_users_tasks_only() {
    let model = ModelServer::start().await;
    let app = priced_app(&model).await;
    let o = owner(&app).await;
    let widget_app = assert_ok(
        send(
            &app,
            &o.client,
            Method::POST,
            &format!("/api/v1/projects/{}/widget-apps", o.project_id),
            Some(json!({"name": "Shop", "allowedOrigins": ["http://shop.test:8080"]})),
        )
        .await,
    )
    .await;
    let token = |end_user: &'static str| {
        let body = json!({
            "appId": widget_app["appId"],
            "appSecret": widget_app["appSecret"],
            "endUserId": end_user,
        });
        let app = &app;
        async move {
            let data = assert_ok(
                app.anon(Method::POST, "/api/v1/auth/token")
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            data["token"].as_str().unwrap().to_owned()
        }
    };
    let (alice, bob) = (token("alice").await, token("bob").await);
    set_project_budget(
        &app,
        &o.client,
        &o.project_id,
        json!({"monthlyUsd": null, "endUserMonthlyUsd": 0.2}),
    )
    .await;

    end_user_task(&app, &model, &alice, "completed").await;
    let (k, task) = end_user_task(&app, &model, &alice, "failed").await;
    assert!(
        task["error"]
            .to_string()
            .contains("This user's monthly budget of $0.20"),
        "{task}"
    );
    assert!(model.requests_for(&k).is_empty(), "the model was called");
    // Another end user of the same app goes on.
    end_user_task(&app, &model, &bob, "completed").await;
}
