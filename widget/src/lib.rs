//! The embeddable widget: a project's agent on a customer's page. `widget.js` (the loader,
//! `loader/widget.js`) draws the launcher in a Shadow DOM and, when the visitor first opens
//! it, loads this bundle and calls [`mount`]; the page's `Sigmic.open()`, `close()`,
//! `send(text)` and `destroy()` are forwarded to the functions below.
//!
//! The conversation is the Chat UI's: the same transcript, Markdown sanitizer and Task API
//! client (`chat`), reached from the customer's origin with the widget token.

mod composer;
mod conversation;
mod lists;
mod messages;
mod page;
mod panel;
mod settings;
mod state;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat::client::Client;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use page::Emitter;
use settings::Settings;
use state::Widget;

struct Mounted {
    widget: Widget,
    /// Dropping it unmounts the views and disposes of their reactive state.
    _view: Box<dyn Any>,
}

thread_local! {
    static MOUNTED: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

fn with_widget(f: impl FnOnce(Widget)) {
    if let Some(w) = MOUNTED.with(|m| m.borrow().as_ref().map(|m| m.widget)) {
        f(w);
    }
}

/// Draws the widget into `root` (an element inside the loader's shadow root). `settings` is
/// the page's `window.sigmicSettings`; `emit(name, detail)` tells the page what happened.
#[wasm_bindgen]
pub fn mount(
    root: web_sys::Element,
    settings: JsValue,
    emit: js_sys::Function,
) -> Result<(), JsValue> {
    destroy();
    let settings = Settings::read(&settings);
    if settings.api_url.is_empty() || settings.token.is_empty() {
        return Err(JsValue::from_str(
            "Sigmic: window.sigmicSettings needs `token` and `apiUrl`.",
        ));
    }
    let client = Client::with_token(
        &settings.api_url,
        settings.token.clone(),
        settings.refresh(),
    );
    let parent = root
        .clone()
        .dyn_into::<web_sys::HtmlElement>()
        .map_err(|_| JsValue::from_str("Sigmic: the mount point is not an HTML element."))?;
    let started = Rc::new(Cell::new(None));
    let slot = Rc::clone(&started);
    let handle = leptos::mount::mount_to(parent, move || {
        let widget = Widget::new(client, Emitter(emit), settings.look, root);
        slot.set(Some(widget));
        widget.load_session();
        view! { <panel::Root widget /> }
    });
    let widget = started
        .take()
        .ok_or_else(|| JsValue::from_str("Sigmic: the widget did not start."))?;
    MOUNTED.with(|m| {
        m.replace(Some(Mounted {
            widget,
            _view: Box::new(handle),
        }))
    });
    Ok(())
}

/// Opens the panel.
#[wasm_bindgen]
pub fn open() {
    with_widget(|w| w.open.set(true));
}

/// Closes the panel.
#[wasm_bindgen]
pub fn close() {
    with_widget(|w| w.close(false));
}

/// Sends `text` as the visitor: in the open conversation, or as the first message of a new
/// one. The panel opens so the visitor sees the answer.
#[wasm_bindgen]
pub fn send(text: String) {
    with_widget(|w| {
        w.open.set(true);
        w.submit(text, Vec::new(), false);
    });
}

/// Removes the widget and everything it holds (streams, listeners, state).
#[wasm_bindgen]
pub fn destroy() {
    let mounted = MOUNTED.with(|m| m.borrow_mut().take());
    if let Some(m) = mounted {
        if let Some(c) = m.widget.current.get_untracked() {
            c.close();
        }
        drop(m);
    }
}
