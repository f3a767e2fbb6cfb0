//! Server functions of a project's tool policy, audit log, prompts and task defaults.

use leptos::prelude::*;
use protocol::policy::{AuditPage, AuditQuery, PolicyCheck, Prompt, ToolPolicy};

use crate::error::ServerError;

#[cfg(feature = "ssr")]
use crate::backend::current;
#[cfg(feature = "ssr")]
use protocol::policy::{Decision, PolicyCheckRequest, PolicyMode, PromptInput, ToolPolicyInput};
#[cfg(feature = "ssr")]
use protocol::{self as dto};

#[cfg(feature = "ssr")]
fn decision(value: &str) -> Result<Decision, ServerError> {
    Decision::parse(value).ok_or_else(|| {
        ServerError(dto::ApiError::field(
            "decision",
            "Choose allow, ask or deny.",
        ))
    })
}

#[server(prefix = "/_console")]
pub async fn get_tool_policies(project_id: String) -> Result<Vec<ToolPolicy>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.tool_policies(&ctx, project_id).await?)
}

/// Adds a rule, or replaces the rule `id` names.
#[server(prefix = "/_console")]
pub async fn save_tool_policy(
    project_id: String,
    id: Option<String>,
    tool: String,
    decision: String,
    condition: Option<String>,
    note: Option<String>,
) -> Result<ToolPolicy, ServerError> {
    let (b, ctx) = current()?;
    let input = ToolPolicyInput {
        tool,
        decision: self::decision(&decision)?,
        condition: condition.filter(|c| !c.trim().is_empty()),
        note: note.filter(|n| !n.trim().is_empty()),
    };
    Ok(match id.filter(|i| !i.is_empty()) {
        Some(id) => b.replace_tool_policy(&ctx, project_id, id, input).await?,
        None => b.create_tool_policy(&ctx, project_id, input).await?,
    })
}

#[server(prefix = "/_console")]
pub async fn delete_tool_policy(project_id: String, id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_tool_policy(&ctx, project_id, id).await?)
}

/// "Try it": the arguments are JSON text, checked here so the form can say what is wrong.
#[server(prefix = "/_console")]
pub async fn try_tool_policy(
    project_id: String,
    tool: String,
    args: String,
) -> Result<PolicyCheck, ServerError> {
    let (b, ctx) = current()?;
    let args = match args.trim() {
        "" => serde_json::Value::Object(Default::default()),
        text => serde_json::from_str(text).map_err(|e| {
            ServerError(dto::ApiError::field(
                "args",
                format!("This is not JSON: {e}."),
            ))
        })?,
    };
    let request = PolicyCheckRequest {
        tool,
        args,
        read_only: None,
    };
    Ok(b.check_tool_policy(&ctx, project_id, request).await?)
}

/// The policy mode and the task defaults, keeping the model and the network as they are.
#[server(prefix = "/_console")]
pub async fn set_task_defaults(
    project_id: String,
    policy_mode: String,
    auto_execute: Option<String>,
    max_turns: Option<String>,
    max_minutes: Option<String>,
) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    let mode = PolicyMode::parse(&policy_mode).ok_or_else(|| {
        ServerError(dto::ApiError::field(
            "policy_mode",
            "Choose one of the options.",
        ))
    })?;
    let number = |field: &str, value: Option<String>| -> Result<Option<u32>, ServerError> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ServerError(dto::ApiError::field(
                    field,
                    "A whole number, or empty for the server's limit.",
                ))
            }),
        }
    };
    let current = b.project_settings(&ctx, project_id.clone()).await?;
    let settings = dto::ProjectSettings {
        policy_mode: mode,
        auto_execute: auto_execute.is_some(),
        max_turns: number("max_turns", max_turns)?,
        max_minutes: number("max_minutes", max_minutes)?,
        ..current
    };
    b.update_project_settings(&ctx, project_id, settings)
        .await
        .map_err(|mut e| {
            for (api, form) in [("maxTurns", "max_turns"), ("maxMinutes", "max_minutes")] {
                if let Some(m) = e.fields.remove(api) {
                    e.fields.insert(form.to_owned(), m);
                }
            }
            ServerError(e)
        })?;
    Ok(())
}

#[server(prefix = "/_console")]
pub async fn get_audit(project_id: String, query: AuditQuery) -> Result<AuditPage, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.audit(&ctx, project_id, query).await?)
}

#[server(prefix = "/_console")]
pub async fn get_prompts(project_id: String) -> Result<Vec<Prompt>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.prompts(&ctx, project_id).await?)
}

/// Adds a prompt, or replaces the one `id` names.
#[server(prefix = "/_console")]
pub async fn save_prompt(
    project_id: String,
    id: Option<String>,
    name: String,
    content: String,
    enabled: Option<String>,
) -> Result<Prompt, ServerError> {
    let (b, ctx) = current()?;
    let input = PromptInput {
        name,
        content,
        enabled: Some(enabled.is_some()),
        position: None,
    };
    Ok(match id.filter(|i| !i.is_empty()) {
        Some(id) => b.replace_prompt(&ctx, project_id, id, input).await?,
        None => b.create_prompt(&ctx, project_id, input).await?,
    })
}

/// Moves a prompt up or down, or switches it on or off.
#[server(prefix = "/_console")]
pub async fn change_prompt(
    project_id: String,
    prompt: Prompt,
    position: u32,
    enabled: bool,
) -> Result<Prompt, ServerError> {
    let (b, ctx) = current()?;
    let input = PromptInput {
        name: prompt.name,
        content: prompt.content,
        enabled: Some(enabled),
        position: Some(position),
    };
    Ok(b.replace_prompt(&ctx, project_id, prompt.id, input).await?)
}

#[server(prefix = "/_console")]
pub async fn delete_prompt(project_id: String, id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_prompt(&ctx, project_id, id).await?)
}
