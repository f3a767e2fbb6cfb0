//! The scripted model server's `/_control/` API (what the browser tests script it with): turns
//! posted as JSON come back as the dialect's stream, bad turns are refused whole, and the
//! requests of one conversation can be read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use sigmic_testkit::model::{EXHAUSTED, ModelServer};

async fn server() -> (ModelServer, reqwest::Client) {
    let server = ModelServer::start_with_control("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (server, reqwest::Client::new())
}

async fn control(
    client: &reqwest::Client,
    server: &ModelServer,
    what: &str,
    body: Value,
) -> (u16, Value) {
    let response = client
        .post(format!("{}/_control/{what}", server.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// One OpenAI streamed call: the status and the `data:` events.
async fn chat(client: &reqwest::Client, server: &ModelServer, first: &str) -> (u16, Vec<Value>) {
    let response = client
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .bearer_auth("sk-e2e")
        .json(&json!({
            "model": "gpt-4o-mini",
            "stream": true,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": first},
            ],
        }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let events = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    (status, events)
}

fn content(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn scripted_over_http_streams_text_then_calls() {
    let (server, client) = server().await;
    let (status, body) = control(
        &client,
        &server,
        "script",
        json!({"key": "e2e-chat-1", "turns": [
            {"chunks": ["Hel", "lo"], "calls": [{"name": "write_file", "args": {"path": "a.txt"}}],
             "usage": [12, 3]},
            {"text": "second"},
        ]}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"queued": 2})));
    let (status, body) = control(
        &client,
        &server,
        "push",
        json!({"turns": [{"text": "pushed"}]}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"queued": 1})));

    let (status, events) = chat(&client, &server, "please [e2e-chat-1] go").await;
    assert_eq!(status, 200);
    assert_eq!(content(&events), "Hello");
    let calls: Vec<&Value> = events
        .iter()
        .filter_map(|e| {
            e["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]
                .as_str()
                .map(|_| e)
        })
        .collect();
    assert_eq!(calls.len(), 1);
    let finish = events
        .iter()
        .find_map(|e| e["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("tool_calls"));
    let usage = events.iter().find(|e| e["usage"].is_object()).unwrap();
    assert_eq!(usage["usage"]["prompt_tokens"], 12);
    assert_eq!(usage["usage"]["completion_tokens"], 3);

    assert_eq!(
        content(&chat(&client, &server, "[e2e-chat-1] again").await.1),
        "second"
    );
    assert_eq!(
        content(&chat(&client, &server, "[e2e-chat-1] more").await.1),
        EXHAUSTED
    );
    assert_eq!(
        content(&chat(&client, &server, "someone else").await.1),
        "pushed"
    );

    let recorded: Vec<Value> = client
        .get(format!("{}/_control/requests?key=e2e-chat-1", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0]["provider"], "openai");
    assert_eq!(recorded[0]["path"], "/v1/chat/completions");
    assert_eq!(recorded[0]["model"], "gpt-4o-mini");
    assert_eq!(recorded[0]["firstUserText"], "please [e2e-chat-1] go");
    assert_eq!(recorded[0]["body"]["messages"][0]["content"], "be brief");
}

#[tokio::test]
async fn error_turns_carry_status_and_retry_after() {
    let (server, client) = server().await;
    let (status, _) = control(
        &client,
        &server,
        "script",
        json!({"key": "e2e-limit", "turns": [
            {"error": {"status": 429, "message": "slow down"}, "retryAfter": 1},
        ]}),
    )
    .await;
    assert_eq!(status, 200);
    let response = client
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .bearer_auth("sk-e2e")
        .json(&json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "e2e-limit"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "slow down");
}

#[tokio::test]
async fn bad_turns_are_refused_whole_with_the_reason() {
    let (server, client) = server().await;
    let cases = [
        (
            json!({"key": "k", "turns": [{"text": "ok"}, {"txet": "typo"}]}),
            "turns[1]: unknown field `txet`",
        ),
        (
            json!({"key": "k", "turns": [{}]}),
            "turns[0]: a turn is exactly one of",
        ),
        (
            json!({"key": "k", "turns": [{"text": "a", "hang": true}]}),
            "turns[0]: a turn is exactly one of",
        ),
        (
            json!({"key": "k", "turns": [{"text": "a", "retryAfter": 2}]}),
            "retryAfter belongs to an error turn",
        ),
        (
            json!({"key": "k", "turns": [{"hang": true, "dropAfter": 2}]}),
            "dropAfter belongs to a reply turn",
        ),
        (
            json!({"key": "k", "turns": [{"text": "a", "chunks": ["b"]}]}),
            "text or chunks, not both",
        ),
        (
            json!({"key": "k", "turns": [{"error": {"status": 200}}]}),
            "error.status must be 400 to 599",
        ),
        (json!({"key": "", "turns": [{"text": "a"}]}), "key: empty"),
        (
            json!({"key": "k", "turn": []}),
            "body: unknown field `turn`",
        ),
    ];
    for (body, reason) in cases {
        let (status, answer) = control(&client, &server, "script", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{body}: {error}");
    }
    assert_eq!(server.turns_left(), 0);
}
