//! A project's network policy: whether its agent reaches the network at all, and which hosts.
//! The same policy rules the sandbox's egress proxy (so every program in the sandbox obeys
//! it) and `web_fetch`; the address guard applies on top in every mode.

use std::fmt;

use protocol::account::{NetworkMode, NetworkSettings};

/// Domains an allow-list may hold.
pub const MAX_ALLOWED_DOMAINS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkPolicy {
    /// No connection leaves the sandbox.
    Off,
    /// Any host on the internet; never a private, local or metadata address.
    #[default]
    Internet,
    /// Only these hosts (and only at internet addresses).
    AllowList(Vec<DomainPattern>),
}

/// Why a host is refused by the policy (the address guard has its own reasons).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostRefused {
    #[error("network access is off for this project")]
    Off,
    #[error("`{host}` is not on this project's list of allowed domains")]
    NotAllowed { host: String },
}

/// A validation failure, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PolicyError {
    /// The index of the allow-list entry at fault, when one is.
    pub index: Option<usize>,
    pub reason: String,
}

impl NetworkPolicy {
    /// From what a project admin sent: the allow-list's entries are checked and normalized
    /// (lower case, IDNA), duplicates dropped.
    pub fn from_settings(settings: &NetworkSettings) -> Result<Self, PolicyError> {
        match settings.mode {
            NetworkMode::Off => Ok(Self::Off),
            NetworkMode::Internet => Ok(Self::Internet),
            NetworkMode::AllowList => {
                if settings.allowed_domains.len() > MAX_ALLOWED_DOMAINS {
                    return Err(PolicyError {
                        index: None,
                        reason: format!("at most {MAX_ALLOWED_DOMAINS} domains"),
                    });
                }
                let mut patterns: Vec<DomainPattern> = Vec::new();
                for (i, d) in settings.allowed_domains.iter().enumerate() {
                    let p = DomainPattern::parse(d).map_err(|reason| PolicyError {
                        index: Some(i),
                        reason,
                    })?;
                    if !patterns.contains(&p) {
                        patterns.push(p);
                    }
                }
                Ok(Self::AllowList(patterns))
            }
        }
    }

    pub fn to_settings(&self) -> NetworkSettings {
        let (mode, allowed_domains) = match self {
            Self::Off => (NetworkMode::Off, Vec::new()),
            Self::Internet => (NetworkMode::Internet, Vec::new()),
            Self::AllowList(p) => (
                NetworkMode::AllowList,
                p.iter().map(ToString::to_string).collect(),
            ),
        };
        NetworkSettings {
            mode,
            allowed_domains,
        }
    }

    /// The policy a project row stores: its mode, and the allow-list as a JSON array. A row
    /// this server cannot read (written by a newer one) falls back to no network, never to more.
    pub fn from_stored(mode: &str, allowed: Option<&str>) -> Self {
        let domains: Vec<String> = allowed
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        let mode = match mode {
            "off" => NetworkMode::Off,
            "internet" => NetworkMode::Internet,
            "allowList" => NetworkMode::AllowList,
            _ => return Self::Off,
        };
        Self::from_settings(&NetworkSettings {
            mode,
            allowed_domains: domains,
        })
        .unwrap_or(Self::Off)
    }

    /// The mode and allow-list columns of a project row.
    pub fn to_stored(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Off => ("off", None),
            Self::Internet => ("internet", None),
            Self::AllowList(p) => (
                "allowList",
                serde_json::to_string(&p.iter().map(ToString::to_string).collect::<Vec<_>>()).ok(),
            ),
        }
    }

    /// Whether a connection to `host` (a name or an address literal) may be attempted.
    pub fn check_host(&self, host: &str) -> Result<(), HostRefused> {
        match self {
            Self::Off => Err(HostRefused::Off),
            Self::Internet => Ok(()),
            Self::AllowList(patterns) => {
                let host = normalize_host(host);
                if patterns.iter().any(|p| p.matches(&host)) {
                    Ok(())
                } else {
                    Err(HostRefused::NotAllowed { host })
                }
            }
        }
    }
}

/// `example.com` (that host only) or `*.example.com` (its subdomains, not itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainPattern {
    wildcard: bool,
    /// Lower-case ASCII (IDNA), no trailing dot.
    domain: String,
}

impl DomainPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let rest = rest.strip_suffix('.').unwrap_or(rest);
        if rest.is_empty() {
            return Err("a domain is empty".into());
        }
        if rest.contains('*') {
            return Err(format!(
                "`{text}`: a wildcard may only stand first, as in `*.example.com`"
            ));
        }
        if rest.contains(['/', ':', '@', ' ']) {
            return Err(format!(
                "`{text}` is not a domain name (give `example.com`, not a URL or a port)"
            ));
        }
        match url::Host::parse(rest) {
            Ok(url::Host::Domain(d)) if valid_labels(&d) => {
                if wildcard && !d.contains('.') {
                    return Err(format!(
                        "`{text}` would allow a whole top-level domain; name a domain under it"
                    ));
                }
                Ok(Self {
                    wildcard,
                    domain: d,
                })
            }
            Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Err(format!(
                "`{text}` is an IP address; the allow-list holds domain names"
            )),
            _ => Err(format!("`{text}` is not a valid domain name")),
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        if self.wildcard {
            host.strip_suffix(self.domain.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == self.domain
        }
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            write!(f, "*.{}", self.domain)
        } else {
            f.write_str(&self.domain)
        }
    }
}

fn valid_labels(domain: &str) -> bool {
    domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A host as a request names it: lower case, IDNA, no brackets or trailing dot.
fn normalize_host(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.strip_suffix('.').unwrap_or(host);
    match url::Host::parse(host) {
        Ok(url::Host::Domain(d)) => d,
        Ok(other) => other.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn allow(domains: &[&str]) -> NetworkPolicy {
        NetworkPolicy::from_settings(&NetworkSettings {
            mode: NetworkMode::AllowList,
            allowed_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn exact_names_and_wildcards_match_as_written() {
        let p = allow(&["api.example.com", "*.pypi.org", "Bücher.example"]);
        for ok in [
            "api.example.com",
            "API.Example.COM.",
            "files.pypi.org",
            "a.b.pypi.org",
            "xn--bcher-kva.example",
        ] {
            assert!(p.check_host(ok).is_ok(), "{ok}");
        }
        for no in [
            "example.com",
            "pypi.org",
            "evilpypi.org",
            "api.example.com.evil.net",
            "127.0.0.1",
        ] {
            assert!(p.check_host(no).is_err(), "{no}");
        }
        assert_eq!(
            p.to_settings().allowed_domains,
            ["api.example.com", "*.pypi.org", "xn--bcher-kva.example"]
        );
    }

    #[test]
    fn bad_entries_are_refused_with_their_index() {
        for bad in [
            "",
            "*",
            "*.com",
            "a.*.com",
            "https://example.com",
            "example.com:443",
            "10.0.0.1",
            "-bad-.com",
        ] {
            let e = NetworkPolicy::from_settings(&NetworkSettings {
                mode: NetworkMode::AllowList,
                allowed_domains: vec!["ok.example".into(), bad.into()],
            })
            .unwrap_err();
            assert_eq!(e.index, Some(1), "{bad}: {e}");
        }
    }

    #[test]
    fn stored_form_round_trips_and_unknown_modes_mean_off() {
        let p = allow(&["a.example", "*.b.example"]);
        let (mode, list) = p.to_stored();
        assert_eq!(NetworkPolicy::from_stored(mode, list.as_deref()), p);
        assert_eq!(
            NetworkPolicy::from_stored("internet", None),
            NetworkPolicy::Internet
        );
        assert_eq!(
            NetworkPolicy::from_stored("everything", None),
            NetworkPolicy::Off
        );
        assert_eq!(
            NetworkPolicy::Off.check_host("a.example"),
            Err(HostRefused::Off)
        );
    }
}
