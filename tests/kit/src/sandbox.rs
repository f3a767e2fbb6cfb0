//! What the sandbox tests share: a data dir with a `SandboxManager` on it, unique task ids,
//! and host-side probes (processes, sizes) to check what a sandboxed command did.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sigmic::config::SandboxConfig;
use sigmic::egress::NetworkPolicy;
use sigmic::sandbox::bwrap::{BwrapSandbox, TaskEnv};
use sigmic::sandbox::manager::{SandboxManager, SandboxSpec};
use sigmic::sandbox::{Command, CommandOutput, Sandbox};

/// The defaults, with the built binary as supervisor, no warm pool, and a command timeout
/// short enough that a hang fails a test instead of stalling the run.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        warm_pool: 0,
        command_timeout_secs: 60,
        supervisor: Some(crate::sigmic_bin()),
        ..Default::default()
    }
}

/// A task id unique to this test run: cgroups are named after it and are machine-wide, and
/// the two sandbox test binaries may run at the same time.
pub fn task(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// A data dir and the manager that keeps its workspaces there.
pub struct Host {
    pub data: tempfile::TempDir,
    pub manager: Arc<SandboxManager>,
}

impl Host {
    pub async fn new() -> Self {
        Self::with(config()).await
    }

    pub async fn with(config: SandboxConfig) -> Self {
        let data = tempfile::tempdir().expect("data dir");
        let manager = SandboxManager::new(config, data.path())
            .await
            .expect("sandbox manager");
        if let Some(why) = manager.unavailable() {
            panic!("the sandbox is unavailable on this machine: {why}");
        }
        Self { data, manager }
    }

    pub fn data(&self) -> &Path {
        self.data.path()
    }

    pub fn workspace_of(&self, task_id: &str) -> PathBuf {
        self.data().join("workspaces").join(task_id)
    }

    pub fn snapshot_of(&self, task_id: &str) -> PathBuf {
        self.data().join("snapshots").join(format!("{task_id}.tar"))
    }

    /// A task's sandbox without network and without env.
    pub async fn sandbox(&self, task_id: &str) -> Arc<BwrapSandbox> {
        self.acquire(SandboxSpec {
            task_id: task_id.to_owned(),
            network: NetworkPolicy::Off,
            env: TaskEnv::default(),
        })
        .await
    }

    pub async fn acquire(&self, spec: SandboxSpec) -> Arc<BwrapSandbox> {
        self.manager
            .acquire(&spec)
            .await
            .unwrap_or_else(|e| panic!("acquire {}: {e}", spec.task_id))
    }

    /// Ends every sandbox (their cgroups go with them).
    pub async fn close(self) {
        self.manager.shutdown().await;
    }
}

/// Runs a shell command with the sandbox's defaults; a sandbox error fails the test.
pub async fn run(sb: &BwrapSandbox, command: &str) -> CommandOutput {
    run_cmd(sb, Command::new(command)).await
}

pub async fn run_cmd(sb: &BwrapSandbox, command: Command) -> CommandOutput {
    let text = command.command.clone();
    sb.run(command)
        .await
        .unwrap_or_else(|e| panic!("`{text}` could not run: {e}"))
}

pub fn with_timeout(command: &str, timeout: Duration) -> Command {
    Command {
        command: command.to_owned(),
        cwd: String::new(),
        timeout: Some(timeout),
    }
}

/// Everything a command said, for assertions that look at both streams.
pub fn all(out: &CommandOutput) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

/// Host processes (not this test process) whose command line contains `needle`.
pub fn host_processes_with(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// Host processes in a cgroup whose path mentions `name` (a sandbox's cgroup is named after
/// its task).
pub fn host_processes_in_cgroup(name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if std::fs::read_to_string(e.path().join("cgroup"))
            .is_ok_and(|c| c.lines().any(|l| l.ends_with(&format!("/{name}"))))
        {
            found.push(pid);
        }
    }
    found
}

/// Waits until `done` holds, up to `limit`; answers whether it did.
pub async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Bytes of regular files under `dir` (links not followed).
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if m.is_dir() {
            total += dir_bytes(&e.path());
        } else {
            total += m.len();
        }
    }
    total
}

/// A process on the host (outside every sandbox), killed when dropped.
pub struct HostProcess(pub Child);

impl HostProcess {
    /// `sleep <seconds>`: pick a distinctive number so it can be looked for.
    pub fn sleep(seconds: &str) -> Self {
        let child = std::process::Command::new("sleep")
            .arg(seconds)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("host sleep");
        Self(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server process can still start processes (the limits hit the sandbox, not the host).
pub fn host_can_spawn() -> bool {
    std::process::Command::new("true")
        .status()
        .is_ok_and(|s| s.success())
}

/// Another task's sandbox on the same manager answers a command promptly.
pub async fn other_sandbox_is_healthy(host: &Host, task_id: &str) {
    let sb = host.sandbox(task_id).await;
    let start = Instant::now();
    let out = run(&sb, "echo healthy").await;
    assert_eq!(out.stdout, "healthy\n", "a second sandbox: {out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "a second sandbox took {:?} to answer",
        start.elapsed()
    );
}
