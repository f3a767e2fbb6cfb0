//! The fields of a widget app, shared by the create and the edit form. Each input is bound to
//! a signal (`prop:value`), so emptying the form after a save is setting the signals: Leptos
//! patches a rebuilt form in place, and a value attribute alone would leave what was typed.

use leptos::prelude::*;
use protocol::widget::{WidgetApp, WidgetLook};

use crate::components::FieldError;
use crate::error::ServerError;
use crate::pages::widget_snippets::{position_value, theme_value};

/// What the form holds, as the text its inputs show.
#[derive(Debug, Clone, Copy)]
pub struct Draft {
    name: RwSignal<String>,
    origins: RwSignal<String>,
    title: RwSignal<String>,
    greeting: RwSignal<String>,
    accent: RwSignal<String>,
    theme: RwSignal<String>,
    position: RwSignal<String>,
    suggestions: RwSignal<String>,
}

impl Draft {
    pub fn new(app: Option<&WidgetApp>) -> Self {
        let draft = Self {
            name: RwSignal::new(String::new()),
            origins: RwSignal::new(String::new()),
            title: RwSignal::new(String::new()),
            greeting: RwSignal::new(String::new()),
            accent: RwSignal::new(String::new()),
            theme: RwSignal::new(String::new()),
            position: RwSignal::new(String::new()),
            suggestions: RwSignal::new(String::new()),
        };
        draft.fill(app);
        draft
    }

    /// The app's values, or a new app's defaults.
    pub fn fill(&self, app: Option<&WidgetApp>) {
        let default_look = WidgetLook::default();
        let look = app.map_or(&default_look, |a| &a.look);
        self.name
            .set(app.map(|a| a.name.clone()).unwrap_or_default());
        self.origins.set(
            app.map(|a| a.allowed_origins.join("\n"))
                .unwrap_or_default(),
        );
        self.title.set(look.title.clone());
        self.greeting.set(look.greeting.clone());
        self.accent.set(look.accent_color.clone());
        self.theme.set(theme_value(look.theme).to_owned());
        self.position.set(position_value(look.position).to_owned());
        self.suggestions.set(look.suggestions.join("\n"));
    }
}

/// The inputs, named as the server functions' arguments. `prefix` keeps each form's ids
/// apart, so every label points at its own input.
#[component]
pub fn AppFields(
    draft: Draft,
    #[prop(into)] prefix: String,
    result: Signal<Option<Result<(), ServerError>>>,
) -> impl IntoView {
    let id = |field: &str| format!("{prefix}-{field}");
    view! {
        <div class="grid gap-3 sm:grid-cols-2">
            <div>
                <label class="label" for=id("name")>"Name"</label>
                <input class="input" id=id("name") name="name" required maxlength="100"
                    placeholder="Storefront assistant"
                    value=draft.name.get_untracked() prop:value=move || draft.name.get()
                    on:input=move |ev| draft.name.set(event_target_value(&ev)) />
                <FieldError result field="name" />
            </div>
            <div>
                <label class="label" for=id("title")>"Title"</label>
                <input class="input" id=id("title") name="title" maxlength="80"
                    value=draft.title.get_untracked() prop:value=move || draft.title.get()
                    on:input=move |ev| draft.title.set(event_target_value(&ev)) />
                <FieldError result field="title" />
            </div>
            <div class="sm:col-span-2">
                <label class="label" for=id("origins")>"Allowed origins"</label>
                <textarea class="input font-mono text-sm" id=id("origins") name="allowed_origins" rows="3"
                    aria-describedby=id("origins-help")
                    placeholder="https://shop.example.com\nhttps://*.example.com"
                    prop:value=move || draft.origins.get()
                    on:input=move |ev| draft.origins.set(event_target_value(&ev))>{draft.origins.get_untracked()}</textarea>
                <p id=id("origins-help") class="mt-1 text-xs text-slate-500">
                    "One per line: scheme://host[:port] exactly as the browser sends it, or one wildcard label (https://*.example.com). The widget answers only pages on these origins."
                </p>
                <FieldError result field="allowedOrigins" />
            </div>
            <div class="sm:col-span-2">
                <label class="label" for=id("greeting")>"Greeting"</label>
                <input class="input" id=id("greeting") name="greeting" maxlength="500"
                    value=draft.greeting.get_untracked() prop:value=move || draft.greeting.get()
                    on:input=move |ev| draft.greeting.set(event_target_value(&ev)) />
                <FieldError result field="greeting" />
            </div>
            <div>
                <label class="label" for=id("accent")>"Accent colour"</label>
                <input class="h-9 w-16 cursor-pointer rounded border border-slate-300 dark:border-slate-700"
                    type="color" id=id("accent") name="accent_color"
                    value=draft.accent.get_untracked() prop:value=move || draft.accent.get()
                    on:input=move |ev| draft.accent.set(event_target_value(&ev)) />
                <FieldError result field="accentColor" />
            </div>
            <div class="grid grid-cols-2 gap-3">
                <div>
                    <label class="label" for=id("theme")>"Theme"</label>
                    <Choice id=id("theme") name="theme" value=draft.theme
                        options=&[("auto", "Auto (as the visitor's system)"), ("light", "Light"), ("dark", "Dark")] />
                    <FieldError result field="theme" />
                </div>
                <div>
                    <label class="label" for=id("position")>"Position"</label>
                    <Choice id=id("position") name="position" value=draft.position
                        options=&[("bottom-right", "Bottom right"), ("bottom-left", "Bottom left")] />
                    <FieldError result field="position" />
                </div>
            </div>
            <div class="sm:col-span-2">
                <label class="label" for=id("suggestions")>"Suggested messages"</label>
                <textarea class="input text-sm" id=id("suggestions") name="suggestions" rows="3"
                    aria-describedby=id("suggestions-help")
                    placeholder="Where is my order?\nI want to return something"
                    prop:value=move || draft.suggestions.get()
                    on:input=move |ev| draft.suggestions.set(event_target_value(&ev))>{draft.suggestions.get_untracked()}</textarea>
                <p id=id("suggestions-help") class="mt-1 text-xs text-slate-500">
                    "One per line, at most 4: offered as buttons before the visitor's first message."
                </p>
                <FieldError result field="suggestions" />
            </div>
        </div>
    }
    .into_any()
}

/// A `<select>` bound to `value`.
#[component]
fn Choice(
    id: String,
    name: &'static str,
    value: RwSignal<String>,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    view! {
        <select class="input" id=id name=name
            prop:value=move || value.get()
            on:change=move |ev| value.set(event_target_value(&ev))>
            {options.iter().map(|&(v, label)| view! {
                <option value=v selected=move || value.get() == v>{label}</option>
            }).collect_view()}
        </select>
    }
}
