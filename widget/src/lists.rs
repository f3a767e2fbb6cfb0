//! The visitor's past conversations (newest first, reopened with their history and, if still
//! running, their live stream), and the open conversation's files to download.

use chat::{human_size, relative_time};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::task::{Artifact, Task};

use crate::conversation::Conversation;
use crate::page;
use crate::state::{Blocked, use_widget};

fn title_of(t: &Task) -> String {
    let title = if t.title.trim().is_empty() {
        t.message.lines().next().unwrap_or("")
    } else {
        t.title.as_str()
    };
    let short: String = title.chars().take(80).collect();
    if short.is_empty() {
        "Conversation".to_owned()
    } else {
        short
    }
}

#[component]
pub fn HistoryList() -> impl IntoView {
    let widget = use_widget();
    let items: RwSignal<Vec<Task>> = RwSignal::new(Vec::new());
    let has_more = RwSignal::new(false);
    let loaded = RwSignal::new(false);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let load = move |offset: usize| {
        spawn_local(async move {
            match widget.client().tasks(offset).await {
                Ok(page) => {
                    has_more.try_set(page.has_more);
                    if offset == 0 {
                        items.try_set(page.items);
                    } else {
                        items.try_update(|i| i.extend(page.items));
                    }
                    error.try_set(None);
                }
                Err(e) if Blocked::of(&e).is_some() => widget.fail(&e),
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            loaded.try_set(true);
        });
    };
    Effect::new(move |_| {
        widget.list_changed.track();
        load(0);
    });
    let current = move || widget.current.get().map(|c| c.task_id());
    let now = js_sys::Date::now();
    view! {
        <section class="sw-scroll sw-list" aria-label="Past conversations">
            {move || error.get().map(|e| view! { <p class="sw-alert" role="alert">{e}</p> })}
            <Show when=move || loaded.get() && items.with(Vec::is_empty) && error.with(Option::is_none)>
                <p class="sw-muted">"No conversations yet."</p>
            </Show>
            <ul>
                <For each=move || items.get() key=|t| (t.id.clone(), t.last_activity_at.clone()) let:t>
                    {
                        let id = t.id.clone();
                        let is_current = {
                            let id = id.clone();
                            move || current().as_deref() == Some(id.as_str())
                        };
                        view! {
                            <li>
                                <button
                                    class="sw-row"
                                    type="button"
                                    aria-current=move || is_current().then_some("true")
                                    on:click=move |_| widget.show(Conversation::new(widget, id.clone()))
                                >
                                    <span class="sw-row-title">{title_of(&t)}</span>
                                    <span class="sw-muted sw-small-text">{relative_time(&t.last_activity_at, now)}</span>
                                </button>
                            </li>
                        }
                    }
                </For>
            </ul>
            <Show when=move || has_more.get()>
                <button class="sw-btn" type="button" on:click=move |_| load(items.with_untracked(Vec::len))>"Show more"</button>
            </Show>
        </section>
    }
    .into_any()
}

#[component]
pub fn FilesList() -> impl IntoView {
    let widget = use_widget();
    let list: RwSignal<Option<Vec<Artifact>>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    Effect::new(move |_| {
        let Some(c) = widget.current.get() else {
            return;
        };
        c.files_changed.track();
        spawn_local(async move {
            match widget.client().artifacts(&c.task_id()).await {
                Ok(files) => {
                    list.try_set(Some(files));
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    });
    let download = move |a: Artifact| {
        let Some(c) = widget.current.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match widget.client().download(&c.task_id(), &a.path).await {
                Ok(blob) => page::save_blob(&blob, &a.name),
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <section class="sw-scroll sw-list" aria-label="Files">
            {move || error.get().map(|e| view! { <p class="sw-alert" role="alert">{e}</p> })}
            {move || match list.get() {
                None => view! { <p class="sw-muted" role="status">"Loading the files…"</p> }.into_any(),
                Some(files) if files.is_empty() => {
                    view! { <p class="sw-muted">"No files in this conversation yet."</p> }.into_any()
                }
                Some(files) => view! {
                    <ul>
                        {files.into_iter().map(|a| {
                            let label = format!("Download {}", a.name);
                            let name = a.name.clone();
                            let path = a.path.clone();
                            let size = human_size(a.size);
                            view! {
                                <li>
                                    <button class="sw-row" type="button" aria-label=label title=path on:click=move |_| download(a.clone())>
                                        <span class="sw-row-title">{name}</span>
                                        <span class="sw-muted sw-small-text">{size}</span>
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }
                .into_any(),
            }}
        </section>
    }
    .into_any()
}
