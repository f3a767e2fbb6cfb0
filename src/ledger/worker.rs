//! What a worker does to a task it holds, each write fenced by its claim's epoch.

use chrono::{DateTime, Utc};
use protocol::stream::{
    DoneEvent, ErrorEvent, RunErrorCode, StreamEvent, ToolCallEvent, ToolResultEvent,
};
use protocol::task::{CallStatus, TaskUsage};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::{
    Answer, CallRef, Claim, Decided, INTERNAL_FAILURE, Ledger, LedgerError, Logged, Result, Writer,
    audit, ensure_held, log, messages, set_status, without_lease,
};
use crate::store::entities::{TaskStatus, task};

impl Ledger {
    /// A run begins (or continues after an interruption): `running`, with the times it
    /// started.
    pub async fn begin_run(
        &self,
        claim: &Claim,
        status: Option<StreamEvent>,
        started_at: DateTime<Utc>,
        run_started_at: DateTime<Utc>,
    ) -> Result<()> {
        let id = claim.task_id.clone();
        self.transact(
            &claim.task_id,
            claim.writer(),
            status.into_iter().collect(),
            move |txn| {
                Box::pin(async move {
                    set_status(TaskStatus::Running)
                        .col_expr(task::Column::StartedAt, Expr::value(started_at))
                        .col_expr(task::Column::RunStartedAt, Expr::value(run_started_at))
                        .filter(task::Column::Id.eq(id))
                        .exec(txn)
                        .await?;
                    Ok(())
                })
            },
        )
        .await
    }

    /// Records the `provider/model` the run uses.
    pub async fn set_model(&self, claim: &Claim, model: &str) -> Result<()> {
        task::Entity::update_many()
            .col_expr(task::Column::Model, Expr::value(model))
            .filter(task::Column::Id.eq(&claim.task_id))
            .filter(task::Column::LeaseEpoch.eq(claim.epoch))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Calls that wait for a person from now on, with the policy's decisions for the audit log.
    pub async fn ask_approval(
        &self,
        claim: &Claim,
        project_id: &str,
        calls: Vec<CallRef>,
        decided: Vec<Decided>,
    ) -> Result<()> {
        self.announce_calls(
            claim,
            project_id,
            calls,
            decided,
            CallStatus::AwaitingApproval,
        )
        .await
    }

    /// Calls that run now; `decided` holds those the policy decided just now (a call a person
    /// approved was recorded when it asked).
    pub async fn start_calls(
        &self,
        claim: &Claim,
        project_id: &str,
        calls: Vec<CallRef>,
        decided: Vec<Decided>,
    ) -> Result<()> {
        self.announce_calls(claim, project_id, calls, decided, CallStatus::Executing)
            .await
    }

    /// Calls the project's policy does not allow: they never run, and the model reads why.
    /// The stream shows each as a call that ended in an error, as it shows any other.
    pub async fn deny_calls(
        &self,
        claim: &Claim,
        project_id: &str,
        denied: Vec<(CallRef, Decided)>,
    ) -> Result<()> {
        if denied.is_empty() {
            return Ok(());
        }
        let mut events = Vec::new();
        let mut rows = Vec::new();
        for (call, decided) in denied {
            let output = format!(
                "Not allowed by this project's tool policy ({}). This call did not run; do not retry it. Continue without it, or tell the user what you needed.",
                decided.reason
            );
            events.push(StreamEvent::ToolCall(ToolCallEvent {
                call_id: call.call_id.clone(),
                tool_name: call.tool_name,
                status: CallStatus::Executing,
                args: call.args,
            }));
            events.push(StreamEvent::ToolResult(ToolResultEvent {
                call_id: call.call_id.clone(),
                status: CallStatus::Error,
                output: output.clone(),
            }));
            rows.push((call.call_id, output, decided));
        }
        let (id, project) = (claim.task_id.clone(), project_id.to_owned());
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move {
                let decisions = rows.iter().map(|(.., d)| d.clone()).collect();
                audit::record_decisions(txn, &project, &id, decisions).await?;
                for (call_id, output, _) in rows {
                    audit::record_outcome(txn, &id, &call_id, "denied").await?;
                    messages::finish_call(txn, &id, &call_id, CallStatus::Error, &output).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn announce_calls(
        &self,
        claim: &Claim,
        project_id: &str,
        calls: Vec<CallRef>,
        decided: Vec<Decided>,
        status: CallStatus,
    ) -> Result<()> {
        if calls.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = calls.iter().map(|c| c.call_id.clone()).collect();
        let events = calls
            .into_iter()
            .map(|c| {
                StreamEvent::ToolCall(ToolCallEvent {
                    call_id: c.call_id,
                    tool_name: c.tool_name,
                    status,
                    args: c.args,
                })
            })
            .collect();
        // Only a call nobody decided on yet can start waiting.
        let from = (status == CallStatus::AwaitingApproval).then_some(CallStatus::Pending);
        let (id, project) = (claim.task_id.clone(), project_id.to_owned());
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move {
                audit::record_decisions(txn, &project, &id, decided).await?;
                messages::set_call_status(txn, &id, ids, status, from).await?;
                Ok(())
            })
        })
        .await
    }

    /// A call ended; `output` is redacted already.
    pub async fn finish_call(
        &self,
        claim: &Claim,
        call_id: &str,
        status: CallStatus,
        output: String,
    ) -> Result<()> {
        let event = StreamEvent::ToolResult(ToolResultEvent {
            call_id: call_id.to_owned(),
            status,
            output: output.clone(),
        });
        let (id, cid) = (claim.task_id.clone(), call_id.to_owned());
        self.transact(&claim.task_id, claim.writer(), vec![event], move |txn| {
            Box::pin(async move { messages::finish_call(txn, &id, &cid, status, &output).await })
        })
        .await
    }

    /// Stores a model's answer (its message, calls and usage) with its final events.
    pub async fn record_answer(
        &self,
        claim: &Claim,
        events: Vec<StreamEvent>,
        answer: Answer,
        upto: i64,
    ) -> Result<()> {
        let (id, epoch) = (claim.task_id.clone(), claim.epoch);
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move { messages::insert_answer(txn, &id, epoch, answer, upto).await })
        })
        .await
    }

    /// Completes the run when no follow-up arrived since the conversation was read (it had
    /// `seen_messages`); answers whether it did.
    pub async fn complete(
        &self,
        claim: &Claim,
        final_response: String,
        seen_messages: i64,
    ) -> Result<bool> {
        let (id, epoch) = (claim.task_id.clone(), claim.epoch);
        let committed = self
            .db
            .transaction::<_, Option<Vec<Logged>>, LedgerError>(move |txn| {
                Box::pin(async move {
                    let res = without_lease(set_status(TaskStatus::Completed))
                        .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
                        .col_expr(task::Column::Error, Expr::value(Option::<String>::None))
                        .filter(task::Column::Id.eq(&id))
                        .filter(task::Column::LeaseEpoch.eq(epoch))
                        .filter(task::Column::MessageCount.eq(seen_messages))
                        .exec(txn)
                        .await?;
                    if res.rows_affected == 0 {
                        ensure_held(txn, &id, Writer::Worker { epoch }).await?;
                        return Ok(None);
                    }
                    // Read in the transaction that completes the run, so `done` carries what
                    // the task used up to and including this run's last model call.
                    let usage = task::Entity::find_by_id(id.clone())
                        .one(txn)
                        .await?
                        .map(|t| TaskUsage {
                            input_tokens: u64::try_from(t.input_tokens).unwrap_or(0),
                            output_tokens: u64::try_from(t.output_tokens).unwrap_or(0),
                            cost_usd: t.cost_usd,
                        });
                    let done = StreamEvent::Done(DoneEvent {
                        final_response,
                        usage,
                    });
                    let logged =
                        log::write_events(txn, &id, Writer::Worker { epoch }, &[done]).await?;
                    Ok(Some(logged))
                })
            })
            .await?;
        Ok(match committed {
            Some(logged) => {
                self.hub.publish(&claim.task_id, &logged);
                true
            }
            None => false,
        })
    }

    /// The run failed; `message` (redacted already) is the task's error and the stream's.
    pub async fn fail(&self, claim: &Claim, code: RunErrorCode, message: String) -> Result<()> {
        let id = claim.task_id.clone();
        let stored = message.clone();
        let event = StreamEvent::Error(ErrorEvent { code, message });
        self.transact(&claim.task_id, claim.writer(), vec![event], move |txn| {
            Box::pin(async move {
                without_lease(set_status(TaskStatus::Failed))
                    .col_expr(task::Column::Error, Expr::value(stored))
                    .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
                    .filter(task::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// The run broke for a reason of ours (logged by the caller): failed, with a message that
    /// says to try again. Nothing happens if the claim was lost meanwhile.
    pub async fn fail_internal(&self, claim: &Claim) -> Result<()> {
        let res = without_lease(set_status(TaskStatus::Failed))
            .col_expr(task::Column::Error, Expr::value(INTERNAL_FAILURE))
            .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
            .filter(task::Column::Id.eq(&claim.task_id))
            .filter(task::Column::LeaseEpoch.eq(claim.epoch))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 1 {
            self.emit(
                &claim.task_id,
                Writer::Api,
                vec![StreamEvent::Error(ErrorEvent {
                    code: RunErrorCode::InternalError,
                    message: INTERNAL_FAILURE.to_owned(),
                })],
            )
            .await?;
        }
        Ok(())
    }

    /// Gives the task back while a person decides (`awaiting_approval`, no lease). A decision
    /// that came in meanwhile finds it `running` still; the worker then requeues it.
    pub async fn await_approval(&self, claim: &Claim) -> Result<()> {
        let id = claim.task_id.clone();
        self.transact(&claim.task_id, claim.writer(), Vec::new(), move |txn| {
            Box::pin(async move {
                without_lease(set_status(TaskStatus::AwaitingApproval))
                    .filter(task::Column::Id.eq(id))
                    .filter(task::Column::Status.eq(TaskStatus::Running))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await
    }
}
