//! Turns the path a model (or an API caller) wrote into a path relative to the workspace root.
//! This is the lexical half of the guard: it refuses `..` and absolute paths outside
//! `/workspace` with a message that says how to name the file. The other half — symlinks —
//! is cap-std's, which resolves every open beneath the workspace directory.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::WorkspaceError;

/// Where the workspace appears inside the sandbox; models see and write this prefix.
pub const MOUNT: &str = "/workspace";

/// A normalized path inside the workspace: only normal components, possibly none (the root).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(PathBuf);

impl RelPath {
    pub fn root() -> Self {
        Self(PathBuf::new())
    }

    /// Accepts `foo/bar`, `./foo/bar` and `/workspace/foo/bar` as the same path; `""`, `.`
    /// and `/workspace` are the root.
    pub fn parse(input: &str) -> Result<Self, WorkspaceError> {
        let invalid = |reason| WorkspaceError::InvalidPath {
            path: input.to_owned(),
            reason,
        };
        if input.contains('\0') {
            return Err(invalid("it contains a NUL byte"));
        }
        let trimmed = input.trim();
        let relative = if let Some(rest) = trimmed.strip_prefix(MOUNT) {
            if rest.is_empty() {
                ""
            } else if let Some(rest) = rest.strip_prefix('/') {
                rest
            } else {
                // `/workspacefoo` is not inside `/workspace`.
                return Err(WorkspaceError::Outside {
                    path: input.to_owned(),
                });
            }
        } else if trimmed.starts_with('/') {
            return Err(WorkspaceError::Outside {
                path: input.to_owned(),
            });
        } else if trimmed.starts_with('~') {
            return Err(invalid(
                "`~` is not expanded here; name the file relative to /workspace",
            ));
        } else {
            trimmed
        };
        let mut out = PathBuf::new();
        for component in Path::new(relative).components() {
            match component {
                Component::Normal(part) => out.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(WorkspaceError::ParentDir {
                        path: input.to_owned(),
                    });
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(WorkspaceError::Outside {
                        path: input.to_owned(),
                    });
                }
            }
        }
        Ok(Self(out))
    }

    pub fn is_root(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    /// The path to hand to cap-std: `.` for the root, which cap-std cannot open as `""`.
    pub fn as_path(&self) -> &Path {
        if self.is_root() {
            Path::new(".")
        } else {
            &self.0
        }
    }

    pub fn join(&self, name: impl AsRef<Path>) -> Self {
        Self(self.0.join(name))
    }

    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        Some(Self(
            self.0.parent().map(Path::to_path_buf).unwrap_or_default(),
        ))
    }

    pub fn file_name(&self) -> Option<String> {
        self.0.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// As the model reads it in tool output: relative, `.` for the root.
    pub fn display(&self) -> String {
        if self.is_root() {
            ".".to_owned()
        } else {
            self.0.to_string_lossy().into_owned()
        }
    }

    /// The path with `/` separators, for globs and for the API.
    pub fn slash(&self) -> String {
        self.0
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_path_agree() {
        let want = RelPath::parse("foo/bar").ok();
        for p in ["./foo/bar", "/workspace/foo/bar", "foo//bar/", "foo/./bar"] {
            assert_eq!(RelPath::parse(p).ok(), want, "{p}");
        }
        for p in ["", ".", "/workspace", "/workspace/", "./"] {
            assert!(RelPath::parse(p).is_ok_and(|r| r.is_root()), "{p}");
        }
    }

    #[test]
    fn escapes_are_refused() {
        for p in [
            "../x",
            "foo/../../x",
            "a/..",
            "/etc/shadow",
            "/workspace/../etc",
            "/workspacex/a",
            "~/x",
        ] {
            assert!(RelPath::parse(p).is_err(), "{p}");
        }
    }
}
