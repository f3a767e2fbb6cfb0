//! sea-orm entities, one module per table of `migrations/`, in files by domain. Relations are
//! left out on purpose: queries join explicitly so every one shows the scope it filters by.

use sea_orm::entity::prelude::*;

mod accounts;
mod config;
mod models;
mod schedules;
mod tasks;
mod usage;
mod widget;

pub use accounts::*;
pub use config::*;
pub use models::*;
pub use schedules::*;
pub use tasks::*;
pub use usage::*;
pub use widget::*;

/// A role in an organization or a project, stored as `admin` / `member`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Role {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "member")]
    Member,
}

impl From<Role> for protocol::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
        }
    }
}

impl From<protocol::Role> for Role {
    fn from(r: protocol::Role) -> Self {
        match r {
            protocol::Role::Admin => Self::Admin,
            protocol::Role::Member => Self::Member,
        }
    }
}
