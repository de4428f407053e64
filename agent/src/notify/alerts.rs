//! Alert wording: which events the operator hears about, at what level and in what words, and
//! which conditions they open or clear, so that de-duplication only holds back one incident.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use botctl_proto::config::{DEFAULT_STABLE_AFTER, format_duration};

use super::{Alert, Level, Notifier};
use crate::store::NewEvent;

/// A bot that gave up restarting: open until it runs stably again.
const FAILED: &str = "failed";
const RECOVERED: &str = "recovered";
const AUTH_INVALID: &str = "auth-invalid";
const AUTH_EXPIRING: &str = "auth-expiring";
const HEALTH_RESTART: &str = "health-restart";
const UPDATE_FAILED: &str = "update-failed";
const OVER_QUOTA: &str = "over-quota";
const HOST_MEMORY: &str = "host-memory";
const HOST_DISK: &str = "host-disk";
const STORE_ERROR: &str = "store-error";
const REMOTE_UNAVAILABLE: &str = "remote-unavailable";

/// Every alert kind that belongs to one bot, cleared together when the bot is removed.
const BOT_KINDS: &[&str] = &[
    FAILED,
    RECOVERED,
    AUTH_INVALID,
    AUTH_EXPIRING,
    HEALTH_RESTART,
    UPDATE_FAILED,
    "limit-restart",
    "pressure-restart",
];

/// Event kinds after which the bot is down by a crash (or keeps crashing): only a stable run
/// afterwards is a recovery. Limit, health and pressure restarts are the agent's own choice and
/// already alerted, so the start that follows them is not news.
const CRASH_KINDS: &[&str] = &["exited", "backoff", FAILED, "spawn-failed"];

/// What an event means for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// Not alerted.
    Quiet,
    /// A condition began (or goes on): alerted at `level` once per incident, that is again only
    /// after a clearing event or `repeat_after`. `None`: a condition not alerted (yet) whose
    /// clearing is still modelled.
    Opens(Option<Level>),
    /// A condition ended: alerts of `kinds` are news again; `level` says whether the end is
    /// itself alerted (always sent).
    Clears {
        kinds: &'static [&'static str],
        level: Option<Level>,
    },
    /// News on its own (an update applied, what cleanup freed, an agent start).
    Once(Level),
}

/// The table of events and conditions; the README's "Alerts and remote control" in code.
fn meaning(e: &NewEvent) -> Meaning {
    // The host thresholds use one kind for both directions; the message tells them apart.
    let back = e.message.contains("back to");
    match e.kind.as_str() {
        FAILED | AUTH_INVALID | UPDATE_FAILED => Meaning::Opens(Some(Level::Critical)),
        "limit-restart" | "pressure-restart" | HEALTH_RESTART | AUTH_EXPIRING | OVER_QUOTA => {
            Meaning::Opens(Some(Level::Warning))
        }
        HOST_MEMORY | HOST_DISK if !back => Meaning::Opens(Some(Level::Warning)),
        HOST_MEMORY => Meaning::Clears {
            kinds: &[HOST_MEMORY],
            level: Some(Level::Info),
        },
        HOST_DISK => Meaning::Clears {
            kinds: &[HOST_DISK],
            level: Some(Level::Info),
        },
        "auth-unknown" | STORE_ERROR | REMOTE_UNAVAILABLE => Meaning::Opens(None),
        "auth-valid" => Meaning::Clears {
            kinds: &[AUTH_INVALID, AUTH_EXPIRING],
            level: Some(Level::Info),
        },
        "health-recovered" => Meaning::Clears {
            kinds: &[HEALTH_RESTART],
            level: None,
        },
        "update-applied" => Meaning::Clears {
            kinds: &[UPDATE_FAILED],
            level: Some(Level::Info),
        },
        "store-recovered" => Meaning::Clears {
            kinds: &[STORE_ERROR],
            level: None,
        },
        "remote" => Meaning::Clears {
            kinds: &[REMOTE_UNAVAILABLE],
            level: None,
        },
        "agent-started" | "cleanup-freed" => Meaning::Once(Level::Info),
        _ => Meaning::Quiet,
    }
}

/// The alert an event raises at once, if any, and the conditions it ends. Recoveries are not
/// here: they are known only once the bot has run for `stable_after` (see `Alerts`).
pub fn alert_for(e: &NewEvent) -> (Option<Alert>, &'static [&'static str]) {
    let (level, clears, always) = match meaning(e) {
        Meaning::Quiet | Meaning::Opens(None) => return (None, &[]),
        Meaning::Clears { kinds, level: None } => return (None, kinds),
        Meaning::Opens(Some(level)) => (level, &[][..], false),
        Meaning::Clears {
            kinds,
            level: Some(level),
        } => (level, kinds, true),
        Meaning::Once(level) => (level, &[][..], false),
    };
    let text = match &e.bot {
        Some(bot) => format!("{bot}: {}", e.message),
        None => e.message.clone(),
    };
    let mut alert = about(Alert::new(level, e.kind.clone(), text), e);
    if always {
        alert = alert.always();
    }
    (Some(alert), clears)
}

fn about(mut alert: Alert, e: &NewEvent) -> Alert {
    alert.bot.clone_from(&e.bot);
    alert.owner.clone_from(&e.owner);
    alert
}

/// The periodic fleet summary: always sent, it is never a repeat.
pub fn summary(text: String) -> Alert {
    Alert::new(Level::Info, "summary", text).always()
}

/// Turns events into alerts through whatever notifier is configured now, and watches each
/// bot's crashes to say when it has really recovered.
pub struct Alerts {
    shared: Arc<Shared>,
}

struct Shared {
    notifier: Mutex<Option<Notifier>>,
    stable_after: Mutex<Duration>,
    bots: Mutex<HashMap<String, Watch>>,
}

/// One bot as far as recoveries go.
#[derive(Default)]
struct Watch {
    /// Crashed (or kept crashing) and not yet run stably since.
    down: bool,
    /// Moves on every crash or stop, so a pending confirmation can tell that it is stale.
    epoch: u64,
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            shared: Arc::new(Shared {
                notifier: Mutex::new(None),
                stable_after: Mutex::new(DEFAULT_STABLE_AFTER),
                bots: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Alerts {
    pub fn on_event(&self, e: &NewEvent) {
        let notifier = self.notifier();
        let (alert, clears) = alert_for(e);
        if !clears.is_empty() {
            notifier.clear(e.bot.as_deref(), e.owner.as_deref(), clears);
        }
        if let Some(alert) = alert {
            notifier.notify(alert);
        }
        if let Some(bot) = &e.bot {
            self.watch(bot, e);
        }
    }

    /// Keeps track of crashes, and after a start that follows one, confirms the recovery once
    /// the bot has run for `stable_after` without crashing or being stopped.
    fn watch(&self, bot: &str, e: &NewEvent) {
        let kind = e.kind.as_str();
        let mut bots = self
            .shared
            .bots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if kind == "stopped" && e.message.contains("bot removed") {
            bots.remove(bot);
            drop(bots);
            self.notifier().clear(Some(bot), None, BOT_KINDS);
            return;
        }
        let watch = bots.entry(bot.to_owned()).or_default();
        if CRASH_KINDS.contains(&kind) || kind == "stopped" {
            watch.down |= kind != "stopped";
            watch.epoch += 1;
            return;
        }
        if !(watch.down && (kind == "started" || kind == "restarted")) {
            return;
        }
        let epoch = watch.epoch;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = self.shared.clone();
        let stable_after = *shared
            .stable_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let started = e.clone();
        runtime.spawn(async move {
            tokio::time::sleep(stable_after).await;
            shared.confirm(&started, epoch, stable_after);
        });
    }

    /// Recoveries are confirmed after the fleet's `[restart] stable_after`, the run that
    /// the supervisor also counts as stable.
    pub fn set_stable_after(&self, stable_after: Duration) {
        *self
            .shared
            .stable_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = stable_after;
    }

    pub fn notifier(&self) -> Notifier {
        self.shared.notifier()
    }

    pub fn set(&self, n: Notifier) {
        *self
            .shared
            .notifier
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(n);
    }

    /// An owner's storage is back under its quota: the next time over it is a new incident.
    pub fn quota_ok(&self, owner: &str) {
        self.notifier().clear(None, Some(owner), &[OVER_QUOTA]);
    }
}

impl Shared {
    fn notifier(&self) -> Notifier {
        self.notifier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(Notifier::disabled)
    }

    fn confirm(&self, started: &NewEvent, epoch: u64, stable_after: Duration) {
        let Some(bot) = &started.bot else { return };
        {
            let mut bots = self.bots.lock().unwrap_or_else(PoisonError::into_inner);
            match bots.get_mut(bot) {
                Some(watch) if watch.down && watch.epoch == epoch => watch.down = false,
                _ => return,
            }
        }
        let notifier = self.notifier();
        notifier.clear(Some(bot), None, &[FAILED]);
        let message = format!(
            "{bot} recovered: running for {} since it crashed ({})",
            format_duration(stable_after),
            started.message
        );
        notifier.notify(about(Alert::new(Level::Info, RECOVERED, message), started));
    }
}
