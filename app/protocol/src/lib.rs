//! Sigmic's public wire contract (API.md), defined once for the server and every client of it
//! (the Console, the Chat UI, the widget): the envelope and pagination, every request and
//! answer, the stream's events with enums for their statuses and codes, and the error codes
//! with their HTTP statuses. Field names are the contract: renaming one breaks programs
//! written against the hosted service.
//!
//! Serde only. The server turns on `openapi` to derive the schemas of its OpenAPI document.
//! Timestamps are RFC 3339 strings, so a browser bundle needs no date library.

pub mod account;
pub mod envelope;
pub mod error;
pub mod mcp;
pub mod models;
pub mod policy;
pub mod schedule;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod skills;
pub mod stream;
pub mod task;
pub mod usage;
pub mod widget;

pub use account::*;
pub use envelope::{Answer, Done, Envelope, ErrorEnvelope, Paged, Pagination};
pub use error::{ApiError, ErrorCode, FieldErrors};
pub use mcp::*;
pub use models::*;
