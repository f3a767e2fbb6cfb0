//! The public REST API under `/api`. Handlers are thin: parse, call a service, answer.
//! Routes and their OpenAPI descriptions are registered together, so the document cannot
//! forget an endpoint.

mod audit;
mod auth;
mod conversations;
mod errors_doc;
mod health;
mod keys;
mod mcp_servers;
mod model_providers;
mod org;
mod policies;
mod project_config;
mod projects;
mod prompts;
mod schedules;
mod skills;
mod tasks;
mod usage;
mod widget;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sigmic API",
        description = "Run AI agents for your organization. Every answer is an envelope: \
            `{\"success\": true, \"data\": …}` or `{\"success\": false, \"error\": {\"code\", \"message\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "Who is calling"),
        (name = "organization", description = "The organization, its members and invitations"),
        (name = "models", description = "(extension) The model providers an organization connects (keys encrypted, never returned), and the models a project can use"),
        (name = "projects", description = "Projects and their members"),
        (name = "api-keys", description = "API keys of a project"),
        (name = "mcp-servers", description = "(extension) A project's MCP servers: what its agent can reach"),
        (name = "tool-policies", description = "(extension) A project's tool policy: which calls run, ask a person, or never run"),
        (name = "prompts", description = "(extension) A project's prompts, added to every task's system prompt"),
        (name = "audit", description = "(extension) A project's audit log of tool call decisions"),
        (name = "skills", description = "(extension) A project's skills: folders of instructions and files its agent opens when a task calls for them"),
        (name = "subagents", description = "(extension) The built-in subagents a project offers its agent"),
        (name = "widget", description = "The embeddable widget: the token exchange for a customer's backend, the widget's session, and (extension) a project's widget apps"),
        (name = "schedules", description = "(extension) A project's scheduled tasks, and the secrets its runs read"),
        (name = "config", description = "(extension) A project's whole configuration as one document: export, and import into another project"),
        (name = "usage", description = "(extension) A project's usage per day, API key and model, and its monthly budgets in US dollars (the project's, each API key's, each widget end user's)"),
        (name = "health", description = "Liveness, readiness and this document"),
        (name = "tasks", description = "Tasks: create, stream, follow up, approve, cancel, files"),
        (name = "conversations", description = "(extension) The caller's own tasks as the Chat UI history shows them: list and search, rename, delete"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key `sigmic_…` (or a widget token `eyJ…`)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::services::access::SESSION_COOKIE,
            ))),
        );
    }
}

/// The finished OpenAPI document: the routes' own descriptions and the errors every
/// operation shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = router().split_for_parts();
    errors_doc::add_standard_errors(&mut doc);
    doc
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::openapi_json))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::invitation_preview))
        .routes(routes!(auth::me))
        .routes(routes!(org::get_org, org::rename_org))
        .routes(routes!(org::list_members))
        .routes(routes!(org::set_member_role, org::remove_member))
        .routes(routes!(org::list_invitations, org::create_invitation))
        .routes(routes!(org::revoke_invitation))
        .routes(routes!(model_providers::list, model_providers::create))
        .routes(routes!(model_providers::update, model_providers::delete))
        .routes(routes!(model_providers::test))
        .routes(routes!(model_providers::project_models))
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::rename, projects::delete))
        .routes(routes!(projects::list_members, projects::add_member))
        .routes(routes!(projects::set_member_role, projects::remove_member))
        .routes(routes!(projects::get_settings, projects::put_settings))
        .routes(routes!(mcp_servers::list, mcp_servers::create))
        .routes(routes!(mcp_servers::import))
        .routes(routes!(mcp_servers::export))
        .routes(routes!(mcp_servers::test))
        .routes(routes!(
            mcp_servers::get,
            mcp_servers::replace,
            mcp_servers::delete
        ))
        .routes(routes!(policies::list, policies::create))
        .routes(routes!(policies::check))
        .routes(routes!(policies::get, policies::replace, policies::delete))
        .routes(routes!(prompts::list, prompts::create))
        .routes(routes!(prompts::get, prompts::replace, prompts::delete))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export))
        .routes(routes!(
            project_config::subagents,
            project_config::set_subagents
        ))
        .merge(upload_routes())
        .routes(routes!(widget::exchange))
        .routes(routes!(widget::session))
        .routes(routes!(widget::list, widget::create))
        .routes(routes!(widget::get, widget::update, widget::delete))
        .routes(routes!(widget::rotate))
        .routes(routes!(schedules::list, schedules::create))
        .routes(routes!(schedules::preview))
        .routes(routes!(
            schedules::get,
            schedules::update,
            schedules::delete
        ))
        .routes(routes!(schedules::run))
        .routes(routes!(schedules::runs))
        .routes(routes!(schedules::delete_file))
        .routes(routes!(schedules::list_secrets))
        .routes(routes!(schedules::set_secret, schedules::delete_secret))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(keys::create_legacy))
        .routes(routes!(usage::usage))
        .routes(routes!(usage::get_budget, usage::put_budget))
        .routes(routes!(usage::get_key_budget, usage::put_key_budget))
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::rename, conversations::delete))
        .merge(task_routes())
}

/// Creating a task and following one up take uploads: up to `max_files` of `max_file_bytes`
/// each, so the default 2 MB body limit is lifted for those two and their reader bounds the
/// body itself (`TaskForm`), counting each file as it streams. Every other route keeps it.
/// Skills and configuration documents carry files: a larger body than the default.
fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(skills::list, skills::create))
        .routes(routes!(
            skills::get,
            skills::replace,
            skills::toggle,
            skills::delete
        ))
        .layer(axum::extract::DefaultBodyLimit::max(skills::BODY_LIMIT))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(project_config::export, project_config::import))
                .layer(axum::extract::DefaultBodyLimit::max(
                    project_config::BODY_LIMIT,
                )),
        )
}

fn task_routes() -> OpenApiRouter<AppState> {
    // A schedule's files are bounded per file as they stream, like a task's.
    let schedule_files = OpenApiRouter::new()
        .routes(routes!(schedules::add_files))
        .layer(axum::extract::DefaultBodyLimit::disable());
    let uploads = OpenApiRouter::new()
        .routes(routes!(tasks::create, tasks::list))
        .routes(routes!(tasks::follow_up))
        .layer(axum::extract::DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(tasks::get, tasks::cancel))
        .routes(routes!(tasks::history))
        .routes(routes!(tasks::stream))
        .routes(routes!(tasks::approve))
        .routes(routes!(tasks::artifacts))
        .routes(routes!(tasks::download))
        .merge(uploads)
        .merge(schedule_files)
}
