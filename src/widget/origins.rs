//! The origins a widget app may be embedded on: exact `scheme://host[:port]`, or one wildcard
//! label in front of a domain (`https://*.example.com`). Browsers send `Origin` in exactly
//! that form (lower-case host, default port left out), so comparing normalised text is exact.

use std::fmt;

/// At most this many origins per app.
pub const MAX_ORIGINS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRule {
    /// `https://shop.example.com`, `http://localhost:8080`.
    Exact(String),
    /// `https://*.example.com`: any subdomain (at any depth), never the bare domain.
    Subdomains {
        scheme: String,
        domain: String,
        port: Option<u16>,
    },
}

impl OriginRule {
    /// Reads an origin as an admin writes it; the message says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_end_matches('/');
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("`{text}` is not an origin: write it like https://shop.example.com")
        })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(format!(
                "`{text}`: only http and https origins can embed the widget"
            ));
        }
        if let Some(domain) = rest.strip_prefix("*.") {
            // Checked as an exact origin with a placeholder label in the wildcard's place.
            let probe = Self::exact(&scheme, &format!("x.{domain}"))?;
            let Self::Exact(probe) = probe else {
                return Err(format!("`{text}` is not a valid wildcard origin"));
            };
            let url = url::Url::parse(&probe).map_err(|_| format!("`{text}` is not valid"))?;
            let host = url.host_str().unwrap_or_default();
            let domain = host.strip_prefix("x.").unwrap_or(host).to_owned();
            if !domain.contains('.') {
                return Err(format!(
                    "`{text}`: a wildcard must stand before a domain with at least two labels, like https://*.example.com"
                ));
            }
            return Ok(Self::Subdomains {
                scheme,
                domain,
                port: url.port(),
            });
        }
        Self::exact(&scheme, rest)
    }

    fn exact(scheme: &str, rest: &str) -> Result<Self, String> {
        let text = format!("{scheme}://{rest}");
        let url = url::Url::parse(&text).map_err(|_| format!("`{text}` is not a valid origin"))?;
        let plain = url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && !rest.contains('/')
            && !rest.contains('*');
        if !plain {
            return Err(format!(
                "`{text}` is not an origin: leave out paths, queries and credentials (https://shop.example.com)"
            ));
        }
        match url.origin() {
            origin @ url::Origin::Tuple(..) => Ok(Self::Exact(origin.ascii_serialization())),
            url::Origin::Opaque(_) => Err(format!("`{text}` is not a valid origin")),
        }
    }

    /// Whether a request's `Origin` header is one this rule allows.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Self::Exact(own) => own == origin,
            Self::Subdomains {
                scheme,
                domain,
                port,
            } => {
                let Ok(url) = url::Url::parse(origin) else {
                    return false;
                };
                let Some(host) = url.host_str() else {
                    return false;
                };
                url.scheme() == scheme
                    && url.port() == *port
                    && host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
            }
        }
    }
}

impl fmt::Display for OriginRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(origin) => f.write_str(origin),
            Self::Subdomains {
                scheme,
                domain,
                port: Some(port),
            } => write!(f, "{scheme}://*.{domain}:{port}"),
            Self::Subdomains {
                scheme,
                domain,
                port: None,
            } => write!(f, "{scheme}://*.{domain}"),
        }
    }
}

/// Whether any of `rules` (stored text, as `parse` normalised it) allows `origin`.
pub fn any_allows(rules: &[String], origin: &str) -> bool {
    rules
        .iter()
        .filter_map(|r| OriginRule::parse(r).ok())
        .any(|r| r.allows(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_are_normalised_as_browsers_send_them() -> Result<(), String> {
        let rule = OriginRule::parse("HTTPS://Shop.Example.com:443/")?;
        assert_eq!(rule.to_string(), "https://shop.example.com");
        assert!(rule.allows("https://shop.example.com"));
        assert!(!rule.allows("http://shop.example.com"));
        assert!(!rule.allows("https://shop.example.com.evil.net"));
        let local = OriginRule::parse("http://127.0.0.1:8080")?;
        assert!(local.allows("http://127.0.0.1:8080"));
        assert!(!local.allows("http://127.0.0.1:8081"));
        Ok(())
    }

    #[test]
    fn a_wildcard_allows_subdomains_only() -> Result<(), String> {
        let rule = OriginRule::parse("https://*.example.com")?;
        assert_eq!(rule.to_string(), "https://*.example.com");
        assert!(rule.allows("https://a.example.com"));
        assert!(rule.allows("https://a.b.example.com"));
        assert!(!rule.allows("https://example.com"));
        assert!(!rule.allows("https://badexample.com"));
        assert!(!rule.allows("http://a.example.com"));
        assert!(!rule.allows("https://a.example.com:8443"));
        Ok(())
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        for bad in [
            "shop.example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://user:pw@example.com",
            "https://example.com?q=1",
            "https://*.com",
            "https://a.*.example.com",
            "https://*",
            "null",
            "",
        ] {
            assert!(OriginRule::parse(bad).is_err(), "{bad}");
        }
    }
}
