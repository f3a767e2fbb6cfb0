//! The legacy HTTP+SSE transport (MCP 2024-11-05), which many servers still speak and rmcp
//! no longer ships: the client holds a `GET` event stream open; the server's first event
//! (`endpoint`) says where to `POST` messages; answers and notifications come back on the
//! stream as `message` events. Written on rmcp's `Transport` trait, so the rest of the client
//! is the same for every transport.

use std::sync::Arc;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;
use url::Url;

use super::error_chain;

/// Messages read ahead of the client.
const BUFFER: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("{0}")]
    Http(String),
    #[error("the server answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the event stream ended before the server named its message endpoint")]
    NoEndpoint,
    #[error("the message endpoint `{0}` is not on the server's own origin")]
    ForeignEndpoint(String),
}

pub struct LegacySse {
    http: reqwest::Client,
    headers: Arc<HeaderMap>,
    endpoint: Arc<Url>,
    incoming: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: tokio::task::JoinHandle<()>,
}

impl LegacySse {
    /// Opens the event stream at `url` and waits for the server's `endpoint` event.
    pub async fn connect(
        http: reqwest::Client,
        url: &str,
        headers: HeaderMap,
    ) -> Result<Self, SseError> {
        let base = Url::parse(url).map_err(|e| SseError::Http(e.to_string()))?;
        let response = http
            .get(base.clone())
            .headers(headers.clone())
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
            .send()
            .await
            .map_err(|e| SseError::Http(error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let mut events = response.bytes_stream().eventsource();
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event == "endpoint" => {
                    let target = base
                        .join(event.data.trim())
                        .map_err(|e| SseError::Http(e.to_string()))?;
                    // Messages carry the task's arguments: never to another host.
                    if target.origin() != base.origin() {
                        return Err(SseError::ForeignEndpoint(target.to_string()));
                    }
                    break target;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(SseError::Http(e.to_string())),
                None => return Err(SseError::NoEndpoint),
            }
        };
        let (tx, incoming) = mpsc::channel(BUFFER);
        let reader = tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                if !(event.event.is_empty() || event.event == "message") {
                    continue;
                }
                match serde_json::from_str::<RxJsonRpcMessage<RoleClient>>(&event.data) {
                    Ok(message) => {
                        if tx.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "an SSE message that is not JSON-RPC"),
                }
            }
        });
        Ok(Self {
            http,
            headers: Arc::new(headers),
            endpoint: Arc::new(endpoint),
            incoming,
            reader,
        })
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = SseError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let http = self.http.clone();
        let headers = Arc::clone(&self.headers);
        let endpoint = Arc::clone(&self.endpoint);
        async move {
            let body = serde_json::to_vec(&item).map_err(|e| SseError::Http(e.to_string()))?;
            let response = http
                .post((*endpoint).clone())
                .headers((*headers).clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body)
                .send()
                .await
                .map_err(|e| SseError::Http(error_chain(&e)))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(refusal(response).await)
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        Ok(())
    }
}

/// A non-success answer, with the start of what the server said.
async fn refusal(response: reqwest::Response) -> SseError {
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    SseError::Status { status, body }
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
