//! A project's tool policy tab: its rules (project admins add, edit and delete them; members
//! read them), "try it" for a call, and what decides the calls no rule matches, with the
//! defaults of its tasks. A link from an approval in the chat opens it with a rule filled in
//! (`?tool=…&decision=allow`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use protocol::Role;
use protocol::policy::{Decision, PolicyCheck, PolicyMode, ToolPolicy};

use crate::api::{
    DeleteToolPolicy, SaveToolPolicy, SetTaskDefaults, TryToolPolicy, get_project_settings,
    get_tool_policies,
};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::pages::projects::current_project;

const MODES: [(PolicyMode, &str, &str); 3] = [
    (
        PolicyMode::AllowAll,
        "Allow every call",
        "Calls run unless a rule says otherwise.",
    ),
    (
        PolicyMode::AskWrites,
        "Ask for anything that writes",
        "Read-only tools (built-in readers, MCP tools marked readOnlyHint) run; everything else waits for a person.",
    ),
    (
        PolicyMode::AskAll,
        "Ask for every call",
        "Every call waits for a person unless a rule allows it.",
    ),
];

fn decision_class(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "text-emerald-700 dark:text-emerald-400",
        Decision::Ask => "text-amber-700 dark:text-amber-400",
        Decision::Deny => "text-red-700 dark:text-red-400",
    }
}

#[component]
pub fn PoliciesTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let save = ServerAction::<SaveToolPolicy>::new();
    let delete = ServerAction::<DeleteToolPolicy>::new();
    let rules = Resource::new(
        move || {
            (
                project_id.get(),
                save.version().get(),
                delete.version().get(),
            )
        },
        |(id, ..)| get_tool_policies(id),
    );
    let saved = Signal::derive(move || save.value().get());
    let deleted = Signal::derive(move || delete.value().get());
    // A rule to edit (from its row), or the one the chat's link asks for.
    let query = use_query_map();
    let editing: RwSignal<Option<ToolPolicy>> = RwSignal::new(None);
    // Rules saved on this page: a saved rule empties the form (and the link's rule is not
    // filled in again). The form is rebuilt in place, so its inputs take their values as
    // properties (`prop:value`): an attribute alone would not replace what was typed.
    let saves = RwSignal::new(0u32);
    let prefill = move |key: &str| {
        (saves.get_untracked() == 0)
            .then(|| query.with_untracked(|q| q.get(key)))
            .flatten()
            .unwrap_or_default()
    };
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            editing.set(None);
            saves.update(|n| *n += 1);
        }
    });
    view! {
        <section class="card mb-6" aria-labelledby="policy-title">
            <h2 id="policy-title" class="mb-1 font-semibold">"Tool policy"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Rules on what this project's agent may do. A rule names a tool or a pattern (write_file, mcp__payments__refund*, mcp__crm__*) and, optionally, a CEL condition on the call's arguments (args.amount > 100). Among the rules that match a call, deny beats ask beats allow; a condition that fails on a call asks."
            </p>
            <FormError result=deleted />
            <Transition fallback=Loading>
                {move || {
                    let pid = project_id.get();
                    let admin = is_admin();
                    Suspend::new(async move {
                        match rules.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"No rules: the mode below decides every call."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <table class="w-full text-left text-sm" data-testid="policy-rules">
                                    <thead><tr>
                                        <th scope="col" class="py-1">"Tool"</th>
                                        <th scope="col">"Decision"</th>
                                        <th scope="col">"When"</th>
                                        <th scope="col">"Note"</th>
                                        {admin.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|rule| {
                                            let (pid, id, edit) = (pid.clone(), rule.id.clone(), rule.clone());
                                            view! {
                                                <tr class="border-t border-slate-200 dark:border-slate-800">
                                                    <td class="py-1 font-mono">{rule.tool.clone()}</td>
                                                    <td class=decision_class(rule.decision)>{rule.decision.as_str()}</td>
                                                    <td class="font-mono">{rule.condition.clone().unwrap_or_else(|| "always".to_owned())}</td>
                                                    <td>{rule.note.clone().unwrap_or_default()}</td>
                                                    {admin.then(|| view! {
                                                        <td class="whitespace-nowrap text-right">
                                                            <button class="btn" type="button" aria-label=format!("Edit the rule for {}", rule.tool)
                                                                on:click=move |_| editing.set(Some(edit.clone()))>"Edit"</button>
                                                            <button class="btn btn-danger ml-1" type="button" aria-label=format!("Delete the rule for {}", rule.tool)
                                                                on:click=move |_| { delete.dispatch(DeleteToolPolicy { project_id: pid.clone(), id: id.clone() }); }>"Delete"</button>
                                                        </td>
                                                    })}
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || is_admin().then(|| {
                saves.track();
                let rule = editing.get();
                let value = |f: fn(&ToolPolicy) -> String, key: &str| rule.as_ref().map(f).unwrap_or_else(|| prefill(key));
                let tool = value(|r| r.tool.clone(), "tool");
                let condition = value(|r| r.condition.clone().unwrap_or_default(), "condition");
                let note = value(|r| r.note.clone().unwrap_or_default(), "note");
                let chosen = rule.as_ref().map(|r| r.decision.as_str().to_owned())
                    .unwrap_or_else(|| Some(prefill("decision")).filter(|d| !d.is_empty()).unwrap_or_else(|| "ask".to_owned()));
                let id = rule.as_ref().map(|r| r.id.clone()).unwrap_or_default();
                view! {
                    <ActionForm action=save attr:class="mt-4 grid gap-3 sm:grid-cols-2" attr:data-testid="policy-form">
                        <input type="hidden" name="project_id" value=move || project_id.get() />
                        <input type="hidden" name="id" value=id.clone() />
                        <div>
                            <label class="label" for="policy-tool">"Tool or pattern"</label>
                            <input class="input font-mono" id="policy-tool" name="tool" required value=tool.clone() prop:value=tool placeholder="mcp__payments__refund*" />
                            <FieldError result=saved field="tool" />
                        </div>
                        <div>
                            <label class="label" for="policy-decision">"Decision"</label>
                            <select class="input" id="policy-decision" name="decision">
                                {["allow", "ask", "deny"].into_iter().map(|d| view! {
                                    <option value=d selected={chosen == d} prop:selected={chosen == d}>{d}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <div class="sm:col-span-2">
                            <label class="label" for="policy-condition">"Only when (CEL, optional)"</label>
                            <input class="input font-mono" id="policy-condition" name="condition" value=condition.clone() prop:value=condition placeholder="args.amount > 100" />
                            <FieldError result=saved field="condition" />
                        </div>
                        <div class="sm:col-span-2">
                            <label class="label" for="policy-note">"Note"</label>
                            <input class="input" id="policy-note" name="note" value=note.clone() prop:value=note placeholder="Why the rule exists" />
                        </div>
                        <div class="sm:col-span-2 flex gap-2">
                            <button class="btn btn-primary" type="submit">{if id.is_empty() { "Add rule" } else { "Save rule" }}</button>
                            {(!id.is_empty()).then(|| view! {
                                <button class="btn" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                            })}
                        </div>
                    </ActionForm>
                }
            })}
            <FormError result=saved />
            {move || (!is_admin()).then(|| view! {
                <p class="mt-3 text-sm text-slate-500">"Only project admins can change the rules."</p>
            })}
        </section>
        <TryIt project_id />
        <Defaults project_id admin=Signal::derive(is_admin) />
    }
}

/// What the policy decides for a call, without running it.
#[component]
fn TryIt(project_id: Memo<String>) -> impl IntoView {
    let check = ServerAction::<TryToolPolicy>::new();
    let result = Signal::derive(move || check.value().get());
    view! {
        <section class="card mb-6" aria-labelledby="try-title">
            <h2 id="try-title" class="mb-1 font-semibold">"Try it"</h2>
            <ActionForm action=check attr:class="grid gap-3 sm:grid-cols-2">
                <input type="hidden" name="project_id" value=move || project_id.get() />
                <div>
                    <label class="label" for="try-tool">"Tool"</label>
                    <input class="input font-mono" id="try-tool" name="tool" required placeholder="mcp__payments__refund_order" />
                    <FieldError result field="tool" />
                </div>
                <div>
                    <label class="label" for="try-args">"Arguments (JSON)"</label>
                    <input class="input font-mono" id="try-args" name="args" placeholder=r#"{"amount": 250}"# />
                    <FieldError result field="args" />
                </div>
                <div class="sm:col-span-2"><button class="btn" type="submit">"Check"</button></div>
            </ActionForm>
            {move || result.get().and_then(|r| r.ok()).map(|c: PolicyCheck| view! {
                <p class="mt-3 text-sm" role="status" data-testid="policy-check">
                    <span class=format!("font-semibold {}", decision_class(c.decision))>{c.decision.as_str()}</span>
                    " — " {c.reason}
                </p>
            })}
        </section>
    }
}

/// The mode for calls no rule matches, and the defaults and bounds of the project's tasks.
#[component]
fn Defaults(project_id: Memo<String>, admin: Signal<bool>) -> impl IntoView {
    let save = ServerAction::<SetTaskDefaults>::new();
    let settings = Resource::new(
        move || (project_id.get(), save.version().get()),
        |(id, _)| get_project_settings(id),
    );
    let saved = Signal::derive(move || save.value().get());
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(s) => view! {
                        <section class="card" aria-labelledby="defaults-title">
                            <h2 id="defaults-title" class="mb-3 font-semibold">"When no rule matches"</h2>
                            <ActionForm action=save>
                                <input type="hidden" name="project_id" value=move || project_id.get() />
                                <fieldset disabled=move || !admin.get() class="space-y-3">
                                    <legend class="sr-only">"Policy mode"</legend>
                                    {MODES.into_iter().map(|(mode, label, help)| {
                                        let id = format!("mode-{}", mode.as_str());
                                        view! {
                                            <div class="flex items-start gap-2">
                                                <input type="radio" name="policy_mode" id=id.clone() value=mode.as_str() checked=s.policy_mode == mode />
                                                <label for=id>
                                                    <span class="font-medium">{label}</span>
                                                    <span class="block text-sm text-slate-600 dark:text-slate-400">{help}</span>
                                                </label>
                                            </div>
                                        }
                                    }).collect_view()}
                                    <div class="flex items-start gap-2">
                                        <input type="checkbox" name="auto_execute" id="auto-execute" checked=s.auto_execute />
                                        <label for="auto-execute">
                                            <span class="font-medium">"Tasks run allowed calls without asking"</span>
                                            <span class="block text-sm text-slate-600 dark:text-slate-400">"The default autoExecute of a task that does not say. Off: every call asks, except those denied."</span>
                                        </label>
                                    </div>
                                    <div class="grid gap-3 sm:grid-cols-2">
                                        <div>
                                            <label class="label" for="max-turns">"Model calls per run"</label>
                                            <input class="input" id="max-turns" name="max_turns" inputmode="numeric"
                                                value=s.max_turns.map(|n| n.to_string()).unwrap_or_default() placeholder="the server's limit" />
                                            <FieldError result=saved field="max_turns" />
                                        </div>
                                        <div>
                                            <label class="label" for="max-minutes">"Minutes per run"</label>
                                            <input class="input" id="max-minutes" name="max_minutes" inputmode="numeric"
                                                value=s.max_minutes.map(|n| n.to_string()).unwrap_or_default() placeholder="the server's limit" />
                                            <FieldError result=saved field="max_minutes" />
                                        </div>
                                    </div>
                                    {move || admin.get().then(|| view! { <button class="btn btn-primary" type="submit">"Save"</button> })}
                                </fieldset>
                            </ActionForm>
                            <FormError result=saved />
                            {move || matches!(saved.get(), Some(Ok(_))).then(|| view! {
                                <p class="mt-3 text-sm text-emerald-700 dark:text-emerald-400" role="status">"Saved."</p>
                            })}
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
