//! The signed-in frame: the top bar and the check that someone is signed in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, Redirect};
use leptos_router::hooks::use_location;
use protocol::{Me, Role};

use crate::api::{Logout, get_me};
use crate::components::{Icon, LoadError, Loading, Svg};
use crate::error::{ErrorCode, ServerError};

/// The signed-in person, for every page inside the frame.
pub type MeResource = Resource<Result<Me, ServerError>>;

#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let me: MeResource = Resource::new(|| (), |_| get_me());
    provide_context(me);
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(me) => {
                        provide_context(me.clone());
                        let frame = page_frame();
                        view! {
                            <div class=move || frame.get().outer()>
                                <TopBar me />
                                <main class=move || frame.get().main()>
                                    <Outlet />
                                </main>
                            </div>
                        }.into_any()
                    }
                    Err(e) if e.code == ErrorCode::AuthRequired => {
                        view! { <Redirect path="/login" /> }.into_any()
                    }
                    Err(e) => view! {
                        <main class="mx-auto max-w-5xl px-4 py-8"><LoadError error=e /></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// How a page sits in the frame: the Chat UI fills the window below the top bar (its panes
/// scroll on their own); a project's settings lay out their own column; the rest are a
/// centred column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Chat,
    Project,
    Console,
}

impl Frame {
    fn outer(self) -> &'static str {
        match self {
            Self::Chat => "flex h-dvh flex-col",
            Self::Project | Self::Console => "",
        }
    }

    fn main(self) -> &'static str {
        match self {
            Self::Chat => "min-h-0 flex-1",
            Self::Project => "",
            Self::Console => "mx-auto max-w-5xl px-4 py-8",
        }
    }
}

fn page_frame() -> Memo<Frame> {
    let location = use_location();
    Memo::new(move |_| {
        let path = location.pathname.get();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["p", _] | ["p", _, "c", _] => Frame::Chat,
            ["p", ..] => Frame::Project,
            _ => Frame::Console,
        }
    })
}

/// The project in the address, if the page belongs to one.
pub fn current_project_id() -> Memo<Option<String>> {
    let location = use_location();
    Memo::new(move |_| {
        let path = location.pathname.get();
        let mut parts = path.trim_start_matches('/').split('/');
        match (parts.next(), parts.next()) {
            (Some("p"), Some(id)) if !id.is_empty() => Some(id.to_owned()),
            _ => None,
        }
    })
}

#[component]
fn TopBar(me: Me) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let current = current_project_id();
    let projects = me.projects.clone();
    let current_name = {
        let projects = projects.clone();
        move || {
            current
                .get()
                .and_then(|id| projects.iter().find(|p| p.id == id).map(|p| p.name.clone()))
                .unwrap_or_else(|| "Choose a project".to_owned())
        }
    };
    let org_name = me
        .organization
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_else(|| "No organization".to_owned());
    let username = me
        .user
        .as_ref()
        .map(|u| u.username.clone())
        .unwrap_or_default();
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <nav class="flex flex-wrap items-center gap-x-4 gap-y-2 px-4 py-2" aria-label="Main">
                <a href="/" class="text-lg font-semibold tracking-tight">"Sigmic"</a>
                <span class="text-slate-400" aria-hidden="true">"/"</span>
                <a href="/org" class="font-medium hover:underline max-md:hidden" data-testid="org-name" title="Organization">{org_name}</a>
                <span class="text-slate-400 max-md:hidden" aria-hidden="true">"/"</span>
                <details class="relative">
                    <summary class="btn cursor-pointer list-none" data-testid="project-switcher" aria-label="Switch project">
                        {current_name} " ▾"
                    </summary>
                    <ul class="absolute z-10 mt-1 min-w-56 rounded-md border border-slate-200 bg-white py-1 shadow-lg dark:border-slate-700 dark:bg-slate-900">
                        {projects.iter().map(|p| {
                            let href = format!("/p/{}", p.id);
                            view! {
                                <li><a class="block px-3 py-2 hover:bg-slate-100 dark:hover:bg-slate-800" href=href>{p.name.clone()}</a></li>
                            }
                        }).collect_view()}
                        <li class="border-t border-slate-200 dark:border-slate-700">
                            <a class="block px-3 py-2 text-sm text-slate-600 hover:bg-slate-100 dark:text-slate-400 dark:hover:bg-slate-800" href="/projects">"All projects"</a>
                        </li>
                    </ul>
                </details>
                // On a phone the links fold into a menu, so the page keeps the screen.
                <details class="relative ml-auto md:hidden">
                    <summary class="btn cursor-pointer list-none" aria-label="Menu"><Svg icon=Icon::Menu /></summary>
                    <div class="absolute right-0 z-40 mt-1 flex min-w-48 flex-col rounded-md border border-slate-200 bg-white py-1 shadow-lg dark:border-slate-700 dark:bg-slate-900">
                        {move || current.get().map(|id| view! {
                            <a href=format!("/p/{id}") class="px-3 py-2 text-sm">"Chat"</a>
                            <a href=format!("/p/{id}/settings") class="px-3 py-2 text-sm">"Settings"</a>
                        })}
                        <a href="/projects" class="px-3 py-2 text-sm">"Projects"</a>
                        <a href="/org" class="px-3 py-2 text-sm">"Organization"</a>
                        <a href="/api/docs" class="px-3 py-2 text-sm">"API"</a>
                        <span class="border-t border-slate-200 px-3 py-2 text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">{username.clone()}</span>
                        <ActionForm action=logout attr:class="px-3 pb-2">
                            <button class="btn w-full" type="submit">"Log out"</button>
                        </ActionForm>
                    </div>
                </details>
                <div class="ml-auto flex flex-wrap items-center gap-x-4 gap-y-1 max-md:hidden">
                    {move || current.get().map(|id| view! {
                        <a href=format!("/p/{id}") class="text-sm hover:underline">"Chat"</a>
                        <a href=format!("/p/{id}/settings") class="text-sm hover:underline">"Settings"</a>
                    })}
                    <a href="/projects" class="text-sm hover:underline">"Projects"</a>
                    <a href="/org" class="text-sm hover:underline">"Organization"</a>
                    <a href="/api/docs" class="text-sm hover:underline">"API"</a>
                    <span class="text-sm text-slate-600 dark:text-slate-400" data-testid="user-name">{username}</span>
                    <ActionForm action=logout>
                        <button class="btn" type="submit">"Log out"</button>
                    </ActionForm>
                </div>
            </nav>
        </header>
    }
}

/// `/`: open the first project, or say why there is none.
#[component]
pub fn Home() -> impl IntoView {
    let me = expect_context::<Me>();
    match me.projects.first() {
        Some(p) => view! { <Redirect path=format!("/p/{}", p.id) /> }.into_any(),
        None => view! { <NoProjectAccess me /> }.into_any(),
    }
}

#[component]
fn NoProjectAccess(me: Me) -> impl IntoView {
    let is_admin = me.role == Some(Role::Admin);
    let in_org = me.organization.is_some();
    view! {
        <Title text="No Project Access" />
        <section class="card mx-auto max-w-xl text-center">
            <h1 class="mb-2 text-xl font-semibold">"No Project Access"</h1>
            {if !in_org {
                view! { <p class="text-slate-600 dark:text-slate-400">"You are not a member of any organization. Ask an admin to invite you."</p> }.into_any()
            } else if is_admin {
                view! {
                    <p class="text-slate-600 dark:text-slate-400">"Your organization has no projects yet."</p>
                    <a class="btn btn-primary mt-4" href="/projects">"Create a project"</a>
                }.into_any()
            } else {
                view! { <p class="text-slate-600 dark:text-slate-400">"You have not been added to any project yet. Ask an admin of your organization to add you to one."</p> }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <main class="mx-auto max-w-xl px-4 py-24 text-center">
            <h1 class="mb-2 text-2xl font-semibold">"Page not found"</h1>
            <p class="text-slate-600 dark:text-slate-400">"There is nothing at this address, or you cannot see it."</p>
            <a class="btn btn-primary mt-6" href="/">"Go to your projects"</a>
        </main>
    }
}
