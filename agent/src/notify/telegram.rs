//! The Telegram Bot API channel: sendMessage calls, the per-chat pace Telegram enforces, and
//! splitting text that exceeds its message limit. The token lives in the URL, so no URL escapes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use botctl_proto::config::{DEFAULT_TELEGRAM_API, TelegramNotify};
use futures::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use tokio::time::Instant;

use super::channel::{Channel, Destination, Named};
use super::dispatch::render;
use super::retry::{self, Attempt};
use super::{Alert, DispatchConfig, Level, Secret};

/// Telegram's limit for one message's text.
pub(super) const MAX_MESSAGE: usize = 4096;
/// Beyond this many messages per alert the chat becomes unreadable; the rest is cut.
pub(super) const MAX_PARTS: usize = 5;
/// Room kept in the last part for the "cut" note.
const NOTE_ROOM: usize = 64;
const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: Secret,
    pub chat_ids: Vec<i64>,
    /// Overridable for tests and for self-hosted Bot API servers.
    pub api_base: String,
    pub min_level: Level,
}

impl TelegramConfig {
    pub fn new(token: Secret, chat_ids: Vec<i64>) -> TelegramConfig {
        TelegramConfig {
            token,
            chat_ids,
            api_base: DEFAULT_TELEGRAM_API.to_owned(),
            min_level: Level::Info,
        }
    }

    /// `[notify.telegram]` with its token read from `token_file` (relative to `home`). The
    /// error names the field and says the channel is off.
    pub(super) fn from_settings(settings: &TelegramNotify, home: &Path) -> Result<Self, String> {
        let token = Secret::from_file(&home.join(&settings.token_file))
            .map_err(|e| format!("[notify.telegram] token_file: {e}; Telegram alerts are off"))?;
        Ok(TelegramConfig {
            token,
            chat_ids: settings.chat_ids.clone(),
            api_base: settings.api_base.clone(),
            min_level: Level::from_config(&settings.min_level),
        })
    }
}

/// The channel `config` describes; `None` without a chat to send to, as it could only fail.
pub(super) fn channel(
    config: TelegramConfig,
    client: &reqwest::Client,
    dispatch: &DispatchConfig,
) -> Option<Arc<dyn Channel>> {
    Telegram::new(config, client.clone(), dispatch).map(|t| Arc::new(t) as Arc<dyn Channel>)
}

pub(super) struct Telegram {
    token: Secret,
    chat_ids: Vec<i64>,
    destinations: Vec<Destination>,
    api_base: String,
    min_level: Level,
    client: reqwest::Client,
    request_timeout: Duration,
    per_chat_interval: Duration,
    /// When each chat may next receive a message. Reserved before sleeping, so concurrent
    /// senders (the worker and `Notifier::test`) queue up rather than both going at once.
    next_slot: Mutex<HashMap<i64, Instant>>,
}

#[derive(serde::Serialize)]
struct SendMessage<'a> {
    chat_id: i64,
    text: &'a str,
    disable_web_page_preview: bool,
}

#[derive(serde::Deserialize)]
struct ApiResponse {
    ok: bool,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

#[derive(serde::Deserialize)]
struct ResponseParameters {
    retry_after: Option<u64>,
}

impl Channel for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn min_level(&self) -> Level {
        self.min_level
    }

    fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    fn messages(&self, alerts: &[Alert]) -> Result<Vec<String>, String> {
        Ok(split_text(&render(alerts, true), MAX_MESSAGE, MAX_PARTS))
    }

    fn attempt<'a>(&'a self, to: usize, message: &'a str) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            match self.chat_ids.get(to) {
                Some(&chat) => self.send_message(chat, message).await,
                None => Attempt::Permanent(format!("no chat number {to}")),
            }
        })
    }
}

impl Telegram {
    fn new(
        config: TelegramConfig,
        client: reqwest::Client,
        dispatch: &DispatchConfig,
    ) -> Option<Telegram> {
        if config.chat_ids.is_empty() {
            return None;
        }
        let destinations = config
            .chat_ids
            .iter()
            .map(|chat| {
                Destination(Some(Named {
                    noun: "chat",
                    id: chat.to_string(),
                }))
            })
            .collect();
        Some(Telegram {
            token: config.token,
            chat_ids: config.chat_ids,
            destinations,
            api_base: config.api_base.trim_end_matches('/').to_owned(),
            min_level: config.min_level,
            client,
            request_timeout: dispatch.request_timeout,
            per_chat_interval: dispatch.per_chat_interval,
            next_slot: Mutex::new(HashMap::new()),
        })
    }

    async fn send_message(&self, chat: i64, text: &str) -> Attempt {
        if let Err(left) = self.wait_turn(chat).await {
            return Attempt::Permanent(format!(
                "HTTP 429: rate limited by Telegram for another {}",
                botctl_proto::human::duration(left)
            ));
        }
        let body = SendMessage {
            chat_id: chat,
            text,
            disable_web_page_preview: true,
        };
        let body = match serde_json::to_vec(&body) {
            Ok(body) => body,
            Err(err) => return Attempt::Permanent(format!("cannot encode the message: {err}")),
        };
        let url = format!("{}/bot{}/sendMessage", self.api_base, self.token.expose());
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(self.request_timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return Attempt::from_error(err, &self.secrets()),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match retry::read_limited(response, MAX_RESPONSE).await {
            Ok(body) => body,
            Err(err) => return Attempt::from_error(err, &self.secrets()),
        };
        let reply: Option<ApiResponse> = serde_json::from_slice(&body).ok();
        match reply {
            Some(reply) if reply.ok && status.is_success() => Attempt::Delivered,
            Some(reply) => {
                let code = reply.error_code.unwrap_or(status.as_u16());
                let reason = retry::redact(
                    match &reply.description {
                        Some(description) => format!("HTTP {code}: {description}"),
                        None => format!("HTTP {code}"),
                    },
                    &self.secrets(),
                );
                if code == 429 || status == StatusCode::TOO_MANY_REQUESTS {
                    let wait = reply
                        .parameters
                        .and_then(|p| p.retry_after)
                        .map(Duration::from_secs)
                        .or_else(|| retry::retry_after_header(&headers))
                        .unwrap_or_else(retry::default_rate_limit_wait);
                    self.hold_off(chat, wait);
                    Attempt::RateLimited { wait, reason }
                } else {
                    Attempt::from_status(status, &headers, reason)
                }
            }
            None if status.is_success() => {
                // Most likely api_base points at something that is not a Bot API server.
                Attempt::Permanent(format!(
                    "HTTP {}: the reply is not a Bot API response",
                    status.as_u16()
                ))
            }
            None => Attempt::from_status(status, &headers, format!("HTTP {}", status.as_u16())),
        }
    }

    fn secrets(&self) -> [&str; 1] {
        [self.token.expose()]
    }

    /// Waits for the chat's next slot, unless Telegram has shut it for longer than is worth
    /// waiting; then the answer is the time left.
    async fn wait_turn(&self, chat: i64) -> Result<(), Duration> {
        let slot = {
            let mut slots = self
                .next_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let slot = slots
                .get(&chat)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            if slot - now > retry::MAX_RATE_LIMIT_WAIT {
                return Err(slot - now);
            }
            slots.insert(chat, slot + self.per_chat_interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        Ok(())
    }

    fn hold_off(&self, chat: i64, wait: Duration) {
        let mut slots = self
            .next_slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The server's number is not trusted: a u64::MAX-second retry_after overflowed
        // `Instant` and killed the channel's task. Ten years is a hold all the same.
        let until = Instant::now() + wait.min(botctl_proto::config::MAX_DURATION);
        let slot = slots.entry(chat).or_insert(until);
        *slot = (*slot).max(until);
    }
}

/// Telegram measures text in UTF-16 code units; counting those (never fewer than chars) keeps
/// emoji-heavy text from being rejected.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The byte length of the longest prefix of `text` within `limit` UTF-16 units.
fn prefix_end(text: &str, limit: usize) -> usize {
    let mut used = 0;
    for (index, c) in text.char_indices() {
        used += c.len_utf16();
        if used > limit {
            return index;
        }
    }
    text.len()
}

/// Splits at line breaks where possible, then at spaces, then anywhere; beyond `max_parts`
/// the rest is cut with a note saying how much.
pub(super) fn split_text(text: &str, limit: usize, max_parts: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if units(rest) <= limit {
            parts.push(rest.to_owned());
            break;
        }
        let last = parts.len() + 1 >= max_parts;
        let room = if last {
            limit.saturating_sub(NOTE_ROOM).max(1)
        } else {
            limit
        };
        let end = prefix_end(rest, room).max(rest.chars().next().map_or(0, char::len_utf8));
        let window = &rest[..end];
        // A break point is only worth it if it keeps at least half the part.
        let at_break = |sep: char| window.rfind(sep).filter(|&i| i > 0 && i >= end / 2);
        let cut = at_break('\n').or_else(|| at_break(' ')).unwrap_or(end);
        let head = &rest[..cut];
        let tail = &rest[cut..];
        let tail = tail
            .strip_prefix('\n')
            .or_else(|| tail.strip_prefix(' '))
            .unwrap_or(tail);
        if last {
            parts.push(format!(
                "{head}\n… (cut: {} more characters)",
                tail.chars().count()
            ));
            break;
        }
        if !head.trim().is_empty() {
            parts.push(head.to_owned());
        }
        rest = tail;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_text("hello", MAX_MESSAGE, MAX_PARTS), vec!["hello"]);
    }

    #[test]
    fn long_text_splits_at_line_boundaries() {
        let line = "x".repeat(99);
        let text = vec![line.as_str(); 100].join("\n"); // 9999 chars
        let parts = split_text(&text, MAX_MESSAGE, MAX_PARTS);
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert!(part.chars().count() <= MAX_MESSAGE);
            assert!(part.split('\n').all(|l| l == line), "split inside a line");
        }
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn a_single_huge_line_is_cut_anywhere() {
        let text = "é".repeat(5000);
        let parts = split_text(&text, MAX_MESSAGE, MAX_PARTS);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].chars().count(), MAX_MESSAGE);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn emoji_count_as_telegram_counts_them() {
        let text = "🔴".repeat(3000); // 3000 chars, 6000 UTF-16 units
        let parts = split_text(&text, MAX_MESSAGE, MAX_PARTS);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| units(p) <= MAX_MESSAGE));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn beyond_max_parts_the_rest_is_cut_with_a_note() {
        let text = "word ".repeat(10_000); // 50 000 chars
        let parts = split_text(&text, MAX_MESSAGE, MAX_PARTS);
        assert_eq!(parts.len(), MAX_PARTS);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE));
        let note = parts.last().unwrap().lines().last().unwrap();
        assert!(note.starts_with("… (cut: "), "{note}");
        let sent: usize = parts[..MAX_PARTS - 1]
            .iter()
            .map(|p| p.len() + 1)
            .sum::<usize>()
            + parts[MAX_PARTS - 1].len()
            - note.len()
            - 1;
        let cut: usize = note
            .trim_start_matches("… (cut: ")
            .trim_end_matches(" more characters)")
            .parse()
            .unwrap();
        // The space the last part was cut at is in neither.
        assert_eq!(sent + 1 + cut, text.len());
    }
}
