//! A project's MCP servers: project admins add, replace, import and delete them; everyone in
//! the project (and its API keys) sees them, with header and env values masked for all but
//! project admins. Header and env values are sealed by the vault before they reach the
//! database.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use super::access::{Caller, ProjectScope};
use super::{Services, new_id, ts};
use crate::error::{ApiError, Error, Result};
use std::sync::Arc;

use crate::mcp::Endpoint;
use crate::mcp::client::{McpError, Place};
use crate::mcp::stored;
use crate::mcp::{McpServerSpec, ServerName};
use crate::sandbox::Sandbox;
use crate::sandbox::bwrap::TaskEnv;
use crate::sandbox::manager::SandboxSpec;
use crate::store::entities::{Role, mcp_server};
use protocol as dto;

/// Servers one project may have.
const MAX_SERVERS: usize = 50;

impl Services {
    pub async fn mcp_servers(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<Vec<dto::McpServer>> {
        let scope = self.project_scope(caller, project_id).await?;
        let rows = mcp_server::Entity::find()
            .filter(mcp_server::Column::ProjectId.eq(scope.project_id()))
            .order_by_asc(mcp_server::Column::Name)
            .all(self.db())
            .await?;
        rows.into_iter()
            .map(|row| self.mcp_dto(row, reveals(&scope)))
            .collect()
    }

    pub async fn mcp_server(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
    ) -> Result<dto::McpServer> {
        let scope = self.project_scope(caller, project_id).await?;
        let row = self.mcp_row(&scope, name).await?;
        self.mcp_dto(row, reveals(&scope))
    }

    /// Adds a server (project admins). A name the project already has is a validation error
    /// on `name`.
    pub async fn create_mcp_server(
        &self,
        caller: &Caller,
        project_id: &str,
        input: dto::McpServerInput,
    ) -> Result<dto::McpServer> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let spec = McpServerSpec::from_input(&input, None, "").map_err(ApiError::fields)?;
        let existing = self.mcp_rows(scope.project_id()).await?;
        if existing.iter().any(|r| r.name == spec.name.as_str()) {
            return Err(name_taken(&spec.name, "name").into());
        }
        if existing.len() >= MAX_SERVERS {
            return Err(ApiError::field(
                "name",
                format!("A project has at most {MAX_SERVERS} MCP servers."),
            )
            .into());
        }
        let row = self
            .insert_mcp(self.db(), scope.project_id(), &spec)
            .await?;
        self.mcp_dto(row, true)
    }

    /// Replaces a server's whole configuration (project admins); a different `name` in the
    /// body renames it.
    pub async fn replace_mcp_server(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
        input: dto::McpServerInput,
    ) -> Result<dto::McpServer> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.mcp_row(&scope, name).await?;
        let spec = McpServerSpec::from_input(&input, Some(name), "").map_err(ApiError::fields)?;
        if spec.name.as_str() != row.name {
            let taken = mcp_server::Entity::find()
                .filter(mcp_server::Column::ProjectId.eq(scope.project_id()))
                .filter(mcp_server::Column::Name.eq(spec.name.as_str()))
                .one(self.db())
                .await?
                .is_some();
            if taken {
                return Err(name_taken(&spec.name, "name").into());
            }
        }
        let row = self.update_mcp(self.db(), row, &spec).await?;
        self.mcp_dto(row, true)
    }

    pub async fn delete_mcp_server(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.mcp_row(&scope, name).await?;
        mcp_server::Entity::delete_by_id(row.id)
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// Adds every server of a `{"mcpServers": {…}}` document, replacing those of the same
    /// name (project admins). All or nothing: one bad entry names its field
    /// (`mcpServers.<name>.<field>`) and nothing is written.
    pub async fn import_mcp_servers(
        &self,
        caller: &Caller,
        project_id: &str,
        document: dto::McpServersDocument,
    ) -> Result<Vec<dto::McpServer>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        if document.mcp_servers.is_empty() {
            return Err(ApiError::field("mcpServers", "The document names no server.").into());
        }
        let mut errors = BTreeMap::new();
        let mut specs = Vec::new();
        for (key, input) in &document.mcp_servers {
            let prefix = format!("mcpServers.{key}.");
            if input.name.as_deref().is_some_and(|n| n != key) {
                errors.insert(
                    format!("{prefix}name"),
                    "The entry's name differs from its key.".to_owned(),
                );
                continue;
            }
            match McpServerSpec::from_input(input, Some(key), &prefix) {
                Ok(spec) => specs.push(spec),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::fields(errors).into());
        }
        let existing = self.mcp_rows(scope.project_id()).await?;
        let added = specs
            .iter()
            .filter(|s| !existing.iter().any(|r| r.name == s.name.as_str()))
            .count();
        if existing.len() + added > MAX_SERVERS {
            return Err(ApiError::field(
                "mcpServers",
                format!("A project has at most {MAX_SERVERS} MCP servers."),
            )
            .into());
        }
        let project_id = scope.project_id().to_owned();
        let this = self.clone();
        let rows = self
            .db()
            .transaction::<_, Vec<mcp_server::Model>, Error>(move |txn| {
                Box::pin(async move {
                    let mut rows = Vec::new();
                    for spec in &specs {
                        let current = existing
                            .iter()
                            .find(|r| r.name == spec.name.as_str())
                            .cloned();
                        rows.push(match current {
                            Some(row) => this.update_mcp(txn, row, spec).await?,
                            None => this.insert_mcp(txn, &project_id, spec).await?,
                        });
                    }
                    Ok(rows)
                })
            })
            .await?;
        rows.into_iter()
            .map(|row| self.mcp_dto(row, true))
            .collect()
    }

    /// The project's servers as a `{"mcpServers": {…}}` document another client (or another
    /// project) takes in one paste. With header and env values: project admins only.
    pub async fn export_mcp_servers(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<dto::McpServersDocument> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let mut document = dto::McpServersDocument::default();
        for row in self.mcp_rows(scope.project_id()).await? {
            let spec = self.mcp_spec(&row)?;
            let mut entry = spec.to_input(true);
            entry.name = None;
            document.mcp_servers.insert(row.name, entry);
        }
        Ok(document)
    }

    /// Connects to a server now and lists its tools, or says exactly why it could not
    /// (project admins: it uses the stored header and env values). `{{mcp.KEY}}` is filled
    /// from the request's `env` and `secrets` (secrets win). The outcome becomes the server's
    /// status.
    pub async fn test_mcp_server(
        &self,
        caller: &Caller,
        project_id: &str,
        name: &str,
        request: dto::McpTestRequest,
    ) -> Result<dto::McpTestResult> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.mcp_row(&scope, name).await?;
        let spec = self.mcp_spec(&row)?;
        let mut values = request.env.unwrap_or_default();
        let secrets = request.secrets.unwrap_or_default();
        let redactor = crate::sandbox::Redactor::new(&secrets);
        let task_env = TaskEnv {
            env: values.clone(),
            secrets: secrets.clone(),
        };
        values.extend(secrets);
        // A local server starts in a sandbox of its own for the test, under the project's
        // network policy, removed right after.
        let throwaway = match (&spec.endpoint, self.sandboxes()) {
            (Endpoint::Stdio { .. }, Some(manager)) => {
                let task_id = format!("mcp-test-{}", new_id());
                let sandbox = manager
                    .acquire(&SandboxSpec {
                        task_id: task_id.clone(),
                        network: scope.project.network_policy(),
                        env: task_env,
                    })
                    .await;
                Some((Arc::clone(manager), task_id, sandbox))
            }
            _ => None,
        };
        let mut place = Place {
            sandbox: None,
            redactor: redactor.clone(),
        };
        let mut sandbox_error = None;
        if let Some((_, _, sandbox)) = &throwaway {
            match sandbox {
                Ok(sb) => place.sandbox = Some(Arc::clone(sb) as Arc<dyn Sandbox>),
                Err(e) => sandbox_error = Some(e.to_string()),
            }
        }
        let probe = match sandbox_error {
            Some(e) => Err((McpError::Connect(e), std::time::Duration::ZERO)),
            None => self.mcp_connector().probe(&spec, &values, &place).await,
        };
        if let Some((manager, task_id, _)) = throwaway {
            drop(place);
            if let Err(e) = manager.delete(&task_id).await {
                tracing::warn!(error = %e, "the test sandbox could not be removed");
            }
        }
        let (result, status) = match probe {
            Ok(probe) => {
                let tools: Vec<dto::McpToolInfo> = probe
                    .tools
                    .iter()
                    .map(|t| dto::McpToolInfo {
                        name: t.tool.name.to_string(),
                        offered_as: t.offered.clone(),
                        description: t.tool.description.as_deref().map(str::to_owned),
                        included: t.included,
                        read_only: t.read_only(),
                        input_schema: serde_json::Value::Object((*t.tool.input_schema).clone()),
                    })
                    .collect();
                let count = tools.iter().filter(|t| t.included).count();
                let status = dto::McpServerStatus {
                    state: dto::McpServerState::Ok,
                    message: None,
                    tool_count: u32::try_from(count).ok(),
                    checked_at: ts(Utc::now()),
                };
                let result = dto::McpTestResult {
                    ok: true,
                    error: None,
                    server_info: probe.server_info,
                    tools,
                    elapsed_ms: millis(probe.elapsed),
                };
                (result, status)
            }
            Err((error, elapsed)) => {
                // A server's error may quote what it was sent.
                let message = redactor.redact(&error.to_string());
                let status = dto::McpServerStatus {
                    state: dto::McpServerState::Failed,
                    message: Some(message.clone()),
                    tool_count: None,
                    checked_at: ts(Utc::now()),
                };
                let result = dto::McpTestResult {
                    ok: false,
                    error: Some(message),
                    server_info: None,
                    tools: Vec::new(),
                    elapsed_ms: millis(elapsed),
                };
                (result, status)
            }
        };
        stored::record_status(self.db(), scope.project_id(), name, &status).await?;
        Ok(result)
    }

    pub(super) async fn mcp_rows(&self, project_id: &str) -> Result<Vec<mcp_server::Model>> {
        Ok(mcp_server::Entity::find()
            .filter(mcp_server::Column::ProjectId.eq(project_id))
            .all(self.db())
            .await?)
    }

    async fn mcp_row(&self, scope: &ProjectScope, name: &str) -> Result<mcp_server::Model> {
        mcp_server::Entity::find()
            .filter(mcp_server::Column::ProjectId.eq(scope.project_id()))
            .filter(mcp_server::Column::Name.eq(name))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("MCP server").into())
    }

    fn seal(&self, id: &str, spec: &McpServerSpec) -> Result<(String, String)> {
        Ok(stored::columns(self.vault(), id, spec)?)
    }

    pub(super) async fn insert_mcp(
        &self,
        db: &impl ConnectionTrait,
        project_id: &str,
        spec: &McpServerSpec,
    ) -> Result<mcp_server::Model> {
        let id = new_id();
        let (config, sealed) = self.seal(&id, spec)?;
        let now = Utc::now();
        let row = mcp_server::ActiveModel {
            id: Set(id),
            project_id: Set(project_id.to_owned()),
            name: Set(spec.name.to_string()),
            enabled: Set(spec.enabled),
            config: Set(config),
            sealed: Set(sealed),
            status: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        row.insert(db).await.map_err(|e| taken_or(e, &spec.name))
    }

    pub(super) async fn update_mcp(
        &self,
        db: &impl ConnectionTrait,
        row: mcp_server::Model,
        spec: &McpServerSpec,
    ) -> Result<mcp_server::Model> {
        let (config, sealed) = self.seal(&row.id, spec)?;
        let mut active: mcp_server::ActiveModel = row.into();
        active.name = Set(spec.name.to_string());
        active.enabled = Set(spec.enabled);
        active.config = Set(config);
        active.sealed = Set(sealed);
        // A new configuration has not been tried yet.
        active.status = Set(None);
        active.updated_at = Set(Utc::now());
        active.update(db).await.map_err(|e| taken_or(e, &spec.name))
    }

    pub(super) fn mcp_spec(&self, row: &mcp_server::Model) -> Result<McpServerSpec> {
        Ok(stored::spec(self.vault(), row)?)
    }

    fn mcp_dto(&self, row: mcp_server::Model, reveal: bool) -> Result<dto::McpServer> {
        let spec = self.mcp_spec(&row)?;
        let shown = spec.to_input(reveal);
        Ok(dto::McpServer {
            name: row.name,
            kind: spec.endpoint.transport(),
            url: shown.url,
            headers: shown.headers,
            timeout: Some(u64::try_from(spec.timeout.as_millis()).unwrap_or(u64::MAX)),
            command: shown.command,
            args: shown.args,
            env: shown.env,
            cwd: shown.cwd,
            enabled: row.enabled,
            include_tools: shown.include_tools,
            exclude_tools: shown.exclude_tools,
            status: row
                .status
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
        })
    }
}

/// Header and env values are shown to the project's admins (people, not keys).
fn reveals(scope: &ProjectScope) -> bool {
    scope.role == Role::Admin && scope.require_person().is_ok()
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn name_taken(name: &ServerName, field: &str) -> ApiError {
    ApiError::field(
        field,
        format!("The project already has an MCP server named `{name}`."),
    )
}

fn taken_or(e: sea_orm::DbErr, name: &ServerName) -> Error {
    if crate::store::is_unique_violation(&e) {
        name_taken(name, "name").into()
    } else {
        e.into()
    }
}
