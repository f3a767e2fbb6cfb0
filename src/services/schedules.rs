//! A project's schedules as people manage them: people in the project read them and their
//! runs, project admins create, change and delete them and attach files. When they fire is
//! `crate::scheduler`'s business; this module keeps `next_run_at` right whenever a schedule
//! changes, so the scheduler only ever reads it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt};
use protocol::schedule::{
    MissedRuns, PreviewInput, RunOutcome, RunTrigger, Schedule, ScheduleFile, ScheduleInput,
    SchedulePreview, ScheduleRun,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tokio::io::AsyncWriteExt;

use super::Services;
use super::access::{Caller, ProjectScope};
use super::tasks::{check_env, status_dto};
use super::validate;
use crate::error::{ApiError, Error, Result};
use crate::ids::new_id;
use crate::rfc3339::ts;
use crate::scheduler::timing::{DEFAULT_ZONE, Timing, TimingError};
use crate::store::entities::{schedule, schedule_run, task, user};

/// Times a schedule's answer lists ahead.
const NEXT_RUNS: usize = 5;
/// Runs a schedule's list shows at most.
pub const RUNS_MAX: u64 = 100;
/// Files attached to one schedule.
const MAX_FILES: usize = 10;
const MESSAGE_MAX_CHARS: usize = 200_000;

pub fn missed_runs_text(m: MissedRuns) -> &'static str {
    match m {
        MissedRuns::RunLatest => "runLatest",
        MissedRuns::Skip => "skip",
    }
}

pub fn missed_runs_of(row: &schedule::Model) -> MissedRuns {
    match row.missed_runs.as_str() {
        "skip" => MissedRuns::Skip,
        _ => MissedRuns::RunLatest,
    }
}

pub fn trigger_text(t: RunTrigger) -> &'static str {
    match t {
        RunTrigger::Schedule => "schedule",
        RunTrigger::CatchUp => "catchUp",
        RunTrigger::Manual => "manual",
    }
}

fn trigger_of(text: &str) -> RunTrigger {
    match text {
        "catchUp" => RunTrigger::CatchUp,
        "manual" => RunTrigger::Manual,
        _ => RunTrigger::Schedule,
    }
}

pub fn outcome_text(o: RunOutcome) -> &'static str {
    match o {
        RunOutcome::Started => "started",
        RunOutcome::Skipped => "skipped",
    }
}

/// RFC 3339 with the offset of `zone`, as a schedule's times are shown.
pub fn in_zone(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn timing_error(e: TimingError) -> Error {
    ApiError::field(e.field(), e.to_string()).into()
}

/// A schedule's fields after the input was merged over what it had.
struct Fields {
    name: String,
    cron: String,
    timezone: String,
    message: String,
    env: BTreeMap<String, String>,
    auto_execute: Option<bool>,
    enabled: bool,
    ends_at: Option<DateTime<Utc>>,
    missed_runs: MissedRuns,
    allow_overlap: bool,
    timing: Timing,
}

impl Services {
    fn schedule_files_dir(&self, schedule_id: &str) -> PathBuf {
        self.config()
            .data_dir
            .join("schedules")
            .join(schedule_id)
            .join("files")
    }

    fn timing(&self, cron: &str, zone: &str) -> std::result::Result<Timing, TimingError> {
        Timing::parse(cron, zone, self.config().schedules.allow_seconds)
    }

    /// Merges `input` over `old` (none for a new schedule) and checks the result; every
    /// refusal names its field.
    fn schedule_fields(
        &self,
        input: ScheduleInput,
        old: Option<&schedule::Model>,
    ) -> Result<Fields> {
        let name = match (input.name, old) {
            (Some(n), _) => {
                validate::name(&n, 100, "The name").map_err(|m| ApiError::field("name", m))?
            }
            (None, Some(o)) => o.name.clone(),
            (None, None) => return Err(ApiError::field("name", "The name is required.").into()),
        };
        let cron = match (input.cron, old) {
            (Some(c), _) => c.trim().to_owned(),
            (None, Some(o)) => o.cron.clone(),
            (None, None) => String::new(),
        };
        let timezone = match (input.timezone, old) {
            (Some(z), _) if !z.trim().is_empty() => z.trim().to_owned(),
            (_, Some(o)) => o.timezone.clone(),
            _ => DEFAULT_ZONE.to_owned(),
        };
        let timing = self.timing(&cron, &timezone).map_err(timing_error)?;
        let message = match (input.message, old) {
            (Some(m), _) => m,
            (None, Some(o)) => o.message.clone(),
            (None, None) => String::new(),
        };
        if message.trim().is_empty() {
            return Err(
                ApiError::field("message", "Write the message each run starts with.").into(),
            );
        }
        if message.contains('\0') || message.chars().count() > MESSAGE_MAX_CHARS {
            return Err(ApiError::field(
                "message",
                format!("The message must be at most {MESSAGE_MAX_CHARS} characters, without NUL."),
            )
            .into());
        }
        let env = match (input.env, old) {
            (Some(v), _) => check_env("env", Some(v))?,
            (None, Some(o)) => serde_json::from_str(&o.env).unwrap_or_default(),
            (None, None) => BTreeMap::new(),
        };
        let ends_at = match (input.ends_at, old) {
            (Some(None), _) => None,
            (Some(Some(text)), _) => Some(
                DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|_| {
                        ApiError::field(
                            "endsAt",
                            "Write the end as an RFC 3339 time, like 2027-01-31T18:00:00+01:00.",
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            (None, Some(o)) => o.ends_at,
            (None, None) => None,
        };
        Ok(Fields {
            name,
            cron,
            timezone: timing.zone().name().to_owned(),
            message,
            env,
            auto_execute: input.auto_execute.or(old.and_then(|o| o.auto_execute)),
            enabled: input.enabled.or(old.map(|o| o.enabled)).unwrap_or(true),
            ends_at,
            missed_runs: input
                .missed_runs
                .or(old.map(missed_runs_of))
                .unwrap_or_default(),
            allow_overlap: input
                .allow_overlap
                .or(old.map(|o| o.allow_overlap))
                .unwrap_or(false),
            timing,
        })
    }

    /// The next time a schedule fires after `now`, within its end.
    fn next_run(
        timing: &Timing,
        ends_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        timing
            .next_after(now)
            .filter(|n| ends_at.is_none_or(|e| *n <= e))
    }

    pub(crate) async fn schedule_dto(&self, row: schedule::Model) -> Result<Schedule> {
        let timing = self.timing(&row.cron, &row.timezone).ok();
        let zone = timing.as_ref().map(Timing::zone).unwrap_or(chrono_tz::UTC);
        let next_runs = match (&timing, row.enabled && row.paused_reason.is_none()) {
            (Some(t), true) => t
                .upcoming(Utc::now(), NEXT_RUNS, row.ends_at)
                .into_iter()
                .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, false))
                .collect(),
            _ => Vec::new(),
        };
        let run_as = user::Entity::find_by_id(row.run_as.clone())
            .select_only()
            .column(user::Column::Username)
            .into_tuple::<String>()
            .one(self.db())
            .await?;
        let files = self.schedule_files(&row.id).await;
        Ok(Schedule {
            description: timing
                .as_ref()
                .map(Timing::describe)
                .unwrap_or_else(|| row.cron.clone()),
            env: serde_json::from_str(&row.env).unwrap_or_default(),
            missed_runs: missed_runs_of(&row),
            next_runs,
            last_run_at: row.last_run_at.map(|t| in_zone(t, zone)),
            ends_at: row.ends_at.map(|t| in_zone(t, zone)),
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
            files,
            run_as,
            id: row.id,
            project_id: row.project_id,
            name: row.name,
            cron: row.cron,
            timezone: row.timezone,
            message: row.message,
            auto_execute: row.auto_execute,
            enabled: row.enabled,
            allow_overlap: row.allow_overlap,
            paused_reason: row.paused_reason,
        })
    }

    async fn schedule_files(&self, schedule_id: &str) -> Vec<ScheduleFile> {
        let dir = self.schedule_files_dir(schedule_id);
        let mut out = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            return out;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let Ok(meta) = entry.metadata().await else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if meta.is_file() && !name.starts_with('.') {
                out.push(ScheduleFile {
                    name,
                    size: meta.len(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The files given to each run: their paths, by name.
    pub(crate) async fn schedule_file_paths(&self, schedule_id: &str) -> Vec<(String, PathBuf)> {
        let dir = self.schedule_files_dir(schedule_id);
        self.schedule_files(schedule_id)
            .await
            .into_iter()
            .map(|f| {
                let path = dir.join(&f.name);
                (f.name, path)
            })
            .collect()
    }

    pub(crate) async fn schedule_row(
        &self,
        scope: &ProjectScope,
        schedule_id: &str,
    ) -> Result<schedule::Model> {
        Ok(schedule::Entity::find_by_id(schedule_id.to_owned())
            .filter(schedule::Column::ProjectId.eq(scope.project_id()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Schedule"))?)
    }

    /// The project's schedules, oldest first (people in the project).
    pub async fn schedules(&self, caller: &Caller, project_id: &str) -> Result<Vec<Schedule>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let rows = schedule::Entity::find()
            .filter(schedule::Column::ProjectId.eq(scope.project_id()))
            .order_by_asc(schedule::Column::CreatedAt)
            .all(self.db())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.schedule_dto(row).await?);
        }
        Ok(out)
    }

    pub async fn schedule(&self, caller: &Caller, project_id: &str, id: &str) -> Result<Schedule> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let row = self.schedule_row(&scope, id).await?;
        self.schedule_dto(row).await
    }

    /// What an expression means, before it is saved: in words and its next five times.
    pub async fn preview_schedule(
        &self,
        caller: &Caller,
        project_id: &str,
        input: PreviewInput,
    ) -> Result<SchedulePreview> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let timing = self
            .timing(
                input.cron.as_deref().unwrap_or_default(),
                input.timezone.as_deref().unwrap_or(DEFAULT_ZONE),
            )
            .map_err(timing_error)?;
        Ok(SchedulePreview {
            description: timing.describe(),
            next_runs: timing
                .upcoming(Utc::now(), NEXT_RUNS, None)
                .into_iter()
                .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, false))
                .collect(),
        })
    }

    /// Adds a schedule (project admins); its runs act for its creator.
    pub async fn create_schedule(
        &self,
        caller: &Caller,
        project_id: &str,
        input: ScheduleInput,
    ) -> Result<Schedule> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        let f = self.schedule_fields(input, None)?;
        let count = schedule::Entity::find()
            .filter(schedule::Column::ProjectId.eq(scope.project_id()))
            .count(self.db())
            .await?;
        let max = self.config().schedules.max_per_project;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Err(ApiError::field(
                "name",
                format!("A project has at most {max} schedules; delete one first."),
            )
            .into());
        }
        let now = Utc::now();
        let row = schedule::ActiveModel {
            id: Set(new_id()),
            org_id: Set(scope.org_id().to_owned()),
            project_id: Set(scope.project_id().to_owned()),
            name: Set(f.name),
            cron: Set(f.cron),
            timezone: Set(f.timezone),
            message: Set(f.message),
            env: Set(serde_json::to_string(&f.env).map_err(|_| ApiError::internal())?),
            auto_execute: Set(f.auto_execute),
            enabled: Set(f.enabled),
            ends_at: Set(f.ends_at),
            missed_runs: Set(missed_runs_text(f.missed_runs).to_owned()),
            allow_overlap: Set(f.allow_overlap),
            next_run_at: Set(Self::next_run(&f.timing, f.ends_at, now)),
            last_run_at: Set(None),
            paused_reason: Set(None),
            run_as: Set(user_id),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await?;
        self.schedule_dto(row).await
    }

    /// Changes what the input names (project admins). Saving a paused schedule resumes it,
    /// acting from now on for the admin who saved it; its next time counts from now.
    pub async fn update_schedule(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
        input: ScheduleInput,
    ) -> Result<Schedule> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        let old = self.schedule_row(&scope, id).await?;
        let f = self.schedule_fields(input, Some(&old))?;
        let now = Utc::now();
        let mut row: schedule::ActiveModel = old.clone().into();
        if old.paused_reason.is_some() {
            row.paused_reason = Set(None);
            row.run_as = Set(user_id);
        }
        row.next_run_at = Set(Self::next_run(&f.timing, f.ends_at, now));
        row.name = Set(f.name);
        row.cron = Set(f.cron);
        row.timezone = Set(f.timezone);
        row.message = Set(f.message);
        row.env = Set(serde_json::to_string(&f.env).map_err(|_| ApiError::internal())?);
        row.auto_execute = Set(f.auto_execute);
        row.enabled = Set(f.enabled);
        row.ends_at = Set(f.ends_at);
        row.missed_runs = Set(missed_runs_text(f.missed_runs).to_owned());
        row.allow_overlap = Set(f.allow_overlap);
        row.updated_at = Set(now);
        let row = row.update(self.db()).await?;
        self.schedule_dto(row).await
    }

    /// Deletes a schedule (project admins) and its files; the tasks it started stay.
    pub async fn delete_schedule(&self, caller: &Caller, project_id: &str, id: &str) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.schedule_row(&scope, id).await?;
        schedule_run::Entity::delete_many()
            .filter(schedule_run::Column::ScheduleId.eq(row.id.clone()))
            .exec(self.db())
            .await?;
        schedule::Entity::delete_by_id(row.id.clone())
            .exec(self.db())
            .await?;
        self.remove_schedule_files(&row.id).await;
        Ok(())
    }

    pub(crate) async fn remove_schedule_files(&self, schedule_id: &str) {
        let dir = self.schedule_files_dir(schedule_id);
        let Some(parent) = dir.parent() else { return };
        if let Err(e) = tokio::fs::remove_dir_all(parent).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(schedule = schedule_id, error = %e, "cannot remove a schedule's files");
        }
    }

    /// The schedule's latest runs, newest first, with their tasks' status now.
    pub async fn schedule_runs(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
        limit: Option<u64>,
    ) -> Result<Vec<ScheduleRun>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let limit = limit.unwrap_or(20);
        if limit == 0 || limit > RUNS_MAX {
            return Err(
                ApiError::field("limit", format!("Use a limit from 1 to {RUNS_MAX}.")).into(),
            );
        }
        let row = self.schedule_row(&scope, id).await?;
        let zone = row.timezone.parse().unwrap_or(chrono_tz::UTC);
        let runs = schedule_run::Entity::find()
            .filter(schedule_run::Column::ScheduleId.eq(row.id.clone()))
            .order_by_desc(schedule_run::Column::CreatedAt)
            .order_by_desc(schedule_run::Column::Id)
            .limit(limit)
            .all(self.db())
            .await?;
        let task_ids: Vec<String> = runs.iter().filter_map(|r| r.task_id.clone()).collect();
        let statuses: BTreeMap<String, _> = task::Entity::find()
            .filter(task::Column::Id.is_in(task_ids))
            .filter(task::Column::ProjectId.eq(scope.project_id()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|t| (t.id, status_dto(t.status)))
            .collect();
        Ok(runs
            .into_iter()
            .map(|r| ScheduleRun {
                task_status: r.task_id.as_ref().and_then(|t| statuses.get(t).copied()),
                id: r.id,
                schedule_id: r.schedule_id,
                scheduled_for: in_zone(r.scheduled_for, zone),
                trigger: trigger_of(&r.trigger),
                outcome: if r.outcome == "skipped" {
                    RunOutcome::Skipped
                } else {
                    RunOutcome::Started
                },
                reason: r.reason,
                task_id: r.task_id,
                created_at: ts(r.created_at),
            })
            .collect())
    }

    /// Adds (or replaces) a file given to every run (project admins).
    pub async fn add_schedule_file<S, E>(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
        name: &str,
        mut body: S,
    ) -> Result<ScheduleFile>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.schedule_row(&scope, id).await?;
        let name = check_file_name(name)?;
        let existing = self.schedule_files(&row.id).await;
        if existing.len() >= MAX_FILES && !existing.iter().any(|f| f.name == name) {
            return Err(ApiError::field(
                "files",
                format!("A schedule has at most {MAX_FILES} files; delete one first."),
            )
            .into());
        }
        let max = self.config().uploads.max_file_bytes;
        let dir = self.schedule_files_dir(&row.id);
        tokio::fs::create_dir_all(&dir).await.map_err(io_error)?;
        let staging = dir.join(format!(".upload-{}", new_id()));
        let written = async {
            let mut file = tokio::fs::File::create(&staging).await.map_err(io_error)?;
            let mut size: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::field("files", format!("The upload broke off: {e}")))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(Error::from(ApiError::new(
                        protocol::ErrorCode::PayloadTooLarge,
                        format!("`{name}` is over the limit of {max} bytes per file."),
                    )));
                }
                file.write_all(&chunk).await.map_err(io_error)?;
            }
            file.sync_all().await.map_err(io_error)?;
            Ok(size)
        }
        .await;
        match written {
            Ok(size) => {
                tokio::fs::rename(&staging, dir.join(&name))
                    .await
                    .map_err(io_error)?;
                Ok(ScheduleFile { name, size })
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&staging).await;
                Err(e)
            }
        }
    }

    pub async fn delete_schedule_file(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
        name: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.schedule_row(&scope, id).await?;
        let name = check_file_name(name).map_err(|_| ApiError::not_found("File"))?;
        match tokio::fs::remove_file(self.schedule_files_dir(&row.id).join(name)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ApiError::not_found("File").into())
            }
            Err(e) => Err(io_error(e)),
        }
    }
}

fn io_error(e: std::io::Error) -> Error {
    tracing::error!(error = %e, "schedule files");
    ApiError::internal().into()
}

/// A file's name as given to each run: one plain name, no folders.
fn check_file_name(name: &str) -> Result<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= 200
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control);
    if !ok {
        return Err(ApiError::field(
            "files",
            format!("`{name}` cannot be a file's name: use a plain name without folders, not starting with a dot."),
        )
        .into());
    }
    Ok(name.to_owned())
}
