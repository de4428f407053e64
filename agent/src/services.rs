//! The agent's outward-facing services: the notifier (alert wording lives in notify/), the
//! periodic summary, and remote control (HTTP listener, Telegram commands) wired to the fleet.
//! They are (re)started from the configuration after every load and reload.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botctl_proto::config::GlobalConfig;
use botctl_proto::{Action, BotState, Target, now_ms};
use tokio::task::JoinHandle;

use crate::Context;
use crate::fleet::Fleet;
use crate::notify::{self, Notifier};
use crate::remote::{self, BoxFuture, Control, HealthSummary};
use crate::secret::Secret;
use crate::store::NewEvent;

/// The running services and the configuration they were started from.
pub struct Services {
    ctx: Arc<Context>,
    applied: Mutex<
        Option<(
            botctl_proto::config::NotifySettings,
            botctl_proto::config::RemoteSettings,
            Duration,
        )>,
    >,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    control: Arc<AgentControl>,
}

impl Services {
    pub fn new(ctx: Arc<Context>, fleet: Arc<Fleet>) -> Arc<Services> {
        let control = Arc::new(AgentControl {
            ctx: ctx.clone(),
            fleet: fleet.clone(),
            offset: AtomicI64::new(i64::MIN),
            deliveries: Mutex::new(HashSet::new()),
            loaded: tokio::sync::OnceCell::new(),
        });
        Arc::new(Services {
            ctx,
            applied: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            control,
        })
    }

    /// Starts (or restarts, when their configuration changed) the notifier, the summary and
    /// remote control. Problems (unreadable secret files, a port in use) are events.
    pub fn apply(&self, global: &GlobalConfig) {
        self.ctx
            .alerts
            .set_stable_after(global.restart.stable_after);
        let wanted = (
            global.notify.clone(),
            global.remote.clone(),
            global.agent.report_interval,
        );
        {
            let mut applied = self.applied.lock().unwrap();
            if applied.as_ref() == Some(&wanted) {
                return;
            }
            *applied = Some(wanted);
        }
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        let problem = |what: String| {
            self.ctx.record(NewEvent {
                bot: None,
                owner: None,
                kind: "config-error".into(),
                message: what,
            })
        };
        let home = &self.ctx.paths.home;
        // Alerts.
        let (reports_tx, mut reports_rx) = tokio::sync::mpsc::unbounded_channel();
        let (notifier, problems) =
            Notifier::from_settings(&global.notify, home, self.ctx.http_client(), reports_tx);
        problems.into_iter().for_each(problem);
        self.ctx.alerts.set(notifier);
        let ctx = self.ctx.clone();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(async move {
            while let Some(r) = reports_rx.recv().await {
                if let notify::Report::Dropped {
                    channel,
                    reason,
                    alerts,
                } = r
                {
                    ctx.record(NewEvent {
                        bot: None,
                        owner: None,
                        kind: "notify-dropped".into(),
                        message: format!("{alerts} alert(s) to {channel} dropped: {reason}"),
                    });
                }
            }
        }));
        // The periodic summary.
        let every = global.agent.report_interval;
        if !every.is_zero() {
            let control = self.control.clone();
            let ctx = self.ctx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    ctx.alerts
                        .notifier()
                        .notify(notify::summary(control.status_text()));
                }
            }));
        }
        // Remote control.
        if let Some(h) = &global.remote.http {
            let secret = match &h.secret_file {
                Some(f) => match Secret::from_file(&home.join(f)) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        problem(format!("[remote.http] secret_file: {e}; /github is off"));
                        None
                    }
                },
                None => None,
            };
            let mut config = remote::HttpConfig::new(h.listen, secret);
            config.rate_per_minute = h.rate_per_minute;
            let agent = self.control.clone();
            let ctx = self.ctx.clone();
            let listen = h.listen;
            tasks.push(tokio::spawn(supervise("http listener", ctx, move || {
                let config = config.clone();
                let agent = agent.clone();
                Box::pin(async move {
                    agent.loaded().await;
                    let control: Arc<dyn Control> = agent;
                    let listener = tokio::net::TcpListener::bind(listen)
                        .await
                        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                    remote::serve_http(config, control, listener)
                        .await
                        .map_err(|e| e.to_string())
                })
            })));
        }
        if let Some(t) = &global.remote.telegram {
            match Secret::from_file(&home.join(&t.token_file)) {
                Ok(token) => {
                    let mut config = remote::TelegramCommandsConfig::new(token, t.admins.clone());
                    config.api_base = t.api_base.clone();
                    let agent = self.control.clone();
                    let client = self.ctx.http_client().clone();
                    let ctx = self.ctx.clone();
                    tasks.push(tokio::spawn(supervise(
                        "telegram commands",
                        ctx,
                        move || {
                            let config = config.clone();
                            let agent = agent.clone();
                            let client = client.clone();
                            Box::pin(async move {
                                agent.loaded().await;
                                remote::poll_telegram(config, agent, client).await;
                                Err("stopped".to_string())
                            })
                        },
                    )));
                }
                Err(e) => problem(format!(
                    "[remote.telegram] token_file: {e}; Telegram commands are off"
                )),
            }
        }
        *self.tasks.lock().unwrap() = tasks;
    }

    pub fn control(&self) -> Arc<AgentControl> {
        self.control.clone()
    }
}

/// Runs a component forever: when it ends or panics, that is an event and it is restarted
/// with backoff; nothing else goes down with it.
async fn supervise<F>(name: &'static str, ctx: Arc<Context>, make: F)
where
    F: Fn() -> BoxFuture<Result<(), String>> + Send + 'static,
{
    let mut delay = Duration::from_secs(1);
    loop {
        let started = std::time::Instant::now();
        let result = tokio::spawn(make()).await;
        let why = match result {
            Ok(Ok(())) => "ended".to_string(),
            Ok(Err(e)) => e,
            Err(e) if e.is_panic() => "panicked".to_string(),
            Err(_) => return,
        };
        if started.elapsed() > Duration::from_secs(60) {
            delay = Duration::from_secs(1);
        }
        ctx.record(NewEvent {
            bot: None,
            owner: None,
            kind: "component-restart".into(),
            message: format!("{name} {why}; restarting in {}s", delay.as_secs()),
        });
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}

/// The agent as the remote-control side sees it.
pub struct AgentControl {
    ctx: Arc<Context>,
    fleet: Arc<Fleet>,
    offset: AtomicI64,
    deliveries: Mutex<HashSet<String>>,
    /// Set once the stored state below was read.
    loaded: tokio::sync::OnceCell<()>,
}

impl AgentControl {
    /// Reads the stored Telegram offset and GitHub delivery ids, once: before anything may
    /// poll Telegram or take a delivery (neither may run twice), and not before a remote
    /// component starts, so that an agent without one never waits for it.
    async fn loaded(&self) {
        self.loaded.get_or_init(|| self.load()).await;
    }

    async fn load(&self) {
        let offset = self
            .ctx
            .store
            .meta_get("telegram_offset")
            .await
            .ok()
            .flatten();
        if let Some(o) = offset.and_then(|o| o.parse().ok()) {
            self.offset.store(o, Ordering::SeqCst);
        }
        let ids = self.ctx.store.recent_deliveries().await.unwrap_or_default();
        self.deliveries.lock().unwrap().extend(ids);
    }
}

impl Control for AgentControl {
    fn health(&self) -> HealthSummary {
        let bots = self.fleet.list(None);
        let failed = bots.iter().filter(|b| b.state == BotState::Failed).count();
        HealthSummary {
            pid: std::process::id(),
            version: botctl_proto::VERSION.to_string(),
            uptime_secs: ((now_ms() - self.ctx.started_at_ms).max(0) / 1000) as u64,
            bots: bots.len(),
            running: bots.iter().filter(|b| b.state == BotState::Running).count(),
            failed,
            healthy: failed == 0,
        }
    }

    fn bots_for_push(&self, repo: &str, branch: &str) -> Vec<String> {
        self.fleet.bots_for_push(repo, branch)
    }

    fn update(&self, bot: String) -> BoxFuture<Result<String, String>> {
        let fleet = self.fleet.clone();
        Box::pin(async move {
            match fleet.update(&bot).await {
                Ok(o) if o.ok => Ok(o.message),
                Ok(o) => Err(o.message),
                Err(e) => Err(e.message),
            }
        })
    }

    fn status_text(&self) -> String {
        let bots = self.fleet.list(None);
        let count = |s: BotState| bots.iter().filter(|b| b.state == s).count();
        let mut text = format!(
            "{} bots: {} running, {} failed, {} auth-invalid, {} backoff",
            bots.len(),
            count(BotState::Running),
            count(BotState::Failed),
            count(BotState::AuthInvalid),
            count(BotState::Backoff)
        );
        if let Some(h) = &*self.ctx.host.lock().unwrap() {
            text.push_str(&format!(
                "\nhost: cpu {:.0}%, memory {:.0}%, disk {:.0}%",
                h.cpu_percent,
                h.memory_percent(),
                h.disk_percent()
            ));
        }
        for b in bots.iter().filter(|b| b.state.is_problem()) {
            text.push_str(&format!("\n{} ({}): {}", b.name, b.owner, b.state));
        }
        text
    }

    fn list_text(&self, owner: Option<String>) -> String {
        let bots = self.fleet.list(owner.as_deref());
        if bots.is_empty() {
            return "no bots".into();
        }
        bots.iter()
            .map(|b| format!("{} ({}): {}", b.name, b.owner, b.state))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn control(&self, action: &str, bot: String) -> BoxFuture<String> {
        let fleet = self.fleet.clone();
        let action = match action {
            "stop" => Action::Stop,
            "start" => Action::Start,
            _ => Action::Restart,
        };
        Box::pin(async move {
            match fleet.control(action, Target::Bots(vec![bot.clone()])).await {
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
        self.ctx
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
            self.ctx.store.delivery_seen(delivery_id);
        }
        fresh
    }

    fn report(&self, report: remote::Report) {
        let (kind, message) = match report {
            remote::Report::Refused { source, why } => {
                ("remote-refused", format!("refused {source}: {why}"))
            }
            remote::Report::Accepted { what } => ("remote", what),
            remote::Report::UpdateFailed { bot, why } => (
                "update-failed",
                format!("{bot}: update from a push failed: {why}"),
            ),
            remote::Report::Unavailable { what, why } => {
                ("remote-unavailable", format!("{what} unavailable: {why}"))
            }
        };
        self.ctx.record(NewEvent {
            bot: None,
            owner: None,
            kind: kind.into(),
            message,
        });
    }
}
