//! Working through the open calls of the model's last answer: asking a person where the policy
//! says so, running the rest in order (consecutive read-only calls side by side), and reporting
//! calls a crash interrupted.

use std::collections::HashMap;

use protocol::policy::Decision;
use protocol::task::CallStatus;
use sea_orm::EntityTrait;

use super::policy::Policy;
use super::setup::Setup;
use super::{Run, RunError, Step};
use crate::ledger::{CallRef, Decided};
use crate::policy::PolicySet;
use crate::runtime::conversation::StoredCall;
use crate::store::entities::task;

const INTERRUPTED: &str = "This tool call was interrupted (the server restarted while it ran). It may or may not have taken effect: check before running it again.";

fn call_ref(c: &StoredCall) -> CallRef {
    CallRef {
        call_id: c.call_id.clone(),
        tool_name: c.tool_name.clone(),
        args: c.args.clone(),
    }
}

impl Run {
    /// Decides the open calls of the last answer by the project's policy, then runs them in
    /// order; stops at the first that waits for a person.
    pub(super) async fn process_calls(
        &mut self,
        open: Vec<StoredCall>,
        setup: &Setup,
        rules: &PolicySet,
    ) -> Result<Step, RunError> {
        let tools = &setup.tools;
        // The allowed tools may have grown (`proceed_always`) since the run started.
        if let Some(t) = task::Entity::find_by_id(self.task.id.clone())
            .one(self.db())
            .await?
        {
            self.task.allowed_tools = t.allowed_tools;
        }
        let policy = Policy::of(&self.task, rules);
        let project = self.task.project_id.clone();
        // A call found `executing` was started by a worker that is gone: never run it again.
        let mut changed = false;
        let (mut to_ask, mut asked, mut denied) = (Vec::new(), Vec::new(), Vec::new());
        // Decisions of the calls that may run, recorded when each starts.
        let mut allowed: HashMap<String, Decided> = HashMap::new();
        for call in &open {
            match call.status {
                CallStatus::Executing => {
                    // A subagent it started is gone with the worker: so are its calls.
                    self.ledger()
                        .close_subagent_calls(&self.claim, &call.call_id, INTERRUPTED)
                        .await?;
                    self.finish_call(call, CallStatus::Error, INTERRUPTED.to_owned())
                        .await?;
                    changed = true;
                }
                CallStatus::Pending => {
                    let decided =
                        policy.decide(call, tools.is_read_only(&call.tool_name), &self.redactor);
                    match decided.decision {
                        Decision::Deny => denied.push((call_ref(call), decided)),
                        Decision::Ask => {
                            to_ask.push(call_ref(call));
                            asked.push(decided);
                        }
                        Decision::Allow => {
                            allowed.insert(call.call_id.clone(), decided);
                        }
                    }
                }
                _ => {}
            }
        }
        if !denied.is_empty() {
            self.ledger()
                .deny_calls(&self.claim, &project, denied)
                .await?;
            changed = true;
        }
        if !to_ask.is_empty() {
            self.ledger()
                .ask_approval(&self.claim, &project, to_ask, asked)
                .await?;
            changed = true;
        }
        if changed {
            return Ok(Step::Continue);
        }
        // In order, up to the first call still waiting for a person.
        let mut batch: Vec<StoredCall> = Vec::new();
        for call in &open {
            if call.status == CallStatus::AwaitingApproval {
                self.run_batch(std::mem::take(&mut batch), setup, &mut allowed)
                    .await?;
                return Ok(Step::WaitForApproval);
            }
            if !tools.is_read_only(&call.tool_name)
                || batch.iter().any(|b| !tools.is_read_only(&b.tool_name))
            {
                self.run_batch(std::mem::take(&mut batch), setup, &mut allowed)
                    .await?;
            }
            batch.push(call.clone());
            if self.drain.is_cancelled() {
                break;
            }
        }
        self.run_batch(batch, setup, &mut allowed).await?;
        Ok(Step::Continue)
    }

    async fn run_batch(
        &self,
        batch: Vec<StoredCall>,
        setup: &Setup,
        allowed: &mut HashMap<String, Decided>,
    ) -> Result<(), RunError> {
        if batch.is_empty() {
            return Ok(());
        }
        let decided = batch
            .iter()
            .filter_map(|c| allowed.remove(&c.call_id))
            .collect();
        self.ledger()
            .start_calls(
                &self.claim,
                &self.task.project_id,
                batch.iter().map(call_ref).collect(),
                decided,
            )
            .await?;
        let results = futures_util::future::join_all(batch.iter().map(|c| async move {
            match setup.subagent(&c.tool_name) {
                Some(agent) => self
                    .run_subagent(setup, agent, c)
                    .await
                    .map(|o| (o.ok, o.output)),
                None => {
                    let result = setup.tools.execute(&c.tool_name, c.args.clone()).await;
                    Ok((result.ok, result.output))
                }
            }
        }))
        .await;
        for (call, result) in batch.iter().zip(results) {
            let (ok, output) = result?;
            let status = if ok {
                CallStatus::Success
            } else {
                CallStatus::Error
            };
            self.finish_call(call, status, output).await?;
        }
        Ok(())
    }

    async fn finish_call(
        &self,
        call: &StoredCall,
        status: CallStatus,
        output: String,
    ) -> Result<(), RunError> {
        let output = self.redactor.redact(&output);
        self.ledger()
            .finish_call(&self.claim, &call.call_id, status, output)
            .await?;
        Ok(())
    }
}
