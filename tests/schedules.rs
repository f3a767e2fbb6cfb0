//! Scheduled tasks through the public API: schedules checked and managed by project admins,
//! firing ordinary tasks that complete with the scripted model, their template values, files
//! and the project's secrets (stored only encrypted); overlap skipping; pausing when the
//! person they act for loses the project or their runs keep failing; missed runs after a
//! restart; two processes on one PostgreSQL never firing a time twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::node::{Node, free_port, key_and_session};
use sigmic_testkit::tasks::{Owner, app_with, owner, tool_outputs, wait_status};

const SECRET: &str = "proj-secret-5e0b-41c7-9d";

/// A server whose schedules may fire every second, looked at ten times a second.
async fn fast_app(model: &ModelServer, tweak: impl FnOnce(&mut sigmic::config::Config)) -> TestApp {
    app_with(model, "openai", |c| {
        c.schedules.allow_seconds = true;
        c.schedules.tick_ms = 100;
        tweak(c);
    })
    .await
}

fn path(o: &Owner, rest: &str) -> String {
    format!("/api/v1/projects/{}/schedules{rest}", o.project_id)
}

async fn create_schedule(app: &TestApp, o: &Owner, body: Value) -> Value {
    assert_ok(
        app.req(&o.client, Method::POST, &path(o, ""))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn runs(app: &TestApp, o: &Owner, id: &str) -> Vec<Value> {
    let data = assert_ok(
        app.req(
            &o.client,
            Method::GET,
            &path(o, &format!("/{id}/runs?limit=100")),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    data.as_array().unwrap().clone()
}

/// Waits until the schedule's runs satisfy `done`; answers them.
async fn wait_runs(
    app: &TestApp,
    o: &Owner,
    id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = runs(app, o, id).await;
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "runs never came: {r:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn started(runs: &[Value]) -> Vec<&Value> {
    runs.iter().filter(|r| r["outcome"] == "started").collect()
}

#[tokio::test]
async fn schedules_are_checked_and_managed_by_project_admins() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |_| {}).await;
    let o = owner(&app).await;

    // Each refusal names its field and writes nothing.
    for (body, field) in [
        (json!({"cron": "0 9 * * 1", "message": "m"}), "name"),
        (
            json!({"name": "n", "cron": "0 9 * *", "message": "m"}),
            "cron",
        ),
        (
            json!({"name": "n", "cron": "*/5 * * * * *", "message": "m"}),
            "cron",
        ),
        (
            json!({"name": "n", "cron": "0 0 31 2 *", "message": "m"}),
            "cron",
        ),
        (
            json!({"name": "n", "cron": "0 9 * * 1", "timezone": "Mars/Base", "message": "m"}),
            "timezone",
        ),
        (
            json!({"name": "n", "cron": "0 9 * * 1", "message": "  "}),
            "message",
        ),
        (
            json!({"name": "n", "cron": "0 9 * * 1", "message": "m", "endsAt": "tomorrow"}),
            "endsAt",
        ),
    ] {
        let resp = app
            .req(&o.client, Method::POST, &path(&o, ""))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_field_error(resp, field).await;
    }
    let resp = app
        .req(&o.client, Method::POST, &path(&o, ""))
        .json(&json!({"name": "n", "cron": "0 9 * * 1", "message": "m", "env": {"1BAD": "x"}}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_ENV").await;
    let list = assert_ok(
        app.req(&o.client, Method::GET, &path(&o, ""))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list, json!([]));

    // What it means, before saving.
    let preview = assert_ok(
        app.req(&o.client, Method::POST, &path(&o, "/preview"))
            .json(&json!({"cron": "0 9 * * 1", "timezone": "Europe/Berlin"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let words = preview["description"].as_str().unwrap();
    assert!(
        words.contains("09:00") && words.contains("Monday") && words.contains("Europe/Berlin"),
        "{words}"
    );
    assert_eq!(preview["nextRuns"].as_array().unwrap().len(), 5);

    let s = create_schedule(
        &app,
        &o,
        json!({"name": "Weekly report", "cron": "0 9 * * MON", "timezone": "America/New_York",
               "message": "Report for {{date}}", "env": {"REGION": "eu"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(s["enabled"], true);
    assert_eq!(s["missedRuns"], "runLatest");
    assert_eq!(s["allowOverlap"], false);
    let next: Vec<&str> = s["nextRuns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(next.len(), 5);
    for t in &next {
        let at = chrono::DateTime::parse_from_rfc3339(t).unwrap();
        assert_eq!(chrono::Datelike::weekday(&at), chrono::Weekday::Mon, "{t}");
        assert!(t.contains("T09:00:00-0"), "09:00 in New York: {t}");
    }

    // People in the project read; only admins write; API keys manage nothing.
    let u = unique();
    let member = app
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
        member.1["id"].as_str().unwrap(),
        "member",
    )
    .await;
    let seen = assert_ok(
        app.req(&member.0, Method::GET, &path(&o, ""))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seen[0]["id"], s["id"]);
    let resp = app
        .req(&member.0, Method::POST, &path(&o, ""))
        .json(&json!({"name": "x", "cron": "@daily", "message": "m"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .req(&member.0, Method::POST, &path(&o, &format!("/{id}/run")))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .bearer(Method::GET, &path(&o, ""), &o.key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    // Another organization finds nothing.
    let other = owner(&app).await;
    let resp = app
        .req(&other.client, Method::GET, &path(&o, &format!("/{id}")))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    // A change keeps what it leaves out; a disabled schedule lists no next runs.
    let changed = assert_ok(
        app.req(&o.client, Method::PATCH, &path(&o, &format!("/{id}")))
            .json(&json!({"enabled": false, "missedRuns": "skip"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(changed["name"], "Weekly report");
    assert_eq!(changed["missedRuns"], "skip");
    assert_eq!(changed["nextRuns"], json!([]));
    assert_eq!(changed["env"], json!({"REGION": "eu"}));

    // A body that is not a form is refused with the API's envelope.
    let resp = app
        .req(&o.client, Method::POST, &path(&o, &format!("/{id}/files")))
        .body("not a form")
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "files").await;

    // Run now starts an ordinary task of the project, listed under the schedule.
    model.script("Report for", vec![Turn::text("report written")]);
    let created = assert_ok(
        app.req(&o.client, Method::POST, &path(&o, &format!("/{id}/run")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let task_id = created["id"].as_str().unwrap().to_owned();
    let done = wait_task(&app, &o.client, &task_id, "completed").await;
    assert_eq!(done["scheduleId"], s["id"]);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(done["message"], format!("Report for {today}"));
    assert_eq!(done["env"], json!({"REGION": "eu"}));
    let r = runs(&app, &o, &id).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["trigger"], "manual");
    assert_eq!(r[0]["taskId"], created["id"]);
    assert_eq!(r[0]["taskStatus"], "completed");
    let filtered = assert_ok(
        app.req(
            &o.client,
            Method::GET,
            &format!("/api/v1/tasks?projectId={}&scheduleId={id}", o.project_id),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    // Deleting the schedule keeps its runs' tasks.
    assert_ok(
        app.req(&o.client, Method::DELETE, &path(&o, &format!("/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = app
        .req(&o.client, Method::GET, &path(&o, &format!("/{id}")))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let task = assert_ok(
        app.req(&o.client, Method::GET, &format!("/api/v1/tasks/{task_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(task["status"], "completed");
    app.stop().await;
}

/// A task as the signed-in `client` sees it, once it has `status`.
async fn wait_task(app: &TestApp, client: &reqwest::Client, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let task = assert_ok(
            app.req(client, Method::GET, &format!("/api/v1/tasks/{id}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if task["status"] == status {
            return task;
        }
        assert!(Instant::now() < deadline, "never {status}: {task:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outputs of the task's tool calls, as the signed-in `client` reads its history.
async fn outputs(app: &TestApp, client: &reqwest::Client, id: &str) -> String {
    let history = assert_ok(
        app.req(client, Method::GET, &format!("/api/v1/tasks/{id}/history"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["toolCalls"].as_array().cloned().unwrap_or_default())
        .map(|c| c["output"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_schedule_fires_ordinary_tasks_with_its_files_and_the_project_secrets() {
    let model = ModelServer::start().await;
    let app = fast_app(&model, |_| {}).await;
    let o = owner(&app).await;

    // A project secret: written by an admin, never read back.
    let resp = app
        .req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/secrets/API_TOKEN", o.project_id),
        )
        .json(&json!({"value": SECRET}))
        .send()
        .await
        .unwrap();
    let set = assert_ok(resp).await;
    assert_eq!(set["name"], "API_TOKEN");
    assert!(!set.to_string().contains(SECRET));
    let resp = app
        .req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/secrets/1bad", o.project_id),
        )
        .json(&json!({"value": "x"}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "name").await;
    let names = assert_ok(
        app.req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/secrets", o.project_id),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(names.as_array().unwrap().len(), 1);
    assert!(!names.to_string().contains(SECRET));

    for _ in 0..3 {
        model.script(
            "nightly-scan",
            vec![
                Turn::tool_call(
                    "run_shell_command",
                    json!({"command": "cat uploads/notes.txt; echo \"[$API_TOKEN] $DAY\""}),
                ),
                Turn::text("scanned"),
            ],
        );
    }
    let s = create_schedule(
        &app,
        &o,
        json!({"name": "Scan", "cron": "*/2 * * * * *", "message": "nightly-scan for {{date}} after {{previousRunAt}}",
               "env": {"DAY": "{{date}}"}, "enabled": false}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let form = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(b"notes for every run".to_vec()).file_name("notes.txt"),
    );
    let files = assert_ok(
        app.req(&o.client, Method::POST, &path(&o, &format!("/{id}/files")))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(files[0]["name"], "notes.txt");

    // Disabled, it never fires.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(runs(&app, &o, &id).await.is_empty());

    assert_ok(
        app.req(&o.client, Method::PATCH, &path(&o, &format!("/{id}")))
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let r = wait_runs(&app, &o, &id, |r| started(r).len() >= 2).await;
    assert_ok(
        app.req(&o.client, Method::PATCH, &path(&o, &format!("/{id}")))
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let firsts = started(&r);
    // Newest first: the oldest run has no previous one.
    let (newer, older) = (firsts[firsts.len() - 2], firsts[firsts.len() - 1]);
    let mut messages = Vec::new();
    for run in [older, newer] {
        assert_eq!(run["trigger"], "schedule");
        let tid = run["taskId"].as_str().unwrap();
        let task = wait_task(&app, &o.client, tid, "completed").await;
        assert_eq!(task["scheduleId"], s["id"]);
        let outputs = outputs(&app, &o.client, tid).await;
        assert!(outputs.contains("notes for every run"), "{outputs}");
        assert!(outputs.contains("[[REDACTED:API_TOKEN]]"), "{outputs}");
        assert!(!outputs.contains(SECRET), "{outputs}");
        let today = task["message"].as_str().unwrap().to_owned();
        messages.push(today);
    }
    assert!(
        messages[0].ends_with("after "),
        "the first run has no previous: {}",
        messages[0]
    );
    assert!(
        messages[1].ends_with(&format!(
            "after {}",
            older["scheduledFor"]
                .as_str()
                .unwrap()
                .replace("Z", "+00:00")
        )),
        "{messages:?} / {older}"
    );

    // An API task names project secrets; a missing one is refused.
    model.script(
        "api-task-secret",
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo \"<$API_TOKEN>\""}),
            ),
            Turn::text("ok"),
        ],
    );
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .json(&json!({"message": "x", "projectSecrets": ["NOPE"]}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "projectSecrets").await;
    let tid = sigmic_testkit::tasks::create_task(
        &app,
        &o.key,
        json!({"message": "api-task-secret", "projectSecrets": ["API_TOKEN"]}),
    )
    .await;
    wait_status(&app, &o.key, &tid, "completed", 30).await;
    let out = tool_outputs(&app, &o.key, &tid).await.join("\n");
    assert!(out.contains("<[REDACTED:API_TOKEN]>"), "{out}");

    // The value is nowhere at rest but sealed.
    assert!(files_containing(app.data_dir(), SECRET.as_bytes()).is_empty());
    assert!(!server_log().contains(SECRET));
    if is_postgres() {
        let rows = app.pg_rows_text().await;
        assert!(rows.contains("API_TOKEN"), "the rows were read");
        assert!(!rows.contains(SECRET));
    }
    app.stop().await;
}

#[tokio::test]
async fn a_time_is_skipped_while_the_previous_run_still_goes_unless_runs_may_overlap() {
    let model = ModelServer::start().await;
    let app = fast_app(&model, |_| {}).await;
    let o = owner(&app).await;
    // Each run's command takes a few seconds: the next times come while it runs.
    for _ in 0..12 {
        model.script(
            "slow-job",
            vec![
                Turn::tool_call("run_shell_command", json!({"command": "sleep 3"})),
                Turn::text("done"),
            ],
        );
    }
    let s = create_schedule(
        &app,
        &o,
        json!({"name": "Slow", "cron": "* * * * * *", "message": "slow-job"}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let r = wait_runs(&app, &o, &id, |r| {
        r.iter().filter(|x| x["outcome"] == "skipped").count() >= 2
    })
    .await;
    let skipped: Vec<&Value> = r.iter().filter(|x| x["outcome"] == "skipped").collect();
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("still going"),
        "{skipped:#?}"
    );
    assert_eq!(started(&r).len(), 1, "one run at a time: {r:#?}");

    let parallel = create_schedule(
        &app,
        &o,
        json!({"name": "Parallel", "cron": "* * * * * *", "message": "slow-job", "allowOverlap": true}),
    )
    .await;
    let pid = parallel["id"].as_str().unwrap().to_owned();
    let r = wait_runs(&app, &o, &pid, |r| started(r).len() >= 2).await;
    assert!(r.iter().all(|x| x["outcome"] == "started"), "{r:#?}");
    for sid in [&id, &pid] {
        app.req(&o.client, Method::PATCH, &path(&o, &format!("/{sid}")))
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap();
    }
    app.stop().await;
}

#[tokio::test]
async fn a_schedule_pauses_when_its_person_loses_the_project_or_its_runs_keep_failing() {
    let model = ModelServer::start().await;
    let app = fast_app(&model, |c| c.schedules.pause_after_failures = 2).await;
    let o = owner(&app).await;

    // Made by a project admin who is then removed from the project.
    let u = unique();
    let (admin, admin_user) = app
        .add_org_member(
            &o.client,
            &format!("a{u}@example.com"),
            &format!("a{u}"),
            "member",
        )
        .await;
    let admin_id = admin_user["id"].as_str().unwrap().to_owned();
    app.add_project_member(&o.client, &o.project_id, &admin_id, "admin")
        .await;
    let s = assert_ok(
        app.req(&admin, Method::POST, &path(&o, ""))
            .json(&json!({"name": "Theirs", "cron": "* * * * * *", "message": "never-runs", "enabled": false}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(s["runAs"], format!("a{u}"));
    let resp = app
        .req(
            &o.client,
            Method::DELETE,
            &format!("/api/v1/projects/{}/members/{admin_id}", o.project_id),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    assert_ok(
        app.req(&o.client, Method::PATCH, &path(&o, &format!("/{id}")))
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Saved by the owner while it was not paused: it still acts for its maker, who is gone.
    let r = wait_runs(&app, &o, &id, |r| !r.is_empty()).await;
    assert_eq!(r[0]["outcome"], "skipped");
    let got = assert_ok(
        app.req(&o.client, Method::GET, &path(&o, &format!("/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reason = got["pausedReason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("a{u}")) && reason.contains("no longer an admin"),
        "{reason}"
    );
    assert_eq!(got["nextRuns"], json!([]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        runs(&app, &o, &id).await.len(),
        1,
        "a paused schedule does not fire"
    );

    // Saving it resumes it, acting for whoever saved it.
    for _ in 0..4 {
        model.script("keeps-failing", vec![Turn::error(400, "the model refuses")]);
    }
    let resumed = assert_ok(
        app.req(&o.client, Method::PATCH, &path(&o, &format!("/{id}")))
            .json(&json!({"message": "keeps-failing", "cron": "*/2 * * * * *"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resumed["pausedReason"], Value::Null);
    assert_eq!(
        resumed["runAs"],
        app.me(&o.client).await["user"]["username"]
    );
    // Two failed runs in a row pause it at its next time.
    let deadline = Instant::now() + Duration::from_secs(60);
    let reason = loop {
        let got = assert_ok(
            app.req(&o.client, Method::GET, &path(&o, &format!("/{id}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if let Some(reason) = got["pausedReason"].as_str() {
            break reason.to_owned();
        }
        assert!(Instant::now() < deadline, "never paused: {got:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(reason.contains("last 2 runs failed"), "{reason}");
    let r = runs(&app, &o, &id).await;
    let failed_runs = started(&r).len();
    assert_eq!(failed_runs, 2, "{r:#?}");
    app.stop().await;
}

/// `(trigger, outcome)` counts of a schedule's runs, over a real process's API.
async fn run_counts(
    http: &reqwest::Client,
    base: &str,
    project: &str,
    id: &str,
) -> BTreeMap<(String, String), usize> {
    let data = assert_ok(
        http.get(format!(
            "{base}/api/v1/projects/{project}/schedules/{id}/runs?limit=100"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let mut counts = BTreeMap::new();
    for r in data.as_array().unwrap() {
        *counts
            .entry((
                r["trigger"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            ))
            .or_insert(0) += 1;
    }
    counts
}

const FAST: [(&str, &str); 2] = [
    ("SIGMIC_SCHEDULES__ALLOW_SECONDS", "true"),
    ("SIGMIC_SCHEDULES__TICK_MS", "100"),
];

#[tokio::test]
async fn after_a_restart_the_latest_missed_time_runs_once_or_is_skipped() {
    let model = ModelServer::start().await;
    model.push((0..40).map(|_| Turn::text("ok")).collect());
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::create().await;
    let port = free_port();
    let mut node = Node::start_with(tmp.path(), &db, port, &model, "one", &FAST).await;
    let (_, http, project) = key_and_session(&node.base).await;
    let mut ids = Vec::new();
    for missed in ["runLatest", "skip"] {
        let s = assert_ok(
            http.post(format!("{}/api/v1/projects/{project}/schedules", node.base))
                // Every 2 seconds, with overlap allowed: every time that comes is started.
                .json(&json!({"name": missed, "cron": "*/2 * * * * *", "message": "tick", "missedRuns": missed, "allowOverlap": true}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    node.kill9();
    // Down for several times of each schedule.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let node = Node::start_with(tmp.path(), &db, port, &model, "two", &FAST).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let http = http.clone();
    let latest = run_counts(&http, &node.base, &project, &ids[0]).await;
    let skip = run_counts(&http, &node.base, &project, &ids[1]).await;
    let count = |c: &BTreeMap<(String, String), usize>, t: &str, o: &str| {
        c.get(&(t.to_owned(), o.to_owned())).copied().unwrap_or(0)
    };
    assert_eq!(
        count(&latest, "catchUp", "started"),
        1,
        "one back run, not a burst: {latest:?}"
    );
    assert_eq!(count(&latest, "catchUp", "skipped"), 0, "{latest:?}");
    assert_eq!(count(&skip, "catchUp", "skipped"), 1, "{skip:?}");
    assert_eq!(count(&skip, "catchUp", "started"), 0, "{skip:?}");
    // And both go on at their times.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let skip = run_counts(&http, &node.base, &project, &ids[1]).await;
    assert!(count(&skip, "schedule", "started") >= 2, "{skip:?}");
    for id in &ids {
        http.patch(format!(
            "{}/api/v1/projects/{project}/schedules/{id}",
            node.base
        ))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn two_processes_on_one_postgres_fire_each_time_once() {
    if !is_postgres() {
        eprintln!("skipped: needs DATABASE_URL=postgres://…");
        return;
    }
    let model = ModelServer::start().await;
    model.push((0..60).map(|_| Turn::text("ok")).collect());
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::create().await;
    let (d1, d2) = (tmp.path().join("one"), tmp.path().join("two"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let n1 = Node::start_with(&d1, &db, free_port(), &model, "n1", &FAST).await;
    let n2 = Node::start_with(&d2, &db, free_port(), &model, "n2", &FAST).await;
    let (_, http, project) = key_and_session(&n1.base).await;
    let s = assert_ok(
        http.post(format!("{}/api/v1/projects/{project}/schedules", n1.base))
            .json(&json!({"name": "Every second", "cron": "* * * * * *", "message": "each-second", "allowOverlap": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(8)).await;
    http.patch(format!(
        "{}/api/v1/projects/{project}/schedules/{id}",
        n1.base
    ))
    .json(&json!({"enabled": false}))
    .send()
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let runs = assert_ok(
        http.get(format!(
            "{}/api/v1/projects/{project}/schedules/{id}/runs?limit=100",
            n2.base
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let runs = runs.as_array().unwrap();
    let mut per_slot: BTreeMap<&str, usize> = BTreeMap::new();
    for r in runs {
        *per_slot
            .entry(r["scheduledFor"].as_str().unwrap())
            .or_insert(0) += 1;
    }
    assert!(runs.len() >= 6, "it fired: {runs:#?}");
    assert!(
        per_slot.values().all(|n| *n == 1),
        "a time fired twice: {per_slot:?}"
    );
    // Each time made exactly one task, whichever process claimed it.
    let tasks = assert_ok(
        http.get(format!(
            "{}/api/v1/tasks?projectId={project}&scheduleId={id}&limit=100",
            n1.base
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(tasks.as_array().unwrap().len(), runs.len(), "{runs:#?}");
    // Both processes looked; each time was claimed by exactly one of them.
    let claims = |n: &Node| n.log_text().matches("schedules: claimed a time").count();
    let (c1, c2) = (claims(&n1), claims(&n2));
    assert_eq!(c1 + c2, runs.len(), "claims {c1} + {c2}");
}

#[tokio::test]
async fn a_schedule_pauses_when_its_projects_model_cannot_be_used() {
    let model = ModelServer::start().await;
    let app = fast_app(&model, |c| c.llm.gemini_api_key = None).await;
    let o = owner(&app).await;
    assert_ok(
        app.req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/settings", o.project_id),
        )
        .json(&json!({"model": "gemini/gemini-2.5-pro"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let s = create_schedule(
        &app,
        &o,
        json!({"name": "Gemini", "cron": "* * * * * *", "message": "no model"}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let r = wait_runs(&app, &o, &id, |r| !r.is_empty()).await;
    assert_eq!(r[0]["outcome"], "skipped", "{r:#?}");
    let got = assert_ok(
        app.req(&o.client, Method::GET, &path(&o, &format!("/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reason = got["pausedReason"].as_str().unwrap();
    assert!(
        reason.contains("model cannot be used") && reason.contains("GEMINI_API_KEY"),
        "{reason}"
    );
    assert!(model.requests().is_empty(), "no task ran");
    app.stop().await;
}
