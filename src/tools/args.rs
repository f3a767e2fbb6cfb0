//! The tools' argument objects and their parsing. Unknown fields are refused (a misspelt
//! `file_path` must not silently become "no path"), and every failure names the tool's
//! signature so the model can correct the call in one step.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Builtin;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunShellCommand {
    pub command: String,
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadFile {
    pub path: String,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replace {
    pub path: String,
    pub old_string: String,
    pub new_string: String,
    #[serde(default)]
    pub expected_replacements: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDirectory {
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Glob {
    pub pattern: String,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFileContent {
    pub pattern: String,
    #[serde(default)]
    pub include: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebFetch {
    pub url: String,
    #[serde(default)]
    pub prompt: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSearch {
    pub query: String,
}

/// Parses a call's arguments into the tool's argument struct.
pub fn parse<T: DeserializeOwned>(tool: Builtin, raw: Value) -> Result<T, String> {
    let object = match raw {
        Value::Object(_) => raw,
        // Some models send no arguments as `null`; the missing fields are then reported.
        Value::Null => Value::Object(serde_json::Map::new()),
        // Some send the arguments object as a JSON string.
        Value::String(ref s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(not_an_object(tool)),
        },
        _ => return Err(not_an_object(tool)),
    };
    serde_json::from_value(object).map_err(|e| {
        format!(
            "Invalid arguments for {}: {e}. Call it as {}.",
            tool.name(),
            tool.signature()
        )
    })
}

fn not_an_object(tool: Builtin) -> String {
    format!(
        "The arguments of {} must be a JSON object: {}.",
        tool.name(),
        tool.signature()
    )
}

/// Parses without running, for every tool.
pub fn validate(tool: Builtin, raw: Value) -> Result<(), String> {
    match tool {
        Builtin::RunShellCommand => parse::<RunShellCommand>(tool, raw).map(drop),
        Builtin::ReadFile => parse::<ReadFile>(tool, raw).map(drop),
        Builtin::WriteFile => parse::<WriteFile>(tool, raw).map(drop),
        Builtin::Replace => parse::<Replace>(tool, raw).map(drop),
        Builtin::ListDirectory => parse::<ListDirectory>(tool, raw).map(drop),
        Builtin::Glob => parse::<Glob>(tool, raw).map(drop),
        Builtin::SearchFileContent => parse::<SearchFileContent>(tool, raw).map(drop),
        Builtin::WebFetch => parse::<WebFetch>(tool, raw).map(drop),
        Builtin::WebSearch => parse::<WebSearch>(tool, raw).map(drop),
    }
}

/// Refuses an empty required string with a message naming the field.
pub fn non_empty(tool: Builtin, field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!(
            "`{field}` of {} must not be empty. Call it as {}.",
            tool.name(),
            tool.signature()
        ))
    } else {
        Ok(())
    }
}
