//! A project's rules as the database keeps them, and the compiled set each run checks calls
//! against: compiled again only when a rule or the mode changed, so a step costs one small
//! query, not 200 CEL compilations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::policy::{Decision, PolicyMode, ToolPolicy};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::{PolicySet, Rule};
use crate::rfc3339::ts;
use crate::store::Db;
use crate::store::entities::{project, tool_policy};

/// A project's rules, oldest first (the order people wrote them in).
pub async fn rows(db: &Db, project_id: &str) -> Result<Vec<tool_policy::Model>, DbErr> {
    tool_policy::Entity::find()
        .filter(tool_policy::Column::ProjectId.eq(project_id))
        .order_by_asc(tool_policy::Column::CreatedAt)
        .order_by_asc(tool_policy::Column::Id)
        .all(db)
        .await
}

pub fn decision_of(row: &tool_policy::Model) -> Decision {
    // Saved through `Decision::as_str`; anything else is the strictest reading.
    Decision::parse(&row.decision).unwrap_or(Decision::Deny)
}

pub fn to_dto(row: &tool_policy::Model) -> ToolPolicy {
    ToolPolicy {
        id: row.id.clone(),
        tool: row.tool.clone(),
        decision: decision_of(row),
        condition: row.condition.clone(),
        note: row.note.clone(),
        created_at: ts(row.created_at),
        updated_at: ts(row.updated_at),
    }
}

pub fn compile(rows: &[tool_policy::Model], mode: PolicyMode) -> PolicySet {
    let rules = rows
        .iter()
        .map(|r| {
            Rule::stored(
                r.id.clone(),
                &r.tool,
                decision_of(r),
                r.condition.as_deref(),
            )
        })
        .collect();
    PolicySet::new(rules, mode)
}

/// What a compiled set was made from: every rule as stored, and the mode.
#[derive(PartialEq, Eq)]
struct Fingerprint {
    rules: Vec<tool_policy::Model>,
    mode: PolicyMode,
}

/// Compiled sets by project, shared by every run of this process.
#[derive(Default)]
pub struct PolicyCache {
    sets: Mutex<HashMap<String, (Fingerprint, Arc<PolicySet>)>>,
}

impl PolicyCache {
    /// The rules of the project with this id as they are now, compiled (none for a project
    /// that is gone).
    pub async fn get_by_id(&self, db: &Db, project_id: &str) -> Result<Arc<PolicySet>, DbErr> {
        match project::Entity::find_by_id(project_id.to_owned())
            .one(db)
            .await?
        {
            Some(project) => self.get(db, &project).await,
            None => Ok(Arc::new(PolicySet::new(Vec::new(), PolicyMode::AskAll))),
        }
    }

    /// The project's rules as they are now, compiled.
    pub async fn get(&self, db: &Db, project: &project::Model) -> Result<Arc<PolicySet>, DbErr> {
        let fingerprint = Fingerprint {
            rules: rows(db, &project.id).await?,
            mode: project.policy_mode(),
        };
        if let Ok(sets) = self.sets.lock()
            && let Some((seen, set)) = sets.get(&project.id)
            && *seen == fingerprint
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(compile(&fingerprint.rules, fingerprint.mode));
        if let Ok(mut sets) = self.sets.lock() {
            sets.insert(project.id.clone(), (fingerprint, Arc::clone(&set)));
        }
        Ok(set)
    }
}
