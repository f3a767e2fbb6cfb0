//! API keys: per project, shown once, stored as a hash.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::access::{Caller, ProjectScope};
use super::{Services, new_id, ts, validate};
use crate::error::{ApiError, Result};
use crate::secrets;
use crate::store::entities::{Role, api_key, user};
use protocol as dto;

impl Services {
    pub async fn api_keys(&self, caller: &Caller, project_id: &str) -> Result<Vec<dto::ApiKey>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let keys = api_key::Entity::find()
            .filter(api_key::Column::ProjectId.eq(scope.project_id()))
            .filter(api_key::Column::RevokedAt.is_null())
            .order_by_desc(api_key::Column::CreatedAt)
            .all(self.db())
            .await?;
        let users = self
            .users_by_id(keys.iter().map(|k| k.created_by.clone()).collect())
            .await?;
        Ok(keys
            .into_iter()
            .map(|k| {
                let created_by = creator_ref(&users, &k.created_by);
                dto::ApiKey {
                    id: k.id,
                    name: k.name,
                    prefix: k.prefix,
                    created_by,
                    created_at: ts(k.created_at),
                    last_used_at: k.last_used_at.map(ts),
                    expires_at: k.expires_at.map(ts),
                }
            })
            .collect())
    }

    pub async fn create_api_key(
        &self,
        caller: &Caller,
        project_id: &str,
        input: dto::input::CreateApiKey,
    ) -> Result<dto::CreatedApiKey> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_person()?.to_owned();
        self.insert_key(&scope, &user_id, input).await
    }

    /// The legacy `POST /api/users/{username}/api-keys`: a key in that person's default
    /// project, made by that person, signed in. An API key never mints its successors: a
    /// leaked key must not be able to outlive its revocation.
    pub async fn create_legacy_api_key(
        &self,
        caller: &Caller,
        username: &str,
        input: dto::input::CreateApiKey,
    ) -> Result<dto::CreatedApiKey> {
        let acting_user = match caller {
            Caller::User(u) => u.user.id.clone(),
            Caller::ApiKey(_) | Caller::Widget(_) => {
                return Err(ApiError::forbidden(
                    "API keys and widget tokens cannot create API keys. Sign in (or use the Console) to create one.",
                )
                .into());
            }
        };
        let user = user::Entity::find_by_id(acting_user.clone())
            .one(self.db())
            .await?
            .filter(|u| u.username == username.to_lowercase())
            .ok_or_else(|| ApiError::not_found("User"))?;
        let project_id = user.default_project_id.clone().ok_or_else(|| {
            ApiError::not_found(
                "Default project (this account has none; create keys in a project instead)",
            )
        })?;
        // A key may only mint keys for the project it belongs to: the scope check says so.
        let scope = self.project_scope(caller, &project_id).await?;
        self.insert_key(&scope, &acting_user, input).await
    }

    async fn insert_key(
        &self,
        scope: &ProjectScope,
        created_by: &str,
        input: dto::input::CreateApiKey,
    ) -> Result<dto::CreatedApiKey> {
        let name =
            validate::name(&input.name, 100, "Key name").map_err(|m| ApiError::field("name", m))?;
        let now = Utc::now();
        let expires_at = match input.expires_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                let t = DateTime::parse_from_rfc3339(s)
                    .map_err(|_| {
                        ApiError::field(
                            "expiresAt",
                            "Use an RFC 3339 time, e.g. 2027-01-31T00:00:00Z.",
                        )
                    })?
                    .with_timezone(&Utc);
                if t <= now {
                    return Err(
                        ApiError::field("expiresAt", "The expiry must be in the future.").into(),
                    );
                }
                Some(t)
            }
        };
        let new_key = secrets::new_api_key()?;
        let row = api_key::ActiveModel {
            id: Set(new_id()),
            project_id: Set(scope.project_id().to_owned()),
            name: Set(name),
            prefix: Set(new_key.prefix.clone()),
            key_hash: Set(new_key.hash),
            created_by: Set(created_by.to_owned()),
            created_at: Set(now),
            last_used_at: Set(None),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
        }
        .insert(self.db())
        .await?;
        let users = self.users_by_id(vec![created_by.to_owned()]).await?;
        Ok(dto::CreatedApiKey {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            key: new_key.key,
            created_by: creator_ref(&users, created_by),
            created_at: ts(row.created_at),
            expires_at: row.expires_at.map(ts),
        })
    }

    /// Revokes a key: its creator or a project admin may.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        project_id: &str,
        key_id: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_person()?.to_owned();
        let key = api_key::Entity::find_by_id(key_id.to_owned())
            .filter(api_key::Column::ProjectId.eq(scope.project_id()))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("API key"))?;
        if key.created_by != user_id && scope.role != Role::Admin {
            return Err(ApiError::forbidden(
                "Only the key's creator or a project admin can revoke it.",
            )
            .into());
        }
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(self.db())
            .await?;
        self.access_changed(&key.created_by);
        Ok(())
    }

    /// For `sigmic key create`: a key in the named project (or the person's default one).
    pub async fn create_key_for(
        &self,
        email: &str,
        project_name: Option<&str>,
        key_name: &str,
    ) -> Result<dto::CreatedApiKey> {
        let user = self
            .find_user_by_email(email)
            .await?
            .ok_or_else(|| ApiError::field("email", "No account has this email."))?;
        let caller = self.caller_for_user(user.clone()).await?;
        let project_id = match project_name {
            Some(name) => self
                .list_projects(&caller)
                .await?
                .into_iter()
                .find(|p| p.name == name)
                .map(|p| p.id)
                .ok_or_else(|| {
                    ApiError::field("project", format!("{email} has no project named {name:?}."))
                })?,
            None => user.default_project_id.clone().ok_or_else(|| {
                ApiError::field(
                    "project",
                    "This account has no default project; name one with --project.",
                )
            })?,
        };
        let scope = self.project_scope(&caller, &project_id).await?;
        self.insert_key(
            &scope,
            &user.id,
            dto::input::CreateApiKey {
                name: key_name.to_owned(),
                expires_at: None,
            },
        )
        .await
    }
}

fn creator_ref(users: &[user::Model], id: &str) -> dto::UserRef {
    dto::UserRef {
        id: id.to_owned(),
        username: users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.username.clone())
            .unwrap_or_else(|| "(removed)".to_owned()),
    }
}
