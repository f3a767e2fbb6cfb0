//! The limits a sandbox enforces from the host side: how they are configured, and the
//! workspace's size, measured while a command runs and after it ends.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::workspace::walk::open_dir_nofollow;
use cap_std::fs::Dir;

use super::BwrapSandbox;
use crate::config::SandboxConfig;
use crate::sandbox::Sandbox;

/// How often a running command's workspace is measured.
const WORKSPACE_WATCH: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_bytes: u64,
    pub max_processes: u64,
    pub max_file_bytes: u64,
    pub max_workspace_bytes: u64,
    pub max_output: usize,
}

impl From<&SandboxConfig> for Limits {
    fn from(c: &SandboxConfig) -> Self {
        const MB: u64 = 1024 * 1024;
        Self {
            timeout: Duration::from_secs(c.command_timeout_secs),
            memory_bytes: c.memory_mb.saturating_mul(MB),
            max_processes: c.max_processes,
            max_file_bytes: c.max_file_size_mb.saturating_mul(MB),
            max_workspace_bytes: c.max_workspace_mb.saturating_mul(MB),
            max_output: c.max_output_bytes,
        }
    }
}

impl BwrapSandbox {
    /// While a command runs, checks the workspace every so often and ends the sandbox when it
    /// grows past its limit: a report after the fact would let one command fill the disk.
    pub(super) fn watch_workspace(&self) -> (tokio::task::JoinHandle<()>, Arc<AtomicBool>) {
        let over = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&over);
        let dir = self.workspace();
        let limit = self.limits.max_workspace_bytes;
        let pid = self.pid.load(Ordering::SeqCst);
        let handle = tokio::spawn(async move {
            let mut pause = Duration::from_millis(10);
            loop {
                tokio::time::sleep(pause).await;
                let d = dir.clone();
                let started = Instant::now();
                let Ok((total, _)) = tokio::task::spawn_blocking(move || scan(&d)).await else {
                    return;
                };
                // Often while it is cheap; a big workspace is measured less often.
                pause = (started.elapsed() * 4).max(WORKSPACE_WATCH);
                if total > limit {
                    flag.store(true, Ordering::SeqCst);
                    if pid != 0 {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    return;
                }
            }
        });
        (handle, over)
    }
}

/// Total bytes and the largest file of a workspace. It runs while commands do, and they may
/// swap any directory for a symlink meanwhile: directories are entered through a handle of
/// their parent with no-follow opens, so the walk never leaves the workspace.
pub(super) fn scan(dir: &Path) -> (u64, u64) {
    fn walk(dir: &Dir, total: &mut u64, largest: &mut u64) {
        let Ok(entries) = dir.entries() else {
            return;
        };
        for e in entries.flatten() {
            // The entry's own metadata: a symlink is measured as a link, never followed.
            let Ok(m) = e.metadata() else {
                continue;
            };
            if m.is_dir() {
                if let Ok(sub) = open_dir_nofollow(dir, Path::new(&e.file_name())) {
                    walk(&sub, total, largest);
                }
            } else {
                *total += m.len();
                *largest = (*largest).max(m.len());
            }
        }
    }
    let (mut total, mut largest) = (0, 0);
    if let Ok(root) = Dir::open_ambient_dir(dir, cap_std::ambient_authority()) {
        walk(&root, &mut total, &mut largest);
    }
    (total, largest)
}

pub(super) fn mb(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}
