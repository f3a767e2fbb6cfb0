//! Built-in subagents through the API and in real tasks run by the scripted model: enabled per
//! project and offered as tools, a delegated objective streamed as the four subagent events
//! with the result reaching the main agent, a subagent's call held by an `ask` rule like any
//! other, and the ends of a subagent: its turn limit, its time, a cancel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{
    Owner, app_with, create_task, get_task, log_all, names, of, owner, wait_status,
};

async fn set_subagents(app: &TestApp, o: &Owner, body: Value) -> Value {
    let resp = app
        .req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/subagents", o.project_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

fn tools_of(model: &ModelServer, key: &str) -> Vec<String> {
    model.requests_for(key)[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_objective_streams_the_subagent_and_its_result_reaches_the_main_agent() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let base = format!("/api/v1/projects/{}/subagents", o.project_id);
    // Off until an admin turns one on; an unknown name is refused; a key cannot change them.
    let listed = assert_ok(app.bearer(Method::GET, &base, &o.key).send().await.unwrap()).await;
    let names_on: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["enabled"].as_bool().unwrap()))
        .collect();
    assert_eq!(names_on, [("researcher", false), ("coder", false)]);
    let resp = app
        .req(&o.client, Method::PUT, &base)
        .json(&json!({"poet": true}))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "poet").await;
    let resp = app
        .bearer(Method::PUT, &base, &o.key)
        .json(&json!({"coder": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let after = set_subagents(&app, &o, json!({"coder": true})).await;
    assert_eq!(after[1]["enabled"], true);
    assert_eq!(after[0]["enabled"], false);

    let k = format!("main-{}", unique());
    let sub = format!("sub-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "coder",
                json!({"objective": format!("{sub}: write hello.txt saying hi")}),
            ),
            Turn::text("The coder wrote hello.txt."),
        ],
    );
    model.script(
        &sub,
        vec![
            Turn::tool_call("write_file", json!({"path": "hello.txt", "content": "hi"}))
                .with_text("Writing the file."),
            Turn::text("Wrote hello.txt (2 bytes)."),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: delegate it")}),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 60).await;

    // The enabled subagent is a tool; the other is not; the subagent has only its own tools.
    let main_tools = tools_of(&model, &k);
    assert!(main_tools.contains(&"coder".to_owned()), "{main_tools:?}");
    assert!(!main_tools.contains(&"researcher".to_owned()));
    let sub_tools = tools_of(&model, &sub);
    assert!(
        sub_tools.contains(&"write_file".to_owned()),
        "{sub_tools:?}"
    );
    assert!(!sub_tools.contains(&"web_fetch".to_owned()));
    assert!(!sub_tools.contains(&"coder".to_owned()));

    let frames = log_all(&app, &o.key, &id).await;
    let sub_events: Vec<&str> = names(&frames)
        .into_iter()
        .filter(|n| n.starts_with("subagent_"))
        .collect();
    assert_eq!(
        sub_events,
        [
            "subagent_start",
            "subagent_thought",
            "subagent_tool",
            "subagent_tool",
            "subagent_thought",
            "subagent_end"
        ]
    );
    let start = &of(&frames, "subagent_start")[0].data;
    assert_eq!(start["agentName"], "coder");
    assert_eq!(start["displayName"], "Coder");
    assert!(
        start["objective"]
            .as_str()
            .unwrap()
            .contains("write hello.txt")
    );
    let tools = of(&frames, "subagent_tool");
    assert_eq!(tools[0].data["status"], "start");
    assert_eq!(tools[0].data["toolName"], "write_file");
    assert_eq!(tools[1].data["status"], "end");
    let end = &of(&frames, "subagent_end")[0].data;
    assert_eq!(end["terminateReason"], "GOAL");
    assert_eq!(end["result"], "Wrote hello.txt (2 bytes).");
    // The subagent's call is not one of the main agent's: one tool_call, for `coder`.
    let calls = of(&frames, "tool_call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].data["toolName"], "coder");
    let result = &of(&frames, "tool_result")[0].data;
    assert_eq!(result["output"], "Wrote hello.txt (2 bytes).");
    // The main agent read the result.
    let second = model.requests_for(&k)[1].body.to_string();
    assert!(second.contains("Wrote hello.txt (2 bytes)."), "{second}");
    let written = std::fs::read_to_string(
        app.data_dir()
            .join("workspaces")
            .join(&id)
            .join("hello.txt"),
    )
    .unwrap();
    assert_eq!(written, "hi");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_call_is_held_by_an_ask_rule_like_any_other() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    set_subagents(&app, &o, json!({"coder": true})).await;
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/projects/{}/tool-policies", o.project_id),
        )
        .json(&json!({"tool": "write_file", "decision": "ask"}))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let k = format!("held-{}", unique());
    let sub = format!("heldsub-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("coder", json!({"objective": format!("{sub}: write a.txt")})),
            Turn::text("done"),
        ],
    );
    model.script(
        &sub,
        vec![
            Turn::tool_call(
                "write_file",
                json!({"path": "a.txt", "content": "approved"}),
            ),
            Turn::text("Wrote a.txt."),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let t = get_task(&app, &o.key, &id).await;
        if let Some(p) = t["pendingApprovals"].as_array().and_then(|p| p.first()) {
            break p.clone();
        }
        assert!(Instant::now() < deadline, "nothing waits: {t:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(held["toolName"], "write_file");
    assert_eq!(held["args"]["path"], "a.txt");
    let workspace = app.data_dir().join("workspaces").join(&id);
    assert!(
        !workspace.join("a.txt").exists(),
        "ran before it was approved"
    );
    let call = held["callId"].as_str().unwrap();
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/tasks/{id}/tools/{call}/approve"),
        )
        .json(&json!({"outcome": "proceed_once"}))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    assert_eq!(
        std::fs::read_to_string(workspace.join("a.txt")).unwrap(),
        "approved"
    );
    let frames = log_all(&app, &o.key, &id).await;
    let end = &of(&frames, "subagent_end")[0].data;
    assert_eq!(end["terminateReason"], "GOAL");
    // The audit log has the subagent's call, decided by the rule and approved by the owner.
    let resp = app
        .req(
            &o.client,
            Method::GET,
            &format!("/api/v1/projects/{}/audit?tool=write_file", o.project_id),
        )
        .send()
        .await
        .unwrap();
    let entries = assert_ok(resp).await["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["decision"], "ask");
    assert_eq!(entries[0]["answer"], "approved");
    assert_eq!(entries[0]["outcome"], "success");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_ends_at_its_turn_limit_its_time_and_a_cancel() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |c| c.tasks.max_run_secs = 6).await;
    let o = owner(&app).await;
    set_subagents(&app, &o, json!({"researcher": true})).await;
    // The project allows 3 model calls a run: the subagent gets no more.
    let resp = app
        .req(
            &o.client,
            Method::PUT,
            &format!("/api/v1/projects/{}/settings", o.project_id),
        )
        .json(&json!({"maxTurns": 3}))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;

    let k = format!("turns-{}", unique());
    let sub = format!("turnsub-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "researcher",
                json!({"objective": format!("{sub}: look around")}),
            ),
            Turn::text("It ran out."),
        ],
    );
    model.script(
        &sub,
        (0..3)
            .map(|i| {
                Turn::tool_call("list_directory", json!({"path": "."}))
                    .with_text(format!("look {i}"))
            })
            .collect(),
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let frames = log_all(&app, &o.key, &id).await;
    let end = &of(&frames, "subagent_end")[0].data;
    assert_eq!(end["terminateReason"], "MAX_TURNS", "{end}");
    assert_eq!(model.requests_for(&sub).len(), 3);
    let result = &of(&frames, "tool_result").last().unwrap().data;
    assert_eq!(result["status"], "error");
    assert!(
        result["output"].as_str().unwrap().contains("model calls"),
        "{result}"
    );

    // A subagent whose model never answers ends when the run's time is up.
    let k = format!("slow-{}", unique());
    let sub = format!("slowsub-{}", unique());
    model.script(
        &k,
        vec![Turn::tool_call(
            "researcher",
            json!({"objective": format!("{sub}: wait")}),
        )],
    );
    model.script(&sub, vec![Turn::hang()]);
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    wait_status(&app, &o.key, &id, "failed", 60).await;
    let frames = log_all(&app, &o.key, &id).await;
    let end = &of(&frames, "subagent_end")[0].data;
    assert_eq!(end["terminateReason"], "TIMEOUT", "{end}");
    let error = &of(&frames, "error")[0].data;
    assert_eq!(error["code"], "TIMEOUT", "{error}");

    // A cancel stops the subagent with the task: no end, no more model calls.
    let k = format!("cancel-{}", unique());
    let sub = format!("cancelsub-{}", unique());
    model.script(
        &k,
        vec![Turn::tool_call(
            "researcher",
            json!({"objective": format!("{sub}: wait")}),
        )],
    );
    model.script(&sub, vec![Turn::hang(), Turn::text("never")]);
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: go")})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while model.requests_for(&sub).is_empty() {
        assert!(Instant::now() < deadline, "the subagent never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = app
        .bearer(Method::DELETE, &format!("/api/v1/tasks/{id}"), &o.key)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    wait_status(&app, &o.key, &id, "cancelled", 30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frames = log_all(&app, &o.key, &id).await;
    assert!(
        of(&frames, "subagent_end").is_empty(),
        "{:?}",
        names(&frames)
    );
    assert_eq!(model.requests_for(&sub).len(), 1);
    app.stop().await;
}
