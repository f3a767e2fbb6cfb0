//! When a schedule fires: a cron expression read in an IANA time zone. Every computation
//! takes the instant it counts from, so tests inject the clock and never sleep.
//!
//! Daylight saving follows croner (the OCPS rules): a fixed time in an hour the clock skips
//! runs at the first instant after the gap, once; a fixed time in an hour that repeats runs
//! on its first pass only. Expressions that repeat within the hour (`*/15 * * * *`) follow
//! the real clock.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Expressions are read in this zone when a schedule names none.
pub const DEFAULT_ZONE: &str = "UTC";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("{0}")]
    Cron(String),
    #[error(
        "`{0}` is not a time zone: use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`."
    )]
    Zone(String),
}

impl TimingError {
    /// The input field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Cron(_) => "cron",
            Self::Zone(_) => "timezone",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Timing {
    cron: Cron,
    zone: Tz,
}

impl Timing {
    /// Five fields (minute hour day-of-month month day-of-week) or a nickname (`@daily`);
    /// with `allow_seconds`, an optional leading seconds field too.
    pub fn parse(expression: &str, zone: &str, allow_seconds: bool) -> Result<Self, TimingError> {
        let expression = expression.trim();
        if expression.is_empty() {
            return Err(TimingError::Cron(
                "Write a cron expression, like `0 9 * * 1` (Mondays at 09:00), or `@daily`."
                    .to_owned(),
            ));
        }
        let fields = expression.split_whitespace().count();
        if !expression.starts_with('@') && fields != 5 && !(allow_seconds && fields == 6) {
            return Err(TimingError::Cron(format!(
                "`{expression}` has {fields} fields; a cron expression has five: minute hour day-of-month month day-of-week, like `0 9 * * 1`."
            )));
        }
        let parser = CronParser::builder()
            .seconds(if allow_seconds {
                Seconds::Optional
            } else {
                Seconds::Disallowed
            })
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(expression).map_err(|e| {
            TimingError::Cron(format!("`{expression}` is not a cron expression: {e}."))
        })?;
        let zone = zone.trim();
        let zone = if zone.is_empty() { DEFAULT_ZONE } else { zone };
        let zone: Tz = zone
            .parse()
            .map_err(|_| TimingError::Zone(zone.to_owned()))?;
        let timing = Self { cron, zone };
        // An expression that never matches (`0 0 31 2 *`) is a mistake to name now, not a
        // schedule that silently never runs.
        if timing.next_after(Utc::now()).is_none() {
            return Err(TimingError::Cron(format!(
                "`{expression}` never matches a date."
            )));
        }
        Ok(timing)
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.zone), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last time at or before `t`.
    pub fn latest_until(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.zone), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// Up to `n` times after `t`, none past `until`, in the schedule's zone.
    pub fn upcoming(
        &self,
        t: DateTime<Utc>,
        n: usize,
        until: Option<DateTime<Utc>>,
    ) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            let Some(next) = self.next_after(at) else {
                break;
            };
            if until.is_some_and(|u| next > u) {
                break;
            }
            out.push(next.with_timezone(&self.zone));
            at = next;
        }
        out
    }

    /// In words, with the zone: "At 09:00 on Monday (Europe/Berlin)".
    pub fn describe(&self) -> String {
        let words = self.cron.describe();
        let words = words.trim_end_matches('.');
        format!("{words} ({})", self.zone.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    fn utc(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        Ok(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc))
    }

    fn runs(t: &Timing, from: &str, n: usize) -> Result<Vec<String>, chrono::ParseError> {
        Ok(t.upcoming(utc(from)?, n, None)
            .iter()
            .map(|d| d.to_rfc3339())
            .collect())
    }

    #[test]
    fn a_daily_time_the_clock_skips_runs_once_that_day() -> Outcome {
        // Europe/Berlin springs forward on 2026-03-29 from 02:00 to 03:00.
        let t = Timing::parse("30 2 * * *", "Europe/Berlin", false)?;
        assert_eq!(
            runs(&t, "2026-03-27T12:00:00Z", 4)?,
            [
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
                "2026-03-31T02:30:00+02:00",
            ]
        );
        Ok(())
    }

    #[test]
    fn an_hour_that_repeats_does_not_run_twice() -> Outcome {
        // Berlin falls back on 2026-10-25: 02:00-03:00 happens twice.
        let t = Timing::parse("30 2 * * *", "Europe/Berlin", false)?;
        assert_eq!(
            runs(&t, "2026-10-24T12:00:00Z", 3)?,
            [
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00",
                "2026-10-27T02:30:00+01:00",
            ]
        );
        Ok(())
    }

    #[test]
    fn new_york_changes_on_its_own_dates() -> Outcome {
        // America/New_York springs forward on 2026-03-08 and falls back on 2026-11-01.
        let t = Timing::parse("30 2 * * *", "America/New_York", false)?;
        assert_eq!(
            runs(&t, "2026-03-07T12:00:00Z", 3)?,
            [
                "2026-03-08T03:00:00-04:00",
                "2026-03-09T02:30:00-04:00",
                "2026-03-10T02:30:00-04:00",
            ]
        );
        let weekly = Timing::parse("0 9 * * MON", "America/New_York", false)?;
        assert_eq!(
            runs(&weekly, "2026-10-28T00:00:00Z", 2)?,
            ["2026-11-02T09:00:00-05:00", "2026-11-09T09:00:00-05:00"]
        );
        let fall = Timing::parse("30 1 * * *", "America/New_York", false)?;
        assert_eq!(
            runs(&fall, "2026-10-31T12:00:00Z", 2)?,
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
        );
        Ok(())
    }

    #[test]
    fn the_latest_time_is_found_from_any_clock() -> Outcome {
        let t = Timing::parse("0 * * * *", "UTC", false)?;
        assert_eq!(
            t.latest_until(utc("2026-12-07T10:59:59Z")?),
            Some(utc("2026-12-07T10:00:00Z")?)
        );
        assert_eq!(
            t.latest_until(utc("2026-12-07T11:00:00Z")?),
            Some(utc("2026-12-07T11:00:00Z")?)
        );
        assert_eq!(
            t.next_after(utc("2026-12-07T11:00:00Z")?),
            Some(utc("2026-12-07T12:00:00Z")?)
        );
        Ok(())
    }

    #[test]
    fn an_end_date_bounds_the_upcoming_times() -> Outcome {
        let t = Timing::parse("@daily", "Asia/Tokyo", false)?;
        let until = Utc
            .with_ymd_and_hms(2026, 12, 9, 0, 0, 0)
            .single()
            .ok_or("no such time")?;
        let got = t.upcoming(utc("2026-12-07T00:00:00Z")?, 5, Some(until));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].to_rfc3339(), "2026-12-08T00:00:00+09:00");
        Ok(())
    }

    #[test]
    fn bad_input_names_its_field() -> Outcome {
        let e = Timing::parse("0 9 * *", "UTC", false)
            .err()
            .ok_or("no error")?;
        assert_eq!(e.field(), "cron");
        assert!(e.to_string().contains("five"), "{e}");
        let e = Timing::parse("*/5 * * * * *", "UTC", false)
            .err()
            .ok_or("no error")?;
        assert_eq!(e.field(), "cron");
        assert!(Timing::parse("*/5 * * * * *", "UTC", true).is_ok());
        let e = Timing::parse("61 * * * *", "UTC", false)
            .err()
            .ok_or("no error")?;
        assert_eq!(e.field(), "cron");
        let e = Timing::parse("0 0 31 2 *", "UTC", false)
            .err()
            .ok_or("no error")?;
        assert!(e.to_string().contains("never"), "{e}");
        let e = Timing::parse("0 9 * * *", "Mars/Olympus", false)
            .err()
            .ok_or("no error")?;
        assert_eq!(e.field(), "timezone");
        Ok(())
    }

    #[test]
    fn it_reads_in_words_with_its_zone() -> Outcome {
        let t = Timing::parse("0 9 * * 1", "Europe/Berlin", false)?;
        let words = t.describe();
        assert!(words.contains("09:00"), "{words}");
        assert!(words.contains("Monday"), "{words}");
        assert!(words.ends_with("(Europe/Berlin)"), "{words}");
        Ok(())
    }
}
