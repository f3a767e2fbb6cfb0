//! The envelope every answer comes in (API.md, "Envelope and errors"), and the page of a list.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `{"success": true, "data": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope<T> {
    pub success: bool,
    pub data: T,
}

impl<T> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self {
            success: true,
            data,
        }
    }
}

/// `{"success": false, "error": {code, message, fields?}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    pub success: bool,
    pub error: ApiError,
}

impl ErrorEnvelope {
    pub fn new(error: ApiError) -> Self {
        Self {
            success: false,
            error,
        }
    }
}

/// A list answer: `{success, data, pagination}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Paged<T> {
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// `pagination` of list answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    pub has_more: bool,
}

impl Pagination {
    pub fn new(total: u64, limit: u64, offset: u64) -> Self {
        Self {
            total,
            limit,
            offset,
            has_more: offset.saturating_add(limit) < total,
        }
    }
}

/// Any answer as a client reads it: `data` (with `pagination` for lists) or `error`.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer<T> {
    pub data: Option<T>,
    pub error: Option<ApiError>,
    pub pagination: Option<Pagination>,
}

/// Small answers to deletions and the like: the one flag that says what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Done {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_out: Option<bool>,
}

impl Done {
    pub fn removed() -> Self {
        Self {
            removed: Some(true),
            ..Self::default()
        }
    }
    pub fn revoked() -> Self {
        Self {
            revoked: Some(true),
            ..Self::default()
        }
    }
    pub fn deleted() -> Self {
        Self {
            deleted: Some(true),
            ..Self::default()
        }
    }
    pub fn logged_out() -> Self {
        Self {
            logged_out: Some(true),
            ..Self::default()
        }
    }
}
