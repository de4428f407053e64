//! The contract the CLI and the agent share: the tarpc service, its request and reply types,
//! the error type, the protocol version, the configuration model and where every file lives.
//!
//! bincode is positional: only ever append methods, fields at the end of a struct that is not
//! nested elsewhere, or enum variants, and bump `PROTOCOL_VERSION` whenever the shape changes.
//! No `skip_serializing_if`, `flatten` or `untagged` in wire types (bincode cannot read them).

pub mod config;
pub mod fds;
pub mod fsread;
pub mod human;
pub mod json;
pub mod paths;
pub mod tail;

use serde::{Deserialize, Serialize};

pub use paths::Paths;

/// Bumped whenever a wire type or the service changes shape.
pub const PROTOCOL_VERSION: u32 = 14;

/// The version of this build, the same for the CLI and the agent of one binary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The largest frame either side accepts; a peer claiming more is dropped before allocating.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;

/// The wire error: `kind` is what a caller branches on, `message` is said to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    VersionMismatch,
    NotFound,
    Invalid,
    Conflict,
    Internal,
}

impl RpcError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        RpcError {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RpcError {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientHello {
    pub version: String,
    pub protocol: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentInfo {
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    /// Unix time in milliseconds.
    pub started_at_ms: i64,
    pub uptime_secs: u64,
    pub home: String,
    /// The agent's host name: over `--host`, which machine answered.
    pub host: String,
    /// What keeps each bot's processes together; None while the agent is still starting.
    pub containment: Option<Box<ContainmentInfo>>,
}

/// How bots are contained: a cgroup each, or the subreaper fallback, or (when `cgroup` was
/// asked and none can be made) no bot starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainmentKind {
    Cgroup,
    Subreaper,
    Refused,
}

impl ContainmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cgroup => "cgroup",
            Self::Subreaper => "subreaper",
            Self::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainmentInfo {
    pub mode: ContainmentKind,
    /// Why this mode: what was asked and what the host allows.
    pub reason: String,
    /// The agent's cgroup subtree, with cgroups.
    pub cgroup: Option<String>,
    /// Kernel limits in force for bots: the controllers enabled (`memory`, `pids`, `cpu`).
    pub limits: Vec<String>,
    /// A root agent: owners without `run_as`, whose bots run as root.
    pub root_owners: Vec<String>,
}

/// What a bot is doing, in the words `status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BotState {
    Running,
    Stopping,
    Stopped,
    /// Waiting before a restart after quick failures.
    Backoff,
    /// Gave up after the restart-rate limit; retried automatically after the cool-down.
    Failed,
    /// Ended and the restart policy says leave it.
    Exited,
    /// `enabled = false` in its file.
    Disabled,
    /// Its file never parsed; nothing runs for it.
    ConfigError,
    /// Not started: its owner or the fleet is at `max_bots_per_user` / `max_total_bots`.
    OverLimit,
    /// Stopped because its session cookies are invalid; started again once they are valid.
    AuthInvalid,
}

impl BotState {
    /// Every state, in declaration order.
    pub const ALL: [BotState; 10] = [
        BotState::Running,
        BotState::Stopping,
        BotState::Stopped,
        BotState::Backoff,
        BotState::Failed,
        BotState::Exited,
        BotState::Disabled,
        BotState::ConfigError,
        BotState::OverLimit,
        BotState::AuthInvalid,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            BotState::Running => "running",
            BotState::Stopping => "stopping",
            BotState::Stopped => "stopped",
            BotState::Backoff => "backoff",
            BotState::Failed => "failed",
            BotState::Exited => "exited",
            BotState::Disabled => "disabled",
            BotState::ConfigError => "config-error",
            BotState::OverLimit => "over-limit",
            BotState::AuthInvalid => "auth-invalid",
        }
    }

    /// States that need a human (or at least their attention) in `status`.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            BotState::Failed
                | BotState::Backoff
                | BotState::ConfigError
                | BotState::OverLimit
                | BotState::AuthInvalid
        )
    }
}

impl std::fmt::Display for BotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// "code 1", "signal 9 (SIGKILL)", "unknown status".
    pub description: String,
    /// Unix time in milliseconds.
    pub at_ms: i64,
}

/// One row of `status` and `bots list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotInfo {
    pub name: String,
    pub owner: String,
    pub platform: String,
    pub state: BotState,
    pub enabled: bool,
    pub pid: Option<u32>,
    pub uptime_secs: Option<u64>,
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
    /// Why the bot is in this state, when that needs saying: "restarting in 4s",
    /// "retrying in 15m", a spawn error, or the config error of its file.
    pub detail: Option<String>,
    /// CPU of the bot's whole process group at the last sample, % of one core.
    pub cpu_percent: Option<f32>,
    /// Resident memory of the bot's whole process group at the last sample.
    pub memory_bytes: Option<u64>,
    /// The outcome of the last auth check (valid, expiring, expired, missing, malformed,
    /// rejected, unknown, no-file), for bots with `[auth]`.
    pub auth: Option<String>,
    /// Its memory's forecast, while the projected time to `max_memory_mb` is under its
    /// `forecast_horizon`.
    pub forecast: Option<Forecast>,
    /// The bot's last sd_notify `STATUS=` text, while its process runs.
    pub notify_status: Option<String>,
    /// Started with `[health] ready = "notify"` and no `READY=1` yet.
    pub waiting_ready: bool,
}

/// The rows of `status` and `bots list`, by name. On the wire exactly a `Vec<BotInfo>` (a
/// sequence of rows): the agent shares one list between answers while nothing in it changed,
/// so an answer copies no row; a decoded list is the receiver's own (`to_mut`, `into_vec`).
#[derive(Debug, Clone, Default)]
pub struct Rows(std::sync::Arc<Vec<BotInfo>>);

impl Rows {
    pub fn new(rows: Vec<BotInfo>) -> Rows {
        Rows(std::sync::Arc::new(rows))
    }

    /// The rows to change; copied first only while the list is shared.
    pub fn to_mut(&mut self) -> &mut Vec<BotInfo> {
        std::sync::Arc::make_mut(&mut self.0)
    }

    pub fn into_vec(self) -> Vec<BotInfo> {
        std::sync::Arc::unwrap_or_clone(self.0)
    }

    /// The same shared list, not a copy.
    pub fn same(&self, other: &Rows) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl From<Vec<BotInfo>> for Rows {
    fn from(rows: Vec<BotInfo>) -> Rows {
        Rows::new(rows)
    }
}

impl std::ops::Deref for Rows {
    type Target = [BotInfo];

    fn deref(&self) -> &[BotInfo] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a BotInfo;
    type IntoIter = std::slice::Iter<'a, BotInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Rows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rows, D::Error> {
        Vec::deserialize(d).map(Rows::new)
    }
}

/// What a forecast is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForecastKind {
    /// A bot's memory against its `max_memory_mb`.
    BotMemory,
    /// The disk of the botctl home against `max_disk_percent`.
    HostDisk,
    /// Host memory against `memory_threshold_percent`.
    HostMemory,
    /// A bot's cookie session against its expiry.
    Session,
}

impl ForecastKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastKind::BotMemory => "bot-memory",
            ForecastKind::HostDisk => "host-disk",
            ForecastKind::HostMemory => "host-memory",
            ForecastKind::Session => "session",
        }
    }
}

/// Something that will break unless someone acts: a limit a trend reaches within its
/// horizon, or a session that expires soon. `botctl forecast` lists them, soonest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub kind: ForecastKind,
    /// The bot it is about (None: the host).
    pub bot: Option<String>,
    pub owner: Option<String>,
    /// Unix ms when the limit is reached (or the session expires), as projected at `made_at_ms`.
    pub at_ms: i64,
    pub made_at_ms: i64,
    /// Growth in bytes per hour (None for a session).
    pub bytes_per_hour: Option<f64>,
    /// The figure now and the limit it grows towards, in bytes (None for a session).
    pub current_bytes: Option<u64>,
    pub limit_bytes: Option<u64>,
    /// For people: "grows 31 MiB/h; reaches its 512 MiB limit in about 40m".
    pub message: String,
}

/// One bot's session check, as `botctl auth check` shows it. Never holds a cookie value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthReport {
    pub bot: String,
    pub owner: String,
    pub platform: String,
    /// valid, expiring, expired, missing, malformed, rejected, unknown, no-file
    pub outcome: String,
    /// What the outcome is about: missing names, where a file is malformed, a probe status.
    pub detail: Option<String>,
    /// Earliest expiry of the required cookies, Unix ms (None: session cookies only).
    pub expires_at_ms: Option<i64>,
    pub checked_at_ms: i64,
    /// What the last live probe said ("accepted", "rejected: ...").
    pub last_probe: Option<String>,
    pub last_probe_at_ms: Option<i64>,
    /// The cookie file can be read by other users (it should be 0600).
    pub world_readable: bool,
}

impl AuthReport {
    pub fn is_invalid(&self) -> bool {
        matches!(
            self.outcome.as_str(),
            "expired" | "missing" | "malformed" | "rejected" | "no-file"
        )
    }
}

/// The machine the fleet runs on, at the last sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostInfo {
    pub cpu_percent: f32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    /// The filesystem holding the botctl home.
    pub disk_path: String,
    pub disk_used_bytes: u64,
    pub disk_total_bytes: u64,
    /// 1, 5 and 15 minute load averages.
    pub load: Vec<f64>,
    pub uptime_secs: u64,
    pub sampled_at_ms: i64,
}

impl HostInfo {
    pub fn memory_percent(&self) -> f64 {
        percent(self.memory_used_bytes, self.memory_total_bytes)
    }
    pub fn disk_percent(&self) -> f64 {
        percent(self.disk_used_bytes, self.disk_total_bytes)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// One point of a bot's resource history (a minute, averaged for CPU, peak for memory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplePoint {
    pub ts_ms: i64,
    pub cpu_percent: f32,
    pub memory_bytes: u64,
}

/// What supervision had to do for a bot, from the retained event history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecoveryRecord {
    pub restarts: u32,
    /// Exits nobody asked for.
    pub crashes: u32,
    /// Restarts for a memory or CPU limit or host memory pressure.
    pub limit_restarts: u32,
    pub health_restarts: u32,
    pub last_exit: Option<ExitInfo>,
    /// Mean time from a crash or forced restart to the bot running again.
    pub mean_time_to_recovery_ms: Option<u64>,
    /// Crashes and forced restarts after which the bot ran again (the rest were stopped by
    /// someone, or are still down).
    pub recoveries: u32,
}

/// A problem with one configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigIssue {
    pub file: String,
    pub field: Option<String>,
    pub message: String,
    /// The bot this file belongs to, when it is a bot file.
    pub bot: Option<String>,
    /// True when an earlier good version of this bot keeps running.
    pub kept_last_good: bool,
    /// Where in the file, from 1, when the problem has a place.
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The `botctl.toml` section this problem switches off (e.g. `remote.telegram`) while
    /// the rest of the file applies.
    pub section_off: Option<String>,
}

impl ConfigIssue {
    /// `e` as the wire carries it; `file` is the path as the user should see it.
    pub fn new(
        e: &config::ConfigError,
        file: String,
        bot: Option<String>,
        kept_last_good: bool,
    ) -> Self {
        ConfigIssue {
            file,
            field: e.field.clone(),
            message: e.message.clone(),
            bot,
            kept_last_good,
            line: e.location.map(|l| l.0),
            column: e.location.map(|l| l.1),
            section_off: None,
        }
    }

    /// A problem that switches a section of `botctl.toml` off, and says so.
    pub fn section_off(mut self, section: &str) -> Self {
        self.section_off = Some(section.to_string());
        self
    }
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        match &self.field {
            Some(field) => write!(f, ": field `{}`: {}", field, self.message)?,
            None => write!(f, ": {}", self.message)?,
        }
        match &self.section_off {
            Some(section) => write!(f, "; [{section}] is off, the rest of botctl.toml applies"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    pub agent: AgentInfo,
    pub bots: Rows,
    pub config_issues: Vec<ConfigIssue>,
    /// None until the first sample is taken.
    pub host: Option<HostInfo>,
    /// sd_notify messages from processes that are no bot's, since the agent started.
    pub notify_ignored: u64,
}

/// The fleet in numbers: the last line of `status` and the `summary` of `status --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub bots: usize,
    pub running: usize,
    pub failed: usize,
    /// Bots with `[auth]` whose last check found the session valid (expiring included).
    pub auth_valid: usize,
    /// Parked for an invalid session, or whose last check found it expired, missing,
    /// malformed, rejected or without a file.
    pub auth_invalid: usize,
    /// Valid but expiring within `warn_before`.
    pub auth_expiring: usize,
    pub over_limit: usize,
    pub stopped: usize,
    /// Some bot is failed, backing off, auth-invalid, config-error or over its limit, or a
    /// configuration file has a problem: what `status` exits 1 for.
    pub needs_attention: bool,
}

impl Summary {
    pub fn of(bots: &[BotInfo], config_issues: &[ConfigIssue]) -> Summary {
        let count = |s: BotState| bots.iter().filter(|b| b.state == s).count();
        let auth = |outcomes: &[&str]| {
            bots.iter()
                .filter(|b| b.auth.as_deref().is_some_and(|a| outcomes.contains(&a)))
                .count()
        };
        let auth_invalid = bots
            .iter()
            .filter(|b| {
                b.state == BotState::AuthInvalid
                    || b.auth.as_deref().is_some_and(|a| {
                        matches!(
                            a,
                            "expired" | "missing" | "malformed" | "rejected" | "no-file"
                        )
                    })
            })
            .count();
        Summary {
            bots: bots.len(),
            running: count(BotState::Running),
            failed: count(BotState::Failed),
            auth_valid: auth(&["valid", "expiring"]),
            auth_invalid,
            auth_expiring: auth(&["expiring"]),
            over_limit: count(BotState::OverLimit),
            stopped: count(BotState::Stopped),
            needs_attention: bots.iter().any(|b| b.state.is_problem())
                || config_issues.iter().any(|i| i.bot.is_none()),
        }
    }
}

/// `status --json`'s whole text as the agent writes it (see [`json::status_text`]), and
/// whether anything needs attention (the exit code of `status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusText {
    pub json: String,
    pub needs_attention: bool,
}

/// A bot's last few health samples, oldest first: the sparklines of `botctl top`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentFigures {
    pub bot: String,
    pub cpu_percent: Vec<f32>,
    pub memory_bytes: Vec<u64>,
}

/// What the agent itself costs, at the last health sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AgentUsage {
    /// % of one core since the sample before.
    pub cpu_percent: f32,
    pub memory_bytes: u64,
}

/// Everything one refresh of `botctl top` shows, answered from what the agent holds in memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopReport {
    pub status: StatusReport,
    /// None until the first health sample.
    pub usage: Option<AgentUsage>,
    /// The running bots' recent samples (a bot without samples has no entry).
    pub recent: Vec<RecentFigures>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Start,
    Stop,
    Restart,
    Recover,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Recover => "recover",
        }
    }
}

/// Which bots a command acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    Bots(Vec<String>),
    All,
    Owner(String),
    /// `recover` with no names: every bot that is failed or backing off.
    Failing,
    /// Every bot made from this template.
    Template(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotOutcome {
    pub bot: String,
    pub ok: bool,
    /// What happened, or why it did not.
    pub message: String,
    pub state: Option<BotState>,
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionReport {
    pub action: Action,
    pub outcomes: Vec<BotOutcome>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct AddBot {
    pub name: String,
    pub owner: String,
    pub command: Vec<String>,
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
    pub platform: Option<String>,
    pub start: bool,
}

impl std::fmt::Debug for AddBot {
    // env values can be tokens: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddBot")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("command", &self.command)
            .field("cwd", &self.cwd)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("platform", &self.platform)
            .field("start", &self.start)
            .finish()
    }
}

/// The effective restart policy of a bot, in milliseconds for a stable `--json` shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInfo {
    pub policy: String,
    pub stable_after_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub max_restarts: u32,
    pub window_ms: u64,
    pub retry_after_ms: u64,
    pub stop_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotDetail {
    pub info: BotInfo,
    pub file: String,
    pub command: Vec<String>,
    pub cwd: String,
    /// Names only: values can be secrets.
    pub env_keys: Vec<String>,
    pub template: Option<String>,
    pub policy: PolicyInfo,
    pub stdout_log: String,
    pub stderr_log: String,
    pub recent_events: Vec<EventRecord>,
    pub config_issue: Option<ConfigIssue>,
    pub limits: LimitsInfo,
    /// The last hour, oldest first.
    pub history: Vec<SamplePoint>,
    pub record: RecoveryRecord,
    /// What `[health]` checks, e.g. "tcp 127.0.0.1:8080, http http://...".
    pub health_checks: Option<String>,
    /// The `env_file` as written (a path, never its content).
    pub env_file: Option<String>,
    /// `[restart] schedule` in force, and its next run (Unix ms).
    pub schedule: Option<ScheduleInfo>,
}

/// A bot's scheduled restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// The cron line, read in the agent's local time.
    pub cron: String,
    pub next_ms: Option<i64>,
}

/// The resource limits in force for a bot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitsInfo {
    pub max_memory_mb: u64,
    pub max_cpu_percent: u32,
    pub memory_samples: u32,
    pub cpu_samples: u32,
    pub restart_on_pressure: bool,
    pub forecast_window_ms: u64,
    pub forecast_horizon_ms: u64,
    pub forecast_min_samples: u32,
    pub restart_before_limit: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    pub issues: Vec<ConfigIssue>,
    /// `Missing`: bots.d is gone and `removed` are stopped; `Unreadable`: every bot was kept
    /// as it was (the reason is in `issues`).
    pub listing: config::Listing,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventQuery {
    pub bot: Option<String>,
    /// Unix time in milliseconds.
    pub since_ms: Option<i64>,
    /// Only events with a larger id (for following).
    pub after_id: Option<i64>,
    /// The newest `limit` events, returned oldest first.
    pub limit: u32,
    /// Only events about this owner's bots.
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: i64,
    /// Unix time in milliseconds.
    pub ts_ms: i64,
    pub bot: Option<String>,
    pub owner: Option<String>,
    pub kind: String,
    pub message: String,
    /// Who caused it: `uid 1000`, `telegram user 42`, `github delivery ID`; None for the
    /// agent's own doing (and for events recorded before botctl kept it).
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShutdownReport {
    pub stopped: Vec<String>,
    pub kept: Vec<String>,
}

/// `bots create`: a bot from a template.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateBot {
    pub name: String,
    pub owner: String,
    pub template: String,
    /// `--set KEY=VALUE` overrides of the bot file (values can be secrets: never printed).
    pub sets: Vec<(String, String)>,
    pub start: bool,
}

impl std::fmt::Debug for CreateBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateBot")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("template", &self.template)
            .field(
                "sets",
                &self
                    .sets
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("start", &self.start)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub name: String,
    pub description: Option<String>,
    pub command: Vec<String>,
    pub platform: String,
    /// Bots made from it.
    pub bots: u32,
    pub bytes: u64,
    /// Why its template.toml cannot be used, if it cannot.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerStorage {
    pub owner: String,
    pub bytes_used: u64,
    pub quota_bytes: u64,
    pub bots: u32,
    /// What the bots' links to templates save compared with full copies.
    pub saved_by_links: u64,
    pub over_quota: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageReport {
    pub owners: Vec<OwnerStorage>,
    pub total_bytes: u64,
    pub total_saved_by_links: u64,
    pub templates_bytes: u64,
}

/// One thing cleanup would remove (or removed). `path` is relative to the home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupItem {
    /// temp, orphan, dangling-link, old-log, stale-registry, database
    pub kind: String,
    pub path: String,
    pub bytes: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CleanupReport {
    /// What was (or, for a plan, would be) removed.
    pub items: Vec<CleanupItem>,
    pub bytes: u64,
    /// Paths that were not removed, and why.
    pub failed: Vec<(String, String)>,
}

/// An access token of the HTTP API and dashboard, as `tokens list` shows it: never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public; part of the token, named in events and used to revoke it.
    pub id: String,
    /// The person it was made for: the owner whose bots it reaches (every owner's, if admin).
    pub user: String,
    pub admin: bool,
    /// Can look but not act.
    pub read_only: bool,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    /// Kept in memory on each use and written at most once a minute.
    pub last_used_ms: Option<i64>,
}

impl TokenInfo {
    /// "owner", "owner, read-only", "admin", "admin, read-only": what it may do, in the words
    /// `tokens list` and the events use.
    pub fn scope(&self) -> String {
        let who = if self.admin { "admin" } else { "owner" };
        if self.read_only {
            format!("{who}, read-only")
        } else {
            who.to_string()
        }
    }
}

/// `tokens create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewToken {
    pub user: String,
    pub admin: bool,
    pub read_only: bool,
    /// How long it is valid from now; None: until revoked.
    pub expires_in_ms: Option<u64>,
}

/// A token just made: the only time its value exists outside the person's hands.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedToken {
    pub info: TokenInfo,
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("info", &self.info)
            .field("token", &"hidden")
            .finish()
    }
}

/// The agent's RPC service. Append only (see the module comment).
/// Wire invariant for every protocol version: `hello` is request 0 and `status` request 1,
/// without arguments. `botctl status` sends both at once, before it knows the agent's
/// protocol, so an agent of any version must read that second request as `status`.
/// (`status --json` sends `status_text` instead: an agent of an older protocol cannot read
/// it and drops the connection, and the CLI then says `hello` alone, which names the
/// mismatch.)
#[tarpc::service]
pub trait Agent {
    /// First call of every session: the agent refuses a client of another protocol version.
    async fn hello(client: ClientHello) -> Result<AgentInfo, RpcError>;
    async fn status() -> StatusReport;
    async fn list_bots(owner: Option<String>) -> Rows;
    async fn control(action: Action, target: Target) -> Result<ActionReport, RpcError>;
    async fn add_bot(bot: AddBot) -> Result<BotOutcome, RpcError>;
    async fn remove_bot(name: String, purge: bool) -> Result<BotOutcome, RpcError>;
    async fn show_bot(name: String) -> Result<BotDetail, RpcError>;
    async fn reload() -> ReloadReport;
    async fn events(query: EventQuery) -> Result<Vec<EventRecord>, RpcError>;
    async fn shutdown(keep_bots: bool) -> ShutdownReport;
    async fn create_bot(bot: CreateBot) -> Result<BotOutcome, RpcError>;
    async fn templates() -> Vec<TemplateInfo>;
    async fn storage(owner: Option<String>) -> StorageReport;
    /// The cleanup plan: what `cleanup --force` would remove now.
    async fn cleanup_plan(owner: Option<String>) -> CleanupReport;
    /// Removes those of `items` that are still in a fresh plan.
    async fn cleanup_apply(items: Vec<CleanupItem>) -> CleanupReport;
    /// Checks the sessions of these bots now (all bots with `[auth]` when empty).
    async fn auth_check(bots: Vec<String>) -> Result<Vec<AuthReport>, RpcError>;
    /// Validates a cookie file, installs it for the bot (0600, atomically) and checks it.
    async fn set_cookies(bot: String, file: String) -> Result<AuthReport, RpcError>;
    /// Updates one bot's code (git pull --ff-only or its update_command) and restarts it.
    async fn update_bot(bot: String) -> Result<BotOutcome, RpcError>;
    /// Bots with an `[update]` section.
    async fn updatable_bots() -> Vec<String>;
    /// Sends a test alert through every configured channel; says where it went.
    async fn notify_test(message: String) -> Result<String, RpcError>;
    /// One refresh of `botctl top`: `status`, the agent's own cost and each bot's recent samples.
    async fn top() -> TopReport;
    /// What will break next: every forecast the caller may see, soonest first.
    async fn forecast() -> Vec<Forecast>;
    /// Makes an API token (admin only); its value is in this answer and nowhere else.
    async fn tokens_create(token: NewToken) -> Result<CreatedToken, RpcError>;
    async fn tokens_list() -> Result<Vec<TokenInfo>, RpcError>;
    /// Revokes a token by id: refused from then on, like a wrong one.
    async fn tokens_revoke(id: String) -> Result<TokenInfo, RpcError>;
    /// `status --json` of the whole fleet, written by the agent; `None` when the text would
    /// not fit in a frame (the CLI then asks `status` and writes it itself).
    async fn status_text() -> Option<StatusText>;
}

/// This machine's host name (the kernel's), or `unknown`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Milliseconds since the Unix epoch, the time unit on the wire.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use std::pin::Pin;
    use tarpc::tokio_serde::Serializer;
    use tarpc::tokio_serde::formats::Bincode;

    fn encode(request: &AgentRequest) -> Vec<u8> {
        let mut codec = Bincode::<AgentRequest, AgentRequest>::default();
        Pin::new(&mut codec).serialize(request).unwrap().to_vec()
    }

    #[test]
    fn status_is_request_one_without_arguments_forever() {
        let hello = encode(&AgentRequest::Hello {
            client: ClientHello {
                version: String::new(),
                protocol: 0,
            },
        });
        assert_eq!(hello[0], 0, "hello is request 0: {hello:?}");
        assert_eq!(
            encode(&AgentRequest::Status {}),
            vec![1],
            "status is request 1, alone"
        );
    }
}
