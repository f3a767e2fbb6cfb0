//! Real MCP servers for the tests, from the package registries: the reference "everything"
//! server (npm `@modelcontextprotocol/server-everything`, installed by `npm ci` from the
//! repository's `package.json`), started on a free loopback port over Streamable HTTP or
//! legacy SSE.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a started server speaks.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    StreamableHttp,
    Sse,
}

/// A running "everything" server; stopped when dropped.
pub struct Everything {
    child: Child,
    pub port: u16,
    transport: Transport,
}

fn entry_point() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Everything {
    pub fn start(transport: Transport) -> Self {
        let script = entry_point();
        assert!(
            script.exists(),
            "{} is missing: run `npm ci` in the repository (the set-up does)",
            script.display()
        );
        let port = free_port();
        let mode = match transport {
            Transport::StreamableHttp => "streamableHttp",
            Transport::Sse => "sse",
        };
        let child = Command::new("node")
            .arg(&script)
            .arg(mode)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let server = Self {
            child,
            port,
            transport,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the everything server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The address an MCP client is configured with.
    pub fn url(&self) -> String {
        match self.transport {
            Transport::StreamableHttp => format!("http://127.0.0.1:{}/mcp", self.port),
            Transport::Sse => format!("http://127.0.0.1:{}/sse", self.port),
        }
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
