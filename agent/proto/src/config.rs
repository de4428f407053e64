//! botctl's configuration: parsing and validating the global `botctl.toml` and the
//! per-bot `bots.d/NAME.toml` files, with every default documented in one place.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fsread;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::Value;

// The documented defaults. Everything else in this module refers to these, so the
// documentation and the behaviour cannot drift apart.
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
pub const DEFAULT_MAX_DISK_PERCENT: u32 = 90;
pub const DEFAULT_PRESSURE_COOLDOWN: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_START_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_CHECK_FAILURES: u32 = 3;
pub const DEFAULT_STORAGE_QUOTA_MB: u64 = 1024;
pub const DEFAULT_AUTH_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_REPEAT_AFTER: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_TELEGRAM_API: &str = "https://api.telegram.org";
pub const DEFAULT_MIN_LEVEL: &str = "info";
pub const DEFAULT_UPDATE_BRANCH: &str = "main";
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_RATE_PER_MINUTE: u32 = 60;
pub const DEFAULT_WARN_BEFORE: Duration = Duration::from_secs(3 * 86_400);
pub const DEFAULT_PROBE_METHOD: &str = "GET";
pub const DEFAULT_PROBE_EXPECT: u16 = 200;
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);
pub const DEFAULT_TEMP_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_ENABLED: bool = true;

const GLOBAL_FIELDS: &[&str] = &[
    "agent", "restart", "logs", "limits", "users", "cleanup", "notify", "remote",
];
const NOTIFY_FIELDS: &[&str] = &["repeat_after", "telegram", "webhook"];
const NOTIFY_TELEGRAM_FIELDS: &[&str] = &["token_file", "chat_ids", "api_base", "min_level"];
const NOTIFY_WEBHOOK_FIELDS: &[&str] = &["url", "secret_file", "min_level"];
const REMOTE_FIELDS: &[&str] = &["telegram", "http"];
const REMOTE_TELEGRAM_FIELDS: &[&str] = &["token_file", "admins", "api_base"];
const REMOTE_HTTP_FIELDS: &[&str] = &["listen", "secret_file", "rate_per_minute"];
const UPDATE_FIELDS: &[&str] = &["repo", "branch", "update_command", "timeout"];
const AGENT_FIELDS: &[&str] = &[
    "health_interval",
    "sample_retention",
    "cleanup_interval",
    "auth_interval",
    "report_interval",
];
const AUTH_FIELDS: &[&str] = &[
    "cookies",
    "required",
    "warn_before",
    "on_invalid",
    "probe_url",
    "probe_method",
    "probe_expect",
    "probe_headers_file",
];
const CLEANUP_FIELDS: &[&str] = &["temp_max_age", "orphan_grace"];
/// Per-bot limits: allowed in a bot's [limits], in [users.NAME] and in the global [limits].
const BOT_LIMIT_FIELDS: &[&str] = &[
    "max_memory_mb",
    "max_cpu_percent",
    "memory_samples",
    "cpu_samples",
    "restart_on_pressure",
];
/// Only in the global [limits] (and, for the first, [users.NAME]).
const FLEET_LIMIT_FIELDS: &[&str] = &[
    "max_bots_per_user",
    "storage_quota_mb",
    "max_total_bots",
    "memory_threshold_percent",
    "max_disk_percent",
    "pressure_cooldown",
];
const HEALTH_FIELDS: &[&str] = &[
    "port",
    "http",
    "expect",
    "interval",
    "timeout",
    "start_grace",
    "failures",
];
const RESTART_FIELDS: &[&str] = &[
    "policy",
    "stable_after",
    "backoff_initial",
    "backoff_max",
    "max_restarts",
    "window",
    "retry_after",
    "stop_timeout",
];
const LOG_FIELDS: &[&str] = &["max_size_mb", "keep"];
const BOT_FIELDS: &[&str] = &[
    "user",
    "command",
    "cwd",
    "env",
    "platform",
    "enabled",
    "stop_timeout",
    "template",
    "restart",
    "limits",
    "health",
    "auth",
    "update",
];

const DURATION_HELP: &str = "use a number with a unit ms, s, m, h or d, e.g. \"15s\"";
const COMMAND_HELP: &str =
    "must be a non-empty array of strings, e.g. command = [\"python3\", \"bot.py\"]";
const NAME_MAX: usize = 64;

/// Parses `"500ms"`, `"15s"`, `"10m"`, `"3d"` or compounds such as `"1h30m"`.
/// Whitespace and signs are rejected so that a typo never silently means something else.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {s:?}: {DURATION_HELP}");
    let too_large = || format!("duration {s:?} is too large");
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
    Ok(Duration::from_millis(total_ms))
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

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration_exact(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    Always,
    OnFailure,
    Never,
}

impl RestartMode {
    pub const ALL: [RestartMode; 3] = [Self::Always, Self::OnFailure, Self::Never];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnFailure => "on-failure",
            Self::Never => "never",
        }
    }
}

impl Display for RestartMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Twitter,
    Messenger,
    Telegram,
    Generic,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Self::Twitter,
        Self::Messenger,
        Self::Telegram,
        Self::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twitter => "twitter",
            Self::Messenger => "messenger",
            Self::Telegram => "telegram",
            Self::Generic => "generic",
        }
    }
}

impl Default for Platform {
    fn default() -> Self {
        DEFAULT_PLATFORM
    }
}

impl Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `[restart]` section as written: each field overrides the level below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<RestartMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable_after: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_initial: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_max: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<Dur>,
}

impl RestartOverrides {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Restart settings with every level of configuration applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    pub policy: RestartMode,
    pub stable_after: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub max_restarts: u32,
    pub window: Duration,
    pub retry_after: Duration,
    pub stop_timeout: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            policy: DEFAULT_RESTART_MODE,
            stable_after: DEFAULT_STABLE_AFTER,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            max_restarts: DEFAULT_MAX_RESTARTS,
            window: DEFAULT_WINDOW,
            retry_after: DEFAULT_RETRY_AFTER,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }
}

impl RestartPolicy {
    pub fn with(&self, o: &RestartOverrides) -> RestartPolicy {
        let dur = |o: Option<Dur>, base: Duration| o.map_or(base, |d| d.0);
        RestartPolicy {
            policy: o.policy.unwrap_or(self.policy),
            stable_after: dur(o.stable_after, self.stable_after),
            backoff_initial: dur(o.backoff_initial, self.backoff_initial),
            backoff_max: dur(o.backoff_max, self.backoff_max),
            max_restarts: o.max_restarts.unwrap_or(self.max_restarts),
            window: dur(o.window, self.window),
            retry_after: dur(o.retry_after, self.retry_after),
            stop_timeout: dur(o.stop_timeout, self.stop_timeout),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub max_size_mb: u64,
    pub keep: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            max_size_mb: DEFAULT_LOG_MAX_SIZE_MB,
            keep: DEFAULT_LOG_KEEP,
        }
    }
}

/// `[agent]`: how often the agent looks at things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    pub health_interval: Duration,
    pub sample_retention: Duration,
    pub cleanup_interval: Duration,
    pub auth_interval: Duration,
    /// A summary alert this often; zero turns it off.
    pub report_interval: Duration,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            health_interval: DEFAULT_HEALTH_INTERVAL,
            sample_retention: DEFAULT_SAMPLE_RETENTION,
            cleanup_interval: DEFAULT_CLEANUP_INTERVAL,
            auth_interval: DEFAULT_AUTH_INTERVAL,
            report_interval: DEFAULT_REPORT_INTERVAL,
        }
    }
}

/// `[cleanup]`: what counts as garbage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupSettings {
    pub temp_max_age: Duration,
    pub orphan_grace: Duration,
}

impl Default for CleanupSettings {
    fn default() -> Self {
        Self {
            temp_max_age: DEFAULT_TEMP_MAX_AGE,
            orphan_grace: DEFAULT_ORPHAN_GRACE,
        }
    }
}

/// Per-bot resource limits as written in a bot's `[limits]` or in `[users.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LimitOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cpu_percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_samples: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_samples: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_on_pressure: Option<bool>,
}

impl LimitOverrides {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The limits that apply to one bot: global `[limits]`, then its owner's, then its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotLimits {
    pub max_memory_mb: u64,
    pub max_cpu_percent: u32,
    /// A limit must be exceeded in this many consecutive samples before it acts.
    pub memory_samples: u32,
    pub cpu_samples: u32,
    pub restart_on_pressure: bool,
}

impl Default for BotLimits {
    fn default() -> Self {
        Self {
            max_memory_mb: DEFAULT_MAX_MEMORY_MB,
            max_cpu_percent: DEFAULT_MAX_CPU_PERCENT,
            memory_samples: DEFAULT_MEMORY_SAMPLES,
            cpu_samples: DEFAULT_CPU_SAMPLES,
            restart_on_pressure: DEFAULT_RESTART_ON_PRESSURE,
        }
    }
}

impl BotLimits {
    pub fn with(&self, o: &LimitOverrides) -> BotLimits {
        BotLimits {
            max_memory_mb: o.max_memory_mb.unwrap_or(self.max_memory_mb),
            max_cpu_percent: o.max_cpu_percent.unwrap_or(self.max_cpu_percent),
            memory_samples: o.memory_samples.unwrap_or(self.memory_samples),
            cpu_samples: o.cpu_samples.unwrap_or(self.cpu_samples),
            restart_on_pressure: o.restart_on_pressure.unwrap_or(self.restart_on_pressure),
        }
    }
}

/// The global `[limits]`: per-bot defaults plus fleet and host limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetLimits {
    pub bot: BotLimits,
    pub max_bots_per_user: u32,
    pub max_total_bots: u32,
    pub memory_threshold_percent: u32,
    pub max_disk_percent: u32,
    pub pressure_cooldown: Duration,
    pub storage_quota_mb: u64,
}

impl Default for FleetLimits {
    fn default() -> Self {
        Self {
            bot: BotLimits::default(),
            storage_quota_mb: DEFAULT_STORAGE_QUOTA_MB,
            max_bots_per_user: DEFAULT_MAX_BOTS_PER_USER,
            max_total_bots: DEFAULT_MAX_TOTAL_BOTS,
            memory_threshold_percent: DEFAULT_MEMORY_THRESHOLD_PERCENT,
            max_disk_percent: DEFAULT_MAX_DISK_PERCENT,
            pressure_cooldown: DEFAULT_PRESSURE_COOLDOWN,
        }
    }
}

/// `[users.NAME]`: one owner's overrides of `[limits]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSettings {
    pub max_bots_per_user: Option<u32>,
    pub storage_quota_mb: Option<u64>,
    pub limits: LimitOverrides,
}

/// A bot's `[health]` checks, with defaults applied (`interval` falls back to the agent's
/// `health_interval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// Accepted HTTP statuses; empty means any 2xx.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
    pub timeout: Dur,
    pub start_grace: Dur,
    pub failures: u32,
}

/// What to do when a bot's session is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    /// Stop the bot (state auth-invalid) until the session is valid again.
    Stop,
    /// Only say so (event and alert); the bot keeps running.
    Alert,
}

/// A bot's `[auth]`: its session cookies and how to check them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthConfig {
    /// Path of the cookie file, relative to the bot's directory.
    pub cookies: String,
    /// Cookies that must be present; None means the platform's preset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    pub warn_before: Dur,
    pub on_invalid: OnInvalid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_url: Option<String>,
    pub probe_method: String,
    pub probe_expect: Vec<u16>,
    /// A TOML file of `Header = "value"` lines (secrets), relative to the bot's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_headers_file: Option<String>,
}

/// A bot's `[update]`: where its code comes from, for `botctl update` and GitHub pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateConfig {
    /// "owner/name" on GitHub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub branch: String,
    /// Run instead of `git pull --ff-only`, in the bot's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_command: Option<Vec<String>>,
    pub timeout: Dur,
}

/// `[notify.telegram]`: alerts to Telegram chats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramNotify {
    /// A file holding the bot token (never the token inline).
    pub token_file: PathBuf,
    pub chat_ids: Vec<i64>,
    pub api_base: String,
    pub min_level: String,
}

/// `[notify.webhook]`: the same alerts as JSON POSTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookNotify {
    pub url: String,
    pub secret_file: Option<PathBuf>,
    pub min_level: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub repeat_after: Duration,
    pub telegram: Option<TelegramNotify>,
    pub webhook: Option<WebhookNotify>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            repeat_after: DEFAULT_REPEAT_AFTER,
            telegram: None,
            webhook: None,
        }
    }
}

/// `[remote.telegram]`: admin commands by long polling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramRemote {
    pub token_file: PathBuf,
    pub admins: Vec<i64>,
    pub api_base: String,
}

/// `[remote.http]`: `/health` and signed GitHub webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRemote {
    pub listen: std::net::SocketAddr,
    /// The GitHub webhook secret; without it `/github` answers 404.
    pub secret_file: Option<PathBuf>,
    pub rate_per_minute: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteSettings {
    pub telegram: Option<TelegramRemote>,
    pub http: Option<HttpRemote>,
}

/// `botctl.toml` with defaults applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalConfig {
    pub restart: RestartPolicy,
    pub logs: LogSettings,
    pub agent: AgentSettings,
    pub limits: FleetLimits,
    pub users: BTreeMap<String, UserSettings>,
    pub cleanup: CleanupSettings,
    pub notify: NotifySettings,
    pub remote: RemoteSettings,
}

impl GlobalConfig {
    pub fn storage_quota_for(&self, owner: &str) -> u64 {
        self.users
            .get(owner)
            .and_then(|u| u.storage_quota_mb)
            .unwrap_or(self.limits.storage_quota_mb)
    }

    pub fn max_bots_for(&self, owner: &str) -> u32 {
        self.users
            .get(owner)
            .and_then(|u| u.max_bots_per_user)
            .unwrap_or(self.limits.max_bots_per_user)
    }
}

/// One `bots.d/NAME.toml`. `restart` stays unresolved because the global file may
/// change independently; resolve with [`BotConfig::policy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotConfig {
    pub name: String,
    pub user: String,
    pub command: Vec<String>,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
    pub platform: Platform,
    pub enabled: bool,
    pub stop_timeout: Option<Duration>,
    pub template: Option<String>,
    pub restart: RestartOverrides,
    pub limits: LimitOverrides,
    pub health: Option<HealthCheck>,
    pub auth: Option<AuthConfig>,
    pub update: Option<UpdateConfig>,
}

// Field order here is the order `to_toml` writes them in.
#[derive(Serialize)]
struct BotFileOut<'a> {
    user: &'a str,
    command: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_timeout: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "RestartOverrides::is_empty")]
    restart: &'a RestartOverrides,
    #[serde(skip_serializing_if = "LimitOverrides::is_empty")]
    limits: &'a LimitOverrides,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<&'a HealthCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<&'a AuthConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update: Option<&'a UpdateConfig>,
}

impl BotConfig {
    pub fn policy(&self, global: &GlobalConfig) -> RestartPolicy {
        let mut policy = global.restart.with(&self.restart);
        if let Some(t) = self.stop_timeout {
            policy.stop_timeout = t;
        }
        policy
    }

    pub fn limits(&self, global: &GlobalConfig) -> BotLimits {
        let mut limits = global.limits.bot.clone();
        if let Some(user) = global.users.get(&self.user) {
            limits = limits.with(&user.limits);
        }
        limits.with(&self.limits)
    }

    pub fn to_toml(&self) -> String {
        let out = BotFileOut {
            user: &self.user,
            command: &self.command,
            cwd: self.cwd.as_deref(),
            platform: (self.platform != DEFAULT_PLATFORM).then_some(self.platform),
            enabled: (self.enabled != DEFAULT_ENABLED).then_some(self.enabled),
            stop_timeout: self.stop_timeout.map(Dur),
            template: self.template.as_deref(),
            env: &self.env,
            restart: &self.restart,
            limits: &self.limits,
            health: self.health.as_ref(),
            auth: self.auth.as_ref(),
            update: self.update.as_ref(),
        };
        toml::to_string(&out).expect("strings, arrays and tables always serialize to TOML")
    }
}

/// What is wrong, where. `field` is a dotted path such as `restart.backoff_max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub field: Option<String>,
    pub message: String,
}

impl Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "{}: field `{field}`: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

fn file_error(file: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_path_buf(),
        field: None,
        message: message.into(),
    }
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

fn valid_env_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_table(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        // Only the parser's own message is shown, never the source around it: the
        // offending text could be part of an `env` value.
        let message = e.message().trim();
        match e.span() {
            Some(span) => {
                let before = &text.as_bytes()[..span.start.min(text.len())];
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let line_start = before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let column = before[line_start..]
                    .iter()
                    .filter(|&&b| b & 0xC0 != 0x80)
                    .count()
                    + 1;
                file_error(
                    path,
                    format!("line {line}, column {column}: invalid TOML: {message}"),
                )
            }
            None => file_error(path, format!("invalid TOML: {message}")),
        }
    })
}

/// One table of a file, with the dotted path that errors about its keys report.
struct Section<'a> {
    file: &'a Path,
    prefix: String,
    table: &'a toml::Table,
}

impl<'a> Section<'a> {
    fn field(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            field: Some(self.field(key)),
            message: message.into(),
        }
    }

    fn check_keys(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        match self.table.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) if allowed.is_empty() => Err(self.err(
                key,
                format!("unknown field; [{}] has no settings yet", self.prefix),
            )),
            Some(key) => Err(self.err(
                key,
                format!("unknown field; allowed here: {}", allowed.join(", ")),
            )),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    fn section(&self, key: &str) -> Result<Option<Section<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(table)) => Ok(Some(Section {
                file: self.file,
                prefix: self.field(key),
                table,
            })),
            Some(_) => Err(self.err(
                key,
                format!(
                    "must be a section: put its settings under a [{}] line",
                    self.field(key)
                ),
            )),
        }
    }

    fn string(&self, key: &str, example: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err(key, format!("must be a string, e.g. {key} = {example}"))),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "must be true or false")),
        }
    }

    fn duration(&self, key: &str) -> Result<Option<Dur>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => parse_duration(s)
                .map(|d| Some(Dur(d)))
                .map_err(|m| self.err(key, m)),
            Some(_) => Err(self.err(
                key,
                format!("must be a duration string with a unit, e.g. {key} = \"10s\""),
            )),
        }
    }

    fn whole<T: TryFrom<i64> + Display>(
        &self,
        key: &str,
        min: i64,
        max: T,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) if *n >= min => T::try_from(*n)
                .map(Some)
                .map_err(|_| self.err(key, format!("must be a whole number from {min} to {max}"))),
            Some(_) => Err(self.err(key, format!("must be a whole number >= {min}"))),
        }
    }

    fn restart_mode(&self, key: &str) -> Result<Option<RestartMode>, ConfigError> {
        let Some(name) = self.string(key, "\"on-failure\"")? else {
            return Ok(None);
        };
        match RestartMode::ALL.into_iter().find(|m| m.as_str() == name) {
            Some(mode) => Ok(Some(mode)),
            None => Err(self.err(
                key,
                format!("unknown restart policy {name:?}: use always, on-failure or never"),
            )),
        }
    }

    fn command(&self) -> Result<Vec<String>, ConfigError> {
        let command = match self.get("command") {
            None => {
                return Err(self.err(
                    "command",
                    "missing: every bot needs a command, e.g. command = [\"python3\", \"bot.py\"]",
                ));
            }
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err("command", COMMAND_HELP))?,
            Some(_) => return Err(self.err("command", COMMAND_HELP)),
        };
        if command[0].is_empty() {
            return Err(self.err(
                "command",
                "the program (first element) must not be empty, e.g. command = [\"python3\", \"bot.py\"]",
            ));
        }
        Ok(command)
    }

    fn env(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        let env = match self.get("env") {
            None => BTreeMap::new(),
            Some(Value::Table(vars)) => {
                let mut env = BTreeMap::new();
                for (key, value) in vars {
                    if !valid_env_key(key) {
                        return Err(self.err(
                            "env",
                            format!(
                                "invalid variable name {key:?}: use letters, digits and _, \
                                 not starting with a digit"
                            ),
                        ));
                    }
                    // The value may be a secret: the message names the key only.
                    let Value::String(value) = value else {
                        return Err(self.err(
                            &format!("env.{key}"),
                            format!(
                                "must be a string; quote numbers and booleans, e.g. {key} = \"1\""
                            ),
                        ));
                    };
                    env.insert(key.clone(), value.clone());
                }
                env
            }
            Some(_) => {
                return Err(self.err(
                    "env",
                    "must be a table of strings, e.g. env = { LOG_LEVEL = \"info\" }",
                ));
            }
        };
        Ok(env)
    }

    fn platform(&self) -> Result<Option<Platform>, ConfigError> {
        let platform = match self.string("platform", "\"telegram\"")? {
            None => DEFAULT_PLATFORM,
            Some(name) => Platform::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
                .ok_or_else(|| {
                    self.err(
                        "platform",
                        format!(
                            "unknown platform {name:?}: use twitter, messenger, telegram or generic"
                        ),
                    )
                })?,
        };
        Ok(Some(platform))
    }

    /// Relative paths inside a template: no `..`, not absolute, not empty.
    fn relative_paths(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        let help =
            format!("must be a list of paths inside the template, e.g. {key} = [\"config.json\"]");
        let items = match self.get(key) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(self.err(key, help)),
        };
        let mut out = Vec::new();
        for item in items {
            let Some(p) = item.as_str() else {
                return Err(self.err(key, help));
            };
            let path = Path::new(p);
            let plain = !p.is_empty()
                && path.is_relative()
                && path
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err(self.err(
                    key,
                    format!("{p:?} must be a relative path inside the template, without `..`"),
                ));
            }
            out.push(p.to_string());
        }
        Ok(out)
    }

    fn limit_overrides(&self) -> Result<LimitOverrides, ConfigError> {
        Ok(LimitOverrides {
            max_memory_mb: self.whole("max_memory_mb", 1, u64::MAX)?,
            max_cpu_percent: self.whole("max_cpu_percent", 1, u32::MAX)?,
            memory_samples: self.whole("memory_samples", 1, u32::MAX)?,
            cpu_samples: self.whole("cpu_samples", 1, u32::MAX)?,
            restart_on_pressure: self.boolean("restart_on_pressure")?,
        })
    }

    fn percent(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        match self.whole::<u32>(key, 1, 100)? {
            Some(n) if n > 100 => Err(self.err(key, "must be a percentage from 1 to 100")),
            other => Ok(other),
        }
    }

    fn health(&self) -> Result<HealthCheck, ConfigError> {
        self.check_keys(HEALTH_FIELDS)?;
        let port = self.whole::<u16>("port", 1, u16::MAX)?;
        let http = self.string("http", "\"http://127.0.0.1:8080/health\"")?;
        if let Some(url) = &http
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(self.err(
                "http",
                "must be an http:// or https:// URL, e.g. http = \"http://127.0.0.1:8080/health\"",
            ));
        }
        if port.is_none() && http.is_none() {
            return Err(ConfigError {
                file: self.file.to_path_buf(),
                field: Some(self.prefix.clone()),
                message: "has no check: set port = N (TCP connect to 127.0.0.1) and/or \
                          http = \"URL\" (GET)"
                    .into(),
            });
        }
        let expect = match self.get("expect") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Integer(n) if (100..=599).contains(n) => Some(*n as u16),
                    _ => None,
                })
                .collect::<Option<Vec<u16>>>()
                .ok_or_else(|| {
                    self.err(
                        "expect",
                        "must be a list of HTTP statuses, e.g. expect = [200, 204]",
                    )
                })?,
            Some(_) => {
                return Err(self.err(
                    "expect",
                    "must be a list of HTTP statuses, e.g. expect = [200, 204]",
                ));
            }
        };
        let interval = self.duration("interval")?;
        if interval.is_some_and(|d| d.0 < MIN_HEALTH_INTERVAL) {
            return Err(self.err("interval", "must be at least 1s"));
        }
        Ok(HealthCheck {
            port,
            http,
            expect,
            interval,
            timeout: self
                .duration("timeout")?
                .unwrap_or(Dur(DEFAULT_CHECK_TIMEOUT)),
            start_grace: self
                .duration("start_grace")?
                .unwrap_or(Dur(DEFAULT_START_GRACE)),
            failures: self
                .whole("failures", 1, u32::MAX)?
                .unwrap_or(DEFAULT_CHECK_FAILURES),
        })
    }

    fn auth(&self) -> Result<AuthConfig, ConfigError> {
        self.check_keys(AUTH_FIELDS)?;
        let cookies = self
            .string("cookies", "\"cookies.json\"")?
            .ok_or_else(|| {
                self.err(
                    "cookies",
                    "missing: the cookie file to check, relative to the bot's directory, e.g. cookies = \"cookies.json\"",
                )
            })?;
        if cookies.is_empty() {
            return Err(self.err("cookies", "must not be empty"));
        }
        let required = match self.get("required") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        self.err(
                            "required",
                            "must be a list of cookie names, e.g. required = [\"auth_token\"]",
                        )
                    })?,
            ),
            Some(_) => {
                return Err(self.err(
                    "required",
                    "must be a list of cookie names, e.g. required = [\"auth_token\"]",
                ));
            }
        };
        let on_invalid = match self.string("on_invalid", "\"stop\"")?.as_deref() {
            None | Some("stop") => OnInvalid::Stop,
            Some("alert") => OnInvalid::Alert,
            Some(other) => {
                return Err(self.err(
                    "on_invalid",
                    format!("unknown action {other:?}: use stop or alert"),
                ));
            }
        };
        let probe_url = self.string("probe_url", "\"https://api.example.com/me\"")?;
        if let Some(url) = &probe_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(self.err("probe_url", "must be an http:// or https:// URL"));
        }
        let probe_method = self
            .string("probe_method", "\"GET\"")?
            .unwrap_or_else(|| DEFAULT_PROBE_METHOD.to_string());
        if !matches!(probe_method.as_str(), "GET" | "POST" | "HEAD") {
            return Err(self.err("probe_method", "use GET, POST or HEAD"));
        }
        let probe_expect = match self.get("probe_expect") {
            None => vec![DEFAULT_PROBE_EXPECT],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| match v {
                    Value::Integer(n) if (100..=599).contains(n) => Some(*n as u16),
                    _ => None,
                })
                .collect::<Option<Vec<u16>>>()
                .ok_or_else(|| {
                    self.err(
                        "probe_expect",
                        "must be a list of HTTP statuses, e.g. [200]",
                    )
                })?,
            Some(_) => {
                return Err(self.err(
                    "probe_expect",
                    "must be a list of HTTP statuses, e.g. [200]",
                ));
            }
        };
        Ok(AuthConfig {
            cookies,
            required,
            warn_before: self
                .duration("warn_before")?
                .unwrap_or(Dur(DEFAULT_WARN_BEFORE)),
            on_invalid,
            probe_url,
            probe_method,
            probe_expect,
            probe_headers_file: self.string("probe_headers_file", "\"probe-headers.toml\"")?,
        })
    }

    fn update(&self) -> Result<UpdateConfig, ConfigError> {
        self.check_keys(UPDATE_FIELDS)?;
        let repo = self.string("repo", "\"alice/tweeter\"")?;
        if let Some(r) = &repo {
            let ok = r.split('/').count() == 2
                && r.split('/').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                });
            if !ok {
                return Err(self.err("repo", "must be \"owner/name\" as on GitHub"));
            }
        }
        let update_command = match self.get("update_command") {
            None => None,
            Some(_) => {
                let sub = Section {
                    file: self.file,
                    prefix: self.prefix.clone(),
                    table: self.table,
                };
                Some(sub.array_of_strings("update_command")?)
            }
        };
        Ok(UpdateConfig {
            repo,
            branch: self
                .string("branch", "\"main\"")?
                .unwrap_or_else(|| DEFAULT_UPDATE_BRANCH.to_string()),
            update_command,
            timeout: self
                .duration("timeout")?
                .unwrap_or(Dur(DEFAULT_UPDATE_TIMEOUT)),
        })
    }

    fn array_of_strings(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        let help =
            format!("must be a non-empty array of strings, e.g. {key} = [\"make\", \"deploy\"]");
        match self.get(key) {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err(key, help)),
            _ => Err(self.err(key, help)),
        }
    }

    fn ids(&self, key: &str) -> Result<Vec<i64>, ConfigError> {
        let help =
            format!("must be a non-empty list of numeric Telegram ids, e.g. {key} = [123456789]");
        match self.get(key) {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_integer())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err(key, help)),
            _ => Err(self.err(key, help)),
        }
    }

    fn level(&self, key: &str) -> Result<String, ConfigError> {
        match self.string(key, "\"warning\"")? {
            None => Ok(DEFAULT_MIN_LEVEL.to_string()),
            Some(l) if matches!(l.as_str(), "info" | "warning" | "critical") => Ok(l),
            Some(l) => Err(self.err(
                key,
                format!("unknown level {l:?}: use info, warning or critical"),
            )),
        }
    }

    fn path(&self, key: &str, example: &str) -> Result<Option<PathBuf>, ConfigError> {
        match self.string(key, example)? {
            Some(p) if p.is_empty() => Err(self.err(key, "must not be empty")),
            Some(p) => Ok(Some(PathBuf::from(p))),
            None => Ok(None),
        }
    }

    fn url(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let url = self.string(key, "\"https://example.com/hook\"")?;
        if let Some(u) = &url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(self.err(key, "must be an http:// or https:// URL"));
        }
        Ok(url)
    }

    fn restart(&self) -> Result<RestartOverrides, ConfigError> {
        self.check_keys(RESTART_FIELDS)?;
        Ok(RestartOverrides {
            policy: self.restart_mode("policy")?,
            stable_after: self.duration("stable_after")?,
            backoff_initial: self.duration("backoff_initial")?,
            backoff_max: self.duration("backoff_max")?,
            max_restarts: self.whole("max_restarts", 0, u32::MAX)?,
            window: self.duration("window")?,
            retry_after: self.duration("retry_after")?,
            stop_timeout: self.duration("stop_timeout")?,
        })
    }
}

pub fn parse_global(path: &Path, text: &str) -> Result<GlobalConfig, ConfigError> {
    let table = parse_table(path, text)?;
    let top = Section {
        file: path,
        prefix: String::new(),
        table: &table,
    };
    top.check_keys(GLOBAL_FIELDS)?;
    let mut config = GlobalConfig::default();
    if let Some(agent) = top.section("agent")? {
        agent.check_keys(AGENT_FIELDS)?;
        if let Some(d) = agent.duration("health_interval")? {
            if d.0 < MIN_HEALTH_INTERVAL {
                return Err(agent.err("health_interval", "must be at least 1s"));
            }
            config.agent.health_interval = d.0;
        }
        if let Some(d) = agent.duration("sample_retention")? {
            config.agent.sample_retention = d.0;
        }
        if let Some(d) = agent.duration("report_interval")? {
            config.agent.report_interval = d.0;
        }
        if let Some(d) = agent.duration("auth_interval")? {
            if d.0 < Duration::from_secs(1) {
                return Err(agent.err("auth_interval", "must be at least 1s"));
            }
            config.agent.auth_interval = d.0;
        }
        if let Some(d) = agent.duration("cleanup_interval")? {
            if d.0 < Duration::from_secs(1) {
                return Err(agent.err("cleanup_interval", "must be at least 1s"));
            }
            config.agent.cleanup_interval = d.0;
        }
    }
    if let Some(notify) = top.section("notify")? {
        notify.check_keys(NOTIFY_FIELDS)?;
        if let Some(d) = notify.duration("repeat_after")? {
            config.notify.repeat_after = d.0;
        }
        if let Some(t) = notify.section("telegram")? {
            t.check_keys(NOTIFY_TELEGRAM_FIELDS)?;
            config.notify.telegram = Some(TelegramNotify {
                token_file: t.path("token_file", "\"telegram.token\"")?.ok_or_else(|| {
                    t.err("token_file", "missing: a file holding the bot token (never the token itself), e.g. token_file = \"telegram.token\"")
                })?,
                chat_ids: t.ids("chat_ids")?,
                api_base: t.url("api_base")?.unwrap_or_else(|| DEFAULT_TELEGRAM_API.to_string()),
                min_level: t.level("min_level")?,
            });
        }
        if let Some(w) = notify.section("webhook")? {
            w.check_keys(NOTIFY_WEBHOOK_FIELDS)?;
            config.notify.webhook = Some(WebhookNotify {
                url: w
                    .url("url")?
                    .ok_or_else(|| w.err("url", "missing: where to POST alerts"))?,
                secret_file: w.path("secret_file", "\"webhook.secret\"")?,
                min_level: w.level("min_level")?,
            });
        }
    }
    if let Some(remote) = top.section("remote")? {
        remote.check_keys(REMOTE_FIELDS)?;
        if let Some(t) = remote.section("telegram")? {
            t.check_keys(REMOTE_TELEGRAM_FIELDS)?;
            config.remote.telegram = Some(TelegramRemote {
                token_file: t.path("token_file", "\"admin-bot.token\"")?.ok_or_else(|| {
                    t.err("token_file", "missing: a file holding the admin bot's token, e.g. token_file = \"admin-bot.token\"")
                })?,
                admins: t.ids("admins")?,
                api_base: t.url("api_base")?.unwrap_or_else(|| DEFAULT_TELEGRAM_API.to_string()),
            });
        }
        if let Some(h) = remote.section("http")? {
            h.check_keys(REMOTE_HTTP_FIELDS)?;
            let listen = h.string("listen", "\"127.0.0.1:8080\"")?.ok_or_else(|| {
                h.err(
                    "listen",
                    "missing: the address to listen on, e.g. listen = \"127.0.0.1:8080\"",
                )
            })?;
            let listen = listen.parse().map_err(|_| {
                h.err(
                    "listen",
                    format!("{listen:?} is not an address: use IP:PORT, e.g. \"127.0.0.1:8080\""),
                )
            })?;
            config.remote.http = Some(HttpRemote {
                listen,
                secret_file: h.path("secret_file", "\"github.secret\"")?,
                rate_per_minute: h
                    .whole("rate_per_minute", 1, u32::MAX)?
                    .unwrap_or(DEFAULT_RATE_PER_MINUTE),
            });
        }
    }
    if let Some(cleanup) = top.section("cleanup")? {
        cleanup.check_keys(CLEANUP_FIELDS)?;
        if let Some(d) = cleanup.duration("temp_max_age")? {
            config.cleanup.temp_max_age = d.0;
        }
        if let Some(d) = cleanup.duration("orphan_grace")? {
            config.cleanup.orphan_grace = d.0;
        }
    }
    if let Some(limits) = top.section("limits")? {
        let allowed: Vec<&str> = BOT_LIMIT_FIELDS
            .iter()
            .chain(FLEET_LIMIT_FIELDS)
            .copied()
            .collect();
        limits.check_keys(&allowed)?;
        let l = &mut config.limits;
        l.bot = l.bot.with(&limits.limit_overrides()?);
        if let Some(n) = limits.whole("max_bots_per_user", 0, u32::MAX)? {
            l.max_bots_per_user = n;
        }
        if let Some(n) = limits.whole("max_total_bots", 0, u32::MAX)? {
            l.max_total_bots = n;
        }
        if let Some(n) = limits.whole("storage_quota_mb", 0, u64::MAX)? {
            l.storage_quota_mb = n;
        }
        if let Some(n) = limits.percent("memory_threshold_percent")? {
            l.memory_threshold_percent = n;
        }
        if let Some(n) = limits.percent("max_disk_percent")? {
            l.max_disk_percent = n;
        }
        if let Some(d) = limits.duration("pressure_cooldown")? {
            l.pressure_cooldown = d.0;
        }
    }
    if let Some(users) = top.section("users")? {
        for key in users.table.keys() {
            let Some(user) = users.section(key)? else {
                continue;
            };
            if !valid_owner_name(key) {
                return Err(users.err(key, "is not a valid owner name"));
            }
            let allowed: Vec<&str> = BOT_LIMIT_FIELDS
                .iter()
                .chain(&["max_bots_per_user", "storage_quota_mb"])
                .copied()
                .collect();
            user.check_keys(&allowed)?;
            config.users.insert(
                key.clone(),
                UserSettings {
                    max_bots_per_user: user.whole("max_bots_per_user", 0, u32::MAX)?,
                    storage_quota_mb: user.whole("storage_quota_mb", 0, u64::MAX)?,
                    limits: user.limit_overrides()?,
                },
            );
        }
    }
    if let Some(restart) = top.section("restart")? {
        config.restart = config.restart.with(&restart.restart()?);
    }
    if let Some(logs) = top.section("logs")? {
        logs.check_keys(LOG_FIELDS)?;
        if let Some(n) = logs.whole("max_size_mb", 1, u64::MAX)? {
            config.logs.max_size_mb = n;
        }
        if let Some(n) = logs.whole("keep", 0, u32::MAX)? {
            config.logs.keep = n;
        }
    }
    Ok(config)
}

/// A missing file means "all defaults": the global file is optional.
pub fn load_global(path: &Path) -> Result<GlobalConfig, ConfigError> {
    match fsread::read_regular_string(path, fsread::CONFIG_FILE_CAP) {
        Ok(text) => parse_global(path, &text),
        Err(e) if e.is_not_found() => Ok(GlobalConfig::default()),
        Err(e) => Err(unreadable(path, &e)),
    }
}

pub fn parse_bot(name: &str, path: &Path, text: &str) -> Result<BotConfig, ConfigError> {
    if !valid_bot_name(name) {
        return Err(file_error(
            path,
            format!(
                "invalid bot name {name:?}: the file name must be lowercase letters, digits, \
                 _ and -, starting with a letter or digit, at most {NAME_MAX} characters, \
                 e.g. bots.d/my-bot.toml"
            ),
        ));
    }
    let table = parse_table(path, text)?;
    let top = Section {
        file: path,
        prefix: String::new(),
        table: &table,
    };
    top.check_keys(BOT_FIELDS)?;

    let user = top.string("user", "\"alice\"")?.ok_or_else(|| {
        top.err(
            "user",
            "missing: every bot needs an owner, e.g. user = \"alice\"",
        )
    })?;
    if !valid_owner_name(&user) {
        return Err(top.err(
            "user",
            format!(
                "invalid owner name {user:?}: use letters, digits, _, . and -, not starting \
                 with . or -, at most {NAME_MAX} characters"
            ),
        ));
    }

    let command = top.command()?;

    let cwd = top.string("cwd", "\"/srv/mybot\"")?;
    if cwd.as_deref() == Some("") {
        return Err(top.err("cwd", "must not be empty; leave it out to use the default"));
    }

    let env = top.env()?;

    let platform = top.platform()?.unwrap_or(DEFAULT_PLATFORM);

    let enabled = top.boolean("enabled")?.unwrap_or(DEFAULT_ENABLED);
    let stop_timeout = top.duration("stop_timeout")?.map(|d| d.0);
    let template = top.string("template", "\"python-bot\"")?;
    let restart = match top.section("restart")? {
        Some(section) => section.restart()?,
        None => RestartOverrides::default(),
    };
    let limits = match top.section("limits")? {
        Some(section) => {
            section.check_keys(BOT_LIMIT_FIELDS)?;
            section.limit_overrides()?
        }
        None => LimitOverrides::default(),
    };
    let health = match top.section("health")? {
        Some(section) => Some(section.health()?),
        None => None,
    };
    let auth = match top.section("auth")? {
        Some(section) => Some(section.auth()?),
        None => None,
    };
    let update = match top.section("update")? {
        Some(section) => Some(section.update()?),
        None => None,
    };

    Ok(BotConfig {
        name: name.to_string(),
        user,
        command,
        cwd,
        env,
        platform,
        enabled,
        stop_timeout,
        template,
        restart,
        limits,
        health,
        auth,
        update,
    })
}

const TEMPLATE_FIELDS: &[&str] = &[
    "description",
    "command",
    "platform",
    "copy",
    "dirs",
    "env",
    "restart",
    "limits",
    "health",
    "auth",
];

/// `templates/NAME/template.toml`: how to make a bot from shared code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateConfig {
    pub name: String,
    pub description: Option<String>,
    pub command: Vec<String>,
    pub platform: Platform,
    /// Entries every bot gets its own copy of (e.g. config.json, .env).
    pub copy: Vec<String>,
    /// Directories made empty in every bot (e.g. data, tmp).
    pub dirs: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub restart: RestartOverrides,
    pub limits: LimitOverrides,
    pub health: Option<HealthCheck>,
    pub auth: Option<AuthConfig>,
}

pub const TEMPLATE_FILE: &str = "template.toml";

pub fn parse_template(name: &str, path: &Path, text: &str) -> Result<TemplateConfig, ConfigError> {
    if !valid_bot_name(name) {
        return Err(file_error(
            path,
            format!("invalid template name {name:?}: use lowercase letters, digits, _ and -"),
        ));
    }
    let table = parse_table(path, text)?;
    let top = Section {
        file: path,
        prefix: String::new(),
        table: &table,
    };
    top.check_keys(TEMPLATE_FIELDS)?;
    let copy = top.relative_paths("copy")?;
    let dirs = top.relative_paths("dirs")?;
    if let Some(both) = copy.iter().find(|c| dirs.contains(c)) {
        return Err(top.err(
            "dirs",
            format!("{both:?} is also in copy: list it in one of them"),
        ));
    }
    Ok(TemplateConfig {
        name: name.to_string(),
        description: top.string("description", "\"A Twitter bot\"")?,
        command: top.command()?,
        platform: top.platform()?.unwrap_or(DEFAULT_PLATFORM),
        copy,
        dirs,
        env: top.env()?,
        restart: match top.section("restart")? {
            Some(section) => section.restart()?,
            None => RestartOverrides::default(),
        },
        limits: match top.section("limits")? {
            Some(section) => {
                section.check_keys(BOT_LIMIT_FIELDS)?;
                section.limit_overrides()?
            }
            None => LimitOverrides::default(),
        },
        health: match top.section("health")? {
            Some(section) => Some(section.health()?),
            None => None,
        },
        auth: match top.section("auth")? {
            Some(section) => Some(section.auth()?),
            None => None,
        },
    })
}

/// Reads `DIR/template.toml`; the template's name is the directory name.
pub fn load_template(dir: &Path) -> Result<TemplateConfig, ConfigError> {
    let path = dir.join(TEMPLATE_FILE);
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = fsread::read_regular_string(&path, fsread::CONFIG_FILE_CAP).map_err(|e| {
        let mut e = unreadable(&path, &e);
        e.message
            .push_str(&format!(" (every template needs a {TEMPLATE_FILE})"));
        e
    })?;
    parse_template(&name, &path, &text)
}

/// The bot file `bots create` writes: the template's settings, then `--set KEY=VALUE`
/// overrides (dotted keys, TOML values or plain strings), validated like any bot file.
pub fn bot_from_template(
    name: &str,
    owner: &str,
    template: &TemplateConfig,
    sets: &[(String, String)],
    path: &Path,
) -> Result<BotConfig, ConfigError> {
    let base = BotConfig {
        name: name.to_string(),
        user: owner.to_string(),
        command: template.command.clone(),
        cwd: None,
        env: template.env.clone(),
        platform: template.platform,
        enabled: DEFAULT_ENABLED,
        stop_timeout: None,
        template: Some(template.name.clone()),
        restart: template.restart.clone(),
        limits: template.limits.clone(),
        health: template.health.clone(),
        auth: template.auth.clone(),
        update: None,
    };
    let mut table: toml::Table = base.to_toml().parse().expect("to_toml writes valid TOML");
    for (key, raw) in sets {
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.clone()));
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) || matches!(parts[0], "user" | "template") {
            return Err(ConfigError {
                file: path.to_path_buf(),
                field: Some(key.clone()),
                message: "cannot be set here: use a field of the bot file such as env.KEY, \
                          platform or limits.max_memory_mb (the owner is --user)"
                    .into(),
            });
        }
        let mut at = &mut table;
        for part in &parts[..parts.len() - 1] {
            let entry = at
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(toml::Table::new()));
            at = match entry {
                Value::Table(t) => t,
                _ => {
                    return Err(ConfigError {
                        file: path.to_path_buf(),
                        field: Some(key.clone()),
                        message: format!("{part} is not a section"),
                    });
                }
            };
        }
        at.insert(parts[parts.len() - 1].to_string(), value);
    }
    let text = toml::to_string(&table).expect("a table serializes");
    parse_bot(name, path, &text)
}

/// The bot's name is the file stem: `bots.d/echo.toml` is the bot `echo`.
pub fn load_bot(path: &Path) -> Result<BotConfig, ConfigError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let text = fsread::read_regular_string(path, fsread::CONFIG_FILE_CAP)
        .map_err(|e| unreadable(path, &e))?;
    parse_bot(&name, path, &text)
}

/// "cannot read: No such file or directory", "cannot read: is a FIFO, not a regular file".
fn unreadable(path: &Path, e: &fsread::ReadError) -> ConfigError {
    file_error(path, format!("cannot read: {e}"))
}

/// Every bot in `bots.d`: the good ones, and an error for each bad one so that one
/// broken file never takes the rest of the fleet down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    pub bots: Vec<BotConfig>,
    pub errors: Vec<ConfigError>,
    pub listing: Listing,
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
    let unreadable = |e: std::io::Error| Fleet {
        errors: vec![file_error(bots_dir, format!("cannot read directory: {e}"))],
        listing: Listing::Unreadable,
        ..Fleet::default()
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
        match load_bot(&path) {
            Ok(bot) => fleet.bots.push(bot),
            Err(e) => fleet.errors.push(e),
        }
    }
    fleet
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(text: &str) -> Result<BotConfig, ConfigError> {
        parse_bot("echo", Path::new("bots.d/echo.toml"), text)
    }

    fn bot_err(text: &str) -> ConfigError {
        bot(text).expect_err("should be rejected")
    }

    fn global_err(text: &str) -> ConfigError {
        parse_global(Path::new("botctl.toml"), text).expect_err("should be rejected")
    }

    const MINIMAL: &str = "user = \"alice\"\ncommand = [\"python3\", \"bot.py\"]\n";

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn global_defaults() {
        let g = parse_global(Path::new("botctl.toml"), "").unwrap();
        assert_eq!(g, GlobalConfig::default());
        assert_eq!(
            g.restart,
            RestartPolicy {
                policy: RestartMode::Always,
                stable_after: secs(30),
                backoff_initial: secs(1),
                backoff_max: secs(60),
                max_restarts: 5,
                window: secs(600),
                retry_after: secs(900),
                stop_timeout: secs(10),
            }
        );
        assert_eq!(
            g.logs,
            LogSettings {
                max_size_mb: 10,
                keep: 5
            }
        );
        let empty_sections = "[agent]\n[restart]\n[logs]\n";
        assert_eq!(
            parse_global(Path::new("botctl.toml"), empty_sections).unwrap(),
            g
        );
    }

    #[test]
    fn bot_defaults() {
        let b = bot(MINIMAL).unwrap();
        assert_eq!(b.name, "echo");
        assert_eq!(b.user, "alice");
        assert_eq!(b.command, ["python3", "bot.py"]);
        assert_eq!(b.cwd, None);
        assert!(b.env.is_empty());
        assert_eq!(b.platform, Platform::Generic);
        assert!(b.enabled);
        assert_eq!(b.stop_timeout, None);
        assert_eq!(b.template, None);
        assert_eq!(b.restart, RestartOverrides::default());
        assert_eq!(b.policy(&GlobalConfig::default()), RestartPolicy::default());
    }

    #[test]
    fn global_every_field() {
        let text = r#"
            [agent]
            [restart]
            policy = "on-failure"
            stable_after = "1m"
            backoff_initial = "500ms"
            backoff_max = "2m"
            max_restarts = 0
            window = "1h"
            retry_after = "1d"
            stop_timeout = "3s"
            [logs]
            max_size_mb = 1
            keep = 0
        "#;
        let g = parse_global(Path::new("botctl.toml"), text).unwrap();
        assert_eq!(
            g,
            GlobalConfig {
                restart: RestartPolicy {
                    policy: RestartMode::OnFailure,
                    stable_after: secs(60),
                    backoff_initial: Duration::from_millis(500),
                    backoff_max: secs(120),
                    max_restarts: 0,
                    window: secs(3600),
                    retry_after: secs(86_400),
                    stop_timeout: secs(3),
                },
                logs: LogSettings {
                    max_size_mb: 1,
                    keep: 0
                },
                ..GlobalConfig::default()
            }
        );
    }

    #[test]
    fn limits_users_and_agent_sections() {
        let text = r#"
            [agent]
            health_interval = "2s"
            sample_retention = "1d"
            [limits]
            max_bots_per_user = 3
            max_total_bots = 10
            max_memory_mb = 256
            max_cpu_percent = 50
            memory_samples = 4
            cpu_samples = 5
            restart_on_pressure = false
            memory_threshold_percent = 70
            max_disk_percent = 95
            pressure_cooldown = "1m"
            [users.alice]
            max_bots_per_user = 7
            max_memory_mb = 1024
        "#;
        let g = parse_global(Path::new("botctl.toml"), text).unwrap();
        assert_eq!(g.agent.health_interval, secs(2));
        assert_eq!(g.agent.sample_retention, secs(86_400));
        assert_eq!(g.limits.max_total_bots, 10);
        assert_eq!(g.limits.bot.max_cpu_percent, 50);
        assert!(!g.limits.bot.restart_on_pressure);
        assert_eq!(g.limits.pressure_cooldown, secs(60));
        assert_eq!(g.max_bots_for("alice"), 7);
        assert_eq!(g.max_bots_for("bob"), 3);
        let alice =
            bot("user = \"alice\"\ncommand = [\"x\"]\n[limits]\ncpu_samples = 9\n").unwrap();
        let limits = alice.limits(&g);
        assert_eq!(limits.max_memory_mb, 1024, "owner override");
        assert_eq!(limits.cpu_samples, 9, "bot override");
        assert_eq!(limits.memory_samples, 4, "global");

        for (text, field) in [
            (
                "[agent]\nhealth_interval = \"500ms\"\n",
                "agent.health_interval",
            ),
            (
                "[limits]\nmax_disk_percent = 101\n",
                "limits.max_disk_percent",
            ),
            ("[limits]\nstorage = 1\n", "limits.storage"),
            (
                "[users.bob]\nmax_total_bots = 1\n",
                "users.bob.max_total_bots",
            ),
            ("[users]\nbob = 1\n", "users.bob"),
        ] {
            let e = parse_global(Path::new("botctl.toml"), text).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        }
    }

    #[test]
    fn templates_and_bots_made_from_them() {
        let path = Path::new("templates/tw/template.toml");
        let t = parse_template(
            "tw",
            path,
            "command = [\"python3\", \"bot.py\"]\nplatform = \"twitter\"\ncopy = [\"config.json\"]\ndirs = [\"data\"]\nenv = { LANG = \"en\" }\n[limits]\nmax_memory_mb = 64\n",
        )
        .unwrap();
        assert_eq!(t.copy, vec!["config.json"]);
        assert_eq!(t.platform, Platform::Twitter);
        let file = Path::new("bots.d/b1.toml");
        let sets = vec![
            ("env.TOKEN_FILE".to_string(), "token.txt".to_string()),
            ("limits.max_cpu_percent".to_string(), "50".to_string()),
            ("enabled".to_string(), "false".to_string()),
        ];
        let b = bot_from_template("b1", "alice", &t, &sets, file).unwrap();
        assert_eq!(b.template.as_deref(), Some("tw"));
        assert_eq!(b.command, vec!["python3", "bot.py"]);
        assert_eq!(
            b.env.get("TOKEN_FILE").map(String::as_str),
            Some("token.txt")
        );
        assert_eq!(b.env.get("LANG").map(String::as_str), Some("en"));
        assert_eq!(b.limits.max_memory_mb, Some(64));
        assert_eq!(b.limits.max_cpu_percent, Some(50));
        assert!(!b.enabled);

        for (key, value, field) in [
            ("user", "bob", "user"),
            ("limits.max_memory_mb", "lots", "limits.max_memory_mb"),
            ("nonsense", "1", "nonsense"),
        ] {
            let e = bot_from_template("b1", "alice", &t, &[(key.into(), value.into())], file)
                .unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{key}: {e}");
        }
        for (text, field) in [
            ("command = [\"x\"]\ncopy = [\"../etc\"]\n", "copy"),
            ("command = [\"x\"]\ndirs = [\"/abs\"]\n", "dirs"),
            (
                "command = [\"x\"]\ncopy = [\"a\"]\ndirs = [\"a\"]\n",
                "dirs",
            ),
            ("copy = []\n", "command"),
            ("command = [\"x\"]\nuser = \"a\"\n", "user"),
        ] {
            let e = parse_template("tw", path, text).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        }
    }

    #[test]
    fn health_section() {
        let b = bot(
            "user = \"a\"\ncommand = [\"x\"]\n[health]\nport = 8080\nhttp = \"http://127.0.0.1:8080/h\"\nexpect = [200, 204]\ninterval = \"2s\"\nfailures = 2\n",
        )
        .unwrap();
        let h = b.health.clone().unwrap();
        assert_eq!(h.port, Some(8080));
        assert_eq!(h.expect, vec![200, 204]);
        assert_eq!(h.interval, Some(Dur(secs(2))));
        assert_eq!(h.timeout, Dur(DEFAULT_CHECK_TIMEOUT));
        assert_eq!(h.start_grace, Dur(DEFAULT_START_GRACE));
        assert_eq!(h.failures, 2);
        let again = parse_bot("echo", Path::new("bots.d/echo.toml"), &b.to_toml()).unwrap();
        assert_eq!(again, b, "round trip through to_toml");

        for (text, field) in [
            ("[health]\nfailures = 1\n", "health"),
            ("[health]\nport = 70000\n", "health.port"),
            ("[health]\nhttp = \"ftp://x\"\n", "health.http"),
            ("[health]\nport = 1\nexpect = [\"ok\"]\n", "health.expect"),
            (
                "[health]\nport = 1\ninterval = \"10ms\"\n",
                "health.interval",
            ),
            ("[health]\nport = 1\nurl = \"x\"\n", "health.url"),
            (
                "[limits]\nmax_bots_per_user = 1\n",
                "limits.max_bots_per_user",
            ),
        ] {
            let full = format!("user = \"a\"\ncommand = [\"x\"]\n{text}");
            let e = bot(&full).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        }
    }

    #[test]
    fn bot_every_field() {
        let text = r#"
            user = "bob.smith-2"
            command = ["sh", "-c", "exec ./run"]
            cwd = "/srv/x"
            env = { TOKEN = "abc", _DEBUG = "1" }
            platform = "telegram"
            enabled = false
            stop_timeout = "20s"
            template = "python"
            [restart]
            policy = "never"
            stable_after = "5s"
            backoff_initial = "2s"
            backoff_max = "1m30s"
            max_restarts = 9
            window = "5m"
            retry_after = "1h"
            stop_timeout = "7s"
        "#;
        let b = bot(text).unwrap();
        let env = BTreeMap::from([
            ("TOKEN".to_string(), "abc".to_string()),
            ("_DEBUG".to_string(), "1".to_string()),
        ]);
        assert_eq!(
            b,
            BotConfig {
                name: "echo".into(),
                user: "bob.smith-2".into(),
                command: vec!["sh".into(), "-c".into(), "exec ./run".into()],
                cwd: Some("/srv/x".into()),
                env,
                platform: Platform::Telegram,
                enabled: false,
                stop_timeout: Some(secs(20)),
                template: Some("python".into()),
                restart: RestartOverrides {
                    policy: Some(RestartMode::Never),
                    stable_after: Some(Dur(secs(5))),
                    backoff_initial: Some(Dur(secs(2))),
                    backoff_max: Some(Dur(secs(90))),
                    max_restarts: Some(9),
                    window: Some(Dur(secs(300))),
                    retry_after: Some(Dur(secs(3600))),
                    stop_timeout: Some(Dur(secs(7))),
                },
                limits: LimitOverrides::default(),
                health: None,
                auth: None,
                update: None,
            }
        );
        for p in Platform::ALL {
            let b = bot(&format!("{MINIMAL}platform = \"{p}\"\n")).unwrap();
            assert_eq!(b.platform, p);
        }
    }

    #[test]
    fn overrides_resolve() {
        let global = parse_global(
            Path::new("botctl.toml"),
            "[restart]\nmax_restarts = 3\nwindow = \"20m\"\nstop_timeout = \"30s\"\n",
        )
        .unwrap();
        let b = bot(&format!("{MINIMAL}[restart]\nmax_restarts = 8\n")).unwrap();
        let p = b.policy(&global);
        assert_eq!(p.max_restarts, 8);
        assert_eq!(p.window, secs(1200));
        assert_eq!(p.stop_timeout, secs(30));
        assert_eq!(p.backoff_max, DEFAULT_BACKOFF_MAX);

        let b = bot(&format!("{MINIMAL}[restart]\nstop_timeout = \"5s\"\n")).unwrap();
        assert_eq!(b.policy(&global).stop_timeout, secs(5));

        let b = bot(&format!(
            "{MINIMAL}stop_timeout = \"1s\"\n[restart]\nstop_timeout = \"5s\"\n"
        ))
        .unwrap();
        assert_eq!(b.policy(&global).stop_timeout, secs(1));
    }

    #[test]
    fn unknown_top_level_field() {
        let e = bot_err(&format!("{MINIMAL}comand = []\n"));
        assert_eq!(e.field.as_deref(), Some("comand"));
        assert_eq!(
            e.message,
            "unknown field; allowed here: user, command, cwd, env, platform, enabled, \
             stop_timeout, template, restart, limits, health, auth, update"
        );
        let e = global_err("restrt = 1\n");
        assert_eq!(e.field.as_deref(), Some("restrt"));
        assert!(e.message.contains("agent, restart, logs"), "{e}");
    }

    #[test]
    fn unknown_field_in_sections() {
        let e = bot_err(&format!("{MINIMAL}[restart]\nbackof_max = \"1s\"\n"));
        assert_eq!(e.field.as_deref(), Some("restart.backof_max"));
        assert!(e.message.contains("backoff_max"), "{e}");
        let e = global_err("[restart]\nmax = 1\n");
        assert_eq!(e.field.as_deref(), Some("restart.max"));
        let e = global_err("[logs]\nsize = 1\n");
        assert_eq!(e.field.as_deref(), Some("logs.size"));
        assert!(e.message.contains("max_size_mb, keep"), "{e}");
        let e = global_err("[agent]\nsocket = \"/x\"\n");
        assert_eq!(e.field.as_deref(), Some("agent.socket"));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (
                "[restart]\nmax_restarts = \"five\"\n",
                "restart.max_restarts",
                "must be a whole number >= 0",
            ),
            (
                "[restart]\nmax_restarts = -1\n",
                "restart.max_restarts",
                "must be a whole number >= 0",
            ),
            (
                "[restart]\nmax_restarts = 5000000000\n",
                "restart.max_restarts",
                "4294967295",
            ),
            (
                "[restart]\npolicy = 1\n",
                "restart.policy",
                "must be a string",
            ),
            (
                "[restart]\nwindow = 10\n",
                "restart.window",
                "e.g. window = \"10s\"",
            ),
            ("restart = 1\n", "restart", "must be a section"),
            ("enabled = \"yes\"\n", "enabled", "must be true or false"),
            ("cwd = 1\n", "cwd", "must be a string"),
            ("template = []\n", "template", "must be a string"),
            ("env = \"A=1\"\n", "env", "must be a table of strings"),
        ];
        for (extra, field, needle) in cases {
            let e = bot_err(&format!("{MINIMAL}{extra}"));
            assert_eq!(e.field.as_deref(), Some(field), "{extra}");
            assert!(e.message.contains(needle), "{extra}: {e}");
        }
        let e = global_err("[logs]\nmax_size_mb = 0\n");
        assert_eq!(e.field.as_deref(), Some("logs.max_size_mb"));
        assert_eq!(e.message, "must be a whole number >= 1");
    }

    #[test]
    fn bad_duration() {
        let e = bot_err(&format!("{MINIMAL}[restart]\nwindow = \"10x\"\n"));
        assert_eq!(
            e.to_string(),
            "bots.d/echo.toml: field `restart.window`: invalid duration \"10x\": use a number \
             with a unit ms, s, m, h or d, e.g. \"15s\""
        );
        let e = bot_err(&format!("{MINIMAL}stop_timeout = \"soon\"\n"));
        assert_eq!(e.field.as_deref(), Some("stop_timeout"));
    }

    #[test]
    fn bad_policy_and_platform() {
        let e = bot_err(&format!("{MINIMAL}platform = \"twiter\"\n"));
        assert_eq!(e.field.as_deref(), Some("platform"));
        assert_eq!(
            e.message,
            "unknown platform \"twiter\": use twitter, messenger, telegram or generic"
        );
        let e = global_err("[restart]\npolicy = \"sometimes\"\n");
        assert_eq!(e.field.as_deref(), Some("restart.policy"));
        assert!(e.message.contains("always, on-failure or never"), "{e}");
    }

    #[test]
    fn missing_or_bad_user() {
        let e = bot_err("command = [\"x\"]\n");
        assert_eq!(e.field.as_deref(), Some("user"));
        assert_eq!(
            e.message,
            "missing: every bot needs an owner, e.g. user = \"alice\""
        );
        for user in ["", "../etc", ".hidden", "a b", &"a".repeat(65)] {
            let e = bot_err(&format!("user = {user:?}\ncommand = [\"x\"]\n"));
            assert_eq!(e.field.as_deref(), Some("user"), "{user}");
        }
    }

    #[test]
    fn missing_or_bad_command() {
        let e = bot_err("user = \"alice\"\n");
        assert_eq!(e.field.as_deref(), Some("command"));
        assert!(e.message.starts_with("missing"), "{e}");
        for command in ["[]", "\"python3 bot.py\"", "[\"a\", 1]", "[\"\", \"x\"]"] {
            let e = bot_err(&format!("user = \"alice\"\ncommand = {command}\n"));
            assert_eq!(e.field.as_deref(), Some("command"), "{command}");
            assert!(e.message.contains("e.g. command = [\"python3\""), "{e}");
        }
    }

    #[test]
    fn bad_env_never_echoes_values() {
        let secret = "s3cret-t0ken";
        let cases = [
            (
                format!("env = {{ \"1BAD\" = \"{secret}\" }}\n"),
                Some("env"),
            ),
            (format!("env = {{ \"A-B\" = \"{secret}\" }}\n"), Some("env")),
            ("env = { TOKEN = 12345 }\n".to_string(), Some("env.TOKEN")),
            (format!("env = {{ TOKEN = \"{secret} }}\n"), None),
            (format!("env = {{ TOKEN = {secret} }}\n"), None),
            (format!("[env]\nTOKEN = '{secret}'x\n"), None),
        ];
        for (extra, field) in cases {
            let e = bot_err(&format!("{MINIMAL}{extra}"));
            assert_eq!(e.field.as_deref(), field, "{extra}");
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains("12345"), "{shown}");
        }
        let e = bot_err(&format!("{MINIMAL}env = {{ \"1BAD\" = \"x\" }}\n"));
        assert!(e.message.contains("\"1BAD\""), "{e}");
    }

    #[test]
    fn bad_bot_name() {
        for name in ["", "Echo", "-echo", "my bot", "a.b", &"a".repeat(65)] {
            let e = parse_bot(name, Path::new("bots.d/x.toml"), MINIMAL).unwrap_err();
            assert_eq!(e.field, None);
            assert!(e.message.contains("lowercase letters, digits"), "{e}");
        }
        for name in ["echo", "0day", "my_bot-2", &"a".repeat(64)] {
            assert!(valid_bot_name(name), "{name}");
        }
    }

    #[test]
    fn owner_names() {
        for name in ["alice", "_svc", "Bob.Smith-2", "0"] {
            assert!(valid_owner_name(name), "{name}");
        }
        for name in ["", ".", "..", "-x", "a/b", "é"] {
            assert!(!valid_owner_name(name), "{name}");
        }
    }

    #[test]
    fn syntax_error_has_line() {
        let e = bot_err("user = \"alice\"\ncommand = [\"x\"]\nplatform = \n");
        assert_eq!(e.field, None);
        assert!(
            e.message.starts_with("line 3, column 12: invalid TOML: "),
            "{e}"
        );
        let e = global_err("[restart]\nwindow = \"1s\"\nwindow = \"2s\"\n");
        assert!(e.message.starts_with("line 3"), "{e}");
        assert!(e.to_string().starts_with("botctl.toml: line 3"), "{e}");
    }

    #[test]
    fn display_without_field() {
        let e = file_error(Path::new("bots.d/x.toml"), "cannot read: denied");
        assert_eq!(e.to_string(), "bots.d/x.toml: cannot read: denied");
    }

    #[test]
    fn durations_parse() {
        let ms = Duration::from_millis;
        let cases = [
            ("0s", ms(0)),
            ("0ms", ms(0)),
            ("500ms", ms(500)),
            ("15s", secs(15)),
            ("10m", secs(600)),
            ("2h", secs(7200)),
            ("3d", secs(3 * 86_400)),
            ("1h30m", secs(5400)),
            ("1m30s", secs(90)),
            ("1d2h3m4s5ms", ms(93_784_005)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "10",
            "x5s",
            "5 s",
            " 5s",
            "5s ",
            "-1s",
            "+1s",
            "1.5s",
            "5S",
            "5sec",
            "1h30",
            "99999999999999999999s",
            "999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_duration("10x").unwrap_err(),
            "invalid duration \"10x\": use a number with a unit ms, s, m, h or d, e.g. \"15s\""
        );
    }

    #[test]
    fn durations_format() {
        let ms = Duration::from_millis;
        let cases = [
            (ms(0), "0s"),
            (ms(1500), "1500ms"),
            (ms(999), "999ms"),
            (secs(15), "15s"),
            (secs(90), "1m30s"),
            (ms(90_500), "1m30s"),
            (secs(3725), "1h2m5s"),
            (secs(2 * 86_400 + 3 * 3600), "2d3h"),
            (secs(3600), "1h"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want, "{d:?}");
        }
        for d in [
            ms(0),
            ms(1),
            ms(59_999),
            secs(60),
            secs(93_784),
            secs(86_400 * 400),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
    }

    #[test]
    fn dur_serde() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct W {
            d: Dur,
        }
        let w: W = toml::from_str("d = \"1m30s\"").unwrap();
        assert_eq!(w.d, Dur(secs(90)));
        assert_eq!(toml::to_string(&w).unwrap().trim(), "d = \"1m30s\"");
        let exact = W {
            d: Dur(Duration::from_millis(61_500)),
        };
        let back: W = toml::from_str(&toml::to_string(&exact).unwrap()).unwrap();
        assert_eq!(back, exact);
        let err = toml::from_str::<W>("d = \"10x\"").unwrap_err();
        assert!(err.message().contains("invalid duration"), "{err}");
    }

    #[test]
    fn restart_overrides_serde() {
        let o: RestartOverrides =
            toml::from_str("policy = \"on-failure\"\nwindow = \"5m\"").unwrap();
        assert_eq!(o.policy, Some(RestartMode::OnFailure));
        assert_eq!(o.window, Some(Dur(secs(300))));
        let text = toml::to_string(&o).unwrap();
        assert_eq!(text, "policy = \"on-failure\"\nwindow = \"5m\"\n");
        assert!(toml::from_str::<RestartOverrides>("polcy = \"never\"").is_err());
        assert_eq!(RestartMode::OnFailure.to_string(), "on-failure");
        assert_eq!(Platform::Messenger.to_string(), "messenger");
        assert_eq!(Platform::default(), Platform::Generic);
    }

    #[test]
    fn to_toml_round_trip() {
        let minimal = bot(MINIMAL).unwrap();
        assert_eq!(minimal.to_toml(), MINIMAL);

        let full = BotConfig {
            name: "echo".into(),
            user: "alice".into(),
            command: vec!["sh".into(), "-c".into(), "echo \"hi\" 'there'\n".into()],
            cwd: Some("/srv/échо".into()),
            env: BTreeMap::from([
                ("TOKEN".to_string(), "a\"b\\c\nd".to_string()),
                ("EMPTY".to_string(), String::new()),
            ]),
            platform: Platform::Twitter,
            enabled: false,
            stop_timeout: Some(Duration::from_millis(61_500)),
            template: Some("py".into()),
            restart: RestartOverrides {
                policy: Some(RestartMode::OnFailure),
                max_restarts: Some(0),
                backoff_max: Some(Dur(secs(90))),
                ..RestartOverrides::default()
            },
            limits: LimitOverrides {
                max_memory_mb: Some(64),
                restart_on_pressure: Some(false),
                ..LimitOverrides::default()
            },
            health: Some(HealthCheck {
                port: None,
                http: Some("http://127.0.0.1:1/h".into()),
                expect: vec![204],
                interval: None,
                timeout: Dur(secs(2)),
                start_grace: Dur(Duration::ZERO),
                failures: 1,
            }),
            auth: Some(AuthConfig {
                cookies: "c.txt".into(),
                required: Some(vec!["sid".into()]),
                warn_before: Dur(secs(3600)),
                on_invalid: OnInvalid::Alert,
                probe_url: Some("https://x.test/me".into()),
                probe_method: "POST".into(),
                probe_expect: vec![200, 204],
                probe_headers_file: Some("h.toml".into()),
            }),
            update: Some(UpdateConfig {
                repo: Some("alice/bot".into()),
                branch: "prod".into(),
                update_command: Some(vec!["make".into(), "deploy".into()]),
                timeout: Dur(secs(60)),
            }),
        };
        let text = full.to_toml();
        assert_eq!(bot(&text).unwrap(), full, "{text}");
        assert!(!text.contains("name"), "{text}");
    }

    fn scratch_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "botctl-config-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn fleet_loads_good_reports_bad_ignores_others() {
        let dir = scratch_dir("fleet");
        std::fs::write(dir.join("zeta.toml"), MINIMAL).unwrap();
        std::fs::write(dir.join("alpha.toml"), MINIMAL).unwrap();
        std::fs::write(dir.join("broken.toml"), "user = \"alice\"\n").unwrap();
        std::fs::write(dir.join("Bad Name.toml"), MINIMAL).unwrap();
        std::fs::write(dir.join("notes.txt"), "not a bot").unwrap();
        std::fs::write(dir.join("alpha.toml~"), "garbage").unwrap();
        std::fs::write(dir.join(".alpha.toml.swp"), "garbage").unwrap();
        std::fs::write(dir.join(".hidden.toml"), "garbage").unwrap();
        std::fs::create_dir(dir.join("sub.toml")).unwrap();
        // Links count for what they point to: a linked file is a bot, a linked directory not.
        std::os::unix::fs::symlink(dir.join("sub.toml"), dir.join("linkdir.toml")).unwrap();
        std::os::unix::fs::symlink(dir.join("zeta.toml"), dir.join("linked.toml")).unwrap();

        let fleet = load_fleet(&dir);
        let names: Vec<_> = fleet.bots.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["alpha", "linked", "zeta"]);
        let files: Vec<_> = fleet.errors.iter().map(|e| e.file.clone()).collect();
        assert_eq!(files, [dir.join("Bad Name.toml"), dir.join("broken.toml")]);
        assert_eq!(fleet.errors[1].field.as_deref(), Some("command"));

        assert_eq!(load_bot(&dir.join("alpha.toml")).unwrap().name, "alpha");
        let e = load_bot(&dir.join("missing.toml")).unwrap_err();
        assert!(e.message.starts_with("cannot read"), "{e}");

        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(load_fleet(&dir).listing, Listing::Missing);
        assert_eq!(load_fleet(&dir).bots, []);

        // A folder that cannot be listed is not an empty fleet.
        std::fs::write(&dir, "not a folder").unwrap();
        let fleet = load_fleet(&dir);
        assert_eq!(fleet.listing, Listing::Unreadable);
        assert!(
            fleet.errors[0]
                .message
                .starts_with("cannot read directory:"),
            "{:?}",
            fleet.errors
        );
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn fleet_reports_odd_entries_per_file() {
        let dir = scratch_dir("odd-entries");
        std::fs::write(dir.join("good.toml"), MINIMAL).unwrap();
        fsread::tests::mkfifo(&dir.join("fifo.toml"));
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.toml")).unwrap();
        std::os::unix::fs::symlink(dir.join("gone"), dir.join("dangling.toml")).unwrap();
        let fleet = load_fleet(&dir);
        assert_eq!(fleet.listing, Listing::Read);
        assert_eq!(fleet.bots.len(), 1);
        let errors: Vec<String> = fleet.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("dangling.toml") && errors[0].contains("No such file"));
        assert!(
            errors[1].contains("fifo.toml") && errors[1].contains("is a FIFO, not a regular file")
        );
        assert!(errors[2].contains("zero.toml") && errors[2].contains("is a character device"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_global_missing_and_present() {
        let dir = scratch_dir("global");
        let path = dir.join("botctl.toml");
        assert_eq!(load_global(&path), Ok(GlobalConfig::default()));
        std::fs::write(&path, "[logs]\nkeep = 2\n").unwrap();
        assert_eq!(load_global(&path).unwrap().logs.keep, 2);
        std::fs::write(&path, "[logs]\nkeep = \"2\"\n").unwrap();
        let e = load_global(&path).unwrap_err();
        assert_eq!(e.file, path);
        assert_eq!(e.field.as_deref(), Some("logs.keep"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The parsers meet hand-edited and half-written files: no input may panic them, whether it is
/// random bytes or TOML built from the real field names with values of every type and size.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Sections a file may have, each with the keys allowed in it.
    fn sections() -> Vec<(&'static str, &'static [&'static str])> {
        vec![
            ("", BOT_FIELDS),
            ("", TEMPLATE_FIELDS),
            ("", GLOBAL_FIELDS),
            ("agent", AGENT_FIELDS),
            ("restart", RESTART_FIELDS),
            ("logs", LOG_FIELDS),
            ("limits", BOT_LIMIT_FIELDS),
            ("limits", FLEET_LIMIT_FIELDS),
            ("users.alice", BOT_LIMIT_FIELDS),
            ("users.alice", FLEET_LIMIT_FIELDS),
            ("cleanup", CLEANUP_FIELDS),
            ("health", HEALTH_FIELDS),
            ("auth", AUTH_FIELDS),
            ("update", UPDATE_FIELDS),
            ("env", &["TOKEN", "LANG"]),
            ("notify", NOTIFY_FIELDS),
            ("notify.telegram", NOTIFY_TELEGRAM_FIELDS),
            ("notify.webhook", NOTIFY_WEBHOOK_FIELDS),
            ("remote", REMOTE_FIELDS),
            ("remote.telegram", REMOTE_TELEGRAM_FIELDS),
            ("remote.http", REMOTE_HTTP_FIELDS),
        ]
    }

    /// Values of every TOML type, at the edges that break arithmetic and conversions.
    fn value() -> impl Strategy<Value = String> {
        let plausible = prop_oneof![
            Just("\"1s\"".to_string()),
            Just("\"250ms\"".to_string()),
            Just("3".to_string()),
            Just("100".to_string()),
            Just("true".to_string()),
            Just("\"x\"".to_string()),
            Just("[\"a\", \"b\"]".to_string()),
            Just("[200, 204]".to_string()),
        ];
        let edge = prop_oneof![
            Just("0".to_string()),
            Just("-1".to_string()),
            Just("9223372036854775807".to_string()),
            Just("-9223372036854775808".to_string()),
            Just("4294967296".to_string()),
            Just("1e308".to_string()),
            Just("nan".to_string()),
            Just("-inf".to_string()),
            Just("true".to_string()),
            Just("1979-05-27T07:32:00Z".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            "[0-9]{1,25}(ms|s|m|h|d|x|)".prop_map(|d| format!("{d:?}")),
            prop_oneof![
                Just("always"),
                Just("on-failure"),
                Just("never"),
                Just("twitter"),
                Just("stop"),
                Just("GET"),
                Just("127.0.0.1:8080"),
                Just("http://127.0.0.1:1/x"),
                Just("owner/repo"),
                Just("../../etc"),
                Just(""),
            ]
            .prop_map(|s| format!("{s:?}")),
            any::<String>().prop_map(|s| format!("{s:?}")),
        ];
        let scalar = prop_oneof![3 => plausible, 2 => edge];
        scalar.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..3).prop_map(|kv| {
                    let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", body.join(", "))
                }),
            ]
        })
    }

    /// A value of the type a field takes (or a plain string for names this does not know).
    fn typical(key: &str) -> &'static str {
        const DURATION_WORDS: &[&str] = &[
            "interval",
            "after",
            "timeout",
            "backoff",
            "window",
            "grace",
            "age",
            "cooldown",
            "before",
            "retention",
        ];
        if DURATION_WORDS.iter().any(|w| key.contains(w)) {
            "\"1s\""
        } else if key.ends_with("_mb")
            || key.starts_with("max_")
            || key.ends_with("samples")
            || key.ends_with("percent")
            || matches!(key, "port" | "failures" | "keep" | "rate_per_minute")
        {
            "3"
        } else if matches!(key, "enabled" | "restart_on_pressure") {
            "true"
        } else if matches!(key, "expect" | "probe_expect" | "chat_ids" | "admins") {
            "[200]"
        } else if matches!(
            key,
            "command" | "required" | "update_command" | "copy" | "dirs"
        ) {
            "[\"a\", \"b\"]"
        } else if key == "policy" {
            "\"on-failure\""
        } else if key == "platform" {
            "\"twitter\""
        } else if key == "on_invalid" {
            "\"alert\""
        } else if key == "probe_method" {
            "\"POST\""
        } else if key == "http" || key == "probe_url" || key == "url" || key == "api_base" {
            "\"http://127.0.0.1:1/x\""
        } else if key == "listen" {
            "\"127.0.0.1:0\""
        } else if key == "repo" {
            "\"owner/repo\""
        } else {
            "\"value\""
        }
    }

    /// A file of sections and `key = value` lines drawn from the real field names (and a few
    /// that are not), so most inputs get past the TOML syntax into the field checks.
    fn config_text() -> impl Strategy<Value = String> {
        text_of(sections())
    }

    /// Like [`config_text`] but only with what a bot file may hold, after its required fields.
    fn bot_text() -> impl Strategy<Value = String> {
        const TOP: &[&str] = &["cwd", "platform", "enabled", "stop_timeout", "template"];
        let bot_sections = vec![
            ("", TOP),
            ("restart", RESTART_FIELDS),
            ("limits", BOT_LIMIT_FIELDS),
            ("health", HEALTH_FIELDS),
            ("auth", AUTH_FIELDS),
            ("update", UPDATE_FIELDS),
            ("env", &["TOKEN", "LANG"]),
        ];
        text_of(bot_sections).prop_map(|t| format!("user = \"alice\"\ncommand = [\"x\"]\n{t}"))
    }

    fn text_of(all: Vec<(&'static str, &'static [&'static str])>) -> impl Strategy<Value = String> {
        let line = (0..all.len(), any::<prop::sample::Index>(), value(), 0..20u8);
        prop::collection::vec(line, 0..8).prop_map(move |lines| {
            let mut by_section: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (s, key, value, dice) in lines {
                let (section, keys) = all[s];
                let key = if dice == 0 {
                    "unknown_field"
                } else {
                    keys[key.index(keys.len())]
                };
                // Mostly a value of the right type, so the checks behind the type run too.
                let value = if dice % 4 == 0 {
                    value
                } else {
                    typical(key).to_string()
                };
                by_section
                    .entry(section)
                    .or_default()
                    .push(format!("{key} = {value}"));
            }
            let mut text = String::new();
            // Top-level keys first: after a [section] header they would belong to it.
            for (section, lines) in by_section {
                if !section.is_empty() {
                    text.push_str(&format!("[{section}]\n"));
                }
                for l in lines {
                    text.push_str(&l);
                    text.push('\n');
                }
            }
            text
        })
    }

    /// A valid bot file with bytes cut, repeated or replaced somewhere.
    fn mangled() -> impl Strategy<Value = String> {
        const VALID: &str = "user = \"alice\"\ncommand = [\"sleep\", \"1\"]\nenv = { A = \"b\" }\n\
            [restart]\nbackoff_initial = \"1s\"\nmax_restarts = 3\n[health]\nport = 8080\n\
            [auth]\ncookies = \"c.json\"\n";
        (0..VALID.len(), 0..VALID.len(), any::<String>()).prop_map(|(a, b, insert)| {
            let (a, b) = (a.min(b), a.max(b));
            let bytes = VALID.as_bytes();
            let mut out = bytes[..a].to_vec();
            out.extend_from_slice(insert.as_bytes());
            out.extend_from_slice(&bytes[b..]);
            String::from_utf8_lossy(&out).into_owned()
        })
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..512)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            1 => any::<String>(),
            2 => config_text(),
            3 => bot_text(),
            1 => mangled(),
        ]
    }

    fn check_all(text: &str) {
        let file = Path::new("bots.d/fuzz.toml");
        if let Ok(bot) = parse_bot("fuzz", file, text) {
            // What the agent stores as the last good version must read back the same.
            let again = parse_bot("fuzz", file, &bot.to_toml());
            assert_eq!(again, Ok(bot), "to_toml does not round-trip:\n{text}");
        }
        let _ = parse_global(Path::new("botctl.toml"), text);
        let _ = parse_template("fuzz", Path::new("templates/fuzz/template.toml"), text);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parsers_never_panic(text in any_text()) {
            check_all(&text);
        }

        #[test]
        fn durations_never_panic(s in "[0-9a-z ]{0,30}") {
            if let Ok(d) = parse_duration(&s) {
                // Whatever parses must format to something that parses to the same.
                prop_assert_eq!(parse_duration(&format_duration_exact(d)), Ok(d));
            }
        }

        #[test]
        fn names_never_panic(name in any::<String>()) {
            let _ = valid_bot_name(&name);
            let _ = valid_owner_name(&name);
            let _ = parse_bot(&name, Path::new("bots.d/x.toml"), "user = \"a\"\ncommand = [\"x\"]\n");
        }
    }
}
