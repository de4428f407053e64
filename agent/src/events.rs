//! Every kind of event the agent records, as one enum with its stored name (the strings in old
//! databases), who caused an event (`Actor`) and why a bot went down (`Cause`).

use std::fmt;

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
    Unrecorded => "unrecorded",
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
    AgentSocketRestored => "agent-socket-restored",
    Added => "added",
    Created => "created",
    Removed => "removed",
    Reload => "reload",
    Refused => "refused",
}

impl EventKind {
    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
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
