pub mod auth;
pub mod chat;
pub mod docs;
pub mod layout;
pub mod mcp;
pub mod network;
pub mod org;
pub mod projects;
