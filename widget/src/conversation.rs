//! One conversation in the widget: its transcript (the Chat UI's, from `chat`), the stream
//! that feeds it, and what the visitor does to it. Each entry is mirrored into a signal of its
//! own, so an event redraws only the entry it touched.

use std::time::Duration;

use chat::client::{Frame, LiveStream};
use chat::local::{self, Registry};
use chat::transcript::{Entry, RunErrorCode, RunState, Touched, Transcript};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::error::{ApiError, ErrorCode};
use protocol::stream::{RunStatus, StreamEvent};
use protocol::task::TaskStatus;
use wasm_bindgen::JsValue;

use crate::state::{Blocked, Widget};

thread_local! {
    /// The open streams, by conversation (see `chat::local`).
    static STREAMS: Registry<LiveStream> = Registry::default();
}

/// An entry of the transcript and the signal its view reads.
#[derive(Clone, Copy)]
pub struct Handle {
    pub key: u64,
    pub entry: RwSignal<Entry>,
}

#[derive(Clone, Copy)]
pub struct Conversation {
    /// This conversation's stream in `STREAMS`, and its identity.
    key: u64,
    widget: Widget,
    task_id: StoredValue<String>,
    transcript: StoredValue<Transcript>,
    pub handles: RwSignal<Vec<Handle>>,
    pub run: RwSignal<RunState>,
    /// Calls waiting for the visitor's decision.
    pub awaiting: RwSignal<usize>,
    /// Bumped after every change shown, to keep the newest in view.
    pub updated: RwSignal<u64>,
    /// An action that failed (send, approve, stop), said in the panel.
    pub notice: RwSignal<Option<String>>,
    /// The connection was lost while the run went on; a new one is being made.
    pub reconnecting: RwSignal<bool>,
    /// Bumped when the task's files may have changed.
    pub files_changed: RwSignal<u32>,
    failures: StoredValue<u32>,
    /// A message was accepted and its run has not announced itself on the stream yet.
    expecting_run: StoredValue<bool>,
}

impl PartialEq for Conversation {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Conversation {
    pub fn new(widget: Widget, task_id: String) -> Self {
        // Owned by the widget, not by whatever view or task happens to create it: it outlives
        // the views that show it.
        widget.owner().with(|| Self {
            key: local::next_key(),
            widget,
            task_id: StoredValue::new(task_id),
            transcript: StoredValue::new(Transcript::new()),
            handles: RwSignal::new(Vec::new()),
            run: RwSignal::new(RunState::default()),
            awaiting: RwSignal::new(0),
            updated: RwSignal::new(0),
            notice: RwSignal::new(None),
            reconnecting: RwSignal::new(false),
            files_changed: RwSignal::new(0),
            failures: StoredValue::new(0),
            expecting_run: StoredValue::new(false),
        })
    }

    pub fn task_id(&self) -> String {
        self.task_id.try_get_value().unwrap_or_default()
    }

    pub fn connected(&self) -> bool {
        STREAMS.with(|r| r.contains(self.key))
    }

    /// Opens the stream: after the last event applied, or from the stored conversation.
    pub fn connect(self) {
        if self.connected() || self.widget.blocked.get_untracked().is_some() {
            return;
        }
        let after = self.transcript.try_with_value(|t| t.last_seq).flatten();
        let opened = self.widget.client().stream(
            &self.task_id(),
            after,
            move |frame| self.on_frame(frame),
            move |refused| self.on_lost(refused),
        );
        match opened {
            Ok(s) => STREAMS.with(|r| r.insert(self.key, s)),
            Err(e) => {
                self.notice.try_set(Some(e.message));
            }
        }
    }

    pub fn close(self) {
        // Taken out first: closing it must not happen while the registry is borrowed.
        let open = STREAMS.with(|r| r.remove(self.key));
        drop(open);
    }

    fn on_frame(self, frame: Frame) {
        let _ = self.failures.try_set_value(0);
        if self.reconnecting.get_untracked() {
            self.reconnecting.set(false);
        }
        let ev = &frame.event;
        let ends_run = ev.is_terminal();
        let history_closes = matches!(ev, StreamEvent::HistoryDone(d) if !d.is_streaming);
        let is_history = matches!(ev, StreamEvent::HistoryMessage(_));
        let starts_run = matches!(
            ev,
            StreamEvent::Status(s) if s.status == RunStatus::Connecting
                || (s.status == RunStatus::Processing && s.attempt.is_none())
        );
        let finished_call = matches!(ev, StreamEvent::ToolResult(_));
        // What the page hears of, once the stored conversation is behind: only live events.
        let news = match ev {
            StreamEvent::Content(c) if !c.is_partial => Some(News::Answer(c.text.clone())),
            StreamEvent::Done(d) => Some(News::Done(d.final_response.clone())),
            StreamEvent::Error(e) if e.code != RunErrorCode::TaskCancelled => {
                Some(News::Failed(e.code.as_str(), e.message.clone()))
            }
            _ => None,
        };
        let loaded = self.run.try_with_untracked(|r| r.loaded).unwrap_or(false);
        let Some(touched) = self
            .transcript
            .try_update_value(|t| t.apply(frame.seq, frame.event))
        else {
            return;
        };
        if touched.entries.is_empty() && !touched.run {
            // Already shown (a stored message sent again, an event before the resume point).
            return;
        }
        if starts_run {
            let _ = self.expecting_run.try_set_value(false);
        }
        if is_history && !loaded {
            // The stored conversation arrives in one burst, shown at once at its end.
        } else if touched.run && !loaded {
            self.sync_all();
        } else {
            self.sync(touched);
        }
        if finished_call {
            self.files_changed.update(|n| *n += 1);
        }
        if loaded && let Some(news) = news {
            self.tell(news);
        }
        if ends_run || history_closes {
            self.files_changed.update(|n| *n += 1);
            self.widget.list_changed.update(|n| *n += 1);
            // Closed from outside the stream's own callback.
            set_timeout(
                move || {
                    self.close();
                    if history_closes {
                        self.settle();
                    } else if self.expecting_run.try_get_value().unwrap_or(false) {
                        self.connect();
                    }
                },
                Duration::ZERO,
            );
        }
    }

    /// The stored conversation came without a run going on. The task says why: a run about
    /// to start (followed again), or one that already ended, perhaps before the stream was
    /// opened, whose failure the history does not carry.
    fn settle(self) {
        spawn_local(async move {
            let Ok(task) = self.widget.client().task(&self.task_id()).await else {
                return;
            };
            if task.status.is_active() {
                // Not started on the stream yet: looked at again shortly.
                self.follow_later(false);
                return;
            }
            // The run this widget started ended before its stream was opened: the page
            // still hears how it ended.
            let sent_here = self.expecting_run.try_get_value().unwrap_or(false);
            let _ = self.expecting_run.try_set_value(false);
            self.reconnecting.try_set(false);
            // The history's `history_done` named the code, where the server sends it.
            let known = self
                .transcript
                .try_with_value(|t| t.run.error.clone())
                .flatten();
            if sent_here {
                match task.status {
                    TaskStatus::Completed => self.tell(News::Done(
                        task.output
                            .as_ref()
                            .map(|o| o.content.clone())
                            .unwrap_or_default(),
                    )),
                    TaskStatus::Failed => self.tell(match &known {
                        Some((code, message)) => News::Failed(code.as_str(), message.clone()),
                        None => News::Failed(
                            RunErrorCode::Other.as_str(),
                            task.error.clone().unwrap_or_default(),
                        ),
                    }),
                    _ => {}
                }
            }
            let ended = match task.status {
                TaskStatus::Failed => Some((
                    RunErrorCode::Other,
                    task.error.unwrap_or_else(|| "The task failed.".to_owned()),
                )),
                TaskStatus::Cancelled => Some((RunErrorCode::TaskCancelled, String::new())),
                _ => None,
            };
            let _ = self.transcript.try_update_value(|t| {
                t.run.active = false;
                t.run.thinking = false;
                if t.run.error.is_none() {
                    t.run.error = ended;
                }
            });
            self.sync(Touched {
                entries: Vec::new(),
                run: true,
            });
        });
    }

    fn tell(self, news: News) {
        let task = JsValue::from_str(&self.task_id());
        match news {
            News::Answer(text) => self.widget.emit(
                "message",
                &[("taskId", task), ("text", JsValue::from_str(&text))],
            ),
            News::Done(text) => self.widget.emit(
                "done",
                &[
                    ("taskId", task),
                    ("finalResponse", JsValue::from_str(&text)),
                ],
            ),
            News::Failed(code, message) => self.widget.emit(
                "error",
                &[
                    ("taskId", task),
                    ("code", JsValue::from_str(code)),
                    ("message", JsValue::from_str(&message)),
                ],
            ),
        }
    }

    /// The stream ended or failed. A run still going (or a history not yet read) is followed
    /// again, after the last event applied, with a growing pause while the network is down.
    fn on_lost(self, refused: Option<ApiError>) {
        self.close();
        if let Some(e) = refused {
            match e.code {
                // Deleted, or not this end user's: the remembered conversation is gone.
                ErrorCode::NotFound => self.widget.forget(self),
                _ if Blocked::of(&e).is_some() => self.widget.fail(&e),
                ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::InternalError => {
                    self.follow_later(true);
                }
                _ => {
                    self.notice.try_set(Some(e.message));
                }
            }
            return;
        }
        let run = self.run.try_get_untracked().unwrap_or_default();
        let expecting = self.expecting_run.try_get_value().unwrap_or(false);
        if run.loaded && !run.active && !expecting {
            self.reconnecting.try_set(false);
            return;
        }
        self.follow_later(true);
    }

    /// Opens the stream again after a pause that grows with each failure; `lost` says so in
    /// the panel.
    fn follow_later(self, lost: bool) {
        if lost {
            self.reconnecting.try_set(true);
        }
        let failures = self
            .failures
            .try_update_value(|n| {
                *n += 1;
                *n
            })
            .unwrap_or(1);
        let delay = Duration::from_millis((250 * 2u64.pow(failures.min(5))).min(5_000));
        set_timeout(
            move || {
                // Replaced meanwhile (another conversation opened): nothing to follow.
                if self.widget.current.get_untracked() == Some(self) {
                    self.connect();
                }
            },
            delay,
        );
    }

    /// Mirrors the touched entries into their signals (new ones get a signal of their own).
    fn sync(self, touched: Touched) {
        let owner = self.widget.owner();
        self.transcript.with_value(|t| {
            let known = self.handles.with_untracked(Vec::len);
            for &i in &touched.entries {
                if let Some(h) = self.handles.with_untracked(|h| h.get(i).copied())
                    && let Some(e) = t.entries.get(i)
                {
                    h.entry.set(e.clone());
                }
            }
            if t.entries.len() > known {
                let new: Vec<Handle> = owner.with(|| {
                    t.entries[known..]
                        .iter()
                        .map(|e| Handle {
                            key: e.key,
                            entry: RwSignal::new(e.clone()),
                        })
                        .collect()
                });
                self.handles.update(|h| h.extend(new));
            }
            if touched.run {
                self.run.set(t.run.clone());
            }
            self.awaiting.set(t.awaiting());
            self.updated.update(|n| *n += 1);
        });
    }

    /// Mirrors the whole transcript: after the stored conversation arrived.
    fn sync_all(self) {
        let owner = self.widget.owner();
        self.transcript.with_value(|t| {
            let old = self.handles.get_untracked();
            let handles: Vec<Handle> = owner.with(|| {
                t.entries
                    .iter()
                    .map(|e| match old.iter().find(|h| h.key == e.key) {
                        Some(h) => {
                            h.entry.set(e.clone());
                            *h
                        }
                        None => Handle {
                            key: e.key,
                            entry: RwSignal::new(e.clone()),
                        },
                    })
                    .collect()
            });
            self.handles.set(handles);
            self.run.set(t.run.clone());
            self.awaiting.set(t.awaiting());
            self.updated.update(|n| *n += 1);
        });
    }

    /// Shows a message the visitor just sent, before the stream brings it back.
    pub fn sent(self, text: &str, files: Vec<String>) {
        let _ = self.expecting_run.try_set_value(true);
        let mut touched = self
            .transcript
            .try_update_value(|t| {
                let mut a = t.add_local_user(text, files);
                a.run |= t.expect_run().run;
                a
            })
            .unwrap_or_default();
        touched.run = true;
        self.sync(touched);
        self.widget.list_changed.update(|n| *n += 1);
    }

    /// The next message of this conversation (a finished one runs again).
    pub async fn send(self, text: String, files: Vec<web_sys::File>) -> Result<(), ApiError> {
        let names = files.iter().map(web_sys::File::name).collect();
        self.widget
            .client()
            .follow_up(&self.task_id(), &text, &files)
            .await?;
        self.notice.set(None);
        self.sent(&text, names);
        if !self.connected() {
            self.connect();
        }
        Ok(())
    }

    /// Approves a waiting call once, or denies it.
    pub fn decide(self, call_id: String, approve: bool) {
        let outcome = if approve { "proceed_once" } else { "cancel" };
        spawn_local(async move {
            match self
                .widget
                .client()
                .approve(&self.task_id(), &call_id, outcome)
                .await
            {
                Ok(_) => {
                    let touched = self
                        .transcript
                        .try_update_value(|t| t.mark_decided(&call_id, approve))
                        .unwrap_or_default();
                    self.sync(touched);
                }
                // Decided already (another tab): the stream tells how.
                Err(e) if e.code == ErrorCode::Conflict => {}
                Err(e) => self.failed(e),
            }
        });
    }

    /// Stops the run; the stream ends it with TASK_CANCELLED.
    pub fn stop(self) {
        if !self.run.get_untracked().active {
            return;
        }
        spawn_local(async move {
            match self.widget.client().cancel(&self.task_id()).await {
                Ok(_) => {}
                Err(e) if e.code == ErrorCode::Conflict => {}
                Err(e) => self.failed(e),
            }
        });
    }

    fn failed(self, e: ApiError) {
        if Blocked::of(&e).is_some() {
            self.widget.fail(&e);
        } else {
            self.notice.try_set(Some(e.message));
        }
    }
}

/// A live event the page's listeners hear of.
enum News {
    Answer(String),
    Done(String),
    Failed(&'static str, String),
}
