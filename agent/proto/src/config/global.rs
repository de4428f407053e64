//! `botctl.toml`: the agent's intervals, the fleet's restart defaults, logs, limits, owners,
//! cleanup, notification channels and remote control, each section declared once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::document::Document;
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
        /// How bots are kept from escaping a stop: a cgroup each, or the subreaper fallback.
        containment: Plain<ContainmentMode> = DEFAULT_CONTAINMENT;
    }
}

/// `[agent] containment`: what holds a bot's processes together so that a stop reaches all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainmentMode {
    /// A cgroup per bot where a cgroup v2 hierarchy is writable, else the subreaper.
    Auto,
    /// A cgroup per bot; an error where none can be made.
    Cgroup,
    /// The agent is a child subreaper and stop walks each bot's descendants.
    Subreaper,
}

impl ContainmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cgroup => "cgroup",
            Self::Subreaper => "subreaper",
        }
    }

    pub fn parse(text: &str) -> Option<ContainmentMode> {
        [Self::Auto, Self::Cgroup, Self::Subreaper]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

impl std::fmt::Display for ContainmentMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    {
        /// The Unix account this owner's bots run as (a root agent only).
        run_as: Plain<String>;
    }
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

/// `[remote.telegram]`: admin commands by long polling. Without a token file or API base of
/// its own it uses `[notify.telegram]`'s: one Telegram bot for alerts and commands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramRemote {
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    pub admins: Vec<i64>,
    #[serde(default)]
    pub api_base: Option<String>,
}

/// `[remote.telegram]` with what it takes from `[notify.telegram]` filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramCommands {
    pub token_file: PathBuf,
    pub admins: Vec<i64>,
    pub api_base: String,
}

fn rate_per_minute() -> u32 {
    DEFAULT_RATE_PER_MINUTE
}

fn token_rate_per_minute() -> u32 {
    DEFAULT_TOKEN_RATE_PER_MINUTE
}

fn session_timeout() -> Duration {
    DEFAULT_SESSION_TIMEOUT
}

/// `[remote.http]`: `/health`, signed GitHub webhooks, the owners' API and dashboard, and
/// `/metrics`.
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
    /// API and dashboard requests allowed per minute and token, from any address.
    #[serde(
        default = "token_rate_per_minute",
        deserialize_with = "de::<_, Num<u32, 1, MAX_RATE_PER_MINUTE>>"
    )]
    pub token_rate_per_minute: u32,
    /// `GET /metrics` (Prometheus text); it needs an admin token unless `metrics_open`.
    #[serde(default)]
    pub metrics: bool,
    /// `/metrics` without a token: only on a loopback `listen`, for a Prometheus on this host.
    #[serde(default)]
    pub metrics_open: bool,
    /// How long a dashboard sign-in lasts.
    #[serde(
        default = "session_timeout",
        deserialize_with = "de::<_, Time<60_000>>"
    )]
    pub session_timeout: Duration,
    /// PEM certificate chain and private key: the listener speaks HTTPS.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (behind a TLS-terminating proxy): without
    /// it, such a listener refuses to start, since tokens and cookies would cross in clear.
    #[serde(default)]
    pub allow_plain_http: bool,
}

impl HttpRemote {
    /// Whether the listener speaks HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_cert_file.is_some()
    }

    /// The address a browser on this host opens: an unspecified `listen` (0.0.0.0, ::) is
    /// reached on loopback.
    pub fn url(&self) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        let ip = match self.listen.ip() {
            std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
                std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
            }
            std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
                std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            }
            ip => ip,
        };
        format!(
            "{scheme}://{}/",
            std::net::SocketAddr::new(ip, self.listen.port())
        )
    }
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

    /// The Unix account `owner`'s bots run as, when one is set.
    pub fn run_as(&self, owner: &str) -> Option<&str> {
        self.users.get(owner)?.run_as.as_deref()
    }

    pub fn max_bots_for(&self, owner: &str) -> u32 {
        self.owner_limits(owner).max_bots_per_user
    }

    /// Telegram commands as configured: `[remote.telegram]`, its token file and API base
    /// taken from `[notify.telegram]` where it names none. None when off.
    pub fn telegram_commands(&self) -> Option<TelegramCommands> {
        let remote = self.remote.telegram.as_ref()?;
        let notify = self.notify.telegram.as_ref();
        Some(TelegramCommands {
            token_file: remote
                .token_file
                .clone()
                .or_else(|| notify.map(|n| n.token_file.clone()))?,
            admins: remote.admins.clone(),
            api_base: remote
                .api_base
                .clone()
                .or_else(|| notify.map(|n| n.api_base.clone()))
                .unwrap_or_else(telegram_api),
        })
    }

    /// What the types cannot say: names, URLs, levels, non-empty lists.
    fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut say = |field: &str, message: &str| out.push((field.to_string(), message.into()));
        for (name, user) in &self.users {
            if !valid_owner_name(name) {
                say(&format!("users.{name}"), "is not a valid owner name");
            }
            if user
                .run_as
                .as_deref()
                .is_some_and(|a| !valid_account_name(a))
            {
                say(
                    &format!("users.{name}.run_as"),
                    "must be the name of an existing Unix account, e.g. run_as = \"alice\"",
                );
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
            match &t.token_file {
                Some(p) => check_path(&mut say, "remote.telegram.token_file", p),
                None if self.notify.telegram.is_none() => say(
                    "remote.telegram.token_file",
                    "missing: name the admin bot's token file here, or set up [notify.telegram] \
                     to use its bot for commands too",
                ),
                None => {}
            }
            check_ids(&mut say, "remote.telegram.admins", &t.admins);
            if let Some(api) = &t.api_base {
                check_url(&mut say, "remote.telegram.api_base", api);
            }
        }
        if let Some(h) = &self.remote.http {
            check_http(&mut say, h);
        }
        out
    }
}

/// What useradd accepts: no path separators, colons or spaces can sneak into a lookup.
fn valid_account_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '$'))
}

fn check_http(say: &mut impl FnMut(&str, &str), h: &HttpRemote) {
    if let Some(p) = &h.secret_file {
        check_path(say, "remote.http.secret_file", p);
    }
    match (&h.tls_cert_file, &h.tls_key_file) {
        (Some(c), Some(k)) => {
            check_path(say, "remote.http.tls_cert_file", c);
            check_path(say, "remote.http.tls_key_file", k);
        }
        (Some(_), None) => say(
            "remote.http.tls_key_file",
            "missing: tls_cert_file needs the private key's file too",
        ),
        (None, Some(_)) => say(
            "remote.http.tls_cert_file",
            "missing: tls_key_file needs the certificate's file too",
        ),
        (None, None) => {}
    }
    let loopback = h.listen.ip().is_loopback();
    if !loopback && !h.tls() && !h.allow_plain_http {
        say(
            "remote.http.listen",
            &format!(
                "{} is reachable from other machines and no TLS is set, so API tokens and \
                 dashboard cookies would cross the network in clear: set tls_cert_file and \
                 tls_key_file, listen on 127.0.0.1 behind a TLS proxy, or set \
                 allow_plain_http = true if a proxy in front terminates TLS",
                h.listen
            ),
        );
    }
    if h.metrics_open && !loopback {
        say(
            "remote.http.metrics_open",
            "needs a loopback listen address (127.0.0.1 or ::1): on any other address \
             /metrics would be open to the network; use an admin token instead",
        );
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

/// The sections of `botctl.toml` that stand or fall on their own: a broken one is switched
/// off and the rest of the file applies, so a typo in remote control never silences alerts.
pub const OWN_SECTIONS: [&str; 4] = [
    "notify.telegram",
    "notify.webhook",
    "remote.telegram",
    "remote.http",
];

/// The section of `OWN_SECTIONS` a problem lies in, if any.
pub fn own_section(problem: &ConfigError) -> Option<&'static str> {
    let field = problem.field.as_deref()?;
    OWN_SECTIONS.into_iter().find(|s| {
        field
            .strip_prefix(s)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// `botctl.toml` as the agent applies it: the settings, and the sections switched off with
/// their problems (each names its section: see `own_section`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalFile {
    pub config: GlobalConfig,
    pub off: Problems,
}

/// Reads `botctl.toml`'s text section by section: problems confined to `OWN_SECTIONS` switch
/// those sections off; any other problem fails the whole file, with every problem found.
pub fn read_global_text(path: &Path, text: &str) -> Result<GlobalFile, Problems> {
    let doc = Document::parse(path, text).map_err(|e| vec![e])?;
    let mut off: Problems = Vec::new();
    let mut dropped: Vec<&'static str> = Vec::new();
    loop {
        let doc = doc.without(&dropped);
        let problems = match doc.read::<GlobalConfig>() {
            Ok(config) => {
                let found = config.check();
                if found.is_empty() {
                    return Ok(GlobalFile { config, off });
                }
                found
                    .into_iter()
                    .map(|(field, message)| doc.problem(&field, message))
                    .collect()
            }
            Err(problems) => problems,
        };
        // Each round switches off at least one more section, or ends: at most five rounds.
        let sections: Vec<Option<&'static str>> = problems
            .iter()
            .map(|p| own_section(p).filter(|s| !dropped.contains(s)))
            .collect();
        if sections.iter().any(Option::is_none) {
            off.extend(problems);
            return Err(off);
        }
        for (problem, section) in problems.into_iter().zip(sections) {
            let section = section.expect("checked above");
            if !dropped.contains(&section) {
                dropped.push(section);
            }
            off.push(problem);
        }
    }
}

/// Every problem of `botctl.toml`'s text.
pub fn check_global_text(path: &Path, text: &str) -> Result<GlobalConfig, Problems> {
    match read_global_text(path, text) {
        Ok(file) if file.off.is_empty() => Ok(file.config),
        Ok(file) => Err(file.off),
        Err(problems) => Err(problems),
    }
}

pub fn parse_global(path: &Path, text: &str) -> Result<GlobalConfig, ConfigError> {
    check_global_text(path, text).map_err(first)
}

/// `botctl.toml` section by section (see `read_global_text`). A missing file means "all
/// defaults": it is optional.
pub fn read_global(path: &Path) -> Result<GlobalFile, Problems> {
    match read_file(path).map_err(|e| vec![e])? {
        Some(text) => read_global_text(path, &text),
        None => Ok(GlobalFile::default()),
    }
}

/// Every problem of `botctl.toml`.
pub fn check_global(path: &Path) -> Result<GlobalConfig, Problems> {
    match read_global(path)? {
        file if file.off.is_empty() => Ok(file.config),
        file => Err(file.off),
    }
}

pub fn load_global(path: &Path) -> Result<GlobalConfig, ConfigError> {
    check_global(path).map_err(first)
}
