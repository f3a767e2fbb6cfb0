//! Model providers an organization connects, through the public API: managed by organization
//! admins only; a connection runs a project's tasks with its key, which appears nowhere in the
//! data dir, the database, the server's log or any answer; a key the provider refuses marks
//! the connection failing and the task names it; a server with no model says what to do;
//! connections to this machine are refused unless the operator allows private addresses;
//! a person picks a conversation's model only where the project allows it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{Owner, create_task, owner, wait_status};

const PROVIDERS: &str = "/api/v1/organization/model-providers";
const KEY: &str = "sk-acme-7f3e91c2-b8d4-4c55-a0e6";

/// A server with no provider of its own: organizations bring theirs.
async fn bare_app(allow_private: bool) -> TestApp {
    TestApp::spawn_with(move |c| {
        c.llm.allow_private_addresses = allow_private;
        c.tasks.retry_base_ms = 10;
        c.tasks.poll_interval_ms = 200;
    })
    .await
}

async fn connect(app: &TestApp, o: &Owner, body: Value) -> Value {
    assert_ok(
        app.req(&o.client, Method::POST, PROVIDERS)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn test_connection(app: &TestApp, o: &Owner, id: &str) -> Value {
    assert_ok(
        app.req(&o.client, Method::POST, &format!("{PROVIDERS}/{id}/test"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn list(app: &TestApp, o: &Owner) -> Vec<Value> {
    assert_ok(
        app.req(&o.client, Method::GET, PROVIDERS)
            .send()
            .await
            .unwrap(),
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

async fn project_models(app: &TestApp, client: &reqwest::Client, project_id: &str) -> Value {
    assert_ok(
        app.req(
            client,
            Method::GET,
            &format!("/api/v1/projects/{project_id}/models"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await
}

async fn set_model(app: &TestApp, o: &Owner, model: &str, allow_choice: bool) {
    let path = format!("/api/v1/projects/{}/settings", o.project_id);
    let mut settings =
        assert_ok(app.req(&o.client, Method::GET, &path).send().await.unwrap()).await;
    settings["model"] = json!(model);
    settings["allowModelChoice"] = json!(allow_choice);
    assert_ok(
        app.req(&o.client, Method::PUT, &path)
            .json(&settings)
            .send()
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn only_organization_admins_manage_connections() {
    let model = ModelServer::start().await;
    let app = bare_app(true).await;
    let o = owner(&app).await;
    let u = unique();
    let (member, member_user) = app
        .add_org_member(
            &o.client,
            &format!("m{u}@example.com"),
            &format!("m{u}"),
            "member",
        )
        .await;
    app.add_project_member(
        &o.client,
        &o.project_id,
        member_user["id"].as_str().unwrap(),
        "member",
    )
    .await;
    let acme = connect(
        &app,
        &o,
        json!({"name": "Acme", "kind": "openai", "baseUrl": model.openai_base_url(), "apiKey": KEY}),
    )
    .await;
    assert_eq!(acme["name"], "acme", "names are lower case: {acme}");
    assert_eq!(acme["hasApiKey"], true);
    assert_eq!(acme["status"], "untested");
    assert!(!acme.to_string().contains(KEY));
    let id = acme["id"].as_str().unwrap();

    // A member, an API key and another organization reach none of it.
    for (method, path) in [
        (Method::GET, PROVIDERS.to_owned()),
        (Method::POST, PROVIDERS.to_owned()),
        (Method::PATCH, format!("{PROVIDERS}/{id}")),
        (Method::DELETE, format!("{PROVIDERS}/{id}")),
        (Method::POST, format!("{PROVIDERS}/{id}/test")),
    ] {
        let body = json!({"name": "x", "kind": "openai"});
        let resp = app
            .req(&member, method.clone(), &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
        let resp = app
            .bearer(method, &path, &o.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
    }
    let other = owner(&app).await;
    assert!(list(&app, &other).await.is_empty());
    for method in [Method::PATCH, Method::DELETE] {
        let resp = app
            .req(&other.client, method, &format!("{PROVIDERS}/{id}"))
            .json(&json!({"name": "mine"}))
            .send()
            .await
            .unwrap();
        assert_error(resp, 404, "NOT_FOUND").await;
    }
    // A project member still sees which model the project runs with, not the connections.
    let models = project_models(&app, &member, &o.project_id).await;
    assert_eq!(models["canConnect"], false, "{models}");
    assert_eq!(
        project_models(&app, &o.client, &o.project_id).await["canConnect"],
        true
    );

    // Bad input names its field and writes nothing.
    for (body, field) in [
        (json!({"name": "9lives", "kind": "openai"}), "name"),
        (json!({"name": "a b", "kind": "openai"}), "name"),
        (
            json!({"name": "creds", "kind": "openai", "baseUrl": "http://user:pw@example.com/v1"}),
            "baseUrl",
        ),
        (
            json!({"name": "ftp", "kind": "openai", "baseUrl": "ftp://example.com"}),
            "baseUrl",
        ),
        (json!({"name": "nokey", "kind": "anthropic"}), "apiKey"),
        (
            json!({"name": "spaces", "kind": "gemini", "apiKey": "a key"}),
            "apiKey",
        ),
    ] {
        let resp = app
            .req(&o.client, Method::POST, PROVIDERS)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_field_error(resp, field).await;
    }
    let resp = app
        .req(&o.client, Method::POST, PROVIDERS)
        .json(&json!({"name": "acme", "kind": "gemini", "apiKey": "k"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 409, "CONFLICT").await;
    assert_eq!(list(&app, &o).await.len(), 1);

    // A stored key goes only to the address it was given for, and `google` is `gemini`'s.
    let resp = app
        .req(&o.client, Method::PATCH, &format!("{PROVIDERS}/{id}"))
        .json(&json!({"baseUrl": "https://elsewhere.example/v1"}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "apiKey").await;
    let resp = app
        .req(&o.client, Method::POST, PROVIDERS)
        .json(&json!({"name": "google", "kind": "gemini", "apiKey": "k"}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "name").await;

    // Renamed, then removed.
    let renamed = assert_ok(
        app.req(&o.client, Method::PATCH, &format!("{PROVIDERS}/{id}"))
            .json(&json!({"name": "acme-ai"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(renamed["name"], "acme-ai");
    assert_eq!(renamed["hasApiKey"], true, "the key stays: {renamed}");
    assert_ok(
        app.req(&o.client, Method::DELETE, &format!("{PROVIDERS}/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(list(&app, &o).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_connection_runs_tasks_and_its_key_is_written_nowhere() {
    let model = ModelServer::start_with_key(KEY).await;
    let app = bare_app(true).await;
    let o = owner(&app).await;
    let acme = connect(
        &app,
        &o,
        json!({"name": "acme", "kind": "openai", "baseUrl": model.openai_base_url(), "apiKey": KEY}),
    )
    .await;
    let id = acme["id"].as_str().unwrap();
    let tested = test_connection(&app, &o, id).await;
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(
        tested["models"]
            .as_array()
            .unwrap()
            .contains(&json!("gpt-4o-mini")),
        "{tested}"
    );
    assert_eq!(tested["provider"]["status"], "ok");

    let models = project_models(&app, &o.client, &o.project_id).await;
    assert!(
        models["choices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "acme/gpt-4o-mini"),
        "{models}"
    );
    assert_eq!(models["usable"], true, "{models}");

    set_model(&app, &o, "acme/gpt-4o-mini", false).await;
    model.push(vec![Turn::text("Paris.")]);
    let task = create_task(
        &app,
        &o.key,
        json!({"message": "What is the capital of France?"}),
    )
    .await;
    let done = wait_status(&app, &o.key, &task, "completed", 30).await;
    assert_eq!(done["model"], "acme/gpt-4o-mini", "{done}");
    let call = model
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    assert_eq!(call.model, "gpt-4o-mini");
    assert_eq!(call.api_key.as_deref(), Some(KEY));

    // The key is nowhere but in memory: not in an answer, a file of the data dir (the SQLite
    // database among them), a row of PostgreSQL, or the server's log.
    for answer in [
        Value::Array(list(&app, &o).await),
        project_models(&app, &o.client, &o.project_id).await,
        done,
    ] {
        assert!(!answer.to_string().contains(KEY), "{answer}");
    }
    assert!(files_containing(app.data_dir(), KEY.as_bytes()).is_empty());
    if is_postgres() {
        assert!(!app.pg_rows_text().await.contains(KEY));
    }
    assert!(!server_log().contains(KEY));
    app.stop().await;
}

#[tokio::test]
async fn a_refused_key_marks_the_connection_failing_and_the_task_names_it() {
    let model = ModelServer::start_with_key(KEY).await;
    let app = bare_app(true).await;
    let o = owner(&app).await;
    let acme = connect(
        &app,
        &o,
        json!({"name": "acme", "kind": "openai", "baseUrl": model.openai_base_url(), "apiKey": "sk-wrong"}),
    )
    .await;
    let id = acme["id"].as_str().unwrap().to_owned();
    set_model(&app, &o, "acme/gpt-4o-mini", false).await;
    let task = create_task(&app, &o.key, json!({"message": "Hello"})).await;
    let failed = wait_status(&app, &o.key, &task, "failed", 30).await;
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("`acme`") && error.contains("Model providers"),
        "the task names the connection to fix: {error}"
    );
    let listed = list(&app, &o).await;
    let row = listed.iter().find(|p| p["id"] == id.as_str()).unwrap();
    assert_eq!(row["status"], "failing", "{row}");
    assert!(
        row["statusMessage"].as_str().unwrap().contains("401"),
        "{row}"
    );
    let models = project_models(&app, &o.client, &o.project_id).await;
    assert_eq!(models["usable"], false, "{models}");
    assert_eq!(models["failingConnection"], "acme", "{models}");

    // A new key: untested until used, then working again.
    let fixed = assert_ok(
        app.req(&o.client, Method::PATCH, &format!("{PROVIDERS}/{id}"))
            .json(&json!({"apiKey": KEY}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fixed["status"], "untested");
    model.push(vec![Turn::text("Hi.")]);
    let resp = app
        .bearer(
            Method::POST,
            &format!("/api/v1/tasks/{task}/messages"),
            &o.key,
        )
        .json(&json!({"message": "Again"}))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    wait_status(&app, &o.key, &task, "completed", 30).await;
    let listed = list(&app, &o).await;
    let row = listed.iter().find(|p| p["id"] == id.as_str()).unwrap();
    assert_eq!(row["status"], "ok", "{row}");
    app.stop().await;
}

#[tokio::test]
async fn without_any_model_the_api_says_what_to_do() {
    let app = bare_app(true).await;
    let o = owner(&app).await;
    let models = project_models(&app, &o.client, &o.project_id).await;
    assert_eq!(models["current"], Value::Null, "{models}");
    assert_eq!(models["usable"], false);
    assert!(
        models["problem"]
            .as_str()
            .unwrap()
            .contains("connect a model provider"),
        "{models}"
    );
    let task = create_task(&app, &o.key, json!({"message": "What is 2+2?"})).await;
    let failed = wait_status(&app, &o.key, &task, "failed", 30).await;
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("Organization → Model providers"),
        "{failed}"
    );
    // Another organization's connection is not this one's.
    let model = ModelServer::start().await;
    let other = owner(&app).await;
    connect(
        &app,
        &other,
        json!({"name": "acme", "kind": "openai", "baseUrl": model.openai_base_url(), "apiKey": KEY}),
    )
    .await;
    set_model(&app, &o, "acme/gpt-4o-mini", false).await;
    let models = project_models(&app, &o.client, &o.project_id).await;
    assert!(
        models["problem"]
            .as_str()
            .unwrap()
            .contains("does not have"),
        "{models}"
    );
    app.stop().await;
}

#[tokio::test]
async fn connections_to_this_machine_need_the_operators_consent() {
    let model = ModelServer::start().await;
    let app = bare_app(false).await;
    let o = owner(&app).await;
    let local = connect(
        &app,
        &o,
        json!({"name": "local", "kind": "openai", "baseUrl": model.openai_base_url()}),
    )
    .await;
    let tested = test_connection(&app, &o, local["id"].as_str().unwrap()).await;
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(
        tested["message"].as_str().unwrap().contains("refused"),
        "{tested}"
    );
    set_model(&app, &o, "local/gpt-4o-mini", false).await;
    model.push(vec![Turn::text("never")]);
    let task = create_task(&app, &o.key, json!({"message": "Hello"})).await;
    wait_status(&app, &o.key, &task, "failed", 30).await;
    assert!(
        model.requests().is_empty(),
        "nothing reached the model server"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_conversation_picks_its_model_where_the_project_allows_it() {
    let model = ModelServer::start().await;
    let app = bare_app(true).await;
    let o = owner(&app).await;
    connect(
        &app,
        &o,
        json!({"name": "acme", "kind": "openai", "baseUrl": model.openai_base_url(), "apiKey": KEY}),
    )
    .await;
    set_model(&app, &o, "acme/gpt-4o-mini", false).await;
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .json(&json!({"message": "Hi", "model": "acme/gpt-4.1"}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "model").await;

    set_model(&app, &o, "acme/gpt-4o-mini", true).await;
    // A model id that would reshape the provider's URL is not a model id.
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .json(&json!({"message": "Hi", "model": "acme/x?key=1"}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "model").await;
    model.push(vec![Turn::text("Hello from 4.1")]);
    let task = create_task(
        &app,
        &o.key,
        json!({"message": "Hi", "model": "acme/gpt-4.1"}),
    )
    .await;
    let done = wait_status(&app, &o.key, &task, "completed", 30).await;
    assert_eq!(done["model"], "acme/gpt-4.1", "{done}");
    assert_eq!(model.requests().last().unwrap().model, "gpt-4.1");

    // Where a budget applies, a picked model of unknown price is refused: its spend could
    // not be counted.
    assert_ok(
        app.req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/budget", o.project_id),
        )
        .json(&json!({"monthlyUsd": 100}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let calls = model.requests().len();
    let task = create_task(
        &app,
        &o.key,
        json!({"message": "Hi", "model": "acme/my-local-llama"}),
    )
    .await;
    let failed = wait_status(&app, &o.key, &task, "failed", 30).await;
    assert!(
        failed["error"].as_str().unwrap().contains("no known price"),
        "{failed}"
    );
    assert_eq!(model.requests().len(), calls, "the model was not called");
    app.stop().await;
}
