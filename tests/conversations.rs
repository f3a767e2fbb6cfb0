//! (extension) Conversations over real HTTP: the caller's own Chat UI history — listed and
//! searched, renamed, deleted for good (an active one cancelled first) — and nobody else's,
//! whatever their role. Runs on SQLite, and on PostgreSQL when `DATABASE_URL` names one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{Value, json};
use sigmic_testkit::harness::{
    TestApp, assert_error, assert_field_error, assert_ok, json_body, unique,
};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::*;

fn key_of(prefix: &str) -> String {
    format!("{prefix}-{}", unique())
}

/// A person in the owner's organization, member of the owner's project.
async fn project_member(app: &TestApp, o: &Owner) -> Client {
    let u = unique();
    let (client, user) = app
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
        user["id"].as_str().unwrap(),
        "member",
    )
    .await;
    client
}

/// A task made the Chat UI's way: with a session, naming the project.
async fn chat(app: &TestApp, client: &Client, project_id: &str, body: Value) -> String {
    let mut body = body;
    body["projectId"] = json!(project_id);
    let resp = app
        .req(client, Method::POST, "/api/v1/tasks")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await["id"].as_str().unwrap().to_owned()
}

async fn task_of(app: &TestApp, client: &Client, id: &str) -> Value {
    let resp = app
        .req(client, Method::GET, &format!("/api/v1/tasks/{id}"))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

/// Waits (as a session) until the task has `status`.
async fn wait_chat(app: &TestApp, client: &Client, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task = task_of(app, client, id).await;
        if task["status"] == status {
            return task;
        }
        assert!(
            Instant::now() < deadline,
            "never reached {status}: {task:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /api/v1/conversations` as a session, with `projectId` and the extra query.
async fn list(app: &TestApp, client: &Client, project_id: &str, query: &str) -> Value {
    let resp = app
        .req(
            client,
            Method::GET,
            &format!("/api/v1/conversations?projectId={project_id}{query}"),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids a search finds among the caller's conversations.
async fn search(app: &TestApp, client: &Client, project_id: &str, q: &str) -> Vec<String> {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    ids(&list(app, client, project_id, &format!("&q={q}")).await)
}

fn rename(app: &TestApp, client: &Client, id: &str, body: Value) -> reqwest::RequestBuilder {
    app.req(
        client,
        Method::PATCH,
        &format!("/api/v1/conversations/{id}"),
    )
    .json(&body)
}

fn delete(app: &TestApp, client: &Client, id: &str) -> reqwest::RequestBuilder {
    app.req(
        client,
        Method::DELETE,
        &format!("/api/v1/conversations/{id}"),
    )
}

fn workspace(app: &TestApp, id: &str) -> PathBuf {
    app.data_dir().join("workspaces").join(id)
}

fn snapshot(app: &TestApp, id: &str) -> PathBuf {
    app.data_dir().join("snapshots").join(format!("{id}.tar"))
}

/// Rows that refer to the task, in every task table.
async fn rows_of(app: &TestApp, id: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db_conn().await;
    let backend = db.get_database_backend();
    let mut n = 0;
    for (table, column) in [
        ("tasks", "id"),
        ("task_messages", "task_id"),
        ("task_tool_calls", "task_id"),
        ("task_events", "task_id"),
    ] {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = '{id}'"),
            ))
            .await
            .unwrap()
            .unwrap();
        n += row.try_get::<i64>("", "n").unwrap();
    }
    db.close().await.unwrap();
    n
}

async fn assert_gone(app: &TestApp, client: &Client, id: &str) {
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/api/v1/tasks/{id}/stream"),
        format!("/api/v1/tasks/{id}/history"),
        format!("/api/v1/tasks/{id}/artifacts"),
    ] {
        assert_error(
            app.req(client, Method::GET, &path).send().await.unwrap(),
            404,
            "NOT_FOUND",
        )
        .await;
    }
    assert_eq!(rows_of(app, id).await, 0, "rows of {id} remain");
    assert!(
        !workspace(app, id).exists(),
        "the workspace of {id} remains"
    );
    assert!(!snapshot(app, id).exists(), "the snapshot of {id} remains");
}

#[tokio::test]
async fn the_list_shows_only_ones_own_chats_newest_activity_first() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let member = project_member(&app, &o).await;
    let p = o.project_id.clone();

    // The owner's chats, one after the other so their activity is ordered.
    let k1 = key_of("first");
    model.script(&k1, vec![Turn::text("one"), Turn::text("again")]);
    let c1 = chat(&app, &o.client, &p, json!({"message": format!("{k1}: a")})).await;
    wait_chat(&app, &o.client, &c1, "completed").await;
    let c2 = chat(&app, &o.client, &p, json!({"message": "second chat"})).await;
    wait_chat(&app, &o.client, &c2, "completed").await;
    // Not chats: hidden from the history, made with the owner's API key, another member's.
    let hidden = chat(
        &app,
        &o.client,
        &p,
        json!({"message": "hidden", "showInHistory": false}),
    )
    .await;
    let by_key = create_task(&app, &o.key, json!({"message": "by key"})).await;
    let by_key_hidden = create_task(
        &app,
        &o.key,
        json!({"message": "by key, hidden", "showInHistory": false}),
    )
    .await;
    let theirs = chat(&app, &member, &p, json!({"message": "the member's"})).await;

    let page = list(&app, &o.client, &p, "").await;
    assert_eq!(ids(&page), vec![c2.clone(), c1.clone()], "{page:#}");
    assert_eq!(
        page["pagination"],
        json!({"total": 2, "limit": 50, "offset": 0, "hasMore": false})
    );
    let item = &page["data"][1];
    assert_eq!(item["title"], format!("{k1}: a"));
    assert_eq!(item["messageCount"], 2);
    assert!(item["lastActivityAt"].is_string() && item["username"].is_string());
    assert!(item.get("output").is_none(), "list items carry no output");

    // A follow-up moves a conversation to the top.
    assert_ok(
        app.req(
            &o.client,
            Method::POST,
            &format!("/api/v1/tasks/{c1}/messages"),
        )
        .json(&json!({"message": "and again"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    wait_chat(&app, &o.client, &c1, "completed").await;
    assert_eq!(
        ids(&list(&app, &o.client, &p, "").await),
        vec![c1.clone(), c2.clone()]
    );

    // Pages.
    let first = list(&app, &o.client, &p, "&limit=1").await;
    assert_eq!(ids(&first), vec![c1.clone()]);
    assert_eq!(first["pagination"]["hasMore"], true);
    let second = list(&app, &o.client, &p, "&limit=1&offset=1").await;
    assert_eq!(ids(&second), vec![c2.clone()]);
    assert_eq!(second["pagination"]["hasMore"], false);
    assert_eq!(second["pagination"]["total"], 2);
    assert_field_error(
        app.req(
            &o.client,
            Method::GET,
            &format!("/api/v1/conversations?projectId={p}&limit=0"),
        )
        .send()
        .await
        .unwrap(),
        "limit",
    )
    .await;

    // The member sees their own only; the owner, admin of it all, does not see the member's.
    assert_eq!(
        ids(&list(&app, &member, &p, "").await),
        vec![theirs.clone()]
    );
    // The owner's default project is used when none is named.
    let resp = app
        .req(&o.client, Method::GET, "/api/v1/conversations")
        .send()
        .await
        .unwrap();
    let (_, default) = json_body(resp).await;
    assert_eq!(ids(&default), vec![c1.clone(), c2.clone()]);
    // Through the Task API the owner does see all of them.
    let resp = app
        .req(
            &o.client,
            Method::GET,
            &format!("/api/v1/tasks?projectId={p}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_body(resp).await.1["pagination"]["total"], 6);

    // An API key's conversations are the tasks it made and keeps in the history.
    let resp = app
        .bearer(Method::GET, "/api/v1/conversations", &o.key)
        .send()
        .await
        .unwrap();
    let (_, keyed) = json_body(resp).await;
    assert_eq!(ids(&keyed), vec![by_key.clone()], "{keyed:#}");
    assert!(!ids(&keyed).contains(&by_key_hidden) && !ids(&keyed).contains(&hidden));

    // Outside the project: nothing, as for tasks.
    let u = unique();
    let (outsider, _) = app
        .add_org_member(
            &o.client,
            &format!("x{u}@example.com"),
            &format!("x{u}"),
            "member",
        )
        .await;
    assert_error(
        app.req(
            &outsider,
            Method::GET,
            &format!("/api/v1/conversations?projectId={p}"),
        )
        .send()
        .await
        .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.anon(Method::GET, "/api/v1/conversations")
            .send()
            .await
            .unwrap(),
        401,
        "AUTH_REQUIRED",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn search_matches_title_or_first_message_ignoring_case_and_taking_wildcards_literally() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let member = project_member(&app, &o).await;
    let p = o.project_id.clone();
    let mk = |message: &'static str| chat(&app, &o.client, &p, json!({"message": message}));
    let report = mk("Quarterly REPORT for Acme").await;
    let zebra = mk("Plans\nThe body mentions a Zebra crossing").await;
    let percent = mk("Get 50% off today").await;
    let no_percent = mk("Get 500 off today").await;
    let underscore = mk("open file_name.txt").await;
    let no_underscore = mk("open filexname.txt").await;
    let backslash = mk(r"copy C:\Temp\x").await;
    let _theirs = chat(
        &app,
        &member,
        &p,
        json!({"message": "quarterly report too"}),
    )
    .await;

    // The title is the first line; the rest of the first message is searched as well.
    assert_eq!(
        search(&app, &o.client, &p, "zEBRA").await,
        vec![zebra.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, "quarterly report").await,
        vec![report.clone()],
        "case ignored, and only one's own"
    );
    // A title set by hand is searched too.
    assert_ok(
        rename(&app, &o.client, &zebra, json!({"title": "Budget Meeting"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        search(&app, &o.client, &p, "budget").await,
        vec![zebra.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, "MEETING").await,
        vec![zebra.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, "crossing").await,
        vec![zebra.clone()]
    );
    // Wildcards are text.
    assert_eq!(
        search(&app, &o.client, &p, "50%").await,
        vec![percent.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, "50% off").await,
        vec![percent.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, "file_name").await,
        vec![underscore.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, r"c:\temp").await,
        vec![backslash.clone()]
    );
    assert!(search(&app, &o.client, &p, "%").await.contains(&percent));
    assert_eq!(search(&app, &o.client, &p, "%").await.len(), 1);
    assert_eq!(
        search(&app, &o.client, &p, "_").await,
        vec![underscore.clone()]
    );
    assert!(
        search(&app, &o.client, &p, "nothing like this")
            .await
            .is_empty()
    );
    // Blank searches list everything; the text is trimmed.
    assert_eq!(search(&app, &o.client, &p, "   ").await.len(), 7);
    assert_eq!(
        search(&app, &o.client, &p, "  500 off ").await,
        vec![no_percent.clone()]
    );
    assert_eq!(
        search(&app, &o.client, &p, "filexname").await,
        vec![no_underscore]
    );
    // Counted after the filter.
    let page = list(&app, &o.client, &p, "&q=off&limit=1").await;
    assert_eq!(page["pagination"]["total"], 2);
    assert_eq!(page["pagination"]["hasMore"], true);
    // Too long.
    let long = "a".repeat(201);
    assert_field_error(
        app.req(
            &o.client,
            Method::GET,
            &format!("/api/v1/conversations?projectId={p}&q={long}"),
        )
        .send()
        .await
        .unwrap(),
        "q",
    )
    .await;
    let longest = "a".repeat(200);
    assert!(search(&app, &o.client, &p, &longest).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn one_renames_ones_own_conversations_and_no_one_elses() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let member = project_member(&app, &o).await;
    let p = o.project_id.clone();
    let mine = chat(&app, &o.client, &p, json!({"message": "my chat"})).await;
    let theirs = chat(&app, &member, &p, json!({"message": "their chat"})).await;
    let by_key = create_task(&app, &o.key, json!({"message": "by key"})).await;

    let renamed = assert_ok(
        rename(
            &app,
            &o.client,
            &mine,
            json!({"title": "  A better name  "}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(renamed["id"], mine.as_str());
    assert_eq!(renamed["title"], "A better name");
    assert_eq!(renamed["message"], "my chat", "the message stays");
    assert!(renamed["status"].is_string() && renamed["usage"].is_object());
    assert_eq!(
        task_of(&app, &o.client, &mine).await["title"],
        "A better name"
    );
    // 200 characters (not bytes) fit.
    let longest = "é".repeat(200);
    let renamed = assert_ok(
        rename(&app, &o.client, &mine, json!({"title": longest}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(renamed["title"], longest.as_str());

    // Refused titles.
    for body in [
        json!({"title": ""}),
        json!({"title": "   "}),
        json!({}),
        json!({"title": null}),
        json!({"title": "x".repeat(201)}),
        json!({"title": "line\nbreak"}),
    ] {
        assert_field_error(
            rename(&app, &o.client, &mine, body).send().await.unwrap(),
            "title",
        )
        .await;
    }
    // Someone else's conversation, whoever asks: not found. The owner is the project's and
    // the organization's admin; the API key's task is not a chat of the owner's.
    for (client, id) in [(&o.client, &theirs), (&member, &mine), (&o.client, &by_key)] {
        assert_error(
            rename(&app, client, id, json!({"title": "taken"}))
                .send()
                .await
                .unwrap(),
            404,
            "NOT_FOUND",
        )
        .await;
    }
    let stranger = owner(&app).await;
    assert_error(
        rename(&app, &stranger.client, &mine, json!({"title": "taken"}))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.bearer(
            Method::PATCH,
            &format!("/api/v1/conversations/{mine}"),
            &o.key,
        )
        .json(&json!({"title": "taken"}))
        .send()
        .await
        .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        rename(&app, &o.client, "no-such-task", json!({"title": "x"}))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    // Nothing changed.
    assert_eq!(
        task_of(&app, &o.client, &mine).await["title"],
        longest.as_str()
    );
    assert_eq!(task_of(&app, &member, &theirs).await["title"], "their chat");
    assert_eq!(get_task(&app, &o.key, &by_key).await["title"], "by key");
    // An API key renames its own.
    let resp = app
        .bearer(
            Method::PATCH,
            &format!("/api/v1/conversations/{by_key}"),
            &o.key,
        )
        .json(&json!({"title": "keyed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["title"], "keyed");
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_conversation_removes_its_rows_and_files_and_no_one_elses() {
    let model = ModelServer::start().await;
    // Sandboxes expire at once, so a finished task's workspace is packed into a snapshot.
    let app = app_with(&model, "openai", |c| c.sandbox.idle_timeout_secs = 1).await;
    let o = owner(&app).await;
    let member = project_member(&app, &o).await;
    let p = o.project_id.clone();

    let k = key_of("files");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo kept > notes.txt"}),
            ),
            Turn::text("written"),
        ],
    );
    let mine = chat(
        &app,
        &o.client,
        &p,
        json!({"message": format!("{k}: write")}),
    )
    .await;
    let task = wait_chat(&app, &o.client, &mine, "completed").await;
    assert_eq!(task["output"]["toolCalls"][0]["status"], "success");
    let other = chat(&app, &o.client, &p, json!({"message": "keep me"})).await;
    let theirs = chat(&app, &member, &p, json!({"message": "theirs"})).await;
    wait_chat(&app, &o.client, &other, "completed").await;
    wait_chat(&app, &member, &theirs, "completed").await;
    // The sandbox expires: the workspace goes into a snapshot.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !snapshot(&app, &mine).exists() {
        assert!(Instant::now() < deadline, "the sandbox never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rows_of(&app, &mine).await > 4);
    assert!(workspace(&app, &theirs).exists());

    // Someone else's: not found, and still there.
    for (client, id) in [(&o.client, &theirs), (&member, &mine)] {
        assert_error(
            delete(&app, client, id).send().await.unwrap(),
            404,
            "NOT_FOUND",
        )
        .await;
    }
    assert_error(
        app.bearer(
            Method::DELETE,
            &format!("/api/v1/conversations/{mine}"),
            &o.key,
        )
        .send()
        .await
        .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(task_of(&app, &member, &theirs).await["status"], "completed");
    assert!(workspace(&app, &theirs).exists());
    assert!(snapshot(&app, &mine).exists());
    assert!(rows_of(&app, &mine).await > 4);

    // One's own: gone for good, rows and files.
    let resp = delete(&app, &o.client, &mine).send().await.unwrap();
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "data": {"message": "Conversation deleted"}})
    );
    assert_gone(&app, &o.client, &mine).await;
    assert_eq!(
        ids(&list(&app, &o.client, &p, "").await),
        vec![other.clone()]
    );
    assert_error(
        delete(&app, &o.client, &mine).send().await.unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    // The others are untouched.
    assert_eq!(
        task_of(&app, &o.client, &other).await["status"],
        "completed"
    );
    assert_eq!(task_of(&app, &member, &theirs).await["messageCount"], 2);

    // An API key deletes its own conversations, and no one else's.
    let by_key = create_task(&app, &o.key, json!({"message": "by key"})).await;
    wait_status(&app, &o.key, &by_key, "completed", 30).await;
    assert_error(
        app.bearer(
            Method::DELETE,
            &format!("/api/v1/conversations/{other}"),
            &o.key,
        )
        .send()
        .await
        .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    let resp = app
        .bearer(
            Method::DELETE,
            &format!("/api/v1/conversations/{by_key}"),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["message"], "Conversation deleted");
    assert_gone(&app, &o.client, &by_key).await;
    assert_eq!(
        task_of(&app, &o.client, &other).await["status"],
        "completed"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_active_conversation_is_cancelled_then_deleted_and_stays_deleted() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;

    // Waiting on the model: an API key's conversation, so its stream can be watched.
    let k = key_of("hang");
    model.script(&k, vec![Turn::hang()]);
    let waiting = create_task(&app, &o.key, json!({"message": format!("{k}: wait")})).await;
    let mut reader = SseReader::open(&app, &o.key, &waiting, None).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while model.requests_for(&k).is_empty() {
        assert!(Instant::now() < deadline, "the model was never called");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get_task(&app, &o.key, &waiting).await["status"], "running");
    let resp = app
        .bearer(
            Method::DELETE,
            &format!("/api/v1/conversations/{waiting}"),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["message"], "Conversation deleted");
    // Its stream ended as a cancel ends it.
    let rest = tokio::time::timeout(Duration::from_secs(5), reader.rest())
        .await
        .expect("the stream ended");
    let last = rest.last().expect("a last event");
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "TASK_CANCELLED");

    // Running a command: a person's chat; the command is killed with the run.
    let k2 = key_of("sleep");
    model.script(
        &k2,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "sleep 3; echo late > late.txt"}),
            ),
            Turn::text("never"),
        ],
    );
    let p = o.project_id.clone();
    let busy = chat(
        &app,
        &o.client,
        &p,
        json!({"message": format!("{k2}: wait")}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task = task_of(&app, &o.client, &busy).await;
        if task["output"]["toolCalls"][0]["status"] == "executing" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the command never started: {task:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ok(delete(&app, &o.client, &busy).send().await.unwrap()).await;

    // Past the command's end, a few worker polls and a lease renewal: nothing came back.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for id in [&waiting, &busy] {
        assert_gone(&app, &o.client, id).await;
    }
    assert!(ids(&list(&app, &o.client, &p, "").await).is_empty());
    assert_eq!(
        model.requests_for(&k).len(),
        1,
        "the model was not called again"
    );
    assert_eq!(
        model.requests_for(&k2).len(),
        1,
        "the model was not called again"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_conversation_routes() {
    let app = TestApp::spawn().await;
    let resp = app
        .anon(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap();
    let doc: Value = resp.json().await.unwrap();
    for (path, method) in [
        ("/api/v1/conversations", "get"),
        ("/api/v1/conversations/{id}", "patch"),
        ("/api/v1/conversations/{id}", "delete"),
    ] {
        let op = &doc["paths"][path][method];
        let text = format!("{} {}", op["summary"], op["description"]);
        assert!(text.contains("(extension)"), "{method} {path}: {op:#}");
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/conversations"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["projectId", "q", "limit", "offset"] {
        assert!(params.contains(&name), "{params:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_project_removes_its_tasks_rows_and_files() {
    let model = ModelServer::start().await;
    // Sandboxes expire at once, so a finished task's workspace is packed into a snapshot.
    let app = app_with(&model, "openai", |c| c.sandbox.idle_timeout_secs = 1).await;
    let o = owner(&app).await;
    let doomed = id_of(&app.create_project(&o.client, "Doomed").await);

    let k = key_of("doomed-files");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo gone > notes.txt"}),
            ),
            Turn::text("written"),
        ],
    );
    let finished = chat(
        &app,
        &o.client,
        &doomed,
        json!({"message": format!("{k}: write")}),
    )
    .await;
    wait_chat(&app, &o.client, &finished, "completed").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !snapshot(&app, &finished).exists() {
        assert!(Instant::now() < deadline, "the sandbox never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let k2 = key_of("doomed-running");
    model.script(
        &k2,
        vec![Turn::tool_call(
            "run_shell_command",
            json!({"command": "echo started > started.txt; sleep 30"}),
        )],
    );
    let running = chat(
        &app,
        &o.client,
        &doomed,
        json!({"message": format!("{k2}: wait")}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !workspace(&app, &running).join("started.txt").exists() {
        assert!(Instant::now() < deadline, "the command never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A task of another project stays.
    let kept = chat(
        &app,
        &o.client,
        &o.project_id,
        json!({"message": "keep me"}),
    )
    .await;
    wait_chat(&app, &o.client, &kept, "completed").await;

    let resp = app
        .req(
            &o.client,
            Method::DELETE,
            &format!("/api/v1/projects/{doomed}"),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    for id in [&finished, &running] {
        assert_gone(&app, &o.client, id).await;
    }
    assert_eq!(task_of(&app, &o.client, &kept).await["status"], "completed");
    assert!(rows_of(&app, &kept).await > 0);
    app.stop().await;
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}
