//! The Chat UI: a project's conversations on the left, the open one in the middle, its files
//! on the right. A conversation is a task and its follow-ups; everything here goes through
//! the Task API with the session cookie, and the conversation itself through its stream.

mod artifacts;
mod composer;
mod message;
mod model_banner;
mod session;
mod sidebar;

use chat::client;
use chat::transcript::{EndKind, ending, usage_line};
use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::components::Outlet;
use leptos_router::hooks::{use_navigate, use_params_map};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::components::{Icon, Svg};
use artifacts::ArtifactsPanel;
use composer::{Composer, ComposerState};
use message::EntryView;
use model_banner::{ModelBanner, ModelPicker, project_models};
use session::Session;
use sidebar::ConversationList;

/// What the chat's routes share: the list stays mounted while conversations change.
#[derive(Clone, Copy)]
struct ChatFrame {
    project_id: Memo<String>,
    /// Bumped when the conversation list may be stale.
    list_changed: RwSignal<u32>,
    /// The list's drawer, on a phone.
    sidebar_open: RwSignal<bool>,
}

/// The frame of `/p/:project` and `/p/:project/c/:task`: the conversation list, and the
/// route's page beside it.
#[component]
pub fn ChatLayout() -> impl IntoView {
    let params = use_params_map();
    let project_id = Memo::new(move |_| params.read().get("project").unwrap_or_default());
    let task_id = Memo::new(move |_| params.read().get("task"));
    let frame = ChatFrame {
        project_id,
        list_changed: RwSignal::new(0u32),
        sidebar_open: RwSignal::new(false),
    };
    provide_context(frame);
    // On a phone the list is a drawer: opening a conversation closes it.
    Effect::new(move |_| {
        task_id.track();
        frame.sidebar_open.set(false);
    });
    let sidebar_open = frame.sidebar_open;
    view! {
        <div class="flex h-full min-h-0">
            <div
                id="chat-sidebar"
                class=move || format!(
                    "w-72 shrink-0 border-r border-zinc-200 bg-zinc-100 dark:border-zinc-800 dark:bg-zinc-900/60 max-md:fixed max-md:inset-y-0 max-md:left-0 max-md:z-30 max-md:shadow-xl {}",
                    if sidebar_open.get() { "" } else { "max-md:hidden" },
                )
            >
                <div class="flex justify-end px-3 pt-3 md:hidden">
                    <button class="icon-btn" type="button" aria-label="Close conversations" on:click=move |_| sidebar_open.set(false)>
                        <Svg icon=Icon::Close />
                    </button>
                </div>
                <ConversationList project_id current=task_id changed=frame.list_changed />
            </div>
            <Show when=move || sidebar_open.get()>
                <div class="fixed inset-0 z-20 bg-black/30 md:hidden" aria-hidden="true" on:click=move |_| sidebar_open.set(false)></div>
            </Show>
            <Outlet />
        </div>
    }
    .into_any()
}

/// `/p/:project`: a new conversation.
#[component]
pub fn NewChatPage() -> impl IntoView {
    let frame = expect_context::<ChatFrame>();
    view! { <NewChat project_id=frame.project_id list_changed=frame.list_changed sidebar_open=frame.sidebar_open /> }
}

/// `/p/:project/c/:task`: one conversation; another one gets a fresh view.
#[component]
pub fn ConversationPage() -> impl IntoView {
    let frame = expect_context::<ChatFrame>();
    let params = use_params_map();
    let task_id = Memo::new(move |_| params.read().get("task").unwrap_or_default());
    view! {
        {move || {
            let id = task_id.get();
            view! { <Conversation id project_id=frame.project_id list_changed=frame.list_changed sidebar_open=frame.sidebar_open /> }
        }}
    }
}

#[component]
fn ChatHeader(
    title: Signal<String>,
    sidebar_open: RwSignal<bool>,
    /// The files panel's toggle, when the conversation has files.
    #[prop(optional)]
    files_open: Option<RwSignal<bool>>,
) -> impl IntoView {
    view! {
        <header class="flex items-center gap-2 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
            <button
                class="icon-btn md:hidden"
                type="button"
                aria-label="Conversations"
                aria-controls="chat-sidebar"
                aria-expanded=move || sidebar_open.get().to_string()
                on:click=move |_| sidebar_open.update(|o| *o = !*o)
            ><Svg icon=Icon::Menu /></button>
            <h1 class="min-w-0 flex-1 truncate text-base" data-testid="conversation-title">{move || title.get()}</h1>
            {files_open.map(|open| view! {
                <button
                    class="btn"
                    type="button"
                    aria-controls="chat-files"
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)
                >"Files"</button>
            })}
        </header>
    }
    .into_any()
}

/// The middle column: a conversation (or a new one), where dropped files are attached.
#[component]
fn ChatPane(label: &'static str, composer: ComposerState, children: Children) -> impl IntoView {
    view! {
        <section
            class="relative flex min-w-0 flex-1 flex-col"
            aria-label=label
            on:dragover=composer.on_dragover()
            on:dragleave=composer.on_dragleave()
            on:drop=composer.on_drop()
        >
            {children()}
        </section>
    }
}

#[component]
fn NewChat(
    project_id: Memo<String>,
    list_changed: RwSignal<u32>,
    sidebar_open: RwSignal<bool>,
) -> impl IntoView {
    let composer = ComposerState::new();
    let models = project_models(project_id);
    // Empty: the project's model.
    let model = RwSignal::new(String::new());
    let navigate = use_navigate();
    let submit = Callback::new(move |(text, files): (String, Vec<web_sys::File>)| {
        let navigate = navigate.clone();
        let project = project_id.get_untracked();
        composer.sending.set(true);
        spawn_local(async move {
            let auto_execute = !composer.ask_first.get_untracked();
            let model = Some(model.get_untracked()).filter(|m| !m.is_empty());
            match client::create_task(&project, &text, &files, auto_execute, model.as_deref()).await
            {
                Ok(created) => {
                    composer.clear();
                    list_changed.update(|n| *n += 1);
                    navigate(
                        &format!("/p/{project}/c/{}", created.id),
                        Default::default(),
                    );
                }
                Err(e) => composer.fail(e),
            }
            composer.sending.try_set(false);
        });
    });
    view! {
        <Title text="New chat" />
        <ChatPane label="New conversation" composer>
            <ChatHeader title=Signal::derive(|| "New chat".to_owned()) sidebar_open />
            <ModelBanner models />
            <div class="flex min-h-0 flex-1 flex-col items-center justify-center px-4 text-center">
                <h2 class="mb-2 text-2xl">"What should the agent do?"</h2>
                <p class="max-w-md text-zinc-600 dark:text-zinc-400">
                    "It works on a computer of its own: it can run commands, write files and browse the web. Attach files for it to work on."
                </p>
            </div>
            <Composer state=composer submit options=ViewFn::from(move || view! { <ModelPicker models choice=model /> }) />
        </ChatPane>
    }
    .into_any()
}

#[component]
fn Conversation(
    id: String,
    project_id: Memo<String>,
    list_changed: RwSignal<u32>,
    sidebar_open: RwSignal<bool>,
) -> impl IntoView {
    let _ = project_id;
    let session = Session::new(id.clone(), list_changed);
    provide_context(session);
    Effect::new(move |_| session.connect());
    on_cleanup(move || session.close());

    let title = RwSignal::new(String::new());
    let task_id = StoredValue::new(id.clone());
    Effect::new(move |_| {
        list_changed.track();
        spawn_local(async move {
            if let Ok(t) = client::task(&task_id.get_value()).await {
                title.try_set(t.title);
            }
        });
    });

    // Esc stops the run, wherever the focus is (a field that uses Esc itself stops it first).
    Effect::new(move |_| {
        let handle = window_event_listener(ev::keydown, move |e| {
            if e.key() == "Escape" && !e.default_prevented() {
                session.stop();
            }
        });
        on_cleanup(move || handle.remove());
    });

    let composer = ComposerState::new();
    let submit = Callback::new(move |(text, files): (String, Vec<web_sys::File>)| {
        composer.sending.set(true);
        spawn_local(async move {
            match session.send(text, files).await {
                Ok(()) => composer.clear(),
                Err(e) => composer.fail(e),
            }
            composer.sending.try_set(false);
        });
    });
    let files_open = RwSignal::new(false);

    view! {
        <Title text=move || { let t = title.get(); if t.is_empty() { "Chat".to_owned() } else { t } } />
        <ChatPane label="Conversation" composer>
            <ChatHeader title=title.into() sidebar_open files_open />
            <Messages session />
            <RunStatus session />
            <Composer state=composer submit session />
        </ChatPane>
        <Show when=move || files_open.get()>
            <div id="chat-files" class="w-80 shrink-0 max-lg:fixed max-lg:inset-y-0 max-lg:right-0 max-lg:z-30 max-lg:max-w-[90vw] max-lg:shadow-xl">
                <ArtifactsPanel task_id=task_id.get_value() changed=session.files_changed on_close=Callback::new(move |()| files_open.set(false)) />
            </div>
        </Show>
    }
    .into_any()
}

/// The entries, kept scrolled to the newest while the person is at the bottom.
#[component]
fn Messages(session: Session) -> impl IntoView {
    let scroller: NodeRef<html::Div> = NodeRef::new();
    let at_bottom = RwSignal::new(true);
    // Called from an animation frame, which may come after the view is gone.
    let to_bottom = move || {
        if let Some(el) = scroller.try_get_untracked().flatten() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    Effect::new(move |_| {
        session.updated.track();
        if at_bottom.get_untracked() {
            request_animation_frame(to_bottom);
        }
    });
    // Answers also grow after they arrive (code is highlighted, entries off screen get their
    // real height): whatever the cause, a person at the bottom stays there.
    let content: NodeRef<html::Div> = NodeRef::new();
    // Effects run only in the browser, so the observer (not `Send`) is made and kept there.
    Effect::new(move |_| {
        let Some(inner) = content.get() else { return };
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            if at_bottom.try_get_untracked() == Some(true) {
                to_bottom();
            }
        });
        if let Ok(ro) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
            ro.observe(&inner);
            let kept = StoredValue::new_local((ro, on_resize));
            on_cleanup(move || {
                kept.try_with_value(|(ro, _)| ro.disconnect());
            });
        }
    });
    // Under the last answer, once the run is over.
    let usage = move || {
        session
            .run
            .with(|r| r.usage.as_ref().filter(|_| !r.active).and_then(usage_line))
    };
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            at_bottom.set(gap < 80);
        }
    };
    view! {
        <div
            node_ref=scroller
            class="min-h-0 flex-1 overflow-y-auto"
            on:scroll=on_scroll
            data-testid="messages"
        >
            <div node_ref=content class="mx-auto flex max-w-3xl flex-col gap-4 px-4 py-6" role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages">
                <Show when=move || !session.run.with(|r| r.loaded)>
                    <p class="text-sm text-zinc-500" aria-live="polite">"Loading the conversation…"</p>
                </Show>
                <For each=move || session.handles.get() key=|h| h.key let:h>
                    <EntryView entry=h.entry />
                </For>
                {move || usage().map(|line| view! {
                    <p class="-mt-2 text-xs text-zinc-500 dark:text-zinc-400" data-testid="run-usage">{line}</p>
                })}
            </div>
        </div>
        <Show when=move || !at_bottom.get()>
            <button
                class="btn absolute bottom-36 left-1/2 z-10 -translate-x-1/2 shadow-md"
                type="button"
                on:click=move |_| { at_bottom.set(true); to_bottom(); }
            >"↓ Jump to latest"</button>
        </Show>
    }
    .into_any()
}

/// What the run is doing, how it ended, and the Stop button.
#[component]
fn RunStatus(session: Session) -> impl IntoView {
    let run = session.run;
    let awaiting = session.awaiting;
    let line = move || {
        let r = run.get();
        if r.active {
            if awaiting.get() > 0 {
                Some(("Waiting for your approval.".to_owned(), false))
            } else if let Some((attempt, delay)) = r.retrying {
                Some((
                    format!(
                        "The model did not answer; trying again (attempt {attempt}) in {:.1} s…",
                        delay as f64 / 1000.0
                    ),
                    true,
                ))
            } else {
                Some(("Working…".to_owned(), true))
            }
        } else {
            None
        }
    };
    // Shown however the page learned of the ending: live, or from the history of a task that
    // had ended before the page connected.
    let ended = move || {
        run.with(|r| {
            r.error
                .as_ref()
                .filter(|_| !r.active)
                .map(|(code, message)| ending(*code, message))
        })
    };
    view! {
        <div class="mx-auto w-full max-w-3xl px-4">
            <Show when=move || session.notice.get().is_some()>
                <div class="alert-error mb-2" role="alert">{move || session.notice.get()}</div>
            </Show>
            {move || ended().map(|e| match e.kind {
                EndKind::Cancelled => view! {
                    <p class="mb-2 text-sm text-zinc-500 dark:text-zinc-400" role="status" data-testid="run-ended" data-kind="cancelled">{e.text()}</p>
                }.into_any(),
                EndKind::Limit => view! {
                    <div class="mb-2 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100" role="alert" data-testid="run-ended" data-kind="limit">{e.text()}</div>
                }.into_any(),
                EndKind::Failed => view! {
                    <div class="alert-error mb-2 rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950/40 dark:text-red-200" role="alert" data-testid="run-ended" data-kind="failed">{e.text()}</div>
                }.into_any(),
            })}
            <div class="mb-2 flex min-h-8 items-center gap-2">
                <p class="flex-1 text-sm text-zinc-600 dark:text-zinc-400" role="status" data-testid="run-status">
                    {move || line().map(|(text, spin)| view! {
                        <span class=if spin { "spinner mr-2" } else { "hidden" } aria-hidden="true"></span>
                        {text}
                    })}
                </p>
            </div>
        </div>
    }
    .into_any()
}
