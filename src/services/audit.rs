//! Reading a project's audit log (project admins, signed in or with their bearer token): newest
//! first, filtered by tool, decision, person, task and time, a page at a time or all of it as
//! CSV. The ledger writes it (`crate::ledger`); nothing here changes it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, LikeExpr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Services;
use super::access::Caller;
use crate::error::{ApiError, Result};
use crate::rfc3339::ts;
use crate::store::entities::audit_entry;
use protocol::policy::{AuditActor, AuditEntry, AuditPage, AuditQuery, AuditRule, Decision};

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 200;
/// Rows one export holds at most; a longer log is exported by time range.
pub const MAX_EXPORT: u64 = 100_000;

fn time(field: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| if end_of_day { d.succ_opt() } else { Some(d) })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ApiError::field(
                field,
                "An RFC 3339 time (2026-12-01T09:00:00Z) or a date (2026-12-01).",
            )
        })
}

/// `*` is the only wildcard people write; `%` and `_` are literal.
fn like_pattern(glob: &str) -> LikeExpr {
    let escaped: String = glob
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            '*' => vec!['%'],
            c => vec![c],
        })
        .collect();
    LikeExpr::new(escaped).escape('\\')
}

fn filters(q: &AuditQuery) -> Result<Condition, ApiError> {
    let mut c = Condition::all();
    if let Some(tool) = q.tool.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        c = if tool.contains('*') {
            c.add(audit_entry::Column::Tool.like(like_pattern(tool)))
        } else {
            c.add(audit_entry::Column::Tool.eq(tool))
        };
    }
    if let Some(d) = q.decision.as_deref().filter(|d| !d.is_empty()) {
        let d = Decision::parse(d)
            .ok_or_else(|| ApiError::field("decision", "One of allow, ask or deny."))?;
        c = c.add(audit_entry::Column::Decision.eq(d.as_str()));
    }
    if let Some(p) = q.person.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        c = c.add(
            Condition::any()
                .add(audit_entry::Column::AnsweredById.eq(p))
                .add(audit_entry::Column::AnsweredByName.eq(p)),
        );
    }
    if let Some(t) = q.task_id.as_deref().filter(|t| !t.is_empty()) {
        c = c.add(audit_entry::Column::TaskId.eq(t));
    }
    if let Some(from) = q.from.as_deref().filter(|t| !t.is_empty()) {
        c = c.add(audit_entry::Column::CreatedAt.gte(time("from", from, false)?));
    }
    if let Some(to) = q.to.as_deref().filter(|t| !t.is_empty()) {
        c = c.add(audit_entry::Column::CreatedAt.lt(time("to", to, true)?));
    }
    if let Some(before) = q.before.as_deref().filter(|b| !b.is_empty()) {
        c = c.add(Expr::col(audit_entry::Column::Id).lt(before));
    }
    Ok(c)
}

fn to_dto(row: audit_entry::Model) -> AuditEntry {
    let answered_by = match (row.answered_by_kind, row.answered_by_id) {
        (Some(kind), Some(id)) => Some(AuditActor {
            kind,
            id,
            name: row.answered_by_name.unwrap_or_default(),
        }),
        _ => None,
    };
    AuditEntry {
        id: row.id,
        time: ts(row.created_at),
        task_id: row.task_id,
        call_id: row.call_id,
        tool: row.tool,
        args: serde_json::from_str(&row.args).unwrap_or(serde_json::Value::Null),
        decision: Decision::parse(&row.decision).unwrap_or(Decision::Deny),
        rule: row
            .rule
            .as_deref()
            .and_then(|r| serde_json::from_str::<AuditRule>(r).ok()),
        reason: row.reason,
        answer: row.answer,
        answered_by,
        answered_at: row.answered_at.map(ts),
        outcome: row.outcome,
        finished_at: row.finished_at.map(ts),
    }
}

impl Services {
    /// A page of the project's audit log, newest first.
    pub async fn audit(
        &self,
        caller: &Caller,
        project_id: &str,
        query: &AuditQuery,
    ) -> Result<AuditPage> {
        let limit = page_size(query, DEFAULT_PAGE)?;
        let mut entries = self
            .audit_rows(caller, project_id, query, limit + 1)
            .await?;
        let next_cursor = (entries.len() as u64 > limit).then(|| {
            entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            entries.last().map(|e| e.id.clone()).unwrap_or_default()
        });
        Ok(AuditPage {
            entries,
            next_cursor,
        })
    }

    /// Every entry the filters select (up to `MAX_EXPORT`, or the page's `limit` when given),
    /// newest first.
    pub async fn audit_export(
        &self,
        caller: &Caller,
        project_id: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>> {
        let limit = page_size(query, MAX_EXPORT)?;
        self.audit_rows(caller, project_id, query, limit).await
    }

    async fn audit_rows(
        &self,
        caller: &Caller,
        project_id: &str,
        query: &AuditQuery,
        limit: u64,
    ) -> Result<Vec<AuditEntry>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let rows = audit_entry::Entity::find()
            .filter(audit_entry::Column::ProjectId.eq(scope.project_id()))
            .filter(filters(query)?)
            .order_by_desc(audit_entry::Column::Id)
            .limit(limit)
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(to_dto).collect())
    }
}

/// `limit` as the query states it (1 to `MAX_PAGE`), or `default` without one.
fn page_size(query: &AuditQuery, default: u64) -> Result<u64> {
    match query.limit {
        None => Ok(default),
        Some(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::field("limit", format!("Between 1 and {MAX_PAGE}.")).into()),
    }
}

/// The entries as CSV, one row each. A cell that a spreadsheet would read as a formula
/// (`=`, `+`, `-`, `@` first) starts with `'`, so an exported argument cannot run there.
pub fn to_csv(entries: &[AuditEntry]) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let written: Result<(), csv::Error> = (|| {
        out.write_record([
            "time",
            "task",
            "call",
            "tool",
            "arguments",
            "decision",
            "rule",
            "condition",
            "reason",
            "answer",
            "answered by",
            "answered at",
            "outcome",
            "finished at",
        ])?;
        for e in entries {
            let by = e
                .answered_by
                .as_ref()
                .map(|a| format!("{} ({})", a.name, a.kind))
                .unwrap_or_default();
            let record = [
                e.time.clone(),
                e.task_id.clone(),
                e.call_id.clone(),
                e.tool.clone(),
                e.args.to_string(),
                e.decision.as_str().to_owned(),
                e.rule.as_ref().map(|r| r.tool.clone()).unwrap_or_default(),
                e.rule
                    .as_ref()
                    .and_then(|r| r.condition.clone())
                    .unwrap_or_default(),
                e.reason.clone(),
                e.answer.clone().unwrap_or_default(),
                by,
                e.answered_at.clone().unwrap_or_default(),
                e.outcome.clone().unwrap_or_default(),
                e.finished_at.clone().unwrap_or_default(),
            ];
            out.write_record(record.iter().map(|cell| inert(cell)))?;
        }
        Ok(())
    })();
    written?;
    Ok(out
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?)
}

fn inert(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}
