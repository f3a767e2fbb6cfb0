//! The embeddable widget's server side, apart from the services that apply its rules: which
//! origins may embed an app, the tokens it acts with, and the env and secrets a customer's
//! backend gives for each end user (sealed by the vault, never in the clear at rest).

pub mod origins;
pub mod token;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runtime::secrets::SecretValues;
use crate::secrets::{RandomError, random_hex};
use crate::vault::{Vault, VaultError};

/// `appId`s start with this; secrets with `SECRET_PREFIX`, so neither is mistaken for an API
/// key (`sigmic_…`) in a log or a leaked-credential scan.
pub const APP_ID_PREFIX: &str = "wa_";
pub const SECRET_PREFIX: &str = "was_";
/// The longest `endUserId` kept.
pub const END_USER_ID_MAX: usize = 256;

pub fn new_app_id() -> Result<String, RandomError> {
    Ok(format!("{APP_ID_PREFIX}{}", random_hex(12)?))
}

pub fn new_app_secret() -> Result<String, RandomError> {
    Ok(format!("{SECRET_PREFIX}{}", random_hex(32)?))
}

/// An end user's env and secrets, as the last token exchange gave them.
#[derive(Default, Serialize, Deserialize)]
pub struct EndUserValues {
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

// Secrets are never printed, whatever logs a value of this type.
impl std::fmt::Debug for EndUserValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndUserValues")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What the vault binds an end user's sealed values to: their row.
fn vault_owner(end_user_row: &str) -> String {
    format!("widget-end-user:{end_user_row}")
}

impl EndUserValues {
    pub fn seal(&self, vault: &Vault, end_user_row: &str) -> Result<String, VaultError> {
        let json = serde_json::to_vec(self).map_err(|_| VaultError::Seal)?;
        vault.seal(&vault_owner(end_user_row), &json)
    }

    pub fn open(vault: &Vault, end_user_row: &str, sealed: &str) -> Result<Self, VaultError> {
        let json = vault.open(&vault_owner(end_user_row), sealed)?;
        serde_json::from_slice(&json).map_err(|_| VaultError::Open)
    }

    pub fn into_parts(self) -> (BTreeMap<String, String>, SecretValues) {
        (self.env, SecretValues::new(self.secrets))
    }
}

/// The env and secrets the last token exchange gave for an end user (`widget_end_users.id`),
/// for a run of their task; nothing once their app was deleted.
pub async fn end_user_values(
    db: &crate::store::Db,
    vault: &Vault,
    end_user_row: &str,
) -> Result<EndUserValues, EndUserValuesError> {
    use sea_orm::EntityTrait;
    let Some(row) = crate::store::entities::widget_end_user::Entity::find_by_id(end_user_row)
        .one(db)
        .await?
    else {
        return Ok(EndUserValues::default());
    };
    Ok(EndUserValues::open(vault, &row.id, &row.sealed)?)
}

#[derive(Debug, thiserror::Error)]
pub enum EndUserValuesError {
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Vault(#[from] VaultError),
}
