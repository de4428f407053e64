//! The `Channel` trait every notification channel implements, and the one delivery path that
//! serves them all: one worker per channel, messages in order, retries and 429s per message.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;

use super::dispatch::Queue;
use super::retry::{self, Attempt, RetryPolicy};
use super::{Alert, Level, Report};

/// One way of reaching the operator. A new channel is a file implementing this, its settings
/// in `[notify.NAME]` and one line in `notify::channels`.
pub(super) trait Channel: Send + Sync {
    /// Names the channel in reports, `notify-dropped` events and `notify test`.
    fn name(&self) -> &'static str;
    /// Alerts below this level are not sent here.
    fn min_level(&self) -> Level;
    /// Where every message goes; each is delivered and reported on its own (Telegram chats).
    fn destinations(&self) -> &[Destination];
    /// The messages one burst becomes, sent in order (Telegram splits long text). The error
    /// is safe to show: it means the burst cannot be sent at all.
    fn messages(&self, alerts: &[Alert]) -> Result<Vec<String>, String>;
    /// One try at one message: the channel says what the answer means (delivered, rate limited
    /// with the wait it was given, worth retrying or not), with every string free of secrets.
    fn attempt<'a>(&'a self, to: usize, message: &'a str) -> BoxFuture<'a, Attempt>;
}

/// A place within a channel: `None` for channels with a single unnamed one (a webhook URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Destination(pub Option<Named>);

/// A named destination, e.g. `noun` "chat" and `id` "-100200".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Named {
    pub noun: &'static str,
    pub id: String,
}

impl Destination {
    /// The `channel` of a `Report`: "telegram:42", or "webhook".
    pub(super) fn report_name(&self, channel: &dyn Channel) -> String {
        match &self.0 {
            Some(named) => format!("{}:{}", channel.name(), named.id),
            None => channel.name().to_owned(),
        }
    }

    /// How `notify test` names it: "telegram chat 42", or "webhook".
    fn label(&self, channel: &dyn Channel) -> String {
        match &self.0 {
            Some(named) => format!("{} {} {}", channel.name(), named.noun, named.id),
            None => channel.name().to_owned(),
        }
    }
}

/// Sends every message to one destination, each retried per `policy`; stops at the first that
/// cannot be delivered.
pub(super) async fn deliver(
    channel: &dyn Channel,
    to: usize,
    messages: &[String],
    policy: &RetryPolicy,
) -> Result<(), String> {
    let count = messages.len();
    for (index, message) in messages.iter().enumerate() {
        retry::with_retries(policy, || channel.attempt(to, message))
            .await
            .map_err(|reason| match count {
                1 => reason,
                _ => format!("part {} of {count}: {reason}", index + 1),
            })?;
    }
    Ok(())
}

/// Drains one channel's backlog for as long as the dispatcher feeds it, so a dead endpoint only
/// delays its own messages.
pub(super) async fn worker(
    channel: Arc<dyn Channel>,
    backlog: Arc<Queue<Vec<Alert>>>,
    policy: RetryPolicy,
    reports: UnboundedSender<Report>,
) {
    while let Some(alerts) = backlog.pop().await {
        let messages = channel.messages(&alerts);
        for (to, destination) in channel.destinations().iter().enumerate() {
            let outcome = match &messages {
                Ok(messages) => deliver(&*channel, to, messages, &policy).await,
                Err(reason) => Err(reason.clone()),
            };
            let name = destination.report_name(&*channel);
            let _ = reports.send(Report::of(name, alerts.len(), outcome));
        }
    }
}

/// What `notify test` tells the operator about one channel.
pub(super) struct Tested {
    /// "telegram (2 chats)", "telegram (1 of 2 chats)", "webhook"; None when nothing arrived.
    pub sent: Option<String>,
    /// "telegram chat 1: HTTP 401: Unauthorized", one per destination that failed.
    pub failed: Vec<String>,
}

/// Sends `alerts` to every destination once, without retries (a 429 is still waited out),
/// giving each `timeout`; every outcome is also reported.
pub(super) async fn test(
    channel: &dyn Channel,
    alerts: &[Alert],
    policy: &RetryPolicy,
    timeout: Duration,
    reports: &UnboundedSender<Report>,
) -> Tested {
    let messages = channel.messages(alerts);
    let destinations = channel.destinations();
    let mut ok = 0;
    let mut failed = Vec::new();
    for (to, destination) in destinations.iter().enumerate() {
        let outcome = match &messages {
            Ok(messages) => tokio::time::timeout(timeout, deliver(channel, to, messages, policy))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {:.1}s", timeout.as_secs_f64()))),
            Err(reason) => Err(reason.clone()),
        };
        match &outcome {
            Ok(()) => ok += 1,
            Err(reason) => failed.push(format!("{}: {reason}", destination.label(channel))),
        }
        let name = destination.report_name(channel);
        let _ = reports.send(Report::of(name, alerts.len(), outcome));
    }
    let total = destinations.len();
    let noun = destinations
        .iter()
        .find_map(|d| d.0.as_ref().map(|n| n.noun));
    let sent = match noun {
        _ if ok == 0 => None,
        None => Some(channel.name().to_owned()),
        Some(noun) => {
            let plural = if total == 1 { "" } else { "s" };
            Some(if ok == total {
                format!("{} ({total} {noun}{plural})", channel.name())
            } else {
                format!("{} ({ok} of {total} {noun}{plural})", channel.name())
            })
        }
    };
    Tested { sent, failed }
}
