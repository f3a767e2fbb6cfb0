//! The host side of a sandbox's network: an HTTP proxy on a Unix socket that only that
//! sandbox can reach. A sandbox has a network namespace of its own with nothing but loopback,
//! so this proxy is its only way out, and the policy is enforced here, outside anything the
//! sandbox controls: the project's mode and allow-list on the requested host, then the
//! address guard on every address the host resolves to, then a connection pinned to those
//! addresses. `CONNECT` tunnels (https and anything else) and plain `http://` requests (one
//! per connection) are served.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::JoinSet;

use super::guard::AddressGuard;
use super::policy::NetworkPolicy;
use crate::workspace::Owner;

/// A sandbox's policy, replaced when the sandbox is handed to a task.
pub type SharedPolicy = Arc<RwLock<NetworkPolicy>>;

/// Connections one sandbox may have open at once.
const MAX_CONNECTIONS: usize = 256;
/// The request head: its size, and how long a client may take to send it.
const MAX_HEAD: usize = 32 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A running proxy; it stops, and its socket goes, when this is dropped.
pub struct EgressProxy {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl EgressProxy {
    /// Listens on `path`, connectable only by the sandbox's user.
    pub fn start(
        path: &Path,
        policy: SharedPolicy,
        guard: AddressGuard,
        owner: Option<Owner>,
    ) -> io::Result<Self> {
        let listener = crate::workspace::private_socket(path, owner)?;
        let task = tokio::spawn(serve(listener, policy, guard));
        Ok(Self {
            path: path.to_owned(),
            task,
        })
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        // The connections live in the serve task's set: they end with it.
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(listener: UnixListener, policy: SharedPolicy, guard: AddressGuard) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            let mut stream = stream;
            let _ = respond(
                &mut stream,
                "429 Too Many Requests",
                "too many open connections from this sandbox",
            )
            .await;
            continue;
        }
        let policy = Arc::clone(&policy);
        let guard = guard.clone();
        connections.spawn(async move {
            if let Err(e) = handle(stream, &policy, &guard).await {
                tracing::debug!(error = %e, "egress connection ended");
            }
        });
    }
}

/// What a request asks the proxy to reach.
struct Target {
    host: String,
    port: u16,
    /// For a plain http request: the head to send upstream instead of the client's.
    forward_head: Option<Vec<u8>>,
}

async fn handle(
    mut client: UnixStream,
    policy: &SharedPolicy,
    guard: &AddressGuard,
) -> io::Result<()> {
    let (head, rest) = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await {
        Ok(Ok(Some(read))) => read,
        Ok(Ok(None)) | Err(_) => return Ok(()),
        Ok(Err(e)) => return Err(e),
    };
    let target = match parse_target(&head) {
        Ok(t) => t,
        Err(why) => return respond(&mut client, "400 Bad Request", &why).await,
    };
    let decided = policy
        .read()
        .map_err(|_| io::Error::other("policy lock poisoned"))?
        .check_host(&target.host);
    if let Err(refused) = decided {
        return respond(&mut client, "403 Forbidden", &refused.to_string()).await;
    }
    if guard.is_own_host(&target.host) {
        let why = format!("`{}` is this Sigmic server itself", target.host);
        return respond(&mut client, "403 Forbidden", &why).await;
    }
    let addrs: Vec<SocketAddr> =
        match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            Ok(found) => found.collect(),
            Err(e) => {
                let why = format!("cannot resolve `{}`: {e}", target.host);
                return respond(&mut client, "502 Bad Gateway", &why).await;
            }
        };
    if addrs.is_empty() {
        let why = format!("`{}` has no addresses", target.host);
        return respond(&mut client, "502 Bad Gateway", &why).await;
    }
    // Every address must pass: a name that also resolves to a private address is refused
    // rather than tried until one answers.
    if let Some(refused) = addrs.iter().find_map(|a| guard.check(*a).err()) {
        let why = format!("`{}` leads to {refused}", target.host);
        return respond(&mut client, "403 Forbidden", &why).await;
    }
    let mut upstream =
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addrs[..])).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let why = format!("cannot connect to `{}`: {e}", target.host);
                return respond(&mut client, "502 Bad Gateway", &why).await;
            }
            Err(_) => {
                let why = format!("`{}` did not answer in time", target.host);
                return respond(&mut client, "504 Gateway Timeout", &why).await;
            }
        };
    let _ = upstream.set_nodelay(true);
    match target.forward_head {
        None => {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
        }
        Some(head) => upstream.write_all(&head).await?,
    }
    upstream.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Reads up to the end of the request head; answers the head and what came after it.
async fn read_head(client: &mut UnixStream) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        let start = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf[start..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| start + p + 4)
        {
            let rest = buf.split_off(end);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > MAX_HEAD {
            let _ = respond(
                client,
                "431 Request Header Fields Too Large",
                "request head too large",
            )
            .await;
            return Ok(None);
        }
    }
}

/// Headers that concern the hop to the proxy, not the request.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
];

fn parse_target(head: &[u8]) -> Result<Target, String> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete request".into()),
        Err(e) => return Err(format!("malformed request: {e}")),
    }
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Err("malformed request line".into());
    };
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_authority(path)?;
        return Ok(Target {
            host,
            port,
            forward_head: None,
        });
    }
    let url = url::Url::parse(path).map_err(|_| {
        format!("`{path}` is not an absolute http URL (this is a proxy; use CONNECT for https)")
    })?;
    if url.scheme() != "http" {
        return Err(format!(
            "`{}` requests go through CONNECT, not as a plain request",
            url.scheme()
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("`{path}` names no host"))?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let mut origin = url.path().to_owned();
    if let Some(q) = url.query() {
        origin.push('?');
        origin.push_str(q);
    }
    let mut out = format!("{method} {origin} HTTP/1.1\r\n").into_bytes();
    let mut has_host = false;
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        has_host |= name == "host";
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    if !has_host {
        out.extend_from_slice(format!("Host: {}\r\n", authority(&url)).as_bytes());
    }
    // One request per connection: the next one may be for another host.
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(Target {
        host,
        port,
        forward_head: Some(out),
    })
}

fn authority(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// `host:port` or `[v6]:port`.
fn split_authority(authority: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{authority}` is not host:port");
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Answers the client with a status and a reason, and ends the connection. The reason is
/// in a header too: a `CONNECT` client shows only the status line and headers.
async fn respond(client: &mut UnixStream, status: &str, why: &str) -> io::Result<()> {
    let text = format!("Sigmic egress proxy: {why}\n");
    let header = why.replace(['\r', '\n'], " ");
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Sigmic-Refused: {header}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    client.write_all(answer.as_bytes()).await?;
    client.shutdown().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connect_and_absolute_requests_name_their_target() {
        let t = parse_target(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
            .unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.com", 443));
        assert!(t.forward_head.is_none());

        let t = parse_target(
            b"GET http://example.com:8080/a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n",
        )
        .unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.com", 8080));
        let head = String::from_utf8(t.forward_head.unwrap()).unwrap();
        assert!(head.starts_with("GET /a?b=1 HTTP/1.1\r\n"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("proxy-connection"));
        assert!(head.ends_with("Connection: close\r\n\r\n"));

        let t = parse_target(b"CONNECT [::1]:443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(t.host, "::1");
        for bad in [
            &b"GET /relative HTTP/1.1\r\n\r\n"[..],
            b"GET https://example.com/ HTTP/1.1\r\n\r\n",
            b"CONNECT example.com HTTP/1.1\r\n\r\n",
        ] {
            assert!(parse_target(bad).is_err());
        }
    }
}
