//! Durability with real server processes: SIGKILL while tasks run and restart; SIGTERM; two
//! processes on one PostgreSQL database never running the same task twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigmic_testkit::harness::{self, TestDb, assert_ok, is_postgres};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::node::{Node, free_port, key_for};

async fn create(base: &str, key: &str, body: Value) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/tasks"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await["id"].as_str().unwrap().to_owned()
}

async fn get(base: &str, key: &str, id: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/tasks/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

async fn events(base: &str, key: &str, id: &str) -> Vec<(i64, String, Value)> {
    // What the log holds now: read until the stream ends or goes quiet for a moment.
    let mut resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/tasks/{id}/stream?after=0"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until
        && let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let mut out = Vec::new();
    for frame in text.split("\n\n") {
        let (mut id, mut ev, mut data) = (None, String::new(), String::new());
        for line in frame.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                ev = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if let Some(id) = id {
            out.push((id, ev, serde_json::from_str(&data).unwrap_or(Value::Null)));
        }
    }
    out
}

async fn wait_for(base: &str, key: &str, id: &str, status: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = get(base, key, id).await;
        if t["status"] == status {
            return t;
        }
        assert!(Instant::now() < deadline, "never {status}: {t:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the task's log has an event matching `pred`.
async fn wait_event(base: &str, key: &str, id: &str, pred: impl Fn(&str, &Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let evs = events(base, key, id).await;
        if evs.iter().any(|(_, e, d)| pred(e, d)) {
            return;
        }
        assert!(Instant::now() < deadline, "event never came: {evs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn tasks_continue_after_the_server_is_killed() {
    const SECRET: &str = "kill-secret-7c1e";
    let model = ModelServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::create().await;
    let port = free_port();
    let mut node = Node::start(tmp.path(), &db, port, &model, "node").await;
    let key = key_for(&node.base).await;

    // A: killed in the middle of a command. B: killed in the middle of a streamed answer.
    model.script(
        "task-a",
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "sleep 30; echo ran > ran.txt"}),
            ),
            Turn::text("A finished"),
        ],
    );
    let slow: Vec<String> = (0..300).map(|i| format!("b{i} ")).collect();
    model.script(
        "task-b",
        vec![
            Turn::text_chunks(slow.clone()).chunk_delay(Duration::from_millis(100)),
            Turn::text("B finished"),
        ],
    );
    let a = create(
        &node.base,
        &key,
        json!({"message": "task-a: run it", "secrets": {"TOKEN": SECRET}}),
    )
    .await;
    let b = create(&node.base, &key, json!({"message": "task-b: talk"})).await;
    wait_event(&node.base, &key, &a, |e, d| {
        e == "tool_call" && d["status"] == "executing"
    })
    .await;
    wait_event(&node.base, &key, &b, |e, d| {
        e == "content" && d["isPartial"] == true
    })
    .await;
    node.kill9();

    // Restarted, with nobody asking, both finish.
    let node = Node::start(tmp.path(), &db, port, &model, "node").await;
    let ta = wait_for(&node.base, &key, &a, "completed", 60).await;
    let tb = wait_for(&node.base, &key, &b, "completed", 60).await;
    assert_eq!(ta["output"]["content"], "A finished");
    assert_eq!(
        tb["output"]["content"],
        "B finished",
        "requests {:?}\nevents {:?}",
        model.requests_for("task-b").len(),
        events(&node.base, &key, &b)
            .await
            .iter()
            .map(|(i, e, d)| format!(
                "{i} {e} {}",
                d.to_string().chars().take(60).collect::<String>()
            ))
            .collect::<Vec<_>>()
    );

    // The interrupted command was reported to the model, not run again.
    let call = &ta["output"]["toolCalls"][0];
    assert_eq!(
        call["status"],
        "error",
        "{:?}",
        events(&node.base, &key, &a)
            .await
            .iter()
            .map(|(i, e, d)| format!(
                "{i} {e} {}",
                d.to_string().chars().take(100).collect::<String>()
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        call["output"].as_str().unwrap().contains("interrupted"),
        "{call}"
    );
    let reqs = model.requests_for("task-a");
    assert_eq!(reqs.len(), 2, "one model call per step");
    assert!(reqs[1].body.to_string().contains("interrupted"));
    let arts = reqwest::Client::new()
        .get(format!("{}/api/v1/tasks/{a}/artifacts", node.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !arts.contains("ran.txt"),
        "the killed command did not finish: {arts}"
    );

    // B's replay: the partial answer, `retrying`, then the new answer; ids without gaps.
    let evs = events(&node.base, &key, &b).await;
    let ids: Vec<i64> = evs.iter().map(|(i, _, _)| *i).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert!(
        evs.iter()
            .any(|(_, e, d)| e == "status" && d["status"] == "retrying")
    );
    assert_eq!(evs.last().unwrap().1, "done");

    // Nothing of the secret in the logs of either life, or the data dir outside A's workspace.
    assert!(!node.log_text().contains(SECRET));
    let ws = tmp.path().join("data").join("workspaces").join(&a);
    let found: Vec<_> = harness::files_containing(tmp.path(), SECRET.as_bytes())
        .into_iter()
        .filter(|p| !p.starts_with(&ws))
        .collect();
    assert!(found.is_empty(), "{found:?}");
}

#[tokio::test]
async fn sigterm_lets_the_step_finish_and_the_next_start_continues() {
    let model = ModelServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::create().await;
    let port = free_port();
    let mut node = Node::start(tmp.path(), &db, port, &model, "node").await;
    let key = key_for(&node.base).await;
    model.script(
        "task-t",
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "sleep 1; echo ok > ok.txt"}),
            ),
            Turn::text("T finished"),
        ],
    );
    let t = create(&node.base, &key, json!({"message": "task-t: go"})).await;
    wait_event(&node.base, &key, &t, |e, d| {
        e == "tool_call" && d["status"] == "executing"
    })
    .await;
    let took = node.term();
    assert!(
        took < Duration::from_secs(12),
        "exits within the grace period: {took:?}"
    );
    let node = Node::start(tmp.path(), &db, port, &model, "node").await;
    let task = wait_for(&node.base, &key, &t, "completed", 60).await;
    // The step in progress finished before the exit: its result is a success, not interrupted.
    assert_eq!(
        task["output"]["toolCalls"][0]["status"], "success",
        "{task:#}"
    );
    assert_eq!(task["output"]["content"], "T finished");
}

#[tokio::test]
async fn two_processes_on_one_postgres_never_run_a_task_twice() {
    if !is_postgres() {
        eprintln!("skipped: needs DATABASE_URL=postgres://…");
        return;
    }
    let model = ModelServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::create().await;
    let dir1 = tmp.path().join("one");
    let dir2 = tmp.path().join("two");
    std::fs::create_dir_all(&dir1).unwrap();
    std::fs::create_dir_all(&dir2).unwrap();
    let n1 = Node::start(&dir1, &db, free_port(), &model, "n1").await;
    let n2 = Node::start(&dir2, &db, free_port(), &model, "n2").await;
    let key = key_for(&n1.base).await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let k = format!("multi-{i}-x");
        model.script(
            &k,
            vec![
                Turn::tool_call(
                    "run_shell_command",
                    json!({"command": "sleep 0.3; echo step"}),
                )
                .chunk_delay(Duration::from_millis(50)),
                Turn::text("finished"),
            ],
        );
        // Half the tasks arrive through each node.
        let base = if i % 2 == 0 { &n1.base } else { &n2.base };
        ids.push((
            k.clone(),
            create(base, &key, json!({"message": format!("{k}: go")})).await,
        ));
    }
    for (_, id) in &ids {
        wait_for(&n1.base, &key, id, "completed", 120).await;
    }
    let (log1, log2) = (n1.log_text(), n2.log_text());
    for (k, id) in &ids {
        assert_eq!(
            model.requests_for(k).len(),
            2,
            "{k}: each step called the model once"
        );
        let started1 = log1
            .lines()
            .filter(|l| l.contains("run started") && l.contains(id.as_str()))
            .count();
        let started2 = log2
            .lines()
            .filter(|l| l.contains("run started") && l.contains(id.as_str()))
            .count();
        assert_eq!(
            started1 + started2,
            1,
            "{id} ran once: {started1} + {started2}"
        );
    }
    let on1 = ids
        .iter()
        .filter(|(_, id)| {
            log1.lines()
                .any(|l| l.contains("run started") && l.contains(id.as_str()))
        })
        .count();
    assert!(
        on1 > 0 && on1 < ids.len(),
        "both nodes worked: {on1} of {} on the first",
        ids.len()
    );
}
