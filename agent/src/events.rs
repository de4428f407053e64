//! Every kind of event the agent records, as one enum: its stored name (the strings in old
//! databases), its level, whether and how it alerts; who caused it (`Actor`) and why a bot went down (`Cause`).

use std::fmt;

use crate::notify::Level;
use crate::store::NewEvent;

/// Declares the kinds once: each variant with its stored name, and the list of all.
macro_rules! event_kinds {
    ($($kind:ident => $name:literal,)*) => {
        /// One kind of event. The stored names never change: old databases read the same.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($kind,)*
        }

        impl EventKind {
            pub const ALL: &[EventKind] = &[$(EventKind::$kind,)*];

            /// The name stored in the database, shown by `botctl events` and sent in alerts.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$kind => $name,)*
                }
            }
        }
    };
}

event_kinds! {
    Started => "started",
    Exited => "exited",
    Restarted => "restarted",
    ConfigChanged => "config-changed",
    Backoff => "backoff",
    Failed => "failed",
    Recovered => "recovered",
    Stopped => "stopped",
    StopIncomplete => "stop-incomplete",
    SpawnFailed => "spawn-failed",
    Adopted => "adopted",
    Discovered => "discovered",
    ConfigError => "config-error",
    LimitRestart => "limit-restart",
    HealthRestart => "health-restart",
    PressureRestart => "pressure-restart",
    HealthFailing => "health-failing",
    HealthRecovered => "health-recovered",
    HealthError => "health-error",
    AuthInvalid => "auth-invalid",
    AuthValid => "auth-valid",
    AuthExpiring => "auth-expiring",
    AuthUnknown => "auth-unknown",
    AuthWarning => "auth-warning",
    AuthCookies => "auth-cookies",
    OverLimit => "over-limit",
    OverQuota => "over-quota",
    Cleanup => "cleanup",
    CleanupFreed => "cleanup-freed",
    LogFlood => "log-flood",
    UpdateApplied => "update-applied",
    UpdateFailed => "update-failed",
    HostMemory => "host-memory",
    HostDisk => "host-disk",
    StoreError => "store-error",
    StoreRecovered => "store-recovered",
    Remote => "remote",
    RemoteRefused => "remote-refused",
    RemoteUnavailable => "remote-unavailable",
    NotifyDropped => "notify-dropped",
    ComponentRestart => "component-restart",
    AgentStarted => "agent-started",
    AgentStopped => "agent-stopped",
    Added => "added",
    Created => "created",
    Removed => "removed",
    Reload => "reload",
    Refused => "refused",
}

/// Whether an event becomes an alert, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alerting {
    Never,
    At(Level),
    /// A threshold: `Level` when crossed, info when back (the event's `clear`).
    Threshold(Level),
    /// A start is a "recovered" alert when it follows an outage of the bot.
    AfterOutage,
}

impl EventKind {
    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// How serious it is, for display and for alerts.
    pub fn level(self) -> Level {
        match self.alerting() {
            Alerting::At(l) | Alerting::Threshold(l) => l,
            _ => Level::Info,
        }
    }

    pub fn alerting(self) -> Alerting {
        use EventKind::*;
        match self {
            Failed | AuthInvalid | UpdateFailed => Alerting::At(Level::Critical),
            LimitRestart | HealthRestart | PressureRestart | AuthExpiring | OverQuota => {
                Alerting::At(Level::Warning)
            }
            HostMemory | HostDisk => Alerting::Threshold(Level::Warning),
            AgentStarted | AuthValid | CleanupFreed | UpdateApplied => Alerting::At(Level::Info),
            Started | Restarted => Alerting::AfterOutage,
            _ => Alerting::Never,
        }
    }

    /// Kinds that follow an outage of the bot: the next start is a recovery.
    pub fn is_outage(self) -> bool {
        use EventKind::*;
        matches!(
            self,
            Exited
                | Backoff
                | Failed
                | SpawnFailed
                | LimitRestart
                | HealthRestart
                | PressureRestart
        )
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
            EventKind::LimitRestart => Some(Cause::Limit),
            EventKind::HealthRestart => Some(Cause::Health),
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
    /// A threshold event that says the condition cleared (host memory back below it, say).
    pub clear: bool,
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
            clear: false,
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

    pub fn cleared(mut self, clear: bool) -> Event {
        self.clear = clear;
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

/// "exited with code 1": how an exit reads everywhere (events, `status`, a control's answer).
pub fn exited_with(description: &str) -> String {
    format!("exited with {description}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
