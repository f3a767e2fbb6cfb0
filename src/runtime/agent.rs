//! One run of a task: the agent loop. Every step is read from and written to the store, so a
//! run can stop anywhere (crash, shutdown, lost lease) and the next worker continues from the
//! persisted conversation:
//!
//! 1. calls of the last answer that are not finished run in order (awaiting a person when the
//!    task asks for approval; found `executing`, they were interrupted and are reported so);
//! 2. when the model has something to answer, it is called, streaming, and its answer and
//!    calls are stored;
//! 3. an answer without calls completes the run — unless a follow-up arrived meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::dto::task::{
    ContentEvent, DoneEvent, ErrorEvent, StatusEvent, StreamEvent, ToolCallEvent, ToolResultEvent,
};
use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use tokio_util::sync::CancellationToken;

use super::Runtime;
use super::conversation::{self, CallStatus, Conversation, StoredCall};
use super::events::{self, LogError, Logged, Writer};
use super::queue::Claim;
use crate::llm::{self, LlmError, ModelRef, Part, Provider, StopReason};
use crate::sandbox::Redactor;
use crate::sandbox::bwrap::TaskEnv;
use crate::sandbox::manager::SandboxSpec;
use crate::store::entities::{
    TaskStatus, project, project_prompt, task, task_message, task_tool_call,
};
use crate::tools::{Builtin, ToolContext, ToolRegistry};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the task is gone")]
    Gone,
}

impl From<DbErr> for RunError {
    fn from(e: DbErr) -> Self {
        Self::Log(LogError::Db(e))
    }
}

impl From<sea_orm::TransactionError<RunError>> for RunError {
    fn from(e: sea_orm::TransactionError<RunError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner,
        }
    }
}

impl From<sea_orm::TransactionError<LogError>> for RunError {
    fn from(e: sea_orm::TransactionError<LogError>) -> Self {
        Self::Log(e.into())
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

enum Step {
    Continue,
    WaitForApproval,
}

pub struct Run {
    rt: Arc<Runtime>,
    claim: Claim,
    writer: Writer,
    task: task::Model,
    redactor: Redactor,
    drain: CancellationToken,
}

/// What one streamed model turn produced.
struct Turn {
    text: String,
    thinking: Vec<Part>,
    calls: Vec<llm::ToolCall>,
    usage: llm::Usage,
    stop: StopReason,
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
        let secrets = rt.secrets_of(&task.id);
        let run = Run {
            writer: Writer::Worker { epoch: claim.epoch },
            redactor: Redactor::new(&secrets),
            rt,
            claim,
            task,
            drain,
        };
        run.execute(secrets).await
    }

    fn db(&self) -> &crate::store::Db {
        self.rt.db()
    }

    async fn emit(&self, events: Vec<StreamEvent>) -> Result<Vec<Logged>, RunError> {
        Ok(events::append(self.db(), self.rt.hub(), &self.task.id, self.writer, events).await?)
    }

    /// Runs `f` and writes `events` in one transaction, then publishes them.
    async fn commit<F>(&self, events: Vec<StreamEvent>, f: F) -> Result<Vec<Logged>, RunError>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<(), RunError>> + Send + 'c>,
            > + Send
            + 'static,
    {
        let id = self.task.id.clone();
        let writer = self.writer;
        let logged = self
            .db()
            .transaction::<_, Vec<Logged>, RunError>(move |txn| {
                Box::pin(async move {
                    // Events first: reserving their numbers checks the lease.
                    let logged = events::write_events(txn, &id, writer, &events).await?;
                    if logged.is_empty() {
                        ensure_held(txn, &id, writer).await?;
                    }
                    f(txn).await?;
                    Ok(logged)
                })
            })
            .await?;
        self.rt.hub().publish(&self.task.id, &logged);
        Ok(logged)
    }

    async fn execute(mut self, secrets: BTreeMap<String, String>) -> Result<Outcome, RunError> {
        let project = project::Entity::find_by_id(self.task.project_id.clone())
            .one(self.db())
            .await?
            .ok_or(RunError::Gone)?;
        let fresh_run =
            self.task.status == TaskStatus::Pending || self.task.run_started_at.is_none();
        let now = Utc::now();
        let run_started = if fresh_run {
            now
        } else {
            self.task.run_started_at.unwrap_or(now)
        };
        // A run picked up in the middle of a model answer (after a crash or a restart) asks
        // for that answer again: `retrying` tells clients to drop the partial one they show.
        let mid_answer = !fresh_run && {
            let last =
                events::read_after(self.db(), &self.task.id, self.task.last_seq - 1, 1).await?;
            last.first().is_some_and(|l| {
                l.name == "thought"
                    || (l.name == "content" && l.data.contains("\"isPartial\":true"))
                    || (l.name == "status" && l.data.contains("\"processing\""))
            })
        };
        let events = if fresh_run || mid_answer {
            vec![StreamEvent::Status(StatusEvent {
                status: if fresh_run { "connecting" } else { "retrying" }.to_owned(),
                message: mid_answer.then(|| "Continuing after an interruption.".to_owned()),
                attempt: None,
                delay_ms: None,
            })]
        } else {
            Vec::new()
        };
        let id = self.task.id.clone();
        let started_at = self.task.started_at.unwrap_or(now);
        self.commit(events, move |txn| {
            Box::pin(async move {
                task::Entity::update_many()
                    .col_expr(task::Column::Status, Expr::value(TaskStatus::Running))
                    .col_expr(task::Column::StartedAt, Expr::value(started_at))
                    .col_expr(task::Column::RunStartedAt, Expr::value(run_started))
                    .filter(task::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;

        let model = match self
            .rt
            .providers()
            .choose(project.model.as_deref())
            .and_then(|m| self.rt.providers().provider(&m).map(|p| (m, p)))
        {
            Ok(found) => found,
            Err(e) => return self.fail("MODEL_NOT_CONFIGURED", &e.to_string()).await,
        };
        if self.task.model.as_deref() != Some(&model.0.to_string()) {
            task::Entity::update_many()
                .col_expr(task::Column::Model, Expr::value(model.0.to_string()))
                .filter(task::Column::Id.eq(&self.task.id))
                .filter(task::Column::LeaseEpoch.eq(self.claim.epoch))
                .exec(self.db())
                .await?;
        }
        let tools = match self.tools(secrets).await {
            Ok(t) => t,
            Err(message) => return self.fail("SANDBOX_UNAVAILABLE", &message).await,
        };
        let prompts: Vec<(String, String)> = project_prompt::Entity::find()
            .filter(project_prompt::Column::ProjectId.eq(&project.id))
            .order_by_asc(project_prompt::Column::Position)
            .all(self.db())
            .await?
            .into_iter()
            .map(|p| (p.name, p.content))
            .collect();
        let system = super::prompt::system_prompt(
            &prompts,
            self.task.system_prompt.as_deref(),
            &tools.definitions(),
        );
        let limits = self.rt.config().tasks.clone();
        let deadline = run_started
            + chrono::Duration::seconds(i64::try_from(limits.max_run_secs).unwrap_or(i64::MAX / 2));
        let mut turns = 0u32;
        loop {
            if self.drain.is_cancelled() {
                return Ok(Outcome::Drained);
            }
            if Utc::now() > deadline {
                return self
                    .fail(
                        "TIMEOUT",
                        &format!(
                            "The task ran longer than its limit of {} seconds and was stopped. Send a follow-up to continue.",
                            limits.max_run_secs
                        ),
                    )
                    .await;
            }
            let conv = Conversation::load(self.db(), &self.task.id).await?;
            let open: Vec<StoredCall> = conv.open_calls().into_iter().cloned().collect();
            if !open.is_empty() {
                match self.process_calls(open, &tools).await? {
                    Step::Continue => continue,
                    Step::WaitForApproval => return self.wait_for_approval().await,
                }
            }
            let seen_messages = i64::try_from(conv.messages.len()).unwrap_or(0);
            if !conv.needs_model() {
                let text = conv.final_text();
                if self.complete(&text, seen_messages).await? {
                    return Ok(Outcome::Completed);
                }
                continue;
            }
            turns += 1;
            if turns > limits.max_turns {
                return self
                    .fail(
                        "MAX_TURNS",
                        &format!(
                            "The agent used its {} model calls for this run without finishing. Send a follow-up to let it continue.",
                            limits.max_turns
                        ),
                    )
                    .await;
            }
            let request = llm::Request {
                model: model.0.model.clone(),
                system: system.clone(),
                messages: conversation::compact(
                    conv.to_llm(),
                    system.len() + 4000,
                    context_budget(&model.0, limits.context_window_tokens),
                ),
                tools: tools
                    .definitions()
                    .into_iter()
                    .map(|d| llm::ToolSpec {
                        name: d.name,
                        description: d.description,
                        parameters: d.parameters,
                    })
                    .collect(),
                max_output_tokens: self.rt.config().llm.max_output_tokens,
            };
            let turn = match self.model_turn(model.1.as_ref(), request).await? {
                Ok(turn) => turn,
                Err(None) => return Ok(Outcome::Drained),
                Err(Some(e)) => {
                    return self
                        .fail("MODEL_ERROR", &format!("The model call failed: {e}"))
                        .await;
                }
            };
            let upto = conv.messages.last().map_or(-1, |m| m.model.position);
            self.store_turn(&model.0, turn, upto).await?;
        }
    }

    /// The built-in tools over the task's sandbox (started now, or taken from the warm pool).
    async fn tools(&self, secrets: BTreeMap<String, String>) -> Result<ToolRegistry, String> {
        let env: BTreeMap<String, String> = self
            .task
            .env
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or_default();
        let spec = SandboxSpec {
            task_id: self.task.id.clone(),
            network: true,
            env: TaskEnv { env, secrets },
        };
        let sandboxes = self.rt.sandboxes();
        // A started sandbox from the pool costs nothing to take now; otherwise one starts
        // with the first command.
        let sandbox: Arc<dyn crate::sandbox::Sandbox> = if sandboxes.pooled_for(&self.task.id) {
            sandboxes.acquire(&spec).await.map_err(|e| e.to_string())?
        } else {
            Arc::new(sandboxes.lazy(spec).map_err(|e| e.to_string())?)
        };
        let workspace = sandboxes
            .open_workspace(&self.task.id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ToolRegistry::new(ToolContext {
            sandbox,
            workspace,
            redactor: self.redactor.clone(),
            web: self.rt.web(),
        }))
    }

    fn needs_approval(&self, tool: &str) -> bool {
        if self.task.auto_execute {
            return false;
        }
        let allowed: Vec<String> =
            serde_json::from_str(&self.task.allowed_tools).unwrap_or_default();
        !allowed.iter().any(|t| t == tool)
    }

    /// Runs the open calls of the last answer in order; stops at the first that waits for a
    /// person. Consecutive read-only calls run at once.
    async fn process_calls(
        &mut self,
        open: Vec<StoredCall>,
        tools: &ToolRegistry,
    ) -> Result<Step, RunError> {
        // The allowed tools may have grown (`proceed_always`) since the run started.
        if let Some(t) = task::Entity::find_by_id(self.task.id.clone())
            .one(self.db())
            .await?
        {
            self.task.allowed_tools = t.allowed_tools;
        }
        // A call found `executing` was started by a worker that is gone: never run it again.
        let mut changed = false;
        let mut to_ask = Vec::new();
        for call in &open {
            match call.status {
                CallStatus::Executing => {
                    self.finish_call(
                        call,
                        CallStatus::Error,
                        "This tool call was interrupted (the server restarted while it ran). It may or may not have taken effect: check before running it again.".to_owned(),
                    )
                    .await?;
                    changed = true;
                }
                CallStatus::Pending if self.needs_approval(&call.tool_name) => {
                    to_ask.push(call.clone());
                }
                _ => {}
            }
        }
        if !to_ask.is_empty() {
            let events = to_ask
                .iter()
                .map(|c| {
                    StreamEvent::ToolCall(ToolCallEvent {
                        call_id: c.call_id.clone(),
                        tool_name: c.tool_name.clone(),
                        status: "awaiting_approval".to_owned(),
                        args: c.args.clone(),
                    })
                })
                .collect();
            let id = self.task.id.clone();
            let ids: Vec<String> = to_ask.iter().map(|c| c.call_id.clone()).collect();
            self.commit(events, move |txn| {
                Box::pin(async move {
                    task_tool_call::Entity::update_many()
                        .col_expr(
                            task_tool_call::Column::Status,
                            Expr::value(CallStatus::AwaitingApproval.as_str()),
                        )
                        .filter(task_tool_call::Column::TaskId.eq(id))
                        .filter(task_tool_call::Column::CallId.is_in(ids))
                        .filter(task_tool_call::Column::Status.eq(CallStatus::Pending.as_str()))
                        .exec(txn)
                        .await?;
                    Ok(())
                })
            })
            .await?;
            changed = true;
        }
        if changed {
            return Ok(Step::Continue);
        }
        // In order, up to the first call still waiting for a person.
        let mut batch: Vec<StoredCall> = Vec::new();
        for call in &open {
            if call.status == CallStatus::AwaitingApproval {
                self.run_batch(std::mem::take(&mut batch), tools).await?;
                return Ok(Step::WaitForApproval);
            }
            if !is_read_only(&call.tool_name) || batch.iter().any(|b| !is_read_only(&b.tool_name)) {
                self.run_batch(std::mem::take(&mut batch), tools).await?;
            }
            batch.push(call.clone());
            if self.drain.is_cancelled() {
                break;
            }
        }
        self.run_batch(batch, tools).await?;
        Ok(Step::Continue)
    }

    async fn run_batch(
        &self,
        batch: Vec<StoredCall>,
        tools: &ToolRegistry,
    ) -> Result<(), RunError> {
        if batch.is_empty() {
            return Ok(());
        }
        let events = batch
            .iter()
            .map(|c| {
                StreamEvent::ToolCall(ToolCallEvent {
                    call_id: c.call_id.clone(),
                    tool_name: c.tool_name.clone(),
                    status: "executing".to_owned(),
                    args: c.args.clone(),
                })
            })
            .collect();
        let id = self.task.id.clone();
        let ids: Vec<String> = batch.iter().map(|c| c.call_id.clone()).collect();
        self.commit(events, move |txn| {
            Box::pin(async move {
                task_tool_call::Entity::update_many()
                    .col_expr(
                        task_tool_call::Column::Status,
                        Expr::value(CallStatus::Executing.as_str()),
                    )
                    .filter(task_tool_call::Column::TaskId.eq(id))
                    .filter(task_tool_call::Column::CallId.is_in(ids))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        let results = futures_util::future::join_all(
            batch
                .iter()
                .map(|c| tools.execute(&c.tool_name, c.args.clone())),
        )
        .await;
        for (call, result) in batch.iter().zip(results) {
            let status = if result.ok {
                CallStatus::Success
            } else {
                CallStatus::Error
            };
            self.finish_call(call, status, result.output).await?;
        }
        Ok(())
    }

    async fn finish_call(
        &self,
        call: &StoredCall,
        status: CallStatus,
        output: String,
    ) -> Result<(), RunError> {
        let output = self.redactor.redact(&output);
        let event = StreamEvent::ToolResult(ToolResultEvent {
            call_id: call.call_id.clone(),
            status: status.as_str().to_owned(),
            output: output.clone(),
        });
        let id = self.task.id.clone();
        let call_id = call.call_id.clone();
        self.commit(vec![event], move |txn| {
            Box::pin(async move {
                task_tool_call::Entity::update_many()
                    .col_expr(task_tool_call::Column::Status, Expr::value(status.as_str()))
                    .col_expr(task_tool_call::Column::Output, Expr::value(output))
                    .col_expr(task_tool_call::Column::CompletedAt, Expr::value(Utc::now()))
                    .filter(task_tool_call::Column::TaskId.eq(id))
                    .filter(task_tool_call::Column::CallId.eq(call_id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }

    /// One model call with retries. `Err(None)`: stopped for shutdown; `Err(Some)`: failed.
    async fn model_turn(
        &self,
        provider: &dyn Provider,
        request: llm::Request,
    ) -> Result<Result<Turn, Option<LlmError>>, RunError> {
        let limits = &self.rt.config().tasks;
        let mut attempt = 0u32;
        loop {
            self.emit(vec![StreamEvent::Status(StatusEvent {
                status: "processing".to_owned(),
                message: None,
                attempt: (attempt > 0).then_some(attempt),
                delay_ms: None,
            })])
            .await?;
            match self.stream_turn(provider, request.clone()).await? {
                Ok(turn) => return Ok(Ok(turn)),
                Err(e) if e.is_transient() && attempt < limits.model_retries => {
                    attempt += 1;
                    let delay = retry_delay(&e, attempt, limits.retry_base_ms);
                    self.emit(vec![StreamEvent::Status(StatusEvent {
                        status: "retrying".to_owned(),
                        message: Some(self.redactor.redact(&e.to_string())),
                        attempt: Some(attempt),
                        delay_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
                    })])
                    .await?;
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.drain.cancelled() => return Ok(Err(None)),
                    }
                }
                Err(e) => return Ok(Err(Some(e))),
            }
        }
    }

    /// Streams one answer, logging text as it arrives (coalesced) and thoughts as they end.
    async fn stream_turn(
        &self,
        provider: &dyn Provider,
        request: llm::Request,
    ) -> Result<Result<Turn, LlmError>, RunError> {
        let mut stream = match provider.stream(request).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let coalesce = Duration::from_millis(self.rt.config().tasks.coalesce_ms);
        let mut raw_text = String::new();
        let mut sent_text = String::new();
        let mut thinking: Vec<Part> = Vec::new();
        let mut thinking_now = String::new();
        let mut calls = Vec::new();
        let mut usage = llm::Usage::default();
        // The first piece goes out at once (time to first token); later ones are coalesced.
        let mut last_flush = Instant::now()
            .checked_sub(coalesce)
            .unwrap_or_else(Instant::now);
        let stop = loop {
            let wait = coalesce.saturating_sub(last_flush.elapsed());
            let item = if raw_text.len() > sent_text.len() {
                match tokio::time::timeout(wait, stream.next()).await {
                    Ok(item) => item,
                    Err(_) => {
                        self.flush_text(&raw_text, &mut sent_text).await?;
                        last_flush = Instant::now();
                        continue;
                    }
                }
            } else {
                stream.next().await
            };
            match item {
                None => {
                    return Ok(Err(LlmError::Transient {
                        message: "the model's stream ended before its answer was complete"
                            .to_owned(),
                        retry_after: None,
                    }));
                }
                Some(Err(e)) => return Ok(Err(e)),
                Some(Ok(ev)) => match ev {
                    llm::StreamEvent::TextDelta(t) => {
                        if !thinking_now.is_empty() {
                            self.end_thought(&mut thinking, &mut thinking_now, None)
                                .await?;
                        }
                        raw_text.push_str(&t);
                        if last_flush.elapsed() >= coalesce {
                            self.flush_text(&raw_text, &mut sent_text).await?;
                            last_flush = Instant::now();
                        }
                    }
                    llm::StreamEvent::ThinkingDelta(t) => thinking_now.push_str(&t),
                    llm::StreamEvent::ThinkingSignature(sig) => {
                        self.end_thought(&mut thinking, &mut thinking_now, Some(sig))
                            .await?;
                    }
                    llm::StreamEvent::ToolCall(c) => calls.push(c),
                    llm::StreamEvent::Usage(u) => usage = u,
                    llm::StreamEvent::End(reason) => break reason,
                },
            }
        };
        if !thinking_now.is_empty() {
            self.end_thought(&mut thinking, &mut thinking_now, None)
                .await?;
        }
        // The rest of the text as a last partial, so partials add up to the whole answer.
        // Nothing follows, so nothing is held back as a possible secret's beginning.
        let whole = self.redactor.redact(&raw_text);
        if whole.len() > sent_text.len() && whole.starts_with(sent_text.as_str()) {
            self.emit(vec![StreamEvent::Content(ContentEvent {
                text: whole[sent_text.len()..].to_owned(),
                is_partial: true,
            })])
            .await?;
        }
        Ok(Ok(Turn {
            text: raw_text,
            thinking,
            calls,
            usage,
            stop,
        }))
    }

    async fn end_thought(
        &self,
        thinking: &mut Vec<Part>,
        now: &mut String,
        signature: Option<String>,
    ) -> Result<(), RunError> {
        let text = self.redactor.redact(&std::mem::take(now));
        if !text.trim().is_empty() {
            self.emit(vec![StreamEvent::Thought(conversation::thought(&text))])
                .await?;
        }
        thinking.push(Part::Thinking { text, signature });
        Ok(())
    }

    /// Logs the text received since the last flush as one partial `content` event. Secrets
    /// are redacted from the whole text so far; a possible beginning of a secret at the end is
    /// held back until the next piece shows whether it is one.
    async fn flush_text(&self, raw: &str, sent: &mut String) -> Result<(), RunError> {
        let safe = self.redactor.strip_partial_tail(&self.redactor.redact(raw));
        if safe.len() <= sent.len() || !safe.starts_with(sent.as_str()) {
            return Ok(());
        }
        let delta = safe[sent.len()..].to_owned();
        self.emit(vec![StreamEvent::Content(ContentEvent {
            text: delta,
            is_partial: true,
        })])
        .await?;
        *sent = safe;
        Ok(())
    }

    /// Stores an answer: its message, its calls and its usage, with the whole text as the
    /// final `content` event, in one transaction.
    /// `upto` is the last message position the model was shown: follow-ups that arrived
    /// while it answered move after the answer, so the conversation reads as it happened and
    /// ends with the question still to answer.
    async fn store_turn(&self, model: &ModelRef, turn: Turn, upto: i64) -> Result<(), RunError> {
        let text = self.redactor.redact(&turn.text);
        let mut events = Vec::new();
        if !text.is_empty() {
            events.push(StreamEvent::Content(ContentEvent {
                text: text.clone(),
                is_partial: false,
            }));
        }
        if turn.stop == StopReason::MaxTokens && turn.calls.is_empty() {
            tracing::info!(task = %self.task.id, "the model's answer was cut at its output limit");
        }
        let mut parts = turn.thinking;
        parts.push(Part::Text { text });
        let existing: Vec<String> = self.rt.call_ids(&self.task.id).await?;
        let mut seen = existing;
        let mut calls = Vec::with_capacity(turn.calls.len());
        for c in turn.calls {
            let mut id = c.id.clone();
            if id.is_empty() || seen.contains(&id) || id.len() > 120 {
                id = format!("call_{}", uuid::Uuid::now_v7().simple());
            }
            seen.push(id.clone());
            calls.push(llm::ToolCall {
                id,
                name: c.name,
                args: self.redactor.redact_json(c.args),
            });
        }
        let cost = crate::llm::pricing::cost_usd(model, turn.usage);
        let task_id = self.task.id.clone();
        let epoch = self.claim.epoch;
        let usage = turn.usage;
        self.commit(events, move |txn| {
            Box::pin(async move {
                let (message_id, _, seq) =
                    next_message(txn, &task_id, Writer::Worker { epoch }).await?;
                let position = upto + 1;
                // Two steps, so the unique (task, position) index never sees a clash.
                const SHIFT: i64 = 1 << 40;
                task_message::Entity::update_many()
                    .col_expr(
                        task_message::Column::Position,
                        Expr::col(task_message::Column::Position).add(SHIFT),
                    )
                    .filter(task_message::Column::TaskId.eq(&task_id))
                    .filter(task_message::Column::Position.gt(upto))
                    .exec(txn)
                    .await?;
                task_message::Entity::update_many()
                    .col_expr(
                        task_message::Column::Position,
                        Expr::col(task_message::Column::Position).sub(SHIFT - 1),
                    )
                    .filter(task_message::Column::TaskId.eq(&task_id))
                    .filter(task_message::Column::Position.gt(upto + SHIFT - 1))
                    .exec(txn)
                    .await?;
                let now = Utc::now();
                task_message::Entity::insert(task_message::ActiveModel {
                    id: Set(message_id.clone()),
                    task_id: Set(task_id.clone()),
                    position: Set(position),
                    role: Set("assistant".to_owned()),
                    parts: Set(serde_json::to_string(&parts).unwrap_or_else(|_| "[]".to_owned())),
                    attached_files: Set(None),
                    seq: Set(seq),
                    created_at: Set(now),
                })
                .exec_without_returning(txn)
                .await?;
                for (i, c) in calls.into_iter().enumerate() {
                    task_tool_call::Entity::insert(task_tool_call::ActiveModel {
                        task_id: Set(task_id.clone()),
                        call_id: Set(c.id),
                        message_id: Set(message_id.clone()),
                        position: Set(i64::try_from(i).unwrap_or(0)),
                        tool_name: Set(c.name),
                        args: Set(c.args.to_string()),
                        status: Set(CallStatus::Pending.as_str().to_owned()),
                        output: Set(None),
                        created_at: Set(now),
                        completed_at: Set(None),
                    })
                    .exec_without_returning(txn)
                    .await?;
                }
                let mut update = task::Entity::update_many()
                    .col_expr(
                        task::Column::InputTokens,
                        Expr::col(task::Column::InputTokens)
                            .add(i64::try_from(usage.input_tokens).unwrap_or(0)),
                    )
                    .col_expr(
                        task::Column::OutputTokens,
                        Expr::col(task::Column::OutputTokens)
                            .add(i64::try_from(usage.output_tokens).unwrap_or(0)),
                    );
                if let Some(cost) = cost {
                    update = update.col_expr(
                        task::Column::CostUsd,
                        Expr::col(task::Column::CostUsd).if_null(0.0).add(cost),
                    );
                }
                update
                    .filter(task::Column::Id.eq(task_id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }

    /// Completes the run when no follow-up arrived since the conversation was read; answers
    /// whether it did.
    async fn complete(&self, text: &str, seen_messages: i64) -> Result<bool, RunError> {
        let id = self.task.id.clone();
        let epoch = self.claim.epoch;
        let done = StreamEvent::Done(DoneEvent {
            final_response: text.to_owned(),
        });
        let committed = self
            .db()
            .transaction::<_, Option<Vec<Logged>>, RunError>(move |txn| {
                Box::pin(async move {
                    let res = task::Entity::update_many()
                        .col_expr(task::Column::Status, Expr::value(TaskStatus::Completed))
                        .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
                        .col_expr(task::Column::Error, Expr::value(Option::<String>::None))
                        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
                        .col_expr(
                            task::Column::LeaseUntil,
                            Expr::value(Option::<chrono::DateTime<Utc>>::None),
                        )
                        .filter(task::Column::Id.eq(&id))
                        .filter(task::Column::LeaseEpoch.eq(epoch))
                        .filter(task::Column::MessageCount.eq(seen_messages))
                        .exec(txn)
                        .await?;
                    if res.rows_affected == 0 {
                        ensure_held(txn, &id, Writer::Worker { epoch }).await?;
                        return Ok(None);
                    }
                    let logged =
                        events::write_events(txn, &id, Writer::Worker { epoch }, &[done]).await?;
                    Ok(Some(logged))
                })
            })
            .await?;
        match committed {
            Some(logged) => {
                self.rt.hub().publish(&self.task.id, &logged);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn fail(&self, code: &str, message: &str) -> Result<Outcome, RunError> {
        let message = self.redactor.redact(message);
        let id = self.task.id.clone();
        let stored = message.clone();
        self.commit(
            vec![StreamEvent::Error(ErrorEvent {
                code: code.to_owned(),
                message,
            })],
            move |txn| {
                Box::pin(async move {
                    task::Entity::update_many()
                        .col_expr(task::Column::Status, Expr::value(TaskStatus::Failed))
                        .col_expr(task::Column::Error, Expr::value(stored))
                        .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
                        .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
                        .col_expr(
                            task::Column::LeaseUntil,
                            Expr::value(Option::<chrono::DateTime<Utc>>::None),
                        )
                        .filter(task::Column::Id.eq(id))
                        .exec(txn)
                        .await?;
                    Ok(())
                })
            },
        )
        .await?;
        Ok(Outcome::Failed)
    }

    /// Gives the task back while a person decides; a decision that came in meanwhile puts it
    /// straight back in the queue.
    async fn wait_for_approval(&self) -> Result<Outcome, RunError> {
        let id = self.task.id.clone();
        self.commit(Vec::new(), move |txn| {
            Box::pin(async move {
                task::Entity::update_many()
                    .col_expr(
                        task::Column::Status,
                        Expr::value(TaskStatus::AwaitingApproval),
                    )
                    .col_expr(task::Column::WorkerId, Expr::value(Option::<String>::None))
                    .col_expr(
                        task::Column::LeaseUntil,
                        Expr::value(Option::<chrono::DateTime<Utc>>::None),
                    )
                    .filter(task::Column::Id.eq(id))
                    .filter(task::Column::Status.eq(TaskStatus::Running))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        let conv = Conversation::load(self.db(), &self.task.id).await?;
        let first_open = conv.open_calls().first().map(|c| c.status);
        if first_open != Some(CallStatus::AwaitingApproval) {
            super::requeue_after_decision(self.db(), &self.task.id).await?;
            self.rt.wake();
        }
        Ok(Outcome::AwaitingApproval)
    }
}

fn is_read_only(name: &str) -> bool {
    Builtin::from_name(name).is_some_and(Builtin::is_read_only)
}

fn context_budget(model: &ModelRef, default_window: u64) -> u64 {
    let window = crate::llm::pricing::context_window(model).unwrap_or(default_window);
    // Room for the answer and for the estimate being rough.
    window.saturating_mul(7) / 10
}

fn retry_delay(e: &LlmError, attempt: u32, base_ms: u64) -> Duration {
    if let LlmError::Transient {
        retry_after: Some(d),
        ..
    } = e
    {
        return (*d).min(Duration::from_secs(120));
    }
    let exp = base_ms.saturating_mul(1u64 << Ord::min(attempt.saturating_sub(1), 10));
    // Jitter spreads retries of many tasks hitting the same rate limit.
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() {
        u64::from(u16::from_le_bytes(b)) % (exp / 4 + 1)
    } else {
        0
    };
    Duration::from_millis(Ord::min(exp + jitter, 60_000))
}

/// Checks inside a transaction that the writer still holds the task.
async fn ensure_held(
    txn: &DatabaseTransaction,
    task_id: &str,
    writer: Writer,
) -> Result<(), RunError> {
    if let Writer::Worker { epoch } = writer {
        let held = task::Entity::find_by_id(task_id.to_owned())
            .filter(task::Column::LeaseEpoch.eq(epoch))
            .one(txn)
            .await?
            .is_some();
        if !held {
            return Err(LogError::Fenced.into());
        }
    }
    Ok(())
}

/// Takes the next message position of a task (and counts the message); answers a new message
/// id, its position and the event sequence number the conversation is complete up to.
pub async fn next_message(
    txn: &DatabaseTransaction,
    task_id: &str,
    writer: Writer,
) -> Result<(String, i64, i64), LogError> {
    let mut update = task::Entity::update_many()
        .col_expr(
            task::Column::MessageCount,
            Expr::col(task::Column::MessageCount).add(1),
        )
        .col_expr(task::Column::LastActivityAt, Expr::value(Utc::now()))
        .filter(task::Column::Id.eq(task_id));
    if let Writer::Worker { epoch } = writer {
        update = update.filter(task::Column::LeaseEpoch.eq(epoch));
    }
    let rows = update.exec_with_returning(txn).await?;
    let row = rows.first().ok_or(LogError::Fenced)?;
    Ok((
        crate::services::new_id(),
        row.message_count - 1,
        row.last_seq,
    ))
}
