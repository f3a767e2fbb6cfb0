//! Login and signup throttling, in memory per node. Per address: token buckets (governor),
//! answered with `RATE_LIMITED`. Per account *and* address: consecutive failures lock that
//! address out of that account for a while, answered exactly like a wrong password so the lock
//! reveals nothing about the account — and someone guessing from elsewhere cannot lock the
//! account's owner out. The failures kept are bounded, oldest forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::AuthConfig;

/// Accounts-and-addresses with failures kept at most.
const MAX_TRACKED: usize = 100_000;

pub struct LoginLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    signups: Option<DefaultKeyedRateLimiter<IpAddr>>,
    max_failures: u32,
    lockout: Duration,
    failures: Mutex<HashMap<(String, Option<IpAddr>), Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// `Err(seconds to wait)` when `ip` has used its allowance of `limiter`.
fn check(limiter: &Option<DefaultKeyedRateLimiter<IpAddr>>, ip: Option<IpAddr>) -> Result<(), u64> {
    let (Some(limiter), Some(ip)) = (limiter, ip) else {
        return Ok(());
    };
    limiter.check_key(&ip).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        wait.as_secs().max(1)
    })
}

impl LoginLimits {
    pub fn new(cfg: &AuthConfig) -> Self {
        let per_address = NonZeroU32::new(cfg.login_attempts_per_address_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        let signups = NonZeroU32::new(cfg.signups_per_address_per_hour)
            .map(|n| RateLimiter::keyed(Quota::per_hour(n)));
        Self {
            per_address,
            signups,
            max_failures: cfg.max_failed_logins_per_account,
            lockout: cfg.lockout(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when this address has used its login attempts.
    pub fn check_address(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        check(&self.per_address, ip)
    }

    /// `Err(seconds to wait)` when this address has created its accounts for the hour.
    pub fn check_signup(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        check(&self.signups, ip)
    }

    pub fn is_locked(&self, account: &str, ip: Option<IpAddr>) -> bool {
        let Ok(failures) = self.failures.lock() else {
            return false;
        };
        failures
            .get(&(account.to_owned(), ip))
            .and_then(|f| f.locked_until)
            .is_some_and(|until| until > Instant::now())
    }

    pub fn record_failure(&self, account: &str, ip: Option<IpAddr>) {
        if self.max_failures == 0 {
            return;
        }
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        let now = Instant::now();
        if failures.len() >= MAX_TRACKED {
            self.forget_old(&mut failures, now);
        }
        let entry = failures
            .entry((account.to_owned(), ip))
            .or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
        if entry.locked_until.is_some_and(|u| u <= now) {
            entry.count = 0;
            entry.locked_until = None;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= self.max_failures {
            entry.locked_until = Some(now + self.lockout);
        }
    }

    pub fn record_success(&self, account: &str, ip: Option<IpAddr>) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&(account.to_owned(), ip));
        }
    }

    /// Makes room: failures older than a lockout go first; if that is not enough, the oldest.
    fn forget_old(&self, failures: &mut HashMap<(String, Option<IpAddr>), Failures>, now: Instant) {
        failures.retain(|_, f| now.duration_since(f.last) < self.lockout);
        if failures.len() >= MAX_TRACKED {
            let mut lasts: Vec<Instant> = failures.values().map(|f| f.last).collect();
            lasts.sort_unstable();
            let cutoff = lasts[lasts.len() / 2];
            failures.retain(|_, f| f.last > cutoff);
        }
    }

    /// How many account-and-address pairs have failures kept.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_kept_stay_bounded() {
        let limits = LoginLimits::new(&AuthConfig::default());
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for i in 0..(MAX_TRACKED + 10) {
            limits.record_failure(&format!("user{i}@example.com"), ip);
        }
        assert!(limits.tracked() <= MAX_TRACKED, "{}", limits.tracked());
        // The newest are kept.
        limits.record_failure("user0@example.com", ip);
        assert!(limits.tracked() <= MAX_TRACKED);
    }
}
