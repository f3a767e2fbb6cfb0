//! What people do to a task (through the API): create it, follow up, decide on a call,
//! cancel, delete. No lease is needed; a cancel fences whoever runs the task.

use chrono::{DateTime, Utc};
use protocol::policy::AuditActor;
use protocol::stream::{ErrorEvent, RunErrorCode, StreamEvent, ToolResultEvent};
use protocol::task::{ApprovalOutcome, AttachedFile, CallStatus};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};

use super::{
    CANCELLED_CALL, DECLINED_CALL, Ledger, LedgerError, Logged, Result, Writer, audit, log,
    messages, set_status, without_lease,
};
use crate::store::entities::{TaskStatus, task, task_event, task_message, task_tool_call};

impl Ledger {
    // ---------------------------------------------------------------------------------------

    /// A new task and its first message, `pending` for a worker to claim.
    pub async fn create(
        &self,
        task_id: &str,
        row: task::ActiveModel,
        message: String,
        files: Vec<AttachedFile>,
    ) -> Result<()> {
        let task_id = task_id.to_owned();
        self.db
            .transaction::<_, (), LedgerError>(move |txn| {
                Box::pin(async move {
                    task::Entity::insert(row)
                        .exec_without_returning(txn)
                        .await?;
                    messages::insert_user_message(txn, &task_id, &message, &files).await
                })
            })
            .await?;
        Ok(())
    }

    /// A person's follow-up. An active task reads it after its current step; a finished one
    /// goes back to the queue for a fresh run.
    pub async fn follow_up(
        &self,
        task_id: &str,
        message: String,
        files: Vec<AttachedFile>,
        notice: Option<StreamEvent>,
    ) -> Result<()> {
        let id = task_id.to_owned();
        let logged = self
            .db
            .transaction::<_, Vec<Logged>, LedgerError>(move |txn| {
                Box::pin(async move {
                    let notice: Vec<StreamEvent> = notice.into_iter().collect();
                    let logged = log::write_events(txn, &id, Writer::Api, &notice).await?;
                    messages::insert_user_message(txn, &id, &message, &files).await?;
                    without_lease(set_status(TaskStatus::Pending))
                        .col_expr(task::Column::Error, Expr::value(Option::<String>::None))
                        .col_expr(
                            task::Column::CompletedAt,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .col_expr(task::Column::CancelRequested, Expr::value(false))
                        .col_expr(
                            task::Column::RunStartedAt,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .filter(task::Column::Id.eq(&id))
                        .filter(task::Column::Status.is_in([
                            TaskStatus::Completed,
                            TaskStatus::Failed,
                            TaskStatus::Cancelled,
                        ]))
                        .exec(txn)
                        .await?;
                    Ok(logged)
                })
            })
            .await?;
        self.hub.publish(task_id, &logged);
        Ok(())
    }

    /// A person's decision on a call waiting for approval (`by`, for the audit log); the task
    /// goes back to the queue. `ProceedAlways` allows the tool for the rest of the task where
    /// the project's rules do not ask each time.
    pub async fn decide(
        &self,
        task_id: &str,
        call_id: &str,
        tool_name: &str,
        outcome: ApprovalOutcome,
        by: AuditActor,
    ) -> Result<()> {
        let (status, output) = match outcome {
            ApprovalOutcome::Cancel => (CallStatus::Cancelled, Some(DECLINED_CALL.to_owned())),
            ApprovalOutcome::ProceedOnce | ApprovalOutcome::ProceedAlways => {
                (CallStatus::Approved, None)
            }
        };
        let events = match &output {
            Some(output) => vec![StreamEvent::ToolResult(ToolResultEvent {
                call_id: call_id.to_owned(),
                status: CallStatus::Cancelled,
                output: output.clone(),
            })],
            None => Vec::new(),
        };
        let (id, cid, tool) = (task_id.to_owned(), call_id.to_owned(), tool_name.to_owned());
        self.transact(task_id, Writer::Api, events, move |txn| {
            Box::pin(async move {
                let res = task_tool_call::Entity::update_many()
                    .col_expr(task_tool_call::Column::Status, Expr::value(status.as_str()))
                    .col_expr(task_tool_call::Column::Output, Expr::value(output))
                    .filter(task_tool_call::Column::TaskId.eq(&id))
                    .filter(task_tool_call::Column::CallId.eq(&cid))
                    .filter(
                        task_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()),
                    )
                    .exec(txn)
                    .await?;
                if res.rows_affected == 0 {
                    return Err(LedgerError::AlreadyDecided);
                }
                let answer = if status == CallStatus::Cancelled {
                    "denied"
                } else {
                    "approved"
                };
                audit::record_answer(txn, &id, &cid, answer, &by).await?;
                if status == CallStatus::Cancelled {
                    audit::record_outcome(txn, &id, &cid, "denied").await?;
                }
                if outcome == ApprovalOutcome::ProceedAlways {
                    allow_tool(txn, &id, &tool).await?;
                }
                Ok(())
            })
        })
        .await?;
        self.requeue_after_decision(task_id).await
    }

    /// Cancels an active task: a new lease epoch fences the worker that ran it, wherever it
    /// is; calls not finished are reported cancelled; the stream ends with `TASK_CANCELLED`.
    pub async fn cancel(&self, task_id: &str) -> Result<()> {
        let id = task_id.to_owned();
        let logged = self
            .db
            .transaction::<_, Vec<Logged>, LedgerError>(move |txn| {
                Box::pin(async move {
                    let res = without_lease(set_status(TaskStatus::Cancelled))
                        .col_expr(task::Column::CancelRequested, Expr::value(true))
                        .col_expr(task::Column::CompletedAt, Expr::value(Utc::now()))
                        .col_expr(
                            task::Column::LeaseEpoch,
                            Expr::col(task::Column::LeaseEpoch).add(1),
                        )
                        .filter(task::Column::Id.eq(&id))
                        .filter(task::Column::Status.is_in([
                            TaskStatus::Pending,
                            TaskStatus::Running,
                            TaskStatus::AwaitingApproval,
                        ]))
                        .exec(txn)
                        .await?;
                    if res.rows_affected == 0 {
                        return Err(LedgerError::NotActive);
                    }
                    let open = messages::open_call_ids(txn, &id).await?;
                    for call_id in &open {
                        messages::finish_call(
                            txn,
                            &id,
                            call_id,
                            CallStatus::Cancelled,
                            CANCELLED_CALL,
                        )
                        .await?;
                    }
                    let mut events: Vec<StreamEvent> = open
                        .into_iter()
                        .map(|call_id| {
                            StreamEvent::ToolResult(ToolResultEvent {
                                call_id,
                                status: CallStatus::Cancelled,
                                output: CANCELLED_CALL.to_owned(),
                            })
                        })
                        .collect();
                    events.push(StreamEvent::Error(ErrorEvent {
                        code: RunErrorCode::TaskCancelled,
                        message: "The task was cancelled.".to_owned(),
                    }));
                    log::write_events(txn, &id, Writer::Api, &events).await
                })
            })
            .await?;
        self.hub.publish(task_id, &logged);
        Ok(())
    }

    /// Removes a task and its rows for good, if `scope` (the caller's) still matches it.
    pub async fn delete(&self, task_id: &str, scope: Condition) -> Result<()> {
        let id = task_id.to_owned();
        self.db
            .transaction::<_, (), LedgerError>(move |txn| {
                Box::pin(async move {
                    // The task first, under the caller's scope: nothing goes unless it is
                    // theirs. Its rows then go with it (cascades, where the database enforces
                    // them; explicitly otherwise).
                    let res = task::Entity::delete_many()
                        .filter(task::Column::Id.eq(id.as_str()))
                        .filter(scope)
                        .exec(txn)
                        .await?;
                    if res.rows_affected == 0 {
                        return Err(LedgerError::NotFound);
                    }
                    task_event::Entity::delete_many()
                        .filter(task_event::Column::TaskId.eq(id.as_str()))
                        .exec(txn)
                        .await?;
                    task_tool_call::Entity::delete_many()
                        .filter(task_tool_call::Column::TaskId.eq(id.as_str()))
                        .exec(txn)
                        .await?;
                    task_message::Entity::delete_many()
                        .filter(task_message::Column::TaskId.eq(id.as_str()))
                        .exec(txn)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(())
    }

    /// Puts a task that waited for a person back in the queue once the call it waits on was
    /// decided.
    pub async fn requeue_after_decision(&self, task_id: &str) -> Result<()> {
        set_status(TaskStatus::Running)
            .filter(task::Column::Id.eq(task_id))
            .filter(task::Column::Status.eq(TaskStatus::AwaitingApproval))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// Adds a tool to the task's allowed tools, and approves its calls waiting now.
async fn allow_tool(txn: &DatabaseTransaction, task_id: &str, tool: &str) -> Result<()> {
    let t = task::Entity::find_by_id(task_id.to_owned())
        .one(txn)
        .await?;
    let mut allowed: Vec<String> = t
        .as_ref()
        .and_then(|t| serde_json::from_str(&t.allowed_tools).ok())
        .unwrap_or_default();
    if !allowed.iter().any(|a| a == tool) {
        allowed.push(tool.to_owned());
    }
    task::Entity::update_many()
        .col_expr(
            task::Column::AllowedTools,
            Expr::value(serde_json::to_string(&allowed).unwrap_or_default()),
        )
        .filter(task::Column::Id.eq(task_id))
        .exec(txn)
        .await?;
    task_tool_call::Entity::update_many()
        .col_expr(
            task_tool_call::Column::Status,
            Expr::value(CallStatus::Approved.as_str()),
        )
        .filter(task_tool_call::Column::TaskId.eq(task_id))
        .filter(task_tool_call::Column::ToolName.eq(tool))
        .filter(task_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}
