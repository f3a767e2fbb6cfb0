//! Server functions of the organization's model connections (Organization → Model providers)
//! and of the model a project uses (its settings' Model tab, the Chat UI's banner and menu).

use leptos::prelude::*;
use protocol::{ModelProvider, ModelProviderTest, ProjectModels, ProjectSettings};

use crate::error::ServerError;

#[cfg(feature = "ssr")]
use crate::backend::current;
#[cfg(feature = "ssr")]
use protocol::{self as dto, ModelProviderInput, ModelProviderKind, ModelProviderUpdate};

/// The edit form's field names: the API's with an `edit` prefix, so that its errors have ids
/// of their own beside the "Connect a provider" form's on the same page.
pub const EDIT_FIELDS: [(&str, &str); 3] = [
    ("name", "editName"),
    ("baseUrl", "editBaseUrl"),
    ("apiKey", "editApiKey"),
];

#[server(prefix = "/_console")]
pub async fn get_model_providers() -> Result<Vec<ModelProvider>, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.model_providers(&ctx).await?)
}

/// "Connect a provider". Empty URL and key are left out: the provider's own URL, no key.
#[server(prefix = "/_console")]
pub async fn connect_model_provider(
    name: String,
    kind: String,
    base_url: String,
    api_key: String,
) -> Result<ModelProvider, ServerError> {
    let (b, ctx) = current()?;
    let kind = ModelProviderKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| ServerError(dto::ApiError::field("kind", "Choose a kind of provider.")))?;
    let input = ModelProviderInput {
        name,
        kind,
        base_url: Some(base_url).filter(|u| !u.trim().is_empty()),
        api_key: Some(api_key).filter(|k| !k.trim().is_empty()),
    };
    Ok(b.create_model_provider(&ctx, input).await?)
}

/// Saves a connection's edit form. An empty key field keeps the stored key (it is never shown,
/// so the field starts empty); `remove_key` (a ticked checkbox) drops it; an empty URL goes
/// back to the provider's own.
#[server(prefix = "/_console")]
pub async fn edit_model_provider(
    id: String,
    name: String,
    base_url: String,
    api_key: String,
    remove_key: Option<String>,
) -> Result<ModelProvider, ServerError> {
    let (b, ctx) = current()?;
    let api_key = if remove_key.is_some() {
        Some(String::new())
    } else {
        Some(api_key).filter(|k| !k.trim().is_empty())
    };
    let update = ModelProviderUpdate {
        name: Some(name),
        base_url: Some(base_url.trim().to_owned()),
        api_key,
    };
    b.update_model_provider(&ctx, id, update)
        .await
        .map_err(|mut e| {
            for (api, form) in EDIT_FIELDS {
                if let Some(message) = e.fields.remove(api) {
                    e.fields.insert(form.to_owned(), message);
                }
            }
            ServerError(e)
        })
}

#[server(prefix = "/_console")]
pub async fn remove_model_provider(id: String) -> Result<(), ServerError> {
    let (b, ctx) = current()?;
    Ok(b.delete_model_provider(&ctx, id).await?)
}

/// Calls the provider: whether the URL and key work, and the models it offers.
#[server(prefix = "/_console")]
pub async fn check_model_provider(id: String) -> Result<ModelProviderTest, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.test_model_provider(&ctx, id).await?)
}

#[server(prefix = "/_console")]
pub async fn get_project_models(project_id: String) -> Result<ProjectModels, ServerError> {
    let (b, ctx) = current()?;
    Ok(b.project_models(&ctx, project_id).await?)
}

/// The Model tab: a model picked from the list, or typed (`custom_model`, which wins when
/// filled), and whether a conversation may pick another. The other settings stay as they are.
#[server(prefix = "/_console")]
pub async fn set_project_model(
    project_id: String,
    model: String,
    custom_model: String,
    allow_model_choice: Option<String>,
) -> Result<ProjectSettings, ServerError> {
    let (b, ctx) = current()?;
    let typed = custom_model.trim();
    let model = if typed.is_empty() {
        model.trim().to_owned()
    } else {
        typed.to_owned()
    };
    let current = b.project_settings(&ctx, project_id.clone()).await?;
    let settings = dto::ProjectSettings {
        model: Some(model).filter(|m| !m.is_empty()),
        allow_model_choice: allow_model_choice.is_some(),
        ..current
    };
    Ok(b.update_project_settings(&ctx, project_id, settings)
        .await?)
}
