//! The built-in tools' names, descriptions and argument schemas, as models see them.
//!
//! The schemas are written by hand rather than derived: the descriptions are the part a model
//! reads, they are worth wording per field, and a derive crate (schemars) would be one more
//! dependency for nine small objects. Drift between a schema and its argument struct is caught
//! by a test that feeds every schema's properties to the parser (`tests/tools.rs`).

use serde::Serialize;
use serde_json::{Value, json};

/// One tool as offered to a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON Schema (draft 2020-12 subset every provider accepts) of the arguments object.
    pub parameters: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    RunShellCommand,
    ReadFile,
    WriteFile,
    Replace,
    ListDirectory,
    Glob,
    SearchFileContent,
    WebFetch,
    WebSearch,
}

impl Builtin {
    pub const ALL: [Builtin; 9] = [
        Self::RunShellCommand,
        Self::ReadFile,
        Self::WriteFile,
        Self::Replace,
        Self::ListDirectory,
        Self::Glob,
        Self::SearchFileContent,
        Self::WebFetch,
        Self::WebSearch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::RunShellCommand => "run_shell_command",
            Self::ReadFile => "read_file",
            Self::WriteFile => "write_file",
            Self::Replace => "replace",
            Self::ListDirectory => "list_directory",
            Self::Glob => "glob",
            Self::SearchFileContent => "search_file_content",
            Self::WebFetch => "web_fetch",
            Self::WebSearch => "web_search",
        }
    }

    /// Reads only: several such calls in a row may run at once.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Self::ReadFile
                | Self::ListDirectory
                | Self::Glob
                | Self::SearchFileContent
                | Self::WebFetch
                | Self::WebSearch
        )
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn definition(self) -> ToolDefinition {
        let (description, parameters) = match self {
            Self::RunShellCommand => (
                "Runs a shell command (`/bin/sh -c`) in this task's sandbox, a Linux machine whose working directory is /workspace. Returns stdout, stderr, the exit code and whether the command timed out. Use it to build, test, install packages, and run scripts. Long-running servers and interactive programs are not supported; each command has a time limit.",
                object(
                    json!({
                        "command": {"type": "string", "description": "The command line to run, e.g. `ls -la` or `python3 main.py`."},
                        "directory": {"type": "string", "description": "Directory to run in, relative to /workspace (default: /workspace itself). It must exist."},
                        "description": {"type": "string", "description": "A short explanation of what the command does, shown to people following the task."}
                    }),
                    &["command"],
                ),
            ),
            Self::ReadFile => (
                "Reads a text file in /workspace. Returns up to 2000 lines by default; for longer files use offset and limit to read further. Lines longer than 2000 characters are cut. Binary files (images, archives, …) are not shown: the answer names their type and size.",
                object(
                    json!({
                        "path": {"type": "string", "description": "File path relative to /workspace, e.g. `src/main.py` (or `/workspace/src/main.py`)."},
                        "offset": {"type": "integer", "minimum": 0, "description": "0-based line number to start reading at."},
                        "limit": {"type": "integer", "minimum": 1, "description": "Maximum number of lines to read."}
                    }),
                    &["path"],
                ),
            ),
            Self::WriteFile => (
                "Writes text to a file in /workspace, replacing its contents if it exists and creating it (and missing parent directories) if it does not.",
                object(
                    json!({
                        "path": {"type": "string", "description": "File path relative to /workspace."},
                        "content": {"type": "string", "description": "The complete new contents of the file."}
                    }),
                    &["path", "content"],
                ),
            ),
            Self::Replace => (
                "Replaces exact text in a file in /workspace. old_string must match the file exactly (whitespace and indentation included) and occur exactly expected_replacements times (default 1); include enough surrounding lines to make it unique. To create a file or rewrite it whole, use write_file.",
                object(
                    json!({
                        "path": {"type": "string", "description": "File path relative to /workspace."},
                        "old_string": {"type": "string", "description": "The exact text to replace."},
                        "new_string": {"type": "string", "description": "The text to put in its place."},
                        "expected_replacements": {"type": "integer", "minimum": 1, "description": "How many occurrences to replace; the call fails if the file holds a different number. Default 1."}
                    }),
                    &["path", "old_string", "new_string"],
                ),
            ),
            Self::ListDirectory => (
                "Lists the files and directories in a directory of /workspace, directories first, with file sizes.",
                object(
                    json!({
                        "path": {"type": "string", "description": "Directory path relative to /workspace; `.` for /workspace itself."}
                    }),
                    &["path"],
                ),
            ),
            Self::Glob => (
                "Finds files in /workspace whose path matches a glob pattern, e.g. `**/*.py` or `src/**/*.ts`. `*` does not cross `/`; `**` does. A pattern without `/` (like `*.md`) matches file names at any depth. Returns matching paths relative to /workspace, sorted.",
                object(
                    json!({
                        "pattern": {"type": "string", "description": "The glob pattern, relative to `path`."},
                        "path": {"type": "string", "description": "Directory to search in, relative to /workspace (default: /workspace)."}
                    }),
                    &["pattern"],
                ),
            ),
            Self::SearchFileContent => (
                "Searches the text files in /workspace for lines matching a regular expression (Rust regex syntax, like ripgrep's). Returns matching lines as `path:line: text`. Binary files and files over 5 MB are skipped.",
                object(
                    json!({
                        "pattern": {"type": "string", "description": "The regular expression, e.g. `fn\\s+main` or `TODO`."},
                        "include": {"type": "string", "description": "Only search files matching this glob, e.g. `*.rs` or `src/**/*.{ts,tsx}`."},
                        "path": {"type": "string", "description": "Directory to search in, relative to /workspace (default: /workspace)."}
                    }),
                    &["pattern"],
                ),
            ),
            Self::WebFetch => (
                "Fetches a web page (http or https) and returns its content as readable text. Private, local and internal network addresses are not reachable. Use run_shell_command with curl to download files instead.",
                object(
                    json!({
                        "url": {"type": "string", "description": "The full URL, e.g. https://example.com/docs."},
                        "prompt": {"type": "string", "description": "What you are looking for in the page; it is recorded with the result."}
                    }),
                    &["url"],
                ),
            ),
            Self::WebSearch => (
                "Searches the web and returns the top results (title, URL, snippet). Follow up with web_fetch to read a result.",
                object(
                    json!({
                        "query": {"type": "string", "description": "The search query."}
                    }),
                    &["query"],
                ),
            ),
        };
        ToolDefinition {
            name: self.name().to_owned(),
            description: description.to_owned(),
            parameters,
        }
    }

    /// `read_file(path: string, offset?: integer, limit?: integer)`, for error messages.
    pub fn signature(self) -> String {
        let def = self.definition();
        let required: Vec<&str> = def.parameters["required"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let params: Vec<String> = def.parameters["properties"]
            .as_object()
            .map(|props| {
                props
                    .iter()
                    .map(|(name, schema)| {
                        let ty = schema["type"].as_str().unwrap_or("any");
                        let optional = if required.contains(&name.as_str()) {
                            ""
                        } else {
                            "?"
                        };
                        format!("{name}{optional}: {ty}")
                    })
                    .collect()
            })
            .unwrap_or_default();
        format!("{}({})", self.name(), params.join(", "))
    }
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}
