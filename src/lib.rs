//! Sigmic: a self-hostable platform that runs AI agents for organizations.
//!
//! `sigmic` is the server: configuration, the HTTP edge (`http`, `api`), the rules (`services`)
//! and the database (`store`). The pages live in the `app` crate, which reaches the services
//! through the port `console` implements.
// Server rendering instantiates the Chat UI's deeply nested view types here too.
#![recursion_limit = "256"]

pub mod api;
pub mod bench;
pub mod config;
pub mod console;
pub mod egress;
pub mod error;
pub mod http;
pub mod ids;
pub mod ledger;
pub mod llm;
pub mod mcp;
pub mod models;
pub mod policy;
pub mod project_secrets;
pub mod rfc3339;
pub mod routes;
pub mod runtime;
pub mod sandbox;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod services;
pub mod site;
pub mod skills;
pub mod store;
pub mod subagents;
pub mod tools;
pub mod vault;
pub mod web;
pub mod widget;
pub mod workspace;
