//! Server functions of a project's skills, subagents and configuration document. A skill's
//! ZIP does not pass through here: the browser sends it to the REST API
//! (`chat::client::upload_skill`), which reads multipart bodies.

use leptos::prelude::*;
use protocol::skills::{ConfigImport, Skill, Subagent};

use crate::error::ServerError;

#[cfg(feature = "ssr")]
use crate::backend::current;
#[cfg(feature = "ssr")]
use protocol::skills::{ProjectConfig, SkillInput};
#[cfg(feature = "ssr")]
use protocol::{self as dto};

#[server(prefix = "/_console")]
pub async fn get_skills(project_id: String) -> Result<Vec<Skill>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.skills(&ctx, project_id).await?)
}

/// Adds a skill written in the form: its `SKILL.md` parts and, optionally, one more file.
#[server(prefix = "/_console")]
pub async fn add_skill(
    project_id: String,
    name: String,
    description: String,
    instructions: String,
    file_path: Option<String>,
    file_text: Option<String>,
    enabled: Option<String>,
) -> Result<Skill, ServerError> {
    let (b, ctx) = current()?;
    let path = file_path.unwrap_or_default().trim().to_owned();
    let text = file_text.unwrap_or_default();
    if path.is_empty() && !text.trim().is_empty() {
        return Err(ServerError(dto::ApiError::field(
            "files",
            "Give the file a path inside the skill's folder, e.g. scripts/report.py.",
        )));
    }
    let mut files = std::collections::BTreeMap::new();
    if !path.is_empty() {
        files.insert(path, text);
    }
    let input = SkillInput {
        name: name.trim().to_owned(),
        description: description.trim().to_owned(),
        instructions,
        files,
        enabled: Some(enabled.is_some()),
    };
    b.create_skill(&ctx, project_id, input)
        .await
        .map_err(|mut e| {
            // `files.scripts/x.py` → the form's one file row, naming the file.
            let entries: Vec<(String, String)> = e
                .fields
                .iter()
                .filter(|(k, _)| k.starts_with("files"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, message) in entries {
                e.fields.remove(&k);
                let message = match k.strip_prefix("files.") {
                    Some(path) => format!("{path}: {message}"),
                    None => message,
                };
                e.fields.insert("files".to_owned(), message);
            }
            ServerError(e)
        })
}

#[server(prefix = "/_console")]
pub async fn set_skill_enabled(
    project_id: String,
    name: String,
    enabled: bool,
) -> Result<Skill, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.set_skill_enabled(&ctx, project_id, name, enabled).await?)
}

#[server(prefix = "/_console")]
pub async fn delete_skill(project_id: String, name: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_skill(&ctx, project_id, name).await?)
}

#[server(prefix = "/_console")]
pub async fn get_subagents(project_id: String) -> Result<Vec<Subagent>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.subagents(&ctx, project_id).await?)
}

/// Turns one subagent on or off.
#[server(prefix = "/_console")]
pub async fn set_subagent(
    project_id: String,
    name: String,
    enabled: bool,
) -> Result<Vec<Subagent>, ServerError> {
    let (b, ctx) = current()?;
    let choice = std::collections::BTreeMap::from([(name, enabled)]);
    Ok(b.set_subagents(&ctx, project_id, choice).await?)
}

/// The project's configuration document, as indented JSON text.
#[server(prefix = "/_console")]
pub async fn export_config(project_id: String) -> Result<String, ServerError> {
    let (b, ctx) = current()?;
    let doc = b.export_config(&ctx, project_id).await?;
    serde_json::to_string_pretty(&doc).map_err(|_| ServerError(dto::ApiError::internal()))
}

/// Compares (`dry_run`) or applies a pasted configuration document. Every problem goes to the
/// form's one field, `document`, naming where in the document it is.
#[server(prefix = "/_console")]
pub async fn import_config(
    project_id: String,
    document: String,
    dry_run: bool,
) -> Result<ConfigImport, ServerError> {
    let (b, ctx) = current()?;
    let refuse = |message: String| ServerError(dto::ApiError::field("document", message));
    if document.trim().is_empty() {
        return Err(refuse(
            "Paste a configuration document (the JSON another project's Download gives).".into(),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(&document)
        .map_err(|e| refuse(format!("This is not valid JSON: {e}.")))?;
    let doc: ProjectConfig = serde_json::from_value(value)
        .map_err(|e| refuse(format!("This is not a Sigmic configuration document: {e}.")))?;
    b.import_config(&ctx, project_id, doc, dry_run)
        .await
        .map_err(|e| {
            if e.fields.is_empty() {
                return ServerError(e);
            }
            let message = e
                .fields
                .iter()
                .map(|(field, why)| format!("{field}: {why}"))
                .collect::<Vec<_>>()
                .join(" ");
            refuse(message)
        })
}
