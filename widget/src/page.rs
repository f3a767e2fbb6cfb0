//! What the widget does to the page around it: events for the page's listeners, the last
//! conversation remembered across reloads, downloads, and focus inside the Shadow DOM.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement, ShadowRoot};

/// Calls the loader's `emit(name, detail)`, which hands the event to `Sigmic.on` listeners.
#[derive(Clone)]
pub struct Emitter(pub Function);

impl Emitter {
    pub fn emit(&self, name: &str, fields: &[(&str, JsValue)]) {
        let detail = Object::new();
        for (k, v) in fields {
            let _ = Reflect::set(&detail, &JsValue::from_str(k), v);
        }
        // A listener's exception is the page's business, not the widget's.
        let _ = self
            .0
            .call2(&JsValue::NULL, &JsValue::from_str(name), &detail);
    }
}

fn storage() -> Option<web_sys::Storage> {
    // Storage can be refused (privacy settings, sandboxed frames): then nothing is remembered.
    web_sys::window()?.local_storage().ok().flatten()
}

/// Where the end user's open conversation is remembered: one key per app and end user, so
/// another visitor on the same browser does not reopen it (the server would refuse anyway).
pub fn conversation_key(app_id: &str, end_user_id: &str) -> String {
    format!("sigmic:{app_id}:{end_user_id}:conversation")
}

pub fn remembered(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

pub fn remember(key: &str, task_id: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match task_id {
            Some(id) => s.set_item(key, id),
            None => s.remove_item(key),
        };
    }
}

/// Hands a fetched file to the visitor as a download.
pub fn save_blob(blob: &web_sys::Blob, name: &str) {
    let Ok(url) = web_sys::Url::create_object_url_with_blob(blob) else {
        return;
    };
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(a) = doc.create_element("a")
        && let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>()
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    // Revoked once the browser has started the download.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(w) = web_sys::window() {
        let _ =
            w.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
    }
}

/// The shadow root the widget lives in.
pub fn shadow_of(el: &Element) -> Option<ShadowRoot> {
    el.get_root_node().dyn_into::<ShadowRoot>().ok()
}

/// The focused element inside the widget's shadow root (the page sees only the host).
pub fn focused(el: &Element) -> Option<Element> {
    shadow_of(el)?.active_element()
}

/// Elements of `container` that Tab reaches, in order.
pub fn tabbable(container: &Element) -> Vec<HtmlElement> {
    const SELECTOR: &str = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), textarea:not([disabled]), select:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";
    let Ok(list) = container.query_selector_all(SELECTOR) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
        // Hidden ones (closed details, `display: none`) have no boxes.
        .filter(|e| e.tab_index() >= 0 && e.get_client_rects().length() > 0)
        .collect()
}

/// The loader's launcher button, beside the widget in the shadow root.
pub fn launcher(el: &Element) -> Option<HtmlElement> {
    shadow_of(el)?
        .query_selector("[data-sigmic-launcher]")
        .ok()
        .flatten()?
        .dyn_into::<HtmlElement>()
        .ok()
}
