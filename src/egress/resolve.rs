//! Name resolution for connections the server makes to URLs people configure (remote MCP
//! servers, organizations' model providers): only addresses the guard allows are returned,
//! so a name that resolves to a private or metadata address is refused at connect time,
//! however often it changes. A URL whose host is an address never reaches a resolver:
//! `check_url` covers it.

use std::net::{IpAddr, SocketAddr};

use super::AddressGuard;

/// Resolves names keeping only the addresses the guard allows.
#[derive(Clone)]
pub struct GuardedResolver {
    guard: AddressGuard,
}

impl GuardedResolver {
    pub fn new(guard: AddressGuard) -> Self {
        Self { guard }
    }

    /// `host`'s addresses that the guard allows for a connection to `port` (0 when not known
    /// yet, as for the transport's own lookups: the server's own endpoint is then recognised
    /// only by its address); an error naming the refusal when none is.
    pub async fn allowed(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("`{host}` could not be resolved: {e}"))?
            .collect();
        let mut refusal = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| match self.guard.check(*addr) {
                Ok(()) => true,
                Err(r) => {
                    refusal.get_or_insert(r.to_string());
                    false
                }
            })
            .collect();
        if allowed.is_empty() {
            let reason = refusal.unwrap_or_else(|| "it has no address".into());
            return Err(format!("`{host}` is refused: {reason}"));
        }
        Ok(allowed)
    }

    /// Whether `url` may be connected to: its host's addresses (or the address it is) pass
    /// the guard, and it is not this server. The error says why not, in words. Without
    /// `resolve`, a name is not looked up (the resolver checks it when connecting).
    pub async fn check_url(&self, url: &str, resolve: bool) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(name)) => {
                if self.guard.is_own_host(name) {
                    return Err(format!("`{name}` is refused: it is this Sigmic server"));
                }
                if !resolve {
                    return Ok(());
                }
                return self.allowed(name, port).await.map(|_| ());
            }
            None => return Err(format!("`{url}` has no host")),
        };
        self.guard
            .check(SocketAddr::new(ip, port))
            .map_err(|refused| format!("`{ip}` is refused: {refused}"))
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed = resolver.allowed(&host, 0).await?;
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}
