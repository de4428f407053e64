//! A bot's `[health]` checks: a TCP connect to a port on 127.0.0.1 and/or an HTTP GET, each
//! bounded by a timeout, in the bot's own task so a hung endpoint stalls nothing else.

use std::sync::Arc;
use std::time::Duration;

use botctl_proto::config::HealthCheck;
use botctl_proto::{BotState, now_ms};
use tokio::sync::mpsc;

use crate::Context;
use crate::store::NewEvent;
use crate::supervisor::bot::{Command, SharedView};
use crate::supervisor::machine::EventKind;

pub struct Checker {
    pub ctx: Arc<Context>,
    pub bot: String,
    pub owner: String,
    pub check: HealthCheck,
    pub interval: Duration,
    pub view: SharedView,
    pub tx: mpsc::UnboundedSender<Command>,
}

impl Checker {
    pub async fn run(self) {
        let mut failures = 0u32;
        let mut failing = false;
        let mut pid = None;
        let grace = self.check.start_grace.0;
        loop {
            tokio::time::sleep(self.interval).await;
            let (state, now_pid, started) = {
                let v = self.view.lock().unwrap();
                (v.state, v.pid, v.started_at_ms)
            };
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
            match self.probe().await {
                Ok(()) => {
                    if failing {
                        self.event("health-recovered", "health check passes again".into());
                    }
                    failing = false;
                    failures = 0;
                }
                Err(e) => {
                    if !failing {
                        self.event(
                            "health-failing",
                            format!(
                                "health check failed: {e} (restart after {} in a row)",
                                self.check.failures
                            ),
                        );
                    }
                    failing = true;
                    failures += 1;
                    if failures >= self.check.failures {
                        failures = 0;
                        let _ = self.tx.send(Command::Recycle {
                            kind: EventKind::HealthRestart,
                            reason: format!(
                                "health check failed {} time(s) in a row: {e}",
                                self.check.failures
                            ),
                        });
                    }
                }
            }
        }
    }

    async fn probe(&self) -> Result<(), String> {
        let timeout = self.check.timeout.0;
        if let Some(port) = self.check.port {
            let addr = ("127.0.0.1", port);
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("tcp 127.0.0.1:{port}: {e}")),
                Err(_) => {
                    return Err(format!(
                        "tcp 127.0.0.1:{port}: no answer within {timeout:?}"
                    ));
                }
            }
        }
        if let Some(url) = &self.check.http {
            let client = self.ctx.http_client();
            let response = client.get(url).timeout(timeout).send().await;
            let status = match response {
                Ok(r) => r.status().as_u16(),
                Err(e) if e.is_timeout() => {
                    return Err(format!("http {url}: no answer within {timeout:?}"));
                }
                Err(e) => return Err(format!("http {url}: {}", short_error(&e))),
            };
            let expected = if self.check.expect.is_empty() {
                (200..300).contains(&status)
            } else {
                self.check.expect.contains(&status)
            };
            if !expected {
                return Err(format!("http {url}: status {status}"));
            }
        }
        Ok(())
    }

    fn event(&self, kind: &str, message: String) {
        self.ctx.record(NewEvent {
            bot: Some(self.bot.clone()),
            owner: Some(self.owner.clone()),
            kind: kind.into(),
            message,
        });
    }
}

/// reqwest's Display stops at "error sending request"; the cause says what happened.
fn short_error(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

/// "tcp 127.0.0.1:8080, http http://..." for `bots show`.
pub fn describe(check: &HealthCheck) -> String {
    let mut parts = Vec::new();
    if let Some(port) = check.port {
        parts.push(format!("tcp 127.0.0.1:{port}"));
    }
    if let Some(url) = &check.http {
        parts.push(format!("http {url}"));
    }
    format!(
        "{}; {} failures in a row restart it, after a {} grace",
        parts.join(", "),
        check.failures,
        botctl_proto::config::format_duration(check.start_grace.0)
    )
}
