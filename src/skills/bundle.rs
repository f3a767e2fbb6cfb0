//! A skill's files, checked: from JSON (`SkillInput`, `SkillDocument`) or from a ZIP of its
//! folder. A ZIP is unpacked by the same guarded extractor as task uploads (no `..`, no
//! absolute paths, no links, bombs bounded while bytes are counted) into a temporary directory
//! that is gone when the bundle is read, whatever happened.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine;
use protocol::skills::{SkillDocument, SkillDocumentFile, SkillInput};

use super::{MAX_BYTES, MAX_FILES, Manifest, SKILL_MD, SkillError};
use crate::workspace::{UploadError, ZipLimits, extract_zip};

/// One file of a skill, relative to its folder (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub path: String,
    pub content: Vec<u8>,
    pub executable: bool,
}

/// A skill ready to store: its manifest and every file, `SKILL.md` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillBundle {
    pub manifest: Manifest,
    pub files: Vec<BundleFile>,
}

/// Entries one archive may hold (folders count too).
const MAX_ZIP_ENTRIES: usize = 1_000;
/// Folders macOS and Finder add to an archive, which no skill means to ship.
const JUNK: &[&str] = &["__MACOSX", ".DS_Store"];

impl SkillBundle {
    /// A skill written as JSON: `SKILL.md` is made from its parts.
    pub fn from_input(input: &SkillInput) -> Result<Self, SkillError> {
        let manifest = Manifest::new(&input.name, &input.description, &input.instructions)?;
        let mut files = Vec::new();
        for (path, text) in &input.files {
            let field = format!("files.{path}");
            let path = file_path(path, &field)?;
            files.push(BundleFile {
                executable: path.starts_with("scripts/") || text.starts_with("#!"),
                path,
                content: text.as_bytes().to_vec(),
            });
        }
        Self::assemble(manifest, None, files)
    }

    /// A skill inside a configuration document (`skills[i]` in errors).
    pub fn from_document(doc: &SkillDocument, field: &str) -> Result<Self, SkillError> {
        let prefix = format!("{field}.");
        let at = |e: SkillError| e.under(&prefix);
        let manifest = Manifest::new(&doc.name, &doc.description, &doc.instructions).map_err(at)?;
        let mut files = Vec::new();
        for (i, f) in doc.files.iter().enumerate() {
            let here = format!("{field}.files[{i}]");
            let path = file_path(&f.path, &here)?;
            let content = match (&f.text, &f.base64) {
                (Some(text), None) => text.as_bytes().to_vec(),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| SkillError::new(&here, format!("Not valid base64: {e}.")))?,
                _ => {
                    return Err(SkillError::new(
                        here,
                        "Give the file's content as `text` or as `base64`, one of the two.",
                    ));
                }
            };
            files.push(BundleFile {
                path,
                content,
                executable: f.executable,
            });
        }
        Self::assemble(manifest, None, files).map_err(at)
    }

    /// A skill uploaded as a ZIP of its folder: `SKILL.md` at the archive's top, or in its
    /// one top-level folder. `staging` is where it is unpacked for the moment.
    pub fn from_zip(bytes: &[u8], staging: &Path) -> Result<Self, SkillError> {
        std::fs::create_dir_all(staging).map_err(io_error)?;
        let temp = tempfile::Builder::new()
            .prefix("skill-")
            .tempdir_in(staging)
            .map_err(io_error)?;
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .map_err(io_error)?;
        let limits = ZipLimits {
            max_entries: MAX_ZIP_ENTRIES,
            max_bytes: MAX_BYTES,
            limit_entries: MAX_ZIP_ENTRIES,
            limit_bytes: MAX_BYTES,
        };
        extract_zip(Cursor::new(bytes), "the archive", &dir, &limits).map_err(|e| match e {
            UploadError::ZipTooLarge { .. } | UploadError::ZipTooManyEntries { .. } => {
                SkillError::too_large("file", e.to_string())
            }
            _ => SkillError::new("file", e.to_string()),
        })?;
        let root = skill_root(temp.path())?;
        let mut found = Vec::new();
        collect(&root, "", &mut found)?;
        let Some(pos) = found.iter().position(|f| f.path == SKILL_MD) else {
            return Err(no_skill_md());
        };
        let skill_md = found.remove(pos);
        let text = String::from_utf8(skill_md.content)
            .map_err(|_| SkillError::new("file", "SKILL.md is not UTF-8 text."))?;
        let manifest = Manifest::parse(&text)?;
        Self::assemble(manifest, Some(text), found)
    }

    /// The parts as a configuration document carries them.
    pub fn to_document(&self, enabled: bool) -> SkillDocument {
        SkillDocument {
            name: self.manifest.name.to_string(),
            description: self.manifest.description.clone(),
            instructions: self.manifest.instructions.clone(),
            enabled,
            files: self
                .files
                .iter()
                .filter(|f| f.path != SKILL_MD)
                .map(|f| match std::str::from_utf8(&f.content) {
                    Ok(text) => SkillDocumentFile {
                        path: f.path.clone(),
                        text: Some(text.to_owned()),
                        base64: None,
                        executable: f.executable,
                    },
                    Err(_) => SkillDocumentFile {
                        path: f.path.clone(),
                        text: None,
                        base64: Some(base64::engine::general_purpose::STANDARD.encode(&f.content)),
                        executable: f.executable,
                    },
                })
                .collect(),
        }
    }

    fn assemble(
        manifest: Manifest,
        skill_md: Option<String>,
        mut files: Vec<BundleFile>,
    ) -> Result<Self, SkillError> {
        if files.iter().any(|f| f.path == SKILL_MD) {
            return Err(SkillError::new(
                "files",
                "SKILL.md is made from `name`, `description` and `instructions`; leave it out of `files`.",
            ));
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let text = skill_md.unwrap_or_else(|| manifest.render());
        files.insert(
            0,
            BundleFile {
                path: SKILL_MD.to_owned(),
                content: text.into_bytes(),
                executable: false,
            },
        );
        if files.len() > MAX_FILES {
            return Err(SkillError::too_large(
                "files",
                format!("A skill has at most {MAX_FILES} files."),
            ));
        }
        let total: u64 = files.iter().map(|f| f.content.len() as u64).sum();
        if total > MAX_BYTES {
            return Err(SkillError::too_large(
                "files",
                format!(
                    "A skill holds at most {} MB of files.",
                    MAX_BYTES / 1024 / 1024
                ),
            ));
        }
        // A file and a folder of one name cannot both be laid out.
        let paths: BTreeMap<&str, ()> = files.iter().map(|f| (f.path.as_str(), ())).collect();
        for f in &files {
            let mut prefix = f.path.as_str();
            while let Some((parent, _)) = prefix.rsplit_once('/') {
                if paths.contains_key(parent) {
                    return Err(SkillError::new(
                        "files",
                        format!("`{parent}` is both a file and the folder of `{}`.", f.path),
                    ));
                }
                prefix = parent;
            }
        }
        Ok(Self { manifest, files })
    }
}

/// A file's path inside a skill: relative, `/`-separated, no `.` or `..` parts.
fn file_path(input: &str, field: &str) -> Result<String, SkillError> {
    let refuse = |m: &str| Err(SkillError::new(field, m));
    if input.is_empty() || input.len() > 1024 {
        return refuse("A path of 1 to 1024 characters.");
    }
    if input.starts_with('/') || input.contains('\\') {
        return refuse("A path relative to the skill's folder, with `/` between its parts.");
    }
    for part in input.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return refuse(
                "No empty, `.` or `..` parts: the file must stay in the skill's folder.",
            );
        }
        if part.len() > 255 || part.chars().any(char::is_control) {
            return refuse("Each part at most 255 bytes, without control characters.");
        }
    }
    Ok(input.to_owned())
}

fn no_skill_md() -> SkillError {
    SkillError::new(
        "file",
        "The archive has no SKILL.md, at its top or in its one top-level folder.",
    )
}

fn io_error(e: std::io::Error) -> SkillError {
    tracing::error!(error = %e, "could not unpack a skill");
    SkillError::new("file", "The archive could not be unpacked on the server.")
}

/// The folder holding `SKILL.md`: the archive's top, or its only top-level folder.
fn skill_root(top: &Path) -> Result<std::path::PathBuf, SkillError> {
    if top.join(SKILL_MD).is_file() {
        return Ok(top.to_owned());
    }
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(top).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name();
        if JUNK.iter().any(|j| name == *j) {
            continue;
        }
        if entry.file_type().map_err(io_error)?.is_dir() {
            dirs.push(entry.path());
        } else {
            return Err(no_skill_md());
        }
    }
    match dirs.as_slice() {
        [one] if one.join(SKILL_MD).is_file() => Ok(one.clone()),
        _ => Err(no_skill_md()),
    }
}

/// Every regular file below `dir` (the extractor wrote only files and folders).
fn collect(dir: &Path, prefix: &str, out: &mut Vec<BundleFile>) -> Result<(), SkillError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_error)?
        .collect::<Result<_, _>>()
        .map_err(io_error)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if JUNK.contains(&name.as_str()) {
            continue;
        }
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = entry.metadata().map_err(io_error)?;
        if meta.is_dir() {
            collect(&entry.path(), &path, out)?;
        } else if meta.is_file() {
            if out.len() >= MAX_FILES {
                return Err(SkillError::too_large(
                    "file",
                    format!("A skill has at most {MAX_FILES} files."),
                ));
            }
            out.push(BundleFile {
                content: std::fs::read(entry.path()).map_err(io_error)?,
                executable: meta.permissions().mode() & 0o111 != 0,
                path,
            });
        }
    }
    Ok(())
}
