//! Notifications and remote control as an operator sees them, against stand-ins on 127.0.0.1:
//! a fake Telegram Bot API (records sendMessage, serves getUpdates), signed and forged GitHub
//! deliveries to the agent's HTTP listener, and a real git repository with a bare remote.

use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::*;

const NOTIFY_TOKEN: &str = "111:SECRETnotifytoken";
const ADMIN_TOKEN: &str = "222:SECRETadmintoken";
const GITHUB_SECRET: &str = "SECRETgithubhook";

/// A fake Telegram Bot API: every sendMessage is recorded (with its token and when), and
/// getUpdates hands out the queued updates from the requested offset.
struct FakeTelegram {
    port: u16,
    sent: Arc<Mutex<Vec<(String, Value, Instant)>>>,
    updates: Arc<Mutex<VecDeque<Value>>>,
}

impl FakeTelegram {
    fn start() -> FakeTelegram {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let updates = Arc::new(Mutex::new(VecDeque::new()));
        let (s, u) = (sent.clone(), updates.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (s, u) = (s.clone(), u.clone());
                std::thread::spawn(move || serve(conn, s, u));
            }
        });
        FakeTelegram {
            port,
            sent,
            updates,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Texts sent to `chat` with the notify token.
    fn texts(&self, chat: i64) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body, _)| body["chat_id"] == chat)
            .map(|(_, body, _)| body["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn command(&self, update_id: i64, from: i64, chat: i64, text: &str) {
        self.updates.lock().unwrap().push_back(json!({
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": from, "is_bot": false, "first_name": "x"},
                "chat": {"id": chat, "type": "private"},
                "date": 0,
                "text": text
            }
        }));
    }
}

fn serve(
    conn: TcpStream,
    sent: Arc<Mutex<Vec<(String, Value, Instant)>>>,
    updates: Arc<Mutex<VecDeque<Value>>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let Some((line, body)) = read_http_request(&mut reader) else {
            return;
        };
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let token = path
            .strip_prefix("/bot")
            .and_then(|p| p.split('/').next())
            .unwrap_or("")
            .to_string();
        let answer = if path.ends_with("/sendMessage") {
            sent.lock().unwrap().push((token, body, Instant::now()));
            json!({"ok": true, "result": {"message_id": 1}})
        } else if path.ends_with("/getUpdates") {
            let offset = body["offset"].as_i64().unwrap_or(0);
            let deadline = Instant::now() + Duration::from_millis(300);
            let batch = loop {
                let batch: Vec<Value> = updates
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .cloned()
                    .collect();
                if !batch.is_empty() || Instant::now() >= deadline {
                    break batch;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            json!({"ok": true, "result": batch})
        } else {
            json!({"ok": false, "error_code": 404, "description": "Not Found"})
        };
        let text = answer.to_string();
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
    }
}

fn config(tg: &FakeTelegram, http_port: u16) -> String {
    format!(
        "{FAST}
[agent]
report_interval = \"0s\"
[notify]
repeat_after = \"30m\"
[notify.telegram]
token_file = \"notify.token\"
chat_ids = [111]
api_base = \"{base}\"
[remote.telegram]
token_file = \"admin.token\"
admins = [42]
api_base = \"{base}\"
[remote.http]
listen = \"127.0.0.1:{http_port}\"
secret_file = \"github.secret\"
",
        base = tg.base()
    )
}

fn setup(home: &Home, tg: &FakeTelegram) -> u16 {
    let port = free_port();
    std::fs::write(home.file("notify.token"), format!("{NOTIFY_TOKEN}\n")).unwrap();
    std::fs::write(home.file("admin.token"), ADMIN_TOKEN).unwrap();
    std::fs::write(home.file("github.secret"), GITHUB_SECRET).unwrap();
    home.write_config(&config(tg, port));
    port
}

#[test]
fn alerts_reach_telegram_once_per_problem_and_bursts_merge() {
    let tg = FakeTelegram::start();
    let home = Home::new();
    setup(&home, &tg);
    home.write_bot(
        "crashy",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n[restart]\nmax_restarts = 1\nretry_after = \"1h\"\n",
    );
    for name in ["a1", "a2", "a3"] {
        home.write_bot(name, &sleeper("bob"));
    }
    let out = home.botctl(&["notify", "test", "hello from the test"]).ok();
    assert!(out.stdout.contains("telegram"), "{out:?}");
    wait_for("the agent-started and test messages", WAIT, || {
        let texts = tg.texts(111);
        ensure(
            texts.iter().any(|t| t.contains("hello from the test"))
                && texts
                    .iter()
                    .any(|t| t.contains("agent") && t.contains("started")),
            texts,
        )
    });
    wait_for("a failed alert for crashy", WAIT, || {
        let texts = tg.texts(111);
        ensure(
            texts.iter().any(|t| {
                t.contains("crashy") && t.contains("giving up")
                    || t.contains("crashy") && t.contains("retrying automatically")
            }),
            texts,
        )
    });
    // The same failure again within repeat_after is not repeated.
    home.botctl(&["recover", "crashy"]).ok();
    wait_for("crashy failed again", WAIT, || {
        let bot = home.bot("crashy");
        let failed_events = home
            .events("crashy")
            .iter()
            .filter(|e| e["kind"] == "failed")
            .count();
        ensure(bot["state"] == "failed" && failed_events >= 2, bot)
    });

    // Three bots crash at once after a stable run: one merged "recovered" message.
    let pids: Vec<u32> = ["a1", "a2", "a3"]
        .iter()
        .map(|n| home.running_pid(n))
        .collect();
    for pid in &pids {
        wait_age(*pid, Duration::from_millis(500));
    }
    for pid in &pids {
        kill(*pid, libc::SIGKILL);
    }
    let merged = wait_for("one message naming all three recoveries", WAIT, || {
        let texts = tg.texts(111);
        texts
            .iter()
            .find(|t| t.contains("a1") && t.contains("a2") && t.contains("a3"))
            .cloned()
            .ok_or(texts)
    });
    assert!(merged.contains("3 bots recovered"), "{merged}");
    // Alerts leave in order, so a repeat of crashy's failure would have been sent before the
    // merged recoveries that came after it: the count is final now.
    let texts = tg.texts(111);
    let failed_alerts = texts
        .iter()
        .filter(|t| t.contains("crashy") && t.contains("retrying automatically"))
        .count();
    assert_eq!(failed_alerts, 1, "the repeat was suppressed: {texts:#?}");
    // At most one message per second to the chat.
    let times: Vec<Instant> = tg
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, b, _)| b["chat_id"] == 111)
        .map(|(_, _, t)| *t)
        .collect();
    for pair in times.windows(2) {
        assert!(
            pair[1].duration_since(pair[0]) >= Duration::from_millis(900),
            "messages {:?} apart",
            pair[1].duration_since(pair[0])
        );
    }
    no_secret(&home, &tg);
}

#[test]
fn telegram_commands_obey_admins_only() {
    let tg = FakeTelegram::start();
    let home = Home::new();
    setup(&home, &tg);
    home.write_bot("hello", &sleeper("alice"));
    let pid = home.running_pid("hello");

    tg.command(1, 7, 700, "/stop hello");
    tg.command(2, 42, 4200, "/restart@MyAdminBot hello");
    tg.command(3, 42, 4200, "/status");
    let new = home.new_pid("hello", pid);
    assert_ne!(new, pid);
    wait_for("answers to the admin", WAIT, || {
        let texts = tg.texts(4200);
        ensure(
            texts
                .iter()
                .any(|t| t.contains("hello") && t.contains("restarted"))
                && texts.iter().any(|t| t.contains("bots:")),
            texts,
        )
    });
    assert!(tg.texts(700).is_empty(), "a stranger gets no answer");
    assert_eq!(
        home.bot("hello")["state"],
        "running",
        "the stranger's /stop was ignored"
    );
    let events = home.json(&["events", "--json", "-n", "1000"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "remote-refused" && e["message"].as_str().unwrap().contains('7')),
        "{events:#}"
    );
    // A restarted agent does not run the same commands again.
    let restarts_before = home.bot("hello")["restarts"].clone();
    home.botctl(&["agent", "restart"]).ok();
    tg.command(4, 42, 4200, "/listbots");
    wait_for("the answer to /listbots", WAIT, || {
        let texts = tg.texts(4200);
        ensure(texts.iter().any(|t| t.contains("hello (alice)")), texts)
    });
    assert_eq!(
        home.bot("hello")["restarts"],
        restarts_before,
        "no command ran twice"
    );
    no_secret(&home, &tg);
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare remote, bot `web` of alice running from its clone (with `[update]` following
/// `main`), and a developer's clone that pushes: the directory holding them and the
/// developer's clone.
fn git_bot(home: &Home) -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::Builder::new()
        .prefix("bg")
        .tempdir_in("/tmp")
        .unwrap();
    let remote_dir = work.path().join("web.git");
    let dev = work.path().join("dev");
    std::fs::create_dir_all(&remote_dir).unwrap();
    git(&remote_dir, &["init", "--bare", "-q"]);
    git(
        work.path(),
        &["clone", "-q", remote_dir.to_str().unwrap(), "dev"],
    );
    std::fs::write(dev.join("bot.sh"), "echo v1; exec sleep 1000\n").unwrap();
    git(&dev, &["add", "."]);
    git(&dev, &["commit", "-qm", "v1"]);
    git(&dev, &["push", "-q", "origin", "HEAD:main"]);
    std::fs::create_dir_all(home.file("bots/alice")).unwrap();
    git(
        &home.file("bots/alice"),
        &["clone", "-q", remote_dir.to_str().unwrap(), "web"],
    );
    home.write_bot(
        "web",
        "user = \"alice\"\ncommand = [\"sh\", \"bot.sh\"]\n[update]\nrepo = \"alice/web\"\nbranch = \"main\"\n",
    );
    (work, dev)
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// POSTs to the agent's listener; returns the status code.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, answer)
}

#[test]
fn a_signed_push_updates_and_restarts_the_bot() {
    let tg = FakeTelegram::start();
    let home = Home::new();
    let port = setup(&home, &tg);
    let (_work, dev) = git_bot(&home);
    home.botctl(&["reload"]).ok();
    let first = home.running_pid("web");

    wait_for("the listener answers /health", WAIT, || {
        let (code, body) = get_or_refused(port);
        ensure(
            code == 200 && body.contains("\"healthy\":true"),
            (code, body),
        )
    });

    std::fs::write(dev.join("bot.sh"), "echo v2; exec sleep 1000\n").unwrap();
    git(&dev, &["commit", "-qam", "v2"]);
    git(&dev, &["push", "-q", "origin", "HEAD:main"]);
    let payload = json!({
        "ref": "refs/heads/main",
        "repository": {"full_name": "alice/web"},
        "after": "x"
    })
    .to_string();
    let body = payload.as_bytes();

    // A forged signature changes nothing.
    let forged = post(
        port,
        "/github",
        &[
            ("x-github-event", "push"),
            ("x-github-delivery", "d-forged"),
            (
                "x-hub-signature-256",
                "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ],
        body,
    );
    assert_eq!(forged, 401);
    assert_eq!(home.running_pid("web"), first);

    let sig = sign(body);
    assert_eq!(
        post(
            port,
            "/github",
            &[
                ("x-github-event", "ping"),
                ("x-github-delivery", "d-ping"),
                ("x-hub-signature-256", &sign(b"{}"))
            ],
            b"{}"
        ),
        200
    );
    let code = post(
        port,
        "/github",
        &[
            ("x-github-event", "push"),
            ("x-github-delivery", "d-1"),
            ("x-hub-signature-256", &sig),
        ],
        body,
    );
    assert_eq!(code, 202);
    let second = home.new_pid("web", first);
    assert!(
        std::fs::read_to_string(home.file("bots/alice/web/bot.sh"))
            .unwrap()
            .contains("v2"),
        "the bot's directory has the pushed code"
    );
    wait_for("v2 in the bot's output", WAIT, || {
        let log = std::fs::read_to_string(home.file("logs/web.out")).unwrap_or_default();
        ensure(log.contains("v2"), log)
    });
    let k = kinds(&home.events("web"));
    assert!(k.contains(&"update-applied".to_string()), "{k:?}");

    // The same delivery again is ignored.
    let again = post(
        port,
        "/github",
        &[
            ("x-github-event", "push"),
            ("x-github-delivery", "d-1"),
            ("x-hub-signature-256", &sig),
        ],
        body,
    );
    // The answer is given after the duplicate is recognised, so nothing was started.
    assert_eq!(again, 200);
    assert_eq!(
        home.running_pid("web"),
        second,
        "a redelivery does not restart"
    );

    // A pull that cannot fast-forward leaves the old code running and says so.
    std::fs::write(home.file("bots/alice/web/local.txt"), "local").unwrap();
    git(&home.file("bots/alice/web"), &["add", "."]);
    git(
        &home.file("bots/alice/web"),
        &["commit", "-qm", "local change"],
    );
    std::fs::write(dev.join("bot.sh"), "echo v3; exec sleep 1000\n").unwrap();
    git(&dev, &["commit", "-qam", "v3"]);
    git(&dev, &["push", "-q", "origin", "HEAD:main"]);
    home.botctl(&["update", "web"])
        .code(1)
        .says(&["git pull --ff-only failed"]);
    assert_eq!(home.running_pid("web"), second);
    let k = kinds(&home.events("web"));
    assert!(k.contains(&"update-failed".to_string()), "{k:?}");
    wait_for("an alert about the failed update", WAIT, || {
        let texts = tg.texts(111);
        ensure(
            texts
                .iter()
                .any(|t| t.contains("web") && t.contains("old code")),
            texts,
        )
    });
    no_secret(&home, &tg);
}

pub(crate) fn get_or_refused(port: u16) -> (u16, String) {
    match TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => get(port, "/health"),
        Err(e) => (0, e.to_string()),
    }
}

/// No token or secret in anything botctl says or logs, nor sent to Telegram as text.
fn no_secret(home: &Home, tg: &FakeTelegram) {
    let mut seen = String::new();
    for args in [
        vec!["status", "--json"],
        vec!["events", "--json", "-n", "1000"],
        vec!["events", "-n", "1000"],
    ] {
        seen.push_str(&home.botctl(&args).all());
    }
    seen.push_str(&std::fs::read_to_string(home.file("logs/agent.log")).unwrap_or_default());
    for (_, body, _) in tg.sent.lock().unwrap().iter() {
        seen.push_str(&body.to_string());
    }
    assert!(
        !seen.contains("SECRET"),
        "a secret leaked: {}",
        &seen[seen.find("SECRET").unwrap().saturating_sub(200)..]
    );
}

/// Issue 16 item 11: a missing cookie file is alerted; the session becomes valid; when it
/// expires a minute later that is a new incident, alerted although within `repeat_after`.
#[test]
fn a_session_that_was_valid_in_between_is_alerted_again() {
    let tg = FakeTelegram::start();
    let home = Home::new();
    setup(&home, &tg);
    auth_bot(&home, "tw", "");
    let session_alerts = |what: &str| -> Vec<String> {
        tg.texts(111)
            .into_iter()
            .filter(|t| t.contains("tw: session") && t.contains(what))
            .collect()
    };
    home.botctl(&["status"]).ok();
    wait_for("an alert for the missing cookie file", WAIT, || {
        let alerts = session_alerts("invalid");
        ensure(alerts.len() == 1, alerts)
    });
    assert!(
        session_alerts("invalid")[0].contains("no-file"),
        "{:?}",
        tg.texts(111)
    );

    cookie_file(&home, "tw", &netscape("SECRETauth1", "SECRETct01", FAR));
    wait_for("the valid-again alert", WAIT, || {
        let alerts = session_alerts("valid again");
        ensure(alerts.len() == 1, tg.texts(111))
    });

    cookie_file(&home, "tw", &netscape("SECRETauth2", "SECRETct02", PAST));
    let alerts = wait_for("a second invalid alert", WAIT, || {
        let alerts = session_alerts("invalid");
        ensure(alerts.len() == 2, alerts.clone()).map(|_| alerts)
    });
    assert!(alerts[1].contains("expired"), "{alerts:?}");
    no_secret(&home, &tg);
}

#[test]
fn a_failed_update_says_what_git_said() {
    let home = Home::new();
    home.write_config(FAST);
    let (_work, dev) = git_bot(&home);
    let pid = home.running_pid("web");
    // A local edit of a file the pull would change: git refuses and explains why over
    // several lines, the last of which is only "Aborting".
    std::fs::write(
        home.file("bots/alice/web/bot.sh"),
        "echo local; exec sleep 1000\n",
    )
    .unwrap();
    std::fs::write(dev.join("bot.sh"), "echo v2; exec sleep 1000\n").unwrap();
    git(&dev, &["commit", "-qam", "v2"]);
    git(&dev, &["push", "-q", "origin", "HEAD:main"]);
    home.botctl(&["update", "web"])
        .code(1)
        .says(&["would be overwritten", "bot.sh"]);
    assert_eq!(home.running_pid("web"), pid, "the old code keeps running");
    let failed = wait_for("an update-failed event", WAIT, || {
        let events = home.events("web");
        events
            .iter()
            .find(|e| e["kind"] == "update-failed")
            .cloned()
            .ok_or(kinds(&events))
    });
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("would be overwritten") && message.contains("bot.sh"),
        "the event carries git's own explanation: {message}"
    );
}

/// Alerts to chat 111 through the fake Telegram with the token in `token_file`, then `more`.
fn alerts_config(tg: &FakeTelegram, token_file: &str, more: &str) -> String {
    format!(
        "{FAST}
[agent]
report_interval = \"0s\"
[notify.telegram]
token_file = \"{token_file}\"
chat_ids = [111]
api_base = \"{base}\"
{more}",
        base = tg.base()
    )
}

/// One Telegram bot for alerts and commands: `[remote.telegram]` names only its admins. A
/// broken `[remote.http]` is switched off alone: alerts and commands go on, and `status`,
/// `agent status` and `config check` say which section is off and why.
#[test]
fn one_telegram_bot_serves_alerts_and_commands_and_a_broken_section_stands_alone() {
    let tg = FakeTelegram::start();
    let home = Home::new();
    std::fs::write(home.file("notify.token"), format!("{NOTIFY_TOKEN}\n")).unwrap();
    home.write_config(&alerts_config(
        &tg,
        "notify.token",
        "[remote.telegram]\nadmins = [42]\n[remote.http]\nlisten = \"everywhere\"\n",
    ));
    home.write_bot(
        "crash",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n[restart]\nmax_restarts = 0\n",
    );
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");

    // Alerts still go out: the failed bot's.
    wait_for("the failed alert", WAIT, || {
        let texts = tg.texts(111);
        ensure(texts.iter().any(|t| t.contains("crash")), texts)
    });
    // Commands are polled and answered with the alert bot's token.
    tg.command(1, 42, 4200, "/listbots");
    wait_for("the answer to /listbots", WAIT, || {
        let texts = tg.texts(4200);
        ensure(texts.iter().any(|t| t.contains("hello (alice)")), texts)
    });
    let tokens: Vec<String> = tg
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(token, _, _)| token.clone())
        .collect();
    assert!(
        tokens.iter().all(|t| t == NOTIFY_TOKEN.trim()),
        "{} messages, not all with the one bot's token",
        tokens.len()
    );

    let says_off = ["remote.http.listen", "[remote.http] is off"];
    home.botctl(&["status"]).says(&says_off);
    home.botctl(&["agent", "status"]).ok().says(&says_off);
    home.botctl(&["config", "check"]).code(1).says(&says_off);
    let status = home.status();
    let issues = status["config_issues"].as_array().expect("config_issues");
    assert!(
        issues.iter().any(|i| i["section_off"] == "remote.http"),
        "{status:#}"
    );
    // The rest of botctl.toml applies: the FAST restart settings are in force.
    let show = home.json(&["bots", "show", "hello", "--json"]);
    assert_eq!(show["policy"]["stable_after_ms"], 300, "{show:#}");
    no_secret(&home, &tg);
}

/// A token file that cannot be read switches its section off until a reload finds it.
#[test]
fn a_missing_token_file_switches_alerts_off_until_a_reload_finds_it() {
    let tg = FakeTelegram::start();
    let home = Home::new();
    home.write_config(&alerts_config(&tg, "late.token", ""));
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");
    let off = ["notify.telegram.token_file", "[notify.telegram] is off"];
    home.botctl(&["status"]).says(&off);

    std::fs::write(home.file("late.token"), NOTIFY_TOKEN).unwrap();
    home.write_bot(
        "crash",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n[restart]\nmax_restarts = 0\n",
    );
    home.botctl(&["reload"]).ok();
    let status = home.botctl(&["status"]);
    assert!(
        !status.all().contains("[notify.telegram] is off"),
        "{status:?}"
    );
    wait_for("the failed alert", WAIT, || {
        let texts = tg.texts(111);
        ensure(texts.iter().any(|t| t.contains("crash")), texts)
    });
    no_secret(&home, &tg);
}
