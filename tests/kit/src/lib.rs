//! The test kit: what Sigmic's integration tests (`tests/*.rs`), the scripted model server
//! example (`examples/model_server.rs`) and the task bench (`benches/tasks.rs`) share.
//!
//! - [`harness`]: a real Sigmic server in-process (`TestApp`), with its own data dir and its own
//!   database (`TestDb`, SQLite or a fresh PostgreSQL database), and the request helpers;
//! - [`model`]: the scripted model server (`ModelServer`, `Turn`), speaking the Anthropic, OpenAI
//!   and Gemini dialects over HTTP and SSE, scriptable over HTTP under `/_control/`;
//! - [`tasks`]: a server wired to the model server, a task event stream reader, waiting for a
//!   task's status;
//! - [`sandbox`]: a `SandboxManager` on a data dir and host-side probes;
//! - [`node`]: real `sigmic serve` processes, to kill, restart, or run several of.
//!
//! Whatever needs the built `sigmic` binary (a sandbox's supervisor) finds it with
//! [`sigmic_bin`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

pub mod harness;
pub mod mcp;
pub mod model;
pub mod node;
pub mod sandbox;
pub mod tasks;

/// The built `sigmic` binary, which a sandbox's supervisor must be (a test binary cannot be).
///
/// `env!("CARGO_BIN_EXE_sigmic")` only compiles in the root package's own integration tests and
/// benches, not in this library. Cargo (1.94 and later) also sets `CARGO_BIN_EXE_sigmic` in the
/// environment of the tests and benches it runs; without it (a test binary started by hand),
/// the binary is where cargo puts it: beside the `deps/` folder the test binary runs from.
pub fn sigmic_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_sigmic") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a test binary under target/<profile>/deps");
    profile_dir.join("sigmic")
}
