//! A new conversation's model: the banner that says, before anyone types, that the project has
//! no model it can use (and who can fix that), and the menu that picks another model where the
//! project allows it.

use leptos::prelude::*;
use protocol::ProjectModels;

use crate::api::get_project_models;
use crate::error::ServerError;
use crate::pages::project_model::{by_connection, group_label};

pub type ModelsResource = Resource<Result<ProjectModels, ServerError>>;

pub fn project_models(project_id: Memo<String>) -> ModelsResource {
    Resource::new(move || project_id.get(), get_project_models)
}

#[component]
pub fn ModelBanner(models: ModelsResource) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                // A failed read says nothing here: the task's own error will.
                let m = models.await.ok().filter(|m| !m.usable)?;
                let problem = m
                    .problem
                    .unwrap_or_else(|| "This project has no model it can use.".to_owned());
                Some(view! {
                    <div class="mx-auto mt-4 w-full max-w-3xl px-4">
                        <div class="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100" role="status" data-testid="model-banner">
                            <p class="font-medium">"The agent cannot answer yet."</p>
                            <p class="mt-1">{problem}</p>
                            {if m.can_connect {
                                view! {
                                    <a class="mt-2 inline-block font-medium underline" href="/org/models">"Connect a model provider"</a>
                                }.into_any()
                            } else {
                                view! { <p class="mt-1">"Ask an organization admin to connect a model provider."</p> }.into_any()
                            }}
                        </div>
                    </div>
                })
            })}
        </Transition>
    }
}

/// The model menu of a new conversation: empty (the project's model) until a person picks one.
#[component]
pub fn ModelPicker(models: ModelsResource, choice: RwSignal<String>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let m = models.await.ok().filter(|m| m.allow_model_choice && !m.choices.is_empty())?;
                let project_default = match &m.current {
                    Some(c) => format!("{c} (the project's)"),
                    None => "The project's model".to_owned(),
                };
                let groups = by_connection(&m.choices);
                Some(view! {
                    <select
                        class="max-w-48 truncate rounded-md border border-zinc-300 bg-white px-1.5 py-1 text-xs text-zinc-700 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-300"
                        aria-label="Model"
                        data-testid="model-picker"
                        prop:value=move || choice.get()
                        on:change=move |ev| choice.set(event_target_value(&ev))
                    >
                        <option value="">{project_default}</option>
                        {groups.into_iter().map(|(connection, source, names)| view! {
                            <optgroup label=group_label(&connection, source)>
                                {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                            </optgroup>
                        }).collect_view()}
                    </select>
                })
            })}
        </Transition>
    }
}
