//! What importing a configuration document changes in a project, in words a person checks
//! before applying it: each setting that differs, each MCP server, rule, prompt, skill and
//! subagent added, changed or removed.

use std::collections::BTreeMap;

use protocol::McpServerInput;
use protocol::policy::{PromptInput, ToolPolicyInput};
use protocol::skills::{ChangeKind, ConfigChange};

use super::project_config::Checked;
use super::projects::settings_dto;
use crate::skills::SkillBundle;
use crate::store::entities::{mcp_server, project, skill};

/// A project's configuration as it is now.
pub(super) struct Target {
    /// Values revealed: they never leave the server.
    pub servers: BTreeMap<String, McpServerInput>,
    pub server_rows: BTreeMap<String, mcp_server::Model>,
    pub rules: Vec<ToolPolicyInput>,
    pub prompts: Vec<PromptInput>,
    pub skills: Vec<(SkillBundle, bool)>,
    pub skill_rows: BTreeMap<String, skill::Model>,
}

fn change(section: &str, name: &str, change: ChangeKind, detail: String) -> ConfigChange {
    ConfigChange {
        section: section.to_owned(),
        name: name.to_owned(),
        change,
        detail,
    }
}

fn shown<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Every difference between `target` and the checked document.
pub(super) fn changes(
    target: &Target,
    doc: &Checked,
    project: &project::Model,
) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    settings(&mut out, project, doc);
    servers(&mut out, target, doc);
    rules(&mut out, target, doc);
    prompts(&mut out, target, doc);
    skills(&mut out, target, doc);
    subagents(&mut out, project, doc);
    out
}

fn settings(out: &mut Vec<ConfigChange>, project: &project::Model, doc: &Checked) {
    let now = serde_json::to_value(settings_dto(project)).unwrap_or_default();
    let new = serde_json::to_value(&doc.settings).unwrap_or_default();
    if let (Some(now), Some(new)) = (now.as_object(), new.as_object()) {
        for (key, value) in new {
            let old = now.get(key).cloned().unwrap_or_default();
            if &old != value {
                out.push(change(
                    "settings",
                    key,
                    ChangeKind::Update,
                    format!("{key}: {} → {}", shown(&old), shown(value)),
                ));
            }
        }
    }
}

fn servers(out: &mut Vec<ConfigChange>, target: &Target, doc: &Checked) {
    for spec in &doc.servers {
        let name = spec.name.as_str();
        let mut new = spec.to_input(true);
        new.name = None;
        match target.servers.get(name) {
            None => out.push(change(
                "mcpServer",
                name,
                ChangeKind::Add,
                format!("{} server", spec.endpoint.transport().as_str()),
            )),
            Some(old) if *old != new => {
                let fields = differing_fields(old, &new);
                out.push(change(
                    "mcpServer",
                    name,
                    ChangeKind::Update,
                    format!("changes {}", fields.join(", ")),
                ));
            }
            Some(_) => {}
        }
    }
    for name in target.servers.keys() {
        if !doc.servers.iter().any(|s| s.name.as_str() == name) {
            out.push(change("mcpServer", name, ChangeKind::Remove, String::new()));
        }
    }
}

/// The top-level fields of two values that differ (names only: values may be secret).
fn differing_fields<T: serde::Serialize>(old: &T, new: &T) -> Vec<String> {
    let (old, new) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    let empty = serde_json::Map::new();
    let (old, new) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| format!("`{k}`"))
        .collect()
}

fn rule_text(r: &ToolPolicyInput) -> String {
    match &r.condition {
        Some(c) => format!("{} {} when {c}", r.decision.as_str(), r.tool),
        None => format!("{} {}", r.decision.as_str(), r.tool),
    }
}

/// Rules are a list: the ones only in the document are added, the ones only in the project
/// removed; the same rules in another order change the order.
fn rules(out: &mut Vec<ConfigChange>, target: &Target, doc: &Checked) {
    let new: Vec<ToolPolicyInput> = doc
        .rules
        .iter()
        .map(|r| ToolPolicyInput {
            tool: r.tool.clone(),
            decision: r.decision,
            condition: r.condition.clone(),
            note: r.note.clone(),
        })
        .collect();
    let mut left = target.rules.clone();
    let mut added = Vec::new();
    for rule in &new {
        match left.iter().position(|r| r == rule) {
            Some(i) => {
                left.remove(i);
            }
            None => added.push(rule),
        }
    }
    for rule in &added {
        out.push(change(
            "toolPolicy",
            &rule.tool,
            ChangeKind::Add,
            rule_text(rule),
        ));
    }
    for rule in &left {
        out.push(change(
            "toolPolicy",
            &rule.tool,
            ChangeKind::Remove,
            rule_text(rule),
        ));
    }
    if added.is_empty() && left.is_empty() && new != target.rules {
        out.push(change(
            "toolPolicy",
            "order",
            ChangeKind::Update,
            "the same rules in another order".to_owned(),
        ));
    }
}

fn prompts(out: &mut Vec<ConfigChange>, target: &Target, doc: &Checked) {
    for (i, p) in doc.prompts.iter().enumerate() {
        match target.prompts.iter().position(|t| t.name == p.name) {
            None => out.push(change("prompt", &p.name, ChangeKind::Add, String::new())),
            Some(j) => {
                let t = &target.prompts[j];
                let mut what = Vec::new();
                if t.content != p.content {
                    what.push("its text".to_owned());
                }
                if t.enabled.unwrap_or(true) != p.enabled {
                    what.push(if p.enabled { "on" } else { "off" }.to_owned());
                }
                if i != j {
                    what.push(format!("position {j} → {i}"));
                }
                if !what.is_empty() {
                    out.push(change(
                        "prompt",
                        &p.name,
                        ChangeKind::Update,
                        what.join(", "),
                    ));
                }
            }
        }
    }
    for t in &target.prompts {
        if !doc.prompts.iter().any(|p| p.name == t.name) {
            out.push(change("prompt", &t.name, ChangeKind::Remove, String::new()));
        }
    }
}

fn skills(out: &mut Vec<ConfigChange>, target: &Target, doc: &Checked) {
    for (bundle, enabled) in &doc.skills {
        let name = bundle.manifest.name.as_str();
        match target
            .skills
            .iter()
            .find(|(b, _)| b.manifest.name.as_str() == name)
        {
            None => out.push(change(
                "skill",
                name,
                ChangeKind::Add,
                format!("{} files", bundle.files.len()),
            )),
            Some((old, was)) => {
                let mut what = Vec::new();
                if old.manifest.description != bundle.manifest.description {
                    what.push("its description".to_owned());
                }
                if old.files != bundle.files {
                    what.push("its files (a new version)".to_owned());
                }
                if was != enabled {
                    what.push(if *enabled { "on" } else { "off" }.to_owned());
                }
                if !what.is_empty() {
                    out.push(change("skill", name, ChangeKind::Update, what.join(", ")));
                }
            }
        }
    }
    for (old, _) in &target.skills {
        let name = old.manifest.name.as_str();
        if !doc
            .skills
            .iter()
            .any(|(b, _)| b.manifest.name.as_str() == name)
        {
            out.push(change("skill", name, ChangeKind::Remove, String::new()));
        }
    }
}

fn subagents(out: &mut Vec<ConfigChange>, project: &project::Model, doc: &Checked) {
    let now = crate::subagents::enabled(&project.subagents);
    let new = crate::subagents::enabled(&doc.subagents);
    for (name, on) in &new {
        if now.get(name) != Some(on) {
            let detail = if *on { "off → on" } else { "on → off" };
            out.push(change(
                "subagent",
                name,
                ChangeKind::Update,
                detail.to_owned(),
            ));
        }
    }
}
