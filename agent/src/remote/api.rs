//! The owners' JSON API under `/api/v1`: each route one call into ops with the visitor's
//! Caller, JSON errors with stable codes, and an event for every action.

use std::collections::{HashMap, HashSet};

use botctl_proto::config::parse_duration;
use botctl_proto::{Action, BotInfo, BotOutcome, ErrorKind, EventQuery, RpcError, Target, now_ms};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::door::{Door, Visitor};
use super::http::{Answer, json};
use crate::events::{Actor, Event, EventKind};
use crate::ops::{self, Caller, Ops, Who};

/// Events one request may ask for.
const MAX_EVENTS: u32 = 1000;
/// Points of a history graph: a day of minute samples is thinned to this.
const HISTORY_POINTS: usize = 288;

/// The stable error codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Timeout,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "bad_request",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Timeout => "timeout",
            Code::Conflict => "conflict",
            Code::PayloadTooLarge => "payload_too_large",
            Code::RateLimited => "rate_limited",
            Code::Internal => "internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Timeout => StatusCode::REQUEST_TIMEOUT,
            Code::Conflict => StatusCode::CONFLICT,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Turned away at the door (an event each), as opposed to an answer such as "no such bot".
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Code::Unauthorized | Code::Forbidden | Code::RateLimited | Code::PayloadTooLarge
        )
    }
}

/// A request that was not done: the answer says why in JSON.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    retry_after: Option<u64>,
    /// Who was refused, when known (for the event).
    pub actor: Option<Actor>,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            retry_after: None,
            actor: None,
        }
    }
    pub fn unauthorized(message: &str) -> Failure {
        Failure::new(Code::Unauthorized, message)
    }
    pub fn forbidden(message: &str) -> Failure {
        Failure::new(Code::Forbidden, message)
    }
    pub fn internal(message: String) -> Failure {
        Failure::new(Code::Internal, message)
    }
    pub fn rate_limited(message: String, retry_after_secs: u64) -> Failure {
        Failure {
            retry_after: Some(retry_after_secs.max(1)),
            ..Failure::new(Code::RateLimited, message)
        }
    }

    pub(super) fn by(mut self, visitor: &Visitor) -> Failure {
        self.actor.get_or_insert_with(|| visitor.who.actor.clone());
        self
    }

    pub fn answer(&self) -> Answer {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'static str,
            message: &'a str,
        }
        let mut answer = json(
            self.code.status(),
            &Body {
                error: Inner {
                    code: self.code.as_str(),
                    message: &self.message,
                },
            },
        );
        let headers = answer.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == Code::Unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"botctl\""),
            );
        }
        answer
    }
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Failure {
        let code = match e.kind {
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::Invalid => Code::BadRequest,
            ErrorKind::Conflict => Code::Conflict,
            ErrorKind::VersionMismatch | ErrorKind::Internal => Code::Internal,
        };
        Failure::new(code, e.message)
    }
}

/// One API request, past the door.
pub(super) struct Call<'a> {
    pub method: Method,
    /// After `/api/v1/`.
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a Bytes,
}

type Answered = Result<Answer, Failure>;

pub(super) async fn route(door: &Door, v: &Visitor, call: Call<'_>) -> Answered {
    let ops = &door.ops;
    let who = &v.who;
    let parts: Vec<&str> = call.path.split('/').collect();
    let get = call.method == Method::GET;
    let post = call.method == Method::POST;
    match parts.as_slice() {
        ["bots"] if get => ok(&serde_json::json!({ "bots": rows(ops, who) })),
        ["bots", name] if get => detail(ops, who, name).await,
        ["bots", name, "logs"] if get => logs(ops, who, name, call.query).await,
        ["bots", name, "history"] if get => history(ops, who, name, call.query).await,
        ["bots", name, action @ ("start" | "stop" | "restart")] if post => {
            let action = match *action {
                "start" => Action::Start,
                "stop" => Action::Stop,
                _ => Action::Restart,
            };
            one(door, v, name, action).await
        }
        ["events"] if get => events(ops, who, call.query).await,
        ["resources"] if get => {
            let owners = ops::resources::resources(ops, who).await;
            ok(&serde_json::json!({ "owners": owners }))
        }
        ["recover"] if post => {
            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields)]
            struct Recover {
                bots: Option<Vec<String>>,
            }
            let req: Recover = body_or_default(call.body)?;
            v.may_act()?;
            let target = match req.bots {
                Some(names) => Selection::Names(names),
                None => Selection::Failing,
            };
            many(door, v, Action::Recover, target).await
        }
        ["bulk"] if post => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Bulk {
                action: Action,
                bots: BulkBots,
            }
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum BulkBots {
                Names(Vec<String>),
                All(String),
            }
            let req: Bulk = parse_body(call.body)?;
            v.may_act()?;
            let target = match req.bots {
                BulkBots::Names(names) => Selection::Names(names),
                BulkBots::All(all) if all == "all" => Selection::All,
                BulkBots::All(_) => {
                    return Err(Failure::new(
                        Code::BadRequest,
                        "bots is a list of names or \"all\"",
                    ));
                }
            };
            many(door, v, req.action, target).await
        }
        ["system"] if get => {
            admin(who)?;
            ok(&ops::resources::system(ops, who).await?)
        }
        ["system", "history"] if get => {
            admin(who)?;
            let since_ms = since(call.query)?.unwrap_or_else(|| now_ms() - 3_600_000);
            let points = ops::logs::host_history(ops, who, since_ms, HISTORY_POINTS).await?;
            ok(&serde_json::json!({ "since_ms": since_ms, "points": points }))
        }
        ["cleanup"] if post => cleanup(door, v, call.body).await,
        ["bots"]
        | ["bots", _]
        | ["bots", _, "logs" | "history"]
        | ["events"]
        | ["resources"]
        | ["system"]
        | ["system", "history"] => Err(method_not_allowed("GET")),
        ["bots", _, "start" | "stop" | "restart"] | ["recover"] | ["bulk"] | ["cleanup"] => {
            Err(method_not_allowed("POST"))
        }
        _ => Err(Failure::new(
            Code::NotFound,
            "no such API path: see README, \"For owners\"",
        )),
    }
}

fn ok(value: &impl Serialize) -> Answered {
    Ok(json(StatusCode::OK, value))
}

fn method_not_allowed(allowed: &str) -> Failure {
    Failure::new(
        Code::MethodNotAllowed,
        format!("this path answers {allowed} only"),
    )
}

fn admin(who: &Who) -> Result<(), Failure> {
    match who.caller {
        Caller::Admin => Ok(()),
        Caller::Owner(_) => Err(Failure::forbidden("this needs an admin token")),
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::new(Code::BadRequest, format!("the JSON body: {e}")))
}

fn body_or_default<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(body)
    }
}

/// A bot row as the API shows it: `status`'s row and how its health checks fare.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    info: BotInfo,
    health: &'static str,
}

fn rows(ops: &Ops, who: &Who) -> Vec<Row> {
    let bots = ops::show::list(ops, who, None);
    let health: HashMap<String, &'static str> = ops.fleet.read(|r| {
        r.bots
            .iter()
            .map(|(name, e)| (name.clone(), e.health().as_str()))
            .collect()
    });
    bots.into_iter()
        .map(|info| Row {
            health: health.get(&info.name).copied().unwrap_or("none"),
            info,
        })
        .collect()
}

async fn detail(ops: &Ops, who: &Who, name: &str) -> Answered {
    let detail = ops::show::show(ops, who, name).await?;
    let health = ops
        .fleet
        .read(|r| r.bots.get(name).map(|e| e.health().as_str()))
        .unwrap_or("none");
    #[derive(Serialize)]
    struct Detail {
        #[serde(flatten)]
        detail: botctl_proto::BotDetail,
        health: &'static str,
    }
    ok(&Detail { detail, health })
}

async fn logs(ops: &Ops, who: &Who, name: &str, query: &str) -> Answered {
    let lines = match param(query, "lines") {
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| Failure::new(Code::BadRequest, "lines is a whole number"))?,
        None => 100,
    };
    let (stream, which) = match param(query, "stream").as_deref() {
        None | Some("out") => (ops::logs::Stream::Out, "out"),
        Some("err") => (ops::logs::Stream::Err, "err"),
        Some(_) => return Err(Failure::new(Code::BadRequest, "stream is out or err")),
    };
    let text = ops::logs::tail(ops, who, name, stream, lines).await?;
    let lines: Vec<&str> = text.lines().collect();
    ok(&serde_json::json!({ "bot": name, "stream": which, "lines": lines }))
}

async fn history(ops: &Ops, who: &Who, name: &str, query: &str) -> Answered {
    let since_ms = since(query)?.unwrap_or_else(|| now_ms() - 3_600_000);
    let points = ops::logs::history(ops, who, name, since_ms, HISTORY_POINTS).await?;
    ok(&serde_json::json!({ "bot": name, "since_ms": since_ms, "points": points }))
}

async fn events(ops: &Ops, who: &Who, query: &str) -> Answered {
    let limit = match param(query, "limit") {
        Some(n) => n
            .parse::<u32>()
            .map_err(|_| Failure::new(Code::BadRequest, "limit is a whole number"))?,
        None => 100,
    };
    let after_id = match param(query, "after") {
        Some(n) => Some(
            n.parse::<i64>()
                .map_err(|_| Failure::new(Code::BadRequest, "after is an event id"))?,
        ),
        None => None,
    };
    let events = ops::events::events(
        ops,
        who,
        EventQuery {
            bot: param(query, "bot").filter(|b| !b.is_empty()),
            since_ms: since(query)?,
            after_id,
            limit: limit.clamp(1, MAX_EVENTS),
            owner: None,
        },
    )
    .await?;
    ok(&serde_json::json!({ "events": events }))
}

/// `since=` as a duration back from now ("1h", "30m") or a Unix time in milliseconds.
fn since(query: &str) -> Result<Option<i64>, Failure> {
    let Some(text) = param(query, "since").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms));
    }
    let d = parse_duration(&text).map_err(|e| Failure::new(Code::BadRequest, e))?;
    Ok(Some(now_ms().saturating_sub(d.as_millis() as i64)))
}

/// One bot, by its path: another owner's bot is 404 exactly like a missing one.
async fn one(door: &Door, v: &Visitor, name: &str, action: Action) -> Answered {
    v.may_act()?;
    let ops = &door.ops;
    let bot = ops.bot(&v.who, name)?;
    let report =
        ops::control::control(ops, &v.who, action, Target::Bots(vec![name.to_string()])).await?;
    let outcome = report
        .outcomes
        .into_iter()
        .next()
        .ok_or_else(|| Failure::internal("no answer from the bot".into()))?;
    door.ops.ctx.record(
        Event::new(
            EventKind::Remote,
            format!(
                "api: {} {name}: {}",
                action.as_str(),
                if outcome.ok { "done" } else { "not done" }
            ),
        )
        .of(name, bot.owner())
        .by(&v.who.actor),
    );
    if outcome.ok {
        ok(&outcome)
    } else {
        Err(Failure::new(Code::Conflict, outcome.message))
    }
}

enum Selection {
    Names(Vec<String>),
    All,
    /// Every failed or backing-off bot the caller sees.
    Failing,
}

/// Several bots: an answer per bot; a name the caller cannot see answers `not_found`, like a
/// missing bot. When no named bot exists for the caller, the whole request is 404.
async fn many(door: &Door, v: &Visitor, action: Action, selection: Selection) -> Answered {
    let ops = &door.ops;
    let who = &v.who;
    let target = match selection {
        Selection::Names(names) => {
            let unique: Vec<String> = {
                let mut seen = HashSet::new();
                names
                    .into_iter()
                    .filter(|n| seen.insert(n.clone()))
                    .collect()
            };
            if unique.is_empty() {
                return Err(Failure::new(Code::BadRequest, "bots is an empty list"));
            }
            if unique.iter().all(|n| ops.bot(who, n).is_err()) {
                return Err(ops::no_such_bot(&unique[0]).into());
            }
            Target::Bots(unique)
        }
        Selection::All => Target::All,
        Selection::Failing => Target::Failing,
    };
    let report = ops::control::control(ops, who, action, target).await?;
    #[derive(Serialize)]
    struct Outcome {
        #[serde(flatten)]
        outcome: BotOutcome,
        /// `not_found` for a bot the caller does not have.
        code: Option<&'static str>,
    }
    let outcomes: Vec<Outcome> = report
        .outcomes
        .into_iter()
        .map(|o| Outcome {
            code: ops.bot(who, &o.bot).is_err().then_some("not_found"),
            outcome: o,
        })
        .collect();
    let done: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.outcome.ok)
        .map(|o| o.outcome.bot.as_str())
        .collect();
    ops.ctx.record(
        Event::new(
            EventKind::Remote,
            format!(
                "api: {} of {} bot(s): {} done{}",
                action.as_str(),
                outcomes.len(),
                done.len(),
                if done.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", done.join(", "))
                }
            ),
        )
        .by(&who.actor),
    );
    ok(&serde_json::json!({ "action": action, "outcomes": outcomes }))
}

async fn cleanup(door: &Door, v: &Visitor, body: &Bytes) -> Answered {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Cleanup {
        #[serde(default)]
        force: bool,
    }
    admin(&v.who)?;
    let req: Cleanup = body_or_default(body)?;
    let ops = &door.ops;
    let plan = ops::cleanup::plan(ops, &v.who, None).await;
    if !req.force {
        return ok(&serde_json::json!({ "applied": false, "plan": plan }));
    }
    v.may_act()?;
    let done = ops::cleanup::apply(ops, &v.who, plan.items).await;
    ops.ctx.record(
        Event::new(
            EventKind::Remote,
            format!(
                "api: cleanup removed {} item(s), {} bytes",
                done.items.len(),
                done.bytes
            ),
        )
        .by(&v.who.actor),
    );
    ok(&serde_json::json!({ "applied": true, "plan": done }))
}

/// A query parameter, percent-decoded (`+` is a space).
fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| decode(v))
}

fn decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some((hi, lo))) => {
                out.push(hi * 16 + lo);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_found_and_decoded() {
        let q = "bot=a%2Db&since=1h&x&lines=5+";
        assert_eq!(param(q, "bot").as_deref(), Some("a-b"));
        assert_eq!(param(q, "since").as_deref(), Some("1h"));
        assert_eq!(param(q, "x").as_deref(), Some(""));
        assert_eq!(param(q, "lines").as_deref(), Some("5 "));
        assert_eq!(param(q, "nope"), None);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%41"), "%zzA");
    }

    #[test]
    fn error_codes_are_stable() {
        let f = Failure::new(Code::NotFound, "no bot named x");
        let answer = f.answer();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        let limited = Failure::rate_limited("slow down".into(), 0).answer();
        assert_eq!(limited.headers()[header::RETRY_AFTER], "1");
        assert!(Code::Forbidden.is_refusal() && !Code::NotFound.is_refusal());
    }
}
