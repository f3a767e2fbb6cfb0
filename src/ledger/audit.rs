//! The audit log's writes, made in the transactions of the transitions they record: a call's
//! decision when the policy makes it, a person's answer when they give it, the outcome when
//! the call ends. Rows are never deleted with their task; each part is written once (an
//! update only fills a part still empty), so nothing recorded is ever rewritten.

use chrono::Utc;
use protocol::policy::{AuditActor, AuditRule, Decision};
use protocol::task::CallStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use super::LedgerError;
use crate::store::entities::audit_entry;

/// What the policy decided for one call.
#[derive(Debug, Clone)]
pub struct Decided {
    pub call_id: String,
    pub tool: String,
    /// Redacted already.
    pub args: Value,
    pub decision: Decision,
    pub rule: Option<AuditRule>,
    pub reason: String,
}

/// Records decisions; a call decided before (a step run again after a restart) keeps its
/// first record.
pub(super) async fn record_decisions(
    txn: &DatabaseTransaction,
    project_id: &str,
    task_id: &str,
    decided: Vec<Decided>,
) -> Result<(), LedgerError> {
    if decided.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = decided.into_iter().map(|d| audit_entry::ActiveModel {
        id: Set(crate::ids::new_id()),
        project_id: Set(project_id.to_owned()),
        task_id: Set(task_id.to_owned()),
        call_id: Set(d.call_id),
        tool: Set(d.tool),
        args: Set(d.args.to_string()),
        decision: Set(d.decision.as_str().to_owned()),
        rule: Set(d.rule.and_then(|r| serde_json::to_string(&r).ok())),
        reason: Set(d.reason),
        answer: Set(None),
        answered_by_kind: Set(None),
        answered_by_id: Set(None),
        answered_by_name: Set(None),
        answered_at: Set(None),
        outcome: Set(None),
        finished_at: Set(None),
        created_at: Set(now),
    });
    audit_entry::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([audit_entry::Column::TaskId, audit_entry::Column::CallId])
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// A person approved (`approved`) or declined (`denied`) a call that asked.
pub(super) async fn record_answer(
    txn: &DatabaseTransaction,
    task_id: &str,
    call_id: &str,
    answer: &str,
    by: &AuditActor,
) -> Result<(), LedgerError> {
    audit_entry::Entity::update_many()
        .col_expr(audit_entry::Column::Answer, Expr::value(answer))
        .col_expr(
            audit_entry::Column::AnsweredByKind,
            Expr::value(by.kind.clone()),
        )
        .col_expr(
            audit_entry::Column::AnsweredById,
            Expr::value(by.id.clone()),
        )
        .col_expr(
            audit_entry::Column::AnsweredByName,
            Expr::value(by.name.clone()),
        )
        .col_expr(audit_entry::Column::AnsweredAt, Expr::value(Utc::now()))
        .filter(audit_entry::Column::TaskId.eq(task_id))
        .filter(audit_entry::Column::CallId.eq(call_id))
        .filter(audit_entry::Column::Answer.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// A call ended: `success`, `error`, `denied` or `cancelled`.
pub(super) async fn record_outcome(
    txn: &DatabaseTransaction,
    task_id: &str,
    call_id: &str,
    outcome: &str,
) -> Result<(), LedgerError> {
    audit_entry::Entity::update_many()
        .col_expr(audit_entry::Column::Outcome, Expr::value(outcome))
        .col_expr(audit_entry::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(audit_entry::Column::TaskId.eq(task_id))
        .filter(audit_entry::Column::CallId.eq(call_id))
        .filter(audit_entry::Column::Outcome.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// The outcome a call's final status records.
pub(super) fn outcome_of(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Success => "success",
        CallStatus::Cancelled => "cancelled",
        _ => "error",
    }
}
