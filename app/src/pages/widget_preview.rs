//! The live preview: the real widget, loaded on the Console page itself with a short-lived
//! token the server mints for the signed-in person, exactly as a customer's page loads it
//! (`window.sigmicSettings`, then `<script src="/widget.js">`). Browser-only: on the server
//! these functions do nothing.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::widget::WidgetApp;

use crate::api::widget_preview_token;

/// The id of the loader's `<script>` element, so a second preview replaces the first.
#[cfg(target_arch = "wasm32")]
const LOADER_ID: &str = "sigmic-preview-loader";

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    Loading,
    Shown,
    Failed(String),
}

/// The "Live preview" button of one app, and what became of the last click.
#[component]
pub fn LivePreview(app: WidgetApp, project_id: Memo<String>) -> impl IntoView {
    let state = RwSignal::new(State::Idle);
    let app = StoredValue::new(app);
    let start = move |_| {
        state.set(State::Loading);
        let pid = project_id.get_untracked();
        let app = app.get_value();
        spawn_local(async move {
            match widget_preview_token(pid.clone(), app.app_id.clone()).await {
                Err(e) => state.set(State::Failed(e.message.clone())),
                Ok(issued) => match load(&issued.token, &pid, &app) {
                    Ok(()) => state.set(State::Shown),
                    Err(why) => state.set(State::Failed(why)),
                },
            }
        });
    };
    view! {
        <div class="mt-4 flex flex-wrap items-center gap-3">
            <button class="btn" type="button" on:click=start
                disabled=move || state.get() == State::Loading>"Live preview"</button>
            <span class="text-xs text-slate-500" role="status" data-testid="widget-preview-status">
                {move || match state.get() {
                    State::Idle => "Opens this app's widget on this page, as you (the end user console:<your id>), with the look saved above.".to_owned(),
                    State::Loading => "Loading the widget…".to_owned(),
                    State::Shown => "The widget's launcher is in the corner of this page. Leaving this tab closes it.".to_owned(),
                    State::Failed(why) => format!("The preview could not start: {why}"),
                }}
            </span>
        </div>
    }
    .into_any()
}

/// Takes the preview off the page (leaving the tab, or before loading another look).
pub fn unload() {
    #[cfg(target_arch = "wasm32")]
    browser::unload();
}

#[cfg(target_arch = "wasm32")]
fn load(token: &str, project_id: &str, app: &WidgetApp) -> Result<(), String> {
    browser::load(token, project_id, app).map_err(|e| {
        e.as_string()
            .unwrap_or_else(|| "the browser refused to load the widget.".to_owned())
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn load(_token: &str, _project_id: &str, _app: &WidgetApp) -> Result<(), String> {
    Ok(())
}

/// The address this page was loaded from, once in the browser.
pub fn page_origin() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        browser::origin()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use js_sys::{Function, Object, Promise, Reflect};
    use protocol::widget::WidgetApp;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    use super::LOADER_ID;
    use crate::api::widget_preview_token;
    use crate::pages::widget_snippets::{position_value, theme_value};

    fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<(), JsValue> {
        Reflect::set(target, &JsValue::from_str(key), value).map(|_| ())
    }

    pub fn origin() -> Option<String> {
        let window = web_sys::window()?;
        let location = Reflect::get(&window, &JsValue::from_str("location")).ok()?;
        Reflect::get(&location, &JsValue::from_str("origin"))
            .ok()?
            .as_string()
    }

    /// `Sigmic.destroy()` if a widget is on the page, and its loader's element removed, so
    /// that loading again runs the loader afresh with the new settings.
    pub fn unload() {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Ok(sigmic) = Reflect::get(&window, &JsValue::from_str("Sigmic"))
            && sigmic.is_object()
            && let Ok(destroy) = Reflect::get(&sigmic, &JsValue::from_str("destroy"))
            && let Some(destroy) = destroy.dyn_ref::<Function>()
        {
            let _ = destroy.call0(&sigmic);
        }
        if let Some(old) = window
            .document()
            .and_then(|d| d.get_element_by_id(LOADER_ID))
        {
            old.remove();
        }
        // The preview's token is not left lying on the page.
        let _ = Reflect::delete_property(&window, &JsValue::from_str("sigmicSettings"));
    }

    pub fn load(token: &str, project_id: &str, app: &WidgetApp) -> Result<(), JsValue> {
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let document = window
            .document()
            .ok_or_else(|| JsValue::from_str("no document"))?;
        unload();

        let settings = Object::new();
        let look = &app.look;
        let suggestions = look
            .suggestions
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect::<js_sys::Array>();
        set(&settings, "token", &JsValue::from_str(token))?;
        set(
            &settings,
            "apiUrl",
            &JsValue::from_str(&origin().unwrap_or_default()),
        )?;
        set(
            &settings,
            "getToken",
            &token_source(project_id, &app.app_id),
        )?;
        set(&settings, "title", &JsValue::from_str(&look.title))?;
        set(&settings, "greeting", &JsValue::from_str(&look.greeting))?;
        set(
            &settings,
            "accentColor",
            &JsValue::from_str(&look.accent_color),
        )?;
        set(
            &settings,
            "theme",
            &JsValue::from_str(theme_value(look.theme)),
        )?;
        set(
            &settings,
            "position",
            &JsValue::from_str(position_value(look.position)),
        )?;
        set(&settings, "suggestions", &suggestions)?;
        set(&window, "sigmicSettings", &settings)?;

        // Same origin as the Console, so its `script-src 'self'` admits it without a nonce.
        let script = document.create_element("script")?;
        script.set_id(LOADER_ID);
        script.set_attribute("src", "/widget.js")?;
        script.set_attribute("async", "")?;
        let parent = document
            .body()
            .ok_or_else(|| JsValue::from_str("no body"))?;
        parent.append_child(&script)?;
        Ok(())
    }

    /// `getToken`: a function answering a Promise of a fresh preview token, minted by the same
    /// server function. It stays alive as long as the page (one small closure per preview).
    fn token_source(project_id: &str, app_id: &str) -> JsValue {
        let (project_id, app_id) = (project_id.to_owned(), app_id.to_owned());
        let next = Closure::<dyn FnMut() -> Promise>::new(move || {
            let (project_id, app_id) = (project_id.clone(), app_id.clone());
            Promise::new(&mut move |resolve: Function, reject: Function| {
                let (project_id, app_id) = (project_id.clone(), app_id.clone());
                leptos::task::spawn_local(async move {
                    let _ = match widget_preview_token(project_id, app_id).await {
                        Ok(issued) => {
                            resolve.call1(&JsValue::NULL, &JsValue::from_str(&issued.token))
                        }
                        Err(e) => reject.call1(&JsValue::NULL, &JsValue::from_str(&e.message)),
                    };
                });
            })
        });
        next.into_js_value()
    }
}
