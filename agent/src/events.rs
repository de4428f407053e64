//! Every kind of event the agent records, as one enum with its stored name (the strings in old
//! databases) and how it alerts; who caused an event (`Actor`) and why a bot went down (`Cause`).

use std::fmt;

use crate::store::NewEvent;

/// An optional phrase of `event_kinds!`.
macro_rules! phrase {
    () => {
        None
    };
    ($phrase:literal) => {
        Some($phrase)
    };
}

/// Declares the kinds once: each variant with its stored name, how it alerts and, for the
/// kinds that alert about bots, how a merged line says it of several. A new kind does not
/// compile until it says how it alerts.
macro_rules! event_kinds {
    ($($kind:ident => $name:literal, $meaning:expr $(, $phrase:literal)?;)*) => {
        /// One kind of event. The stored names never change: old databases read the same.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($kind,)*
        }

        impl EventKind {
            /// In declaration order, so `ALL[kind as usize] == kind`.
            pub const ALL: &[EventKind] = &[$(EventKind::$kind,)*];

            /// The name stored in the database, shown by `botctl events` and sent in alerts.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$kind => $name,)*
                }
            }

            /// What an event of this kind means for the operator (README, "Alerts and remote
            /// control").
            pub const fn meaning(self) -> Meaning {
                use Level::*;
                use Meaning::*;
                match self {
                    $(EventKind::$kind => $meaning,)*
                }
            }

            /// How a merged alert line says what happened to several bots (or owners) of
            /// this kind, e.g. "3 bots {phrase}: a, b, c".
            pub const fn phrase(self) -> Option<&'static str> {
                match self {
                    $(EventKind::$kind => phrase!($($phrase)?),)*
                }
            }
        }
    };
}

event_kinds! {
    Started => "started", Quiet;
    Exited => "exited", Quiet;
    Restarted => "restarted", Quiet;
    ConfigChanged => "config-changed", Quiet;
    Backoff => "backoff", Quiet;
    // A bot that gave up restarting: open until it runs stably again (notify confirms that).
    Failed => "failed", Opens(Some(Critical)), "failed and were given up on";
    // Alerted by notify once a start after a crash has run stably, not from the event.
    Recovered => "recovered", Quiet, "recovered";
    Stopped => "stopped", Quiet;
    StopIncomplete => "stop-incomplete", Quiet;
    SpawnFailed => "spawn-failed", Quiet;
    Adopted => "adopted", Quiet;
    Discovered => "discovered", Quiet;
    Unrecorded => "unrecorded", Quiet;
    ConfigError => "config-error", Quiet;
    LimitRestart => "limit-restart", Opens(Some(Warning)), "were restarted for exceeding their limits";
    HealthRestart => "health-restart", Opens(Some(Warning)), "were restarted by health checks";
    PressureRestart => "pressure-restart", Opens(Some(Warning)), "were restarted to relieve host memory";
    HealthFailing => "health-failing", Quiet;
    HealthRecovered => "health-recovered", Clears { kinds: &[EventKind::HealthRestart], level: None };
    HealthError => "health-error", Quiet;
    AuthInvalid => "auth-invalid", Opens(Some(Critical)), "have invalid auth";
    AuthValid => "auth-valid", Clears {
        kinds: &[EventKind::AuthInvalid, EventKind::AuthExpiring],
        level: Some(Info),
    }, "have valid auth again";
    AuthExpiring => "auth-expiring", Opens(Some(Warning)), "have auth expiring soon";
    AuthUnknown => "auth-unknown", Opens(None);
    AuthWarning => "auth-warning", Quiet;
    AuthCookies => "auth-cookies", Quiet;
    OverLimit => "over-limit", Quiet;
    OverQuota => "over-quota", Opens(Some(Warning)), "are over quota";
    Cleanup => "cleanup", Quiet;
    CleanupFreed => "cleanup-freed", Once(Info);
    LogFlood => "log-flood", Quiet;
    UpdateApplied => "update-applied", Clears {
        kinds: &[EventKind::UpdateFailed],
        level: Some(Info),
    }, "were updated";
    UpdateFailed => "update-failed", Opens(Some(Critical)), "failed to update";
    HostMemory => "host-memory", Crosses(Warning);
    HostDisk => "host-disk", Crosses(Warning);
    StoreError => "store-error", Opens(None);
    StoreRecovered => "store-recovered", Clears { kinds: &[EventKind::StoreError], level: None };
    Remote => "remote", Clears { kinds: &[EventKind::RemoteUnavailable], level: None };
    RemoteRefused => "remote-refused", Quiet;
    RemoteUnavailable => "remote-unavailable", Opens(None);
    NotifyDropped => "notify-dropped", Quiet;
    ComponentRestart => "component-restart", Quiet;
    AgentStarted => "agent-started", Once(Info);
    AgentStopped => "agent-stopped", Quiet;
    AgentSocketRestored => "agent-socket-restored", Quiet;
    Added => "added", Quiet;
    Created => "created", Quiet;
    Removed => "removed", Quiet;
    Reload => "reload", Quiet;
    Refused => "refused", Quiet;
    // Planned by the operator ([restart] schedule): nothing to tell anyone.
    ScheduledRestart => "scheduled-restart", Quiet;
    // A trend reaches a limit within its horizon (a bot's memory, the host's disk or memory):
    // one event per episode, which ends when the forecast clears or the bot restarts.
    Forecast => "forecast", Opens(Some(Warning)), "are forecast to reach their memory limit";
    ForecastCleared => "forecast-cleared", Clears { kinds: &[EventKind::Forecast], level: None };
    // `restart_before_limit`: counted like a limit restart.
    ForecastRestart => "forecast-restart", Opens(Some(Warning)), "were restarted before reaching their memory limit";
    // Alive but stuck (no watchdog ping, no log output): restarted like a failing health check.
    Hung => "hung", Opens(Some(Warning)), "were restarted as hung";
    // Started but never said READY=1 within its start_timeout.
    NotReady => "not-ready", Opens(Some(Warning)), "were restarted for not becoming ready";
    // It said READY=1 (`ready = "notify"`).
    Ready => "ready", Quiet;
    // sd_notify MAINPID=: the bot's main process is now another process of its tree.
    MainPid => "main-pid", Quiet;
    // An API token was made or revoked (never its value).
    TokenCreated => "token-created", Quiet;
    TokenRevoked => "token-revoked", Quiet;
}

/// How loud an alert is; channels only receive alerts at or above their `min_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// What an event means for the operator: whether and how it alerts, and which conditions it
/// opens or clears, so that de-duplication only holds back one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Not alerted.
    Quiet,
    /// A condition began (or goes on): alerted at `level` once per incident, that is again only
    /// after a clearing event or `repeat_after`. `None`: a condition not alerted (yet) whose
    /// clearing is still modelled.
    Opens(Option<Level>),
    /// A condition ended: alerts of `kinds` are news again; `level` says whether the end is
    /// itself alerted (always sent).
    Clears {
        kinds: &'static [EventKind],
        level: Option<Level>,
    },
    /// A host threshold, one kind for both directions: crossing it opens at `Level`; the way
    /// back ("... back to N%") clears it and is alerted as info.
    Crosses(Level),
    /// News on its own (what cleanup freed, an agent start).
    Once(Level),
}

impl EventKind {
    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// This kind alone, as a static list (what a condition that clears itself clears).
    pub fn alone(self) -> &'static [EventKind] {
        std::slice::from_ref(&EventKind::ALL[self as usize])
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a bot's process went down without anyone asking: what the statistics count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// It exited by itself (a crash, or an exit its policy restarts).
    Crash,
    /// Replaced for memory or CPU over its limit.
    Limit,
    /// Replaced after failing health checks.
    Health,
    /// Replaced because host memory ran short.
    Pressure,
}

impl Cause {
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::Crash => "crash",
            Cause::Limit => "limit",
            Cause::Health => "health",
            Cause::Pressure => "pressure",
        }
    }

    /// The cause of a recycle event, by its kind.
    pub fn of_recycle(kind: EventKind) -> Option<Cause> {
        match kind {
            EventKind::LimitRestart | EventKind::ForecastRestart => Some(Cause::Limit),
            EventKind::HealthRestart | EventKind::Hung | EventKind::NotReady => Some(Cause::Health),
            EventKind::PressureRestart => Some(Cause::Pressure),
            _ => None,
        }
    }
}

/// Who caused an event: decided once, at the door, and stored with the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The agent itself (timers, monitors, limits): nobody to name.
    Agent,
    /// A local user on the socket, by uid.
    Uid(u32),
    /// A Telegram admin, by user id.
    Telegram(i64),
    /// A GitHub webhook delivery, by its id.
    GitHub(String),
    /// An HTTP API or dashboard request: the token's id and user, and the source address.
    Token {
        id: String,
        user: String,
        from: std::net::IpAddr,
    },
}

impl Actor {
    /// What is stored and shown; None for the agent's own doing.
    pub fn stored(&self) -> Option<String> {
        match self {
            Actor::Agent => None,
            a => Some(a.to_string()),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Agent => f.write_str("agent"),
            Actor::Uid(uid) => write!(f, "uid {uid}"),
            Actor::Telegram(id) => write!(f, "telegram user {id}"),
            Actor::GitHub(delivery) => write!(f, "github delivery {delivery}"),
            Actor::Token { id, user, from } => write!(f, "{user} (token {id}) from {from}"),
        }
    }
}

/// One event as the agent records it.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub bot: Option<String>,
    pub owner: Option<String>,
    pub message: String,
    pub actor: Option<String>,
    pub cause: Option<Cause>,
}

impl Event {
    pub fn new(kind: EventKind, message: impl Into<String>) -> Event {
        Event {
            kind,
            bot: None,
            owner: None,
            message: message.into(),
            actor: None,
            cause: None,
        }
    }

    /// About this bot of this owner.
    pub fn of(mut self, bot: &str, owner: &str) -> Event {
        self.bot = Some(bot.to_string());
        self.owner = Some(owner.to_string());
        self
    }

    pub fn bot(mut self, bot: Option<&str>, owner: Option<&str>) -> Event {
        self.bot = bot.map(str::to_string);
        self.owner = owner.map(str::to_string);
        self
    }

    pub fn by(mut self, actor: &Actor) -> Event {
        self.actor = actor.stored();
        self
    }

    pub fn cause(mut self, cause: Option<Cause>) -> Event {
        self.cause = cause;
        self
    }

    /// The row the store writes (moved, not copied: a crash's events are on the restart path).
    pub fn into_row(self) -> NewEvent {
        NewEvent {
            bot: self.bot,
            owner: self.owner,
            kind: self.kind.as_str(),
            message: self.message,
            actor: self.actor,
            cause: self.cause.map(Cause::as_str),
        }
    }
}

/// Events recorded since the agent started, by kind.
pub struct Counts(Vec<std::sync::atomic::AtomicU64>);

impl Default for Counts {
    fn default() -> Self {
        Counts(
            EventKind::ALL
                .iter()
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
        )
    }
}

impl Counts {
    pub fn add(&self, kind: EventKind) {
        self.0[kind as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every kind with its count, in declaration order.
    pub fn each(&self) -> impl Iterator<Item = (EventKind, u64)> + '_ {
        EventKind::ALL.iter().map(|&k| {
            (
                k,
                self.0[k as usize].load(std::sync::atomic::Ordering::Relaxed),
            )
        })
    }
}

/// How the description of an exit the kernel caused by an OOM kill begins: a phrase of its
/// own, which "exited with" would garble.
pub const KILLED_BY_THE_KERNEL: &str = "killed by the kernel: ";

/// "exited with code 1": how an exit reads everywhere (events, `status`, a control's answer);
/// an OOM kill reads "killed by the kernel: out of memory (limit 512 MiB)".
pub fn exited_with(description: &str) -> String {
    if description.starts_with(KILLED_BY_THE_KERNEL) {
        return description.to_string();
    }
    format!("exited with {description}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_reads_exited_with_unless_the_kernel_killed_it() {
        assert_eq!(exited_with("code 3"), "exited with code 3");
        assert_eq!(
            exited_with("killed by the kernel: out of memory (limit 512 MiB)"),
            "killed by the kernel: out of memory (limit 512 MiB)"
        );
    }

    #[test]
    fn every_kind_has_one_stored_name_that_parses_back() {
        let mut names = std::collections::HashSet::new();
        for &k in EventKind::ALL {
            assert!(names.insert(k.as_str()), "{k:?} repeats a name");
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("no-such-kind"), None);
    }

    #[test]
    fn a_kind_alone_is_itself() {
        for &k in EventKind::ALL {
            assert_eq!(k.alone(), [k]);
        }
    }

    #[test]
    fn every_kind_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        for &k in EventKind::ALL {
            assert!(
                readme.contains(&format!("| `{}` |", k.as_str())),
                "README's Events table lacks {k}"
            );
        }
    }

    #[test]
    fn actors_read_as_documented() {
        assert_eq!(Actor::Uid(1000).stored().as_deref(), Some("uid 1000"));
        assert_eq!(Actor::Agent.stored(), None);
        assert_eq!(
            Actor::GitHub("abc".into()).to_string(),
            "github delivery abc"
        );
    }
}
