//! The built-in subagents a project may offer its agent: each has its own prompt, a subset of
//! the built-in tools, and bounds on its model calls and time. The main agent calls one as a
//! tool named after it, with `{"objective": "…"}`; the subagent works in the same sandbox
//! under the same tool policies (`runtime::agent::subagent`) and answers with its result.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::tools::Builtin;

/// A built-in subagent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subagent {
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub prompt: &'static str,
    pub tools: &'static [Builtin],
    pub max_turns: u32,
    pub max_secs: u64,
}

pub const RESEARCHER: Subagent = Subagent {
    name: "researcher",
    display_name: "Researcher",
    description: "Finds and reads sources (the web and the workspace's files) and reports what it learned, with where it came from. It changes nothing. Give it a question or a topic to investigate.",
    prompt: "You are a researcher working for another agent, in its Linux sandbox (its files are under /workspace). You can search and read the web and read files; you cannot change anything. Investigate the objective you are given: look things up, read the sources, cross-check what matters. Then answer with a concise report of what you found, citing where each finding came from (URLs, file paths). If you could not find something, say so.",
    tools: &[
        Builtin::WebSearch,
        Builtin::WebFetch,
        Builtin::ReadFile,
        Builtin::ListDirectory,
        Builtin::Glob,
        Builtin::SearchFileContent,
    ],
    max_turns: 20,
    max_secs: 600,
};

pub const CODER: Subagent = Subagent {
    name: "coder",
    display_name: "Coder",
    description: "Writes, runs and fixes code and files in the workspace with the shell and file tools, and reports what it changed and how it checked it. Give it a concrete programming objective.",
    prompt: "You are a programmer working for another agent, in its Linux sandbox: /workspace holds the task's files, and skills (if any) are under /skills. Use the shell and file tools to complete the objective you are given: read before you change, run what you write, and check the result. Then answer with a short report of what you changed (file paths) and how you verified it. If you could not finish, say what is left and why.",
    tools: &[
        Builtin::RunShellCommand,
        Builtin::ReadFile,
        Builtin::WriteFile,
        Builtin::Replace,
        Builtin::ListDirectory,
        Builtin::Glob,
        Builtin::SearchFileContent,
    ],
    max_turns: 30,
    max_secs: 900,
};

pub const ALL: [Subagent; 2] = [RESEARCHER, CODER];

pub fn find(name: &str) -> Option<Subagent> {
    ALL.into_iter().find(|s| s.name == name)
}

impl Subagent {
    /// Whether it may use `tool`.
    pub fn uses(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t.name() == tool)
    }

    /// The tool the main agent calls it by.
    pub fn tool_description(&self) -> String {
        format!(
            "Delegate an objective to the {} subagent, which works on its own and answers with its result. {}",
            self.display_name, self.description
        )
    }

    pub fn tool_parameters() -> Value {
        json!({
            "type": "object",
            "properties": {
                "objective": {
                    "type": "string",
                    "description": "What the subagent should achieve, with everything it needs to know: it sees nothing of this conversation."
                }
            },
            "required": ["objective"]
        })
    }

    pub fn to_dto(&self, enabled: bool) -> protocol::skills::Subagent {
        protocol::skills::Subagent {
            name: self.name.to_owned(),
            display_name: self.display_name.to_owned(),
            description: self.description.to_owned(),
            tools: self.tools.iter().map(|t| t.name().to_owned()).collect(),
            max_turns: self.max_turns,
            max_minutes: u32::try_from(self.max_secs / 60).unwrap_or(u32::MAX),
            enabled,
        }
    }
}

/// A project's stored choice (`projects.subagents`): names turned on.
pub fn enabled(stored: &str) -> BTreeMap<String, bool> {
    let map: BTreeMap<String, bool> = serde_json::from_str(stored).unwrap_or_default();
    ALL.iter()
        .map(|s| (s.name.to_owned(), map.get(s.name).copied().unwrap_or(false)))
        .collect()
}

/// The subagents a project offers, from its stored choice.
pub fn offered(stored: &str) -> Vec<Subagent> {
    let on = enabled(stored);
    ALL.into_iter()
        .filter(|s| on.get(s.name).copied().unwrap_or(false))
        .collect()
}
