//! Per-sandbox limits with the cgroup v1 controllers this kind of machine has (`memory`,
//! `pids` under `/sys/fs/cgroup/<controller>`). Creating them needs root; without them the
//! supervisor falls back to rlimits.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
const PARENT: &str = "sigmic";

/// Each server process keeps its sandboxes' cgroups under `sigmic/<pid>/`, so several
/// servers on one machine never touch each other's, and a dead server's are recognisable.
fn process_parent(controller: &str) -> PathBuf {
    Path::new(ROOT)
        .join(controller)
        .join(PARENT)
        .join(std::process::id().to_string())
}

pub struct Cgroup {
    memory: PathBuf,
    pids: PathBuf,
}

impl Cgroup {
    /// Whether this machine lets us make cgroups (v1 controllers present and writable).
    pub fn available() -> bool {
        ["memory", "pids"]
            .iter()
            .all(|c| fs::create_dir_all(process_parent(c)).is_ok())
    }

    pub fn create(name: &str, memory_bytes: u64, max_pids: u64) -> io::Result<Self> {
        let memory = process_parent("memory").join(name);
        let pids = process_parent("pids").join(name);
        fs::create_dir_all(&memory)?;
        fs::create_dir_all(&pids)?;
        fs::write(
            memory.join("memory.limit_in_bytes"),
            memory_bytes.to_string(),
        )?;
        // With swap, the RAM limit alone lets a hog swap instead of ending; cap both.
        let memsw = memory.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            let _ = fs::write(memsw, memory_bytes.to_string());
        }
        fs::write(pids.join("pids.max"), max_pids.to_string())?;
        Ok(Self { memory, pids })
    }

    /// Moves a process (and so its future children) into both controllers.
    pub fn add(&self, pid: u32) -> io::Result<()> {
        fs::write(self.memory.join("cgroup.procs"), pid.to_string())?;
        fs::write(self.pids.join("cgroup.procs"), pid.to_string())
    }

    /// How many times the kernel killed a process here for memory.
    pub fn oom_kills(&self) -> u64 {
        fs::read_to_string(self.memory.join("memory.oom_control"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .map(str::trim)
                        .map(str::to_owned)
                })
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Times a fork was refused by the process limit.
    pub fn pids_refused(&self) -> u64 {
        fs::read_to_string(self.pids.join("pids.events"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("max ").map(str::trim).map(str::to_owned))
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    pub fn procs(&self) -> Vec<u32> {
        fs::read_to_string(self.pids.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Succeeds once the processes are gone; the sandbox kills them first.
        let _ = fs::remove_dir(&self.memory);
        let _ = fs::remove_dir(&self.pids);
    }
}

/// Removes the cgroups that servers no longer running left behind.
pub fn remove_stale() {
    for controller in ["memory", "pids"] {
        let parent = Path::new(ROOT).join(controller).join(PARENT);
        let Ok(servers) = fs::read_dir(&parent) else {
            continue;
        };
        for server in servers.flatten() {
            let name = server.file_name().to_string_lossy().into_owned();
            let alive = name
                .parse::<u32>()
                .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if alive || !server.path().is_dir() {
                continue;
            }
            if let Ok(groups) = fs::read_dir(server.path()) {
                for g in groups.flatten() {
                    let _ = fs::remove_dir(g.path());
                }
            }
            let _ = fs::remove_dir(server.path());
        }
    }
}

/// Every descendant of `pid` (children first found through `/proc/<pid>/task/*/children`).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(children) = fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for c in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                out.push(c);
                stack.push(c);
            }
        }
    }
    out
}
