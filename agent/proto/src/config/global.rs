//! `botctl.toml`: the agent's intervals, the fleet's restart defaults, logs, limits, owners,
//! cleanup, notification channels and remote control, each section declared once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::values::{Num, Percent, Plain, Time, de};
use super::*;

layered! {
    /// `[logs]`: how bot logs rotate.
    pub struct LogSettings;
    pub struct LogOverrides;
    {
        max_size_mb: Num<u64, 1, MAX_MIB> = DEFAULT_LOG_MAX_SIZE_MB;
        keep: Num<u32, 0, MAX_LOG_KEEP> = DEFAULT_LOG_KEEP;
    }
}

layered! {
    /// `[agent]`: how often the agent looks at things.
    pub struct AgentSettings;
    pub struct AgentOverrides;
    {
        health_interval: Time<1_000> = DEFAULT_HEALTH_INTERVAL;
        sample_retention: Time<0> = DEFAULT_SAMPLE_RETENTION;
        cleanup_interval: Time<1_000> = DEFAULT_CLEANUP_INTERVAL;
        auth_interval: Time<1_000> = DEFAULT_AUTH_INTERVAL;
        /// A summary alert this often; zero turns it off.
        report_interval: Time<0> = DEFAULT_REPORT_INTERVAL;
    }
}

layered! {
    /// `[cleanup]`: what counts as garbage.
    pub struct CleanupSettings;
    pub struct CleanupOverrides;
    {
        temp_max_age: Time<0> = DEFAULT_TEMP_MAX_AGE;
        orphan_grace: Time<0> = DEFAULT_ORPHAN_GRACE;
    }
}

layered! {
    /// What each owner may have: `[limits]` for all, `[users.NAME]` for one.
    pub struct OwnerLimits;
    pub struct OwnerOverrides;
    {
        max_bots_per_user: Num<u32, 0, MAX_BOTS> = DEFAULT_MAX_BOTS_PER_USER;
        storage_quota_mb: Num<u64, 0, MAX_MIB> = DEFAULT_STORAGE_QUOTA_MB;
    }
}

layered! {
    /// The global `[limits]`: per-bot and per-owner defaults, plus fleet and host limits.
    pub struct FleetLimits;
    pub struct FleetLimitOverrides;
    embed bot: BotLimits, LimitOverrides;
    embed owner: OwnerLimits, OwnerOverrides;
    {
        max_total_bots: Num<u32, 0, MAX_BOTS> = DEFAULT_MAX_TOTAL_BOTS;
        memory_threshold_percent: Percent = DEFAULT_MEMORY_THRESHOLD_PERCENT;
        max_disk_percent: Percent = DEFAULT_MAX_DISK_PERCENT;
        pressure_cooldown: Time<0> = DEFAULT_PRESSURE_COOLDOWN;
    }
}

layered! {
    @over
    /// `[users.NAME]`: one owner's overrides of `[limits]`.
    UserSettings;
    embed owner: OwnerOverrides;
    embed limits: LimitOverrides;
    {}
}

fn telegram_api() -> String {
    DEFAULT_TELEGRAM_API.to_string()
}

fn min_level() -> String {
    DEFAULT_MIN_LEVEL.to_string()
}

/// `[notify.telegram]`: alerts to Telegram chats.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramNotify {
    /// A file holding the bot token (never the token inline).
    pub token_file: PathBuf,
    pub chat_ids: Vec<i64>,
    #[serde(default = "telegram_api")]
    pub api_base: String,
    #[serde(default = "min_level")]
    pub min_level: String,
}

/// `[notify.webhook]`: the same alerts as JSON POSTs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookNotify {
    pub url: String,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    #[serde(default = "min_level")]
    pub min_level: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    #[serde(deserialize_with = "de::<_, Time<0>>")]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramRemote {
    pub token_file: PathBuf,
    pub admins: Vec<i64>,
    #[serde(default = "telegram_api")]
    pub api_base: String,
}

fn rate_per_minute() -> u32 {
    DEFAULT_RATE_PER_MINUTE
}

/// `[remote.http]`: `/health` and signed GitHub webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRemote {
    #[serde(deserialize_with = "de::<_, Plain<std::net::SocketAddr>>")]
    pub listen: std::net::SocketAddr,
    /// The GitHub webhook secret; without it `/github` answers 404.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    #[serde(
        default = "rate_per_minute",
        deserialize_with = "de::<_, Num<u32, 1, MAX_RATE_PER_MINUTE>>"
    )]
    pub rate_per_minute: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteSettings {
    pub telegram: Option<TelegramRemote>,
    pub http: Option<HttpRemote>,
}

/// `botctl.toml` with defaults applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    pub agent: AgentSettings,
    pub restart: RestartPolicy,
    pub logs: LogSettings,
    pub limits: FleetLimits,
    pub users: BTreeMap<String, UserSettings>,
    pub cleanup: CleanupSettings,
    pub notify: NotifySettings,
    pub remote: RemoteSettings,
}

impl GlobalConfig {
    /// What `owner` may have: `[limits]`, then its `[users.NAME]`.
    pub fn owner_limits(&self, owner: &str) -> OwnerLimits {
        match self.users.get(owner) {
            Some(user) => self.limits.owner.with(&user.owner),
            None => self.limits.owner.clone(),
        }
    }

    pub fn storage_quota_for(&self, owner: &str) -> u64 {
        self.owner_limits(owner).storage_quota_mb
    }

    pub fn max_bots_for(&self, owner: &str) -> u32 {
        self.owner_limits(owner).max_bots_per_user
    }

    /// What the types cannot say: names, URLs, levels, non-empty lists.
    fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut say = |field: &str, message: &str| out.push((field.to_string(), message.into()));
        for name in self.users.keys() {
            if !valid_owner_name(name) {
                say(&format!("users.{name}"), "is not a valid owner name");
            }
        }
        if let Some(t) = &self.notify.telegram {
            check_path(&mut say, "notify.telegram.token_file", &t.token_file);
            check_ids(&mut say, "notify.telegram.chat_ids", &t.chat_ids);
            check_url(&mut say, "notify.telegram.api_base", &t.api_base);
            check_level(&mut say, "notify.telegram.min_level", &t.min_level);
        }
        if let Some(w) = &self.notify.webhook {
            check_url(&mut say, "notify.webhook.url", &w.url);
            if let Some(p) = &w.secret_file {
                check_path(&mut say, "notify.webhook.secret_file", p);
            }
            check_level(&mut say, "notify.webhook.min_level", &w.min_level);
        }
        if let Some(t) = &self.remote.telegram {
            check_path(&mut say, "remote.telegram.token_file", &t.token_file);
            check_ids(&mut say, "remote.telegram.admins", &t.admins);
            check_url(&mut say, "remote.telegram.api_base", &t.api_base);
        }
        if let Some(p) = self
            .remote
            .http
            .as_ref()
            .and_then(|h| h.secret_file.as_ref())
        {
            check_path(&mut say, "remote.http.secret_file", p);
        }
        out
    }
}

fn check_path(say: &mut impl FnMut(&str, &str), field: &str, path: &Path) {
    if path.as_os_str().is_empty() {
        say(field, "must not be empty");
    }
}

fn check_ids(say: &mut impl FnMut(&str, &str), field: &str, ids: &[i64]) {
    if ids.is_empty() {
        say(
            field,
            "must be a non-empty list of numeric Telegram ids, e.g. [123456789]",
        );
    }
}

pub(super) fn check_url(say: &mut impl FnMut(&str, &str), field: &str, url: &str) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        say(field, "must be an http:// or https:// URL");
    }
}

fn check_level(say: &mut impl FnMut(&str, &str), field: &str, level: &str) {
    if !matches!(level, "info" | "warning" | "critical") {
        say(
            field,
            &format!("unknown level {level:?}: use info, warning or critical"),
        );
    }
}

/// Every problem of `botctl.toml`'s text.
pub fn check_global_text(path: &Path, text: &str) -> Result<GlobalConfig, Problems> {
    parse_file(path, text, GlobalConfig::check)
}

pub fn parse_global(path: &Path, text: &str) -> Result<GlobalConfig, ConfigError> {
    check_global_text(path, text).map_err(first)
}

/// Every problem of `botctl.toml`. A missing file means "all defaults": it is optional.
pub fn check_global(path: &Path) -> Result<GlobalConfig, Problems> {
    match read_file(path).map_err(|e| vec![e])? {
        Some(text) => check_global_text(path, &text),
        None => Ok(GlobalConfig::default()),
    }
}

pub fn load_global(path: &Path) -> Result<GlobalConfig, ConfigError> {
    check_global(path).map_err(first)
}
