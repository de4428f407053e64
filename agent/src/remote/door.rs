//! The owners' door on the HTTP listener: who a request is (a Bearer token, or a dashboard
//! session cookie), sign-in and sign-out, per-token rate limits, CSRF checks, and events.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::Serialize;

use super::api::{self, Failure};
use super::http::{Answer, BodyError, json, not_allowed, not_found, read_body, text};
use super::{RateLimiter, Verdict, printable};
use crate::events::{Actor, Event, EventKind};
use crate::ops::{Caller, Ops, Who};
use crate::tokens::{Grant, digest, hex, random};

const COOKIE: &str = "botctl_session";
const CSRF_HEADER: &str = "x-csrf-token";
/// Tokens the per-token limiter remembers (one bucket each).
const MAX_TOKENS_TRACKED: usize = 4096;
/// Dashboard sessions alive at once; beyond that the oldest ends.
const MAX_SESSIONS: usize = 10_000;

/// What the door needs of `[remote.http]`.
#[derive(Debug, Clone)]
pub struct DoorConfig {
    pub session_timeout: Duration,
    pub token_rate_per_minute: u32,
    pub metrics: bool,
    pub metrics_open: bool,
    /// The listener speaks HTTPS: cookies are marked Secure.
    pub secure: bool,
    pub max_body: usize,
    pub read_timeout: Duration,
}

/// Signed-in dashboard sessions, kept by the agent across listener restarts (a reload).
#[derive(Default)]
pub struct Sessions {
    /// By the SHA-256 of the cookie's value: the value itself is never kept.
    map: Mutex<HashMap<[u8; 32], Session>>,
}

struct Session {
    token_id: String,
    csrf: String,
    began: Instant,
    expires: Instant,
}

impl Sessions {
    /// Ends every session of a token (it was revoked).
    fn end_all_of(&self, token_id: &str) {
        self.map
            .lock()
            .unwrap()
            .retain(|_, s| s.token_id != token_id);
    }
}

/// Who is at the door, decided from the request.
pub(super) struct Visitor {
    pub grant: Grant,
    pub who: Who,
    /// Signed in through the dashboard (the session's CSRF token), not with a Bearer token.
    csrf: Option<String>,
}

impl Visitor {
    /// Refuses a read-only token's attempt to act.
    pub fn may_act(&self) -> Result<(), Failure> {
        if self.grant.read_only {
            Err(Failure::forbidden(
                "this token is read-only: it can look but not act",
            ))
        } else {
            Ok(())
        }
    }
}

pub struct Door {
    pub(super) ops: Arc<Ops>,
    pub(super) config: DoorConfig,
    sessions: Arc<Sessions>,
    limiter: RateLimiter<String>,
}

impl Door {
    pub fn new(ops: Arc<Ops>, config: DoorConfig, sessions: Arc<Sessions>) -> Door {
        Door {
            limiter: RateLimiter::new(config.token_rate_per_minute, MAX_TOKENS_TRACKED),
            ops,
            config,
            sessions,
        }
    }

    pub(super) async fn serve(&self, req: Request<Incoming>, ip: IpAddr) -> Answer {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let mut answer = if path == "/metrics" {
            self.metrics(&req, ip, &method)
        } else if path == "/session" {
            self.session(req, ip).await
        } else if let Some(rest) = path.strip_prefix("/api/v1/") {
            let rest = rest.to_string();
            match self.api(req, ip, &method, &rest).await {
                Ok(answer) => answer,
                Err(failure) => self.refused(failure, ip, &method, &path, None),
            }
        } else if let Some(asset) = super::dashboard::asset(&path) {
            if method == Method::GET || method == Method::HEAD {
                super::dashboard::answer(asset)
            } else {
                not_allowed("GET")
            }
        } else {
            not_found()
        };
        let headers = answer.headers_mut();
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        answer
    }

    async fn api(
        &self,
        req: Request<Incoming>,
        ip: IpAddr,
        method: &Method,
        rest: &str,
    ) -> Result<Answer, Failure> {
        let visitor = self.visitor(req.headers(), ip)?;
        self.limit(&visitor.grant)?;
        if *method != Method::GET && *method != Method::HEAD {
            // A browser sends the session cookie with any request to us, even one a foreign
            // page makes it send: only our page knows the session's CSRF token.
            if let Some(csrf) = &visitor.csrf {
                same_origin(req.headers())?;
                csrf_sent(req.headers(), csrf).map_err(|f| f.by(&visitor))?;
            }
        }
        let query = req.uri().query().unwrap_or_default().to_string();
        let body = if *method == Method::POST {
            self.body(req).await?.1
        } else {
            Default::default()
        };
        let request = api::Call {
            method: method.clone(),
            path: rest,
            query: &query,
            body: &body,
        };
        match api::route(self, &visitor, request).await {
            Ok(answer) => Ok(answer),
            Err(f) => Err(f.by(&visitor)),
        }
    }

    /// Reads a bounded body, or says why not.
    async fn body(
        &self,
        req: Request<Incoming>,
    ) -> Result<(hyper::http::request::Parts, hyper::body::Bytes), Failure> {
        let max = self.config.max_body;
        read_body(req, max, self.config.read_timeout)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => Failure::new(
                    api::Code::PayloadTooLarge,
                    format!("the body is over the {max} byte limit"),
                ),
                BodyError::Unreadable => {
                    Failure::new(api::Code::BadRequest, "could not read the body")
                }
                BodyError::TooSlow => {
                    Failure::new(api::Code::Timeout, "the body did not arrive in time")
                }
            })
    }

    /// Who the request is: its Bearer token, else its session cookie.
    fn visitor(&self, headers: &HeaderMap, ip: IpAddr) -> Result<Visitor, Failure> {
        let tokens = &self.ops.ctx.tokens;
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let presented = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or_default();
            let grant = tokens
                .verify(presented)
                .ok_or_else(|| Failure::unauthorized("no valid token"))?;
            return Ok(visitor(grant, ip, None));
        }
        let Some(key) = session_cookie(headers) else {
            return Err(Failure::unauthorized(
                "sign in, or send Authorization: Bearer TOKEN",
            ));
        };
        let (token_id, csrf) = {
            let mut map = self.sessions.map.lock().unwrap();
            let now = Instant::now();
            match map.get(&key) {
                Some(s) if s.expires > now => (s.token_id.clone(), s.csrf.clone()),
                Some(_) => {
                    map.remove(&key);
                    return Err(Failure::unauthorized("the session expired: sign in again"));
                }
                None => return Err(Failure::unauthorized("no such session: sign in again")),
            }
        };
        match tokens.still_valid(&token_id) {
            Some(grant) => Ok(visitor(grant, ip, Some(csrf))),
            None => {
                self.sessions.end_all_of(&token_id);
                Err(Failure::unauthorized(
                    "the session's token was revoked or expired",
                ))
            }
        }
    }

    fn limit(&self, grant: &Grant) -> Result<(), Failure> {
        match self.limiter.check(&grant.id, Instant::now()) {
            Verdict::Allow => Ok(()),
            Verdict::Deny { .. } => {
                let per_minute = self.config.token_rate_per_minute.max(1);
                Err(Failure::rate_limited(
                    format!("over {per_minute} requests a minute for this token"),
                    u64::from(60u32.div_ceil(per_minute)),
                ))
            }
        }
    }

    /// `GET /session`: who is signed in (and the CSRF token the page sends back);
    /// `POST /session` `{"token": ...}`: sign in; `DELETE /session`: sign out.
    async fn session(&self, req: Request<Incoming>, ip: IpAddr) -> Answer {
        let method = req.method().clone();
        let result = match method {
            Method::GET => self
                .visitor(req.headers(), ip)
                .and_then(|v| match v.csrf.clone() {
                    Some(csrf) => Ok(json(StatusCode::OK, &signed_in(&v.grant, &csrf))),
                    None => Err(Failure::unauthorized("not signed in")),
                }),
            Method::POST => self.sign_in(req, ip).await,
            Method::DELETE => self.sign_out(req, ip),
            _ => return not_allowed("GET, POST, DELETE"),
        };
        result.unwrap_or_else(|f| self.refused(f, ip, &method, "/session", None))
    }

    async fn sign_in(&self, req: Request<Incoming>, ip: IpAddr) -> Result<Answer, Failure> {
        same_origin(req.headers())?;
        let (_, body) = self.body(req).await?;
        #[derive(serde::Deserialize)]
        struct SignIn {
            token: String,
        }
        let sign_in: SignIn = serde_json::from_slice(&body)
            .map_err(|_| Failure::new(api::Code::BadRequest, "send {\"token\": \"...\"}"))?;
        let grant = self
            .ops
            .ctx
            .tokens
            .verify(sign_in.token.trim())
            .ok_or_else(|| Failure::unauthorized("no valid token"))?;
        self.limit(&grant)?;
        let value = hex(&random::<32>().map_err(|e| Failure::internal(e.message))?);
        let csrf = hex(&random::<32>().map_err(|e| Failure::internal(e.message))?);
        let now = Instant::now();
        {
            let mut map = self.sessions.map.lock().unwrap();
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.began).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
            map.insert(
                digest(&value),
                Session {
                    token_id: grant.id.clone(),
                    csrf: csrf.clone(),
                    began: now,
                    expires: now + self.config.session_timeout,
                },
            );
        }
        let who = visitor(grant, ip, None);
        self.ops.ctx.record(
            Event::new(
                EventKind::Remote,
                format!("{} signed in to the dashboard", who.grant.user),
            )
            .by(&who.who.actor),
        );
        let mut answer = json(StatusCode::OK, &signed_in(&who.grant, &csrf));
        let cookie = format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.config.session_timeout.as_secs(),
            if self.config.secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            answer.headers_mut().insert(header::SET_COOKIE, v);
        }
        Ok(answer)
    }

    fn sign_out(&self, req: Request<Incoming>, ip: IpAddr) -> Result<Answer, Failure> {
        same_origin(req.headers())?;
        let visitor = self.visitor(req.headers(), ip)?;
        let (Some(key), Some(csrf)) = (session_cookie(req.headers()), &visitor.csrf) else {
            return Err(Failure::new(api::Code::BadRequest, "not signed in"));
        };
        csrf_sent(req.headers(), csrf).map_err(|f| f.by(&visitor))?;
        self.sessions.map.lock().unwrap().remove(&key);
        self.ops.ctx.record(
            Event::new(
                EventKind::Remote,
                format!("{} signed out of the dashboard", visitor.grant.user),
            )
            .by(&visitor.who.actor),
        );
        let mut answer = json(StatusCode::OK, &serde_json::json!({"signed_in": false}));
        let clear = format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.config.secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&clear) {
            answer.headers_mut().insert(header::SET_COOKIE, v);
        }
        Ok(answer)
    }

    /// `GET /metrics`: off unless `metrics`; an admin token unless `metrics_open` (which the
    /// configuration allows on a loopback listener only).
    fn metrics(&self, req: &Request<Incoming>, ip: IpAddr, method: &Method) -> Answer {
        if !self.config.metrics {
            return not_found();
        }
        if *method != Method::GET {
            return not_allowed("GET");
        }
        if !self.config.metrics_open {
            let checked = self.visitor(req.headers(), ip).and_then(|v| {
                self.limit(&v.grant)?;
                match v.who.caller {
                    Caller::Admin => Ok(()),
                    Caller::Owner(_) => {
                        Err(Failure::forbidden("/metrics needs an admin token").by(&v))
                    }
                }
            });
            if let Err(f) = checked {
                return self.refused(f, ip, method, "/metrics", None);
            }
        }
        let mut answer = text(StatusCode::OK, super::metrics::render(&self.ops));
        answer.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        );
        answer
    }

    /// The JSON error answer, and an event for every refusal (never with the token).
    pub(super) fn refused(
        &self,
        failure: Failure,
        ip: IpAddr,
        method: &Method,
        path: &str,
        visitor: Option<&Visitor>,
    ) -> Answer {
        if failure.code.is_refusal() {
            let mut event = Event::new(
                EventKind::RemoteRefused,
                format!(
                    "refused http {ip}: {method} {}: {}",
                    printable(path, 200),
                    failure.message
                ),
            );
            if let Some(actor) = visitor.map(|v| &v.who.actor).or(failure.actor.as_ref()) {
                event = event.by(actor);
            }
            self.ops.ctx.record(event);
        }
        failure.answer()
    }
}

fn visitor(grant: Grant, ip: IpAddr, csrf: Option<String>) -> Visitor {
    let caller = if grant.admin {
        Caller::Admin
    } else {
        Caller::Owner(grant.user.clone())
    };
    let actor = Actor::Token {
        id: grant.id.clone(),
        user: grant.user.clone(),
        from: ip,
    };
    Visitor {
        grant,
        who: Who { caller, actor },
        csrf,
    }
}

#[derive(Serialize)]
struct SignedIn<'a> {
    signed_in: bool,
    user: &'a str,
    admin: bool,
    read_only: bool,
    csrf: &'a str,
}

fn signed_in<'a>(grant: &'a Grant, csrf: &'a str) -> SignedIn<'a> {
    SignedIn {
        signed_in: true,
        user: &grant.user,
        admin: grant.admin,
        read_only: grant.read_only,
        csrf,
    }
}

/// The session cookie's key (the SHA-256 of its value), if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<[u8; 32]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| digest(value))
}

/// A browser names the page a request comes from in Origin: it must be ours (same host).
/// A request without Origin is not from a browser's cross-site page.
fn same_origin(headers: &HeaderMap) -> Result<(), Failure> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(Failure::forbidden("a request from another site's page"))
    }
}

/// The session's CSRF token must come back in its header.
fn csrf_sent(headers: &HeaderMap, csrf: &str) -> Result<(), Failure> {
    let sent = headers
        .get(CSRF_HEADER)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if digest_eq(sent, csrf.as_bytes()) {
        Ok(())
    } else {
        Err(Failure::forbidden(
            "missing or wrong X-CSRF-Token for this session",
        ))
    }
}

/// Compares two secrets in constant time (by their digests, so lengths leak nothing either).
fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (a, b): ([u8; 32], [u8; 32]) = (Sha256::digest(a).into(), Sha256::digest(b).into());
    a.ct_eq(&b).into()
}
