//! The agent's outward-facing services: the notifier (alert wording lives in notify/), the
//! periodic summary, and remote control (HTTP listener, Telegram commands) wired to the ops.
//! They are (re)started from the configuration after every load and reload, supervised.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use botctl_proto::config::GlobalConfig;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::supervise::supervise;
use crate::context::Context;
use crate::events::{Event, EventKind};
use crate::notify::{self, Notifier};
use crate::remote::{self, AgentControl, Control};
use crate::secret::Secret;

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
    /// Dashboard sign-ins, kept across restarts of the listener.
    sessions: Arc<remote::Sessions>,
}

impl Services {
    pub fn new(ctx: Arc<Context>, control: Arc<AgentControl>) -> Arc<Services> {
        Arc::new(Services {
            ctx,
            applied: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            control,
            sessions: Arc::default(),
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
            // A section off for a secret file it could not read is tried again: the file
            // may be there now (a reload after fixing it), though the settings are the same.
            if applied.as_ref() == Some(&wanted) && self.ctx.sections_off.lock().unwrap().is_empty()
            {
                return;
            }
            *applied = Some(wanted);
        }
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        let mut off: Vec<notify::SectionOff> = Vec::new();
        let home = &self.ctx.paths.home;
        // Alerts.
        let (reports_tx, reports_rx) = tokio::sync::mpsc::unbounded_channel();
        // Without a channel no client is needed: building one (TLS setup) would cost every
        // agent start some 30 ms of CPU for nothing.
        let no_channel = global.notify
            == botctl_proto::config::NotifySettings {
                repeat_after: global.notify.repeat_after,
                ..Default::default()
            };
        let (notifier, problems) = if no_channel {
            (Notifier::disabled(), Vec::new())
        } else {
            Notifier::from_settings(&global.notify, home, self.ctx.http_client(), reports_tx)
        };
        off.extend(problems);
        self.ctx.alerts.set(notifier);
        let mut tasks = Vec::new();
        // Shared by the runs of the relay: a restarted run goes on with what is queued.
        let reports_rx = Arc::new(tokio::sync::Mutex::new(reports_rx));
        let ctx = self.ctx.clone();
        tasks.push(tokio::spawn(supervise(
            "notify reports",
            ctx.clone(),
            move || {
                let (ctx, reports_rx) = (ctx.clone(), reports_rx.clone());
                Box::pin(async move {
                    relay_reports(&ctx, &mut *reports_rx.lock().await).await;
                    Ok(())
                })
            },
        )));
        // The periodic summary.
        let every = global.agent.report_interval;
        if !every.is_zero() {
            let control = self.control.clone();
            let ctx = self.ctx.clone();
            tasks.push(tokio::spawn(supervise(
                "summary report",
                ctx.clone(),
                move || {
                    let ctx = ctx.clone();
                    let control = control.clone();
                    Box::pin(async move {
                        crate::loops::summary::run(&ctx, every, || control.status_text()).await;
                        Ok(())
                    })
                },
            )));
        }
        // Remote control.
        if let Some(h) = &global.remote.http {
            let secret = match &h.secret_file {
                Some(f) => match Secret::from_file(&home.join(f)) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        off.push(notify::SectionOff {
                            section: "remote.http",
                            field: "secret_file",
                            error: e.to_string(),
                        });
                        None
                    }
                },
                None => None,
            };
            let mut config = remote::HttpConfig::new(h.listen, secret);
            config.rate_per_minute = h.rate_per_minute;
            if let (Some(cert), Some(key)) = (&h.tls_cert_file, &h.tls_key_file) {
                match remote::server_config(&home.join(cert), &home.join(key)) {
                    Ok(tls) => config.tls = Some(tls),
                    Err(error) => off.push(notify::SectionOff {
                        section: "remote.http",
                        field: "tls_cert_file",
                        error,
                    }),
                }
            }
            let door = Arc::new(remote::Door::new(
                self.control.ops(),
                remote::DoorConfig {
                    session_timeout: h.session_timeout,
                    token_rate_per_minute: h.token_rate_per_minute,
                    metrics: h.metrics,
                    metrics_open: h.metrics_open,
                    secure: config.tls.is_some(),
                    max_body: config.max_body,
                    read_timeout: config.read_timeout,
                },
                self.sessions.clone(),
            ));
            // A listener that should speak TLS but cannot read its certificate stays off
            // rather than serve tokens in clear.
            let tls_broken = h.tls() && config.tls.is_none();
            let agent = self.control.clone();
            let ctx = self.ctx.clone();
            let listen = h.listen;
            if !tls_broken {
                tasks.push(tokio::spawn(supervise("http listener", ctx, move || {
                    let config = config.clone();
                    let agent = agent.clone();
                    let door = door.clone();
                    Box::pin(async move {
                        agent.loaded().await;
                        let control: Arc<dyn Control> = agent;
                        let listener = tokio::net::TcpListener::bind(listen)
                            .await
                            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                        remote::serve_http(config, control, Some(door), listener)
                            .await
                            .map_err(|e| e.to_string())
                    })
                })));
            }
        }
        if let Some(t) = global.telegram_commands() {
            match Secret::from_file(&home.join(&t.token_file)) {
                Ok(token) => {
                    let mut config = remote::TelegramCommandsConfig::new(token, t.admins);
                    config.api_base = t.api_base;
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
                Err(e) => off.push(notify::SectionOff {
                    section: "remote.telegram",
                    field: "token_file",
                    error: e.to_string(),
                }),
            }
        }
        *self.tasks.lock().unwrap() = tasks;
        let file = self.ctx.paths.display(&self.ctx.paths.config_file);
        let issues: Vec<botctl_proto::ConfigIssue> = off
            .into_iter()
            .map(|o| botctl_proto::ConfigIssue {
                file: file.clone(),
                field: Some(format!("{}.{}", o.section, o.field)),
                message: o.error,
                bot: None,
                kept_last_good: false,
                line: None,
                column: None,
                section_off: Some(o.section.to_string()),
            })
            .collect();
        for issue in &issues {
            self.ctx
                .record(Event::new(EventKind::ConfigError, issue.to_string()));
        }
        *self.ctx.sections_off.lock().unwrap() = issues;
    }

    pub fn control(&self) -> Arc<AgentControl> {
        self.control.clone()
    }
}

/// Records what the notifier dropped. Never ends by itself: once every sender is gone (no
/// channel, or the notifier was replaced) it waits to be aborted by the next `apply`, so an
/// idle notifier is not taken for a component that ended.
async fn relay_reports(ctx: &Context, reports: &mut UnboundedReceiver<notify::Report>) {
    while let Some(r) = reports.recv().await {
        if let notify::Report::Dropped {
            channel,
            reason,
            alerts,
        } = r
        {
            ctx.record(Event::new(
                EventKind::NotifyDropped,
                format!("{alerts} alert(s) to {channel} dropped: {reason}"),
            ));
        }
    }
    std::future::pending::<()>().await;
}
