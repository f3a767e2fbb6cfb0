//! The task runtime: workers that claim tasks from the store and run the agent loop, the
//! event hub that streams their progress, and the recovery of tasks a crash left unfinished
//! (which is nothing special: their leases run out and they are claimed again).

pub mod agent;
pub mod conversation;
mod prompt;
pub mod secrets;
pub mod stream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ledger::{Claim, Ledger, LedgerError, Renewal};
use crate::models::ModelCatalog;
use crate::sandbox::manager::SandboxManager;
use crate::store::Db;
use crate::web::Web;
use agent::{Outcome, Run};
use secrets::SecretStore;

/// A run in progress on this process.
struct Running {
    /// Ends the run now (cancel, lost lease): the model call is dropped, processes killed.
    abort: CancellationToken,
    /// Asks the run to stop at its next step boundary (shutdown).
    drain: CancellationToken,
    /// Ends the run now and gives the task back, to run again at once in a new sandbox
    /// (its secrets were dropped).
    restart: CancellationToken,
    claim: Claim,
}

pub struct Runtime {
    ledger: Arc<Ledger>,
    config: Arc<Config>,
    sandboxes: Arc<SandboxManager>,
    models: Arc<ModelCatalog>,
    web: Arc<Web>,
    mcp: crate::mcp::McpAccess,
    /// Projects' tool policies, compiled once per change.
    policies: crate::policy::store::PolicyCache,
    /// This process's name in `tasks.worker_id`.
    node: String,
    wake: Notify,
    slots: Arc<Semaphore>,
    running: Mutex<HashMap<String, Running>>,
    /// Task secrets, in this process's memory only: never in the store.
    secrets: SecretStore,
    stopping: AtomicBool,
    stopped: CancellationToken,
}

impl Runtime {
    /// `node` names this process in the store and must stay the same across its restarts
    /// (host and port): tasks it held when it died are then taken back at once on start,
    /// instead of after their leases run out.
    pub fn new(
        db: Db,
        config: Arc<Config>,
        sandboxes: Arc<SandboxManager>,
        models: Arc<ModelCatalog>,
        web: Arc<Web>,
        mcp: crate::mcp::McpAccess,
        node: String,
    ) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(config.tasks.max_concurrent.max(1))),
            ledger: Arc::new(Ledger::new(db)),
            config,
            sandboxes,
            models,
            web,
            mcp,
            policies: Default::default(),
            node,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            secrets: SecretStore::default(),
            stopping: AtomicBool::new(false),
            stopped: CancellationToken::new(),
        })
    }

    pub fn db(&self) -> &Db {
        self.ledger.db()
    }

    /// The one writer of tasks and their events.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn sandboxes(&self) -> &Arc<SandboxManager> {
        &self.sandboxes
    }

    pub fn policies(&self) -> &crate::policy::store::PolicyCache {
        &self.policies
    }

    /// Which model a task runs with, and the connection it goes through.
    pub fn models(&self) -> &ModelCatalog {
        &self.models
    }

    pub fn web(&self) -> Arc<Web> {
        Arc::clone(&self.web)
    }

    pub fn mcp(&self) -> &crate::mcp::McpAccess {
        &self.mcp
    }

    /// Cancelled when the process begins to stop: open streams end so shutdown can finish.
    pub fn shutting_down(&self) -> CancellationToken {
        self.stopped.clone()
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Looks for work now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// Ends a run of this process now, and the task's processes.
    pub async fn abort_local(&self, task_id: &str) {
        if let Some(token) = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(task_id).map(|run| run.abort.clone()))
        {
            token.cancel();
        }
        if let Err(e) = self.sandboxes.stop(task_id).await {
            tracing::warn!(task = task_id, error = %e, "cannot stop the task's sandbox");
        }
    }

    /// Drops a task's secrets now. A run in progress here stops and the task runs again at
    /// once without them; a sandbox started with them in its environment is stopped.
    pub async fn drop_secrets(&self, task_id: &str) {
        self.secrets.forget(task_id);
        let restart = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(task_id).map(|run| run.restart.clone()));
        match restart {
            Some(token) => token.cancel(),
            None => self.stop_sandbox(task_id).await,
        }
    }

    async fn stop_sandbox(&self, task_id: &str) {
        if let Err(e) = self.sandboxes.stop(task_id).await {
            tracing::warn!(task = task_id, error = %e, "cannot stop the task's sandbox");
        }
    }

    pub fn is_running_here(&self, task_id: &str) -> bool {
        self.running
            .lock()
            .map(|r| r.contains_key(task_id))
            .unwrap_or(false)
    }

    /// Starts the worker loop and the event watcher.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        {
            let me = Arc::clone(self);
            tokio::spawn(async move {
                match me.ledger.reclaim_own(&me.node).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!("taking back {n} task(s) this node held when it stopped");
                        me.wake();
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot take back this node's tasks"),
                }
            });
        }
        let watcher = {
            let hub = Arc::clone(self.ledger.hub());
            let db = self.ledger.db().clone();
            tokio::spawn(hub.watch_store(db, Duration::from_secs(1)))
        };
        let me = Arc::clone(self);
        tokio::spawn(async move {
            me.work().await;
            watcher.abort();
        })
    }

    async fn work(self: Arc<Self>) {
        let poll = Duration::from_millis(Ord::max(self.config.tasks.poll_interval_ms, 10));
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            if let Err(e) = self.claim_some().await {
                tracing::warn!(error = %e, "cannot claim tasks");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
                () = self.stopped.cancelled() => return,
            }
        }
    }

    async fn claim_some(self: &Arc<Self>) -> Result<(), LedgerError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(());
        }
        let lease = lease(&self.config);
        let candidates = self
            .ledger
            .candidates(
                u64::try_from(free * 2).unwrap_or(32),
                (self.config.tasks.max_concurrent_per_project > 0).then(|| {
                    u64::try_from(self.config.tasks.max_concurrent_per_project).unwrap_or(u64::MAX)
                }),
            )
            .await?;
        for (task_id, epoch) in candidates {
            if self.stopping.load(Ordering::SeqCst) || self.is_running_here(&task_id) {
                continue;
            }
            let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
                return Ok(());
            };
            match self
                .ledger
                .claim(&task_id, epoch, &self.node, lease)
                .await?
            {
                Some(claim) => self.spawn_run(claim, permit),
                None => drop(permit),
            }
        }
        Ok(())
    }

    fn spawn_run(self: &Arc<Self>, claim: Claim, permit: tokio::sync::OwnedSemaphorePermit) {
        let abort = CancellationToken::new();
        let drain = CancellationToken::new();
        let restart = CancellationToken::new();
        if let Ok(mut r) = self.running.lock() {
            r.insert(
                claim.task_id.clone(),
                Running {
                    abort: abort.clone(),
                    drain: drain.clone(),
                    restart: restart.clone(),
                    claim: claim.clone(),
                },
            );
        }
        tracing::info!(task = %claim.task_id, node = %self.node, epoch = claim.epoch, "run started");
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let keeper = tokio::spawn(Arc::clone(&me).keep_lease(claim.clone(), abort.clone()));
            let run = Run::start(Arc::clone(&me), claim.clone(), drain.clone());
            let outcome = tokio::select! {
                r = run => Some(r),
                () = abort.cancelled() => None,
                () = restart.cancelled() => {
                    me.stop_sandbox(&claim.task_id).await;
                    if let Err(e) = me.ledger.release(&claim).await {
                        tracing::warn!(task = %claim.task_id, error = %e, "cannot release the task");
                    }
                    Some(Ok(Outcome::Drained))
                }
            };
            keeper.abort();
            match outcome {
                None => {
                    // Cancelled, or the lease went to someone else: stop what runs.
                    me.stop_sandbox(&claim.task_id).await;
                }
                Some(Ok(Outcome::Drained)) if restart.is_cancelled() => {}
                Some(Ok(Outcome::Drained)) => {
                    if let Err(e) = me.ledger.release(&claim).await {
                        tracing::warn!(task = %claim.task_id, error = %e, "cannot release the task");
                    }
                }
                Some(Ok(Outcome::Completed | Outcome::Failed)) => {
                    // The run that used the secrets is over; a follow-up runs without them.
                    me.secrets.forget(&claim.task_id);
                }
                Some(Ok(Outcome::AwaitingApproval)) => {}
                Some(Err(agent::RunError::Ledger(LedgerError::Fenced))) => {
                    tracing::info!(task = %claim.task_id, "the task was taken over or cancelled; this run stopped");
                }
                Some(Err(e)) => {
                    tracing::error!(task = %claim.task_id, error = %e, "the task's run failed");
                    if let Err(e) = me.ledger.fail_internal(&claim).await {
                        tracing::error!(task = %claim.task_id, error = %e, "cannot mark the task failed");
                    }
                }
            }
            if let Ok(mut r) = me.running.lock() {
                r.remove(&claim.task_id);
            }
            drop(permit);
            me.wake();
        });
    }

    /// Renews the lease while the run lasts, and notices a cancel from any process within a
    /// second.
    async fn keep_lease(self: Arc<Self>, claim: Claim, abort: CancellationToken) {
        let lease = lease(&self.config);
        let renew_every = Duration::from_secs(Ord::max(self.config.tasks.lease_secs / 3, 1));
        let mut last_renew = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let held = if last_renew.elapsed() >= renew_every {
                last_renew = tokio::time::Instant::now();
                self.ledger
                    .renew(&claim, &self.node, lease)
                    .await
                    .map(|r| r == Renewal::Held)
            } else {
                self.ledger.still_held(&claim).await
            };
            match held {
                Ok(true) => {}
                Ok(false) => {
                    abort.cancel();
                    return;
                }
                Err(e) => {
                    tracing::warn!(task = %claim.task_id, error = %e, "cannot renew the lease")
                }
            }
        }
    }

    /// Graceful stop: no new work; running tasks finish the step they are in (up to
    /// `grace`), then give their tasks back for the next start to continue.
    pub async fn shutdown(&self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stopped.cancel();
        let runs: Vec<(CancellationToken, CancellationToken, Claim)> = self
            .running
            .lock()
            .map(|r| {
                r.values()
                    .map(|run| (run.drain.clone(), run.abort.clone(), run.claim.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (drain, _, _) in &runs {
            drain.cancel();
        }
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline
            && self.running.lock().map(|r| !r.is_empty()).unwrap_or(false)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (_, abort, claim) in runs {
            if self.is_running_here(&claim.task_id) {
                abort.cancel();
                if let Err(e) = self.ledger.release(&claim).await {
                    tracing::warn!(task = %claim.task_id, error = %e, "cannot release the task");
                }
            }
        }
    }
}

fn lease(config: &Config) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(Ord::max(config.tasks.lease_secs, 2)).unwrap_or(30))
}
