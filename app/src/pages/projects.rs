//! Projects: the list, and one project's settings (Members, API Keys; Network in `network`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Outlet, Redirect};
use leptos_router::hooks::use_params_map;
use protocol::{Me, Project, Role};

use crate::api::{
    AddProjectMember, CreateApiKey, CreateProject, DeleteProject, RemoveProjectMember,
    RenameProject, RevokeApiKey, SetProjectRole, get_api_keys, get_org_members,
    get_project_members, get_projects,
};
use crate::components::{FieldError, FormError, LoadError, Loading, short_date};
use crate::pages::layout::MeResource;

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let me_resource = expect_context::<MeResource>();
    let is_admin = me.role == Some(Role::Admin);
    let create = ServerAction::<CreateProject>::new();
    let rename = ServerAction::<RenameProject>::new();
    let delete = ServerAction::<DeleteProject>::new();
    let projects = Resource::new(
        move || {
            (
                create.version().get(),
                rename.version().get(),
                delete.version().get(),
            )
        },
        |_| get_projects(),
    );
    // The top bar's project switcher reads the same list.
    Effect::new(move |prev: Option<(usize, usize, usize)>| {
        let now = (
            create.version().get(),
            rename.version().get(),
            delete.version().get(),
        );
        if prev.is_some_and(|p| p != now) {
            me_resource.refetch();
        }
        now
    });
    let created = Signal::derive(move || create.value().get());
    let renamed = Signal::derive(move || rename.value().get());
    let deleted = Signal::derive(move || delete.value().get());
    view! {
        <Title text="Projects" />
        <h1 class="mb-6 text-2xl font-semibold">"Projects"</h1>
        <Show when=move || is_admin>
            <section class="card mb-6" aria-labelledby="new-project">
                <h2 id="new-project" class="mb-3 font-semibold">"New project"</h2>
                <ActionForm action=create attr:class="flex flex-wrap items-start gap-3">
                    <div class="grow">
                        <label class="label sr-only" for="project-name">"Project name"</label>
                        <input class="input" id="project-name" name="name" placeholder="Project name" aria-label="Project name" required maxlength="100" />
                        <FieldError result=created field="name" />
                    </div>
                    <button class="btn btn-primary" type="submit">"Create project"</button>
                </ActionForm>
                <FormError result=created />
            </section>
        </Show>
        <FormError result=renamed />
        <FieldError result=renamed field="name" />
        <FormError result=deleted />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match projects.await {
                    Err(e) => view! { <LoadError error=e /> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="card text-slate-600 dark:text-slate-400">"There are no projects you can reach yet."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="card divide-y divide-slate-200 p-0 dark:divide-slate-800">
                            {list.into_iter().map(|p| view! { <ProjectRow p is_admin rename delete /> }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProjectRow(
    p: Project,
    is_admin: bool,
    rename: ServerAction<RenameProject>,
    delete: ServerAction<DeleteProject>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let href = format!("/p/{}", p.id);
    let id = StoredValue::new(p.id.clone());
    let name = p.name.clone();
    let stored_name = StoredValue::new(p.name.clone());
    view! {
        <li class="flex flex-wrap items-center gap-3 px-4 py-3">
            <Show
                when=move || editing.get()
                fallback={
                    let name = name.clone();
                    let href = href.clone();
                    move || view! {
                        <a class="grow font-medium hover:underline" href=href.clone()>{name.clone()}</a>
                    }
                }
            >
                <ActionForm action=rename attr:class="flex grow gap-2">
                    <input type="hidden" name="project_id" value=id.get_value() />
                    <input class="input" name="name" value=stored_name.get_value() aria-label="New project name" required maxlength="100" />
                    <button class="btn btn-primary" type="submit" on:click=move |_| editing.set(false)>"Save"</button>
                </ActionForm>
            </Show>
            <span class="badge">{p.role.label()}</span>
            <Show when=move || is_admin>
                <button class="btn" type="button" on:click=move |_| editing.update(|e| *e = !*e)>"Rename"</button>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <button class="btn btn-danger" type="button" on:click=move |_| confirming.set(true)>"Delete"</button>
                    }
                >
                    <ActionForm action=delete>
                        <input type="hidden" name="project_id" value=id.get_value() />
                        <button class="btn btn-danger" type="submit">"Confirm delete"</button>
                    </ActionForm>
                </Show>
            </Show>
        </li>
    }
}

fn project_param() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("project").unwrap_or_default())
}

/// The project in the address, as the signed-in person sees it (with their role), or `None`
/// when they cannot reach it. Derived from the frame's `Me`, so switching projects needs no
/// round trip and the page never shows a project the person cannot use.
pub(crate) fn current_project() -> (Memo<String>, Memo<Option<Project>>) {
    let me = expect_context::<Me>();
    let id = project_param();
    let project = Memo::new(move |_| me.projects.iter().find(|p| p.id == id.get()).cloned());
    (id, project)
}

/// Everything under `/p/:project`: only for a project the person can reach.
#[component]
pub fn ProjectFrame() -> impl IntoView {
    let (_, project) = current_project();
    view! {
        <Show
            when=move || project.get().is_some()
            fallback=|| view! {
                <Title text="Project not found" />
                <div class="mx-auto max-w-5xl px-4 py-8">
                    <div class="alert-error" role="alert">"Project not found. It may have been deleted, or you have no access to it."</div>
                </div>
            }
        >
            <Outlet />
        </Show>
    }
}

/// A project's settings: its name and the Members and API Keys tabs.
#[component]
pub fn SettingsLayout() -> impl IntoView {
    let (project_id, project) = current_project();
    let base = move || format!("/p/{}/settings", project_id.get());
    view! {
        <div class="mx-auto max-w-5xl px-4 py-8">
            <Title text=move || project.get().map(|p| format!("{} settings", p.name)).unwrap_or_default() />
            <div class="mb-6">
                <p class="text-sm text-slate-500">"Project"</p>
                <h1 class="text-2xl font-semibold" data-testid="project-name">{move || project.get().map(|p| p.name)}</h1>
            </div>
            <nav class="mb-6 flex gap-1 overflow-x-auto border-b border-slate-200 dark:border-slate-800" aria-label="Project settings">
                <A href=move || format!("{}/members", base()) attr:class="tab">"Members"</A>
                <A href=move || format!("{}/api-keys", base()) attr:class="tab">"API Keys"</A>
                <A href=move || format!("{}/model", base()) attr:class="tab">"Model"</A>
                <A href=move || format!("{}/mcp", base()) attr:class="tab">"MCP Servers"</A>
                <A href=move || format!("{}/policies", base()) attr:class="tab">"Policies"</A>
                <A href=move || format!("{}/prompts", base()) attr:class="tab">"Prompts"</A>
                <A href=move || format!("{}/skills", base()) attr:class="tab">"Skills"</A>
                <A href=move || format!("{}/subagents", base()) attr:class="tab">"Subagents"</A>
                <A href=move || format!("{}/widget", base()) attr:class="tab">"Widget"</A>
                <A href=move || format!("{}/schedules", base()) attr:class="tab">"Schedules"</A>
                <A href=move || format!("{}/config", base()) attr:class="tab">"Configuration"</A>
                <A href=move || format!("{}/network", base()) attr:class="tab">"Network"</A>
                // The audit log, usage and budgets are for project admins only.
                {move || project.get().is_some_and(|p| p.role == Role::Admin).then(|| view! {
                    <A href=move || format!("{}/audit", base()) attr:class="tab">"Audit"</A>
                    <A href=move || format!("{}/usage", base()) attr:class="tab">"Usage"</A>
                })}
            </nav>
            <Outlet />
        </div>
    }
}

#[component]
pub fn SettingsIndex() -> impl IntoView {
    let project_id = project_param();
    view! { <Redirect path=format!("/p/{}/settings/members", project_id.get_untracked()) /> }
}

#[component]
pub fn MembersTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let add = ServerAction::<AddProjectMember>::new();
    let set_role = ServerAction::<SetProjectRole>::new();
    let remove = ServerAction::<RemoveProjectMember>::new();
    let members = Resource::new(
        move || {
            (
                project_id.get(),
                add.version().get(),
                set_role.version().get(),
                remove.version().get(),
            )
        },
        |(id, ..)| get_project_members(id),
    );
    let org_members = Resource::new(move || add.version().get(), |_| get_org_members());
    let added = Signal::derive(move || add.value().get());
    let role_changed = Signal::derive(move || set_role.value().get());
    let removed = Signal::derive(move || remove.value().get());
    view! {
        <section aria-labelledby="members-title">
            <h2 id="members-title" class="sr-only">"Members"</h2>
            <FormError result=role_changed />
            <FormError result=removed />
            <Transition fallback=Loading>
                {move || {
                    let pid = project_id.get();
                    let is_admin = is_admin();
                    Suspend::new(async move {
                        match members.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) => view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Person"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|m| {
                                            let pid = pid.clone();
                                            let pid2 = pid.clone();
                                            let uid = m.user_id.clone();
                                            let uid2 = m.user_id.clone();
                                            let editable = is_admin && !m.implicit;
                                            view! {
                                                <tr>
                                                    <td><span class="font-medium">{m.username.clone()}</span> " " <span class="text-slate-500">{m.name.clone()}</span></td>
                                                    <td>{m.email.clone()}</td>
                                                    <td>
                                                        {if editable {
                                                            view! {
                                                                <select class="input w-auto" aria-label=format!("Role of {}", m.username)
                                                                    on:change=move |ev| {
                                                                        let role = if event_target_value(&ev) == "admin" { Role::Admin } else { Role::Member };
                                                                        set_role.dispatch(SetProjectRole { project_id: pid.clone(), user_id: uid.clone(), role });
                                                                    }>
                                                                    <option value="member" selected=m.role == Role::Member>"Member"</option>
                                                                    <option value="admin" selected=m.role == Role::Admin>"Admin"</option>
                                                                </select>
                                                            }.into_any()
                                                        } else {
                                                            view! {
                                                                <span class="badge">{m.role.label()}</span>
                                                                {m.implicit.then(|| view! { <span class="ml-2 text-xs text-slate-500">"organization admin"</span> })}
                                                            }.into_any()
                                                        }}
                                                    </td>
                                                    <td class="text-right">
                                                        {editable.then(|| view! {
                                                            <button class="btn btn-danger" type="button"
                                                                on:click=move |_| { remove.dispatch(RemoveProjectMember { project_id: pid2.clone(), user_id: uid2.clone() }); }>
                                                                "Remove"
                                                            </button>
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
        </section>
        <Show when=is_admin>
            <section class="card mt-6" aria-labelledby="add-member">
                <h2 id="add-member" class="mb-3 font-semibold">"Add a member"</h2>
                <Transition fallback=Loading>
                    {
                        move || {
                            let project_id = project_id.get();
                            Suspend::new(async move {
                                let in_project: Vec<String> = members
                                    .await
                                    .map(|l| l.into_iter().map(|m| m.user_id).collect())
                                    .unwrap_or_default();
                                let candidates: Vec<_> = org_members
                                    .await
                                    .unwrap_or_default()
                                    .into_iter()
                                    .filter(|m| !in_project.contains(&m.user_id))
                                    .collect();
                                if candidates.is_empty() {
                                    return view! {
                                        <p class="text-sm text-slate-600 dark:text-slate-400">
                                            "Everyone in the organization can already use this project. "
                                            <a class="link" href="/org">"Invite people"</a> " to add more."
                                        </p>
                                    }.into_any();
                                }
                                view! {
                                    <ActionForm action=add attr:class="flex flex-wrap items-end gap-3">
                                        <input type="hidden" name="project_id" value=project_id />
                                        <div>
                                            <label class="label" for="member-person">"Person"</label>
                                            <select class="input" id="member-person" name="user_id" required>
                                                {candidates.into_iter().map(|m| view! {
                                                    <option value=m.user_id.clone()>{m.username.clone()}</option>
                                                }).collect_view()}
                                            </select>
                                        </div>
                                        <div>
                                            <label class="label" for="member-role">"Role"</label>
                                            <select class="input" id="member-role" name="role">
                                                <option value="member">"Member"</option>
                                                <option value="admin">"Admin"</option>
                                            </select>
                                        </div>
                                        <button class="btn btn-primary" type="submit">"Add member"</button>
                                    </ActionForm>
                                    <FieldError result=added field="userId" />
                                    <FormError result=added />
                                }.into_any()
                            })
                        }
                    }
                </Transition>
            </section>
        </Show>
    }
}

#[component]
pub fn ApiKeysTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let me = expect_context::<Me>();
    let my_id = me.user.map(|u| u.id).unwrap_or_default();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || {
            (
                project_id.get(),
                create.version().get(),
                revoke.version().get(),
            )
        },
        |(id, ..)| get_api_keys(id),
    );
    let created = Signal::derive(move || create.value().get());
    let revoked = Signal::derive(move || revoke.value().get());
    let new_key = move || created.get().and_then(|r| r.ok());
    view! {
        <section class="card mb-6" aria-labelledby="new-key">
            <h2 id="new-key" class="mb-3 font-semibold">"Create an API key"</h2>
            <ActionForm action=create attr:class="flex flex-wrap items-end gap-3">
                <input type="hidden" name="project_id" value=move || project_id.get() />
                <div class="grow">
                    <label class="label" for="key-name">"Key name"</label>
                    <input class="input" id="key-name" name="name" required maxlength="100" placeholder="e.g. CI pipeline" />
                    <FieldError result=created field="name" />
                </div>
                <div>
                    <label class="label" for="key-expires">"Expires"</label>
                    <input class="input" id="key-expires" name="expires" type="date" aria-describedby="expires-help" />
                    <FieldError result=created field="expires" />
                </div>
                <button class="btn btn-primary" type="submit">"Create key"</button>
            </ActionForm>
            <p id="expires-help" class="mt-2 text-xs text-slate-500">"Leave the date empty for a key that does not expire."</p>
            <FormError result=created />
            {move || new_key().map(|k| view! {
                <div class="mt-4 rounded-md border border-emerald-300 bg-emerald-50 p-4 dark:border-emerald-800 dark:bg-emerald-950" role="status">
                    <p class="mb-2 text-sm font-medium">"Copy this key now. It will not be shown again."</p>
                    <code class="block select-all break-all rounded bg-white p-2 font-mono text-sm dark:bg-slate-900" data-testid="new-api-key">{k.key}</code>
                </div>
            })}
        </section>
        <FormError result=revoked />
        <Transition fallback=Loading>
            {move || {
                let pid = project_id.get();
                let my_id = my_id.clone();
                let is_admin = is_admin();
                Suspend::new(async move {
                    match keys.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="card text-slate-600 dark:text-slate-400">"No API keys yet. Create one to call the Task API from your programs."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="api-keys">
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Created by"</th>
                                    <th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Expires"</th>
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|k| {
                                        let can_revoke = is_admin || k.created_by.id == my_id;
                                        let pid = pid.clone();
                                        let kid = k.id.clone();
                                        view! {
                                            <tr>
                                                <td class="font-medium">{k.name.clone()}</td>
                                                <td><code class="font-mono text-xs">{format!("{}…", k.prefix)}</code></td>
                                                <td>{k.created_by.username.clone()}</td>
                                                <td>{short_date(&k.created_at)}</td>
                                                <td>{k.last_used_at.as_deref().map(short_date).unwrap_or_else(|| "never".to_owned())}</td>
                                                <td>{k.expires_at.as_deref().map(short_date).unwrap_or_else(|| "never".to_owned())}</td>
                                                <td class="text-right">
                                                    {can_revoke.then(|| view! {
                                                        <button class="btn btn-danger" type="button" aria-label=format!("Revoke {}", k.name)
                                                            on:click=move |_| { revoke.dispatch(RevokeApiKey { project_id: pid.clone(), key_id: kid.clone() }); }>
                                                            "Revoke"
                                                        </button>
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
    }
}
