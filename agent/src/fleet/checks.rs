//! A bot's `[health]` checks, started by the fleet beside the bot's task: each interval a
//! probe (`health::checks`); failures in a row send the bot a recycle, as a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use botctl_proto::config::{GlobalConfig, HealthCheck};
use botctl_proto::{BotState, now_ms};

use crate::bot::{BotHandle, Command};
use crate::context::Context;
use crate::events::{Event, EventKind};
use crate::health;

/// The running checks of one bot; they end when this is dropped.
pub struct Checker {
    task: tokio::task::JoinHandle<()>,
    check: HealthCheck,
    interval: Duration,
    /// Whether the last probe failed (the API and `/metrics` show it).
    failing: Arc<AtomicBool>,
}

impl Checker {
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The checks a bot's configuration asks for, at the interval they run.
fn wanted(handle: &BotHandle, global: &GlobalConfig) -> Option<(HealthCheck, Duration)> {
    // The rest of `[health]` (readiness, watchdog, log silence) is the bot task's own.
    let check = handle.config.health.clone().filter(HealthCheck::probes)?;
    let interval = check.interval.map_or(global.agent.health_interval, |d| d.0);
    Some((check, interval))
}

/// Starts the checks of this bot, if it has any.
pub fn start(ctx: &Arc<Context>, handle: &BotHandle, global: &GlobalConfig) -> Option<Checker> {
    let (check, interval) = wanted(handle, global)?;
    let failing = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(run(
        ctx.clone(),
        handle.clone(),
        check.clone(),
        interval,
        failing.clone(),
    ));
    Some(Checker {
        task,
        check,
        interval,
        failing,
    })
}

/// After a reload: restarts the checks if what they check or how often changed.
pub fn keep_current(
    ctx: &Arc<Context>,
    current: &mut Option<Checker>,
    handle: &BotHandle,
    global: &GlobalConfig,
) {
    let now = current.as_ref().map(|c| (c.check.clone(), c.interval));
    if now != wanted(handle, global) {
        *current = start(ctx, handle, global);
    }
}

async fn run(
    ctx: Arc<Context>,
    handle: BotHandle,
    check: HealthCheck,
    interval: Duration,
    shown: Arc<AtomicBool>,
) {
    let mut failures = 0u32;
    let mut failing = false;
    let mut pid = None;
    let grace = check.start_grace.0;
    let event = |kind: EventKind, message: String| {
        ctx.record(Event::new(kind, message).of(handle.name(), handle.owner()));
    };
    loop {
        tokio::time::sleep(interval).await;
        let (state, now_pid, started) = handle.read(|v| (v.state, v.pid, v.started_at_ms));
        if state != BotState::Running || now_pid != pid {
            // A new process (or none) starts with a clean slate and a fresh grace period.
            pid = now_pid;
            failures = 0;
            if state != BotState::Running {
                continue;
            }
        }
        let age = Duration::from_millis((now_ms() - started.unwrap_or(0)).max(0) as u64);
        if age < grace {
            continue;
        }
        match health::checks::probe(&check, ctx.http_client()).await {
            Ok(()) => {
                if failing {
                    event(
                        EventKind::HealthRecovered,
                        "health check passes again".into(),
                    );
                }
                failing = false;
                shown.store(false, Ordering::Relaxed);
                failures = 0;
            }
            Err(e) => {
                if !failing {
                    event(
                        EventKind::HealthFailing,
                        format!(
                            "health check failed: {e} (restart after {} in a row)",
                            check.failures
                        ),
                    );
                }
                failing = true;
                shown.store(true, Ordering::Relaxed);
                failures += 1;
                if failures >= check.failures {
                    failures = 0;
                    handle.send(Command::Recycle {
                        kind: EventKind::HealthRestart,
                        reason: format!(
                            "health check failed {} time(s) in a row: {e}",
                            check.failures
                        ),
                    });
                }
            }
        }
    }
}
