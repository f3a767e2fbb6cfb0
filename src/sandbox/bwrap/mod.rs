//! The bubblewrap backend: one `bwrap` process per live sandbox, with the supervisor inside.
//!
//! `args` builds the `bwrap` command line, `session` starts the sandbox and talks to its
//! supervisor, `limits` holds what is enforced from the host, and `env` what each command
//! is given; this file is the handle the manager keeps and the `Sandbox` it implements.

mod args;
mod attach;
mod env;
mod limits;
mod session;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::messages::Request;
use super::{Attached, Command, CommandOutput, Program, Redactor, Sandbox, SandboxError};
use crate::egress::{AddressGuard, NetworkPolicy, SharedPolicy};
use crate::workspace::Owner;
use env::base_env;
use limits::{mb, scan};
use session::Live;

pub use env::{TaskEnv, sandbox_cwd};
pub use limits::Limits;

/// Slack on top of a command's own timeout before the host gives up on the supervisor.
const ANSWER_SLACK: Duration = Duration::from_secs(10);
const SIGXFSZ: i32 = 25;
/// Time a program may take to start and connect its streams.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Where the egress proxies' sockets are made.
    pub egress_dir: PathBuf,
    /// The addresses no sandbox reaches, whatever its project's policy.
    pub guard: AddressGuard,
    /// The sandbox's `resolv.conf`: no resolver (the proxy resolves names).
    pub resolv_conf: PathBuf,
    /// The sandbox's own `/etc/passwd` and `/etc/group`.
    pub passwd: PathBuf,
    pub group: PathBuf,
    /// Where each sandbox's skills are laid out: a folder named like its workspace's.
    pub skills_root: PathBuf,
}

pub struct BwrapSandbox {
    id: String,
    workspace: RwLock<PathBuf>,
    /// What its egress proxy lets through; nothing until it is handed to a task.
    network: SharedPolicy,
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
    pub fn new(id: String, workspace: PathBuf, limits: Limits, launch: Arc<Launch>) -> Self {
        Self {
            id,
            workspace: RwLock::new(workspace),
            network: Arc::new(RwLock::new(NetworkPolicy::Off)),
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

    /// The network policy its egress proxy enforces now.
    pub fn network(&self) -> NetworkPolicy {
        self.network.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// Applies a (project's) network policy to the next connection, live or not.
    pub fn set_network(&self, policy: &NetworkPolicy) {
        if let Ok(mut p) = self.network.write() {
            *p = policy.clone();
        }
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

    /// The folder mounted at `/skills`: named like the workspace's folder, so a pooled
    /// sandbox's follows its workspace to the task (`SandboxManager::acquire`).
    fn skills_view(&self, workspace: &std::path::Path) -> Result<PathBuf, SandboxError> {
        let name = workspace
            .file_name()
            .ok_or_else(|| SandboxError::Failed("a workspace without a name".into()))?;
        let dir = self.launch.skills_root.join(name);
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o755)
            .create(&dir)?;
        Ok(dir)
    }

    /// Starts the sandbox now (the pool does this ahead of time).
    pub async fn warm(&self) -> Result<(), SandboxError> {
        let mut live = self.live.lock().await;
        if live.is_none() {
            *live = Some(self.start().await?);
        }
        Ok(())
    }
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
            attach: None,
        };
        live.next_id += 1;
        let (watcher, over_quota) = self.watch_workspace();
        let answer = Self::exchange(live, &req, timeout + ANSWER_SLACK).await;
        // Aborting takes effect at the watcher's next await: it may be past its last one,
        // about to kill the sandbox. Waiting for it makes `over_quota` final before it is read.
        watcher.abort();
        let _ = watcher.await;
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
        if limit.is_none() && response.process_limit {
            limit = Some(format!(
                "The command hit the sandbox's limit of {} processes; new processes were refused.",
                self.limits.max_processes
            ));
        }
        // The watcher may have ended the sandbox just as the command answered: its answer was
        // read, but the next command needs a new sandbox, not a dead one.
        if over_quota.load(Ordering::SeqCst) {
            self.pid.store(0, Ordering::SeqCst);
            if let Some(mut dead) = guard.take() {
                let _ = dead.child.kill().await;
            }
            limit = Some(workspace_limit());
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

    async fn attach(&self, program: Program) -> Result<Attached, SandboxError> {
        let cwd = sandbox_cwd(&program.cwd)?;
        let (mut env, _) = self
            .env
            .read()
            .map(|e| e.clone())
            .map_err(|_| SandboxError::Failed("environment lock poisoned".into()))?;
        env.extend(program.env);
        self.touch();
        let token =
            crate::secrets::random_hex(16).map_err(|e| SandboxError::Failed(e.to_string()))?;
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            *guard = Some(self.start().await?);
        }
        let Some(live) = guard.as_mut() else {
            return Err(SandboxError::Failed("sandbox not running".into()));
        };
        let stdio = live.attach.expect(&token, attach::Channel::Stdio);
        let stderr = live.attach.expect(&token, attach::Channel::Stderr);
        let req = Request {
            id: live.next_id,
            command: program.command,
            cwd,
            env,
            timeout_ms: 0,
            max_output: 0,
            attach: Some(token.clone()),
        };
        live.next_id += 1;
        let answer = Self::exchange(live, &req, ATTACH_TIMEOUT).await;
        let forget = |live: &session::Live| live.attach.forget(&token);
        let response = match answer {
            Ok(r) => r,
            Err(e) => {
                forget(live);
                return Err(e);
            }
        };
        if let Some(why) = response.spawn_error {
            forget(live);
            return Err(SandboxError::Failed(why));
        }
        drop(guard);
        let streams = async {
            Ok::<_, tokio::sync::oneshot::error::RecvError>((stdio.await?, stderr.await?))
        };
        match tokio::time::timeout(ATTACH_TIMEOUT, streams).await {
            Ok(Ok((stdio, stderr))) => Ok(Attached { stdio, stderr }),
            _ => Err(SandboxError::Failed(
                "the started program's streams never reached the host".into(),
            )),
        }
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
