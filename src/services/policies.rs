//! A project's tool policy rules: project admins write them, everyone in the project (and its
//! API keys) reads them and asks what they decide for a call ("try it"). A rule is checked
//! whole before it is saved: its glob, and its CEL condition compiled, with the position of
//! what is wrong.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use super::access::{Caller, ProjectScope};
use super::{Services, new_id};
use crate::error::{ApiError, Result};
use crate::policy::store::{self, to_dto};
use crate::policy::{Decision, Rule, Source};
use crate::store::entities::tool_policy;
use crate::tools::Builtin;
use protocol::policy as dto;

/// Rules one project may have.
const MAX_RULES: u64 = 500;
const MAX_NOTE_CHARS: usize = 500;

/// A rule as it will be stored, checked.
pub(super) struct Checked {
    pub tool: String,
    pub decision: Decision,
    pub condition: Option<String>,
    pub note: Option<String>,
}

pub(super) fn check(input: dto::ToolPolicyInput) -> Result<Checked, ApiError> {
    let condition = input
        .condition
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    Rule::new(
        String::new(),
        &input.tool,
        input.decision,
        condition.as_deref(),
    )
    .map_err(|e| ApiError::field(e.field(), format!("{e}.")))?;
    let note = input
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::field(
            "note",
            format!("At most {MAX_NOTE_CHARS} characters."),
        ));
    }
    Ok(Checked {
        tool: input.tool.trim().to_owned(),
        decision: input.decision,
        condition,
        note,
    })
}

impl Services {
    pub async fn tool_policies(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<Vec<dto::ToolPolicy>> {
        let scope = self.project_scope(caller, project_id).await?;
        let rows = store::rows(self.db(), scope.project_id()).await?;
        Ok(rows.iter().map(to_dto).collect())
    }

    pub async fn tool_policy(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
    ) -> Result<dto::ToolPolicy> {
        let scope = self.project_scope(caller, project_id).await?;
        Ok(to_dto(&self.policy_row(&scope, id).await?))
    }

    /// Adds a rule (project admins).
    pub async fn create_tool_policy(
        &self,
        caller: &Caller,
        project_id: &str,
        input: dto::ToolPolicyInput,
    ) -> Result<dto::ToolPolicy> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let rule = check(input)?;
        let count = tool_policy::Entity::find()
            .filter(tool_policy::Column::ProjectId.eq(scope.project_id()))
            .count(self.db())
            .await?;
        if count >= MAX_RULES {
            return Err(ApiError::field(
                "tool",
                format!("A project has at most {MAX_RULES} tool policy rules."),
            )
            .into());
        }
        let now = Utc::now();
        let row = tool_policy::ActiveModel {
            id: Set(new_id()),
            project_id: Set(scope.project_id().to_owned()),
            tool: Set(rule.tool),
            decision: Set(rule.decision.as_str().to_owned()),
            condition: Set(rule.condition),
            note: Set(rule.note),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await?;
        Ok(to_dto(&row))
    }

    /// Replaces a rule (project admins).
    pub async fn replace_tool_policy(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
        input: dto::ToolPolicyInput,
    ) -> Result<dto::ToolPolicy> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.policy_row(&scope, id).await?;
        let rule = check(input)?;
        let mut active: tool_policy::ActiveModel = row.into();
        active.tool = Set(rule.tool);
        active.decision = Set(rule.decision.as_str().to_owned());
        active.condition = Set(rule.condition);
        active.note = Set(rule.note);
        active.updated_at = Set(Utc::now());
        Ok(to_dto(&active.update(self.db()).await?))
    }

    pub async fn delete_tool_policy(
        &self,
        caller: &Caller,
        project_id: &str,
        id: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.policy_row(&scope, id).await?;
        tool_policy::Entity::delete_by_id(row.id)
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// "Try it": what the project's rules and mode decide for a call, and which rule.
    pub async fn check_tool_policy(
        &self,
        caller: &Caller,
        project_id: &str,
        request: dto::PolicyCheckRequest,
    ) -> Result<dto::PolicyCheck> {
        let scope = self.project_scope(caller, project_id).await?;
        let tool = request.tool.trim();
        if tool.is_empty() {
            return Err(ApiError::field("tool", "A tool name is required.").into());
        }
        let args = match request.args {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            args @ serde_json::Value::Object(_) => args,
            _ => {
                return Err(ApiError::field("args", "The arguments are a JSON object.").into());
            }
        };
        let read_only = request
            .read_only
            .unwrap_or_else(|| Builtin::from_name(tool).is_some_and(Builtin::is_read_only));
        let rows = store::rows(self.db(), scope.project_id()).await?;
        let set = store::compile(&rows, scope.project.policy_mode());
        let found = set.evaluate(tool, &args, read_only);
        let by_id = |id: &str| rows.iter().find(|r| r.id == id).map(to_dto);
        Ok(dto::PolicyCheck {
            decision: found.decision,
            rule: match &found.source {
                Source::Rule(id) => by_id(id),
                Source::Mode(_) => None,
            },
            reason: found.reason,
            matched: found.matched.iter().filter_map(|id| by_id(id)).collect(),
        })
    }

    async fn policy_row(&self, scope: &ProjectScope, id: &str) -> Result<tool_policy::Model> {
        tool_policy::Entity::find_by_id(id.to_owned())
            .filter(tool_policy::Column::ProjectId.eq(scope.project_id()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Tool policy rule").into())
    }
}
