//! `bots.d/NAME.toml`: one bot's command, owner, environment, restart policy, limits, health
//! checks, session cookies and update source, each field declared once with its default.

use std::collections::BTreeMap;
use std::fmt::{self, Display};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::global::check_url;
use super::values::{Num, OffOr, Plain, Time, de, de_opt, ser_opt};
use super::*;

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

layered! {
    /// Restart settings with every level of configuration applied.
    pub struct RestartPolicy;
    /// A `[restart]` section as written: each field overrides the level below it.
    pub struct RestartOverrides;
    {
        policy: Plain<RestartMode> = DEFAULT_RESTART_MODE;
        stable_after: Time<0> = DEFAULT_STABLE_AFTER;
        backoff_initial: Time<0> = DEFAULT_BACKOFF_INITIAL;
        backoff_max: Time<0> = DEFAULT_BACKOFF_MAX;
        max_restarts: Num<u32, 0, MAX_RESTARTS> = DEFAULT_MAX_RESTARTS;
        window: Time<0> = DEFAULT_WINDOW;
        retry_after: Time<0> = DEFAULT_RETRY_AFTER;
        stop_timeout: Time<0> = DEFAULT_STOP_TIMEOUT;
        /// Restart a running bot at these times (cron, local time); none by default.
        schedule: super::schedule::CronLine = None;
    }
}

layered! {
    /// The limits that apply to one bot: global `[limits]`, then its owner's, then its own.
    pub struct BotLimits;
    /// Per-bot resource limits as written in a bot's `[limits]` or in `[users.NAME]`.
    pub struct LimitOverrides;
    {
        max_memory_mb: Num<u64, 1, MAX_MIB> = DEFAULT_MAX_MEMORY_MB;
        max_cpu_percent: Num<u32, 1, MAX_CPU_PERCENT> = DEFAULT_MAX_CPU_PERCENT;
        /// A limit must be exceeded in this many consecutive samples before it acts.
        memory_samples: Num<u32, 1, MAX_SAMPLES> = DEFAULT_MEMORY_SAMPLES;
        cpu_samples: Num<u32, 1, MAX_SAMPLES> = DEFAULT_CPU_SAMPLES;
        restart_on_pressure: Plain<bool> = DEFAULT_RESTART_ON_PRESSURE;
        /// The memory trend is fitted over the samples of this last stretch of time.
        forecast_window: Time<1_000> = DEFAULT_FORECAST_WINDOW;
        /// A projected time to `max_memory_mb` under this is a forecast (event and alert).
        forecast_horizon: Time<1_000> = DEFAULT_FORECAST_HORIZON;
        /// Fewer samples than this in the window make no forecast.
        forecast_min_samples: Num<u32, MIN_FORECAST_SAMPLES, MAX_SAMPLES> = DEFAULT_FORECAST_MIN_SAMPLES;
        /// Restart the bot when its forecast falls under the horizon, before the limit hits.
        restart_before_limit: Plain<bool> = DEFAULT_RESTART_BEFORE_LIMIT;
        /// `pids.max` of the bot's cgroup, where the pids controller is enabled.
        max_pids: Num<u32, 1, MAX_PIDS> = DEFAULT_MAX_PIDS;
        /// `cpu.max` of the bot's cgroup in % of one core (opt-in; 0 is none).
        cpu_quota_percent: OffOr<u32, 1, MAX_CPU_PERCENT> = DEFAULT_CPU_QUOTA_PERCENT;
        /// `RLIMIT_NOFILE` of the bot (opt-in; 0 is the agent's own).
        nofile: OffOr<u64, 1, MAX_NOFILE> = DEFAULT_NOFILE;
    }
}

/// A bot's `[health]` checks, with defaults applied (`interval` falls back to the agent's
/// `health_interval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_opt::<_, Num<u16, 1, 65535>>"
    )]
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
    #[serde(deserialize_with = "de::<_, Num<u32, 1, MAX_CHECK_FAILURES>>")]
    pub failures: u32,
    /// When the bot counts as started: at once, or at its sd_notify `READY=1`.
    #[serde(skip_serializing_if = "ReadyMode::is_default")]
    pub ready: ReadyMode,
    /// With `ready = "notify"`: no READY=1 within this long restarts the bot.
    pub start_timeout: Dur,
    /// No sd_notify `WATCHDOG=1` within this long means hung.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<Dur>,
    /// No new output in the bot's logs for this long means hung.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_silence: Option<Dur>,
}

/// `[health] ready`: what makes a started bot count as started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadyMode {
    /// Its process started.
    Started,
    /// It sent `READY=1` over `NOTIFY_SOCKET` (sd_notify).
    Notify,
}

impl ReadyMode {
    fn is_default(&self) -> bool {
        *self == DEFAULT_READY
    }
}

impl HealthCheck {
    /// Whether a TCP or HTTP probe is configured (the rest of `[health]` needs none).
    pub fn probes(&self) -> bool {
        self.port.is_some() || self.http.is_some()
    }
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            port: None,
            http: None,
            expect: Vec::new(),
            interval: None,
            timeout: Dur(DEFAULT_CHECK_TIMEOUT),
            start_grace: Dur(DEFAULT_START_GRACE),
            failures: DEFAULT_CHECK_FAILURES,
            ready: DEFAULT_READY,
            start_timeout: Dur(DEFAULT_START_TIMEOUT),
            watchdog: None,
            log_silence: None,
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            cookies: String::new(),
            required: None,
            warn_before: Dur(DEFAULT_WARN_BEFORE),
            on_invalid: OnInvalid::Stop,
            probe_url: None,
            probe_method: DEFAULT_PROBE_METHOD.to_string(),
            probe_expect: vec![DEFAULT_PROBE_EXPECT],
            probe_headers_file: None,
        }
    }
}

/// A bot's `[update]`: where its code comes from, for `botctl update` and GitHub pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            repo: None,
            branch: DEFAULT_UPDATE_BRANCH.to_string(),
            update_command: None,
            timeout: Dur(DEFAULT_UPDATE_TIMEOUT),
        }
    }
}

/// One `bots.d/NAME.toml`. `restart` stays unresolved because the global file may
/// change independently; resolve with [`BotConfig::policy`]. Field order is the order
/// `to_toml` writes them in (plain values before tables, as TOML wants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    /// The file's stem, not a field of the file.
    #[serde(skip)]
    pub name: String,
    pub user: String,
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "is_default_platform")]
    pub platform: Platform,
    #[serde(skip_serializing_if = "is_default_enabled")]
    pub enabled: bool,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_opt::<_, Time<0>>",
        serialize_with = "ser_opt::<Time<0>, _>"
    )]
    pub stop_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `PR_SET_NO_NEW_PRIVS` for the bot: setuid programs gain nothing (opt-out).
    #[serde(skip_serializing_if = "is_default_no_new_privs")]
    pub no_new_privs: bool,
    /// Whether the bot may write core dumps (`RLIMIT_CORE` is 0 unless set).
    #[serde(skip_serializing_if = "is_default_core_dumps")]
    pub core_dumps: bool,
    /// A dotenv file read at each start (see `EnvFile`); `env` wins over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "RestartOverrides::is_empty")]
    pub restart: RestartOverrides,
    #[serde(skip_serializing_if = "LimitOverrides::is_empty")]
    pub limits: LimitOverrides,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateConfig>,
}

fn is_default_platform(p: &Platform) -> bool {
    *p == DEFAULT_PLATFORM
}

fn is_default_enabled(e: &bool) -> bool {
    *e == DEFAULT_ENABLED
}

fn is_default_no_new_privs(v: &bool) -> bool {
    *v == DEFAULT_NO_NEW_PRIVS
}

fn is_default_core_dumps(v: &bool) -> bool {
    *v == DEFAULT_CORE_DUMPS
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            user: String::new(),
            command: Vec::new(),
            cwd: None,
            platform: DEFAULT_PLATFORM,
            enabled: DEFAULT_ENABLED,
            stop_timeout: None,
            template: None,
            no_new_privs: DEFAULT_NO_NEW_PRIVS,
            core_dumps: DEFAULT_CORE_DUMPS,
            env_file: None,
            env: BTreeMap::new(),
            restart: RestartOverrides::default(),
            limits: LimitOverrides::default(),
            health: None,
            auth: None,
            update: None,
        }
    }
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
        toml::to_string(self).expect("strings, arrays and tables always serialize to TOML")
    }

    /// What the types cannot say.
    fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut say = |field: &str, message: &str| out.push((field.to_string(), message.into()));
        if self.user.is_empty() {
            say(
                "user",
                "missing: every bot needs an owner, e.g. user = \"alice\"",
            );
        } else if !valid_owner_name(&self.user) {
            say(
                "user",
                &format!(
                    "invalid owner name {:?}: use letters, digits, _, . and -, not starting \
                     with . or -, at most {NAME_MAX} characters",
                    self.user
                ),
            );
        }
        check_command(&mut say, &self.command);
        if self.cwd.as_deref() == Some("") {
            say("cwd", "must not be empty; leave it out to use the default");
        }
        check_env(&mut say, &self.env);
        check_env_file(&mut say, self.env_file.as_deref());
        check_sections(&mut say, self.health.as_ref(), self.auth.as_ref());
        if let Some(u) = &self.update {
            u.check(&mut say);
        }
        out
    }
}

pub(super) fn check_command(say: &mut impl FnMut(&str, &str), command: &[String]) {
    match command.first() {
        None => say(
            "command",
            "missing: every bot needs a command, e.g. command = [\"python3\", \"bot.py\"]",
        ),
        Some(program) if program.is_empty() => say(
            "command",
            "the program (first element) must not be empty, e.g. command = [\"python3\", \"bot.py\"]",
        ),
        Some(_) => {}
    }
}

/// `env_file` as written: a path relative to the bot's directory (or absolute), optional
/// when it starts with `-` (systemd's EnvironmentFile=-PATH: a missing file is no error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    pub path: String,
    pub optional: bool,
}

impl EnvFile {
    pub fn parse(written: &str) -> EnvFile {
        match written.strip_prefix('-') {
            Some(path) => EnvFile {
                path: path.to_string(),
                optional: true,
            },
            None => EnvFile {
                path: written.to_string(),
                optional: false,
            },
        }
    }
}

pub(super) fn check_env_file(say: &mut impl FnMut(&str, &str), env_file: Option<&str>) {
    if env_file.is_some_and(|f| EnvFile::parse(f).path.is_empty()) {
        say(
            "env_file",
            "must name a file, e.g. \".env\" (or \"-.env\" when it may be missing)",
        );
    }
}

/// Variable names a shell accepts, and none of the ones botctl sets itself.
pub(super) fn check_env(say: &mut impl FnMut(&str, &str), env: &BTreeMap<String, String>) {
    for key in env.keys() {
        if let Some(message) = env_key_problem(key) {
            say(&format!("env.{key}"), &message);
        }
    }
}

/// Why `key` cannot be a bot's variable, if it cannot. Also for `bots add -e` and the agent.
pub fn env_key_problem(key: &str) -> Option<String> {
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        Some(format!(
            "invalid variable name {key:?}: use letters, digits and _, not starting with a digit"
        ))
    } else if key.starts_with(RESERVED_ENV_PREFIX) {
        Some(format!(
            "variables starting {RESERVED_ENV_PREFIX} are set by botctl and cannot be overridden"
        ))
    } else {
        None
    }
}

pub(super) fn check_sections(
    say: &mut impl FnMut(&str, &str),
    health: Option<&HealthCheck>,
    auth: Option<&AuthConfig>,
) {
    if let Some(h) = health {
        h.check(say);
    }
    if let Some(a) = auth {
        a.check(say);
    }
}

fn check_statuses(say: &mut impl FnMut(&str, &str), field: &str, statuses: &[u16]) {
    if statuses.iter().any(|s| !(100..=599).contains(s)) {
        say(field, "must be a list of HTTP statuses, e.g. [200, 204]");
    }
}

impl HealthCheck {
    fn check(&self, say: &mut impl FnMut(&str, &str)) {
        let watches = self.ready == ReadyMode::Notify
            || self.watchdog.is_some()
            || self.log_silence.is_some();
        if !self.probes() && !watches {
            say(
                "health",
                "has no check: set port = N (TCP connect to 127.0.0.1), http = \"URL\" \
                 (GET), ready = \"notify\", watchdog = \"60s\" and/or log_silence = \"15m\"",
            );
        }
        for (field, d) in [
            ("health.watchdog", self.watchdog),
            ("health.log_silence", self.log_silence),
        ] {
            if d.is_some_and(|d| d.0 < MIN_HEALTH_INTERVAL) {
                say(field, "must be at least 1s");
            }
        }
        if let Some(url) = &self.http {
            check_url(say, "health.http", url);
        }
        check_statuses(say, "health.expect", &self.expect);
        if self.interval.is_some_and(|d| d.0 < MIN_HEALTH_INTERVAL) {
            say("health.interval", "must be at least 1s");
        }
    }
}

impl AuthConfig {
    fn check(&self, say: &mut impl FnMut(&str, &str)) {
        if self.cookies.is_empty() {
            say(
                "auth.cookies",
                "missing: the cookie file to check, relative to the bot's directory, \
                 e.g. cookies = \"cookies.json\"",
            );
        }
        if self
            .required
            .as_ref()
            .is_some_and(|r| r.iter().any(String::is_empty))
        {
            say(
                "auth.required",
                "must be a list of cookie names, e.g. required = [\"auth_token\"]",
            );
        }
        if let Some(url) = &self.probe_url {
            check_url(say, "auth.probe_url", url);
        }
        if !matches!(self.probe_method.as_str(), "GET" | "POST" | "HEAD") {
            say("auth.probe_method", "use GET, POST or HEAD");
        }
        if self.probe_expect.is_empty() {
            say(
                "auth.probe_expect",
                "must be a list of HTTP statuses, e.g. [200]",
            );
        }
        check_statuses(say, "auth.probe_expect", &self.probe_expect);
    }
}

impl UpdateConfig {
    fn check(&self, say: &mut impl FnMut(&str, &str)) {
        if let Some(r) = &self.repo {
            let ok = r.split('/').count() == 2
                && r.split('/').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                });
            if !ok {
                say("update.repo", "must be \"owner/name\" as on GitHub");
            }
        }
        if self
            .update_command
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.iter().any(String::is_empty))
        {
            say(
                "update.update_command",
                "must be a non-empty array of strings, e.g. update_command = [\"make\", \"deploy\"]",
            );
        }
    }
}

/// Every problem of a bot file's text; `name` is the file's stem.
pub fn check_bot_text(name: &str, path: &Path, text: &str) -> Result<BotConfig, Problems> {
    if !valid_bot_name(name) {
        return Err(vec![file_error(
            path,
            format!(
                "invalid bot name {name:?}: the file name must be lowercase letters, digits, \
                 _ and -, starting with a letter or digit, at most {NAME_MAX} characters, \
                 e.g. bots.d/my-bot.toml"
            ),
        )]);
    }
    let mut bot: BotConfig = parse_file(path, text, BotConfig::check)?;
    bot.name = name.to_string();
    Ok(bot)
}

pub fn parse_bot(name: &str, path: &Path, text: &str) -> Result<BotConfig, ConfigError> {
    check_bot_text(name, path, text).map_err(first)
}

/// The bot's name is the file stem: `bots.d/echo.toml` is the bot `echo`.
pub fn check_bot(path: &Path) -> Result<BotConfig, Problems> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let text = fsread::read_regular_string(path, fsread::CONFIG_FILE_CAP)
        .map_err(|e| vec![unreadable(path, &e)])?;
    check_bot_text(&name, path, &text)
}

pub fn load_bot(path: &Path) -> Result<BotConfig, ConfigError> {
    check_bot(path).map_err(first)
}
