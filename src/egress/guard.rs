//! Which addresses the agent may connect to, through `web_fetch` or the sandbox's egress
//! proxy. A model can be talked into fetching `http://169.254.169.254/` (cloud credentials)
//! or the admin page of a service on the server's own network, so unless the deployment
//! allows private addresses, only globally routable ones are reached, and never this host's
//! own addresses. The check is made on the addresses actually connected to — callers resolve
//! names themselves and pin the connection to what passed — so a name that resolves
//! differently the second time (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};

/// Cloud metadata services: refused whatever the deployment allows (AWS, GCP, Azure and
/// most others at the link-local address; AWS's IPv6 endpoint; Alibaba's).
const METADATA: &[&str] = &["169.254.169.254", "fd00:ec2::254", "100.100.100.200"];

/// Why a connection is refused, in words for the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{ip} is a cloud metadata address")]
    Metadata { ip: IpAddr },
    #[error("{ip} is this Sigmic server itself")]
    OwnEndpoint { ip: IpAddr },
    #[error("{ip} is an address of the machine Sigmic runs on")]
    HostAddress { ip: IpAddr },
    #[error("{ip} is {why}")]
    Blocked { ip: IpAddr, why: &'static str },
}

/// The address rules of this deployment, shared by `web_fetch` and every sandbox's proxy.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allow_private: bool,
    own: Arc<OwnAddresses>,
}

impl AddressGuard {
    pub fn new(allow_private: bool, own: OwnAddresses) -> Self {
        Self {
            allow_private,
            own: Arc::new(own),
        }
    }

    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::new(
            config.web.allow_private_addresses,
            OwnAddresses::from_config(config),
        )
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether `host` is a name the server is reached by (refused before any lookup).
    pub fn is_own_host(&self, host: &str) -> bool {
        self.own.is_own_host(host)
    }

    /// Whether a connection to `addr` may be made.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Refused> {
        let ip = canonical(addr.ip());
        if METADATA
            .iter()
            .any(|m| m.parse::<IpAddr>().is_ok_and(|m| m == ip))
        {
            return Err(Refused::Metadata { ip });
        }
        if self.own.is_own_addr(addr) {
            return Err(Refused::OwnEndpoint { ip });
        }
        if self.allow_private {
            return Ok(());
        }
        if let Some(why) = refusal(ip) {
            return Err(Refused::Blocked { ip, why });
        }
        if host_addresses().contains(&ip) {
            return Err(Refused::HostAddress { ip });
        }
        Ok(())
    }
}

/// The addresses of this machine's interfaces, read when asked: interfaces come and go.
fn host_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| a.address)
        .filter_map(|a| {
            a.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .map(canonical)
        .collect()
}

/// Why an address is refused, in words for the model.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: &str) -> bool {
    net.parse::<Ipv4Net>().is_ok_and(|n| n.contains(&ip))
}

fn in_v6(ip: Ipv6Addr, net: &str) -> bool {
    net.parse::<Ipv6Net>().is_ok_and(|n| n.contains(&ip))
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() || in_v4(ip, "0.0.0.0/8") {
        Some("an unspecified (\"this network\") address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (this is where cloud metadata services live)")
    } else if in_v4(ip, "100.64.0.0/10") {
        Some("a carrier-grade NAT (shared) address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || in_v4(ip, "240.0.0.0/4") {
        Some("a reserved address")
    } else if in_v4(ip, "192.0.0.0/24") || in_v4(ip, "198.18.0.0/15") {
        Some("a special-purpose address")
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // Addresses that carry an IPv4 address are judged by it: `::ffff:127.0.0.1` is loopback.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let segments = ip.segments();
    if in_v6(ip, "64:ff9b::/96") {
        let [.., a, b] = segments;
        let v4 = Ipv4Addr::from((u32::from(a) << 16) | u32::from(b));
        return refusal_v4(v4);
    }
    if in_v6(ip, "2002::/16") {
        let v4 = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        if let Some(why) = refusal_v4(v4) {
            return Some(why);
        }
    }
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if in_v6(ip, "::/96") {
        Some("a deprecated IPv4-compatible address")
    } else if in_v6(ip, "fc00::/7") {
        Some("a unique-local (private) address")
    } else if in_v6(ip, "fe80::/10") || in_v6(ip, "fec0::/10") {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// The server's own endpoints, refused whatever `allow_private_addresses` says: the agent
/// has no business calling the platform that runs it.
#[derive(Debug, Clone, Default)]
pub struct OwnAddresses {
    /// Where the server listens. An unspecified IP (`0.0.0.0:3000`) means every address of
    /// this host on that port, and a host does not know all of its public addresses (NAT), so
    /// that port is refused on every address.
    pub listen: Vec<SocketAddr>,
    /// Host names the server is reached by (from `public_url`), refused by name.
    pub hosts: Vec<String>,
}

impl OwnAddresses {
    pub fn from_config(config: &crate::config::Config) -> Self {
        let hosts = config
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(|h| h.to_ascii_lowercase()))
            .into_iter()
            .collect();
        Self {
            listen: vec![config.addr],
            hosts,
        }
    }

    pub fn is_own_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    pub fn is_own_addr(&self, addr: SocketAddr) -> bool {
        self.listen.iter().any(|own| {
            own.port() == addr.port()
                && (own.ip().is_unspecified() || canonical(own.ip()) == canonical(addr.ip()))
        })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_local_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            let ip: IpAddr = a.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(refusal(ip).is_some(), "{a} should be refused");
        }
        for a in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            let ip: IpAddr = a.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(refusal(ip).is_none(), "{a} should be allowed");
        }
    }

    #[test]
    fn own_listen_address_matches_by_port() {
        let own = OwnAddresses {
            listen: vec![
                "0.0.0.0:3000"
                    .parse()
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 3000))),
            ],
            hosts: vec!["sigmic.example.com".into()],
        };
        assert!(own.is_own_addr(SocketAddr::from(([93, 184, 216, 34], 3000))));
        assert!(!own.is_own_addr(SocketAddr::from(([93, 184, 216, 34], 443))));
        assert!(own.is_own_host("SIGMIC.example.com"));
    }
}
