//! A live sandbox: starting `bwrap` with the supervisor inside (in its cgroup, with its
//! egress proxy), and the exchange with that supervisor — one JSON line out, one back, per command.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::BwrapSandbox;
use super::args::bwrap_args;
use super::attach::AttachPoint;
use crate::egress::EgressProxy;
use crate::sandbox::cgroup::{self, Cgroup};
use crate::sandbox::messages::{Ready, Request, Response};
use crate::sandbox::{Sandbox, SandboxError};

/// Egress sockets are numbered, not named after the sandbox: a Unix socket's path has room
/// for little more than 100 bytes.
static NEXT_SOCKET: AtomicU64 = AtomicU64::new(0);

/// Time the supervisor may take to lock down and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A started sandbox: the `bwrap` process, the pipes to its supervisor, and what ends with it.
pub(super) struct Live {
    pub(super) child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    pub(super) cgroup: Option<Cgroup>,
    /// Its only way to the network (ends with it).
    _egress: EgressProxy,
    /// Where programs it runs for the host connect their streams (ends with it).
    pub(super) attach: AttachPoint,
    pub(super) next_id: u64,
}

impl BwrapSandbox {
    pub(super) async fn start(&self) -> Result<Live, SandboxError> {
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
        let socket = self.launch.egress_dir.join(format!(
            "{}-{}.sock",
            std::process::id(),
            NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
        ));
        let egress = EgressProxy::start(
            &socket,
            Arc::clone(&self.network),
            self.launch.guard.clone(),
            self.launch.owner,
        )
        .map_err(|e| SandboxError::Unavailable(format!("egress proxy: {e}")))?;
        let attach_path = socket.with_extension("attach");
        let attach = AttachPoint::start(&attach_path, self.launch.owner)
            .map_err(|e| SandboxError::Unavailable(format!("attach socket: {e}")))?;
        let skills = self.skills_view(&workspace)?;
        let args = bwrap_args(
            &workspace,
            &skills,
            &socket,
            &attach_path,
            &self.limits,
            &self.launch,
        );
        let mut child = command
            .args(args)
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
        Ok(Live {
            child,
            stdin,
            stdout,
            cgroup,
            _egress: egress,
            attach,
            next_id: 1,
        })
    }

    pub(super) async fn exchange(
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
}
