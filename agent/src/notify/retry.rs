//! Delivery attempts shared by every channel: classifying HTTP outcomes, retrying with backoff,
//! honouring 429s, and turning reqwest errors into text that cannot carry a credential.

use std::error::Error as _;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::DispatchConfig;

/// A 429 is the server pacing us, not failing: the first ones are waited out for free, and
/// only a server that keeps refusing eats into `max_attempts`.
const FREE_RATE_LIMITS: u32 = 2;
/// Past this a 429 means the message would be stale by the time it is allowed through.
pub(super) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// When a 429 names no delay, this is what Telegram typically asks for.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff_initial: Duration,
}

impl From<&DispatchConfig> for RetryPolicy {
    fn from(config: &DispatchConfig) -> RetryPolicy {
        RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            backoff_initial: config.backoff_initial,
        }
    }
}

/// The outcome of one request; every string in here has already been sanitised.
#[derive(Debug)]
pub(super) enum Attempt {
    Delivered,
    RateLimited { wait: Duration, reason: String },
    Transient(String),
    Permanent(String),
}

impl Attempt {
    /// The outcome of a non-success HTTP status, for channels whose body says nothing more.
    pub(super) fn from_status(status: StatusCode, headers: &HeaderMap, reason: String) -> Attempt {
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = retry_after_header(headers).unwrap_or(DEFAULT_RATE_LIMIT_WAIT);
            Attempt::RateLimited { wait, reason }
        } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Attempt::Transient(reason)
        } else {
            Attempt::Permanent(reason)
        }
    }

    pub(super) fn from_error(err: reqwest::Error, secrets: &[&str]) -> Attempt {
        // A malformed URL or header will not get better by retrying.
        let permanent = err.is_builder();
        let text = describe_error(err, secrets);
        if permanent {
            Attempt::Permanent(text)
        } else {
            Attempt::Transient(text)
        }
    }
}

pub(super) fn default_rate_limit_wait() -> Duration {
    DEFAULT_RATE_LIMIT_WAIT
}

/// Runs `attempt` until it delivers, fails permanently or runs out of attempts.
pub(super) async fn with_retries<F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut failures = 0;
    let mut rate_limited = 0;
    let mut backoff = policy.backoff_initial;
    loop {
        match attempt().await {
            Attempt::Delivered => return Ok(()),
            Attempt::Permanent(reason) => return Err(reason),
            Attempt::RateLimited { wait, reason } => {
                rate_limited += 1;
                if rate_limited > FREE_RATE_LIMITS {
                    failures += 1;
                }
                if failures >= policy.max_attempts {
                    return Err(format!(
                        "{reason} (still rate limited after {rate_limited} tries)"
                    ));
                }
                if wait > MAX_RATE_LIMIT_WAIT {
                    return Err(format!(
                        "{reason} (asked to wait {})",
                        botctl_proto::human::duration(wait)
                    ));
                }
                tokio::time::sleep(wait).await;
            }
            Attempt::Transient(reason) => {
                failures += 1;
                if failures >= policy.max_attempts {
                    return Err(match failures {
                        1 => reason,
                        n => format!("{reason} (gave up after {n} attempts)"),
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Only the delta-seconds form: HTTP dates would need a clock we trust more than the server's.
pub(super) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// The error with its causes (the top level alone is just "error sending request"), minus the
/// URL, which for Telegram contains the token; `secrets` are scrubbed as a second line of defence
/// in case a cause quotes one.
pub(super) fn describe_error(err: reqwest::Error, secrets: &[&str]) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and reqwest often repeat the inner error in the outer one's text.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if err.is_timeout() && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    redact(text, secrets)
}

pub(super) fn redact(mut text: String, secrets: &[&str]) -> String {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            text = text.replace(secret, "<redacted>");
        }
    }
    text
}

/// Error bodies are only read for their explanation, so a hostile or broken server cannot make
/// us buffer an unbounded amount.
pub(super) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::cell::Cell;

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            backoff_initial: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_up_to_max_attempts() {
        let calls = Cell::new(0);
        let result = with_retries(&policy(3), || {
            calls.set(calls.get() + 1);
            async { Attempt::Transient("HTTP 502".into()) }
        })
        .await;
        assert_eq!(calls.get(), 3);
        assert_eq!(result.unwrap_err(), "HTTP 502 (gave up after 3 attempts)");
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = Cell::new(0);
        let result = with_retries(&policy(5), || {
            calls.set(calls.get() + 1);
            async { Attempt::Permanent("HTTP 401".into()) }
        })
        .await;
        assert_eq!(calls.get(), 1);
        assert_eq!(result.unwrap_err(), "HTTP 401");
    }

    #[tokio::test]
    async fn the_first_rate_limits_do_not_count_as_failures() {
        let calls = Cell::new(0);
        let result = with_retries(&policy(1), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n <= 2 {
                    Attempt::RateLimited {
                        wait: Duration::from_millis(1),
                        reason: "HTTP 429".into(),
                    }
                } else {
                    Attempt::Delivered
                }
            }
        })
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test]
    async fn endless_rate_limits_end_in_failure() {
        let calls = Cell::new(0);
        let result = with_retries(&policy(2), || {
            calls.set(calls.get() + 1);
            async {
                Attempt::RateLimited {
                    wait: Duration::from_millis(1),
                    reason: "HTTP 429".into(),
                }
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 2 + 2);
    }

    #[test]
    fn redaction_replaces_every_occurrence() {
        let text = redact("a TOKEN b TOKEN".into(), &["TOKEN", ""]);
        assert_eq!(text, "a <redacted> b <redacted>");
    }
}
