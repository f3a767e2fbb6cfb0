//! The embeddable widget (API.md, "Widget"): widget apps as project admins manage them, the
//! token exchange a customer's backend calls, and what the widget itself reads about its app.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/auth/token`. Fields are read loosely (any JSON) so that each missing or
/// malformed one answers its own error code rather than a generic validation error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// The widget app's public id (`wa_…`).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub app_id: Option<Value>,
    /// The app's secret (`was_…`), from the customer's backend only, never a web page.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub app_secret: Option<Value>,
    /// The customer's id for the visitor (at most 256 characters); their conversations are
    /// theirs alone.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub end_user_id: Option<Value>,
    /// Variables for this end user's tasks; replaces what an earlier exchange set.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
    pub env: Option<Value>,
    /// Like `env`, but encrypted at rest and never stored in the clear, logged, streamed or
    /// returned.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::env_object))]
    pub secrets: Option<Value>,
    /// How long the token lasts: `"30m"`, `"1h"`, `"7d"` (or seconds as a number); one hour
    /// when left out, at most the server's maximum (24 hours by default).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "1h"))]
    pub expires_in: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// A JWT for `Authorization: Bearer …`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Light, dark, or whatever the visitor's system prefers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WidgetTheme {
    Light,
    Dark,
    #[default]
    Auto,
}

/// Which bottom corner the launcher sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum LauncherPosition {
    #[default]
    BottomRight,
    BottomLeft,
}

/// How the widget looks; the page's `window.sigmicSettings` may override each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct WidgetLook {
    /// The panel's heading (at most 80 characters).
    pub title: String,
    /// The first thing the visitor reads (at most 500 characters).
    pub greeting: String,
    /// `#rrggbb`.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^#[0-9a-fA-F]{6}(?![\s\S])"))]
    pub accent_color: String,
    pub theme: WidgetTheme,
    pub position: LauncherPosition,
    /// Messages offered as buttons before the first one is sent (at most 4, 120 characters
    /// each).
    pub suggestions: Vec<String>,
}

impl Default for WidgetLook {
    fn default() -> Self {
        Self {
            title: "Assistant".to_owned(),
            greeting: "Hi! How can I help?".to_owned(),
            accent_color: "#4f46e5".to_owned(),
            theme: WidgetTheme::Auto,
            position: LauncherPosition::BottomRight,
            suggestions: Vec::new(),
        }
    }
}

/// Creating a widget app, or (every field optional) changing one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WidgetAppInput {
    /// At most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Exact origins (`https://shop.example.com`, `http://localhost:8080`) or one wildcard
    /// label (`https://*.example.com`); at most 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<WidgetLook>,
}

/// A widget app as stored; its secret is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WidgetApp {
    pub app_id: String,
    pub project_id: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub look: WidgetLook,
    /// Until when the secret before the last rotation still works (RFC 3339), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A new app or a rotated secret: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WidgetAppWithSecret {
    #[serde(flatten)]
    pub app: WidgetApp,
    /// Shown once: store it in the backend that calls the token exchange.
    pub app_secret: String,
}

/// `POST …/widget-apps/{appId}/rotate-secret`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RotateSecret {
    /// How long the old secret keeps working, so a live site's backend can switch over
    /// (60 by default, at most 10080: a week; 0 ends it at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_minutes: Option<u32>,
}

/// `GET /api/v1/widget/session`: what the widget needs to draw itself, for its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WidgetSession {
    pub app_id: String,
    pub name: String,
    pub look: WidgetLook,
    /// The end user the token acts as (the customer's id for them).
    pub end_user_id: String,
    /// RFC 3339: when the token ends.
    pub expires_at: String,
}
