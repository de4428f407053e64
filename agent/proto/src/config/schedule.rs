//! `[restart] schedule`: a 5-field cron line in local time (PM2's cron_restart), checked when
//! the file is read and asked for its next run. Parsing and the calendar are croner's.

use std::time::SystemTime;

use chrono::{DateTime, Local, TimeZone};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

use super::values::Kind;

/// A valid cron line, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schedule(String);

// Standard cron: minute hour day-of-month month day-of-week, no seconds or years; a day of
// month and a day of week both given match either (as Vixie cron).
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        parser()
            .parse(text)
            .map(|_| Schedule(text.to_string()))
            .map_err(|e| {
                format!(
                    "invalid cron schedule {text:?} ({e}): use 5 fields, minute hour day-of-month \
                 month day-of-week, e.g. \"0 4 * * *\" for 04:00 every day"
                )
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn cron(&self) -> Cron {
        parser()
            .parse(&self.0)
            .expect("a Schedule was parsed when it was made")
    }

    /// The first run strictly after `after`, in `after`'s time zone.
    pub fn next_in<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.cron().find_next_occurrence(after, false).ok()
    }

    /// The first run strictly after `after`, reading the schedule in local time.
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let local: DateTime<Local> = after.into();
        self.next_in(&local).map(SystemTime::from)
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `schedule` field: a cron line, or `""` for none (to turn off an inherited one).
pub struct CronLine;

impl Kind for CronLine {
    type Out = Option<Schedule>;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Schedule>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<Schedule>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a cron line, e.g. \"0 4 * * *\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<Schedule>, E> {
                if s.is_empty() {
                    return Ok(None);
                }
                Schedule::parse(s).map(Some).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
    fn write<S: Serializer>(v: &Option<Schedule>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_ref().map_or("", Schedule::as_str))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(schedule: &str, after: &str) -> String {
        Schedule::parse(schedule)
            .unwrap()
            .next_in(&at(after))
            .unwrap()
            .to_rfc3339()
    }

    #[test]
    fn next_runs() {
        let cases = [
            (
                "0 4 * * *",
                "2026-12-02T03:59:30Z",
                "2026-12-02T04:00:00+00:00",
            ),
            // Strictly after: at 04:00:00 the next run is tomorrow's.
            (
                "0 4 * * *",
                "2026-12-02T04:00:00Z",
                "2026-12-03T04:00:00+00:00",
            ),
            (
                "* * * * *",
                "2026-12-02T10:00:30Z",
                "2026-12-02T10:01:00+00:00",
            ),
            (
                "*/15 * * * *",
                "2026-12-02T10:16:00Z",
                "2026-12-02T10:30:00+00:00",
            ),
            // Weekdays only: Saturday 2026-12-05 goes to Monday.
            (
                "30 9 * * 1-5",
                "2026-12-04T10:00:00Z",
                "2026-12-07T09:30:00+00:00",
            ),
            (
                "0 0 1 * *",
                "2026-12-02T00:00:00Z",
                "2027-01-01T00:00:00+00:00",
            ),
            (
                "0 12 * * SUN",
                "2026-12-02T00:00:00Z",
                "2026-12-06T12:00:00+00:00",
            ),
        ];
        for (schedule, after, expected) in cases {
            assert_eq!(next(schedule, after), expected, "{schedule} after {after}");
        }
    }

    #[test]
    fn local_time_is_the_machines() {
        let s = Schedule::parse("* * * * *").unwrap();
        let now = SystemTime::now();
        let next = s.next_after(now).unwrap();
        let wait = next.duration_since(now).unwrap();
        assert!(wait <= std::time::Duration::from_secs(60), "{wait:?}");
    }

    #[test]
    fn only_standard_five_field_lines() {
        for bad in [
            "",
            "* * * *",
            "0 0 * * * *",
            "0 0 * * * * 2030",
            "61 * * * *",
            "* 24 * * *",
            "* * 32 * *",
            "every day",
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains("use 5 fields"), "{bad:?}: {e}");
        }
    }
}
