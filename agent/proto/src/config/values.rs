//! The kinds of value a config field holds (durations, bounded whole numbers, plain values):
//! how each is read, checked against its bounds and written back.

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MAX_DURATION;

const DURATION_HELP: &str = "use a number with a unit ms, s, m, h or d, e.g. \"15s\"";

/// Parses `"500ms"`, `"15s"`, `"10m"`, `"3d"` or compounds such as `"1h30m"`, at most
/// [`MAX_DURATION`]: past it, `Instant` arithmetic could overflow.
/// Whitespace and signs are rejected so that a typo never silently means something else.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {s:?}: {DURATION_HELP}");
    let too_large = || {
        format!(
            "duration {s:?} is too large: at most {}",
            format_duration(MAX_DURATION)
        )
    };
    if s.is_empty() {
        return Err(invalid());
    }
    let mut rest = s;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let (number, tail) = rest.split_at(digits);
        let letters = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(letters);
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(invalid()),
        };
        // Only overflow can make this fail: `number` is all ASCII digits.
        let n: u64 = number.parse().map_err(|_| too_large())?;
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(too_large)?;
        rest = tail;
    }
    let total = Duration::from_millis(total_ms);
    if total > MAX_DURATION {
        return Err(too_large());
    }
    Ok(total)
}

/// Compact form for config files and uptimes: `"1500ms"`, `"1m30s"`, `"2d3h"`, `"0s"`.
/// Milliseconds are dropped from a minute up, where they are noise in an uptime.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 60_000 {
        return if ms.is_multiple_of(1_000) {
            format!("{}s", ms / 1_000)
        } else {
            format!("{ms}ms")
        };
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    out
}

// Config files must round-trip, so unlike `format_duration` this keeps milliseconds.
fn format_duration_exact(d: Duration) -> String {
    if d >= Duration::from_secs(60) && d.subsec_millis() != 0 {
        format!("{}ms", d.as_millis())
    } else {
        format_duration(d)
    }
}

/// A duration written in config files as a string such as `"15s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl std::fmt::Display for Dur {
    /// The exact form a config file takes back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_duration_exact(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration_exact(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Time::<0>::read(deserializer).map(Dur)
    }
}

/// How one kind of field is read from a file and written back.
pub trait Kind {
    type Out;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self::Out, D::Error>;
    fn write<S: Serializer>(v: &Self::Out, s: S) -> Result<S::Ok, S::Error>;
}

/// For `#[serde(deserialize_with = "de::<_, KIND>")]`.
pub fn de<'de, D: Deserializer<'de>, K: Kind>(d: D) -> Result<K::Out, D::Error> {
    K::read(d)
}

/// For an `Option` field that is `None` when the key is absent.
pub fn de_opt<'de, D: Deserializer<'de>, K: Kind>(d: D) -> Result<Option<K::Out>, D::Error> {
    K::read(d).map(Some)
}

/// For `#[serde(serialize_with = "ser_opt::<KIND, _>")]` on an `Option` field.
pub fn ser_opt<K: Kind, S: Serializer>(v: &Option<K::Out>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&Written::<K>(v)),
        None => s.serialize_none(),
    }
}

/// Writes a value the way its kind reads it back.
pub struct Written<'a, K: Kind>(pub &'a K::Out);

impl<K: Kind> Serialize for Written<'_, K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        K::write(self.0, s)
    }
}

/// Anything serde reads as it is (booleans, enums, strings).
pub struct Plain<T>(PhantomData<T>);

impl<T: for<'de> Deserialize<'de> + Serialize> Kind for Plain<T> {
    type Out = T;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
    fn write<S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
}

/// A duration of at least `MIN_MS` milliseconds (and at most [`MAX_DURATION`]).
pub struct Time<const MIN_MS: u64>;

impl<const MIN_MS: u64> Kind for Time<MIN_MS> {
    type Out = Duration;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration string with a unit, e.g. \"10s\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                parse_duration(s).map_err(E::custom)
            }
        }
        let d = d.deserialize_str(V)?;
        let min = Duration::from_millis(MIN_MS);
        if d < min {
            return Err(de::Error::custom(format!(
                "must be at least {}",
                format_duration(min)
            )));
        }
        Ok(d)
    }
    fn write<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        Dur(*v).serialize(s)
    }
}

/// A whole number from `MIN` to `MAX`: every number a user writes has a documented bound,
/// so no arithmetic on it can overflow.
pub struct Num<T, const MIN: u64, const MAX: u64>(PhantomData<T>);

impl<T, const MIN: u64, const MAX: u64> Kind for Num<T, MIN, MAX>
where
    T: TryFrom<u64> + Into<u64> + Copy,
{
    type Out = T;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        struct V<const MIN: u64, const MAX: u64>;
        impl<const MIN: u64, const MAX: u64> Visitor<'_> for V<MIN, MAX> {
            type Value = u64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a whole number from {MIN} to {MAX}")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<u64, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!(
                        "must be a whole number from {MIN} to {MAX}"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<u64, E> {
                if n > MAX {
                    Err(E::custom(format!("{n} is too large: at most {MAX}")))
                } else if n < MIN {
                    Err(E::custom(format!(
                        "must be a whole number from {MIN} to {MAX}"
                    )))
                } else {
                    Ok(n)
                }
            }
        }
        let n = d.deserialize_u64(V::<MIN, MAX>)?;
        T::try_from(n).map_err(|_| de::Error::custom(format!("{n} is too large: at most {MAX}")))
    }
    fn write<S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64((*v).into())
    }
}

/// A percentage from 1 to 100.
pub type Percent = Num<u32, 1, 100>;

/// An opt-in whole number from `MIN` to `MAX`, or `0` for none (which also turns off a value
/// inherited from a lower level).
pub struct OffOr<T, const MIN: u64, const MAX: u64>(PhantomData<T>);

impl<T, const MIN: u64, const MAX: u64> Kind for OffOr<T, MIN, MAX>
where
    T: TryFrom<u64> + Into<u64> + Copy,
{
    type Out = Option<T>;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        let n = Num::<u64, 0, MAX>::read(d)?;
        if n == 0 {
            return Ok(None);
        }
        if n < MIN {
            return Err(de::Error::custom(format!(
                "must be 0 (none) or a whole number from {MIN} to {MAX}"
            )));
        }
        T::try_from(n)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{n} is too large: at most {MAX}")))
    }
    fn write<S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.map_or(0, Into::into))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_compounds() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("15s"), Ok(ms(15_000)));
        assert_eq!(parse_duration("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("3650d"), Ok(MAX_DURATION));
        for bad in ["", "15", "5 m", "-1s", "1x", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_beyond_ten_years_are_refused_with_the_bound() {
        for huge in [
            "3651d",
            "100000000d",
            "18446744073709551615ms",
            "99999999999999999999s",
        ] {
            let e = parse_duration(huge).expect_err(huge);
            assert!(e.contains("too large: at most 3650d"), "{e}");
        }
    }

    #[test]
    fn format_round_trips() {
        for text in ["0s", "1500ms", "1m30s", "2d3h", "61500ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration_exact(d), text);
        }
    }
}
