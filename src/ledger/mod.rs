//! The task ledger: the one place that changes a task. Every state transition — create, start
//! a run, ask for approval, requeue, complete, fail, cancel, reset for a follow-up, delete — is a
//! named method here, and nothing else writes a task's status, its lease, its conversation rows
//! or its event log. Each transition writes its rows and its events in one transaction, then
//! publishes the events to live subscribers: persist first, publish second, so a subscriber that
//! missed a live event finds it in the store, never the other way round.
//!
//! A worker's writes are fenced by the lease epoch of its claim: one that lost its lease (it
//! stalled, or the task was cancelled) finds them refused with `LedgerError::Fenced` and stops.

mod audit;
mod error;
pub mod hub;
mod lease;
pub mod log;
mod messages;
mod people;
mod subagent;
mod worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use protocol::stream::StreamEvent;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait, UpdateMany,
};
use serde_json::Value;

pub use audit::Decided;
pub use error::LedgerError;
pub use lease::{Claim, Renewal};
pub use log::{Logged, Writer, read_after};
pub use messages::{Answer, TurnUsage};

use crate::store::Db;
use crate::store::entities::{TaskStatus, task};
use hub::Hub;

type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// What an internal failure tells the person; the cause is in the server's log.
const INTERNAL_FAILURE: &str =
    "An internal error stopped this task. It has been logged; send a follow-up to try again.";
/// Why a call that a cancel stopped has no result.
const CANCELLED_CALL: &str = "The task was cancelled before this tool call finished.";
/// What the model is told of a call a person declined.
pub const DECLINED_CALL: &str =
    "The user declined this tool call. Do not retry it; continue without it or ask the user.";

/// A tool call as the ledger announces it.
#[derive(Debug, Clone)]
pub struct CallRef {
    pub call_id: String,
    pub tool_name: String,
    pub args: Value,
}

/// The store and the live fan-out, written together.
pub struct Ledger {
    db: Db,
    hub: Arc<Hub>,
}

/// No worker holds the task any more.
fn without_lease(update: UpdateMany<task::Entity>) -> UpdateMany<task::Entity> {
    update
        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
        .col_expr(
            task::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

fn set_status(status: TaskStatus) -> UpdateMany<task::Entity> {
    task::Entity::update_many().col_expr(task::Column::Status, Expr::value(status))
}

/// Checks inside a transaction that the writer still holds the task.
async fn ensure_held(txn: &DatabaseTransaction, task_id: &str, writer: Writer) -> Result<()> {
    if let Writer::Worker { epoch } = writer {
        let held = task::Entity::find_by_id(task_id.to_owned())
            .filter(task::Column::LeaseEpoch.eq(epoch))
            .one(txn)
            .await?
            .is_some();
        if !held {
            return Err(LedgerError::Fenced);
        }
    }
    Ok(())
}

impl Ledger {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            hub: Arc::new(Hub::new()),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Writes `events` and whatever `f` writes in one transaction, then publishes the events.
    /// The events go first: reserving their numbers checks a worker's lease.
    async fn transact<T, F>(
        &self,
        task_id: &str,
        writer: Writer,
        events: Vec<StreamEvent>,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T>> + Send + 'c>,
            > + Send
            + 'static,
    {
        let id = task_id.to_owned();
        let (value, logged) = self
            .db
            .transaction::<_, (T, Vec<Logged>), LedgerError>(move |txn| {
                Box::pin(async move {
                    let logged = log::write_events(txn, &id, writer, &events).await?;
                    if logged.is_empty() {
                        ensure_held(txn, &id, writer).await?;
                    }
                    let value = f(txn).await?;
                    Ok((value, logged))
                })
            })
            .await?;
        self.hub.publish(task_id, &logged);
        Ok(value)
    }

    /// Logs events that change nothing else (progress: status, thoughts, partial text).
    pub async fn emit(
        &self,
        task_id: &str,
        writer: Writer,
        events: Vec<StreamEvent>,
    ) -> Result<Vec<Logged>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let id = task_id.to_owned();
        let logged = self
            .db
            .transaction::<_, Vec<Logged>, LedgerError>(move |txn| {
                Box::pin(async move { log::write_events(txn, &id, writer, &events).await })
            })
            .await?;
        self.hub.publish(task_id, &logged);
        Ok(logged)
    }

    pub async fn candidates(
        &self,
        limit: u64,
        per_project: Option<u64>,
    ) -> Result<Vec<(String, i64)>> {
        Ok(lease::candidates(&self.db, limit, per_project).await?)
    }

    pub async fn claim(
        &self,
        task_id: &str,
        seen_epoch: i64,
        worker: &str,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>> {
        Ok(lease::claim(&self.db, task_id, seen_epoch, worker, lease).await?)
    }

    pub async fn renew(
        &self,
        claim: &Claim,
        worker: &str,
        lease: chrono::Duration,
    ) -> Result<Renewal> {
        Ok(lease::renew(&self.db, claim, worker, lease).await?)
    }

    pub async fn still_held(&self, claim: &Claim) -> Result<bool> {
        Ok(lease::still_held(&self.db, claim).await?)
    }

    pub async fn release(&self, claim: &Claim) -> Result<()> {
        Ok(lease::release(&self.db, claim).await?)
    }

    pub async fn reclaim_own(&self, worker: &str) -> Result<u64> {
        Ok(lease::reclaim_own(&self.db, worker).await?)
    }
}
