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
