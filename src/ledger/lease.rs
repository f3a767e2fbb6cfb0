//! Leases: the work queue is the `tasks` table. A task needs a worker while it is `pending` or
//! `running` and nobody holds an unexpired lease on it. A worker claims it by a compare-and-set
//! on `lease_epoch` — the same statement on SQLite and PostgreSQL, and exactly one of several
//! processes racing for a task wins it. The epoch then fences every write the worker makes:
//! a worker that lost its lease (it stalled past the lease, or the task was cancelled) finds
//! its writes refused and stops.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::log::Writer;
use crate::store::Db;
use crate::store::entities::{TaskStatus, task};

/// A task this worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub task_id: String,
    pub epoch: i64,
}

impl Claim {
    /// Writes under this claim, fenced by its epoch.
    pub fn writer(&self) -> Writer {
        Writer::Worker { epoch: self.epoch }
    }
}

fn claimable() -> Condition {
    Condition::all()
        .add(task::Column::Status.is_in([TaskStatus::Pending, TaskStatus::Running]))
        .add(
            Condition::any()
                .add(task::Column::LeaseUntil.is_null())
                .add(task::Column::LeaseUntil.lt(Utc::now())),
        )
}

/// Tasks waiting for a worker, oldest first.
pub async fn candidates(db: &Db, limit: u64) -> Result<Vec<(String, i64)>, DbErr> {
    task::Entity::find()
        .select_only()
        .column(task::Column::Id)
        .column(task::Column::LeaseEpoch)
        .filter(claimable())
        .order_by_asc(task::Column::LastActivityAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Tries to take one task; `None` when another worker was faster or it is no longer claimable.
pub async fn claim(
    db: &Db,
    task_id: &str,
    seen_epoch: i64,
    worker: &str,
    lease: Duration,
) -> Result<Option<Claim>, DbErr> {
    let epoch = seen_epoch + 1;
    let res = task::Entity::update_many()
        .col_expr(task::Column::WorkerId, Expr::value(worker))
        .col_expr(task::Column::LeaseUntil, Expr::value(Utc::now() + lease))
        .col_expr(task::Column::LeaseEpoch, Expr::value(epoch))
        .filter(task::Column::Id.eq(task_id))
        .filter(task::Column::LeaseEpoch.eq(seen_epoch))
        .filter(claimable())
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then(|| Claim {
        task_id: task_id.to_owned(),
        epoch,
    }))
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Held,
    /// Someone else holds the task now, or it was cancelled: stop.
    Lost,
}

pub async fn renew(
    db: &Db,
    claim: &Claim,
    worker: &str,
    lease: Duration,
) -> Result<Renewal, DbErr> {
    let res = task::Entity::update_many()
        .col_expr(task::Column::LeaseUntil, Expr::value(Utc::now() + lease))
        .filter(task::Column::Id.eq(&claim.task_id))
        .filter(task::Column::LeaseEpoch.eq(claim.epoch))
        .filter(task::Column::WorkerId.eq(worker))
        .filter(task::Column::CancelRequested.eq(false))
        .exec(db)
        .await?;
    Ok(if res.rows_affected == 1 {
        Renewal::Held
    } else {
        Renewal::Lost
    })
}

/// Whether the task is still this worker's and not cancelled; cheap, for frequent checks.
pub async fn still_held(db: &Db, claim: &Claim) -> Result<bool, DbErr> {
    let row: Option<(i64, bool)> = task::Entity::find_by_id(claim.task_id.clone())
        .select_only()
        .column(task::Column::LeaseEpoch)
        .column(task::Column::CancelRequested)
        .into_tuple()
        .one(db)
        .await?;
    Ok(matches!(row, Some((epoch, false)) if epoch == claim.epoch))
}

/// Gives the task back without changing its status (shutdown): the next worker continues it.
pub async fn release(db: &Db, claim: &Claim) -> Result<(), DbErr> {
    task::Entity::update_many()
        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
        .col_expr(
            task::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(task::Column::Id.eq(&claim.task_id))
        .filter(task::Column::LeaseEpoch.eq(claim.epoch))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends the leases a previous life of this node held (it crashed or was killed): those tasks
/// are claimable now rather than when their leases run out.
pub async fn reclaim_own(db: &Db, worker: &str) -> Result<u64, DbErr> {
    let res = task::Entity::update_many()
        .col_expr(
            task::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
        .filter(task::Column::WorkerId.eq(worker))
        .filter(task::Column::Status.is_in([TaskStatus::Pending, TaskStatus::Running]))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
