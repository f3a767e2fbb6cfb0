//! What can go wrong touching a workspace from the host. Messages are written for two readers at
//! once — a model that called a tool and a person calling the API — so each one says what was
//! wrong and what to do instead.

use app::error::{ApiError, ErrorCode};

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
