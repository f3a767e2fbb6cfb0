//! A task's event stream for one client: the stored conversation (`history_message` …,
//! `history_done`) or, resuming after a sequence number, only the events after it; then live
//! events until the run ends. Subscribed to the hub before the store is read, and every event
//! is compared with the last sequence number sent, so nothing is missed or sent twice; a gap
//! in the live feed (a slow client, another node's events) is filled from the store.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::Stream;
use protocol::stream::{ErrorEvent, HistoryDone, RunErrorCode, StreamEvent};
use protocol::task::{TaskStatus as DtoStatus, TaskUsage};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::Runtime;
use super::conversation::{Conversation, history_message};
use crate::ledger::{Logged, read_after};
use crate::store::entities::{TaskStatus, task, task_event};

/// One frame of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The sequence number (`id:`), for logged events.
    pub id: Option<i64>,
    pub event: String,
    pub data: Arc<str>,
}

impl Frame {
    fn logged(l: &Logged) -> Self {
        Self {
            id: Some(l.seq),
            event: l.name.clone(),
            data: Arc::clone(&l.data),
        }
    }

    fn unlogged(ev: &StreamEvent) -> Self {
        Self {
            id: None,
            event: ev.name().to_owned(),
            data: Arc::from(ev.data_json()),
        }
    }
}

const PAGE: u64 = 500;

struct State {
    rt: Arc<Runtime>,
    task_id: String,
    rx: broadcast::Receiver<Arc<Logged>>,
    after: Option<i64>,
    started: bool,
    last: i64,
    queue: VecDeque<Frame>,
    /// The store may hold more after `last` than the queue has.
    more: bool,
    /// The task had ended when the store was last read: close once that is all sent.
    ended: bool,
    /// A live event that arrived after a gap, while the store is read for the gap.
    held: Option<Arc<Logged>>,
    closed: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the task is gone")]
pub struct Gone;

/// The frames of one client's stream. Ends when the run ends, when the task was already
/// finished, or when the server shuts down.
pub fn frames(
    rt: Arc<Runtime>,
    task_id: String,
    after: Option<i64>,
) -> impl Stream<Item = Frame> + Send + 'static {
    let rx = rt.ledger().hub().subscribe(&task_id);
    let state = State {
        rt,
        task_id,
        rx,
        after,
        started: false,
        last: 0,
        queue: VecDeque::new(),
        more: false,
        ended: false,
        held: None,
        closed: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        let frame = s.next().await?;
        Some((frame, s))
    })
}

impl State {
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.queue.pop_front() {
                return Some(f);
            }
            if self.closed {
                return None;
            }
            // The store's reads are boxed: a stream spends its life waiting for the next
            // event, and that wait should not carry the space of a query in progress.
            let step = if !self.started {
                self.started = true;
                Box::pin(self.begin()).await
            } else if self.more {
                Box::pin(self.read_store()).await
            } else if self.ended {
                self.closed = true;
                Ok(())
            } else {
                // A replayed history leaves a large queue behind; an idle stream keeps none.
                if self.queue.capacity() > 64 {
                    self.queue = VecDeque::new();
                }
                let stop = self.rt.shutting_down();
                tokio::select! {
                    r = self.rx.recv() => Box::pin(self.on_live(r)).await,
                    () = stop.cancelled() => { self.closed = true; Ok(()) }
                }
            };
            if let Err(e) = step {
                tracing::warn!(task = %self.task_id, error = %e, "stream: cannot read the store");
                self.closed = true;
            }
        }
    }

    async fn begin(&mut self) -> Result<(), sea_orm::DbErr> {
        if let Some(after) = self.after {
            self.last = after;
            return self.read_store().await;
        }
        let Some(row) = task::Entity::find_by_id(self.task_id.clone())
            .one(self.rt.db())
            .await?
        else {
            self.gone(None);
            return Ok(());
        };
        let conv = Conversation::load(self.rt.db(), &self.task_id).await?;
        for m in &conv.messages {
            self.queue
                .push_back(Frame::unlogged(&StreamEvent::HistoryMessage(
                    history_message(m),
                )));
        }
        let active = row.status.is_active();
        // `history_done` carries the sequence number the history stands for, so a client that
        // loses the stream right after it (and a browser's EventSource, which sends the last
        // `id:` it saw) resumes with the events after it instead of the whole history again:
        // for a running task, the last stored message (what follows is sent next); for a
        // finished one, its last event.
        let stands_for = if active {
            conv.boundary()
        } else {
            row.last_seq
        };
        // A finished task's stream closes after this frame: it says how the task ended, so a
        // client that opens it late (a reload, the list) shows that without another request.
        let (status, error, usage) = if active {
            (None, None, None)
        } else {
            let error = self.last_error(&row, conv.boundary()).await?;
            (Some(status_dto(row.status)), error, Some(usage_of(&row)))
        };
        let mut done = Frame::unlogged(&StreamEvent::HistoryDone(HistoryDone {
            message_count: u64::try_from(conv.messages.len()).unwrap_or(0),
            is_streaming: active,
            status,
            error,
            usage,
        }));
        done.id = Some(stands_for);
        self.queue.push_back(done);
        if !active {
            self.closed = true;
            return Ok(());
        }
        // What happened after the last stored message (the answer streaming now).
        self.last = stands_for;
        self.read_store().await
    }

    /// How a failed or cancelled task's last run ended: its last `error` event, which has
    /// the code the row's `error` text lacks. Read newest first along the key `(task_id, seq)`,
    /// where it is usually the very last event, so no column had to be added for it. Only an
    /// event after the conversation's last message (`after`) is the last run's: an earlier one
    /// ended an earlier run.
    async fn last_error(
        &self,
        row: &task::Model,
        after: i64,
    ) -> Result<Option<ErrorEvent>, sea_orm::DbErr> {
        if !matches!(row.status, TaskStatus::Failed | TaskStatus::Cancelled) {
            return Ok(None);
        }
        let logged = task_event::Entity::find()
            .filter(task_event::Column::TaskId.eq(&self.task_id))
            .filter(task_event::Column::Kind.eq("error"))
            .filter(task_event::Column::Seq.gt(after))
            .order_by_desc(task_event::Column::Seq)
            .one(self.rt.db())
            .await?
            .map(Logged::from);
        if let Some(StreamEvent::Error(e)) = logged.as_ref().and_then(Logged::event) {
            return Ok(Some(e));
        }
        // Failed without an event yet (an internal failure writes its event just after).
        Ok(Some(match row.status {
            TaskStatus::Cancelled => ErrorEvent {
                code: RunErrorCode::TaskCancelled,
                message: "The task was cancelled.".to_owned(),
            },
            _ => ErrorEvent {
                code: RunErrorCode::InternalError,
                message: row
                    .error
                    .clone()
                    .unwrap_or_else(|| "The task failed.".to_owned()),
            },
        }))
    }

    /// Reads the next page after `last`. The task's status is read first: if it had ended
    /// then, every event it will ever have is already in the store.
    async fn read_store(&mut self) -> Result<(), sea_orm::DbErr> {
        let row = task::Entity::find_by_id(self.task_id.clone())
            .one(self.rt.db())
            .await?;
        let held = self.held.take();
        let Some(row) = row else {
            self.gone(held);
            return Ok(());
        };
        let active = row.status.is_active();
        let page = read_after(self.rt.db(), &self.task_id, self.last, PAGE).await?;
        self.more = page.len() as u64 == PAGE;
        for l in &page {
            self.push(l);
        }
        if !self.more && !active {
            self.ended = true;
        }
        Ok(())
    }

    /// The task was deleted while streaming (a conversation deleted as it ran): what was
    /// already published to this stream, its cancel's events, is the last of it.
    fn gone(&mut self, held: Option<Arc<Logged>>) {
        self.more = false;
        self.ended = true;
        let mut next = held;
        while let Some(l) = next.take().or_else(|| self.rx.try_recv().ok()) {
            self.push(&l);
        }
    }

    fn push(&mut self, l: &Logged) {
        if l.seq <= self.last {
            return;
        }
        self.last = l.seq;
        self.queue.push_back(Frame::logged(l));
        if l.is_terminal() {
            // The run ended; a follow-up starts a new one, which a client streams anew.
            self.more = false;
            self.ended = true;
        }
    }

    async fn on_live(&mut self, r: Result<Arc<Logged>, RecvError>) -> Result<(), sea_orm::DbErr> {
        match r {
            Ok(l) if l.seq <= self.last => Ok(()),
            Ok(l) if l.seq == self.last + 1 => {
                self.push(&l);
                Ok(())
            }
            // A gap (events this process did not publish, or it fell behind): the store has them.
            Ok(l) => {
                self.held = Some(l);
                self.read_store().await
            }
            Err(RecvError::Lagged(_)) => self.read_store().await,
            Err(RecvError::Closed) => {
                self.rx = self.rt.ledger().hub().subscribe(&self.task_id);
                self.read_store().await
            }
        }
    }
}

fn status_dto(s: TaskStatus) -> DtoStatus {
    match s {
        TaskStatus::Pending => DtoStatus::Pending,
        TaskStatus::Running => DtoStatus::Running,
        TaskStatus::AwaitingApproval => DtoStatus::AwaitingApproval,
        TaskStatus::Completed => DtoStatus::Completed,
        TaskStatus::Failed => DtoStatus::Failed,
        TaskStatus::Cancelled => DtoStatus::Cancelled,
    }
}

fn usage_of(row: &task::Model) -> TaskUsage {
    TaskUsage {
        input_tokens: u64::try_from(row.input_tokens).unwrap_or(0),
        output_tokens: u64::try_from(row.output_tokens).unwrap_or(0),
        cost_usd: row.cost_usd,
    }
}
