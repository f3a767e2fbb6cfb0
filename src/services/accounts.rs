//! Sign-up, log-in, sessions and `/me`.

use std::net::IpAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::access::{Caller, session_cookie_name};
use super::{Services, new_id, validate};
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::secrets;
use crate::store::entities::{Role, invitation, org_member, organization, project, session, user};
use protocol as dto;
use protocol::error::FieldErrors;

/// A person as the API shows them.
pub fn user_dto(u: &user::Model) -> dto::User {
    dto::User {
        id: u.id.clone(),
        email: u.email.clone(),
        username: u.username.clone(),
        name: u.name.clone(),
    }
}

pub struct NewUser {
    pub email: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub password: String,
    pub invitation_token: Option<String>,
}

impl From<protocol::input::Signup> for NewUser {
    fn from(i: protocol::input::Signup) -> Self {
        Self {
            email: i.email,
            username: i.username.filter(|u| !u.trim().is_empty()),
            // Blank means "derive it"; control characters are refused even in a blank one.
            name: i
                .name
                .filter(|n| !n.trim().is_empty() || n.chars().any(char::is_control)),
            password: i.password,
            invitation_token: i.invitation_token.filter(|t| !t.trim().is_empty()),
        }
    }
}

/// A freshly opened session: the raw token goes into the cookie and nowhere else.
pub struct OpenedSession {
    pub user: user::Model,
    pub token: String,
}

impl Services {
    fn argon2(&self) -> Result<Argon2<'static>> {
        let a = &self.config().auth;
        let params = Params::new(a.argon2_memory_kib, a.argon2_iterations, 1, None)
            .map_err(|e| Error::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    async fn hash_password(&self, password: String) -> Result<String> {
        let argon = self.argon2()?;
        tokio::task::spawn_blocking(move || {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| Error::Hash(e.to_string()))?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash(e.to_string()))?;
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Hash(e.to_string()))
        })
        .await?
    }

    async fn verify_password(&self, password: String, hash: String) -> Result<bool> {
        let argon = self.argon2()?;
        Ok(tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await?)
    }

    /// Creates an account. Without an invitation the person gets a personal organization (as
    /// its admin) and a "Default" project; with one, they join the inviting organization with
    /// the invited role and nothing else.
    pub async fn create_user(&self, input: NewUser) -> Result<user::Model> {
        let email = validate::normalize_email(&input.email);
        let username = match input.username.as_deref() {
            Some(u) => u.to_lowercase(),
            // Nobody chose this name, so a clash is ours to solve, not theirs to fix.
            None => {
                self.free_username(&validate::username_from_email(&email))
                    .await?
            }
        };
        let mut errors = FieldErrors::default();
        errors.check(
            validate::email_ok(&input.email),
            "email",
            "Enter a valid email address.",
        );
        errors.check(
            validate::username_ok(&username),
            "username",
            validate::USERNAME_RULE,
        );
        errors.check(
            input.password.chars().count() >= validate::PASSWORD_MIN,
            "password",
            "Use at least 8 characters.",
        );
        errors.check(
            input.password.chars().count() <= validate::PASSWORD_MAX,
            "password",
            "Use at most 1024 characters.",
        );
        let name = match &input.name {
            Some(n) => match validate::name(n, 200, "Name") {
                Ok(n) => n,
                Err(m) => {
                    errors.add("name", m);
                    String::new()
                }
            },
            None => username.clone(),
        };
        errors.into_result()?;

        let invitation = match &input.invitation_token {
            Some(token) => Some(self.open_invitation(token).await.map_err(|_| {
                ApiError::field(
                    "invitationToken",
                    "This invitation link is invalid, was already used or has expired. Ask for a new one.",
                )
            })?),
            None => None,
        };
        if let Some(inv) = &invitation
            && inv.email != email
        {
            return Err(ApiError::field(
                "email",
                "Sign up with the email address the invitation was sent to.",
            )
            .into());
        }
        self.check_unique(&email, &username).await?;

        let password_hash = self.hash_password(input.password).await?;
        let now = Utc::now();
        let user_id = new_id();
        let username_for_org = name.clone();
        let txn_result = self
            .db()
            .transaction::<_, user::Model, Error>(move |txn| {
                Box::pin(async move {
                    let mut user = user::ActiveModel {
                        id: Set(user_id.clone()),
                        email: Set(email),
                        username: Set(username),
                        name: Set(name),
                        password_hash: Set(password_hash),
                        default_project_id: Set(None),
                        created_at: Set(now),
                    }
                    .insert(txn)
                    .await?;
                    match invitation {
                        Some(inv) => {
                            // Single use, even against a concurrent second registration.
                            let used = invitation::Entity::update_many()
                                .col_expr(
                                    invitation::Column::AcceptedAt,
                                    sea_orm::sea_query::Expr::value(now),
                                )
                                .filter(invitation::Column::Id.eq(inv.id.clone()))
                                .filter(invitation::Column::AcceptedAt.is_null())
                                .filter(invitation::Column::ExpiresAt.gt(now))
                                .exec(txn)
                                .await?;
                            if used.rows_affected != 1 {
                                return Err(ApiError::field(
                                    "invitationToken",
                                    "This invitation link was already used or has expired.",
                                )
                                .into());
                            }
                            add_org_member(txn, &inv.org_id, &user_id, inv.role).await?;
                        }
                        None => {
                            let org_id = new_id();
                            organization::ActiveModel {
                                id: Set(org_id.clone()),
                                name: Set(personal_org_name(&username_for_org)),
                                created_at: Set(now),
                            }
                            .insert(txn)
                            .await?;
                            add_org_member(txn, &org_id, &user_id, Role::Admin).await?;
                            let project_id = new_id();
                            project::ActiveModel {
                                id: Set(project_id.clone()),
                                org_id: Set(org_id),
                                name: Set("Default".to_owned()),
                                created_at: Set(now),
                                model: Set(None),
                                allow_model_choice: Set(false),
                                network_mode: Set("internet".to_owned()),
                                network_allow: Set(None),
                                policy_mode: Set(protocol::policy::PolicyMode::default()
                                    .as_str()
                                    .to_owned()),
                                auto_execute: Set(true),
                                max_turns: Set(None),
                                max_minutes: Set(None),
                                subagents: Set("{}".to_owned()),
                            }
                            .insert(txn)
                            .await?;
                            let mut active: user::ActiveModel = user.into();
                            active.default_project_id = Set(Some(project_id));
                            user = active.update(txn).await?;
                        }
                    }
                    Ok(user)
                })
            })
            .await;
        match txn_result {
            Ok(user) => Ok(user),
            // A concurrent sign-up won the unique index between our check and the insert.
            Err(sea_orm::TransactionError::Transaction(Error::Db(e)))
                if crate::store::is_unique_violation(&e) =>
            {
                Err(
                    ApiError::field("email", "This email or username is already registered.")
                        .into(),
                )
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `base`, or `base` with the smallest numeric suffix that nobody has taken.
    async fn free_username(&self, base: &str) -> Result<String> {
        let taken = |name: String| async move {
            Ok::<_, Error>(
                user::Entity::find()
                    .filter(user::Column::Username.eq(name))
                    .one(self.db())
                    .await?
                    .is_some(),
            )
        };
        if !taken(base.to_owned()).await? {
            return Ok(base.to_owned());
        }
        for n in 2..1000u32 {
            let candidate = format!("{base}{n}");
            if !taken(candidate.clone()).await? {
                return Ok(candidate);
            }
        }
        // Astronomically unlikely; a random tail always fits the 39-character rule.
        Ok(format!("{base}-{}", &secrets::random_hex(3)?))
    }

    async fn check_unique(&self, email: &str, username: &str) -> Result<()> {
        let mut errors = FieldErrors::default();
        if user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(self.db())
            .await?
            .is_some()
        {
            errors.add(
                "email",
                "An account with this email already exists. Log in instead.",
            );
        }
        if user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(self.db())
            .await?
            .is_some()
        {
            errors.add("username", "This username is taken. Choose another.");
        }
        Ok(errors.into_result()?)
    }

    pub async fn signup(&self, input: NewUser, ip: Option<IpAddr>) -> Result<OpenedSession> {
        if let Err(wait) = self.inner.limits.check_signup(ip) {
            let mut e = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many accounts were created from your address. Try again in {wait} seconds."
                ),
            );
            e.retry_after_secs = Some(wait);
            return Err(e.into());
        }
        let user = self.create_user(input).await?;
        self.open_session(user).await
    }

    pub async fn login(
        &self,
        email: &str,
        password: String,
        ip: Option<IpAddr>,
    ) -> Result<OpenedSession> {
        if let Err(wait) = self.inner.limits.check_address(ip) {
            let mut e = ApiError::new(
                ErrorCode::RateLimited,
                format!("Too many login attempts from your address. Try again in {wait} seconds."),
            );
            e.retry_after_secs = Some(wait);
            return Err(e.into());
        }
        let email = validate::normalize_email(email);
        let found = user::Entity::find()
            .filter(user::Column::Email.eq(email.clone()))
            .one(self.db())
            .await?;
        // Verify against a real hash even for unknown emails, so timing does not reveal
        // which addresses have accounts.
        let hash = match &found {
            Some(u) => u.password_hash.clone(),
            None => self.dummy_hash().await?,
        };
        let ok = self.verify_password(password, hash).await?;
        let locked = self.inner.limits.is_locked(&email, ip);
        match found {
            Some(user) if ok && !locked => {
                self.inner.limits.record_success(&email, ip);
                self.open_session(user).await
            }
            _ => {
                if !locked {
                    self.inner.limits.record_failure(&email, ip);
                }
                Err(ApiError::invalid_credentials().into())
            }
        }
    }

    async fn dummy_hash(&self) -> Result<String> {
        self.inner
            .dummy_hash
            .get_or_try_init(|| self.hash_password("not a real password".to_owned()))
            .await
            .cloned()
    }

    async fn open_session(&self, user: user::Model) -> Result<OpenedSession> {
        let token = secrets::random_hex(32)?;
        let now = Utc::now();
        session::ActiveModel {
            id: Set(new_id()),
            user_id: Set(user.id.clone()),
            token_hash: Set(secrets::sha256_hex(&token)),
            created_at: Set(now),
            expires_at: Set(now + self.config().auth.session_ttl()),
        }
        .insert(self.db())
        .await?;
        Ok(OpenedSession { user, token })
    }

    pub async fn logout(&self, caller: Option<&Caller>) -> Result<()> {
        if let Some(Caller::User(u)) = caller {
            session::Entity::delete_by_id(u.session_id.clone())
                .exec(self.db())
                .await?;
            self.access_changed(&u.user.id);
        }
        Ok(())
    }

    pub fn session_cookie(&self, token: &str) -> String {
        let max_age = self.config().auth.session_ttl_hours.saturating_mul(3600);
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            session_cookie_name(self.config().secure_cookies),
            self.secure_attr()
        )
    }

    pub fn clear_session_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            session_cookie_name(self.config().secure_cookies),
            self.secure_attr()
        )
    }

    fn secure_attr(&self) -> &'static str {
        if self.config().secure_cookies {
            "; Secure"
        } else {
            ""
        }
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self, caller: &Caller) -> Result<dto::Me> {
        let projects = self.list_projects(caller).await?;
        let organization = match caller.org_id() {
            Some(id) => organization::Entity::find_by_id(id.to_owned())
                .one(self.db())
                .await?
                .map(|o| dto::OrgRef {
                    id: o.id,
                    name: o.name,
                }),
            None => None,
        };
        Ok(match caller {
            Caller::User(u) => dto::Me {
                kind: dto::CallerKind::User,
                user: Some(user_dto(&u.user)),
                api_key: None,
                organization,
                role: u.org.as_ref().map(|(_, r)| (*r).into()),
                projects,
            },
            Caller::ApiKey(k) => dto::Me {
                kind: dto::CallerKind::ApiKey,
                user: None,
                api_key: Some(dto::ApiKeyRef {
                    id: k.key.id.clone(),
                    name: k.key.name.clone(),
                    prefix: k.key.prefix.clone(),
                }),
                organization,
                role: None,
                projects,
            },
            Caller::Widget(_) => {
                return Err(ApiError::forbidden(
                    "A widget token acts as an end user, not an account: read GET /api/v1/widget/session.",
                )
                .into());
            }
        })
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<user::Model>> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(validate::normalize_email(email)))
            .one(self.db())
            .await?)
    }
}

async fn add_org_member<C: ConnectionTrait>(
    db: &C,
    org_id: &str,
    user_id: &str,
    role: Role,
) -> Result<()> {
    org_member::ActiveModel {
        org_id: Set(org_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// "<name>'s organization", within the 200 characters an organization name may have.
fn personal_org_name(name: &str) -> String {
    const SUFFIX: &str = "'s organization";
    let room = 200 - SUFFIX.chars().count();
    let short: String = name.chars().take(room).collect();
    format!("{}{SUFFIX}", short.trim_end())
}
