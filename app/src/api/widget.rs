//! Server functions of a project's widget apps: the list, the create and edit forms, rotating
//! a secret, and the short-lived token the Console's live preview runs the widget with.
// A form's server function takes one argument per input (`ActionForm` posts them flat), and
// the macro's browser half drops an `allow` written on the function.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use protocol::widget::{IssuedToken, WidgetApp, WidgetAppWithSecret};

use crate::error::ServerError;

#[cfg(feature = "ssr")]
use crate::backend::current;
#[cfg(feature = "ssr")]
use protocol::widget::{LauncherPosition, RotateSecret, WidgetAppInput, WidgetLook, WidgetTheme};
#[cfg(feature = "ssr")]
use protocol::{self as dto};

/// The fields the form shows an error under; the API's other names are folded onto these
/// (see `onto_form_fields`), so no message is lost.
pub const WIDGET_FIELDS: [&str; 8] = [
    "name",
    "allowedOrigins",
    "title",
    "greeting",
    "accentColor",
    "theme",
    "position",
    "suggestions",
];

#[server(prefix = "/_console")]
pub async fn get_widget_apps(project_id: String) -> Result<Vec<WidgetApp>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.widget_apps(&ctx, project_id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_widget_app(project_id: String, app_id: String) -> Result<WidgetApp, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.widget_app(&ctx, project_id, app_id).await?)
}

/// The server's public address, for the snippets drawn on the server; the browser replaces it
/// with the address the Console is actually open at.
#[server(prefix = "/_console")]
pub async fn get_public_url() -> Result<String, ServerError> {
    let (b, _) = current()?;
    Ok(b.public_url())
}

/// Creates an app from the form: origins and suggestions one per line.
#[server(prefix = "/_console")]
pub async fn create_widget_app(
    project_id: String,
    name: String,
    allowed_origins: String,
    title: String,
    greeting: String,
    accent_color: String,
    theme: String,
    position: String,
    suggestions: String,
) -> Result<WidgetAppWithSecret, ServerError> {
    let (b, ctx) = current()?;
    let input = form_input(
        name,
        &allowed_origins,
        title,
        greeting,
        accent_color,
        &theme,
        &position,
        &suggestions,
    )?;
    b.create_widget_app(&ctx, project_id, input)
        .await
        .map_err(onto_form_fields)
}

/// Saves the edit form: every field is sent, so the app becomes what the form shows.
#[server(prefix = "/_console")]
pub async fn update_widget_app(
    project_id: String,
    app_id: String,
    name: String,
    allowed_origins: String,
    title: String,
    greeting: String,
    accent_color: String,
    theme: String,
    position: String,
    suggestions: String,
) -> Result<WidgetApp, ServerError> {
    let (b, ctx) = current()?;
    let input = form_input(
        name,
        &allowed_origins,
        title,
        greeting,
        accent_color,
        &theme,
        &position,
        &suggestions,
    )?;
    b.update_widget_app(&ctx, project_id, app_id, input)
        .await
        .map_err(onto_form_fields)
}

#[server(prefix = "/_console")]
pub async fn delete_widget_app(project_id: String, app_id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_widget_app(&ctx, project_id, app_id).await?)
}

/// A new secret; the old one keeps working for `overlap_minutes` (the API's default when
/// empty).
#[server(prefix = "/_console")]
pub async fn rotate_widget_secret(
    project_id: String,
    app_id: String,
    overlap_minutes: Option<String>,
) -> Result<WidgetAppWithSecret, ServerError> {
    let (b, ctx) = current()?;
    let overlap_minutes = match overlap_minutes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            ServerError(dto::ApiError::field(
                "overlapMinutes",
                "Give a whole number of minutes, from 0 (the old secret stops at once) to 10080 (a week).",
            ))
        })?),
    };
    Ok(
        b.rotate_widget_secret(&ctx, project_id, app_id, RotateSecret { overlap_minutes })
            .await?,
    )
}

/// A token for the live preview, acting as the signed-in person (`console:<user id>`).
#[server(prefix = "/_console")]
pub async fn widget_preview_token(
    project_id: String,
    app_id: String,
) -> Result<IssuedToken, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.widget_preview_token(&ctx, project_id, app_id).await?)
}

/// Non-empty trimmed lines of a textarea.
#[cfg(feature = "ssr")]
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(feature = "ssr")]
fn form_input(
    name: String,
    allowed_origins: &str,
    title: String,
    greeting: String,
    accent_color: String,
    theme: &str,
    position: &str,
    suggestions: &str,
) -> Result<WidgetAppInput, ServerError> {
    // The enums' wire names are the select's values, so serde reads them as the API does.
    let theme: WidgetTheme = serde_json::from_value(serde_json::Value::String(theme.to_owned()))
        .map_err(|_| ServerError(dto::ApiError::field("theme", "Choose light, dark or auto.")))?;
    let position: LauncherPosition =
        serde_json::from_value(serde_json::Value::String(position.to_owned())).map_err(|_| {
            ServerError(dto::ApiError::field(
                "position",
                "Choose bottom right or bottom left.",
            ))
        })?;
    Ok(WidgetAppInput {
        name: Some(name.trim().to_owned()),
        allowed_origins: Some(lines(allowed_origins)),
        look: Some(WidgetLook {
            title: title.trim().to_owned(),
            greeting: greeting.trim().to_owned(),
            accent_color: accent_color.trim().to_owned(),
            theme,
            position,
            suggestions: lines(suggestions),
        }),
    })
}

/// The API names fields by their JSON path (`look.accentColor`, `allowedOrigins[2]`); the
/// form has one input for each, so each message goes under its input, naming the line when
/// the API did. Whatever matches no input goes under the name, the form's first field.
#[cfg(feature = "ssr")]
fn onto_form_fields(mut e: dto::ApiError) -> ServerError {
    let fields = std::mem::take(&mut e.fields);
    for (key, message) in fields {
        let path = key.strip_prefix("look.").unwrap_or(&key);
        let (head, rest) = path.split_at(path.find(['.', '[']).unwrap_or(path.len()));
        let (target, message) = if WIDGET_FIELDS.contains(&head) {
            let line = rest
                .trim_matches(|c| c == '.' || c == '[' || c == ']')
                .parse::<usize>()
                .ok();
            match line {
                Some(i) => (head.to_owned(), format!("Line {}: {message}", i + 1)),
                None => (head.to_owned(), message),
            }
        } else {
            ("name".to_owned(), format!("{key}: {message}"))
        };
        e.fields
            .entry(target)
            .and_modify(|m| {
                m.push(' ');
                m.push_str(&message);
            })
            .or_insert(message);
    }
    ServerError(e)
}
