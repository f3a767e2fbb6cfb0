//! (extension) A project's MCP servers: `/api/v1/projects/{projectId}/mcp-servers`.

use axum::extract::State;

use crate::http::extract::{ApiJson, OptionalJson, Path};
use crate::http::{ApiResult, AppState, Data, Done, Envelope, ErrorEnvelope};
use crate::services::access::Caller;
use protocol as dto;

/// (extension) A project's MCP servers; header and env values are masked for all but project
/// admins.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/mcp-servers", tag = "mcp-servers",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "Servers by name", body = Envelope<Vec<dto::McpServer>>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Vec<dto::McpServer>> {
    Ok(Data(
        state.services.mcp_servers(&caller, &project_id).await?,
    ))
}

/// (extension) Add an MCP server (project admins).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/mcp-servers", tag = "mcp-servers",
    security(("session" = [])), request_body = dto::McpServerInput,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The server", body = Envelope<dto::McpServer>),
        (status = 400, description = "VALIDATION_ERROR, naming the field (a taken name is `name`)", body = ErrorEnvelope),
        (status = 403, description = "FORBIDDEN: not a project admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::McpServerInput>,
) -> ApiResult<dto::McpServer> {
    Ok(Data(
        state
            .services
            .create_mcp_server(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) One MCP server.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/mcp-servers/{name}", tag = "mcp-servers",
    security(("bearer" = []), ("apiKey" = []), ("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The server's name"),
    ),
    responses(
        (status = 200, description = "The server", body = Envelope<dto::McpServer>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
) -> ApiResult<dto::McpServer> {
    Ok(Data(
        state
            .services
            .mcp_server(&caller, &project_id, &name)
            .await?,
    ))
}

/// (extension) Replace an MCP server's configuration (project admins); a `name` in the body
/// renames it.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/mcp-servers/{name}", tag = "mcp-servers",
    security(("session" = [])), request_body = dto::McpServerInput,
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The server's name"),
    ),
    responses(
        (status = 200, description = "The server", body = Envelope<dto::McpServer>),
        (status = 400, description = "VALIDATION_ERROR, naming the field", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<dto::McpServerInput>,
) -> ApiResult<dto::McpServer> {
    Ok(Data(
        state
            .services
            .replace_mcp_server(&caller, &project_id, &name, body)
            .await?,
    ))
}

/// (extension) Remove an MCP server (project admins).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/mcp-servers/{name}", tag = "mcp-servers",
    security(("session" = [])),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The server's name"),
    ),
    responses(
        (status = 200, description = "Removed", body = Envelope<Done>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
) -> ApiResult<Done> {
    state
        .services
        .delete_mcp_server(&caller, &project_id, &name)
        .await?;
    Ok(Data(Done::removed()))
}

/// (extension) Add or replace every server of a `{"mcpServers": {…}}` document, as Claude
/// Desktop, Cursor and VS Code write it (project admins). All or nothing.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/mcp-servers/import", tag = "mcp-servers",
    security(("session" = [])), request_body = dto::McpServersDocument,
    params(("projectId" = String, Path, description = "The project id")),
    responses(
        (status = 200, description = "The servers written", body = Envelope<Vec<dto::McpServer>>),
        (status = 400, description = "VALIDATION_ERROR, naming `mcpServers.<name>.<field>`", body = ErrorEnvelope),
    ))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    ApiJson(body): ApiJson<dto::McpServersDocument>,
) -> ApiResult<Vec<dto::McpServer>> {
    Ok(Data(
        state
            .services
            .import_mcp_servers(&caller, &project_id, body)
            .await?,
    ))
}

/// (extension) The project's servers as a `{"mcpServers": {…}}` document, values included
/// (project admins).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/mcp-servers/export", tag = "mcp-servers",
    security(("session" = [])),
    params(("projectId" = String, Path, description = "The project id")),
    responses((status = 200, description = "The document", body = Envelope<dto::McpServersDocument>)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<dto::McpServersDocument> {
    Ok(Data(
        state
            .services
            .export_mcp_servers(&caller, &project_id)
            .await?,
    ))
}

/// (extension) Connect to an MCP server now and list its tools, or say exactly why it
/// could not (project admins). The body's optional `env` and `secrets` fill `{{mcp.KEY}}`
/// for this test only.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/mcp-servers/{name}/test", tag = "mcp-servers",
    security(("session" = [])), request_body(content = Option<dto::McpTestRequest>),
    params(
        ("projectId" = String, Path, description = "The project id"),
        ("name" = String, Path, description = "The server's name"),
    ),
    responses(
        (status = 200, description = "What the connection found (`ok: false` with the reason when it failed)", body = Envelope<dto::McpTestResult>),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
    ))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, name)): Path<(String, String)>,
    OptionalJson(request): OptionalJson<dto::McpTestRequest>,
) -> ApiResult<dto::McpTestResult> {
    Ok(Data(
        state
            .services
            .test_mcp_server(&caller, &project_id, &name, request)
            .await?,
    ))
}
