//! A project's widget apps (API.md, "Widget"): people in the project read them, project
//! admins create, change, rotate and delete them. The secret is shown once and stored only as
//! a hash; a rotation keeps the old one working for an overlap so a live site does not break.

use chrono::{Duration, Utc};
use protocol::widget::{
    IssuedToken, RotateSecret, WidgetApp, WidgetAppInput, WidgetAppWithSecret, WidgetLook,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::Services;
use super::access::{Caller, ProjectScope};
use super::validate;
use crate::error::{ApiError, Error, Result};
use crate::rfc3339::ts;
use crate::secrets;
use crate::store::entities::{widget_app, widget_end_user};
use crate::widget::origins::{MAX_ORIGINS, OriginRule};
use crate::widget::{new_app_id, new_app_secret};

/// Widget apps per project.
const MAX_APPS: usize = 20;
const DEFAULT_OVERLAP_MINUTES: u32 = 60;
const MAX_OVERLAP_MINUTES: u32 = 7 * 24 * 60;
/// The Console's live preview: short, and refreshed by the page when it runs out.
const PREVIEW_TTL_MINUTES: i64 = 15;

pub(super) fn app_dto(row: &widget_app::Model) -> WidgetApp {
    let now = Utc::now();
    WidgetApp {
        app_id: row.id.clone(),
        project_id: row.project_id.clone(),
        name: row.name.clone(),
        allowed_origins: serde_json::from_str(&row.allowed_origins).unwrap_or_default(),
        look: serde_json::from_str(&row.look).unwrap_or_default(),
        previous_secret_expires_at: row
            .previous_secret_expires_at
            .filter(|t| *t > now && row.previous_secret_hash.is_some())
            .map(ts),
        created_at: ts(row.created_at),
        updated_at: ts(row.updated_at),
    }
}

/// Origins as admins write them, normalised as browsers send them.
fn check_origins(origins: &[String]) -> Result<Vec<String>, ApiError> {
    if origins.len() > MAX_ORIGINS {
        return Err(ApiError::field(
            "allowedOrigins",
            format!("At most {MAX_ORIGINS} origins are allowed."),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for origin in origins.iter().filter(|o| !o.trim().is_empty()) {
        let rule = OriginRule::parse(origin).map_err(|m| ApiError::field("allowedOrigins", m))?;
        let text = rule.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}

fn check_look(look: WidgetLook) -> Result<WidgetLook, ApiError> {
    let mut errors = protocol::FieldErrors::default();
    let title = validate::name(&look.title, 80, "The title").unwrap_or_else(|m| {
        errors.add("look.title", m);
        String::new()
    });
    let greeting = look.greeting.trim().to_owned();
    errors.check(
        greeting.chars().count() <= 500,
        "look.greeting",
        "The greeting must be at most 500 characters.",
    );
    let accent = look.accent_color.trim().to_ascii_lowercase();
    errors.check(
        accent.len() == 7
            && accent.starts_with('#')
            && accent[1..].chars().all(|c| c.is_ascii_hexdigit()),
        "look.accentColor",
        "The accent colour must be written #rrggbb, like #4f46e5.",
    );
    let suggestions: Vec<String> = look
        .suggestions
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    errors.check(
        suggestions.len() <= 4,
        "look.suggestions",
        "At most 4 suggested messages are allowed.",
    );
    errors.check(
        suggestions
            .iter()
            .all(|s| s.chars().count() <= 120 && !s.chars().any(char::is_control)),
        "look.suggestions",
        "Each suggested message must be one line of at most 120 characters.",
    );
    errors.into_result()?;
    Ok(WidgetLook {
        title,
        greeting,
        accent_color: accent,
        theme: look.theme,
        position: look.position,
        suggestions,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|_| Error::Api(ApiError::internal()))
}

impl Services {
    /// The project's widget apps, for people in it (keys and widgets do not manage projects).
    pub async fn widget_apps(&self, caller: &Caller, project_id: &str) -> Result<Vec<WidgetApp>> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        let rows = widget_app::Entity::find()
            .filter(widget_app::Column::ProjectId.eq(scope.project_id()))
            .order_by_asc(widget_app::Column::CreatedAt)
            .all(self.db())
            .await?;
        Ok(rows.iter().map(app_dto).collect())
    }

    pub async fn widget_app(
        &self,
        caller: &Caller,
        project_id: &str,
        app_id: &str,
    ) -> Result<WidgetApp> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_person()?;
        Ok(app_dto(&self.app_row(&scope, app_id).await?))
    }

    async fn app_row(&self, scope: &ProjectScope, app_id: &str) -> Result<widget_app::Model> {
        Ok(widget_app::Entity::find_by_id(app_id.to_owned())
            .filter(widget_app::Column::ProjectId.eq(scope.project_id()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Widget app"))?)
    }

    pub async fn create_widget_app(
        &self,
        caller: &Caller,
        project_id: &str,
        input: WidgetAppInput,
    ) -> Result<WidgetAppWithSecret> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        let name = validate::name(input.name.as_deref().unwrap_or_default(), 100, "The name")
            .map_err(|m| ApiError::field("name", m))?;
        let origins = check_origins(&input.allowed_origins.unwrap_or_default())?;
        let look = check_look(input.look.unwrap_or_default())?;
        let count = widget_app::Entity::find()
            .filter(widget_app::Column::ProjectId.eq(scope.project_id()))
            .all(self.db())
            .await?
            .len();
        if count >= MAX_APPS {
            return Err(ApiError::field(
                "name",
                format!("A project has at most {MAX_APPS} widget apps; delete one first."),
            )
            .into());
        }
        let secret = new_app_secret()?;
        let now = Utc::now();
        let row = widget_app::ActiveModel {
            id: Set(new_app_id()?),
            project_id: Set(scope.project_id().to_owned()),
            name: Set(name),
            secret_hash: Set(secrets::sha256_hex(&secret)),
            previous_secret_hash: Set(None),
            previous_secret_expires_at: Set(None),
            allowed_origins: Set(to_json(&origins)?),
            look: Set(to_json(&look)?),
            created_by: Set(user_id),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await?;
        self.widget_origins_changed();
        Ok(WidgetAppWithSecret {
            app: app_dto(&row),
            app_secret: secret,
        })
    }

    /// Changes what the input names; the rest stays.
    pub async fn update_widget_app(
        &self,
        caller: &Caller,
        project_id: &str,
        app_id: &str,
        input: WidgetAppInput,
    ) -> Result<WidgetApp> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.app_row(&scope, app_id).await?;
        let mut active: widget_app::ActiveModel = row.into();
        if let Some(name) = input.name {
            active.name =
                Set(validate::name(&name, 100, "The name")
                    .map_err(|m| ApiError::field("name", m))?);
        }
        if let Some(origins) = input.allowed_origins {
            active.allowed_origins = Set(to_json(&check_origins(&origins)?)?);
        }
        if let Some(look) = input.look {
            active.look = Set(to_json(&check_look(look)?)?);
        }
        active.updated_at = Set(Utc::now());
        let row = active.update(self.db()).await?;
        self.widget_origins_changed();
        Ok(app_dto(&row))
    }

    /// Deletes the app and its end users' stored values; its tokens stop working at once.
    /// Their conversations stay in the project, for its admins.
    pub async fn delete_widget_app(
        &self,
        caller: &Caller,
        project_id: &str,
        app_id: &str,
    ) -> Result<()> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let row = self.app_row(&scope, app_id).await?;
        let id = row.id.clone();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    widget_end_user::Entity::delete_many()
                        .filter(widget_end_user::Column::AppId.eq(id.clone()))
                        .exec(txn)
                        .await?;
                    widget_app::Entity::delete_by_id(id).exec(txn).await?;
                    Ok(())
                })
            })
            .await
            .map_err(Error::from)?;
        self.widget_origins_changed();
        self.access_changed(crate::services::access::EVERYONE);
        Ok(())
    }

    /// A new secret, shown once; the old one keeps working for the overlap.
    pub async fn rotate_widget_secret(
        &self,
        caller: &Caller,
        project_id: &str,
        app_id: &str,
        input: RotateSecret,
    ) -> Result<WidgetAppWithSecret> {
        let scope = self.project_scope(caller, project_id).await?;
        scope.require_admin()?;
        let overlap = input.overlap_minutes.unwrap_or(DEFAULT_OVERLAP_MINUTES);
        if overlap > MAX_OVERLAP_MINUTES {
            return Err(ApiError::field(
                "overlapMinutes",
                format!("The overlap is at most {MAX_OVERLAP_MINUTES} minutes (a week)."),
            )
            .into());
        }
        let row = self.app_row(&scope, app_id).await?;
        let secret = new_app_secret()?;
        let now = Utc::now();
        let old_hash = row.secret_hash.clone();
        let mut active: widget_app::ActiveModel = row.into();
        active.secret_hash = Set(secrets::sha256_hex(&secret));
        active.previous_secret_hash = Set((overlap > 0).then_some(old_hash));
        active.previous_secret_expires_at =
            Set((overlap > 0).then(|| now + Duration::minutes(i64::from(overlap))));
        active.updated_at = Set(now);
        let row = active.update(self.db()).await?;
        Ok(WidgetAppWithSecret {
            app: app_dto(&row),
            app_secret: secret,
        })
    }

    /// A short-lived token for the Console's live preview, acting as the end user
    /// `console:<user id>` of the app, so an admin sees the widget as visitors will.
    pub async fn widget_preview_token(
        &self,
        caller: &Caller,
        project_id: &str,
        app_id: &str,
    ) -> Result<IssuedToken> {
        let scope = self.project_scope(caller, project_id).await?;
        let user_id = scope.require_admin()?.to_owned();
        let row = self.app_row(&scope, app_id).await?;
        self.issue_widget_token(
            &row,
            &format!("console:{user_id}"),
            Default::default(),
            Duration::minutes(PREVIEW_TTL_MINUTES),
        )
        .await
    }
}

/// Drops the end users of every app of a deleted project (its apps go in the same
/// transaction, by the caller).
pub(super) async fn delete_for_project<C: sea_orm::ConnectionTrait>(
    txn: &C,
    project_id: &str,
) -> std::result::Result<(), sea_orm::DbErr> {
    let apps: Vec<String> = widget_app::Entity::find()
        .filter(widget_app::Column::ProjectId.eq(project_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    widget_end_user::Entity::delete_many()
        .filter(widget_end_user::Column::AppId.is_in(apps))
        .exec(txn)
        .await?;
    widget_app::Entity::delete_many()
        .filter(widget_app::Column::ProjectId.eq(project_id))
        .exec(txn)
        .await?;
    Ok(())
}
