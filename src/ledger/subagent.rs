//! A subagent's steps, written by the worker that runs the call delegating to it. A
//! subagent's calls are rows of the task's calls, marked with that parent call (the main
//! agent's conversation leaves them out), so the audit log records their decisions and a
//! person approves one held by an `ask` rule as any other: it is announced as a `tool_call`
//! awaiting approval, and its `tool_result` closes it. The rest streams as `subagent_tool`.

use chrono::Utc;
use protocol::policy::Decision;
use protocol::stream::{
    StreamEvent, SubagentTool, SubagentToolStatus, ToolCallEvent, ToolResultEvent,
};
use protocol::task::CallStatus;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{CallRef, Claim, Decided, Ledger, LedgerError, Result, TurnUsage, audit, messages};
use crate::store::entities::task_tool_call;

impl Ledger {
    /// Records a subagent's call with the policy's decision: held for a person (`Ask`), or
    /// started (`Allow`). A denied call is recorded as started and is ended at once by the
    /// caller.
    pub async fn subagent_call(
        &self,
        claim: &Claim,
        project_id: &str,
        parent_call_id: &str,
        agent: &str,
        call: CallRef,
        decided: Decided,
    ) -> Result<()> {
        let held = decided.decision == Decision::Ask;
        let event = if held {
            StreamEvent::ToolCall(ToolCallEvent {
                call_id: call.call_id.clone(),
                tool_name: call.tool_name.clone(),
                status: CallStatus::AwaitingApproval,
                args: call.args.clone(),
            })
        } else {
            started(agent, &call.tool_name)
        };
        let status = if held {
            CallStatus::AwaitingApproval
        } else {
            CallStatus::Executing
        };
        let (id, project, parent) = (
            claim.task_id.clone(),
            project_id.to_owned(),
            parent_call_id.to_owned(),
        );
        self.transact(&claim.task_id, claim.writer(), vec![event], move |txn| {
            Box::pin(async move {
                let parent_row = task_tool_call::Entity::find_by_id((id.clone(), parent.clone()))
                    .one(txn)
                    .await?
                    .ok_or(LedgerError::NotActive)?;
                task_tool_call::Entity::insert(task_tool_call::ActiveModel {
                    task_id: Set(id.clone()),
                    call_id: Set(call.call_id),
                    message_id: Set(parent_row.message_id),
                    position: Set(0),
                    tool_name: Set(call.tool_name),
                    args: Set(call.args.to_string()),
                    status: Set(status.as_str().to_owned()),
                    output: Set(None),
                    created_at: Set(Utc::now()),
                    completed_at: Set(None),
                    parent_call_id: Set(Some(parent)),
                })
                .exec_without_returning(txn)
                .await?;
                audit::record_decisions(txn, &project, &id, vec![decided]).await?;
                Ok(())
            })
        })
        .await
    }

    /// A held call a person approved starts.
    pub async fn subagent_call_starts(
        &self,
        claim: &Claim,
        agent: &str,
        call: &CallRef,
    ) -> Result<()> {
        let (id, cid) = (claim.task_id.clone(), call.call_id.clone());
        let events = vec![
            StreamEvent::ToolCall(ToolCallEvent {
                call_id: call.call_id.clone(),
                tool_name: call.tool_name.clone(),
                status: CallStatus::Executing,
                args: call.args.clone(),
            }),
            started(agent, &call.tool_name),
        ];
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move {
                messages::set_call_status(txn, &id, vec![cid], CallStatus::Executing, None).await?;
                Ok(())
            })
        })
        .await
    }

    /// A subagent's call ended; `output` is redacted already. A call that was held for a
    /// person also gets its `tool_result`, which closes its approval in clients.
    pub async fn subagent_call_ends(
        &self,
        claim: &Claim,
        agent: &str,
        call: &CallRef,
        status: CallStatus,
        output: String,
        was_held: bool,
    ) -> Result<()> {
        let mut events = vec![StreamEvent::SubagentTool(SubagentTool {
            agent_name: agent.to_owned(),
            status: SubagentToolStatus::End,
            tool_name: call.tool_name.clone(),
            output: Some(output.clone()),
        })];
        if was_held {
            events.push(StreamEvent::ToolResult(ToolResultEvent {
                call_id: call.call_id.clone(),
                status,
                output: output.clone(),
            }));
        }
        let (id, cid) = (claim.task_id.clone(), call.call_id.clone());
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move { messages::finish_call(txn, &id, &cid, status, &output).await })
        })
        .await
    }

    /// A subagent's model call: what it streams and what it cost (added to the task's).
    pub async fn subagent_turn(
        &self,
        claim: &Claim,
        events: Vec<StreamEvent>,
        usage: TurnUsage,
    ) -> Result<()> {
        let id = claim.task_id.clone();
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move { messages::add_usage(txn, &id, &usage).await })
        })
        .await
    }

    /// Where a subagent's held call stands now (a person may have answered it).
    pub async fn call_status(&self, task_id: &str, call_id: &str) -> Result<Option<CallStatus>> {
        Ok(
            task_tool_call::Entity::find_by_id((task_id.to_owned(), call_id.to_owned()))
                .one(&self.db)
                .await?
                .map(|row| CallStatus::parse(&row.status)),
        )
    }

    /// Ends the calls a subagent left open (its parent was interrupted, or it ran out of
    /// time while one waited for a person), with `output` as their result.
    pub async fn close_subagent_calls(
        &self,
        claim: &Claim,
        parent_call_id: &str,
        output: &str,
    ) -> Result<()> {
        let open: Vec<String> = task_tool_call::Entity::find()
            .filter(task_tool_call::Column::TaskId.eq(&claim.task_id))
            .filter(task_tool_call::Column::ParentCallId.eq(parent_call_id))
            .filter(task_tool_call::Column::Status.is_in([
                CallStatus::Pending.as_str(),
                CallStatus::AwaitingApproval.as_str(),
                CallStatus::Approved.as_str(),
                CallStatus::Executing.as_str(),
            ]))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.call_id)
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let events = open
            .iter()
            .map(|call_id| {
                StreamEvent::ToolResult(ToolResultEvent {
                    call_id: call_id.clone(),
                    status: CallStatus::Cancelled,
                    output: output.to_owned(),
                })
            })
            .collect();
        let (id, output) = (claim.task_id.clone(), output.to_owned());
        self.transact(&claim.task_id, claim.writer(), events, move |txn| {
            Box::pin(async move {
                for call_id in open {
                    messages::finish_call(txn, &id, &call_id, CallStatus::Cancelled, &output)
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }
}

fn started(agent: &str, tool_name: &str) -> StreamEvent {
    StreamEvent::SubagentTool(SubagentTool {
        agent_name: agent.to_owned(),
        status: SubagentToolStatus::Start,
        tool_name: tool_name.to_owned(),
        output: None,
    })
}
