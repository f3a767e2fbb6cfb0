//! (extension) What a project adds to its agent beyond tools: skills (the open Agent Skills
//! shape: a folder with `SKILL.md` and its files), built-in subagents, and the whole
//! configuration as one document that moves from project to project.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A skill as written in the Console or sent as JSON: its `SKILL.md` is made of `name`,
/// `description` and `instructions`. A ZIP upload carries the same in its `SKILL.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkillInput {
    /// Lower-case letters, digits and single hyphens, at most 64 characters: the folder the
    /// agent finds it in (`/skills/<name>/`).
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = r"^[a-z0-9]+(-[a-z0-9]+)*(?![\s\S])",
            example = "csv-report"
        )
    )]
    pub name: String,
    /// What it does and when to use it: the only part the model sees until it opens the skill.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 1024, pattern = r"\S")
    )]
    pub description: String,
    /// The body of `SKILL.md` (Markdown).
    #[cfg_attr(feature = "openapi", schema(max_length = 100000))]
    pub instructions: String,
    /// Other files by relative path (`scripts/report.py`), as text. Scripts under `scripts/`
    /// and files starting with `#!` are made executable.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Offered to tasks when true (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// One file of a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkillFile {
    /// Relative to the skill's folder.
    pub path: String,
    pub size: u64,
    pub executable: bool,
}

/// A skill as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// The body of its `SKILL.md`.
    pub instructions: String,
    pub enabled: bool,
    /// Starts at 1; every replacement adds one.
    pub version: u32,
    /// Every file, `SKILL.md` included.
    pub files: Vec<SkillFile>,
    pub created_at: String,
    pub updated_at: String,
}

/// Turning a skill on or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkillToggle {
    pub enabled: bool,
}

/// A built-in subagent and whether the project offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Subagent {
    /// The tool the main agent calls it by, with `{"objective": "…"}`.
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// The tools it may use (a subset of the built-ins), under the project's policies.
    pub tools: Vec<String>,
    /// Model calls and minutes one objective may take.
    pub max_turns: u32,
    pub max_minutes: u32,
    pub enabled: bool,
}

/// What an import changes, or would change (a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    Add,
    Update,
    Remove,
}

/// One difference between a project's configuration and an imported document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigChange {
    /// `settings`, `mcpServer`, `toolPolicy`, `prompt`, `skill` or `subagent`.
    pub section: String,
    /// What it is called there: a setting's name, a server's, a rule's tool pattern.
    pub name: String,
    pub change: ChangeKind,
    /// In words: `"model: anthropic/a → openai/b"`, `"allow → ask when args.amount > 100"`.
    pub detail: String,
}

/// The answer to an import: the differences, and whether they were applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigImport {
    pub dry_run: bool,
    pub applied: bool,
    pub changes: Vec<ConfigChange>,
    /// What the target must still do, e.g. an MCP header whose value the document does not
    /// carry and the target does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A skill inside a configuration document: its files whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkillDocument {
    pub name: String,
    pub description: String,
    pub instructions: String,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<SkillDocumentFile>,
}

/// A skill's file in a configuration document: text as it is, anything else in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkillDocumentFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    #[serde(default)]
    pub executable: bool,
}

/// A project's whole configuration (`GET …/config`), which `POST …/config` applies to
/// another project. MCP header and env values are never in it: each shows `********`, and an
/// import keeps the target's value for it (or says the target must set one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfig {
    /// The document's format: 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub version: u32,
    /// Where it came from, for the people who read it (ignored on import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<String>,
    pub settings: crate::ProjectSettings,
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, crate::McpServerInput>,
    /// In order: the first rule that matches a call decides.
    #[serde(default)]
    pub tool_policies: Vec<crate::policy::ToolPolicyInput>,
    /// In order.
    #[serde(default)]
    pub prompts: Vec<crate::policy::PromptInput>,
    #[serde(default)]
    pub skills: Vec<SkillDocument>,
    /// Built-in subagents by name: enabled or not.
    #[serde(default)]
    pub subagents: BTreeMap<String, bool>,
}

/// `POST …/config?dryRun=true` lists the differences without applying them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase")]
pub struct ConfigImportQuery {
    #[serde(default)]
    pub dry_run: Option<bool>,
}
