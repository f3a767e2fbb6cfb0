//! Monthly budgets in US dollars: the project's, each widget end user's in it, each API key's.
//! Project admins set them and see what is used this month (UTC calendar month); a run reads
//! the ones that apply to its task once (`RunBudgets`) and checks them before each model call,
//! so a task whose budget is used up does not start and a running one stops at its next call.
//!
//! A budget is a soft limit: it is checked before a call and the call's cost is known only
//! after it, so a month may end a little above its budget, never by more than one call (per
//! run going on at the same time). Calls to models without a known price cost nothing here.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::Services;
use super::access::Caller;
use crate::error::{ApiError, Result};
use crate::store::entities::{api_key, api_key_budget, project_budget, task, usage_record};
use protocol::usage::{ApiKeyBudget, ApiKeyBudgetInput, ProjectBudget, ProjectBudgetInput};

/// The largest budget accepted: beyond it a limit means nothing, and a typo costs real money.
pub const MAX_BUDGET_USD: f64 = 1_000_000_000.0;

/// Where to change a budget, for the messages that stop a task.
const WHERE_TO_RAISE: &str = "A project admin can raise it under Settings → Usage.";

/// The first instant of `now`'s calendar month, UTC.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now, |t| t.and_utc())
}

/// `YYYY-MM` of `now`, UTC.
pub fn month_label(now: DateTime<Utc>) -> String {
    now.format("%Y-%m").to_string()
}

/// `$5.00`; a budget below a cent shows its fractions.
pub fn dollars(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

#[derive(Debug, FromQueryResult)]
struct Spent {
    cost_usd: Option<f64>,
}

/// What the usage rows `scope` selects cost since `since`.
pub async fn spent_since<C: ConnectionTrait>(
    db: &C,
    scope: Condition,
    since: DateTime<Utc>,
) -> Result<f64, DbErr> {
    let row = usage_record::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(SUM(cost_usd) AS DOUBLE PRECISION)"),
            "cost_usd",
        )
        .filter(scope)
        .filter(usage_record::Column::CreatedAt.gte(since))
        .into_model::<Spent>()
        .one(db)
        .await?;
    Ok(row.and_then(|r| r.cost_usd).unwrap_or(0.0))
}

fn project_spend(project_id: &str) -> Condition {
    Condition::all().add(usage_record::Column::ProjectId.eq(project_id))
}

fn key_spend(project_id: &str, key_id: &str) -> Condition {
    project_spend(project_id).add(usage_record::Column::ApiKeyId.eq(key_id))
}

fn end_user_spend(project_id: &str, end_user_id: &str) -> Condition {
    project_spend(project_id).add(usage_record::Column::EndUserId.eq(end_user_id))
}

/// What a limit is on, for the message that names it.
#[derive(Debug, Clone, PartialEq)]
enum Limited {
    Project,
    ApiKey { id: String, name: String },
    EndUser { id: String },
}

#[derive(Debug, Clone, PartialEq)]
struct Limit {
    on: Limited,
    monthly_usd: f64,
}

/// The budgets that apply to one run of a task. Empty (and free to check) when none is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunBudgets {
    project_id: String,
    limits: Vec<Limit>,
}

impl RunBudgets {
    /// Reads the project's, the task's key's and (for a widget conversation) the end user's
    /// budgets.
    pub async fn load<C: ConnectionTrait>(db: &C, task: &task::Model) -> Result<Self, DbErr> {
        let mut limits = Vec::new();
        if let Some(b) = project_budget::Entity::find_by_id(task.project_id.clone())
            .one(db)
            .await?
        {
            if let Some(usd) = b.monthly_usd {
                limits.push(Limit {
                    on: Limited::Project,
                    monthly_usd: usd,
                });
            }
            if let (Some(usd), Some(end_user)) = (b.end_user_monthly_usd, &task.end_user_id) {
                limits.push(Limit {
                    on: Limited::EndUser {
                        id: end_user.clone(),
                    },
                    monthly_usd: usd,
                });
            }
        }
        if let Some(key_id) = &task.api_key_id {
            let found = api_key_budget::Entity::find_by_id(key_id.clone())
                .filter(api_key_budget::Column::ProjectId.eq(&task.project_id))
                .one(db)
                .await?;
            if let Some(usd) = found.and_then(|b| b.monthly_usd) {
                let name = api_key::Entity::find_by_id(key_id.clone())
                    .one(db)
                    .await?
                    .map(|k| k.name)
                    .unwrap_or_default();
                limits.push(Limit {
                    on: Limited::ApiKey {
                        id: key_id.clone(),
                        name,
                    },
                    monthly_usd: usd,
                });
            }
        }
        Ok(Self {
            project_id: task.project_id.clone(),
            limits,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The message naming the first budget that is used up this month, if one is.
    pub async fn exceeded<C: ConnectionTrait>(&self, db: &C) -> Result<Option<String>, DbErr> {
        if self.limits.is_empty() {
            return Ok(None);
        }
        let since = month_start(Utc::now());
        for limit in &self.limits {
            let scope = match &limit.on {
                Limited::Project => project_spend(&self.project_id),
                Limited::ApiKey { id, .. } => key_spend(&self.project_id, id),
                Limited::EndUser { id } => end_user_spend(&self.project_id, id),
            };
            let spent = spent_since(db, scope, since).await?;
            if spent >= limit.monthly_usd {
                return Ok(Some(used_up(&limit.on, limit.monthly_usd, spent)));
            }
        }
        Ok(None)
    }
}

fn used_up(on: &Limited, budget: f64, spent: f64) -> String {
    let (budget, spent) = (dollars(budget), dollars(spent));
    match on {
        Limited::Project => format!(
            "The project's monthly budget of {budget} is used up ({spent} this month). {WHERE_TO_RAISE}"
        ),
        Limited::ApiKey { name, .. } => format!(
            "The monthly budget of API key \"{name}\", {budget}, is used up ({spent} this month). {WHERE_TO_RAISE}"
        ),
        Limited::EndUser { .. } => format!(
            "This user's monthly budget of {budget} is used up ({spent} this month). It renews at the start of next month."
        ),
    }
}

/// A budget as given: 0 or more, finite, at most `MAX_BUDGET_USD`; `None` is no limit.
fn check_budget(field: &str, value: Option<f64>) -> Result<Option<f64>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if !v.is_finite() || v < 0.0 => Err(ApiError::field(
            field,
            format!("`{field}` must be a number of US dollars, 0 or more, or null for no limit."),
        )),
        Some(v) if v > MAX_BUDGET_USD => Err(ApiError::field(
            field,
            format!("`{field}` can be at most {MAX_BUDGET_USD:.0} US dollars."),
        )),
        Some(v) => Ok(Some(v)),
    }
}

impl Services {
    /// The project's budget and what it spent this month (project admins).
    pub async fn project_budget(&self, caller: &Caller, project_id: &str) -> Result<ProjectBudget> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        self.project_budget_of(scope.project_id()).await
    }

    async fn project_budget_of(&self, project_id: &str) -> Result<ProjectBudget> {
        let now = Utc::now();
        let row = project_budget::Entity::find_by_id(project_id.to_owned())
            .one(self.db())
            .await?;
        let used_usd = spent_since(self.db(), project_spend(project_id), month_start(now)).await?;
        Ok(ProjectBudget {
            monthly_usd: row.as_ref().and_then(|r| r.monthly_usd),
            end_user_monthly_usd: row.and_then(|r| r.end_user_monthly_usd),
            used_usd,
            month: month_label(now),
        })
    }

    /// Sets the project's limits (project admins, signed in); one left out stays.
    pub async fn set_project_budget(
        &self,
        caller: &Caller,
        project_id: &str,
        input: ProjectBudgetInput,
    ) -> Result<ProjectBudget> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        let current = project_budget::Entity::find_by_id(scope.project_id().to_owned())
            .one(self.db())
            .await?;
        let monthly = match input.monthly_usd {
            Some(given) => check_budget("monthlyUsd", given)?,
            None => current.as_ref().and_then(|r| r.monthly_usd),
        };
        let end_user = match input.end_user_monthly_usd {
            Some(given) => check_budget("endUserMonthlyUsd", given)?,
            None => current.as_ref().and_then(|r| r.end_user_monthly_usd),
        };
        project_budget::Entity::insert(project_budget::ActiveModel {
            project_id: Set(scope.project_id().to_owned()),
            monthly_usd: Set(monthly),
            end_user_monthly_usd: Set(end_user),
            updated_by: Set(Some(user_id.clone())),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(project_budget::Column::ProjectId)
                .update_columns([
                    project_budget::Column::MonthlyUsd,
                    project_budget::Column::EndUserMonthlyUsd,
                    project_budget::Column::UpdatedBy,
                    project_budget::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(self.db())
        .await?;
        tracing::info!(project = %scope.project_id(), by = %user_id, ?monthly, ?end_user, "project budget set");
        self.project_budget_of(scope.project_id()).await
    }

    /// A key of the project, revoked ones included (their spend still counts).
    async fn project_key(&self, project_id: &str, key_id: &str) -> Result<api_key::Model> {
        Ok(api_key::Entity::find_by_id(key_id.to_owned())
            .filter(api_key::Column::ProjectId.eq(project_id))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("API key"))?)
    }

    async fn key_budget_of(
        &self,
        project_id: &str,
        key: api_key::Model,
        budget: Option<f64>,
    ) -> Result<ApiKeyBudget> {
        let now = Utc::now();
        let used_usd =
            spent_since(self.db(), key_spend(project_id, &key.id), month_start(now)).await?;
        Ok(ApiKeyBudget {
            revoked: key.revoked_at.is_some(),
            api_key_id: key.id,
            name: key.name,
            prefix: key.prefix,
            monthly_usd: budget,
            used_usd,
            month: month_label(now),
        })
    }

    /// One key's budget and what its tasks spent this month (project admins).
    pub async fn api_key_budget(
        &self,
        caller: &Caller,
        project_id: &str,
        key_id: &str,
    ) -> Result<ApiKeyBudget> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let key = self.project_key(scope.project_id(), key_id).await?;
        let budget = api_key_budget::Entity::find_by_id(key.id.clone())
            .one(self.db())
            .await?
            .and_then(|b| b.monthly_usd);
        self.key_budget_of(scope.project_id(), key, budget).await
    }

    /// Sets a key's limit (project admins, signed in: a key cannot raise its own).
    pub async fn set_api_key_budget(
        &self,
        caller: &Caller,
        project_id: &str,
        key_id: &str,
        input: ApiKeyBudgetInput,
    ) -> Result<ApiKeyBudget> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        let monthly = check_budget("monthlyUsd", input.monthly_usd)?;
        let key = self.project_key(scope.project_id(), key_id).await?;
        api_key_budget::Entity::insert(api_key_budget::ActiveModel {
            api_key_id: Set(key.id.clone()),
            project_id: Set(scope.project_id().to_owned()),
            monthly_usd: Set(monthly),
            updated_by: Set(Some(user_id.clone())),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(api_key_budget::Column::ApiKeyId)
                .update_columns([
                    api_key_budget::Column::MonthlyUsd,
                    api_key_budget::Column::UpdatedBy,
                    api_key_budget::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(self.db())
        .await?;
        tracing::info!(project = %scope.project_id(), key = %key.id, by = %user_id, ?monthly, "API key budget set");
        self.key_budget_of(scope.project_id(), key, monthly).await
    }

    /// Every key of the project with its budget and this month's spend, active keys first
    /// (project admins).
    pub async fn api_key_budgets(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<Vec<ApiKeyBudget>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let keys = api_key::Entity::find()
            .filter(api_key::Column::ProjectId.eq(scope.project_id()))
            .order_by_asc(api_key::Column::CreatedAt)
            .all(self.db())
            .await?;
        let budgets: std::collections::HashMap<String, Option<f64>> =
            api_key_budget::Entity::find()
                .filter(api_key_budget::Column::ProjectId.eq(scope.project_id()))
                .all(self.db())
                .await?
                .into_iter()
                .map(|b| (b.api_key_id, b.monthly_usd))
                .collect();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let budget = budgets.get(&key.id).copied().flatten();
            out.push(self.key_budget_of(scope.project_id(), key, budget).await?);
        }
        out.sort_by_key(|k| k.revoked);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_starts_on_its_first_day_at_midnight_utc() -> Result<(), String> {
        let t = DateTime::parse_from_rfc3339("2026-03-31T23:59:59Z")
            .map_err(|e| e.to_string())?
            .with_timezone(&Utc);
        assert_eq!(month_start(t).to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(month_label(t), "2026-03");
        Ok(())
    }

    #[test]
    fn budgets_must_be_finite_and_not_negative() {
        assert_eq!(check_budget("monthlyUsd", None), Ok(None));
        assert_eq!(check_budget("monthlyUsd", Some(0.0)), Ok(Some(0.0)));
        assert_eq!(check_budget("monthlyUsd", Some(5.5)), Ok(Some(5.5)));
        for bad in [-0.01, f64::NAN, f64::INFINITY, 2e9] {
            let e = check_budget("monthlyUsd", Some(bad)).err();
            assert!(
                e.as_ref()
                    .is_some_and(|e| e.field_message("monthlyUsd").is_some()),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn the_message_names_the_limit_and_where_to_raise_it() {
        assert_eq!(
            used_up(&Limited::Project, 5.0, 5.011),
            "The project's monthly budget of $5.00 is used up ($5.01 this month). A project admin can raise it under Settings → Usage."
        );
        let key = used_up(
            &Limited::ApiKey {
                id: "k".into(),
                name: "ci".into(),
            },
            1.0,
            1.2,
        );
        assert!(key.contains("API key \"ci\""), "{key}");
        assert_eq!(dollars(0.004), "$0.0040");
    }
}
