//! Which sandbox belongs to which task: sandboxes are started ahead of time (a warm pool), handed
//! to a task on its first command, kept while it is active, and ended after an idle timeout,
//! when the workspace is packed into a snapshot that the next use restores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::os::unix::fs::PermissionsExt;

use super::bwrap::{BwrapSandbox, Launch, Limits, TaskEnv};
use super::cgroup::{self, Cgroup};
use super::{Command, Sandbox, SandboxError};
use crate::config::SandboxConfig;
use crate::egress::{AddressGuard, NetworkPolicy};
use crate::workspace::Owner;

/// What a task's sandbox looks like.
#[derive(Debug, Clone, Default)]
pub struct SandboxSpec {
    pub task_id: String,
    /// The project's network policy, enforced by the sandbox's egress proxy.
    pub network: NetworkPolicy,
    pub env: TaskEnv,
}

pub struct SandboxManager {
    config: SandboxConfig,
    workspaces: PathBuf,
    snapshots: PathBuf,
    pool_dir: PathBuf,
    launch: Arc<Launch>,
    /// Why tasks cannot run here, when the backend failed its start-up check.
    unavailable: Option<String>,
    pool: Mutex<Vec<Arc<BwrapSandbox>>>,
    active: Mutex<HashMap<String, Arc<BwrapSandbox>>>,
}

/// Task ids become directory names: only what a UUID or a simple slug contains.
fn safe_name(id: &str) -> Result<&str, SandboxError> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(SandboxError::Failed(format!("invalid sandbox id {id:?}")))
    }
}

impl SandboxManager {
    /// A manager whose sandboxes reach no private or local address (the address guard's
    /// defaults).
    pub async fn new(config: SandboxConfig, data_dir: &Path) -> Result<Arc<Self>, SandboxError> {
        Self::with_guard(config, data_dir, AddressGuard::default()).await
    }

    /// Prepares the directories and checks the backend works. A failed check is remembered:
    /// the server runs, and every task is refused with the reason. `guard` is what every
    /// sandbox's egress proxy refuses whatever the project's policy.
    pub async fn with_guard(
        config: SandboxConfig,
        data_dir: &Path,
        guard: AddressGuard,
    ) -> Result<Arc<Self>, SandboxError> {
        std::fs::create_dir_all(data_dir)?;
        let root = data_dir.join("workspaces");
        let empty_file = data_dir.join("sandbox-empty");
        if !empty_file.exists() {
            std::fs::write(&empty_file, b"")?;
        }
        std::fs::set_permissions(&empty_file, std::fs::Permissions::from_mode(0o444))?;
        let use_cgroups = config.cgroups && Cgroup::available();
        if use_cgroups {
            cgroup::remove_stale();
        }
        let owner = Owner::for_this_process();
        let exe = match &config.supervisor {
            Some(path) => path.clone(),
            None => std::env::current_exe()?,
        };
        let exe = match owner {
            Some(_) => reachable_supervisor(data_dir, &exe)?,
            None => exe,
        };
        std::fs::create_dir_all(&root)?;
        if owner.is_some() {
            // The sandbox user must pass through (not list) the data dir to reach its
            // workspace; the server's own files in it stay owner-only.
            for dir in [data_dir, root.as_path()] {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
            }
        }
        // The egress proxies' sockets, one per live sandbox, each reachable by its sandbox's
        // user only.
        let egress_dir = data_dir.join("egress");
        std::fs::create_dir_all(&egress_dir)?;
        std::fs::set_permissions(&egress_dir, std::fs::Permissions::from_mode(0o711))?;
        let resolv_conf = data_dir.join("sandbox-resolv.conf");
        // Names are resolved by the egress proxy, outside: the sandbox has no resolver, and
        // the host's (often on its loopback) is not the sandbox's to know.
        let _ = std::fs::remove_file(&resolv_conf);
        std::fs::write(
            &resolv_conf,
            "# Sigmic sandbox: names are resolved by the egress proxy (HTTP_PROXY).\n",
        )?;
        std::fs::set_permissions(&resolv_conf, std::fs::Permissions::from_mode(0o444))?;
        // The sandbox's users: commands run as uid 1000, which tools like to find by name.
        let passwd = data_dir.join("sandbox-passwd");
        let group = data_dir.join("sandbox-group");
        for (path, text) in [
            (
                &passwd,
                "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:1000:1000:sandbox:/tmp/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            ),
            (&group, "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n"),
        ] {
            // Read-only from an earlier start: replaced, not written through.
            let _ = std::fs::remove_file(path);
            std::fs::write(path, text)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))?;
        }
        // Skills are laid out anew by every run: what a previous server left is no one's.
        let skills_root = data_dir.join("skills-view");
        let _ = std::fs::remove_dir_all(&skills_root);
        std::fs::create_dir_all(&skills_root)?;
        std::fs::set_permissions(&skills_root, std::fs::Permissions::from_mode(0o711))?;
        let launch = Arc::new(Launch {
            skills_root,
            exe,
            use_cgroups,
            owner,
            empty_file,
            egress_dir,
            guard,
            resolv_conf,
            passwd,
            group,
        });
        let manager = Arc::new(Self {
            workspaces: root.clone(),
            snapshots: data_dir.join("snapshots"),
            pool_dir: root.join(".pool"),
            launch,
            unavailable: None,
            pool: Mutex::new(Vec::new()),
            active: Mutex::new(HashMap::new()),
            config,
        });
        std::fs::create_dir_all(&manager.pool_dir)?;
        std::fs::create_dir_all(&manager.snapshots)?;
        // Slots of a previous run are not anyone's workspace.
        if let Ok(entries) = std::fs::read_dir(&manager.pool_dir) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let check = manager.check().await;
        let manager = match check {
            Ok(()) => manager,
            Err(reason) => {
                tracing::error!("sandbox unavailable, tasks will not run: {reason}");
                let mut m = Arc::try_unwrap(manager).map_err(|_| {
                    SandboxError::Failed("sandbox manager shared during start-up".into())
                })?;
                m.unavailable = Some(reason);
                Arc::new(m)
            }
        };
        if let Some(shown) = super::mountinfo::path_shown_for(data_dir)
            .filter(|shown| shown.as_path() != Path::new("/"))
        {
            tracing::warn!(
                "sandboxes can read where the data directory is ({}, in /proc/self/mountinfo): \
                 mount a filesystem of its own at {} to hide it",
                shown.display(),
                data_dir.display()
            );
        }
        if !manager.launch.use_cgroups {
            tracing::warn!(
                "cgroups are not writable here: sandbox memory and process limits fall back to rlimits"
            );
        }
        Ok(manager)
    }

    /// Gives files the server put into a task's workspace (uploads) to the sandbox user.
    pub fn hand_over(&self, path: &Path) -> Result<(), SandboxError> {
        if let Some(owner) = self.launch.owner {
            owner.hand_over(path)?;
        }
        Ok(())
    }

    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// Runs `true` in a throwaway sandbox: proves bwrap, namespaces and the supervisor work.
    async fn check(self: &Arc<Self>) -> Result<(), String> {
        if self.launch.owner.is_some() {
            closed_ancestor(&self.workspaces)?;
        }
        let probe = self.fresh("check").map_err(|e| e.to_string())?;
        let out = probe
            .run(Command::new("echo sandbox-ok"))
            .await
            .map_err(|e| format!("{e}. Install bubblewrap (Debian: apt-get install bubblewrap) and allow user namespaces."))?;
        let _ = probe.kill_all().await;
        if let Some(skills) = self.skills_dir_for(&probe.workspace()) {
            let _ = std::fs::remove_dir_all(skills);
        }
        let _ = std::fs::remove_dir_all(probe.workspace());
        if out.stdout.trim() == "sandbox-ok" {
            Ok(())
        } else {
            Err(format!(
                "the sandbox check printed {:?} / {:?}",
                out.stdout, out.stderr
            ))
        }
    }

    fn limits(&self) -> Limits {
        Limits::from(&self.config)
    }

    fn fresh(&self, slot: &str) -> Result<Arc<BwrapSandbox>, SandboxError> {
        let name = format!("{}-{}", safe_name(slot)?, crate::ids::new_id());
        let dir = self.pool_dir.join(&name);
        std::fs::create_dir_all(&dir)?;
        Ok(Arc::new(BwrapSandbox::new(
            name,
            dir,
            self.limits(),
            Arc::clone(&self.launch),
        )))
    }

    /// Starts sandboxes until the pool holds `warm_pool`. Runs in the background.
    pub async fn fill_pool(self: &Arc<Self>) {
        if self.unavailable.is_some() {
            return;
        }
        loop {
            let have = self.pool.lock().map(|p| p.len()).unwrap_or(usize::MAX);
            if have >= self.config.warm_pool {
                return;
            }
            let Ok(sb) = self.fresh("pool") else {
                return;
            };
            if let Err(e) = sb.warm().await {
                tracing::warn!(error = %e, "could not start a pooled sandbox");
                return;
            }
            if let Ok(mut p) = self.pool.lock() {
                p.push(sb);
            }
        }
    }

    fn workspace_dir(&self, task_id: &str) -> Result<PathBuf, SandboxError> {
        Ok(self.workspaces.join(safe_name(task_id)?))
    }

    /// The folder a task's sandbox sees at `/skills`.
    fn skills_dir(&self, task_id: &str) -> Result<PathBuf, SandboxError> {
        Ok(self.launch.skills_root.join(safe_name(task_id)?))
    }

    /// The skills folder of the sandbox on `workspace`, if it has one yet.
    fn skills_dir_for(&self, workspace: &Path) -> Option<PathBuf> {
        let dir = self.launch.skills_root.join(workspace.file_name()?);
        dir.exists().then_some(dir)
    }

    /// Lays out the skills a run of the task uses, where its sandbox (started or not) sees
    /// them at `/skills`. Called when a run starts, before its first command.
    pub async fn lay_out_skills(
        &self,
        task_id: &str,
        skills: Vec<crate::skills::view::LaidOut>,
    ) -> Result<(), SandboxError> {
        let dir = self.skills_dir(task_id)?;
        tokio::task::spawn_blocking(move || crate::skills::view::lay_out(&dir, &skills))
            .await
            .map_err(|e| SandboxError::Failed(e.to_string()))??;
        Ok(())
    }

    fn snapshot_file(&self, task_id: &str) -> Result<PathBuf, SandboxError> {
        Ok(self.snapshots.join(format!("{}.tar", safe_name(task_id)?)))
    }

    /// The task's sandbox, created on first use (from the warm pool when it can be).
    pub async fn acquire(
        self: &Arc<Self>,
        spec: &SandboxSpec,
    ) -> Result<Arc<BwrapSandbox>, SandboxError> {
        if let Some(reason) = &self.unavailable {
            return Err(SandboxError::Unavailable(reason.clone()));
        }
        let dir = self.workspace_dir(&spec.task_id)?;
        if let Some(sb) = self
            .active
            .lock()
            .ok()
            .and_then(|a| a.get(&spec.task_id).cloned())
        {
            sb.set_env(&spec.env);
            sb.set_network(&spec.network);
            return Ok(sb);
        }
        let snapshot = self.snapshot_file(&spec.task_id)?;
        let sandbox = if !dir.exists() && !snapshot.exists() {
            // A new task: take a started sandbox and give its directory the task's name.
            let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
            match pooled {
                Some(sb) => {
                    let pooled_skills = self.skills_dir_for(&sb.workspace());
                    std::fs::rename(sb.workspace(), &dir)?;
                    sb.moved_to(dir.clone());
                    // Its `/skills` goes along, under the task's name, where runs lay it out.
                    let skills = self.skills_dir(&spec.task_id)?;
                    if skills.exists() {
                        std::fs::remove_dir_all(&skills)?;
                    }
                    if let Some(from) = pooled_skills {
                        std::fs::rename(from, &skills)?;
                    }
                    sb
                }
                None => self.sandbox_at(&spec.task_id, dir.clone()),
            }
        } else {
            if snapshot.exists() {
                restore(&snapshot, &dir)?;
                // Unpacked by the server (root): back to the sandbox user, no set-id bits.
                if let Some(owner) = self.launch.owner {
                    owner.hand_over(&dir)?;
                }
            }
            self.sandbox_at(&spec.task_id, dir.clone())
        };
        sandbox.set_env(&spec.env);
        sandbox.set_network(&spec.network);
        if let Ok(mut a) = self.active.lock() {
            a.insert(spec.task_id.clone(), Arc::clone(&sandbox));
        }
        let me = Arc::clone(self);
        tokio::spawn(async move { me.fill_pool().await });
        Ok(sandbox)
    }

    fn sandbox_at(&self, task_id: &str, dir: PathBuf) -> Arc<BwrapSandbox> {
        Arc::new(BwrapSandbox::new(
            format!("task-{task_id}"),
            dir,
            self.limits(),
            Arc::clone(&self.launch),
        ))
    }

    /// Whether `acquire` would hand this task a started sandbox from the pool right now.
    pub fn pooled_for(&self, task_id: &str) -> bool {
        let (Ok(dir), Ok(snapshot)) = (self.workspace_dir(task_id), self.snapshot_file(task_id))
        else {
            return false;
        };
        !dir.exists()
            && !snapshot.exists()
            && self.pool.lock().map(|p| !p.is_empty()).unwrap_or(false)
    }

    /// The task's sandbox, started on its first command: a task that only talks starts none.
    pub fn lazy(self: &Arc<Self>, spec: SandboxSpec) -> Result<LazySandbox, SandboxError> {
        Ok(LazySandbox {
            dir: self.workspace_dir(&spec.task_id)?,
            manager: Arc::clone(self),
            spec,
        })
    }

    /// The task's workspace for the server's own access (uploads, artifacts), restored from
    /// its snapshot when the sandbox expired. No sandbox is started.
    pub async fn open_workspace(
        &self,
        task_id: &str,
    ) -> Result<crate::workspace::Workspace, SandboxError> {
        let dir = self.workspace_dir(task_id)?;
        let snapshot = self.snapshot_file(task_id)?;
        let is_active = self
            .active
            .lock()
            .map(|a| a.contains_key(task_id))
            .unwrap_or(false);
        if !is_active && snapshot.exists() {
            let (s, d) = (snapshot.clone(), dir.clone());
            tokio::task::spawn_blocking(move || restore(&s, &d))
                .await
                .map_err(|e| SandboxError::Failed(e.to_string()))??;
            if let Some(owner) = self.launch.owner {
                owner.hand_over(&dir)?;
            }
        }
        let fresh = !dir.exists();
        let ws = crate::workspace::Workspace::open(&dir)
            .map_err(|e| SandboxError::Failed(e.to_string()))?
            .with_owner(self.launch.owner);
        if fresh && let Some(owner) = self.launch.owner {
            owner.hand_over(&dir)?;
        }
        Ok(ws)
    }

    /// Ends the task's processes now (cancel); the workspace stays as it is.
    pub async fn stop(&self, task_id: &str) -> Result<(), SandboxError> {
        let sb = self
            .active
            .lock()
            .ok()
            .and_then(|a| a.get(task_id).cloned());
        if let Some(sb) = sb {
            sb.kill_all().await?;
        }
        Ok(())
    }

    /// Ends the sandbox and packs the workspace into a snapshot; the next `acquire` restores it.
    pub async fn expire(&self, task_id: &str) -> Result<(), SandboxError> {
        let sb = self.active.lock().ok().and_then(|mut a| a.remove(task_id));
        if let Some(sb) = sb {
            sb.kill_all().await?;
        }
        let dir = self.workspace_dir(task_id)?;
        if dir.exists() {
            let snapshot = self.snapshot_file(task_id)?;
            let d = dir.clone();
            tokio::task::spawn_blocking(move || pack(&d, &snapshot))
                .await
                .map_err(|e| SandboxError::Failed(e.to_string()))??;
            std::fs::remove_dir_all(&dir)?;
        }
        // Laid out again by the next run.
        let skills = self.skills_dir(task_id)?;
        if skills.exists() {
            std::fs::remove_dir_all(skills)?;
        }
        Ok(())
    }

    /// Removes everything of a task: processes, workspace, snapshot, skills.
    pub async fn delete(&self, task_id: &str) -> Result<(), SandboxError> {
        let sb = self.active.lock().ok().and_then(|mut a| a.remove(task_id));
        if let Some(sb) = sb {
            sb.kill_all().await?;
        }
        let dir = self.workspace_dir(task_id)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let snapshot = self.snapshot_file(task_id)?;
        if snapshot.exists() {
            std::fs::remove_file(snapshot)?;
        }
        let skills = self.skills_dir(task_id)?;
        if skills.exists() {
            std::fs::remove_dir_all(skills)?;
        }
        Ok(())
    }

    /// Expires sandboxes idle longer than the configured timeout, every few seconds.
    pub fn spawn_reaper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let idle = Duration::from_secs(me.config.idle_timeout_secs);
            let tick = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
            loop {
                tokio::time::sleep(tick).await;
                let idle_ids: Vec<String> = me
                    .active
                    .lock()
                    .map(|a| {
                        a.iter()
                            .filter(|(_, sb)| sb.idle_for() >= idle)
                            .map(|(id, _)| id.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for id in idle_ids {
                    if let Err(e) = me.expire(&id).await {
                        tracing::warn!(task = %id, error = %e, "could not expire an idle sandbox");
                    }
                }
            }
        })
    }

    /// Ends every sandbox (shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Arc<BwrapSandbox>> = self
            .active
            .lock()
            .map(|mut a| a.drain().map(|(_, sb)| sb).collect())
            .unwrap_or_default();
        let pooled: Vec<Arc<BwrapSandbox>> = self
            .pool
            .lock()
            .map(|mut p| p.drain(..).collect())
            .unwrap_or_default();
        for sb in all.into_iter().chain(pooled) {
            let _ = sb.kill_all().await;
        }
    }
}

/// bubblewrap opens the workspace as the sandbox user, so every directory above the data dir
/// must let others pass. Says which one does not, instead of a bare "permission denied".
fn closed_ancestor(workspaces: &Path) -> Result<(), String> {
    let full = workspaces
        .canonicalize()
        .map_err(|e| format!("{}: {e}", workspaces.display()))?;
    for dir in full.ancestors().skip(2) {
        let mode = std::fs::metadata(dir)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o001 == 0 {
            return Err(format!(
                "the sandbox user (nobody) cannot pass through {} to reach the data directory; \
                 allow it (chmod o+x {}) or put the data directory elsewhere",
                dir.display(),
                dir.display()
            ));
        }
    }
    Ok(())
}

/// The supervisor binary where the sandbox user can read it: bubblewrap opens its mounts as
/// that user, and the build's or installation's directory may be closed to it. A hard link
/// costs nothing; a copy is the fallback across file systems.
fn reachable_supervisor(data_dir: &Path, exe: &Path) -> Result<PathBuf, SandboxError> {
    let dir = data_dir.join("sandbox-bin");
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
    let target = dir.join("sigmic-supervisor");
    let _ = std::fs::remove_file(&target);
    if std::fs::hard_link(exe, &target).is_err() {
        std::fs::copy(exe, &target)?;
    }
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
    Ok(target)
}

fn pack(dir: &Path, snapshot: &Path) -> Result<(), SandboxError> {
    let tmp = snapshot.with_extension("tar.partial");
    let file = std::fs::File::create(&tmp)?;
    let mut builder = tar::Builder::new(file);
    // Links are stored as links, never followed: a workspace symlink to /etc stays a link.
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()?.sync_all()?;
    std::fs::rename(&tmp, snapshot)?;
    Ok(())
}

fn restore(snapshot: &Path, dir: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(dir)?;
    let mut archive = tar::Archive::new(std::fs::File::open(snapshot)?);
    // Modes are kept (executables stay executable); set-id bits are removed right after.
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(false);
    // `unpack` refuses entries that would land outside `dir`.
    archive.unpack(dir)?;
    std::fs::remove_file(snapshot)?;
    Ok(())
}

/// A task's sandbox that starts (or is restored) when a command first needs it. Every command
/// asks the manager again, so a sandbox the reaper expired meanwhile comes back with its files.
pub struct LazySandbox {
    manager: Arc<SandboxManager>,
    spec: SandboxSpec,
    dir: PathBuf,
}

#[async_trait::async_trait]
impl Sandbox for LazySandbox {
    async fn run(&self, command: Command) -> Result<super::CommandOutput, SandboxError> {
        self.manager.acquire(&self.spec).await?.run(command).await
    }

    async fn attach(&self, program: super::Program) -> Result<super::Attached, SandboxError> {
        self.manager
            .acquire(&self.spec)
            .await?
            .attach(program)
            .await
    }

    fn workspace(&self) -> PathBuf {
        self.dir.clone()
    }

    async fn kill_all(&self) -> Result<(), SandboxError> {
        self.manager.stop(&self.spec.task_id).await
    }
}
