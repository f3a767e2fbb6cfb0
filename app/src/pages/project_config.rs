//! A project's configuration tab ("promote"): its whole configuration as one JSON document to
//! download, and — for project admins — a document from another project to compare with this
//! one and then apply (settings, MCP servers, tool policies, prompts, skills, subagents).

use leptos::prelude::*;
use protocol::Role;
use protocol::skills::{ChangeKind, ConfigImport};

use crate::api::{ImportConfig, export_config};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::pages::projects::current_project;

#[component]
pub fn ConfigTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let import = ServerAction::<ImportConfig>::new();
    let exported = Resource::new(
        move || (project_id.get(), import.version().get()),
        |(id, _)| export_config(id),
    );
    let file_name = move || {
        let name = project.get().map(|p| p.name).unwrap_or_default();
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let slug = slug.trim_matches('-');
        format!(
            "{}-config.json",
            if slug.is_empty() { "project" } else { slug }
        )
    };
    let copied = RwSignal::new(false);
    view! {
        <section class="card mb-6" aria-labelledby="export-title">
            <h2 id="export-title" class="mb-1 font-semibold">"Export"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "This project's whole configuration as one JSON document: settings, MCP servers, tool policies, prompts, skills and subagents. MCP header and env values are never in it (each shows ********); importing keeps the target's own values."
            </p>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match exported.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(json) => {
                            let href = format!("data:application/json;charset=utf-8,{}", percent_encode(&json));
                            let text = StoredValue::new(json.clone());
                            view! {
                                <div class="mb-3 flex flex-wrap gap-2">
                                    <a class="btn btn-primary" href=href download=file_name>"Download configuration"</a>
                                    <button class="btn" type="button" on:click=move |_| {
                                        copy(&text.get_value());
                                        copied.set(true);
                                    }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                                </div>
                                <label class="label" for="config-export">"Configuration (JSON)"</label>
                                <textarea class="input font-mono text-xs" id="config-export" rows="12" readonly>{json}</textarea>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
        {move || if is_admin() {
            view! { <Import project_id import /> }.into_any()
        } else {
            view! { <p class="text-sm text-slate-500">"Only project admins can import a configuration."</p> }.into_any()
        }}
    }
}

/// Paste, compare (a dry run), then apply what was compared.
#[component]
fn Import(project_id: Memo<String>, import: ServerAction<ImportConfig>) -> impl IntoView {
    let document = RwSignal::new(String::new());
    // The text the last answer is about: Apply sends exactly what was compared.
    let compared = RwSignal::new(None::<String>);
    let result = Signal::derive(move || import.value().get());
    let pending = import.pending();
    let run = move |dry_run: bool| {
        let text = if dry_run {
            document.get_untracked()
        } else {
            compared.get_untracked().unwrap_or_default()
        };
        compared.set(Some(text.clone()));
        import.dispatch(ImportConfig {
            project_id: project_id.get_untracked(),
            document: text,
            dry_run,
        });
    };
    // Apply is offered for a comparison with changes, while the text is still what was compared.
    let can_apply = move || {
        let unchanged = compared.get().is_some_and(|c| c == document.get());
        let changes = matches!(result.get(), Some(Ok(r)) if r.dry_run && !r.changes.is_empty());
        unchanged && changes && !pending.get()
    };
    view! {
        <section class="card" aria-labelledby="import-title">
            <h2 id="import-title" class="mb-1 font-semibold">"Import"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Paste a document another project exported. Compare lists what it would change here; Apply makes this project's configuration the document's — what the document lacks is removed — in one step."
            </p>
            <label class="label" for="config-document">"Configuration to import"</label>
            <textarea class="input font-mono text-xs" id="config-document" name="document" rows="10"
                placeholder=r#"{"version": 1, "settings": {…}, …}"#
                prop:value=move || document.get()
                on:input=move |ev| document.set(event_target_value(&ev))></textarea>
            <FieldError result field="document" />
            <div class="mt-3 flex gap-2">
                <button class="btn" type="button" disabled=move || pending.get() on:click=move |_| run(true)>"Compare"</button>
                {move || can_apply().then(|| view! {
                    <button class="btn btn-primary" type="button" on:click=move |_| run(false)>"Apply"</button>
                })}
            </div>
            <FormError result />
            {move || result.get().and_then(|r| r.ok()).map(|r| view! { <Outcome r /> })}
        </section>
    }
}

#[component]
fn Outcome(r: ConfigImport) -> impl IntoView {
    let summary = match (r.applied, r.changes.len()) {
        (_, 0) => {
            "No differences: this project is already configured as the document says.".to_owned()
        }
        (true, 1) => "Applied 1 change.".to_owned(),
        (true, n) => format!("Applied {n} changes."),
        (false, 1) => "1 change. Apply to make it.".to_owned(),
        (false, n) => format!("{n} changes. Apply to make them."),
    };
    view! {
        <div class="mt-4" data-testid="config-result">
            <p class={if r.applied { "text-sm text-emerald-700 dark:text-emerald-400" } else { "text-sm" }} role="status">{summary}</p>
            {(!r.changes.is_empty()).then(|| view! {
                <table class="table mt-2" data-testid="config-changes">
                    <thead><tr>
                        <th scope="col">"Section"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Change"</th>
                        <th scope="col">"Detail"</th>
                    </tr></thead>
                    <tbody>
                        {r.changes.into_iter().map(|c| view! {
                            <tr>
                                <td>{c.section}</td>
                                <td class="font-mono">{c.name}</td>
                                <td>{match c.change {
                                    ChangeKind::Add => "add",
                                    ChangeKind::Update => "update",
                                    ChangeKind::Remove => "remove",
                                }}</td>
                                <td class="text-sm">{c.detail}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {(!r.warnings.is_empty()).then(|| view! {
                <div class="mt-3">
                    <h3 class="text-sm font-medium">"Warnings"</h3>
                    <ul class="list-disc pl-5 text-sm text-amber-700 dark:text-amber-400" data-testid="config-warnings">
                        {r.warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                    </ul>
                </div>
            })}
        </div>
    }
}

/// The document as the body of a `data:` URL (written here: `js_sys` is for the browser only,
/// and the page renders on the server too).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Puts the text on the clipboard (the button is only clicked in the browser).
fn copy(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}
