//! The model providers an organization connects, and the models its projects can use. Only
//! organization admins see and change connections; everyone in a project sees which model
//! it runs with and what else it could.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, SqlErr};

use super::access::{Caller, OrgScope};
use super::{Services, new_id, ts};
use crate::error::{ApiError, Result};
use crate::llm::{ProviderKind, is_connection_name};
use crate::models::{Connection, Unusable, key_owner, listed_models};
use crate::store::entities::model_provider;
use protocol::{self as dto, ConnectionSource, ConnectionStatus};

/// A test that takes longer than this says so instead of hanging the Console.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_KEY_CHARS: usize = 4096;
const MAX_URL_CHARS: usize = 500;
const SERVER_PREFIX: &str = "server-";

impl Services {
    pub async fn model_providers(&self, caller: &Caller) -> Result<Vec<dto::ModelProvider>> {
        let scope = admin(caller)?;
        let rows = self
            .models()
            .connections(&scope.org_id)
            .await
            .map_err(unusable)?;
        let mut list: Vec<dto::ModelProvider> = rows.iter().map(provider_dto).collect();
        let server = self.models().server();
        for kind in server.configured() {
            list.push(dto::ModelProvider {
                id: format!("{SERVER_PREFIX}{}", kind.as_str()),
                name: kind.as_str().to_owned(),
                kind: kind.into(),
                source: ConnectionSource::Server,
                base_url: server.base_url(kind).map(origin),
                has_api_key: true,
                status: ConnectionStatus::Untested,
                status_message: None,
                checked_at: None,
                models: self.models().server_models(kind).await,
                shadowed: rows.iter().any(|r| r.name == kind.as_str()),
                created_at: None,
            });
        }
        Ok(list)
    }

    pub async fn create_model_provider(
        &self,
        caller: &Caller,
        input: dto::ModelProviderInput,
    ) -> Result<dto::ModelProvider> {
        let scope = admin(caller)?;
        let name = connection_name(&input.name)?;
        let base_url = base_url(input.base_url.as_deref())?;
        let api_key = api_key(input.api_key.as_deref())?;
        let kind = ProviderKind::from(input.kind);
        key_required(kind, api_key.as_deref())?;
        let id = new_id();
        let sealed = api_key
            .map(|k| self.vault().seal(&key_owner(&id), k.as_bytes()))
            .transpose()?;
        let now = Utc::now();
        let row = model_provider::ActiveModel {
            id: Set(id),
            org_id: Set(scope.org_id.clone()),
            name: Set(name),
            kind: Set(kind.as_str().to_owned()),
            base_url: Set(base_url),
            api_key: Set(sealed),
            status: Set(ConnectionStatus::Untested.as_str().to_owned()),
            status_message: Set(None),
            checked_at: Set(None),
            models: Set("[]".to_owned()),
            created_by: Set(scope.user_id.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await
        .map_err(name_taken)?;
        Ok(provider_dto(&row))
    }

    pub async fn update_model_provider(
        &self,
        caller: &Caller,
        id: &str,
        update: dto::ModelProviderUpdate,
    ) -> Result<dto::ModelProvider> {
        let scope = admin(caller)?;
        let row = self.model_provider_row(&scope, id).await?;
        let kind = ProviderKind::from_name(&row.kind).unwrap_or(ProviderKind::OpenAi);
        let mut active: model_provider::ActiveModel = row.clone().into();
        if let Some(name) = &update.name {
            active.name = Set(connection_name(name)?);
        }
        let new_url = match &update.base_url {
            Some(url) => base_url(Some(url))?,
            None => row.base_url.clone(),
        };
        let url_changed = new_url != row.base_url;
        let new_key = match &update.api_key {
            None => None,
            Some(key) => Some(api_key(Some(key))?),
        };
        // A stored key goes only where it was given for: pointed elsewhere, it would be sent
        // to a server of the editor's choosing on the next test, so the key is asked again.
        if url_changed && row.api_key.is_some() && new_key.is_none() {
            return Err(ApiError::field(
                "apiKey",
                "A new address needs the API key again: the stored key goes only to the address it was given for.",
            )
            .into());
        }
        if let Some(key) = new_key {
            key_required(kind, key.as_deref())?;
            let sealed = key
                .map(|k| self.vault().seal(&key_owner(&row.id), k.as_bytes()))
                .transpose()?;
            active.api_key = Set(sealed);
            active.base_url = Set(new_url);
            reset_status(&mut active);
        } else if url_changed {
            active.base_url = Set(new_url);
            reset_status(&mut active);
        }
        active.updated_at = Set(Utc::now());
        let row = active.update(self.db()).await.map_err(name_taken)?;
        Ok(provider_dto(&row))
    }

    pub async fn delete_model_provider(&self, caller: &Caller, id: &str) -> Result<()> {
        let scope = admin(caller)?;
        let row = self.model_provider_row(&scope, id).await?;
        model_provider::Entity::delete_by_id(row.id)
            .filter(model_provider::Column::OrgId.eq(scope.org_id.as_str()))
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// Calls the provider's models endpoint: whether the key and URL work, and what it offers.
    pub async fn test_model_provider(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<dto::ModelProviderTest> {
        let scope = admin(caller)?;
        if let Some(kind) = id.strip_prefix(SERVER_PREFIX) {
            return self.test_server_connection(caller, kind).await;
        }
        let row = self.model_provider_row(&scope, id).await?;
        let started = Instant::now();
        let listed = match self.models().client(&row, true).await {
            Ok((_, provider)) => {
                match tokio::time::timeout(TEST_TIMEOUT, provider.list_models()).await {
                    Ok(result) => result
                        .map_err(|e| e.to_string())
                        .or_else(no_models_endpoint),
                    Err(_) => Err(format!(
                        "The provider did not answer within {} seconds.",
                        TEST_TIMEOUT.as_secs()
                    )),
                }
            }
            Err(reason) => Err(format!("The connection cannot be used: {reason}.")),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut active: model_provider::ActiveModel = row.into();
        let (ok, models, message) = match listed {
            Ok(models) => {
                active.status = Set(ConnectionStatus::Ok.as_str().to_owned());
                active.status_message = Set(None);
                active.models = Set(serde_json::to_string(&models).unwrap_or_else(|_| "[]".into()));
                (true, models, None)
            }
            Err(message) => {
                active.status = Set(ConnectionStatus::Failing.as_str().to_owned());
                active.status_message = Set(Some(message.clone()));
                (false, Vec::new(), Some(message))
            }
        };
        active.checked_at = Set(Some(Utc::now()));
        // Removed while its test ran: gone, not a failure of the server.
        let row = active.update(self.db()).await.map_err(|e| match e {
            sea_orm::DbErr::RecordNotUpdated => ApiError::not_found("Model provider").into(),
            e => crate::error::Error::from(e),
        })?;
        Ok(dto::ModelProviderTest {
            ok,
            models,
            message,
            elapsed_ms,
            provider: provider_dto(&row),
        })
    }

    async fn test_server_connection(
        &self,
        caller: &Caller,
        kind: &str,
    ) -> Result<dto::ModelProviderTest> {
        let list = self.model_providers(caller).await?;
        let id = format!("{SERVER_PREFIX}{kind}");
        let mut provider = list
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ApiError::not_found("Model provider"))?;
        let kind =
            ProviderKind::from_name(kind).ok_or_else(|| ApiError::not_found("Model provider"))?;
        let started = Instant::now();
        // The operator's URL may carry what tenants should not read (credentials, an
        // internal path): messages name only its origin.
        let listed = self
            .models()
            .refresh_server_models(kind, TEST_TIMEOUT)
            .await
            .map_err(|m| match self.models().server().base_url(kind) {
                Some(url) => m.replace(url.trim_end_matches('/'), &origin(url)),
                None => m,
            });
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (ok, models, message) = match listed {
            Ok(models) => (true, models, None),
            Err(message) => (false, Vec::new(), Some(message)),
        };
        provider.status = if ok {
            ConnectionStatus::Ok
        } else {
            ConnectionStatus::Failing
        };
        provider.status_message.clone_from(&message);
        provider.models.clone_from(&models);
        Ok(dto::ModelProviderTest {
            ok,
            models,
            message,
            elapsed_ms,
            provider,
        })
    }

    /// Which model the project's tasks use, whether it can be used, and the choices.
    pub async fn project_models(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<dto::ProjectModels> {
        let scope = self.project_scope(caller, project_id).await?;
        let org_id = scope.project.org_id.clone();
        let catalog = self.models();
        let rows = catalog.connections(&org_id).await.map_err(unusable)?;
        let mut choices = Vec::new();
        for row in &rows {
            for model in listed_models(row) {
                choices.push(dto::ModelChoice {
                    name: format!("{}/{model}", row.name),
                    connection: row.name.clone(),
                    source: ConnectionSource::Organization,
                });
            }
        }
        for kind in catalog.server().configured() {
            if rows.iter().any(|r| r.name == kind.as_str()) {
                continue;
            }
            for model in catalog.server_models(kind).await {
                choices.push(dto::ModelChoice {
                    name: format!("{}/{model}", kind.as_str()),
                    connection: kind.as_str().to_owned(),
                    source: ConnectionSource::Server,
                });
            }
        }
        let (current, usable, problem, failing_connection) = match catalog
            .resolve(&org_id, scope.project.model.as_deref(), false)
            .await
        {
            Ok(resolved) => {
                let failing = match &resolved.connection {
                    Connection::Organization { id, name, .. } => rows
                        .iter()
                        .find(|r| &r.id == id && r.status == ConnectionStatus::Failing.as_str())
                        .map(|r| (name.clone(), r.status_message.clone())),
                    Connection::Server(_) => None,
                };
                match failing {
                    Some((name, message)) => (
                        Some(resolved.name.to_string()),
                        false,
                        Some(format!(
                            "The model connection `{name}` is failing{}. An organization admin can fix it under Organization → Model providers.",
                            message.map(|m| format!(": {m}")).unwrap_or_default()
                        )),
                        Some(name),
                    ),
                    None => (Some(resolved.name.to_string()), true, None, None),
                }
            }
            Err(e) => {
                let connection = match &e {
                    Unusable::Broken { connection, .. }
                    | Unusable::UnknownConnection { connection, .. }
                    | Unusable::ServerProviderMissing { connection, .. } => {
                        Some(connection.clone())
                    }
                    _ => None,
                };
                (
                    scope.project.model.clone(),
                    false,
                    Some(e.to_string()),
                    connection,
                )
            }
        };
        let can_connect = caller
            .org_scope()
            .is_ok_and(|s| s.org_id == org_id && s.require_admin().is_ok());
        Ok(dto::ProjectModels {
            current,
            usable,
            problem,
            failing_connection,
            choices,
            allow_model_choice: scope.project.allow_model_choice,
            can_connect,
        })
    }

    async fn model_provider_row(
        &self,
        scope: &OrgScope,
        id: &str,
    ) -> Result<model_provider::Model> {
        if id.starts_with(SERVER_PREFIX) {
            return Err(ApiError::forbidden(
                "This connection is the server's: its operator sets it in the server's environment, so it is read-only here.",
            )
            .into());
        }
        Ok(model_provider::Entity::find_by_id(id.to_owned())
            .filter(model_provider::Column::OrgId.eq(scope.org_id.as_str()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Model provider"))?)
    }
}

/// What was learnt about the old key or URL says nothing about the new one: untested, and no
/// models offered until a test lists them again.
fn reset_status(active: &mut model_provider::ActiveModel) {
    active.status = Set(ConnectionStatus::Untested.as_str().to_owned());
    active.status_message = Set(None);
    active.checked_at = Set(None);
    active.models = Set("[]".to_owned());
}

/// `scheme://host[:port]` of a URL: what organizations see of the operator's.
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "(the operator's address)".to_owned())
}

/// Anthropic and Gemini refuse every call without a key; an OpenAI-compatible server on a
/// local network often wants none.
fn key_required(kind: ProviderKind, key: Option<&str>) -> Result<()> {
    if key.is_none() && kind != ProviderKind::OpenAi {
        return Err(ApiError::field(
            "apiKey",
            format!(
                "{} needs an API key.",
                dto::ModelProviderKind::from(kind).label()
            ),
        )
        .into());
    }
    Ok(())
}

fn admin(caller: &Caller) -> Result<OrgScope> {
    let scope = caller.org_scope()?;
    scope.require_admin()?;
    Ok(scope)
}

fn unusable(e: Unusable) -> crate::error::Error {
    tracing::warn!(error = %e, "model connections could not be read");
    ApiError::internal().into()
}

/// A server that speaks the dialect but has no models endpoint (some self-hosted ones) still
/// works: its models are typed by hand.
fn no_models_endpoint(message: String) -> std::result::Result<Vec<String>, String> {
    if message.contains("HTTP 404") || message.contains("HTTP 405") {
        Ok(Vec::new())
    } else {
        Err(message)
    }
}

fn name_taken(e: sea_orm::DbErr) -> crate::error::Error {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return ApiError::conflict_field(
            "name",
            "This organization has a connection of this name.",
        )
        .into();
    }
    e.into()
}

fn connection_name(name: &str) -> Result<String> {
    let name = name.trim().to_ascii_lowercase();
    // `google/…` reads as `gemini/…`: a connection of that name could never be named.
    if name == "google" {
        return Err(ApiError::field(
            "name",
            "`google` is reserved: it is another name of the server's `gemini` connection.",
        )
        .into());
    }
    if !is_connection_name(&name) {
        return Err(ApiError::field(
            "name",
            "1–40 of a-z, 0-9, - and _, starting with a letter: projects name models `<name>/<model id>`.",
        )
        .into());
    }
    Ok(name)
}

/// An `http(s)` URL without credentials, query or fragment (keys go in `apiKey`, which is
/// sealed; a URL is stored as it is).
fn base_url(url: Option<&str>) -> Result<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let bad = |m: &str| -> crate::error::Error { ApiError::field("baseUrl", m).into() };
    if url.chars().count() > MAX_URL_CHARS {
        return Err(bad("At most 500 characters."));
    }
    let parsed =
        url::Url::parse(url).map_err(|_| bad("Not a URL: write e.g. `http://ollama:11434/v1`."))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(bad("An http:// or https:// URL with a host."));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "Put credentials in the API key, not in the URL: the URL is shown to admins.",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("The API root only: no `?` query or `#` fragment."));
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

fn api_key(key: Option<&str>) -> Result<Option<String>> {
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.chars().count() > MAX_KEY_CHARS
        || key.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::field(
            "apiKey",
            "An API key is one word of at most 4096 characters.",
        )
        .into());
    }
    Ok(Some(key.to_owned()))
}

fn provider_dto(row: &model_provider::Model) -> dto::ModelProvider {
    let kind = ProviderKind::from_name(&row.kind).unwrap_or(ProviderKind::OpenAi);
    dto::ModelProvider {
        id: row.id.clone(),
        name: row.name.clone(),
        kind: kind.into(),
        source: ConnectionSource::Organization,
        base_url: row.base_url.clone(),
        has_api_key: row.api_key.is_some(),
        status: ConnectionStatus::parse(&row.status),
        status_message: row.status_message.clone(),
        checked_at: row.checked_at.map(ts),
        models: listed_models(row),
        shadowed: false,
        created_at: Some(ts(row.created_at)),
    }
}
