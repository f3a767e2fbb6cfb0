//! Where a message is written: Enter sends, Shift+Enter starts a new line; files are attached
//! with the picker or dropped anywhere on the conversation.

use chat::human_size;
use chat::local::{self, Registry};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::session::Session;
use crate::components::{Icon, Svg};
use crate::error::ApiError;

/// The Task API's limits, checked here too so that a person hears at once, before an upload.
const MAX_FILES: usize = 20;
const MAX_FILE_BYTES: f64 = 50.0 * 1024.0 * 1024.0;

thread_local! {
    /// The files picked for the next message (see `chat::local`).
    static PICKED: Registry<web_sys::File> = Registry::default();
}

/// A file picked for the next message; the file itself is in `PICKED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    key: u64,
    name: String,
    size: u64,
}

#[derive(Clone, Copy)]
pub struct ComposerState {
    pub text: RwSignal<String>,
    pub files: RwSignal<Vec<Picked>>,
    pub sending: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
    /// Files are being dragged over the conversation.
    pub dragging: RwSignal<bool>,
    /// A new conversation's tool calls each wait for the person's approval.
    pub ask_first: RwSignal<bool>,
}

impl ComposerState {
    pub fn new() -> Self {
        Self {
            text: RwSignal::new(String::new()),
            files: RwSignal::new(Vec::new()),
            sending: RwSignal::new(false),
            error: RwSignal::new(None),
            dragging: RwSignal::new(false),
            ask_first: RwSignal::new(false),
        }
    }

    pub fn clear(&self) {
        self.text.try_set(String::new());
        if let Some(picked) = self.files.try_update(std::mem::take) {
            PICKED.with(|r| {
                for p in picked {
                    r.remove(p.key);
                }
            });
        }
        self.error.try_set(None);
    }

    /// The files picked, to send.
    fn picked_files(&self) -> Vec<web_sys::File> {
        let picked = self.files.get_untracked();
        PICKED.with(|r| picked.iter().filter_map(|p| r.get(p.key)).collect())
    }

    fn unpick(&self, index: usize) {
        self.files.update(|f| {
            if index < f.len() {
                let p = f.remove(index);
                PICKED.with(|r| r.remove(p.key));
            }
        });
    }

    pub fn fail(&self, e: ApiError) {
        let message = e.fields.values().next().cloned().unwrap_or(e.message);
        self.error.try_set(Some(message));
    }

    /// Adds files, refusing what the server would refuse.
    pub fn add(&self, list: Option<web_sys::FileList>) {
        let Some(list) = list else { return };
        let mut added = Vec::new();
        for i in 0..list.length() {
            if let Some(f) = list.get(i) {
                if f.size() > MAX_FILE_BYTES {
                    self.error.set(Some(format!(
                        "{} is {}; files can be at most 50 MB.",
                        f.name(),
                        human_size(f.size() as u64)
                    )));
                    continue;
                }
                added.push(f);
            }
        }
        let mut too_many = false;
        self.files.update(|files| {
            for f in added {
                if files.len() == MAX_FILES {
                    too_many = true;
                    break;
                }
                let key = local::next_key();
                files.push(Picked {
                    key,
                    name: f.name(),
                    size: f.size() as u64,
                });
                PICKED.with(|r| r.insert(key, f));
            }
        });
        if too_many {
            self.error.set(Some(format!(
                "At most {MAX_FILES} files go with one message."
            )));
        }
    }
}

#[component]
pub fn Composer(
    state: ComposerState,
    submit: Callback<(String, Vec<web_sys::File>)>,
    /// The open conversation, for Stop; none for a new one.
    #[prop(optional)]
    session: Option<Session>,
    /// More choices for a new conversation, beside "Ask before each tool call".
    #[prop(optional)]
    options: Option<ViewFn>,
) -> impl IntoView {
    let is_new = session.is_none();
    let ComposerState {
        text,
        files,
        sending,
        error,
        dragging,
        ask_first,
    } = state;
    let picker: NodeRef<leptos::html::Input> = NodeRef::new();
    let send = move || {
        if sending.get_untracked() {
            return;
        }
        let message = text.get_untracked();
        if message.trim().is_empty() {
            error.set(Some("Write a message first.".to_owned()));
            return;
        }
        error.set(None);
        submit.run((message, state.picked_files()));
    };
    let names = move || {
        files.with(|f| {
            f.iter()
                .enumerate()
                .map(|(i, p)| (i, p.name.clone(), p.size))
                .collect::<Vec<_>>()
        })
    };
    let running = move || session.is_some_and(|s| s.run.with(|r| r.active));

    view! {
        // Files dropped anywhere on the conversation are attached.
        <div
            class="pointer-events-none absolute inset-0 z-20"
            class:hidden=move || !dragging.get()
            aria-hidden="true"
        >
            <div class="flex h-full items-center justify-center border-4 border-dashed border-brand-500 bg-brand-50/80 text-lg font-medium text-brand-700 dark:bg-zinc-900/80 dark:text-brand-100">
                "Drop files to attach them"
            </div>
        </div>
        <form class="mx-auto w-full max-w-3xl px-4 pb-4" on:submit=move |ev| { ev.prevent_default(); send(); }>
            <Show when=move || error.get().is_some()>
                <p class="field-error mb-1" role="alert" id="composer-error">{move || error.get()}</p>
            </Show>
            <div class="rounded-xl border border-zinc-300 bg-white shadow-xs focus-within:border-brand-500 dark:border-zinc-700 dark:bg-zinc-900">
                <Show when=move || files.with(|f| !f.is_empty())>
                    <ul class="flex flex-wrap gap-1 px-3 pt-2" aria-label="Files to send">
                        {move || names().into_iter().map(|(i, name, size)| view! {
                            <li class="flex items-center gap-1 rounded-md bg-zinc-100 px-2 py-0.5 text-xs dark:bg-zinc-800">
                                <span>{format!("{name} ({})", human_size(size))}</span>
                                <button
                                    type="button"
                                    class="rounded px-1 hover:bg-zinc-200 dark:hover:bg-zinc-700"
                                    aria-label=format!("Remove {name}")
                                    on:click=move |_| state.unpick(i)
                                >"✕"</button>
                            </li>
                        }).collect_view()}
                    </ul>
                </Show>
                <label class="sr-only" for="composer-input">"Message"</label>
                <textarea
                    id="composer-input"
                    class="block max-h-60 min-h-12 w-full resize-none bg-transparent px-3 py-3 [field-sizing:content] focus:outline-none"
                    placeholder="Message the agent (Enter to send, Shift+Enter for a new line)"
                    rows="1"
                    aria-describedby=move || error.get().map(|_| "composer-error")
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
                        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                            ev.prevent_default();
                            send();
                        }
                    }
                ></textarea>
                <div class="flex items-center gap-2 px-2 pb-2">
                    <input
                        node_ref=picker
                        id="composer-files"
                        type="file"
                        multiple
                        class="sr-only"
                        aria-label="Attach files"
                        tabindex="-1"
                        on:change=move |ev| {
                            let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                            if let Some(input) = input {
                                state.add(input.files());
                                input.set_value("");
                            }
                        }
                    />
                    <button
                        type="button"
                        class="btn"
                        aria-label="Attach files"
                        title="Attach files"
                        on:click=move |_| { if let Some(p) = picker.get_untracked() { p.click(); } }
                    ><Svg icon=Icon::Attach /></button>
                    <Show when=move || is_new>
                        <label class="flex items-center gap-1.5 text-xs text-zinc-600 dark:text-zinc-400">
                            <input type="checkbox" prop:checked=move || ask_first.get() on:change=move |ev| ask_first.set(event_target_checked(&ev)) />
                            "Ask before each tool call"
                        </label>
                    </Show>
                    {options.map(|o| o.run())}
                    <span class="mr-auto text-xs text-zinc-500" aria-live="polite">
                        {move || sending.get().then_some(if files.with(|f| f.is_empty()) { "Sending…" } else { "Uploading…" })}
                    </span>
                    <Show when=running>
                        <button class="btn" type="button" aria-label="Stop" aria-keyshortcuts="Escape" title="Stop (Esc)" on:click=move |_| { if let Some(s) = session { s.stop(); } }><Svg icon=Icon::Stop />"Stop"</button>
                    </Show>
                    <button class="btn btn-primary" type="submit" aria-label="Send message" disabled=move || sending.get()><Svg icon=Icon::Send />"Send"</button>
                </div>
            </div>
        </form>
    }
    .into_any()
}

impl ComposerState {
    /// Handlers that make a section a drop zone for the composer's files: the overlay shows
    /// while files are dragged over it, and dropped files are attached.
    pub fn on_dragover(self) -> impl Fn(web_sys::DragEvent) + Copy {
        move |ev| {
            ev.prevent_default();
            self.dragging.set(true);
        }
    }

    pub fn on_dragleave(self) -> impl Fn(web_sys::DragEvent) + Copy {
        move |ev| {
            // Moving between the section's own children fires `dragleave` too.
            let section = ev
                .current_target()
                .and_then(|t| t.dyn_into::<web_sys::Node>().ok());
            let to = ev
                .related_target()
                .and_then(|t| t.dyn_into::<web_sys::Node>().ok());
            let inside = matches!((section, to), (Some(s), Some(n)) if s.contains(Some(&n)));
            if !inside {
                self.dragging.set(false);
            }
        }
    }

    pub fn on_drop(self) -> impl Fn(web_sys::DragEvent) + Copy {
        move |ev| {
            ev.prevent_default();
            self.dragging.set(false);
            self.add(ev.data_transfer().and_then(|d| d.files()));
        }
    }
}
