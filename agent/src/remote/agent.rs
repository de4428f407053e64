//! The agent as the remote side sees it: `Control` answered by the ops, as an admin (the
//! Telegram admins and the signed webhook are admins), naming who asked in every event.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use botctl_proto::{Action, BotState, Target, now_ms};

use super::{Actor, BoxFuture, Control, HealthSummary, Report};
use crate::events::{Event, EventKind};
use crate::ops::{self, Ops, Who};

pub struct AgentControl {
    ops: Arc<Ops>,
    offset: AtomicI64,
    deliveries: Mutex<HashSet<String>>,
    /// Set once the stored state below was read.
    loaded: tokio::sync::OnceCell<()>,
}

impl AgentControl {
    pub fn new(ops: Arc<Ops>) -> AgentControl {
        AgentControl {
            ops,
            offset: AtomicI64::new(i64::MIN),
            deliveries: Mutex::new(HashSet::new()),
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    /// Reads the stored Telegram offset and GitHub delivery ids, once: before anything may
    /// poll Telegram or take a delivery (neither may run twice), and not before a remote
    /// component starts, so that an agent without one never waits for it.
    pub async fn loaded(&self) {
        self.loaded.get_or_init(|| self.load()).await;
    }

    async fn load(&self) {
        let store = &self.ops.ctx.store;
        let offset = store.meta_get("telegram_offset").await.ok().flatten();
        if let Some(o) = offset.and_then(|o| o.parse().ok()) {
            self.offset.store(o, Ordering::SeqCst);
        }
        let ids = store.recent_deliveries().await.unwrap_or_default();
        self.deliveries.lock().unwrap().extend(ids);
    }

    /// The ops, for the owners' door (which asks as each token's caller, not as an admin).
    pub fn ops(&self) -> Arc<Ops> {
        self.ops.clone()
    }

    /// The whole fleet, as an admin sees it (the health endpoint and the summary).
    fn fleet_rows(&self) -> botctl_proto::Rows {
        ops::show::rows(&self.ops, &Who::admin(Actor::Agent), None)
    }

    /// The owner of a bot, for events that name it.
    fn owner_of(&self, bot: &str) -> Option<String> {
        self.ops.fleet.handle(bot).map(|h| h.owner().to_string())
    }
}

impl Control for AgentControl {
    fn health(&self) -> HealthSummary {
        let bots = self.fleet_rows();
        let failed = bots.iter().filter(|b| b.state == BotState::Failed).count();
        let ctx = &self.ops.ctx;
        HealthSummary {
            pid: std::process::id(),
            version: botctl_proto::VERSION.to_string(),
            uptime_secs: ((now_ms() - ctx.started_at_ms).max(0) / 1000) as u64,
            bots: bots.len(),
            running: bots.iter().filter(|b| b.state == BotState::Running).count(),
            failed,
            healthy: failed == 0,
        }
    }

    fn bots_for_push(&self, repo: &str, branch: &str) -> Vec<String> {
        ops::update::bots_for_push(&self.ops, &Who::admin(Actor::Agent), repo, branch)
    }

    fn update(&self, by: Actor, bot: String) -> BoxFuture<Result<String, String>> {
        let ops = self.ops.clone();
        Box::pin(async move {
            match ops::update::update(&ops, &Who::admin(by), &bot).await {
                Ok(o) if o.ok => Ok(o.message),
                Ok(o) => Err(o.message),
                Err(e) => Err(e.message),
            }
        })
    }

    fn status_text(&self) -> String {
        crate::loops::summary::text(&self.fleet_rows(), &self.ops.ctx)
    }

    fn list_text(&self, owner: Option<String>) -> String {
        let bots = ops::show::rows(&self.ops, &Who::admin(Actor::Agent), owner);
        if bots.is_empty() {
            return "no bots".into();
        }
        bots.iter()
            .map(|b| format!("{} ({}): {}", b.name, b.owner, b.state))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn control(&self, by: Actor, action: &str, bot: String) -> BoxFuture<String> {
        let ops = self.ops.clone();
        let action = match action {
            "stop" => Action::Stop,
            "start" => Action::Start,
            _ => Action::Restart,
        };
        Box::pin(async move {
            let target = Target::Bots(vec![bot.clone()]);
            match ops::control::control(&ops, &Who::admin(by), action, target).await {
                Ok(r) => r
                    .outcomes
                    .into_iter()
                    .map(|o| format!("{}: {}", o.bot, o.message))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Err(e) => e.message,
            }
        })
    }

    fn load_offset(&self) -> Option<i64> {
        let o = self.offset.load(Ordering::SeqCst);
        (o != i64::MIN).then_some(o)
    }

    fn save_offset(&self, offset: i64) {
        self.offset.store(offset, Ordering::SeqCst);
        self.ops
            .ctx
            .store
            .meta_set("telegram_offset", &offset.to_string());
    }

    fn first_delivery(&self, delivery_id: &str) -> bool {
        let fresh = self
            .deliveries
            .lock()
            .unwrap()
            .insert(delivery_id.to_string());
        if fresh {
            self.ops.ctx.store.delivery_seen(delivery_id);
        }
        fresh
    }

    fn report(&self, report: Report) {
        let ctx = &self.ops.ctx;
        let event = match report {
            Report::Refused { source, why } => {
                Event::new(EventKind::RemoteRefused, format!("refused {source}: {why}"))
            }
            Report::Accepted { what, by, bots } => {
                // One bot is named in the event's columns; several are in its message.
                let mut e = Event::new(EventKind::Remote, what);
                if let [bot] = bots.as_slice() {
                    e = e.bot(Some(bot), self.owner_of(bot).as_deref());
                }
                match by {
                    Some(by) => e.by(&by),
                    None => e,
                }
            }
            Report::UpdateFailed { bot, why } => Event::new(
                EventKind::UpdateFailed,
                format!("update from a push failed: {why}"),
            )
            .bot(Some(&bot), self.owner_of(&bot).as_deref()),
            Report::Unavailable { what, why } => Event::new(
                EventKind::RemoteUnavailable,
                format!("{what} unavailable: {why}"),
            ),
        };
        ctx.record(event);
    }
}
