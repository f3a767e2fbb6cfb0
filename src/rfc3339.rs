//! Times on the wire: RFC 3339 in UTC, as the contract's string fields carry them.

use chrono::{DateTime, SecondsFormat, Utc};

/// To the second (`2026-12-06T19:45:20Z`): what answers about rows show.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// With the fraction the clock gave (`…:20.123456789Z`): file times.
pub fn ts_precise(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
