//! The event log in the store: every event a task emits is written with the next sequence
//! number of its task. Writing happens only through the ledger (which publishes after the
//! commit); reading is open to the streams and the hub.

use std::sync::Arc;

use chrono::Utc;
use protocol::stream::StreamEvent;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::error::LedgerError;
use crate::store::entities::{task, task_event};

/// An event as it was logged: its sequence number, name and JSON data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub seq: i64,
    pub name: String,
    pub data: Arc<str>,
}

impl Logged {
    /// The last event of a run: after it, a stream closes.
    pub fn is_terminal(&self) -> bool {
        self.name == "done" || self.name == "error"
    }

    /// The event as its type, for deciding on what it says (never by searching its text).
    pub fn event(&self) -> Option<StreamEvent> {
        StreamEvent::parse(&self.name, &self.data)
    }
}

impl From<task_event::Model> for Logged {
    fn from(m: task_event::Model) -> Self {
        Self {
            seq: m.seq,
            name: m.kind,
            data: Arc::from(m.data),
        }
    }
}

/// Who writes: a worker holding the task at a lease epoch (its writes are fenced by it), or
/// the API acting for a person (cancel, approve), which needs no lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Worker { epoch: i64 },
    Api,
}

/// Reserves `n` sequence numbers of a task inside `txn`; answers the first.
async fn reserve_seqs(
    txn: &DatabaseTransaction,
    task_id: &str,
    writer: Writer,
    n: i64,
) -> Result<i64, LedgerError> {
    let mut update = task::Entity::update_many()
        .col_expr(
            task::Column::LastSeq,
            Expr::col(task::Column::LastSeq).add(n),
        )
        .col_expr(task::Column::LastActivityAt, Expr::value(Utc::now()))
        .filter(task::Column::Id.eq(task_id));
    if let Writer::Worker { epoch } = writer {
        update = update.filter(task::Column::LeaseEpoch.eq(epoch));
    }
    let rows = update.exec_with_returning(txn).await?;
    let last = rows
        .first()
        .map(|t| t.last_seq)
        .ok_or(LedgerError::Fenced)?;
    Ok(last - n + 1)
}

/// Writes events inside `txn` (with whatever else the caller writes there); answers them
/// as logged, to publish once the transaction committed.
pub(super) async fn write_events(
    txn: &DatabaseTransaction,
    task_id: &str,
    writer: Writer,
    events: &[StreamEvent],
) -> Result<Vec<Logged>, LedgerError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let first = reserve_seqs(txn, task_id, writer, n).await?;
    let now = Utc::now();
    let mut logged = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let seq = first + i64::try_from(i).unwrap_or(0);
        let data = ev.data_json();
        rows.push(task_event::ActiveModel {
            task_id: Set(task_id.to_owned()),
            seq: Set(seq),
            kind: Set(ev.name().to_owned()),
            data: Set(data.clone()),
            created_at: Set(now),
        });
        logged.push(Logged {
            seq,
            name: ev.name().to_owned(),
            data: Arc::from(data),
        });
    }
    task_event::Entity::insert_many(rows).exec(txn).await?;
    Ok(logged)
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn read_after(
    db: &impl ConnectionTrait,
    task_id: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<Logged>, DbErr> {
    Ok(task_event::Entity::find()
        .filter(task_event::Column::TaskId.eq(task_id))
        .filter(task_event::Column::Seq.gt(after))
        .order_by_asc(task_event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(Logged::from)
        .collect())
}
