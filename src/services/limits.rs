//! Login throttling, in memory per node. Per address: a token bucket (governor), answered with
//! `RATE_LIMITED`. Per account: consecutive failures lock it for a while, answered exactly like
//! a wrong password so the lock reveals nothing about the account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::AuthConfig;

pub struct LoginLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    max_failures: u32,
    lockout: Duration,
    accounts: Mutex<HashMap<String, Failures>>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

impl LoginLimits {
    pub fn new(cfg: &AuthConfig) -> Self {
        let per_address = NonZeroU32::new(cfg.login_attempts_per_address_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self {
            per_address,
            max_failures: cfg.max_failed_logins_per_account,
            lockout: cfg.lockout(),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when this address has used its attempts.
    pub fn check_address(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let (Some(limiter), Some(ip)) = (&self.per_address, ip) else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs().max(1)
        })
    }

    pub fn is_locked(&self, account: &str) -> bool {
        let Ok(accounts) = self.accounts.lock() else {
            return false;
        };
        accounts
            .get(account)
            .and_then(|f| f.locked_until)
            .is_some_and(|until| until > Instant::now())
    }

    pub fn record_failure(&self, account: &str) {
        if self.max_failures == 0 {
            return;
        }
        let Ok(mut accounts) = self.accounts.lock() else {
            return;
        };
        let entry = accounts.entry(account.to_owned()).or_default();
        if entry.locked_until.is_some_and(|u| u <= Instant::now()) {
            *entry = Failures::default();
        }
        entry.count += 1;
        if entry.count >= self.max_failures {
            entry.locked_until = Some(Instant::now() + self.lockout);
        }
    }

    pub fn record_success(&self, account: &str) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.remove(account);
        }
    }
}
