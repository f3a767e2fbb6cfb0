//! A task row as the API shows it.

use protocol::task::{self as dto, TaskStatus as DtoStatus, TaskUsage};

use crate::rfc3339::ts;
use crate::runtime::conversation::Conversation;
use crate::store::entities::{TaskStatus, task};

pub fn status_dto(s: TaskStatus) -> DtoStatus {
    match s {
        TaskStatus::Pending => DtoStatus::Pending,
        TaskStatus::Running => DtoStatus::Running,
        TaskStatus::AwaitingApproval => DtoStatus::AwaitingApproval,
        TaskStatus::Completed => DtoStatus::Completed,
        TaskStatus::Failed => DtoStatus::Failed,
        TaskStatus::Cancelled => DtoStatus::Cancelled,
    }
}

pub(super) fn task_dto(
    t: task::Model,
    username: Option<String>,
    conv: Option<&Conversation>,
) -> dto::Task {
    dto::Task {
        session_id: t.id.clone(),
        conversation_id: t.id.clone(),
        status: status_dto(t.status),
        env: t.env.as_deref().and_then(|e| serde_json::from_str(e).ok()),
        created_at: ts(t.created_at),
        started_at: t.started_at.map(ts),
        completed_at: t.completed_at.map(ts),
        last_activity_at: ts(t.last_activity_at),
        message_count: u64::try_from(t.message_count).unwrap_or(0),
        output: conv.and_then(Conversation::output),
        pending_approvals: conv
            .map(Conversation::pending_approvals)
            .unwrap_or_default(),
        usage: TaskUsage {
            input_tokens: u64::try_from(t.input_tokens).unwrap_or(0),
            output_tokens: u64::try_from(t.output_tokens).unwrap_or(0),
            cost_usd: t.cost_usd,
        },
        id: t.id,
        api_key_id: t.api_key_id,
        username,
        message: t.message,
        title: t.title,
        system_prompt: t.system_prompt,
        show_in_history: t.show_in_history,
        auto_execute: t.auto_execute,
        error: t.error,
        model: t.model,
        schedule_id: t.schedule_id,
    }
}
