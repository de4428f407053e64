//! Events into alerts: each kind's meaning (declared in events.rs) applied to one event, in
//! what words, and when a crashed bot has really recovered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use botctl_proto::config::DEFAULT_STABLE_AFTER;
use botctl_proto::human::duration as format_duration;

use super::{Alert, AlertKind, Level, Notifier};
use crate::events::{Cause, Event, EventKind, Meaning};

/// Every alert kind that belongs to one bot, cleared together when the bot is removed.
const BOT_KINDS: &[EventKind] = &[
    EventKind::Failed,
    EventKind::Recovered,
    EventKind::AuthInvalid,
    EventKind::AuthExpiring,
    EventKind::HealthRestart,
    EventKind::UpdateFailed,
    EventKind::LimitRestart,
    EventKind::PressureRestart,
    EventKind::Forecast,
    EventKind::ForecastRestart,
];

/// How a bot went down, as far as the news of its recovery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Down {
    /// It crashed (or could not be started): only a stable run afterwards is a recovery.
    Crashed,
    /// It was given up on (`failed`, a critical alert): the recovery ends that alert.
    GaveUp,
}

/// Whether this event puts its bot down, and how. Limit, health and pressure restarts are the
/// agent's own choice and already alerted (a warning), so neither they nor the quick exit or
/// backoff of the process they replaced make the start that follows a recovery from a crash.
fn downed_by(e: &Event) -> Option<Down> {
    let recycled = matches!(
        e.cause,
        Some(Cause::Limit | Cause::Health | Cause::Pressure)
    );
    match e.kind {
        EventKind::Failed => Some(Down::GaveUp),
        EventKind::Exited | EventKind::Backoff if !recycled => Some(Down::Crashed),
        EventKind::SpawnFailed => Some(Down::Crashed),
        _ => None,
    }
}

/// The news that a bot which went down `down` has run for `stable_after` since `started`.
pub fn recovery(down: Down, started: &Event, stable_after: Duration) -> Option<Alert> {
    let bot = started.bot.as_deref()?;
    let since = match down {
        Down::Crashed => "it crashed",
        Down::GaveUp => "it was given up on (failed)",
    };
    let message = format!(
        "{bot} recovered: running for {} since {since} ({})",
        format_duration(stable_after),
        started.message
    );
    Some(about(
        Alert::new(Level::Info, EventKind::Recovered, message),
        started,
    ))
}

/// What this event means: its kind's meaning, with a host threshold's direction read from
/// the message (one kind serves both).
fn meaning(e: &Event) -> Meaning {
    match e.kind.meaning() {
        Meaning::Crosses(_) if e.message.contains("back to") => Meaning::Clears {
            kinds: e.kind.alone(),
            level: Some(Level::Info),
        },
        Meaning::Crosses(level) => Meaning::Opens(Some(level)),
        meaning => meaning,
    }
}

/// The alert an event raises at once, if any, and the conditions it ends. Recoveries are not
/// here: they are known only once the bot has run for `stable_after` (see `Alerts`).
pub fn alert_for(e: &Event) -> (Option<Alert>, &'static [EventKind]) {
    let (level, clears, always) = match meaning(e) {
        Meaning::Quiet | Meaning::Opens(None) => return (None, &[]),
        // Read as Opens or Clears by `meaning`.
        Meaning::Crosses(level) => (level, &[][..], false),
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
    let mut alert = about(Alert::new(level, e.kind, text), e);
    if always {
        alert = alert.always();
    }
    (Some(alert), clears)
}

fn about(mut alert: Alert, e: &Event) -> Alert {
    alert.bot.clone_from(&e.bot);
    alert.owner.clone_from(&e.owner);
    alert
}

/// The periodic fleet summary: always sent, it is never a repeat.
pub fn summary(text: String) -> Alert {
    Alert::new(Level::Info, AlertKind::Summary, text).always()
}

/// Turns events into alerts through whatever notifier is configured now, and watches each
/// bot's crashes to say when it has really recovered.
pub struct Alerts {
    shared: Arc<Shared>,
}

struct Shared {
    notifier: Mutex<Option<Notifier>>,
    /// Alerts and clears of events recorded before there was a notifier (a bot that crashes
    /// while the fleet loads), in order, for the first one set.
    early: Mutex<Vec<Early>>,
    stable_after: Mutex<Duration>,
    bots: Mutex<HashMap<String, Watch>>,
}

/// At most this many alerts and clears wait for the first notifier (the latest are kept).
const EARLY: usize = 1000;

/// An alert, or the news that a condition ended (bot, owner, the kinds it ends), recorded
/// before there was a notifier.
enum Early {
    Alert(Alert),
    Clear(Option<String>, Option<String>, &'static [EventKind]),
}

/// One bot as far as recoveries go.
#[derive(Default)]
struct Watch {
    /// Crashed (or kept crashing, or was given up on) and not yet run stably since.
    down: Option<Down>,
    /// Moves on every crash or stop, so a pending confirmation can tell that it is stale.
    epoch: u64,
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            shared: Arc::new(Shared {
                notifier: Mutex::new(None),
                early: Mutex::new(Vec::new()),
                stable_after: Mutex::new(DEFAULT_STABLE_AFTER),
                bots: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Alerts {
    pub fn on_event(&self, e: &Event) {
        let (alert, clears) = alert_for(e);
        {
            let notifier = self
                .shared
                .notifier
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match notifier.as_ref() {
                Some(notifier) => {
                    if !clears.is_empty() {
                        notifier.clear(e.bot.as_deref(), e.owner.as_deref(), clears);
                    }
                    if let Some(alert) = alert {
                        notifier.notify(alert);
                    }
                }
                None => {
                    let mut early = self
                        .shared
                        .early
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if !clears.is_empty() {
                        early.push(Early::Clear(e.bot.clone(), e.owner.clone(), clears));
                    }
                    if let Some(alert) = alert {
                        early.push(Early::Alert(alert));
                    }
                    let over = early.len().saturating_sub(EARLY);
                    early.drain(..over);
                }
            }
        }
        if let Some(bot) = &e.bot {
            self.watch(bot, e);
        }
    }

    /// Keeps track of crashes, and after a start that follows one, confirms the recovery once
    /// the bot has run for `stable_after` without crashing or being stopped.
    fn watch(&self, bot: &str, e: &Event) {
        let kind = e.kind;
        let mut bots = self
            .shared
            .bots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if kind == EventKind::Stopped && e.message.contains("bot removed") {
            bots.remove(bot);
            drop(bots);
            self.notifier().clear(Some(bot), None, BOT_KINDS);
            return;
        }
        let watch = bots.entry(bot.to_owned()).or_default();
        let downed = downed_by(e);
        if downed.is_some() || kind == EventKind::Stopped {
            // The worst of what happened since the last stable run is what a recovery ends.
            watch.down = watch.down.max(downed);
            watch.epoch += 1;
            return;
        }
        if !(watch.down.is_some() && matches!(kind, EventKind::Started | EventKind::Restarted)) {
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

    /// The notifier from now on; what happened before the first one was set is handed to it.
    pub fn set(&self, n: Notifier) {
        let mut notifier = self
            .shared
            .notifier
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let early = std::mem::take(
            &mut *self
                .shared
                .early
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for item in early {
            match item {
                Early::Alert(alert) => n.notify(alert),
                Early::Clear(bot, owner, kinds) => n.clear(bot.as_deref(), owner.as_deref(), kinds),
            }
        }
        *notifier = Some(n);
    }

    /// An owner's storage is back under its quota: the next time over it is a new incident.
    pub fn quota_ok(&self, owner: &str) {
        self.notifier()
            .clear(None, Some(owner), &[EventKind::OverQuota]);
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

    fn confirm(&self, started: &Event, epoch: u64, stable_after: Duration) {
        let Some(bot) = &started.bot else { return };
        let down = {
            let mut bots = self.bots.lock().unwrap_or_else(PoisonError::into_inner);
            match bots.get_mut(bot) {
                Some(watch) if watch.epoch == epoch => match watch.down.take() {
                    Some(down) => down,
                    None => return,
                },
                _ => return,
            }
        };
        let notifier = self.notifier();
        notifier.clear(Some(bot), None, &[EventKind::Failed]);
        if let Some(alert) = recovery(down, started, stable_after) {
            notifier.notify(alert);
        }
    }
}
