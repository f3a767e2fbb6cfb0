//! Uploads into `uploads/` of a workspace. A batch (one request's files) is assembled in a
//! staging directory outside the workspace — streamed there chunk by chunk, zips extracted
//! there — and moved into `uploads/` only when every file passed. Any refusal removes the
//! staging directory, so a rejected upload leaves nothing behind in the workspace or beside it.

use std::path::PathBuf;

use bytes::Bytes;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::names::upload_path;
use super::unzip::{ZipLimits, extract};
use super::{RelPath, UploadError, Workspace, WorkspaceError};
use crate::config::UploadsConfig;

/// The workspace folder uploads land in.
pub const UPLOADS_DIR: &str = "uploads";

/// A file placed by an upload, as the task's message lists it (`attachedFiles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadedFile {
    pub name: String,
    /// Workspace-relative: `uploads/…`.
    pub path: String,
    pub size: u64,
}

/// The files of one upload request, staged until `commit`. Dropping a batch without
/// committing removes everything it staged.
pub struct UploadBatch {
    workspace: Workspace,
    limits: UploadsConfig,
    staging: Option<Staging>,
    count: usize,
    placed: Vec<(RelPath, u64)>,
    /// Entries and bytes the batch's archives extracted so far.
    extracted: (usize, u64),
    refused: bool,
}

struct Staging {
    path: PathBuf,
    /// The tree that becomes `uploads/`.
    tree: Dir,
    /// Uploaded archives, before extraction.
    incoming: Dir,
}

impl Staging {
    fn remove(self) {
        let Self {
            path,
            tree,
            incoming,
        } = self;
        drop((tree, incoming));
        if let Err(e) = std::fs::remove_dir_all(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove upload staging");
        }
    }
}

impl Drop for UploadBatch {
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take() {
            staging.remove();
        }
    }
}

impl Workspace {
    /// Starts an upload into `uploads/`. Files are added one at a time with
    /// `UploadBatch::add` (as multipart parts arrive) and land together with `commit`.
    pub fn begin_upload(&self, limits: &UploadsConfig) -> Result<UploadBatch, UploadError> {
        let path = self.staging.join(uuid::Uuid::now_v7().to_string());
        std::fs::create_dir_all(&path).map_err(|e| UploadError::io("create upload staging", e))?;
        let open = || -> std::io::Result<Staging> {
            let dir = Dir::open_ambient_dir(&path, cap_std::ambient_authority())?;
            dir.create_dir("tree")?;
            dir.create_dir("incoming")?;
            Ok(Staging {
                tree: dir.open_dir("tree")?,
                incoming: dir.open_dir("incoming")?,
                path: path.clone(),
            })
        };
        let staging = match open() {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                return Err(UploadError::io("create upload staging", e));
            }
        };
        Ok(UploadBatch {
            workspace: self.clone(),
            limits: limits.clone(),
            staging: Some(staging),
            count: 0,
            placed: Vec::new(),
            extracted: (0, 0),
            refused: false,
        })
    }
}

fn is_zip(rel: &RelPath) -> bool {
    rel.as_path()
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

impl UploadBatch {
    /// Streams one file into the batch. A `.zip` is extracted (into `uploads/`, keeping its
    /// folders) rather than kept. On any error the whole batch is refused and its staging
    /// removed; the caller should answer the error and stop reading the request.
    pub async fn add<S, B, E>(&mut self, name: &str, stream: S) -> Result<(), UploadError>
    where
        S: Stream<Item = Result<B, E>> + Send,
        B: Into<Bytes>,
        E: std::fmt::Display,
    {
        if self.refused {
            return Err(UploadError::Aborted);
        }
        let result = self.add_inner(name, stream).await;
        if result.is_err() {
            self.refused = true;
            if let Some(staging) = self.staging.take() {
                let _ = tokio::task::spawn_blocking(move || staging.remove()).await;
            }
        }
        result
    }

    async fn add_inner<S, B, E>(&mut self, name: &str, stream: S) -> Result<(), UploadError>
    where
        S: Stream<Item = Result<B, E>> + Send,
        B: Into<Bytes>,
        E: std::fmt::Display,
    {
        self.count += 1;
        if self.count > self.limits.max_files {
            return Err(UploadError::TooManyFiles {
                name: name.to_owned(),
                number: self.count,
                limit: self.limits.max_files,
            });
        }
        let rel = upload_path(name)?;
        let staging = self.staging.as_ref().ok_or(UploadError::Aborted)?;
        let zip = is_zip(&rel);
        let (dir, target) = if zip {
            (
                &staging.incoming,
                RelPath::root().join(format!("{}.zip", self.count)),
            )
        } else {
            (&staging.tree, rel.clone())
        };
        if let Some(parent) = target.parent().filter(|p| !p.is_root()) {
            dir.create_dir_all(parent.as_path())
                .map_err(|e| UploadError::place(name, e))?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o644);
        let file = dir
            .open_with(target.as_path(), &options)
            .map_err(|e| UploadError::place(name, e))?;
        let mut file = tokio::fs::File::from_std(file.into_std());
        let mut size = 0u64;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk: Bytes = chunk
                .map_err(|e| UploadError::Interrupted {
                    name: name.to_owned(),
                    message: e.to_string(),
                })?
                .into();
            size += chunk.len() as u64;
            if size > self.limits.max_file_bytes {
                return Err(UploadError::FileTooLarge {
                    name: name.to_owned(),
                    limit: self.limits.max_file_bytes,
                });
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| UploadError::io("write an uploaded file", e))?;
        }
        file.flush()
            .await
            .map_err(|e| UploadError::io("write an uploaded file", e))?;
        drop(file);

        if !zip {
            self.placed.push((rel, size));
            return Ok(());
        }
        let archive = staging
            .incoming
            .open(target.as_path())
            .map_err(|e| UploadError::io("reopen an uploaded archive", e))?
            .into_std();
        let tree = staging
            .tree
            .try_clone()
            .map_err(|e| UploadError::io("open upload staging", e))?;
        let limits = ZipLimits {
            max_entries: self.limits.max_zip_entries.saturating_sub(self.extracted.0),
            max_bytes: self
                .limits
                .max_extracted_bytes
                .saturating_sub(self.extracted.1),
            limit_entries: self.limits.max_zip_entries,
            limit_bytes: self.limits.max_extracted_bytes,
        };
        let archive_name = name.to_owned();
        let extracted = tokio::task::spawn_blocking(move || {
            extract(
                std::io::BufReader::new(archive),
                &archive_name,
                &tree,
                &limits,
            )
        })
        .await
        .map_err(|e| UploadError::io("extract an archive", std::io::Error::other(e)))??;
        let _ = staging.incoming.remove_file(target.as_path());
        self.extracted.0 += extracted.len();
        self.extracted.1 += extracted.iter().map(|(_, size)| size).sum::<u64>();
        self.placed.extend(extracted);
        Ok(())
    }

    /// Moves every staged file into `uploads/` (files of the same name are replaced, folders
    /// merged) and answers what was placed. Collisions between a file and a folder are found
    /// before anything moves.
    pub async fn commit(mut self) -> Result<Vec<UploadedFile>, UploadError> {
        if self.refused {
            return Err(UploadError::Aborted);
        }
        let staging = self.staging.take().ok_or(UploadError::Aborted)?;
        let workspace = self.workspace.clone();
        let placed = std::mem::take(&mut self.placed);
        tokio::task::spawn_blocking(move || {
            // The staging folder is outside every sandbox, so handing it over by path is safe.
            if let Some(owner) = workspace.owner()
                && let Err(e) = owner.hand_over(&staging.path)
            {
                staging.remove();
                return Err(UploadError::io("hand over uploads", e));
            }
            let result = move_into_place(&workspace, &staging.tree);
            staging.remove();
            result
        })
        .await
        .map_err(|e| UploadError::io("place uploads", std::io::Error::other(e)))??;
        let mut files: Vec<UploadedFile> = placed
            .into_iter()
            .map(|(rel, size)| UploadedFile {
                name: rel.file_name().unwrap_or_default(),
                path: format!("{UPLOADS_DIR}/{}", rel.slash()),
                size,
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

fn move_into_place(workspace: &Workspace, tree: &Dir) -> Result<(), UploadError> {
    match workspace.dir.create_dir_all(UPLOADS_DIR) {
        // Something is there already (perhaps a link): opening it says whether it is usable.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(WorkspaceError::io("create", UPLOADS_DIR, e).into()),
        Ok(()) => {}
    }
    let uploads = workspace
        .dir
        .open_dir(UPLOADS_DIR)
        .map_err(|e| WorkspaceError::io("open", UPLOADS_DIR, e))?;
    if let Ok(handle) = uploads.try_clone() {
        workspace.own(&handle.into_std_file(), UPLOADS_DIR)?;
    }
    merge(tree, &uploads, &RelPath::root(), false)?;
    merge(tree, &uploads, &RelPath::root(), true)
}

/// Walks the staged tree against the destination. The first pass (`apply = false`) only
/// checks for file/folder collisions; the second renames: a folder missing at the
/// destination moves whole, an existing one is merged, a file replaces its namesake (a
/// symlink there is replaced, not followed).
fn merge(src: &Dir, dst: &Dir, rel: &RelPath, apply: bool) -> Result<(), UploadError> {
    let entries = src
        .entries()
        .map_err(|e| UploadError::io("read upload staging", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| UploadError::io("read upload staging", e))?;
        let name = entry.file_name();
        let child = rel.join(&name);
        let shown = format!("{UPLOADS_DIR}/{}", child.slash());
        let is_dir = entry
            .file_type()
            .map_err(|e| UploadError::io("read upload staging", e))?
            .is_dir();
        let existing = match dst.symlink_metadata(&name) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(WorkspaceError::io("inspect", &shown, e).into()),
        };
        let conflict = || UploadError::Conflict {
            path: shown.clone(),
        };
        match (is_dir, existing) {
            (true, Some(m)) if m.is_dir() => {
                let sub_src = entry
                    .open_dir()
                    .map_err(|e| UploadError::io("read upload staging", e))?;
                let sub_dst = dst
                    .open_dir(&name)
                    .map_err(|e| WorkspaceError::io("open", &shown, e))?;
                merge(&sub_src, &sub_dst, &child, apply)?;
            }
            (true, Some(_)) => return Err(conflict()),
            (false, Some(m)) if m.is_dir() => return Err(conflict()),
            _ if apply => src
                .rename(&name, dst, &name)
                .map_err(|e| WorkspaceError::io("move into place", &shown, e))?,
            _ => {}
        }
    }
    Ok(())
}
