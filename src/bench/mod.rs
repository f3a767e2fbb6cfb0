//! `sigmic bench …`: figures measured from outside the server's request path, printed for
//! people to read (the sandbox's command latency; MCP connection and call costs; deciding a
//! tool call by a project's policy).

mod mcp;
mod policy;
mod sandbox;

pub use mcp::mcp;
pub use policy::policy;
pub use sandbox::sandbox;

use std::time::Duration;

struct Series {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Series {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            samples: Vec::new(),
        }
    }

    fn pct(&self, p: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        if s.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
        s[rank.min(s.len() - 1)]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
