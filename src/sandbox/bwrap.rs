//! The bubblewrap backend: one `bwrap` process per live sandbox, with the supervisor inside.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::cgroup::{self, Cgroup};
use super::ownership::Owner;
use super::protocol::{Ready, Request, Response};
use super::{Command, CommandOutput, Redactor, Sandbox, SandboxError};
use crate::config::SandboxConfig;

/// Where the sigmic binary (the supervisor) appears inside a sandbox.
const SUPERVISOR_PATH: &str = "/.sigmic/sigmic";
/// Files of the host's `/etc` a sandbox must not read.
const HIDDEN_FILES: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/security/opasswd",
];
const HIDDEN_DIRS: &[&str] = &["/etc/ssh", "/etc/ssl/private", "/etc/sudoers.d"];
/// Time the supervisor may take to lock down and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack on top of a command's own timeout before the host gives up on the supervisor.
const ANSWER_SLACK: Duration = Duration::from_secs(10);
const SIGXFSZ: i32 = 25;
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

/// The environment of a task's commands: plain variables and secrets (a secret wins a clash).
#[derive(Debug, Clone, Default)]
pub struct TaskEnv {
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

/// How sandboxes are started on this host; the same for every sandbox of a manager.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `sigmic` binary that becomes each sandbox's supervisor.
    pub exe: PathBuf,
    pub use_cgroups: bool,
    /// The unprivileged host user sandboxes run as, when the server can switch to one.
    pub owner: Option<Owner>,
    /// An empty regular file bound over the host secrets of `/etc`.
    pub empty_file: PathBuf,
    /// Whether slirp4netns gives network-on sandboxes a network of their own.
    pub slirp: bool,
    /// `resolv.conf` naming slirp4netns's DNS forwarder.
    pub resolv_conf: PathBuf,
}

struct Live {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    cgroup: Option<Cgroup>,
    /// The user-mode network stack of a sandbox with network on (ends with it).
    _network: Option<(Child, std::os::fd::OwnedFd)>,
    next_id: u64,
}

pub struct BwrapSandbox {
    id: String,
    workspace: RwLock<PathBuf>,
    network: bool,
    limits: Limits,
    launch: Arc<Launch>,
    env: RwLock<(Vec<(String, String)>, Redactor)>,
    live: tokio::sync::Mutex<Option<Live>>,
    /// The running bwrap's host pid (0: none), readable without the `live` lock so a cancel
    /// never waits for the command it cancels.
    pid: AtomicU32,
    last_used: Mutex<Instant>,
}

impl BwrapSandbox {
    pub fn new(
        id: String,
        workspace: PathBuf,
        network: bool,
        limits: Limits,
        launch: Arc<Launch>,
    ) -> Self {
        Self {
            id,
            workspace: RwLock::new(workspace),
            network,
            limits,
            launch,
            env: RwLock::new((base_env(), Redactor::default())),
            live: tokio::sync::Mutex::new(None),
            pid: AtomicU32::new(0),
            last_used: Mutex::new(Instant::now()),
        }
    }

    /// Kills the sandbox's processes now, whatever holds the lock.
    fn kill_now(&self) {
        let pid = self.pid.swap(0, Ordering::SeqCst);
        if pid != 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn network(&self) -> bool {
        self.network
    }

    /// Points the handle at the workspace's new host path (the directory was renamed; the
    /// mount inside the sandbox follows the directory, not its name).
    pub fn moved_to(&self, path: PathBuf) {
        if let Ok(mut w) = self.workspace.write() {
            *w = path;
        }
    }

    pub fn set_env(&self, task: &TaskEnv) {
        let mut vars: BTreeMap<String, String> = base_env().into_iter().collect();
        vars.extend(task.env.clone());
        vars.extend(task.secrets.clone());
        if let Ok(mut e) = self.env.write() {
            *e = (vars.into_iter().collect(), Redactor::new(&task.secrets));
        }
    }

    pub fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }

    pub async fn is_live(&self) -> bool {
        self.live.lock().await.is_some()
    }

    /// Starts the sandbox now (the pool does this ahead of time).
    pub async fn warm(&self) -> Result<(), SandboxError> {
        let mut live = self.live.lock().await;
        if live.is_none() {
            *live = Some(self.start().await?);
        }
        Ok(())
    }

    fn bwrap_args(&self, workspace: &Path) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            // The supervisor is PID 1: no other process in the sandbox holds its pipes.
            "--as-pid-1",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--cap-drop",
            "ALL",
            "--uid",
            "1000",
            "--gid",
            "1000",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Always a network namespace of its own. With network on, slirp4netns gives it a
        // NATed interface that reaches the internet but not the host's loopback services
        // (the server, its database); without slirp4netns it shares the host's network.
        if !self.network || self.launch.slirp {
            a.push("--unshare-net".into());
        }
        // Debian's merged /usr makes these symlinks; elsewhere they are directories.
        for dir in ["/bin", "/sbin", "/lib", "/lib64", "/lib32"] {
            match std::fs::symlink_metadata(dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(dir) {
                        a.extend(["--symlink".into(), target.display().to_string(), dir.into()]);
                    }
                }
                Ok(_) => a.extend(["--ro-bind".into(), dir.into(), dir.into()]),
                Err(_) => {}
            }
        }
        a.extend(["--ro-bind".into(), "/etc".into(), "/etc".into()]);
        if self.network && self.launch.slirp {
            a.extend([
                "--ro-bind".into(),
                self.launch.resolv_conf.display().to_string(),
                "/etc/resolv.conf".into(),
            ]);
        }
        for f in HIDDEN_FILES {
            if Path::new(f).exists() {
                a.extend([
                    "--ro-bind".into(),
                    self.launch.empty_file.display().to_string(),
                    (*f).into(),
                ]);
            }
        }
        for d in HIDDEN_DIRS {
            if Path::new(d).is_dir() {
                a.extend(["--tmpfs".into(), (*d).into()]);
            }
        }
        a.extend(
            [
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--tmpfs",
                "/tmp",
                "--dir",
                "/tmp/home",
                "--bind",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        a.push(workspace.display().to_string());
        a.push("/workspace".into());
        a.extend([
            "--ro-bind".into(),
            self.launch.exe.display().to_string(),
            SUPERVISOR_PATH.into(),
        ]);
        a.extend(["--chdir".into(), "/workspace".into()]);
        a.extend([
            "--".into(),
            SUPERVISOR_PATH.into(),
            "sandbox-supervisor".into(),
            "--network".into(),
            if self.network { "on" } else { "off" }.into(),
            "--max-file-bytes".into(),
            self.limits.max_file_bytes.to_string(),
        ]);
        if !self.launch.use_cgroups {
            a.extend([
                "--address-space-bytes".into(),
                self.limits.memory_bytes.to_string(),
            ]);
        }
        a
    }

    async fn start(&self) -> Result<Live, SandboxError> {
        let workspace = self.workspace();
        std::fs::create_dir_all(&workspace)?;
        if let Some(owner) = self.launch.owner {
            nix::unistd::chown(
                &workspace,
                Some(nix::unistd::Uid::from_raw(owner.uid)),
                Some(nix::unistd::Gid::from_raw(owner.gid)),
            )
            .map_err(std::io::Error::from)?;
        }
        let cgroup = if self.launch.use_cgroups {
            Some(
                Cgroup::create(
                    &self.id,
                    self.limits.memory_bytes,
                    self.limits.max_processes,
                )
                .map_err(|e| SandboxError::Unavailable(format!("cgroup: {e}")))?,
            )
        } else {
            None
        };
        // As root, drop to the sandbox user (and no supplementary groups) before bwrap runs:
        // a user namespace alone would leave the sandbox's files and /proc writes as root's.
        let mut command = match self.launch.owner {
            Some(owner) => {
                let mut c = tokio::process::Command::new("setpriv");
                c.arg(format!("--reuid={}", owner.uid))
                    .arg(format!("--regid={}", owner.gid))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg("bwrap");
                c
            }
            None => tokio::process::Command::new("bwrap"),
        };
        let mut child = command
            .args(self.bwrap_args(&workspace))
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SandboxError::Unavailable(format!("cannot run bwrap: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Failed("bwrap pipes missing".into()));
        };
        let id = self.id.clone();
        let said: Arc<Mutex<Vec<String>>> = Arc::default();
        let said_w = Arc::clone(&said);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(sandbox = %id, "{line}");
                if let Ok(mut s) = said_w.lock()
                    && s.len() < 5
                {
                    s.push(line);
                }
            }
        });
        let mut stdout = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_TIMEOUT, stdout.next_line())
            .await
            .map_err(|_| SandboxError::Unavailable("the sandbox did not start in time".into()))?
            .map_err(SandboxError::Io)?
            .and_then(|l| serde_json::from_str::<Ready>(&l).ok());
        if !ready.is_some_and(|r| r.ready) {
            let _ = child.kill().await;
            // bwrap explains itself on stderr; give it a moment to be read.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let why = said.lock().map(|s| s.join("; ")).unwrap_or_default();
            return Err(SandboxError::Unavailable(format!(
                "the sandbox supervisor did not start: {why}"
            )));
        }
        self.pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
        if let (Some(cg), Some(pid)) = (&cgroup, child.id()) {
            // Commands start only after this, so each one is born inside the limits.
            for p in std::iter::once(pid).chain(cgroup::descendants(pid)) {
                cg.add(p)
                    .map_err(|e| SandboxError::Unavailable(format!("cgroup: {e}")))?;
            }
        }
        let network = if self.network && self.launch.slirp {
            let pid = child
                .id()
                .and_then(|p| cgroup::descendants(p).last().copied())
                .ok_or_else(|| SandboxError::Failed("sandbox process not found".into()))?;
            Some(start_network(pid).await?)
        } else {
            None
        };
        Ok(Live {
            child,
            stdin,
            stdout,
            cgroup,
            _network: network,
            next_id: 1,
        })
    }

    async fn exchange(
        live: &mut Live,
        req: &Request,
        wait: Duration,
    ) -> Result<Response, SandboxError> {
        let mut line =
            serde_json::to_string(req).map_err(|e| SandboxError::Failed(e.to_string()))?;
        line.push('\n');
        live.stdin.write_all(line.as_bytes()).await?;
        live.stdin.flush().await?;
        let answer = tokio::time::timeout(wait, live.stdout.next_line())
            .await
            .map_err(|_| SandboxError::Failed("the sandbox stopped answering".into()))??
            .ok_or_else(|| SandboxError::Failed("the sandbox ended unexpectedly".into()))?;
        let response: Response =
            serde_json::from_str(&answer).map_err(|e| SandboxError::Failed(e.to_string()))?;
        if response.id != req.id {
            return Err(SandboxError::Failed(
                "the sandbox answered out of turn; it was restarted".into(),
            ));
        }
        Ok(response)
    }

    /// While a command runs, checks the workspace every so often and ends the sandbox when it
    /// grows past its limit: a report after the fact would let one command fill the disk.
    fn watch_workspace(&self) -> (tokio::task::JoinHandle<()>, Arc<AtomicBool>) {
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

/// Gives the network namespace of `pid` an interface through slirp4netns, and waits until it
/// has a default route.
/// Answers the process and the write end of its exit pipe: slirp4netns ends when that closes,
/// so it cannot outlive the server even when the server is killed outright.
async fn start_network(pid: u32) -> Result<(Child, std::os::fd::OwnedFd), SandboxError> {
    use std::os::fd::AsRawFd;
    let failed = |e: nix::Error| SandboxError::Unavailable(format!("slirp4netns exit pipe: {e}"));
    let (exit_read, exit_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(failed)?;
    // Only the read end is inherited (the write end stays the server's alone).
    nix::fcntl::fcntl(
        &exit_read,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(failed)?;
    let child = tokio::process::Command::new("slirp4netns")
        .arg(format!("--exit-fd={}", exit_read.as_raw_fd()))
        .args([
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-sandbox",
            // By path: joining the sandbox's user namespace first, as the PID form does, is
            // refused for a namespace owned by the unprivileged sandbox user.
            "--netns-type=path",
        ])
        .arg(format!("/proc/{pid}/ns/net"))
        .arg("tap0")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SandboxError::Unavailable(format!("cannot run slirp4netns: {e}")))?;
    drop(exit_read);
    let route = format!("/proc/{pid}/net/route");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let ready = std::fs::read_to_string(&route)
            .map(|r| {
                r.lines()
                    .skip(1)
                    .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
            })
            .unwrap_or(false);
        if ready {
            return Ok((child, exit_write));
        }
        if Instant::now() > deadline {
            return Err(SandboxError::Unavailable(
                "the sandbox's network did not come up".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Total bytes and the largest file of a workspace, links not followed.
fn scan(dir: &Path) -> (u64, u64) {
    fn walk(dir: &Path, total: &mut u64, largest: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                walk(&e.path(), total, largest);
            } else {
                *total += m.len();
                *largest = (*largest).max(m.len());
            }
        }
    }
    let (mut total, mut largest) = (0, 0);
    walk(dir, &mut total, &mut largest);
    (total, largest)
}

/// `PATH` and friends every command gets.
fn base_env() -> Vec<(String, String)> {
    [
        (
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        ),
        ("HOME", "/tmp/home"),
        ("LANG", "C.UTF-8"),
        ("TERM", "dumb"),
        ("TMPDIR", "/tmp"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// `""`, `src`, `./src`, `/workspace/src` → `/workspace/src`; `..` and other absolute paths
/// are refused.
pub fn sandbox_cwd(cwd: &str) -> Result<String, SandboxError> {
    let rel = cwd
        .strip_prefix("/workspace")
        .map(|r| r.trim_start_matches('/'))
        .unwrap_or(cwd);
    let path = Path::new(rel);
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(SandboxError::BadCwd(cwd.to_owned()));
    }
    let joined = Path::new("/workspace").join(path);
    Ok(joined.display().to_string())
}

fn mb(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

#[async_trait]
impl Sandbox for BwrapSandbox {
    async fn run(&self, command: Command) -> Result<CommandOutput, SandboxError> {
        let cwd = sandbox_cwd(&command.cwd)?;
        let timeout = command.timeout.unwrap_or(self.limits.timeout);
        let (env, redactor) = self
            .env
            .read()
            .map(|e| e.clone())
            .map_err(|_| SandboxError::Failed("environment lock poisoned".into()))?;
        self.touch();
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            *guard = Some(self.start().await?);
        }
        let Some(live) = guard.as_mut() else {
            return Err(SandboxError::Failed("sandbox not running".into()));
        };
        let (oom_before, pids_before) = live
            .cgroup
            .as_ref()
            .map(|c| (c.oom_kills(), c.pids_refused()))
            .unwrap_or_default();
        let req = Request {
            id: live.next_id,
            command: command.command,
            cwd,
            env,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            max_output: self.limits.max_output,
        };
        live.next_id += 1;
        let (watcher, over_quota) = self.watch_workspace();
        let answer = Self::exchange(live, &req, timeout + ANSWER_SLACK).await;
        watcher.abort();
        let workspace_limit = || {
            format!(
                "The command was stopped: the workspace grew past its limit of {} MB. Delete files before going on.",
                mb(self.limits.max_workspace_bytes)
            )
        };
        let response = match answer {
            Ok(r) => r,
            Err(e) => {
                // A supervisor that cannot answer is gone (killed for a limit, cancelled, or
                // broken): end it; the next command starts a new one.
                self.pid.store(0, Ordering::SeqCst);
                if let Some(mut dead) = guard.take() {
                    let _ = dead.child.kill().await;
                }
                if over_quota.load(Ordering::SeqCst) {
                    return Ok(CommandOutput {
                        limit: Some(workspace_limit()),
                        ..CommandOutput::default()
                    });
                }
                return Err(e);
            }
        };
        let mut limit = None;
        if let Some(cg) = &live.cgroup {
            if cg.oom_kills() > oom_before {
                limit = Some(format!(
                    "The command ran out of memory: the sandbox's limit is {} MB.",
                    mb(self.limits.memory_bytes)
                ));
            } else if cg.pids_refused() > pids_before {
                limit = Some(format!(
                    "The command hit the sandbox's limit of {} processes; new processes were refused.",
                    self.limits.max_processes
                ));
            }
        }
        drop(guard);
        let dir = self.workspace();
        let (used, largest) = tokio::task::spawn_blocking(move || scan(&dir))
            .await
            .unwrap_or_default();
        // The shell forks for redirections, so a file-size kill shows as the shell's exit
        // status 128 + SIGXFSZ as often as as a signal; a file at the cap tells either way.
        if response.signal == Some(SIGXFSZ)
            || response.exit_code == Some(128 + SIGXFSZ)
            || largest >= self.limits.max_file_bytes
        {
            limit = Some(format!(
                "The command tried to write a file larger than the limit of {} MB.",
                mb(self.limits.max_file_bytes)
            ));
        }
        if limit.is_none() && used > self.limits.max_workspace_bytes {
            limit = Some(format!(
                "The workspace holds {} MB, over its limit of {} MB. Delete files before going on.",
                mb(used),
                mb(self.limits.max_workspace_bytes)
            ));
        }
        if response.timed_out {
            limit = Some(format!(
                "The command was stopped after {} seconds (its time limit).",
                timeout.as_secs()
            ));
        }
        let truncated = response.stdout_total > response.stdout.len() as u64
            || response.stderr_total > response.stderr.len() as u64;
        // Redact before adding the note, and drop a secret's beginning cut off at the end.
        let finish = |text: String, total: u64| {
            let cut = total > text.len() as u64;
            let shown = text.len();
            let mut clean = redactor.redact(&text);
            if cut {
                clean = redactor.strip_partial_tail(&clean);
                clean.push_str(&format!(
                    "\n[output truncated: {shown} of {total} bytes shown]"
                ));
            }
            clean
        };
        let stderr = match response.spawn_error {
            Some(e) => redactor.redact(&e),
            None => finish(response.stderr, response.stderr_total),
        };
        Ok(CommandOutput {
            stdout: finish(response.stdout, response.stdout_total),
            stderr,
            exit_code: response.exit_code,
            timed_out: response.timed_out,
            truncated,
            limit,
        })
    }

    fn workspace(&self) -> PathBuf {
        self.workspace.read().map(|w| w.clone()).unwrap_or_default()
    }

    async fn kill_all(&self) -> Result<(), SandboxError> {
        // First the signal, then the lock: a command in flight holds the lock until its
        // supervisor is gone.
        self.kill_now();
        let mut guard = self.live.lock().await;
        if let Some(mut live) = guard.take() {
            // The supervisor is PID 1 of the sandbox's namespace: when it dies, the kernel
            // ends every process in it.
            let _ = live.child.kill().await;
            let _ = live.child.wait().await;
            if let Some(cg) = &live.cgroup {
                for _ in 0..50 {
                    if cg.procs().is_empty() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        Ok(())
    }
}
