//! Artifacts: the files of a workspace as the API lists and serves them.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
pub use protocol::task::{Artifact, ArtifactCategory as Category};

use crate::rfc3339::ts_precise;

use super::walk::walk;
use super::{RelPath, Workspace, WorkspaceError};

/// Files listed at most; a workspace with more is listed in path order up to this many.
pub const MAX_ARTIFACTS: usize = 5000;
/// Entries visited at most while listing (directories included).
const MAX_ARTIFACT_WALK: usize = 200_000;

const DOCUMENT: &[&str] = &[
    "pdf", "doc", "docx", "odt", "rtf", "txt", "md", "markdown", "rst", "tex", "ppt", "pptx",
    "odp", "epub", "pages", "key",
];
const DATA: &[&str] = &[
    "csv", "tsv", "json", "jsonl", "ndjson", "xml", "yaml", "yml", "toml", "parquet", "arrow",
    "feather", "avro", "xls", "xlsx", "ods", "numbers", "sqlite", "sqlite3", "db", "geojson",
    "npy", "npz", "h5", "hdf5", "pkl", "ini", "env",
];
const CODE: &[&str] = &[
    "rs",
    "py",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "go",
    "java",
    "kt",
    "kts",
    "scala",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hpp",
    "cs",
    "fs",
    "rb",
    "php",
    "swift",
    "m",
    "mm",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "bat",
    "lua",
    "pl",
    "r",
    "jl",
    "dart",
    "ex",
    "exs",
    "erl",
    "hs",
    "ml",
    "clj",
    "elm",
    "vue",
    "svelte",
    "html",
    "htm",
    "css",
    "scss",
    "sass",
    "less",
    "sql",
    "ipynb",
    "proto",
    "graphql",
    "tf",
    "nix",
    "zig",
    "asm",
    "s",
    "cmake",
    "gradle",
    "dockerfile",
    "makefile",
    "lock",
];
const ARCHIVE: &[&str] = &[
    "zip", "tar", "gz", "tgz", "bz2", "tbz2", "xz", "txz", "zst", "7z", "rar", "lz4", "jar", "whl",
];

/// A coarse kind of file, for icons and filters in a UI. Decided by the file's extension (its
/// MIME type first, then a list of source-code and data extensions):
/// - `image`: `image/*` (png, jpg, gif, svg, webp, …)
/// - `media`: `audio/*` and `video/*`
/// - `document`: pdf, office and OpenDocument text/slides, markdown, plain text, rtf, epub
/// - `data`: csv, tsv, json, jsonl, xml, yaml, toml, parquet, spreadsheets, sqlite, …
/// - `code`: source files (rs, py, js, ts, go, c, java, sh, html, css, sql, ipynb, …)
/// - `archive`: zip, tar, gz, tgz, bz2, xz, zst, 7z, rar
/// - `other`: everything else
pub fn category_of(name: &str) -> Category {
    let lower = name.to_ascii_lowercase();
    let ext = match lower.rsplit_once('.') {
        Some((_, ext)) => ext,
        // Extension-less files named for their role (`Makefile`, `Dockerfile`).
        None => lower.as_str(),
    };
    let mime = mime_guess::from_ext(ext).first();
    let top = mime.as_ref().map(|m| m.type_().as_str().to_owned());
    if CODE.contains(&ext) {
        Category::Code
    } else if DATA.contains(&ext) {
        Category::Data
    } else if DOCUMENT.contains(&ext) {
        Category::Document
    } else if ARCHIVE.contains(&ext) {
        Category::Archive
    } else if top.as_deref() == Some("image") {
        Category::Image
    } else if matches!(top.as_deref(), Some("audio" | "video")) {
        Category::Media
    } else {
        Category::Other
    }
}

/// An opened artifact, ready to stream. The file was opened beneath the workspace and checked
/// to be a regular file on the handle itself.
#[derive(Debug)]
pub struct ArtifactDownload {
    pub file: std::fs::File,
    pub name: String,
    pub size: u64,
    pub mime_type: String,
}

fn mime_of(path: &std::path::Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

impl Workspace {
    /// Every regular file in the workspace (symlinks are not followed; `.git`,
    /// `node_modules`, `__pycache__` and `.venv` are not entered), in path order, at most
    /// `MAX_ARTIFACTS`.
    pub fn artifacts(&self) -> Result<Vec<Artifact>, WorkspaceError> {
        let mut out = Vec::new();
        walk(&self.dir, &RelPath::root(), ".", MAX_ARTIFACT_WALK, |v| {
            if !v.file_type.is_file() {
                return ControlFlow::Continue(());
            }
            let Ok(meta) = v.dir.symlink_metadata(v.name) else {
                return ControlFlow::Continue(());
            };
            out.push(Artifact {
                name: v.name.to_owned(),
                path: v.rel.slash(),
                size: meta.len(),
                mime_type: mime_of(v.rel.as_path()),
                category: category_of(v.name),
                modified_at: meta
                    .modified()
                    .ok()
                    .map(|t| ts_precise(DateTime::<Utc>::from(t.into_std()))),
            });
            if out.len() >= MAX_ARTIFACTS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Opens one file for download by workspace-relative path (`/workspace/…` is accepted
    /// too). Directories, special files and anything outside the workspace are refused.
    pub fn open_artifact(&self, path: &str) -> Result<ArtifactDownload, WorkspaceError> {
        let rel = RelPath::parse(path)?;
        if rel.is_root() {
            return Err(WorkspaceError::IsDirectory {
                path: path.to_owned(),
            });
        }
        let (file, meta) = self.open_regular(&rel, path)?;
        let file = file.into_std();
        // Streaming readers should block normally; O_NONBLOCK only guarded the open.
        let _ = nix::fcntl::fcntl(
            &file,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
        );
        Ok(ArtifactDownload {
            name: rel.file_name().unwrap_or_default(),
            size: meta.len(),
            mime_type: mime_of(rel.as_path()),
            file,
        })
    }
}
