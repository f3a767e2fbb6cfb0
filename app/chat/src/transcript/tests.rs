//! The transcript's rules, event by event: live runs, reconnects, retries, approvals and
//! subagents.

use serde_json::json;

use super::*;

fn ev(name: &str, data: Value) -> StreamEvent {
    StreamEvent::parse(name, &data.to_string()).unwrap_or_else(|| panic!("{name} {data}"))
}

fn msg(id: &str, role: &str, content: &str) -> StreamEvent {
    ev(
        "history_message",
        json!({"id": id, "role": role, "content": content, "createdAt": "2026-01-01T00:00:00Z"}),
    )
}

fn processing() -> StreamEvent {
    ev("status", json!({"status": "processing"}))
}

fn content(text: &str, partial: bool) -> StreamEvent {
    ev("content", json!({"text": text, "isPartial": partial}))
}

fn call(id: &str, status: &str) -> StreamEvent {
    ev(
        "tool_call",
        json!({"callId": id, "toolName": "run_shell_command", "status": status, "args": {"command": "ls -la\nmore"}}),
    )
}

fn result(id: &str) -> StreamEvent {
    ev(
        "tool_result",
        json!({"callId": id, "status": "success", "output": "ok"}),
    )
}

/// A run live: one entry per model call, calls and results in their entry, text
/// streamed then replaced by the whole answer.
#[test]
fn a_live_run_reads_like_its_stored_conversation() {
    let mut t = Transcript::new();
    t.apply(None, msg("m1", "user", "list files"));
    t.apply(
        None,
        ev(
            "history_done",
            json!({"messageCount": 1, "isStreaming": true}),
        ),
    );
    assert!(t.run.active && t.run.loaded);
    t.apply(Some(1), ev("status", json!({"status": "connecting"})));
    t.apply(Some(2), processing());
    t.apply(Some(3), content("Let me ", true));
    t.apply(Some(4), content("look.", true));
    t.apply(Some(5), content("Let me look.", false));
    t.apply(Some(6), call("c1", "executing"));
    t.apply(Some(7), call("c2", "executing"));
    t.apply(Some(8), result("c1"));
    t.apply(Some(9), result("c2"));
    t.apply(Some(10), processing());
    t.apply(Some(11), content("Two files.", true));
    t.apply(Some(12), content("Two files.", false));
    t.apply(Some(13), ev("done", json!({"finalResponse": "Two files."})));
    assert_eq!(t.entries.len(), 3);
    assert_eq!(t.entries[1].text, "Let me look.");
    assert_eq!(t.entries[1].calls.len(), 2);
    assert!(
        t.entries[1]
            .calls
            .iter()
            .all(|c| c.status == CallStatus::Success)
    );
    assert_eq!(t.entries[1].calls[0].summary(), "ls -la…");
    assert_eq!(t.entries[2].text, "Two files.");
    assert!(t.entries[2].calls.is_empty());
    assert!(!t.run.active);
    assert_eq!(t.last_seq, Some(13));
}

/// `history_done` names the event the history stands for: the stream resumes after it.
#[test]
fn history_done_sets_where_to_resume() {
    let mut t = Transcript::new();
    t.apply(None, msg("m1", "user", "hi"));
    t.apply(
        Some(7),
        ev(
            "history_done",
            json!({"messageCount": 1, "isStreaming": false}),
        ),
    );
    assert_eq!(t.last_seq, Some(7));
    assert_eq!(t.apply(Some(7), processing()), Touched::default());
    t.apply(Some(8), processing());
    assert!(t.run.active);
}

#[test]
fn events_seen_before_are_ignored() {
    let mut t = Transcript::new();
    t.apply(Some(1), processing());
    t.apply(Some(2), content("a", true));
    assert_eq!(t.apply(Some(2), content("a", true)), Touched::default());
    assert_eq!(t.apply(Some(1), content("a", true)), Touched::default());
    t.apply(Some(3), content("b", true));
    assert_eq!(t.entries[0].text, "ab");
}

/// A reconnect without a sequence number brings the stored conversation again: messages
/// already shown stay once.
#[test]
fn history_twice_shows_each_message_once() {
    let mut t = Transcript::new();
    for _ in 0..2 {
        t.apply(None, msg("m1", "user", "hi"));
        t.apply(None, msg("m2", "assistant", "hello"));
        t.apply(
            None,
            ev(
                "history_done",
                json!({"messageCount": 2, "isStreaming": false}),
            ),
        );
    }
    assert_eq!(t.entries.len(), 2);
}

#[test]
fn a_sent_message_is_replaced_by_its_stored_copy_in_place() {
    let mut t = Transcript::new();
    t.apply(None, msg("m1", "user", "hi"));
    t.add_local_user("again", vec!["a.txt".into()]);
    t.expect_run();
    let key = t.entries[1].key;
    t.apply(None, msg("m1", "user", "hi"));
    t.apply(None, msg("m2", "user", "Files: uploads/a.txt\n\nagain"));
    assert_eq!(t.entries.len(), 2);
    assert_eq!(t.entries[1].key, key);
    assert!(!t.entries[1].local);
    assert_eq!(t.entries[1].id.as_deref(), Some("m2"));
}

/// Resuming from the stored conversation: results of stored calls find them.
#[test]
fn results_find_stored_calls() {
    let mut t = Transcript::new();
    t.apply(
        None,
        ev(
            "history_message",
            json!({"id": "m2", "role": "assistant", "content": "", "createdAt": "x",
                   "toolCalls": [{"callId": "c9", "toolName": "write_file", "status": "executing",
                                  "args": {"file_path": "out.csv"}}]}),
        ),
    );
    t.apply(Some(40), result("c9"));
    assert_eq!(t.entries.len(), 1);
    assert_eq!(t.entries[0].calls[0].status, CallStatus::Success);
    assert_eq!(t.entries[0].calls[0].summary(), "out.csv");
}

#[test]
fn a_retry_drops_the_partial_answer() {
    let mut t = Transcript::new();
    t.apply(Some(1), processing());
    t.apply(Some(2), content("Half an ans", true));
    let touched = t.apply(
        Some(3),
        ev(
            "status",
            json!({"status": "retrying", "attempt": 1, "delayMs": 500}),
        ),
    );
    assert!(touched.run);
    assert_eq!(t.entries[0].text, "");
    assert_eq!(t.run.retrying, Some((1, 500)));
    t.apply(
        Some(4),
        ev("status", json!({"status": "processing", "attempt": 1})),
    );
    t.apply(Some(5), content("Whole answer.", true));
    assert_eq!(t.entries.len(), 1);
    assert_eq!(t.entries[0].text, "Whole answer.");
    assert_eq!(t.run.retrying, None);
}

#[test]
fn approvals_are_counted_and_decided() {
    let mut t = Transcript::new();
    t.apply(Some(1), processing());
    t.apply(Some(2), call("c1", "awaiting_approval"));
    assert_eq!(t.awaiting(), 1);
    t.mark_decided("c1", true);
    assert_eq!(t.entries[0].calls[0].status, CallStatus::Approved);
    assert_eq!(t.awaiting(), 0);
    t.apply(Some(3), call("c1", "executing"));
    assert_eq!(t.entries[0].calls.len(), 1);
    assert_eq!(t.entries[0].calls[0].status, CallStatus::Executing);
}

#[test]
fn a_cancelled_run_ends_with_its_error() {
    let mut t = Transcript::new();
    t.apply(Some(1), processing());
    t.apply(Some(2), call("c1", "executing"));
    t.apply(
        Some(3),
        ev(
            "tool_result",
            json!({"callId": "c1", "status": "cancelled", "output": "x"}),
        ),
    );
    t.apply(
        Some(4),
        ev(
            "error",
            json!({"code": "TASK_CANCELLED", "message": "The task was cancelled."}),
        ),
    );
    assert!(!t.run.active);
    assert_eq!(
        t.run.error.as_ref().map(|e| e.0),
        Some(RunErrorCode::TaskCancelled)
    );
    assert_eq!(t.entries[0].calls[0].status, CallStatus::Cancelled);
}

#[test]
fn subagent_progress_is_grouped_under_its_subagent() {
    let mut t = Transcript::new();
    t.apply(Some(1), processing());
    t.apply(
        Some(2),
        ev(
            "subagent_start",
            json!({"agentName": "research", "displayName": "Researcher",
                                     "description": "d", "objective": "find it"}),
        ),
    );
    t.apply(
        Some(3),
        ev(
            "subagent_thought",
            json!({"agentName": "research", "text": "hmm"}),
        ),
    );
    t.apply(
        Some(4),
        ev(
            "subagent_tool",
            json!({"agentName": "research", "status": "start", "toolName": "web_fetch"}),
        ),
    );
    t.apply(
        Some(5),
        ev("subagent_tool", json!({"agentName": "research", "status": "end", "toolName": "web_fetch", "output": "page"})),
    );
    t.apply(
        Some(6),
        ev(
            "subagent_end",
            json!({"agentName": "research", "terminateReason": "GOAL", "result": "found"}),
        ),
    );
    let a = &t.entries[0].subagents[0];
    assert_eq!(a.thoughts, vec!["hmm".to_owned()]);
    assert_eq!(a.steps.len(), 1);
    assert!(a.steps[0].finished);
    assert_eq!(a.ended, Some(TerminateReason::Goal));
    assert_eq!(subagent_label(a.ended), "done");
    assert_eq!(a.result.as_deref(), Some("found"));
}

/// A task that failed before the page connected: its stream is the history and a
/// `history_done` that says how it ended, which the page shows like a live failure.
#[test]
fn a_finished_failed_task_shows_its_error_from_history_done() {
    let mut t = Transcript::new();
    t.apply(None, msg("m1", "user", "What is the capital of France?"));
    t.apply(
        Some(3),
        ev(
            "history_done",
            json!({"messageCount": 1, "isStreaming": false, "status": "failed",
                "error": {"code": "MODEL_NOT_CONFIGURED", "message": "No model provider is configured."},
                "usage": {"inputTokens": 0, "outputTokens": 0, "costUsd": null}}),
        ),
    );
    assert!(!t.run.active && t.run.loaded);
    assert_eq!(
        t.run.error,
        Some((
            RunErrorCode::ModelNotConfigured,
            "No model provider is configured.".to_owned()
        ))
    );
    assert_eq!(t.run.usage.as_ref().and_then(usage_line), None);
}

/// The history of a completed task clears what this page remembered of an earlier failure
/// and brings the usage for the quiet line.
#[test]
fn a_completed_history_clears_an_old_error_and_brings_usage() {
    let mut t = Transcript::new();
    t.apply(
        Some(1),
        ev("error", json!({"code": "MODEL_ERROR", "message": "down"})),
    );
    assert!(t.run.error.is_some());
    t.apply(None, msg("m1", "user", "hi"));
    t.apply(None, msg("m2", "assistant", "hello"));
    t.apply(
        Some(9),
        ev(
            "history_done",
            json!({"messageCount": 2, "isStreaming": false, "status": "completed",
                "usage": {"inputTokens": 1200, "outputTokens": 34, "costUsd": 0.0123}}),
        ),
    );
    assert_eq!(t.run.error, None);
    let line = t.run.usage.as_ref().and_then(usage_line);
    assert_eq!(line.as_deref(), Some("1,234 tokens · $0.0123"));
}

/// An older server's `history_done` says nothing of the ending: what the page knew stays.
#[test]
fn history_done_without_a_status_keeps_what_the_page_knew() {
    let mut t = Transcript::new();
    t.apply(
        Some(1),
        ev("error", json!({"code": "TIMEOUT", "message": "late"})),
    );
    t.apply(
        None,
        ev(
            "history_done",
            json!({"messageCount": 0, "isStreaming": false}),
        ),
    );
    assert_eq!(
        t.run.error,
        Some((RunErrorCode::Timeout, "late".to_owned()))
    );
}

/// A cancelled task reads "Cancelled" whether or not the server sent its event.
#[test]
fn a_cancelled_history_reads_cancelled() {
    let mut t = Transcript::new();
    t.apply(
        None,
        ev(
            "history_done",
            json!({"messageCount": 1, "isStreaming": false, "status": "cancelled"}),
        ),
    );
    let (code, message) = t
        .run
        .error
        .clone()
        .unwrap_or((RunErrorCode::Other, String::new()));
    assert_eq!(ending(code, &message).kind, EndKind::Cancelled);
    assert_eq!(ending(code, &message).title, "Cancelled");
}

/// `done` ends the run with the task's usage; the next run (here started from another tab)
/// clears the line and any old error until it ends.
#[test]
fn done_brings_usage_and_a_new_run_clears_the_ending() {
    let mut t = Transcript::new();
    t.apply(Some(1), processing());
    t.apply(Some(2), content("Paris.", false));
    t.apply(
        Some(3),
        ev(
            "done",
            json!({"finalResponse": "Paris.", "usage": {"inputTokens": 10, "outputTokens": 2, "costUsd": null}}),
        ),
    );
    assert!(!t.run.active);
    let line = t.run.usage.as_ref().and_then(usage_line);
    assert_eq!(line.as_deref(), Some("12 tokens"));
    t.apply(Some(4), ev("status", json!({"status": "connecting"})));
    assert!(t.run.active);
    assert_eq!(t.run.usage, None);
    t.apply(
        Some(5),
        ev(
            "error",
            json!({"code": "MAX_TURNS", "message": "It used its 2 model calls."}),
        ),
    );
    assert!(t.run.error.is_some());
    // A follow-up sent from this page clears the notice as its run starts.
    t.expect_run();
    assert_eq!(t.run.error, None);
    assert!(t.run.active);
}

#[test]
fn endings_by_code() {
    assert_eq!(ending(RunErrorCode::MaxTurns, "m").kind, EndKind::Limit);
    assert_eq!(ending(RunErrorCode::Timeout, "m").kind, EndKind::Limit);
    let budget = ending(
        RunErrorCode::BudgetExceeded,
        "The project's monthly budget of $5.00 is used up.",
    );
    assert_eq!(budget.kind, EndKind::Limit);
    assert_eq!(
        budget.text(),
        "Stopped at the budget limit: The project's monthly budget of $5.00 is used up."
    );
    assert_eq!(ending(RunErrorCode::TaskCancelled, "x").text(), "Cancelled");
    assert_eq!(
        ending(RunErrorCode::ModelNotConfigured, "m").kind,
        EndKind::Failed
    );
    // A code this version does not know reads as a failure, with the server's message.
    let unknown: RunErrorCode =
        serde_json::from_value(json!("SOMETHING_NEW")).unwrap_or(RunErrorCode::InternalError);
    assert_eq!(unknown, RunErrorCode::Other);
    let e = ending(unknown, "Over the limit of $5.00.");
    assert_eq!(e.kind, EndKind::Failed);
    assert_eq!(e.message, "Over the limit of $5.00.");
}

#[test]
fn usage_lines() {
    let u = |i, o, c| TaskUsage {
        input_tokens: i,
        output_tokens: o,
        cost_usd: c,
    };
    assert_eq!(usage_line(&u(0, 0, Some(0.0))), None);
    assert_eq!(usage_line(&u(1, 0, None)).as_deref(), Some("1 token"));
    assert_eq!(
        usage_line(&u(1_000_000, 234_567, Some(12.345))).as_deref(),
        Some("1,234,567 tokens · $12.35")
    );
    assert_eq!(
        usage_line(&u(900, 0, Some(0.00001))).as_deref(),
        Some("900 tokens · < $0.0001")
    );
    assert_eq!(
        usage_line(&u(999, 1, Some(0.5))).as_deref(),
        Some("1,000 tokens · $0.50")
    );
}
