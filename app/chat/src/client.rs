//! The browser's side of the Task API. A [`Client`] says where the server is and how the page
//! proves who it is: the Chat UI and Console use the page's own origin and its session cookie
//! (the free functions below, and `Client::default()`); the embeddable widget uses the
//! Sigmic server's URL from another origin and a widget token, renewed through the page when
//! it expires. Runs only in the browser (it is compiled for the server too, where nothing
//! calls it).

mod stream;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, FormData, RequestCredentials, RequestMode};

use protocol::envelope::{Answer, Pagination};
use protocol::error::{ApiError, ErrorCode};
use protocol::schedule::ScheduleFile;
use protocol::skills::Skill;
use protocol::task::{Approved, Artifact, Cancelled, CreatedTask, FollowUpAccepted, Task};
use protocol::widget::WidgetSession;

pub use stream::{Frame, LiveStream};

/// One page of conversations.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    pub items: Vec<Task>,
    pub has_more: bool,
}

/// Asks the embedding page for a fresh token; `None` when it has none to give.
pub type TokenFuture = Pin<Box<dyn Future<Output = Option<String>>>>;
pub type Refresh = Rc<dyn Fn() -> TokenFuture>;

/// Where the Task API is and how requests prove who sends them. Cheap to clone.
#[derive(Clone, Default)]
pub struct Client {
    /// The server's origin (`https://sigmic.example.com`), or empty for the page's own.
    base: Rc<str>,
    bearer: Option<Rc<Bearer>>,
}

struct Bearer {
    token: RefCell<String>,
    refresh: Option<Refresh>,
}

#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

enum Body<'a> {
    Empty,
    Json(serde_json::Value),
    Form(&'a FormData),
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

fn parse_answer<T: DeserializeOwned>(
    status: u16,
    text: &str,
) -> Result<(T, Option<Pagination>), ApiError> {
    let answer: Answer<T> = serde_json::from_str(text).map_err(|_| {
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

async fn read<T: DeserializeOwned>(resp: Response) -> Result<(T, Option<Pagination>), ApiError> {
    let status = resp.status();
    let text = resp.text().await.map_err(network)?;
    parse_answer(status, &text)
}

/// The error a failed response carries.
async fn read_error(resp: Response) -> ApiError {
    match read::<serde_json::Value>(resp).await {
        Err(e) => e,
        Ok(_) => ApiError::internal(),
    }
}

impl Client {
    /// The page's own server, with its session cookie.
    pub fn same_origin() -> Self {
        Self::default()
    }

    /// A Sigmic server elsewhere (`base` is its origin, without a trailing slash), with a
    /// bearer token. When the server says the token is no longer valid, `refresh` is asked
    /// for a new one and the request is sent again, once.
    pub fn with_token(base: &str, token: String, refresh: Option<Refresh>) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            bearer: Some(Rc::new(Bearer {
                token: RefCell::new(token),
                refresh,
            })),
        }
    }

    /// The absolute (or, for the page's own server, root-relative) URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn token(&self) -> Option<String> {
        self.bearer.as_ref().map(|b| b.token.borrow().clone())
    }

    fn build(
        &self,
        verb: Verb,
        url: &str,
        token: Option<&str>,
        signal: Option<&AbortSignal>,
    ) -> RequestBuilder {
        let req = match verb {
            Verb::Get => Request::get(url),
            Verb::Post => Request::post(url),
            Verb::Put => Request::put(url),
            Verb::Patch => Request::patch(url),
            Verb::Delete => Request::delete(url),
        };
        let req = req.abort_signal(signal);
        match token {
            // Another origin: the token is the only credential; the page's cookies for the
            // Sigmic server (if any) are never sent along.
            Some(token) => req
                .header("Authorization", &format!("Bearer {token}"))
                .mode(RequestMode::Cors)
                .credentials(RequestCredentials::Omit),
            None => req,
        }
    }

    async fn send_once(
        &self,
        verb: Verb,
        url: &str,
        token: Option<&str>,
        body: &Body<'_>,
        signal: Option<&AbortSignal>,
    ) -> Result<Response, ApiError> {
        let req = self.build(verb, url, token, signal);
        let req = match body {
            Body::Empty => req.build(),
            Body::Json(v) => req.json(v),
            Body::Form(form) => req.body((*form).clone()),
        }
        .map_err(network)?;
        req.send().await.map_err(network)
    }

    /// Sends a request and answers its response; a token the server no longer accepts is
    /// renewed and the request sent again, so an expiry mid-visit goes unnoticed.
    async fn respond(
        &self,
        verb: Verb,
        path: &str,
        body: Body<'_>,
        signal: Option<&AbortSignal>,
    ) -> Result<Response, ApiError> {
        let url = self.url(path);
        let used = self.token();
        let resp = self
            .send_once(verb, &url, used.as_deref(), &body, signal)
            .await?;
        let Some(bearer) = &self.bearer else {
            return Ok(resp);
        };
        if resp.status() != 401 {
            return Ok(resp);
        }
        let err = read_error(resp).await;
        if err.code != ErrorCode::InvalidToken {
            return Err(err);
        }
        // Another request may have renewed it meanwhile: then that one is used.
        let current = bearer.token.borrow().clone();
        let fresh = if Some(&current) != used.as_ref() {
            Some(current)
        } else {
            match &bearer.refresh {
                Some(refresh) => refresh().await.filter(|t| !t.is_empty()),
                None => None,
            }
        };
        let Some(fresh) = fresh else { return Err(err) };
        bearer.token.replace(fresh.clone());
        self.send_once(verb, &url, Some(&fresh), &body, signal)
            .await
    }

    /// A request's whole answer as text. Not generic, so the browser bundles carry one copy
    /// of the request machinery, whatever the number of answer types read from it.
    async fn fetch_text(
        &self,
        verb: Verb,
        path: &str,
        body: Body<'_>,
    ) -> Result<(u16, String), ApiError> {
        let resp = self.respond(verb, path, body, None).await?;
        let status = resp.status();
        Ok((status, resp.text().await.map_err(network)?))
    }

    async fn call_paged<T: DeserializeOwned>(
        &self,
        verb: Verb,
        path: &str,
        body: Body<'_>,
    ) -> Result<(T, Option<Pagination>), ApiError> {
        let (status, text) = self.fetch_text(verb, path, body).await?;
        parse_answer(status, &text)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        verb: Verb,
        path: &str,
        body: Body<'_>,
    ) -> Result<T, ApiError> {
        Ok(self.call_paged(verb, path, body).await?.0)
    }

    /// The widget app this token belongs to, its look and its end user.
    pub async fn widget_session(&self) -> Result<WidgetSession, ApiError> {
        self.call(Verb::Get, "/api/v1/widget/session", Body::Empty)
            .await
    }

    /// The caller's own tasks, newest activity first (for a widget token: its end user's).
    pub async fn tasks(&self, offset: usize) -> Result<Conversations, ApiError> {
        let path = format!("/api/v1/tasks?limit=50&offset={offset}");
        let (items, page) = self
            .call_paged::<Vec<Task>>(Verb::Get, &path, Body::Empty)
            .await?;
        Ok(Conversations {
            items,
            has_more: page.is_some_and(|p| p.has_more),
        })
    }

    pub async fn conversations(
        &self,
        project_id: &str,
        query: &str,
        offset: usize,
    ) -> Result<Conversations, ApiError> {
        let mut path = format!(
            "/api/v1/conversations?projectId={}&limit=50&offset={offset}",
            enc(project_id)
        );
        if !query.trim().is_empty() {
            path.push_str("&q=");
            path.push_str(&enc(query.trim()));
        }
        let (items, page) = self
            .call_paged::<Vec<Task>>(Verb::Get, &path, Body::Empty)
            .await?;
        Ok(Conversations {
            items,
            has_more: page.is_some_and(|p| p.has_more),
        })
    }

    pub async fn rename_conversation(&self, task_id: &str, title: &str) -> Result<Task, ApiError> {
        let path = format!("/api/v1/conversations/{}", enc(task_id));
        let body = Body::Json(serde_json::json!({ "title": title }));
        self.call(Verb::Patch, &path, body).await
    }

    pub async fn delete_conversation(&self, task_id: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/conversations/{}", enc(task_id));
        self.call::<serde_json::Value>(Verb::Delete, &path, Body::Empty)
            .await
            .map(|_| ())
    }

    /// Starts a conversation: a task with its files, in `project_id` (a widget token names
    /// its project itself).
    pub async fn create_task(
        &self,
        project_id: Option<&str>,
        message: &str,
        files: &[web_sys::File],
        auto_execute: bool,
    ) -> Result<CreatedTask, ApiError> {
        self.start_task(project_id, message, files, auto_execute, None)
            .await
    }

    /// `create_task` with the conversation's own model (`<connection>/<model id>`), where the
    /// project lets people pick one; the project's when `None`.
    pub async fn start_task(
        &self,
        project_id: Option<&str>,
        message: &str,
        files: &[web_sys::File],
        auto_execute: bool,
        model: Option<&str>,
    ) -> Result<CreatedTask, ApiError> {
        let form = form(message, files)?;
        if !auto_execute {
            form.append_with_str("autoExecute", "false")
                .map_err(|_| ApiError::internal())?;
        }
        if let Some(model) = model {
            form.append_with_str("model", model)
                .map_err(|_| ApiError::internal())?;
        }
        let path = match project_id {
            Some(p) => format!("/api/v1/tasks?projectId={}", enc(p)),
            None => "/api/v1/tasks".to_owned(),
        };
        self.call(Verb::Post, &path, Body::Form(&form)).await
    }

    pub async fn follow_up(
        &self,
        task_id: &str,
        message: &str,
        files: &[web_sys::File],
    ) -> Result<FollowUpAccepted, ApiError> {
        let path = format!("/api/v1/tasks/{}/messages", enc(task_id));
        let form = form(message, files)?;
        self.call(Verb::Post, &path, Body::Form(&form)).await
    }

    pub async fn upload_skill(
        &self,
        project_id: &str,
        replace: Option<&str>,
        file: &web_sys::File,
    ) -> Result<Skill, ApiError> {
        let form = FormData::new().map_err(|_| ApiError::internal())?;
        form.append_with_blob_and_filename("file", file, &file.name())
            .map_err(|_| ApiError::internal())?;
        let base = format!("/api/v1/projects/{}/skills", enc(project_id));
        match replace {
            Some(name) => {
                let path = format!("{base}/{}", enc(name));
                self.call(Verb::Put, &path, Body::Form(&form)).await
            }
            None => self.call(Verb::Post, &base, Body::Form(&form)).await,
        }
    }

    /// Files every run of a schedule gets in `uploads/` (one of the same name is replaced).
    pub async fn upload_schedule_files(
        &self,
        project_id: &str,
        schedule_id: &str,
        files: &[web_sys::File],
    ) -> Result<Vec<ScheduleFile>, ApiError> {
        let form = FormData::new().map_err(|_| ApiError::internal())?;
        for file in files {
            form.append_with_blob_and_filename("files", file, &file.name())
                .map_err(|_| ApiError::internal())?;
        }
        let path = format!(
            "/api/v1/projects/{}/schedules/{}/files",
            enc(project_id),
            enc(schedule_id)
        );
        self.call(Verb::Post, &path, Body::Form(&form)).await
    }

    pub async fn approve(
        &self,
        task_id: &str,
        call_id: &str,
        outcome: &str,
    ) -> Result<Approved, ApiError> {
        let path = format!(
            "/api/v1/tasks/{}/tools/{}/approve",
            enc(task_id),
            enc(call_id)
        );
        let body = Body::Json(serde_json::json!({ "outcome": outcome }));
        self.call(Verb::Post, &path, body).await
    }

    pub async fn cancel(&self, task_id: &str) -> Result<Cancelled, ApiError> {
        let path = format!("/api/v1/tasks/{}", enc(task_id));
        self.call(Verb::Delete, &path, Body::Empty).await
    }

    pub async fn task(&self, task_id: &str) -> Result<Task, ApiError> {
        let path = format!("/api/v1/tasks/{}", enc(task_id));
        self.call(Verb::Get, &path, Body::Empty).await
    }

    pub async fn artifacts(&self, task_id: &str) -> Result<Vec<Artifact>, ApiError> {
        let path = format!("/api/v1/tasks/{}/artifacts", enc(task_id));
        self.call(Verb::Get, &path, Body::Empty).await
    }

    fn download_path(task_id: &str, path: &str) -> String {
        format!(
            "/api/v1/tasks/{}/artifacts/download?path={}",
            enc(task_id),
            enc(path)
        )
    }

    /// A link that downloads the file. It works only where the browser itself is the
    /// credential (the session cookie); with a token, use [`Client::download`].
    pub fn download_url(&self, task_id: &str, path: &str) -> String {
        self.url(&Self::download_path(task_id, path))
    }

    /// A file's bytes, for the page to hand to the visitor (an object URL).
    pub async fn download(&self, task_id: &str, path: &str) -> Result<web_sys::Blob, ApiError> {
        let path = Self::download_path(task_id, path);
        let resp = self.respond(Verb::Get, &path, Body::Empty, None).await?;
        if !resp.ok() {
            return Err(read_error(resp).await);
        }
        let raw = web_sys::Response::from(resp);
        let promise = raw.blob().map_err(|_| ApiError::internal())?;
        let blob = JsFuture::from(promise)
            .await
            .map_err(|e| network(e.as_string().unwrap_or_else(|| "download failed".into())))?;
        blob.dyn_into::<web_sys::Blob>()
            .map_err(|_| ApiError::internal())
    }

    /// A file's text, for a preview. Larger files are refused before they are read whole.
    pub async fn artifact_text(
        &self,
        task_id: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<String, ApiError> {
        let path = Self::download_path(task_id, path);
        let resp = self.respond(Verb::Get, &path, Body::Empty, None).await?;
        if !resp.ok() {
            return Err(read_error(resp).await);
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

    /// Opens the task's event stream, after sequence number `after` when given. `on_frame`
    /// gets each event; `on_lost` is called once when the stream ends or fails (with the
    /// server's error when it refused it), and not when the stream is dropped. The page's own
    /// server is read with `EventSource`; a server reached with a token, with `fetch`.
    pub fn stream(
        &self,
        task_id: &str,
        after: Option<i64>,
        on_frame: impl Fn(Frame) + 'static,
        on_lost: impl Fn(Option<ApiError>) + 'static,
    ) -> Result<LiveStream, ApiError> {
        let mut path = format!("/api/v1/tasks/{}/stream", enc(task_id));
        if let Some(after) = after {
            path.push_str(&format!("?after={after}"));
        }
        if self.bearer.is_some() {
            Ok(stream::open_fetch(self.clone(), path, on_frame, on_lost))
        } else {
            stream::open_source(&self.url(&path), on_frame, move || on_lost(None))
        }
    }
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

// The Chat UI's and Console's calls: the page's own server, with the session cookie.

pub async fn conversations(
    project_id: &str,
    query: &str,
    offset: usize,
) -> Result<Conversations, ApiError> {
    Client::same_origin()
        .conversations(project_id, query, offset)
        .await
}

pub async fn rename_conversation(task_id: &str, title: &str) -> Result<Task, ApiError> {
    Client::same_origin()
        .rename_conversation(task_id, title)
        .await
}

pub async fn delete_conversation(task_id: &str) -> Result<(), ApiError> {
    Client::same_origin().delete_conversation(task_id).await
}

/// Starts a conversation: a task in the project, with its files, on `model` when the
/// person picked one.
pub async fn create_task(
    project_id: &str,
    message: &str,
    files: &[web_sys::File],
    auto_execute: bool,
    model: Option<&str>,
) -> Result<CreatedTask, ApiError> {
    Client::same_origin()
        .start_task(Some(project_id), message, files, auto_execute, model)
        .await
}

pub async fn follow_up(
    task_id: &str,
    message: &str,
    files: &[web_sys::File],
) -> Result<FollowUpAccepted, ApiError> {
    Client::same_origin()
        .follow_up(task_id, message, files)
        .await
}

/// The Console's skill upload: a ZIP of the skill's folder, as a new skill of the project or,
/// with `replace`, as the next version of the skill of that name. Errors name the form's
/// field (`file` for the archive).
pub async fn upload_skill(
    project_id: &str,
    replace: Option<&str>,
    file: &web_sys::File,
) -> Result<Skill, ApiError> {
    Client::same_origin()
        .upload_skill(project_id, replace, file)
        .await
}

/// The Console's files for a schedule's runs.
pub async fn upload_schedule_files(
    project_id: &str,
    schedule_id: &str,
    files: &[web_sys::File],
) -> Result<Vec<ScheduleFile>, ApiError> {
    Client::same_origin()
        .upload_schedule_files(project_id, schedule_id, files)
        .await
}

pub async fn approve(task_id: &str, call_id: &str, outcome: &str) -> Result<Approved, ApiError> {
    Client::same_origin()
        .approve(task_id, call_id, outcome)
        .await
}

pub async fn cancel(task_id: &str) -> Result<Cancelled, ApiError> {
    Client::same_origin().cancel(task_id).await
}

pub async fn task(task_id: &str) -> Result<Task, ApiError> {
    Client::same_origin().task(task_id).await
}

pub async fn artifacts(task_id: &str) -> Result<Vec<Artifact>, ApiError> {
    Client::same_origin().artifacts(task_id).await
}

pub fn download_url(task_id: &str, path: &str) -> String {
    Client::same_origin().download_url(task_id, path)
}

/// A file's text, for a preview. Larger files are refused before they are read whole.
pub async fn artifact_text(task_id: &str, path: &str, max_bytes: u64) -> Result<String, ApiError> {
    Client::same_origin()
        .artifact_text(task_id, path, max_bytes)
        .await
}
