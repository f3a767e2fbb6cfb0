//! Server functions of a project's schedules and its secret store: the list, the live preview
//! of an expression, the create and edit forms, "Run now", each schedule's runs, and the
//! secrets' names (a value goes in, never comes back).
// A form's server function takes one argument per input (`ActionForm` posts them flat), and
// the macro's browser half drops an `allow` written on the function.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use protocol::schedule::{ProjectSecret, Schedule, SchedulePreview, ScheduleRun};
use protocol::task::CreatedTask;

use crate::error::ServerError;

#[cfg(feature = "ssr")]
use crate::backend::current;
#[cfg(feature = "ssr")]
use protocol::schedule::{MissedRuns, PreviewInput, ScheduleInput, SetSecret};
#[cfg(feature = "ssr")]
use protocol::{self as dto};

/// The fields the schedule form shows an error under; any other name the API gives is folded
/// onto the first of them (see `onto_schedule_fields`), so no message is lost.
pub const SCHEDULE_FIELDS: [&str; 6] = ["name", "cron", "timezone", "message", "env", "endsAt"];

#[server(prefix = "/_console")]
pub async fn get_schedules(project_id: String) -> Result<Vec<Schedule>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.schedules(&ctx, project_id).await?)
}

/// What the form's expression means, as it is typed.
#[server(prefix = "/_console")]
pub async fn preview_schedule(
    project_id: String,
    cron: String,
    timezone: String,
) -> Result<SchedulePreview, ServerError> {
    let (b, ctx) = current()?;
    let timezone = Some(timezone.trim().to_owned()).filter(|z| !z.is_empty());
    Ok(b.preview_schedule(
        &ctx,
        project_id,
        PreviewInput {
            cron: Some(cron),
            timezone,
        },
    )
    .await?)
}

/// Creates a schedule from the form. Checkboxes are sent only when ticked; `env` is
/// `KEY=value` lines; `ends_at` a `datetime-local` value, read in the schedule's zone.
#[server(prefix = "/_console")]
pub async fn create_schedule(
    project_id: String,
    name: String,
    cron: String,
    timezone: String,
    message: String,
    env: String,
    auto_execute: String,
    enabled: Option<String>,
    skip_missed: Option<String>,
    allow_overlap: Option<String>,
    ends_at: String,
) -> Result<Schedule, ServerError> {
    let (b, ctx) = current()?;
    let input = form_input(
        name,
        cron,
        timezone,
        message,
        &env,
        &auto_execute,
        enabled.is_some(),
        skip_missed.is_some(),
        allow_overlap.is_some(),
        ends_at,
    )?;
    b.create_schedule(&ctx, project_id, input)
        .await
        .map_err(onto_schedule_fields)
}

/// Saves the edit form: every field is sent, so the schedule becomes what the form shows
/// (and a paused one resumes, acting for whoever saved it).
#[server(prefix = "/_console")]
pub async fn update_schedule(
    project_id: String,
    schedule_id: String,
    name: String,
    cron: String,
    timezone: String,
    message: String,
    env: String,
    auto_execute: String,
    enabled: Option<String>,
    skip_missed: Option<String>,
    allow_overlap: Option<String>,
    ends_at: String,
) -> Result<Schedule, ServerError> {
    let (b, ctx) = current()?;
    let input = form_input(
        name,
        cron,
        timezone,
        message,
        &env,
        &auto_execute,
        enabled.is_some(),
        skip_missed.is_some(),
        allow_overlap.is_some(),
        ends_at,
    )?;
    b.update_schedule(&ctx, project_id, schedule_id, input)
        .await
        .map_err(onto_schedule_fields)
}

#[server(prefix = "/_console")]
pub async fn delete_schedule(project_id: String, schedule_id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_schedule(&ctx, project_id, schedule_id).await?)
}

/// "Run now": the task it started.
#[server(prefix = "/_console")]
pub async fn run_schedule_now(
    project_id: String,
    schedule_id: String,
) -> Result<CreatedTask, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.run_schedule_now(&ctx, project_id, schedule_id).await?)
}

/// The schedule's latest runs, newest first.
#[server(prefix = "/_console")]
pub async fn get_schedule_runs(
    project_id: String,
    schedule_id: String,
) -> Result<Vec<ScheduleRun>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.schedule_runs(&ctx, project_id, schedule_id, Some(20))
        .await?)
}

#[server(prefix = "/_console")]
pub async fn delete_schedule_file(
    project_id: String,
    schedule_id: String,
    name: String,
) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_schedule_file(&ctx, project_id, schedule_id, name)
        .await?)
}

#[server(prefix = "/_console")]
pub async fn get_project_secrets(project_id: String) -> Result<Vec<ProjectSecret>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.project_secrets(&ctx, project_id).await?)
}

/// Adds or replaces a secret. The answer names it; the value is never sent back.
#[server(prefix = "/_console")]
pub async fn set_project_secret(
    project_id: String,
    name: String,
    value: String,
) -> Result<ProjectSecret, ServerError> {
    let (b, ctx) = current()?;
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(ServerError(dto::ApiError::field(
            "name",
            "Name the secret.",
        )));
    }
    Ok(
        b.set_project_secret(&ctx, project_id, name, SetSecret { value: Some(value) })
            .await?,
    )
}

#[server(prefix = "/_console")]
pub async fn delete_project_secret(project_id: String, name: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_project_secret(&ctx, project_id, name).await?)
}

#[cfg(feature = "ssr")]
fn form_input(
    name: String,
    cron: String,
    timezone: String,
    message: String,
    env: &str,
    auto_execute: &str,
    enabled: bool,
    skip_missed: bool,
    allow_overlap: bool,
    ends_at: String,
) -> Result<ScheduleInput, ServerError> {
    let auto_execute = match auto_execute {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let ends_at = Some(ends_at.trim().to_owned()).filter(|e| !e.is_empty());
    Ok(ScheduleInput {
        name: Some(name.trim().to_owned()),
        cron: Some(cron.trim().to_owned()),
        timezone: Some(timezone.trim().to_owned()).filter(|z| !z.is_empty()),
        message: Some(message),
        env: Some(env_lines(env)?),
        auto_execute,
        enabled: Some(enabled),
        ends_at: Some(ends_at),
        missed_runs: Some(if skip_missed {
            MissedRuns::Skip
        } else {
            MissedRuns::RunLatest
        }),
        allow_overlap: Some(allow_overlap),
    })
}

/// `KEY=value` lines as the API's object of strings; blank lines and `#` comments are
/// skipped, and the value is everything after the first `=`, as written.
#[cfg(feature = "ssr")]
fn env_lines(text: &str) -> Result<serde_json::Value, ServerError> {
    let mut map = serde_json::Map::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ServerError(dto::ApiError::field(
                "env",
                format!("Line {}: write KEY=value.", i + 1),
            )));
        };
        let value = value.strip_suffix('\r').unwrap_or(value);
        map.insert(
            key.trim().to_owned(),
            serde_json::Value::String(value.to_owned()),
        );
    }
    Ok(serde_json::Value::Object(map))
}

/// Each message under its input; a name the form has no input for goes under the name.
#[cfg(feature = "ssr")]
fn onto_schedule_fields(mut e: dto::ApiError) -> ServerError {
    let fields = std::mem::take(&mut e.fields);
    for (key, message) in fields {
        let head = key.split(['.', '[']).next().unwrap_or(&key);
        let (target, message) = if SCHEDULE_FIELDS.contains(&head) {
            (head.to_owned(), message)
        } else {
            ("name".to_owned(), format!("{key}: {message}"))
        };
        e.fields
            .entry(target)
            .and_modify(|m| {
                m.push(' ');
                m.push_str(&message);
            })
            .or_insert(message);
    }
    ServerError(e)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn env_lines_read_as_an_object() {
        let Ok(v) = env_lines("A=1\n\n# note\nB = two=2 \r\n") else {
            panic!("lines read");
        };
        assert_eq!(v, serde_json::json!({"A": "1", "B": " two=2 "}));
        let Err(e) = env_lines("A=1\nnope") else {
            panic!("a line without = is refused");
        };
        assert_eq!(e.field_message("env"), Some("Line 2: write KEY=value."));
    }

    #[test]
    fn unknown_fields_land_under_the_name() {
        let mut e = dto::ApiError::field("cron", "bad");
        e.fields.insert("files".to_owned(), "too many".to_owned());
        let e = onto_schedule_fields(e);
        assert_eq!(e.field_message("cron"), Some("bad"));
        assert_eq!(e.field_message("name"), Some("files: too many"));
    }
}
