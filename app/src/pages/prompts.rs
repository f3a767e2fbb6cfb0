//! A project's prompts tab: named blocks of text every task's system prompt gets, in order.
//! Project admins add, edit, reorder, switch off and delete them; members read them.

use leptos::prelude::*;
use protocol::Role;
use protocol::policy::Prompt;

use crate::api::{ChangePrompt, DeletePrompt, SavePrompt, get_prompts};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::pages::projects::current_project;

#[component]
pub fn PromptsTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let save = ServerAction::<SavePrompt>::new();
    let change = ServerAction::<ChangePrompt>::new();
    let delete = ServerAction::<DeletePrompt>::new();
    let prompts = Resource::new(
        move || {
            (
                project_id.get(),
                save.version().get(),
                change.version().get(),
                delete.version().get(),
            )
        },
        |(id, ..)| get_prompts(id),
    );
    let editing: RwSignal<Option<Prompt>> = RwSignal::new(None);
    let saved = Signal::derive(move || save.value().get());
    // A saved prompt empties the form.
    let saves = RwSignal::new(0u32);
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            editing.set(None);
            saves.update(|n| *n += 1);
        }
    });
    view! {
        <section class="card mb-6" aria-labelledby="prompts-title">
            <h2 id="prompts-title" class="mb-1 font-semibold">"Prompts"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Instructions every task of this project follows, added to its system prompt in this order. Switched-off prompts are kept but not sent."
            </p>
            <FormError result=Signal::derive(move || change.value().get().map(|r| r.map(|_| ()))) />
            <FormError result=Signal::derive(move || delete.value().get()) />
            <Transition fallback=Loading>
                {move || {
                    let pid = project_id.get();
                    let admin = is_admin();
                    Suspend::new(async move {
                        match prompts.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"No prompts yet."</p>
                            }.into_any(),
                            Ok(list) => {
                                let last = list.len().saturating_sub(1) as u32;
                                view! {
                                    <ol class="space-y-3" data-testid="prompts">
                                        {list.into_iter().map(|p| {
                                            let (pid, up, down, toggle, del, edit) = (pid.clone(), p.clone(), p.clone(), p.clone(), p.id.clone(), p.clone());
                                            let (pid2, pid3, pid4) = (pid.clone(), pid.clone(), pid.clone());
                                            view! {
                                                <li class="rounded-md border border-slate-200 p-3 dark:border-slate-800" data-testid=format!("prompt-{}", p.name)>
                                                    <div class="flex flex-wrap items-baseline justify-between gap-2">
                                                        <h3 class="font-medium">{p.name.clone()}
                                                            {(!p.enabled).then(|| view! { <span class="ml-2 text-xs text-slate-500">"off"</span> })}
                                                        </h3>
                                                        {admin.then(|| view! {
                                                            <div class="flex gap-1">
                                                                <button class="btn" type="button" disabled={p.position == 0} aria-label=format!("Move {} up", p.name)
                                                                    on:click=move |_| { change.dispatch(ChangePrompt { project_id: pid.clone(), position: up.position.saturating_sub(1), enabled: up.enabled, prompt: up.clone() }); }>"↑"</button>
                                                                <button class="btn" type="button" disabled={p.position >= last} aria-label=format!("Move {} down", p.name)
                                                                    on:click=move |_| { change.dispatch(ChangePrompt { project_id: pid2.clone(), position: down.position + 1, enabled: down.enabled, prompt: down.clone() }); }>"↓"</button>
                                                                <button class="btn" type="button"
                                                                    on:click=move |_| { change.dispatch(ChangePrompt { project_id: pid3.clone(), position: toggle.position, enabled: !toggle.enabled, prompt: toggle.clone() }); }>
                                                                    {if p.enabled { "Switch off" } else { "Switch on" }}
                                                                </button>
                                                                <button class="btn" type="button" on:click=move |_| editing.set(Some(edit.clone()))>"Edit"</button>
                                                                <button class="btn btn-danger" type="button" aria-label=format!("Delete {}", p.name)
                                                                    on:click=move |_| { delete.dispatch(DeletePrompt { project_id: pid4.clone(), id: del.clone() }); }>"Delete"</button>
                                                            </div>
                                                        })}
                                                    </div>
                                                    <p class="mt-1 whitespace-pre-wrap text-sm text-slate-700 dark:text-slate-300">{p.content.clone()}</p>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ol>
                                }.into_any()
                            }
                        }
                    })
                }}
            </Transition>
        </section>
        {move || is_admin().then(|| {
            saves.track();
            let p = editing.get();
            let id = p.as_ref().map(|p| p.id.clone()).unwrap_or_default();
            let name = p.as_ref().map(|p| p.name.clone()).unwrap_or_default();
            let content = p.as_ref().map(|p| p.content.clone()).unwrap_or_default();
            let typed = content.clone();
            let enabled = p.as_ref().is_none_or(|p| p.enabled);
            view! {
                <section class="card" aria-labelledby="prompt-form-title">
                    <h2 id="prompt-form-title" class="mb-3 font-semibold">{if id.is_empty() { "Add a prompt" } else { "Edit the prompt" }}</h2>
                    <ActionForm action=save attr:class="space-y-3">
                        <input type="hidden" name="project_id" value=move || project_id.get() />
                        <input type="hidden" name="id" value=id.clone() />
                        <div>
                            <label class="label" for="prompt-name">"Name"</label>
                            <input class="input" id="prompt-name" name="name" required maxlength="100" value=name.clone() prop:value=name />
                            <FieldError result=saved field="name" />
                        </div>
                        <div>
                            <label class="label" for="prompt-content">"Text"</label>
                            <textarea class="input" id="prompt-content" name="content" rows="5" required prop:value=typed>{content}</textarea>
                            <FieldError result=saved field="content" />
                        </div>
                        <div class="flex items-center gap-2">
                            <input type="checkbox" id="prompt-enabled" name="enabled" checked=enabled prop:checked=enabled />
                            <label for="prompt-enabled">"Send it with every task"</label>
                        </div>
                        <FormError result=saved />
                        <div class="flex gap-2">
                            <button class="btn btn-primary" type="submit">{if id.is_empty() { "Add prompt" } else { "Save prompt" }}</button>
                            {(!id.is_empty()).then(|| view! { <button class="btn" type="button" on:click=move |_| editing.set(None)>"Cancel"</button> })}
                        </div>
                    </ActionForm>
                </section>
            }
        })}
    }
}
