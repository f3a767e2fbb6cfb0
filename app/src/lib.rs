//! The Sigmic web application: the Console's pages, shared by server rendering and the
//! browser. It knows nothing of the database; the server reaches it through `backend`.
// The Chat UI's views are deeply nested types; release builds need more room to lay them out.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
mod components;
pub mod error;
mod pages;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, Link, MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use pages::{
    audit, auth, chat as chat_page, docs, layout, mcp, models, network, org, policies,
    project_config, project_model, projects, prompts, schedules, skills, subagents, usage,
    widget_apps,
};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                // The stylesheet, the hydrate script and its WASM carry content hashes in
                // their names in a release build: cached for good, fetched again only when
                // they change.
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Title formatter=|page: String| if page.is_empty() { "Sigmic".to_owned() } else { format!("{page} · Sigmic") } />
        <Router>
            // Console pages render whole before answering (`SsrMode::Async`): their data is
            // small, and it lets a redirect (signed out, `/` → first project) be a real 302.
            <Routes fallback=layout::NotFound>
                <Route path=path!("/login") view=auth::LoginPage />
                <Route path=path!("/signup") view=auth::SignupPage ssr=SsrMode::Async />
                <Route path=path!("/api/docs") view=docs::ApiDocsPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=layout::ConsoleLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=layout::Home ssr=SsrMode::Async />
                    <Route path=path!("/projects") view=projects::ProjectsPage ssr=SsrMode::Async />
                    <Route path=path!("/org") view=org::OrgPage ssr=SsrMode::Async />
                    <Route path=path!("/org/models") view=models::ModelProvidersPage ssr=SsrMode::Async />
                    <ParentRoute path=path!("/p/:project") view=projects::ProjectFrame ssr=SsrMode::Async>
                        <ParentRoute path=path!("/settings") view=projects::SettingsLayout ssr=SsrMode::Async>
                            <Route path=path!("") view=projects::SettingsIndex ssr=SsrMode::Async />
                            <Route path=path!("/members") view=projects::MembersTab ssr=SsrMode::Async />
                            <Route path=path!("/api-keys") view=projects::ApiKeysTab ssr=SsrMode::Async />
                            <Route path=path!("/model") view=project_model::ModelTab ssr=SsrMode::Async />
                            <Route path=path!("/network") view=network::NetworkTab ssr=SsrMode::Async />
                            <Route path=path!("/mcp") view=mcp::McpTab ssr=SsrMode::Async />
                            <Route path=path!("/policies") view=policies::PoliciesTab ssr=SsrMode::Async />
                            <Route path=path!("/prompts") view=prompts::PromptsTab ssr=SsrMode::Async />
                            <Route path=path!("/skills") view=skills::SkillsTab ssr=SsrMode::Async />
                            <Route path=path!("/subagents") view=subagents::SubagentsTab ssr=SsrMode::Async />
                            <Route path=path!("/config") view=project_config::ConfigTab ssr=SsrMode::Async />
                            <Route path=path!("/widget") view=widget_apps::WidgetTab ssr=SsrMode::Async />
                            <Route path=path!("/schedules") view=schedules::SchedulesTab ssr=SsrMode::Async />
                            <Route path=path!("/audit") view=audit::AuditTab ssr=SsrMode::Async />
                            <Route path=path!("/usage") view=usage::UsageTab ssr=SsrMode::Async />
                        </ParentRoute>
                        // The Chat UI: the conversation list stays while the page beside it
                        // changes between a new conversation and the project's ones.
                        <ParentRoute path=path!("") view=chat_page::ChatLayout ssr=SsrMode::Async>
                            <Route path=path!("") view=chat_page::NewChatPage ssr=SsrMode::Async />
                            <Route path=path!("/c/:task") view=chat_page::ConversationPage ssr=SsrMode::Async />
                        </ParentRoute>
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
