//! The browser's side of the Task API: REST calls with the session cookie, and the task's
//! event stream through `EventSource`. Runs only in the browser (it is compiled for the server
//! too, where nothing calls it).

use std::cell::RefCell;
use std::rc::Rc;

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, FormData, MessageEvent};

use protocol::envelope::{Answer, Pagination};
use protocol::error::{ApiError, ErrorCode};
use protocol::skills::Skill;
use protocol::stream::StreamEvent;
use protocol::task::{Approved, Artifact, Cancelled, CreatedTask, FollowUpAccepted, Task};

/// One page of conversations.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    pub items: Vec<Task>,
    pub has_more: bool,
}

fn network(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("Sigmic could not be reached ({e}). Check your connection and try again."),
    )
}

fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

async fn read<T: DeserializeOwned>(resp: Response) -> Result<(T, Option<Pagination>), ApiError> {
    let status = resp.status();
    let text = resp.text().await.map_err(network)?;
    let answer: Answer<T> = serde_json::from_str(&text).map_err(|_| {
        ApiError::new(
            ErrorCode::InternalError,
            format!("The server answered {status} with something that is not Sigmic's API."),
        )
    })?;
    match (answer.data, answer.error) {
        (Some(data), None) => Ok((data, answer.pagination)),
        (_, Some(e)) => Err(e),
        (None, None) => Err(ApiError::internal()),
    }
}

async fn send<T: DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let resp = req.send().await.map_err(network)?;
    Ok(read(resp).await?.0)
}

pub async fn conversations(
    project_id: &str,
    query: &str,
    offset: usize,
) -> Result<Conversations, ApiError> {
    let mut url = format!(
        "/api/v1/conversations?projectId={}&limit=50&offset={offset}",
        enc(project_id)
    );
    if !query.trim().is_empty() {
        url.push_str("&q=");
        url.push_str(&enc(query.trim()));
    }
    let resp = Request::get(&url).send().await.map_err(network)?;
    let (items, page) = read::<Vec<Task>>(resp).await?;
    Ok(Conversations {
        items,
        has_more: page.is_some_and(|p| p.has_more),
    })
}

pub async fn rename_conversation(task_id: &str, title: &str) -> Result<Task, ApiError> {
    let req = Request::patch(&format!("/api/v1/conversations/{}", enc(task_id)))
        .json(&serde_json::json!({ "title": title }))
        .map_err(network)?;
    send(req).await
}

pub async fn delete_conversation(task_id: &str) -> Result<(), ApiError> {
    let req = Request::delete(&format!("/api/v1/conversations/{}", enc(task_id)))
        .build()
        .map_err(network)?;
    send::<serde_json::Value>(req).await.map(|_| ())
}

fn form(message: &str, files: &[web_sys::File]) -> Result<FormData, ApiError> {
    let form = FormData::new().map_err(|_| ApiError::internal())?;
    form.append_with_str("message", message)
        .map_err(|_| ApiError::internal())?;
    for f in files {
        form.append_with_blob_and_filename("files", f, &f.name())
            .map_err(|_| ApiError::internal())?;
    }
    Ok(form)
}

/// Starts a conversation: a task in the project, with its files.
pub async fn create_task(
    project_id: &str,
    message: &str,
    files: &[web_sys::File],
    auto_execute: bool,
) -> Result<CreatedTask, ApiError> {
    let form = form(message, files)?;
    if !auto_execute {
        form.append_with_str("autoExecute", "false")
            .map_err(|_| ApiError::internal())?;
    }
    let req = Request::post(&format!("/api/v1/tasks?projectId={}", enc(project_id)))
        .body(form)
        .map_err(network)?;
    send(req).await
}

pub async fn follow_up(
    task_id: &str,
    message: &str,
    files: &[web_sys::File],
) -> Result<FollowUpAccepted, ApiError> {
    let req = Request::post(&format!("/api/v1/tasks/{}/messages", enc(task_id)))
        .body(form(message, files)?)
        .map_err(network)?;
    send(req).await
}

/// The Console's skill upload: a ZIP of the skill's folder, as a new skill of the project or,
/// with `replace`, as the next version of the skill of that name. Errors name the form's
/// field (`file` for the archive).
pub async fn upload_skill(
    project_id: &str,
    replace: Option<&str>,
    file: &web_sys::File,
) -> Result<Skill, ApiError> {
    let form = FormData::new().map_err(|_| ApiError::internal())?;
    form.append_with_blob_and_filename("file", file, &file.name())
        .map_err(|_| ApiError::internal())?;
    let base = format!("/api/v1/projects/{}/skills", enc(project_id));
    let req = match replace {
        Some(name) => Request::put(&format!("{base}/{}", enc(name))),
        None => Request::post(&base),
    }
    .body(form)
    .map_err(network)?;
    send(req).await
}

pub async fn approve(task_id: &str, call_id: &str, outcome: &str) -> Result<Approved, ApiError> {
    let req = Request::post(&format!(
        "/api/v1/tasks/{}/tools/{}/approve",
        enc(task_id),
        enc(call_id)
    ))
    .json(&serde_json::json!({ "outcome": outcome }))
    .map_err(network)?;
    send(req).await
}

pub async fn cancel(task_id: &str) -> Result<Cancelled, ApiError> {
    let req = Request::delete(&format!("/api/v1/tasks/{}", enc(task_id)))
        .build()
        .map_err(network)?;
    send(req).await
}

pub async fn task(task_id: &str) -> Result<Task, ApiError> {
    let req = Request::get(&format!("/api/v1/tasks/{}", enc(task_id)))
        .build()
        .map_err(network)?;
    send(req).await
}

pub async fn artifacts(task_id: &str) -> Result<Vec<Artifact>, ApiError> {
    let req = Request::get(&format!("/api/v1/tasks/{}/artifacts", enc(task_id)))
        .build()
        .map_err(network)?;
    send(req).await
}

pub fn download_url(task_id: &str, path: &str) -> String {
    format!(
        "/api/v1/tasks/{}/artifacts/download?path={}",
        enc(task_id),
        enc(path)
    )
}

/// A file's text, for a preview. Larger files are refused before they are read whole.
pub async fn artifact_text(task_id: &str, path: &str, max_bytes: u64) -> Result<String, ApiError> {
    let resp = Request::get(&download_url(task_id, path))
        .send()
        .await
        .map_err(network)?;
    if !resp.ok() {
        return read::<serde_json::Value>(resp)
            .await
            .and_then(|_| Err(ApiError::internal()));
    }
    let len = resp
        .headers()
        .get("content-length")
        .and_then(|l| l.parse::<u64>().ok())
        .unwrap_or(0);
    if len > max_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "This file is too large to preview here. Download it instead.",
        ));
    }
    resp.text().await.map_err(network)
}

/// One frame of the stream.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The event's sequence number (`id:`); stored messages have none.
    pub seq: Option<i64>,
    pub event: StreamEvent,
}

const EVENT_NAMES: [&str; 13] = [
    "history_message",
    "history_done",
    "status",
    "thought",
    "content",
    "tool_call",
    "tool_result",
    "subagent_start",
    "subagent_thought",
    "subagent_tool",
    "subagent_end",
    "error",
    "done",
];

type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// Called at most once: taken out when the connection is lost.
type OnLost = Rc<RefCell<Option<Box<dyn Fn()>>>>;

/// An open stream. The browser's own reconnection is not used: it would resend the whole
/// history after a stream that had no sequence numbers yet, and reopen a stream the server
/// closed because the run ended. The page reconnects itself, after the last sequence number
/// it applied. Closed when dropped.
pub struct LiveStream {
    source: EventSource,
    _listeners: Vec<Listener>,
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.source.close();
    }
}

impl LiveStream {
    /// Opens the task's stream, after `after` when given. `on_frame` gets each event;
    /// `on_lost` is called once when the connection fails or the server ends it, and the
    /// stream is closed by then.
    pub fn open(
        task_id: &str,
        after: Option<i64>,
        on_frame: impl Fn(Frame) + 'static,
        on_lost: impl Fn() + 'static,
    ) -> Result<Self, ApiError> {
        let mut url = format!("/api/v1/tasks/{}/stream", enc(task_id));
        if let Some(after) = after {
            url.push_str(&format!("?after={after}"));
        }
        let source = EventSource::new(&url).map_err(|_| ApiError::internal())?;
        let on_frame = Rc::new(on_frame);
        let on_lost: OnLost = Rc::new(RefCell::new(Some(Box::new(on_lost))));
        let mut listeners = Vec::with_capacity(EVENT_NAMES.len());
        for name in EVENT_NAMES {
            let on_frame = Rc::clone(&on_frame);
            let on_lost = Rc::clone(&on_lost);
            let source_ref = source.clone();
            let listener: Listener = Closure::new(move |ev: web_sys::Event| {
                match ev.dyn_ref::<MessageEvent>().and_then(|m| {
                    let data = m.data().as_string()?;
                    Some((m.last_event_id(), data))
                }) {
                    Some((id, data)) => {
                        let Some(event) = StreamEvent::parse(name, &data) else {
                            return;
                        };
                        // `lastEventId` carries over from earlier frames; stored messages
                        // have none of their own (`history_done` and events do).
                        let seq = if matches!(event, StreamEvent::HistoryMessage(_)) {
                            None
                        } else {
                            id.parse::<i64>().ok()
                        };
                        on_frame(Frame { seq, event });
                    }
                    // A plain `error` event: the connection failed or was closed.
                    None => {
                        source_ref.close();
                        if let Some(f) = on_lost.borrow_mut().take() {
                            f();
                        }
                    }
                }
            });
            source
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
                .map_err(|_| ApiError::internal())?;
            listeners.push(listener);
        }
        Ok(Self {
            source,
            _listeners: listeners,
        })
    }
}
