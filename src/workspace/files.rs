//! Reading, writing and editing single files, and listing one directory.

use std::io::{BufRead, BufReader, Read, Write};

use cap_std::fs::{OpenOptions, OpenOptionsExt};
use serde::Serialize;

use super::lines::read_line_bounded;
use super::{RelPath, Workspace, WorkspaceError, check_regular};

/// Lines returned when the caller gives no limit.
pub const DEFAULT_READ_LINES: usize = 2000;
/// Longer lines are cut (minified files would otherwise flood the model).
pub const MAX_LINE_CHARS: usize = 2000;
/// Bytes of a line read from disk at most: enough for `MAX_LINE_CHARS` of any text.
const MAX_LINE_BYTES: usize = MAX_LINE_CHARS * 4 + 2;
/// Bytes inspected to tell text from binary.
const SNIFF_BYTES: usize = 8192;
/// Files `replace` loads whole.
pub const MAX_EDIT_BYTES: u64 = 10 * 1024 * 1024;
/// Entries `list_directory` returns.
pub const MAX_LIST_ENTRIES: usize = 1000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TextSlice {
    pub path: String,
    pub content: String,
    /// 0-based index of the first line returned.
    pub offset: usize,
    pub lines_returned: usize,
    pub total_lines: usize,
    /// More lines follow the slice.
    pub more: bool,
    /// Some lines were longer than `MAX_LINE_CHARS` and were cut.
    pub lines_cut: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ReadOutcome {
    Text(TextSlice),
    Binary {
        path: String,
        size: u64,
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOutcome {
    pub path: String,
    pub created: bool,
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirEntryInfo {
    pub name: String,
    pub kind: EntryKind,
    /// Bytes, for files.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub path: String,
    pub entries: Vec<DirEntryInfo>,
    pub truncated: bool,
}

impl Workspace {
    /// Reads lines `offset..offset+limit` (0-based) of a text file. A file whose first bytes
    /// hold a NUL is binary: the answer names its size and type instead of its bytes.
    pub fn read_text(
        &self,
        tool_path: &str,
        offset: Option<usize>,
        limit: Option<usize>,
    ) -> Result<ReadOutcome, WorkspaceError> {
        let rel = RelPath::parse(tool_path)?;
        let (file, meta) = self.open_regular(&rel, tool_path)?;
        let mut reader = BufReader::new(file.into_std());
        let head = reader
            .fill_buf()
            .map_err(|e| WorkspaceError::io("read", tool_path, e))?;
        let sniff = &head[..head.len().min(SNIFF_BYTES)];
        if sniff.contains(&0) {
            return Ok(ReadOutcome::Binary {
                path: rel.display(),
                size: meta.len(),
                mime_type: mime_guess::from_path(rel.as_path())
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned(),
            });
        }
        let offset = offset.unwrap_or(0);
        let limit = limit.unwrap_or(DEFAULT_READ_LINES).max(1);
        let mut content = String::new();
        let mut total = 0usize;
        let mut returned = 0usize;
        let mut lines_cut = false;
        let mut line = Vec::new();
        loop {
            line.clear();
            let wanted = total >= offset && returned < limit;
            // Lines outside the slice are only counted; lines in it kept up to what is shown.
            let keep = if wanted { MAX_LINE_BYTES } else { 0 };
            let n = read_line_bounded(&mut reader, &mut line, keep)
                .map_err(|e| WorkspaceError::io("read", tool_path, e))?;
            if n == 0 {
                break;
            }
            if wanted {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if n > line.len() || text.chars().count() > MAX_LINE_CHARS {
                    lines_cut = true;
                    content.extend(text.chars().take(MAX_LINE_CHARS));
                    content.push_str(" … [line cut]");
                } else {
                    content.push_str(text);
                }
                content.push('\n');
                returned += 1;
            }
            total += 1;
        }
        Ok(ReadOutcome::Text(TextSlice {
            path: rel.display(),
            content,
            offset,
            lines_returned: returned,
            total_lines: total,
            more: offset.saturating_add(returned) < total,
            lines_cut,
        }))
    }

    /// Writes `content` to a file, creating it and its parent directories as needed.
    pub fn write_text(
        &self,
        tool_path: &str,
        content: &str,
    ) -> Result<WriteOutcome, WorkspaceError> {
        self.write_file(tool_path, content.as_bytes())
    }

    /// Writes `content` (any bytes: an image a tool returned) as `write_text` does.
    pub fn write_file(
        &self,
        tool_path: &str,
        content: &[u8],
    ) -> Result<WriteOutcome, WorkspaceError> {
        let rel = RelPath::parse(tool_path)?;
        if rel.is_root() {
            return Err(WorkspaceError::IsDirectory {
                path: tool_path.to_owned(),
            });
        }
        if let Some(parent) = rel.parent().filter(|p| !p.is_root()) {
            match self.dir.create_dir_all(parent.as_path()) {
                // An existing link (to a directory outside, say): the open below says why it
                // cannot be used, more precisely than "already exists".
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(WorkspaceError::io(
                        "create the directories for",
                        tool_path,
                        e,
                    ));
                }
                Ok(()) => {}
            }
        }
        if let Some(parent) = rel.parent().filter(|p| !p.is_root()) {
            // Every folder on the way, as the sandbox user (created ones are root's).
            let mut prefix = std::path::PathBuf::new();
            for part in parent.as_path().components() {
                prefix.push(part);
                let dir = self
                    .dir
                    .open_dir(&prefix)
                    .map_err(|e| WorkspaceError::io("open", tool_path, e))?;
                self.own(&dir.into_std_file(), tool_path)?;
            }
        }
        let created = !self.dir.exists(rel.as_path());
        self.write_bytes(&rel, tool_path, content)?;
        Ok(WriteOutcome {
            path: rel.display(),
            created,
            bytes: content.len(),
        })
    }

    /// Replaces `old` with `new` where it occurs exactly `expected` times (non-overlapping).
    /// Returns the number of replacements.
    pub fn replace(
        &self,
        tool_path: &str,
        old: &str,
        new: &str,
        expected: usize,
    ) -> Result<usize, WorkspaceError> {
        if old.is_empty() {
            return Err(WorkspaceError::BadReplace(
                "old_string is empty. To create a file or overwrite it whole, use write_file.",
            ));
        }
        if old == new {
            return Err(WorkspaceError::BadReplace(
                "old_string and new_string are the same, so nothing would change.",
            ));
        }
        if expected == 0 {
            return Err(WorkspaceError::BadReplace(
                "expected_replacements must be at least 1.",
            ));
        }
        let rel = RelPath::parse(tool_path)?;
        let (file, meta) = self.open_regular(&rel, tool_path)?;
        if meta.len() > MAX_EDIT_BYTES {
            return Err(WorkspaceError::TooLarge {
                path: tool_path.to_owned(),
                size: meta.len(),
                limit: MAX_EDIT_BYTES,
            });
        }
        let mut bytes = Vec::new();
        file.into_std()
            .take(MAX_EDIT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| WorkspaceError::io("read", tool_path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| WorkspaceError::NotText {
            path: tool_path.to_owned(),
        })?;
        let found = text.matches(old).count();
        if found == 0 {
            return Err(WorkspaceError::OldStringNotFound {
                path: tool_path.to_owned(),
            });
        }
        if found != expected {
            return Err(WorkspaceError::OccurrenceMismatch {
                path: tool_path.to_owned(),
                expected,
                found,
            });
        }
        let updated = text.replace(old, new);
        self.write_bytes(&rel, tool_path, updated.as_bytes())?;
        Ok(found)
    }

    /// Opens for writing without following the open into a pipe or device: `O_NONBLOCK` makes
    /// a FIFO without a reader fail at once, and the type check on the handle refuses one that
    /// has a reader before a byte is written.
    fn write_bytes(&self, rel: &RelPath, shown: &str, bytes: &[u8]) -> Result<(), WorkspaceError> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).mode(0o644).custom_flags(
            nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_NOCTTY.bits(),
        );
        let file = self
            .dir
            .open_with(rel.as_path(), &options)
            .map_err(|e| WorkspaceError::io("open for writing", shown, e))?;
        let meta = file
            .metadata()
            .map_err(|e| WorkspaceError::io("inspect", shown, e))?;
        check_regular(&meta, shown)?;
        file.set_len(0)
            .map_err(|e| WorkspaceError::io("truncate", shown, e))?;
        let mut file = file.into_std();
        self.own(&file, shown)?;
        file.write_all(bytes)
            .map_err(|e| WorkspaceError::io("write", shown, e))?;
        Ok(())
    }

    /// The entries of one directory: directories first, then by name.
    pub fn list_dir(&self, tool_path: &str) -> Result<Listing, WorkspaceError> {
        let rel = RelPath::parse(tool_path)?;
        let dir = self
            .dir
            .open_dir(rel.as_path())
            .map_err(|e| WorkspaceError::io("open the directory", tool_path, e))?;
        let entries = dir
            .entries()
            .map_err(|e| WorkspaceError::io("list", tool_path, e))?;
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Ok(ft) = entry.file_type() else { continue };
            let kind = if ft.is_dir() {
                EntryKind::Directory
            } else if ft.is_file() {
                EntryKind::File
            } else if ft.is_symlink() {
                EntryKind::Symlink
            } else {
                EntryKind::Other
            };
            let size = if kind == EntryKind::File {
                entry.metadata().ok().map(|m| m.len())
            } else {
                None
            };
            out.push(DirEntryInfo {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
                size,
            });
        }
        out.sort_by(|a, b| {
            (a.kind != EntryKind::Directory)
                .cmp(&(b.kind != EntryKind::Directory))
                .then_with(|| a.name.cmp(&b.name))
        });
        let truncated = out.len() > MAX_LIST_ENTRIES;
        out.truncate(MAX_LIST_ENTRIES);
        Ok(Listing {
            path: rel.display(),
            entries: out,
            truncated,
        })
    }
}
