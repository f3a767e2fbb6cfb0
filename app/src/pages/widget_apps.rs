//! A project's Widget tab: the widget apps that put this project's agent on other sites.
//! Project admins create, edit, rotate and delete them (a secret is shown once, when made);
//! everyone in the project reads them and copies the snippets; admins try the live preview.

use leptos::prelude::*;
use protocol::Role;
use protocol::widget::{WidgetApp, WidgetAppWithSecret};

use crate::api::{
    CreateWidgetApp, DeleteWidgetApp, RotateWidgetSecret, UpdateWidgetApp, get_public_url,
    get_widget_apps,
};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::error::ServerError;
use crate::pages::projects::current_project;
use crate::pages::widget_form::{AppFields, Draft};
use crate::pages::widget_preview::{self, LivePreview};
use crate::pages::widget_snippets::{CopyBlock, Snippets};

/// What every app's card acts through: the tab's actions (its list is drawn again after each,
/// so the cards cannot own them) and the app being edited.
#[derive(Clone, Copy)]
struct Ctx {
    project_id: Memo<String>,
    admin: Signal<bool>,
    server: Signal<String>,
    update: ServerAction<UpdateWidgetApp>,
    delete: ServerAction<DeleteWidgetApp>,
    rotate: ServerAction<RotateWidgetSecret>,
    /// The app whose edit form is open.
    editing: RwSignal<Option<String>>,
    /// The app the last rotation was for, so a failed one shows on its card.
    rotated: RwSignal<Option<String>>,
}

#[component]
pub fn WidgetTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let admin = Signal::derive(move || project.get().is_some_and(|p| p.role == Role::Admin));
    let create = ServerAction::<CreateWidgetApp>::new();
    let update = ServerAction::<UpdateWidgetApp>::new();
    let delete = ServerAction::<DeleteWidgetApp>::new();
    let rotate = ServerAction::<RotateWidgetSecret>::new();
    // Edits saved. Only a save redraws the list: after a refused one the open form keeps
    // what was typed, next to the reasons.
    let saved = RwSignal::new(0_u32);
    let apps = Resource::new(
        move || {
            (
                project_id.get(),
                create.version().get(),
                saved.get(),
                delete.version().get(),
                rotate.version().get(),
            )
        },
        |(id, ..)| get_widget_apps(id),
    );
    // The snippets name the server: its configured address while rendered on the server,
    // then the address this page is really open at (what a customer reaches it by).
    let public_url = Resource::new(|| (), |_| get_public_url());
    let here = RwSignal::new(None::<String>);
    Effect::new(move |_| here.set(widget_preview::page_origin()));
    let ctx = Ctx {
        project_id,
        admin,
        server: Signal::derive(move || {
            here.get()
                .or_else(|| public_url.get().and_then(Result::ok))
                .unwrap_or_default()
        }),
        update,
        delete,
        rotate,
        editing: RwSignal::new(None),
        rotated: RwSignal::new(None),
    };
    Effect::new(move |_| {
        if matches!(update.value().get(), Some(Ok(_))) {
            ctx.editing.set(None);
            saved.update(|n| *n += 1);
        }
    });
    // The preview lives on the page, not in the tab: it goes when the tab does.
    on_cleanup(widget_preview::unload);
    view! {
        <section class="card mb-6" aria-labelledby="widget-title">
            <h2 id="widget-title" class="mb-1 font-semibold">"Widget"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Put this project's agent on your own site with two script tags. Each widget app has an id, a secret your backend trades for a visitor's token, the origins it may run on, and its look. Visitors see only their own conversations."
            </p>
            <FormError result=Signal::derive(move || ctx.delete.value().get()) />
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    // Awaited here so the server's address is in the page before hydration.
                    let _ = public_url.await;
                    match apps.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="text-sm text-slate-500">"No widget apps yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="space-y-4" data-testid="widget-apps">
                                {list.into_iter().map(|app| view! { <AppCard app ctx /> }).collect_view()}
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
            {move || (!admin.get()).then(|| view! {
                <p class="mt-3 text-sm text-slate-500">"Only project admins can create and change widget apps."</p>
            })}
        </section>
        {move || admin.get().then(|| view! { <CreateApp project_id create /> })}
    }
    .into_any()
}

/// The form for a new app, and its secret once made.
#[component]
fn CreateApp(project_id: Memo<String>, create: ServerAction<CreateWidgetApp>) -> impl IntoView {
    let draft = Draft::new(None);
    let result = Signal::derive(move || create.value().get().map(|r| r.map(|_| ())));
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            draft.fill(None);
        }
    });
    let made = move || create.value().get().and_then(Result::ok);
    view! {
        <section class="card" aria-labelledby="widget-create-heading">
            <h2 id="widget-create-heading" class="mb-3 font-semibold">"New widget app"</h2>
            <ActionForm action=create attr:class="space-y-3" attr:data-testid="widget-create-form">
                <input type="hidden" name="project_id" value=move || project_id.get() />
                <AppFields draft prefix="widget-new" result />
                <FormError result />
                <button class="btn btn-primary" type="submit" disabled=move || create.pending().get()>
                    "Create widget app"
                </button>
            </ActionForm>
            {move || made().map(|made| {
                let note = format!("Created {}.", made.app.name);
                view! { <SecretBox made note /> }
            })}
        </section>
    }
    .into_any()
}

/// A new secret: shown this once, with its app's id, ready to copy.
#[component]
fn SecretBox(made: WidgetAppWithSecret, note: String) -> impl IntoView {
    let secret = made.app_secret.clone();
    view! {
        <div class="mt-4 rounded-md border-2 border-amber-400 bg-amber-50 p-4 dark:border-amber-600 dark:bg-amber-950"
            role="status" data-testid="app-secret">
            <h3 class="mb-1 font-semibold">"App secret"</h3>
            <p class="mb-2 text-sm">
                {note} " "
                <strong>"Copy the secret now: you will not see it again."</strong>
                " Keep it in your backend's environment (SIGMIC_APP_SECRET in the snippets), never in a web page."
            </p>
            <p class="mb-2 text-sm">"App id: " <code class="font-mono" data-testid="app-secret-app-id">{made.app.app_id.clone()}</code></p>
            <CopyBlock text=Signal::stored(secret) testid="app-secret-value" what="the app secret" />
        </div>
    }
    .into_any()
}

/// One app: what it is, its forms (for admins), its snippets and its preview.
#[component]
fn AppCard(app: WidgetApp, ctx: Ctx) -> impl IntoView {
    let id = app.app_id.clone();
    let title_id = format!("widget-app-{id}-title");
    let labelled_by = title_id.clone();
    let stored = StoredValue::new(app.clone());
    let is_editing = {
        let id = id.clone();
        move || ctx.editing.get().as_deref() == Some(id.as_str())
    };
    let new_secret = {
        let id = id.clone();
        move || {
            ctx.rotate
                .value()
                .get()
                .and_then(Result::ok)
                .filter(|r| r.app.app_id == id)
        }
    };
    let origins = if app.allowed_origins.is_empty() {
        "none yet: the widget runs nowhere".to_owned()
    } else {
        app.allowed_origins.join(", ")
    };
    view! {
        <article class="rounded-md border border-slate-200 p-4 dark:border-slate-800"
            aria-labelledby=labelled_by data-testid="widget-app">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h3 class="font-medium" id=title_id>
                    {app.name.clone()}
                    <code class="ml-2 font-mono text-xs text-slate-500" data-testid="widget-app-id">{id.clone()}</code>
                </h3>
                {move || ctx.admin.get().then(|| view! { <Manage app=stored.get_value() ctx /> })}
            </div>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                "Allowed origins: " <span class="font-mono" data-testid="widget-app-origins">{origins}</span>
            </p>
            {app.previous_secret_expires_at.clone().map(|until| view! {
                <p class="mt-1 text-sm text-amber-700 dark:text-amber-400">
                    "The previous secret still works until " <Time ts=until /> "."
                </p>
            })}
            {move || is_editing().then(|| view! { <EditApp app=stored.get_value() ctx /> })}
            {move || new_secret().map(|made| {
                let note = match made.app.previous_secret_expires_at.as_deref() {
                    Some(until) => format!(
                        "Rotated. The old secret works until {}, so switch your backend over before then.",
                        readable_time(until)
                    ),
                    None => "Rotated. The old secret has stopped working.".to_owned(),
                };
                view! { <SecretBox made note /> }
            })}
            {move || ctx.admin.get().then(|| view! { <Rotate app_id=stored.with_value(|a| a.app_id.clone()) ctx /> })}
            <Snippets app=app.clone() server=ctx.server />
            // The preview's token acts as the admin who asks for it.
            {move || ctx.admin.get().then(|| view! { <LivePreview app=stored.get_value() project_id=ctx.project_id /> })}
        </article>
    }
    .into_any()
}

/// Edit and delete (with a confirmation).
#[component]
fn Manage(app: WidgetApp, ctx: Ctx) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = StoredValue::new(app.app_id.clone());
    let remove = move |_| {
        ctx.delete.dispatch(DeleteWidgetApp {
            project_id: ctx.project_id.get_untracked(),
            app_id: id.get_value(),
        });
    };
    view! {
        <div class="flex flex-wrap gap-1">
            <button class="btn" type="button"
                on:click=move |_| ctx.editing.update(|e| {
                    let me = id.get_value();
                    *e = if e.as_deref() == Some(me.as_str()) { None } else { Some(me) };
                })>"Edit"</button>
            {move || if confirming.get() {
                view! {
                    <span class="text-sm">"Delete this app? Sites using it stop working."</span>
                    <button class="btn btn-danger" type="button" on:click=remove>"Confirm delete"</button>
                    <button class="btn" type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                }.into_any()
            } else {
                view! {
                    <button class="btn btn-danger" type="button" on:click=move |_| confirming.set(true)>"Delete"</button>
                }.into_any()
            }}
        </div>
    }
    .into_any()
}

#[component]
fn EditApp(app: WidgetApp, ctx: Ctx) -> impl IntoView {
    let draft = Draft::new(Some(&app));
    let result = Signal::derive(move || ctx.update.value().get().map(|r| r.map(|_| ())));
    let prefix = format!("widget-{}", app.app_id);
    view! {
        <ActionForm action=ctx.update attr:class="mt-4 space-y-3 border-t border-slate-200 pt-4 dark:border-slate-800"
            attr:data-testid="widget-edit-form">
            <input type="hidden" name="project_id" value=move || ctx.project_id.get() />
            <input type="hidden" name="app_id" value=app.app_id.clone() />
            <AppFields draft prefix result />
            <FormError result />
            <div class="flex gap-2">
                <button class="btn btn-primary" type="submit" disabled=move || ctx.update.pending().get()>"Save"</button>
                <button class="btn" type="button" on:click=move |_| ctx.editing.set(None)>"Cancel"</button>
            </div>
        </ActionForm>
    }
    .into_any()
}

/// A new secret, with how long the old one keeps working.
#[component]
fn Rotate(app_id: String, ctx: Ctx) -> impl IntoView {
    let overlap = RwSignal::new(String::from("60"));
    let input_id = format!("widget-{app_id}-overlap");
    let help_id = format!("widget-{app_id}-overlap-help");
    let mine = {
        let app_id = app_id.clone();
        move || ctx.rotated.get().as_deref() == Some(app_id.as_str())
    };
    let result: Signal<Option<Result<(), ServerError>>> = Signal::derive(move || {
        if mine() {
            ctx.rotate.value().get().map(|r| r.map(|_| ()))
        } else {
            None
        }
    });
    let app = StoredValue::new(app_id);
    let rotate = move |_| {
        ctx.rotated.set(Some(app.get_value()));
        ctx.rotate.dispatch(RotateWidgetSecret {
            project_id: ctx.project_id.get_untracked(),
            app_id: app.get_value(),
            overlap_minutes: Some(overlap.get_untracked()),
        });
    };
    view! {
        <div class="mt-4 flex flex-wrap items-end gap-3">
            <div>
                <label class="label" for=input_id.clone()>"Overlap (minutes)"</label>
                <input class="input w-28" type="number" min="0" max="10080" id=input_id
                    aria-describedby=help_id.clone()
                    value="60" prop:value=move || overlap.get()
                    on:input=move |ev| overlap.set(event_target_value(&ev)) />
            </div>
            <button class="btn" type="button" on:click=rotate
                disabled=move || ctx.rotate.pending().get()>"Rotate secret"</button>
            <p id=help_id class="w-full text-xs text-slate-500">
                "Makes a new secret. The old one keeps working for this many minutes (0 ends it at once), so a live site's backend can switch over."
            </p>
            <div class="w-full">
                <FieldError result field="overlapMinutes" />
                <FormError result />
            </div>
        </div>
    }
    .into_any()
}

/// An RFC 3339 time, readable, with the exact value for machines.
#[component]
fn Time(ts: String) -> impl IntoView {
    let shown = readable_time(&ts);
    view! { <time datetime=ts data-testid="widget-previous-secret-until">{shown}</time> }
}

/// `2025-06-01T12:00:00Z` → `2025-06-01 12:00:00 UTC`; any other offset is shown as sent.
fn readable_time(ts: &str) -> String {
    match ts.get(..19) {
        Some(head) if ts.ends_with('Z') || ts.ends_with("+00:00") => {
            format!("{} UTC", head.replace('T', " "))
        }
        _ => ts.to_owned(),
    }
}
