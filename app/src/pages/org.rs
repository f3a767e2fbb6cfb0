//! The organization: name, members and roles, invitations.

use leptos::prelude::*;
use leptos_meta::Title;
use protocol::{Me, Role};

use crate::api::{
    Invite, RemoveOrgMember, RenameOrganization, RevokeInvitation, SetOrgRole, get_invitations,
    get_org_members, get_organization,
};
use crate::components::{FieldError, FormError, LoadError, Loading, short_date};
use crate::pages::layout::MeResource;

#[component]
pub fn OrgPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let me_resource = expect_context::<MeResource>();
    let is_admin = me.role == Some(Role::Admin);
    let my_id = me.user.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let rename = ServerAction::<RenameOrganization>::new();
    let set_role = ServerAction::<SetOrgRole>::new();
    let remove = ServerAction::<RemoveOrgMember>::new();
    let invite = ServerAction::<Invite>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();

    let org = Resource::new(move || rename.version().get(), |_| get_organization());
    let members = Resource::new(
        move || (set_role.version().get(), remove.version().get()),
        |_| get_org_members(),
    );
    let invitations = Resource::new(
        move || (invite.version().get(), revoke.version().get()),
        move |_| async move {
            if is_admin {
                get_invitations().await
            } else {
                Ok(Vec::new())
            }
        },
    );
    Effect::new(move |prev: Option<(usize, usize)>| {
        let now = (rename.version().get(), set_role.version().get());
        if prev.is_some_and(|p| p != now) {
            me_resource.refetch();
        }
        now
    });

    let renamed = Signal::derive(move || rename.value().get());
    let role_changed = Signal::derive(move || set_role.value().get());
    let removed = Signal::derive(move || remove.value().get());
    let invited = Signal::derive(move || invite.value().get());
    let new_invitation = move || invited.get().and_then(|r| r.ok());

    view! {
        <Title text="Organization" />
        <h1 class="mb-6 text-2xl font-semibold">"Organization"</h1>
        <section class="card mb-6" aria-labelledby="org-name-title">
            <h2 id="org-name-title" class="mb-3 font-semibold">"Name"</h2>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match org.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(o) if is_admin => view! {
                            <ActionForm action=rename attr:class="flex flex-wrap items-start gap-3">
                                <div class="grow">
                                    <label class="label sr-only" for="org-name-input">"Organization name"</label>
                                    <input class="input" id="org-name-input" name="name" value=o.name aria-label="Organization name" required maxlength="200" />
                                    <FieldError result=renamed field="name" />
                                </div>
                                <button class="btn btn-primary" type="submit">"Rename"</button>
                            </ActionForm>
                            <FormError result=renamed />
                        }.into_any(),
                        Ok(o) => view! { <p class="font-medium">{o.name}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>

        <section class="card mb-6 flex flex-wrap items-center justify-between gap-3" aria-labelledby="org-models-title">
            <div>
                <h2 id="org-models-title" class="font-semibold">"Model providers"</h2>
                <p class="text-sm text-slate-600 dark:text-slate-400">"Anthropic, OpenAI-compatible servers and Gemini: where the projects' models come from."</p>
            </div>
            <a class="btn" href="/org/models">{if is_admin { "Manage model providers" } else { "Model providers" }}</a>
        </section>

        <section class="mb-6" aria-labelledby="org-members-title">
            <h2 id="org-members-title" class="mb-3 text-lg font-semibold">"Members"</h2>
            <FormError result=role_changed />
            <FieldError result=role_changed field="role" />
            <FormError result=removed />
            <FieldError result=removed field="role" />
            <Transition fallback=Loading>
                {move || {
                    let my_id = my_id.clone();
                    Suspend::new(async move {
                        match members.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) => view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Person"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|m| {
                                            let uid = m.user_id.clone();
                                            let uid2 = m.user_id.clone();
                                            let me_row = m.user_id == my_id;
                                            let confirming = RwSignal::new(false);
                                            view! {
                                                <tr>
                                                    <td><span class="font-medium">{m.username.clone()}</span> " " <span class="text-slate-500">{m.name.clone()}</span>
                                                        {me_row.then(|| view! { <span class="ml-2 text-xs text-slate-500">"(you)"</span> })}
                                                    </td>
                                                    <td>{m.email.clone()}</td>
                                                    <td>
                                                        {if is_admin {
                                                            view! {
                                                                <select class="input w-auto" aria-label=format!("Role of {}", m.username)
                                                                    on:change=move |ev| {
                                                                        let role = if event_target_value(&ev) == "admin" { Role::Admin } else { Role::Member };
                                                                        set_role.dispatch(SetOrgRole { user_id: uid.clone(), role });
                                                                    }>
                                                                    <option value="member" selected=m.role == Role::Member>"Member"</option>
                                                                    <option value="admin" selected=m.role == Role::Admin>"Admin"</option>
                                                                </select>
                                                            }.into_any()
                                                        } else {
                                                            view! { <span class="badge">{m.role.label()}</span> }.into_any()
                                                        }}
                                                    </td>
                                                    <td>{short_date(&m.joined_at)}</td>
                                                    <td class="text-right">
                                                        {is_admin.then(|| view! {
                                                            <Show
                                                                when=move || confirming.get()
                                                                fallback=move || view! {
                                                                    <button class="btn btn-danger" type="button" on:click=move |_| confirming.set(true)>"Remove"</button>
                                                                }
                                                            >
                                                                {
                                                                    let uid2 = uid2.clone();
                                                                    view! {
                                                                        <button class="btn btn-danger" type="button"
                                                                            on:click=move |_| { remove.dispatch(RemoveOrgMember { user_id: uid2.clone() }); }>
                                                                            "Confirm remove"
                                                                        </button>
                                                                    }
                                                                }
                                                            </Show>
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

        <Show when=move || is_admin>
            <section class="card" aria-labelledby="invite-title">
                <h2 id="invite-title" class="mb-3 font-semibold">"Invite people"</h2>
                <ActionForm action=invite attr:class="flex flex-wrap items-end gap-3">
                    <div class="grow">
                        <label class="label" for="invite-email">"Invite email"</label>
                        <input class="input" id="invite-email" name="email" type="email" required />
                        <FieldError result=invited field="email" />
                    </div>
                    <div>
                        <label class="label" for="invite-role">"Role"</label>
                        <select class="input" id="invite-role" name="role">
                            <option value="member">"Member"</option>
                            <option value="admin">"Admin"</option>
                        </select>
                    </div>
                    <button class="btn btn-primary" type="submit">"Send invitation"</button>
                </ActionForm>
                <FormError result=invited />
                {move || new_invitation().map(|inv| view! {
                    <div class="mt-4 rounded-md border border-emerald-300 bg-emerald-50 p-4 dark:border-emerald-800 dark:bg-emerald-950" role="status">
                        <p class="mb-2 text-sm font-medium">
                            {if inv.email_sent { format!("Invitation emailed to {}. You can also share this link; it works once, until {}.", inv.email, short_date(&inv.expires_at)) }
                             else { format!("Share this link with {}. It works once, until {}.", inv.email, short_date(&inv.expires_at)) }}
                        </p>
                        <code class="block select-all break-all rounded bg-white p-2 font-mono text-sm dark:bg-slate-900" data-testid="invitation-link">{inv.link}</code>
                    </div>
                })}
                <h3 class="mb-2 mt-6 text-sm font-semibold">"Pending invitations"</h3>
                <Transition fallback=Loading>
                    {move || Suspend::new(async move {
                        match invitations.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! { <p class="text-sm text-slate-500">"None."</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="divide-y divide-slate-200 dark:divide-slate-800">
                                    {list.into_iter().map(|i| {
                                        let id = i.id.clone();
                                        view! {
                                            <li class="flex items-center gap-3 py-2 text-sm">
                                                <span class="grow">{i.email.clone()}</span>
                                                <span class="badge">{i.role.label()}</span>
                                                <span class="text-slate-500">{format!("expires {}", short_date(&i.expires_at))}</span>
                                                <button class="btn" type="button" on:click=move |_| { revoke.dispatch(RevokeInvitation { id: id.clone() }); }>"Withdraw"</button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </Show>
    }
}
