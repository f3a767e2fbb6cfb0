//! The conversation as the visitor reads it: the greeting, each entry of the transcript
//! (answers as safe Markdown, tool calls folded, approvals asked), and how the run is going.

use chat::markdown;
use chat::transcript::{
    Call, CallStatus, EndKind, Entry, Role, Subagent, ending, status_label, subagent_label,
    usage_line,
};
use leptos::html;
use leptos::prelude::*;

use crate::conversation::Conversation;
use crate::panel::icon;
use crate::state::use_widget;

const STOP: &str = "M7 7h10v10H7z";

/// The entries, kept scrolled to the newest while the visitor is at the bottom.
#[component]
pub fn Messages() -> impl IntoView {
    let widget = use_widget();
    let scroller: NodeRef<html::Div> = NodeRef::new();
    let at_bottom = RwSignal::new(true);
    let to_bottom = move || {
        if let Some(el) = scroller.try_get_untracked().flatten() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    Effect::new(move |_| {
        if let Some(c) = widget.current.get() {
            c.updated.track();
        }
        widget.open.track();
        if at_bottom.get_untracked() {
            request_animation_frame(to_bottom);
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            at_bottom.set(el.scroll_height() - el.scroll_top() - el.client_height() < 60);
        }
    };
    let greeting = move || widget.look.with(|l| l.greeting.clone());
    view! {
        <div node_ref=scroller class="sw-scroll" on:scroll=on_scroll data-testid="widget-messages">
            <div class="sw-log" role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages">
                <Show when=move || !greeting().trim().is_empty()>
                    <article class="sw-entry sw-assistant" aria-label="Greeting">
                        <div class="sw-bubble">{greeting}</div>
                    </article>
                </Show>
                {move || match widget.current.get() {
                    Some(c) => view! { <Entries c /> }.into_any(),
                    None => view! { <Suggestions /> }.into_any(),
                }}
            </div>
        </div>
    }
    .into_any()
}

/// The first messages the widget app offers, before anything was said.
#[component]
fn Suggestions() -> impl IntoView {
    let widget = use_widget();
    let list = move || widget.look.with(|l| l.suggestions.clone());
    view! {
        <Show when=move || !list().is_empty() && !widget.sending.get()>
            <ul class="sw-suggestions" aria-label="Suggested messages">
                {move || list().into_iter().map(|s| {
                    let text = s.clone();
                    view! {
                        <li>
                            <button class="sw-chip" type="button" on:click=move |_| widget.submit(text.clone(), Vec::new(), false)>{s}</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </Show>
    }
    .into_any()
}

#[component]
fn Entries(c: Conversation) -> impl IntoView {
    provide_context(c);
    // The quiet line under the last answer, once the run is over.
    let usage = move || {
        c.run
            .with(|r| r.usage.as_ref().filter(|_| !r.active).and_then(usage_line))
    };
    view! {
        <Show when=move || !c.run.with(|r| r.loaded) && c.handles.with(Vec::is_empty)>
            <p class="sw-muted" role="status">"Loading the conversation…"</p>
        </Show>
        <For each=move || c.handles.get() key=|h| h.key let:h>
            <EntryView entry=h.entry />
        </For>
        {move || usage().map(|line| view! {
            <p class="sw-muted sw-small-text" data-testid="run-usage">{line}</p>
        })}
    }
    .into_any()
}

#[component]
fn EntryView(entry: RwSignal<Entry>) -> impl IntoView {
    match entry.with_untracked(|e| e.role) {
        Role::User => view! { <UserMessage entry /> }.into_any(),
        Role::Assistant => view! { <AssistantMessage entry /> }.into_any(),
    }
}

#[component]
fn UserMessage(entry: RwSignal<Entry>) -> impl IntoView {
    let text = Memo::new(move |_| entry.with(|e| e.text.clone()));
    let files = Memo::new(move |_| entry.with(|e| e.files.clone()));
    view! {
        <article class="sw-entry sw-user" aria-label="You">
            <div class="sw-bubble">
                <p class="sw-pre">{text}</p>
                <Show when=move || !files.with(Vec::is_empty)>
                    <ul class="sw-attached" aria-label="Attached files">
                        {move || files.get().into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}
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
    let call_ids = Memo::new(move |_| {
        entry.with(|e| {
            e.calls
                .iter()
                .map(|c| c.call_id.clone())
                .collect::<Vec<_>>()
        })
    });
    let subagents = Memo::new(move |_| entry.with(|e| e.subagents.clone()));
    let html = Memo::new(move |_| markdown::to_html(&text.get()));
    view! {
        <article class="sw-entry sw-assistant" aria-label="Assistant">
            <Show when=move || !thoughts.with(Vec::is_empty)>
                {move || thoughts.get().into_iter().map(|t| view! {
                    <details class="sw-fold">
                        <summary>{format!("Thought: {}", t.subject)}</summary>
                        <p class="sw-pre sw-muted">{t.description}</p>
                    </details>
                }).collect_view()}
            </Show>
            <Show when=move || !text.with(String::is_empty)>
                <div
                    class="sw-bubble sw-md"
                    aria-busy=move || (!text_final.get()).to_string()
                    inner_html=move || html.get()
                ></div>
            </Show>
            <Show when=move || !subagents.with(Vec::is_empty)>
                {move || subagents.get().into_iter().map(|a| view! { <SubagentView a /> }).collect_view()}
            </Show>
            <Show when=move || !call_ids.with(Vec::is_empty)>
                <ul class="sw-calls" aria-label="Tool calls">
                    <For each=move || call_ids.get() key=|id| id.clone() let:call_id>
                        <ToolCallRow entry call_id />
                    </For>
                </ul>
            </Show>
        </article>
    }
    .into_any()
}

/// One call, folded: its name, what it is about and its state; opened, its arguments and
/// output. A call waiting for the visitor asks with Approve and Deny.
#[component]
fn ToolCallRow(entry: RwSignal<Entry>, call_id: String) -> impl IntoView {
    let c = expect_context::<Conversation>();
    let id = StoredValue::new(call_id);
    let call: Memo<Option<Call>> = Memo::new(move |_| {
        entry.with(|e| id.with_value(|id| e.calls.iter().find(|c| &c.call_id == id).cloned()))
    });
    let status =
        Memo::new(move |_| call.with(|c| c.as_ref().map_or(CallStatus::Pending, |c| c.status)));
    let awaiting = move || status.get() == CallStatus::AwaitingApproval;
    let first = call.get_untracked();
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
    let label = format!("Approve {name}?");
    view! {
        <li class="sw-call" data-status=move || status_label(status.get())>
            <details class="sw-fold">
                <summary>
                    <span class="sw-call-name">{name.clone()}</span>
                    <span class="sw-call-sum">{summary}</span>
                    <span class="sw-badge">{move || status_label(status.get())}</span>
                </summary>
                <pre class="sw-code" aria-label="Arguments">{args}</pre>
                {move || output().map(|out| view! { <pre class="sw-code" aria-label="Output">{out}</pre> })}
            </details>
            <Show when=awaiting>
                <div class="sw-approve" role="group" aria-label=label.clone()>
                    <span>"The assistant wants to use this tool."</span>
                    <button class="sw-btn sw-primary" type="button" on:click=move |_| c.decide(id.get_value(), true)>"Approve"</button>
                    <button class="sw-btn" type="button" on:click=move |_| c.decide(id.get_value(), false)>"Deny"</button>
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
        <details class="sw-fold">
            <summary>{a.display_name.clone()}" "<span class="sw-badge">{state}</span></summary>
            <ul class="sw-muted">
                {a.steps.into_iter().map(|s| view! {
                    <li>{if s.finished { "✓ " } else { "… " }}{s.tool_name}</li>
                }).collect_view()}
                {a.result.map(|r| view! { <li class="sw-pre">{r}</li> })}
            </ul>
        </details>
    }
    .into_any()
}

/// How the run is going, how it ended, what failed, and Stop.
#[component]
pub fn RunStatus() -> impl IntoView {
    let widget = use_widget();
    move || {
        let Some(c) = widget.current.get() else {
            return ().into_any();
        };
        let line = move || {
            let r = c.run.get();
            if c.reconnecting.get() {
                Some("Connection lost; reconnecting…".to_owned())
            } else if !r.active {
                None
            } else if c.awaiting.get() > 0 {
                Some("Waiting for your approval.".to_owned())
            } else if let Some((attempt, _)) = r.retrying {
                Some(format!(
                    "The assistant is busy; trying again (attempt {attempt})…"
                ))
            } else {
                Some("Working…".to_owned())
            }
        };
        let ended = move || {
            c.run.with(|r| {
                r.error
                    .as_ref()
                    .filter(|_| !r.active)
                    .map(|(code, message)| ending(*code, message))
            })
        };
        view! {
            <div class="sw-status">
                {move || c.notice.get().map(|n| view! { <p class="sw-alert" role="alert">{n}</p> })}
                {move || ended().map(|e| {
                    if e.kind == EndKind::Cancelled {
                        view! { <p class="sw-muted" role="status" data-testid="run-ended">{e.text()}</p> }.into_any()
                    } else {
                        view! { <p class="sw-alert" role="alert" data-testid="run-ended">{e.text()}</p> }.into_any()
                    }
                })}
                <Show when=move || line().is_some()>
                    <div class="sw-running">
                        <p role="status" data-testid="run-status"><span class="sw-spin" aria-hidden="true"></span>{line}</p>
                        <Show when=move || c.run.with(|r| r.active)>
                            <button class="sw-btn" type="button" aria-label="Stop" on:click=move |_| c.stop()>
                                {icon(STOP)}"Stop"
                            </button>
                        </Show>
                    </div>
                </Show>
            </div>
        }
        .into_any()
    }
}
