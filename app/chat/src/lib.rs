//! The Chat UI's logic that is not markup: the transcript built from a task's stream, safe
//! Markdown, and the browser's calls to the Task API (with the page's session cookie, or with
//! a widget token from another origin). Free of Leptos, so that the Console's Chat UI and the
//! embeddable widget show a conversation by the same rules with views of their own.

pub mod client;
pub mod local;
pub mod markdown;
pub mod sse;
pub mod transcript;

/// A byte count as people read it: "12 B", "2.0 KB", "50 MB". Integer arithmetic (in tenths),
/// so the browser bundles carry no float formatting for it.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scale: u128 = 1024;
    while u128::from(bytes) >= scale * 1024 && unit < UNITS.len() - 1 {
        scale *= 1024;
        unit += 1;
    }
    // The value in tenths, rounded half up.
    let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
    if tenths < 100 {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
    } else {
        format!("{} {}", (tenths + 5) / 10, UNITS[unit])
    }
}

/// "just now", "5 min ago", "3 h ago", "2 d ago", or the date, from RFC 3339 `ts` and the
/// current time in milliseconds since the epoch.
pub fn relative_time(ts: &str, now_ms: f64) -> String {
    let Some(then) = parse_rfc3339_ms(ts) else {
        return ts.get(..10).unwrap_or(ts).to_owned();
    };
    let secs = ((now_ms - then) / 1000.0).max(0.0) as u64;
    match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        86_400..604_800 => format!("{} d ago", secs / 86_400),
        _ => ts.get(..10).unwrap_or(ts).to_owned(),
    }
}

/// Milliseconds since the epoch of a UTC RFC 3339 time (`2026-11-30T07:00:00.123Z`), without
/// a date library in the browser bundle.
fn parse_rfc3339_ms(ts: &str) -> Option<f64> {
    let b = ts.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(2048), "2.0 KB");
        assert_eq!(human_size(50 * 1024 * 1024), "50 MB");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(10 * 1024 - 1), "10 KB");
        assert_eq!(human_size(123_456_789), "118 MB");
        assert_eq!(human_size(u64::MAX), "16777216 TB");
    }

    #[test]
    fn times() {
        let now = parse_rfc3339_ms("2026-11-30T12:00:00Z").unwrap_or(0.0);
        assert_eq!(now, 1_796_040_000_000.0);
        assert_eq!(relative_time("2026-11-30T11:59:30.5Z", now), "just now");
        assert_eq!(relative_time("2026-11-30T11:55:00Z", now), "5 min ago");
        assert_eq!(relative_time("2026-11-28T12:00:00Z", now), "2 d ago");
        assert_eq!(relative_time("2026-10-01T12:00:00Z", now), "2026-10-01");
    }
}
