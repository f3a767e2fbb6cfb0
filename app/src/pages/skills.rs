//! A project's skills tab: folders of instructions and files its agent opens when a task
//! calls for them. Project admins upload one as a ZIP (or a new version of one), write one in
//! the form, switch them off and on and delete them; members read the list.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::Role;
use protocol::error::ApiError;
use protocol::skills::Skill;

use crate::api::{AddSkill, DeleteSkill, SetSkillEnabled, get_skills};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::error::ServerError;
use crate::pages::projects::current_project;

#[component]
pub fn SkillsTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let add = ServerAction::<AddSkill>::new();
    let toggle = ServerAction::<SetSkillEnabled>::new();
    let delete = ServerAction::<DeleteSkill>::new();
    // Bumped by every upload that succeeded (they go to the REST API, not through an action).
    let uploaded = RwSignal::new(0_usize);
    let skills = Resource::new(
        move || {
            (
                project_id.get(),
                add.version().get(),
                toggle.version().get(),
                delete.version().get(),
                uploaded.get(),
            )
        },
        |(id, ..)| get_skills(id),
    );
    view! {
        <section class="card mb-6" aria-labelledby="skills-title">
            <h2 id="skills-title" class="mb-1 font-semibold">"Skills"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Folders of instructions, scripts and references this project's agent can open when a task calls for them (the open Agent Skills format: a SKILL.md with a name and a description, and its files). The agent sees each enabled skill's description and finds its files under /skills/<name>/."
            </p>
            <FormError result=Signal::derive(move || toggle.value().get().map(|r| r.map(|_| ()))) />
            <FormError result=Signal::derive(move || delete.value().get()) />
            <Transition fallback=Loading>
                {move || {
                    let pid = project_id.get();
                    let admin = is_admin();
                    Suspend::new(async move {
                        match skills.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"No skills yet."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <ul class="space-y-3" data-testid="skills">
                                    {list.into_iter().map(|s| view! {
                                        <SkillRow skill=s project_id=pid.clone() admin toggle delete uploaded />
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || (!is_admin()).then(|| view! {
                <p class="mt-3 text-sm text-slate-500">"Only project admins can change the skills."</p>
            })}
        </section>
        {move || is_admin().then(|| view! {
            <section class="card mb-6" aria-labelledby="skill-upload-title">
                <h2 id="skill-upload-title" class="mb-1 font-semibold">"Upload a skill"</h2>
                <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
                    "A ZIP of the skill's folder, with SKILL.md at its top (or in its one folder): at most 5 MB and 200 files unpacked."
                </p>
                <ZipForm project_id replace=None uploaded />
            </section>
            <WriteSkill project_id add />
        })}
    }
}

#[component]
fn SkillRow(
    skill: Skill,
    project_id: String,
    admin: bool,
    toggle: ServerAction<SetSkillEnabled>,
    delete: ServerAction<DeleteSkill>,
    uploaded: RwSignal<usize>,
) -> impl IntoView {
    let name = skill.name.clone();
    let (pid, pid2, n1, n2) = (
        project_id.clone(),
        project_id.clone(),
        name.clone(),
        name.clone(),
    );
    let enabled = skill.enabled;
    view! {
        <li class="rounded-md border border-slate-200 p-3 dark:border-slate-800" data-testid=format!("skill-{name}")>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h3 class="font-medium">
                    <span class="font-mono">{name.clone()}</span>
                    <span class="ml-2 text-xs text-slate-500" data-testid="skill-version">{format!("version {}", skill.version)}</span>
                    <span class="ml-2 text-xs text-slate-500" data-testid="skill-state">{if enabled { "on" } else { "off" }}</span>
                </h3>
                {admin.then(|| view! {
                    <div class="flex gap-1">
                        <button class="btn" type="button"
                            on:click=move |_| { toggle.dispatch(SetSkillEnabled { project_id: pid.clone(), name: n1.clone(), enabled: !enabled }); }>
                            {if enabled { "Switch off" } else { "Switch on" }}
                        </button>
                        <button class="btn btn-danger" type="button" aria-label=format!("Delete {name}")
                            on:click=move |_| { delete.dispatch(DeleteSkill { project_id: pid2.clone(), name: n2.clone() }); }>"Delete"</button>
                    </div>
                })}
            </div>
            <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">{skill.description.clone()}</p>
            <ul class="mt-2 text-xs text-slate-600 dark:text-slate-400" aria-label=format!("Files of {name}")>
                {skill.files.into_iter().map(|f| view! {
                    <li>
                        <span class="font-mono">{f.path}</span>
                        " · " {chat::human_size(f.size)}
                        {f.executable.then_some(" · executable")}
                    </li>
                }).collect_view()}
            </ul>
            {admin.then(|| view! { <ZipForm project_id replace=Some(name.clone()) uploaded /> })}
        </li>
    }
    // Erased: a list of these inside the tab would nest past the compiler's depth limit.
    .into_any()
}

/// A ZIP to the REST API: a new skill, or (`replace`) the next version of that skill.
#[component]
fn ZipForm(
    #[prop(into)] project_id: Signal<String>,
    replace: Option<String>,
    uploaded: RwSignal<usize>,
) -> impl IntoView {
    let input: NodeRef<html::Input> = NodeRef::new();
    let result: RwSignal<Option<Result<Skill, ServerError>>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let target = StoredValue::new(replace.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(el) = input.get_untracked() else {
            return;
        };
        let Some(file) = el.files().and_then(|list| list.get(0)) else {
            result.set(Some(Err(ServerError(ApiError::field(
                "file",
                "Choose a ZIP of the skill's folder.",
            )))));
            return;
        };
        busy.set(true);
        let pid = project_id.get_untracked();
        let name = target.get_value();
        spawn_local(async move {
            let answer = chat::client::upload_skill(&pid, name.as_deref(), &file).await;
            busy.set(false);
            if answer.is_ok() {
                el.set_value("");
                uploaded.update(|n| *n += 1);
            }
            result.set(Some(answer.map_err(onto_shown_fields)));
        });
    };
    let shown = Signal::derive(move || result.get());
    let (id, label, button) = match &replace {
        None => (
            "skill-zip".to_owned(),
            "Skill ZIP".to_owned(),
            "Upload skill".to_owned(),
        ),
        Some(name) => (
            format!("skill-zip-{name}"),
            format!("New version of {name} (ZIP)"),
            "Upload new version".to_owned(),
        ),
    };
    let button_label = replace
        .as_ref()
        .map(|name| format!("Upload a new version of {name}"));
    view! {
        <form class={if replace.is_some() { "mt-3 space-y-1" } else { "space-y-2" }} on:submit=submit>
            <label class={if replace.is_some() { "label text-xs" } else { "label" }} for=id.clone()>{label}</label>
            <div class="flex flex-wrap items-center gap-2">
                <input class="input w-auto grow" type="file" id=id name="file" accept=".zip,application/zip" node_ref=input />
                <button class={if replace.is_some() { "btn" } else { "btn btn-primary" }} type="submit"
                    aria-label=button_label disabled=move || busy.get()>{button}</button>
            </div>
            {ZIP_FIELDS.map(|field| view! { <FieldError result=shown field /> })}
            <FormError result=shown />
            {move || matches!(result.get(), Some(Ok(_))).then(|| {
                let text = result.get().and_then(|r| r.ok()).map(|s| format!("Uploaded {} (version {}).", s.name, s.version)).unwrap_or_default();
                view! { <p class="text-sm text-emerald-700 dark:text-emerald-400" role="status">{text}</p> }
            })}
        </form>
    }
    .into_any()
}

/// The fields an upload's answer may name, each shown under the ZIP's input.
const ZIP_FIELDS: [&str; 5] = ["file", "name", "description", "files", "body"];

/// Any other field the API names goes to `file`, so no message is lost.
fn onto_shown_fields(mut e: ApiError) -> ServerError {
    let others: Vec<String> = e
        .fields
        .keys()
        .filter(|k| !ZIP_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in others {
        if let Some(message) = e.fields.remove(&key) {
            let message = format!("{key}: {message}");
            e.fields
                .entry("file".to_owned())
                .and_modify(|m| {
                    m.push(' ');
                    m.push_str(&message);
                })
                .or_insert(message);
        }
    }
    ServerError(e)
}

/// A skill written in place: its SKILL.md parts and, optionally, one more file.
#[component]
fn WriteSkill(project_id: Memo<String>, add: ServerAction<AddSkill>) -> impl IntoView {
    let saved = Signal::derive(move || add.value().get());
    // A skill added empties the form (it is drawn again).
    let cleared = RwSignal::new(0_usize);
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(_))) {
            cleared.update(|n| *n += 1);
        }
    });
    view! {
        <section class="card" aria-labelledby="skill-form-title">
            <h2 id="skill-form-title" class="mb-3 font-semibold">"Write a skill"</h2>
            {move || {
                cleared.get();
                view! {
                    <ActionForm action=add attr:class="space-y-3" attr:data-testid="write-skill-form">
                        <input type="hidden" name="project_id" value=move || project_id.get() />
                        <div>
                            <label class="label" for="skill-name">"Name"</label>
                            <input class="input font-mono" id="skill-name" name="name" required maxlength="64" placeholder="csv-report" />
                            <p class="mt-1 text-xs text-slate-500">"Lower-case letters, digits and hyphens: the folder the agent finds it in."</p>
                            <FieldError result=saved field="name" />
                        </div>
                        <div>
                            <label class="label" for="skill-description">"Description"</label>
                            <input class="input" id="skill-description" name="description" required maxlength="1024"
                                placeholder="What it does and when to use it" />
                            <FieldError result=saved field="description" />
                        </div>
                        <div>
                            <label class="label" for="skill-instructions">"Instructions"</label>
                            <textarea class="input font-mono" id="skill-instructions" name="instructions" rows="8"
                                placeholder="The body of SKILL.md (Markdown)"></textarea>
                            <FieldError result=saved field="instructions" />
                        </div>
                        <fieldset class="grid gap-3 sm:grid-cols-3">
                            <legend class="label">"One more file (optional)"</legend>
                            <div>
                                <label class="label" for="skill-file-path">"File path"</label>
                                <input class="input font-mono" id="skill-file-path" name="file_path" placeholder="scripts/report.py" />
                            </div>
                            <div class="sm:col-span-2">
                                <label class="label" for="skill-file-text">"File content"</label>
                                <textarea class="input font-mono" id="skill-file-text" name="file_text" rows="4"></textarea>
                            </div>
                            <div class="sm:col-span-3"><FieldError result=saved field="files" /></div>
                        </fieldset>
                        <div class="flex items-center gap-2">
                            <input type="checkbox" id="skill-enabled" name="enabled" checked=true />
                            <label for="skill-enabled">"Offer it to tasks"</label>
                        </div>
                        <FormError result=saved />
                        <button class="btn btn-primary" type="submit">"Add skill"</button>
                    </ActionForm>
                }
            }}
            {move || matches!(saved.get(), Some(Ok(_))).then(|| view! {
                <p class="mt-3 text-sm text-emerald-700 dark:text-emerald-400" role="status">"Added."</p>
            })}
        </section>
    }
}
