//! Cron schedules that create ordinary tasks. Every process runs the same loop: it reads the
//! schedules that are due and claims each time in the database — a compare-and-set that
//! moves `next_run_at` on from the value it read, backed by a unique (schedule, time) row —
//! so a time fires once however many processes share the database.
//!
//! The rules a schedule keeps:
//! - After downtime only the latest missed time runs, once, or none where the schedule skips
//!   missed runs (recorded as skipped); never a burst of back runs.
//! - While its previous run is still going, a time is skipped (recorded, with the reason)
//!   unless the schedule allows overlapping runs.
//! - It pauses itself, saying why, when the person it acts for is no longer an admin of its
//!   project, when the project's model cannot be used, or after too many failed runs in a
//!   row. Saving it again resumes it.

pub mod template;
pub mod timing;

use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::schedule::{MissedRuns, RunOutcome, RunTrigger};
use protocol::task::CreatedTask;
use protocol::task::input::CreateTask;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tokio_util::sync::CancellationToken;

use crate::config::SchedulesConfig;
use crate::error::{ApiError, Error, Result};
use crate::ids::new_id;
use crate::services::Services;
use crate::services::access::Caller;
use crate::services::schedules::{missed_runs_of, outcome_text, trigger_text};
use crate::services::tasks::TaskService;
use crate::store::entities::{Role, TaskStatus, schedule, schedule_run, task, user};
use template::RunValues;
use timing::Timing;

/// Due schedules read per tick; the rest wait for the next one.
const BATCH: u64 = 100;

#[derive(Clone)]
pub struct Scheduler {
    tasks: TaskService,
}

/// What became of a time.
enum Fired {
    Started(CreatedTask),
    Skipped(String),
}

impl Scheduler {
    pub fn new(tasks: TaskService) -> Self {
        Self { tasks }
    }

    fn services(&self) -> &Services {
        self.tasks.services()
    }

    fn config(&self) -> &SchedulesConfig {
        &self.services().config().schedules
    }

    fn db(&self) -> &crate::store::Db {
        self.services().db()
    }

    /// Runs the loop until `stop`.
    pub fn spawn(self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let every = Duration::from_millis(self.config().tick_ms.max(50));
            loop {
                if let Err(e) = self.tick(Utc::now()).await {
                    tracing::warn!(error = %e, "schedules: cannot read the due schedules");
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        })
    }

    /// Fires what is due at `now`; answers how many times were claimed by this process.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize> {
        let due = schedule::Entity::find()
            .filter(schedule::Column::Enabled.eq(true))
            .filter(schedule::Column::PausedReason.is_null())
            .filter(schedule::Column::NextRunAt.lte(now))
            .order_by_asc(schedule::Column::NextRunAt)
            .limit(BATCH)
            .all(self.db())
            .await?;
        let mut claimed = 0;
        for row in due {
            let id = row.id.clone();
            match self.fire_due(row, now).await {
                Ok(true) => claimed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(schedule = %id, error = %e, "schedules: a due time failed")
                }
            }
        }
        Ok(claimed)
    }

    /// Claims the schedule's due time and fires it; `false` when another process did.
    async fn fire_due(&self, row: schedule::Model, now: DateTime<Utc>) -> Result<bool> {
        let Some(stored) = row.next_run_at else {
            return Ok(false);
        };
        let timing = match Timing::parse(&row.cron, &row.timezone, self.config().allow_seconds) {
            Ok(t) => t,
            Err(e) => {
                // Only possible if the server's rules changed (seconds turned off).
                self.pause(&row.id, &format!("Its expression no longer reads: {e}"))
                    .await?;
                return Ok(false);
            }
        };
        // The latest time that has come; later than `stored` when times passed unfired.
        let latest = timing
            .latest_until(now)
            .filter(|t| *t >= stored)
            .unwrap_or(stored);
        let next = timing
            .next_after(now)
            .filter(|n| row.ends_at.is_none_or(|e| *n <= e));
        let moved = schedule::Entity::update_many()
            .col_expr(schedule::Column::NextRunAt, Expr::value(next))
            .col_expr(schedule::Column::LastRunAt, Expr::value(Some(latest)))
            .filter(schedule::Column::Id.eq(row.id.clone()))
            .filter(schedule::Column::NextRunAt.eq(stored))
            .exec(self.db())
            .await?;
        if moved.rows_affected != 1 {
            return Ok(false);
        }
        tracing::info!(schedule = %row.id, at = %latest, "schedules: claimed a time");
        if row.ends_at.is_some_and(|e| latest > e) {
            return Ok(true);
        }
        let late = now - latest
            > chrono::Duration::seconds(
                i64::try_from(self.config().missed_after_secs).unwrap_or(i64::MAX / 1000),
            );
        let missed = latest != stored || late;
        let trigger = if missed {
            RunTrigger::CatchUp
        } else {
            RunTrigger::Schedule
        };
        let slot = latest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if missed && missed_runs_of(&row) == MissedRuns::Skip {
            self.record(
                &row.id,
                &slot,
                latest,
                trigger,
                Err("Missed while the server was down; this schedule skips missed runs."),
            )
            .await?;
            return Ok(true);
        }
        match self.fire(&row, &timing, latest, &slot, trigger, None).await {
            Ok(_) => {}
            // The time is claimed: a refusal is recorded on the run, not retried.
            Err(e) => {
                tracing::warn!(schedule = %row.id, error = %e, "schedules: a run did not start")
            }
        }
        Ok(true)
    }

    /// "Run now" (project admins): a run at once, acting for whoever pressed it.
    pub async fn run_now(
        &self,
        caller: &Caller,
        project_id: &str,
        schedule_id: &str,
    ) -> Result<CreatedTask> {
        let scope = self.services().project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.services().schedule_row(&scope, schedule_id).await?;
        let timing = Timing::parse(&row.cron, &row.timezone, self.config().allow_seconds)
            .map_err(|e| ApiError::field(e.field(), e.to_string()))?;
        let now = Utc::now();
        let slot = format!("manual:{}", new_id());
        match self
            .fire(&row, &timing, now, &slot, RunTrigger::Manual, Some(caller))
            .await?
        {
            Fired::Started(created) => Ok(created),
            Fired::Skipped(reason) => Err(ApiError::conflict(reason).into()),
        }
    }

    /// Starts the task of one time (or records why not).
    async fn fire(
        &self,
        row: &schedule::Model,
        timing: &Timing,
        at: DateTime<Utc>,
        slot: &str,
        trigger: RunTrigger,
        pressed_by: Option<&Caller>,
    ) -> Result<Fired> {
        let caller = match pressed_by {
            Some(c) => c.clone(),
            None => match self.acting_for(row).await? {
                Ok(c) => c,
                Err(reason) => return self.pause_and_skip(row, slot, at, trigger, &reason).await,
            },
        };
        if trigger != RunTrigger::Manual {
            if let Some(reason) = self.keeps_failing(row).await? {
                return self.pause_and_skip(row, slot, at, trigger, &reason).await;
            }
            if let Some(reason) = self.model_unusable(row).await? {
                return self.pause_and_skip(row, slot, at, trigger, &reason).await;
            }
            if !row.allow_overlap
                && let Some(reason) = self.still_running(row).await?
            {
                self.record(&row.id, slot, at, trigger, Err(&reason))
                    .await?;
                return Ok(Fired::Skipped(reason));
            }
        }
        let previous = schedule_run::Entity::find()
            .filter(schedule_run::Column::ScheduleId.eq(row.id.clone()))
            .filter(schedule_run::Column::Outcome.eq(outcome_text(RunOutcome::Started)))
            .order_by_desc(schedule_run::Column::ScheduledFor)
            .one(self.db())
            .await?
            .map(|r| r.scheduled_for);
        let values = RunValues::new(at, previous, timing.zone());
        let env: std::collections::BTreeMap<String, String> =
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(&row.env)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, values.render(&v)))
                .collect();

        let mut draft = match self.tasks.draft(&caller, Some(&row.project_id)).await {
            Ok(d) => d,
            Err(e) => {
                let reason = format!("The run could not start: {}", error_text(&e));
                self.record(&row.id, slot, at, trigger, Err(&reason))
                    .await?;
                return Ok(Fired::Skipped(reason));
            }
        };
        draft.for_schedule(&row.id);
        // The time is this run's before its task exists: a second process that got this far
        // stops here.
        let run_id = self
            .record(&row.id, slot, at, trigger, Ok(&draft.id))
            .await?;
        let Some(run_id) = run_id else {
            return Ok(Fired::Skipped(
                "Another process started this time.".to_owned(),
            ));
        };
        let created = async {
            for (name, path) in self.services().schedule_file_paths(&row.id).await {
                let file = tokio::fs::File::open(&path).await.map_err(|e| {
                    Error::from(ApiError::field(
                        "files",
                        format!("`{name}` cannot be read: {e}"),
                    ))
                })?;
                draft
                    .upload(&self.services().config().uploads)?
                    .add(&name, tokio_util::io::ReaderStream::new(file))
                    .await
                    .map_err(|e| Error::Api(e.to_api_error()))?;
            }
            self.tasks
                .create(
                    draft,
                    CreateTask {
                        message: Some(values.render(&row.message)),
                        auto_execute: row.auto_execute,
                        env: (!env.is_empty())
                            .then(|| serde_json::to_value(&env).unwrap_or_default()),
                        project_id: Some(row.project_id.clone()),
                        ..CreateTask::default()
                    },
                )
                .await
        }
        .await;
        match created {
            Ok(created) => Ok(Fired::Started(created)),
            Err(e) => {
                let reason = format!("The run could not start: {}", error_text(&e));
                schedule_run::Entity::update_many()
                    .col_expr(
                        schedule_run::Column::Outcome,
                        Expr::value(outcome_text(RunOutcome::Skipped)),
                    )
                    .col_expr(
                        schedule_run::Column::Reason,
                        Expr::value(Some(reason.clone())),
                    )
                    .col_expr(
                        schedule_run::Column::TaskId,
                        Expr::value(Option::<String>::None),
                    )
                    .filter(schedule_run::Column::Id.eq(run_id))
                    .exec(self.db())
                    .await?;
                Ok(Fired::Skipped(reason))
            }
        }
    }

    /// The caller a schedule's runs act as: the person it runs for, while they are still an
    /// admin of its project. `Err` says why not.
    async fn acting_for(
        &self,
        row: &schedule::Model,
    ) -> Result<std::result::Result<Caller, String>> {
        let Some(person) = user::Entity::find_by_id(row.run_as.clone())
            .one(self.db())
            .await?
        else {
            return Ok(Err(
                "The person it ran for no longer has an account. An admin can resume it by saving it; it then runs for them.".to_owned(),
            ));
        };
        let name = person.username.clone();
        let caller = self.services().caller_for_user(person).await?;
        let admin = match self
            .services()
            .project_scope(&caller, &row.project_id)
            .await
        {
            Ok(scope) => scope.role == Role::Admin,
            Err(Error::Api(e)) if e.code == protocol::ErrorCode::NotFound => false,
            Err(e) => return Err(e),
        };
        if !admin {
            return Ok(Err(format!(
                "It ran for {name}, who is no longer an admin of this project. An admin can resume it by saving it; it then runs for them."
            )));
        }
        Ok(Ok(caller))
    }

    /// Why the project's model cannot be used, if it cannot.
    async fn model_unusable(&self, row: &schedule::Model) -> Result<Option<String>> {
        let Some(project) =
            crate::store::entities::project::Entity::find_by_id(row.project_id.clone())
                .one(self.db())
                .await?
        else {
            return Ok(Some("Its project is gone.".to_owned()));
        };
        let usable = self
            .tasks
            .runtime()
            .models()
            .resolve(&project.org_id, project.model.as_deref(), false)
            .await
            .map(|_| ());
        Ok(usable
            .err()
            .map(|e| format!("The project's model cannot be used: {e}")))
    }

    /// Why to pause after failures: the last N started runs all failed.
    async fn keeps_failing(&self, row: &schedule::Model) -> Result<Option<String>> {
        let n = self.config().pause_after_failures;
        if n == 0 {
            return Ok(None);
        }
        let runs: Vec<String> = schedule_run::Entity::find()
            .filter(schedule_run::Column::ScheduleId.eq(row.id.clone()))
            .filter(schedule_run::Column::Outcome.eq(outcome_text(RunOutcome::Started)))
            .order_by_desc(schedule_run::Column::CreatedAt)
            .limit(u64::from(n))
            .all(self.db())
            .await?
            .into_iter()
            .filter_map(|r| r.task_id)
            .collect();
        if runs.len() < n as usize {
            return Ok(None);
        }
        let tasks = task::Entity::find()
            .filter(task::Column::Id.is_in(runs.clone()))
            .filter(task::Column::ProjectId.eq(row.project_id.clone()))
            .order_by_desc(task::Column::CreatedAt)
            .all(self.db())
            .await?;
        if tasks.len() < runs.len() || tasks.iter().any(|t| t.status != TaskStatus::Failed) {
            return Ok(None);
        }
        let last = tasks
            .first()
            .and_then(|t| t.error.clone())
            .unwrap_or_default();
        Ok(Some(format!(
            "Its last {n} runs failed (the latest: {last}). Fix the cause and save it to resume."
        )))
    }

    /// Why to skip for overlap: the previous run's task is still going.
    async fn still_running(&self, row: &schedule::Model) -> Result<Option<String>> {
        let Some(last) = schedule_run::Entity::find()
            .filter(schedule_run::Column::ScheduleId.eq(row.id.clone()))
            .filter(schedule_run::Column::Outcome.eq(outcome_text(RunOutcome::Started)))
            .order_by_desc(schedule_run::Column::CreatedAt)
            .one(self.db())
            .await?
            .and_then(|r| r.task_id)
        else {
            return Ok(None);
        };
        let active = task::Entity::find_by_id(last.clone())
            .select_only()
            .column(task::Column::Status)
            .into_tuple::<TaskStatus>()
            .one(self.db())
            .await?
            .is_some_and(|s| {
                matches!(
                    s,
                    TaskStatus::Pending | TaskStatus::Running | TaskStatus::AwaitingApproval
                )
            });
        Ok(active.then(|| {
            format!("The previous run (task {last}) was still going, and this schedule does not overlap runs.")
        }))
    }

    async fn pause(&self, schedule_id: &str, reason: &str) -> Result<()> {
        tracing::info!(schedule = schedule_id, reason, "schedules: paused");
        schedule::Entity::update_many()
            .col_expr(
                schedule::Column::PausedReason,
                Expr::value(Some(reason.to_owned())),
            )
            .col_expr(schedule::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(schedule::Column::Id.eq(schedule_id))
            .exec(self.db())
            .await?;
        Ok(())
    }

    async fn pause_and_skip(
        &self,
        row: &schedule::Model,
        slot: &str,
        at: DateTime<Utc>,
        trigger: RunTrigger,
        reason: &str,
    ) -> Result<Fired> {
        self.pause(&row.id, reason).await?;
        self.record(
            &row.id,
            slot,
            at,
            trigger,
            Err(&format!("Paused: {reason}")),
        )
        .await?;
        Ok(Fired::Skipped(reason.to_owned()))
    }

    /// Writes the run of a time: started with its task, or skipped with why. `None` when
    /// the time already has one (another process's).
    async fn record(
        &self,
        schedule_id: &str,
        slot: &str,
        at: DateTime<Utc>,
        trigger: RunTrigger,
        result: std::result::Result<&str, &str>,
    ) -> Result<Option<String>> {
        let id = new_id();
        let (outcome, task_id, reason) = match result {
            Ok(task) => (RunOutcome::Started, Some(task.to_owned()), None),
            Err(reason) => (RunOutcome::Skipped, None, Some(reason.to_owned())),
        };
        let inserted = schedule_run::Entity::insert(schedule_run::ActiveModel {
            id: Set(id.clone()),
            schedule_id: Set(schedule_id.to_owned()),
            slot: Set(slot.to_owned()),
            scheduled_for: Set(at),
            trigger: Set(trigger_text(trigger).to_owned()),
            outcome: Set(outcome_text(outcome).to_owned()),
            reason: Set(reason),
            task_id: Set(task_id),
            created_at: Set(Utc::now()),
        })
        .exec(self.db())
        .await;
        match inserted {
            Ok(_) => Ok(Some(id)),
            Err(e) if crate::store::is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn error_text(e: &Error) -> String {
    match e {
        Error::Api(api) => api.message.clone(),
        other => other.to_string(),
    }
}
