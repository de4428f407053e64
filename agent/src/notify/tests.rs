//! End-to-end tests of `Notifier` against real HTTP servers on 127.0.0.1 that answer however a
//! test scripts them and record every request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::timeout;

use super::*;
use crate::events::{Cause, Event, EventKind};
use channel::Channel;

const TOKEN: &str = "123456:SECRET-token-XYZ";
const HOOK_SECRET: &str = "hook-SECRET-hunter2";
const HOOK_PATH: &str = "/hooks/T0/PATHSECRET";
/// Bounds every wait for something that should happen promptly.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Request {
    at: Instant,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }

    fn text(&self) -> String {
        self.json()["text"].as_str().expect("text").to_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with the n-th request (counting from 0).
#[derive(Clone)]
enum Answer {
    Reply(u16, String),
    /// Holds the connection open without answering.
    Hang,
}

type Script = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

struct Server {
    addr: SocketAddr,
    requests: UnboundedReceiver<Request>,
}

impl Server {
    async fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::unbounded_channel();
        let script: Script = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, script.clone(), count.clone(), tx.clone()));
            }
        });
        Server { addr, requests }
    }

    async fn always_ok() -> Server {
        Server::start(|_| telegram_ok()).await
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn next(&mut self) -> Request {
        timeout(PATIENCE, self.requests.recv())
            .await
            .expect("no request in time")
            .expect("server gone")
    }

    /// Waiting is the point here: proving that nothing (more) arrives.
    async fn assert_quiet(&mut self, window: Duration) {
        if let Ok(Some(request)) = timeout(window, self.requests.recv()).await {
            panic!("unexpected request: {request:?}");
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    script: Script,
    count: Arc<AtomicUsize>,
    requests: UnboundedSender<Request>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let request = Request {
        at: Instant::now(),
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let answer = script(count.fetch_add(1, Ordering::SeqCst));
    let _ = requests.send(request);
    match answer {
        Answer::Hang => std::future::pending::<()>().await,
        Answer::Reply(status, body) => {
            // Telegram's own retry_after (in the body) must win over this header.
            let extra = if status == 429 {
                "Retry-After: 0\r\n"
            } else {
                ""
            };
            let response = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n{extra}\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

fn telegram_ok() -> Answer {
    Answer::Reply(200, r#"{"ok":true,"result":{"message_id":1}}"#.to_owned())
}

fn telegram_error(code: u16, description: &str) -> Answer {
    let body = serde_json::json!({"ok": false, "error_code": code, "description": description});
    Answer::Reply(code, body.to_string())
}

fn fast() -> DispatchConfig {
    DispatchConfig {
        repeat_after: Duration::from_millis(300),
        burst_window: Duration::from_millis(50),
        per_chat_interval: Duration::from_millis(10),
        max_attempts: 3,
        backoff_initial: Duration::from_millis(10),
        request_timeout: Duration::from_secs(2),
        queue_capacity: 1000,
    }
}

fn telegram(server: &Server, chats: &[i64]) -> TelegramConfig {
    let mut config = TelegramConfig::new(Secret::new(TOKEN), chats.to_vec());
    config.api_base = server.url();
    config
}

fn webhook(server: &Server) -> WebhookConfig {
    let mut config = WebhookConfig::new(format!("{}{HOOK_PATH}", server.url()));
    config.secret = Some(Secret::new(HOOK_SECRET));
    config
}

fn start(
    telegram: Option<TelegramConfig>,
    webhook: Option<WebhookConfig>,
    dispatch: DispatchConfig,
) -> (Notifier, UnboundedReceiver<Report>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = crate::http_client::builder().build().unwrap();
    let mut channels = Vec::new();
    channels.extend(telegram.and_then(|c| super::telegram::channel(c, &client, &dispatch)));
    channels.extend(webhook.and_then(|c| super::webhook::channel(c, &client, &dispatch)));
    (Notifier::start(channels, dispatch, tx), rx)
}

/// The next report for which `keep` holds; others are skipped.
async fn report(reports: &mut UnboundedReceiver<Report>, keep: impl Fn(&Report) -> bool) -> Report {
    timeout(PATIENCE, async {
        loop {
            let report = reports.recv().await.expect("notifier gone");
            if keep(&report) {
                return report;
            }
        }
    })
    .await
    .expect("no such report in time")
}

async fn outcome(reports: &mut UnboundedReceiver<Report>) -> Report {
    report(reports, |r| !matches!(r, Report::Suppressed { .. })).await
}

fn failed(bot: &str) -> Alert {
    Alert::new(
        Level::Critical,
        EventKind::Failed,
        format!("bot {bot} failed: gave up"),
    )
    .with_bot(bot)
}

fn recovered(bot: &str) -> Alert {
    Alert::new(
        Level::Info,
        EventKind::Recovered,
        format!("bot {bot} recovered"),
    )
    .with_bot(bot)
}

#[tokio::test]
async fn one_alert_reaches_telegram() {
    let mut server = Server::always_ok().await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    notifier.notify(failed("a"));

    let request = server.next().await;
    assert_eq!(request.path, format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let json = request.json();
    assert_eq!(json["chat_id"], 42);
    assert_eq!(json["text"], "🔴 bot a failed: gave up");
    assert_eq!(json["disable_web_page_preview"], true);
    assert_eq!(
        outcome(&mut reports).await,
        Report::Delivered {
            channel: "telegram:42".into(),
            alerts: 1
        }
    );
}

#[tokio::test]
async fn every_chat_gets_the_message() {
    let mut server = Server::always_ok().await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[1, -100200])), None, fast());
    notifier.notify(failed("a"));

    let mut chats = vec![server.next().await.json()["chat_id"].clone()];
    chats.push(server.next().await.json()["chat_id"].clone());
    chats.sort_by_key(|c| c.as_i64());
    assert_eq!(chats, [-100200, 1]);
    for _ in 0..2 {
        assert!(matches!(
            outcome(&mut reports).await,
            Report::Delivered { .. }
        ));
    }
}

#[tokio::test]
async fn channels_only_get_alerts_at_their_level() {
    let mut server = Server::always_ok().await;
    let mut config = telegram(&server, &[42]);
    config.min_level = Level::Warning;
    let (notifier, _reports) = start(Some(config), None, fast());
    notifier.notify(recovered("a"));
    notifier.notify(failed("b"));

    assert_eq!(server.next().await.text(), "🔴 bot b failed: gave up");
    notifier.notify(recovered("c"));
    server.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn repeats_are_suppressed_within_repeat_after_only() {
    let mut server = Server::always_ok().await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    notifier.notify(failed("a"));
    notifier.notify(failed("a"));
    notifier.notify(failed("b"));

    assert_eq!(
        report(&mut reports, |r| matches!(r, Report::Suppressed { .. })).await,
        Report::Suppressed {
            kind: EventKind::Failed.into(),
            bot: Some("a".into())
        }
    );
    let text = server.next().await.text();
    assert_eq!(text, "🔴 2 bots failed and were given up on: a, b");
    server.assert_quiet(Duration::from_millis(100)).await;

    // The delay is the behaviour under test: after repeat_after the same alert goes out again.
    tokio::time::sleep(fast().repeat_after).await;
    notifier.notify(failed("a"));
    assert_eq!(server.next().await.text(), "🔴 bot a failed: gave up");
}

#[tokio::test]
async fn summaries_and_tests_are_never_suppressed() {
    let mut server = Server::always_ok().await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    notifier.notify(summary("day 1".into()));
    notifier.notify(summary("day 2".into()));

    assert_eq!(
        server.next().await.text(),
        "ℹ️ 2 summary alerts:\n• day 1\n• day 2"
    );
    assert_eq!(
        outcome(&mut reports).await,
        Report::Delivered {
            channel: "telegram:42".into(),
            alerts: 2
        }
    );
}

#[tokio::test]
async fn a_burst_becomes_one_message() {
    let mut server = Server::always_ok().await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    let bots = ["a", "b", "c", "d", "e", "f", "g"];
    for bot in bots {
        notifier.notify(recovered(bot));
    }

    assert_eq!(
        server.next().await.text(),
        "ℹ️ 7 bots recovered: a, b, c, d, e, f, g"
    );
    assert_eq!(
        outcome(&mut reports).await,
        Report::Delivered {
            channel: "telegram:42".into(),
            alerts: 7
        }
    );
    server.assert_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_full_queue_sheds_the_oldest_and_says_so() {
    let mut server = Server::always_ok().await;
    let mut config = fast();
    config.queue_capacity = 3;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, config);
    // The current-thread runtime cannot run the dispatcher until this test yields.
    for bot in ["a", "b", "c", "d", "e"] {
        notifier.notify(recovered(bot));
    }

    assert_eq!(
        outcome(&mut reports).await,
        Report::Dropped {
            channel: "queue".into(),
            reason: "too many alerts waiting: dropped the oldest".into(),
            alerts: 2
        }
    );
    assert_eq!(server.next().await.text(), "ℹ️ 3 bots recovered: c, d, e");
}

#[tokio::test]
async fn a_429_is_waited_out_then_retried() {
    let mut server = Server::start(|n| match n {
        0 => Answer::Reply(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#
                .into(),
        ),
        _ => telegram_ok(),
    })
    .await;
    let mut config = fast();
    // The 429 alone must not make this give up.
    config.max_attempts = 1;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, config);
    notifier.notify(failed("a"));

    let first = server.next().await;
    let second = server.next().await;
    assert_eq!(first.body, second.body);
    let gap = second.at - first.at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert!(matches!(
        outcome(&mut reports).await,
        Report::Delivered { .. }
    ));
}

#[tokio::test]
async fn long_text_is_split_into_messages_within_the_limit() {
    let mut server = Server::always_ok().await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    let lines: Vec<String> = (0..500)
        .map(|i| format!("line {i:04} {}", "·".repeat(10)))
        .collect();
    let message = lines.join("\n"); // 500 × 20 chars
    notifier.notify(summary(message.clone()));

    let mut texts = Vec::new();
    while texts
        .iter()
        .map(|t: &String| t.chars().count())
        .sum::<usize>()
        < message.chars().count()
    {
        texts.push(server.next().await.text());
    }
    assert_eq!(texts.len(), 3);
    assert!(texts.iter().all(|t| t.chars().count() <= 4096));
    assert_eq!(texts.join("\n"), format!("ℹ️ {message}"));
    assert!(matches!(
        outcome(&mut reports).await,
        Report::Delivered { .. }
    ));
}

#[tokio::test]
async fn a_chat_gets_at_most_one_message_per_interval() {
    let mut server = Server::always_ok().await;
    let mut config = fast();
    config.per_chat_interval = Duration::from_secs(1);
    let (notifier, _reports) = start(Some(telegram(&server, &[42])), None, config);
    for (i, bot) in ["a", "b", "c"].into_iter().enumerate() {
        if i > 0 {
            // Spaced beyond burst_window so they stay separate messages: the delay is the point.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        notifier.notify(failed(bot));
    }

    let mut times = Vec::new();
    for bot in ["a", "b", "c"] {
        let request = server.next().await;
        assert_eq!(request.text(), format!("🔴 bot {bot} failed: gave up"));
        times.push(request.at);
    }
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(900), "gap {gap:?}");
    }
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let mut server = Server::start(|n| match n {
        0 => telegram_error(502, "Bad Gateway"),
        _ => telegram_ok(),
    })
    .await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    notifier.notify(failed("a"));

    let first = server.next().await;
    assert_eq!(server.next().await.body, first.body);
    assert_eq!(
        outcome(&mut reports).await,
        Report::Delivered {
            channel: "telegram:42".into(),
            alerts: 1
        }
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let mut server = Server::start(|_| telegram_error(400, "Bad Request: chat not found")).await;
    let (notifier, mut reports) = start(Some(telegram(&server, &[42])), None, fast());
    notifier.notify(failed("a"));

    server.next().await;
    assert_eq!(
        outcome(&mut reports).await,
        Report::Dropped {
            channel: "telegram:42".into(),
            reason: "HTTP 400: Bad Request: chat not found".into(),
            alerts: 1
        }
    );
    server.assert_quiet(Duration::from_millis(100)).await;
}

async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn a_dead_endpoint_is_dropped_after_max_attempts() {
    let mut config = TelegramConfig::new(Secret::new(TOKEN), vec![42]);
    config.api_base = closed_port().await;
    let (notifier, mut reports) = start(Some(config), None, fast());
    notifier.notify(failed("a"));

    match outcome(&mut reports).await {
        Report::Dropped {
            channel,
            reason,
            alerts,
        } => {
            assert_eq!((channel.as_str(), alerts), ("telegram:42", 1));
            assert!(reason.contains("gave up after 3 attempts"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The channel is still alive for the next alert.
    notifier.notify(failed("b"));
    assert!(matches!(
        outcome(&mut reports).await,
        Report::Dropped { .. }
    ));
}

#[tokio::test]
async fn webhook_gets_json_and_the_secret_header() {
    let mut server = Server::start(|n| match n {
        0 => Answer::Reply(503, String::new()),
        _ => Answer::Reply(204, String::new()),
    })
    .await;
    let (notifier, mut reports) = start(None, Some(webhook(&server)), fast());
    notifier.notify(failed("a").with_owner("ann"));

    let first = server.next().await;
    let request = server.next().await;
    assert_eq!(first.body, request.body);
    assert_eq!(request.path, HOOK_PATH);
    assert_eq!(request.header("x-botctl-secret"), Some(HOOK_SECRET));
    let json = request.json();
    assert_eq!(json["level"], "critical");
    assert_eq!(json["kind"], "failed");
    assert_eq!(json["bot"], "a");
    assert_eq!(json["owner"], "ann");
    assert_eq!(json["message"], "bot a failed: gave up");
    assert_eq!(json["alerts"][0]["bot"], "a");
    assert_eq!(
        outcome(&mut reports).await,
        Report::Delivered {
            channel: "webhook".into(),
            alerts: 1
        }
    );
}

#[tokio::test]
async fn webhook_gets_a_merged_burst_with_its_alerts() {
    let mut server = Server::start(|_| Answer::Reply(200, String::new())).await;
    let mut config = webhook(&server);
    config.secret = None;
    let (notifier, _reports) = start(None, Some(config), fast());
    for bot in ["a", "b", "c"] {
        notifier.notify(recovered(bot));
    }

    let request = server.next().await;
    assert_eq!(request.header("x-botctl-secret"), None);
    let json = request.json();
    assert_eq!(json["kind"], "recovered");
    assert_eq!(json["bot"], Value::Null);
    assert_eq!(json["message"], "3 bots recovered: a, b, c");
    assert_eq!(json["alerts"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn test_sends_now_and_names_the_channels() {
    let mut telegram_server = Server::always_ok().await;
    let mut webhook_server = Server::start(|_| Answer::Reply(200, "{}".into())).await;
    let (notifier, _reports) = start(
        Some(telegram(&telegram_server, &[1, 2])),
        Some(webhook(&webhook_server)),
        fast(),
    );

    for _ in 0..2 {
        let outcome = notifier.test("hello".into(), PATIENCE).await;
        assert_eq!(
            outcome.as_deref(),
            Ok("sent to telegram (2 chats), webhook")
        );
        for _ in 0..2 {
            assert_eq!(telegram_server.next().await.text(), "ℹ️ hello");
        }
        let hook = webhook_server.next().await.json();
        assert_eq!(
            (&hook["kind"], &hook["message"]),
            (&"test".into(), &"hello".into())
        );
    }
}

#[tokio::test]
async fn test_reports_failures_and_timeouts() {
    let telegram_server = Server::start(|_| telegram_error(401, "Unauthorized")).await;
    let webhook_server = Server::start(|_| Answer::Hang).await;
    let (notifier, _reports) = start(
        Some(telegram(&telegram_server, &[1])),
        Some(webhook(&webhook_server)),
        fast(),
    );
    let error = notifier
        .test("hello".into(), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        "telegram chat 1: HTTP 401: Unauthorized; webhook: no answer within 0.5s"
    );

    let disabled = Notifier::disabled();
    disabled.notify(failed("a"));
    assert!(disabled.test("x".into(), PATIENCE).await.is_err());
    assert!(!Notifier::start(Vec::new(), fast(), mpsc::unbounded_channel().0).is_enabled());
}

/// Every way a delivery can fail, with its report, `test()` error and Debug output searched
/// for the token, the webhook secret and the webhook URL's path.
#[tokio::test]
async fn secrets_never_leak() {
    let echo = format!("Unauthorized: token {TOKEN} is not valid");
    let servers = [
        Server::start(move |_| telegram_error(401, &echo)).await,
        Server::start(|_| Answer::Reply(500, "oops".into())).await,
        Server::start(|_| {
            let body = r#"{"ok":false,"error_code":429,"parameters":{"retry_after":3600}}"#;
            Answer::Reply(429, body.into())
        })
        .await,
        Server::start(|_| Answer::Reply(200, "<html>not telegram</html>".into())).await,
        Server::start(|_| Answer::Reply(302, String::new())).await,
        Server::start(|_| Answer::Hang).await,
    ];
    let mut bases: Vec<String> = servers.iter().map(Server::url).collect();
    bases.push(closed_port().await);
    bases.push("not a url".into());

    let mut seen = Vec::new();
    let mut config = fast();
    config.request_timeout = Duration::from_millis(300);
    for base in &bases {
        let mut tg = TelegramConfig::new(Secret::new(TOKEN), vec![7]);
        tg.api_base = base.clone();
        let mut wh = WebhookConfig::new(format!("{base}{HOOK_PATH}"));
        wh.secret = Some(Secret::new(HOOK_SECRET));
        seen.push(format!("{tg:?} {wh:?} {config:?}"));
        let (notifier, mut reports) = start(Some(tg), Some(wh), config.clone());
        seen.push(format!("{notifier:?}"));
        notifier.notify(failed("a"));
        for _ in 0..2 {
            seen.push(format!("{:?}", outcome(&mut reports).await));
        }
        seen.push(format!("{:?}", notifier.test("t".into(), PATIENCE).await));
    }

    let all = seen.join("\n");
    for secret in [TOKEN, HOOK_SECRET, HOOK_PATH, "SECRET"] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
    // The failures are still explained.
    assert!(all.contains("HTTP 401"), "{all}");
    assert!(all.contains("HTTP 500"), "{all}");
    assert!(all.contains("timed out"), "{all}");
    assert!(all.contains("asked to wait 1h"), "{all}");
    assert!(
        all.contains("rate limited by Telegram for another"),
        "{all}"
    );
    assert!(all.contains("Connection refused"), "{all}");
}

#[test]
fn secret_debug_is_redacted() {
    let secret = Secret::new(TOKEN);
    assert_eq!(format!("{secret:?}"), "<redacted>");
    assert_eq!(secret.expose(), TOKEN);
}

/// A channel that records the text it is given and always delivers: for tests of what is
/// sent, not how.
struct Recorder {
    sent: UnboundedSender<String>,
}

const ONE: &[channel::Destination] = &[channel::Destination(None)];

impl Channel for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn min_level(&self) -> Level {
        Level::Info
    }

    fn destinations(&self) -> &[channel::Destination] {
        ONE
    }

    fn messages(&self, alerts: &[Alert]) -> Result<Vec<String>, String> {
        Ok(vec![dispatch::render(alerts, false)])
    }

    fn attempt<'a>(
        &'a self,
        _to: usize,
        message: &'a str,
    ) -> futures::future::BoxFuture<'a, retry::Attempt> {
        let _ = self.sent.send(message.to_owned());
        Box::pin(async { retry::Attempt::Delivered })
    }
}

/// Alerts wired to a notifier whose only channel is a `Recorder`; long `repeat_after`, so
/// anything sent twice was let through on purpose.
fn recorded_alerts(stable_after: Duration) -> (Alerts, UnboundedReceiver<String>) {
    let alerts = Alerts::default();
    let sent = record(&alerts);
    alerts.set_stable_after(stable_after);
    (alerts, sent)
}

/// Sets `alerts`' notifier: one `Recorder` channel.
fn record(alerts: &Alerts) -> UnboundedReceiver<String> {
    let (tx, sent) = mpsc::unbounded_channel();
    let mut config = fast();
    config.repeat_after = Duration::from_secs(3600);
    let channel: Arc<dyn Channel> = Arc::new(Recorder { sent: tx });
    alerts.set(Notifier::start(
        vec![channel],
        config,
        mpsc::unbounded_channel().0,
    ));
    sent
}

/// A bot that fails while the fleet loads, before the agent has its notifier: its alert, and
/// whatever else happened meanwhile, is sent in order once there is one.
#[tokio::test]
async fn what_happened_before_the_notifier_existed_is_sent_once_it_does() {
    let alerts = Alerts::default();
    alerts.on_event(&event("a", EventKind::Failed, "too many restarts"));
    alerts.on_event(&event(
        "b",
        EventKind::AuthInvalid,
        "session invalid: expired",
    ));
    alerts.on_event(&event(
        "b",
        EventKind::AuthValid,
        "session valid again: valid",
    ));
    let mut sent = record(&alerts);
    let first = next_text(&mut sent).await;
    assert!(first.contains("a: too many restarts"), "{first}");
    assert!(first.contains("b: session invalid: expired"), "{first}");
    let mut all = first;
    if let Ok(Some(more)) = timeout(Duration::from_millis(300), sent.recv()).await {
        all.push_str(&more);
    }
    assert!(all.contains("b: session valid again"), "{all}");
    assert_nothing_sent(&mut sent, Duration::from_millis(200)).await;
}

fn event(bot: &str, kind: EventKind, message: &str) -> Event {
    Event::new(kind, message).of(bot, "ann")
}

async fn next_text(sent: &mut UnboundedReceiver<String>) -> String {
    timeout(PATIENCE, sent.recv())
        .await
        .expect("no message in time")
        .expect("notifier gone")
}

/// Waiting is the point: proving that nothing (more) is sent.
async fn assert_nothing_sent(sent: &mut UnboundedReceiver<String>, window: Duration) {
    if let Ok(Some(text)) = timeout(window, sent.recv()).await {
        panic!("unexpected message: {text}");
    }
}

#[test]
fn dedup_holds_a_repeat_only_while_its_condition_lasts() {
    let t0 = tokio::time::Instant::now();
    let minute = Duration::from_secs(60);
    let mut dedup = dispatch::Dedup::new(30 * minute);
    let invalid = Alert::new(Level::Critical, EventKind::AuthInvalid, "no file").with_bot("a");
    assert!(dedup.admit(&invalid, t0));
    // The same incident, 81 s later: held back.
    assert!(!dedup.admit(&invalid, t0 + Duration::from_secs(81)));
    // Another bot, or another kind, is another incident.
    assert!(dedup.admit(&invalid.clone().with_bot("b"), t0));
    let expiring = Alert::new(Level::Warning, EventKind::AuthExpiring, "soon").with_bot("a");
    assert!(dedup.admit(&expiring, t0));
    // The session became valid: both of a's auth incidents are over, b's is not.
    dedup.clear(&dispatch::Clear {
        bot: Some("a".into()),
        owner: None,
        kinds: &[EventKind::AuthInvalid, EventKind::AuthExpiring],
    });
    assert!(dedup.admit(&invalid, t0 + Duration::from_secs(82)));
    assert!(dedup.admit(&expiring, t0 + Duration::from_secs(82)));
    assert!(!dedup.admit(&invalid.clone().with_bot("b"), t0 + minute));
    // A condition that never clears is repeated after repeat_after as a reminder.
    assert!(dedup.admit(&invalid.clone().with_bot("b"), t0 + 30 * minute));
    // Alerts that always go out leave nothing behind.
    let before = dedup.len();
    assert!(dedup.admit(&summary("s".into()), t0));
    assert!(dedup.admit(&summary("s".into()), t0));
    assert_eq!(dedup.len(), before);
    dedup.expire(t0 + 61 * minute);
    assert_eq!(dedup.len(), 0);
}

#[test]
fn owner_alerts_are_incidents_per_owner() {
    let t0 = tokio::time::Instant::now();
    let mut dedup = dispatch::Dedup::new(Duration::from_secs(1800));
    let over =
        |owner: &str| Alert::new(Level::Warning, EventKind::OverQuota, "over").with_owner(owner);
    assert!(dedup.admit(&over("ann"), t0));
    assert!(dedup.admit(&over("bob"), t0), "bob is not ann's repeat");
    assert!(!dedup.admit(&over("ann"), t0));
    dedup.clear(&dispatch::Clear {
        bot: None,
        owner: Some("ann".into()),
        kinds: &[EventKind::OverQuota],
    });
    assert!(dedup.admit(&over("ann"), t0));
    assert!(!dedup.admit(&over("bob"), t0));
}

#[test]
fn alert_levels_follow_the_readme() {
    let level =
        |kind: EventKind, message: &str| alert_for(&event("a", kind, message)).0.map(|a| a.level);
    assert_eq!(level(EventKind::Failed, "gave up"), Some(Level::Critical));
    assert_eq!(
        level(EventKind::AuthInvalid, "no file"),
        Some(Level::Critical)
    );
    assert_eq!(level(EventKind::UpdateFailed, "x"), Some(Level::Critical));
    for kind in [
        EventKind::LimitRestart,
        EventKind::HealthRestart,
        EventKind::PressureRestart,
        EventKind::AuthExpiring,
    ] {
        assert_eq!(level(kind, "x"), Some(Level::Warning), "{kind}");
    }
    assert_eq!(
        level(EventKind::HostMemory, "host memory 95% > 90%"),
        Some(Level::Warning)
    );
    assert_eq!(
        level(EventKind::HostMemory, "host memory back to 50%"),
        Some(Level::Info)
    );
    assert_eq!(
        level(EventKind::AuthValid, "valid again"),
        Some(Level::Info)
    );
    // A start is never news by itself: recoveries are confirmed later.
    for kind in [
        EventKind::Started,
        EventKind::Restarted,
        EventKind::Exited,
        EventKind::Backoff,
        EventKind::Recovered,
        EventKind::Stopped,
    ] {
        assert_eq!(level(kind, "x"), None, "{kind}");
    }
    // Clearing news always goes out, and ends its condition first.
    let (alert, clears) = alert_for(&event("a", EventKind::AuthValid, "ok"));
    assert_eq!(alert.map(|a| a.repeat), Some(Repeat::Always));
    assert_eq!(clears, [EventKind::AuthInvalid, EventKind::AuthExpiring]);
    assert_eq!(
        alert_for(&event("a", EventKind::HealthRecovered, "ok")),
        (None, &[EventKind::HealthRestart][..])
    );
}

#[tokio::test]
async fn a_session_that_was_valid_in_between_alerts_again() {
    let (alerts, mut sent) = recorded_alerts(Duration::from_secs(3600));
    alerts.on_event(&event(
        "tw",
        EventKind::AuthInvalid,
        "session invalid: no-file",
    ));
    assert_eq!(next_text(&mut sent).await, "tw: session invalid: no-file");
    alerts.on_event(&event(
        "tw",
        EventKind::AuthInvalid,
        "session invalid: no-file",
    ));
    assert_nothing_sent(&mut sent, Duration::from_millis(200)).await;
    alerts.on_event(&event(
        "tw",
        EventKind::AuthValid,
        "session valid again: valid",
    ));
    assert_eq!(next_text(&mut sent).await, "tw: session valid again: valid");
    alerts.on_event(&event(
        "tw",
        EventKind::AuthInvalid,
        "session invalid: expired",
    ));
    assert_eq!(next_text(&mut sent).await, "tw: session invalid: expired");
}

#[tokio::test]
async fn a_crash_loop_is_not_a_recovery_and_a_stable_run_is() {
    let stable = Duration::from_millis(150);
    let (alerts, mut sent) = recorded_alerts(stable);
    // Crashes, restarts, crashes again before stable_after, gives up, retries, crashes.
    alerts.on_event(&event(
        "c",
        EventKind::Exited,
        "exited with code 3 after 5s; restarting now",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Restarted,
        "restarted, pid 2 (restart #1)",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Backoff,
        "exited with code 3 after 10ms; restarting in 1s",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Restarted,
        "restarted, pid 3 (restart #2)",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Failed,
        "exited with code 3; gave up",
    ));
    assert_eq!(next_text(&mut sent).await, "c: exited with code 3; gave up");
    alerts.on_event(&event(
        "c",
        EventKind::Recovered,
        "automatic retry after cool-down",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Restarted,
        "restarted, pid 4 (restart #3)",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Backoff,
        "exited with code 3 after 10ms; restarting in 1s",
    ));
    alerts.on_event(&event(
        "c",
        EventKind::Failed,
        "exited with code 3; gave up",
    ));
    // Still the same incident: neither a recovery nor a second failure.
    assert_nothing_sent(&mut sent, stable * 3).await;

    // Now it stays up for stable_after: that is the recovery, and a later failure is news.
    alerts.on_event(&event(
        "c",
        EventKind::Restarted,
        "restarted, pid 5 (restart #4)",
    ));
    assert_eq!(
        next_text(&mut sent).await,
        "c recovered: running for 150ms since it was given up on (failed) (restarted, pid 5 (restart #4))"
    );
    alerts.on_event(&event(
        "c",
        EventKind::Failed,
        "exited with code 3; gave up",
    ));
    assert_eq!(next_text(&mut sent).await, "c: exited with code 3; gave up");
}

#[tokio::test]
async fn a_limit_restart_is_not_reported_as_a_recovered_crash() {
    let stable = Duration::from_millis(50);
    let (alerts, mut sent) = recorded_alerts(stable);
    alerts.on_event(&event(
        "m",
        EventKind::LimitRestart,
        "memory 612 MiB > 512 MiB for 2 samples",
    ));
    assert_eq!(
        next_text(&mut sent).await,
        "m: memory 612 MiB > 512 MiB for 2 samples"
    );
    alerts.on_event(&event(
        "m",
        EventKind::Restarted,
        "restarted, pid 9 (restart #1)",
    ));
    // A stop before stable_after cancels a pending recovery too.
    alerts.on_event(&event(
        "s",
        EventKind::Exited,
        "exited with signal 9 after 1h; restarting now",
    ));
    alerts.on_event(&event(
        "s",
        EventKind::Restarted,
        "restarted, pid 10 (restart #1)",
    ));
    alerts.on_event(&event("s", EventKind::Stopped, "stopped by user"));
    assert_nothing_sent(&mut sent, stable * 4).await;
}

#[test]
fn a_recovery_says_what_it_recovered_from_at_info() {
    let started = event("c", EventKind::Restarted, "restarted, pid 5 (restart #4)");
    let after_crash = recovery(Down::Crashed, &started, Duration::from_secs(30)).unwrap();
    assert_eq!(after_crash.level, Level::Info);
    assert_eq!(
        after_crash.message,
        "c recovered: running for 30s since it crashed (restarted, pid 5 (restart #4))"
    );
    let after_failed = recovery(Down::GaveUp, &started, Duration::from_secs(30)).unwrap();
    assert_eq!(after_failed.level, Level::Info);
    assert_eq!(
        after_failed.message,
        "c recovered: running for 30s since it was given up on (failed) (restarted, pid 5 (restart #4))"
    );
}

#[tokio::test]
async fn the_quick_exit_after_a_limit_restart_is_not_a_crash_to_recover_from() {
    let stable = Duration::from_millis(50);
    let (alerts, mut sent) = recorded_alerts(stable);
    let limit = |kind| event("m", kind, "x").cause(Some(Cause::Limit));
    alerts.on_event(&limit(EventKind::LimitRestart));
    assert_eq!(next_text(&mut sent).await, "m: x");
    // The killed process had run less than stable_after: the machine backs off, caused by
    // the limit, not by a crash.
    alerts.on_event(&limit(EventKind::Backoff));
    alerts.on_event(&event("m", EventKind::Restarted, "restarted, pid 9"));
    assert_nothing_sent(&mut sent, stable * 4).await;
    // A crash that is still looping is not a recovery either; a failed one that runs is.
    let crash = |kind, text| event("m", kind, text).cause(Some(Cause::Crash));
    alerts.on_event(&crash(EventKind::Exited, "exited; restarting now"));
    alerts.on_event(&event("m", EventKind::Restarted, "restarted, pid 10"));
    alerts.on_event(&crash(EventKind::Failed, "gave up"));
    assert_eq!(next_text(&mut sent).await, "m: gave up");
    assert_nothing_sent(&mut sent, stable * 4).await;
    alerts.on_event(&event(
        "m",
        EventKind::Recovered,
        "automatic retry after cool-down",
    ));
    alerts.on_event(&event("m", EventKind::Restarted, "restarted, pid 11"));
    assert_eq!(
        next_text(&mut sent).await,
        "m recovered: running for 50ms since it was given up on (failed) (restarted, pid 11)"
    );
}

#[test]
fn every_phrase_names_a_kind_that_alerts() {
    for &kind in EventKind::ALL.iter().filter(|k| k.phrase().is_some()) {
        let alerted = kind == EventKind::Recovered
            || alert_for(&event("a", kind, "x")).0.is_some()
            || alert_for(&event("a", kind, "x")).1.contains(&kind);
        assert!(alerted, "{kind} is phrased but never alerted");
    }
}

/// A server asking for an absurd wait (u64::MAX seconds) is refused like a long one: the wait
/// never reaches `Instant` arithmetic unbounded (it panicked the channel's task), and the chat
/// stays on hold.
#[tokio::test]
async fn an_absurd_retry_after_is_refused_without_a_panic() {
    let server = Server::start(|_| {
        let body =
            r#"{"ok":false,"error_code":429,"parameters":{"retry_after":18446744073709551615}}"#;
        Answer::Reply(429, body.into())
    })
    .await;
    let mut tg = TelegramConfig::new(Secret::new(TOKEN), vec![7]);
    tg.api_base = server.url();
    let (notifier, mut reports) = start(Some(tg), None, fast());
    notifier.notify(failed("a"));
    let first = format!("{:?}", outcome(&mut reports).await);
    assert!(
        first.contains("asked to wait 213503982334601d 7h"),
        "{first}"
    );
    // The channel lives on and keeps the chat on hold.
    notifier.notify(failed("b"));
    let second = format!("{:?}", outcome(&mut reports).await);
    assert!(
        second.contains("rate limited by Telegram for another"),
        "{second}"
    );
}
