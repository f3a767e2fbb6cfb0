//! The Console's server functions reach the services through `app::backend::Backend`. Each
//! method resolves the caller from the request's headers exactly as the REST API does, then
//! calls the same service.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use app::backend::{Backend, Issued, RequestCtx};
use protocol::error::ApiError;
use protocol::{self as dto, input, policy, schedule, skills, task, usage, widget};

use crate::scheduler::Scheduler;
use crate::services::Services;
use crate::services::access::Caller;
use crate::services::accounts::user_dto;
use crate::services::skills::SkillSource;
use crate::services::tasks::TaskService;

/// The services as the Console's pages reach them, with the OpenAPI document the server
/// rendered at start-up: handed in, because the router that renders it sits above this.
#[derive(Clone)]
pub struct Console {
    services: Services,
    tasks: TaskService,
    openapi_json: Arc<String>,
}

impl Console {
    pub fn new(services: Services, tasks: TaskService, openapi_json: Arc<String>) -> Self {
        Self {
            services,
            tasks,
            openapi_json,
        }
    }

    async fn caller(&self, ctx: &RequestCtx) -> Result<Caller, ApiError> {
        match self.services.require_caller(&ctx.headers).await? {
            Caller::Widget(_) => Err(ApiError::forbidden(
                "A widget token can only use the Task API, as its end user.",
            )),
            caller => Ok(caller),
        }
    }
}

#[async_trait]
impl Backend for Console {
    async fn signup(&self, ctx: &RequestCtx, input: input::Signup) -> Result<Issued, ApiError> {
        let opened = self.services.signup(input.into(), ctx.client_ip).await?;
        Ok(Issued {
            user: user_dto(&opened.user),
            set_cookie: self.services.session_cookie(&opened.token),
        })
    }

    async fn login(&self, ctx: &RequestCtx, input: input::Login) -> Result<Issued, ApiError> {
        let opened = self
            .services
            .login(&input.email, input.password, ctx.client_ip)
            .await?;
        Ok(Issued {
            user: user_dto(&opened.user),
            set_cookie: self.services.session_cookie(&opened.token),
        })
    }

    async fn logout(&self, ctx: &RequestCtx) -> Result<String, ApiError> {
        let caller = self
            .services
            .authenticate(&ctx.headers)
            .await
            .ok()
            .flatten();
        self.services.logout(caller.as_ref()).await?;
        Ok(self.services.clear_session_cookie())
    }

    async fn invitation_preview(&self, token: String) -> Result<dto::InvitationPreview, ApiError> {
        Ok(self.services.invitation_preview(&token).await?)
    }

    async fn me(&self, ctx: &RequestCtx) -> Result<dto::Me, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.me(&caller).await?)
    }

    async fn organization(&self, ctx: &RequestCtx) -> Result<dto::Organization, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.organization(&caller).await?)
    }

    async fn rename_organization(
        &self,
        ctx: &RequestCtx,
        name: String,
    ) -> Result<dto::Organization, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.rename_organization(&caller, &name).await?)
    }

    async fn org_members(&self, ctx: &RequestCtx) -> Result<Vec<dto::OrgMember>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.org_members(&caller).await?)
    }

    async fn set_org_role(
        &self,
        ctx: &RequestCtx,
        user_id: String,
        role: dto::Role,
    ) -> Result<dto::OrgMember, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.set_org_role(&caller, &user_id, role).await?)
    }

    async fn remove_org_member(&self, ctx: &RequestCtx, user_id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.remove_org_member(&caller, &user_id).await?)
    }

    async fn invitations(&self, ctx: &RequestCtx) -> Result<Vec<dto::Invitation>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.invitations(&caller).await?)
    }

    async fn invite(
        &self,
        ctx: &RequestCtx,
        input: input::Invite,
    ) -> Result<dto::CreatedInvitation, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.invite(&caller, input).await?)
    }

    async fn revoke_invitation(&self, ctx: &RequestCtx, id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.revoke_invitation(&caller, &id).await?)
    }

    async fn projects(&self, ctx: &RequestCtx) -> Result<Vec<dto::Project>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.list_projects(&caller).await?)
    }

    async fn create_project(
        &self,
        ctx: &RequestCtx,
        name: String,
    ) -> Result<dto::Project, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.create_project(&caller, &name).await?)
    }

    async fn rename_project(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<dto::Project, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .rename_project(&caller, &project_id, &name)
            .await?)
    }

    async fn delete_project(&self, ctx: &RequestCtx, project_id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.tasks.delete_project(&caller, &project_id).await?)
    }

    async fn project_members(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::ProjectMember>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.project_members(&caller, &project_id).await?)
    }

    async fn add_project_member(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: input::AddProjectMember,
    ) -> Result<dto::ProjectMember, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .add_project_member(&caller, &project_id, input)
            .await?)
    }

    async fn set_project_role(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        user_id: String,
        role: dto::Role,
    ) -> Result<dto::ProjectMember, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .set_project_role(&caller, &project_id, &user_id, role)
            .await?)
    }

    async fn remove_project_member(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        user_id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .remove_project_member(&caller, &project_id, &user_id)
            .await?)
    }

    async fn api_keys(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::ApiKey>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.api_keys(&caller, &project_id).await?)
    }

    async fn project_settings(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<dto::ProjectSettings, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.project_settings(&caller, &project_id).await?)
    }

    async fn project_models(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<dto::ProjectModels, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.project_models(&caller, &project_id).await?)
    }

    async fn model_providers(&self, ctx: &RequestCtx) -> Result<Vec<dto::ModelProvider>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.model_providers(&caller).await?)
    }

    async fn create_model_provider(
        &self,
        ctx: &RequestCtx,
        input: dto::ModelProviderInput,
    ) -> Result<dto::ModelProvider, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.create_model_provider(&caller, input).await?)
    }

    async fn update_model_provider(
        &self,
        ctx: &RequestCtx,
        id: String,
        update: dto::ModelProviderUpdate,
    ) -> Result<dto::ModelProvider, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .update_model_provider(&caller, &id, update)
            .await?)
    }

    async fn delete_model_provider(&self, ctx: &RequestCtx, id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.delete_model_provider(&caller, &id).await?)
    }

    async fn test_model_provider(
        &self,
        ctx: &RequestCtx,
        id: String,
    ) -> Result<dto::ModelProviderTest, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.test_model_provider(&caller, &id).await?)
    }

    async fn update_project_settings(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        settings: dto::ProjectSettings,
    ) -> Result<dto::ProjectSettings, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .update_project_settings(&caller, &project_id, settings)
            .await?)
    }

    async fn create_api_key(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: input::CreateApiKey,
    ) -> Result<dto::CreatedApiKey, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .create_api_key(&caller, &project_id, input)
            .await?)
    }

    async fn revoke_api_key(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        key_id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .revoke_api_key(&caller, &project_id, &key_id)
            .await?)
    }

    async fn mcp_servers(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::McpServer>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.mcp_servers(&caller, &project_id).await?)
    }

    async fn create_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: dto::McpServerInput,
    ) -> Result<dto::McpServer, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .create_mcp_server(&caller, &project_id, input)
            .await?)
    }

    async fn import_mcp_servers(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        document: dto::McpServersDocument,
    ) -> Result<Vec<dto::McpServer>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .import_mcp_servers(&caller, &project_id, document)
            .await?)
    }

    async fn replace_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
        input: dto::McpServerInput,
    ) -> Result<dto::McpServer, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .replace_mcp_server(&caller, &project_id, &name, input)
            .await?)
    }

    async fn delete_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_mcp_server(&caller, &project_id, &name)
            .await?)
    }

    async fn test_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<dto::McpTestResult, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .test_mcp_server(&caller, &project_id, &name, dto::McpTestRequest::default())
            .await?)
    }

    async fn tool_policies(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<policy::ToolPolicy>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.tool_policies(&caller, &project_id).await?)
    }

    async fn create_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: policy::ToolPolicyInput,
    ) -> Result<policy::ToolPolicy, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .create_tool_policy(&caller, &project_id, input)
            .await?)
    }

    async fn replace_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
        input: policy::ToolPolicyInput,
    ) -> Result<policy::ToolPolicy, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .replace_tool_policy(&caller, &project_id, &id, input)
            .await?)
    }

    async fn delete_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_tool_policy(&caller, &project_id, &id)
            .await?)
    }

    async fn check_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        request: policy::PolicyCheckRequest,
    ) -> Result<policy::PolicyCheck, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .check_tool_policy(&caller, &project_id, request)
            .await?)
    }

    async fn audit(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        query: policy::AuditQuery,
    ) -> Result<policy::AuditPage, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.audit(&caller, &project_id, &query).await?)
    }

    async fn prompts(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<policy::Prompt>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.prompts(&caller, &project_id).await?)
    }

    async fn create_prompt(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: policy::PromptInput,
    ) -> Result<policy::Prompt, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .create_prompt(&caller, &project_id, input)
            .await?)
    }

    async fn replace_prompt(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
        input: policy::PromptInput,
    ) -> Result<policy::Prompt, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .replace_prompt(&caller, &project_id, &id, input)
            .await?)
    }

    async fn delete_prompt(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_prompt(&caller, &project_id, &id)
            .await?)
    }

    async fn skills(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<skills::Skill>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.skills(&caller, &project_id).await?)
    }

    async fn create_skill(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: skills::SkillInput,
    ) -> Result<skills::Skill, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .create_skill(&caller, &project_id, SkillSource::Json(input))
            .await?)
    }

    async fn set_skill_enabled(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
        enabled: bool,
    ) -> Result<skills::Skill, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .set_skill_enabled(&caller, &project_id, &name, enabled)
            .await?)
    }

    async fn delete_skill(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_skill(&caller, &project_id, &name)
            .await?)
    }

    async fn subagents(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<skills::Subagent>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.subagents(&caller, &project_id).await?)
    }

    async fn set_subagents(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        choice: BTreeMap<String, bool>,
    ) -> Result<Vec<skills::Subagent>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .set_subagents(&caller, &project_id, choice)
            .await?)
    }

    async fn export_config(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<skills::ProjectConfig, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.export_config(&caller, &project_id).await?)
    }

    async fn import_config(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        doc: skills::ProjectConfig,
        dry_run: bool,
    ) -> Result<skills::ConfigImport, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .import_config(&caller, &project_id, doc, dry_run)
            .await?)
    }

    async fn widget_apps(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<widget::WidgetApp>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.widget_apps(&caller, &project_id).await?)
    }

    async fn widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
    ) -> Result<widget::WidgetApp, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .widget_app(&caller, &project_id, &app_id)
            .await?)
    }

    async fn create_widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: widget::WidgetAppInput,
    ) -> Result<widget::WidgetAppWithSecret, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .create_widget_app(&caller, &project_id, input)
            .await?)
    }

    async fn update_widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
        input: widget::WidgetAppInput,
    ) -> Result<widget::WidgetApp, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .update_widget_app(&caller, &project_id, &app_id, input)
            .await?)
    }

    async fn delete_widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_widget_app(&caller, &project_id, &app_id)
            .await?)
    }

    async fn rotate_widget_secret(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
        input: widget::RotateSecret,
    ) -> Result<widget::WidgetAppWithSecret, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .rotate_widget_secret(&caller, &project_id, &app_id, input)
            .await?)
    }

    async fn widget_preview_token(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
    ) -> Result<widget::IssuedToken, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .widget_preview_token(&caller, &project_id, &app_id)
            .await?)
    }

    async fn schedules(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<schedule::Schedule>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.schedules(&caller, &project_id).await?)
    }

    async fn preview_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: schedule::PreviewInput,
    ) -> Result<schedule::SchedulePreview, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .preview_schedule(&caller, &project_id, input)
            .await?)
    }

    async fn create_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        mut input: schedule::ScheduleInput,
    ) -> Result<schedule::Schedule, ApiError> {
        let caller = self.caller(ctx).await?;
        let zone = input.timezone.clone().unwrap_or_else(|| "UTC".to_owned());
        end_in_zone(&mut input, &zone);
        Ok(self
            .services
            .create_schedule(&caller, &project_id, input)
            .await?)
    }

    async fn update_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
        mut input: schedule::ScheduleInput,
    ) -> Result<schedule::Schedule, ApiError> {
        let caller = self.caller(ctx).await?;
        let zone = match input.timezone.clone().filter(|z| !z.trim().is_empty()) {
            Some(zone) => zone,
            None => {
                self.services
                    .schedule(&caller, &project_id, &schedule_id)
                    .await?
                    .timezone
            }
        };
        end_in_zone(&mut input, &zone);
        Ok(self
            .services
            .update_schedule(&caller, &project_id, &schedule_id, input)
            .await?)
    }

    async fn delete_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_schedule(&caller, &project_id, &schedule_id)
            .await?)
    }

    async fn run_schedule_now(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
    ) -> Result<task::CreatedTask, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Scheduler::new(self.tasks.clone())
            .run_now(&caller, &project_id, &schedule_id)
            .await?)
    }

    async fn schedule_runs(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
        limit: Option<u64>,
    ) -> Result<Vec<schedule::ScheduleRun>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .schedule_runs(&caller, &project_id, &schedule_id, limit)
            .await?)
    }

    async fn delete_schedule_file(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
        name: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_schedule_file(&caller, &project_id, &schedule_id, &name)
            .await?)
    }

    async fn project_secrets(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<schedule::ProjectSecret>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.project_secrets(&caller, &project_id).await?)
    }

    async fn set_project_secret(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
        input: schedule::SetSecret,
    ) -> Result<schedule::ProjectSecret, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .set_project_secret(&caller, &project_id, &name, input)
            .await?)
    }

    async fn delete_project_secret(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .delete_project_secret(&caller, &project_id, &name)
            .await?)
    }

    async fn project_usage(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        query: usage::UsageQuery,
    ) -> Result<usage::UsageReport, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .project_usage(&caller, &project_id, &query)
            .await?)
    }

    async fn project_budget(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<usage::ProjectBudget, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.project_budget(&caller, &project_id).await?)
    }

    async fn set_project_budget(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: usage::ProjectBudgetInput,
    ) -> Result<usage::ProjectBudget, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .set_project_budget(&caller, &project_id, input)
            .await?)
    }

    async fn api_key_budgets(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<usage::ApiKeyBudget>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.services.api_key_budgets(&caller, &project_id).await?)
    }

    async fn set_api_key_budget(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        key_id: String,
        input: usage::ApiKeyBudgetInput,
    ) -> Result<usage::ApiKeyBudget, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self
            .services
            .set_api_key_budget(&caller, &project_id, &key_id, input)
            .await?)
    }

    fn public_url(&self) -> String {
        self.services.config().public_url()
    }

    fn openapi_json(&self) -> String {
        self.openapi_json.as_str().to_owned()
    }
}

/// A schedule's end as the Console's `datetime-local` input gives it (`2027-01-31T18:00`, no
/// offset) is a wall-clock time in the schedule's own zone: it becomes RFC 3339 with that
/// zone's offset then (the later side of a clock change, the hour after a skipped one). A
/// time with an offset, or one that does not parse, is left for the service to judge.
fn end_in_zone(input: &mut schedule::ScheduleInput, zone: &str) {
    use chrono::{NaiveDateTime, TimeZone};

    let Some(Some(text)) = input.ends_at.as_ref() else {
        return;
    };
    let text = text.trim();
    if text.is_empty() {
        input.ends_at = Some(None);
        return;
    }
    let Ok(zone) = zone.trim().parse::<chrono_tz::Tz>() else {
        return;
    };
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"));
    let Ok(naive) = naive else {
        return;
    };
    let local = zone.from_local_datetime(&naive).latest().or_else(|| {
        zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .latest()
    });
    if let Some(local) = local {
        input.ends_at = Some(Some(
            local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::end_in_zone;
    use protocol::schedule::ScheduleInput;

    fn end(text: &str, zone: &str) -> Option<Option<String>> {
        let mut input = ScheduleInput {
            ends_at: Some(Some(text.to_owned())),
            ..ScheduleInput::default()
        };
        end_in_zone(&mut input, zone);
        input.ends_at
    }

    #[test]
    fn a_local_end_is_read_in_the_schedules_zone() {
        assert_eq!(
            end("2026-12-31T18:00", "Europe/Berlin"),
            Some(Some("2026-12-31T18:00:00+01:00".to_owned()))
        );
        assert_eq!(
            end("2027-07-01T09:30", "Europe/Berlin"),
            Some(Some("2027-07-01T09:30:00+02:00".to_owned()))
        );
        // 02:30 does not exist on the morning clocks go forward: the hour after.
        assert_eq!(
            end("2027-03-28T02:30", "Europe/Berlin"),
            Some(Some("2027-03-28T03:30:00+02:00".to_owned()))
        );
        assert_eq!(end("", "UTC"), Some(None));
        // An offset already given, or nonsense, is the service's to judge.
        assert_eq!(
            end("2027-01-01T00:00:00Z", "Europe/Berlin"),
            Some(Some("2027-01-01T00:00:00Z".to_owned()))
        );
        assert_eq!(end("soon", "UTC"), Some(Some("soon".to_owned())));
    }
}
