//! `run_shell_command`: one command through the task's `Sandbox`.

use std::fmt::Write as _;

use serde_json::json;

use super::args::{self, non_empty};
use super::{Builtin, ToolContext, ToolResult};
use crate::sandbox::Command;

pub async fn run(ctx: &ToolContext, a: args::RunShellCommand) -> Result<ToolResult, String> {
    non_empty(Builtin::RunShellCommand, "command", &a.command)?;
    // The directory is checked host-side, beneath the workspace, so a refused path gets the
    // same message as from the file tools; the sandbox checks it again inside.
    let cwd = match a.directory.as_deref().filter(|d| !d.trim().is_empty()) {
        None => None,
        Some(dir) => {
            let workspace = ctx.workspace.clone();
            let dir = dir.to_owned();
            let rel = tokio::task::spawn_blocking(move || workspace.existing_dir(&dir))
                .await
                .map_err(|_| "The tool failed unexpectedly; try again.".to_owned())?
                .map_err(|e| e.to_string())?;
            Some(rel)
        }
    };
    let mut command = Command::new(a.command.clone());
    command.cwd = cwd.as_ref().map(|r| r.slash()).unwrap_or_default();
    let output = ctx
        .sandbox
        .run(command)
        .await
        .map_err(|e| format!("The command could not be run: {e}"))?;

    let shown_dir = cwd.as_ref().map_or_else(
        || "/workspace".to_owned(),
        |r| format!("/workspace/{}", r.slash()),
    );
    let empty = |s: &str| {
        if s.is_empty() {
            "(empty)".to_owned()
        } else {
            s.to_owned()
        }
    };
    let mut text = String::new();
    let _ = writeln!(text, "Command: {}", a.command);
    let _ = writeln!(text, "Directory: {shown_dir}");
    let _ = writeln!(text, "Stdout: {}", empty(&output.stdout));
    let _ = writeln!(text, "Stderr: {}", empty(&output.stderr));
    let _ = writeln!(
        text,
        "Exit Code: {}",
        output.exit_code.map_or_else(
            || "(none: the command was killed)".to_owned(),
            |c| c.to_string()
        )
    );
    if output.timed_out {
        let _ = writeln!(
            text,
            "Timed Out: yes — the command was stopped at the time limit."
        );
    }
    if let Some(limit) = &output.limit {
        let _ = writeln!(text, "Limit: {limit}");
    }
    if output.truncated {
        let _ = writeln!(text, "[Output was cut at the sandbox's limit.]");
    }
    let ok = output.exit_code == Some(0) && !output.timed_out;
    Ok(ToolResult {
        ok,
        output: text,
        data: Some(json!({
            "command": a.command,
            "directory": shown_dir,
            "description": a.description,
            "stdout": output.stdout,
            "stderr": output.stderr,
            "exitCode": output.exit_code,
            "timedOut": output.timed_out,
            "truncated": output.truncated,
            "limit": output.limit,
        })),
    })
}
