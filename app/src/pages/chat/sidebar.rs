//! The conversation list: the person's own conversations in the project, newest activity
//! first, searchable, each renamable and deletable.

use std::time::Duration;

use chat::{client, relative_time};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use protocol::task::Task;

use crate::components::{Icon, Svg};

#[component]
pub fn ConversationList(
    project_id: Memo<String>,
    current: Memo<Option<String>>,
    /// Bumped when the list may be stale.
    changed: RwSignal<u32>,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let items: RwSignal<Vec<Task>> = RwSignal::new(Vec::new());
    let has_more = RwSignal::new(false);
    let loading = RwSignal::new(true);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    // Each load has a number; an answer to an older one (a slower search) is dropped.
    let generation = StoredValue::new(0u64);

    let load = move |offset: usize| {
        let project = project_id.get_untracked();
        let q = query.get_untracked();
        let gen_now = generation.get_value() + 1;
        generation.set_value(gen_now);
        loading.set(true);
        spawn_local(async move {
            let result = client::conversations(&project, &q, offset).await;
            if generation.try_get_value() != Some(gen_now) {
                return;
            }
            loading.set(false);
            match result {
                Ok(page) => {
                    error.set(None);
                    has_more.set(page.has_more);
                    if offset == 0 {
                        items.set(page.items);
                    } else {
                        items.update(|i| i.extend(page.items));
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    Effect::new(move |_| {
        project_id.track();
        changed.track();
        load(0);
    });
    // Searching waits for a pause in typing.
    let typed = StoredValue::new(0u64);
    let on_search = move |ev| {
        query.set(event_target_value(&ev));
        let n = typed.get_value() + 1;
        typed.set_value(n);
        set_timeout(
            move || {
                if typed.try_get_value() == Some(n) {
                    load(0);
                }
            },
            Duration::from_millis(250),
        );
    };
    let now = RwSignal::new(js_now());

    view! {
        <div class="flex h-full flex-col gap-3 p-3">
            <a class="btn btn-primary w-full" href=move || format!("/p/{}", project_id.get())>"New chat"</a>
            <div>
                <label class="sr-only" for="chat-search">"Search conversations"</label>
                <input
                    id="chat-search"
                    class="input"
                    type="search"
                    placeholder="Search conversations"
                    maxlength="200"
                    prop:value=move || query.get()
                    on:input=on_search
                />
            </div>
            <nav class="min-h-0 flex-1 overflow-y-auto" aria-label="Conversations">
                <Show when=move || error.get().is_some()>
                    <p class="alert-error" role="alert">{move || error.get()}</p>
                </Show>
                <Show when=move || !loading.get() && items.with(Vec::is_empty) && error.get().is_none()>
                    <p class="px-2 py-4 text-sm text-zinc-600 dark:text-zinc-400">
                        {move || if query.with(|q| q.trim().is_empty()) { "No conversations yet." } else { "No conversation matches." }}
                    </p>
                </Show>
                <ul class="space-y-0.5" data-testid="conversation-list">
                    <For each=move || items.get() key=|t| (t.id.clone(), t.title.clone(), t.last_activity_at.clone()) let:task>
                        <ConversationItem task project_id current now items changed />
                    </For>
                </ul>
                <Show when=move || has_more.get()>
                    <button class="btn mt-2 w-full" type="button" on:click=move |_| load(items.with_untracked(Vec::len))>"Load more"</button>
                </Show>
            </nav>
        </div>
    }
    .into_any()
}

fn js_now() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

#[component]
fn ConversationItem(
    task: Task,
    project_id: Memo<String>,
    current: Memo<Option<String>>,
    now: RwSignal<f64>,
    items: RwSignal<Vec<Task>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let id = StoredValue::new(task.id.clone());
    let title = RwSignal::new(task.title.clone());
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let failure: RwSignal<Option<String>> = RwSignal::new(None);
    let href = move || format!("/p/{}/c/{}", project_id.get(), id.get_value());
    // A schedule's runs show in every project admin's history: say where they came from.
    let scheduled = task.schedule_id.is_some().then_some("Scheduled · ");
    let is_current = move || current.get().as_deref() == Some(id.get_value().as_str());
    let when = task.last_activity_at.clone();
    let navigate = use_navigate();

    let save = move |value: String| {
        let value = value.trim().to_owned();
        if value.is_empty() || value == title.get_untracked() {
            editing.set(false);
            return;
        }
        spawn_local(async move {
            match client::rename_conversation(&id.get_value(), &value).await {
                Ok(t) => {
                    title.set(t.title);
                    editing.set(false);
                    failure.set(None);
                    // The open conversation's heading shows the title too.
                    changed.update(|n| *n += 1);
                }
                Err(e) => failure.set(Some(
                    e.field_message("title").unwrap_or(&e.message).to_owned(),
                )),
            }
        });
    };
    let delete = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match client::delete_conversation(&id.get_value()).await {
                Ok(()) => {
                    let was_current =
                        current.get_untracked().as_deref() == Some(id.get_value().as_str());
                    items.update(|list| list.retain(|t| t.id != id.get_value()));
                    if was_current {
                        navigate(
                            &format!("/p/{}", project_id.get_untracked()),
                            Default::default(),
                        );
                    }
                    changed.update(|n| *n += 1);
                }
                Err(e) => {
                    confirming.set(false);
                    failure.set(Some(e.message));
                }
            }
        });
    };

    view! {
        <li class="group relative">
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <a
                        href=href
                        class=move || format!(
                            "block rounded-md px-2 py-1.5 pr-16 text-sm text-zinc-800 no-underline hover:bg-zinc-200/70 hover:no-underline dark:text-zinc-200 dark:hover:bg-zinc-800 {}",
                            if is_current() { "bg-zinc-200 dark:bg-zinc-800 font-medium" } else { "" },
                        )
                        aria-current=move || is_current().then_some("page")
                    >
                        <span class="block truncate">{move || title.get()}</span>
                        <span class="block text-xs text-zinc-600 dark:text-zinc-400">{scheduled}{
                            let when = when.clone();
                            move || relative_time(&when, now.get())
                        }</span>
                    </a>
                    <div class="absolute top-1 right-1 flex gap-0.5 opacity-0 group-focus-within:opacity-100 group-hover:opacity-100 max-md:opacity-100">
                        <button class="icon-btn" type="button" aria-label=move || format!("Rename {}", title.get()) title="Rename" on:click=move |_| editing.set(true)><Svg icon=Icon::Rename /></button>
                        <button class="icon-btn" type="button" aria-label=move || format!("Delete {}", title.get()) title="Delete" on:click=move |_| confirming.set(true)><Svg icon=Icon::Delete /></button>
                    </div>
                }
            >
                <form class="px-1 py-1" on:submit=move |ev| {
                    ev.prevent_default();
                    let input = ev.target().and_then(|t| {
                        use wasm_bindgen::JsCast;
                        t.dyn_into::<web_sys::HtmlFormElement>().ok()
                    }).and_then(|f| f.elements().named_item("title"))
                    .and_then(|i| {
                        use wasm_bindgen::JsCast;
                        i.dyn_into::<web_sys::HtmlInputElement>().ok()
                    });
                    if let Some(input) = input { save(input.value()); }
                }>
                    <label class="sr-only" for=move || format!("rename-{}", id.get_value())>"Conversation title"</label>
                    <input
                        id=move || format!("rename-{}", id.get_value())
                        name="title"
                        class="input"
                        maxlength="200"
                        required
                        autofocus
                        prop:value=move || title.get_untracked()
                        on:keydown=move |ev| {
                            if ev.key() == "Escape" {
                                ev.stop_propagation();
                                editing.set(false);
                            }
                        }
                    />
                    <div class="mt-1 flex gap-1">
                        <button class="btn btn-primary" type="submit">"Save"</button>
                        <button class="btn" type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </div>
                </form>
            </Show>
            <Show when=move || confirming.get()>
                <div class="mx-1 mb-1 rounded-md border border-red-200 bg-red-50 p-2 text-sm dark:border-red-900 dark:bg-red-950/40" role="alertdialog" aria-label="Delete conversation?">
                    <p class="mb-2">"Delete this conversation and its files?"</p>
                    <div class="flex gap-1">
                        <button class="btn btn-danger" type="button" on:click=delete.clone()>"Delete"</button>
                        <button class="btn" type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </div>
                </div>
            </Show>
            <Show when=move || failure.get().is_some()>
                <p class="field-error px-2" role="alert">{move || failure.get()}</p>
            </Show>
        </li>
    }
    .into_any()
}
