//! The conversation's rows: messages and tool calls, written inside the ledger's transactions.

use chrono::Utc;
use protocol::task::{AttachedFile, CallStatus};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use super::error::LedgerError;
use super::log::Writer;
use crate::llm::{self, Part};
use crate::store::entities::{task, task_message, task_tool_call, usage_record};

/// Usage of one model answer, added to the task's totals.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurnUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// A model's answer as it is stored: thoughts and text, the calls it asked for (redacted
/// already), and what it cost.
#[derive(Debug, Clone)]
pub struct Answer {
    pub parts: Vec<Part>,
    pub calls: Vec<llm::ToolCall>,
    pub usage: TurnUsage,
}

/// Takes the next message position of a task (and counts the message); answers a new message
/// id, its position and the event sequence number the conversation is complete up to.
async fn next_message(
    txn: &DatabaseTransaction,
    task_id: &str,
    writer: Writer,
) -> Result<(String, i64, i64), LedgerError> {
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
    let row = rows.first().ok_or(LedgerError::Fenced)?;
    Ok((crate::ids::new_id(), row.message_count - 1, row.last_seq))
}

fn parts_json(parts: &[Part]) -> String {
    serde_json::to_string(parts).unwrap_or_else(|_| "[]".to_owned())
}

/// Inserts a person's message (counted, positioned after everything so far).
pub(super) async fn insert_user_message(
    txn: &DatabaseTransaction,
    task_id: &str,
    message: &str,
    files: &[AttachedFile],
) -> Result<(), LedgerError> {
    let (id, position, seq) = next_message(txn, task_id, Writer::Api).await?;
    let parts = vec![Part::Text {
        text: message.to_owned(),
    }];
    task_message::Entity::insert(task_message::ActiveModel {
        id: Set(id),
        task_id: Set(task_id.to_owned()),
        position: Set(position),
        role: Set("user".to_owned()),
        parts: Set(parts_json(&parts)),
        attached_files: Set(
            (!files.is_empty()).then(|| serde_json::to_string(files).unwrap_or_default())
        ),
        seq: Set(seq),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Stores a model's answer at `upto + 1`: follow-ups that arrived while it answered (after
/// position `upto`, the last the model was shown) move after it, so the conversation reads as
/// it happened and ends with the question still to answer. Call ids the model reused or left
/// empty get fresh ones.
pub(super) async fn insert_answer(
    txn: &DatabaseTransaction,
    task_id: &str,
    epoch: i64,
    answer: Answer,
    upto: i64,
) -> Result<(), LedgerError> {
    let (message_id, _, seq) = next_message(txn, task_id, Writer::Worker { epoch }).await?;
    // Two steps, so the unique (task, position) index never sees a clash.
    const SHIFT: i64 = 1 << 40;
    task_message::Entity::update_many()
        .col_expr(
            task_message::Column::Position,
            Expr::col(task_message::Column::Position).add(SHIFT),
        )
        .filter(task_message::Column::TaskId.eq(task_id))
        .filter(task_message::Column::Position.gt(upto))
        .exec(txn)
        .await?;
    task_message::Entity::update_many()
        .col_expr(
            task_message::Column::Position,
            Expr::col(task_message::Column::Position).sub(SHIFT - 1),
        )
        .filter(task_message::Column::TaskId.eq(task_id))
        .filter(task_message::Column::Position.gt(upto + SHIFT - 1))
        .exec(txn)
        .await?;
    let now = Utc::now();
    task_message::Entity::insert(task_message::ActiveModel {
        id: Set(message_id.clone()),
        task_id: Set(task_id.to_owned()),
        position: Set(upto + 1),
        role: Set("assistant".to_owned()),
        parts: Set(parts_json(&answer.parts)),
        attached_files: Set(None),
        seq: Set(seq),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    let mut seen: Vec<String> = task_tool_call::Entity::find()
        .select_only()
        .column(task_tool_call::Column::CallId)
        .filter(task_tool_call::Column::TaskId.eq(task_id))
        .into_tuple()
        .all(txn)
        .await?;
    for (i, c) in answer.calls.into_iter().enumerate() {
        let mut id = c.id;
        if id.is_empty() || seen.contains(&id) || id.len() > 120 {
            id = format!("call_{}", uuid::Uuid::now_v7().simple());
        }
        seen.push(id.clone());
        task_tool_call::Entity::insert(task_tool_call::ActiveModel {
            task_id: Set(task_id.to_owned()),
            call_id: Set(id),
            message_id: Set(message_id.clone()),
            position: Set(i64::try_from(i).unwrap_or(0)),
            tool_name: Set(c.name),
            args: Set(c.args.to_string()),
            status: Set(CallStatus::Pending.as_str().to_owned()),
            output: Set(None),
            created_at: Set(now),
            completed_at: Set(None),
            parent_call_id: Set(None),
        })
        .exec_without_returning(txn)
        .await?;
    }
    add_usage(txn, task_id, &answer.usage).await
}

/// Adds a model call's tokens and cost to the task's, and appends the call to the usage
/// history (per day, key, end user and model) that budgets are checked against.
pub(super) async fn add_usage(
    txn: &DatabaseTransaction,
    task_id: &str,
    usage: &TurnUsage,
) -> Result<(), LedgerError> {
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
    if let Some(cost) = usage.cost_usd {
        update = update.col_expr(
            task::Column::CostUsd,
            Expr::col(task::Column::CostUsd).if_null(0.0).add(cost),
        );
    }
    // The row comes back with the update, so the history costs no extra read.
    let rows = update
        .filter(task::Column::Id.eq(task_id))
        .exec_with_returning(txn)
        .await?;
    let Some(task) = rows.first() else {
        return Ok(());
    };
    let now = Utc::now();
    usage_record::Entity::insert(usage_record::ActiveModel {
        id: Set(crate::ids::new_id()),
        org_id: Set(task.org_id.clone()),
        project_id: Set(task.project_id.clone()),
        task_id: Set(task.id.clone()),
        api_key_id: Set(task.api_key_id.clone()),
        end_user_id: Set(task.end_user_id.clone()),
        user_id: Set(task.user_id.clone()),
        model: Set(task.model.clone()),
        input_tokens: Set(i64::try_from(usage.input_tokens).unwrap_or(i64::MAX)),
        output_tokens: Set(i64::try_from(usage.output_tokens).unwrap_or(i64::MAX)),
        cost_usd: Set(usage.cost_usd),
        day: Set(now.format("%Y-%m-%d").to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Moves calls from one status to another (only those still in `from`, when given).
pub(super) async fn set_call_status(
    txn: &DatabaseTransaction,
    task_id: &str,
    call_ids: Vec<String>,
    to: CallStatus,
    from: Option<CallStatus>,
) -> Result<u64, LedgerError> {
    let mut update = task_tool_call::Entity::update_many()
        .col_expr(task_tool_call::Column::Status, Expr::value(to.as_str()))
        .filter(task_tool_call::Column::TaskId.eq(task_id))
        .filter(task_tool_call::Column::CallId.is_in(call_ids));
    if let Some(from) = from {
        update = update.filter(task_tool_call::Column::Status.eq(from.as_str()));
    }
    Ok(update.exec(txn).await?.rows_affected)
}

/// Ends a call with its output.
pub(super) async fn finish_call(
    txn: &DatabaseTransaction,
    task_id: &str,
    call_id: &str,
    status: CallStatus,
    output: &str,
) -> Result<(), LedgerError> {
    task_tool_call::Entity::update_many()
        .col_expr(task_tool_call::Column::Status, Expr::value(status.as_str()))
        .col_expr(task_tool_call::Column::Output, Expr::value(output))
        .col_expr(task_tool_call::Column::CompletedAt, Expr::value(Utc::now()))
        .filter(task_tool_call::Column::TaskId.eq(task_id))
        .filter(task_tool_call::Column::CallId.eq(call_id))
        .exec(txn)
        .await?;
    super::audit::record_outcome(txn, task_id, call_id, super::audit::outcome_of(status)).await
}

/// The calls of a task not finished yet.
pub(super) async fn open_call_ids(
    txn: &DatabaseTransaction,
    task_id: &str,
) -> Result<Vec<String>, LedgerError> {
    Ok(task_tool_call::Entity::find()
        .select_only()
        .column(task_tool_call::Column::CallId)
        .filter(task_tool_call::Column::TaskId.eq(task_id))
        .filter(task_tool_call::Column::Status.is_in([
            CallStatus::Pending.as_str(),
            CallStatus::AwaitingApproval.as_str(),
            CallStatus::Approved.as_str(),
            CallStatus::Executing.as_str(),
        ]))
        .into_tuple()
        .all(txn)
        .await?)
}
