//! The rules of a task's input: the message, the prompt, `env` and `secrets`, and the limits of
//! the list page. Each refusal names the field, so a client can show it next to its input.

use std::collections::BTreeMap;

use protocol::error::{ApiError, ErrorCode};
use serde_json::Value;

use protocol::task::input::CreateTask;

pub const MESSAGE_MAX_CHARS: usize = 200_000;
pub const SYSTEM_PROMPT_MAX_CHARS: usize = 100_000;
pub const ENV_MAX_ENTRIES: usize = 100;
pub const ENV_VALUE_MAX_CHARS: usize = 64 * 1024;
pub const LIST_DEFAULT: u64 = 50;
pub const LIST_MAX: u64 = 100;
/// The largest `offset` a list takes (the OpenAPI document states it).
pub const LIST_MAX_OFFSET: u64 = i32::MAX as u64;

pub(super) struct Checked {
    pub message: String,
    pub system_prompt: Option<String>,
    pub show_in_history: bool,
    /// The project's default when `None`.
    pub auto_execute: Option<bool>,
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub project_secrets: Option<Vec<String>>,
    /// The model the person picked; the project's when `None`.
    pub model: Option<crate::llm::ModelName>,
}

pub(super) fn check_message(message: Option<String>) -> Result<String, ApiError> {
    let message = message.unwrap_or_default();
    if message.trim().is_empty() {
        return Err(ApiError::field(
            "message",
            "Write a message: it is required and cannot be empty.",
        ));
    }
    if message.contains('\0') {
        return Err(ApiError::field(
            "message",
            "The message contains a NUL character.",
        ));
    }
    if message.chars().count() > MESSAGE_MAX_CHARS {
        return Err(ApiError::field(
            "message",
            format!("The message is too long: at most {MESSAGE_MAX_CHARS} characters."),
        ));
    }
    Ok(message)
}

pub(super) fn check_new_task(input: CreateTask) -> Result<Checked, ApiError> {
    let message = check_message(input.message)?;
    if let Some(p) = &input.system_prompt
        && p.contains('\0')
    {
        return Err(ApiError::field(
            "systemPrompt",
            "The system prompt contains a NUL character.",
        ));
    }
    if let Some(p) = &input.system_prompt
        && p.chars().count() > SYSTEM_PROMPT_MAX_CHARS
    {
        return Err(ApiError::field(
            "systemPrompt",
            format!("The system prompt is too long: at most {SYSTEM_PROMPT_MAX_CHARS} characters."),
        ));
    }
    let env = check_env("env", input.env)?;
    let secrets = check_env("secrets", input.secrets)?;
    let project_secrets = input.project_secrets.map(dedup_names).transpose()?;
    let model = match input.model.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => Some(
            m.parse::<crate::llm::ModelName>()
                .map_err(|e| ApiError::field("model", e.to_string()))?,
        ),
    };
    Ok(Checked {
        model,
        project_secrets,
        message,
        system_prompt: input.system_prompt.filter(|p| !p.trim().is_empty()),
        show_in_history: input.show_in_history.unwrap_or(true),
        auto_execute: input.auto_execute,
        env,
        secrets,
    })
}

/// `env` and `secrets`: an object of strings with names a shell accepts.
pub fn check_env(field: &str, value: Option<Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = |message: String| {
        let mut e = ApiError::new(ErrorCode::InvalidEnv, message.clone());
        e.fields.insert(field.to_owned(), message);
        e
    };
    let map = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(invalid(format!(
                "`{field}` must be an object of strings, like {{\"NAME\": \"value\"}}."
            )));
        }
    };
    if map.len() > ENV_MAX_ENTRIES {
        return Err(invalid(format!(
            "`{field}` has {} entries; at most {ENV_MAX_ENTRIES} are allowed.",
            map.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (name, value) in map {
        if !env_name_ok(&name) {
            return Err(invalid(format!(
                "`{name}` in `{field}` is not a valid name: use letters, digits and `_`, not starting with a digit ([A-Za-z_][A-Za-z0-9_]*)."
            )));
        }
        let Value::String(value) = value else {
            return Err(invalid(format!(
                "The value of `{name}` in `{field}` must be a string."
            )));
        };
        if value.chars().count() > ENV_VALUE_MAX_CHARS {
            return Err(invalid(format!(
                "The value of `{name}` in `{field}` is over {ENV_VALUE_MAX_CHARS} characters."
            )));
        }
        if value.contains('\0') {
            return Err(invalid(format!(
                "The value of `{name}` in `{field}` contains a NUL character."
            )));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// `projectSecrets`: names a shell accepts, each once.
fn dedup_names(names: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    if names.len() > ENV_MAX_ENTRIES {
        return Err(ApiError::field(
            "projectSecrets",
            format!("At most {ENV_MAX_ENTRIES} project secrets can be named."),
        ));
    }
    for name in names {
        if !env_name_ok(&name) {
            return Err(ApiError::field(
                "projectSecrets",
                format!(
                    "`{name}` is not a secret's name: use letters, digits and `_`, not starting with a digit."
                ),
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

pub(crate) fn env_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

/// A title from the first message: its first line, cut at a word near 80 characters.
pub fn title_of(message: &str) -> String {
    let line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= 80 {
        return line.to_owned();
    }
    let cut: String = line.chars().take(80).collect();
    let at = cut.rfind(' ').filter(|i| *i > 40).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
}
