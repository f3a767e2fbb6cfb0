//! Anthropic Messages API (`POST /v1/messages`, streamed).

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::sse::{self, Decoder};
use super::{
    EventStream, LlmError, Message, Part, Provider, ProviderKind, Request, Role, StopReason,
    StreamEvent, ToolCall, Usage,
};

const DEFAULT_BASE: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";
const NAME: &str = "Anthropic";

pub struct Anthropic {
    http: reqwest::Client,
    api_key: String,
    base_url: String,
}

impl Anthropic {
    /// `base_url` is the server root, without `/v1` (as `ANTHROPIC_BASE_URL` is for the SDKs).
    pub fn new(http: reqwest::Client, api_key: String, base_url: Option<String>) -> Self {
        Self {
            http,
            api_key,
            base_url: sse::base_url(base_url, DEFAULT_BASE),
        }
    }
}

#[async_trait]
impl Provider for Anthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let http = self
            .http
            .get(format!("{}/v1/models?limit=1000", self.base_url))
            .header("x-api-key", &self.api_key)
            .header("anthropic-version", API_VERSION);
        let answer = sse::get_json(http, NAME, Some(&self.api_key)).await?;
        Ok(sse::ids(answer.get("data"), "id", ""))
    }

    async fn stream(&self, request: Request) -> Result<EventStream, LlmError> {
        let url = format!("{}/v1/messages", self.base_url);
        let http = self
            .http
            .post(url)
            .header("x-api-key", &self.api_key)
            .header("anthropic-version", API_VERSION);
        let response =
            sse::post_json(http, &request_body(&request), NAME, Some(&self.api_key)).await?;
        Ok(sse::decode(
            sse::body(response),
            AnthropicDecoder::default(),
        ))
    }
}

fn request_body(request: &Request) -> Value {
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_output_tokens,
        "stream": true,
        "messages": messages(&request.messages),
    });
    if !request.system.is_empty() {
        body["system"] = json!(request.system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

/// The conversation as Anthropic wants it: roles alternate, so consecutive messages of one
/// role become one; tool results lead their user message (the API rejects text before them).
fn messages(messages: &[Message]) -> Vec<Value> {
    super::merge_by_role(messages, block)
        .into_iter()
        .map(|(role, mut content)| {
            let role = match role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            // Stable: results keep their order, and so does the rest.
            content.sort_by_key(|b| b["type"] != "tool_result");
            json!({"role": role, "content": content})
        })
        .collect()
}

fn block(part: &Part) -> Option<Value> {
    match part {
        // The API rejects empty text blocks.
        Part::Text { text } if text.is_empty() => None,
        Part::Text { text } => Some(json!({"type": "text", "text": text})),
        // Thinking goes back only with its signature: the API refuses unsigned thinking.
        Part::Thinking {
            text,
            signature: Some(signature),
        } if !signature.is_empty() => Some(json!({
            "type": "thinking", "thinking": text, "signature": signature,
        })),
        Part::Thinking { .. } => None,
        Part::ToolCall(call) => {
            let input = if call.args.is_object() {
                call.args.clone()
            } else {
                json!({})
            };
            Some(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}))
        }
        Part::ToolResult {
            call_id,
            output,
            is_error,
            ..
        } => {
            let mut block = json!({"type": "tool_result", "tool_use_id": call_id});
            if *is_error {
                block["is_error"] = json!(true);
            }
            // `content` is optional; an empty string is refused by some API versions.
            if !output.is_empty() {
                block["content"] = json!(output);
            }
            Some(block)
        }
    }
}

enum Block {
    Text,
    Thinking {
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        json: String,
        initial: Value,
    },
    /// Blocks we do not map (redacted thinking, server tools).
    Other,
}

#[derive(Default)]
struct AnthropicDecoder {
    usage: Usage,
    blocks: HashMap<u64, Block>,
    stop: Option<StopReason>,
}

impl Decoder for AnthropicDecoder {
    fn event(
        &mut self,
        name: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), LlmError> {
        let v: Value = serde_json::from_str(data).map_err(|e| sse::unreadable(NAME, &e))?;
        // The data's own `type` is authoritative; the SSE event name repeats it.
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(name);
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let usage = &v["message"]["usage"];
                // Cached prompt tokens are part of the prompt the context window holds.
                self.usage.input_tokens = [
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ]
                .iter()
                .filter_map(|k| usage.get(*k).and_then(Value::as_u64))
                .sum();
                self.usage.output_tokens = usage["output_tokens"].as_u64().unwrap_or(0);
                out.push(StreamEvent::Usage(self.usage));
            }
            "content_block_start" => {
                let start = &v["content_block"];
                let text = |k: &str| start.get(k).and_then(Value::as_str).unwrap_or("");
                let block = match start["type"].as_str().unwrap_or("") {
                    "text" => {
                        push_text(out, StreamEvent::TextDelta, text("text"));
                        Block::Text
                    }
                    "thinking" => {
                        push_text(out, StreamEvent::ThinkingDelta, text("thinking"));
                        Block::Thinking {
                            signature: text("signature").to_owned(),
                        }
                    }
                    "tool_use" => Block::ToolUse {
                        id: text("id").to_owned(),
                        name: text("name").to_owned(),
                        json: String::new(),
                        initial: start.get("input").cloned().unwrap_or(Value::Null),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let delta = &v["delta"];
                let field = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or("");
                match (
                    delta["type"].as_str().unwrap_or(""),
                    self.blocks.get_mut(&index),
                ) {
                    ("text_delta", _) => push_text(out, StreamEvent::TextDelta, field("text")),
                    ("thinking_delta", _) => {
                        push_text(out, StreamEvent::ThinkingDelta, field("thinking"));
                    }
                    ("signature_delta", Some(Block::Thinking { signature })) => {
                        signature.push_str(field("signature"));
                    }
                    ("input_json_delta", Some(Block::ToolUse { json, .. })) => {
                        json.push_str(field("partial_json"));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => match self.blocks.remove(&index) {
                Some(Block::Thinking { signature }) if !signature.is_empty() => {
                    out.push(StreamEvent::ThinkingSignature(signature));
                }
                Some(Block::ToolUse {
                    id,
                    name,
                    json,
                    initial,
                }) => {
                    // Without deltas the start block's `input` is the whole input.
                    let args = match initial {
                        Value::Object(map) if json.is_empty() && !map.is_empty() => {
                            Value::Object(map)
                        }
                        _ => sse::parse_args(&json),
                    };
                    out.push(StreamEvent::ToolCall(ToolCall { id, name, args }));
                }
                _ => {}
            },
            "message_delta" => {
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    self.stop = Some(stop_reason(reason));
                }
                let usage = &v["usage"];
                if let Some(n) = usage["output_tokens"].as_u64() {
                    self.usage.output_tokens = n;
                }
                if let Some(n) = usage["input_tokens"].as_u64().filter(|n| *n > 0) {
                    self.usage.input_tokens = n
                        + usage["cache_creation_input_tokens"].as_u64().unwrap_or(0)
                        + usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
                }
                out.push(StreamEvent::Usage(self.usage));
            }
            "message_stop" => out.push(StreamEvent::End(self.stop.unwrap_or(StopReason::EndTurn))),
            "error" => return Err(sse::stream_error(NAME, &v["error"])),
            // `ping` and anything newer.
            _ => {}
        }
        Ok(())
    }
}

fn push_text(out: &mut Vec<StreamEvent>, make: fn(String) -> StreamEvent, text: &str) {
    if !text.is_empty() {
        out.push(make(text.to_owned()));
    }
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" | "stop_sequence" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "refusal" => StopReason::Refusal,
        _ => StopReason::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::ToolSpec;
    use crate::llm::sse::tests::run;

    fn request(messages: Vec<Message>) -> Request {
        Request {
            model: "claude-sonnet-4-5".into(),
            system: "be brief".into(),
            messages,
            tools: vec![ToolSpec {
                name: "read_file".into(),
                description: "Reads a file".into(),
                parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            }],
            max_output_tokens: 1000,
        }
    }

    #[test]
    fn request_maps_parts_and_merges_roles() {
        let call = ToolCall {
            id: "toolu_1".into(),
            name: "read_file".into(),
            args: json!({"path": "a"}),
        };
        let body = request_body(&request(vec![
            Message::user_text("hi"),
            Message {
                role: Role::Assistant,
                parts: vec![
                    Part::Thinking {
                        text: "hmm".into(),
                        signature: Some("sig".into()),
                    },
                    Part::Thinking {
                        text: "unsigned".into(),
                        signature: None,
                    },
                    Part::Text { text: "".into() },
                    Part::Text {
                        text: "Reading.".into(),
                    },
                    Part::ToolCall(call),
                ],
            },
            Message::user_text("also this"),
            Message {
                role: Role::User,
                parts: vec![Part::ToolResult {
                    call_id: "toolu_1".into(),
                    name: "read_file".into(),
                    output: "no such file".into(),
                    is_error: true,
                }],
            },
        ]));
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["stream"], true);
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["max_tokens"], 1000);
        assert_eq!(
            body["tools"][0]["input_schema"]["properties"]["path"]["type"],
            "string"
        );
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[1]["content"],
            json!([
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
            ])
        );
        // Merged, with the result moved before the text.
        assert_eq!(
            messages[2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": true, "content": "no such file"},
                {"type": "text", "text": "also this"},
            ]})
        );
    }

    const TOOL_TURN: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":20,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n\
event: ping\ndata: {\"type\":\"ping\"}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Look at it.\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"read.\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"read_file\",\"input\":{}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"pa\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"th\\\": \\\"a.txt\\\"}\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_10\",\"name\":\"list\",\"input\":{}}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":3}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    #[tokio::test]
    async fn a_tool_turn_is_decoded() {
        for piece in [7, 64, 100_000] {
            let events: Vec<StreamEvent> = run(AnthropicDecoder::default(), TOOL_TURN, piece)
                .await
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                events,
                vec![
                    StreamEvent::Usage(Usage {
                        input_tokens: 25,
                        output_tokens: 1
                    }),
                    StreamEvent::ThinkingDelta("Look at it.".into()),
                    StreamEvent::ThinkingSignature("EqQB".into()),
                    StreamEvent::TextDelta("Let me ".into()),
                    StreamEvent::TextDelta("read.".into()),
                    StreamEvent::ToolCall(ToolCall {
                        id: "toolu_9".into(),
                        name: "read_file".into(),
                        args: json!({"path": "a.txt"}),
                    }),
                    StreamEvent::ToolCall(ToolCall {
                        id: "toolu_10".into(),
                        name: "list".into(),
                        args: json!({}),
                    }),
                    StreamEvent::Usage(Usage {
                        input_tokens: 25,
                        output_tokens: 42
                    }),
                    StreamEvent::End(StopReason::ToolUse),
                ],
                "piece {piece}"
            );
        }
    }

    #[tokio::test]
    async fn broken_arguments_arrive_raw() {
        let wire = "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"x\",\"input\":{}}}\n\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
data: {\"type\":\"message_stop\"}\n\n";
        let events = run(AnthropicDecoder::default(), wire, 10).await;
        assert_eq!(
            events[0],
            Ok(StreamEvent::ToolCall(ToolCall {
                id: "t".into(),
                name: "x".into(),
                args: json!({"_raw": "{\"a\":"}),
            }))
        );
        assert_eq!(events[1], Ok(StreamEvent::End(StopReason::EndTurn)));
    }

    #[tokio::test]
    async fn a_stream_without_message_stop_is_cut_off() {
        let cut = TOOL_TURN
            .split(
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2",
            )
            .next()
            .unwrap();
        let events = run(AnthropicDecoder::default(), cut, 50).await;
        let last = events.last().unwrap().clone().unwrap_err();
        assert!(last.is_transient());
        assert!(last.to_string().contains("cut off"), "{last}");
        assert_eq!(events.iter().filter(|e| e.is_err()).count(), 1);
    }

    #[tokio::test]
    async fn error_events_are_classified() {
        let wire = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n\
event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let events = run(AnthropicDecoder::default(), wire, 1000).await;
        let err = events.last().unwrap().clone().unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("Overloaded"));
        let wire = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad\"}}\n\n";
        let events = run(AnthropicDecoder::default(), wire, 1000).await;
        assert!(matches!(events[..], [Err(LlmError::Permanent { .. })]));
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(stop_reason("end_turn"), StopReason::EndTurn);
        assert_eq!(stop_reason("max_tokens"), StopReason::MaxTokens);
        assert_eq!(stop_reason("refusal"), StopReason::Refusal);
        assert_eq!(stop_reason("pause_turn"), StopReason::Other);
    }
}
