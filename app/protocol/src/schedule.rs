//! (extension) Scheduled tasks, `/api/v1/projects/{projectId}/schedules`: a cron expression in
//! a time zone that creates an ordinary task of the project at each of its times. And the
//! project's secret store, whose values reach scheduled tasks without anyone passing them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happens to the runs a schedule missed while the server was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum MissedRuns {
    /// The latest missed time runs once when the server is back (never a burst of back runs).
    #[default]
    RunLatest,
    /// Missed times are recorded as skipped; the schedule goes on from the next one.
    Skip,
}

/// `POST …/schedules` (all of `name`, `cron`, `message` needed) and `PATCH …/schedules/{id}`
/// (what is left out stays).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScheduleInput {
    /// At most 100 characters.
    pub name: Option<String>,
    /// Five fields (minute hour day-of-month month day-of-week), e.g. `0 9 * * MON`, or
    /// `@hourly`, `@daily`, `@weekly`, `@monthly`.
    #[cfg_attr(feature = "openapi", schema(example = "0 9 * * 1"))]
    pub cron: Option<String>,
    /// An IANA time zone, e.g. `Europe/Berlin` (default `UTC`).
    #[cfg_attr(feature = "openapi", schema(example = "Europe/Berlin"))]
    pub timezone: Option<String>,
    /// The task's message. `{{date}}`, `{{datetime}}` and `{{previousRunAt}}` are filled in
    /// for each run, in the schedule's time zone.
    pub message: Option<String>,
    /// Plain variables for each run's sandbox (the same placeholders are filled in).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
    pub env: Option<Value>,
    /// false: each run's tool calls wait for approval (default: the project's setting).
    pub auto_execute: Option<bool>,
    /// Disabled schedules never fire (default true).
    pub enabled: Option<bool>,
    /// RFC 3339: no run after this time; `null` to clear.
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ends_at: Option<Option<String>>,
    pub missed_runs: Option<MissedRuns>,
    /// Start a run even while the previous one is still going (default false: skipped).
    pub allow_overlap: Option<bool>,
}

/// `Some(None)` for an explicit `null`, `None` for a field left out.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Option<String>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// A file given to every run of a schedule (in its `uploads/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScheduleFile {
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub cron: String,
    pub timezone: String,
    /// The schedule in words, e.g. "every Monday at 09:00 (Europe/Berlin)".
    pub description: String,
    pub message: String,
    pub env: std::collections::BTreeMap<String, String>,
    pub auto_execute: Option<bool>,
    pub enabled: bool,
    pub ends_at: Option<String>,
    pub missed_runs: MissedRuns,
    pub allow_overlap: bool,
    pub files: Vec<ScheduleFile>,
    /// The next five times it fires (RFC 3339 in its time zone); empty when it will not.
    pub next_runs: Vec<String>,
    /// The time of the last run it started or skipped.
    pub last_run_at: Option<String>,
    /// Why the schedule paused itself (its creator lost the project, its runs kept failing,
    /// its model cannot be used); saving it again resumes it.
    pub paused_reason: Option<String>,
    /// The person its runs act for: who created it, or last resumed it.
    pub run_as: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST …/schedules/preview`: what an expression means before it is saved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PreviewInput {
    pub cron: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchedulePreview {
    pub description: String,
    pub next_runs: Vec<String>,
}

/// Whether a schedule's time started a task or was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum RunOutcome {
    Started,
    Skipped,
}

/// What made a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum RunTrigger {
    /// Its time came.
    Schedule,
    /// Its latest missed time, run once after the server was down.
    CatchUp,
    /// Someone pressed "Run now".
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRun {
    pub id: String,
    pub schedule_id: String,
    /// The time it was due (RFC 3339, in the schedule's zone).
    pub scheduled_for: String,
    pub trigger: RunTrigger,
    pub outcome: RunOutcome,
    /// Why it was skipped.
    pub reason: Option<String>,
    pub task_id: Option<String>,
    /// The task's status now.
    pub task_status: Option<crate::task::TaskStatus>,
    /// When the run was started or skipped.
    pub created_at: String,
}

/// A project secret as anyone reads it: its name, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectSecret {
    pub name: String,
    pub updated_at: String,
}

/// `PUT …/secrets/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetSecret {
    /// At most 64 KiB; write-only.
    pub value: Option<String>,
}
