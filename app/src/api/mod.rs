//! Server functions: the Console's calls into the server. Each one resolves the caller from
//! the request and calls the same service as the REST API.

use leptos::prelude::*;
use protocol::{self as dto, Role};

use crate::error::ServerError;

mod models;
mod policies;
mod schedules;
mod skills;
mod usage;
mod widget;
pub use models::*;
pub use policies::*;
pub use schedules::*;
pub use skills::*;
pub use usage::*;
pub use widget::*;

#[cfg(feature = "ssr")]
use crate::backend::current;

#[cfg(feature = "ssr")]
fn set_cookie(value: &str) {
    if let (Some(res), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}

#[server(prefix = "/_console")]
pub async fn get_me() -> Result<dto::Me, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.me(&ctx).await?)
}

#[server(prefix = "/_console")]
pub async fn signup(
    email: String,
    username: String,
    name: String,
    password: String,
    invitation_token: Option<String>,
) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    let issued = b
        .signup(
            &ctx,
            dto::input::Signup {
                email,
                username: Some(username).filter(|s| !s.trim().is_empty()),
                name: Some(name).filter(|s| !s.trim().is_empty()),
                password,
                invitation_token: invitation_token.filter(|s| !s.trim().is_empty()),
            },
        )
        .await?;
    set_cookie(&issued.set_cookie);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/_console")]
pub async fn login(email: String, password: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    let issued = b.login(&ctx, dto::input::Login { email, password }).await?;
    set_cookie(&issued.set_cookie);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/_console")]
pub async fn logout() -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    let cookie = b.logout(&ctx).await?;
    set_cookie(&cookie);
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/_console")]
pub async fn get_invitation(token: String) -> Result<dto::InvitationPreview, ServerError> {
    let (b, _) = current()?;
    Ok(b.invitation_preview(token).await?)
}

#[server(prefix = "/_console")]
pub async fn get_organization() -> Result<dto::Organization, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.organization(&ctx).await?)
}

#[server(prefix = "/_console")]
pub async fn rename_organization(name: String) -> Result<dto::Organization, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.rename_organization(&ctx, name).await?)
}

#[server(prefix = "/_console")]
pub async fn get_org_members() -> Result<Vec<dto::OrgMember>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.org_members(&ctx).await?)
}

#[server(prefix = "/_console")]
pub async fn set_org_role(user_id: String, role: Role) -> Result<dto::OrgMember, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.set_org_role(&ctx, user_id, role).await?)
}

#[server(prefix = "/_console")]
pub async fn remove_org_member(user_id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.remove_org_member(&ctx, user_id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_invitations() -> Result<Vec<dto::Invitation>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.invitations(&ctx).await?)
}

#[server(prefix = "/_console")]
pub async fn invite(email: String, role: Role) -> Result<dto::CreatedInvitation, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.invite(
        &ctx,
        dto::input::Invite {
            email,
            role: Some(role),
        },
    )
    .await?)
}

#[server(prefix = "/_console")]
pub async fn revoke_invitation(id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.revoke_invitation(&ctx, id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_projects() -> Result<Vec<dto::Project>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.projects(&ctx).await?)
}

#[server(prefix = "/_console")]
pub async fn create_project(name: String) -> Result<dto::Project, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.create_project(&ctx, name).await?)
}

#[server(prefix = "/_console")]
pub async fn rename_project(project_id: String, name: String) -> Result<dto::Project, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.rename_project(&ctx, project_id, name).await?)
}

#[server(prefix = "/_console")]
pub async fn delete_project(project_id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_project(&ctx, project_id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_project_members(
    project_id: String,
) -> Result<Vec<dto::ProjectMember>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.project_members(&ctx, project_id).await?)
}

#[server(prefix = "/_console")]
pub async fn add_project_member(
    project_id: String,
    user_id: String,
    role: Role,
) -> Result<dto::ProjectMember, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.add_project_member(
        &ctx,
        project_id,
        dto::input::AddProjectMember { user_id, role },
    )
    .await?)
}

#[server(prefix = "/_console")]
pub async fn set_project_role(
    project_id: String,
    user_id: String,
    role: Role,
) -> Result<dto::ProjectMember, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.set_project_role(&ctx, project_id, user_id, role).await?)
}

#[server(prefix = "/_console")]
pub async fn remove_project_member(project_id: String, user_id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.remove_project_member(&ctx, project_id, user_id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_api_keys(project_id: String) -> Result<Vec<dto::ApiKey>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.api_keys(&ctx, project_id).await?)
}

/// `expires` is a date (`YYYY-MM-DD`) from the form; the key works until the end of that day
/// (UTC).
#[server(prefix = "/_console")]
pub async fn create_api_key(
    project_id: String,
    name: String,
    expires: Option<String>,
) -> Result<dto::CreatedApiKey, ServerError> {
    let (b, ctx) = current()?;
    let expires_at = expires
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .map(|d| format!("{d}T23:59:59Z"));
    b.create_api_key(
        &ctx,
        project_id,
        dto::input::CreateApiKey { name, expires_at },
    )
    .await
    .map_err(|mut e| {
        if let Some(m) = e.fields.remove("expiresAt") {
            e.fields.insert("expires".to_owned(), m);
        }
        ServerError(e)
    })
}

#[server(prefix = "/_console")]
pub async fn revoke_api_key(project_id: String, key_id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.revoke_api_key(&ctx, project_id, key_id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_openapi() -> Result<String, ServerError> {
    let (b, _) = current()?;
    Ok(b.openapi_json())
}

#[server(prefix = "/_console")]
pub async fn get_project_settings(project_id: String) -> Result<dto::ProjectSettings, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.project_settings(&ctx, project_id).await?)
}

/// The network policy from the form: a mode, and the allow-list one domain per line (commas
/// work too). The project's other settings stay as they are.
#[server(prefix = "/_console")]
pub async fn set_network_policy(
    project_id: String,
    mode: String,
    domains: Option<String>,
) -> Result<dto::ProjectSettings, ServerError> {
    let (b, ctx) = current()?;
    let mode = match mode.as_str() {
        "off" => dto::NetworkMode::Off,
        "internet" => dto::NetworkMode::Internet,
        "allowList" => dto::NetworkMode::AllowList,
        _ => {
            return Err(ServerError(dto::ApiError::field(
                "mode",
                "Choose one of the options.",
            )));
        }
    };
    let allowed_domains: Vec<String> = domains
        .unwrap_or_default()
        .split(['\n', ','])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    let current = b.project_settings(&ctx, project_id.clone()).await?;
    let settings = dto::ProjectSettings {
        network: dto::NetworkSettings {
            mode,
            allowed_domains: allowed_domains.clone(),
        },
        ..current
    };
    b.update_project_settings(&ctx, project_id, settings)
        .await
        .map_err(|mut e| {
            // `network.allowedDomains[3]` → the form's one field, naming the entry.
            let entries: Vec<(String, String)> = e
                .fields
                .iter()
                .filter(|(k, _)| k.starts_with("network.allowedDomains"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, message) in entries {
                e.fields.remove(&k);
                e.fields.insert("domains".to_owned(), message);
            }
            ServerError(e)
        })
}

// ---------------------------------------------------------------- MCP servers

#[server(prefix = "/_console")]
pub async fn get_mcp_servers(project_id: String) -> Result<Vec<dto::McpServer>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.mcp_servers(&ctx, project_id).await?)
}

/// Adds what was pasted: a `{"mcpServers": {…}}` document (Claude Desktop, Cursor, VS Code)
/// or one server's object.
#[server(prefix = "/_console")]
pub async fn paste_mcp_servers(project_id: String, json: String) -> Result<usize, ServerError> {
    let (b, ctx) = current()?;
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        ServerError(dto::ApiError::field(
            "json",
            format!("This is not JSON: {e}."),
        ))
    })?;
    let is_document = value.get("mcpServers").is_some() || value.get("servers").is_some();
    if is_document {
        let document: dto::McpServersDocument = serde_json::from_value(value).map_err(|e| {
            ServerError(dto::ApiError::field(
                "json",
                format!("Not an mcpServers document: {e}."),
            ))
        })?;
        let written = b.import_mcp_servers(&ctx, project_id, document).await;
        Ok(written.map_err(onto_json_field)?.len())
    } else {
        let input: dto::McpServerInput = serde_json::from_value(value).map_err(|e| {
            ServerError(dto::ApiError::field(
                "json",
                format!("Not an MCP server: {e}."),
            ))
        })?;
        b.create_mcp_server(&ctx, project_id, input)
            .await
            .map_err(onto_json_field)?;
        Ok(1)
    }
}

/// The form has one field, the JSON: every field error goes there, naming its path.
#[cfg(feature = "ssr")]
fn onto_json_field(e: dto::ApiError) -> ServerError {
    if e.fields.is_empty() {
        return ServerError(e);
    }
    let message = e
        .fields
        .iter()
        .map(|(field, why)| format!("{field}: {why}"))
        .collect::<Vec<_>>()
        .join(" ");
    ServerError(dto::ApiError::field("json", message))
}

/// Adds one server from the form: lists hold one entry per line (`Name: value` for headers,
/// `KEY=value` for env), tool names or globs may also be split by commas.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/_console")]
pub async fn add_mcp_server(
    project_id: String,
    name: String,
    kind: String,
    url: String,
    headers: String,
    timeout: String,
    command: String,
    args: String,
    env: String,
    cwd: String,
    include_tools: String,
    exclude_tools: String,
) -> Result<dto::McpServer, ServerError> {
    let (b, ctx) = current()?;
    let remote = kind != "stdio";
    let timeout = match timeout.trim() {
        "" => None,
        t => Some(t.parse::<u64>().map_err(|_| {
            ServerError(dto::ApiError::field(
                "timeout",
                "A whole number of milliseconds.",
            ))
        })?),
    };
    let input = dto::McpServerInput {
        name: Some(name.trim().to_owned()),
        kind: Some(kind),
        url: remote.then(|| url.trim().to_owned()),
        headers: if remote {
            pairs(&headers, ':', "headers")?
        } else {
            Default::default()
        },
        timeout,
        command: (!remote).then(|| command.trim().to_owned()),
        args: if remote { Vec::new() } else { lines(&args) },
        env: if remote {
            Default::default()
        } else {
            pairs(&env, '=', "env")?
        },
        cwd: (!remote && !cwd.trim().is_empty()).then(|| cwd.trim().to_owned()),
        enabled: Some(true),
        include_tools: names(&include_tools),
        exclude_tools: names(&exclude_tools),
    };
    b.create_mcp_server(&ctx, project_id, input)
        .await
        .map_err(onto_form_fields)
}

#[cfg(feature = "ssr")]
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(feature = "ssr")]
fn names(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `KEY<sep>value` lines; a line without the separator is the field's error.
#[cfg(feature = "ssr")]
fn pairs(
    text: &str,
    sep: char,
    field: &str,
) -> Result<std::collections::BTreeMap<String, String>, ServerError> {
    lines(text)
        .into_iter()
        .map(|line| match line.split_once(sep) {
            Some((k, v)) => Ok((k.trim().to_owned(), v.trim().to_owned())),
            None => Err(ServerError(dto::ApiError::field(
                field,
                format!("`{line}` has no `{sep}`: write one KEY{sep}value per line."),
            ))),
        })
        .collect()
}

/// The API names fields by their JSON path (`headers.Authorization`, `includeTools[1]`); the
/// form's inputs are named for the top of that path.
#[cfg(feature = "ssr")]
fn onto_form_fields(mut e: dto::ApiError) -> ServerError {
    let fields = std::mem::take(&mut e.fields);
    for (path, why) in fields {
        let top = path.split(['.', '[']).next().unwrap_or_default();
        let input = match top {
            "type" => "kind",
            "includeTools" => "include_tools",
            "excludeTools" => "exclude_tools",
            other => other,
        };
        let message = if path == top {
            why
        } else {
            format!("{path}: {why}")
        };
        e.fields
            .entry(input.to_owned())
            .and_modify(|m| {
                m.push(' ');
                m.push_str(&message);
            })
            .or_insert(message);
    }
    ServerError(e)
}

/// Replaces one server with the JSON of the edit box.
#[server(prefix = "/_console")]
pub async fn edit_mcp_server(
    project_id: String,
    name: String,
    json: String,
) -> Result<dto::McpServer, ServerError> {
    let (b, ctx) = current()?;
    let input: dto::McpServerInput = serde_json::from_str(&json).map_err(|e| {
        ServerError(dto::ApiError::field(
            "json",
            format!("Not an MCP server: {e}."),
        ))
    })?;
    b.replace_mcp_server(&ctx, project_id, name, input)
        .await
        .map_err(onto_json_field)
}

#[server(prefix = "/_console")]
pub async fn set_mcp_server_enabled(
    project_id: String,
    name: String,
    enabled: bool,
) -> Result<dto::McpServer, ServerError> {
    let (b, ctx) = current()?;
    let current = b
        .mcp_servers(&ctx, project_id.clone())
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ServerError(dto::ApiError::not_found("MCP server")))?;
    let mut input = dto::McpServerInput::from(current);
    input.enabled = Some(enabled);
    Ok(b.replace_mcp_server(&ctx, project_id, name, input).await?)
}

#[server(prefix = "/_console")]
pub async fn delete_mcp_server(project_id: String, name: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_mcp_server(&ctx, project_id, name).await?)
}

/// "Test connection": the server's name with what the test found.
#[server(prefix = "/_console")]
pub async fn test_mcp_server(
    project_id: String,
    name: String,
) -> Result<(String, dto::McpTestResult), ServerError> {
    let (b, ctx) = current()?;
    let result = b.test_mcp_server(&ctx, project_id, name.clone()).await?;
    Ok((name, result))
}
