//! What can go wrong touching a workspace from the host. Messages are written for two readers at
//! once — a model that called a tool and a person calling the API — so each one says what was
//! wrong and what to do instead.

use protocol::error::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(
        "`{path}` is outside /workspace. Use a path relative to /workspace, such as `src/main.rs` or `/workspace/src/main.rs`."
    )]
    Outside { path: String },
    #[error(
        "`{path}` contains `..`. Paths must stay inside /workspace: name the file relative to /workspace instead."
    )]
    ParentDir { path: String },
    #[error("`{path}` is not a usable path: {reason}.")]
    InvalidPath { path: String, reason: &'static str },
    #[error(
        "`{path}` leads outside /workspace through a symbolic link, so it was refused. Work on the link's target inside /workspace instead."
    )]
    Escape { path: String },
    #[error("`{path}` does not exist in /workspace.")]
    NotFound { path: String },
    #[error(
        "`{path}` is a directory, not a file. Use list_directory or glob to see what it holds."
    )]
    IsDirectory { path: String },
    #[error("`{path}` is a file, not a directory.")]
    NotDirectory { path: String },
    #[error(
        "`{path}` is not a regular file (a pipe, socket or device), so it is not read or written."
    )]
    SpecialFile { path: String },
    #[error("`{path}` cannot be accessed: permission denied.")]
    PermissionDenied { path: String },
    #[error(
        "`{path}` is {size} bytes; this operation handles files up to {limit} bytes. Use read_file with offset and limit, or run_shell_command."
    )]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("`{path}` is not UTF-8 text, so it cannot be edited as text.")]
    NotText { path: String },
    #[error(
        "old_string was not found in `{path}`. Read the file again and copy the exact text, including whitespace and indentation."
    )]
    OldStringNotFound { path: String },
    #[error(
        "expected {expected} occurrence(s) of old_string in `{path}` but found {found}. Add surrounding context to old_string to make it unique, or set expected_replacements to {found}."
    )]
    OccurrenceMismatch {
        path: String,
        expected: usize,
        found: usize,
    },
    #[error("{0}")]
    BadReplace(&'static str),
    #[error("invalid glob pattern `{pattern}`: {reason}")]
    InvalidGlob { pattern: String, reason: String },
    #[error("invalid regular expression `{pattern}`: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
}

impl WorkspaceError {
    /// Maps an I/O error from a cap-std call to what it means for the caller. cap-std refuses
    /// an escape (a symlink or `..` leaving the directory) with `PermissionDenied` and this
    /// message; a genuine `EACCES` has the OS's own text.
    pub(crate) fn io(action: &'static str, path: &str, source: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let path = path.to_owned();
        match source.kind() {
            ErrorKind::NotFound => Self::NotFound { path },
            ErrorKind::PermissionDenied if is_escape(&source) => Self::Escape { path },
            ErrorKind::PermissionDenied => Self::PermissionDenied { path },
            ErrorKind::IsADirectory => Self::IsDirectory { path },
            ErrorKind::NotADirectory => Self::NotDirectory { path },
            _ if source.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) => {
                Self::Escape { path }
            }
            // Opening a FIFO without a reader, or a socket, with O_NONBLOCK.
            _ if source.raw_os_error() == Some(nix::errno::Errno::ENXIO as i32) => {
                Self::SpecialFile { path }
            }
            _ => Self::Io {
                action,
                path,
                source,
            },
        }
    }

    /// True when the caller did something wrong (as opposed to the server failing).
    pub fn is_caller_error(&self) -> bool {
        !matches!(self, Self::Io { .. })
    }

    /// The API's view: a path the caller named that is missing is NOT_FOUND, everything else
    /// the caller can fix is VALIDATION_ERROR on `path`, and I/O failures are internal (logged
    /// here, answered generically).
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Self::NotFound { .. } => ApiError::new(ErrorCode::NotFound, self.to_string()),
            Self::Io { .. } => {
                tracing::error!(error = %self, "workspace I/O failed");
                ApiError::internal()
            }
            _ => ApiError::field("path", self.to_string()),
        }
    }
}

fn is_escape(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.to_string().contains("outside of the filesystem"))
}

/// Why an upload was refused. Sizes over a limit (a file, a zip's extracted total) are
/// PAYLOAD_TOO_LARGE; everything else the caller sent wrong (too many files or entries, names,
/// escaping, linked, special or encrypted entries, a broken archive) is VALIDATION_ERROR on
/// `files`.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(
        "At most {limit} files can be uploaded at once; `{name}` would be file number {number}."
    )]
    TooManyFiles {
        name: String,
        number: usize,
        limit: usize,
    },
    #[error("`{name}` is larger than the limit of {} per file.", human(*limit))]
    FileTooLarge { name: String, limit: u64 },
    #[error("`{name}` is not an acceptable file name: {reason}.")]
    BadName { name: String, reason: &'static str },
    #[error("`{path}` appears twice in this upload.")]
    Duplicate { path: String },
    #[error("`{path}` cannot be placed in uploads/: a file and a folder of that name collide.")]
    Conflict { path: String },
    #[error("The upload of `{name}` was interrupted: {message}")]
    Interrupted { name: String, message: String },
    #[error("`{name}` is not a readable zip archive: {reason}")]
    ZipInvalid { name: String, reason: String },
    #[error(
        "`{name}` holds the entry `{entry}`, whose path leads outside the folder it is extracted to (an absolute path or `..`); the archive was refused."
    )]
    ZipEscape { name: String, entry: String },
    #[error("`{name}` holds the symbolic link `{entry}`; archives with links are refused.")]
    ZipLink { name: String, entry: String },
    #[error(
        "`{name}` holds `{entry}`, which is not a regular file or folder (a device, pipe or socket); the archive was refused."
    )]
    ZipSpecial { name: String, entry: String },
    #[error("`{name}` holds the encrypted entry `{entry}`; encrypted archives are not accepted.")]
    ZipEncrypted { name: String, entry: String },
    #[error(
        "`{name}` holds `{entry}`, compressed with {method}; only stored and deflated entries are supported."
    )]
    ZipUnsupported {
        name: String,
        entry: String,
        method: String,
    },
    #[error(
        "`{name}` has {entries} entries; at most {limit} are extracted from the archives of one upload."
    )]
    ZipTooManyEntries {
        name: String,
        entries: usize,
        limit: usize,
    },
    #[error(
        "`{name}` extracts to more than {} with the archives before it, the limit for one upload.",
        human(*limit)
    )]
    ZipTooLarge { name: String, limit: u64 },
    #[error("This upload was already refused; start a new one.")]
    Aborted,
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("cannot {action}: {source}")]
    Io {
        action: &'static str,
        source: std::io::Error,
    },
}

impl UploadError {
    pub(crate) fn io(action: &'static str, source: std::io::Error) -> Self {
        Self::Io { action, source }
    }

    /// An error creating a staged file or folder: a name clash is the caller's (duplicate or
    /// file/folder collision), anything else is ours.
    pub(crate) fn place(path: &str, e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::AlreadyExists => Self::Duplicate {
                path: path.to_owned(),
            },
            ErrorKind::NotADirectory | ErrorKind::IsADirectory => Self::Conflict {
                path: path.to_owned(),
            },
            _ => Self::io("stage an uploaded file", e),
        }
    }

    pub fn to_api_error(&self) -> ApiError {
        match self {
            Self::FileTooLarge { .. } | Self::ZipTooLarge { .. } => {
                let mut e = ApiError::new(ErrorCode::PayloadTooLarge, self.to_string());
                e.fields.insert("files".to_owned(), self.to_string());
                e
            }
            Self::Workspace(inner) => inner.to_api_error(),
            Self::Io { .. } => {
                tracing::error!(error = %self, "upload failed");
                ApiError::internal()
            }
            _ => ApiError::field("files", self.to_string()),
        }
    }
}

/// `52428800` → `50 MB`; exact byte counts when not a whole number of units.
fn human(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    const KB: u64 = 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= KB && bytes.is_multiple_of(KB) {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}
