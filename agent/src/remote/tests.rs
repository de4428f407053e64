//! Tests of the remote-control module against a fake agent, real sockets and a fake Bot API.
//! Every wait is bounded so a regression fails the test instead of hanging it.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::github::{Push, parse_push, verify_signature};
use super::http::MAX_CONNECTIONS_PER_SOURCE;
use super::telegram::{Command, cut_message, parse_command};
use super::*;

const SECRET: &str = "webhook-SECRET-value";
const TOKEN: &str = "123456:TOKEN-SECRET-value";

#[derive(Default)]
struct FakeState {
    updates: Vec<String>,
    controls: Vec<(String, String)>,
    offset: Option<i64>,
    deliveries: HashSet<String>,
    reports: Vec<Report>,
}

struct Fake {
    healthy: AtomicBool,
    state: Mutex<FakeState>,
}

impl Fake {
    fn new() -> Arc<Self> {
        Arc::new(Fake {
            healthy: AtomicBool::new(true),
            state: Mutex::new(FakeState::default()),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    fn updates(&self) -> Vec<String> {
        self.with(|s| s.updates.clone())
    }

    fn reports(&self) -> Vec<Report> {
        self.with(|s| s.reports.clone())
    }

    fn refusals(&self) -> Vec<String> {
        self.reports()
            .into_iter()
            .filter_map(|r| match r {
                Report::Refused { why, .. } => Some(why),
                _ => None,
            })
            .collect()
    }

    /// Every report, as the agent would record it, must be free of secrets.
    fn assert_no_secret_reported(&self) {
        for report in self.reports() {
            let shown = format!("{report:?}");
            assert!(!shown.contains(SECRET), "secret in {shown}");
            assert!(!shown.contains(TOKEN), "token in {shown}");
            assert!(!shown.contains("TOKEN-SECRET"), "token in {shown}");
        }
    }
}

impl Control for Fake {
    fn health(&self) -> HealthSummary {
        let healthy = self.healthy.load(Ordering::SeqCst);
        HealthSummary {
            pid: 4242,
            version: "0.1.0".to_string(),
            uptime_secs: 12,
            bots: 3,
            running: if healthy { 3 } else { 2 },
            failed: if healthy { 0 } else { 1 },
            healthy,
        }
    }

    fn bots_for_push(&self, repo: &str, branch: &str) -> Vec<String> {
        match (repo, branch) {
            ("octo/alpha", "main") => vec!["alpha".to_string()],
            ("octo/broken", "main") => vec!["broken".to_string()],
            ("octo/slow", "main") => vec!["slow".to_string()],
            _ => vec![],
        }
    }

    fn update(&self, _by: Actor, bot: String) -> BoxFuture<Result<String, String>> {
        self.with(|s| s.updates.push(bot.clone()));
        Box::pin(async move {
            match bot.as_str() {
                "broken" => Err("git pull --ff-only failed: diverged".to_string()),
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok("slow updated".to_string())
                }
                _ => Ok(format!("{bot} updated to abc123")),
            }
        })
    }

    fn status_text(&self) -> String {
        "agent up 12s, 3 bots, 3 running".to_string()
    }

    fn list_text(&self, owner: Option<String>) -> String {
        format!(
            "bots of {}",
            owner.unwrap_or_else(|| "everyone".to_string())
        )
    }

    fn control(&self, _by: Actor, action: &str, bot: String) -> BoxFuture<String> {
        self.with(|s| s.controls.push((action.to_string(), bot.clone())));
        let action = action.to_string();
        Box::pin(async move { format!("{action} {bot}: done") })
    }

    fn load_offset(&self) -> Option<i64> {
        self.with(|s| s.offset)
    }

    fn save_offset(&self, offset: i64) {
        self.with(|s| s.offset = Some(offset));
    }

    fn first_delivery(&self, delivery_id: &str) -> bool {
        self.with(|s| s.deliveries.insert(delivery_id.to_string()))
    }

    fn report(&self, report: Report) {
        self.with(|s| s.reports.push(report));
    }
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn start_http(fake: &Arc<Fake>, tweak: impl FnOnce(&mut HttpConfig)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = HttpConfig::new(addr, Some(Secret::new(SECRET)));
    tweak(&mut config);
    let control: Arc<dyn Control> = fake.clone();
    tokio::spawn(serve_http(config, control, None, listener));
    addr
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn push_body(repo: &str, git_ref: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref,
        "deleted": false,
        "repository": { "full_name": repo, "name": "x" },
        "head_commit": { "id": "abc123" },
    }))
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn post_github(
    addr: SocketAddr,
    event: &str,
    delivery: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> (u16, String) {
    let mut request = client()
        .post(format!("http://{addr}/github"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header("Content-Type", "application/json");
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Sends raw bytes and returns everything the server answers before closing.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("server did not close the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn github_documented_test_vector_verifies() {
    let secret = Secret::new("It's a Secret to Everybody");
    let good = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(
        verify_signature(&secret, Some(good), b"Hello, World!"),
        Ok(())
    );
    assert_eq!(
        sign("It's a Secret to Everybody", b"Hello, World!"),
        std::str::from_utf8(good).unwrap()
    );
    assert!(verify_signature(&secret, Some(good), b"Hello, World?").is_err());
    assert!(verify_signature(&Secret::new("other"), Some(good), b"Hello, World!").is_err());
    assert!(verify_signature(&secret, None, b"Hello, World!").is_err());
    assert!(verify_signature(&secret, Some(b"sha1=757107ea"), b"Hello, World!").is_err());
    assert!(verify_signature(&secret, Some(b"sha256=zz"), b"Hello, World!").is_err());
    assert!(verify_signature(&secret, Some(&good[..good.len() - 2]), b"Hello, World!").is_err());
}

#[test]
fn push_payloads_are_parsed_and_non_branches_ignored() {
    assert_eq!(
        parse_push(&push_body("octo/alpha", "refs/heads/feature/x")),
        Ok(Push::Branch {
            repo: "octo/alpha".to_string(),
            branch: "feature/x".to_string()
        })
    );
    assert!(matches!(
        parse_push(&push_body("octo/alpha", "refs/tags/v1")),
        Ok(Push::Ignored { .. })
    ));
    let deleted = serde_json::to_vec(&json!({
        "ref": "refs/heads/main", "deleted": true, "repository": { "full_name": "octo/alpha" }
    }))
    .unwrap();
    assert!(matches!(parse_push(&deleted), Ok(Push::Ignored { .. })));
    assert!(parse_push(b"{}").is_err());
    assert!(parse_push(&push_body("noslash", "refs/heads/main")).is_err());
}

#[test]
fn secrets_stay_out_of_debug_and_display() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let http = HttpConfig::new(addr, Some(Secret::new(SECRET)));
    let telegram = TelegramCommandsConfig::new(Secret::new(TOKEN), vec![1]);
    for shown in [
        format!("{http:?}"),
        format!("{telegram:?}"),
        format!("{}", Secret::new(TOKEN)),
        format!("{:?}", Secret::new(TOKEN)),
    ] {
        assert!(
            !shown.contains(SECRET) && !shown.contains("TOKEN-SECRET"),
            "{shown}"
        );
    }
    assert_eq!(
        Secret::new(TOKEN).scrub(&format!("GET /bot{TOKEN}/getUpdates")),
        "GET /bot***/getUpdates"
    );
}

#[test]
fn rate_limiter_refills_and_throttles_its_reports() {
    let limiter = RateLimiter::<u8>::new(2, 8);
    let t0 = Instant::now();
    assert_eq!(limiter.check(&1, t0), Verdict::Allow);
    assert_eq!(limiter.check(&1, t0), Verdict::Allow);
    assert_eq!(limiter.check(&1, t0), Verdict::Deny { report: true });
    assert_eq!(limiter.check(&1, t0), Verdict::Deny { report: false });
    // Another source has its own bucket.
    assert_eq!(limiter.check(&2, t0), Verdict::Allow);
    // Two a minute: one token back after 30 s.
    assert_eq!(
        limiter.check(&1, t0 + Duration::from_secs(31)),
        Verdict::Allow
    );
    assert_eq!(
        limiter.check(&1, t0 + Duration::from_secs(31)),
        Verdict::Deny { report: false }
    );
    assert_eq!(
        limiter.check(&1, t0 + Duration::from_secs(61)),
        Verdict::Allow
    );
}

#[test]
fn rate_limiter_table_is_bounded() {
    let limiter = RateLimiter::<u32>::new(1, 2);
    let t0 = Instant::now();
    assert_eq!(limiter.check(&1, t0), Verdict::Allow);
    assert_eq!(limiter.check(&2, t0), Verdict::Allow);
    // Both buckets are empty, so neither can be forgotten: a third source is refused.
    assert_eq!(limiter.check(&3, t0), Verdict::Deny { report: true });
    assert_eq!(limiter.check(&4, t0), Verdict::Deny { report: false });
    // Once refilled, idle buckets are dropped to make room.
    assert_eq!(
        limiter.check(&3, t0 + Duration::from_secs(61)),
        Verdict::Allow
    );
}

#[test]
fn commands_are_parsed() {
    assert_eq!(parse_command("/status"), Command::Status);
    assert_eq!(parse_command("/status@AdminBot"), Command::Status);
    assert_eq!(parse_command("/listbots"), Command::ListBots(None));
    assert_eq!(
        parse_command("/listbots alice"),
        Command::ListBots(Some("alice".to_string()))
    );
    assert_eq!(
        parse_command("/restart@AdminBot  alpha "),
        Command::Control("restart", "alpha".to_string())
    );
    assert_eq!(
        parse_command("/stop a"),
        Command::Control("stop", "a".to_string())
    );
    assert_eq!(
        parse_command("/start a"),
        Command::Control("start", "a".to_string())
    );
    assert_eq!(parse_command("/update a"), Command::Update("a".to_string()));
    assert_eq!(parse_command("/start"), Command::Usage("usage: /start BOT"));
    assert_eq!(
        parse_command("/update a b"),
        Command::Usage("usage: /update BOT")
    );
    assert_eq!(parse_command("/help"), Command::Help);
    assert_eq!(
        parse_command("/frobnicate x"),
        Command::Unknown("frobnicate".to_string())
    );
}

#[test]
fn long_answers_are_cut_with_a_note() {
    assert_eq!(cut_message("short"), "short");
    assert_eq!(cut_message("  "), "(empty answer)");
    let long = "é".repeat(5000);
    let cut = cut_message(&long);
    assert!(cut.encode_utf16().count() <= 4096);
    assert!(cut.ends_with("(cut: too long for one message)"));
    // Characters outside the BMP count twice towards Telegram's limit.
    let emoji = "🤖".repeat(3000);
    assert!(cut_message(&emoji).encode_utf16().count() <= 4096);
}

#[tokio::test]
async fn health_is_200_when_healthy_and_503_otherwise() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200);
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["healthy"], true);
    assert_eq!(summary["pid"], 4242);
    assert_eq!(summary["bots"], 3);
    fake.healthy.store(false, Ordering::SeqCst);
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 503);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["failed"], 1);
}

#[tokio::test]
async fn signed_push_is_accepted_and_updates_the_matching_bot() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = push_body("octo/alpha", "refs/heads/main");
    let signature = sign(SECRET, &body);
    let (status, answer) = post_github(addr, "push", "d-1", body, Some(signature)).await;
    assert_eq!(status, 202, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["updating"], json!(["alpha"]));
    wait_until("the update", || fake.updates() == ["alpha"]).await;
    assert!(fake.reports().iter().any(
        |r| matches!(r, Report::Accepted { what, .. } if what.contains("octo/alpha@main") && what.contains("alpha"))
    ));
    fake.assert_no_secret_reported();
}

#[tokio::test]
async fn push_for_no_bot_and_tag_push_update_nothing() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = push_body("octo/unknown", "refs/heads/main");
    let (status, answer) =
        post_github(addr, "push", "d-1", body.clone(), Some(sign(SECRET, &body))).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["updating"],
        json!([])
    );
    let body = push_body("octo/alpha", "refs/tags/v1.0");
    let (status, answer) =
        post_github(addr, "push", "d-2", body.clone(), Some(sign(SECRET, &body))).await;
    assert_eq!(status, 200);
    assert!(answer.starts_with("ignored"), "{answer}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(fake.updates().is_empty());
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_updates_nothing() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = push_body("octo/alpha", "refs/heads/main");
    let wrong = sign("not the secret", &body);
    let (status, _) = post_github(addr, "push", "d-1", body.clone(), Some(wrong)).await;
    assert_eq!(status, 401);
    let (status, _) = post_github(addr, "push", "d-2", body.clone(), None).await;
    assert_eq!(status, 401);
    let tampered = push_body("octo/alpha", "refs/heads/evil");
    let (status, _) = post_github(addr, "push", "d-3", tampered, Some(sign(SECRET, &body))).await;
    assert_eq!(status, 401);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(fake.updates().is_empty());
    let refusals = fake.refusals();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(refusals[0].contains("bad signature"));
    assert!(refusals[1].contains("missing"));
    // The delivery ids of refused requests were not consumed.
    assert!(fake.with(|s| s.deliveries.is_empty()));
    fake.assert_no_secret_reported();
}

#[tokio::test]
async fn ping_is_answered_and_other_events_ignored() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#.to_vec();
    let (status, answer) =
        post_github(addr, "ping", "d-1", body.clone(), Some(sign(SECRET, &body))).await;
    assert_eq!((status, answer.as_str()), (200, "pong\n"));
    let (status, answer) = post_github(
        addr,
        "issues",
        "d-2",
        body.clone(),
        Some(sign(SECRET, &body)),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer.contains("ignored"));
    assert!(fake.updates().is_empty());
}

#[tokio::test]
async fn duplicate_delivery_is_ignored() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = push_body("octo/alpha", "refs/heads/main");
    let signature = sign(SECRET, &body);
    let (status, _) = post_github(
        addr,
        "push",
        "same-id",
        body.clone(),
        Some(signature.clone()),
    )
    .await;
    assert_eq!(status, 202);
    let (status, answer) = post_github(addr, "push", "same-id", body, Some(signature)).await;
    assert_eq!(
        (status, answer.as_str()),
        (200, "duplicate delivery ignored\n")
    );
    wait_until("the update", || !fake.updates().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.updates(), ["alpha"]);
}

#[tokio::test]
async fn pushes_during_an_update_coalesce_into_one_more_run() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = push_body("octo/slow", "refs/heads/main");
    for id in ["a", "b", "c"] {
        let (status, _) =
            post_github(addr, "push", id, body.clone(), Some(sign(SECRET, &body))).await;
        assert_eq!(status, 202);
    }
    wait_until("the second run", || fake.updates().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(fake.updates(), ["slow", "slow"]);
}

#[tokio::test]
async fn failed_update_is_reported() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let body = push_body("octo/broken", "refs/heads/main");
    let (status, _) =
        post_github(addr, "push", "d-1", body.clone(), Some(sign(SECRET, &body))).await;
    assert_eq!(status, 202);
    wait_until("the failure report", || {
        fake.reports().iter().any(|r| {
            matches!(r, Report::UpdateFailed { bot, why } if bot == "broken" && why.contains("diverged"))
        })
    })
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    // Announced: refused on the headers alone, without sending the body.
    let answer = raw(
        addr,
        format!(
            "POST /github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Length: {}\r\n\r\n",
            1024 * 1024 + 1
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Chunked: refused once the cap is crossed while reading.
    let mut request =
        b"POST /github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..17 {
        request.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        request.extend(std::iter::repeat_n(b'x', 64 * 1024));
        request.extend_from_slice(b"\r\n");
    }
    let answer = raw(addr, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(fake.refusals().len(), 2);
    assert!(fake.updates().is_empty());
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let fake = Fake::new();
    let addr = start_http(&fake, |c| c.read_timeout = Duration::from_millis(200)).await;
    // Body announced but never finished.
    let started = Instant::now();
    let answer = raw(
        addr,
        b"POST /github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ref\":",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Headers never finished: the connection is closed.
    let answer = raw(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        fake.refusals()
            .iter()
            .any(|why| why.contains("not received"))
    );
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline() {
    let fake = Fake::new();
    let addr = start_http(&fake, |c| c.read_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    // A byte every 50 ms never lets the connection sit idle: only a deadline for the whole
    // head ends it.
    let mut cut = None;
    for byte in b"GET /health HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" {
        if stream.write_all(&[*byte]).await.is_err() {
            cut = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await
        {
            cut = Some(started.elapsed());
            break;
        }
    }
    let cut = cut.expect("the trickling client was never cut off");
    assert!(cut < Duration::from_secs(1), "cut off after {cut:?}");
}

#[tokio::test]
async fn one_source_holds_at_most_its_share_of_connections() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS_PER_SOURCE + 3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /hea").await.unwrap();
        held.push(s);
    }
    // The ones over the share are closed at once, without an answer.
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 64];
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            assert!(
                !matches!(read, Ok(n) if n > 0),
                "no answer to half a request"
            );
            closed += 1;
        }
    }
    assert_eq!(closed, 3);
    let refusals = fake.refusals();
    assert_eq!(refusals.len(), 1, "one report for the source: {refusals:?}");
    drop(held);
    // Once they are gone, the source is served again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = client().get(format!("http://{addr}/health")).send().await;
        if answer.is_ok_and(|a| a.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the source is never served again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn rate_limit_answers_429_and_reports_once() {
    let fake = Fake::new();
    let addr = start_http(&fake, |c| c.rate_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(get(addr, "/health").await.0, 200);
    }
    assert_eq!(get(addr, "/health").await.0, 429);
    let body = push_body("octo/alpha", "refs/heads/main");
    let (status, _) =
        post_github(addr, "push", "d-1", body.clone(), Some(sign(SECRET, &body))).await;
    assert_eq!(status, 429);
    let refusals = fake.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].contains("rate limited"));
    assert!(
        matches!(&fake.reports()[0], Report::Refused { source, .. } if source == "http 127.0.0.1")
    );
    assert!(fake.updates().is_empty());
}

#[tokio::test]
async fn unknown_paths_wrong_methods_and_disabled_webhook() {
    let fake = Fake::new();
    let addr = start_http(&fake, |_| {}).await;
    assert_eq!(get(addr, "/nope").await.0, 404);
    assert_eq!(get(addr, "/github").await.0, 405);
    let response = client()
        .post(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    let disabled = start_http(&fake, |c| c.github_secret = None).await;
    let body = push_body("octo/alpha", "refs/heads/main");
    let (status, _) = post_github(
        disabled,
        "push",
        "d-1",
        body.clone(),
        Some(sign(SECRET, &body)),
    )
    .await;
    assert_eq!(status, 404);
    assert!(fake.updates().is_empty());
}

/// A stand-in for the Bot API that keeps updates until an offset confirms them, like Telegram.
struct FakeApi {
    updates: Vec<Value>,
    offsets: Mutex<Vec<Option<i64>>>,
    sent: Mutex<Vec<Value>>,
    /// Answer every call with a server error (to watch the back-off).
    broken: bool,
}

impl FakeApi {
    fn new(updates: Vec<Value>, broken: bool) -> Arc<Self> {
        Arc::new(FakeApi {
            updates,
            offsets: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
            broken,
        })
    }

    fn polls(&self) -> usize {
        self.offsets.lock().unwrap().len()
    }

    fn sent(&self) -> Vec<Value> {
        self.sent.lock().unwrap().clone()
    }

    fn answer(&self, path: &str, request: Value) -> (u16, Value) {
        if self.broken {
            self.offsets.lock().unwrap().push(None);
            return (
                500,
                json!({"ok": false, "description": "Internal Server Error"}),
            );
        }
        let prefix = format!("/bot{TOKEN}/");
        let Some(method) = path.strip_prefix(&prefix) else {
            return (
                404,
                json!({"ok": false, "error_code": 404, "description": "Not Found"}),
            );
        };
        match method {
            "getUpdates" => {
                let offset = request["offset"].as_i64();
                self.offsets.lock().unwrap().push(offset);
                let pending: Vec<Value> = self
                    .updates
                    .iter()
                    .filter(|u| offset.is_none_or(|o| u["update_id"].as_i64().unwrap() >= o))
                    .cloned()
                    .collect();
                (200, json!({"ok": true, "result": pending}))
            }
            "sendMessage" => {
                self.sent.lock().unwrap().push(request);
                (200, json!({"ok": true, "result": {"message_id": 1}}))
            }
            _ => (404, json!({"ok": false, "description": "Not Found"})),
        }
    }
}

async fn start_fake_api(api: Arc<FakeApi>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let api = api.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let api = api.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let request = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let (status, answer) = api.answer(&path, request);
                    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
                    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    format!("http://{addr}")
}

fn message(update_id: i64, user: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id * 10,
            "date": 1_700_000_000,
            "chat": { "id": chat, "type": "private" },
            "from": { "id": user, "is_bot": false, "first_name": "x" },
            "text": text,
        }
    })
}

fn telegram_config(api_base: String) -> TelegramCommandsConfig {
    let mut config = TelegramCommandsConfig::new(Secret::new(TOKEN), vec![42]);
    config.api_base = api_base;
    config.poll_timeout = Duration::from_secs(1);
    config
}

const ADMIN: i64 = 42;
const ADMIN_CHAT: i64 = 4200;
const STRANGER: i64 = 666;

#[tokio::test]
async fn admin_commands_run_once_and_strangers_get_nothing() {
    let api = FakeApi::new(
        vec![
            message(10, ADMIN, ADMIN_CHAT, "/restart@AdminBot alpha"),
            message(11, STRANGER, 6660, "/stop alpha"),
            json!({"update_id": 12, "edited_message": {"weird": true}}),
            message(13, ADMIN, ADMIN_CHAT, "just chatting"),
            message(14, ADMIN, ADMIN_CHAT, "/status"),
        ],
        false,
    );
    let base = start_fake_api(api.clone()).await;
    let fake = Fake::new();
    let control: Arc<dyn Control> = fake.clone();
    let poller = tokio::spawn(poll_telegram(
        telegram_config(base.clone()),
        control,
        client(),
    ));
    wait_until("both answers and the saved offset", || {
        api.sent().len() == 2 && fake.with(|s| s.offset) == Some(15)
    })
    .await;
    // Give a wrongly repeated command the chance to show up before stopping.
    wait_until("another poll", || api.polls() >= 3).await;
    poller.abort();

    assert_eq!(
        fake.with(|s| s.controls.clone()),
        [("restart".to_string(), "alpha".to_string())]
    );
    let sent = api.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|m| m["chat_id"] == ADMIN_CHAT));
    assert_eq!(sent[0]["text"], "restart alpha: done");
    assert_eq!(sent[1]["text"], "agent up 12s, 3 bots, 3 running");
    let offsets = api.offsets.lock().unwrap().clone();
    assert_eq!(offsets[0], None);
    assert!(offsets[1..].iter().all(|o| *o == Some(15)), "{offsets:?}");
    assert!(fake.reports().contains(&Report::Refused {
        source: format!("telegram user {STRANGER}"),
        why: "not an admin".to_string(),
    }));
    fake.assert_no_secret_reported();

    // A restarted poller starts from the saved offset: the fake Bot API would replay
    // everything to a poller that did not, so nothing here may run again.
    let polls_before = api.polls();
    let control: Arc<dyn Control> = fake.clone();
    let second = tokio::spawn(poll_telegram(telegram_config(base), control, client()));
    wait_until("the second poller", || api.polls() > polls_before).await;
    second.abort();
    assert_eq!(api.offsets.lock().unwrap()[polls_before], Some(15));
    assert_eq!(fake.with(|s| s.controls.len()), 1);
    assert_eq!(api.sent().len(), 2);
}

#[tokio::test]
async fn poll_errors_back_off_are_reported_once_and_hide_the_token() {
    // A Bot API failing every call.
    let api = FakeApi::new(vec![], true);
    let base = start_fake_api(api.clone()).await;
    let fake = Fake::new();
    let control: Arc<dyn Control> = fake.clone();
    let poller = tokio::spawn(poll_telegram(telegram_config(base), control, client()));
    wait_until("the first poll", || api.polls() >= 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    poller.abort();
    // Attempts at 0 s, 1 s and 3 s: no spinning.
    assert!(api.polls() <= 3, "{} polls in 2.5 s", api.polls());
    let reports = fake.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(matches!(&reports[0], Report::Unavailable { why, .. } if why.contains("500")));

    // Nothing listening: the network error must not carry the URL (and so the token).
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let fake = Fake::new();
    let control: Arc<dyn Control> = fake.clone();
    let poller = tokio::spawn(poll_telegram(
        telegram_config(format!("http://127.0.0.1:{port}")),
        control,
        client(),
    ));
    wait_until("the failure report", || !fake.reports().is_empty()).await;
    poller.abort();
    fake.assert_no_secret_reported();
    assert!(
        matches!(&fake.reports()[0], Report::Unavailable { what, .. } if what.contains("getUpdates"))
    );
}
