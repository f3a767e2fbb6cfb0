//! The sandbox side of its network: the supervisor listens on the sandbox's own loopback at
//! `127.0.0.1:3128`, the proxy address its commands are given, and relays each connection to
//! the egress proxy's Unix socket mounted into the sandbox. Programs that ignore the proxy
//! variables find no route out: the namespace has no other interface.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Where commands find the proxy.
pub const PROXY_ADDR: &str = "127.0.0.1:3128";
/// Where the egress proxy's socket is mounted inside a sandbox.
pub const SOCKET_IN_SANDBOX: &str = "/.sigmic/egress.sock";
/// Connections relayed at once; each costs two threads of the sandbox's process budget.
const MAX_RELAYED: usize = 64;

/// The proxy variables every command gets: upper and lower case, as programs disagree on
/// which they read. Local addresses stay local.
pub fn proxy_env() -> Vec<(String, String)> {
    let url = format!("http://{PROXY_ADDR}");
    let mut vars = Vec::new();
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        vars.push((name.to_owned(), url.clone()));
        vars.push((name.to_ascii_lowercase(), url.clone()));
    }
    for name in ["NO_PROXY", "no_proxy"] {
        vars.push((name.to_owned(), "localhost,127.0.0.1,::1".to_owned()));
    }
    // Node.js 24 reads the variables above only when asked to.
    vars.push(("NODE_USE_ENV_PROXY".to_owned(), "1".to_owned()));
    vars
}

/// Starts relaying in a thread of its own. Called after the supervisor has locked itself
/// down, so the relay's threads run under the same filter as commands.
pub fn start(socket: &Path) -> io::Result<()> {
    let listener = TcpListener::bind(PROXY_ADDR)?;
    let socket = socket.to_owned();
    thread::Builder::new()
        .name("egress-relay".into())
        .spawn(move || accept_loop(&listener, &socket))?;
    Ok(())
}

fn accept_loop(listener: &TcpListener, socket: &Path) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        if open.load(Ordering::SeqCst) >= MAX_RELAYED {
            continue;
        }
        let Ok(upstream) = UnixStream::connect(socket) else {
            continue;
        };
        open.fetch_add(1, Ordering::SeqCst);
        let count = Arc::clone(&open);
        // A sandbox at its process limit cannot start the thread: the connection is dropped.
        let spawned = thread::Builder::new()
            .name("egress-conn".into())
            .spawn(move || {
                relay(conn, upstream);
                count.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Copies both ways until both sides are done.
fn relay(client: TcpStream, upstream: UnixStream) {
    let (Ok(client_w), Ok(upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let back = thread::Builder::new()
        .name("egress-back".into())
        .spawn(move || {
            let mut from = upstream;
            let mut to = client_w;
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    let mut from = client;
    let mut to = upstream_w;
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    if let Ok(back) = back {
        let _ = back.join();
    }
}
