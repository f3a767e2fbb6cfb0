//! Projects and who may use them.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::access::{self, Caller, ProjectScope};
use super::{Services, new_id, ts, validate};
use crate::egress::NetworkPolicy;
use crate::error::{ApiError, Error, Result};
use crate::store::entities::{
    Role, api_key, audit_entry, mcp_server, org_member, project, project_member, project_prompt,
    project_secret, schedule, schedule_run, tool_policy, user,
};
use protocol as dto;

fn project_dto(p: project::Model, role: Role) -> dto::Project {
    dto::Project {
        id: p.id,
        name: p.name,
        role: role.into(),
        created_at: ts(p.created_at),
    }
}

pub(super) fn settings_dto(p: &project::Model) -> dto::ProjectSettings {
    let positive = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
    dto::ProjectSettings {
        model: p.model.clone(),
        allow_model_choice: p.allow_model_choice,
        network: p.network_policy().to_settings(),
        policy_mode: p.policy_mode(),
        auto_execute: p.auto_execute,
        max_turns: positive(p.max_turns),
        max_minutes: positive(p.max_minutes),
    }
}

/// A project's bound on its runs: at least 1, at most the operator's.
fn within(field: &str, value: Option<u32>, operator: u64, unit: &str) -> Result<Option<i32>> {
    match value {
        None => Ok(None),
        Some(v) if v == 0 || u64::from(v) > operator => Err(ApiError::field(
            field,
            format!("Between 1 and {operator} {unit}, this server's limit."),
        )
        .into()),
        Some(v) => Ok(Some(i32::try_from(v).unwrap_or(i32::MAX))),
    }
}

fn project_name(name: &str) -> Result<String> {
    Ok(validate::name(name, 100, "Project name").map_err(|m| ApiError::field("name", m))?)
}

impl Services {
    /// The projects the caller can reach, oldest first (the first is the one to open).
    pub async fn list_projects(&self, caller: &Caller) -> Result<Vec<dto::Project>> {
        match caller {
            Caller::ApiKey(k) => Ok(project::Entity::find_by_id(k.key.project_id.clone())
                .one(self.db())
                .await?
                .map(|p| project_dto(p, Role::Member))
                .into_iter()
                .collect()),
            // A widget's end user is in its app's project only, and manages nothing.
            Caller::Widget(_) => Ok(Vec::new()),
            Caller::User(u) => {
                let Some((org_id, org_role)) = &u.org else {
                    return Ok(Vec::new());
                };
                let all = project::Entity::find()
                    .filter(project::Column::OrgId.eq(org_id.clone()))
                    .order_by_asc(project::Column::CreatedAt)
                    .all(self.db())
                    .await?;
                if *org_role == Role::Admin {
                    return Ok(all
                        .into_iter()
                        .map(|p| project_dto(p, Role::Admin))
                        .collect());
                }
                let memberships = project_member::Entity::find()
                    .filter(project_member::Column::UserId.eq(u.user.id.clone()))
                    .all(self.db())
                    .await?;
                Ok(all
                    .into_iter()
                    .filter_map(|p| {
                        let m = memberships.iter().find(|m| m.project_id == p.id)?;
                        Some(project_dto(p, m.role))
                    })
                    .collect())
            }
        }
    }

    pub async fn project(&self, caller: &Caller, project_id: &str) -> Result<dto::Project> {
        let scope = self.project_scope(caller, project_id).await?;
        Ok(project_dto(scope.project, scope.role))
    }

    pub async fn create_project(&self, caller: &Caller, name: &str) -> Result<dto::Project> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let name = project_name(name)?;
        self.ensure_project_name_free(&scope.org_id, &name, None)
            .await?;
        let row = project::ActiveModel {
            id: Set(new_id()),
            org_id: Set(scope.org_id),
            name: Set(name),
            created_at: Set(Utc::now()),
            model: Set(None),
            allow_model_choice: Set(false),
            network_mode: Set("internet".to_owned()),
            network_allow: Set(None),
            policy_mode: Set(protocol::policy::PolicyMode::default().as_str().to_owned()),
            auto_execute: Set(true),
            max_turns: Set(None),
            max_minutes: Set(None),
            subagents: Set("{}".to_owned()),
        }
        .insert(self.db())
        .await?;
        Ok(project_dto(row, Role::Admin))
    }

    async fn ensure_project_name_free(
        &self,
        org_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> Result<()> {
        let mut q = project::Entity::find()
            .filter(project::Column::OrgId.eq(org_id))
            .filter(project::Column::Name.eq(name));
        if let Some(id) = except {
            q = q.filter(project::Column::Id.ne(id));
        }
        if q.one(self.db()).await?.is_some() {
            return Err(ApiError::conflict_field(
                "name",
                "A project with this name already exists.",
            )
            .into());
        }
        Ok(())
    }

    pub async fn rename_project(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
    ) -> Result<dto::Project> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_org_admin()?;
        let name = project_name(name)?;
        self.ensure_project_name_free(scope.org_id(), &name, Some(scope.project_id()))
            .await?;
        let mut active: project::ActiveModel = scope.project.into();
        active.name = Set(name);
        let row = active.update(self.db()).await?;
        Ok(project_dto(row, scope.role))
    }

    /// Deletes a project with its memberships and keys, in one transaction.
    pub async fn project_settings(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<dto::ProjectSettings> {
        let scope = self.project_scope(caller, project_id).await?;
        Ok(settings_dto(&scope.project))
    }

    /// Changes a project's settings (project admins): all of them, as a PUT does. The model
    /// must be `provider/model`; an allow-list's domains must be domain names.
    pub async fn update_project_settings(
        &self,
        caller: &Caller,
        project_id: &str,
        settings: dto::ProjectSettings,
    ) -> Result<dto::ProjectSettings> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let mut active: project::ActiveModel = scope.project.into();
        self.apply_settings(&mut active, &settings)?;
        let row = active.update(self.db()).await?;
        Ok(settings_dto(&row))
    }

    /// Checks `settings` whole and sets them on `active`; nothing is set when one is refused.
    pub(super) fn apply_settings(
        &self,
        active: &mut project::ActiveModel,
        settings: &dto::ProjectSettings,
    ) -> Result<()> {
        let model = match settings.model.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(
                m.parse::<crate::llm::ModelName>()
                    .map_err(|e| ApiError::field("model", e.to_string()))?
                    .to_string(),
            ),
        };
        let network = NetworkPolicy::from_settings(&settings.network).map_err(|e| {
            let field = match e.index {
                Some(i) => format!("network.allowedDomains[{i}]"),
                None => "network.allowedDomains".to_owned(),
            };
            ApiError::field(&field, e.reason)
        })?;
        let limits = &self.config().tasks;
        let max_turns = within(
            "maxTurns",
            settings.max_turns,
            u64::from(limits.max_turns),
            "model calls",
        )?;
        let max_minutes = within(
            "maxMinutes",
            settings.max_minutes,
            limits.max_run_secs / 60,
            "minutes",
        )?;
        let (mode, allow) = network.to_stored();
        active.model = Set(model);
        active.allow_model_choice = Set(settings.allow_model_choice);
        active.network_mode = Set(mode.to_owned());
        active.network_allow = Set(allow);
        active.policy_mode = Set(settings.policy_mode.as_str().to_owned());
        active.auto_execute = Set(settings.auto_execute);
        active.max_turns = Set(max_turns);
        active.max_minutes = Set(max_minutes);
        Ok(())
    }

    pub async fn delete_project(&self, caller: &Caller, project_id: &str) -> Result<()> {
        // The project's own rows go with it (tool policies, the audit log, MCP servers,
        // prompts and skills included) in the transaction below.
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_org_admin()?;
        let id = scope.project.id.clone();
        let schedule_ids: Vec<String> = schedule::Entity::find()
            .filter(schedule::Column::ProjectId.eq(id.clone()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    project_member::Entity::delete_many()
                        .filter(project_member::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    api_key::Entity::delete_many()
                        .filter(api_key::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    mcp_server::Entity::delete_many()
                        .filter(mcp_server::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    tool_policy::Entity::delete_many()
                        .filter(tool_policy::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    audit_entry::Entity::delete_many()
                        .filter(audit_entry::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    project_prompt::Entity::delete_many()
                        .filter(project_prompt::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    let skills = crate::skills::stored::rows(txn, &id)
                        .await?
                        .into_iter()
                        .map(|s| s.id)
                        .collect();
                    crate::skills::stored::delete(txn, skills).await?;
                    super::widget_apps::delete_for_project(txn, &id).await?;
                    let schedules: Vec<String> = schedule::Entity::find()
                        .filter(schedule::Column::ProjectId.eq(id.clone()))
                        .all(txn)
                        .await?
                        .into_iter()
                        .map(|s| s.id)
                        .collect();
                    schedule_run::Entity::delete_many()
                        .filter(schedule_run::Column::ScheduleId.is_in(schedules))
                        .exec(txn)
                        .await?;
                    schedule::Entity::delete_many()
                        .filter(schedule::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    project_secret::Entity::delete_many()
                        .filter(project_secret::Column::ProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    user::Entity::update_many()
                        .col_expr(
                            user::Column::DefaultProjectId,
                            Expr::value(Option::<String>::None),
                        )
                        .filter(user::Column::DefaultProjectId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    project::Entity::delete_by_id(id).exec(txn).await?;
                    Ok(())
                })
            })
            .await?;
        for schedule_id in &schedule_ids {
            self.remove_schedule_files(schedule_id).await;
        }
        self.access_changed(access::EVERYONE);
        Ok(())
    }

    /// Everyone who can use the project: org admins (implicitly admin) and explicit members.
    pub async fn project_members(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<Vec<dto::ProjectMember>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        self.members_of(&scope).await
    }

    async fn members_of(&self, scope: &ProjectScope) -> Result<Vec<dto::ProjectMember>> {
        let admins = org_member::Entity::find()
            .filter(org_member::Column::OrgId.eq(scope.org_id()))
            .filter(org_member::Column::Role.eq(Role::Admin))
            .order_by_asc(org_member::Column::CreatedAt)
            .all(self.db())
            .await?;
        let explicit = project_member::Entity::find()
            .filter(project_member::Column::ProjectId.eq(scope.project_id()))
            .order_by_asc(project_member::Column::CreatedAt)
            .all(self.db())
            .await?;
        let mut rows: Vec<(String, Role, bool)> = admins
            .iter()
            .map(|a| (a.user_id.clone(), Role::Admin, true))
            .collect();
        for m in explicit {
            if !rows.iter().any(|(id, _, _)| *id == m.user_id) {
                rows.push((m.user_id, m.role, false));
            }
        }
        let users = self
            .users_by_id(rows.iter().map(|(id, _, _)| id.clone()).collect())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, role, implicit)| {
                let u = users.iter().find(|u| u.id == id)?;
                Some(dto::ProjectMember {
                    user_id: u.id.clone(),
                    email: u.email.clone(),
                    username: u.username.clone(),
                    name: u.name.clone(),
                    role: role.into(),
                    implicit,
                })
            })
            .collect())
    }

    pub async fn add_project_member(
        &self,
        caller: &Caller,
        project_id: &str,
        input: dto::input::AddProjectMember,
    ) -> Result<dto::ProjectMember> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let org_role =
            org_member::Entity::find_by_id((scope.org_id().to_owned(), input.user_id.clone()))
                .one(self.db())
                .await?
                .map(|m| m.role)
                .ok_or_else(|| ApiError::not_found("Member of the organization"))?;
        if org_role == Role::Admin {
            return Err(ApiError::conflict_field(
                "userId",
                "Organization admins are already admins of every project.",
            )
            .into());
        }
        if project_member::Entity::find_by_id((
            scope.project_id().to_owned(),
            input.user_id.clone(),
        ))
        .one(self.db())
        .await?
        .is_some()
        {
            return Err(ApiError::field(
                "userId",
                "This person is already a member of the project.",
            )
            .into());
        }
        project_member::ActiveModel {
            project_id: Set(scope.project_id().to_owned()),
            user_id: Set(input.user_id.clone()),
            role: Set(input.role.into()),
            created_at: Set(Utc::now()),
        }
        .insert(self.db())
        .await?;
        self.member_row(&scope, &input.user_id).await
    }

    async fn member_row(&self, scope: &ProjectScope, user_id: &str) -> Result<dto::ProjectMember> {
        self.members_of(scope)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or_else(|| ApiError::not_found("Member").into())
    }

    async fn explicit_member(
        &self,
        scope: &ProjectScope,
        user_id: &str,
    ) -> Result<project_member::Model> {
        project_member::Entity::find_by_id((scope.project_id().to_owned(), user_id.to_owned()))
            .one(self.db())
            .await?
            .ok_or_else(|| {
                ApiError::not_found("Member (organization admins cannot be changed per project)")
                    .into()
            })
    }

    pub async fn set_project_role(
        &self,
        caller: &Caller,
        project_id: &str,
        user_id: &str,
        role: dto::Role,
    ) -> Result<dto::ProjectMember> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let member = self.explicit_member(&scope, user_id).await?;
        let mut active: project_member::ActiveModel = member.into();
        active.role = Set(role.into());
        active.update(self.db()).await?;
        self.access_changed(user_id);
        self.member_row(&scope, user_id).await
    }

    pub async fn remove_project_member(
        &self,
        caller: &Caller,
        project_id: &str,
        user_id: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let member = self.explicit_member(&scope, user_id).await?;
        project_member::Entity::delete_by_id((member.project_id, member.user_id))
            .exec(self.db())
            .await?;
        self.access_changed(user_id);
        Ok(())
    }
}
