//! `glob` (file names by pattern) and `search_file_content` (lines by regular expression), both
//! bounded in what they visit and what they return.

use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;

use cap_std::fs::{OpenOptions, OpenOptionsExt};
use globset::{Glob, GlobBuilder, GlobMatcher};
use regex::Regex;
use serde::Serialize;

use super::walk::walk;
use super::{RelPath, Workspace, WorkspaceError};

/// Entries a search visits before it gives up (and says so).
pub const MAX_WALK_ENTRIES: usize = 100_000;
pub const MAX_GLOB_RESULTS: usize = 1000;
pub const MAX_SEARCH_MATCHES: usize = 200;
/// Files larger than this are not searched (logs and data dumps; use the shell for those).
pub const MAX_SEARCH_FILE_BYTES: u64 = 5 * 1024 * 1024;
/// A matching line is shown up to this many characters.
const MAX_MATCH_LINE_CHARS: usize = 300;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobMatches {
    /// Workspace-relative paths, sorted.
    pub paths: Vec<String>,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMatch {
    pub path: String,
    /// 1-based.
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMatches {
    pub matches: Vec<SearchMatch>,
    pub files_searched: usize,
    pub truncated: bool,
}

/// A glob matched against a path relative to the search directory; a pattern without `/`
/// (`*.rs`) also matches a file's name at any depth, as `include` filters are usually meant.
struct PathFilter {
    matcher: GlobMatcher,
    name_only: bool,
}

impl PathFilter {
    fn new(pattern: &str) -> Result<Self, WorkspaceError> {
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map(|g: Glob| g.compile_matcher())
            .map_err(|e| WorkspaceError::InvalidGlob {
                pattern: pattern.to_owned(),
                reason: e.kind().to_string(),
            })?;
        Ok(Self {
            matcher,
            name_only: !pattern.contains('/'),
        })
    }

    fn matches(&self, relative: &str, name: &str) -> bool {
        self.matcher.is_match(relative) || (self.name_only && self.matcher.is_match(name))
    }
}

/// The part of `rel` below `base`, with `/` separators.
fn below(base: &RelPath, rel: &RelPath) -> String {
    let base = base.slash();
    let full = rel.slash();
    if base.is_empty() {
        full
    } else {
        full.strip_prefix(&base)
            .map(|s| s.trim_start_matches('/').to_owned())
            .unwrap_or(full)
    }
}

impl Workspace {
    /// Files (not directories) under `dir` whose path relative to `dir` matches `pattern`
    /// (`**/*.rs`, `src/*.toml`; `*` does not cross `/`). A pattern without `/` matches names
    /// at any depth.
    pub fn glob(&self, pattern: &str, dir: Option<&str>) -> Result<GlobMatches, WorkspaceError> {
        let filter = PathFilter::new(pattern.trim_start_matches("./"))?;
        let shown = dir.unwrap_or(".");
        let base = RelPath::parse(shown)?;
        let mut paths = Vec::new();
        let mut full = false;
        let stopped = walk(&self.dir, &base, shown, MAX_WALK_ENTRIES, |v| {
            if v.file_type.is_dir() {
                return ControlFlow::Continue(());
            }
            if filter.matches(&below(&base, &v.rel), v.name) {
                if paths.len() == MAX_GLOB_RESULTS {
                    full = true;
                    return ControlFlow::Break(());
                }
                paths.push(v.rel.slash());
            }
            ControlFlow::Continue(())
        })?;
        paths.sort();
        Ok(GlobMatches {
            paths,
            truncated: stopped || full,
        })
    }

    /// Lines matching `pattern` in text files under `dir`, optionally only files matching the
    /// `include` glob. Binary files, files over `MAX_SEARCH_FILE_BYTES` and special files are
    /// skipped; symlinks are not followed.
    pub fn search(
        &self,
        pattern: &str,
        include: Option<&str>,
        dir: Option<&str>,
    ) -> Result<SearchMatches, WorkspaceError> {
        let regex = Regex::new(pattern).map_err(|e| WorkspaceError::InvalidRegex {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        let include = include
            .map(|p| PathFilter::new(p.trim_start_matches("./")))
            .transpose()?;
        let shown = dir.unwrap_or(".");
        let base = RelPath::parse(shown)?;
        let mut matches = Vec::new();
        let mut files_searched = 0usize;
        let mut full = false;
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(
            nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_NOCTTY.bits(),
        );
        let stopped = walk(&self.dir, &base, shown, MAX_WALK_ENTRIES, |v| {
            if !v.file_type.is_file() {
                return ControlFlow::Continue(());
            }
            if let Some(filter) = &include
                && !filter.matches(&below(&base, &v.rel), v.name)
            {
                return ControlFlow::Continue(());
            }
            let Ok(file) = v.dir.open_with(v.name, &options) else {
                return ControlFlow::Continue(());
            };
            match file.metadata() {
                Ok(m) if m.is_file() && m.len() <= MAX_SEARCH_FILE_BYTES => {}
                _ => return ControlFlow::Continue(()),
            }
            files_searched += 1;
            let mut reader = BufReader::new(file.into_std().take(MAX_SEARCH_FILE_BYTES));
            if reader.fill_buf().map(|b| b.contains(&0)).unwrap_or(true) {
                return ControlFlow::Continue(());
            }
            let mut line = Vec::new();
            let mut number = 0usize;
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                number += 1;
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if regex.is_match(text) {
                    if matches.len() == MAX_SEARCH_MATCHES {
                        full = true;
                        return ControlFlow::Break(());
                    }
                    let mut shown_text: String = text.chars().take(MAX_MATCH_LINE_CHARS).collect();
                    if shown_text.len() < text.len() {
                        shown_text.push_str(" …");
                    }
                    matches.push(SearchMatch {
                        path: v.rel.slash(),
                        line: number,
                        text: shown_text,
                    });
                }
            }
            ControlFlow::Continue(())
        })?;
        Ok(SearchMatches {
            matches,
            files_searched,
            truncated: stopped || full,
        })
    }
}
