//! What a task's agent may reach on the network. `policy` is the project's rule (off,
//! internet only, an allow-list of domains), `guard` the addresses no project may reach
//! (private, loopback, link-local, metadata, this host), `proxy` the host-side egress proxy
//! that enforces both for everything in a sandbox, and `relay` the sandbox-side end of it.
//! `web_fetch` applies the same policy and guard on its own connections.

pub mod guard;
pub mod policy;
pub mod proxy;
pub mod relay;
pub mod resolve;

pub use guard::{AddressGuard, OwnAddresses, Refused};
pub use policy::{HostRefused, NetworkPolicy};
pub use proxy::{EgressProxy, SharedPolicy};
pub use resolve::GuardedResolver;
