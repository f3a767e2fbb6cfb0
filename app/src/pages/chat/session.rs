//! One open conversation in the page: the transcript, the stream that feeds it, and the
//! actions a person takes on it. The transcript is plain data; each entry is mirrored into
//! its own signal so that an event re-renders only the entry it touched.

use std::time::Duration;

use chat::client::{self, Frame, LiveStream};
use chat::local::{self, Registry};
use chat::transcript::{Entry, RunState, Touched, Transcript};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::stream::{RunStatus, StreamEvent};

use crate::error::{ApiError, ErrorCode};

thread_local! {
    /// The open streams, by session (see `chat::local`).
    static STREAMS: Registry<LiveStream> = Registry::default();
}

/// An entry of the list and the signal its view reads.
#[derive(Clone, Copy)]
pub struct Handle {
    pub key: u64,
    pub entry: RwSignal<Entry>,
}

#[derive(Clone, Copy)]
pub struct Session {
    pub task_id: StoredValue<String>,
    transcript: StoredValue<Transcript>,
    pub handles: RwSignal<Vec<Handle>>,
    pub run: RwSignal<RunState>,
    /// Calls waiting for this person's decision.
    pub awaiting: RwSignal<usize>,
    /// Bumped after every change shown, to keep the view scrolled to the newest.
    pub updated: RwSignal<u64>,
    /// A message for the person about an action that failed (send, approve, stop).
    pub notice: RwSignal<Option<String>>,
    /// Bumped when the workspace may have changed (a call finished, a run ended).
    pub files_changed: RwSignal<u32>,
    /// Bumped when the conversation list may be stale (title, last activity).
    pub list_changed: RwSignal<u32>,
    /// The key of this conversation's open stream in `STREAMS`.
    stream: u64,
    /// Failed connection attempts in a row, for the reconnect delay.
    failures: StoredValue<u32>,
    /// A follow-up was accepted and its run has not announced itself on the stream yet.
    expecting_run: StoredValue<bool>,
    owner: StoredValue<Owner>,
}

impl Session {
    pub fn new(task_id: String, list_changed: RwSignal<u32>) -> Self {
        Self {
            task_id: StoredValue::new(task_id),
            transcript: StoredValue::new(Transcript::new()),
            handles: RwSignal::new(Vec::new()),
            run: RwSignal::new(RunState::default()),
            awaiting: RwSignal::new(0),
            updated: RwSignal::new(0),
            notice: RwSignal::new(None),
            files_changed: RwSignal::new(0),
            list_changed,
            stream: local::next_key(),
            failures: StoredValue::new(0),
            expecting_run: StoredValue::new(false),
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
        }
    }

    fn id(&self) -> Option<String> {
        self.task_id.try_get_value()
    }

    /// Opens the stream: after the last event applied, or from the stored conversation.
    pub fn connect(self) {
        let Some(id) = self.id() else { return };
        let after = self.transcript.try_with_value(|t| t.last_seq).flatten();
        let opened = LiveStream::open(
            &id,
            after,
            move |frame| self.on_frame(frame),
            move || self.on_lost(),
        );
        match opened {
            Ok(s) => STREAMS.with(|r| r.insert(self.stream, s)),
            Err(e) => self.notice.set(Some(e.message)),
        }
    }

    pub fn close(self) {
        // Taken out first: closing it must not happen while the registry is borrowed.
        let open = STREAMS.with(|r| r.remove(self.stream));
        drop(open);
    }

    fn on_frame(self, frame: Frame) {
        let _ = self.failures.try_set_value(0);
        let event_ends_run = frame.event.is_terminal();
        let history_closes = matches!(
            &frame.event,
            StreamEvent::HistoryDone(d) if !d.is_streaming
        );
        let is_history = matches!(frame.event, StreamEvent::HistoryMessage(_));
        let starts_run = matches!(
            &frame.event,
            StreamEvent::Status(s) if s.status == RunStatus::Connecting || (s.status == RunStatus::Processing && s.attempt.is_none())
        );
        let finished_call = matches!(frame.event, StreamEvent::ToolResult(_));
        let Some(touched) = self
            .transcript
            .try_update_value(|t| t.apply(frame.seq, frame.event))
        else {
            return;
        };
        if starts_run {
            let _ = self.expecting_run.try_set_value(false);
        }
        let loaded = self.run.try_with_untracked(|r| r.loaded).unwrap_or(false);
        if touched.entries.is_empty() && !touched.run {
            // Already shown (a message of a history sent again): nothing to redraw.
        } else if is_history && !loaded {
            // The stored conversation arrives in one burst: shown at once at its end.
        } else if matches!(touched, Touched { run: true, .. }) && !loaded {
            self.sync_all();
        } else {
            self.sync(touched);
        }
        if finished_call {
            self.files_changed.try_update(|n| *n += 1);
        }
        if event_ends_run || history_closes {
            self.files_changed.try_update(|n| *n += 1);
            self.list_changed.try_update(|n| *n += 1);
            // Closing from inside the stream's own callback would free it while it runs.
            set_timeout(
                move || {
                    self.close();
                    if self.expecting_run.try_get_value().unwrap_or(false) {
                        self.connect();
                    }
                },
                Duration::ZERO,
            );
        }
    }

    fn on_lost(self) {
        let run = self.run.try_get_untracked().unwrap_or_default();
        let expecting = self.expecting_run.try_get_value().unwrap_or(false);
        if run.loaded && !run.active && !expecting {
            return;
        }
        let failures = self
            .failures
            .try_update_value(|n| {
                *n += 1;
                *n
            })
            .unwrap_or(1);
        let delay = Duration::from_millis((500 * 2u64.pow(failures.min(4))).min(8_000));
        set_timeout(
            move || {
                let Some(id) = self.task_id.try_get_value() else {
                    return;
                };
                spawn_local(async move {
                    // Deleted meanwhile (in another tab): say so instead of retrying forever.
                    if let Err(e) = client::task(&id).await
                        && e.code == ErrorCode::NotFound
                    {
                        self.close();
                        let _ = self.run.try_update(|r| r.active = false);
                        self.notice
                            .try_set(Some("This conversation was deleted.".to_owned()));
                        return;
                    }
                    self.close();
                    self.connect();
                });
            },
            delay,
        );
    }

    /// Mirrors the touched entries into their signals (new ones get a signal of their own).
    fn sync(self, touched: Touched) {
        let owner = self.owner.try_get_value().unwrap_or_default();
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
        let owner = self.owner.try_get_value().unwrap_or_default();
        self.transcript.with_value(|t| {
            let existing = self.handles.get_untracked();
            let handles: Vec<Handle> = owner.with(|| {
                t.entries
                    .iter()
                    .map(|e| match existing.iter().find(|h| h.key == e.key) {
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

    /// Sends a follow-up (or the next message of a finished conversation, which runs it again).
    pub async fn send(self, text: String, files: Vec<web_sys::File>) -> Result<(), ApiError> {
        let Some(id) = self.id() else {
            return Err(ApiError::internal());
        };
        let names = files.iter().map(web_sys::File::name).collect();
        client::follow_up(&id, &text, &files).await?;
        self.notice.set(None);
        let _ = self.expecting_run.try_set_value(true);
        let mut touched = self
            .transcript
            .try_update_value(|t| {
                let mut a = t.add_local_user(&text, names);
                a.run |= t.expect_run().run;
                a
            })
            .unwrap_or_default();
        touched.run = true;
        self.sync(touched);
        self.list_changed.update(|n| *n += 1);
        if !STREAMS.with(|r| r.contains(self.stream)) {
            self.connect();
        }
        Ok(())
    }

    /// Approve once, always allow, or deny a waiting call.
    pub fn decide(self, call_id: String, outcome: &'static str) {
        let Some(id) = self.id() else { return };
        spawn_local(async move {
            match client::approve(&id, &call_id, outcome).await {
                Ok(_) => {
                    let touched = self
                        .transcript
                        .try_update_value(|t| t.mark_decided(&call_id, outcome != "cancel"))
                        .unwrap_or_default();
                    self.sync(touched);
                }
                // Decided elsewhere already (another tab): the stream tells how.
                Err(e) if e.code == ErrorCode::Conflict => {}
                Err(e) => self.notice.set(Some(e.message)),
            }
        });
    }

    /// Stops the run: its processes are killed and the stream ends with TASK_CANCELLED.
    pub fn stop(self) {
        let Some(id) = self.id() else { return };
        if !self.run.get_untracked().active {
            return;
        }
        spawn_local(async move {
            match client::cancel(&id).await {
                Ok(_) => {}
                Err(e) if e.code == ErrorCode::Conflict => {}
                Err(e) => self.notice.set(Some(e.message)),
            }
        });
    }
}
