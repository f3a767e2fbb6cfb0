//! The values a schedule's message and env may name, filled in for each run so a daily task
//! knows its day: `{{date}}`, `{{datetime}}` and `{{previousRunAt}}`, in the schedule's zone.
//! Anything else in braces is left as written (it may be meant for the agent).

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

pub struct RunValues {
    /// The time the run was due.
    pub at: DateTime<Tz>,
    /// The time the schedule's previous run was due; empty text for the first run.
    pub previous: Option<DateTime<Tz>>,
}

impl RunValues {
    pub fn new(at: DateTime<Utc>, previous: Option<DateTime<Utc>>, zone: Tz) -> Self {
        Self {
            at: at.with_timezone(&zone),
            previous: previous.map(|p| p.with_timezone(&zone)),
        }
    }

    pub fn render(&self, text: &str) -> String {
        let iso = |d: &DateTime<Tz>| d.to_rfc3339_opts(SecondsFormat::Secs, false);
        text.replace("{{date}}", &self.at.format("%Y-%m-%d").to_string())
            .replace("{{datetime}}", &iso(&self.at))
            .replace(
                "{{previousRunAt}}",
                &self.previous.as_ref().map(iso).unwrap_or_default(),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_the_schedule_zone() -> Result<(), Box<dyn std::error::Error>> {
        let at = DateTime::parse_from_rfc3339("2026-12-06T23:30:00Z")?.with_timezone(&Utc);
        let prev = at - chrono::Duration::days(1);
        let zone: Tz = "Europe/Berlin".parse()?;
        let v = RunValues::new(at, Some(prev), zone);
        assert_eq!(
            v.render("Report for {{date}} ({{datetime}}), since {{previousRunAt}}; {{other}}"),
            "Report for 2026-12-07 (2026-12-07T00:30:00+01:00), since 2026-12-06T00:30:00+01:00; {{other}}"
        );
        let first = RunValues::new(at, None, zone);
        assert_eq!(first.render("since [{{previousRunAt}}]"), "since []");
        Ok(())
    }
}
