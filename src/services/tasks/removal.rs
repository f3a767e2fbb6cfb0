//! Removing tasks for good: one conversation, or every task of a deleted project. Nothing of a
//! removed task stays behind: not its rows, not its workspace, not its snapshot.

use std::time::Duration;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};

use super::TaskService;
use crate::error::Result;
use crate::ledger::LedgerError;
use crate::services::access::Caller;
use crate::store::entities::task;

/// How long a removal waits for this process's run of the task to wind down before its files
/// go, so no step of it writes into a removed workspace.
const RUN_END_WAIT: Duration = Duration::from_secs(10);

impl TaskService {
    /// Removes a task if `scope` (the caller's) still matches it: an active one is cancelled
    /// first (its worker fenced, its processes killed), then its rows go in one transaction,
    /// then its files. `Err(NotFound)` when the scope no longer matches.
    pub(in crate::services) async fn remove_task(
        &self,
        task_id: &str,
        scope: Condition,
    ) -> Result<(), LedgerError> {
        let ledger = self.runtime.ledger();
        match ledger.cancel(task_id).await {
            // It was not running: nothing to stop.
            Ok(()) | Err(LedgerError::NotActive) => {}
            Err(e) => return Err(e),
        }
        ledger.delete(task_id, scope).await?;
        // No worker can claim it now. A run of this process that started before the row went
        // (a follow-up raced the cancel) is ended too, and its end awaited.
        let runtime = &self.runtime;
        runtime.abort_local(task_id).await;
        let deadline = tokio::time::Instant::now() + RUN_END_WAIT;
        while runtime.is_running_here(task_id) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        runtime.secrets().forget(task_id);
        if let Err(e) = runtime.sandboxes().delete(task_id).await {
            // The rows are gone, so the caller's answer stays a success; what is left on disk
            // is logged for the operator.
            tracing::error!(task = %task_id, error = %e, "cannot remove a deleted task's files");
        }
        Ok(())
    }

    /// Deletes a project (organization admins only) with every task in it: their runs stop,
    /// their rows, workspaces and snapshots go.
    pub async fn delete_project(&self, caller: &Caller, project_id: &str) -> Result<()> {
        let scope = self.services.project_scope(caller, project_id).await?;
        scope.require_org_admin()?;
        let in_project = || Condition::all().add(task::Column::ProjectId.eq(scope.project_id()));
        let ids: Vec<String> = task::Entity::find()
            .select_only()
            .column(task::Column::Id)
            .filter(in_project())
            .into_tuple()
            .all(self.db())
            .await?;
        for id in ids {
            match self.remove_task(&id, in_project()).await {
                // Removed meanwhile (its conversation was deleted): nothing left to do.
                Ok(()) | Err(LedgerError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.services.delete_project(caller, project_id).await
    }
}
