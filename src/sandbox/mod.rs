//! Isolated workspaces where a task's commands run: the `Sandbox` trait, its bubblewrap
//! backend, and the pieces both share.
//!
//! Layers, outermost first (as openai/codex does it): bubblewrap's namespaces (mount, PID,
//! IPC, UTS, user; network when the project turns it off) with a read-only system and nothing
//! of the host's data; `no_new_privs`; a seccomp filter; Landlock where the kernel has it;
//! cgroup (v1) limits with rlimits as the fallback. A small supervisor (this same binary, in
//! `sandbox-supervisor` mode) runs inside each sandbox and starts every command, so a
//! command costs a process spawn, not a sandbox start.

pub mod bwrap;
pub mod cgroup;
pub mod manager;
pub mod messages;
pub mod mountinfo;
pub mod policy;
pub mod redact;
pub mod supervisor;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use redact::Redactor;

/// One shell command to run in a sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Command {
    /// Run with `/bin/sh -c`.
    pub command: String,
    /// Working directory relative to `/workspace` (empty: `/workspace` itself).
    #[serde(default)]
    pub cwd: String,
    /// Wall time allowed; the sandbox's default when `None`.
    #[serde(default)]
    pub timeout: Option<Duration>,
}

impl Command {
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            cwd: String::new(),
            timeout: None,
        }
    }
}

/// What a command did. Output is already redacted of the task's secrets, and cut to the
/// sandbox's output limit (then `truncated` is set and a note says so).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
    /// `None` when the command was killed by a signal or never started.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub truncated: bool,
    /// Why the sandbox ended the command, when it did: a limit, in words a model can act on.
    pub limit: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The backend cannot isolate on this machine; nothing runs.
    #[error("the sandbox is unavailable: {0}")]
    Unavailable(String),
    #[error("the sandbox failed: {0}")]
    Failed(String),
    #[error("the working directory `{0}` is outside /workspace or does not exist")]
    BadCwd(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A program to start inside a sandbox and leave running (a local MCP server).
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// Run with `/bin/sh -c`.
    pub command: String,
    /// Working directory relative to `/workspace`.
    pub cwd: String,
    /// On top of the task's environment.
    pub env: Vec<(String, String)>,
}

/// A started program's streams, on the host: stdin and stdout on one socket, stderr on
/// another. Hanging up `stdio` ends the program.
pub struct Attached {
    pub stdio: tokio::net::UnixStream,
    pub stderr: tokio::net::UnixStream,
}

/// A task's computer: a workspace directory and a way to run commands against it.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// Runs one command and waits for it (bounded by its timeout).
    async fn run(&self, command: Command) -> Result<CommandOutput, SandboxError>;

    /// Starts a program that keeps running, as the sandbox user, seeing the workspace, with
    /// its streams handed to the host.
    async fn attach(&self, program: Program) -> Result<Attached, SandboxError>;

    /// The host directory mounted read-write at `/workspace` inside the sandbox. Host-side
    /// code must reach it only through `crate::workspace`, which refuses every escape.
    fn workspace(&self) -> PathBuf;

    /// Ends every process in the sandbox (cancel, expiry, teardown). The workspace stays.
    async fn kill_all(&self) -> Result<(), SandboxError>;
}
