//! Organization → Model providers: the connections an organization's projects take their
//! models from, and the server's own (read-only). Organization admins only.

use leptos::prelude::*;
use leptos_meta::Title;
use protocol::{
    ConnectionSource, ConnectionStatus, Me, ModelProvider, ModelProviderKind, ModelProviderTest,
    Role,
};

use crate::api::{
    CheckModelProvider, ConnectModelProvider, EditModelProvider, RemoveModelProvider,
    get_model_providers,
};
use crate::components::{FieldError, FormError, LoadError, Loading, short_date};
use crate::error::ServerError;

type Done<T> = Signal<Option<Result<T, ServerError>>>;

/// What each kind of provider is, shown under the kind while the form is filled in.
fn kind_hint(kind: ModelProviderKind) -> &'static str {
    match kind {
        ModelProviderKind::Anthropic => {
            "Claude models. An API key is required; a base URL only for a proxy in front of Anthropic."
        }
        ModelProviderKind::Openai => {
            "OpenAI, OpenRouter, Ollama (http://host:11434/v1), vLLM, llama.cpp: any server that speaks OpenAI's Chat Completions. Give its base URL with the version path; a local server may need no key."
        }
        ModelProviderKind::Gemini => {
            "Google's Gemini API. An API key from Google AI Studio is required."
        }
    }
}

fn url_placeholder(kind: ModelProviderKind) -> &'static str {
    match kind {
        ModelProviderKind::Anthropic => "https://api.anthropic.com",
        ModelProviderKind::Openai => "https://api.openai.com/v1",
        ModelProviderKind::Gemini => "https://generativelanguage.googleapis.com",
    }
}

fn parse_kind(value: &str) -> ModelProviderKind {
    ModelProviderKind::ALL
        .into_iter()
        .find(|k| k.as_str() == value)
        .unwrap_or(ModelProviderKind::Anthropic)
}

#[component]
pub fn ModelProvidersPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let is_admin = me.role == Some(Role::Admin);
    view! {
        <Title text="Model providers" />
        <p class="text-sm text-slate-500"><a href="/org" class="hover:underline">"Organization"</a></p>
        <h1 class="mb-2 text-2xl font-semibold">"Model providers"</h1>
        <p class="mb-6 text-sm text-slate-600 dark:text-slate-400">
            "The services this organization's agents think with. A project picks a model as <connection>/<model id> in its settings (Settings → Model)."
        </p>
        {if is_admin {
            view! { <Providers /> }.into_any()
        } else {
            view! {
                <p class="card text-slate-600 dark:text-slate-400" data-testid="models-members-note">
                    "Only organization admins manage model connections. Ask one of them to connect a provider or fix one that fails."
                </p>
            }.into_any()
        }}
    }
}

#[component]
fn Providers() -> impl IntoView {
    let connect = ServerAction::<ConnectModelProvider>::new();
    let edit = ServerAction::<EditModelProvider>::new();
    let remove = ServerAction::<RemoveModelProvider>::new();
    let check = ServerAction::<CheckModelProvider>::new();
    let providers = Resource::new(
        move || {
            (
                connect.version().get(),
                edit.version().get(),
                remove.version().get(),
                check.version().get(),
            )
        },
        |_| get_model_providers(),
    );
    // One edit form at a time, so its inputs' ids stay unique on the page.
    let editing = RwSignal::new(None::<String>);
    let edited = Signal::derive(move || edit.value().get());
    Effect::new(move |_| {
        if matches!(edited.get(), Some(Ok(_))) {
            editing.set(None);
        }
    });
    let removed = Signal::derive(move || remove.value().get());
    let tested = Signal::derive(move || check.value().get());
    let actions = CardActions {
        edit,
        remove,
        check,
        editing,
        edited,
        tested,
    };
    view! {
        <section class="mb-6" aria-labelledby="connections-title">
            <h2 id="connections-title" class="mb-3 text-lg font-semibold">"Connections"</h2>
            <FormError result=removed />
            <FormError result=Signal::derive(move || tested.get().map(|r| r.map(|_| ()))) />
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match providers.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="card text-slate-600 dark:text-slate-400" data-testid="no-providers">
                                "No model providers yet: tasks cannot run until one is connected. Connect one below."
                            </p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="space-y-4" data-testid="model-providers">
                                {list.into_iter().map(|provider| view! { <ProviderCard provider actions /> }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <ConnectForm connect />
    }
}

/// What every card shares: the page's actions and their outcomes.
#[derive(Clone, Copy)]
struct CardActions {
    edit: ServerAction<EditModelProvider>,
    remove: ServerAction<RemoveModelProvider>,
    check: ServerAction<CheckModelProvider>,
    editing: RwSignal<Option<String>>,
    edited: Done<ModelProvider>,
    tested: Done<ModelProviderTest>,
}

#[component]
fn ProviderCard(provider: ModelProvider, actions: CardActions) -> impl IntoView {
    let CardActions {
        edit,
        remove,
        check,
        editing,
        edited,
        tested,
    } = actions;
    let id = provider.id.clone();
    let name = provider.name.clone();
    let is_server = provider.source == ConnectionSource::Server;
    let confirming = RwSignal::new(false);
    let (status_label, status_class) = match provider.status {
        ConnectionStatus::Untested => (
            "Untested",
            "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
        ),
        ConnectionStatus::Ok => (
            "Working",
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
        ),
        ConnectionStatus::Failing => (
            "Failing",
            "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
        ),
    };
    let testing_this = {
        let id = id.clone();
        move || check.pending().get() && check.input().get().is_some_and(|i| i.id == id)
    };
    let outcome = {
        let id = id.clone();
        move || {
            tested
                .get()
                .and_then(|r| r.ok())
                .filter(|t| t.provider.id == id)
        }
    };
    let is_editing = {
        let id = id.clone();
        Memo::new(move |_| editing.get().as_deref() == Some(id.as_str()))
    };
    let on_test = {
        let id = id.clone();
        move |_| {
            check.dispatch(CheckModelProvider { id: id.clone() });
        }
    };
    let on_edit = {
        let id = id.clone();
        move |_| {
            editing.update(|e| {
                *e = if e.as_deref() == Some(id.as_str()) {
                    None
                } else {
                    Some(id.clone())
                };
            })
        }
    };
    let on_delete = {
        let id = id.clone();
        move |_| {
            remove.dispatch(RemoveModelProvider { id: id.clone() });
        }
    };
    let models = provider.models.clone();
    let checked = provider
        .checked_at
        .as_deref()
        .map(|t| format!("Last checked {}", short_date(t)));
    let edit_form = {
        let provider = provider.clone();
        move || {
            let provider = provider.clone();
            is_editing
                .get()
                .then(move || view! { <EditForm provider edit edited /> })
        }
    };
    view! {
        <li class="card" data-testid=format!("provider-{name}")>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h3 class="font-semibold">
                    <span class="font-mono">{name.clone()}</span>
                    <span class="badge ml-2">{provider.kind.label()}</span>
                    {is_server.then(|| view! {
                        <span class="badge ml-2" title="Set in the server's environment by its operator">"server"</span>
                    })}
                </h3>
                <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium {status_class}")
                    data-testid="provider-status" title=checked>{status_label}</span>
            </div>
            <p class="mt-1 break-all font-mono text-xs text-slate-600 dark:text-slate-400">
                {provider.base_url.clone().unwrap_or_else(|| "The provider's own address".to_owned())}
            </p>
            <p class="mt-1 text-xs text-slate-500">
                {if provider.has_api_key { "API key stored, encrypted." } else { "No API key." }}
            </p>
            {is_server.then(|| view! {
                <p class="mt-1 text-xs text-slate-500">
                    {if provider.shadowed {
                        "Read-only: the server's operator set it. An organization connection of the same name is used instead."
                    } else {
                        "Read-only: the server's operator set it in the server's environment."
                    }}
                </p>
            })}
            {(provider.status == ConnectionStatus::Failing).then(|| view! {
                <div class="mt-3 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100" data-testid="provider-problem">
                    {provider.status_message.clone().unwrap_or_else(|| "The provider refused the last call.".to_owned())}
                </div>
            })}
            {(!models.is_empty()).then(|| {
                let count = models.len();
                view! {
                    <details class="mt-3 text-sm">
                        <summary class="cursor-pointer text-slate-600 dark:text-slate-400">
                            {format!("{count} model{} found by the last test", if count == 1 { "" } else { "s" })}
                        </summary>
                        <ModelList models=models.clone() />
                    </details>
                }
            })}
            <div class="mt-3 flex flex-wrap gap-2">
                <button class="btn" type="button" on:click=on_test disabled=testing_this.clone()
                    aria-label=format!("Test {name}")>
                    {let t = testing_this.clone(); move || if t() { "Testing…" } else { "Test" }}
                </button>
                {(!is_server).then(|| view! {
                    <button class="btn" type="button" on:click=on_edit aria-label=format!("Edit {name}")
                        aria-expanded=move || is_editing.get().to_string()>"Edit"</button>
                    <Show
                        when=move || confirming.get()
                        fallback={let name = name.clone(); move || view! {
                            <button class="btn btn-danger" type="button" aria-label=format!("Delete {name}")
                                on:click=move |_| confirming.set(true)>"Delete"</button>
                        }}
                    >
                        <span class="text-sm text-slate-600 dark:text-slate-400">"Projects that use it stop working."</span>
                        <button class="btn btn-danger" type="button" on:click=on_delete.clone()>"Confirm delete"</button>
                        <button class="btn" type="button" on:click=move |_| confirming.set(false)>"Keep"</button>
                    </Show>
                })}
            </div>
            {edit_form}
            {move || outcome().map(|t| view! { <TestOutcome test=t /> })}
        </li>
    }
}

#[component]
fn ModelList(models: Vec<String>) -> impl IntoView {
    view! {
        <ul class="mt-2 max-h-48 overflow-auto rounded-md bg-slate-50 p-2 font-mono text-xs dark:bg-slate-800/60">
            {models.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
        </ul>
    }
}

#[component]
fn TestOutcome(test: ModelProviderTest) -> impl IntoView {
    if !test.ok {
        return view! {
            <div class="mt-3 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200" role="alert" data-testid="provider-test-error">
                {format!("The test failed: {}", test.message.unwrap_or_else(|| "no answer.".to_owned()))}
            </div>
        }
        .into_any();
    }
    let summary = match test.models.len() {
        0 => format!(
            "It works ({} ms). It lists no models: type the model's id in a project's settings.",
            test.elapsed_ms
        ),
        1 => format!("It works: 1 model, in {} ms.", test.elapsed_ms),
        n => format!("It works: {n} models, in {} ms.", test.elapsed_ms),
    };
    let models = test.models;
    view! {
        <div class="mt-3 rounded-md border border-emerald-300 p-3 text-sm dark:border-emerald-800" role="status" data-testid="provider-test-result">
            <p class="font-medium">{summary}</p>
            {(!models.is_empty()).then(|| view! { <ModelList models /> })}
        </div>
    }
    .into_any()
}

#[component]
fn EditForm(
    provider: ModelProvider,
    edit: ServerAction<EditModelProvider>,
    edited: Done<ModelProvider>,
) -> impl IntoView {
    // A key can be removed only where the provider works without one.
    let keyless_ok = provider.kind == ModelProviderKind::Openai && provider.has_api_key;
    view! {
        <ActionForm action=edit attr:class="mt-4 space-y-3 border-t border-slate-200 pt-4 dark:border-slate-800">
            <input type="hidden" name="id" value=provider.id.clone() />
            <div>
                <label class="label" for="edit-provider-name">"Name"</label>
                <input class="input font-mono" id="edit-provider-name" name="name" value=provider.name.clone()
                    required maxlength="40" autocomplete="off" />
                <FieldError result=edited field="editName" />
            </div>
            <div>
                <label class="label" for="edit-provider-base-url">"Base URL"</label>
                <input class="input font-mono" id="edit-provider-base-url" name="base_url" type="url"
                    value=provider.base_url.clone().unwrap_or_default() placeholder=url_placeholder(provider.kind)
                    aria-describedby="edit-provider-base-url-help" />
                <p id="edit-provider-base-url-help" class="mt-1 text-xs text-slate-500">"Empty for the provider's own."</p>
                <FieldError result=edited field="editBaseUrl" />
            </div>
            <div>
                <label class="label" for="edit-provider-api-key">"Replace the API key"</label>
                <input class="input font-mono" id="edit-provider-api-key" name="api_key" type="password"
                    autocomplete="new-password" aria-describedby="edit-provider-api-key-help" />
                <p id="edit-provider-api-key-help" class="mt-1 text-xs text-slate-500">"Stored encrypted; leave empty to keep it."</p>
                <FieldError result=edited field="editApiKey" />
            </div>
            {keyless_ok.then(|| view! {
                <div class="flex items-center gap-2">
                    <input type="checkbox" id="edit-provider-remove-key" name="remove_key" value="on" />
                    <label for="edit-provider-remove-key" class="text-sm">"Remove the stored key (a server that wants none)"</label>
                </div>
            })}
            <FormError result=edited />
            <button class="btn btn-primary" type="submit">"Save"</button>
        </ActionForm>
    }
}

#[component]
fn ConnectForm(connect: ServerAction<ConnectModelProvider>) -> impl IntoView {
    let connected = Signal::derive(move || connect.value().get());
    let kind = RwSignal::new(ModelProviderKind::Anthropic);
    let name = RwSignal::new(String::new());
    let base_url = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    // A connection made empties the form for the next one; the key first of all.
    Effect::new(move |_| {
        if matches!(connected.get(), Some(Ok(_))) {
            name.set(String::new());
            base_url.set(String::new());
            api_key.set(String::new());
        }
    });
    let made = move || connected.get().and_then(|r| r.ok()).map(|p| p.name);
    view! {
        <section class="card" aria-labelledby="connect-title">
            <h2 id="connect-title" class="mb-3 font-semibold">"Connect a provider"</h2>
            <ActionForm action=connect attr:class="space-y-3">
                <div class="grid gap-3 md:grid-cols-2">
                    <div>
                        <label class="label" for="provider-name">"Name"</label>
                        <input class="input font-mono" id="provider-name" name="name" required maxlength="40"
                            autocomplete="off" placeholder="my-ollama" aria-describedby="provider-name-help"
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                        <p id="provider-name-help" class="mt-1 text-xs text-slate-500">
                            "Projects name its models <name>/<model id>: lowercase letters, digits, - and _."
                        </p>
                        <FieldError result=connected field="name" />
                    </div>
                    <div>
                        <label class="label" for="provider-kind">"Kind"</label>
                        <select class="input" id="provider-kind" name="kind" aria-describedby="provider-kind-help"
                            on:change=move |ev| kind.set(parse_kind(&event_target_value(&ev)))>
                            {ModelProviderKind::ALL.into_iter().map(|k| view! {
                                <option value=k.as_str() selected=move || kind.get() == k>{k.label()}</option>
                            }).collect_view()}
                        </select>
                        <p id="provider-kind-help" class="mt-1 text-xs text-slate-500">{move || kind_hint(kind.get())}</p>
                        <FieldError result=connected field="kind" />
                    </div>
                </div>
                <div>
                    <label class="label" for="provider-base-url">"Base URL (optional)"</label>
                    <input class="input font-mono" id="provider-base-url" name="base_url" type="url"
                        placeholder=move || url_placeholder(kind.get()) aria-describedby="provider-base-url-help"
                        prop:value=move || base_url.get() on:input=move |ev| base_url.set(event_target_value(&ev)) />
                    <p id="provider-base-url-help" class="mt-1 text-xs text-slate-500">"Empty for the provider's own."</p>
                    <FieldError result=connected field="baseUrl" />
                </div>
                <div>
                    <label class="label" for="provider-api-key">"API key"</label>
                    <input class="input font-mono" id="provider-api-key" name="api_key" type="password"
                        autocomplete="new-password" aria-describedby="provider-api-key-help"
                        prop:value=move || api_key.get() on:input=move |ev| api_key.set(event_target_value(&ev)) />
                    <p id="provider-api-key-help" class="mt-1 text-xs text-slate-500">"Stored encrypted; never shown again."</p>
                    <FieldError result=connected field="apiKey" />
                </div>
                <FormError result=connected />
                <button class="btn btn-primary" type="submit" disabled=move || connect.pending().get()>"Connect"</button>
            </ActionForm>
            {move || made().map(|n| view! {
                <p class="mt-3 text-sm text-emerald-700 dark:text-emerald-400" role="status">
                    {format!("Connected {n}. Test it to list its models.")}
                </p>
            })}
        </section>
    }
}
