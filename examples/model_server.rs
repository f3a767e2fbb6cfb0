//! The scripted model server of the Rust tests (`sigmic_testkit::model`) as a process of its own,
//! for the browser tests: it answers Sigmic's model calls in the OpenAI, Anthropic and Gemini
//! dialects, and the tests script it over HTTP under `/_control/`
//! (`ModelServer::start_with_control`; `end2end/support/model.ts` is the client).
//!
//! ```text
//! cargo run -p sigmic --example model_server -- --addr 127.0.0.1:4010
//! ```
//!
//! Prints `model server listening on http://127.0.0.1:PORT` once it accepts connections (the
//! default `--addr 127.0.0.1:0` picks a free port, so that line is how to learn it), then runs
//! until SIGTERM or SIGINT. It accepts any non-empty API key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use sigmic_testkit::model::ModelServer;
use tokio::signal::unix::{SignalKind, signal};

/// The scripted model server, scriptable over HTTP (for the browser tests).
#[derive(Parser)]
struct Args {
    /// Where to listen; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Signal handlers before the ready line: a SIGTERM right after it must not kill the process
    // by the default action (an unclean exit code).
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("model server: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let server = match ModelServer::start_with_control(args.addr).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("model server: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    // Whoever started this waits for the line: flush it rather than leave it in a pipe's buffer.
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "model server listening on {}", server.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    drop(server);
    ExitCode::SUCCESS
}
