//! Per-sandbox memory and process limits with cgroups, in whichever form the host offers:
//! the v1 `memory` and `pids` controllers (`/sys/fs/cgroup/<controller>`), or a v2 subtree
//! delegated to the server (its own cgroup, with both controllers available). Without
//! either, the supervisor falls back to rlimits.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const ROOT: &str = "/sys/fs/cgroup";
const PARENT: &str = "sigmic";

/// Where this server makes its sandboxes' cgroups.
#[derive(Debug, Clone)]
enum Layout {
    /// `memory` and `pids` hierarchies, each with `sigmic/<pid>/` for this server.
    V1 { memory: PathBuf, pids: PathBuf },
    /// One directory, `<own cgroup>/sigmic-<pid>`, with both controllers enabled below it.
    V2 { parent: PathBuf },
}

static LAYOUT: OnceLock<Option<Layout>> = OnceLock::new();

fn layout() -> Option<&'static Layout> {
    LAYOUT.get_or_init(detect).as_ref()
}

fn detect() -> Option<Layout> {
    let pid = std::process::id().to_string();
    let v1 = |c: &str| Path::new(ROOT).join(c).join(PARENT).join(&pid);
    let (memory, pids) = (v1("memory"), v1("pids"));
    if Path::new(ROOT).join("memory").is_dir()
        && fs::create_dir_all(&memory).is_ok()
        && fs::create_dir_all(&pids).is_ok()
    {
        return Some(Layout::V1 { memory, pids });
    }
    v2_parent(&pid).map(|parent| Layout::V2 { parent })
}

/// The v2 subtree: only on a unified hierarchy whose cgroup (the server's) offers both
/// controllers and lets the server write. A cgroup with processes cannot hand controllers
/// to children, so the server first moves itself into a leaf of its own.
fn v2_parent(pid: &str) -> Option<PathBuf> {
    let root = Path::new(ROOT);
    if !root.join("cgroup.controllers").is_file() {
        return None;
    }
    let own = fs::read_to_string("/proc/self/cgroup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(|p| p.trim().to_owned()))?;
    let base = root.join(own.trim_start_matches('/'));
    let offered = fs::read_to_string(base.join("cgroup.controllers")).ok()?;
    if !["memory", "pids"]
        .iter()
        .all(|c| offered.split_whitespace().any(|o| o == *c))
    {
        return None;
    }
    if base != root {
        let leaf = base.join(format!("{PARENT}-server-{pid}"));
        fs::create_dir_all(&leaf).ok()?;
        fs::write(leaf.join("cgroup.procs"), pid).ok()?;
    }
    fs::write(base.join("cgroup.subtree_control"), "+memory +pids").ok()?;
    let parent = base.join(format!("{PARENT}-{pid}"));
    fs::create_dir_all(&parent).ok()?;
    fs::write(parent.join("cgroup.subtree_control"), "+memory +pids").ok()?;
    Some(parent)
}

pub struct Cgroup {
    dirs: Dirs,
}

enum Dirs {
    V1 { memory: PathBuf, pids: PathBuf },
    V2 { dir: PathBuf },
}

impl Cgroup {
    /// Whether this host lets the server make cgroups with both limits.
    pub fn available() -> bool {
        layout().is_some()
    }

    pub fn create(name: &str, memory_bytes: u64, max_pids: u64) -> io::Result<Self> {
        let unavailable = || io::Error::other("no writable cgroup hierarchy");
        match layout().ok_or_else(unavailable)? {
            Layout::V1 { memory, pids } => {
                let (memory, pids) = (memory.join(name), pids.join(name));
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
                Ok(Self {
                    dirs: Dirs::V1 { memory, pids },
                })
            }
            Layout::V2 { parent } => {
                let dir = parent.join(name);
                fs::create_dir_all(&dir)?;
                fs::write(dir.join("memory.max"), memory_bytes.to_string())?;
                let swap = dir.join("memory.swap.max");
                if swap.exists() {
                    let _ = fs::write(swap, "0");
                }
                fs::write(dir.join("pids.max"), max_pids.to_string())?;
                Ok(Self {
                    dirs: Dirs::V2 { dir },
                })
            }
        }
    }

    /// Moves a process (and so its future children) into the limits.
    pub fn add(&self, pid: u32) -> io::Result<()> {
        match &self.dirs {
            Dirs::V1 { memory, pids } => {
                fs::write(memory.join("cgroup.procs"), pid.to_string())?;
                fs::write(pids.join("cgroup.procs"), pid.to_string())
            }
            Dirs::V2 { dir } => fs::write(dir.join("cgroup.procs"), pid.to_string()),
        }
    }

    /// How many times the kernel killed a process here for memory.
    pub fn oom_kills(&self) -> u64 {
        match &self.dirs {
            Dirs::V1 { memory, .. } => counter(&memory.join("memory.oom_control"), "oom_kill"),
            Dirs::V2 { dir } => counter(&dir.join("memory.events"), "oom_kill"),
        }
    }

    /// Times a fork was refused by the process limit.
    pub fn pids_refused(&self) -> u64 {
        match &self.dirs {
            Dirs::V1 { pids, .. } => counter(&pids.join("pids.events"), "max"),
            Dirs::V2 { dir } => counter(&dir.join("pids.events"), "max"),
        }
    }

    pub fn procs(&self) -> Vec<u32> {
        let file = match &self.dirs {
            Dirs::V1 { pids, .. } => pids.join("cgroup.procs"),
            Dirs::V2 { dir } => dir.join("cgroup.procs"),
        };
        fs::read_to_string(file)
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Succeeds once the processes are gone; the sandbox kills them first.
        match &self.dirs {
            Dirs::V1 { memory, pids } => {
                let _ = fs::remove_dir(memory);
                let _ = fs::remove_dir(pids);
            }
            Dirs::V2 { dir } => {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// The value of `key` in a flat-keyed cgroup file (`key value` per line).
fn counter(file: &Path, key: &str) -> u64 {
    fs::read_to_string(file)
        .ok()
        .and_then(|s| parse_counter(&s, key))
        .unwrap_or(0)
}

fn parse_counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Removes the cgroups that servers no longer running left behind.
pub fn remove_stale() {
    let Some(layout) = layout() else { return };
    let parents: Vec<PathBuf> = match layout {
        Layout::V1 { memory, pids } => [memory, pids]
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect(),
        Layout::V2 { parent } => parent.parent().map(Path::to_path_buf).into_iter().collect(),
    };
    for parent in parents {
        let Ok(servers) = fs::read_dir(&parent) else {
            continue;
        };
        for server in servers.flatten() {
            let name = server.file_name().to_string_lossy().into_owned();
            let pid = match layout {
                Layout::V1 { .. } => Some(name.as_str()),
                Layout::V2 { .. } => name.strip_prefix(&format!("{PARENT}-")),
            };
            let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if Path::new(&format!("/proc/{pid}")).exists() || !server.path().is_dir() {
                continue;
            }
            if let Ok(groups) = fs::read_dir(server.path()) {
                for g in groups.flatten().filter(|g| g.path().is_dir()) {
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

#[cfg(test)]
mod tests {
    use super::parse_counter;

    #[test]
    fn event_counters_are_read_by_key_in_both_versions() {
        // v1 memory.oom_control, v2 memory.events and pids.events.
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_counter(v1, "oom_kill"), Some(3));
        assert_eq!(parse_counter(v2, "oom_kill"), Some(2));
        assert_eq!(parse_counter(v2, "max"), Some(12));
        assert_eq!(parse_counter("max 7\n", "max"), Some(7));
        assert_eq!(parse_counter(v1, "max"), None);
    }
}
