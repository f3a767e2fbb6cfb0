//! A project's Model tab: the model its tasks run with, whether it works, and whether a
//! conversation may pick another.

use leptos::prelude::*;
use protocol::{ConnectionSource, ModelChoice, ProjectModels, ProjectSettings, Role};

use crate::api::{SetProjectModel, get_project_models, get_project_settings};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::pages::projects::current_project;

/// The choices by connection, in the order the server lists them.
pub fn by_connection(choices: &[ModelChoice]) -> Vec<(String, ConnectionSource, Vec<String>)> {
    let mut groups: Vec<(String, ConnectionSource, Vec<String>)> = Vec::new();
    for c in choices {
        match groups.iter_mut().find(|(name, ..)| *name == c.connection) {
            Some((.., models)) => models.push(c.name.clone()),
            None => groups.push((c.connection.clone(), c.source, vec![c.name.clone()])),
        }
    }
    groups
}

/// An `<optgroup>` label: the connection, and whose it is when the server's operator set it.
pub fn group_label(connection: &str, source: ConnectionSource) -> String {
    match source {
        ConnectionSource::Organization => connection.to_owned(),
        ConnectionSource::Server => format!("{connection} (server)"),
    }
}

#[component]
pub fn ModelTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let save = ServerAction::<SetProjectModel>::new();
    let settings = Resource::new(
        move || (project_id.get(), save.version().get()),
        |(id, _)| get_project_settings(id),
    );
    let models = Resource::new(
        move || (project_id.get(), save.version().get()),
        |(id, _)| get_project_models(id),
    );
    let saved = Signal::derive(move || save.value().get());
    view! {
        <Transition fallback=Loading>
            {move || {
                let pid = project_id.get();
                let admin = is_admin();
                Suspend::new(async move {
                    match (settings.await, models.await) {
                        (Err(e), _) | (_, Err(e)) => view! { <LoadError error=e /> }.into_any(),
                        (Ok(s), Ok(m)) => view! {
                            <section class="card" aria-labelledby="model-title">
                                <h2 id="model-title" class="mb-1 font-semibold">"Model"</h2>
                                <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                                    "What this project's agent thinks with, from the organization's model providers."
                                </p>
                                <CurrentModel models=m.clone() />
                                <ModelForm project_id=pid settings=s models=m admin save />
                                {(!admin).then(|| view! {
                                    <p class="mt-3 text-sm text-slate-500">"Only project admins can change this."</p>
                                })}
                                <FormError result=saved />
                                {move || matches!(saved.get(), Some(Ok(_))).then(|| view! {
                                    <p class="mt-3 text-sm text-emerald-700 dark:text-emerald-400" role="status">"Saved."</p>
                                })}
                            </section>
                        }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn CurrentModel(models: ProjectModels) -> impl IntoView {
    let current = models.current.clone();
    view! {
        <div class="mb-4">
            <p class="text-sm">
                "Tasks now use "
                {match current {
                    Some(c) => view! { <code class="font-mono" data-testid="current-model">{c}</code> }.into_any(),
                    None => view! { <span data-testid="current-model">"no model"</span> }.into_any(),
                }}
                {models.usable.then(|| view! {
                    <span class="ml-2 inline-flex items-center rounded-full bg-emerald-100 px-2 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300" data-testid="model-usable">"Ready"</span>
                })}
            </p>
            {(!models.usable).then(|| view! {
                <div class="mt-2 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100" data-testid="model-problem">
                    <p>{models.problem.clone().unwrap_or_else(|| "This model cannot be used.".to_owned())}</p>
                    {if models.can_connect {
                        view! { <a class="mt-1 inline-block font-medium underline" href="/org/models">"Model providers"</a> }.into_any()
                    } else {
                        view! { <p class="mt-1">"An organization admin can connect or fix a model provider."</p> }.into_any()
                    }}
                </div>
            })}
        </div>
    }
}

#[component]
fn ModelForm(
    project_id: String,
    settings: ProjectSettings,
    models: ProjectModels,
    admin: bool,
    save: ServerAction<SetProjectModel>,
) -> impl IntoView {
    let saved = Signal::derive(move || save.value().get());
    let chosen = settings.model.clone().unwrap_or_default();
    let listed = models.choices.iter().any(|c| c.name == chosen);
    // A model set by hand (or one its connection no longer lists) stays in the text field, so
    // saving the form does not drop it.
    let typed = if listed {
        String::new()
    } else {
        chosen.clone()
    };
    let groups = by_connection(&models.choices);
    let empty = groups.is_empty();
    view! {
        <ActionForm action=save>
            <input type="hidden" name="project_id" value=project_id />
            <fieldset disabled=!admin class="space-y-3">
                <legend class="sr-only">"The project's model"</legend>
                <div>
                    <label class="label" for="model-select">"Model"</label>
                    <select class="input" id="model-select" name="model" aria-describedby="model-select-help">
                        <option value="" selected=chosen.is_empty() || !listed>"The default"</option>
                        {groups.into_iter().map(|(connection, source, names)| {
                            let chosen = chosen.clone();
                            view! {
                                <optgroup label=group_label(&connection, source)>
                                    {names.into_iter().map(|n| {
                                        let selected = n == chosen;
                                        view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
                                    }).collect_view()}
                                </optgroup>
                            }
                        }).collect_view()}
                    </select>
                    <p id="model-select-help" class="mt-1 text-xs text-slate-500">
                        {if empty {
                            "No connection lists models yet: test a provider under Organization → Model providers, or type a model below."
                        } else {
                            "What the organization's connections offered at their last test. The default is the server's, if its operator set one."
                        }}
                    </p>
                </div>
                <div>
                    <label class="label" for="model-custom">"Or type a model"</label>
                    <input class="input font-mono" id="model-custom" name="custom_model" value=typed maxlength="241"
                        autocomplete="off" placeholder="my-ollama/llama3.1:8b" aria-describedby="model-custom-help" />
                    <p id="model-custom-help" class="mt-1 text-xs text-slate-500">
                        "<connection>/<model id>, for a model the list lacks. When filled, it is used instead of the list."
                    </p>
                    <FieldError result=saved field="model" />
                </div>
                <div class="flex items-start gap-2">
                    <input type="checkbox" id="allow-model-choice" name="allow_model_choice" value="on"
                        checked=settings.allow_model_choice aria-describedby="allow-model-choice-help" />
                    <label for="allow-model-choice">
                        <span class="font-medium">"Let people pick the model for a new conversation"</span>
                        <span id="allow-model-choice-help" class="block text-sm text-slate-600 dark:text-slate-400">
                            "The Chat UI shows a model menu, and the Task API takes a task's model. Otherwise every task uses the model above."
                        </span>
                    </label>
                </div>
                <FieldError result=saved field="allowModelChoice" />
                {admin.then(|| view! { <button class="btn btn-primary" type="submit">"Save"</button> })}
            </fieldset>
        </ActionForm>
    }
}
