//! The queue is fair: projects take turns, so one project's long queue cannot starve another's
//! task; and a project can be bounded to a number of tasks running at once. On SQLite, or
//! PostgreSQL with `DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use sigmic_testkit::harness::{assert_ok, unique};
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{app_with, create_task, get_task, owner, wait_status};

fn slow(model: &ModelServer, secs: u32) -> String {
    let k = format!("slow-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": format!("sleep {secs}")}),
            ),
            Turn::text("slept"),
        ],
    );
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_queue_in_one_project_does_not_starve_another() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |c| c.tasks.max_concurrent = 2).await;
    let busy = owner(&app).await;
    let other = owner(&app).await;
    let mut flood = Vec::new();
    for _ in 0..6 {
        let k = slow(&model, 2);
        flood.push(create_task(&app, &busy.key, json!({ "message": format!("{k}: go") })).await);
    }
    let k = format!("quick-{}", unique());
    model.script(&k, vec![Turn::text("quick")]);
    let quick = create_task(&app, &other.key, json!({ "message": format!("{k}: go") })).await;
    wait_status(&app, &other.key, &quick, "completed", 60).await;
    let mut done = 0;
    for id in &flood {
        if get_task(&app, &busy.key, id).await["status"] == "completed" {
            done += 1;
        }
    }
    // With two workers, the other project's task ran in the second round at the latest, not
    // after the whole queue ahead of it.
    assert!(
        done <= 3,
        "{done} of the 6 ran before the other project's task"
    );
    for id in &flood {
        wait_status(&app, &busy.key, id, "completed", 60).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_runs_at_most_its_bound_at_once() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "openai", |c| {
        c.tasks.max_concurrent = 4;
        c.tasks.max_concurrent_per_project = 1;
    })
    .await;
    let o = owner(&app).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let k = slow(&model, 1);
        ids.push(create_task(&app, &o.key, json!({ "message": format!("{k}: go") })).await);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut most = 0;
    loop {
        // One list answer is one read of the store: the statuses in it are of one moment.
        let list = assert_ok(
            app.bearer(Method::GET, "/api/v1/tasks", &o.key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let statuses: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        let running = statuses.iter().filter(|s| **s == "running").count();
        most = most.max(running);
        assert!(
            running <= 1,
            "{running} tasks of the project ran at once: {statuses:?}"
        );
        if statuses.iter().filter(|s| **s == "completed").count() == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "the tasks never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(most, 1);
    app.stop().await;
}
