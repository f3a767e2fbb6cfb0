//! `web_search` backends: a SearXNG instance (its JSON API) or the Brave Search API. The
//! backend is the operator's choice, so its URL is not put through the fetch guard — a SearXNG
//! on the private network is the usual set-up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::WebError;
use crate::config::WebConfig;

/// Results handed back per query.
pub const MAX_RESULTS: usize = 10;
const BRAVE_URL: &str = "https://api.search.brave.com/res/v1/web/search";
/// Bytes of a backend's answer read at most.
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResult {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

#[derive(Debug, Clone)]
pub enum SearchBackend {
    Searxng { base: url::Url },
    Brave { api_key: String, endpoint: url::Url },
}

#[derive(Debug, Clone)]
pub struct Searcher {
    backend: SearchBackend,
    client: reqwest::Client,
}

impl Searcher {
    /// The configured backend, SearXNG first; `None` when neither is set (then `web_search`
    /// is not offered).
    pub fn from_config(config: &WebConfig) -> Result<Option<Self>, WebError> {
        let backend = if let Some(base) = config
            .searxng_url
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            let mut base = url::Url::parse(base.trim()).map_err(|e| WebError::InvalidUrl {
                url: base.to_owned(),
                reason: e.to_string(),
            })?;
            // `join("search")` must add to an instance under a path prefix, not replace it.
            if !base.path().ends_with('/') {
                let path = format!("{}/", base.path());
                base.set_path(&path);
            }
            SearchBackend::Searxng { base }
        } else if let Some(key) = config
            .brave_api_key
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            SearchBackend::Brave {
                api_key: key.trim().to_owned(),
                endpoint: url::Url::parse(BRAVE_URL).map_err(|e| WebError::InvalidUrl {
                    url: BRAVE_URL.to_owned(),
                    reason: e.to_string(),
                })?,
            }
        } else {
            return Ok(None);
        };
        Ok(Some(Self::new(
            backend,
            Duration::from_secs(config.fetch_timeout_secs.max(1)),
        )?))
    }

    pub fn new(backend: SearchBackend, timeout: Duration) -> Result<Self, WebError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!(
                "Sigmic/",
                env!("CARGO_PKG_VERSION"),
                " (web_search)"
            ))
            .build()
            .map_err(|e| WebError::Search {
                reason: e.to_string(),
            })?;
        Ok(Self { backend, client })
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            SearchBackend::Searxng { .. } => "SearXNG",
            SearchBackend::Brave { .. } => "Brave Search",
        }
    }

    pub async fn search(&self, query: &str) -> Result<Vec<SearchResult>, WebError> {
        let request = match &self.backend {
            SearchBackend::Searxng { base } => {
                let mut url = base.join("search").map_err(|e| WebError::Search {
                    reason: e.to_string(),
                })?;
                url.query_pairs_mut()
                    .append_pair("q", query)
                    .append_pair("format", "json");
                self.client.get(url)
            }
            SearchBackend::Brave { api_key, endpoint } => {
                let mut url = endpoint.clone();
                url.query_pairs_mut()
                    .append_pair("q", query)
                    .append_pair("count", &MAX_RESULTS.to_string());
                self.client.get(url).header("X-Subscription-Token", api_key)
            }
        };
        let mut response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| WebError::Search {
                reason: e.to_string(),
            })?;
        if !response.status().is_success() {
            return Err(WebError::Search {
                reason: format!(
                    "{} answered HTTP {}",
                    self.backend_name(),
                    response.status()
                ),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| WebError::Search {
            reason: e.to_string(),
        })? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(WebError::Search {
                    reason: format!("{}'s answer is too large", self.backend_name()),
                });
            }
            body.extend_from_slice(&chunk);
        }
        let bad = |e: serde_json::Error| WebError::Search {
            reason: format!(
                "{}'s answer is not the expected JSON: {e}",
                self.backend_name()
            ),
        };
        let results: Vec<SearchResult> = match self.backend {
            SearchBackend::Searxng { .. } => serde_json::from_slice::<SearxAnswer>(&body)
                .map_err(bad)?
                .results
                .into_iter()
                .map(|r| SearchResult {
                    title: r.title,
                    url: r.url,
                    snippet: r.content,
                })
                .collect(),
            SearchBackend::Brave { .. } => serde_json::from_slice::<BraveAnswer>(&body)
                .map_err(bad)?
                .web
                .results
                .into_iter()
                .map(|r| SearchResult {
                    title: r.title,
                    url: r.url,
                    snippet: r.description,
                })
                .collect(),
        };
        Ok(results.into_iter().take(MAX_RESULTS).collect())
    }
}

#[derive(Deserialize)]
struct SearxAnswer {
    #[serde(default)]
    results: Vec<SearxResult>,
}

#[derive(Deserialize)]
struct SearxResult {
    #[serde(default)]
    title: String,
    url: String,
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
struct BraveAnswer {
    #[serde(default)]
    web: BraveWeb,
}

#[derive(Deserialize, Default)]
struct BraveWeb {
    #[serde(default)]
    results: Vec<BraveResult>,
}

#[derive(Deserialize)]
struct BraveResult {
    #[serde(default)]
    title: String,
    url: String,
    #[serde(default)]
    description: String,
}
