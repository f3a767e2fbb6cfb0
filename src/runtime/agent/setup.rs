//! What a run needs before its first step: the model and its provider, the tools over the
//! task's sandbox, and the system prompt.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::stream::RunErrorCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Run, RunError};
use crate::config::TasksConfig;
use crate::egress::NetworkPolicy;
use crate::llm::{self, ModelRef, Provider};
use crate::mcp::client::Place;
use crate::mcp::stored;
use crate::mcp::toolbox::McpToolbox;
use crate::policy::PolicySet;
use crate::runtime::conversation::{self, Conversation};
use crate::sandbox::Redactor;
use crate::sandbox::bwrap::TaskEnv;
use crate::sandbox::manager::SandboxSpec;
use crate::store::entities::{project, project_prompt};
use crate::subagents::Subagent;
use crate::tools::{ToolContext, ToolDefinition, ToolRegistry};
use protocol::stream::{RunStatus, StatusEvent, StreamEvent};
use protocol::{McpServerState, McpServerStatus};

pub(super) struct Setup {
    pub model: ModelRef,
    pub provider: Arc<dyn Provider>,
    /// What the model is reached through: marked failing when its provider refuses it.
    pub connection: crate::models::Connection,
    pub tools: ToolRegistry,
    pub system: String,
    /// Model calls and seconds a run may take: the project's bounds within the operator's.
    pub max_turns: u32,
    pub max_run_secs: u64,
    /// The built-in subagents the project offers, each a tool of the main agent.
    pub subagents: Vec<Subagent>,
}

/// Why a run cannot start: the code and message its `error` event carries.
type Refusal = (RunErrorCode, String);

impl Setup {
    pub async fn prepare(
        run: &Run,
        env: BTreeMap<String, String>,
        secrets: BTreeMap<String, String>,
    ) -> Result<Result<Self, Refusal>, RunError> {
        let project = project::Entity::find_by_id(run.task.project_id.clone())
            .one(run.db())
            .await?
            .ok_or(RunError::Gone)?;
        let named = run
            .task
            .requested_model
            .as_deref()
            .or(project.model.as_deref());
        let resolved = match run.rt.models().resolve(&project.org_id, named, true).await {
            Ok(found) => found,
            Err(e) => return Ok(Err((RunErrorCode::ModelNotConfigured, e.to_string()))),
        };
        let name = resolved.name.to_string();
        if run.task.model.as_deref() != Some(name.as_str()) {
            run.ledger().set_model(&run.claim, &name).await?;
        }
        let (sandbox, workspace) =
            match sandbox(run, project.network_policy(), env.clone(), secrets.clone()).await {
                Ok(s) => s,
                Err(message) => return Ok(Err((RunErrorCode::SandboxUnavailable, message))),
            };
        let (mcp, redactor) = connect_mcp(run, &project.id, &env, &secrets, &sandbox).await?;
        let tools = ToolRegistry::new(ToolContext {
            sandbox,
            workspace,
            redactor,
            web: run.rt.web(),
            network: project.network_policy(),
            mcp,
        });
        let prompts: Vec<(String, String)> = project_prompt::Entity::find()
            .filter(project_prompt::Column::ProjectId.eq(&project.id))
            .filter(project_prompt::Column::Enabled.eq(true))
            .order_by_asc(project_prompt::Column::Position)
            .order_by_asc(project_prompt::Column::CreatedAt)
            .all(run.db())
            .await?
            .into_iter()
            .map(|p| (p.name, p.content))
            .collect();
        let skills = lay_out_skills(run, &project.id).await?;
        let subagents = crate::subagents::offered(&project.subagents);
        let policy = run.rt.policies().get(run.db(), &project).await?;
        let offered = definitions(&tools, &subagents, &policy);
        let system = crate::runtime::prompt::system_prompt(
            &prompts,
            run.task.system_prompt.as_deref(),
            &offered,
            &skills,
        );
        let limits = &run.rt.config().tasks;
        let bound = |project: Option<i32>, operator: u64| {
            project
                .and_then(|p| u64::try_from(p).ok())
                .map_or(operator, |p| p.min(operator))
        };
        Ok(Ok(Self {
            model: resolved.model,
            provider: resolved.provider,
            connection: resolved.connection,
            tools,
            system,
            max_turns: u32::try_from(bound(project.max_turns, u64::from(limits.max_turns)))
                .unwrap_or(limits.max_turns),
            max_run_secs: bound(
                project.max_minutes.map(|m| m.saturating_mul(60)),
                limits.max_run_secs,
            ),
            subagents,
        }))
    }

    /// The subagent a call names, if the project offers it.
    pub fn subagent(&self, tool: &str) -> Option<Subagent> {
        self.subagents.iter().copied().find(|s| s.name == tool)
    }

    /// Ends what the run holds open: its MCP connections.
    pub async fn close(&self) {
        if let Some(mcp) = &self.tools.context().mcp {
            mcp.close().await;
        }
    }

    /// The model request for the conversation as it stands, compacted to the model's window.
    pub fn request(
        &self,
        conv: &Conversation,
        limits: &TasksConfig,
        max_output_tokens: u32,
        policy: &PolicySet,
    ) -> llm::Request {
        llm::Request {
            model: self.model.model.clone(),
            system: self.system.clone(),
            messages: conversation::compact(
                conv.to_llm(),
                self.system.len() + 4000,
                context_budget(&self.model, limits.context_window_tokens),
            ),
            tools: definitions(&self.tools, &self.subagents, policy)
                .into_iter()
                .map(|d| llm::ToolSpec {
                    name: d.name,
                    description: d.description,
                    parameters: d.parameters,
                })
                .collect(),
            max_output_tokens,
        }
    }
}

/// The task's sandbox (taken from the warm pool, or started with its first use) and its
/// workspace.
async fn sandbox(
    run: &Run,
    network: NetworkPolicy,
    env: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
) -> Result<
    (
        Arc<dyn crate::sandbox::Sandbox>,
        crate::workspace::Workspace,
    ),
    String,
> {
    let spec = SandboxSpec {
        task_id: run.task.id.clone(),
        network: network.clone(),
        env: TaskEnv { env, secrets },
    };
    let sandboxes = run.rt.sandboxes();
    // A started sandbox from the pool costs nothing to take now; otherwise one starts with the
    // first command.
    let sandbox: Arc<dyn crate::sandbox::Sandbox> = if sandboxes.pooled_for(&run.task.id) {
        sandboxes.acquire(&spec).await.map_err(|e| e.to_string())?
    } else {
        Arc::new(sandboxes.lazy(spec).map_err(|e| e.to_string())?)
    };
    let workspace = sandboxes
        .open_workspace(&run.task.id)
        .await
        .map_err(|e| e.to_string())?;
    Ok((sandbox, workspace))
}

/// Connects the project's enabled MCP servers side by side, `{{mcp.KEY}}` filled from the
/// task's env and secrets (secrets win). A server that cannot connect is named on the stream
/// with the reason, and the run goes on without it. Answers the redactor the run's tools use:
/// the secrets, and the env values a placeholder took (filled values are never shown).
async fn connect_mcp(
    run: &Run,
    project_id: &str,
    env: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    sandbox: &Arc<dyn crate::sandbox::Sandbox>,
) -> Result<(Option<Arc<McpToolbox>>, Redactor), RunError> {
    let access = run.rt.mcp();
    let specs = match stored::enabled(run.db(), &access.vault, project_id).await {
        Ok(specs) => specs,
        Err(e) => {
            tracing::error!(task = %run.task.id, error = %e, "the project's MCP servers could not be read");
            Vec::new()
        }
    };
    if specs.is_empty() {
        return Ok((None, run.redactor.clone()));
    }
    let mut values = env.clone();
    values.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut hidden = secrets.clone();
    for spec in &specs {
        for key in spec.placeholder_keys() {
            if let Some(value) = values.get(&key) {
                hidden.insert(key, value.clone());
            }
        }
    }
    let redactor = Redactor::new(&hidden);
    let place = Place {
        sandbox: Some(Arc::clone(sandbox)),
        redactor: redactor.clone(),
    };
    let (toolbox, failures) =
        McpToolbox::connect(access.connector.clone(), specs, values, place).await;
    let now = crate::rfc3339::ts(chrono::Utc::now());
    for (name, count) in toolbox.tool_counts().await {
        let status = McpServerStatus {
            state: McpServerState::Ok,
            message: None,
            tool_count: u32::try_from(count).ok(),
            checked_at: now.clone(),
        };
        let _ = stored::record_status(run.db(), project_id, name.as_str(), &status).await;
    }
    let mut notices = Vec::new();
    for failure in failures {
        let reason = redactor.redact(&failure.reason);
        let status = McpServerStatus {
            state: McpServerState::Failed,
            message: Some(reason.clone()),
            tool_count: None,
            checked_at: now.clone(),
        };
        let _ = stored::record_status(run.db(), project_id, failure.server.as_str(), &status).await;
        notices.push(StreamEvent::Status(StatusEvent {
            status: RunStatus::Connecting,
            message: Some(format!(
                "MCP server `{}` is not available for this run: {reason}",
                failure.server
            )),
            attempt: None,
            delay_ms: None,
        }));
    }
    run.emit(notices).await?;
    let toolbox = (!toolbox.is_empty()).then(|| Arc::new(toolbox));
    Ok((toolbox, redactor))
}

/// The tools offered to the main agent: the built-ins and MCP tools, then a tool per
/// subagent; a tool the project denies outright is not offered at all.
fn definitions(
    tools: &ToolRegistry,
    subagents: &[Subagent],
    policy: &PolicySet,
) -> Vec<ToolDefinition> {
    tools
        .definitions()
        .into_iter()
        .chain(subagents.iter().map(|s| ToolDefinition {
            name: s.name.to_owned(),
            description: s.tool_description(),
            parameters: Subagent::tool_parameters(),
        }))
        .filter(|d| !policy.hides(&d.name))
        .collect()
}

/// Lays out the project's enabled skills for the task's sandbox (`/skills`), as they are now,
/// and answers their names and descriptions for the prompt. Skills that cannot be laid out
/// are left out of the prompt too, with the reason in the server's log.
async fn lay_out_skills(run: &Run, project_id: &str) -> Result<Vec<(String, String)>, RunError> {
    let skills = crate::skills::stored::for_run(run.db(), project_id).await?;
    let listed: Vec<(String, String)> = skills
        .iter()
        .map(|(description, s)| (s.name.clone(), description.clone()))
        .collect();
    let laid = skills.into_iter().map(|(_, s)| s).collect();
    match run.rt.sandboxes().lay_out_skills(&run.task.id, laid).await {
        Ok(()) => Ok(listed),
        Err(e) => {
            tracing::error!(task = %run.task.id, error = %e, "the project's skills could not be laid out");
            Ok(Vec::new())
        }
    }
}

fn context_budget(model: &ModelRef, default_window: u64) -> u64 {
    let window = crate::llm::pricing::context_window(model).unwrap_or(default_window);
    // Room for the answer and for the estimate being rough.
    window.saturating_mul(7) / 10
}
