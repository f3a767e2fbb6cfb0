//! The panel: a modal dialog in the page's corner (the whole screen on a phone), with the
//! conversation, the visitor's past conversations or the conversation's files in it.

use leptos::html;
use leptos::prelude::*;
use protocol::widget::{LauncherPosition, WidgetTheme};
use web_sys::KeyboardEvent;

use crate::composer::Composer;
use crate::lists::{FilesList, HistoryList};
use crate::messages::{Messages, RunStatus};
use crate::page;
use crate::settings::{is_hex_color, on_accent};
use crate::state::{Blocked, View, Widget};

/// A 24×24 stroked icon.
pub fn icon(d: &'static str) -> impl IntoView {
    view! {
        <svg class="sw-icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
            <path d=d />
        </svg>
    }
}

pub const CLOSE: &str = "M6 6l12 12M18 6L6 18";
const HISTORY: &str = "M4 6h16M4 12h16M4 18h10";
const NEW: &str = "M12 5v14M5 12h14";
const FILES: &str = "M14 3H6v18h12V7zM14 3v4h4";
const BACK: &str = "M15 6l-6 6 6 6";

#[component]
pub fn Root(widget: Widget) -> impl IntoView {
    provide_context(widget);
    let panel: NodeRef<html::Div> = NodeRef::new();
    let look = widget.look;

    // The page hears when the panel opens or closes (not of the closed start).
    Effect::new(move |was: Option<bool>| {
        let open = widget.open.get();
        if was.unwrap_or(false) != open {
            widget.emit(if open { "open" } else { "close" }, &[]);
        }
        open
    });
    // An open panel follows its conversation, and takes the focus: the message box, or the
    // first thing to act on.
    Effect::new(move |_| {
        if !widget.open.get() {
            return;
        }
        if let Some(c) = widget.current.get() {
            c.connect();
        }
        request_animation_frame(move || {
            let Some(el) = panel.get_untracked() else {
                return;
            };
            if page::focused(&el).is_some_and(|f| el.contains(Some(&f))) {
                return;
            }
            let target = el
                .query_selector("textarea")
                .ok()
                .flatten()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(t).ok())
                .filter(|t| t.get_client_rects().length() > 0)
                .or_else(|| page::tabbable(&el).into_iter().next());
            if let Some(t) = target {
                let _ = t.focus();
            }
        });
    });

    // Tab and Shift+Tab stay inside the open dialog; Esc closes it.
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            widget.close(true);
            return;
        }
        if ev.key() != "Tab" {
            return;
        }
        let Some(el) = panel.get_untracked() else {
            return;
        };
        let items = page::tabbable(&el);
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            ev.prevent_default();
            return;
        };
        let active = page::focused(&el);
        let is = |x: &web_sys::HtmlElement| {
            active
                .as_ref()
                .is_some_and(|a| a.is_same_node(Some(x.as_ref())))
        };
        let outside = !active.as_ref().is_some_and(|a| el.contains(Some(a)));
        if ev.shift_key() && (outside || is(first)) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && (outside || is(last)) {
            ev.prevent_default();
            let _ = first.focus();
        }
    };

    let class = move || {
        look.with(|l| {
            let theme = match l.theme {
                WidgetTheme::Light => "sw-light",
                WidgetTheme::Dark => "sw-dark",
                WidgetTheme::Auto => "sw-auto",
            };
            let side = match l.position {
                LauncherPosition::BottomRight => "sw-right",
                LauncherPosition::BottomLeft => "sw-left",
            };
            format!("sw {theme} {side}")
        })
    };
    // Only a checked colour reaches the style attribute.
    let style = move || {
        look.with(|l| {
            if is_hex_color(&l.accent_color) {
                format!(
                    "--sw-accent: {}; --sw-on-accent: {}",
                    l.accent_color,
                    on_accent(&l.accent_color)
                )
            } else {
                String::new()
            }
        })
    };
    let session = move || match widget.blocked.get() {
        Some(b) => b.tag(),
        None if widget.settled.get() => "ok",
        None => "loading",
    };

    view! {
        <div class=class style=style>
            <div
                node_ref=panel
                id="sigmic-panel"
                class="sw-panel"
                role="dialog"
                aria-modal="true"
                aria-labelledby="sw-title"
                hidden=move || !widget.open.get()
                data-session=session
                on:keydown=on_keydown
            >
                <Header />
                <Body />
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn Header() -> impl IntoView {
    let widget = crate::state::use_widget();
    let view = widget.view;
    let has_conversation = move || widget.current.with(Option::is_some);
    let toggle = move |v: View| {
        view.update(|cur| *cur = if *cur == v { View::Chat } else { v });
    };
    view! {
        <header class="sw-head">
            <Show when=move || view.get() != View::Chat>
                <button class="sw-icon-btn" type="button" aria-label="Back to the conversation" on:click=move |_| view.set(View::Chat)>
                    {icon(BACK)}
                </button>
            </Show>
            <h2 id="sw-title" class="sw-title">{move || widget.look.with(|l| l.title.clone())}</h2>
            <Show when=move || widget.blocked.with(Option::is_none)>
                <Show when=has_conversation>
                    <button
                        class="sw-icon-btn"
                        type="button"
                        aria-label="Show files"
                        title="Files"
                        aria-pressed=move || (view.get() == View::Files).to_string()
                        on:click=move |_| toggle(View::Files)
                    >{icon(FILES)}</button>
                </Show>
                <button
                    class="sw-icon-btn"
                    type="button"
                    aria-label="Past conversations"
                    title="Past conversations"
                    aria-pressed=move || (view.get() == View::History).to_string()
                    on:click=move |_| toggle(View::History)
                >{icon(HISTORY)}</button>
                <button
                    class="sw-icon-btn"
                    type="button"
                    aria-label="New conversation"
                    title="New conversation"
                    on:click=move |_| widget.start_new()
                >{icon(NEW)}</button>
            </Show>
            <button class="sw-icon-btn" type="button" aria-label="Close chat" title="Close" on:click=move |_| widget.close(true)>
                {icon(CLOSE)}
            </button>
        </header>
    }
    .into_any()
}

#[component]
fn Body() -> impl IntoView {
    let widget = crate::state::use_widget();
    move || {
        if let Some(b) = widget.blocked.get() {
            let retry = matches!(b, Blocked::Failed(_));
            return view! {
                <div class="sw-blocked" data-testid="widget-blocked">
                    <p role="alert">{b.message()}</p>
                    <Show when=move || retry>
                        <button class="sw-btn" type="button" on:click=move |_| widget.load_session()>"Try again"</button>
                    </Show>
                </div>
            }
            .into_any();
        }
        match widget.view.get() {
            View::History => view! { <HistoryList /> }.into_any(),
            View::Files => view! { <FilesList /> }.into_any(),
            View::Chat => view! {
                <Messages />
                <RunStatus />
                <Composer />
            }
            .into_any(),
        }
    }
}
