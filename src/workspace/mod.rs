//! Host-side access to a task's workspace directory: what the file tools, the artifact
//! endpoints and uploads use. The sandbox's commands may have put anything there — symlinks to
//! `/etc/shadow`, pipes, deep trees — so every access goes through a cap-std `Dir` opened on
//! the workspace root: `..`, absolute paths and symlinks that lead outside are refused by
//! construction (`openat2(RESOLVE_BENEATH)` on Linux), not by checking a path string first and
//! racing the command that changes it.
//!
//! All methods here block (file system calls); async callers run them with
//! `tokio::task::spawn_blocking`, as `crate::tools` does.

mod artifacts;
mod error;
mod files;
mod lines;
mod names;
mod owner;
mod path;
mod search;
mod unzip;
mod uploads;
pub(crate) mod walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::{Dir, File, Metadata, OpenOptions, OpenOptionsExt};

pub use artifacts::{Artifact, ArtifactDownload, Category, category_of};
pub use error::{UploadError, WorkspaceError};
pub use files::{DirEntryInfo, EntryKind, Listing, ReadOutcome, TextSlice, WriteOutcome};
pub use owner::{Owner, private_socket};
pub use path::{MOUNT, RelPath};
pub use search::{GlobMatches, SearchMatch, SearchMatches};
pub(crate) use unzip::{ZipLimits, extract as extract_zip};
pub use uploads::{UploadBatch, UploadedFile};

/// A workspace directory, opened once. Cheap to clone (the directory handle is shared).
#[derive(Clone)]
pub struct Workspace {
    root: PathBuf,
    dir: Arc<Dir>,
    /// Where uploads are assembled before they move into place: outside the workspace, so a
    /// command in the sandbox can neither see nor tamper with a half-checked upload.
    staging: PathBuf,
    /// The host user the sandbox runs as: what the server writes here is handed to it, so
    /// commands can change files the tools wrote. `None` when sandboxes run as the server.
    owner: Option<Owner>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("root", &self.root)
            .finish()
    }
}

impl Workspace {
    /// Opens a workspace directory, creating it if needed. Uploads are staged in `.staging/` next to it
    /// (same file system, so moving them in is a rename).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, WorkspaceError> {
        let root = root.into();
        let staging = root
            .parent()
            .map(|p| p.join(".staging"))
            .unwrap_or_else(|| PathBuf::from(".staging"));
        Self::open_with_staging(root, staging)
    }

    /// Like `open`, with the staging directory named. It must be on the workspace's file
    /// system and outside the workspace.
    pub fn open_with_staging(
        root: impl Into<PathBuf>,
        staging: impl Into<PathBuf>,
    ) -> Result<Self, WorkspaceError> {
        let root = root.into();
        let shown = root.display().to_string();
        // The sandbox creates its workspace on its first command; the tools may come first.
        std::fs::create_dir_all(&root)
            .map_err(|e| WorkspaceError::io("create the workspace", &shown, e))?;
        let dir = Dir::open_ambient_dir(&root, cap_std::ambient_authority())
            .map_err(|e| WorkspaceError::io("open the workspace", &shown, e))?;
        Ok(Self {
            root,
            dir: Arc::new(dir),
            staging: staging.into(),
            owner: None,
        })
    }

    /// Hands what the server writes from now on to the sandbox's user.
    pub fn with_owner(mut self, owner: Option<Owner>) -> Self {
        self.owner = owner;
        self
    }

    /// Gives an open file or directory of this workspace to the sandbox user. By handle, not
    /// by path: a link the sandbox swaps in meanwhile cannot redirect it.
    pub(crate) fn own(&self, handle: &std::fs::File, shown: &str) -> Result<(), WorkspaceError> {
        if let Some(o) = self.owner {
            // By the handle itself (AT_EMPTY_PATH): cap-std opens directories O_PATH, which
            // plain fchown refuses.
            nix::unistd::fchownat(
                handle,
                "",
                Some(nix::unistd::Uid::from_raw(o.uid)),
                Some(nix::unistd::Gid::from_raw(o.gid)),
                nix::fcntl::AtFlags::AT_EMPTY_PATH,
            )
            .map_err(|e| WorkspaceError::io("hand over", shown, std::io::Error::from(e)))?;
        }
        Ok(())
    }

    pub(crate) fn owner(&self) -> Option<Owner> {
        self.owner
    }

    /// The host directory (for logs and for the sandbox's mount; never for opening files).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn resolve(&self, tool_path: &str) -> Result<RelPath, WorkspaceError> {
        RelPath::parse(tool_path)
    }

    /// Checks that `tool_path` names an existing directory inside the workspace (following
    /// symlinks only within it) and returns it, for `run_shell_command`'s `directory`.
    pub fn existing_dir(&self, tool_path: &str) -> Result<RelPath, WorkspaceError> {
        let rel = RelPath::parse(tool_path)?;
        let meta = self.metadata(&rel, tool_path)?;
        if meta.is_dir() {
            Ok(rel)
        } else {
            Err(WorkspaceError::NotDirectory {
                path: tool_path.to_owned(),
            })
        }
    }

    fn metadata(&self, rel: &RelPath, shown: &str) -> Result<Metadata, WorkspaceError> {
        self.dir
            .metadata(rel.as_path())
            .map_err(|e| WorkspaceError::io("inspect", shown, e))
    }

    /// Opens a regular file for reading. `O_NONBLOCK` keeps a FIFO a hostile command left
    /// behind from hanging the server; the type is checked on the opened handle, so a swap
    /// between check and use cannot slip a pipe or directory in.
    fn open_regular(&self, rel: &RelPath, shown: &str) -> Result<(File, Metadata), WorkspaceError> {
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(
            nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_NOCTTY.bits(),
        );
        let file = self
            .dir
            .open_with(rel.as_path(), &options)
            .map_err(|e| WorkspaceError::io("open", shown, e))?;
        let meta = file
            .metadata()
            .map_err(|e| WorkspaceError::io("inspect", shown, e))?;
        check_regular(&meta, shown)?;
        Ok((file, meta))
    }
}

fn check_regular(meta: &Metadata, shown: &str) -> Result<(), WorkspaceError> {
    if meta.is_dir() {
        Err(WorkspaceError::IsDirectory {
            path: shown.to_owned(),
        })
    } else if !meta.is_file() {
        Err(WorkspaceError::SpecialFile {
            path: shown.to_owned(),
        })
    } else {
        Ok(())
    }
}
