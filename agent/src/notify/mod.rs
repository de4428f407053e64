//! Operator notifications: the public alert types, channel configuration and the `Notifier`
//! handle that supervision code calls without ever waiting on the network.

mod alerts;
mod channel;
mod dispatch;
mod retry;
mod telegram;
mod webhook;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use botctl_proto::config::{DEFAULT_REPEAT_AFTER, NotifySettings};
use tokio::sync::mpsc::UnboundedSender;

pub use alerts::{Alerts, Down, alert_for, recovery, summary};
use channel::Channel;
use dispatch::{Item, Outlet, Queue};
use retry::RetryPolicy;
pub use telegram::TelegramConfig;
pub use webhook::WebhookConfig;

use crate::events::EventKind;
pub use crate::events::Level;

impl Level {
    /// A `min_level` setting; the config parser has already refused anything else.
    pub fn from_config(name: &str) -> Level {
        match name {
            "critical" => Level::Critical,
            "warning" => Level::Warning,
            _ => Level::Info,
        }
    }

    /// The marker in front of chat messages, so the level is visible in a notification preview.
    pub fn emoji(self) -> &'static str {
        match self {
            Level::Info => "ℹ️",
            Level::Warning => "⚠️",
            Level::Critical => "🔴",
        }
    }
}

/// What an alert is about: an event's kind, or one of the alerts no event raises. Its stored
/// name is what the webhook's `kind` field carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    Event(EventKind),
    /// The periodic fleet summary.
    Summary,
    /// `botctl notify test`.
    Test,
}

impl AlertKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertKind::Event(kind) => kind.as_str(),
            AlertKind::Summary => "summary",
            AlertKind::Test => "test",
        }
    }
}

impl From<EventKind> for AlertKind {
    fn from(kind: EventKind) -> AlertKind {
        AlertKind::Event(kind)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for AlertKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One thing the operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    pub level: Level,
    /// Together with `bot` (or `owner`) the de-duplication key.
    pub kind: AlertKind,
    pub bot: Option<String>,
    pub owner: Option<String>,
    pub message: String,
    #[serde(skip)]
    pub repeat: Repeat,
}

/// Whether the dispatcher may hold back an alert as a repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repeat {
    /// The same kind for the same bot (or owner) is news once per incident: it is held back
    /// while its condition lasts, up to `repeat_after`, and sent again once the condition
    /// cleared (`Notifier::clear`) and came back.
    #[default]
    PerIncident,
    /// Always sent: summaries, tests, and the news that a condition cleared.
    Always,
}

impl Alert {
    pub fn new(level: Level, kind: impl Into<AlertKind>, message: impl Into<String>) -> Alert {
        Alert {
            level,
            kind: kind.into(),
            bot: None,
            owner: None,
            message: message.into(),
            repeat: Repeat::PerIncident,
        }
    }

    pub fn always(mut self) -> Alert {
        self.repeat = Repeat::Always;
        self
    }

    pub fn with_bot(mut self, bot: impl Into<String>) -> Alert {
        self.bot = Some(bot.into());
        self
    }

    pub fn with_owner(mut self, owner: impl Into<String>) -> Alert {
        self.owner = Some(owner.into());
        self
    }
}

pub use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// An alert of a condition that has not cleared is not repeated within this.
    pub repeat_after: Duration,
    /// Alerts arriving within this of the first one are merged into one message.
    pub burst_window: Duration,
    /// Telegram allows about one message per second in a chat before it answers 429.
    pub per_chat_interval: Duration,
    /// Attempts per message against an endpoint that fails (connection errors, 5xx).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per retry (capped at a few minutes).
    pub backoff_initial: Duration,
    /// Per HTTP request, because the shared client may have no timeout of its own.
    pub request_timeout: Duration,
    /// Alerts waiting to be dispatched; beyond it the oldest are dropped (and reported).
    pub queue_capacity: usize,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            repeat_after: DEFAULT_REPEAT_AFTER,
            burst_window: Duration::from_secs(2),
            per_chat_interval: Duration::from_secs(1),
            max_attempts: 5,
            backoff_initial: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
            queue_capacity: 1000,
        }
    }
}

/// What happened to deliveries, for the agent's event log (never containing secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `channel` is "telegram:<chat id>" or "webhook".
    Delivered { channel: String, alerts: usize },
    /// `channel` is as above, or "queue" when alerts were shed before dispatch.
    Dropped {
        channel: String,
        reason: String,
        alerts: usize,
    },
    Suppressed {
        kind: AlertKind,
        bot: Option<String>,
    },
}

impl Report {
    pub(super) fn of(channel: String, alerts: usize, outcome: Result<(), String>) -> Report {
        match outcome {
            Ok(()) => Report::Delivered { channel, alerts },
            Err(reason) => Report::Dropped {
                channel,
                reason,
                alerts,
            },
        }
    }
}

/// A section of `botctl.toml` that is off at run time: the secret file its `field` names
/// cannot be read (`error`). The agent records it as a `config-error` and `status` shows it.
pub struct SectionOff {
    pub section: &'static str,
    pub field: &'static str,
    pub error: String,
}

/// The channels `[notify]` configures, one line each; a channel whose secret cannot be read
/// is left out and its problem returned.
fn channels(
    settings: &NotifySettings,
    home: &Path,
    client: &reqwest::Client,
    dispatch: &DispatchConfig,
) -> (Vec<Arc<dyn Channel>>, Vec<SectionOff>) {
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    let mut problems = Vec::new();
    let mut add = |section, field, channel: Result<Option<Arc<dyn Channel>>, String>| match channel
    {
        Ok(channel) => channels.extend(channel),
        Err(error) => problems.push(SectionOff {
            section,
            field,
            error,
        }),
    };
    if let Some(t) = &settings.telegram {
        add(
            "notify.telegram",
            "token_file",
            TelegramConfig::from_settings(t, home).map(|c| telegram::channel(c, client, dispatch)),
        );
    }
    if let Some(w) = &settings.webhook {
        add(
            "notify.webhook",
            "secret_file",
            WebhookConfig::from_settings(w, home).map(|c| webhook::channel(c, client, dispatch)),
        );
    }
    (channels, problems)
}

/// A cheap handle; clones share one background task, which stops once every clone is dropped.
#[derive(Clone)]
pub struct Notifier {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    queue: Arc<Queue<Item>>,
    channels: Vec<Arc<dyn Channel>>,
    reports: UnboundedSender<Report>,
    backoff_initial: Duration,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Lets the dispatcher flush what it holds and the workers drain, then exit.
        self.queue.close();
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shared {
            None => f.write_str("Notifier(disabled)"),
            Some(shared) => {
                let mut debug = f.debug_struct("Notifier");
                for channel in &shared.channels {
                    debug.field(channel.name(), &channel.destinations().len());
                }
                debug.finish()
            }
        }
    }
}

impl Notifier {
    /// Starts the channels `settings` configures on the current tokio runtime (panics outside
    /// one), with secrets read relative to `home`. `client` is a reqwest::Client the agent
    /// shares. `reports` receives what happened (the agent records them as events). Also
    /// returns the channels left off, and why.
    pub fn from_settings(
        settings: &NotifySettings,
        home: &Path,
        client: &reqwest::Client,
        reports: UnboundedSender<Report>,
    ) -> (Notifier, Vec<SectionOff>) {
        let dispatch = DispatchConfig {
            repeat_after: settings.repeat_after,
            ..DispatchConfig::default()
        };
        let (channels, problems) = channels(settings, home, client, &dispatch);
        (Notifier::start(channels, dispatch, reports), problems)
    }

    /// With no channel this is `disabled()`.
    fn start(
        channels: Vec<Arc<dyn Channel>>,
        dispatch: DispatchConfig,
        reports: UnboundedSender<Report>,
    ) -> Notifier {
        if channels.is_empty() {
            return Notifier::disabled();
        }
        let policy = RetryPolicy::from(&dispatch);
        let mut outlets = Vec::new();
        for channel in &channels {
            let backlog = Arc::new(Queue::new(dispatch::BACKLOG));
            tokio::spawn(channel::worker(
                channel.clone(),
                backlog.clone(),
                policy,
                reports.clone(),
            ));
            outlets.push(Outlet::new(channel.name(), channel.min_level(), backlog));
        }
        let queue = Arc::new(Queue::new(dispatch.queue_capacity.max(1)));
        tokio::spawn(dispatch::run(
            queue.clone(),
            outlets,
            dispatch.clone(),
            reports.clone(),
        ));
        Notifier {
            shared: Some(Arc::new(Shared {
                queue,
                channels,
                reports,
                backoff_initial: dispatch.backoff_initial,
            })),
        }
    }

    pub fn disabled() -> Notifier {
        Notifier { shared: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Never blocks and never fails: a full queue sheds its oldest alert instead.
    pub fn notify(&self, alert: Alert) {
        if let Some(shared) = &self.shared {
            shared.queue.push(Item::Alert(alert));
        }
    }

    /// A condition ended for `bot` (or `owner`): alerts of `kinds` are news again. Taken in
    /// order with the alerts around it.
    pub fn clear(&self, bot: Option<&str>, owner: Option<&str>, kinds: &'static [EventKind]) {
        if let Some(shared) = &self.shared {
            shared.queue.push(Item::Clear(dispatch::Clear {
                bot: bot.map(str::to_owned),
                owner: owner.map(str::to_owned),
                kinds,
            }));
        }
    }

    /// For `botctl notify test`: sends one message now (bypassing de-dup, bursts and level
    /// filters) and waits for the outcome, with `timeout` for each destination of each
    /// channel. Failures are not retried so the operator sees the first error at once; a 429
    /// is still waited out.
    pub async fn test(&self, message: String, timeout: Duration) -> Result<String, String> {
        let Some(shared) = &self.shared else {
            return Err("notifications are not configured".to_owned());
        };
        let alerts = [Alert::new(Level::Info, AlertKind::Test, message).always()];
        let policy = RetryPolicy {
            max_attempts: 1,
            backoff_initial: shared.backoff_initial,
        };
        let tested = futures::future::join_all(
            shared
                .channels
                .iter()
                .map(|c| channel::test(&**c, &alerts, &policy, timeout, &shared.reports)),
        )
        .await;
        let sent: Vec<String> = tested.iter().filter_map(|t| t.sent.clone()).collect();
        let failed: Vec<String> = tested.into_iter().flat_map(|t| t.failed).collect();
        match (failed.is_empty(), sent.is_empty()) {
            (true, _) => Ok(format!("sent to {}", sent.join(", "))),
            (false, true) => Err(failed.join("; ")),
            (false, false) => Err(format!(
                "{} (sent to {})",
                failed.join("; "),
                sent.join(", ")
            )),
        }
    }
}
