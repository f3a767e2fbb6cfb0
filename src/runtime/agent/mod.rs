//! One run of a task: the agent loop. Every step is read from and written to the store, so a
//! run can stop anywhere (crash, shutdown, lost lease) and the next worker continues from the
//! persisted conversation:
//!
//! 1. calls of the last answer that are not finished run in order (`calls`), asking a person
//!    first where the policy says so (`policy`); found `executing`, they were interrupted and
//!    are reported so;
//! 2. when the model has something to answer, it is called, streaming (`turn`), and its answer
//!    and calls are stored;
//! 3. an answer without calls completes the run — unless a follow-up arrived meanwhile.
//!
//! What the run needs before its first step (model, tools, prompt) is set up in `setup`. Every
//! write goes through the ledger.

mod calls;
mod policy;
mod setup;
mod subagent;
mod turn;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use protocol::stream::{RunErrorCode, RunStatus, StatusEvent, StreamEvent};
use sea_orm::{DbErr, EntityTrait};
use tokio_util::sync::CancellationToken;

use super::Runtime;
use super::conversation::{CallStatus, Conversation, StoredCall};
use crate::ledger::{Claim, Ledger, LedgerError, Logged};
use crate::sandbox::Redactor;
use crate::services::budgets::RunBudgets;
use crate::store::entities::{TaskStatus, task};
use setup::Setup;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the task is gone")]
    Gone,
}

impl From<DbErr> for RunError {
    fn from(e: DbErr) -> Self {
        Self::Ledger(LedgerError::Db(e))
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
    /// Released while a person decides on a call.
    AwaitingApproval,
    /// Stopped at a step boundary for shutdown; the lease is given back.
    Drained,
}

/// What to do after the open calls were worked on.
enum Step {
    Continue,
    WaitForApproval,
}

pub struct Run {
    rt: Arc<Runtime>,
    claim: Claim,
    task: task::Model,
    redactor: Redactor,
    drain: CancellationToken,
    /// When the run must end (its time limit), for the subagents it starts.
    until: tokio::time::Instant,
    /// The monthly budgets that apply to the task, read once when the run starts.
    budgets: RunBudgets,
}

impl Run {
    pub async fn start(
        rt: Arc<Runtime>,
        claim: Claim,
        drain: CancellationToken,
    ) -> Result<Outcome, RunError> {
        let task = task::Entity::find_by_id(claim.task_id.clone())
            .one(rt.db())
            .await?
            .ok_or(RunError::Gone)?;
        let mut secrets = rt.secrets().values(&task.id).expose().clone();
        let mut env: BTreeMap<String, String> = task
            .env
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or_default();
        // A widget visitor's values, as their customer's backend last set them; read for
        // every run, so a restart or a new exchange needs nothing from memory.
        if let Some(end_user) = &task.end_user_id {
            use crate::widget::EndUserValuesError;
            match crate::widget::end_user_values(rt.db(), &rt.mcp().vault, end_user).await {
                Ok(values) => {
                    env.extend(values.env);
                    secrets.extend(values.secrets);
                }
                Err(EndUserValuesError::Db(e)) => return Err(e.into()),
                // The encryption key changed: the run goes on without them, as after an app
                // was deleted.
                Err(EndUserValuesError::Vault(e)) => {
                    tracing::warn!(task = %task.id, error = %e, "cannot open an end user's values")
                }
            }
        }
        // The project's secrets the task uses (all of them for a schedule's run), as they
        // are now; a secret the task was given itself wins a clash.
        if let Some(used) = task.project_secrets.as_deref() {
            use crate::project_secrets::{ProjectSecretUse, ProjectSecretsError, values_for_run};
            let used = ProjectSecretUse::from_column(used);
            match values_for_run(rt.db(), &rt.mcp().vault, &task.project_id, &used).await {
                Ok(values) => {
                    for (name, value) in values {
                        secrets.entry(name).or_insert(value);
                    }
                }
                Err(ProjectSecretsError::Db(e)) => return Err(e.into()),
                Err(e @ ProjectSecretsError::Vault(..)) => {
                    tracing::warn!(task = %task.id, error = %e, "cannot open a project secret")
                }
            }
        }
        let run = Run {
            redactor: Redactor::new(&secrets),
            rt,
            claim,
            task,
            drain,
            until: tokio::time::Instant::now(),
            budgets: RunBudgets::default(),
        };
        run.execute(env, secrets).await
    }

    fn db(&self) -> &crate::store::Db {
        self.rt.db()
    }

    fn ledger(&self) -> &Ledger {
        self.rt.ledger()
    }

    async fn emit(&self, events: Vec<StreamEvent>) -> Result<Vec<Logged>, RunError> {
        Ok(self
            .ledger()
            .emit(&self.task.id, self.claim.writer(), events)
            .await?)
    }

    async fn execute(
        mut self,
        env: BTreeMap<String, String>,
        secrets: BTreeMap<String, String>,
    ) -> Result<Outcome, RunError> {
        let run_started = self.begin().await?;
        // Read once: a run without budgets pays nothing for them at each model call.
        self.budgets = RunBudgets::load(self.db(), &self.task).await?;
        // Checked before the sandbox and the MCP servers start: a task over budget costs
        // nothing.
        if let Some(message) = self.over_budget().await? {
            return self.fail(RunErrorCode::BudgetExceeded, &message).await;
        }
        let setup = match Setup::prepare(&self, env, secrets).await? {
            Ok(setup) => setup,
            Err((code, message)) => return self.fail(code, &message).await,
        };
        if let Some(message) = self.unpriced_choice(&setup) {
            setup.close().await;
            return self.fail(RunErrorCode::BudgetExceeded, &message).await;
        }
        let outcome = self.steps(&setup, run_started).await;
        // MCP connections live as long as the run: ended, failed or given back.
        setup.close().await;
        outcome
    }

    /// The run's loop: calls, model turns, until it ends or waits.
    async fn steps(
        &mut self,
        setup: &Setup,
        run_started: chrono::DateTime<Utc>,
    ) -> Result<Outcome, RunError> {
        let limits = self.rt.config().tasks.clone();
        let deadline = run_started
            + chrono::Duration::seconds(i64::try_from(setup.max_run_secs).unwrap_or(i64::MAX / 2));
        let mut turns = 0u32;
        // A connection not known to work is marked working after its first answer.
        let mut connection_known = setup.connection.known_ok();
        let left = (deadline - Utc::now()).to_std().unwrap_or_default();
        self.until = tokio::time::Instant::now() + left;
        loop {
            if self.drain.is_cancelled() {
                return Ok(Outcome::Drained);
            }
            if Utc::now() > deadline {
                let message = format!(
                    "The task ran longer than its limit of {} seconds and was stopped. Send a follow-up to continue.",
                    setup.max_run_secs
                );
                return self.fail(RunErrorCode::Timeout, &message).await;
            }
            let conv = Conversation::load(self.db(), &self.task.id).await?;
            // The project's rules as they are now: a change applies from the next step.
            let policy = self
                .rt
                .policies()
                .get_by_id(self.db(), &self.task.project_id)
                .await?;
            let open: Vec<StoredCall> = conv.open_calls().into_iter().cloned().collect();
            if !open.is_empty() {
                match self.process_calls(open, setup, &policy).await? {
                    Step::Continue => continue,
                    Step::WaitForApproval => return self.wait_for_approval().await,
                }
            }
            let seen_messages = i64::try_from(conv.messages.len()).unwrap_or(0);
            if !conv.needs_model() {
                let text = conv.final_text();
                if self
                    .ledger()
                    .complete(&self.claim, text, seen_messages)
                    .await?
                {
                    return Ok(Outcome::Completed);
                }
                continue;
            }
            turns += 1;
            if turns > setup.max_turns {
                let message = format!(
                    "The agent used its {} model calls for this run without finishing. Send a follow-up to let it continue.",
                    setup.max_turns
                );
                return self.fail(RunErrorCode::MaxTurns, &message).await;
            }
            if let Some(message) = self.over_budget().await? {
                return self.fail(RunErrorCode::BudgetExceeded, &message).await;
            }
            // A server that said its tools changed is listed again before the model sees them.
            setup.tools.refresh().await;
            let request = setup.request(
                &conv,
                &limits,
                self.rt.config().llm.max_output_tokens,
                &policy,
            );
            let turn = match self.model_turn(setup.provider.as_ref(), request).await? {
                Ok(turn) => turn,
                Err(None) => return Ok(Outcome::Drained),
                Err(Some(e)) => {
                    let message = match setup.connection.refusal(&e) {
                        Some(message) => {
                            self.rt
                                .models()
                                .record(&setup.connection, Err(&e.to_string()))
                                .await;
                            message
                        }
                        None => format!("The model call failed: {e}"),
                    };
                    return self.fail(RunErrorCode::ModelError, &message).await;
                }
            };
            if !connection_known {
                self.rt.models().record(&setup.connection, Ok(())).await;
                connection_known = true;
            }
            let upto = conv.messages.last().map_or(-1, |m| m.model.position);
            self.store_turn(&setup.model, turn, upto).await?;
        }
    }

    /// Marks the run started and answers when it began. A run picked up in the middle of a
    /// model answer (after a crash or a restart) asks for that answer again: `retrying` tells
    /// clients to drop the partial one they show.
    async fn begin(&mut self) -> Result<chrono::DateTime<Utc>, RunError> {
        let fresh_run =
            self.task.status == TaskStatus::Pending || self.task.run_started_at.is_none();
        let now = Utc::now();
        let run_started = if fresh_run {
            now
        } else {
            self.task.run_started_at.unwrap_or(now)
        };
        let mid_answer = !fresh_run && self.was_answering().await?;
        let status = (fresh_run || mid_answer).then(|| {
            StreamEvent::Status(StatusEvent {
                status: if fresh_run {
                    RunStatus::Connecting
                } else {
                    RunStatus::Retrying
                },
                message: mid_answer.then(|| "Continuing after an interruption.".to_owned()),
                attempt: None,
                delay_ms: None,
            })
        });
        let started_at = self.task.started_at.unwrap_or(now);
        self.ledger()
            .begin_run(&self.claim, status, started_at, run_started)
            .await?;
        Ok(run_started)
    }

    /// Whether the task's last event is a model answer in progress.
    async fn was_answering(&self) -> Result<bool, RunError> {
        let last =
            crate::ledger::read_after(self.db(), &self.task.id, self.task.last_seq - 1, 1).await?;
        Ok(matches!(
            last.first().and_then(Logged::event),
            Some(StreamEvent::Thought(_))
                | Some(StreamEvent::Content(protocol::stream::ContentEvent {
                    is_partial: true,
                    ..
                }))
                | Some(StreamEvent::Status(StatusEvent {
                    status: RunStatus::Processing,
                    ..
                }))
        ))
    }

    /// The message naming a budget of the task that is used up this month, if one is.
    async fn over_budget(&self) -> Result<Option<String>, RunError> {
        Ok(self.budgets.exceeded(self.db()).await?)
    }

    /// A model a person picked for the conversation, whose price is not known, would spend
    /// what no budget counts: refused where a budget applies. (The project's own model is its
    /// admins' choice, and stays theirs.)
    fn unpriced_choice(&self, setup: &Setup) -> Option<String> {
        let picked = self.task.requested_model.as_deref()?;
        let one = crate::llm::Usage {
            input_tokens: 1,
            output_tokens: 1,
        };
        if self.budgets.is_empty() || crate::llm::pricing::cost_usd(&setup.model, one).is_some() {
            return None;
        }
        Some(format!(
            "The model `{picked}` picked for this conversation has no known price, so what it spends could not be counted against the monthly budget that applies here. Start the conversation with the project's model, or a model of a known price."
        ))
    }

    async fn fail(&self, code: RunErrorCode, message: &str) -> Result<Outcome, RunError> {
        let message = self.redactor.redact(message);
        self.ledger().fail(&self.claim, code, message).await?;
        Ok(Outcome::Failed)
    }

    /// Gives the task back while a person decides; a decision that came in meanwhile puts it
    /// straight back in the queue.
    async fn wait_for_approval(&self) -> Result<Outcome, RunError> {
        self.ledger().await_approval(&self.claim).await?;
        let conv = Conversation::load(self.db(), &self.task.id).await?;
        let first_open = conv.open_calls().first().map(|c| c.status);
        if first_open != Some(CallStatus::AwaitingApproval) {
            self.ledger().requeue_after_decision(&self.task.id).await?;
            self.rt.wake();
        }
        Ok(Outcome::AwaitingApproval)
    }
}
