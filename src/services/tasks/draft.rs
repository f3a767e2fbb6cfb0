//! A task being created or followed up: its id and workspace exist before any field is read,
//! so uploads stream straight into it. A refused request leaves nothing behind.

use protocol::task::AttachedFile;

use super::ProjectScope;
use crate::error::{ApiError, Error, Result};
use crate::workspace::{UploadBatch, Workspace};

/// A task being created: its id and workspace exist so uploads can stream into it before
/// the row is written. Dropped without `create`, it leaves nothing behind.
pub struct Draft {
    pub id: String,
    pub(super) scope: ProjectScope,
    pub(super) workspace: Workspace,
    pub(super) upload: Option<UploadBatch>,
    /// The workspace was made for this draft (a new task): removed unless the task is
    /// written.
    pub(super) fresh: bool,
    /// The schedule starting the task, whose runs read all the project's secrets.
    pub(super) schedule_id: Option<String>,
}

impl Drop for Draft {
    fn drop(&mut self) {
        // A refused request (bad field, too many files, a broken body) leaves nothing: the
        // batch removes its staging; a new task's empty workspace goes here.
        if self.fresh {
            drop(self.upload.take());
            if let Err(e) = std::fs::remove_dir_all(self.workspace.root())
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(task = %self.id, error = %e, "cannot remove a refused task's workspace");
            }
        }
    }
}

impl Draft {
    /// Marks the task as a run of `schedule_id`.
    pub fn for_schedule(&mut self, schedule_id: &str) {
        self.schedule_id = Some(schedule_id.to_owned());
    }

    /// The upload batch, started on the first file.
    pub fn upload(&mut self, limits: &crate::config::UploadsConfig) -> Result<&mut UploadBatch> {
        if self.upload.is_none() {
            self.upload = Some(
                self.workspace
                    .begin_upload(limits)
                    .map_err(|e| Error::Api(e.to_api_error()))?,
            );
        }
        self.upload
            .as_mut()
            .ok_or_else(|| Error::Api(ApiError::internal()))
    }

    /// Moves the uploaded files into place; answers them as the message lists them.
    pub(super) async fn commit_files(&mut self) -> Result<Vec<AttachedFile>> {
        let Some(batch) = self.upload.take() else {
            return Ok(Vec::new());
        };
        let files = batch
            .commit()
            .await
            .map_err(|e| Error::Api(e.to_api_error()))?;
        Ok(files
            .into_iter()
            .map(|f| AttachedFile {
                name: f.name,
                path: f.path,
            })
            .collect())
    }
}
