//! Helpers for task tests: a server wired to the scripted model server, an SSE reader, and
//! waiting for a task's status.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_ok, unique};
use crate::model::ModelServer;

/// A frame of a task's event stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// A server whose default model is `provider/test-model` on the scripted model server.
pub async fn app_for(model: &ModelServer, provider: &str) -> TestApp {
    app_with(model, provider, |_| {}).await
}

pub async fn app_with(
    model: &ModelServer,
    provider: &str,
    tweak: impl FnOnce(&mut sigmic::config::Config),
) -> TestApp {
    let url = model.url();
    let provider = provider.to_owned();
    TestApp::spawn_with(move |c| {
        configure_llm(c, &url, &provider);
        tweak(c);
    })
    .await
}

pub fn configure_llm(c: &mut sigmic::config::Config, url: &str, provider: &str) {
    c.llm.anthropic_api_key = Some("test-anthropic-key".into());
    c.llm.anthropic_base_url = Some(url.to_owned());
    c.llm.openai_api_key = Some("test-openai-key".into());
    c.llm.openai_base_url = Some(format!("{url}/v1"));
    c.llm.gemini_api_key = Some("test-gemini-key".into());
    c.llm.gemini_base_url = Some(url.to_owned());
    c.llm.default_model = Some(format!("{provider}/test-model"));
    c.tasks.retry_base_ms = 10;
    c.tasks.poll_interval_ms = 200;
}

/// A signed-up person and an API key of their default project.
pub struct Owner {
    pub client: reqwest::Client,
    pub project_id: String,
    pub key: String,
}

pub async fn owner(app: &TestApp) -> Owner {
    let u = unique();
    let (client, _) = app
        .signup(
            &format!("owner{u}@example.com"),
            &format!("owner{u}"),
            crate::harness::PASSWORD,
        )
        .await;
    let project_id = app.first_project(&client).await;
    let key = app.create_key(&client, &project_id, "tasks").await;
    Owner {
        client,
        project_id,
        key,
    }
}

pub async fn create_task(app: &TestApp, key: &str, body: Value) -> String {
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let data = assert_ok(resp).await;
    assert_eq!(data["status"], "pending");
    data["id"].as_str().unwrap().to_owned()
}

pub async fn get_task(app: &TestApp, key: &str, id: &str) -> Value {
    let resp = app
        .bearer(Method::GET, &format!("/api/v1/tasks/{id}"), key)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

/// Waits until the task has `status`; panics with the task after `secs`.
pub async fn wait_status(app: &TestApp, key: &str, id: &str, status: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let task = get_task(app, key, id).await;
        if task["status"] == status {
            return task;
        }
        if Instant::now() > deadline {
            panic!("task never reached {status}: {task:#}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An open event stream.
pub struct SseReader {
    resp: reqwest::Response,
    buf: String,
}

impl SseReader {
    pub async fn open(app: &TestApp, key: &str, id: &str, last_event_id: Option<i64>) -> SseReader {
        let mut req = app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/stream"), key);
        if let Some(n) = last_event_id {
            req = req.header("Last-Event-ID", n.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        SseReader {
            resp,
            buf: String::new(),
        }
    }

    /// A stream opened by hand (other credentials or headers).
    pub fn from_response(resp: reqwest::Response) -> SseReader {
        assert_eq!(resp.status(), 200);
        SseReader {
            resp,
            buf: String::new(),
        }
    }

    /// The next frame (heartbeats skipped), or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut frame = Frame {
                    id: None,
                    event: String::new(),
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        frame.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    } else if let Some(v) = line.strip_prefix("id:") {
                        frame.id = Some(v.trim().parse().unwrap());
                    }
                }
                if frame.event.is_empty() {
                    continue; // a comment (heartbeat)
                }
                frame.data = serde_json::from_str(&data).unwrap();
                return Some(frame);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(60), self.resp.chunk())
                .await
                .expect("stream stalled for 60 s")
                .unwrap()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Every remaining frame until the stream ends.
    pub async fn rest(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(f) = self.next().await {
            out.push(f);
        }
        out
    }
}

/// The whole stream of a task, from its start until it ends.
pub async fn stream_all(app: &TestApp, key: &str, id: &str) -> Vec<Frame> {
    SseReader::open(app, key, id, None).await.rest().await
}

/// Every logged event of a task, from the first, until its run ends (live if it is running).
pub async fn log_all(app: &TestApp, key: &str, id: &str) -> Vec<Frame> {
    SseReader::open(app, key, id, Some(0)).await.rest().await
}

pub fn names(frames: &[Frame]) -> Vec<&str> {
    frames.iter().map(|f| f.event.as_str()).collect()
}

pub fn of<'a>(frames: &'a [Frame], event: &str) -> Vec<&'a Frame> {
    frames.iter().filter(|f| f.event == event).collect()
}

pub fn json_task(message: &str) -> Value {
    json!({ "message": message })
}

/// The output of each of the task's tool calls, in order, from its history.
pub async fn tool_outputs(app: &TestApp, key: &str, id: &str) -> Vec<String> {
    let history = assert_ok(
        app.bearer(Method::GET, &format!("/api/v1/tasks/{id}/history"), key)
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
        .collect()
}
