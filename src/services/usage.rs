//! A project's usage over a time range, per UTC day, API key or model (project admins): what
//! the ledger appended per model call (`usage_records`), summed by the database.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Select};

use super::Services;
use super::access::Caller;
use super::budgets::month_start;
use crate::error::{ApiError, Result};
use crate::rfc3339::ts;
use crate::store::entities::{api_key, usage_record};
use protocol::usage::{UsageGroup, UsageQuery, UsageReport, UsageRow};

/// A bound of the range: RFC 3339, or a date meaning its start (`from`) or its end (`to`).
fn bound(field: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| if end_of_day { d.succ_opt() } else { Some(d) })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ApiError::field(
                field,
                format!(
                    "`{field}` must be a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:00:00Z)."
                ),
            )
        })
}

/// The range a query asks for: by default this month so far.
fn range(q: &UsageQuery, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let from = match given(&q.from) {
        Some(v) => bound("from", v, false)?,
        None => month_start(now),
    };
    let to = match given(&q.to) {
        Some(v) => bound("to", v, true)?,
        None => now,
    };
    if to <= from {
        return Err(ApiError::field("to", "`to` must be after `from`."));
    }
    Ok((from, to))
}

fn group(q: &UsageQuery) -> Result<UsageGroup, ApiError> {
    // A `groupBy` that is given but empty is a mistake, not the default.
    match q.group_by.as_deref().map(str::trim) {
        None => Ok(UsageGroup::Day),
        Some(g) => UsageGroup::parse(g)
            .ok_or_else(|| ApiError::field("groupBy", "`groupBy` must be day, key or model.")),
    }
}

/// A group's sums. Casts keep the types the same on both databases (PostgreSQL sums a
/// `bigint` as `numeric`).
#[derive(Debug, FromQueryResult)]
struct Sums {
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: Option<f64>,
    tasks: i64,
    calls: i64,
    priced_calls: i64,
}

#[derive(Debug, FromQueryResult)]
struct Grouped {
    key: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: Option<f64>,
    tasks: i64,
    calls: i64,
    priced_calls: i64,
}

impl Grouped {
    fn split(self) -> (Option<String>, Sums) {
        let sums = Sums {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_usd: self.cost_usd,
            tasks: self.tasks,
            calls: self.calls,
            priced_calls: self.priced_calls,
        };
        (self.key, sums)
    }
}

fn with_sums(select: Select<usage_record::Entity>) -> Select<usage_record::Entity> {
    select
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT)"),
            "input_tokens",
        )
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT)"),
            "output_tokens",
        )
        .column_as(
            Expr::cust("CAST(SUM(cost_usd) AS DOUBLE PRECISION)"),
            "cost_usd",
        )
        .column_as(Expr::cust("COUNT(DISTINCT task_id)"), "tasks")
        .column_as(Expr::cust("COUNT(*)"), "calls")
        .column_as(Expr::cust("COUNT(cost_usd)"), "priced_calls")
}

fn row(key: Option<String>, name: Option<String>, s: Sums) -> UsageRow {
    UsageRow {
        key,
        name,
        input_tokens: s.input_tokens,
        output_tokens: s.output_tokens,
        cost_usd: s.cost_usd.unwrap_or(0.0),
        tasks: s.tasks,
        calls: s.calls,
        unpriced_calls: s.calls - s.priced_calls,
    }
}

impl Services {
    /// The project's usage between `from` and `to`, grouped, with the range's totals.
    pub async fn project_usage(
        &self,
        caller: &Caller,
        project_id: &str,
        q: &UsageQuery,
    ) -> Result<UsageReport> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let group_by = group(q)?;
        let (from, to) = range(q, Utc::now())?;
        let in_range = || {
            usage_record::Entity::find()
                .select_only()
                .filter(usage_record::Column::ProjectId.eq(scope.project_id()))
                .filter(usage_record::Column::CreatedAt.gte(from))
                .filter(usage_record::Column::CreatedAt.lt(to))
        };
        let column = match group_by {
            UsageGroup::Day => usage_record::Column::Day,
            UsageGroup::Key => usage_record::Column::ApiKeyId,
            UsageGroup::Model => usage_record::Column::Model,
        };
        let grouped = with_sums(in_range().column_as(column, "key"))
            .group_by(column)
            .into_model::<Grouped>()
            .all(self.db())
            .await?;
        let totals = with_sums(in_range())
            .into_model::<Sums>()
            .one(self.db())
            .await?
            .map_or_else(UsageRow::default, |s| row(None, None, s));
        let names: HashMap<String, String> = if group_by == UsageGroup::Key {
            let ids: Vec<String> = grouped.iter().filter_map(|g| g.key.clone()).collect();
            api_key::Entity::find()
                .filter(api_key::Column::ProjectId.eq(scope.project_id()))
                .filter(api_key::Column::Id.is_in(ids))
                .all(self.db())
                .await?
                .into_iter()
                .map(|k| (k.id, k.name))
                .collect()
        } else {
            HashMap::new()
        };
        let mut rows: Vec<UsageRow> = grouped
            .into_iter()
            .map(|g| {
                let (key, sums) = g.split();
                let name = key.as_ref().and_then(|k| names.get(k).cloned());
                row(key, name, sums)
            })
            .collect();
        match group_by {
            UsageGroup::Day => rows.sort_by(|a, b| a.key.cmp(&b.key)),
            UsageGroup::Key | UsageGroup::Model => rows.sort_by(|a, b| {
                b.cost_usd
                    .total_cmp(&a.cost_usd)
                    .then(
                        (b.input_tokens + b.output_tokens).cmp(&(a.input_tokens + a.output_tokens)),
                    )
                    .then(a.key.cmp(&b.key))
            }),
        }
        Ok(UsageReport {
            from: ts(from),
            to: ts(to),
            group_by,
            rows,
            totals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: Option<&str>, to: Option<&str>) -> UsageQuery {
        UsageQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            group_by: None,
        }
    }

    #[test]
    fn dates_cover_whole_days_and_the_default_is_this_month() -> Result<(), String> {
        let now = DateTime::parse_from_rfc3339("2026-05-17T10:00:00Z")
            .map_err(|e| e.to_string())?
            .with_timezone(&Utc);
        let (from, to) = range(&q(None, None), now).map_err(|e| e.message)?;
        assert_eq!((ts(from), ts(to)), (ts(month_start(now)), ts(now)));
        let (from, to) =
            range(&q(Some("2026-05-01"), Some("2026-05-01")), now).map_err(|e| e.message)?;
        assert_eq!(to - from, chrono::Duration::days(1));
        Ok(())
    }

    #[test]
    fn bad_values_name_their_field() {
        let now = Utc::now();
        let e = range(&q(Some("yesterday"), None), now).err();
        assert!(e.is_some_and(|e| e.field_message("from").is_some()));
        let e = range(&q(Some("2026-05-02"), Some("2026-05-01")), now).err();
        assert!(e.is_some_and(|e| e.field_message("to").is_some()));
        let e = group(&UsageQuery {
            group_by: Some("week".into()),
            ..UsageQuery::default()
        })
        .err();
        assert!(e.is_some_and(|e| e.field_message("groupBy").is_some()));
    }
}
