//! The file tools: thin wrappers over `crate::workspace`, which does the guarding, plus the
//! wording the model reads.

use std::fmt::Write as _;

use serde_json::json;

use super::args::{self, non_empty};
use super::{Builtin, ToolContext, ToolResult};
use crate::workspace::{EntryKind, ReadOutcome, Workspace, WorkspaceError};

type Outcome = Result<ToolResult, String>;

/// Runs a blocking workspace call off the async threads.
async fn blocking<T: Send + 'static>(
    ctx: &ToolContext,
    f: impl FnOnce(Workspace) -> Result<T, WorkspaceError> + Send + 'static,
) -> Result<T, String> {
    let workspace = ctx.workspace.clone();
    match tokio::task::spawn_blocking(move || f(workspace)).await {
        Ok(result) => result.map_err(|e| describe(&e)),
        Err(e) => {
            tracing::error!(error = %e, "file tool panicked");
            Err("The tool failed unexpectedly; try again.".to_owned())
        }
    }
}

/// The model reads the error's own text; server-side failures are logged, not detailed.
fn describe(e: &WorkspaceError) -> String {
    if !e.is_caller_error() {
        tracing::warn!(error = %e, "workspace I/O failed in a tool");
    }
    e.to_string()
}

pub async fn read_file(ctx: &ToolContext, a: args::ReadFile) -> Outcome {
    non_empty(Builtin::ReadFile, "path", &a.path)?;
    let path = a.path.clone();
    let outcome = blocking(ctx, move |ws| ws.read_text(&path, a.offset, a.limit)).await?;
    let output = match &outcome {
        ReadOutcome::Binary {
            path,
            size,
            mime_type,
        } => format!(
            "[`{path}` is a binary file ({mime_type}, {size} bytes); its contents are not shown. Use run_shell_command to inspect it (e.g. `file`, `xxd | head`).]"
        ),
        ReadOutcome::Text(slice) => {
            let mut out = String::new();
            if slice.more || slice.offset > 0 {
                let first = slice.offset + 1;
                let last = slice.offset + slice.lines_returned;
                if slice.lines_returned == 0 {
                    let _ = writeln!(
                        out,
                        "[`{}` has {} lines; offset {} is past the end.]",
                        slice.path, slice.total_lines, slice.offset
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "[Showing lines {first}-{last} of {} in `{}`.{}]",
                        slice.total_lines,
                        slice.path,
                        if slice.more {
                            format!(" To read more, call read_file with offset={last}.")
                        } else {
                            String::new()
                        }
                    );
                }
            }
            if slice.lines_cut {
                let _ = writeln!(
                    out,
                    "[Some lines were longer than 2000 characters and were cut.]"
                );
            }
            out.push_str(&slice.content);
            out
        }
    };
    Ok(ToolResult::success(output, outcome))
}

pub async fn write_file(ctx: &ToolContext, a: args::WriteFile) -> Outcome {
    non_empty(Builtin::WriteFile, "path", &a.path)?;
    let outcome = blocking(ctx, move |ws| ws.write_text(&a.path, &a.content)).await?;
    let verb = if outcome.created {
        "Created"
    } else {
        "Overwrote"
    };
    Ok(ToolResult::success(
        format!("{verb} `{}` ({} bytes).", outcome.path, outcome.bytes),
        outcome,
    ))
}

pub async fn replace(ctx: &ToolContext, a: args::Replace) -> Outcome {
    non_empty(Builtin::Replace, "path", &a.path)?;
    let expected = a.expected_replacements.unwrap_or(1);
    let path = a.path.clone();
    let count = blocking(ctx, move |ws| {
        ws.replace(&a.path, &a.old_string, &a.new_string, expected)
    })
    .await?;
    Ok(ToolResult::success(
        format!(
            "Replaced {count} occurrence{} in `{path}`.",
            if count == 1 { "" } else { "s" }
        ),
        json!({"path": path, "replacements": count}),
    ))
}

pub async fn list_directory(ctx: &ToolContext, a: args::ListDirectory) -> Outcome {
    let listing = blocking(ctx, move |ws| ws.list_dir(&a.path)).await?;
    let mut out = String::new();
    if listing.entries.is_empty() {
        let _ = write!(out, "Directory `{}` is empty.", listing.path);
    } else {
        let _ = writeln!(out, "Directory `{}`:", listing.path);
        for e in &listing.entries {
            let _ = match (e.kind, e.size) {
                (EntryKind::Directory, _) => writeln!(out, "[DIR] {}/", e.name),
                (EntryKind::Symlink, _) => writeln!(out, "[LINK] {}", e.name),
                (EntryKind::Other, _) => writeln!(out, "[SPECIAL] {}", e.name),
                (EntryKind::File, Some(size)) => writeln!(out, "{} ({size} bytes)", e.name),
                (EntryKind::File, None) => writeln!(out, "{}", e.name),
            };
        }
        if listing.truncated {
            let _ = writeln!(
                out,
                "[Only the first {} entries are shown; use glob or run_shell_command to narrow down.]",
                listing.entries.len()
            );
        }
    }
    Ok(ToolResult::success(out, listing))
}

pub async fn glob(ctx: &ToolContext, a: args::Glob) -> Outcome {
    non_empty(Builtin::Glob, "pattern", &a.pattern)?;
    let pattern = a.pattern.clone();
    let found = blocking(ctx, move |ws| ws.glob(&a.pattern, a.path.as_deref())).await?;
    let mut out = String::new();
    if found.paths.is_empty() {
        let _ = write!(out, "No files match `{pattern}`.");
    } else {
        let _ = writeln!(out, "{} file(s) match `{pattern}`:", found.paths.len());
        for p in &found.paths {
            let _ = writeln!(out, "{p}");
        }
    }
    if found.truncated {
        let _ = write!(
            out,
            "\n[The search stopped at a limit; results may be incomplete. Use a narrower pattern or path.]"
        );
    }
    Ok(ToolResult::success(out, found))
}

pub async fn search_file_content(ctx: &ToolContext, a: args::SearchFileContent) -> Outcome {
    non_empty(Builtin::SearchFileContent, "pattern", &a.pattern)?;
    let pattern = a.pattern.clone();
    let found = blocking(ctx, move |ws| {
        ws.search(&a.pattern, a.include.as_deref(), a.path.as_deref())
    })
    .await?;
    let mut out = String::new();
    if found.matches.is_empty() {
        let _ = write!(
            out,
            "No lines match /{pattern}/ in {} file(s) searched.",
            found.files_searched
        );
    } else {
        let _ = writeln!(out, "{} match(es) for /{pattern}/:", found.matches.len());
        for m in &found.matches {
            let _ = writeln!(out, "{}:{}: {}", m.path, m.line, m.text);
        }
    }
    if found.truncated {
        let _ = write!(
            out,
            "\n[The search stopped at a limit; results may be incomplete. Narrow it with `include` or `path`.]"
        );
    }
    Ok(ToolResult::success(out, found))
}
