//! The Task API end to end: a real server, real sandbox and the scripted model server speaking
//! each provider's wire format over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::{self, TestApp, assert_error, assert_ok, json_body, unique};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::*;

fn key_of(prefix: &str) -> String {
    format!("{prefix}-{}", unique())
}

#[tokio::test]
async fn a_task_answers_at_once_then_streams_its_answer_to_done() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("hello");
    model.script(
        &k,
        vec![Turn::text_chunks(vec!["Hel", "lo ", "there"]).with_usage(12, 3)],
    );

    let started = std::time::Instant::now();
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: say hello")})).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "create returns at once"
    );

    // Whether it is still running or already done, the log from the start is the same.
    let frames = log_all(&app, &o.key, &id).await;
    let n = names(&frames);
    assert_eq!(n[0], "status");
    assert_eq!(frames[0].data["status"], "connecting");
    assert!(n.iter().all(|e| !e.starts_with("history")));
    assert_eq!(*n.last().unwrap(), "done", "{n:?}");
    let partial: String = of(&frames, "content")
        .iter()
        .filter(|f| f.data["isPartial"] == true)
        .map(|f| f.data["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(partial, "Hello there");
    let whole = of(&frames, "content")
        .into_iter()
        .find(|f| f.data["isPartial"] == false)
        .unwrap();
    assert_eq!(whole.data["text"], "Hello there");
    assert_eq!(frames.last().unwrap().data["finalResponse"], "Hello there");
    // Logged events carry consecutive ids.
    let ids: Vec<i64> = frames.iter().filter_map(|f| f.id).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");

    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(task["status"], "completed");
    assert_eq!(task["output"]["content"], "Hello there");
    assert_eq!(task["messageCount"], 2);
    assert_eq!(task["usage"]["inputTokens"], 12);
    assert_eq!(task["usage"]["outputTokens"], 3);
    assert_eq!(task["model"], "openai/test-model");
    assert!(task["startedAt"].is_string() && task["completedAt"].is_string());

    let hist = assert_ok(
        app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/history"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(hist["taskId"], id.as_str());
    assert_eq!(hist["status"], "completed");
    let msgs = hist["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"], "Hello there");

    // A finished task's stream is its history and closes.
    let again = stream_all(&app, &o.key, &id).await;
    assert_eq!(
        names(&again),
        vec!["history_message", "history_message", "history_done"]
    );
    assert_eq!(again[2].data["isStreaming"], false);
    // `history_done` names the last event the history stands for: resuming after it brings
    // nothing of the finished run again.
    let log = log_all(&app, &o.key, &id).await;
    let last = log.iter().filter_map(|f| f.id).max().unwrap();
    assert_eq!(again[2].id, Some(last));
    let resumed = SseReader::open(&app, &o.key, &id, Some(last))
        .await
        .rest()
        .await;
    assert!(resumed.is_empty(), "{resumed:?}");
    app.stop().await;
}

async fn multi_step(provider: &str) {
    let model = ModelServer::start().await;
    let app = app_for(&model, provider).await;
    let o = owner(&app).await;
    let k = key_of("steps");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "printf 'a,b\\n1,2\\n' > report.csv && echo wrote"}),
            ),
            Turn::tool_call("read_file", json!({"path": "report.csv"})),
            Turn::text("The report is in report.csv."),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: write a report")}),
    )
    .await;
    let frames = log_all(&app, &o.key, &id).await;
    let calls = of(&frames, "tool_call");
    assert_eq!(calls.len(), 2, "{:?}", names(&frames));
    assert_eq!(calls[0].data["toolName"], "run_shell_command");
    assert_eq!(calls[0].data["status"], "executing");
    let results = of(&frames, "tool_result");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].data["status"], "success");
    assert!(
        results[0].data["output"]
            .as_str()
            .unwrap()
            .contains("wrote")
    );
    assert!(results[1].data["output"].as_str().unwrap().contains("1,2"));
    assert_eq!(frames.last().unwrap().event, "done");

    // Each step's output informed the next request, in the provider's own format.
    let reqs = model.requests_for(&k);
    assert_eq!(reqs.len(), 3);
    let second = reqs[1].body.to_string();
    assert!(second.contains("wrote"), "{second}");
    let third = reqs[2].body.to_string();
    assert!(third.contains("1,2"), "{third}");

    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(task["status"], "completed");
    let tc = task["output"]["toolCalls"].as_array().unwrap();
    assert_eq!(tc.len(), 2);
    assert_eq!(tc[1]["status"], "success");

    let arts = assert_ok(
        app.bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts"),
            &o.key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let report = arts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "report.csv")
        .unwrap_or_else(|| panic!("{arts:#}"));
    assert_eq!(report["name"], "report.csv");
    assert_eq!(report["size"], 8);
    assert_eq!(report["mimeType"], "text/csv");
    let resp = app
        .bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts/download?path=report.csv"),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv");
    assert_eq!(resp.headers()["content-length"], "8");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"report.csv\"")
    );
    assert_eq!(resp.text().await.unwrap(), "a,b\n1,2\n");
    app.stop().await;
}

#[tokio::test]
async fn multi_step_task_with_anthropic() {
    multi_step("anthropic").await;
}

#[tokio::test]
async fn multi_step_task_with_openai() {
    multi_step("openai").await;
}

#[tokio::test]
async fn multi_step_task_with_gemini() {
    multi_step("gemini").await;
}

#[tokio::test]
async fn tool_calls_wait_for_approval_when_auto_execute_is_off() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "anthropic").await;
    let o = owner(&app).await;
    let k = key_of("approve");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo first > one.txt"}),
            ),
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo second > two.txt"}),
            ),
            Turn::text("Done, one of them was refused."),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: two files"), "autoExecute": false}),
    )
    .await;
    let task = wait_status(&app, &o.key, &id, "awaiting_approval", 30).await;
    let pending = task["pendingApprovals"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["toolName"], "run_shell_command");
    assert_eq!(pending[0]["args"]["command"], "echo first > one.txt");
    let call = pending[0]["callId"].as_str().unwrap().to_owned();

    let approve = |call: String, outcome: &'static str| {
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/tools/{call}/approve"),
            &o.key,
        )
        .json(&json!({ "outcome": outcome }))
        .send()
    };
    assert_error(
        approve(call.clone(), "maybe").await.unwrap(),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_error(
        approve("nope".into(), "proceed_once").await.unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    let ok = assert_ok(approve(call.clone(), "proceed_once").await.unwrap()).await;
    assert_eq!(ok["approved"], true);
    assert_error(
        approve(call.clone(), "proceed_once").await.unwrap(),
        409,
        "CONFLICT",
    )
    .await;

    // The second call waits too; refusing it tells the model, which carries on.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let second = loop {
        let t = get_task(&app, &o.key, &id).await;
        if let Some(p) = t["pendingApprovals"].as_array().and_then(|p| p.first())
            && p["callId"] != call.as_str()
        {
            break p["callId"].as_str().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "{t:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let refused = assert_ok(approve(second.clone(), "cancel").await.unwrap()).await;
    assert_eq!(refused["approved"], false);
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "Done, one of them was refused.");
    let reqs = model.requests_for(&k);
    assert!(
        reqs[2].body.to_string().contains("declined"),
        "the model was told"
    );

    let arts = assert_ok(
        app.bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts"),
            &o.key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await
    .to_string();
    assert!(arts.contains("one.txt"));
    assert!(!arts.contains("two.txt"), "the refused call never ran");

    let frames = SseReader::open(&app, &o.key, &id, Some(0))
        .await
        .rest()
        .await;
    let waits: Vec<_> = of(&frames, "tool_call")
        .into_iter()
        .filter(|f| f.data["status"] == "awaiting_approval")
        .collect();
    assert_eq!(waits.len(), 2);
    assert!(
        of(&frames, "tool_result")
            .iter()
            .any(|f| f.data["status"] == "cancelled" && f.data["callId"] == second.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn proceed_always_allows_the_tool_for_the_rest_of_the_task() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("always");
    model.script(
        &k,
        vec![
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::tool_call("list_directory", json!({"path": "."})),
            Turn::text("listed twice"),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: list"), "autoExecute": false}),
    )
    .await;
    let task = wait_status(&app, &o.key, &id, "awaiting_approval", 30).await;
    let call = task["pendingApprovals"][0]["callId"].as_str().unwrap();
    assert_ok(
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/tools/{call}/approve"),
            &o.key,
        )
        .json(&json!({"outcome": "proceed_always"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["toolCalls"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn cancel_stops_the_command_and_the_stream() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("cancel");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "sleep 4; echo late > late.txt"}),
            ),
            Turn::text("never"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: wait")})).await;
    let mut reader = SseReader::open(&app, &o.key, &id, None).await;
    loop {
        let f = reader.next().await.expect("the call starts");
        if f.event == "tool_call" {
            break;
        }
    }
    let started = std::time::Instant::now();
    let body = assert_ok(
        app.bearer(Method::DELETE, &format!("/api/v1/tasks/{id}"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["message"], "Task cancelled");
    let rest = reader.rest().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the stream ended at once"
    );
    let last = rest.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "TASK_CANCELLED");
    assert!(
        of(&rest, "tool_result")
            .iter()
            .any(|f| f.data["status"] == "cancelled")
    );
    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(task["status"], "cancelled");
    assert_error(
        app.bearer(Method::DELETE, &format!("/api/v1/tasks/{id}"), &o.key)
            .send()
            .await
            .unwrap(),
        409,
        "CONFLICT",
    )
    .await;
    // The command was killed: it never got to write its file.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let arts = assert_ok(
        app.bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts"),
            &o.key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert!(!arts.to_string().contains("late.txt"), "{arts}");
    assert_eq!(
        model.requests_for(&k).len(),
        1,
        "the model was not called again"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_follow_up_runs_a_finished_task_again() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "gemini").await;
    let o = owner(&app).await;
    let k = key_of("follow");
    model.script(
        &k,
        vec![Turn::text("first answer"), Turn::text("second answer")],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: one")})).await;
    wait_status(&app, &o.key, &id, "completed", 30).await;
    let path = format!("/api/v1/tasks/{id}/messages");
    assert_error(
        app.bearer(Method::POST, &path, &o.key)
            .json(&json!({"message": "  "}))
            .send()
            .await
            .unwrap(),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let ok = assert_ok(
        app.bearer(Method::POST, &path, &o.key)
            .json(&json!({"message": "and now?"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ok["status"], "running");
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "second answer");
    assert_eq!(task["messageCount"], 4);
    let reqs = model.requests_for(&k);
    assert_eq!(reqs.len(), 2);
    let body = reqs[1].body.to_string();
    assert!(
        body.contains("first answer") && body.contains("and now?"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn transient_model_errors_are_retried_and_permanent_ones_fail_the_task() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "anthropic").await;
    let o = owner(&app).await;
    let k = key_of("retry");
    model.script(
        &k,
        vec![
            Turn::error(429, "slow down"),
            Turn::error(500, "oops"),
            Turn::text_chunks(vec!["par", "tial"]).drop_after(1),
            Turn::text("recovered"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: try")})).await;
    let frames = log_all(&app, &o.key, &id).await;
    let retries: Vec<_> = of(&frames, "status")
        .into_iter()
        .filter(|f| f.data["status"] == "retrying")
        .collect();
    assert_eq!(retries.len(), 3, "{:?}", names(&frames));
    assert_eq!(frames.last().unwrap().data["finalResponse"], "recovered");

    let k2 = key_of("fatal");
    model.script(&k2, vec![Turn::error(400, "this model does not exist")]);
    let id2 = create_task(&app, &o.key, json!({"message": format!("{k2}: try")})).await;
    let frames = log_all(&app, &o.key, &id2).await;
    let last = frames.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "MODEL_ERROR");
    assert!(
        last.data["message"]
            .as_str()
            .unwrap()
            .contains("this model does not exist")
    );
    let task = get_task(&app, &o.key, &id2).await;
    assert_eq!(task["status"], "failed");
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("this model does not exist")
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_provider_a_task_fails_saying_what_to_configure() {
    let app = TestApp::spawn().await;
    let o = owner(&app).await;
    let id = create_task(&app, &o.key, json!({"message": "hello"})).await;
    let task = wait_status(&app, &o.key, &id, "failed", 30).await;
    let err = task["error"].as_str().unwrap();
    assert!(
        err.contains("Organization → Model providers")
            && err.contains("ANTHROPIC_API_KEY")
            && err.contains("OPENAI_BASE_URL"),
        "{err}"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_leaves_nothing() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let post = |body: Value| {
        app.bearer(Method::POST, "/api/v1/tasks", &o.key)
            .json(&body)
            .send()
    };
    assert_error(post(json!({})).await.unwrap(), 400, "VALIDATION_ERROR").await;
    assert_error(
        post(json!({"message": ""})).await.unwrap(),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_error(
        post(json!({"message": "x", "env": {"1BAD": "v"}}))
            .await
            .unwrap(),
        400,
        "INVALID_ENV",
    )
    .await;
    assert_error(
        post(json!({"message": "x", "env": {"GOOD": 1}}))
            .await
            .unwrap(),
        400,
        "INVALID_ENV",
    )
    .await;
    assert_error(
        post(json!({"message": "x", "secrets": {"A-B": "v"}}))
            .await
            .unwrap(),
        400,
        "INVALID_ENV",
    )
    .await;
    assert_error(
        post(json!({"message": "x", "secrets": ["A"]}))
            .await
            .unwrap(),
        400,
        "INVALID_ENV",
    )
    .await;
    assert_error(
        post(json!({"message": "x", "autoExecute": "yes"}))
            .await
            .unwrap(),
        400,
        "VALIDATION_ERROR",
    )
    .await;

    // Multipart: 21 files, and bad booleans and env.
    let mut form = reqwest::multipart::Form::new().text("message", "files");
    for i in 0..21 {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name(format!("f{i}.txt")),
        );
    }
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_body(resp).await;
    assert_eq!(status, 400, "{body}");
    let form = reqwest::multipart::Form::new()
        .text("message", "x")
        .text("autoExecute", "perhaps");
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    let form = reqwest::multipart::Form::new()
        .text("message", "x")
        .text("env", "{\"OK\": 5}");
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_ENV").await;
    // 51 MB.
    let form = reqwest::multipart::Form::new().text("message", "big").part(
        "files",
        reqwest::multipart::Part::bytes(vec![b'a'; 51 * 1024 * 1024]).file_name("big.bin"),
    );
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;

    // Nothing was created: no task, no workspace.
    let list = app
        .bearer(Method::GET, "/api/v1/tasks", &o.key)
        .send()
        .await
        .unwrap();
    let (_, list) = json_body(list).await;
    assert_eq!(list["pagination"]["total"], 0, "{list}");
    let ws = app.data_dir().join("workspaces");
    let left: Vec<_> = std::fs::read_dir(&ws)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| !n.to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    app.stop().await;
}

#[tokio::test]
async fn files_are_uploaded_zips_extracted_and_downloads_stay_in_the_workspace() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("files");
    model.script(&k, vec![Turn::text("got them"), Turn::text("got more")]);
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        w.start_file("docs/readme.md", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"# hi").unwrap();
        w.finish().unwrap();
    }
    let form = reqwest::multipart::Form::new()
        .text("message", format!("{k}: look"))
        .text("showInHistory", "false")
        .text("env", "{\"MODE\": \"test\"}")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"1,2".to_vec()).file_name("data.csv"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(zip).file_name("bundle.zip"),
        );
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &o.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let id = assert_ok(resp).await["id"].as_str().unwrap().to_owned();
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["showInHistory"], false);
    assert_eq!(task["env"]["MODE"], "test");
    let first = model.requests_for(&k)[0].body.to_string();
    assert!(
        first.contains("uploads/data.csv") && first.contains("uploads/docs/readme.md"),
        "{first}"
    );

    // A follow-up with a file; the message lists it.
    let form = reqwest::multipart::Form::new()
        .text("message", "one more")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("more.txt"),
        );
    assert_ok(
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
            &o.key,
        )
        .multipart(form)
        .send()
        .await
        .unwrap(),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 30).await;
    let hist = assert_ok(
        app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/history"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        hist["messages"][2]["attachedFiles"][0]["path"],
        "uploads/more.txt"
    );

    let dl = |path: &str| {
        app.bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts/download?path={path}"),
            &o.key,
        )
        .send()
    };
    assert_eq!(
        dl("uploads/docs/readme.md")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "# hi"
    );
    for bad in ["../../sigmic.db", "/etc/passwd", "uploads/../../x"] {
        let resp = dl(bad).await.unwrap();
        assert!(resp.status().is_client_error(), "{bad}: {}", resp.status());
    }
    app.stop().await;
}

#[tokio::test]
async fn tasks_are_listed_newest_first_and_seen_only_by_who_may() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let other_key = app.create_key(&o.client, &o.project_id, "other").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let k = key_of(&format!("list{i}"));
        model.script(&k, vec![Turn::text("ok")]);
        ids.push(create_task(&app, &o.key, json!({"message": format!("{k}: n")})).await);
        wait_status(&app, &o.key, ids.last().unwrap(), "completed", 30).await;
    }
    let list = |key: String, q: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .bearer(Method::GET, &format!("/api/v1/tasks{q}"), &key)
                .send()
                .await
                .unwrap();
            json_body(resp).await
        }
    };
    let (s, page) = list(o.key.clone(), "?limit=2").await;
    assert_eq!(s, 200);
    assert_eq!(page["pagination"]["total"], 3);
    assert_eq!(page["pagination"]["hasMore"], true);
    assert_eq!(page["data"][0]["id"], ids[2].as_str());
    assert_eq!(page["data"][0]["messageCount"], 2);
    assert!(page["data"][0]["lastActivityAt"].is_string());
    let (_, page2) = list(o.key.clone(), "?limit=2&offset=2").await;
    assert_eq!(page2["data"][0]["id"], ids[0].as_str());
    assert_eq!(page2["pagination"]["hasMore"], false);
    let (s, _) = list(o.key.clone(), "?limit=101").await;
    assert_eq!(s, 400);
    // Another key of the same project sees none of them.
    let (_, theirs) = list(other_key.clone(), "").await;
    assert_eq!(theirs["pagination"]["total"], 0);
    assert_error(
        app.bearer(
            Method::GET,
            &format!("/api/v1/tasks/{}", ids[0]),
            &other_key,
        )
        .send()
        .await
        .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    // The project's admin sees them in the Console's session.
    let resp = app
        .req(
            &o.client,
            Method::GET,
            &format!("/api/v1/tasks?projectId={}", o.project_id),
        )
        .send()
        .await
        .unwrap();
    let (_, mine) = json_body(resp).await;
    assert_eq!(mine["pagination"]["total"], 3);
    // Someone from another organization cannot reach them.
    let stranger = owner(&app).await;
    for path in [
        format!("/api/v1/tasks/{}", ids[0]),
        format!("/api/v1/tasks/{}/stream", ids[0]),
        format!("/api/v1/tasks/{}/history", ids[0]),
        format!("/api/v1/tasks/{}/artifacts", ids[0]),
    ] {
        assert_error(
            app.bearer(Method::GET, &path, &stranger.key)
                .send()
                .await
                .unwrap(),
            404,
            "NOT_FOUND",
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_dropped_stream_resumes_with_last_event_id_exactly_once() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |c| c.tasks.coalesce_ms = 0).await;
    let o = owner(&app).await;
    let k = key_of("resume");
    let chunks: Vec<String> = (0..40).map(|i| format!("w{i} ")).collect();
    model.script(
        &k,
        vec![Turn::text_chunks(chunks.clone()).chunk_delay(Duration::from_millis(40))],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: long")})).await;
    let mut first = SseReader::open(&app, &o.key, &id, None).await;
    let mut got = Vec::new();
    while got.iter().filter(|f: &&Frame| f.event == "content").count() < 8 {
        got.push(first.next().await.unwrap());
    }
    drop(first);
    let last = got.iter().filter_map(|f| f.id).max().unwrap();
    // `history_done` names where the history stands; it is no event of the log.
    let got: Vec<Frame> = got
        .into_iter()
        .filter(|f| f.event != "history_done")
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rest = SseReader::open(&app, &o.key, &id, Some(last))
        .await
        .rest()
        .await;
    assert!(
        rest.iter().all(|f| f.id.is_some()),
        "no history when resuming"
    );
    assert_eq!(rest.last().unwrap().event, "done");
    let mut seen: Vec<i64> = got.iter().filter_map(|f| f.id).collect();
    seen.extend(rest.iter().filter_map(|f| f.id));
    let full = SseReader::open(&app, &o.key, &id, Some(0))
        .await
        .rest()
        .await;
    let all: Vec<i64> = full.iter().filter_map(|f| f.id).collect();
    let from = *seen.first().unwrap();
    let expected: Vec<i64> = all.iter().copied().filter(|s| *s >= from).collect();
    assert_eq!(seen, expected, "every event exactly once, in order");
    let text: String = got
        .iter()
        .chain(rest.iter())
        .filter(|f| f.event == "content" && f.data["isPartial"] == true)
        .map(|f| f.data["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, chunks.concat());
    app.stop().await;
}

#[tokio::test]
async fn secrets_reach_commands_but_are_never_written_down_or_shown() {
    const SECRET: &str = "s3cr3t-VALUE-4f9a";
    let model = ModelServer::start().await;
    let app = app_for(&model, "anthropic").await;
    let o = owner(&app).await;
    let k = key_of("secret");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo token=$API_TOKEN; echo $API_TOKEN > token.txt"}),
            ),
            Turn::text(format!("The token is {SECRET}, as asked.")),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: use it"), "secrets": {"API_TOKEN": SECRET}, "env": {"PLAIN": "visible"}}),
    )
    .await;
    let frames = log_all(&app, &o.key, &id).await;
    let all = serde_json::to_string(&frames.iter().map(|f| &f.data).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(SECRET), "the stream shows the secret");
    assert!(all.contains("token=[REDACTED:API_TOKEN]"), "{all}");
    assert!(all.contains("The token is [REDACTED:API_TOKEN], as asked."));
    // The command saw it (the file it wrote holds it, inside the sandbox).
    let resp = app
        .bearer(
            Method::GET,
            &format!("/api/v1/tasks/{id}/artifacts/download?path=token.txt"),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The model never received it either.
    let sent = serde_json::to_string(
        &model
            .requests_for(&k)
            .iter()
            .map(|r| &r.body)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!sent.contains(SECRET), "the model was sent the secret");
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/api/v1/tasks/{id}/history"),
        format!("/api/v1/tasks/{id}/artifacts"),
        "/api/v1/tasks".to_owned(),
    ] {
        let body = app
            .bearer(Method::GET, &path, &o.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!body.contains(SECRET), "{path}: {body}");
    }
    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(task["env"]["PLAIN"], "visible");
    assert!(task["env"].get("API_TOKEN").is_none());
    // Not in the database (files, or tables on PostgreSQL), nor anywhere in the data dir but
    // the task's own workspace.
    let ws = app.data_dir().join("workspaces").join(&id);
    let found: Vec<_> = harness::files_containing(app.data_dir(), SECRET.as_bytes())
        .into_iter()
        .filter(|p| !p.starts_with(&ws))
        .collect();
    assert!(found.is_empty(), "{found:?}");
    if harness::is_postgres() {
        let dump = app.pg_rows_text().await;
        assert!(
            dump.contains("token=[REDACTED:API_TOKEN]"),
            "the dump is real"
        );
        assert!(!dump.contains(SECRET));
    }
    app.stop().await;
}

#[tokio::test]
async fn the_project_model_setting_picks_the_provider() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let path = format!("/api/v1/projects/{}/settings", o.project_id);
    let bad = app
        .req(&o.client, Method::PUT, &path)
        .json(&json!({"model": "claude"}))
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, "VALIDATION_ERROR").await;
    let set = assert_ok(
        app.req(&o.client, Method::PUT, &path)
            .json(&json!({"model": "gemini/gemini-2.5-flash"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(set["model"], "gemini/gemini-2.5-flash");
    // Keys use a project, they do not configure it.
    assert_error(
        app.bearer(Method::PUT, &path, &o.key)
            .json(&json!({"model": "openai/x"}))
            .send()
            .await
            .unwrap(),
        403,
        "FORBIDDEN",
    )
    .await;
    let k = key_of("pick");
    model.script(
        &k,
        vec![Turn::text("from gemini").with_usage(1_000_000, 1_000)],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: hi")})).await;
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["model"], "gemini/gemini-2.5-flash");
    assert!(model.requests_for(&k)[0].path.contains("gemini-2.5-flash"));
    // A model with a known price has a cost.
    let cost = task["usage"]["costUsd"].as_f64().unwrap();
    assert!(cost > 0.1 && cost < 2.0, "{cost}");
    app.stop().await;
}

#[tokio::test]
async fn thoughts_are_streamed_and_kept_in_history() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "anthropic").await;
    let o = owner(&app).await;
    let k = key_of("thought");
    model.script(
        &k,
        vec![Turn::text("Here it is.").with_thought("**Planning the answer**\nKeep it short.")],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: think")})).await;
    let frames = log_all(&app, &o.key, &id).await;
    let thoughts = of(&frames, "thought");
    assert_eq!(thoughts.len(), 1, "{:?}", names(&frames));
    assert_eq!(thoughts[0].data["subject"], "Planning the answer");
    assert_eq!(thoughts[0].data["description"], "Keep it short.");
    let task = get_task(&app, &o.key, &id).await;
    assert_eq!(
        task["output"]["thoughts"][0]["subject"],
        "Planning the answer"
    );
    let hist = assert_ok(
        app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/history"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        hist["messages"][1]["thoughts"][0]["subject"],
        "Planning the answer"
    );
    // Anthropic's thinking block goes back with its signature on the next call.
    app.stop().await;
}

#[tokio::test]
async fn a_follow_up_sent_while_running_is_read_after_the_current_step() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("queued");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "sleep 1; echo slept"}),
            ),
            Turn::text("first part done"),
            Turn::text("and the follow-up too"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: start")})).await;
    let mut reader = SseReader::open(&app, &o.key, &id, None).await;
    while reader.next().await.unwrap().event != "tool_call" {}
    let ok = assert_ok(
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
            &o.key,
        )
        .json(&json!({"message": "also say goodbye"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(ok["status"], "running");
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "first part done");
    let reqs = model.requests_for(&k);
    assert_eq!(reqs.len(), 2, "the next model call read the follow-up");
    let last = reqs[1].body.to_string();
    assert!(
        last.contains("slept") && last.contains("also say goodbye"),
        "{last}"
    );
    // The tool result sits right after its call, before the follow-up, as providers require.
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let tool_at = msgs.iter().position(|m| m["role"] == "tool").unwrap();
    let follow_at = msgs
        .iter()
        .position(|m| m["content"].to_string().contains("also say goodbye"))
        .unwrap();
    assert!(tool_at < follow_at);
    assert_eq!(task["messageCount"], 4);
    app.stop().await;
}

#[tokio::test]
async fn a_follow_up_sent_during_the_last_answer_gets_its_own() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |c| c.tasks.coalesce_ms = 0).await;
    let o = owner(&app).await;
    let k = key_of("late");
    let slow: Vec<String> = (0..30).map(|i| format!("w{i} ")).collect();
    model.script(
        &k,
        vec![
            Turn::text_chunks(slow).chunk_delay(Duration::from_millis(30)),
            Turn::text("answer to the follow-up"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: talk")})).await;
    let mut reader = SseReader::open(&app, &o.key, &id, None).await;
    while reader.next().await.unwrap().event != "content" {}
    assert_ok(
        app.bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
            &o.key,
        )
        .json(&json!({"message": "one more thing"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "answer to the follow-up");
    let reqs = model.requests_for(&k);
    assert_eq!(reqs.len(), 2);
    // The second call ends with the follow-up, after the answer it arrived during.
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["role"], "user");
    assert!(
        msgs.last().unwrap()["content"]
            .to_string()
            .contains("one more thing")
    );
    let hist = assert_ok(
        app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/history"), &o.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let roles: Vec<&str> = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["user", "assistant", "user", "assistant"]);
    app.stop().await;
}

#[tokio::test]
async fn independent_reads_run_together_and_writes_in_order() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let k = key_of("parallel");
    model.script(
        &k,
        vec![
            Turn::tool_call("write_file", json!({"path": "a.txt", "content": "A"})),
            Turn::tool_calls(vec![
                ("read_file", json!({"path": "a.txt"})),
                ("list_directory", json!({"path": "."})),
                ("run_shell_command", json!({"command": "cat a.txt"})),
            ]),
            Turn::text("read"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let frames = log_all(&app, &o.key, &id).await;
    let seq: Vec<String> = frames
        .iter()
        .filter(|f| f.event == "tool_call" || f.event == "tool_result")
        .map(|f| format!("{}:{}", f.event, f.data["callId"].as_str().unwrap()))
        .collect();
    let calls: Vec<String> = of(&frames, "tool_call")
        .iter()
        .map(|f| f.data["callId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(calls.len(), 4);
    // The two reads start together; the command starts after both finished.
    let pos = |s: String| seq.iter().position(|x| *x == s).unwrap();
    assert!(
        pos(format!("tool_call:{}", calls[2])) < pos(format!("tool_result:{}", calls[1])),
        "{seq:?}"
    );
    assert!(
        pos(format!("tool_result:{}", calls[2])) < pos(format!("tool_call:{}", calls[3])),
        "{seq:?}"
    );
    let results = of(&frames, "tool_result");
    assert!(
        results.iter().all(|r| r.data["status"] == "success"),
        "{results:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn runs_are_bounded_by_turns_and_time_and_long_contexts_are_compacted() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |c| {
        c.tasks.max_turns = 3;
        c.tasks.max_run_secs = 3;
        c.tasks.context_window_tokens = 3_000;
    })
    .await;
    let o = owner(&app).await;

    // Turns: the fourth model call is refused.
    let k = key_of("turns");
    model.script(
        &k,
        (0..5)
            .map(|_| Turn::tool_call("list_directory", json!({"path": "."})))
            .collect(),
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: loop")})).await;
    let task = wait_status(&app, &o.key, &id, "failed", 30).await;
    assert!(
        task["error"].as_str().unwrap().contains("3 model calls"),
        "{task:#}"
    );
    assert_eq!(model.requests_for(&k).len(), 3);

    // Time: a run past its limit stops.
    let k = key_of("time");
    model.script(
        &k,
        vec![
            Turn::tool_call("run_shell_command", json!({"command": "sleep 4"})),
            Turn::text("too late"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: slow")})).await;
    let task = wait_status(&app, &o.key, &id, "failed", 30).await;
    assert!(
        task["error"].as_str().unwrap().contains("3 seconds"),
        "{task:#}"
    );

    // Context: big tool outputs are trimmed instead of failing the task.
    let k = key_of("context");
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "printf '%9000s' | tr ' ' x"}),
            ),
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "printf '%9000s' | tr ' ' y"}),
            ),
            Turn::text("summarized"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: big")})).await;
    let task = wait_status(&app, &o.key, &id, "completed", 30).await;
    assert_eq!(task["output"]["content"], "summarized");
    let last = model.requests_for(&k)[2].body.to_string();
    assert!(
        last.contains("removed to fit the context window"),
        "compacted"
    );
    app.stop().await;
}

#[tokio::test]
async fn project_members_see_their_own_tasks_and_people_without_access_see_none() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let u = unique();
    let (member, user) = app
        .add_org_member(
            &o.client,
            &format!("m{u}@example.com"),
            &format!("m{u}"),
            "member",
        )
        .await;
    let (outsider, _) = app
        .add_org_member(
            &o.client,
            &format!("x{u}@example.com"),
            &format!("x{u}"),
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
    let list = |client: &reqwest::Client| {
        let req = app.req(
            client,
            Method::GET,
            &format!("/api/v1/tasks?projectId={}", o.project_id),
        );
        async move { json_body(req.send().await.unwrap()).await }
    };
    // The owner's key makes one task; the member makes one in the Chat UI's way (session).
    let k = key_of("own");
    model.script(&k, vec![Turn::text("ok")]);
    let owners = create_task(&app, &o.key, json!({"message": format!("{k}: a")})).await;
    let resp = app
        .req(&member, Method::POST, "/api/v1/tasks")
        .json(&json!({"message": "mine", "projectId": o.project_id}))
        .send()
        .await
        .unwrap();
    let mine = assert_ok(resp).await["id"].as_str().unwrap().to_owned();

    let (_, seen) = list(&member).await;
    let ids: Vec<&str> = seen["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.as_str()], "a member sees their own");
    assert_eq!(seen["data"][0]["username"], format!("m{u}"));
    let (_, all) = list(&o.client).await;
    assert_eq!(all["pagination"]["total"], 2, "an admin sees all");
    assert_error(
        app.req(&member, Method::GET, &format!("/api/v1/tasks/{owners}"))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    // An org member outside the project reaches nothing in it.
    let (status, _) = list(&outsider).await;
    assert_eq!(status, 404);
    assert_error(
        app.req(&outsider, Method::GET, &format!("/api/v1/tasks/{mine}"))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    app.stop().await;
}
