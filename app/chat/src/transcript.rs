//! A conversation as the Chat UI shows it, built from the task's stream: the stored messages
//! (`history_message`), then the live events of the run. Pure data, so the rules are tested
//! without a browser; the page mirrors each entry into its own signal and re-renders only the
//! entries an event touched.
//!
//! An assistant entry is one model call: its thoughts, its text, its tool calls. A model call
//! starts with `status: processing` (a retry of the same call carries an `attempt`), so the
//! next thought, text or call after one opens a new entry; tool results find their call by id
//! wherever it is. Stored messages are the same unit, so a conversation reads the same live
//! and after a reload.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

pub use protocol::stream::{RunErrorCode, TerminateReason};
use protocol::stream::{RunStatus, StreamEvent, SubagentToolStatus};
pub use protocol::task::CallStatus;
pub use protocol::task::TaskUsage;
use protocol::task::{HistoryMessage, MessageRole, TaskStatus, Thought, ToolCallView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// How a call's state reads in its row.
pub fn status_label(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Pending => "queued",
        CallStatus::AwaitingApproval => "needs approval",
        CallStatus::Approved => "approved",
        CallStatus::Executing => "running",
        CallStatus::Success => "done",
        CallStatus::Error => "failed",
        CallStatus::Cancelled => "cancelled",
    }
}

/// How a subagent's state reads in its row: still working, or how it ended.
pub fn subagent_label(ended: Option<TerminateReason>) -> &'static str {
    match ended {
        None => "working",
        Some(TerminateReason::Goal) => "done",
        Some(TerminateReason::MaxTurns) => "max turns",
        Some(TerminateReason::Timeout) => "timeout",
        Some(TerminateReason::Error) => "error",
    }
}

/// How a run that ended badly reads: the kind decides the look (a quiet line, a notice, an
/// alert), the title says it in words, the message is the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// A person stopped it.
    Cancelled,
    /// It reached one of its bounds (turns, time, budget).
    Limit,
    /// It broke; the message says why and what to fix.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub kind: EndKind,
    pub title: &'static str,
    pub message: String,
}

impl Ending {
    /// The whole sentence: "Cancelled", or the title and the server's message.
    pub fn text(&self) -> String {
        let message = self.message.trim();
        if self.kind == EndKind::Cancelled || message.is_empty() {
            self.title.to_owned()
        } else {
            format!("{}: {message}", self.title)
        }
    }
}

/// How a run that ended in `error` reads in a conversation. A code this version does not know
/// reads as a failure with the server's message, which names the cause.
pub fn ending(code: RunErrorCode, message: &str) -> Ending {
    let (kind, title) = match code {
        RunErrorCode::TaskCancelled => (EndKind::Cancelled, "Cancelled"),
        RunErrorCode::MaxTurns => (EndKind::Limit, "Stopped at the turn limit"),
        RunErrorCode::Timeout => (EndKind::Limit, "Stopped at the time limit"),
        RunErrorCode::BudgetExceeded => (EndKind::Limit, "Stopped at the budget limit"),
        c if c.is_limit() => (EndKind::Limit, "Stopped at a limit"),
        _ => (EndKind::Failed, "The task failed"),
    };
    Ending {
        kind,
        title,
        message: message.to_owned(),
    }
}

/// The quiet line under a finished run's answer: "1,234 tokens · $0.0123", the cost left out
/// when the model's price is unknown; nothing before any token was counted.
pub fn usage_line(u: &TaskUsage) -> Option<String> {
    let tokens = u.input_tokens.saturating_add(u.output_tokens);
    if tokens == 0 {
        return None;
    }
    let unit = if tokens == 1 { "token" } else { "tokens" };
    let mut line = format!("{} {unit}", grouped(tokens));
    if let Some(cost) = u.cost_usd.filter(|c| c.is_finite() && *c >= 0.0) {
        line.push_str(" · ");
        line.push_str(&dollars(cost));
    }
    Some(line)
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cents from ten cents up; below, four places, since a short run costs fractions of a cent;
/// below the fourth place, an upper bound rather than a misleading zero.
fn dollars(cost: f64) -> String {
    if cost == 0.0 {
        "$0".to_owned()
    } else if cost < 0.0001 {
        "< $0.0001".to_owned()
    } else if cost < 0.1 {
        format!("${cost:.4}")
    } else {
        let cents = (cost * 100.0).round() as u64;
        format!("${}.{:02}", grouped(cents / 100), cents % 100)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub call_id: String,
    pub tool_name: String,
    pub status: CallStatus,
    pub args: Value,
    pub output: Option<String>,
}

impl Call {
    fn from_view(v: &ToolCallView) -> Self {
        Self {
            call_id: v.call_id.clone(),
            tool_name: v.tool_name.clone(),
            status: v.status,
            args: v.args.clone(),
            output: v.output.clone(),
        }
    }

    /// A one-line summary of the arguments: the command, path, URL or query the call is
    /// about, or its first text argument.
    pub fn summary(&self) -> String {
        const KEYS: [&str; 9] = [
            "command",
            "path",
            "file_path",
            "url",
            "query",
            "pattern",
            "dir_path",
            "prompt",
            "name",
        ];
        let Some(obj) = self.args.as_object() else {
            return String::new();
        };
        let text = KEYS
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str))
            .or_else(|| obj.values().find_map(Value::as_str))
            .unwrap_or("");
        let line = text.lines().next().unwrap_or("");
        let mut short: String = line.chars().take(100).collect();
        if short.len() < line.len() || text.lines().nth(1).is_some() {
            short.push('…');
        }
        short
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubagentStep {
    pub tool_name: String,
    pub finished: bool,
    pub output: Option<String>,
}

/// A subagent's progress, grouped under the call that started it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subagent {
    pub agent_name: String,
    pub display_name: String,
    pub objective: String,
    pub thoughts: Vec<String>,
    pub steps: Vec<SubagentStep>,
    /// Why it ended, once it did.
    pub ended: Option<TerminateReason>,
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable for the page's lifetime: the list is keyed by it.
    pub key: u64,
    /// The stored message's id, once known.
    pub id: Option<String>,
    pub role: Role,
    pub text: String,
    /// The text is whole (stored, or the run's final `content`), not still streaming.
    pub text_final: bool,
    pub files: Vec<String>,
    pub thoughts: Vec<Thought>,
    pub calls: Vec<Call>,
    pub subagents: Vec<Subagent>,
    /// Sent from this page and not yet seen in the stored conversation.
    pub local: bool,
}

impl Entry {
    fn new(key: u64, role: Role) -> Self {
        Self {
            key,
            id: None,
            role,
            text: String::new(),
            text_final: false,
            files: Vec::new(),
            thoughts: Vec::new(),
            calls: Vec::new(),
            subagents: Vec::new(),
            local: false,
        }
    }
}

/// Where the run is, for the status line and the Stop button.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunState {
    /// The task is pending, running or waiting for approval.
    pub active: bool,
    /// The model is being asked (and no answer text has come yet).
    pub thinking: bool,
    /// A transient model error: the attempt number and the wait before it.
    pub retrying: Option<(u32, u64)>,
    /// How the last run ended badly: `(code, message)`.
    pub error: Option<(RunErrorCode, String)>,
    /// The task's tokens and cost once its run ended (from `done`, or from `history_done` for
    /// a finished task); cleared when a new run starts.
    pub usage: Option<TaskUsage>,
    /// The stored conversation has been received.
    pub loaded: bool,
}

/// What an event changed: entries by index (an index past the old end is a new entry) and
/// whether the run state changed.
#[derive(Debug, Default, PartialEq)]
pub struct Touched {
    pub entries: Vec<usize>,
    pub run: bool,
}

impl Touched {
    fn entry(i: usize) -> Self {
        Self {
            entries: vec![i],
            run: false,
        }
    }

    fn run() -> Self {
        Self {
            entries: Vec::new(),
            run: true,
        }
    }
}

#[derive(Debug, Default)]
pub struct Transcript {
    pub entries: Vec<Entry>,
    pub run: RunState,
    next_key: u64,
    /// Stored message ids already shown.
    ids: HashSet<String>,
    /// Call id → entry index.
    calls: HashMap<String, usize>,
    /// The entry of the model call in progress, once it produced something.
    turn: Option<usize>,
    /// The last event sequence number applied (`id:` of the stream).
    pub last_seq: Option<i64>,
}

impl Transcript {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, role: Role) -> usize {
        self.next_key += 1;
        self.entries.push(Entry::new(self.next_key, role));
        self.entries.len() - 1
    }

    /// The entry of the current model call, opened on first use.
    fn turn_entry(&mut self) -> usize {
        match self.turn {
            Some(i) if i < self.entries.len() => i,
            _ => {
                let i = self.push(Role::Assistant);
                self.turn = Some(i);
                i
            }
        }
    }

    /// A message this person just sent, shown at once; the stored one takes its place when
    /// the stream brings it.
    pub fn add_local_user(&mut self, text: &str, files: Vec<String>) -> Touched {
        let i = self.push(Role::User);
        let e = &mut self.entries[i];
        e.text = text.to_owned();
        e.text_final = true;
        e.files = files;
        e.local = true;
        Touched::entry(i)
    }

    /// The run was started or continued from this page (a new task or a follow-up).
    pub fn expect_run(&mut self) -> Touched {
        self.run.active = true;
        self.run.thinking = true;
        self.run.retrying = None;
        self.clear_ending();
        Touched::run()
    }

    /// A new run begins: how the last one ended no longer applies.
    fn clear_ending(&mut self) {
        self.run.error = None;
        self.run.usage = None;
    }

    /// A call was decided here; the stream confirms it shortly.
    pub fn mark_decided(&mut self, call_id: &str, approved: bool) -> Touched {
        let Some(&i) = self.calls.get(call_id) else {
            return Touched::default();
        };
        if let Some(c) = self.entries[i]
            .calls
            .iter_mut()
            .find(|c| c.call_id == call_id)
            && c.status == CallStatus::AwaitingApproval
        {
            c.status = if approved {
                CallStatus::Approved
            } else {
                CallStatus::Cancelled
            };
        }
        Touched::entry(i)
    }

    /// Calls waiting for a decision.
    pub fn awaiting(&self) -> usize {
        self.entries
            .iter()
            .flat_map(|e| &e.calls)
            .filter(|c| c.status == CallStatus::AwaitingApproval)
            .count()
    }

    /// Applies one stream event. `seq` is its `id:`; an event at or before the last one
    /// applied was already shown and is ignored.
    pub fn apply(&mut self, seq: Option<i64>, event: StreamEvent) -> Touched {
        if let Some(seq) = seq {
            if self.last_seq.is_some_and(|last| seq <= last) {
                return Touched::default();
            }
            self.last_seq = Some(seq);
        }
        match event {
            StreamEvent::HistoryMessage(m) => self.history(m),
            StreamEvent::HistoryDone(d) => {
                self.run.loaded = true;
                self.run.active = d.is_streaming;
                if !d.is_streaming {
                    self.run.thinking = false;
                }
                // A server that says how the task ended is believed over what this page saw:
                // the history is newer than anything before it. One that does not (older
                // servers) leaves the page's own knowledge alone.
                if let Some(status) = d.status
                    && !status.is_active()
                {
                    self.run.error = match (status, d.error) {
                        (TaskStatus::Failed | TaskStatus::Cancelled, Some(e)) => {
                            Some((e.code, e.message))
                        }
                        (TaskStatus::Cancelled, None) => {
                            Some((RunErrorCode::TaskCancelled, String::new()))
                        }
                        (TaskStatus::Failed, None) => Some((RunErrorCode::Other, String::new())),
                        _ => None,
                    };
                    self.run.usage = d.usage;
                }
                Touched::run()
            }
            StreamEvent::Status(s) => match s.status {
                RunStatus::Processing => {
                    self.run.active = true;
                    self.run.thinking = true;
                    if s.attempt.is_none() {
                        self.run.retrying = None;
                        self.turn = None;
                        Touched::run()
                    } else {
                        self.drop_partial_text()
                    }
                }
                RunStatus::Retrying => {
                    self.run.retrying = Some((s.attempt.unwrap_or(0), s.delay_ms.unwrap_or(0)));
                    let mut t = self.drop_partial_text();
                    t.run = true;
                    t
                }
                RunStatus::Connecting => {
                    // A run starts, perhaps from another tab: the last one's ending goes.
                    self.run.active = true;
                    self.clear_ending();
                    Touched::run()
                }
            },
            StreamEvent::Thought(t) => {
                let i = self.turn_entry();
                self.entries[i].thoughts.push(t);
                Touched::entry(i)
            }
            StreamEvent::Content(c) => {
                let i = self.turn_entry();
                let e = &mut self.entries[i];
                if c.is_partial {
                    if e.text_final {
                        e.text.clear();
                        e.text_final = false;
                    }
                    e.text.push_str(&c.text);
                } else {
                    e.text = c.text;
                    e.text_final = true;
                }
                let mut t = Touched::entry(i);
                if self.run.thinking || self.run.retrying.is_some() {
                    self.run.thinking = false;
                    self.run.retrying = None;
                    t.run = true;
                }
                t
            }
            StreamEvent::ToolCall(c) => {
                let status = c.status;
                if let Some(&i) = self.calls.get(&c.call_id) {
                    if let Some(call) = self.entries[i]
                        .calls
                        .iter_mut()
                        .find(|x| x.call_id == c.call_id)
                    {
                        call.status = status;
                        call.args = c.args;
                    }
                    let mut t = Touched::entry(i);
                    t.run = self.settle_thinking();
                    return t;
                }
                let i = self.turn_entry();
                self.calls.insert(c.call_id.clone(), i);
                self.entries[i].calls.push(Call {
                    call_id: c.call_id,
                    tool_name: c.tool_name,
                    status,
                    args: c.args,
                    output: None,
                });
                let mut t = Touched::entry(i);
                t.run = self.settle_thinking();
                t
            }
            StreamEvent::ToolResult(r) => {
                let Some(&i) = self.calls.get(&r.call_id) else {
                    return Touched::default();
                };
                if let Some(call) = self.entries[i]
                    .calls
                    .iter_mut()
                    .find(|x| x.call_id == r.call_id)
                {
                    call.status = r.status;
                    call.output = Some(r.output);
                }
                Touched::entry(i)
            }
            StreamEvent::SubagentStart(s) => {
                let i = self.turn_entry();
                self.entries[i].subagents.push(Subagent {
                    agent_name: s.agent_name,
                    display_name: s.display_name,
                    objective: s.objective,
                    thoughts: Vec::new(),
                    steps: Vec::new(),
                    ended: None,
                    result: None,
                });
                Touched::entry(i)
            }
            StreamEvent::SubagentThought(s) => self.with_subagent(&s.agent_name, |a| {
                a.thoughts.push(s.text);
            }),
            StreamEvent::SubagentTool(s) => self.with_subagent(&s.agent_name, |a| match s.status {
                SubagentToolStatus::End => match a
                    .steps
                    .iter_mut()
                    .rev()
                    .find(|st| st.tool_name == s.tool_name && !st.finished)
                {
                    Some(st) => {
                        st.finished = true;
                        st.output = s.output;
                    }
                    None => a.steps.push(SubagentStep {
                        tool_name: s.tool_name,
                        finished: true,
                        output: s.output,
                    }),
                },
                SubagentToolStatus::Start => a.steps.push(SubagentStep {
                    tool_name: s.tool_name,
                    finished: false,
                    output: None,
                }),
            }),
            StreamEvent::SubagentEnd(s) => self.with_subagent(&s.agent_name, |a| {
                a.ended = Some(s.terminate_reason);
                a.result = Some(s.result);
            }),
            StreamEvent::Error(e) => {
                self.end_run();
                self.run.error = Some((e.code, e.message));
                Touched::run()
            }
            StreamEvent::Done(d) => {
                self.end_run();
                self.run.error = None;
                self.run.usage = d.usage;
                Touched::run()
            }
        }
    }

    fn settle_thinking(&mut self) -> bool {
        std::mem::replace(&mut self.run.thinking, false)
    }

    fn end_run(&mut self) {
        self.run.active = false;
        self.run.thinking = false;
        self.run.retrying = None;
        self.turn = None;
        if let Some(e) = self.entries.last_mut()
            && e.role == Role::Assistant
            && !e.text.is_empty()
        {
            e.text_final = true;
        }
    }

    /// A retried model call starts its answer over: what it streamed so far goes.
    fn drop_partial_text(&mut self) -> Touched {
        match self.turn {
            Some(i) if i < self.entries.len() && !self.entries[i].text_final => {
                self.entries[i].text.clear();
                Touched::entry(i)
            }
            _ => Touched::default(),
        }
    }

    fn with_subagent(&mut self, name: &str, f: impl FnOnce(&mut Subagent)) -> Touched {
        for (i, e) in self.entries.iter_mut().enumerate().rev() {
            if let Some(a) = e
                .subagents
                .iter_mut()
                .rev()
                .find(|a| a.agent_name == name && a.ended.is_none())
            {
                f(a);
                return Touched::entry(i);
            }
        }
        Touched::default()
    }

    fn history(&mut self, m: HistoryMessage) -> Touched {
        if self.ids.contains(&m.id) {
            return Touched::default();
        }
        self.ids.insert(m.id.clone());
        let files = m
            .attached_files
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.name)
            .collect();
        if m.role == MessageRole::User {
            // The message this page sent, now stored: it keeps its place.
            if let Some(i) = self
                .entries
                .iter()
                .position(|e| e.local && e.role == Role::User)
            {
                let e = &mut self.entries[i];
                e.id = Some(m.id);
                e.local = false;
                e.text = m.content;
                e.files = files;
                return Touched::entry(i);
            }
        }
        let role = match m.role {
            MessageRole::User => Role::User,
            MessageRole::Assistant => Role::Assistant,
        };
        let i = self.push(role);
        for c in m.tool_calls.iter().flatten() {
            self.calls.insert(c.call_id.clone(), i);
        }
        let e = &mut self.entries[i];
        e.id = Some(m.id);
        e.text = m.content;
        e.text_final = true;
        e.files = files;
        e.thoughts = m.thoughts.unwrap_or_default();
        e.calls = m
            .tool_calls
            .unwrap_or_default()
            .iter()
            .map(Call::from_view)
            .collect();
        Touched::entry(i)
    }
}

#[cfg(test)]
mod tests;
