//! (extension) Usage and budgets of a project: `/api/v1/projects/{projectId}/usage`,
//! `…/budget` and `…/api-keys/{keyId}/budget`. Money is US dollars at the providers' list
//! prices; calls to a model without a known price count their tokens but no cost.

use serde::{Deserialize, Serialize};

/// What the rows of a usage report are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum UsageGroup {
    /// One row per UTC day with usage, oldest first.
    #[default]
    Day,
    /// One row per API key (and one with a null key for the Console, the Chat UI, the
    /// widget and schedules), most expensive first.
    Key,
    /// One row per model, most expensive first.
    Model,
}

impl UsageGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Key => "key",
            Self::Model => "model",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Self::Day),
            "key" => Some(Self::Key),
            "model" => Some(Self::Model),
            _ => None,
        }
    }
}

/// The parameters of `GET …/usage`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct UsageQuery {
    /// From this time on: RFC 3339, or a date (`2026-12-01`, its start in UTC). Default: the
    /// first day of the current month (UTC).
    pub from: Option<String>,
    /// Up to this time: RFC 3339 (excluded), or a date (included, to its end in UTC).
    /// Default: now.
    pub to: Option<String>,
    /// `day` (default), `key` or `model`.
    #[cfg_attr(feature = "openapi", param(value_type = Option<UsageGroup>))]
    pub group_by: Option<String>,
}

/// Tokens, cost and tasks of one group (or of the whole range).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    /// The day (`YYYY-MM-DD`), the API key's id, or the model (`<provider>/<model id>`);
    /// null in the key grouping for calls made without a key, and in `totals`.
    pub key: Option<String>,
    /// The API key's name (key grouping only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What the calls cost at list prices; calls to unpriced models add nothing.
    pub cost_usd: f64,
    /// Distinct tasks with calls in the group.
    pub tasks: i64,
    /// Model calls (a subagent's calls count too).
    pub calls: i64,
    /// Calls to a model without a known price: their cost is not in `costUsd`.
    pub unpriced_calls: i64,
}

/// `GET …/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// The range read, RFC 3339: from `from` (included) to `to` (excluded).
    pub from: String,
    pub to: String,
    pub group_by: UsageGroup,
    pub rows: Vec<UsageRow>,
    pub totals: UsageRow,
}

/// `GET/PUT …/budget`: the project's monthly limits and what it spent this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectBudget {
    /// What the project may spend in a calendar month (UTC); null: no limit.
    pub monthly_usd: Option<f64>,
    /// What each widget end user may spend in a calendar month; null: no limit.
    pub end_user_monthly_usd: Option<f64>,
    /// What the project spent this month.
    pub used_usd: f64,
    /// The month `usedUsd` counts, `YYYY-MM`.
    pub month: String,
}

/// The body of `PUT …/budget`: a limit left out stays as it is, `null` removes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectBudgetInput {
    /// US dollars, 0 or more; null removes the limit.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<f64>, example = 50.0, minimum = 0, maximum = 1_000_000_000)
    )]
    pub monthly_usd: Option<Option<f64>>,
    /// US dollars per widget end user, 0 or more; null removes the limit.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<f64>, minimum = 0, maximum = 1_000_000_000)
    )]
    pub end_user_monthly_usd: Option<Option<f64>>,
}

/// A field that is there, `null` or not: `Some(None)` for `null`, so that a field left out
/// (`None`, by `default`) can mean "keep".
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `GET/PUT …/api-keys/{keyId}/budget`: a key's monthly limit and what it spent this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyBudget {
    pub api_key_id: String,
    /// The key's name.
    pub name: String,
    /// The key's first characters, as the key list shows them.
    pub prefix: String,
    /// Whether the key was revoked (its spend still counts for the project).
    pub revoked: bool,
    /// What tasks of the key may spend in a calendar month (UTC); null: no limit.
    pub monthly_usd: Option<f64>,
    /// What tasks of the key spent this month.
    pub used_usd: f64,
    /// The month `usedUsd` counts, `YYYY-MM`.
    pub month: String,
}

/// The body of `PUT …/api-keys/{keyId}/budget`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyBudgetInput {
    /// US dollars, 0 or more; null (or left out) removes the limit.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = 10.0, minimum = 0, maximum = 1_000_000_000)
    )]
    pub monthly_usd: Option<f64>,
}
