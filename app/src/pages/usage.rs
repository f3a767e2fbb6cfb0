//! A project's Usage tab (project admins): this month's spend against the project's budget
//! and each API key's, editable; and tokens, cost and tasks over a range per day, per API key
//! and per model.

use leptos::prelude::*;
use protocol::usage::{ApiKeyBudget, ProjectBudget, UsageGroup, UsageQuery, UsageReport, UsageRow};

use crate::api::{SetKeyBudget, SetProjectBudget, get_key_budgets, get_project_budget, get_usage};
use crate::components::{FieldError, FormError, LoadError, Loading, short_date};
use crate::pages::projects::current_project;

/// `$1,234.56`; below a cent, its fractions (a few calls of a small model).
fn dollars(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 0.01 {
        return format!("${usd:.4}");
    }
    let cents = format!("{usd:.2}");
    let (whole, fraction) = cents.split_once('.').unwrap_or((&cents, "00"));
    format!("${}.{fraction}", grouped(whole))
}

/// Digits in groups of three: `1,234,567`.
fn grouped(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn tokens(n: i64) -> String {
    grouped(&n.to_string())
}

/// A budget as its input shows it: empty for no limit.
fn budget_text(usd: Option<f64>) -> String {
    usd.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// How much of a budget is used: a bar and "$x of $y", or what was spent without a limit.
#[component]
fn Meter(used: f64, budget: Option<f64>, #[prop(into)] label: String) -> impl IntoView {
    match budget {
        None => view! {
            <p class="text-sm">
                <span class="font-semibold">{dollars(used)}</span>
                <span class="text-slate-500">" this month · no limit"</span>
            </p>
        }
        .into_any(),
        Some(limit) => {
            let share = if limit > 0.0 {
                (used / limit).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let over = used >= limit;
            let percent = (share * 100.0).round();
            let bar = if over {
                "h-2 rounded bg-red-600"
            } else if share >= 0.8 {
                "h-2 rounded bg-amber-500"
            } else {
                "h-2 rounded bg-emerald-600"
            };
            view! {
                <div>
                    <div class="h-2 w-full rounded bg-slate-200 dark:bg-slate-800" role="progressbar"
                        aria-label=label aria-valuemin="0" aria-valuemax="100"
                        aria-valuenow=percent.to_string()>
                        <div class=bar style=format!("width: {percent}%")></div>
                    </div>
                    <p class="mt-1 text-sm" data-testid="budget-used">
                        <span class="font-semibold">{dollars(used)}</span>
                        " of " {dollars(limit)} " this month"
                        {over.then(|| view! {
                            <span class="ml-2 badge text-red-700 dark:text-red-400">"used up: tasks stop"</span>
                        })}
                    </p>
                </div>
            }
            .into_any()
        }
    }
}

#[component]
pub fn UsageTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let admin = Signal::derive(move || {
        project
            .get()
            .is_some_and(|p| p.role == protocol::Role::Admin)
    });
    view! {
        {move || if admin.get() {
            view! {
                <ProjectBudgetCard project_id />
                <KeyBudgets project_id />
                <UsageTables project_id />
            }.into_any()
        } else {
            view! {
                <p class="card text-slate-600 dark:text-slate-400">"Only project admins see the project's usage and budgets."</p>
            }.into_any()
        }}
    }
}

#[component]
fn ProjectBudgetCard(project_id: Memo<String>) -> impl IntoView {
    let set = ServerAction::<SetProjectBudget>::new();
    let budget = Resource::new(
        move || (project_id.get(), set.version().get()),
        |(id, _)| get_project_budget(id),
    );
    let result = Signal::derive(move || set.value().get());
    view! {
        <section class="card mb-6" aria-labelledby="budget-title">
            <h2 id="budget-title" class="mb-1 font-semibold">"Monthly budget"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "What the project's tasks may spend on models in a calendar month (UTC), at the providers' list prices. "
                "Once it is used up, new tasks and follow-ups end at once with BUDGET_EXCEEDED and running ones stop before their next model call. "
                "Models without a known price count no cost."
            </p>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match budget.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(b) => view! { <BudgetForm project_id set result b /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BudgetForm(
    project_id: Memo<String>,
    set: ServerAction<SetProjectBudget>,
    result: Signal<Option<Result<ProjectBudget, crate::error::ServerError>>>,
    b: ProjectBudget,
) -> impl IntoView {
    let monthly = budget_text(b.monthly_usd);
    let end_user = budget_text(b.end_user_monthly_usd);
    view! {
        <div data-testid="project-budget">
            <Meter used=b.used_usd budget=b.monthly_usd label="The project's budget used this month" />
            <p class="mt-1 text-xs text-slate-500">{format!("Month {} (UTC)", b.month)}</p>
        </div>
        <ActionForm action=set attr:class="mt-4 grid gap-3 border-t border-slate-200 pt-4 sm:grid-cols-3 dark:border-slate-800"
            attr:data-testid="project-budget-form">
            <input type="hidden" name="project_id" value=move || project_id.get() />
            <div>
                <label class="label" for="budget-monthly">"Project, USD per month"</label>
                <input class="input" id="budget-monthly" name="monthly_usd" inputmode="decimal"
                    autocomplete="off" placeholder="No limit" prop:value=monthly
                    aria-describedby="monthlyUsd-error" />
                <FieldError result field="monthlyUsd" />
            </div>
            <div>
                <label class="label" for="budget-end-user">"Each widget end user, USD per month"</label>
                <input class="input" id="budget-end-user" name="end_user_monthly_usd" inputmode="decimal"
                    autocomplete="off" placeholder="No limit" prop:value=end_user
                    aria-describedby="endUserMonthlyUsd-error" />
                <FieldError result field="endUserMonthlyUsd" />
            </div>
            <div class="flex items-end">
                <button class="btn btn-primary" type="submit">"Save budget"</button>
            </div>
        </ActionForm>
        <FormError result />
        <p class="mt-2 text-xs text-slate-500">"Leave a field empty for no limit."</p>
    }
}

#[component]
fn KeyBudgets(project_id: Memo<String>) -> impl IntoView {
    let set = ServerAction::<SetKeyBudget>::new();
    // The row last saved, so its answer shows beside it.
    let last_key = RwSignal::new(String::new());
    let keys = Resource::new(
        move || (project_id.get(), set.version().get()),
        |(id, _)| get_key_budgets(id),
    );
    view! {
        <section class="card mb-6" aria-labelledby="key-budgets-title">
            <h2 id="key-budgets-title" class="mb-1 font-semibold">"API key budgets"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "A key whose budget is used up stops its own tasks; other keys and the Console go on until the project's budget is used up."
            </p>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match keys.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="text-sm text-slate-500">"No API keys yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="key-budgets">
                                <thead><tr>
                                    <th scope="col">"Key"</th>
                                    <th scope="col" class="w-1/3">"This month"</th>
                                    <th scope="col">"Budget (USD per month)"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|k| view! { <KeyRow project_id set last_key k /> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn KeyRow(
    project_id: Memo<String>,
    set: ServerAction<SetKeyBudget>,
    last_key: RwSignal<String>,
    k: ApiKeyBudget,
) -> impl IntoView {
    let input_id = format!("key-budget-{}", k.api_key_id);
    let error_id = format!("key-budget-error-{}", k.api_key_id);
    let described_by = error_id.clone();
    let key_id = k.api_key_id.clone();
    let error = {
        let key_id = key_id.clone();
        move || {
            (last_key.get() == key_id)
                .then(|| set.value().get())
                .flatten()
                .and_then(Result::err)
                .map(|e| e.0.message)
        }
    };
    let on_submit = {
        let key_id = key_id.clone();
        move |_| last_key.set(key_id.clone())
    };
    view! {
        <tr data-testid="key-budget" class="align-top">
            <td class="text-sm">
                <span class="font-semibold">{k.name.clone()}</span>
                <span class="ml-1 font-mono text-xs text-slate-500">{format!("{}…", k.prefix)}</span>
                {k.revoked.then(|| view! { <span class="ml-1 badge">"revoked"</span> })}
            </td>
            <td>
                <Meter used=k.used_usd budget=k.monthly_usd label=format!("Budget of the key {} used this month", k.name) />
            </td>
            <td>
                <ActionForm action=set attr:class="flex gap-2" on:submit=on_submit>
                    <input type="hidden" name="project_id" value=move || project_id.get() />
                    <input type="hidden" name="key_id" value=key_id.clone() />
                    <label class="sr-only" for=input_id.clone()>{format!("Monthly budget of {} in US dollars", k.name)}</label>
                    <input class="input w-28" id=input_id name="monthly_usd" inputmode="decimal"
                        autocomplete="off" placeholder="No limit" prop:value=budget_text(k.monthly_usd)
                        aria-describedby=described_by />
                    <button class="btn" type="submit">"Save"</button>
                </ActionForm>
                <p class="field-error" role="alert" id=error_id>{error}</p>
            </td>
        </tr>
    }
}

/// The range's tables: per day, per key, per model.
#[component]
fn UsageTables(project_id: Memo<String>) -> impl IntoView {
    let range = RwSignal::new(UsageQuery::default());
    let report = move |group: UsageGroup| {
        Resource::new(
            move || (project_id.get(), range.get()),
            move |(id, q)| {
                get_usage(
                    id,
                    UsageQuery {
                        group_by: Some(group.as_str().to_owned()),
                        ..q
                    },
                )
            },
        )
    };
    let by_day = report(UsageGroup::Day);
    let by_key = report(UsageGroup::Key);
    let by_model = report(UsageGroup::Model);
    let date = |id: &'static str, label: &'static str, set: fn(&mut UsageQuery, Option<String>)| {
        view! {
            <div>
                <label class="label" for=id>{label}</label>
                <input class="input" id=id type="date" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    range.update(|q| set(q, Some(v).filter(|v| !v.is_empty())));
                } />
            </div>
        }
    };
    view! {
        <section class="card mb-6" aria-labelledby="usage-title">
            <h2 id="usage-title" class="mb-1 font-semibold">"Usage"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Tokens and cost of every model call, subagents' included. Days are UTC days; without dates, this month so far."
            </p>
            <div class="grid gap-3 sm:grid-cols-3">
                {date("usage-from", "From", |q, v| q.from = v)}
                {date("usage-to", "To (included)", |q, v| q.to = v)}
            </div>
        </section>
        <UsageTable title="Per day" first="Day" testid="usage-by-day" report=by_day />
        <UsageTable title="Per API key" first="API key" testid="usage-by-key" report=by_key />
        <UsageTable title="Per model" first="Model" testid="usage-by-model" report=by_model />
    }
}

#[component]
fn UsageTable(
    title: &'static str,
    first: &'static str,
    testid: &'static str,
    report: Resource<Result<UsageReport, crate::error::ServerError>>,
) -> impl IntoView {
    view! {
        <section class="card mb-6" aria-label=title>
            <h3 class="mb-2 text-sm font-semibold">{title}</h3>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match report.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(r) => {
                            let caption = format!(
                                "{} to {}",
                                short_date(&r.from),
                                short_date(&r.to),
                            );
                            let empty = r.rows.is_empty();
                            let group = r.group_by;
                            view! {
                                <p class="mb-2 text-xs text-slate-500">{caption}</p>
                                {if empty {
                                    view! { <p class="text-sm text-slate-500">"No model calls in this range."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="overflow-x-auto">
                                            <table class="table" data-testid=testid>
                                                <thead><tr>
                                                    <th scope="col">{first}</th>
                                                    <th scope="col" class="text-right">"Input tokens"</th>
                                                    <th scope="col" class="text-right">"Output tokens"</th>
                                                    <th scope="col" class="text-right">"Cost"</th>
                                                    <th scope="col" class="text-right">"Tasks"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {r.rows.into_iter().map(|row| usage_row(group, row, false)).collect_view()}
                                                    {usage_row(group, r.totals, true)}
                                                </tbody>
                                            </table>
                                        </div>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

fn usage_row(group: UsageGroup, row: UsageRow, total: bool) -> impl IntoView {
    let name = if total {
        "Total".to_owned()
    } else {
        match (group, row.key.clone(), row.name.clone()) {
            (UsageGroup::Key, None, _) => {
                "Without a key (Console, Chat, widget, schedules)".to_owned()
            }
            (UsageGroup::Key, Some(id), None) => {
                format!("Deleted key {}", id.get(..8).unwrap_or(&id))
            }
            (UsageGroup::Key, Some(_), Some(name)) => name,
            (_, key, _) => key.unwrap_or_else(|| "Unknown".to_owned()),
        }
    };
    let cost = if row.unpriced_calls > 0 {
        format!(
            "{} (+{} unpriced calls)",
            dollars(row.cost_usd),
            row.unpriced_calls
        )
    } else {
        dollars(row.cost_usd)
    };
    let class = if total {
        "border-t-2 border-slate-300 font-semibold dark:border-slate-700"
    } else {
        ""
    };
    view! {
        <tr class=class>
            <td class="text-sm">{name}</td>
            <td class="text-right font-mono text-sm">{tokens(row.input_tokens)}</td>
            <td class="text-right font-mono text-sm">{tokens(row.output_tokens)}</td>
            <td class="text-right font-mono text-sm">{cost}</td>
            <td class="text-right font-mono text-sm">{row.tasks}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_tokens_read_with_separators() {
        assert_eq!(dollars(1234.5), "$1,234.50");
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(0.0042), "$0.0042");
        assert_eq!(dollars(999.999), "$1,000.00");
        assert_eq!(tokens(1_234_567), "1,234,567");
        assert_eq!(tokens(12), "12");
    }
}
