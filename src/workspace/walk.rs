//! A bounded, deterministic walk of a workspace subtree. It never follows a symlink into a
//! directory (no loops, no leaving the tree), visits names in sorted order, and stops after a
//! fixed number of entries so a command that made a million files cannot stall a tool.

use std::ops::ControlFlow;
use std::sync::Arc;

use cap_std::fs::{Dir, FileType};

use super::{RelPath, WorkspaceError};

/// Directories no search or listing descends into: version-control internals and package
/// caches are large, machine-made and almost never what a model or a person is looking for.
pub(crate) const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "__pycache__", ".venv"];

pub(crate) struct Visit<'a> {
    /// The directory holding the entry, for opening it without re-resolving the path.
    pub dir: &'a Dir,
    pub name: &'a str,
    pub rel: RelPath,
    pub file_type: FileType,
}

/// Walks `start` (a directory), calling `visit` for every entry below it, files and
/// directories alike. Returns whether it stopped early (`max_entries` reached or `visit`
/// asked to).
pub(crate) fn walk(
    root: &Dir,
    start: &RelPath,
    shown: &str,
    max_entries: usize,
    mut visit: impl FnMut(Visit<'_>) -> ControlFlow<()>,
) -> Result<bool, WorkspaceError> {
    let first = root
        .open_dir(start.as_path())
        .map_err(|e| WorkspaceError::io("open the directory", shown, e))?;
    // Pending directories hold their parent's handle and are opened only when popped, so a
    // directory with thousands of subdirectories costs one descriptor, not thousands.
    let mut stack: Vec<(Arc<Dir>, Option<String>, RelPath)> =
        vec![(Arc::new(first), None, start.clone())];
    let mut seen = 0usize;
    while let Some((parent, name, rel)) = stack.pop() {
        let dir = match name {
            None => parent,
            Some(name) => match parent.open_dir(&name) {
                Ok(d) => Arc::new(d),
                Err(_) => continue,
            },
        };
        let Ok(entries) = dir.entries() else {
            continue;
        };
        let mut names: Vec<(String, FileType)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let ft = e.file_type().ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), ft))
            })
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (name, file_type) in names {
            seen += 1;
            if seen > max_entries {
                return Ok(true);
            }
            let child = rel.join(&name);
            if visit(Visit {
                dir: &dir,
                name: &name,
                rel: child.clone(),
                file_type,
            })
            .is_break()
            {
                return Ok(true);
            }
            if file_type.is_dir() && !SKIPPED_DIRS.contains(&name.as_str()) {
                subdirs.push((name, child));
            }
        }
        // Reverse so the stack pops them in name order.
        for (name, child) in subdirs.into_iter().rev() {
            stack.push((Arc::clone(&dir), Some(name), child));
        }
    }
    Ok(false)
}

/// Opens the directory `name` of `dir` without following a symlink, at that level or any
/// other: a name a sandbox swapped for a link meanwhile fails to open instead of leading
/// elsewhere.
pub fn open_dir_nofollow(dir: &Dir, name: &std::path::Path) -> std::io::Result<Dir> {
    use nix::fcntl::OFlag;
    use std::os::fd::AsFd;
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(std::io::Error::from)?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}
