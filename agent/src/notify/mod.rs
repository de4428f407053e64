//! Operator notifications: the public alert types, channel configuration and the `Notifier`
//! handle that supervision code calls without ever waiting on the network.

mod dispatch;
mod retry;
mod telegram;
mod webhook;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use dispatch::{Outlet, Queue};
use retry::RetryPolicy;
use telegram::Telegram;
use webhook::Webhook;

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

    /// The marker in front of chat messages, so the level is visible in a notification preview.
    pub fn emoji(self) -> &'static str {
        match self {
            Level::Info => "ℹ️",
            Level::Warning => "⚠️",
            Level::Critical => "🔴",
        }
    }
}

/// One thing the operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    pub level: Level,
    /// "recovered", "failed", "limit-restart", "health-restart", "auth-expiring", "auth-invalid",
    /// "host-memory", "over-quota", "cleanup", "update-applied", "update-failed", "summary",
    /// "test", ...; together with `bot` it is the de-duplication key.
    pub kind: String,
    pub bot: Option<String>,
    pub owner: Option<String>,
    pub message: String,
}

impl Alert {
    pub fn new(level: Level, kind: impl Into<String>, message: impl Into<String>) -> Alert {
        Alert {
            level,
            kind: kind.into(),
            bot: None,
            owner: None,
            message: message.into(),
        }
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

pub const TELEGRAM_API: &str = "https://api.telegram.org";

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: Secret,
    pub chat_ids: Vec<i64>,
    /// Overridable for tests and for self-hosted Bot API servers.
    pub api_base: String,
    pub min_level: Level,
}

impl TelegramConfig {
    pub fn new(token: Secret, chat_ids: Vec<i64>) -> TelegramConfig {
        TelegramConfig {
            token,
            chat_ids,
            api_base: TELEGRAM_API.to_owned(),
            min_level: Level::Info,
        }
    }
}

#[derive(Clone)]
pub struct WebhookConfig {
    /// Treated as a credential too: Slack and Discord webhook URLs carry their token in the path.
    pub url: String,
    /// Sent as the `X-Botctl-Secret` header.
    pub secret: Option<Secret>,
    pub min_level: Level,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: None,
            min_level: Level::Info,
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &webhook::origin_only(&self.url))
            .field("secret", &self.secret)
            .field("min_level", &self.min_level)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// The same (bot, kind) is not repeated within this; "summary" and "test" are exempt.
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
            repeat_after: Duration::from_secs(30 * 60),
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
    Delivered {
        channel: String,
        alerts: usize,
    },
    /// `channel` is as above, or "queue" when alerts were shed before dispatch.
    Dropped {
        channel: String,
        reason: String,
        alerts: usize,
    },
    Suppressed {
        kind: String,
        bot: Option<String>,
    },
}

/// A cheap handle; clones share one background task, which stops once every clone is dropped.
#[derive(Clone)]
pub struct Notifier {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    queue: Arc<Queue<Alert>>,
    telegram: Option<Arc<Telegram>>,
    webhook: Option<Arc<Webhook>>,
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
            Some(shared) => f
                .debug_struct("Notifier")
                .field(
                    "telegram_chats",
                    &shared.telegram.as_ref().map(|t| t.chat_ids().len()),
                )
                .field("webhook", &shared.webhook.is_some())
                .finish(),
        }
    }
}

impl Notifier {
    /// Starts the background task on the current tokio runtime (panics outside one). `client`
    /// is a reqwest::Client the agent shares. `reports` receives what happened (the agent
    /// records them as events). With no usable channel this is `disabled()`.
    pub fn start(
        telegram: Option<TelegramConfig>,
        webhook: Option<WebhookConfig>,
        dispatch: DispatchConfig,
        client: reqwest::Client,
        reports: UnboundedSender<Report>,
    ) -> Notifier {
        let telegram = telegram.filter(|t| !t.chat_ids.is_empty());
        if telegram.is_none() && webhook.is_none() {
            return Notifier::disabled();
        }
        let policy = RetryPolicy::from(&dispatch);
        let telegram = telegram.map(|c| Arc::new(Telegram::new(c, client.clone(), &dispatch)));
        let webhook = webhook.map(|c| Arc::new(Webhook::new(c, client, &dispatch)));

        let mut outlets = Vec::new();
        if let Some(tg) = &telegram {
            let backlog = Arc::new(Queue::new(dispatch::BACKLOG));
            tokio::spawn(dispatch::telegram_worker(
                tg.clone(),
                backlog.clone(),
                policy,
                reports.clone(),
            ));
            outlets.push(Outlet::new("telegram", tg.min_level(), backlog));
        }
        if let Some(wh) = &webhook {
            let backlog = Arc::new(Queue::new(dispatch::BACKLOG));
            tokio::spawn(dispatch::webhook_worker(
                wh.clone(),
                backlog.clone(),
                policy,
                reports.clone(),
            ));
            outlets.push(Outlet::new("webhook", wh.min_level(), backlog));
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
                telegram,
                webhook,
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
            shared.queue.push(alert);
        }
    }

    /// For `botctl notify test`: sends one message now (bypassing de-dup, bursts and level
    /// filters) and waits for the outcome, with `timeout` for each chat and for the webhook.
    /// Failures are not retried so the operator sees the first error at once; a 429 is still
    /// waited out.
    pub async fn test(&self, message: String, timeout: Duration) -> Result<String, String> {
        let Some(shared) = &self.shared else {
            return Err("notifications are not configured".to_owned());
        };
        let alerts = [Alert::new(Level::Info, "test", message)];
        let policy = RetryPolicy {
            max_attempts: 1,
            backoff_initial: shared.backoff_initial,
        };
        let timed_out = || format!("no answer within {:.1}s", timeout.as_secs_f64());

        let telegram = async {
            let tg = shared.telegram.as_ref()?;
            let text = dispatch::render(&alerts, true);
            let mut outcomes = Vec::new();
            for &chat in tg.chat_ids() {
                let outcome = tokio::time::timeout(timeout, tg.send(chat, &text, &policy))
                    .await
                    .unwrap_or_else(|_| Err(timed_out()));
                outcomes.push((chat, outcome));
            }
            Some(outcomes)
        };
        let webhook = async {
            let wh = shared.webhook.as_ref()?;
            Some(
                tokio::time::timeout(timeout, wh.send(&alerts, &policy))
                    .await
                    .unwrap_or_else(|_| Err(timed_out())),
            )
        };
        let (telegram, webhook) = tokio::join!(telegram, webhook);

        let mut sent = Vec::new();
        let mut failed = Vec::new();
        if let Some(outcomes) = telegram {
            let total = outcomes.len();
            let mut ok = 0;
            for (chat, outcome) in outcomes {
                match &outcome {
                    Ok(()) => ok += 1,
                    Err(reason) => failed.push(format!("telegram chat {chat}: {reason}")),
                }
                let channel = format!("telegram:{chat}");
                let _ = shared
                    .reports
                    .send(dispatch::report_for(channel, 1, outcome));
            }
            if ok > 0 {
                let chats = if total == 1 { "chat" } else { "chats" };
                sent.push(if ok == total {
                    format!("telegram ({total} {chats})")
                } else {
                    format!("telegram ({ok} of {total} {chats})")
                });
            }
        }
        if let Some(outcome) = webhook {
            match &outcome {
                Ok(()) => sent.push("webhook".to_owned()),
                Err(reason) => failed.push(format!("webhook: {reason}")),
            }
            let _ = shared
                .reports
                .send(dispatch::report_for("webhook".into(), 1, outcome));
        }

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
