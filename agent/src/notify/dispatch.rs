//! The background side of `Notifier`: the bounded queue `notify()` feeds, de-duplication per
//! incident, burst merging and message text, handing each burst to every channel's backlog.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::{Alert, AlertKind, DispatchConfig, Level, Repeat, Report};
use crate::events::EventKind;

/// Merged messages waiting per channel while it is slow or down; each is already one burst, so
/// this covers a long outage without holding unbounded memory.
pub(super) const BACKLOG: usize = 100;
/// Names listed in a merged line before "and N more".
const MAX_LISTED: usize = 20;

/// What the dispatcher's queue carries: alerts, and the news that a condition ended, in the
/// order they happened.
pub(super) enum Item {
    Alert(Alert),
    Clear(Clear),
}

/// A condition ended for a bot (or an owner): its alerts of `kinds` are news again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Clear {
    pub bot: Option<String>,
    pub owner: Option<String>,
    pub kinds: &'static [EventKind],
}

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

/// What one alert is about: its bot, or its owner when it has no bot (over quota), and kind.
type DedupKey = (Option<String>, Option<String>, AlertKind);

fn key(bot: &Option<String>, owner: &Option<String>, kind: AlertKind) -> DedupKey {
    let owner = if bot.is_some() { None } else { owner.clone() };
    (bot.clone(), owner, kind)
}

/// Which incidents have been alerted, so a repeat is held back while its condition lasts (up
/// to `repeat_after`) and a condition that cleared and came back is news again. Pure: the
/// time is passed in.
pub(super) struct Dedup {
    repeat_after: Duration,
    sent: HashMap<DedupKey, Instant>,
}

impl Dedup {
    pub(super) fn new(repeat_after: Duration) -> Dedup {
        Dedup {
            repeat_after,
            sent: HashMap::new(),
        }
    }

    /// Whether `alert` goes out now; if so, it opens (or renews) its incident.
    pub(super) fn admit(&mut self, alert: &Alert, now: Instant) -> bool {
        if alert.repeat == Repeat::Always {
            return true;
        }
        let key = key(&alert.bot, &alert.owner, alert.kind);
        match self.sent.get(&key) {
            Some(sent) if now.saturating_duration_since(*sent) < self.repeat_after => false,
            _ => {
                self.sent.insert(key, now);
                true
            }
        }
    }

    pub(super) fn clear(&mut self, clear: &Clear) {
        for &kind in clear.kinds {
            self.sent
                .remove(&key(&clear.bot, &clear.owner, kind.into()));
        }
    }

    /// Forgets incidents past the window: they can never hold anything back again.
    pub(super) fn expire(&mut self, now: Instant) {
        let repeat_after = self.repeat_after;
        self.sent
            .retain(|_, sent| now.saturating_duration_since(*sent) < repeat_after);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sent.len()
    }
}

/// Takes alerts off the queue, drops repeats, gathers each burst and hands it to every outlet.
pub(super) async fn run(
    queue: Arc<Queue<Item>>,
    outlets: Vec<Outlet>,
    config: DispatchConfig,
    reports: UnboundedSender<Report>,
) {
    let mut dedup = Dedup::new(config.repeat_after);
    let mut open = true;
    while open {
        let Some(first) = queue.pop().await else {
            break;
        };
        report_shed(&queue, &reports);
        let now = Instant::now();
        dedup.expire(now);
        let mut burst = Vec::new();
        take(first, &mut dedup, &reports, &mut burst);
        if burst.is_empty() {
            continue;
        }
        let deadline = now + config.burst_window;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                next = queue.pop() => match next {
                    Some(item) => take(item, &mut dedup, &reports, &mut burst),
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

fn take(item: Item, dedup: &mut Dedup, reports: &UnboundedSender<Report>, burst: &mut Vec<Alert>) {
    match item {
        Item::Clear(clear) => dedup.clear(&clear),
        Item::Alert(alert) if dedup.admit(&alert, Instant::now()) => burst.push(alert),
        Item::Alert(alert) => {
            let _ = reports.send(Report::Suppressed {
                kind: alert.kind,
                bot: alert.bot,
            });
        }
    }
}

fn report_shed(queue: &Queue<Item>, reports: &UnboundedSender<Report>) {
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
    let mut groups: Vec<(AlertKind, Vec<&Alert>)> = Vec::new();
    for alert in alerts {
        match groups.iter_mut().find(|(kind, _)| *kind == alert.kind) {
            Some((_, group)) => group.push(alert),
            None => groups.push((alert.kind, vec![alert])),
        }
    }
    let worst = |group: &[&Alert]| group.iter().map(|a| a.level).max().unwrap_or(Level::Info);
    groups.sort_by_key(|(_, group)| Reverse(worst(group)));

    let mut lines = Vec::new();
    for (kind, group) in &groups {
        let level = worst(group);
        let bots: Vec<&str> = group.iter().filter_map(|a| a.bot.as_deref()).collect();
        let owners: Vec<&str> = group.iter().filter_map(|a| a.owner.as_deref()).collect();
        let named = match () {
            _ if bots.len() == group.len() => Some(("bots", bots)),
            _ if bots.is_empty() && owners.len() == group.len() => Some(("owners", owners)),
            _ => None,
        };
        if let [alert] = group.as_slice() {
            lines.push(line(level, &alert.message));
        } else if let Some((what, names)) = named {
            let names = list(&names);
            let text = match phrase(*kind) {
                Some(phrase) => format!("{} {what} {phrase}: {names}", group.len()),
                None => format!("{kind} for {} {what}: {names}", group.len()),
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

/// How a merged line says what happened to several bots (or owners) of one kind.
fn phrase(kind: AlertKind) -> Option<&'static str> {
    match kind {
        AlertKind::Event(kind) => kind.phrase(),
        AlertKind::Summary | AlertKind::Test => None,
    }
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
        Alert::new(
            Level::Info,
            EventKind::Recovered,
            format!("{bot} recovered"),
        )
        .with_bot(bot)
    }

    #[test]
    fn a_single_alert_is_its_message_with_a_level_mark() {
        let alert = Alert::new(Level::Critical, EventKind::Failed, "bot a failed").with_bot("a");
        assert_eq!(
            render(std::slice::from_ref(&alert), true),
            "🔴 bot a failed"
        );
        assert_eq!(render(&[alert], false), "bot a failed");
    }

    #[test]
    fn a_burst_is_grouped_by_kind_worst_first() {
        let mut alerts: Vec<Alert> = ["a", "b", "c"].into_iter().map(recovered).collect();
        alerts.push(Alert::new(Level::Critical, EventKind::Failed, "bot x gave up").with_bot("x"));
        alerts.push(Alert::new(Level::Critical, EventKind::Failed, "bot y gave up").with_bot("y"));
        alerts.push(Alert::new(
            Level::Warning,
            EventKind::HostMemory,
            "memory at 93%",
        ));
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
    fn unphrased_kinds_and_botless_alerts_still_read() {
        let alerts = vec![
            Alert::new(Level::Info, EventKind::Adopted, "1").with_bot("a"),
            Alert::new(Level::Info, EventKind::Adopted, "2").with_bot("b"),
            Alert::new(Level::Info, AlertKind::Summary, "s1"),
            Alert::new(Level::Info, AlertKind::Summary, "s2"),
        ];
        assert_eq!(
            render(&alerts, false),
            "adopted for 2 bots: a, b\n2 summary alerts:\n• s1\n• s2"
        );
    }

    #[test]
    fn owner_alerts_merge_by_owner() {
        let over = |owner: &str| {
            Alert::new(
                Level::Warning,
                EventKind::OverQuota,
                format!("{owner} over"),
            )
            .with_owner(owner)
        };
        assert_eq!(
            render(&[over("ann"), over("bob")], false),
            "2 owners are over quota: ann, bob"
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
