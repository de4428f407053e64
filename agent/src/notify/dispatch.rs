//! The background side of `Notifier`: the bounded queue `notify()` feeds, de-duplication, burst
//! merging, message text, and one worker per channel so a dead endpoint only delays itself.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::retry::RetryPolicy;
use super::telegram::Telegram;
use super::webhook::Webhook;
use super::{Alert, DispatchConfig, Level, Report};

/// Merged messages waiting per channel while it is slow or down; each is already one burst, so
/// this covers a long outage without holding unbounded memory.
pub(super) const BACKLOG: usize = 100;
/// Names listed in a merged line before "and N more".
const MAX_LISTED: usize = 20;
/// Kinds that are meant to repeat.
const NEVER_SUPPRESSED: [&str; 2] = ["summary", "test"];

/// A multi-producer, single-consumer queue that sheds its oldest entry when full, because for
/// alerts the newest news matters most and a producer must never wait.
pub(super) struct Queue<T> {
    state: Mutex<QueueState<T>>,
    wake: Notify,
    capacity: usize,
}

struct QueueState<T> {
    items: VecDeque<T>,
    shed: usize,
    closed: bool,
}

impl<T> Queue<T> {
    pub(super) fn new(capacity: usize) -> Queue<T> {
        Queue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                shed: 0,
                closed: false,
            }),
            wake: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState<T>> {
        // Nothing panics while holding the lock, and a notifier must keep working regardless.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the entry shed to make room, if any.
    pub(super) fn push(&self, item: T) -> Option<T> {
        let shed = {
            let mut state = self.lock();
            state.items.push_back(item);
            if state.items.len() > self.capacity {
                state.shed += 1;
                state.items.pop_front()
            } else {
                None
            }
        };
        // notify_one keeps a permit when the consumer is busy, so no wake-up is lost.
        self.wake.notify_one();
        shed
    }

    /// How many entries were shed since the last call.
    fn take_shed(&self) -> usize {
        std::mem::take(&mut self.lock().shed)
    }

    /// Waits for the next entry; `None` once closed and drained. Cancel-safe: an entry is only
    /// taken in the same poll that returns it.
    pub(super) async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }

    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }
}

/// A channel as the dispatcher sees it: a level filter in front of its worker's backlog.
pub(super) struct Outlet {
    name: &'static str,
    min_level: Level,
    backlog: Arc<Queue<Vec<Alert>>>,
}

impl Outlet {
    pub(super) fn new(
        name: &'static str,
        min_level: Level,
        backlog: Arc<Queue<Vec<Alert>>>,
    ) -> Outlet {
        Outlet {
            name,
            min_level,
            backlog,
        }
    }
}

type DedupKey = (Option<String>, String);

/// Takes alerts off the queue, drops repeats, gathers each burst and hands it to every outlet.
pub(super) async fn run(
    queue: Arc<Queue<Alert>>,
    outlets: Vec<Outlet>,
    config: DispatchConfig,
    reports: UnboundedSender<Report>,
) {
    let mut last_sent: HashMap<DedupKey, Instant> = HashMap::new();
    let mut open = true;
    while open {
        let Some(first) = queue.pop().await else {
            break;
        };
        report_shed(&queue, &reports);
        let now = Instant::now();
        // Entries past the window can never suppress anything again.
        last_sent.retain(|_, sent| now.duration_since(*sent) < config.repeat_after);
        let mut burst = Vec::new();
        admit(first, &mut last_sent, &config, &reports, &mut burst);
        if burst.is_empty() {
            continue;
        }
        let deadline = now + config.burst_window;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                next = queue.pop() => match next {
                    Some(alert) => admit(alert, &mut last_sent, &config, &reports, &mut burst),
                    None => {
                        open = false;
                        break;
                    }
                },
            }
        }
        report_shed(&queue, &reports);
        fan_out(burst, &outlets, &reports);
    }
    for outlet in &outlets {
        outlet.backlog.close();
    }
}

fn admit(
    alert: Alert,
    last_sent: &mut HashMap<DedupKey, Instant>,
    config: &DispatchConfig,
    reports: &UnboundedSender<Report>,
    burst: &mut Vec<Alert>,
) {
    if !NEVER_SUPPRESSED.contains(&alert.kind.as_str()) {
        let now = Instant::now();
        let key = (alert.bot.clone(), alert.kind.clone());
        match last_sent.get(&key) {
            Some(sent) if now.duration_since(*sent) < config.repeat_after => {
                let _ = reports.send(Report::Suppressed {
                    kind: alert.kind,
                    bot: alert.bot,
                });
                return;
            }
            _ => {
                last_sent.insert(key, now);
            }
        }
    }
    burst.push(alert);
}

fn report_shed(queue: &Queue<Alert>, reports: &UnboundedSender<Report>) {
    let shed = queue.take_shed();
    if shed > 0 {
        let _ = reports.send(Report::Dropped {
            channel: "queue".to_owned(),
            reason: "too many alerts waiting: dropped the oldest".to_owned(),
            alerts: shed,
        });
    }
}

fn fan_out(burst: Vec<Alert>, outlets: &[Outlet], reports: &UnboundedSender<Report>) {
    for outlet in outlets {
        let alerts: Vec<Alert> = burst
            .iter()
            .filter(|a| a.level >= outlet.min_level)
            .cloned()
            .collect();
        if alerts.is_empty() {
            continue;
        }
        if let Some(shed) = outlet.backlog.push(alerts) {
            let _ = reports.send(Report::Dropped {
                channel: outlet.name.to_owned(),
                reason: "channel backlog full: dropped the oldest undelivered message".to_owned(),
                alerts: shed.len(),
            });
        }
    }
}

pub(super) fn report_for(channel: String, alerts: usize, outcome: Result<(), String>) -> Report {
    match outcome {
        Ok(()) => Report::Delivered { channel, alerts },
        Err(reason) => Report::Dropped {
            channel,
            reason,
            alerts,
        },
    }
}

pub(super) async fn telegram_worker(
    telegram: Arc<Telegram>,
    backlog: Arc<Queue<Vec<Alert>>>,
    policy: RetryPolicy,
    reports: UnboundedSender<Report>,
) {
    while let Some(alerts) = backlog.pop().await {
        let text = render(&alerts, true);
        for &chat in telegram.chat_ids() {
            let outcome = telegram.send(chat, &text, &policy).await;
            let _ = reports.send(report_for(
                format!("telegram:{chat}"),
                alerts.len(),
                outcome,
            ));
        }
    }
}

pub(super) async fn webhook_worker(
    webhook: Arc<Webhook>,
    backlog: Arc<Queue<Vec<Alert>>>,
    policy: RetryPolicy,
    reports: UnboundedSender<Report>,
) {
    while let Some(alerts) = backlog.pop().await {
        let outcome = webhook.send(&alerts, &policy).await;
        let _ = reports.send(report_for("webhook".to_owned(), alerts.len(), outcome));
    }
}

/// The text of a burst: one line per kind, worst level first, e.g. "⚠️ 7 bots recovered: a, b,
/// …". `emoji` marks each line with its level (chat); without it the level is left to the
/// caller's structured fields (webhook).
pub(super) fn render(alerts: &[Alert], emoji: bool) -> String {
    let line = |level: Level, text: &str| match emoji {
        true => format!("{} {text}", level.emoji()),
        false => text.to_owned(),
    };
    if let [alert] = alerts {
        return line(alert.level, &alert.message);
    }
    let mut groups: Vec<(&str, Vec<&Alert>)> = Vec::new();
    for alert in alerts {
        match groups.iter_mut().find(|(kind, _)| *kind == alert.kind) {
            Some((_, group)) => group.push(alert),
            None => groups.push((&alert.kind, vec![alert])),
        }
    }
    let worst = |group: &[&Alert]| group.iter().map(|a| a.level).max().unwrap_or(Level::Info);
    groups.sort_by_key(|(_, group)| Reverse(worst(group)));

    let mut lines = Vec::new();
    for (kind, group) in &groups {
        let level = worst(group);
        let bots: Vec<&str> = group.iter().filter_map(|a| a.bot.as_deref()).collect();
        if let [alert] = group.as_slice() {
            lines.push(line(level, &alert.message));
        } else if bots.len() == group.len() {
            let names = list(&bots);
            let text = match phrase(kind) {
                Some(phrase) => format!("{} bots {phrase}: {names}", group.len()),
                None => format!("{kind} for {} bots: {names}", group.len()),
            };
            lines.push(line(level, &text));
        } else {
            // Without bot names there is nothing to summarise; the messages are the news.
            let mut text = line(level, &format!("{} {kind} alerts:", group.len()));
            for alert in group.iter().take(MAX_LISTED) {
                text.push_str("\n• ");
                text.push_str(&alert.message);
            }
            if group.len() > MAX_LISTED {
                text.push_str(&format!("\n… and {} more", group.len() - MAX_LISTED));
            }
            lines.push(text);
        }
    }
    lines.join("\n")
}

fn phrase(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "recovered" => "recovered",
        "failed" => "failed and were given up on",
        "limit-restart" => "were restarted for exceeding their limits",
        "health-restart" => "were restarted by health checks",
        "auth-expiring" => "have auth expiring soon",
        "auth-invalid" => "have invalid auth",
        "over-quota" => "are over quota",
        "cleanup" => "had files cleaned up",
        "update-applied" => "were updated",
        "update-failed" => "failed to update",
        _ => return None,
    })
}

fn list(names: &[&str]) -> String {
    let shown = names[..names.len().min(MAX_LISTED)].join(", ");
    match names.len().checked_sub(MAX_LISTED) {
        Some(more) if more > 0 => format!("{shown} and {more} more"),
        _ => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recovered(bot: &str) -> Alert {
        Alert::new(Level::Info, "recovered", format!("{bot} recovered")).with_bot(bot)
    }

    #[test]
    fn a_single_alert_is_its_message_with_a_level_mark() {
        let alert = Alert::new(Level::Critical, "failed", "bot a failed").with_bot("a");
        assert_eq!(
            render(std::slice::from_ref(&alert), true),
            "🔴 bot a failed"
        );
        assert_eq!(render(&[alert], false), "bot a failed");
    }

    #[test]
    fn a_burst_is_grouped_by_kind_worst_first() {
        let mut alerts: Vec<Alert> = ["a", "b", "c"].into_iter().map(recovered).collect();
        alerts.push(Alert::new(Level::Critical, "failed", "bot x gave up").with_bot("x"));
        alerts.push(Alert::new(Level::Critical, "failed", "bot y gave up").with_bot("y"));
        alerts.push(Alert::new(Level::Warning, "host-memory", "memory at 93%"));
        assert_eq!(
            render(&alerts, true),
            "🔴 2 bots failed and were given up on: x, y\n\
             ⚠️ memory at 93%\n\
             ℹ️ 3 bots recovered: a, b, c"
        );
    }

    #[test]
    fn long_name_lists_are_cut() {
        let names: Vec<String> = (0..25).map(|i| format!("b{i}")).collect();
        let alerts: Vec<Alert> = names.iter().map(|n| recovered(n)).collect();
        let text = render(&alerts, false);
        assert!(text.starts_with("25 bots recovered: b0, b1,"), "{text}");
        assert!(text.ends_with("b19 and 5 more"), "{text}");
    }

    #[test]
    fn unknown_kinds_and_botless_alerts_still_read() {
        let alerts = vec![
            Alert::new(Level::Info, "odd", "1").with_bot("a"),
            Alert::new(Level::Info, "odd", "2").with_bot("b"),
            Alert::new(Level::Info, "summary", "s1"),
            Alert::new(Level::Info, "summary", "s2"),
        ];
        assert_eq!(
            render(&alerts, false),
            "odd for 2 bots: a, b\n2 summary alerts:\n• s1\n• s2"
        );
    }

    #[tokio::test]
    async fn a_full_queue_sheds_the_oldest() {
        let queue = Queue::new(2);
        assert_eq!(queue.push(1), None);
        assert_eq!(queue.push(2), None);
        assert_eq!(queue.push(3), Some(1));
        assert_eq!(queue.take_shed(), 1);
        assert_eq!(queue.take_shed(), 0);
        queue.close();
        assert_eq!(queue.pop().await, Some(2));
        assert_eq!(queue.pop().await, Some(3));
        assert_eq!(queue.pop().await, None);
    }
}
