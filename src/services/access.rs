//! Who is calling and what they may reach. Every handler turns its credentials into a `Caller`,
//! then into an `OrgScope` or a `ProjectScope`; queries for project data take the scope, so
//! there is no path from a request to a row that skips this check.

use chrono::{Duration, Utc};
use http::HeaderMap;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::Services;
use crate::error::{ApiError, ErrorCode, Result};
use crate::secrets;
use crate::store::entities::{
    Role, api_key, org_member, project, project_member, session, user, widget_app, widget_end_user,
};

pub const SESSION_COOKIE: &str = "sigmic_session";
/// The session cookie's name behind TLS (`secure_cookies`): the `__Host-` prefix makes the
/// browser refuse it unless it is `Secure`, host-only and for `/`, so no sibling domain or
/// plain-HTTP response can set or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-sigmic_session";

/// An access change that concerns everyone (a project deleted).
pub const EVERYONE: &str = "*";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    User(UserCaller),
    ApiKey(KeyCaller),
    /// A widget token: one end user of one widget app, in its project.
    Widget(WidgetCaller),
}

#[derive(Debug, Clone)]
pub struct UserCaller {
    pub user: user::Model,
    pub session_id: String,
    /// The organization the person belongs to and their role there; `None` once removed.
    pub org: Option<(String, Role)>,
}

#[derive(Debug, Clone)]
pub struct KeyCaller {
    pub key: api_key::Model,
    pub org_id: String,
}

#[derive(Debug, Clone)]
pub struct WidgetCaller {
    pub app: widget_app::Model,
    pub end_user: widget_end_user::Model,
    pub org_id: String,
    /// When the token ends.
    pub expires_at: chrono::DateTime<Utc>,
}

/// The caller's standing in their organization.
#[derive(Debug, Clone)]
pub struct OrgScope {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
}

impl OrgScope {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::forbidden("Only organization admins can do this.")),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Actor {
    User {
        user_id: String,
    },
    ApiKey {
        key_id: String,
        created_by: String,
    },
    /// A widget's end user (`widget_end_users.id`).
    EndUser {
        end_user_id: String,
    },
}

/// The caller's standing in one project they can reach.
#[derive(Debug, Clone)]
pub struct ProjectScope {
    pub project: project::Model,
    pub role: Role,
    pub org_role: Option<Role>,
    pub actor: Actor,
}

impl ProjectScope {
    pub fn org_id(&self) -> &str {
        &self.project.org_id
    }

    pub fn project_id(&self) -> &str {
        &self.project.id
    }

    /// Managing a project is for people in the Console; keys only use it.
    pub fn require_person(&self) -> Result<&str, ApiError> {
        match &self.actor {
            Actor::User { user_id } => Ok(user_id),
            Actor::ApiKey { .. } => Err(ApiError::forbidden(
                "API keys cannot manage a project. Sign in to the Console to do this.",
            )),
            Actor::EndUser { .. } => Err(ApiError::forbidden(
                "Widget tokens can only use the project's tasks, as their end user.",
            )),
        }
    }

    pub fn require_admin(&self) -> Result<&str, ApiError> {
        let user_id = self.require_person()?;
        match self.role {
            Role::Admin => Ok(user_id),
            Role::Member => Err(ApiError::forbidden("Only project admins can do this.")),
        }
    }

    pub fn require_org_admin(&self) -> Result<&str, ApiError> {
        let user_id = self.require_person()?;
        match self.org_role {
            Some(Role::Admin) => Ok(user_id),
            _ => Err(ApiError::forbidden(
                "Only organization admins can rename or delete projects.",
            )),
        }
    }
}

impl Caller {
    /// Who acted, as the audit log names them.
    pub fn audit_actor(&self) -> protocol::policy::AuditActor {
        match self {
            Caller::User(u) => protocol::policy::AuditActor {
                kind: "user".to_owned(),
                id: u.user.id.clone(),
                name: u.user.username.clone(),
            },
            Caller::ApiKey(k) => protocol::policy::AuditActor {
                kind: "apiKey".to_owned(),
                id: k.key.id.clone(),
                name: k.key.name.clone(),
            },
            Caller::Widget(w) => protocol::policy::AuditActor {
                kind: "endUser".to_owned(),
                id: w.end_user.id.clone(),
                name: w.end_user.external_id.clone(),
            },
        }
    }

    pub fn org_scope(&self) -> Result<OrgScope, ApiError> {
        match self {
            Caller::User(u) => match &u.org {
                Some((org_id, role)) => Ok(OrgScope {
                    org_id: org_id.clone(),
                    user_id: u.user.id.clone(),
                    role: *role,
                }),
                None => Err(ApiError::not_found("Organization")),
            },
            Caller::ApiKey(_) => Err(ApiError::forbidden(
                "API keys cannot manage the organization. Sign in to the Console to do this.",
            )),
            Caller::Widget(_) => Err(ApiError::forbidden(
                "Widget tokens cannot manage the organization.",
            )),
        }
    }

    /// Whose access changes concern the caller: the signed-in person, an API key's creator,
    /// or a widget's end user.
    pub fn person_id(&self) -> &str {
        match self {
            Caller::User(u) => &u.user.id,
            Caller::ApiKey(k) => &k.key.created_by,
            Caller::Widget(w) => &w.end_user.id,
        }
    }

    pub fn org_id(&self) -> Option<&str> {
        match self {
            Caller::User(u) => u.org.as_ref().map(|(id, _)| id.as_str()),
            Caller::ApiKey(k) => Some(&k.org_id),
            Caller::Widget(w) => Some(&w.org_id),
        }
    }
}

/// What the credentials of a request are, before any database lookup.
pub(super) enum Presented<'a> {
    None,
    Token(&'a str),
    Malformed,
}

pub(super) fn presented(headers: &HeaderMap) -> Presented<'_> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else {
            return Presented::Malformed;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return Presented::Malformed;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Presented::Malformed;
        }
        return Presented::Token(token.trim());
    }
    if let Some(value) = headers.get("x-api-key") {
        return match value.to_str() {
            Ok(v) => Presented::Token(v.trim()),
            Err(_) => Presented::Malformed,
        };
    }
    Presented::None
}

/// The name of the session cookie with these settings.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session cookie's value; only the name these settings use counts.
pub fn session_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = session_cookie_name(secure);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
}

/// Last-used times are for people reading the key list, not an audit log: write at most once a
/// minute per key so authentication does not turn every read into a write.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

impl Services {
    /// Resolves the caller of a request, or `None` when it carries no credentials at all.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Caller>> {
        match presented(headers) {
            Presented::Malformed => Err(ApiError::new(
                ErrorCode::InvalidAuthFormat,
                "Send `Authorization: Bearer <token>` with an API key (`sigmic_…`) or a widget token (`eyJ…`).",
            )
            .into()),
            Presented::Token(token) if token.starts_with(secrets::API_KEY_PREFIX) => {
                self.authenticate_key(token).await.map(Some)
            }
            Presented::Token(token) if token.starts_with("eyJ") => {
                self.authenticate_widget(token, headers).await.map(Some)
            }
            Presented::Token(_) => Err(ApiError::new(
                ErrorCode::InvalidAuthFormat,
                "The token is neither an API key (`sigmic_…`) nor a widget token (`eyJ…`).",
            )
            .into()),
            Presented::None => match session_token(headers, self.config().secure_cookies) {
                Some(token) => self.authenticate_session(&token).await,
                None => Ok(None),
            },
        }
    }

    pub async fn require_caller(&self, headers: &HeaderMap) -> Result<Caller> {
        self.authenticate(headers)
            .await?
            .ok_or_else(|| ApiError::auth_required().into())
    }

    async fn authenticate_key(&self, token: &str) -> Result<Caller> {
        let invalid = || {
            ApiError::new(
                ErrorCode::InvalidApiKey,
                "The API key is unknown, revoked or expired. Create a new one in the Console.",
            )
        };
        if !secrets::is_api_key_shaped(token) {
            return Err(invalid().into());
        }
        let now = Utc::now();
        let key = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(secrets::sha256_hex(token)))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(self.db())
            .await?
            .filter(|k| k.expires_at.is_none_or(|e| e > now))
            .ok_or_else(invalid)?;
        let project = project::Entity::find_by_id(key.project_id.clone())
            .one(self.db())
            .await?
            .ok_or_else(invalid)?;
        // A key acts for its creator: it works only while they may still use its project,
        // checked on every use, so a removal or demotion ends it at once.
        if !self.may_use_project(&key.created_by, &project).await? {
            return Err(invalid().into());
        }
        if key
            .last_used_at
            .is_none_or(|t| now - t > Duration::seconds(LAST_USED_RESOLUTION_SECS))
        {
            let mut active: api_key::ActiveModel = key.clone().into();
            active.last_used_at = Set(Some(now));
            active.update(self.db()).await?;
        }
        Ok(Caller::ApiKey(KeyCaller {
            key,
            org_id: project.org_id,
        }))
    }

    /// Whether a person may use a project now: an admin of its organization, or a member of
    /// the organization who was added to the project.
    async fn may_use_project(&self, user_id: &str, project: &project::Model) -> Result<bool> {
        let Some(member) =
            org_member::Entity::find_by_id((project.org_id.clone(), user_id.to_owned()))
                .one(self.db())
                .await?
        else {
            return Ok(false);
        };
        if member.role == Role::Admin {
            return Ok(true);
        }
        Ok(
            project_member::Entity::find_by_id((project.id.clone(), user_id.to_owned()))
                .one(self.db())
                .await?
                .is_some(),
        )
    }

    /// The caller as the store sees them now, or `None` once their credentials no longer work
    /// (a revoked key, a key whose creator lost its project, an ended session). Long-lived
    /// requests (streams) check this while they last.
    pub async fn refresh_caller(&self, caller: &Caller) -> Result<Option<Caller>> {
        match caller {
            Caller::ApiKey(k) => {
                let now = Utc::now();
                let Some(key) = api_key::Entity::find_by_id(k.key.id.clone())
                    .filter(api_key::Column::RevokedAt.is_null())
                    .one(self.db())
                    .await?
                    .filter(|key| key.expires_at.is_none_or(|e| e > now))
                else {
                    return Ok(None);
                };
                let Some(project) = project::Entity::find_by_id(key.project_id.clone())
                    .one(self.db())
                    .await?
                else {
                    return Ok(None);
                };
                if !self.may_use_project(&key.created_by, &project).await? {
                    return Ok(None);
                }
                Ok(Some(Caller::ApiKey(KeyCaller {
                    key,
                    org_id: project.org_id,
                })))
            }
            Caller::Widget(w) => self.refresh_widget(w).await,
            Caller::User(u) => {
                let live = session::Entity::find_by_id(u.session_id.clone())
                    .filter(session::Column::ExpiresAt.gt(Utc::now()))
                    .one(self.db())
                    .await?
                    .is_some();
                if !live {
                    return Ok(None);
                }
                let org = self.membership(&u.user.id).await?;
                Ok(Some(Caller::User(UserCaller {
                    user: u.user.clone(),
                    session_id: u.session_id.clone(),
                    org,
                })))
            }
        }
    }

    /// The caller a person would be when signed in; for the CLI, which acts on their behalf.
    pub async fn caller_for_user(&self, user: user::Model) -> Result<Caller> {
        let org = self.membership(&user.id).await?;
        Ok(Caller::User(UserCaller {
            user,
            session_id: String::new(),
            org,
        }))
    }

    async fn membership(&self, user_id: &str) -> Result<Option<(String, Role)>> {
        Ok(org_member::Entity::find()
            .filter(org_member::Column::UserId.eq(user_id))
            .order_by_asc(org_member::Column::CreatedAt)
            .one(self.db())
            .await?
            .map(|m| (m.org_id, m.role)))
    }

    async fn authenticate_session(&self, token: &str) -> Result<Option<Caller>> {
        let now = Utc::now();
        let Some(session) = session::Entity::find()
            .filter(session::Column::TokenHash.eq(secrets::sha256_hex(token)))
            .filter(session::Column::ExpiresAt.gt(now))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = user::Entity::find_by_id(session.user_id.clone())
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let org = self.membership(&user.id).await?;
        Ok(Some(Caller::User(UserCaller {
            user,
            session_id: session.id,
            org,
        })))
    }

    /// The caller's standing in `project_id`; `NOT_FOUND` when they cannot reach it, whether or
    /// not it exists elsewhere.
    pub async fn project_scope(&self, caller: &Caller, project_id: &str) -> Result<ProjectScope> {
        let not_found = || ApiError::not_found("Project");
        match caller {
            Caller::ApiKey(k) => {
                if k.key.project_id != project_id {
                    return Err(not_found().into());
                }
                let project = project::Entity::find_by_id(project_id.to_owned())
                    .one(self.db())
                    .await?
                    .ok_or_else(not_found)?;
                Ok(ProjectScope {
                    project,
                    role: Role::Member,
                    org_role: None,
                    actor: Actor::ApiKey {
                        key_id: k.key.id.clone(),
                        created_by: k.key.created_by.clone(),
                    },
                })
            }
            Caller::Widget(w) => {
                if w.app.project_id != project_id {
                    return Err(not_found().into());
                }
                let project = project::Entity::find_by_id(project_id.to_owned())
                    .one(self.db())
                    .await?
                    .ok_or_else(not_found)?;
                Ok(ProjectScope {
                    project,
                    role: Role::Member,
                    org_role: None,
                    actor: Actor::EndUser {
                        end_user_id: w.end_user.id.clone(),
                    },
                })
            }
            Caller::User(u) => {
                let (org_id, org_role) = u.org.clone().ok_or_else(not_found)?;
                let project = project::Entity::find_by_id(project_id.to_owned())
                    .filter(project::Column::OrgId.eq(org_id))
                    .one(self.db())
                    .await?
                    .ok_or_else(not_found)?;
                let role = match org_role {
                    Role::Admin => Role::Admin,
                    Role::Member => {
                        project_member::Entity::find_by_id((project.id.clone(), u.user.id.clone()))
                            .one(self.db())
                            .await?
                            .ok_or_else(not_found)?
                            .role
                    }
                };
                Ok(ProjectScope {
                    project,
                    role,
                    org_role: Some(org_role),
                    actor: Actor::User {
                        user_id: u.user.id.clone(),
                    },
                })
            }
        }
    }
}
