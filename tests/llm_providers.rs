//! The production provider clients, built by `Providers::from_config`, against the scripted
//! model server over real HTTP: streaming, thinking, tool calls, usage, error classes, cut-off
//! streams, and how each dialect carries tool results back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sigmic::llm::{
    LlmError, Message, ModelRef, Part, ProviderKind, Providers, Request, Role, StopReason,
    StreamEvent, ToolCall, ToolSpec, Usage,
};

use futures_util::StreamExt;
use sigmic_testkit::model::{EXHAUSTED, ModelServer, TEST_KEY, Turn};

fn model(kind: ProviderKind) -> ModelRef {
    let name = match kind {
        ProviderKind::Anthropic => "anthropic/claude-sonnet-4-5",
        ProviderKind::OpenAi => "openai/gpt-4.1",
        ProviderKind::Gemini => "gemini/gemini-2.5-pro",
    };
    name.parse().unwrap()
}

fn request(kind: ProviderKind, messages: Vec<Message>) -> Request {
    Request {
        model: model(kind).model,
        system: "You are terse.".into(),
        messages,
        tools: vec![ToolSpec {
            name: "run_shell_command".into(),
            description: "Runs a command".into(),
            parameters: json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            }),
        }],
        max_output_tokens: 1024,
    }
}

/// A conversation key unique to the test and dialect.
fn key(test: &str, kind: ProviderKind) -> String {
    format!("[{test}-{}]", kind.as_str())
}

async fn call(
    providers: &Providers,
    kind: ProviderKind,
    messages: Vec<Message>,
) -> Result<Vec<Result<StreamEvent, LlmError>>, LlmError> {
    let provider = providers
        .get(model(kind).provider)
        .cloned()
        .ok_or_else(|| LlmError::NotConfigured(kind.as_str().to_owned()))?;
    assert_eq!(provider.kind(), kind);
    let stream = provider.stream(request(kind, messages)).await?;
    Ok(stream.collect().await)
}

/// A call that must succeed: its events, all `Ok`.
async fn events(providers: &Providers, kind: ProviderKind, first: &str) -> Vec<StreamEvent> {
    call(providers, kind, vec![Message::user_text(first)])
        .await
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn thinking_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ThinkingDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn calls_of(events: &[StreamEvent]) -> Vec<ToolCall> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn last_usage(events: &[StreamEvent]) -> Option<Usage> {
    events.iter().rev().find_map(|e| match e {
        StreamEvent::Usage(u) => Some(*u),
        _ => None,
    })
}

async fn setup() -> (ModelServer, Providers) {
    let server = ModelServer::start().await;
    let providers = Providers::from_config(&server.llm_config()).unwrap();
    (server, providers)
}

#[tokio::test]
async fn text_streams_in_pieces_with_usage() {
    let (server, providers) = setup().await;
    for kind in ProviderKind::ALL {
        let k = key("text", kind);
        server.script(
            &k,
            vec![Turn::text_chunks(["Hel", "lo, ", "world."]).with_usage(321, 7)],
        );
        let events = events(&providers, kind, &format!("{k} say hello")).await;
        let deltas = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
            .count();
        assert_eq!(deltas, 3, "{kind:?}: {events:?}");
        assert_eq!(text_of(&events), "Hello, world.", "{kind:?}");
        assert_eq!(
            last_usage(&events),
            Some(Usage {
                input_tokens: 321,
                output_tokens: 7
            }),
            "{kind:?}"
        );
        assert_eq!(
            events.last(),
            Some(&StreamEvent::End(StopReason::EndTurn)),
            "{kind:?}"
        );

        // The request as each dialect wants it, with its key in its own header.
        let recorded = server.requests_for(&k);
        assert_eq!(recorded.len(), 1);
        let r = &recorded[0];
        assert_eq!(r.provider, kind);
        assert_eq!(r.api_key.as_deref(), Some(TEST_KEY));
        match kind {
            ProviderKind::Anthropic => {
                assert_eq!(r.path, "/v1/messages");
                assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(r.body["system"], "You are terse.");
                assert_eq!(r.body["max_tokens"], 1024);
                assert_eq!(r.body["stream"], true);
                assert_eq!(
                    r.body["tools"][0]["input_schema"]["required"],
                    json!(["command"])
                );
            }
            ProviderKind::OpenAi => {
                assert_eq!(r.path, "/v1/chat/completions");
                assert_eq!(
                    r.header("authorization"),
                    Some(format!("Bearer {TEST_KEY}").as_str())
                );
                assert_eq!(
                    r.body["messages"][0],
                    json!({"role": "system", "content": "You are terse."})
                );
                // A compatible server: the old field name.
                assert_eq!(r.body["max_tokens"], 1024);
                assert_eq!(r.body["stream_options"]["include_usage"], true);
                assert_eq!(r.body["tools"][0]["type"], "function");
            }
            ProviderKind::Gemini => {
                assert_eq!(
                    r.path,
                    "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
                );
                assert_eq!(r.model, "gemini-2.5-pro");
                assert!(!r.path.contains(TEST_KEY));
                assert_eq!(
                    r.body["systemInstruction"]["parts"][0]["text"],
                    "You are terse."
                );
                assert_eq!(r.body["generationConfig"]["maxOutputTokens"], 1024);
                let parameters = &r.body["tools"][0]["functionDeclarations"][0]["parameters"];
                assert!(
                    parameters.get("additionalProperties").is_none(),
                    "{parameters}"
                );
            }
        }
    }
}

#[tokio::test]
async fn thinking_streams_before_the_answer() {
    let (server, providers) = setup().await;
    for kind in ProviderKind::ALL {
        let k = key("think", kind);
        server.script(
            &k,
            vec![Turn::text("42").with_thought("Six times seven, surely.")],
        );
        let events = events(&providers, kind, &k).await;
        assert_eq!(thinking_of(&events), "Six times seven, surely.", "{kind:?}");
        assert_eq!(text_of(&events), "42");
        let first_thought = events
            .iter()
            .position(|e| matches!(e, StreamEvent::ThinkingDelta(_)));
        let first_text = events
            .iter()
            .position(|e| matches!(e, StreamEvent::TextDelta(_)));
        assert!(first_thought < first_text, "{kind:?}: {events:?}");
        let signed = events
            .iter()
            .any(|e| matches!(e, StreamEvent::ThinkingSignature(s) if !s.is_empty()));
        assert_eq!(signed, kind == ProviderKind::Anthropic, "{kind:?}");
    }
}

#[tokio::test]
async fn tool_calls_arrive_whole_from_split_arguments() {
    let (server, providers) = setup().await;
    let args = json!({"command": "ls -la \"/work dir\" | grep 'ünï'", "timeout": 30, "env": {"A": [1, 2]}});
    for kind in ProviderKind::ALL {
        let k = key("tool", kind);
        server.script(
            &k,
            vec![Turn::tool_call("run_shell_command", args.clone()).with_text("Let me look.")],
        );
        let events = events(&providers, kind, &k).await;
        assert_eq!(text_of(&events), "Let me look.");
        let calls = calls_of(&events);
        assert_eq!(calls.len(), 1, "{kind:?}: {events:?}");
        assert_eq!(calls[0].name, "run_shell_command");
        assert_eq!(calls[0].args, args, "{kind:?}");
        assert!(!calls[0].id.is_empty());
        assert_eq!(
            events.last(),
            Some(&StreamEvent::End(StopReason::ToolUse)),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn several_tool_calls_in_one_turn_keep_their_order() {
    let (server, providers) = setup().await;
    for kind in ProviderKind::ALL {
        let k = key("tools", kind);
        server.script(
            &k,
            vec![
                Turn::tool_calls([
                    ("read_file", json!({"path": "a.txt"})),
                    ("read_file", json!({"path": "b.txt"})),
                    ("list_files", json!({})),
                ])
                .with_usage(50, 30),
            ],
        );
        let events = events(&providers, kind, &k).await;
        let calls = calls_of(&events);
        let got: Vec<(&str, &Value)> = calls.iter().map(|c| (c.name.as_str(), &c.args)).collect();
        assert_eq!(
            got,
            vec![
                ("read_file", &json!({"path": "a.txt"})),
                ("read_file", &json!({"path": "b.txt"})),
                ("list_files", &json!({})),
            ],
            "{kind:?}"
        );
        let mut ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 3, "ids must be unique: {calls:?}");
        assert_eq!(
            last_usage(&events),
            Some(Usage {
                input_tokens: 50,
                output_tokens: 30
            })
        );
        assert_eq!(events.last(), Some(&StreamEvent::End(StopReason::ToolUse)));
    }
}

#[tokio::test]
async fn http_errors_are_classified() {
    let (server, providers) = setup().await;
    for kind in ProviderKind::ALL {
        let k = key("errors", kind);
        server.script(
            &k,
            vec![
                Turn::error(429, "Slow down."),
                Turn::error(500, "Internal trouble."),
                Turn::error(503, "Overloaded.").with_retry_after(2),
                Turn::error(400, "prompt is too long: 300000 tokens > 200000 maximum"),
            ],
        );
        let first = vec![Message::user_text(&k)];
        let err = call(&providers, kind, first.clone()).await.unwrap_err();
        match &err {
            LlmError::Transient {
                message,
                retry_after,
            } => {
                assert_eq!(*retry_after, Some(Duration::ZERO), "{kind:?}");
                assert!(
                    message.contains("429") && message.contains("Slow down."),
                    "{message}"
                );
            }
            other => panic!("{kind:?}: 429 gave {other:?}"),
        }
        let err = call(&providers, kind, first.clone()).await.unwrap_err();
        assert!(err.is_transient(), "{kind:?}: 500 gave {err:?}");
        assert!(err.to_string().contains("Internal trouble."), "{err}");
        let err = call(&providers, kind, first.clone()).await.unwrap_err();
        assert!(
            matches!(err, LlmError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
            "{kind:?}: {err:?}"
        );
        let err = call(&providers, kind, first.clone()).await.unwrap_err();
        match &err {
            LlmError::Permanent { status, message } => {
                assert_eq!(*status, Some(400));
                assert!(
                    message.contains("prompt is too long: 300000 tokens"),
                    "{message}"
                );
            }
            other => panic!("{kind:?}: 400 gave {other:?}"),
        }
        // The script is used up: the next call says so instead of hanging.
        let events = events(&providers, kind, &k).await;
        assert_eq!(text_of(&events), EXHAUSTED);
    }
}

#[tokio::test]
async fn a_wrong_key_is_permanent_and_not_quoted() {
    let server = ModelServer::start_with_key("the-right-key").await;
    let mut config = server.llm_config();
    config.anthropic_api_key = Some("sk-wrong-key-1".into());
    config.openai_api_key = Some("sk-wrong-key-1".into());
    config.gemini_api_key = Some("sk-wrong-key-1".into());
    let providers = Providers::from_config(&config).unwrap();
    server.push(vec![Turn::text("never sent")]);
    for kind in ProviderKind::ALL {
        let err = call(&providers, kind, vec![Message::user_text("hi")])
            .await
            .unwrap_err();
        match &err {
            LlmError::Permanent { status, message } => {
                assert_eq!(*status, Some(401), "{kind:?}");
                assert!(!message.contains("sk-wrong-key-1"), "{message}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
    let recorded = server.requests();
    assert_eq!(recorded.len(), 3);
    assert!(
        recorded
            .iter()
            .all(|r| r.api_key.as_deref() == Some("sk-wrong-key-1"))
    );
    // A refused call uses no turn.
    assert_eq!(server.turns_left(), 1);
}

#[tokio::test]
async fn a_dropped_stream_ends_with_a_transient_error() {
    let (server, providers) = setup().await;
    for kind in ProviderKind::ALL {
        let k = key("drop", kind);
        // Anthropic: message_start, ping, block start, one delta; OpenAI: role chunk and two
        // pieces; Gemini: three text chunks out of four.
        let n = match kind {
            ProviderKind::Anthropic => 4,
            ProviderKind::OpenAi | ProviderKind::Gemini => 3,
        };
        server.script(
            &k,
            vec![Turn::text_chunks(["one ", "two ", "three"]).drop_after(n)],
        );
        let items = call(&providers, kind, vec![Message::user_text(&k)])
            .await
            .unwrap();
        let (last, before) = items.split_last().unwrap();
        let err = last.clone().unwrap_err();
        assert!(err.is_transient(), "{kind:?}: {err:?}");
        assert!(err.to_string().contains("cut off"), "{kind:?}: {err}");
        let before: Vec<StreamEvent> = before.iter().cloned().map(Result::unwrap).collect();
        assert!(text_of(&before).starts_with("one "), "{kind:?}: {before:?}");
        assert!(!before.iter().any(|e| matches!(e, StreamEvent::End(_))));
    }
}

#[tokio::test]
async fn a_silent_stream_times_out_as_transient() {
    let server = ModelServer::start().await;
    let mut config = server.llm_config();
    config.read_timeout_secs = 1;
    let providers = Providers::from_config(&config).unwrap();
    for kind in ProviderKind::ALL {
        let k = key("hang", kind);
        server.script(&k, vec![Turn::hang()]);
        let started = std::time::Instant::now();
        // Headers arrived, so the call starts; the silence then ends the stream.
        let items = call(&providers, kind, vec![Message::user_text(&k)])
            .await
            .unwrap();
        assert_eq!(items.len(), 1, "{kind:?}: {items:?}");
        let err = items[0].clone().unwrap_err();
        assert!(err.to_string().contains("cut off"), "{err}");
        assert!(err.is_transient(), "{kind:?}: {err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn slow_chunks_still_arrive_in_order() {
    let (server, providers) = setup().await;
    let kind = ProviderKind::OpenAi;
    let k = key("slow", kind);
    server.script(
        &k,
        vec![Turn::text_chunks(["a", "b", "c"]).chunk_delay(Duration::from_millis(30))],
    );
    let started = std::time::Instant::now();
    let events = events(&providers, kind, &k).await;
    assert_eq!(text_of(&events), "abc");
    assert!(started.elapsed() >= Duration::from_millis(90));
}

#[tokio::test]
async fn unscripted_conversations_take_pushed_turns_in_order() {
    let (server, providers) = setup().await;
    server.push(vec![Turn::text("first"), Turn::text("second")]);
    server.script("[keyed]", vec![Turn::text("mine")]);
    let kind = ProviderKind::Anthropic;
    assert_eq!(
        text_of(&events(&providers, kind, "anything").await),
        "first"
    );
    assert_eq!(
        text_of(&events(&providers, kind, "[keyed] task").await),
        "mine"
    );
    assert_eq!(
        text_of(&events(&providers, kind, "something else").await),
        "second"
    );
    assert_eq!(text_of(&events(&providers, kind, "more").await), EXHAUSTED);
}

/// The second call of a tool loop: each dialect carries the model's calls and their results
/// back in its own way.
#[tokio::test]
async fn tool_results_go_back_in_each_dialect() {
    let (server, providers) = setup().await;
    for kind in ProviderKind::ALL {
        let k = key("loop", kind);
        server.script(
            &k,
            vec![
                Turn::tool_calls([
                    ("run_shell_command", json!({"command": "ls"})),
                    ("run_shell_command", json!({"command": "cat missing"})),
                ])
                .with_thought("Two commands."),
                Turn::text("There is one file."),
            ],
        );
        let first = Message::user_text(format!("{k} what is here?"));
        let events = events(&providers, kind, &first_text(&first)).await;
        let calls = calls_of(&events);
        assert_eq!(calls.len(), 2);
        // The loop keeps what the model said, and answers each call.
        let mut assistant = vec![Part::Thinking {
            text: thinking_of(&events),
            signature: events.iter().find_map(|e| match e {
                StreamEvent::ThinkingSignature(s) => Some(s.clone()),
                _ => None,
            }),
        }];
        assistant.extend(calls.iter().cloned().map(Part::ToolCall));
        let results = Message {
            role: Role::User,
            parts: vec![
                Part::ToolResult {
                    call_id: calls[0].id.clone(),
                    name: calls[0].name.clone(),
                    output: "notes.txt".into(),
                    is_error: false,
                },
                Part::ToolResult {
                    call_id: calls[1].id.clone(),
                    name: calls[1].name.clone(),
                    output: "cat: missing: No such file".into(),
                    is_error: true,
                },
            ],
        };
        let conversation = vec![
            first,
            Message {
                role: Role::Assistant,
                parts: assistant,
            },
            results,
        ];
        let items = call(&providers, kind, conversation).await.unwrap();
        let second: Vec<StreamEvent> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(text_of(&second), "There is one file.", "{kind:?}");

        let recorded = server.requests_for(&k);
        assert_eq!(recorded.len(), 2);
        let body = &recorded[1].body;
        let (id0, id1) = (calls[0].id.as_str(), calls[1].id.as_str());
        match kind {
            ProviderKind::Anthropic => {
                let messages = body["messages"].as_array().unwrap();
                assert_eq!(messages.len(), 3);
                let assistant = &messages[1]["content"];
                assert_eq!(assistant[0]["type"], "thinking");
                assert!(!assistant[0]["signature"].as_str().unwrap().is_empty());
                assert_eq!(
                    assistant[1],
                    json!({"type": "tool_use", "id": id0, "name": "run_shell_command", "input": {"command": "ls"}})
                );
                assert_eq!(
                    messages[2],
                    json!({"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": id0, "content": "notes.txt"},
                        {"type": "tool_result", "tool_use_id": id1, "is_error": true, "content": "cat: missing: No such file"},
                    ]})
                );
            }
            ProviderKind::OpenAi => {
                let messages = body["messages"].as_array().unwrap();
                // system, user, assistant with calls, two tool messages.
                assert_eq!(messages.len(), 5, "{body}");
                assert_eq!(messages[2]["role"], "assistant");
                assert_eq!(messages[2]["tool_calls"][0]["id"], id0);
                assert_eq!(messages[2]["tool_calls"][0]["type"], "function");
                let arguments: Value = serde_json::from_str(
                    messages[2]["tool_calls"][1]["function"]["arguments"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap();
                assert_eq!(arguments, json!({"command": "cat missing"}));
                assert_eq!(
                    messages[3],
                    json!({"role": "tool", "tool_call_id": id0, "content": "notes.txt"})
                );
                assert_eq!(messages[4]["role"], "tool");
                assert_eq!(messages[4]["tool_call_id"], id1);
                assert!(
                    messages
                        .iter()
                        .all(|m| m.get("reasoning_content").is_none())
                );
            }
            ProviderKind::Gemini => {
                let contents = body["contents"].as_array().unwrap();
                assert_eq!(contents.len(), 3);
                assert_eq!(
                    contents[1],
                    json!({"role": "model", "parts": [
                        {"functionCall": {"name": "run_shell_command", "args": {"command": "ls"}}},
                        {"functionCall": {"name": "run_shell_command", "args": {"command": "cat missing"}}},
                    ]})
                );
                assert_eq!(
                    contents[2],
                    json!({"role": "user", "parts": [
                        {"functionResponse": {"name": "run_shell_command", "response": {"output": "notes.txt"}}},
                        {"functionResponse": {"name": "run_shell_command", "response": {"error": "cat: missing: No such file"}}},
                    ]})
                );
            }
        }
    }
}

fn first_text(message: &Message) -> String {
    match &message.parts[0] {
        Part::Text { text } => text.clone(),
        other => panic!("{other:?}"),
    }
}
