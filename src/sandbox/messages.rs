//! What the host and the supervisor inside a sandbox say to each other: one JSON object per
//! line over the supervisor's stdin and stdout.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub command: String,
    /// Absolute path inside the sandbox, already checked to be under `/workspace`.
    pub cwd: String,
    pub env: Vec<(String, String)>,
    pub timeout_ms: u64,
    /// Bytes kept per stream.
    pub max_output: usize,
    /// Start the command and leave it running, its stdin and stdout (and stderr) connected
    /// to the host's attach socket, each connection introduced by this one-time token. The
    /// answer comes as soon as it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    pub stdout: String,
    pub stderr: String,
    pub stdout_total: u64,
    pub stderr_total: u64,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// The command could not be started (bad cwd, spawn failure).
    pub spawn_error: Option<String>,
    /// Without cgroups: the sandbox's processes reached the rlimit while the command ran.
    #[serde(default)]
    pub process_limit: bool,
}

/// The first line a supervisor prints: it has locked itself down and takes commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    pub ready: bool,
    /// Whether Landlock was enforced (the kernel may lack it).
    pub landlock: bool,
}
