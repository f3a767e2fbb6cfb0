//! A finished task's stream says how the task ended: `history_done` carries its status, the
//! last run's error (code and message) and its usage, and `done` its usage, so that a client
//! opening the stream late (a reload, a conversation reopened, a task that failed before the
//! page connected) shows the ending without reading the event log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::{TestApp, assert_ok, unique};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::*;

fn key_of(prefix: &str) -> String {
    format!("{prefix}-{}", unique())
}

/// The `history_done` of a finished task's stream, which is its last frame.
async fn history_done(app: &TestApp, key: &str, id: &str) -> Value {
    let frames = stream_all(app, key, id).await;
    let last = frames.last().expect("a history");
    assert_eq!(last.event, "history_done", "{:?}", names(&frames));
    assert_eq!(last.data["isStreaming"], false);
    last.data.clone()
}

async fn follow_up(app: &TestApp, key: &str, id: &str, message: &str) {
    assert_ok(
        app.bearer(Method::POST, &format!("/api/v1/tasks/{id}/messages"), key)
            .json(&json!({ "message": message }))
            .send()
            .await
            .unwrap(),
    )
    .await;
}

/// No model provider: the task fails in its first moment, before any client could connect.
/// Its stream, opened afterwards, still says why.
#[tokio::test]
async fn a_task_that_failed_at_once_carries_its_error_on_history_done() {
    let app = TestApp::spawn().await;
    let o = owner(&app).await;
    let id = create_task(
        &app,
        &o.key,
        json!({"message": "What is the capital of France?"}),
    )
    .await;
    let task = wait_status(&app, &o.key, &id, "failed", 30).await;

    let done = history_done(&app, &o.key, &id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "MODEL_NOT_CONFIGURED");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert_eq!(task["error"].as_str(), Some(message));
    assert_eq!(done["usage"]["inputTokens"], 0);
    assert_eq!(done["usage"]["outputTokens"], 0);
    // The same as the error event of the log.
    let log = log_all(&app, &o.key, &id).await;
    let last = log.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data, done["error"]);
    app.stop().await;
}

/// A completed run: `done` and the later `history_done` carry the task's usage; nothing says
/// error.
#[tokio::test]
async fn a_completed_task_carries_its_usage_on_done_and_history_done() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("usage");
    model.script(&k, vec![Turn::text("Paris.").with_usage(1200, 34)]);
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: capital?")})).await;

    let log = log_all(&app, &o.key, &id).await;
    let end = log.last().unwrap();
    assert_eq!(end.event, "done", "{:?}", names(&log));
    assert_eq!(end.data["finalResponse"], "Paris.");
    assert_eq!(end.data["usage"]["inputTokens"], 1200);
    assert_eq!(end.data["usage"]["outputTokens"], 34);

    let done = history_done(&app, &o.key, &id).await;
    assert_eq!(done["status"], "completed");
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(done["usage"]["inputTokens"], 1200);
    assert_eq!(done["usage"]["outputTokens"], 34);
    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(done["usage"], task["usage"]);
    app.stop().await;
}

/// A failure, then a follow-up that completes: the old error is not reported any more, and the
/// usage adds up both runs. Then a cancelled run and one stopped by its turn limit, each with
/// its own code.
#[tokio::test]
async fn the_ending_is_the_last_runs() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("again");
    model.script(
        &k,
        vec![
            Turn::error(400, "The request is malformed."),
            Turn::text("Fine now.").with_usage(10, 2),
            Turn::hang(),
            Turn::tool_call("run_shell_command", json!({"command": "echo one"})),
            Turn::tool_call("run_shell_command", json!({"command": "echo two"})),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    wait_status(&app, &o.key, &id, "failed", 30).await;
    let done = history_done(&app, &o.key, &id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "MODEL_ERROR", "{done}");

    follow_up(&app, &o.key, &id, "try again").await;
    wait_status(&app, &o.key, &id, "completed", 30).await;
    let done = history_done(&app, &o.key, &id).await;
    assert_eq!(done["status"], "completed");
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(done["usage"]["inputTokens"], 10);

    // Cancelled while the model does not answer.
    follow_up(&app, &o.key, &id, "wait").await;
    // Cancelled once the model holds the call, so that the hanging turn is the one used up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while model.requests_for(&k).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the third model call never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_ok(
        app.bearer(Method::DELETE, &format!("/api/v1/tasks/{id}"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let done = history_done(&app, &o.key, &id).await;
    assert_eq!(done["status"], "cancelled");
    assert_eq!(done["error"]["code"], "TASK_CANCELLED");

    // One model call allowed: the run that wants a second stops at its limit.
    assert_ok(
        app.req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/settings", o.project_id),
        )
        .json(&json!({"maxTurns": 1}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    follow_up(&app, &o.key, &id, "run two commands").await;
    wait_status(&app, &o.key, &id, "failed", 60).await;
    let done = history_done(&app, &o.key, &id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "MAX_TURNS", "{done}");
    assert!(!done["error"]["message"].as_str().unwrap().is_empty());
    app.stop().await;
}
