//! OpenAI Chat Completions (`POST {base}/chat/completions`, streamed), which OpenAI and
//! most self-hosted servers (Ollama, vLLM, llama.cpp, OpenRouter) speak.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::sse::{self, Decoder};
use super::{
    EventStream, LlmError, Part, Provider, ProviderKind, Request, Role, StopReason, StreamEvent,
    ToolCall, Usage,
};

const DEFAULT_BASE: &str = "https://api.openai.com/v1";
const NAME: &str = "OpenAI";

pub struct OpenAi {
    http: reqwest::Client,
    api_key: Option<String>,
    /// With its version path, e.g. `https://api.openai.com/v1` or `http://ollama:11434/v1`.
    base_url: String,
    /// OpenAI itself has renamed `max_tokens` (refused by its reasoning models); compatible
    /// servers mostly know only the old name.
    new_token_field: bool,
}

impl OpenAi {
    pub fn new(http: reqwest::Client, api_key: Option<String>, base_url: Option<String>) -> Self {
        let base_url = sse::base_url(base_url, DEFAULT_BASE);
        let new_token_field = url::Url::parse(&base_url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.eq_ignore_ascii_case("api.openai.com"))
            })
            .unwrap_or(false);
        Self {
            http,
            api_key: api_key.filter(|k| !k.is_empty()),
            base_url,
            new_token_field,
        }
    }
}

#[async_trait]
impl Provider for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAi
    }

    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let mut http = self.http.get(format!("{}/models", self.base_url));
        if let Some(key) = &self.api_key {
            http = http.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        let answer = sse::get_json(http, NAME, self.api_key.as_deref()).await?;
        Ok(sse::ids(answer.get("data"), "id", ""))
    }

    async fn stream(&self, request: Request) -> Result<EventStream, LlmError> {
        let mut http = self
            .http
            .post(format!("{}/chat/completions", self.base_url));
        if let Some(key) = &self.api_key {
            http = http.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        let body = request_body(&request, self.new_token_field);
        let response = sse::post_json(http, &body, NAME, self.api_key.as_deref()).await?;
        Ok(sse::decode(sse::body(response), OpenAiDecoder::default()))
    }
}

fn request_body(request: &Request, new_token_field: bool) -> Value {
    let mut body = json!({
        "model": request.model,
        "messages": messages(request),
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let field = if new_token_field {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body[field] = json!(request.max_output_tokens);
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }})
            })
            .collect();
    }
    body
}

fn messages(request: &Request) -> Vec<Value> {
    let mut out = Vec::new();
    if !request.system.is_empty() {
        out.push(json!({"role": "system", "content": request.system}));
    }
    for message in &request.messages {
        let mut text = Vec::new();
        let mut calls = Vec::new();
        for part in &message.parts {
            match part {
                Part::Text { text: t } if !t.is_empty() => text.push(t.as_str()),
                Part::ToolCall(call) => calls.push(json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.args.to_string()},
                })),
                // `tool` messages must follow the assistant's calls directly, so they go
                // before any text of the same user message.
                Part::ToolResult {
                    call_id,
                    output,
                    is_error,
                    ..
                } => out.push(json!({
                    "role": "tool",
                    "tool_call_id": call_id,
                    // The dialect has no error flag: say it in the content.
                    "content": if *is_error { format!("Error: {output}") } else { output.clone() },
                })),
                // Reasoning is not sent back in this dialect.
                Part::Text { .. } | Part::Thinking { .. } => {}
            }
        }
        // Plain strings, not content arrays: several compatible servers take only strings.
        let text = text.join("\n\n");
        match message.role {
            Role::User if !text.is_empty() => out.push(json!({"role": "user", "content": text})),
            Role::User => {}
            Role::Assistant if text.is_empty() && calls.is_empty() => {}
            Role::Assistant => {
                let mut m = json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { json!(text) },
                });
                if !calls.is_empty() {
                    m["tool_calls"] = Value::Array(calls);
                }
                out.push(m);
            }
        }
    }
    out
}

#[derive(Default)]
struct PendingCall {
    id: String,
    name: String,
    args: String,
}

#[derive(Default)]
struct OpenAiDecoder {
    /// By the call's `index` in the stream, which is also the order they are reported in.
    calls: BTreeMap<u64, PendingCall>,
    finish: Option<StopReason>,
}

impl OpenAiDecoder {
    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        let calls = std::mem::take(&mut self.calls);
        let had_calls = !calls.is_empty();
        for (index, call) in calls {
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            out.push(StreamEvent::ToolCall(ToolCall {
                id,
                name: call.name,
                args: sse::parse_args(&call.args),
            }));
        }
        // Some compatible servers say `stop` after tool calls.
        let reason = match self.finish.unwrap_or(StopReason::EndTurn) {
            StopReason::EndTurn if had_calls => StopReason::ToolUse,
            other => other,
        };
        out.push(StreamEvent::End(reason));
    }

    fn tool_call_delta(&mut self, delta: &Value) {
        let text = |k: &str| delta.pointer(k).and_then(Value::as_str).unwrap_or("");
        let index = match delta.get("index").and_then(Value::as_u64) {
            Some(index) => index,
            // Without an index, a new id starts a new call; anything else continues the last.
            None => {
                let last = self.calls.keys().next_back().copied();
                match last {
                    Some(last)
                        if text("/id").is_empty()
                            || self.calls.get(&last).is_some_and(|c| c.id == text("/id")) =>
                    {
                        last
                    }
                    Some(last) => last + 1,
                    None => 0,
                }
            }
        };
        let call = self.calls.entry(index).or_default();
        if call.id.is_empty() {
            call.id = text("/id").to_owned();
        }
        if call.name.is_empty() {
            call.name = text("/function/name").to_owned();
        }
        call.args.push_str(text("/function/arguments"));
    }
}

impl Decoder for OpenAiDecoder {
    fn event(
        &mut self,
        _name: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), LlmError> {
        if data.trim() == "[DONE]" {
            self.finish(out);
            return Ok(());
        }
        let v: Value = serde_json::from_str(data).map_err(|e| sse::unreadable(NAME, &e))?;
        if let Some(error) = v.get("error").filter(|e| !e.is_null()) {
            let error = if error.is_string() {
                json!({"message": error})
            } else {
                error.clone()
            };
            return Err(sse::stream_error(NAME, &error));
        }
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            out.push(StreamEvent::Usage(Usage {
                input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
            }));
        }
        let Some(choice) = v.pointer("/choices/0") else {
            return Ok(());
        };
        let delta = &choice["delta"];
        for key in ["reasoning_content", "reasoning"] {
            if let Some(text) = delta
                .get(key)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                out.push(StreamEvent::ThinkingDelta(text.to_owned()));
            }
        }
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(StreamEvent::TextDelta(text.to_owned()));
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            for call in calls {
                self.tool_call_delta(call);
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish = Some(stop_reason(reason));
        }
        Ok(())
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        // Some compatible servers close after the finish reason without `[DONE]`; the answer
        // is complete then, only a usage chunk may be missing.
        if self.finish.is_some() {
            self.finish(out);
            Ok(())
        } else {
            Err(sse::cut_off(None))
        }
    }
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "stop" => StopReason::EndTurn,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "length" => StopReason::MaxTokens,
        "content_filter" => StopReason::Refusal,
        _ => StopReason::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::sse::tests::run;
    use crate::llm::{Message, ToolSpec};

    fn request() -> Request {
        Request {
            model: "gpt-4.1".into(),
            system: "be brief".into(),
            messages: vec![
                Message::user_text("list files"),
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::Thinking {
                            text: "hmm".into(),
                            signature: None,
                        },
                        Part::ToolCall(ToolCall {
                            id: "call_1".into(),
                            name: "ls".into(),
                            args: json!({"dir": "."}),
                        }),
                        Part::ToolCall(ToolCall {
                            id: "call_2".into(),
                            name: "ls".into(),
                            args: json!({"dir": "src"}),
                        }),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::ToolResult {
                            call_id: "call_1".into(),
                            name: "ls".into(),
                            output: "a b".into(),
                            is_error: false,
                        },
                        Part::ToolResult {
                            call_id: "call_2".into(),
                            name: "ls".into(),
                            output: "no such dir".into(),
                            is_error: true,
                        },
                        Part::Text {
                            text: "thanks".into(),
                        },
                    ],
                },
            ],
            tools: vec![ToolSpec {
                name: "ls".into(),
                description: "Lists".into(),
                parameters: json!({"type": "object"}),
            }],
            max_output_tokens: 500,
        }
    }

    #[test]
    fn request_maps_to_chat_messages() {
        let body = request_body(&request(), false);
        assert_eq!(body["max_tokens"], 500);
        assert!(body.get("max_completion_tokens").is_none());
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["tools"][0]["function"]["name"], "ls");
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "list files"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{\"dir\":\".\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "ls", "arguments": "{\"dir\":\"src\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a b"},
                {"role": "tool", "tool_call_id": "call_2", "content": "Error: no such dir"},
                {"role": "user", "content": "thanks"},
            ])
        );
        let body = request_body(&request(), true);
        assert_eq!(body["max_completion_tokens"], 500);
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn only_openai_itself_gets_the_new_token_field() {
        let http = reqwest::Client::new();
        assert!(OpenAi::new(http.clone(), None, None).new_token_field);
        let local = OpenAi::new(http, None, Some("http://localhost:11434/v1/".into()));
        assert!(!local.new_token_field);
        assert_eq!(local.base_url, "http://localhost:11434/v1");
    }

    const TOOL_TURN: &str = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"On it\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"ls\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"di\"}}]},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"cat\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"r\\\": \\\"src\\\"}\"}}]},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":12,\"total_tokens\":42}}\n\n\
data: [DONE]\n\n";

    #[tokio::test]
    async fn a_tool_turn_is_decoded() {
        for piece in [5, 80, 100_000] {
            let events: Vec<StreamEvent> = run(OpenAiDecoder::default(), TOOL_TURN, piece)
                .await
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                events,
                vec![
                    StreamEvent::ThinkingDelta("think".into()),
                    StreamEvent::TextDelta("On it".into()),
                    StreamEvent::Usage(Usage {
                        input_tokens: 30,
                        output_tokens: 12
                    }),
                    StreamEvent::ToolCall(ToolCall {
                        id: "call_a".into(),
                        name: "ls".into(),
                        args: json!({"dir": "src"}),
                    }),
                    StreamEvent::ToolCall(ToolCall {
                        id: "call_b".into(),
                        name: "cat".into(),
                        args: json!({}),
                    }),
                    StreamEvent::End(StopReason::ToolUse),
                ]
            );
        }
    }

    #[tokio::test]
    async fn ollama_style_reasoning_and_length() {
        let wire = "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"r\"}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\n";
        // Closed after the finish reason without [DONE]: complete.
        let events = run(OpenAiDecoder::default(), wire, 1000).await;
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::ThinkingDelta("r".into())),
                Ok(StreamEvent::TextDelta("x".into())),
                Ok(StreamEvent::End(StopReason::MaxTokens)),
            ]
        );
    }

    #[tokio::test]
    async fn a_stream_without_finish_is_cut_off() {
        let cut = TOOL_TURN
            .split("data: {\"choices\":[{\"index\":0,\"delta\":{},")
            .next()
            .unwrap();
        let events = run(OpenAiDecoder::default(), cut, 33).await;
        let err = events.last().unwrap().clone().unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("cut off"));
        // The half-assembled calls are not reported.
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Ok(StreamEvent::ToolCall(_))))
        );
    }

    #[tokio::test]
    async fn error_chunks_end_the_stream() {
        let wire = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n\
data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n\
data: [DONE]\n\n";
        let events = run(OpenAiDecoder::default(), wire, 1000).await;
        assert_eq!(events.len(), 2);
        let err = events[1].clone().unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("The server had an error"));
        let wire =
            "data: {\"error\":{\"message\":\"bad schema\",\"type\":\"invalid_request_error\"}}\n\n";
        let events = run(OpenAiDecoder::default(), wire, 1000).await;
        assert!(matches!(events[..], [Err(LlmError::Permanent { .. })]));
    }

    #[tokio::test]
    async fn calls_without_index_or_id_are_assembled() {
        let wire = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"ls\",\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";
        let events = run(OpenAiDecoder::default(), wire, 1000).await;
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::ToolCall(ToolCall {
                    id: "call_0".into(),
                    name: "ls".into(),
                    args: json!({"a": 1}),
                })),
                Ok(StreamEvent::End(StopReason::ToolUse)),
            ]
        );
    }
}
