//! Telegram admin commands (/status, /restart BOT...) received by long polling getUpdates.
//! Only listed admin user ids are obeyed; everyone else is ignored silently and reported.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Actor, BoxFuture, Control, RateLimiter, Report, Secret, Verdict, printable};

/// Telegram's limit for one message, counted in UTF-16 code units.
const MAX_MESSAGE: usize = 4096;
/// Commands per minute and sender; also bounds how many refusals a stranger can cause.
const COMMANDS_PER_MINUTE: u32 = 20;
const MAX_SENDERS: usize = 1024;
/// getUpdates answers hold at most 100 updates; this is far above any legitimate one.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// How long a command may run before the admin is told it is still going.
const COMMAND_WAIT: Duration = Duration::from_secs(300);
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// An empty batch returned sooner than this means the server is not long polling (or
/// poll_timeout is 0); waiting out the rest keeps the loop from spinning.
const MIN_EMPTY_POLL: Duration = Duration::from_secs(1);

/// Settings of the Telegram command channel. Use a bot token dedicated to administration:
/// Telegram allows one getUpdates consumer per token, so sharing it with a fleet bot makes
/// both fail with 409 Conflict.
#[derive(Debug, Clone)]
pub struct TelegramCommandsConfig {
    pub token: Secret,
    /// Telegram user ids (`message.from.id`) allowed to give commands.
    pub admins: Vec<i64>,
    /// Bot API root, `https://api.telegram.org` (tests point it at a fake server).
    pub api_base: String,
    /// Long-poll duration asked of getUpdates.
    pub poll_timeout: Duration,
}

impl TelegramCommandsConfig {
    pub fn new(token: Secret, admins: Vec<i64>) -> Self {
        TelegramCommandsConfig {
            token,
            admins,
            api_base: "https://api.telegram.org".to_string(),
            poll_timeout: Duration::from_secs(30),
        }
    }
}

/// Polls getUpdates forever and runs admin commands; drop the future (abort its task) to stop.
///
/// Delivery is at most once: the offset past an update is saved through
/// [`Control::save_offset`] *before* its command runs. A crash mid-command therefore loses
/// that command instead of repeating it, since repeating `/update` or `/stop` behind the
/// admin's back is worse than asking them to resend, and a command that crashes the agent
/// cannot become a crash loop. Commands run one after another in the order sent, so
/// `/stop X` then `/start X` cannot be reordered.
///
/// The request timeout is set per request to `poll_timeout` + 10 s, whatever `client` was
/// built with. Errors back off from 1 s doubling to 60 s (or Telegram's `retry_after`).
pub async fn poll_telegram(
    config: TelegramCommandsConfig,
    control: Arc<dyn Control>,
    client: reqwest::Client,
) {
    let api = Api {
        client,
        base: format!(
            "{}/bot{}",
            config.api_base.trim_end_matches('/'),
            config.token.expose()
        ),
        token: config.token.clone(),
    };
    let limiter = RateLimiter::<i64>::new(COMMANDS_PER_MINUTE, MAX_SENDERS);
    let mut offset = control.load_offset();
    let mut backoff = MIN_BACKOFF;
    let mut failing = false;
    loop {
        let started = Instant::now();
        match api.get_updates(offset, config.poll_timeout).await {
            Ok(updates) => {
                if failing {
                    failing = false;
                    control.report(Report::Accepted {
                        what: "telegram getUpdates works again".to_string(),
                        by: None,
                        bots: Vec::new(),
                    });
                }
                backoff = MIN_BACKOFF;
                let empty = updates.is_empty();
                for (id, update) in updates {
                    // An id below the offset was handled before (a server ignoring offset, or
                    // a replayed batch): running it again is what the offset exists to prevent.
                    if offset.is_some_and(|next| id < next) {
                        continue;
                    }
                    // The id is the server's number: i64::MAX must not wrap to a negative offset.
                    let next = id.saturating_add(1);
                    offset = Some(next);
                    control.save_offset(next);
                    if let Some(message) = update {
                        handle_message(&api, &config, &control, &limiter, message).await;
                    }
                }
                if empty {
                    tokio::time::sleep_until((started + MIN_EMPTY_POLL).into()).await;
                }
            }
            Err(failure) => {
                if !failing {
                    // Once per outage: a dead network must not become an event per retry.
                    failing = true;
                    control.report(Report::Unavailable {
                        what: "telegram getUpdates".to_string(),
                        why: failure.why,
                    });
                }
                let delay = failure.retry_after.unwrap_or(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

struct Api {
    client: reqwest::Client,
    /// `{api_base}/bot{token}`: never formatted into anything but a request.
    base: String,
    token: Secret,
}

struct Failure {
    why: String,
    retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct ApiAnswer {
    ok: bool,
    #[serde(default)]
    result: Value,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
struct UpdateBody {
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    chat: Chat,
    from: Option<User>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Deserialize)]
struct User {
    id: i64,
}

impl Api {
    /// Update ids with their message, if the update is a message we understand.
    async fn get_updates(
        &self,
        offset: Option<i64>,
        poll_timeout: Duration,
    ) -> Result<Vec<(i64, Option<Message>)>, Failure> {
        let mut body = json!({
            "timeout": poll_timeout.as_secs(),
            "allowed_updates": ["message"],
        });
        if let Some(offset) = offset {
            body["offset"] = json!(offset);
        }
        let result = self
            .call(
                "getUpdates",
                &body,
                poll_timeout.saturating_add(Duration::from_secs(10)),
            )
            .await?;
        let Value::Array(updates) = result else {
            return Err(self.failure("getUpdates result is not a list".to_string(), None));
        };
        // Parsed one by one: a single update of an unexpected shape must not make the whole
        // batch unparseable, or the offset could never move past it.
        let mut parsed: Vec<(i64, Option<Message>)> = updates
            .into_iter()
            .filter_map(|update| {
                let id = update.get("update_id")?.as_i64()?;
                let message = serde_json::from_value::<UpdateBody>(update)
                    .ok()
                    .and_then(|u| u.message);
                Some((id, message))
            })
            .collect();
        parsed.sort_by_key(|(id, _)| *id);
        Ok(parsed)
    }

    async fn send_message(&self, chat_id: i64, text: &str) -> Result<(), Failure> {
        let body = json!({ "chat_id": chat_id, "text": cut_message(text) });
        self.call("sendMessage", &body, SEND_TIMEOUT)
            .await
            .map(drop)
    }

    async fn call(&self, method: &str, body: &Value, timeout: Duration) -> Result<Value, Failure> {
        let mut response = self
            .client
            .post(format!("{}/{method}", self.base))
            // Serialized here rather than with reqwest's `json` feature, one feature fewer.
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.network_failure(method, e))?;
        let status = response.status();
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                        return Err(self.failure(format!("{method}: answer too large"), None));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.network_failure(method, e)),
            }
        }
        let Ok(answer) = serde_json::from_slice::<ApiAnswer>(&bytes) else {
            return Err(self.failure(format!("{method}: HTTP {status}, unreadable answer"), None));
        };
        if !answer.ok {
            let retry_after = answer
                .parameters
                .and_then(|p| p.retry_after)
                .map(|s| Duration::from_secs(s.clamp(1, 300)));
            let description = answer.description.unwrap_or_default();
            return Err(self.failure(
                format!("{method}: HTTP {status}: {}", printable(&description, 200)),
                retry_after,
            ));
        }
        Ok(answer.result)
    }

    fn network_failure(&self, method: &str, e: reqwest::Error) -> Failure {
        // without_url: the URL carries the token. The source chain says what actually failed.
        let e = e.without_url();
        let mut why = format!("{method}: {e}");
        let mut source = e.source();
        while let Some(cause) = source {
            why.push_str(": ");
            why.push_str(&cause.to_string());
            source = cause.source();
        }
        self.failure(why, None)
    }

    fn failure(&self, why: String, retry_after: Option<Duration>) -> Failure {
        Failure {
            why: self.token.scrub(&why),
            retry_after,
        }
    }
}

async fn handle_message(
    api: &Api,
    config: &TelegramCommandsConfig,
    control: &Arc<dyn Control>,
    limiter: &RateLimiter<i64>,
    message: Message,
) {
    let (Some(text), Some(from)) = (message.text, message.from) else {
        return;
    };
    if !text.starts_with('/') {
        return;
    }
    let source = format!("telegram user {}", from.id);
    if let Verdict::Deny { report } = limiter.check(&from.id, Instant::now()) {
        if report {
            control.report(Report::Refused {
                source,
                why: format!(
                    "rate limited (over {COMMANDS_PER_MINUTE} commands a minute; further refusals in the next minute not reported)"
                ),
            });
        }
        return;
    }
    if !config.admins.contains(&from.id) {
        // No answer at all: a stranger learns nothing, not even that this bot takes commands.
        control.report(Report::Refused {
            source,
            why: "not an admin".to_string(),
        });
        return;
    }
    let command = parse_command(&text);
    let answer = run_command(control, &source, Actor::Telegram(from.id), command).await;
    if let Err(failure) = api.send_message(message.chat.id, &answer).await {
        control.report(Report::Unavailable {
            what: "telegram sendMessage".to_string(),
            why: failure.why,
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Status,
    ListBots(Option<String>),
    /// "restart", "stop" or "start".
    Control(&'static str, String),
    Update(String),
    Help,
    /// A known command with wrong arguments: the usage line.
    Usage(&'static str),
    Unknown(String),
}

const HELP: &str = "Commands:\n\
/status - agent and fleet summary\n\
/listbots [owner] - bots, optionally of one owner\n\
/restart BOT, /stop BOT, /start BOT\n\
/update BOT - pull the bot's code and restart it\n\
/help - this list";

pub(crate) fn parse_command(text: &str) -> Command {
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    // In groups Telegram appends the bot's username: "/status@SomeBot".
    let name = first
        .trim_start_matches('/')
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let args: Vec<&str> = words.collect();
    let one_bot = |usage: &'static str| match args.as_slice() {
        [bot] if valid_name(bot) => Ok(bot.to_string()),
        _ => Err(Command::Usage(usage)),
    };
    let result = match name.as_str() {
        "status" => Ok(Command::Status),
        "listbots" => match args.as_slice() {
            [] => Ok(Command::ListBots(None)),
            [owner] if valid_name(owner) => Ok(Command::ListBots(Some(owner.to_string()))),
            _ => Err(Command::Usage("usage: /listbots [owner]")),
        },
        "restart" => one_bot("usage: /restart BOT").map(|b| Command::Control("restart", b)),
        "stop" => one_bot("usage: /stop BOT").map(|b| Command::Control("stop", b)),
        "start" => one_bot("usage: /start BOT").map(|b| Command::Control("start", b)),
        "update" => one_bot("usage: /update BOT").map(Command::Update),
        "help" => Ok(Command::Help),
        other => Ok(Command::Unknown(printable(other, 32))),
    };
    result.unwrap_or_else(|usage| usage)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && !name.chars().any(char::is_control)
}

async fn run_command(
    control: &Arc<dyn Control>,
    source: &str,
    by: Actor,
    command: Command,
) -> String {
    match command {
        Command::Status => control.status_text(),
        Command::ListBots(owner) => control.list_text(owner),
        Command::Help => HELP.to_string(),
        Command::Usage(usage) => usage.to_string(),
        Command::Unknown(name) => format!("unknown command /{name}\n\n{HELP}"),
        Command::Control(action, bot) => {
            let outcome = finish(control.control(by.clone(), action, bot.clone()))
                .await
                .unwrap_or_else(|note| note);
            control.report(Report::Accepted {
                what: format!("{source}: /{action} {bot}: {outcome}"),
                by: Some(by),
                bots: vec![bot],
            });
            outcome
        }
        Command::Update(bot) => {
            let outcome = match finish(control.update(by.clone(), bot.clone())).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(why)) => {
                    control.report(Report::UpdateFailed {
                        bot: bot.clone(),
                        why: why.clone(),
                    });
                    format!("update of {bot} failed: {why}")
                }
                Err(note) => note,
            };
            control.report(Report::Accepted {
                what: format!("{source}: /update {bot}: {outcome}"),
                by: Some(by),
                bots: vec![bot],
            });
            outcome
        }
    }
}

/// Waits for an agent action up to [`COMMAND_WAIT`] without cancelling it: dropping a
/// half-done update or restart would be worse than answering "still running".
async fn finish<T: Send + 'static>(action: BoxFuture<T>) -> Result<T, String> {
    match tokio::time::timeout(COMMAND_WAIT, tokio::spawn(action)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err("failed: the action panicked".to_string()),
        Err(_) => Err(format!(
            "still running after {}; see /status",
            botctl_proto::human::duration(COMMAND_WAIT)
        )),
    }
}

/// Fits `text` into one Telegram message, saying so when something was cut.
pub(crate) fn cut_message(text: &str) -> String {
    const NOTE: &str = "\n… (cut: too long for one message)";
    if text.trim().is_empty() {
        // Telegram rejects empty messages, and the admin should still see an answer.
        return "(empty answer)".to_string();
    }
    if text.encode_utf16().count() <= MAX_MESSAGE {
        return text.to_string();
    }
    let budget = MAX_MESSAGE - NOTE.encode_utf16().count();
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push_str(NOTE);
    out
}
