//! A project's audit log tab (project admins): every tool call's decision, newest first,
//! filtered by tool, decision, person and date, a page at a time, and the same as CSV.

use leptos::prelude::*;
use protocol::policy::{AuditEntry, AuditQuery};

use crate::api::get_audit;
use crate::components::{LoadError, Loading};
use crate::pages::projects::current_project;

/// The export's address for the filters shown: a plain download, the session cookie signs it.
fn export_href(project_id: &str, q: &AuditQuery) -> String {
    let pairs: Vec<String> = [
        ("tool", &q.tool),
        ("decision", &q.decision),
        ("person", &q.person),
        ("from", &q.from),
        ("to", &q.to),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}", urlencoding(v)))
    })
    .collect();
    format!(
        "/api/v1/projects/{project_id}/audit/export?{}",
        pairs.join("&")
    )
}

fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~*".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[component]
pub fn AuditTab() -> impl IntoView {
    let (project_id, _) = current_project();
    let filters = RwSignal::new(AuditQuery::default());
    let entries = Resource::new(
        move || (project_id.get(), filters.get()),
        |(id, q)| get_audit(id, q),
    );
    let field = |id: &'static str,
                 label: &'static str,
                 kind: &'static str,
                 set: fn(&mut AuditQuery, String)| {
        view! {
            <div>
                <label class="label" for=id>{label}</label>
                <input class="input" id=id type=kind on:change=move |ev| {
                    let v = event_target_value(&ev);
                    filters.update(|q| { set(q, v); q.before = None; });
                } />
            </div>
        }
    };
    view! {
        <section class="card mb-6" aria-labelledby="audit-title">
            <h2 id="audit-title" class="mb-1 font-semibold">"Audit log"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Every tool call this project's tasks made: what the policy decided and why, who answered a call that asked, and how it ended."
            </p>
            <div class="grid gap-3 sm:grid-cols-5">
                {field("audit-tool", "Tool", "text", |q, v| q.tool = Some(v))}
                <div>
                    <label class="label" for="audit-decision">"Decision"</label>
                    <select class="input" id="audit-decision" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        filters.update(|q| { q.decision = Some(v); q.before = None; });
                    }>
                        <option value="">"Any"</option>
                        <option value="allow">"allow"</option>
                        <option value="ask">"ask"</option>
                        <option value="deny">"deny"</option>
                    </select>
                </div>
                {field("audit-person", "Answered by", "text", |q, v| q.person = Some(v))}
                {field("audit-from", "From", "date", |q, v| q.from = Some(v))}
                {field("audit-to", "To", "date", |q, v| q.to = Some(v))}
            </div>
            <a class="btn mt-3 inline-block" download="audit.csv"
                href=move || export_href(&project_id.get(), &filters.get())>"Export CSV"</a>
        </section>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(page) if page.entries.is_empty() => view! {
                        <p class="card text-slate-600 dark:text-slate-400">"No tool calls match."</p>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone();
                        view! {
                            <div class="card overflow-x-auto">
                                <table class="w-full text-left text-sm" data-testid="audit-entries">
                                    <thead><tr>
                                        <th scope="col" class="py-1">"Time"</th>
                                        <th scope="col">"Tool"</th>
                                        <th scope="col">"Arguments"</th>
                                        <th scope="col">"Decision"</th>
                                        <th scope="col">"Why"</th>
                                        <th scope="col">"Answered by"</th>
                                        <th scope="col">"Outcome"</th>
                                    </tr></thead>
                                    <tbody>{page.entries.into_iter().map(row).collect_view()}</tbody>
                                </table>
                                {next.map(|cursor| view! {
                                    <button class="btn mt-3" type="button"
                                        on:click=move |_| filters.update(|q| q.before = Some(cursor.clone()))>"Older"</button>
                                })}
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn row(e: AuditEntry) -> impl IntoView {
    let answered = e.answered_by.as_ref().map(|a| {
        format!(
            "{} {} ({})",
            e.answer.clone().unwrap_or_default(),
            a.name,
            a.kind
        )
    });
    view! {
        <tr class="border-t border-slate-200 align-top dark:border-slate-800">
            <td class="whitespace-nowrap py-1">{e.time.replace('T', " ").trim_end_matches('Z').to_owned()}</td>
            <td class="font-mono">{e.tool}</td>
            <td class="max-w-xs truncate font-mono" title=e.args.to_string()>{e.args.to_string()}</td>
            <td>{e.decision.as_str()}</td>
            <td class="text-slate-600 dark:text-slate-400">{e.reason}</td>
            <td>{answered.unwrap_or_default()}</td>
            <td>{e.outcome.unwrap_or_else(|| "open".to_owned())}</td>
        </tr>
    }
}
