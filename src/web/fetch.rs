//! `web_fetch`: one URL to readable text. Redirects are followed by hand, a few at most, so
//! every hop's address is checked the same way as the first; each hop's connection is pinned
//! to the addresses that passed the check.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde::Serialize;
use url::{Host, Url};

use super::WebError;
use crate::config::WebConfig;
use crate::egress::{AddressGuard, NetworkPolicy, OwnAddresses, Refused};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Characters of page text handed back; pages are for reading, not for archiving.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// Column width html2text wraps at.
const TEXT_WIDTH: usize = 100;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchedPage {
    /// Where the content came from, after redirects.
    pub url: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
    /// The body or the text was cut at a limit.
    pub truncated: bool,
    pub bytes: u64,
}

/// Fetches pages under the address policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    guard: AddressGuard,
    max_bytes: u64,
    timeout: Duration,
}

/// Refuses every name it is asked about: names a hop has not checked and pinned never resolve.
struct RefuseUnpinned;

impl reqwest::dns::Resolve for RefuseUnpinned {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(
            async move { Err(format!("`{name}` was not checked by the address guard").into()) },
        )
    }
}

impl Fetcher {
    pub fn new(config: &WebConfig, own: OwnAddresses) -> Self {
        Self {
            guard: AddressGuard::new(config.allow_private_addresses, own),
            max_bytes: config.fetch_max_bytes,
            timeout: Duration::from_secs(config.fetch_timeout_secs.max(1)),
        }
    }

    pub fn allows_private(&self) -> bool {
        self.guard.allows_private()
    }

    /// Fetches `url` (http or https), following up to `MAX_REDIRECTS` redirects, within the
    /// configured timeout and byte cap, every hop under the project's network policy.
    pub async fn fetch(&self, url: &str, policy: &NetworkPolicy) -> Result<FetchedPage, WebError> {
        let deadline = Instant::now() + self.timeout;
        let mut current = parse_url(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(WebError::Timeout {
                    url: current.to_string(),
                    secs: self.timeout.as_secs(),
                });
            }
            let response =
                tokio::time::timeout(remaining, self.request(&current, policy, remaining))
                    .await
                    .map_err(|_| WebError::Timeout {
                        url: current.to_string(),
                        secs: self.timeout.as_secs(),
                    })??;
            if response.status().is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                let location = location.to_str().map_err(|_| WebError::Request {
                    url: current.to_string(),
                    reason: "the redirect's Location header is not text".to_owned(),
                })?;
                current = current.join(location).map_err(|e| WebError::InvalidUrl {
                    url: location.to_owned(),
                    reason: e.to_string(),
                })?;
                check_scheme(&current)?;
                continue;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            return tokio::time::timeout(remaining, self.read(current.clone(), response))
                .await
                .map_err(|_| WebError::Timeout {
                    url: current.to_string(),
                    secs: self.timeout.as_secs(),
                })?;
        }
        Err(WebError::TooManyRedirects {
            url: url.to_owned(),
            limit: MAX_REDIRECTS,
        })
    }

    /// Checks the hop's host and addresses, then sends one GET pinned to them.
    async fn request(
        &self,
        url: &Url,
        policy: &NetworkPolicy,
        timeout: Duration,
    ) -> Result<reqwest::Response, WebError> {
        let host = url.host().ok_or_else(|| WebError::InvalidUrl {
            url: url.to_string(),
            reason: "it has no host".to_owned(),
        })?;
        let port = url.port_or_known_default().unwrap_or(80);
        policy
            .check_host(&host.to_string())
            .map_err(|refused| WebError::Policy {
                url: url.to_string(),
                refused,
            })?;
        if self.guard.is_own_host(&host.to_string()) {
            return Err(WebError::OwnAddress {
                url: url.to_string(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would make the connection for us, to addresses we
            // never checked.
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!(
                "Sigmic/",
                env!("CARGO_PKG_VERSION"),
                " (web_fetch)"
            ))
            .dns_resolver(RefuseUnpinned);
        let addrs: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Host::Domain(name) => {
                let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|e| WebError::Dns {
                        host: name.to_owned(),
                        reason: e.to_string(),
                    })?
                    .collect();
                if found.is_empty() {
                    return Err(WebError::Dns {
                        host: name.to_owned(),
                        reason: "no addresses".to_owned(),
                    });
                }
                builder = builder.resolve_to_addrs(name, &found);
                found
            }
        };
        for addr in &addrs {
            self.check_addr(url, *addr)?;
        }
        let client = builder.build().map_err(|e| WebError::Request {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        client
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5",
            )
            .send()
            .await
            .map_err(|e| WebError::Request {
                url: url.to_string(),
                reason: error_chain(&e),
            })
    }

    fn check_addr(&self, url: &Url, addr: SocketAddr) -> Result<(), WebError> {
        self.guard.check(addr).map_err(|refused| match refused {
            Refused::OwnEndpoint { .. } => WebError::OwnAddress {
                url: url.to_string(),
            },
            refused => WebError::Blocked {
                url: url.to_string(),
                refused,
            },
        })
    }

    /// Reads the body up to the byte cap and turns it into text.
    async fn read(
        &self,
        url: Url,
        mut response: reqwest::Response,
    ) -> Result<FetchedPage, WebError> {
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(|e| WebError::Request {
            url: url.to_string(),
            reason: error_chain(&e),
        })? {
            let room = usize::try_from(self.max_bytes)
                .unwrap_or(usize::MAX)
                .saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let bytes = body.len() as u64;
        if !status.is_success() {
            return Err(WebError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
            });
        }
        let essence = content_type
            .as_deref()
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let text = if essence.contains("html") || (essence.is_empty() && looks_like_html(&body)) {
            html2text::config::plain()
                .string_from_read(body.as_slice(), TEXT_WIDTH)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned())
        } else if is_textual(&essence) || (essence.is_empty() && !body.contains(&0)) {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            return Ok(FetchedPage {
                url: url.to_string(),
                status: status.as_u16(),
                content_type,
                text: format!(
                    "[The response is binary ({essence}, {bytes} bytes); web_fetch returns text only. To keep the file, download it with run_shell_command (curl or wget).]"
                ),
                truncated,
                bytes,
            });
        };
        let (text, cut) = cut_chars(text, MAX_TEXT_CHARS);
        Ok(FetchedPage {
            url: url.to_string(),
            status: status.as_u16(),
            content_type,
            text,
            truncated: truncated || cut,
            bytes,
        })
    }
}

fn parse_url(url: &str) -> Result<Url, WebError> {
    let parsed = Url::parse(url.trim()).map_err(|e| WebError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    check_scheme(&parsed)?;
    Ok(parsed)
}

fn check_scheme(url: &Url) -> Result<(), WebError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        _ => Err(WebError::Scheme {
            url: url.to_string(),
        }),
    }
}

fn is_textual(essence: &str) -> bool {
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-yaml"
                | "application/yaml"
                | "application/toml"
                | "application/x-sh"
                | "application/sql"
                | "application/csv"
        )
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

/// Cuts at a character boundary; says whether it cut.
fn cut_chars(text: String, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (text[..at].to_owned(), true),
        None => (text, false),
    }
}

/// reqwest's top-level message ("error sending request") hides the cause a person needs
/// ("connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
