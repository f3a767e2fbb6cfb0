//! A project's secret store, on the Schedules tab: the names of its secrets and when each was
//! last set, for everyone in the project; adding, replacing and deleting for project admins.
//! A value goes to the server once and is never shown again, not even to its admins.

use leptos::prelude::*;

use crate::api::{DeleteProjectSecret, SetProjectSecret, get_project_secrets};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::pages::schedule_form::readable_time;

#[component]
pub fn ProjectSecrets(project_id: Memo<String>, admin: Signal<bool>) -> impl IntoView {
    let set = ServerAction::<SetProjectSecret>::new();
    let delete = ServerAction::<DeleteProjectSecret>::new();
    let secrets = Resource::new(
        move || {
            (
                project_id.get(),
                set.version().get(),
                delete.version().get(),
            )
        },
        |(id, ..)| get_project_secrets(id),
    );
    let deleted = Signal::derive(move || delete.value().get());
    view! {
        <section class="card mb-6" aria-labelledby="secrets-title">
            <h2 id="secrets-title" class="mb-1 font-semibold">"Project secrets"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Values reach every scheduled run as secrets, and API tasks that name them in "
                <code>"projectSecrets"</code>
                ": as environment variables in the sandbox and as " <code>"{{mcp.NAME}}"</code>
                " in MCP settings, redacted from every output. Nobody can read a value back."
            </p>
            <FormError result=deleted />
            <Transition fallback=Loading>
                {move || {
                    let pid = project_id.get();
                    Suspend::new(async move {
                        match secrets.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"No secrets yet."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <table class="table" data-testid="project-secrets">
                                    <thead><tr>
                                        <th scope="col">"Name"</th><th scope="col">"Last set"</th>
                                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|secret| {
                                            let pid = pid.clone();
                                            let name = secret.name.clone();
                                            view! {
                                                <tr data-testid="project-secret">
                                                    <td class="font-mono text-sm">{secret.name.clone()}</td>
                                                    <td class="text-sm">{readable_time(&secret.updated_at)}</td>
                                                    <td class="text-right">
                                                        {move || admin.get().then(|| {
                                                            let pid = pid.clone();
                                                            let name = name.clone();
                                                            view! {
                                                                <button class="btn btn-danger" type="button"
                                                                    aria-label=format!("Delete the secret {name}")
                                                                    on:click=move |_| {
                                                                        delete.dispatch(DeleteProjectSecret {
                                                                            project_id: pid.clone(),
                                                                            name: name.clone(),
                                                                        });
                                                                    }>"Delete"</button>
                                                            }
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || if admin.get() {
                view! { <SetSecret project_id set /> }.into_any()
            } else {
                view! { <p class="mt-3 text-sm text-slate-500">"Only project admins can set and delete secrets."</p> }.into_any()
            }}
        </section>
    }
    .into_any()
}

/// Adds a secret, or replaces the value of one with the same name.
#[component]
fn SetSecret(project_id: Memo<String>, set: ServerAction<SetProjectSecret>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let result = Signal::derive(move || set.value().get());
    // The value leaves the page once sent, whatever the answer: it is not kept to be shown.
    Effect::new(move |_| {
        if set.value().get().is_some() {
            value.set(String::new());
        }
        if matches!(set.value().get(), Some(Ok(_))) {
            name.set(String::new());
        }
    });
    let saved = move || {
        set.value()
            .get()
            .and_then(Result::ok)
            .map(|s| format!("Saved {}.", s.name))
    };
    view! {
        <ActionForm action=set attr:class="mt-4 space-y-3 border-t border-slate-200 pt-4 dark:border-slate-800"
            attr:data-testid="secret-form">
            <h3 class="text-sm font-semibold">"Add or replace a secret"</h3>
            <input type="hidden" name="project_id" value=move || project_id.get() />
            <div class="grid gap-3 sm:grid-cols-2">
                <div>
                    <label class="label" for="secret-name">"Secret name"</label>
                    <input class="input font-mono" id="secret-name" name="name" required maxlength="128"
                        autocomplete="off" spellcheck="false" placeholder="REPORT_API_TOKEN"
                        aria-describedby="secret-name-help"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev)) />
                    <p id="secret-name-help" class="mt-1 text-xs text-slate-500">"Letters, digits and _, not starting with a digit. An existing name gets the new value."</p>
                    <FieldError result field="name" />
                </div>
                <div>
                    <label class="label" for="secret-value">"Value"</label>
                    <input class="input font-mono" id="secret-value" name="value" type="password" required
                        autocomplete="new-password"
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev)) />
                    <FieldError result field="value" />
                </div>
            </div>
            <FormError result />
            <button class="btn btn-primary" type="submit" disabled=move || set.pending().get()>"Save secret"</button>
            {move || saved().map(|note| view! {
                <p class="text-sm text-emerald-700 dark:text-emerald-400" role="status">{note}</p>
            })}
        </ActionForm>
    }
    .into_any()
}
