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
use crate::runtime::conversation::{self, Conversation};
use crate::sandbox::bwrap::TaskEnv;
use crate::sandbox::manager::SandboxSpec;
use crate::store::entities::{project, project_prompt};
use crate::tools::{ToolContext, ToolRegistry};

pub(super) struct Setup {
    pub model: ModelRef,
    pub provider: Arc<dyn Provider>,
    pub tools: ToolRegistry,
    pub system: String,
}

/// Why a run cannot start: the code and message its `error` event carries.
type Refusal = (RunErrorCode, String);

impl Setup {
    pub async fn prepare(
        run: &Run,
        secrets: BTreeMap<String, String>,
    ) -> Result<Result<Self, Refusal>, RunError> {
        let project = project::Entity::find_by_id(run.task.project_id.clone())
            .one(run.db())
            .await?
            .ok_or(RunError::Gone)?;
        let providers = run.rt.providers();
        let (model, provider) = match providers
            .choose(project.model.as_deref())
            .and_then(|m| providers.provider(&m).map(|p| (m, p)))
        {
            Ok(found) => found,
            Err(e) => return Ok(Err((RunErrorCode::ModelNotConfigured, e.to_string()))),
        };
        let name = model.to_string();
        if run.task.model.as_deref() != Some(name.as_str()) {
            run.ledger().set_model(&run.claim, &name).await?;
        }
        let tools = match tools(run, project.network_policy(), secrets).await {
            Ok(t) => t,
            Err(message) => return Ok(Err((RunErrorCode::SandboxUnavailable, message))),
        };
        let prompts: Vec<(String, String)> = project_prompt::Entity::find()
            .filter(project_prompt::Column::ProjectId.eq(&project.id))
            .order_by_asc(project_prompt::Column::Position)
            .all(run.db())
            .await?
            .into_iter()
            .map(|p| (p.name, p.content))
            .collect();
        let system = crate::runtime::prompt::system_prompt(
            &prompts,
            run.task.system_prompt.as_deref(),
            &tools.definitions(),
        );
        Ok(Ok(Self {
            model,
            provider,
            tools,
            system,
        }))
    }

    /// The model request for the conversation as it stands, compacted to the model's window.
    pub fn request(
        &self,
        conv: &Conversation,
        limits: &TasksConfig,
        max_output_tokens: u32,
    ) -> llm::Request {
        llm::Request {
            model: self.model.model.clone(),
            system: self.system.clone(),
            messages: conversation::compact(
                conv.to_llm(),
                self.system.len() + 4000,
                context_budget(&self.model, limits.context_window_tokens),
            ),
            tools: self
                .tools
                .definitions()
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

/// The built-in tools over the task's sandbox (started now, or taken from the warm pool).
async fn tools(
    run: &Run,
    network: NetworkPolicy,
    secrets: BTreeMap<String, String>,
) -> Result<ToolRegistry, String> {
    let env: BTreeMap<String, String> = run
        .task
        .env
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
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
    Ok(ToolRegistry::new(ToolContext {
        sandbox,
        workspace,
        redactor: run.redactor.clone(),
        web: run.rt.web(),
        network,
    }))
}

fn context_budget(model: &ModelRef, default_window: u64) -> u64 {
    let window = crate::llm::pricing::context_window(model).unwrap_or(default_window);
    // Room for the answer and for the estimate being rough.
    window.saturating_mul(7) / 10
}
