//! Where the visitor writes: Enter sends, Shift+Enter starts a new line; files are attached
//! with the paperclip.

use chat::human_size;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::panel::{CLOSE, icon};
use crate::state::use_widget;

/// The Task API's limits, checked here too so the visitor hears at once, before an upload.
const MAX_FILES: usize = 20;
const MAX_FILE_BYTES: f64 = 50.0 * 1024.0 * 1024.0;

const ATTACH: &str = "M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.5 3.5 0 015 5l-8.5 8.5a2 2 0 01-3-3L15 7";
const SEND: &str = "M12 19V5M5 12l7-7 7 7";

#[component]
pub fn Composer() -> impl IntoView {
    let widget = use_widget();
    let draft = widget.draft;
    let picked = widget.picked;
    let sending = widget.sending;
    let error = widget.send_error;
    let picker: NodeRef<leptos::html::Input> = NodeRef::new();

    let send = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            error.set(Some("Write a message first.".to_owned()));
            return;
        }
        widget.submit(text, picked.get_untracked(), true);
    };
    let add = move |list: Option<web_sys::FileList>| {
        let Some(list) = list else { return };
        let mut problem = None;
        picked.update(|files| {
            for f in (0..list.length()).filter_map(|i| list.get(i)) {
                if f.size() > MAX_FILE_BYTES {
                    problem = Some(format!(
                        "{} is {}; files can be at most 50 MB.",
                        f.name(),
                        human_size(f.size() as u64)
                    ));
                } else if files.len() == MAX_FILES {
                    problem = Some(format!("At most {MAX_FILES} files go with one message."));
                } else {
                    files.push(f);
                }
            }
        });
        error.set(problem);
    };
    let names = move || {
        picked.with(|f| {
            f.iter()
                .map(|f| (f.name(), f.size() as u64))
                .enumerate()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <form class="sw-composer" on:submit=move |ev| { ev.prevent_default(); send(); }>
            {move || error.get().map(|e| view! { <p class="sw-alert" role="alert" id="sw-composer-error">{e}</p> })}
            <Show when=move || picked.with(|f| !f.is_empty())>
                <ul class="sw-picked" aria-label="Files to send">
                    {move || names().into_iter().map(|(i, (name, size))| view! {
                        <li>
                            <span>{format!("{name} ({})", human_size(size))}</span>
                            <button
                                class="sw-icon-btn sw-small"
                                type="button"
                                aria-label=format!("Remove {name}")
                                on:click=move |_| picked.update(|f| { if i < f.len() { f.remove(i); } })
                            >{icon(CLOSE)}</button>
                        </li>
                    }).collect_view()}
                </ul>
            </Show>
            <div class="sw-compose-row">
                <input
                    node_ref=picker
                    class="sw-sr-only"
                    type="file"
                    multiple
                    tabindex="-1"
                    aria-label="Choose files to attach"
                    on:change=move |ev| {
                        let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                        if let Some(input) = input {
                            add(input.files());
                            input.set_value("");
                        }
                    }
                />
                <button
                    class="sw-icon-btn"
                    type="button"
                    aria-label="Attach files"
                    title="Attach files"
                    on:click=move |_| { if let Some(p) = picker.get_untracked() { p.click(); } }
                >{icon(ATTACH)}</button>
                <textarea
                    class="sw-input"
                    rows="1"
                    aria-label="Message"
                    placeholder="Write a message…"
                    aria-describedby=move || error.get().map(|_| "sw-composer-error")
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
                        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                            ev.prevent_default();
                            send();
                        }
                    }
                ></textarea>
                <button
                    class="sw-icon-btn sw-send"
                    type="submit"
                    aria-label="Send message"
                    title="Send"
                    disabled=move || sending.get() || !widget.settled.get()
                >{icon(SEND)}</button>
            </div>
            <p class="sw-muted sw-small-text" aria-live="polite">
                {move || sending.get().then_some(if picked.with(Vec::is_empty) { "Sending…" } else { "Uploading…" })}
            </p>
        </form>
    }
    .into_any()
}
