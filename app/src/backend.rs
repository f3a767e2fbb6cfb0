//! The port through which the Console's server functions reach the server's services. `app`
//! says *what* the pages need; the `sigmic` crate implements it (the arrow goes `src → app`),
//! resolving the caller from the request exactly as the REST API does.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use leptos::prelude::use_context;
use protocol::{self as dto, input, policy, schedule, skills, task, usage, widget};

use crate::error::ApiError;

/// What the server needs to know about the request a server function serves.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub headers: HeaderMap,
    pub client_ip: Option<IpAddr>,
}

/// A session was opened: the person and the `Set-Cookie` value that carries it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub user: dto::User,
    pub set_cookie: String,
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn signup(&self, ctx: &RequestCtx, input: input::Signup) -> Result<Issued, ApiError>;
    async fn login(&self, ctx: &RequestCtx, input: input::Login) -> Result<Issued, ApiError>;
    /// Ends the session; answers the `Set-Cookie` value that clears the cookie.
    async fn logout(&self, ctx: &RequestCtx) -> Result<String, ApiError>;
    async fn invitation_preview(&self, token: String) -> Result<dto::InvitationPreview, ApiError>;
    async fn me(&self, ctx: &RequestCtx) -> Result<dto::Me, ApiError>;

    async fn organization(&self, ctx: &RequestCtx) -> Result<dto::Organization, ApiError>;
    async fn rename_organization(
        &self,
        ctx: &RequestCtx,
        name: String,
    ) -> Result<dto::Organization, ApiError>;
    async fn org_members(&self, ctx: &RequestCtx) -> Result<Vec<dto::OrgMember>, ApiError>;
    async fn set_org_role(
        &self,
        ctx: &RequestCtx,
        user_id: String,
        role: dto::Role,
    ) -> Result<dto::OrgMember, ApiError>;
    async fn remove_org_member(&self, ctx: &RequestCtx, user_id: String) -> Result<(), ApiError>;
    async fn invitations(&self, ctx: &RequestCtx) -> Result<Vec<dto::Invitation>, ApiError>;
    async fn invite(
        &self,
        ctx: &RequestCtx,
        input: input::Invite,
    ) -> Result<dto::CreatedInvitation, ApiError>;
    async fn revoke_invitation(&self, ctx: &RequestCtx, id: String) -> Result<(), ApiError>;

    async fn projects(&self, ctx: &RequestCtx) -> Result<Vec<dto::Project>, ApiError>;
    async fn create_project(
        &self,
        ctx: &RequestCtx,
        name: String,
    ) -> Result<dto::Project, ApiError>;
    async fn rename_project(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<dto::Project, ApiError>;
    async fn delete_project(&self, ctx: &RequestCtx, project_id: String) -> Result<(), ApiError>;
    async fn project_members(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::ProjectMember>, ApiError>;
    async fn add_project_member(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: input::AddProjectMember,
    ) -> Result<dto::ProjectMember, ApiError>;
    async fn set_project_role(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        user_id: String,
        role: dto::Role,
    ) -> Result<dto::ProjectMember, ApiError>;
    async fn remove_project_member(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        user_id: String,
    ) -> Result<(), ApiError>;
    async fn api_keys(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::ApiKey>, ApiError>;
    async fn project_settings(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<dto::ProjectSettings, ApiError>;
    /// The model the project's tasks use, whether it works, and the choices.
    async fn project_models(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<dto::ProjectModels, ApiError>;
    /// The organization's model connections and the server's (organization admins).
    async fn model_providers(&self, ctx: &RequestCtx) -> Result<Vec<dto::ModelProvider>, ApiError>;
    async fn create_model_provider(
        &self,
        ctx: &RequestCtx,
        input: dto::ModelProviderInput,
    ) -> Result<dto::ModelProvider, ApiError>;
    async fn update_model_provider(
        &self,
        ctx: &RequestCtx,
        id: String,
        update: dto::ModelProviderUpdate,
    ) -> Result<dto::ModelProvider, ApiError>;
    async fn delete_model_provider(&self, ctx: &RequestCtx, id: String) -> Result<(), ApiError>;
    /// Calls the provider: whether it works, and the models it offers.
    async fn test_model_provider(
        &self,
        ctx: &RequestCtx,
        id: String,
    ) -> Result<dto::ModelProviderTest, ApiError>;
    async fn update_project_settings(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        settings: dto::ProjectSettings,
    ) -> Result<dto::ProjectSettings, ApiError>;
    async fn create_api_key(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: input::CreateApiKey,
    ) -> Result<dto::CreatedApiKey, ApiError>;
    async fn revoke_api_key(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        key_id: String,
    ) -> Result<(), ApiError>;

    async fn mcp_servers(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::McpServer>, ApiError>;
    async fn create_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: dto::McpServerInput,
    ) -> Result<dto::McpServer, ApiError>;
    async fn import_mcp_servers(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        document: dto::McpServersDocument,
    ) -> Result<Vec<dto::McpServer>, ApiError>;
    async fn replace_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
        input: dto::McpServerInput,
    ) -> Result<dto::McpServer, ApiError>;
    async fn delete_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<(), ApiError>;
    async fn test_mcp_server(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<dto::McpTestResult, ApiError>;

    async fn tool_policies(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<policy::ToolPolicy>, ApiError>;
    async fn create_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: policy::ToolPolicyInput,
    ) -> Result<policy::ToolPolicy, ApiError>;
    async fn replace_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
        input: policy::ToolPolicyInput,
    ) -> Result<policy::ToolPolicy, ApiError>;
    async fn delete_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
    ) -> Result<(), ApiError>;
    async fn check_tool_policy(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        request: policy::PolicyCheckRequest,
    ) -> Result<policy::PolicyCheck, ApiError>;
    async fn audit(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        query: policy::AuditQuery,
    ) -> Result<policy::AuditPage, ApiError>;
    async fn prompts(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<policy::Prompt>, ApiError>;
    async fn create_prompt(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: policy::PromptInput,
    ) -> Result<policy::Prompt, ApiError>;
    async fn replace_prompt(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
        input: policy::PromptInput,
    ) -> Result<policy::Prompt, ApiError>;
    async fn delete_prompt(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        id: String,
    ) -> Result<(), ApiError>;

    async fn skills(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<skills::Skill>, ApiError>;
    /// Adds a skill written in the Console. (A ZIP goes to the REST API from the browser.)
    async fn create_skill(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: skills::SkillInput,
    ) -> Result<skills::Skill, ApiError>;
    async fn set_skill_enabled(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
        enabled: bool,
    ) -> Result<skills::Skill, ApiError>;
    async fn delete_skill(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<(), ApiError>;
    async fn subagents(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<skills::Subagent>, ApiError>;
    /// Turns the named subagents on or off; the others stay as they are.
    async fn set_subagents(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        choice: BTreeMap<String, bool>,
    ) -> Result<Vec<skills::Subagent>, ApiError>;
    async fn export_config(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<skills::ProjectConfig, ApiError>;
    /// Applies a configuration document, or with `dry_run` only lists what it would change.
    async fn import_config(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        doc: skills::ProjectConfig,
        dry_run: bool,
    ) -> Result<skills::ConfigImport, ApiError>;

    async fn widget_apps(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<widget::WidgetApp>, ApiError>;
    async fn widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
    ) -> Result<widget::WidgetApp, ApiError>;
    /// The new app with its secret: the only time the secret is shown.
    async fn create_widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: widget::WidgetAppInput,
    ) -> Result<widget::WidgetAppWithSecret, ApiError>;
    async fn update_widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
        input: widget::WidgetAppInput,
    ) -> Result<widget::WidgetApp, ApiError>;
    async fn delete_widget_app(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
    ) -> Result<(), ApiError>;
    async fn rotate_widget_secret(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
        input: widget::RotateSecret,
    ) -> Result<widget::WidgetAppWithSecret, ApiError>;
    /// A short-lived widget token for the Console's live preview, acting as the caller.
    async fn widget_preview_token(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        app_id: String,
    ) -> Result<widget::IssuedToken, ApiError>;

    async fn schedules(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<schedule::Schedule>, ApiError>;
    /// What a cron expression in a time zone means: in words, and its next five times.
    async fn preview_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: schedule::PreviewInput,
    ) -> Result<schedule::SchedulePreview, ApiError>;
    /// `ends_at` may also be a time without an offset (`2027-01-31T18:00`, as a browser's
    /// `datetime-local` gives it): it is then read in the schedule's own time zone.
    async fn create_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: schedule::ScheduleInput,
    ) -> Result<schedule::Schedule, ApiError>;
    /// As `create_schedule`, for an existing schedule: what the input leaves out stays.
    async fn update_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
        input: schedule::ScheduleInput,
    ) -> Result<schedule::Schedule, ApiError>;
    async fn delete_schedule(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
    ) -> Result<(), ApiError>;
    /// "Run now": a task at once, acting for the caller.
    async fn run_schedule_now(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
    ) -> Result<task::CreatedTask, ApiError>;
    /// The schedule's latest runs, newest first.
    async fn schedule_runs(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
        limit: Option<u64>,
    ) -> Result<Vec<schedule::ScheduleRun>, ApiError>;
    async fn delete_schedule_file(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        schedule_id: String,
        name: String,
    ) -> Result<(), ApiError>;
    /// The names of the project's secrets (never their values).
    async fn project_secrets(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<schedule::ProjectSecret>, ApiError>;
    async fn set_project_secret(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
        input: schedule::SetSecret,
    ) -> Result<schedule::ProjectSecret, ApiError>;
    async fn delete_project_secret(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<(), ApiError>;

    /// The project's usage over a range (this month by default), per day, key or model.
    async fn project_usage(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        query: usage::UsageQuery,
    ) -> Result<usage::UsageReport, ApiError>;
    async fn project_budget(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<usage::ProjectBudget, ApiError>;
    async fn set_project_budget(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: usage::ProjectBudgetInput,
    ) -> Result<usage::ProjectBudget, ApiError>;
    /// Every key of the project with its budget and what it spent this month.
    async fn api_key_budgets(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<usage::ApiKeyBudget>, ApiError>;
    async fn set_api_key_budget(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        key_id: String,
        input: usage::ApiKeyBudgetInput,
    ) -> Result<usage::ApiKeyBudget, ApiError>;

    /// The server's configured public address (no trailing slash), for snippets drawn on
    /// the server.
    fn public_url(&self) -> String;
    /// The OpenAPI document of the REST API, as JSON.
    fn openapi_json(&self) -> String;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend and the request being served, from the Leptos context `sigmic` provides.
pub fn current() -> Result<(SharedBackend, RequestCtx), ApiError> {
    let backend = use_context::<SharedBackend>().ok_or_else(ApiError::internal)?;
    let parts = use_context::<http::request::Parts>().ok_or_else(ApiError::internal)?;
    let client_ip = parts.extensions.get::<ClientIp>().map(|ip| ip.0);
    Ok((
        backend,
        RequestCtx {
            headers: parts.headers,
            client_ip,
        },
    ))
}

/// The client's address, placed in the request's extensions by the server (it knows whether
/// to trust a proxy's `X-Forwarded-For`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);
