//! A subagent at work: the main agent called it (a tool named after it, `{objective}`), and
//! it runs its own loop — its prompt, its subset of the tools, its bounds on model calls and
//! time — in the task's sandbox, under the project's tool policies. It streams
//! `subagent_start`, a `subagent_thought` per answer, `subagent_tool` per call and
//! `subagent_end`; its result (or why it stopped) is the main agent's tool result.
//!
//! A call an `ask` rule holds waits for a person here, the run holding the task meanwhile (a
//! subagent's conversation lives in memory); with no answer before the subagent's time is up,
//! the call is cancelled and the subagent ends with `TIMEOUT`. A cancel drops the run, and the
//! subagent with it.

use std::time::Duration;

use futures_util::StreamExt;
use protocol::policy::Decision;
use protocol::stream::{StreamEvent, SubagentEnd, SubagentStart, SubagentThought, TerminateReason};
use protocol::task::CallStatus;
use sea_orm::EntityTrait;
use tokio::time::Instant;

use super::policy::Policy;
use super::setup::Setup;
use super::{Run, RunError};
use crate::ledger::{CallRef, TurnUsage};
use crate::llm::{self, LlmError, Message, Part, Role};
use crate::runtime::conversation::{self, StoredCall};
use crate::store::entities::task;
use crate::subagents::Subagent;

/// How often a held call's answer is looked for.
const DECISION_POLL: Duration = Duration::from_millis(200);

/// What the main agent's call to a subagent answers.
pub(super) struct Outcome {
    pub ok: bool,
    pub output: String,
}

/// One answer of the subagent's model, collected whole.
struct Answer {
    text: String,
    calls: Vec<llm::ToolCall>,
    usage: llm::Usage,
}

impl Run {
    pub(super) async fn run_subagent(
        &self,
        setup: &Setup,
        agent: Subagent,
        parent: &StoredCall,
    ) -> Result<Outcome, RunError> {
        let objective = parent
            .args
            .get("objective")
            .and_then(|o| o.as_str())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if objective.is_empty() {
            return Ok(Outcome {
                ok: false,
                output: format!(
                    "`{}` needs an `objective`: what it should achieve, with everything it needs to know.",
                    agent.name
                ),
            });
        }
        self.emit(vec![StreamEvent::SubagentStart(SubagentStart {
            agent_name: agent.name.to_owned(),
            display_name: agent.display_name.to_owned(),
            description: agent.description.to_owned(),
            objective: self.redactor.redact(&objective),
        })])
        .await?;
        let (reason, result) = self.subagent_loop(setup, agent, parent, objective).await?;
        let result = self.redactor.redact(&result);
        self.emit(vec![StreamEvent::SubagentEnd(SubagentEnd {
            agent_name: agent.name.to_owned(),
            terminate_reason: reason,
            result: result.clone(),
        })])
        .await?;
        let output = match reason {
            TerminateReason::Goal => result,
            TerminateReason::MaxTurns => format!(
                "The {} subagent used all the model calls it may make without finishing. What it had: {result}",
                agent.display_name
            ),
            TerminateReason::Timeout => format!(
                "The {} subagent ran out of time before finishing. What it had: {result}",
                agent.display_name
            ),
            TerminateReason::Error => {
                format!("The {} subagent failed: {result}", agent.display_name)
            }
        };
        Ok(Outcome {
            ok: reason == TerminateReason::Goal,
            output,
        })
    }

    async fn subagent_loop(
        &self,
        setup: &Setup,
        agent: Subagent,
        parent: &StoredCall,
        objective: String,
    ) -> Result<(TerminateReason, String), RunError> {
        // Its own bounds, within what is left of the run's.
        let deadline = (Instant::now() + Duration::from_secs(agent.max_secs)).min(self.until);
        let max_turns = agent.max_turns.min(setup.max_turns);
        let tools: Vec<llm::ToolSpec> = setup
            .tools
            .definitions()
            .into_iter()
            .filter(|d| agent.uses(&d.name))
            .map(|d| llm::ToolSpec {
                name: d.name,
                description: d.description,
                parameters: d.parameters,
            })
            .collect();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        let system = format!("{}\n\nTools available: {}.", agent.prompt, names.join(", "));
        let mut messages = vec![Message::user_text(objective)];
        let mut last_text = String::new();
        let mut calls_made = 0usize;
        for _ in 0..max_turns {
            if Instant::now() >= deadline {
                return Ok((TerminateReason::Timeout, last_text));
            }
            // The parent's next model call ends the run with BUDGET_EXCEEDED.
            if let Some(message) = self.over_budget().await? {
                return Ok((TerminateReason::Error, message));
            }
            let request = llm::Request {
                model: setup.model.model.clone(),
                system: system.clone(),
                messages: conversation::compact(
                    messages.clone(),
                    system.len() + 4000,
                    // The subagent shares the model's window with nothing else.
                    self.rt
                        .config()
                        .tasks
                        .context_window_tokens
                        .saturating_mul(7)
                        / 10,
                ),
                tools: tools.clone(),
                max_output_tokens: self.rt.config().llm.max_output_tokens,
            };
            let answer =
                match tokio::time::timeout_at(deadline, self.subagent_turn(setup, request)).await {
                    Err(_) => return Ok((TerminateReason::Timeout, last_text)),
                    Ok(Err(e)) => {
                        return Ok((
                            TerminateReason::Error,
                            format!("the model call failed: {e}"),
                        ));
                    }
                    Ok(Ok(answer)) => answer,
                };
            let text = self.redactor.redact(&answer.text);
            let mut events = Vec::new();
            if !text.trim().is_empty() {
                events.push(StreamEvent::SubagentThought(SubagentThought {
                    agent_name: agent.name.to_owned(),
                    text: text.clone(),
                }));
            }
            self.ledger()
                .subagent_turn(
                    &self.claim,
                    events,
                    TurnUsage {
                        input_tokens: answer.usage.input_tokens,
                        output_tokens: answer.usage.output_tokens,
                        cost_usd: crate::llm::pricing::cost_usd(&setup.model, answer.usage),
                    },
                )
                .await?;
            if !text.trim().is_empty() {
                last_text = text.clone();
            }
            if answer.calls.is_empty() {
                return Ok((TerminateReason::Goal, text));
            }
            let mut parts = vec![Part::Text { text }];
            parts.extend(answer.calls.iter().cloned().map(Part::ToolCall));
            messages.push(Message {
                role: Role::Assistant,
                parts,
            });
            let mut results = Vec::new();
            for call in answer.calls {
                calls_made += 1;
                let call_id = format!("{}.{calls_made}", parent.call_id);
                let step = self
                    .subagent_call(setup, agent, parent, &call_id, &call, deadline)
                    .await?;
                let (is_error, output) = match step {
                    Some(done) => done,
                    None => return Ok((TerminateReason::Timeout, last_text)),
                };
                results.push(Part::ToolResult {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    output,
                    is_error,
                });
            }
            messages.push(Message {
                role: Role::User,
                parts: results,
            });
        }
        Ok((TerminateReason::MaxTurns, last_text))
    }

    /// One model call of the subagent, with the run's retries for passing failures.
    async fn subagent_turn(
        &self,
        setup: &Setup,
        request: llm::Request,
    ) -> Result<Answer, LlmError> {
        let limits = &self.rt.config().tasks;
        let mut attempt = 0u32;
        loop {
            match collect(setup.provider.as_ref(), request.clone()).await {
                Err(e) if e.is_transient() && attempt < limits.model_retries => {
                    attempt += 1;
                    let wait = limits.retry_base_ms.saturating_mul(1 << attempt.min(6));
                    tokio::time::sleep(Duration::from_millis(wait.min(30_000))).await;
                }
                other => return other,
            }
        }
    }

    /// One call of the subagent, decided by the project's policy like any other. Answers
    /// `(is_error, output)`, or `None` when its time ran out waiting for a person.
    async fn subagent_call(
        &self,
        setup: &Setup,
        agent: Subagent,
        parent: &StoredCall,
        call_id: &str,
        call: &llm::ToolCall,
        deadline: Instant,
    ) -> Result<Option<(bool, String)>, RunError> {
        let project = self.task.project_id.as_str();
        let args = self.redactor.redact_json(call.args.clone());
        let call_ref = CallRef {
            call_id: call_id.to_owned(),
            tool_name: call.name.clone(),
            args: args.clone(),
        };
        if !agent.uses(&call.name) {
            return Ok(Some((
                true,
                format!(
                    "`{}` is not one of your tools; use one of: {}.",
                    call.name,
                    agent
                        .tools
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )));
        }
        // The project's rules as they are now, and what the task's people allowed.
        let rules = self
            .rt
            .policies()
            .get_by_id(self.db(), &self.task.project_id)
            .await?;
        let fresh = task::Entity::find_by_id(self.task.id.clone())
            .one(self.db())
            .await?
            .unwrap_or_else(|| self.task.clone());
        let stored = StoredCall {
            call_id: call_id.to_owned(),
            message_id: parent.message_id.clone(),
            tool_name: call.name.clone(),
            args: call.args.clone(),
            status: CallStatus::Pending,
            output: None,
        };
        let decided = Policy::of(&fresh, &rules).decide(
            &stored,
            setup.tools.is_read_only(&call.name),
            &self.redactor,
        );
        let decision = decided.decision;
        let reason = decided.reason.clone();
        let held = decision == Decision::Ask;
        self.ledger()
            .subagent_call(
                &self.claim,
                project,
                &parent.call_id,
                agent.name,
                call_ref.clone(),
                decided,
            )
            .await?;
        if decision == Decision::Deny {
            let output = format!(
                "Not allowed by this project's tool policy ({reason}). This call did not run; do not retry it."
            );
            self.ledger()
                .subagent_call_ends(
                    &self.claim,
                    agent.name,
                    &call_ref,
                    CallStatus::Error,
                    output.clone(),
                    false,
                )
                .await?;
            return Ok(Some((true, output)));
        }
        if held {
            match self.wait_for_decision(call_id, deadline).await? {
                Some(CallStatus::Approved) => {
                    self.ledger()
                        .subagent_call_starts(&self.claim, agent.name, &call_ref)
                        .await?;
                }
                Some(_) => {
                    // Declined: the ledger answered the call when the person did.
                    return Ok(Some((true, crate::ledger::DECLINED_CALL.to_owned())));
                }
                None => {
                    self.ledger()
                        .close_subagent_calls(
                            &self.claim,
                            &parent.call_id,
                            "No one decided on this call before the subagent's time ran out.",
                        )
                        .await?;
                    return Ok(None);
                }
            }
        }
        let result = setup.tools.execute(&call.name, call.args.clone()).await;
        let output = self.redactor.redact(&result.output);
        let status = if result.ok {
            CallStatus::Success
        } else {
            CallStatus::Error
        };
        self.ledger()
            .subagent_call_ends(
                &self.claim,
                agent.name,
                &call_ref,
                status,
                output.clone(),
                held,
            )
            .await?;
        Ok(Some((!result.ok, output)))
    }

    /// Waits for a person's answer to a held call, until `deadline`.
    async fn wait_for_decision(
        &self,
        call_id: &str,
        deadline: Instant,
    ) -> Result<Option<CallStatus>, RunError> {
        loop {
            match self.ledger().call_status(&self.task.id, call_id).await? {
                Some(CallStatus::AwaitingApproval) | None => {}
                Some(status) => return Ok(Some(status)),
            }
            if Instant::now() + DECISION_POLL > deadline {
                return Ok(None);
            }
            tokio::time::sleep(DECISION_POLL).await;
        }
    }
}

/// A model answer, collected from its stream.
async fn collect(provider: &dyn llm::Provider, request: llm::Request) -> Result<Answer, LlmError> {
    let mut stream = provider.stream(request).await?;
    let mut answer = Answer {
        text: String::new(),
        calls: Vec::new(),
        usage: llm::Usage::default(),
    };
    while let Some(event) = stream.next().await {
        match event? {
            llm::StreamEvent::TextDelta(t) => answer.text.push_str(&t),
            llm::StreamEvent::ToolCall(c) => answer.calls.push(c),
            llm::StreamEvent::Usage(u) => answer.usage = u,
            llm::StreamEvent::End(_) => return Ok(answer),
            llm::StreamEvent::ThinkingDelta(_) | llm::StreamEvent::ThinkingSignature(_) => {}
        }
    }
    Err(LlmError::Transient {
        message: "the model's stream ended before its answer was complete".to_owned(),
        retry_after: None,
    })
}
