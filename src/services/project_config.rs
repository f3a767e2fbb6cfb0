//! A project's whole configuration as one document: exported (`GET …/config`) and applied to
//! another project (`POST …/config`) — how a team moves what it tried in a `dev-sandbox`
//! project into production. An import checks the whole document first, lists what it changes
//! (a dry run stops there), and applies it in one transaction: the target ends up configured
//! as the document says, or not touched at all.
//!
//! MCP header and env values never leave in an export: each is `********` unless it is only
//! `{{mcp.KEY}}` placeholders. On import a masked value keeps the target's value of that
//! server and key; where the target has none, the entry is left out and a warning says so.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::access::Caller;
use super::config_diff::{self, Target};
use super::projects::settings_dto;
use super::{Services, new_id, policies, prompts, subagents, ts};
use crate::error::{ApiError, Error, Result};
use crate::mcp::McpServerSpec;
use crate::mcp::spec::MASK;
use crate::skills::{self, SkillBundle, stored};
use crate::store::entities::{mcp_server, project, project_prompt, tool_policy};
use protocol::skills::{ConfigImport, ProjectConfig};
use protocol::{McpServerInput, policy as pdto};

/// The document format this server writes and reads.
pub const FORMAT: u32 = 1;
const MAX_SERVERS: usize = 50;
const MAX_RULES: usize = 500;
const MAX_PROMPTS: usize = 50;

/// A document checked whole, ready to apply.
pub(super) struct Checked {
    pub settings: protocol::ProjectSettings,
    pub servers: Vec<McpServerSpec>,
    pub rules: Vec<policies::Checked>,
    pub prompts: Vec<prompts::Checked>,
    pub skills: Vec<(SkillBundle, bool)>,
    pub subagents: String,
}

impl Services {
    /// The project's configuration (everyone in the project; values of MCP headers and env
    /// are never in it).
    pub async fn export_config(&self, caller: &Caller, project_id: &str) -> Result<ProjectConfig> {
        let scope = self.project_scope(caller, project_id).await?;
        let target = self.config_target(&scope.project).await?;
        Ok(ProjectConfig {
            version: FORMAT,
            project: Some(scope.project.name.clone()),
            exported_at: Some(ts(Utc::now())),
            settings: settings_dto(&scope.project),
            mcp_servers: target
                .servers
                .iter()
                .map(|(name, input)| (name.clone(), masked(input)))
                .collect(),
            tool_policies: target.rules.clone(),
            prompts: target.prompts.clone(),
            skills: target
                .skills
                .iter()
                .map(|(bundle, enabled)| bundle.to_document(*enabled))
                .collect(),
            subagents: crate::subagents::enabled(&scope.project.subagents),
        })
    }

    /// Applies `doc` to the project (project admins), or with `dry_run` only lists what it
    /// would change.
    pub async fn import_config(
        &self,
        caller: &Caller,
        project_id: &str,
        doc: ProjectConfig,
        dry_run: bool,
    ) -> Result<ConfigImport> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let target = self.config_target(&scope.project).await?;
        let mut warnings = Vec::new();
        let checked = self.check_config(&scope.project, &target, doc, &mut warnings)?;
        let changes = config_diff::changes(&target, &checked, &scope.project);
        if dry_run || changes.is_empty() {
            return Ok(ConfigImport {
                dry_run,
                applied: false,
                changes,
                warnings,
            });
        }
        let mut active: project::ActiveModel = scope.project.clone().into();
        self.apply_settings(&mut active, &checked.settings)?;
        active.subagents = Set(checked.subagents.clone());
        let project_id = scope.project.id.clone();
        let this = self.clone();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    active.update(txn).await?;
                    this.replace_servers(txn, &project_id, &target, &checked.servers)
                        .await?;
                    replace_rules(txn, &project_id, checked.rules).await?;
                    replace_prompts(txn, &project_id, checked.prompts).await?;
                    replace_skills(txn, &project_id, &target, &checked.skills).await?;
                    Ok(())
                })
            })
            .await?;
        Ok(ConfigImport {
            dry_run,
            applied: true,
            changes,
            warnings,
        })
    }

    /// The project's configuration as the document would carry it, values revealed (they
    /// stay on the server: masked values of an import are filled from them).
    async fn config_target(&self, project: &project::Model) -> Result<Target> {
        let mut servers = BTreeMap::new();
        let mut rows = BTreeMap::new();
        for row in self.mcp_rows(&project.id).await? {
            let mut input = self.mcp_spec(&row)?.to_input(true);
            input.name = None;
            servers.insert(row.name.clone(), input);
            rows.insert(row.name.clone(), row);
        }
        let rules = crate::policy::store::rows(self.db(), &project.id)
            .await?
            .into_iter()
            .map(|r| pdto::ToolPolicyInput {
                decision: crate::policy::store::decision_of(&r),
                tool: r.tool,
                condition: r.condition,
                note: r.note,
            })
            .collect();
        let prompts = super::prompts::ordered(self.db(), &project.id)
            .await?
            .into_iter()
            .map(|p| pdto::PromptInput {
                name: p.name,
                content: p.content,
                enabled: Some(p.enabled),
                position: None,
            })
            .collect();
        let mut skills = Vec::new();
        let mut skill_rows = BTreeMap::new();
        for row in stored::rows(self.db(), &project.id).await? {
            skills.push((stored::bundle(self.db(), &row).await?, row.enabled));
            skill_rows.insert(row.name.clone(), row);
        }
        Ok(Target {
            servers,
            server_rows: rows,
            rules,
            prompts,
            skills,
            skill_rows,
        })
    }

    /// Every part of `doc` checked, with fields named where they are in the document.
    fn check_config(
        &self,
        project: &project::Model,
        target: &Target,
        doc: ProjectConfig,
        warnings: &mut Vec<String>,
    ) -> Result<Checked> {
        if doc.version != FORMAT {
            return Err(ApiError::field(
                "version",
                format!("This server reads configuration documents of version {FORMAT}."),
            )
            .into());
        }
        let mut errors = BTreeMap::new();
        let mut probe: project::ActiveModel = project.clone().into();
        if let Err(Error::Api(e)) = self.apply_settings(&mut probe, &doc.settings) {
            errors.extend(under("settings.", e));
        }
        let mut servers = Vec::new();
        for (name, input) in &doc.mcp_servers {
            let prefix = format!("mcpServers.{name}.");
            let input = unmask(name, input, target.servers.get(name), warnings);
            match McpServerSpec::from_input(&input, Some(name), &prefix) {
                Ok(spec) => servers.push(spec),
                Err(e) => errors.extend(e),
            }
        }
        let mut rules = Vec::new();
        for (i, input) in doc.tool_policies.into_iter().enumerate() {
            match policies::check(input) {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.extend(under(&format!("toolPolicies[{i}]."), e)),
            }
        }
        let mut prompts = Vec::new();
        for (i, input) in doc.prompts.into_iter().enumerate() {
            match prompts::check(input) {
                Ok(prompt) => prompts.push(prompt),
                Err(e) => errors.extend(under(&format!("prompts[{i}]."), e)),
            }
        }
        let mut skills = Vec::new();
        for (i, skill) in doc.skills.iter().enumerate() {
            let field = format!("skills[{i}]");
            match SkillBundle::from_document(skill, &field) {
                Ok(bundle)
                    if skills.iter().any(|(b, _): &(SkillBundle, bool)| {
                        b.manifest.name == bundle.manifest.name
                    }) =>
                {
                    errors.insert(
                        format!("{field}.name"),
                        format!("A second skill named `{}`.", bundle.manifest.name),
                    );
                }
                Ok(bundle) => skills.push((bundle, skill.enabled)),
                Err(e) => {
                    errors.insert(e.field, e.message);
                }
            }
        }
        let subagents = match subagents::merge_subagents("{}", &doc.subagents) {
            Ok(s) => s,
            Err(e) => {
                errors.extend(under("subagents.", e));
                String::new()
            }
        };
        for (field, count, max) in [
            ("mcpServers", servers.len(), MAX_SERVERS),
            ("toolPolicies", rules.len(), MAX_RULES),
            ("prompts", prompts.len(), MAX_PROMPTS),
            ("skills", skills.len(), skills::MAX_SKILLS),
        ] {
            if count > max {
                errors.insert(field.to_owned(), format!("At most {max} in a project."));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::fields(errors).into());
        }
        Ok(Checked {
            settings: doc.settings,
            servers,
            rules,
            prompts,
            skills,
            subagents,
        })
    }

    async fn replace_servers(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        project_id: &str,
        target: &Target,
        servers: &[McpServerSpec],
    ) -> Result<()> {
        for (name, row) in &target.server_rows {
            if !servers.iter().any(|s| s.name.as_str() == name) {
                mcp_server::Entity::delete_by_id(row.id.clone())
                    .exec(txn)
                    .await?;
            }
        }
        for spec in servers {
            match target.server_rows.get(spec.name.as_str()) {
                Some(row) => {
                    self.update_mcp(txn, row.clone(), spec).await?;
                }
                None => {
                    self.insert_mcp(txn, project_id, spec).await?;
                }
            }
        }
        Ok(())
    }
}

/// The same error with each field under `prefix`.
fn under(prefix: &str, e: ApiError) -> BTreeMap<String, String> {
    if e.fields.is_empty() {
        return BTreeMap::from([(prefix.trim_end_matches('.').to_owned(), e.message)]);
    }
    e.fields
        .into_iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v))
        .collect()
}

/// A header or env value as an export shows it: placeholders as they are, the rest masked.
fn masked(input: &McpServerInput) -> McpServerInput {
    let hide = |values: &BTreeMap<String, String>| {
        values
            .iter()
            .map(|(k, v)| {
                let shown = if is_only_placeholders(v) {
                    v.clone()
                } else {
                    MASK.to_owned()
                };
                (k.clone(), shown)
            })
            .collect()
    };
    McpServerInput {
        headers: hide(&input.headers),
        env: hide(&input.env),
        ..input.clone()
    }
}

/// `{{mcp.TOKEN}}` or `Bearer {{mcp.TOKEN}}`: nothing secret in it.
fn is_only_placeholders(value: &str) -> bool {
    if !value.contains("{{mcp.") {
        return false;
    }
    let mut rest = value;
    let mut literal = String::new();
    while let Some(start) = rest.find("{{") {
        literal.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => return false,
        }
    }
    literal.push_str(rest);
    // An auth scheme's word beside a placeholder is not a secret; anything longer may be.
    literal.trim().len() <= 12 && !literal.chars().any(|c| c.is_ascii_digit())
}

/// A document's server with its masked values filled from the target's server of that name;
/// a value the target does not have is left out, with a warning.
fn unmask(
    name: &str,
    input: &McpServerInput,
    current: Option<&McpServerInput>,
    warnings: &mut Vec<String>,
) -> McpServerInput {
    let mut fill = |values: &BTreeMap<String, String>,
                    theirs: Option<&BTreeMap<String, String>>,
                    what: &str| {
        let mut out = BTreeMap::new();
        for (key, value) in values {
            if value != MASK {
                out.insert(key.clone(), value.clone());
                continue;
            }
            match theirs.and_then(|t| t.get(key)) {
                Some(kept) => {
                    out.insert(key.clone(), kept.clone());
                }
                None => warnings.push(format!(
                    "MCP server `{name}`: the {what} `{key}` has no value here (the document never carries one); set it on the server."
                )),
            }
        }
        out
    };
    McpServerInput {
        headers: fill(&input.headers, current.map(|c| &c.headers), "header"),
        env: fill(&input.env, current.map(|c| &c.env), "env variable"),
        ..input.clone()
    }
}

/// The rules as the document lists them, in its order.
async fn replace_rules(
    txn: &sea_orm::DatabaseTransaction,
    project_id: &str,
    rules: Vec<policies::Checked>,
) -> Result<()> {
    tool_policy::Entity::delete_many()
        .filter(tool_policy::Column::ProjectId.eq(project_id))
        .exec(txn)
        .await?;
    let start = Utc::now();
    for (i, rule) in rules.into_iter().enumerate() {
        // Rules are kept in the order they were made.
        let at = start + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(0));
        tool_policy::ActiveModel {
            id: Set(new_id()),
            project_id: Set(project_id.to_owned()),
            tool: Set(rule.tool),
            decision: Set(rule.decision.as_str().to_owned()),
            condition: Set(rule.condition),
            note: Set(rule.note),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

async fn replace_prompts(
    txn: &sea_orm::DatabaseTransaction,
    project_id: &str,
    prompts: Vec<prompts::Checked>,
) -> Result<()> {
    project_prompt::Entity::delete_many()
        .filter(project_prompt::Column::ProjectId.eq(project_id))
        .exec(txn)
        .await?;
    let now = Utc::now();
    for (i, prompt) in prompts.into_iter().enumerate() {
        project_prompt::ActiveModel {
            id: Set(new_id()),
            project_id: Set(project_id.to_owned()),
            name: Set(prompt.name),
            content: Set(prompt.content),
            position: Set(i64::try_from(i).unwrap_or(i64::MAX)),
            created_at: Set(now),
            enabled: Set(prompt.enabled),
            updated_at: Set(Some(now)),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Skills by name: gone ones removed, changed ones given a new version, the same ones left
/// at their version.
async fn replace_skills(
    txn: &sea_orm::DatabaseTransaction,
    project_id: &str,
    target: &Target,
    skills: &[(SkillBundle, bool)],
) -> Result<()> {
    let gone = target
        .skill_rows
        .iter()
        .filter(|(name, _)| {
            !skills
                .iter()
                .any(|(b, _)| b.manifest.name.as_str() == *name)
        })
        .map(|(_, row)| row.id.clone())
        .collect();
    stored::delete(txn, gone).await?;
    for (bundle, enabled) in skills {
        let name = bundle.manifest.name.as_str();
        let same = target
            .skills
            .iter()
            .any(|(b, e)| b == bundle && e == enabled);
        if same {
            continue;
        }
        let existing = target.skill_rows.get(name).cloned();
        stored::save(txn, project_id, bundle, *enabled, existing).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_placeholders_are_exported_as_they_are() {
        assert!(is_only_placeholders("{{mcp.TOKEN}}"));
        assert!(is_only_placeholders("Bearer {{mcp.TOKEN}}"));
        assert!(!is_only_placeholders("Bearer sk-live-123"));
        assert!(!is_only_placeholders("sk-live-abcdef{{mcp.X}}"));
        assert!(!is_only_placeholders("{{mcp.X"));
    }
}
