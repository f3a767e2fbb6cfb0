//! Google Gemini API (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`).

use std::collections::HashSet;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::sse::{self, Decoder};
use super::{
    EventStream, LlmError, Message, Part, Provider, ProviderKind, Request, Role, StopReason,
    StreamEvent, ToolCall, Usage,
};

const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";
const NAME: &str = "Gemini";

pub struct Gemini {
    http: reqwest::Client,
    api_key: String,
    base_url: String,
}

impl Gemini {
    /// `base_url` is the server root, without the version path.
    pub fn new(http: reqwest::Client, api_key: String, base_url: Option<String>) -> Self {
        Self {
            http,
            api_key,
            base_url: sse::base_url(base_url, DEFAULT_BASE),
        }
    }
}

#[async_trait]
impl Provider for Gemini {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let http = self
            .http
            .get(format!("{}/v1beta/models?pageSize=1000", self.base_url))
            .header("x-goog-api-key", &self.api_key);
        let answer = sse::get_json(http, NAME, Some(&self.api_key)).await?;
        // Embedding models are listed too; only those that generate content can chat.
        let chat: Vec<serde_json::Value> = answer
            .get("models")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter(|m| {
                m.get("supportedGenerationMethods")
                    .and_then(serde_json::Value::as_array)
                    .is_none_or(|methods| {
                        methods
                            .iter()
                            .any(|x| x == "streamGenerateContent" || x == "generateContent")
                    })
            })
            .cloned()
            .collect();
        Ok(sse::ids(
            Some(&serde_json::Value::Array(chat)),
            "name",
            "models/",
        ))
    }

    async fn stream(&self, request: Request) -> Result<EventStream, LlmError> {
        let url = format!(
            "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
            self.base_url, request.model
        );
        // The key goes in a header, never the URL: URLs end up in error messages and logs.
        let http = self.http.post(url).header("x-goog-api-key", &self.api_key);
        let response =
            sse::post_json(http, &request_body(&request), NAME, Some(&self.api_key)).await?;
        Ok(sse::decode(sse::body(response), GeminiDecoder::default()))
    }
}

fn request_body(request: &Request) -> Value {
    let mut body = json!({
        "contents": contents(&request.messages),
        "generationConfig": {"maxOutputTokens": request.max_output_tokens},
    });
    if !request.system.is_empty() {
        body["systemInstruction"] = json!({"parts": [{"text": request.system}]});
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.name, "description": t.description});
                // Gemini refuses an object schema without properties: a tool without
                // arguments declares no parameters at all.
                let has_properties = t.parameters["properties"]
                    .as_object()
                    .is_some_and(|p| !p.is_empty());
                if has_properties {
                    d["parameters"] = schema(&t.parameters);
                }
                d
            })
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
    }
    body
}

/// `user`/`model` turns; consecutive messages of one role merge into one turn.
fn contents(messages: &[Message]) -> Vec<Value> {
    super::merge_by_role(messages, part)
        .into_iter()
        .map(|(role, parts)| {
            let role = match role {
                Role::User => "user",
                Role::Assistant => "model",
            };
            json!({"role": role, "parts": parts})
        })
        .collect()
}

fn part(part: &Part) -> Option<Value> {
    match part {
        Part::Text { text } if text.is_empty() => None,
        Part::Text { text } => Some(json!({"text": text})),
        // Thought summaries are not part of the conversation Gemini takes back.
        Part::Thinking { .. } => None,
        Part::ToolCall(call) => {
            let args = if call.args.is_object() {
                call.args.clone()
            } else {
                json!({})
            };
            Some(json!({"functionCall": {"name": call.name, "args": args}}))
        }
        Part::ToolResult {
            name,
            output,
            is_error,
            ..
        } => {
            let response = if *is_error {
                json!({"error": output})
            } else {
                json!({"output": output})
            };
            Some(json!({"functionResponse": {"name": name, "response": response}}))
        }
    }
}

/// Schema keywords Gemini's OpenAPI-subset `Schema` accepts; anything else is refused.
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "propertyOrdering",
];

/// A JSON Schema reduced to what Gemini accepts, recursively.
fn schema(value: &Value) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in map {
        match key.as_str() {
            // Its keys are property names, not keywords: keep them all.
            "properties" => {
                if let Value::Object(props) = v {
                    let props = props.iter().map(|(n, s)| (n.clone(), schema(s))).collect();
                    out.insert(key.clone(), Value::Object(props));
                }
            }
            "items" => {
                out.insert(key.clone(), schema(v));
            }
            "anyOf" | "oneOf" => {
                if let Value::Array(options) = v {
                    out.insert("anyOf".into(), options.iter().map(schema).collect());
                }
            }
            // `["string", "null"]` is `type: string, nullable: true` in Gemini's words.
            "type" => match v {
                Value::Array(types) => {
                    if let Some(t) = types.iter().find(|t| t.as_str() != Some("null")) {
                        out.insert(key.clone(), t.clone());
                    }
                    if types.iter().any(|t| t.as_str() == Some("null")) {
                        out.insert("nullable".into(), json!(true));
                    }
                }
                other => {
                    out.insert(key.clone(), other.clone());
                }
            },
            "const" if v.is_string() => {
                out.insert("enum".into(), json!([v]));
            }
            // Gemini's enums are lists of strings.
            "enum" if v.as_array().is_some_and(|e| e.iter().all(Value::is_string)) => {
                out.insert(key.clone(), v.clone());
            }
            "enum" => {}
            "required" => {
                // Gemini refuses a required name that is not among the properties.
                let known = map.get("properties").and_then(Value::as_object);
                if let (Value::Array(names), Some(known)) = (v, known) {
                    let names: Vec<Value> = names
                        .iter()
                        .filter(|n| n.as_str().is_some_and(|n| known.contains_key(n)))
                        .cloned()
                        .collect();
                    if !names.is_empty() {
                        out.insert(key.clone(), Value::Array(names));
                    }
                }
            }
            k if SCHEMA_KEYS.contains(&k) => {
                out.insert(key.clone(), v.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

#[derive(Default)]
struct GeminiDecoder {
    finish: Option<StopReason>,
    /// Ids of this answer's calls, so made-up ones never collide with Gemini's.
    ids: HashSet<String>,
}

impl GeminiDecoder {
    fn call_id(&mut self, given: Option<&str>) -> String {
        if let Some(id) = given.filter(|id| !id.is_empty() && !self.ids.contains(*id)) {
            self.ids.insert(id.to_owned());
            return id.to_owned();
        }
        let mut n = self.ids.len();
        loop {
            let id = format!("call_{n}");
            if self.ids.insert(id.clone()) {
                return id;
            }
            n += 1;
        }
    }
}

impl Decoder for GeminiDecoder {
    fn event(
        &mut self,
        _name: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), LlmError> {
        let v: Value = serde_json::from_str(data).map_err(|e| sse::unreadable(NAME, &e))?;
        if let Some(error) = v.get("error") {
            return Err(sse::stream_error(NAME, error));
        }
        if v.pointer("/promptFeedback/blockReason").is_some() {
            self.finish = Some(StopReason::Refusal);
        }
        let candidate = v.pointer("/candidates/0").unwrap_or(&Value::Null);
        if let Some(parts) = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
        {
            for part in parts {
                if let Some(call) = part.get("functionCall") {
                    let id = self.call_id(call.get("id").and_then(Value::as_str));
                    let args = match call.get("args") {
                        Some(args @ Value::Object(_)) => args.clone(),
                        _ => json!({}),
                    };
                    let name = call["name"].as_str().unwrap_or("").to_owned();
                    out.push(StreamEvent::ToolCall(ToolCall { id, name, args }));
                } else if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
                    if part["thought"].as_bool() == Some(true) {
                        out.push(StreamEvent::ThinkingDelta(text.to_owned()));
                    } else {
                        out.push(StreamEvent::TextDelta(text.to_owned()));
                    }
                }
            }
        }
        if let Some(reason) = candidate["finishReason"]
            .as_str()
            .filter(|r| *r != "FINISH_REASON_UNSPECIFIED")
        {
            self.finish = Some(stop_reason(reason));
        }
        if let Some(usage) = v.get("usageMetadata").filter(|u| u.is_object()) {
            let count = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
            out.push(StreamEvent::Usage(Usage {
                input_tokens: count("promptTokenCount"),
                // Thinking is billed, and counted, as output.
                output_tokens: count("candidatesTokenCount") + count("thoughtsTokenCount"),
            }));
        }
        Ok(())
    }

    /// Gemini has no closing event: the answer is complete when the body ends after a
    /// finish reason.
    fn close(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        match self.finish {
            Some(StopReason::EndTurn) if !self.ids.is_empty() => {
                out.push(StreamEvent::End(StopReason::ToolUse));
            }
            Some(reason) => out.push(StreamEvent::End(reason)),
            None => return Err(sse::cut_off(None)),
        }
        Ok(())
    }
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "STOP" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::Refusal
        }
        _ => StopReason::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::ToolSpec;
    use crate::llm::sse::tests::run;

    #[test]
    fn request_maps_to_contents() {
        let body = request_body(&Request {
            model: "gemini-2.5-pro".into(),
            system: "be brief".into(),
            messages: vec![
                Message::user_text("read a"),
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::Thinking {
                            text: "hmm".into(),
                            signature: None,
                        },
                        Part::ToolCall(ToolCall {
                            id: "call_0".into(),
                            name: "read".into(),
                            args: json!({"path": "a"}),
                        }),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![Part::ToolResult {
                        call_id: "call_0".into(),
                        name: "read".into(),
                        output: "gone".into(),
                        is_error: true,
                    }],
                },
                Message::user_text("and?"),
            ],
            tools: vec![
                ToolSpec {
                    name: "read".into(),
                    description: "Reads".into(),
                    parameters: json!({
                        "$schema": "http://json-schema.org/draft-07/schema#",
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "path": {"type": "string", "description": "where"},
                            "mode": {"type": ["string", "null"], "enum": ["r", "w"]},
                            "additionalProperties": {"type": "integer", "default": 3},
                            "tags": {"type": "array", "items": {"type": "string", "examples": ["x"]}},
                        },
                        "required": ["path", "ghost"],
                    }),
                },
                ToolSpec {
                    name: "now".into(),
                    description: "Time".into(),
                    parameters: json!({"type": "object", "properties": {}}),
                },
            ],
            max_output_tokens: 77,
        });
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "be brief"}]})
        );
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 77);
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "read a"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "read", "args": {"path": "a"}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "read", "response": {"error": "gone"}}},
                    {"text": "and?"},
                ]},
            ])
        );
        let declarations = &body["tools"][0]["functionDeclarations"];
        assert_eq!(
            declarations[0]["parameters"],
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "where"},
                    "mode": {"type": "string", "nullable": true, "enum": ["r", "w"]},
                    "additionalProperties": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["path"],
            })
        );
        assert_eq!(
            declarations[1],
            json!({"name": "now", "description": "Time"})
        );
    }

    const TOOL_TURN: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Plan it.\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 40,\"totalTokenCount\": 40}}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Read\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"ing.\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"read\",\"args\": {\"path\": \"a\"}}},{\"functionCall\": {\"name\": \"read\",\"args\": {\"path\": \"b\"}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 40,\"candidatesTokenCount\": 9,\"thoughtsTokenCount\": 5}}\r\n\r\n";

    #[tokio::test]
    async fn a_tool_turn_is_decoded() {
        for piece in [9, 100, 100_000] {
            let events: Vec<StreamEvent> = run(GeminiDecoder::default(), TOOL_TURN, piece)
                .await
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                events,
                vec![
                    StreamEvent::ThinkingDelta("Plan it.".into()),
                    StreamEvent::Usage(Usage {
                        input_tokens: 40,
                        output_tokens: 0
                    }),
                    StreamEvent::TextDelta("Read".into()),
                    StreamEvent::TextDelta("ing.".into()),
                    StreamEvent::ToolCall(ToolCall {
                        id: "call_0".into(),
                        name: "read".into(),
                        args: json!({"path": "a"}),
                    }),
                    StreamEvent::ToolCall(ToolCall {
                        id: "call_1".into(),
                        name: "read".into(),
                        args: json!({"path": "b"}),
                    }),
                    StreamEvent::Usage(Usage {
                        input_tokens: 40,
                        output_tokens: 14
                    }),
                    StreamEvent::End(StopReason::ToolUse),
                ]
            );
        }
    }

    #[tokio::test]
    async fn a_stream_closed_without_finish_reason_is_cut_off() {
        let cut: String = TOOL_TURN
            .split("\r\n\r\n")
            .take(2)
            .map(|e| format!("{e}\r\n\r\n"))
            .collect();
        let events = run(GeminiDecoder::default(), &cut, 50).await;
        assert_eq!(events[2], Ok(StreamEvent::TextDelta("Read".into())));
        let err = events.last().unwrap().clone().unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("cut off"));
    }

    #[tokio::test]
    async fn given_ids_kept_and_finish_reasons_mapped() {
        let wire = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"id\": \"call_1\", \"name\": \"x\"}}, {\"functionCall\": {\"name\": \"y\", \"args\": {}}}]},\"finishReason\": \"MAX_TOKENS\"}]}\n\n";
        let events = run(GeminiDecoder::default(), wire, 1000).await;
        let ids: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Ok(StreamEvent::ToolCall(c)) => Some(c.id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["call_1", "call_2"]);
        assert_eq!(
            events.last(),
            Some(&Ok(StreamEvent::End(StopReason::MaxTokens)))
        );

        let wire = "data: {\"candidates\": [{\"finishReason\": \"SAFETY\"}]}\n\n";
        let events = run(GeminiDecoder::default(), wire, 1000).await;
        assert_eq!(events, vec![Ok(StreamEvent::End(StopReason::Refusal))]);
    }

    #[tokio::test]
    async fn error_events_are_classified() {
        let wire = "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n";
        let events = run(GeminiDecoder::default(), wire, 1000).await;
        let err = events[0].clone().unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("overloaded"));
    }
}
