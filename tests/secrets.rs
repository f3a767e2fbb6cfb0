//! A task's secrets belong to the caller who supplied them, for the run that uses them: a
//! follow-up by anyone else runs without them (and the stream says so), and a finished run
//! leaves none behind for the next. On SQLite, or PostgreSQL with `DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{
    SseReader, app_for, create_task, log_all, owner, tool_outputs, wait_status,
};

const SECRET: &str = "tok-5e3c-41f7-secret";

/// What the task's commands printed, in order.
async fn call_outputs(app: &TestApp, key: &str, id: &str) -> Vec<String> {
    tool_outputs(app, key, id)
        .await
        .iter()
        .map(|output| {
            let stdout = output.split_once("Stdout: ").map_or("", |(_, rest)| rest);
            stdout.lines().next().unwrap_or_default().to_owned()
        })
        .collect()
}

fn echo_token() -> Turn {
    Turn::tool_call("run_shell_command", json!({"command": "echo \"[$TOKEN]\""}))
}

#[tokio::test]
async fn a_follow_up_by_someone_else_runs_without_the_secrets_and_says_so() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    // An organization admin is admin of every project: they see and may continue the task.
    let (other, _) = app
        .add_org_member(&o.client, "pat@example.com", "pat", "admin")
        .await;
    let k = format!("secret-owner-{}", unique());
    model.script(&k, vec![echo_token(), Turn::text("done")]);
    let id = create_task(
        &app,
        &o.key,
        json!({
            "message": format!("{k}: print it"),
            "secrets": {"TOKEN": SECRET},
            "autoExecute": false,
        }),
    )
    .await;
    wait_status(&app, &o.key, &id, "awaiting_approval", 30).await;

    let resp = app
        .req(
            &other,
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
        )
        .json(&json!({ "message": "and print the token again" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let task = app
        .req(&other, Method::GET, &format!("/api/v1/tasks/{id}"))
        .send()
        .await
        .unwrap();
    let call = assert_ok(task).await["pendingApprovals"][0]["callId"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/tools/{call}/approve"),
            &o.key,
        )
        .json(&json!({ "outcome": "proceed_once" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    wait_status(&app, &o.key, &id, "completed", 30).await;

    // The command ran without the secret in its environment.
    assert_eq!(call_outputs(&app, &o.key, &id).await, vec!["[]".to_owned()]);
    let frames = log_all(&app, &o.key, &id).await;
    let notice = frames
        .iter()
        .find(|f| {
            f.event == "status"
                && f.data["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("continues without them"))
        })
        .map(|f| f.data.clone());
    assert!(notice.is_some(), "the stream says the secrets were dropped");
    let all: Value = frames.iter().map(|f| f.data.clone()).collect();
    assert!(!all.to_string().contains(SECRET));
    app.stop().await;
}

#[tokio::test]
async fn the_owners_own_follow_up_keeps_them_while_the_run_lasts_and_none_outlive_it() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = format!("secret-run-{}", unique());
    model.script(
        &k,
        vec![
            echo_token(),
            Turn::text("first run done"),
            echo_token(),
            Turn::text("second run done"),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({ "message": format!("{k}: print it"), "secrets": {"TOKEN": SECRET} }),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(
        call_outputs(&app, &o.key, &id).await,
        vec!["[[REDACTED:TOKEN]]".to_owned()]
    );

    // The run that used them is over: a follow-up, even the owner's, runs without them.
    let resp = app
        .bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
            &o.key,
        )
        .json(&json!({ "message": "again" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "second run done", "{task}");
    assert_eq!(
        call_outputs(&app, &o.key, &id).await,
        vec!["[[REDACTED:TOKEN]]".to_owned(), "[]".to_owned()]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_run_in_progress_stops_and_goes_on_without_them() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let (other, _) = app
        .add_org_member(&o.client, "quin@example.com", "quin", "admin")
        .await;
    let k = format!("secret-running-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "sleep 20; echo \"late [$TOKEN]\""}),
            ),
            echo_token(),
            Turn::text("done"),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({ "message": format!("{k}: wait, then print it"), "secrets": {"TOKEN": SECRET} }),
    )
    .await;
    // Wait for the long command to start.
    let mut reader = SseReader::open(&app, &o.key, &id, None).await;
    loop {
        let f = reader.next().await.expect("the command starts");
        if f.event == "tool_call" {
            break;
        }
    }
    drop(reader);
    let resp = app
        .req(
            &other,
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
        )
        .json(&json!({ "message": "print it now" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "done", "{task}");
    // The command that held the secret was stopped (reported interrupted, never run again);
    // the next one ran without it.
    let outputs = call_outputs(&app, &o.key, &id).await;
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[1], "[]");
    assert!(!outputs[0].contains("late"), "{outputs:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_secret_cut_short_leaves_no_beginning_behind() {
    const CUT_SECRET: &str = "cut-9b1e4c72a5d3f806";
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = format!("secret-cut-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "printf '%s\\n' \"$TOKEN\" | cut -c1-12; printf '%s' \"$TOKEN\" | head -c 7"}),
            ),
            Turn::text("done"),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({ "message": format!("{k}: print part of it"), "secrets": {"TOKEN": CUT_SECRET} }),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 30).await;
    let outputs = call_outputs(&app, &o.key, &id).await;
    assert_eq!(outputs, vec!["[REDACTED:TOKEN]".to_owned()], "{outputs:?}");
    let frames = log_all(&app, &o.key, &id).await;
    let all: Value = frames.iter().map(|f| f.data.clone()).collect();
    assert!(!all.to_string().contains(&CUT_SECRET[..6]), "{all}");
    app.stop().await;
}
