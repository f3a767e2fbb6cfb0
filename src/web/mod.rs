//! The web as tools see it: `web_fetch` (a URL to readable text, behind an address guard)
//! and `web_search` (a configured SearXNG or Brave backend).

mod fetch;
mod search;

use crate::config::WebConfig;
use crate::egress::OwnAddresses;

pub use fetch::{FetchedPage, Fetcher, MAX_REDIRECTS, MAX_TEXT_CHARS};
pub use search::{MAX_RESULTS, SearchBackend, SearchResult, Searcher};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "`{url}` is not a valid URL: {reason}. Give a full URL such as https://example.com/page."
    )]
    InvalidUrl { url: String, reason: String },
    #[error("`{url}` is not an http or https URL; web_fetch fetches only those.")]
    Scheme { url: String },
    #[error(
        "`{url}` is not reachable: {refused}. web_fetch does not reach private, local or internal addresses; fetch a public URL instead."
    )]
    Blocked {
        url: String,
        refused: crate::egress::Refused,
    },
    #[error("`{url}` is not reachable: {refused}.")]
    Policy {
        url: String,
        refused: crate::egress::HostRefused,
    },
    #[error("`{url}` is this Sigmic server itself, which web_fetch does not call.")]
    OwnAddress { url: String },
    #[error("cannot resolve `{host}`: {reason}. Check the host name.")]
    Dns { host: String, reason: String },
    #[error("`{url}` redirected more than {limit} times; giving up.")]
    TooManyRedirects { url: String, limit: usize },
    #[error("`{url}` did not answer within {secs} seconds.")]
    Timeout { url: String, secs: u64 },
    #[error("fetching `{url}` failed: {reason}")]
    Request { url: String, reason: String },
    #[error("`{url}` answered HTTP {status} {reason}.")]
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("web search failed: {reason}")]
    Search { reason: String },
}

/// What the web tools need, built once from the configuration and shared by every task.
#[derive(Debug, Clone)]
pub struct Web {
    pub fetcher: Fetcher,
    /// `None` when no search backend is configured: then `web_search` is not offered.
    pub searcher: Option<Searcher>,
}

impl Web {
    pub fn new(config: &WebConfig, own: OwnAddresses) -> Result<Self, WebError> {
        Ok(Self {
            fetcher: Fetcher::new(config, own),
            searcher: Searcher::from_config(config)?,
        })
    }

    /// From the whole configuration: the web settings, and the server's own listen address
    /// and public host (always refused by `web_fetch`).
    pub fn from_config(config: &crate::config::Config) -> Result<Self, WebError> {
        Self::new(&config.web, OwnAddresses::from_config(config))
    }
}
