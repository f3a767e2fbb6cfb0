//! A task's conversation as stored (messages and tool calls), and what is built from it: the
//! model's message list, the history people read, the task's latest output. Also compaction,
//! which keeps a long conversation inside the model's context window.

use std::collections::HashMap;

use protocol::task::{
    AttachedFile, HistoryMessage, MessageRole, PendingApproval, TaskOutput, Thought, ToolCallView,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use crate::llm::{self, Part, Role};
use crate::rfc3339::ts;
use crate::store::entities::{task_message, task_tool_call};

pub use protocol::task::CallStatus;

#[derive(Debug, Clone)]
pub struct StoredCall {
    pub call_id: String,
    pub message_id: String,
    pub tool_name: String,
    pub args: Value,
    pub status: CallStatus,
    pub output: Option<String>,
}

impl From<task_tool_call::Model> for StoredCall {
    fn from(m: task_tool_call::Model) -> Self {
        Self {
            args: serde_json::from_str(&m.args).unwrap_or(Value::Null),
            status: CallStatus::parse(&m.status),
            call_id: m.call_id,
            message_id: m.message_id,
            tool_name: m.tool_name,
            output: m.output,
        }
    }
}

impl StoredCall {
    fn view(&self) -> ToolCallView {
        ToolCallView {
            call_id: self.call_id.clone(),
            tool_name: self.tool_name.clone(),
            status: self.status.public(),
            args: self.args.clone(),
            output: self.output.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub model: task_message::Model,
    pub role: Role,
    pub parts: Vec<Part>,
    pub files: Vec<AttachedFile>,
    pub calls: Vec<StoredCall>,
}

impl StoredMessage {
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("")
    }

    fn thoughts(&self) -> Vec<Thought> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Thinking { text, .. } if !text.trim().is_empty() => Some(thought(text)),
                _ => None,
            })
            .collect()
    }
}

/// A task's whole conversation, in order.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub messages: Vec<StoredMessage>,
    /// Calls subagents made: not the main agent's, but a person may have to approve one.
    pub delegated: Vec<StoredCall>,
}

impl Conversation {
    pub async fn load(db: &impl ConnectionTrait, task_id: &str) -> Result<Self, DbErr> {
        let rows = task_message::Entity::find()
            .filter(task_message::Column::TaskId.eq(task_id))
            .order_by_asc(task_message::Column::Position)
            .all(db)
            .await?;
        let calls = task_tool_call::Entity::find()
            .filter(task_tool_call::Column::TaskId.eq(task_id))
            .order_by_asc(task_tool_call::Column::Position)
            .all(db)
            .await?;
        // A subagent's calls are its own, not part of the main agent's conversation.
        let (delegated, calls): (Vec<_>, Vec<_>) =
            calls.into_iter().partition(|c| c.parent_call_id.is_some());
        let delegated = delegated.into_iter().map(StoredCall::from).collect();
        let mut by_message: HashMap<String, Vec<StoredCall>> = HashMap::new();
        for c in calls {
            by_message
                .entry(c.message_id.clone())
                .or_default()
                .push(c.into());
        }
        let messages = rows
            .into_iter()
            .map(|m| StoredMessage {
                role: if m.role == "assistant" {
                    Role::Assistant
                } else {
                    Role::User
                },
                parts: serde_json::from_str(&m.parts).unwrap_or_default(),
                files: m
                    .attached_files
                    .as_deref()
                    .and_then(|f| serde_json::from_str(f).ok())
                    .unwrap_or_default(),
                calls: by_message.remove(&m.id).unwrap_or_default(),
                model: m,
            })
            .collect();
        Ok(Self {
            messages,
            delegated,
        })
    }

    /// The calls of the last assistant message that are not finished, in order.
    pub fn open_calls(&self) -> Vec<&StoredCall> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::Assistant)
            .map(|m| m.calls.iter().filter(|c| !c.status.is_finished()).collect())
            .unwrap_or_default()
    }

    pub fn all_calls(&self) -> impl Iterator<Item = &StoredCall> {
        self.messages.iter().flat_map(|m| m.calls.iter())
    }

    /// The model has something to answer: a user message after its last answer, or results
    /// of the calls its last answer asked for.
    pub fn needs_model(&self) -> bool {
        match self.messages.last() {
            None => false,
            Some(m) if m.role == Role::User => true,
            Some(m) => {
                let asked = self
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == Role::Assistant);
                m.role == Role::Assistant
                    && asked.is_some_and(|a| {
                        !a.calls.is_empty() && a.calls.iter().all(|c| c.status.is_finished())
                    })
            }
        }
    }

    pub fn pending_approvals(&self) -> Vec<PendingApproval> {
        self.all_calls()
            .chain(&self.delegated)
            .filter(|c| c.status == CallStatus::AwaitingApproval)
            .map(|c| PendingApproval {
                call_id: c.call_id.clone(),
                tool_name: c.tool_name.clone(),
                args: c.args.clone(),
            })
            .collect()
    }

    /// The messages the model is sent. Each assistant message is followed by the results of
    /// its calls (before any follow-up that arrived while they ran).
    pub fn to_llm(&self) -> Vec<llm::Message> {
        let mut out = Vec::with_capacity(self.messages.len() * 2);
        for m in &self.messages {
            match m.role {
                Role::User => {
                    let mut text = m.text();
                    if !m.files.is_empty() {
                        let list = m
                            .files
                            .iter()
                            .map(|f| format!("- {}", f.path))
                            .collect::<Vec<_>>()
                            .join("\n");
                        text = format!(
                            "[The user uploaded these files to the workspace:\n{list}]\n\n{text}"
                        );
                    }
                    out.push(llm::Message::user_text(text));
                }
                Role::Assistant => {
                    let mut parts: Vec<Part> = m
                        .parts
                        .iter()
                        .filter(|p| !matches!(p, Part::Text { text } if text.is_empty()))
                        .cloned()
                        .collect();
                    parts.extend(m.calls.iter().map(|c| {
                        Part::ToolCall(llm::ToolCall {
                            id: c.call_id.clone(),
                            name: c.tool_name.clone(),
                            args: c.args.clone(),
                        })
                    }));
                    if parts.is_empty() {
                        parts.push(Part::Text {
                            text: "(no answer)".to_owned(),
                        });
                    }
                    out.push(llm::Message {
                        role: Role::Assistant,
                        parts,
                    });
                    if !m.calls.is_empty() {
                        out.push(llm::Message {
                            role: Role::User,
                            parts: m
                                .calls
                                .iter()
                                .map(|c| Part::ToolResult {
                                    call_id: c.call_id.clone(),
                                    name: c.tool_name.clone(),
                                    output: c
                                        .output
                                        .clone()
                                        .unwrap_or_else(|| "(no result)".to_owned()),
                                    is_error: c.status != CallStatus::Success,
                                })
                                .collect(),
                        });
                    }
                }
            }
        }
        out
    }

    pub fn history(&self) -> Vec<HistoryMessage> {
        self.messages.iter().map(history_message).collect()
    }

    /// What the latest run produced: everything after the last user message.
    pub fn output(&self) -> Option<TaskOutput> {
        let start = self
            .messages
            .iter()
            .rposition(|m| m.role == Role::User)
            .map_or(0, |i| i + 1);
        let run = &self.messages[start..];
        let last = run.last()?;
        let content = run
            .iter()
            .rev()
            .map(StoredMessage::text)
            .find(|t| !t.trim().is_empty())
            .unwrap_or_default();
        let thoughts: Vec<Thought> = run.iter().flat_map(StoredMessage::thoughts).collect();
        let calls: Vec<ToolCallView> = run
            .iter()
            .flat_map(|m| m.calls.iter().map(StoredCall::view))
            .collect();
        Some(TaskOutput {
            content,
            updated_at: ts(last.model.created_at),
            thoughts: (!thoughts.is_empty()).then_some(thoughts),
            tool_calls: (!calls.is_empty()).then_some(calls),
        })
    }

    /// The event sequence number the stored messages are complete up to.
    pub fn boundary(&self) -> i64 {
        self.messages.iter().map(|m| m.model.seq).max().unwrap_or(0)
    }

    pub fn final_text(&self) -> String {
        self.messages
            .iter()
            .rev()
            .take_while(|m| m.role == Role::Assistant)
            .map(StoredMessage::text)
            .find(|t| !t.trim().is_empty())
            .unwrap_or_default()
    }
}

pub fn history_message(m: &StoredMessage) -> HistoryMessage {
    let thoughts = m.thoughts();
    HistoryMessage {
        id: m.model.id.clone(),
        role: match m.role {
            Role::User => MessageRole::User,
            Role::Assistant => MessageRole::Assistant,
        },
        content: m.text(),
        created_at: ts(m.model.created_at),
        attached_files: (!m.files.is_empty()).then(|| m.files.clone()),
        thoughts: (!thoughts.is_empty()).then_some(thoughts),
        tool_calls: (!m.calls.is_empty()).then(|| m.calls.iter().map(StoredCall::view).collect()),
    }
}

/// A thought as the stream shows it: a bold first line (as reasoning models write them)
/// becomes the subject.
pub fn thought(text: &str) -> Thought {
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix("**")
        && let Some((subject, description)) = rest.split_once("**")
    {
        return Thought {
            subject: subject.trim().to_owned(),
            description: description.trim().to_owned(),
        };
    }
    let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
    let subject: String = first.chars().take(80).collect();
    Thought {
        subject: subject.trim().to_owned(),
        description: if rest.is_empty() && first.chars().count() <= 80 {
            String::new()
        } else {
            trimmed.to_owned()
        },
    }
}

/// Characters per token, roughly, for estimating sizes without a tokenizer.
const CHARS_PER_TOKEN: usize = 4;
/// Recent messages kept whole when older tool outputs are trimmed.
const KEEP_RECENT: usize = 6;
const TRIMMED_OUTPUT_CHARS: usize = 400;

fn size(m: &llm::Message) -> usize {
    m.parts
        .iter()
        .map(|p| match p {
            Part::Text { text } | Part::Thinking { text, .. } => text.len(),
            Part::ToolCall(c) => c.name.len() + c.args.to_string().len(),
            Part::ToolResult { output, .. } => output.len() + 32,
        })
        .sum::<usize>()
        + 16
}

pub fn estimate_tokens(messages: &[llm::Message], fixed_chars: usize) -> u64 {
    let chars = messages.iter().map(size).sum::<usize>() + fixed_chars;
    u64::try_from(chars / CHARS_PER_TOKEN).unwrap_or(u64::MAX)
}

/// Fits a conversation into `budget_tokens`: first older tool outputs are cut to their
/// beginning and end, then the oldest exchanges (after the first instruction) are dropped
/// with a note. The newest messages are never touched, so the model always sees what it is
/// working on.
pub fn compact(
    mut messages: Vec<llm::Message>,
    fixed_chars: usize,
    budget_tokens: u64,
) -> Vec<llm::Message> {
    if estimate_tokens(&messages, fixed_chars) <= budget_tokens {
        return messages;
    }
    let old = messages.len().saturating_sub(KEEP_RECENT);
    for m in messages.iter_mut().take(old) {
        for p in &mut m.parts {
            if let Part::ToolResult { output, .. } = p
                && output.len() > TRIMMED_OUTPUT_CHARS * 2
            {
                let head: String = output.chars().take(TRIMMED_OUTPUT_CHARS).collect();
                let tail: String = {
                    let chars: Vec<char> = output.chars().collect();
                    chars[chars.len().saturating_sub(TRIMMED_OUTPUT_CHARS / 2)..]
                        .iter()
                        .collect()
                };
                let cut = output.len() - head.len() - tail.len();
                *output = format!(
                    "{head}\n[… {cut} bytes of this output were removed to fit the context window …]\n{tail}"
                );
            }
        }
    }
    if estimate_tokens(&messages, fixed_chars) <= budget_tokens || messages.len() <= 2 {
        return messages;
    }
    let first = messages.remove(0);
    let note = llm::Message::user_text(
        "[Earlier parts of this conversation were removed to fit the context window. Re-read files in the workspace if you need details from them.]",
    );
    while messages.len() > KEEP_RECENT.min(messages.len().saturating_sub(1)).max(1)
        && estimate_tokens(&messages, fixed_chars + size(&first) + size(&note)) > budget_tokens
    {
        messages.remove(0);
    }
    // Never start with the results of a call whose request was dropped.
    while messages.first().is_some_and(|m| {
        m.role == Role::User && m.parts.iter().all(|p| matches!(p, Part::ToolResult { .. }))
    }) {
        messages.remove(0);
    }
    let mut out = Vec::with_capacity(messages.len() + 2);
    out.push(first);
    out.push(note);
    out.extend(messages);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_turn(i: usize, output_len: usize) -> Vec<llm::Message> {
        vec![
            llm::Message {
                role: Role::Assistant,
                parts: vec![Part::ToolCall(llm::ToolCall {
                    id: format!("c{i}"),
                    name: "read_file".into(),
                    args: serde_json::json!({"path": "a"}),
                })],
            },
            llm::Message {
                role: Role::User,
                parts: vec![Part::ToolResult {
                    call_id: format!("c{i}"),
                    name: "read_file".into(),
                    output: "x".repeat(output_len),
                    is_error: false,
                }],
            },
        ]
    }

    #[test]
    fn small_conversations_are_left_alone() {
        let msgs = vec![llm::Message::user_text("hi")];
        assert_eq!(compact(msgs.clone(), 0, 1000), msgs);
    }

    #[test]
    fn old_tool_outputs_are_trimmed_first() {
        let mut msgs = vec![llm::Message::user_text("do it")];
        for i in 0..10 {
            msgs.extend(call_turn(i, 20_000));
        }
        let before = estimate_tokens(&msgs, 0);
        let out = compact(msgs.clone(), 0, 30_000);
        assert!(
            estimate_tokens(&out, 0) <= 30_000,
            "{}",
            estimate_tokens(&out, 0)
        );
        assert!(estimate_tokens(&out, 0) < before);
        assert_eq!(out.len(), msgs.len(), "trimming alone was enough");
        assert_eq!(out.last(), msgs.last(), "the newest result is whole");
    }

    #[test]
    fn oldest_exchanges_are_dropped_when_trimming_is_not_enough() {
        let mut msgs = vec![llm::Message::user_text("the goal")];
        for i in 0..40 {
            msgs.extend(call_turn(i, 2_000));
        }
        let out = compact(msgs.clone(), 0, 3_000);
        assert!(out.len() < msgs.len());
        assert_eq!(out[0], msgs[0], "the first instruction stays");
        assert!(matches!(&out[1].parts[0], Part::Text { text } if text.contains("removed")));
        assert_eq!(out[2].role, Role::Assistant, "no orphaned tool results");
        assert_eq!(out.last(), msgs.last());
    }

    #[test]
    fn thoughts_take_a_bold_subject() {
        let t = thought("**Planning the fix**\nFirst read the file.");
        assert_eq!(t.subject, "Planning the fix");
        assert_eq!(t.description, "First read the file.");
        let t = thought("Short idea");
        assert_eq!(t.subject, "Short idea");
    }
}
