//! Remote control of the agent: the HTTP listener (health, GitHub webhook, the owners' API,
//! dashboard and metrics) and Telegram admin commands. Off by default; the agent implements
//! [`Control`] and starts whichever side is configured.

mod agent;
mod api;
mod dashboard;
mod door;
mod github;
mod http;
mod metrics;
mod telegram;
mod tls;

pub use agent::AgentControl;
pub use dashboard::first_load_bytes;
pub use door::{Door, DoorConfig, Sessions};
pub use http::{HttpConfig, serve_http};
pub use telegram::{TelegramCommandsConfig, poll_telegram};
pub use tls::server_config;

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A boxed future, as returned by the asynchronous [`Control`] methods.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The agent as seen from the remote-control side.
///
/// The synchronous methods are called from async tasks, so they must return quickly
/// (a store lookup is fine, a process wait is not).
pub trait Control: Send + Sync + 'static {
    /// Summary for `GET /health`; answered 200 when `healthy`, 503 otherwise.
    fn health(&self) -> HealthSummary;
    /// Bots whose `[update] repo = "owner/name"` and branch match a push.
    fn bots_for_push(&self, repo: &str, branch: &str) -> Vec<String>;
    /// Updates one bot (pull or its update command, then restart); a one-line outcome.
    /// `by` is who asked: a GitHub delivery, a Telegram admin.
    fn update(&self, by: Actor, bot: String) -> BoxFuture<Result<String, String>>;
    /// Text answered to Telegram `/status`.
    fn status_text(&self) -> String;
    /// Text answered to Telegram `/listbots [owner]`.
    fn list_text(&self, owner: Option<String>) -> String;
    /// `action` is one of "restart", "stop", "start"; a one-line outcome.
    fn control(&self, by: Actor, action: &str, bot: String) -> BoxFuture<String>;
    /// The next Telegram update offset to ask for, if one was ever saved.
    fn load_offset(&self) -> Option<i64>;
    /// Persists the next Telegram update offset.
    fn save_offset(&self, offset: i64);
    /// False if this GitHub delivery id was already seen; the agent persists it.
    fn first_delivery(&self, delivery_id: &str) -> bool;
    /// Refusals and outcomes, to be recorded as events; never contains a secret.
    fn report(&self, report: Report);
}

/// Agent and fleet counts served by `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthSummary {
    pub pid: u32,
    pub version: String,
    pub uptime_secs: u64,
    pub bots: usize,
    pub running: usize,
    pub failed: usize,
    /// No bot failed.
    pub healthy: bool,
}

/// What the remote side tells the agent to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A request or command was turned away (bad signature, not an admin, rate limited...).
    Refused { source: String, why: String },
    /// A request or command was acted upon: who asked, and the bots it touched.
    Accepted {
        what: String,
        by: Option<Actor>,
        bots: Vec<String>,
    },
    /// A webhook-triggered update failed (updates run after the HTTP answer, so nobody else sees it).
    UpdateFailed { bot: String, why: String },
    /// A remote-control channel stopped working (e.g. Telegram unreachable or token rejected);
    /// reported once per outage, not once per retry.
    Unavailable { what: String, why: String },
}

pub use crate::events::Actor;
pub use crate::secret::Secret;

/// Outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// `report` is true at most once a minute per source, so a flood of refused requests
    /// does not turn into a flood of events.
    Deny {
        report: bool,
    },
}

/// Per-source token bucket: bursts up to `per_minute`, refilled evenly over a minute.
pub(crate) struct RateLimiter<K> {
    per_minute: f64,
    max_sources: usize,
    state: Mutex<LimiterState<K>>,
}

struct LimiterState<K> {
    buckets: HashMap<K, Bucket>,
    /// Denials for sources that could not be tracked because the table was full.
    overflow_reported: Option<Instant>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    reported: Option<Instant>,
}

const REPORT_EVERY: Duration = Duration::from_secs(60);

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_minute` of 0 is taken as 1: "no limit" should be an explicit choice, not a typo.
    pub(crate) fn new(per_minute: u32, max_sources: usize) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            max_sources: max_sources.max(1),
            state: Mutex::new(LimiterState {
                buckets: HashMap::new(),
                overflow_reported: None,
            }),
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        (bucket.tokens + elapsed * self.per_minute / 60.0).min(self.per_minute)
    }

    pub(crate) fn check(&self, key: &K, now: Instant) -> Verdict {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.buckets.contains_key(key) && state.buckets.len() >= self.max_sources {
            // A full bucket is the same as no bucket, so forgetting those loses nothing.
            let per_minute = self.per_minute;
            state
                .buckets
                .retain(|_, b| self.refilled(b, now) < per_minute);
            if state.buckets.len() >= self.max_sources {
                // Refusing untracked sources keeps memory bounded under a many-address flood.
                let report = state
                    .overflow_reported
                    .is_none_or(|t| now.saturating_duration_since(t) >= REPORT_EVERY);
                if report {
                    state.overflow_reported = Some(now);
                }
                return Verdict::Deny { report };
            }
        }
        let bucket = state.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.per_minute,
            last: now,
            reported: None,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Allow;
        }
        let report = bucket
            .reported
            .is_none_or(|t| now.saturating_duration_since(t) >= REPORT_EVERY);
        if report {
            bucket.reported = Some(now);
        }
        Verdict::Deny { report }
    }
}

/// Makes client-supplied text safe to put in a report: bounded length, no control characters
/// (a crafted branch name must not forge extra lines in the agent's event log).
pub(crate) fn printable(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
