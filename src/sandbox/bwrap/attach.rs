//! Long-lived programs inside a sandbox whose stdin and stdout the host speaks over (local MCP
//! servers). The supervisor starts the program and connects its streams to a Unix socket the
//! host listens on, mounted into the sandbox; each connection first says which start it
//! belongs to with a one-time token the host gave the supervisor over its private channel,
//! so a sandboxed program that connects too is turned away.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

use crate::workspace::Owner;
use crate::workspace::private_socket;

/// Where the attach socket is mounted inside a sandbox.
pub const SOCKET_IN_SANDBOX: &str = "/.sigmic/attach.sock";
/// How long a connection may take to say whose it is.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
const HELLO_MAX: usize = 128;

/// Which stream of a started program a connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The program's stdin and stdout.
    Stdio,
    /// Its stderr, read only.
    Stderr,
}

impl Channel {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "stdio" => Some(Self::Stdio),
            "stderr" => Some(Self::Stderr),
            _ => None,
        }
    }
}

type Waiting = Arc<Mutex<HashMap<(String, Channel), oneshot::Sender<UnixStream>>>>;

/// The host end: a listener per live sandbox. It stops, and its socket goes, when dropped.
pub struct AttachPoint {
    path: PathBuf,
    waiting: Waiting,
    task: tokio::task::JoinHandle<()>,
}

impl AttachPoint {
    /// Listens on `path`, connectable only by the sandbox's user.
    pub fn start(path: &Path, owner: Option<Owner>) -> std::io::Result<Self> {
        let listener = private_socket(path, owner)?;
        let waiting: Waiting = Arc::default();
        let task = tokio::spawn(accept(listener, Arc::clone(&waiting)));
        Ok(Self {
            path: path.to_owned(),
            waiting,
            task,
        })
    }

    /// Expects a connection for `token` on `channel`: the receiver gets it.
    pub fn expect(&self, token: &str, channel: Channel) -> oneshot::Receiver<UnixStream> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert((token.to_owned(), channel), tx);
        }
        rx
    }

    /// Stops expecting `token` (its start failed).
    pub fn forget(&self, token: &str) {
        if let Ok(mut w) = self.waiting.lock() {
            w.retain(|(t, _), _| t != token);
        }
    }
}

impl Drop for AttachPoint {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(listener: UnixListener, waiting: Waiting) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let waiting = Arc::clone(&waiting);
        tokio::spawn(async move {
            let Ok(Some((mut stream, key))) =
                tokio::time::timeout(HELLO_TIMEOUT, hello(stream)).await
            else {
                return;
            };
            let sender = waiting.lock().ok().and_then(|mut w| w.remove(&key));
            match sender {
                Some(tx) => {
                    let _ = tx.send(stream);
                }
                // A token nobody expects (a guess, or a start given up on): turned away.
                None => {
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
                }
            }
        });
    }
}

/// Reads `<token> <channel>\n`, byte by byte so nothing after it is consumed.
async fn hello(mut stream: UnixStream) -> Option<(UnixStream, (String, Channel))> {
    let mut line = Vec::new();
    loop {
        let byte = stream.read_u8().await.ok()?;
        if byte == b'\n' {
            break;
        }
        if line.len() >= HELLO_MAX {
            return None;
        }
        line.push(byte);
    }
    let text = String::from_utf8(line).ok()?;
    let (token, channel) = text.split_once(' ')?;
    Some((stream, (token.to_owned(), Channel::parse(channel)?)))
}
