//! Leases: the work queue is the `tasks` table. A task needs a worker while it is `pending` or
//! `running` and nobody holds an unexpired lease on it. A worker claims it by a compare-and-set
//! on `lease_epoch` — the same statement on SQLite and PostgreSQL, and exactly one of several
//! processes racing for a task wins it. The epoch then fences every write the worker makes:
//! a worker that lost its lease (it stalled past the lease, or the task was cancelled) finds
//! its writes refused and stops.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Statement, Value,
};

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

/// Tasks waiting for a worker, with projects taking turns: the next task comes from the
/// project with the fewest tasks running (and handed out here), oldest first within a project
/// and between equals — so a project with a long queue cannot starve the others. A project
/// already running `per_project` tasks (when bounded) waits.
pub async fn candidates(
    db: &Db,
    limit: u64,
    per_project: Option<u64>,
) -> Result<Vec<(String, i64)>, DbErr> {
    let held: HashMap<String, u64> = held_per_project(db).await?.into_iter().collect();
    let bound = per_project.unwrap_or(u64::MAX);
    let backend = db.get_database_backend();
    let placeholder = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let mut values: Vec<Value> = vec![
        TaskStatus::Pending.as_str().into(),
        TaskStatus::Running.as_str().into(),
        Utc::now().into(),
    ];
    let mut skip = String::new();
    for (project, _) in held.iter().filter(|(_, n)| **n >= bound) {
        values.push(project.clone().into());
        skip.push_str(&format!(" AND project_id <> {}", placeholder(values.len())));
    }
    // Every waiting project's first tasks come first, so a few more rows than `limit` let the
    // least busy projects be seen whatever the queue's length.
    let fetch = limit.saturating_mul(4).max(64);
    values.push(i64::try_from(fetch).unwrap_or(i64::MAX).into());
    let sql = format!(
        "SELECT id, lease_epoch, project_id, turn FROM (\
           SELECT id, lease_epoch, project_id, last_activity_at, \
             ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY last_activity_at, id) AS turn \
           FROM tasks \
           WHERE status IN ({}, {}) AND (lease_until IS NULL OR lease_until < {}){skip}\
         ) waiting ORDER BY turn, last_activity_at, id LIMIT {}",
        placeholder(1),
        placeholder(2),
        placeholder(3),
        placeholder(values.len()),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    // (the project's load once this task is handed out, position in age order, task)
    let mut ranked = Vec::with_capacity(rows.len());
    for (position, r) in rows.iter().enumerate() {
        let project: String = r.try_get("", "project_id")?;
        let turn = u64::try_from(r.try_get::<i64>("", "turn")?).unwrap_or(u64::MAX);
        let load = held.get(&project).copied().unwrap_or(0) + turn;
        if load > bound {
            continue;
        }
        let id: String = r.try_get("", "id")?;
        let epoch: i64 = r.try_get("", "lease_epoch")?;
        ranked.push((load, position, (id, epoch)));
    }
    ranked.sort_unstable_by_key(|(load, position, _)| (*load, *position));
    Ok(ranked
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(_, _, task)| task)
        .collect())
}

/// How many tasks each project has a worker on now.
async fn held_per_project(db: &Db) -> Result<Vec<(String, u64)>, DbErr> {
    let held: Vec<(String, i64)> = task::Entity::find()
        .select_only()
        .column(task::Column::ProjectId)
        .column_as(task::Column::Id.count(), "n")
        .filter(task::Column::WorkerId.is_not_null())
        .filter(task::Column::LeaseUntil.gt(Utc::now()))
        .group_by(task::Column::ProjectId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(held
        .into_iter()
        .map(|(p, n)| (p, u64::try_from(n).unwrap_or(0)))
        .collect())
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
