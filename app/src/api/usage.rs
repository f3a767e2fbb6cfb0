//! Server functions of a project's Usage tab: usage over a range per day, key and model, the
//! project's budgets and each API key's, read and set (project admins).

use leptos::prelude::*;
use protocol::usage::{ApiKeyBudget, ProjectBudget, UsageQuery, UsageReport};

use crate::error::ServerError;

#[cfg(feature = "ssr")]
use crate::backend::current;
#[cfg(feature = "ssr")]
use protocol::usage::{ApiKeyBudgetInput, ProjectBudgetInput};

#[server(prefix = "/_console")]
pub async fn get_usage(project_id: String, query: UsageQuery) -> Result<UsageReport, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.project_usage(&ctx, project_id, query).await?)
}

#[server(prefix = "/_console")]
pub async fn get_project_budget(project_id: String) -> Result<ProjectBudget, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.project_budget(&ctx, project_id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_key_budgets(project_id: String) -> Result<Vec<ApiKeyBudget>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.api_key_budgets(&ctx, project_id).await?)
}

/// A budget as typed: empty for no limit, a leading `$` allowed; the service judges the rest.
#[cfg(feature = "ssr")]
fn typed_dollars(field: &str, text: &str) -> Result<Option<f64>, ServerError> {
    let text = text.trim();
    let text = text.strip_prefix('$').unwrap_or(text).trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.replace(',', "").parse::<f64>().map(Some).map_err(|_| {
        protocol::ApiError::field(
            field,
            "A number of US dollars, such as 25 or 12.50; empty for no limit.",
        )
        .into()
    })
}

/// Sets the project's budget and each widget end user's from the form (empty: no limit).
#[server(prefix = "/_console")]
pub async fn set_project_budget(
    project_id: String,
    monthly_usd: String,
    end_user_monthly_usd: String,
) -> Result<ProjectBudget, ServerError> {
    let (b, ctx) = current()?;
    let input = ProjectBudgetInput {
        monthly_usd: Some(typed_dollars("monthlyUsd", &monthly_usd)?),
        end_user_monthly_usd: Some(typed_dollars("endUserMonthlyUsd", &end_user_monthly_usd)?),
    };
    Ok(b.set_project_budget(&ctx, project_id, input).await?)
}

/// Sets one key's budget from its row's form (empty: no limit).
#[server(prefix = "/_console")]
pub async fn set_key_budget(
    project_id: String,
    key_id: String,
    monthly_usd: String,
) -> Result<ApiKeyBudget, ServerError> {
    let (b, ctx) = current()?;
    let input = ApiKeyBudgetInput {
        monthly_usd: typed_dollars("monthlyUsd", &monthly_usd)?,
    };
    Ok(b.set_api_key_budget(&ctx, project_id, key_id, input)
        .await?)
}
