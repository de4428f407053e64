//! How figures read for people and scripts, the same in agent messages and CLI output: one
//! duration form ("850ms", "3.9s", "4m 10s", "2h 5m", "3d 4h"), sizes, RFC 3339 timestamps.

use std::time::Duration;

/// A duration for people, to two units at most, truncated (never rounded up past what
/// happened): under a second in milliseconds ("850ms"); under ten seconds with one decimal
/// ("3.9s", "4s"), since 0.2s against 3s tells a crash loop from a slow failure; then whole
/// seconds ("42s"), minutes and seconds ("4m 10s"), hours and minutes ("2h 5m") and days and
/// hours ("3d 4h"). A zero second unit is left out ("4m", "2h").
///
/// Config files keep their own exact form (`config::format_duration`), which parses back.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 {
        let tenths = ms / 100;
        return if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = d.as_secs();
    let (big, small, units) = match secs {
        0..60 => return format!("{secs}s"),
        60..3_600 => (secs / 60, secs % 60, ("m", "s")),
        3_600..86_400 => (secs / 3_600, secs % 3_600 / 60, ("h", "m")),
        _ => (secs / 86_400, secs % 86_400 / 3_600, ("d", "h")),
    };
    if small == 0 {
        format!("{big}{}", units.0)
    } else {
        format!("{big}{} {small}{}", units.0, units.1)
    }
}

/// A duration in whole milliseconds (the wire's unit) for people; see [`duration`].
pub fn millis(ms: u64) -> String {
    duration(Duration::from_millis(ms))
}

/// Bytes for people: "57 bytes", "512 KiB", "612 MiB", "1.5 GiB". Under a KiB the exact
/// count, so a small figure (what a quota lacks, a tiny template) is never "0 KiB".
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    if n < 1024 {
        return format!("{n} bytes");
    }
    let n = n as f64;
    if n < KIB * KIB {
        format!("{:.0} KiB", n / KIB)
    } else if n < KIB * KIB * KIB {
        format!("{:.0} MiB", n / (KIB * KIB))
    } else {
        format!("{:.1} GiB", n / (KIB * KIB * KIB))
    }
}

/// A Unix-ms timestamp as RFC 3339 in UTC with milliseconds: `2026-12-02T08:30:00.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z");
    }
    // Digit by digit: `status --json` writes one for every bot's last exit, and through the
    // formatter they were a twentieth of its CLI time at 2,000 bots.
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y as u32);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, hh);
    put(14, 2, mm);
    put(17, 2, ss);
    put(20, 3, millis);
    std::str::from_utf8(&out).expect("ASCII digits").to_owned()
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so no date crate is needed for one format.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_the_same_everywhere() {
        for (ms, want) in [
            (0, "0s"),
            (850, "850ms"),
            (999, "999ms"),
            (1_000, "1s"),
            (3_900, "3.9s"),
            (3_999, "3.9s"),
            (4_000, "4s"),
            (9_999, "9.9s"),
            (10_000, "10s"),
            (42_700, "42s"),
            (60_000, "1m"),
            (250_000, "4m 10s"),
            (3_600_000, "1h"),
            (7_500_000, "2h 5m"),
            (86_400_000, "1d"),
            (273_600_000, "3d 4h"),
        ] {
            assert_eq!(millis(ms), want, "{ms} ms");
        }
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(bytes(57), "57 bytes");
        assert_eq!(bytes(512 * 1024), "512 KiB");
        assert_eq!(bytes(612 * 1024 * 1024), "612 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_200_200_123), "2026-12-02T08:30:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
    }
}
