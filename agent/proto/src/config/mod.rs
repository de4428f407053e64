//! botctl's configuration: the global `botctl.toml`, the per-bot `bots.d/NAME.toml` files and
//! templates. Each struct is its file's schema; every default and bound is defined here once.

mod bot;
mod document;
mod global;
mod hosts;
mod schedule;
mod template;
mod values;

#[cfg(test)]
mod tests;

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize};

pub use bot::*;
pub use global::*;
pub use hosts::*;
pub use schedule::Schedule;
pub use template::*;
pub use values::{Dur, format_duration, parse_duration};

use crate::fsread;
use document::Document;
use values::Kind;

// The documented defaults. Everything else refers to these, so the documentation and the
// behaviour cannot drift apart.
pub const DEFAULT_RESTART_MODE: RestartMode = RestartMode::Always;
pub const DEFAULT_STABLE_AFTER: Duration = Duration::from_secs(30);
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_RESTARTS: u32 = 5;
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_LOG_MAX_SIZE_MB: u64 = 10;
pub const DEFAULT_LOG_KEEP: u32 = 5;
pub const DEFAULT_PLATFORM: Platform = Platform::Generic;
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(15);
pub const MIN_HEALTH_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_SAMPLE_RETENTION: Duration = Duration::from_secs(7 * 86_400);
pub const DEFAULT_MAX_BOTS_PER_USER: u32 = 50;
pub const DEFAULT_MAX_TOTAL_BOTS: u32 = 200;
pub const DEFAULT_MAX_MEMORY_MB: u64 = 512;
pub const DEFAULT_MAX_CPU_PERCENT: u32 = 95;
pub const DEFAULT_MEMORY_SAMPLES: u32 = 2;
pub const DEFAULT_CPU_SAMPLES: u32 = 3;
pub const DEFAULT_RESTART_ON_PRESSURE: bool = true;
pub const DEFAULT_MEMORY_THRESHOLD_PERCENT: u32 = 80;
pub const DEFAULT_FORECAST_WINDOW: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_FORECAST_HORIZON: Duration = Duration::from_secs(3600);
pub const DEFAULT_FORECAST_MIN_SAMPLES: u32 = 10;
pub const DEFAULT_RESTART_BEFORE_LIMIT: bool = false;
pub const DEFAULT_MAX_DISK_PERCENT: u32 = 90;
pub const DEFAULT_PRESSURE_COOLDOWN: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_START_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_CHECK_FAILURES: u32 = 3;
pub const DEFAULT_READY: ReadyMode = ReadyMode::Started;
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(90);
pub const DEFAULT_STORAGE_QUOTA_MB: u64 = 1024;
pub const DEFAULT_AUTH_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_REPEAT_AFTER: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_TELEGRAM_API: &str = "https://api.telegram.org";
pub const DEFAULT_MIN_LEVEL: &str = "info";
pub const DEFAULT_UPDATE_BRANCH: &str = "main";
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_RATE_PER_MINUTE: u32 = 60;
pub const DEFAULT_TOKEN_RATE_PER_MINUTE: u32 = 120;
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
pub const DEFAULT_WARN_BEFORE: Duration = Duration::from_secs(3 * 86_400);
pub const DEFAULT_PROBE_METHOD: &str = "GET";
pub const DEFAULT_PROBE_EXPECT: u16 = 200;
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);
pub const DEFAULT_TEMP_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_ENABLED: bool = true;
pub const DEFAULT_CONTAINMENT: ContainmentMode = ContainmentMode::Auto;
/// Tasks (processes and threads) one bot may have, where the pids controller is enabled.
pub const DEFAULT_MAX_PIDS: u32 = 512;
/// `cpu.max` and `RLIMIT_NOFILE` are opt-in: none unless set.
pub const DEFAULT_CPU_QUOTA_PERCENT: Option<u32> = None;
pub const DEFAULT_NOFILE: Option<u64> = None;
pub const DEFAULT_NO_NEW_PRIVS: bool = true;
pub const DEFAULT_CORE_DUMPS: bool = false;
/// `BOTCTL_CONTAINMENT` in the agent's environment wins over `[agent] containment` (tests,
/// and a quick way to try the fallback).
pub const CONTAINMENT_ENV: &str = "BOTCTL_CONTAINMENT";
/// `BOTCTL_CGROUP_ROOT` in the agent's environment: the directory containment takes for the
/// cgroup v2 mount (the agent in its root cgroup) instead of the one /proc names, so that
/// tests can point discovery at a stand-in that is not usable.
pub const CGROUP_ROOT_ENV: &str = "BOTCTL_CGROUP_ROOT";

// The bounds: every number a user writes stays where arithmetic on it cannot overflow.
/// Ten years: `Instant + MAX_DURATION` never overflows, and nobody waits longer.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);
/// 16 TiB in MiB: `* 1024 * 1024` stays far inside u64.
pub const MAX_MIB: u64 = 16 * 1024 * 1024;
/// Rotated copies of one log: rotation looks at each name, so it must stay small.
pub const MAX_LOG_KEEP: u64 = 100;
pub const MAX_RESTARTS: u64 = 10_000;
/// % of one core: 1024 cores.
pub const MAX_CPU_PERCENT: u64 = 102_400;
pub const MAX_SAMPLES: u64 = 1_000;
/// A line through fewer points than this says nothing about a trend.
pub const MIN_FORECAST_SAMPLES: u64 = 3;
pub const MAX_BOTS: u64 = 100_000;
pub const MAX_CHECK_FAILURES: u64 = 1_000;
pub const MAX_RATE_PER_MINUTE: u64 = 100_000;
/// The kernel's own ceiling for pids (`pid_max` on 64-bit).
pub const MAX_PIDS: u64 = 4_194_304;
/// The kernel's ceiling for open files (`nr_open`'s largest value).
pub const MAX_NOFILE: u64 = 1_073_741_816;
/// Variables botctl sets for every bot; a bot's `env` cannot override them.
pub const RESERVED_ENV_PREFIX: &str = "BOTCTL_";

const NAME_MAX: usize = 64;

/// What is wrong, where. `field` is a dotted path such as `restart.backoff_max`; `location`
/// the line and column (from 1) in the file, when the problem has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub field: Option<String>,
    pub message: String,
    pub location: Option<(u32, u32)>,
}

impl Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.location {
            write!(f, ":{line}:{column}")?;
        }
        match &self.field {
            Some(field) => write!(f, ": field `{field}`: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

fn file_error(file: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_path_buf(),
        field: None,
        message: message.into(),
        location: None,
    }
}

/// Every problem of one file; the first is the one a one-line summary shows.
pub type Problems = Vec<ConfigError>;

pub fn first(problems: Problems) -> ConfigError {
    problems
        .into_iter()
        .next()
        .expect("a failed read has at least one problem")
}

pub fn valid_bot_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= NAME_MAX
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub fn valid_owner_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= NAME_MAX
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A group of settings read key by key, so that two groups can share one table
/// (the global `[limits]` holds the per-bot limits and the fleet's).
pub trait Fields: Default {
    fn names(out: &mut Vec<&'static str>);
    /// Reads `key`'s value; false when `key` is not one of this group's.
    fn read_value<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error>;
    fn write_values<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

/// Reads a table into `T`, refusing any key `T` does not have.
fn read_fields<'de, D: Deserializer<'de>, T: Fields>(d: D) -> Result<T, D::Error> {
    struct Table<T>(PhantomData<T>);
    impl<'de, T: Fields> Visitor<'de> for Table<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut names = Vec::new();
            T::names(&mut names);
            let mut out = T::default();
            while let Some(key) = map.next_key_seed(KnownKey(&names))? {
                out.read_value(&key, &mut map)?;
            }
            Ok(out)
        }
    }
    d.deserialize_map(Table(PhantomData))
}

// Refused while the key is read, so the error points at the key.
struct KnownKey<'a>(&'a [&'static str]);

impl<'de> DeserializeSeed<'de> for KnownKey<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let key = String::deserialize(d)?;
        if self.0.contains(&key.as_str()) {
            return Ok(key);
        }
        let allowed: Vec<String> = self.0.iter().map(|n| format!("`{n}`")).collect();
        Err(de::Error::custom(format!(
            "unknown field `{key}`, expected one of {}",
            allowed.join(", ")
        )))
    }
}

/// Reads one value as kind `K`.
struct Seed<K>(PhantomData<K>);

impl<'de, K: Kind> DeserializeSeed<'de> for Seed<K> {
    type Value = K::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Out, D::Error> {
        K::read(d)
    }
}

/// Declares a group of settings once: `$over` is what a file wrote (every field optional,
/// read and written by its kind), `$resolved` the values with every level applied, starting
/// from the defaults given here. Each `embed` puts another group in the same table.
/// `@over` alone declares only what a file writes, for groups resolved elsewhere.
macro_rules! layered {
    (
        @over $(#[$om:meta])* $over:ident;
        $( embed $ename:ident: $eover:ty; )*
        {
            $( $(#[doc = $doc:literal])* $field:ident: $kind:ty $(= $default:expr)?; )*
        }
    ) => {
        $(#[$om])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $over {
            $( pub $ename: $eover, )*
            $( $(#[doc = $doc])* pub $field: Option<<$kind as $crate::config::values::Kind>::Out>, )*
        }

        impl $over {
            pub fn is_empty(&self) -> bool {
                *self == Self::default()
            }
        }

        impl $crate::config::Fields for $over {
            fn names(out: &mut Vec<&'static str>) {
                $( <$eover as $crate::config::Fields>::names(out); )*
                $( out.push(stringify!($field)); )*
            }
            fn read_value<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                $( if self.$ename.read_value(key, map)? { return Ok(true); } )*
                let known = match key {
                    $( stringify!($field) => {
                        self.$field = Some(map.next_value_seed(
                            $crate::config::seed::<$kind>())?);
                        true
                    } )*
                    _ => false,
                };
                Ok(known)
            }
            fn write_values<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                $( self.$ename.write_values(map)?; )*
                $( if let Some(v) = &self.$field {
                    map.serialize_entry(
                        stringify!($field),
                        &$crate::config::values::Written::<$kind>(v),
                    )?;
                } )*
                Ok(())
            }
        }

        impl<'de> serde::Deserialize<'de> for $over {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::config::read_fields(d)
            }
        }

        impl serde::Serialize for $over {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(None)?;
                $crate::config::Fields::write_values(self, &mut map)?;
                map.end()
            }
        }
    };
    (
        $(#[$rm:meta])* pub struct $resolved:ident;
        $(#[$om:meta])* pub struct $over:ident;
        $( embed $ename:ident: $eresolved:ty, $eover:ty; )*
        {
            $( $(#[doc = $doc:literal])* $field:ident: $kind:ty = $default:expr; )*
        }
    ) => {
        $crate::config::layered! {
            @over $(#[$om])* $over;
            $( embed $ename: $eover; )*
            { $( $(#[doc = $doc])* $field: $kind; )* }
        }

        $(#[$rm])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $resolved {
            $( pub $ename: $eresolved, )*
            $( $(#[doc = $doc])* pub $field: <$kind as $crate::config::values::Kind>::Out, )*
        }

        impl Default for $resolved {
            fn default() -> Self {
                Self {
                    $( $ename: Default::default(), )*
                    $( $field: $default, )*
                }
            }
        }

        impl $resolved {
            /// These values with what `o` sets on top.
            pub fn with(&self, o: &$over) -> Self {
                Self {
                    $( $ename: self.$ename.with(&o.$ename), )*
                    $( $field: o.$field.clone().unwrap_or_else(|| self.$field.clone()), )*
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $resolved {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$over as serde::Deserialize>::deserialize(d).map(|o| Self::default().with(&o))
            }
        }
    };
}
pub(crate) use layered;

fn seed<K: Kind>() -> Seed<K> {
    Seed(PhantomData)
}

/// Reads a file botctl is pointed at (regular files only, size-capped), or None when it
/// does not exist.
fn read_file(path: &Path) -> Result<Option<String>, ConfigError> {
    match fsread::read_regular_string(path, fsread::CONFIG_FILE_CAP) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(unreadable(path, &e)),
    }
}

/// "cannot read: No such file or directory", "cannot read: is a FIFO, not a regular file".
fn unreadable(path: &Path, e: &fsread::ReadError) -> ConfigError {
    file_error(path, format!("cannot read: {e}"))
}

/// Every problem of `text` read as `T`, then `check`'s (field, message) findings.
fn parse_file<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    check: impl FnOnce(&T) -> Vec<(String, String)>,
) -> Result<T, Problems> {
    let doc = Document::parse(path, text).map_err(|e| vec![e])?;
    let value: T = doc.read()?;
    let problems: Problems = check(&value)
        .into_iter()
        .map(|(field, message)| doc.problem(&field, message))
        .collect();
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    }
}

/// Every bot in `bots.d`: the good ones, and an error for each bad one so that one
/// broken file never takes the rest of the fleet down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    pub bots: Vec<BotConfig>,
    /// The first problem of each bad file.
    pub errors: Vec<ConfigError>,
    pub listing: Listing,
    /// Every problem of each bad file, for `config check`.
    pub problems: Vec<Problems>,
}

/// What listing `bots.d` found: a folder that is gone means "no bots", one that cannot be read
/// means "the bots are unknown", never "no bots".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Listing {
    #[default]
    Read,
    Missing,
    /// Not a directory, an I/O error, no permission: the error is in `Fleet::errors`.
    Unreadable,
}

pub fn load_fleet(bots_dir: &Path) -> Fleet {
    let unreadable = |e: std::io::Error| {
        let e = file_error(bots_dir, format!("cannot read directory: {e}"));
        Fleet {
            errors: vec![e.clone()],
            problems: vec![vec![e]],
            listing: Listing::Unreadable,
            ..Fleet::default()
        }
    };
    let entries = match std::fs::read_dir(bots_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Fleet {
                listing: Listing::Missing,
                ..Fleet::default()
            };
        }
        Err(e) => return unreadable(e),
    };
    // An entry the listing could not give is a bot that may exist: the whole listing fails
    // rather than drop it (dropping would stop the bot as removed).
    let entries = match entries.collect::<Result<Vec<_>, _>>() {
        Ok(entries) => entries,
        Err(e) => return unreadable(e),
    };
    let mut fleet = Fleet::default();
    let mut paths: Vec<PathBuf> = entries
        .into_iter()
        .filter(|entry| {
            // Hidden files and editor leftovers (`x.toml~`, `.x.toml.swp`) are not bots.
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".toml"))
                // The directory listing says what an entry is: a stat per file only for
                // links (a fleet of 200 read 200 stats more than it needed).
                && !match entry.file_type() {
                    Ok(t) if !t.is_symlink() => t.is_dir(),
                    _ => entry.path().is_dir(),
                }
        })
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    for path in paths {
        match check_bot(&path) {
            Ok(bot) => fleet.bots.push(bot),
            Err(problems) => {
                fleet.errors.push(problems[0].clone());
                fleet.problems.push(problems);
            }
        }
    }
    fleet
}
