//! One entry of a conversation: a person's message, or one model call's thoughts, answer and
//! tool calls.

use chat::markdown;
use chat::transcript::{Call, CallStatus, Entry, Role, Subagent, status_label, subagent_label};
use leptos::html;
use leptos::prelude::*;

use super::session::Session;

#[component]
pub fn EntryView(entry: RwSignal<Entry>) -> impl IntoView {
    let role = entry.with_untracked(|e| e.role);
    match role {
        Role::User => view! { <UserMessage entry /> }.into_any(),
        Role::Assistant => view! { <AssistantMessage entry /> }.into_any(),
    }
}

#[component]
fn UserMessage(entry: RwSignal<Entry>) -> impl IntoView {
    let text = Memo::new(move |_| entry.with(|e| e.text.clone()));
    let files = Memo::new(move |_| entry.with(|e| e.files.clone()));
    view! {
        <article class="chat-entry flex justify-end" aria-label="You">
            <div class="max-w-[85%] rounded-2xl bg-brand-600 px-4 py-2 text-white shadow-xs dark:bg-brand-500">
                <p class="whitespace-pre-wrap break-words">{text}</p>
                <Show when=move || !files.with(Vec::is_empty)>
                    <ul class="mt-2 flex flex-wrap gap-1" aria-label="Attached files">
                        {move || files.get().into_iter().map(|f| view! {
                            <li class="rounded bg-white/20 px-2 py-0.5 text-xs">{f}</li>
                        }).collect_view()}
                    </ul>
                </Show>
            </div>
        </article>
    }
    .into_any()
}

#[component]
fn AssistantMessage(entry: RwSignal<Entry>) -> impl IntoView {
    let text = Memo::new(move |_| entry.with(|e| e.text.clone()));
    let text_final = Memo::new(move |_| entry.with(|e| e.text_final));
    let thoughts = Memo::new(move |_| entry.with(|e| e.thoughts.clone()));
    let calls = Memo::new(move |_| entry.with(|e| e.calls.clone()));
    let subagents = Memo::new(move |_| entry.with(|e| e.subagents.clone()));
    let html = Memo::new(move |_| markdown::to_html(&text.get()));
    let body: NodeRef<html::Div> = NodeRef::new();
    // Code is highlighted once the answer is whole: highlighting each streamed piece would
    // redo the work every 50 ms.
    Effect::new(move |_| {
        html.track();
        if text_final.get()
            && let Some(el) = body.get()
        {
            highlight_code(&el);
        }
    });
    view! {
        <article class="chat-entry" aria-label="Sigmic">
            <Show when=move || !thoughts.with(Vec::is_empty)>
                <div class="mb-2 space-y-1">
                    {move || thoughts.get().into_iter().map(|t| view! {
                        <details class="thought">
                            <summary class="cursor-pointer text-sm text-zinc-500 italic dark:text-zinc-400">
                                {format!("Thought: {}", t.subject)}
                            </summary>
                            <p class="mt-1 ml-4 whitespace-pre-wrap text-sm text-zinc-500 dark:text-zinc-400">{t.description}</p>
                        </details>
                    }).collect_view()}
                </div>
            </Show>
            <Show when=move || !text.with(String::is_empty)>
                <div
                    node_ref=body
                    class="markdown prose prose-zinc max-w-none break-words dark:prose-invert prose-pre:border prose-pre:border-zinc-200 prose-pre:bg-zinc-50 prose-pre:text-zinc-900 dark:prose-pre:border-zinc-800 dark:prose-pre:bg-zinc-950 dark:prose-pre:text-zinc-100"
                    aria-busy=move || (!text_final.get()).to_string()
                    inner_html=move || html.get()
                ></div>
            </Show>
            <Show when=move || !subagents.with(Vec::is_empty)>
                <div class="mt-2 space-y-2">
                    {move || subagents.get().into_iter().map(|a| view! { <SubagentView a /> }).collect_view()}
                </div>
            </Show>
            <Show when=move || !calls.with(Vec::is_empty)>
                <ul class="mt-2 space-y-1" aria-label="Tool calls">
                    <For each=move || calls.with(|c| c.iter().map(|c| c.call_id.clone()).collect::<Vec<_>>()) key=|id| id.clone() let:call_id>
                        <ToolCallRow entry call_id />
                    </For>
                </ul>
            </Show>
        </article>
    }
    .into_any()
}

fn status_icon(s: CallStatus) -> (&'static str, &'static str) {
    match s {
        CallStatus::Pending | CallStatus::Approved | CallStatus::Executing => {
            ("", "spinner text-brand-600 dark:text-brand-100")
        }
        CallStatus::AwaitingApproval => ("?", "text-amber-600 dark:text-amber-400"),
        CallStatus::Success => ("✓", "text-emerald-600 dark:text-emerald-400"),
        CallStatus::Error => ("✕", "text-red-600 dark:text-red-400"),
        CallStatus::Cancelled => ("–", "text-zinc-500"),
    }
}

/// One call's row. It follows the call as its state changes, so a row someone opened stays
/// open when the call finishes.
#[component]
fn ToolCallRow(entry: RwSignal<Entry>, call_id: String) -> impl IntoView {
    let session = expect_context::<Session>();
    let id = StoredValue::new(call_id);
    let call: Memo<Option<Call>> = Memo::new(move |_| {
        entry.with(|e| id.with_value(|id| e.calls.iter().find(|c| &c.call_id == id).cloned()))
    });
    let status =
        Memo::new(move |_| call.with(|c| c.as_ref().map_or(CallStatus::Pending, |c| c.status)));
    let awaiting = move || status.get() == CallStatus::AwaitingApproval;
    let (_, project) = crate::pages::projects::current_project();
    let first = call.get_untracked();
    let rule_tool = StoredValue::new(
        first
            .as_ref()
            .map(|c| c.tool_name.clone())
            .unwrap_or_default(),
    );
    let name = first
        .as_ref()
        .map(|c| c.tool_name.clone())
        .unwrap_or_default();
    let summary = first.as_ref().map(Call::summary).unwrap_or_default();
    let args = first
        .as_ref()
        .and_then(|c| serde_json::to_string_pretty(&c.args).ok())
        .unwrap_or_default();
    let output = move || call.with(|c| c.as_ref().and_then(|c| c.output.clone()));
    view! {
        <li class="tool-call rounded-md border border-zinc-200 bg-white text-sm dark:border-zinc-800 dark:bg-zinc-900" data-status=move || status_label(status.get())>
            <details open=awaiting()>
                <summary class="flex cursor-pointer items-center gap-2 px-3 py-1.5">
                    <span class="inline-flex w-4 shrink-0 justify-center" aria-hidden="true">
                        {move || {
                            let (icon, class) = status_icon(status.get());
                            view! { <span class=class>{icon}</span> }
                        }}
                    </span>
                    <span class="font-mono font-medium">{name.clone()}</span>
                    <span class="min-w-0 flex-1 truncate font-mono text-zinc-500 dark:text-zinc-400">{summary}</span>
                    <span class="badge">{move || status_label(status.get())}</span>
                </summary>
                <div class="space-y-2 border-t border-zinc-200 px-3 py-2 dark:border-zinc-800">
                    <h4 class="text-xs font-semibold text-zinc-500 uppercase">"Arguments"</h4>
                    <pre class="max-h-64 overflow-auto rounded bg-zinc-100 p-2 text-xs dark:bg-zinc-950">{args}</pre>
                    {move || output().map(|out| view! {
                        <h4 class="text-xs font-semibold text-zinc-500 uppercase">"Output"</h4>
                        <pre class="max-h-96 overflow-auto rounded bg-zinc-100 p-2 text-xs whitespace-pre-wrap dark:bg-zinc-950">{out}</pre>
                    })}
                </div>
            </details>
            <Show when=awaiting>
                <div class="flex flex-wrap items-center gap-2 border-t border-amber-200 bg-amber-50 px-3 py-2 dark:border-amber-900 dark:bg-amber-950/40" role="group" aria-label=format!("Approve {name}?")>
                    <span class="mr-auto text-amber-800 dark:text-amber-300">"This call waits for your approval."</span>
                    <button class="btn btn-primary" type="button" on:click=move |_| session.decide(id.get_value(), "proceed_once")>"Approve once"</button>
                    <button class="btn" type="button" on:click=move |_| session.decide(id.get_value(), "proceed_always")>"Always allow"</button>
                    // "Always" lasts for this task; a project admin may make it a rule of the
                    // project instead, checked and edited on the policy tab first.
                    {move || project.get().filter(|p| p.role == protocol::Role::Admin).map(|p| view! {
                        <a class="btn" href=format!("/p/{}/settings/policies?tool={}&decision=allow", p.id, rule_tool.get_value())>
                            "Allow in this project…"
                        </a>
                    })}
                    <button class="btn btn-danger" type="button" on:click=move |_| session.decide(id.get_value(), "cancel")>"Deny"</button>
                </div>
            </Show>
        </li>
    }
    .into_any()
}

#[component]
fn SubagentView(a: Subagent) -> impl IntoView {
    let state = subagent_label(a.ended);
    view! {
        <details class="rounded-md border border-zinc-200 text-sm dark:border-zinc-800" open=a.ended.is_none()>
            <summary class="cursor-pointer px-3 py-1.5">
                <span class="font-medium">{a.display_name.clone()}</span>
                <span class="ml-2 text-zinc-500">{a.objective.clone()}</span>
                <span class="badge ml-2">{state}</span>
            </summary>
            <ul class="space-y-1 border-t border-zinc-200 px-3 py-2 dark:border-zinc-800" aria-label=format!("{} progress", a.display_name)>
                {a.thoughts.into_iter().map(|t| view! { <li class="text-zinc-500 italic">{t}</li> }).collect_view()}
                {a.steps.into_iter().map(|s| view! {
                    <li class="font-mono">{if s.finished { "✓ " } else { "◌ " }}{s.tool_name}</li>
                }).collect_view()}
                {a.result.map(|r| view! { <li class="whitespace-pre-wrap">{r}</li> })}
            </ul>
        </details>
    }
}

/// Where highlight.js's browser build is served (copied into the site by `.ci/setup`).
const HIGHLIGHT_JS: &str = "/vendor/highlight.min.js";

/// Colours the code blocks of an answer with highlight.js. The script (40 KB) is loaded the
/// first time an answer has code, not with every page: most pages never show any. Without
/// it (not built, or blocked) code stays plain.
fn highlight_code(el: &web_sys::HtmlDivElement) {
    use wasm_bindgen::JsCast;
    let Ok(blocks) = el.query_selector_all("pre code") else {
        return;
    };
    if blocks.length() == 0 {
        return;
    }
    let hljs = js_sys::Reflect::get(&window(), &"hljs".into()).unwrap_or_default();
    let func = js_sys::Reflect::get(&hljs, &"highlightElement".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(func) = func else {
        load_highlighter();
        return;
    };
    for i in 0..blocks.length() {
        if let Some(node) = blocks.item(i) {
            let _ = func.call1(&hljs, &node);
        }
    }
}

/// Adds highlight.js's script to the page once; when it has loaded, colours every answer's
/// code that is already shown (later answers call [`highlight_code`] themselves).
fn load_highlighter() {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let doc = document();
    if doc.get_element_by_id("sigmic-highlighter").is_some() {
        return;
    }
    let Ok(script) = doc.create_element("script") else {
        return;
    };
    script.set_id("sigmic-highlighter");
    let _ = script.set_attribute("src", HIGHLIGHT_JS);
    let _ = script.set_attribute("async", "");
    let on_load = Closure::once_into_js(move || {
        let Ok(answers) = document().query_selector_all(".chat-entry .prose") else {
            return;
        };
        for i in 0..answers.length() {
            if let Some(el) = answers
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::HtmlDivElement>().ok())
            {
                highlight_code(&el);
            }
        }
    });
    let _ = script.add_event_listener_with_callback("load", on_load.unchecked_ref());
    if let Some(head) = doc.head() {
        let _ = head.append_child(&script);
    }
}
