//! The error every Sigmic surface speaks: the `error` object of the API envelope. The Console's
//! server functions carry it too (wrapped in `app`), so a rule's message reads the same
//! everywhere.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The wire codes of `API.md`. Adding one is a contract change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    AuthRequired,
    InvalidAuthFormat,
    InvalidApiKey,
    InvalidToken,
    Forbidden,
    OriginNotAllowed,
    NotFound,
    ValidationError,
    PayloadTooLarge,
    RateLimited,
    MissingCredentials,
    MissingEndUserId,
    InvalidCredentials,
    InvalidExpiresIn,
    InvalidEnv,
    JwtNotConfigured,
    InternalError,
    Unavailable,
    /// (extension) The request does not fit the thing's current state: approving a call that
    /// is not waiting, cancelling a finished task.
    Conflict,
    /// (extension) The path exists, but not with this method.
    MethodNotAllowed,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            Self::AuthRequired
            | Self::InvalidAuthFormat
            | Self::InvalidApiKey
            | Self::InvalidToken
            | Self::InvalidCredentials => 401,
            Self::Forbidden | Self::OriginNotAllowed => 403,
            Self::NotFound => 404,
            Self::ValidationError
            | Self::MissingCredentials
            | Self::MissingEndUserId
            | Self::InvalidExpiresIn
            | Self::InvalidEnv => 400,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::JwtNotConfigured => 501,
            Self::InternalError => 500,
            Self::Unavailable => 503,
            Self::Conflict => 409,
            Self::MethodNotAllowed => 405,
        }
    }
}

/// `{code, message, fields?}`. `fields` names the request fields that were wrong, so forms can
/// show each message next to its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Seconds a rate-limited caller should wait; sent as `Retry-After`, not in the body.
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after_secs: None,
        }
    }

    pub fn auth_required() -> Self {
        Self::new(
            ErrorCode::AuthRequired,
            "Sign in, or send an API key as `Authorization: Bearer sigmic_…` or `X-API-Key`.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found."))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// A valid request the current state refuses (the last admin, a taken address), naming
    /// the field it concerns.
    pub fn conflict_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut err = Self::new(ErrorCode::Conflict, message.clone());
        err.fields.insert(field.to_owned(), message);
        err
    }

    pub fn invalid_credentials() -> Self {
        Self::new(
            ErrorCode::InvalidCredentials,
            "The email or password is incorrect.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "Something went wrong on our side. It has been logged; please try again.",
        )
    }

    /// One field was wrong.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut err = Self::new(ErrorCode::ValidationError, message.clone());
        err.fields.insert(field.to_owned(), message);
        err
    }

    /// Several fields were wrong; the summary names them.
    pub fn fields(fields: BTreeMap<String, String>) -> Self {
        let summary = fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            code: ErrorCode::ValidationError,
            message: summary,
            fields,
            retry_after_secs: None,
        }
    }

    pub fn field_message(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// Collects field errors while validating a form, so all of them are reported at once.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }

    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.0))
        }
    }
}
