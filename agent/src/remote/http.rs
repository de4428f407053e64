//! HTTP(S) listener: `GET /health`, signed GitHub push webhooks on `POST /github`, and the
//! owners' door (API, dashboard, metrics). Every request is rate-limited per source address
//! and bounded in size and time.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::door::Door;
use super::github::{Push, parse_push, verify_signature};
use super::{Control, RateLimiter, Report, Secret, Verdict, printable};
use crate::events::Actor;

/// Connections served at once; beyond that the listener stops accepting and the kernel
/// backlog absorbs the rest, so a connection flood cannot exhaust file descriptors.
const MAX_CONNECTIONS: usize = 64;
/// Connections one source (address, or IPv6 /64) may hold at once: the global cap is no use
/// if one slow or silent client can take every slot. Legitimate callers (GitHub, a monitor)
/// use one or two at a time.
pub(super) const MAX_CONNECTIONS_PER_SOURCE: usize = 8;
/// Distinct sources the rate limiter remembers; see [`RateLimiter::check`].
const MAX_SOURCES: usize = 4096;
/// Webhook and health headers are small; anything larger is not a legitimate caller.
const MAX_HEADER_BYTES: usize = 16 * 1024;
const MAX_DELIVERY_ID: usize = 128;

/// Settings of the HTTP listener.
///
/// `github_secret: None` disables `POST /github`: it then answers 404 like any unknown path,
/// so a scanner cannot tell a disabled endpoint from a missing one.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub github_secret: Option<Secret>,
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// Requests allowed per minute and source address (IPv6 sources are grouped by /64).
    pub rate_per_minute: u32,
    /// Time allowed for the request headers, and again for the body.
    pub read_timeout: Duration,
    /// HTTPS: the certificate and key, read when the listener was set up.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl HttpConfig {
    /// The recommended limits: 1 MiB bodies, 60 requests a minute, 10 s to send each part.
    pub fn new(listen: SocketAddr, github_secret: Option<Secret>) -> Self {
        HttpConfig {
            listen,
            github_secret,
            max_body: 1024 * 1024,
            rate_per_minute: 60,
            read_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

struct State {
    config: HttpConfig,
    control: Arc<dyn Control>,
    /// The API, dashboard and metrics; None: those paths answer 404.
    door: Option<Arc<Door>>,
    limiter: RateLimiter<IpAddr>,
    updates: Arc<Updates>,
    /// Open connections per source.
    open: Mutex<HashMap<IpAddr, usize>>,
    /// One refusal report a minute per source: a flood of connections is one event, not one
    /// per connection.
    refusal_reports: RateLimiter<IpAddr>,
}

/// A source's share of the open connections, given back when the connection ends.
struct SourceSlot {
    state: Arc<State>,
    source: IpAddr,
}

impl SourceSlot {
    /// `None` when the source already holds its share.
    fn take(state: &Arc<State>, source: IpAddr) -> Option<SourceSlot> {
        let mut open = state.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(source).or_insert(0);
        if *count >= MAX_CONNECTIONS_PER_SOURCE {
            return None;
        }
        *count += 1;
        Some(SourceSlot {
            state: state.clone(),
            source,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self.state.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.source);
            }
        }
    }
}

/// Serves `/health` and `/github` on `listener` until the returned future is dropped
/// (abort its task to stop). Only fatal listener errors end it; `config.listen` is not used
/// here, the caller binds it, which lets tests bind port 0.
///
/// The source of a request is the TCP peer address: `X-Forwarded-For` is ignored because
/// anyone can forge it, so behind a reverse proxy all requests share one rate-limit bucket.
pub async fn serve_http(
    config: HttpConfig,
    control: Arc<dyn Control>,
    door: Option<Arc<Door>>,
    listener: TcpListener,
) -> io::Result<()> {
    let tls = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let state = Arc::new(State {
        door,
        limiter: RateLimiter::new(config.rate_per_minute, MAX_SOURCES),
        updates: Arc::new(Updates {
            control: control.clone(),
            inflight: Mutex::new(HashMap::new()),
        }),
        config,
        control,
        open: Mutex::new(HashMap::new()),
        refusal_reports: RateLimiter::new(1, MAX_SOURCES),
    });
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            unreachable!("the semaphore is never closed");
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => match e.raw_os_error() {
                // EBADF, EINVAL, ENOTSOCK: the listener itself is unusable; retrying would spin.
                Some(9 | 22 | 88) => return Err(e),
                // EMFILE, ENFILE, ENOBUFS, ENOMEM: wait for resources instead of spinning.
                Some(23 | 24 | 105 | 12) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // Errors of the one aborted connection (ECONNABORTED, EPROTO...).
                _ => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let source = source_key(peer.ip());
        let Some(slot) = SourceSlot::take(&state, source) else {
            // Closed at once, which frees the global slot for everyone else.
            drop(stream);
            if let Verdict::Allow = state.refusal_reports.check(&source, Instant::now()) {
                state.control.report(Report::Refused {
                    source: format!("http {}", peer.ip()),
                    why: format!(
                        "over {MAX_CONNECTIONS_PER_SOURCE} connections at once from one source; \
                         further ones closed (reported at most once a minute)"
                    ),
                });
            }
            continue;
        };
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(state, stream, peer).await,
                Some(tls) => {
                    // A client that never finishes its handshake must not hold the slot.
                    let timeout = state.config.read_timeout;
                    if let Ok(Ok(stream)) = tokio::time::timeout(timeout, tls.accept(stream)).await
                    {
                        serve_connection(state, stream, peer).await;
                    }
                }
            }
            drop(slot);
            drop(permit);
        });
    }
}

async fn serve_connection<S>(state: Arc<State>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let read_timeout = state.config.read_timeout;
    // Headers and body each get read_timeout; the margin covers writing a small answer.
    // Without an overall deadline a client that never reads the answer could pin a slot.
    let deadline = read_timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(5));
    let ip = peer.ip();
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&state, ip, req).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        // One request per connection: an idle keep-alive connection would otherwise hold a
        // slot with no timeout, and webhook senders reconnect anyway.
        .keep_alive(false)
        .max_buf_size(64 * 1024)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(64);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    // Errors here are the client's (malformed request, disconnect, header timeout) and
    // hyper already answered or closed; they are not worth an event each.
    let _ = tokio::time::timeout(deadline, connection).await;
}

/// Rate-limit key: IPv6 hosts usually own a whole /64, so one address each would let a
/// single host rotate past the limit.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

pub(super) type Answer = Response<Full<Bytes>>;

async fn handle(state: &State, ip: IpAddr, req: Request<Incoming>) -> Answer {
    let source = format!("http {ip}");
    if let Verdict::Deny { report } = state.limiter.check(&source_key(ip), Instant::now()) {
        if report {
            state.control.report(Report::Refused {
                source,
                why: format!(
                    "rate limited (over {} requests a minute; further refusals in the next minute not reported)",
                    state.config.rate_per_minute
                ),
            });
        }
        let path = req.uri().path();
        if state.door.is_some() && (path.starts_with("/api/") || path == "/session") {
            // The API's callers read JSON errors.
            let per_minute = state.config.rate_per_minute.max(1);
            return super::api::Failure::rate_limited(
                format!("over {per_minute} requests a minute from this address"),
                u64::from(60u32.div_ceil(per_minute)),
            )
            .answer();
        }
        let mut answer = text(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return answer;
    }
    let method = req.method().clone();
    match req.uri().path() {
        "/health" if method == Method::GET => health(state),
        "/health" => not_allowed("GET"),
        "/github" => match &state.config.github_secret {
            None => not_found(),
            Some(_) if method != Method::POST => not_allowed("POST"),
            Some(secret) => github(state, secret, source, req).await,
        },
        _ => match &state.door {
            Some(door) => door.serve(req, ip).await,
            None => not_found(),
        },
    }
}

/// Why a body was not read.
pub(super) enum BodyError {
    TooLarge,
    Unreadable,
    TooSlow,
}

/// Reads a request body of at most `max` bytes within `timeout`; an announced oversize body is
/// refused before any of it is read.
pub(super) async fn read_body(
    req: Request<Incoming>,
    max: usize,
    timeout: Duration,
) -> Result<(hyper::http::request::Parts, Bytes), BodyError> {
    if content_length(req.headers()).is_some_and(|length| length > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let (parts, body) = req.into_parts();
    // Chunked bodies announce no length, so the cap is enforced while reading too.
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Unreadable),
        Err(_) => Err(BodyError::TooSlow),
    }
}

fn health(state: &State) -> Answer {
    let summary = state.control.health();
    let status = if summary.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &summary)
}

async fn github(state: &State, secret: &Secret, source: String, req: Request<Incoming>) -> Answer {
    let refuse = |status: StatusCode, why: String| {
        let answer = text(status, format!("{why}\n"));
        state.control.report(Report::Refused {
            source: source.clone(),
            why,
        });
        answer
    };
    let max_body = state.config.max_body;
    let (parts, body) = match read_body(req, max_body, state.config.read_timeout).await {
        Ok(read) => read,
        Err(BodyError::TooLarge) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("webhook body over the {max_body} byte limit"),
            );
        }
        Err(BodyError::Unreadable) => {
            return text(StatusCode::BAD_REQUEST, "could not read the body\n");
        }
        Err(BodyError::TooSlow) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "webhook body not received within {}",
                    botctl_proto::human::duration(state.config.read_timeout)
                ),
            );
        }
    };
    let signature = parts
        .headers
        .get("x-hub-signature-256")
        .map(HeaderValue::as_bytes);
    if let Err(e) = verify_signature(secret, signature, &body) {
        return refuse(StatusCode::UNAUTHORIZED, e.as_str().to_string());
    }
    // From here on the sender knows the secret, so it is GitHub (or the owner).
    let event = header_text(&parts.headers, "x-github-event").unwrap_or_default();
    match event.as_str() {
        "ping" => text(StatusCode::OK, "pong\n"),
        "push" => push(state, &parts.headers, &body, refuse),
        other => text(
            StatusCode::OK,
            format!("ignored event {}\n", printable(other, 64)),
        ),
    }
}

fn push(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
    refuse: impl Fn(StatusCode, String) -> Answer,
) -> Answer {
    let delivery = match header_text(headers, "x-github-delivery") {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_DELIVERY_ID
                && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            id
        }
        // Without a usable id a redelivery could not be recognised, so it is not acted on.
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "push without a valid X-GitHub-Delivery id".to_string(),
            );
        }
    };
    let (repo, branch) = match parse_push(body) {
        Ok(Push::Branch { repo, branch }) => (repo, branch),
        Ok(Push::Ignored { why }) => {
            return text(
                StatusCode::OK,
                format!("ignored: {}\n", printable(&why, 200)),
            );
        }
        Err(why) => return refuse(StatusCode::BAD_REQUEST, printable(&why, 200)),
    };
    // Checked only once the push is known to be actionable, so ignored events do not
    // fill the agent's delivery store.
    if !state.control.first_delivery(&delivery) {
        return text(StatusCode::OK, "duplicate delivery ignored\n");
    }
    let bots = state.control.bots_for_push(&repo, &branch);
    let target = format!("{}@{}", printable(&repo, 100), printable(&branch, 100));
    state.control.report(Report::Accepted {
        what: format!(
            "github push to {target} (delivery {delivery}): {}",
            if bots.is_empty() {
                "no bot follows it".to_string()
            } else {
                format!("updating {}", bots.join(", "))
            }
        ),
        by: Some(Actor::GitHub(delivery.clone())),
        bots: bots.clone(),
    });
    for bot in &bots {
        state
            .updates
            .start(bot.clone(), Actor::GitHub(delivery.clone()));
    }
    #[derive(Serialize)]
    struct Accepted<'a> {
        repo: &'a str,
        branch: &'a str,
        updating: &'a [String],
    }
    let status = if bots.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    json(
        status,
        &Accepted {
            repo: &repo,
            branch: &branch,
            updating: &bots,
        },
    )
}

/// Runs webhook-triggered updates in the background, at most one per bot at a time.
///
/// A push arriving while that bot is updating schedules exactly one more run afterwards,
/// so a burst of pushes costs at most two updates and the last push is never missed.
struct Updates {
    control: Arc<dyn Control>,
    /// Bots being updated, and who requested another run meanwhile (the latest delivery).
    inflight: Mutex<HashMap<String, Option<Actor>>>,
}

impl Updates {
    fn start(self: &Arc<Self>, bot: String, by: Actor) {
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(again) = inflight.get_mut(&bot) {
                *again = Some(by);
                return;
            }
            inflight.insert(bot.clone(), None);
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut by = by;
            loop {
                // A separate task, so a panicking update is reported and does not leave the
                // bot marked in flight forever.
                let why = match tokio::spawn(this.control.update(by.clone(), bot.clone())).await {
                    Ok(Ok(_)) => None,
                    Ok(Err(why)) => Some(why),
                    Err(_) => Some("update task panicked".to_string()),
                };
                if let Some(why) = why {
                    this.control.report(Report::UpdateFailed {
                        bot: bot.clone(),
                        why,
                    });
                }
                let mut inflight = this.inflight.lock().unwrap_or_else(|e| e.into_inner());
                match inflight.get_mut(&bot).and_then(Option::take) {
                    Some(next) => by = next,
                    None => {
                        inflight.remove(&bot);
                        break;
                    }
                }
            }
        });
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    Some(headers.get(name)?.to_str().ok()?.trim().to_string())
}

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body.into())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Answer {
    let Ok(body) = serde_json::to_vec(value) else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "serialization failed\n");
    };
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

pub(super) fn not_found() -> Answer {
    text(StatusCode::NOT_FOUND, "not found\n")
}

pub(super) fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    answer
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    answer
}
