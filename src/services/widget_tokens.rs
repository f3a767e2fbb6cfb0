//! Widget tokens: the exchange a customer's backend calls (`POST /api/v1/auth/token`), and a
//! token turned back into its caller on every request, from an origin its app allows.

use std::num::NonZeroU32;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::HeaderMap;
use protocol::widget::{IssuedToken, TokenRequest, WidgetSession};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use super::access::{Caller, WidgetCaller};
use super::{Services, new_id};
use crate::error::{ApiError, ErrorCode, Result};
use crate::rfc3339::ts;
use crate::secrets;
use crate::services::tasks::check_env;
use crate::store::entities::{project, widget_app, widget_end_user};
use crate::widget::token::{Subject, TokenSigner, parse_expires_in};
use crate::widget::{END_USER_ID_MAX, EndUserValues, origins};

/// A token's life when the exchange names none.
const DEFAULT_TTL: Duration = Duration::hours(1);
/// How long a preflight trusts the list of every app's origins before reading it again (a
/// change made on this node clears it at once).
const ORIGINS_CACHE: StdDuration = StdDuration::from_secs(30);

/// The widget parts of the services' state.
pub(super) struct WidgetState {
    signer: Option<TokenSigner>,
    exchanges: Option<DefaultKeyedRateLimiter<String>>,
    origins: std::sync::Mutex<Option<(Instant, Vec<String>)>>,
}

impl WidgetState {
    pub(super) fn new(signer: Option<TokenSigner>, per_app_per_minute: u32) -> Self {
        Self {
            signer,
            exchanges: NonZeroU32::new(per_app_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            origins: std::sync::Mutex::new(None),
        }
    }
}

fn invalid_token() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidToken,
        "The widget token is not valid: its signature, algorithm or expiry was rejected, or its widget app was deleted. Get a new one from the token exchange.",
    )
}

fn text_field(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

impl Services {
    fn signer(&self) -> Result<&TokenSigner> {
        self.widget().signer.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::JwtNotConfigured,
                "This server issues no widget tokens: its operator removed the signing key (auth.signing_key_file).",
            )
            .into()
        })
    }

    /// `POST /api/v1/auth/token`.
    pub async fn exchange_widget_token(&self, req: TokenRequest) -> Result<IssuedToken> {
        self.signer()?;
        let (Some(app_id), Some(app_secret)) = (text_field(req.app_id), text_field(req.app_secret))
        else {
            return Err(ApiError::new(
                ErrorCode::MissingCredentials,
                "Send the widget app's `appId` and `appSecret` (from the Console's Widget tab).",
            )
            .into());
        };
        let Some(end_user_id) = text_field(req.end_user_id) else {
            return Err(ApiError::new(
                ErrorCode::MissingEndUserId,
                "Send `endUserId`: your id for the visitor, so their conversations stay theirs.",
            )
            .into());
        };
        if end_user_id.chars().count() > END_USER_ID_MAX
            || end_user_id.chars().any(char::is_control)
        {
            return Err(ApiError::field(
                "endUserId",
                format!("`endUserId` must be one line of at most {END_USER_ID_MAX} characters."),
            )
            .into());
        }
        let max = Duration::hours(
            i64::try_from(self.config().auth.widget_token_max_hours)
                .unwrap_or(i64::MAX / 3_600_000),
        );
        let ttl = match &req.expires_in {
            None | Some(Value::Null) => DEFAULT_TTL.min(max),
            Some(v) => parse_expires_in(v).filter(|t| *t <= max).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidExpiresIn,
                    format!(
                        "`expiresIn` must be like \"30m\", \"1h\" or \"7d\" (or seconds), and at most {} hours.",
                        max.num_hours()
                    ),
                )
            })?,
        };
        let values = EndUserValues {
            env: check_env("env", req.env)?,
            secrets: check_env("secrets", req.secrets)?,
        };
        let app = self.check_app_secret(&app_id, &app_secret).await?;
        self.issue_widget_token(&app, &end_user_id, values, ttl)
            .await
    }

    /// The app whose secret this is (the current one, or the one before a rotation while
    /// its overlap lasts). Unknown apps and wrong secrets answer alike.
    async fn check_app_secret(&self, app_id: &str, secret: &str) -> Result<widget_app::Model> {
        let wrong = || {
            ApiError::new(
                ErrorCode::InvalidCredentials,
                "The `appId` or `appSecret` is wrong. Copy them from the Console's Widget tab (a rotated secret works only until its overlap ends).",
            )
        };
        let app = widget_app::Entity::find_by_id(app_id.to_owned())
            .one(self.db())
            .await?
            .ok_or_else(wrong)?;
        // Per app, before the secret is checked: this also slows guessing it.
        if let Some(limiter) = &self.widget().exchanges
            && let Err(not_until) = limiter.check_key(&app.id)
        {
            let wait = not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1);
            let mut e = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many token exchanges for this widget app. Try again in {wait} seconds."
                ),
            );
            e.retry_after_secs = Some(wait);
            return Err(e.into());
        }
        let hash = secrets::sha256_hex(secret);
        let previous_ok = app.previous_secret_hash.as_deref() == Some(hash.as_str())
            && app
                .previous_secret_expires_at
                .is_some_and(|t| t > Utc::now());
        if app.secret_hash != hash && !previous_ok {
            return Err(wrong().into());
        }
        Ok(app)
    }

    /// Stores the end user's values (replacing the last exchange's) and signs their token.
    pub(super) async fn issue_widget_token(
        &self,
        app: &widget_app::Model,
        end_user_id: &str,
        values: EndUserValues,
        ttl: Duration,
    ) -> Result<IssuedToken> {
        let signer = self.signer()?;
        let end_user = self.store_end_user(app, end_user_id, &values).await?;
        let (token, claims) = signer
            .issue(
                &Subject {
                    app_id: &app.id,
                    project_id: &app.project_id,
                    end_user_row: &end_user.id,
                    end_user_id,
                },
                Utc::now(),
                ttl,
            )
            .map_err(|_| ApiError::internal())?;
        Ok(IssuedToken {
            token,
            expires_at: ts(claims.expires_at()),
        })
    }

    async fn store_end_user(
        &self,
        app: &widget_app::Model,
        external_id: &str,
        values: &EndUserValues,
    ) -> Result<widget_end_user::Model> {
        let find = || {
            widget_end_user::Entity::find()
                .filter(widget_end_user::Column::AppId.eq(&app.id))
                .filter(widget_end_user::Column::ExternalId.eq(external_id))
                .one(self.db())
        };
        let now = Utc::now();
        if let Some(row) = find().await? {
            let sealed = values.seal(self.vault(), &row.id)?;
            let mut active: widget_end_user::ActiveModel = row.into();
            active.sealed = Set(sealed);
            active.updated_at = Set(now);
            return Ok(active.update(self.db()).await?);
        }
        let id = new_id();
        let inserted = widget_end_user::ActiveModel {
            id: Set(id.clone()),
            app_id: Set(app.id.clone()),
            external_id: Set(external_id.to_owned()),
            sealed: Set(values.seal(self.vault(), &id)?),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await;
        match inserted {
            Ok(row) => Ok(row),
            // A concurrent exchange for the same new end user made the row first: update it.
            Err(e) => match find().await? {
                Some(row) => {
                    let sealed = values.seal(self.vault(), &row.id)?;
                    let mut active: widget_end_user::ActiveModel = row.into();
                    active.sealed = Set(sealed);
                    active.updated_at = Set(now);
                    Ok(active.update(self.db()).await?)
                }
                None => Err(e.into()),
            },
        }
    }

    /// The caller a widget token names, if its app still exists and the request comes from
    /// one of the app's origins.
    pub(super) async fn authenticate_widget(
        &self,
        token: &str,
        headers: &HeaderMap,
    ) -> Result<Caller> {
        let signer = self.widget().signer.as_ref().ok_or_else(invalid_token)?;
        let claims = signer.verify(token).map_err(|_| invalid_token())?;
        let caller = self
            .widget_caller(&claims.app, &claims.prj, &claims.eu, claims.expires_at())
            .await?
            .ok_or_else(invalid_token)?;
        if !self.origin_allowed(&caller.app, headers) {
            return Err(ApiError::new(
                ErrorCode::OriginNotAllowed,
                "This page's origin is not one the widget app allows. Add it to the app's allowed origins in the Console.",
            )
            .into());
        }
        Ok(Caller::Widget(caller))
    }

    async fn widget_caller(
        &self,
        app_id: &str,
        project_id: &str,
        end_user_row: &str,
        expires_at: chrono::DateTime<Utc>,
    ) -> Result<Option<WidgetCaller>> {
        let Some(app) = widget_app::Entity::find_by_id(app_id.to_owned())
            .filter(widget_app::Column::ProjectId.eq(project_id))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(end_user) = widget_end_user::Entity::find_by_id(end_user_row.to_owned())
            .filter(widget_end_user::Column::AppId.eq(app_id))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(project) = project::Entity::find_by_id(project_id.to_owned())
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(WidgetCaller {
            app,
            end_user,
            org_id: project.org_id,
            expires_at,
        }))
    }

    /// A widget caller as the store sees them now: `None` once the app is gone or the token
    /// has run out.
    pub(super) async fn refresh_widget(&self, w: &WidgetCaller) -> Result<Option<Caller>> {
        if w.expires_at <= Utc::now() {
            return Ok(None);
        }
        Ok(self
            .widget_caller(&w.app.id, &w.app.project_id, &w.end_user.id, w.expires_at)
            .await?
            .map(Caller::Widget))
    }

    /// A widget request must come from a page on one of its app's origins. Sigmic's own
    /// pages (the Console's preview) count as allowed; a request saying nothing of where it
    /// comes from does not.
    fn origin_allowed(&self, app: &widget_app::Model, headers: &HeaderMap) -> bool {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(origin) = text("origin") else {
            // Browsers leave `Origin` out of same-origin GETs; they always say which they are.
            return text("sec-fetch-site") == Some("same-origin");
        };
        if self.is_own_origin(origin, text("host")) {
            return true;
        }
        let rules: Vec<String> = serde_json::from_str(&app.allowed_origins).unwrap_or_default();
        origins::any_allows(&rules, origin)
    }

    fn is_own_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let public = url::Url::parse(&self.config().public_url())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if origin == public {
            return true;
        }
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return false,
        };
        host.is_some_and(|h| h.eq_ignore_ascii_case(&authority))
    }

    /// Whether any widget app allows `origin`: what a CORS preflight (which carries no token)
    /// is answered by. The request itself is then checked against its own app.
    pub async fn widget_origin_known(&self, origin: &str) -> Result<bool> {
        let cached = self
            .widget()
            .origins
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| at.elapsed() < ORIGINS_CACHE);
        let rules = match cached {
            Some((_, rules)) => rules,
            None => {
                let mut rules = Vec::new();
                for app in widget_app::Entity::find().all(self.db()).await? {
                    let mine: Vec<String> =
                        serde_json::from_str(&app.allowed_origins).unwrap_or_default();
                    rules.extend(mine);
                }
                rules.sort();
                rules.dedup();
                if let Ok(mut cache) = self.widget().origins.lock() {
                    *cache = Some((Instant::now(), rules.clone()));
                }
                rules
            }
        };
        Ok(origins::any_allows(&rules, origin))
    }

    /// Someone changed an app's origins (or added or removed an app).
    pub(super) fn widget_origins_changed(&self) {
        if let Ok(mut cache) = self.widget().origins.lock() {
            *cache = None;
        }
    }

    /// `GET /api/v1/widget/session`: what the widget draws itself with.
    pub async fn widget_session(&self, caller: &Caller) -> Result<WidgetSession> {
        let Caller::Widget(w) = caller else {
            return Err(ApiError::forbidden(
                "This is the widget's own endpoint: call it with a widget token.",
            )
            .into());
        };
        Ok(WidgetSession {
            app_id: w.app.id.clone(),
            name: w.app.name.clone(),
            look: serde_json::from_str(&w.app.look).unwrap_or_default(),
            end_user_id: w.end_user.external_id.clone(),
            expires_at: ts(w.expires_at),
        })
    }
}
