//! What every component of the agent shares: paths, the store, the alerts, the last host
//! sample, and `record()`, the one way an event is stored and fanned out to alerts.

use std::collections::HashMap;
use std::sync::Mutex;

use botctl_proto::{Paths, now_ms};

use crate::events::{Alerting, Event, EventKind};
use crate::notify::{Alert, Level, Notifier};
use crate::store::Store;

/// What every component of the agent shares.
pub struct Context {
    pub paths: Paths,
    pub store: Store,
    pub started_at_ms: i64,
    /// The host at the last health sample.
    pub host: Mutex<Option<botctl_proto::HostInfo>>,
    /// Wakes the cleanup loop before its interval (disk use crossed max_disk_percent).
    pub cleanup_now: tokio::sync::Notify,
    /// Asks the auth monitor to check a bot soon (set once the monitor runs).
    pub auth_requests: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<String>>,
    /// Events that deserve a notification become alerts here.
    pub alerts: Alerts,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl Context {
    pub fn new(paths: Paths, store: Store) -> Context {
        Context {
            paths,
            store,
            started_at_ms: now_ms(),
            host: Mutex::new(None),
            cleanup_now: tokio::sync::Notify::new(),
            auth_requests: std::sync::OnceLock::new(),
            alerts: Alerts::default(),
            http: std::sync::OnceLock::new(),
        }
    }

    /// Records an event, and alerts about it when it deserves one.
    pub fn record(&self, event: Event) {
        self.alerts.on_event(&event);
        self.store.record(event.into_row());
    }

    pub fn notifier(&self) -> Notifier {
        self.alerts.notifier()
    }

    pub fn request_auth_check(&self, bot: &str) {
        if let Some(tx) = self.auth_requests.get() {
            let _ = tx.send(bot.to_string());
        }
    }

    /// One HTTP client for the agent, built on first use (its TLS setup is not free).
    pub fn http_client(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("botctl/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default()
        })
    }
}

/// A request to end the agent, from the RPC `shutdown`, and who made it.
#[derive(Default)]
pub struct Shutdown {
    notify: tokio::sync::Notify,
    by: Mutex<Option<crate::events::Actor>>,
}

impl Shutdown {
    pub fn request(&self, by: crate::events::Actor) {
        *self.by.lock().unwrap() = Some(by);
        self.notify.notify_one();
    }

    /// Waits for a request; answers who made it.
    pub async fn requested(&self) -> crate::events::Actor {
        self.notify.notified().await;
        self.by
            .lock()
            .unwrap()
            .take()
            .unwrap_or(crate::events::Actor::Agent)
    }
}

/// The alert an event raises, if any. `last` is the bot's previous event kind.
pub fn alert_for(e: &Event, last: Option<EventKind>) -> Option<Alert> {
    let level = match e.kind.alerting() {
        Alerting::Never => return None,
        Alerting::At(level) => level,
        Alerting::Threshold(_) if e.clear => Level::Info,
        Alerting::Threshold(level) => level,
        Alerting::AfterOutage if last.is_some_and(EventKind::is_outage) => {
            let bot = e.bot.clone().unwrap_or_default();
            let mut a = Alert::new(
                Level::Info,
                EventKind::Recovered.as_str(),
                format!("{bot} recovered after a crash ({})", e.message),
            )
            .with_bot(bot);
            if let Some(o) = &e.owner {
                a = a.with_owner(o.clone());
            }
            return Some(a);
        }
        Alerting::AfterOutage => return None,
    };
    let text = match &e.bot {
        Some(bot) => format!("{bot}: {}", e.message),
        None => e.message.clone(),
    };
    let mut a = Alert::new(level, e.kind.as_str(), text);
    if let Some(b) = &e.bot {
        a = a.with_bot(b.clone());
    }
    if let Some(o) = &e.owner {
        a = a.with_owner(o.clone());
    }
    Some(a)
}

/// Turns events into alerts (through whatever notifier is configured now).
#[derive(Default)]
pub struct Alerts {
    notifier: Mutex<Option<Notifier>>,
    last_kind: Mutex<HashMap<String, EventKind>>,
}

impl Alerts {
    pub fn on_event(&self, e: &Event) {
        let last = match &e.bot {
            Some(bot) => self.last_kind.lock().unwrap().insert(bot.clone(), e.kind),
            None => None,
        };
        if let Some(alert) = alert_for(e, last)
            && let Some(n) = &*self.notifier.lock().unwrap()
        {
            n.notify(alert);
        }
    }

    pub fn notifier(&self) -> Notifier {
        self.notifier
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(Notifier::disabled)
    }

    pub fn set(&self, n: Notifier) {
        *self.notifier.lock().unwrap() = Some(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_follow_each_kinds_alerting() {
        let crossed = Event::new(EventKind::HostMemory, "host memory 95% > 90%");
        assert_eq!(alert_for(&crossed, None).unwrap().level, Level::Warning);
        let back = Event::new(EventKind::HostMemory, "host memory back to 40%").cleared(true);
        assert_eq!(alert_for(&back, None).unwrap().level, Level::Info);
        let failed = Event::new(EventKind::Failed, "gave up").of("a", "alice");
        let alert = alert_for(&failed, None).unwrap();
        assert_eq!(
            (alert.level, alert.kind.as_str()),
            (Level::Critical, "failed")
        );
        assert_eq!(alert.message, "a: gave up");
        let started = Event::new(EventKind::Started, "started, pid 9").of("a", "alice");
        assert!(alert_for(&started, Some(EventKind::Stopped)).is_none());
        let recovered = alert_for(&started, Some(EventKind::Exited)).unwrap();
        assert_eq!(recovered.kind, "recovered");
        assert!(alert_for(&Event::new(EventKind::Added, "x"), None).is_none());
    }
}
