//! The auth monitor as a user sees it: cookie files checked in both formats, a bot with a dead
//! session stopped as auth-invalid and started again once fresh cookies land, live probes
//! against a local stand-in for the platform, and no cookie value anywhere in the output.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn config() -> String {
    // A long interval: changes must be noticed through the file watch, not by polling.
    format!("{FAST}\n[agent]\nauth_interval = \"1h\"\n")
}

fn wait_state(home: &Home, name: &str, state: &str) -> Value {
    wait_for(&format!("{name} {state}"), WAIT, || {
        let bot = home.bot(name);
        ensure(bot["state"] == state, bot.clone()).map(|_| bot)
    })
}

#[test]
fn a_dead_session_stops_the_bot_and_fresh_cookies_bring_it_back() {
    let home = Home::new();
    home.write_config(&config());
    auth_bot(&home, "tw", "");
    cookie_file(&home, "tw", &netscape("SECRETauth1", "SECRETct01", FAR));
    home.running_pid("tw");
    wait_for("tw checked valid", WAIT, || {
        let bot = home.bot("tw");
        ensure(bot["auth"] == "valid", bot)
    });

    // The session expires: the file watch notices, the bot is stopped, not restarted.
    cookie_file(&home, "tw", &netscape("SECRETauth2", "SECRETct02", PAST));
    let bot = wait_state(&home, "tw", "auth-invalid");
    assert!(bot["pid"].is_null(), "{bot:#}");
    assert!(bot_pids(&home, "tw").is_empty());
    assert!(
        bot["detail"]
            .as_str()
            .unwrap()
            .contains("expired: auth_token, ct0"),
        "{bot:#}"
    );
    let events = home.events("tw");
    let k = kinds(&events);
    assert!(k.contains(&"auth-invalid".to_string()), "{k:?}");
    // auth-invalid needs attention: `status` exits 1.
    let out = home.botctl(&["status"]).code(1);
    assert!(out.stdout.contains("1 auth issues"), "{out:?}");
    home.botctl(&["auth", "check", "tw"])
        .code(1)
        .says(&["expired", "invalid session: tw"]);

    // Fresh cookies through set-cookies: installed 0600, checked, the bot runs again.
    let fresh = home.file("fresh.json");
    std::fs::write(
        &fresh,
        format!(
            "[{{\"name\": \"auth_token\", \"value\": \"SECRETauth3\", \"domain\": \".x.com\", \"path\": \"/\", \"expirationDate\": {FAR}.5, \"secure\": true, \"httpOnly\": true, \"storeId\": \"0\"}},
              {{\"name\": \"ct0\", \"value\": \"SECRETct03\", \"domain\": \".x.com\", \"path\": \"/\", \"expirationDate\": {FAR}, \"hostOnly\": false}}]"
        ),
    )
    .unwrap();
    home.botctl(&["auth", "set-cookies", "tw", fresh.to_str().unwrap()])
        .ok()
        .says(&["installed new cookies for tw", "valid"]);
    let installed = home.file("bots/alice/tw/cookies.txt");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&installed).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    home.running_pid("tw");
    let k = kinds(&home.events("tw"));
    assert!(k.contains(&"auth-valid".to_string()), "{k:?}");

    // A malformed file is refused by set-cookies and names where, not what.
    let bad = home.file("bad.txt");
    std::fs::write(
        &bad,
        ".x.com\tTRUE\t/\tTRUE\tSECRETnotanumber\tauth_token\tSECRETv\n",
    )
    .unwrap();
    home.botctl(&["auth", "set-cookies", "tw", bad.to_str().unwrap()])
        .code(1)
        .says(&["line 1"]);
    assert_eq!(home.bot("tw")["state"], "running");
    no_secret_anywhere(&home, &["tw"]);
}

#[test]
fn outcomes_for_each_kind_of_cookie_file() {
    let home = Home::new();
    home.write_config(&config());
    let soon = botctl_now() + 3600;
    let cases = [
        ("valid", netscape("SECRETa", "SECRETb", FAR), "valid"),
        ("soon", netscape("SECRETc", "SECRETd", soon), "expiring"),
        ("old", netscape("SECRETe", "SECRETf", PAST), "expired"),
        (
            "partial",
            ".x.com\tTRUE\t/\tTRUE\t0\tauth_token\tSECRETg\n".to_string(),
            "missing",
        ),
        ("broken", "[{\"name\": \"ct0\"}]".to_string(), "malformed"),
    ];
    for (name, text, _) in &cases {
        auth_bot(&home, name, "on_invalid = \"alert\"\n");
        cookie_file(&home, name, text);
    }
    auth_bot(&home, "nofile", "on_invalid = \"alert\"\n");
    home.botctl(&["status"]).ok();
    let out = home.botctl(&["auth", "check", "--json"]).code(1);
    let reports = out.json();
    let by_bot = |n: &str| {
        reports
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["bot"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no report for {n}: {reports:#}"))
    };
    for (name, _, outcome) in &cases {
        assert_eq!(by_bot(name)["outcome"], *outcome, "{:#}", by_bot(name));
    }
    assert_eq!(by_bot("nofile")["outcome"], "no-file");
    assert!(
        by_bot("partial")["detail"]
            .as_str()
            .unwrap()
            .contains("ct0")
    );
    assert!(by_bot("broken")["detail"].as_str().unwrap().contains("[0]"));
    assert!(by_bot("soon")["expires_at_ms"].as_i64().unwrap() > 0);
    // The table names the outcome once, and a file never read has no expiry.
    let table = home.botctl(&["auth", "check"]).code(1);
    let line = |bot: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.contains(&format!(" {bot} ")))
            .unwrap_or_else(|| panic!("no line for {bot}:\n{table:?}"))
            .to_string()
    };
    assert!(
        line("old").contains("expired: auth_token, ct0"),
        "{table:?}"
    );
    assert!(!table.stdout.contains("expired: expired"), "{table:?}");
    assert!(line("partial").contains("missing: ct0"), "{table:?}");
    assert!(!line("nofile").contains("session"), "{table:?}");
    assert!(line("valid").contains("2100-01-0"), "{table:?}");
    // on_invalid = "alert": invalid sessions are reported but every bot keeps running.
    for (name, _, _) in &cases {
        assert_eq!(home.bot(name)["state"], "running", "{name}");
    }
    let expiring = home.events("soon");
    assert!(
        expiring.iter().any(|e| e["kind"] == "auth-expiring"
            && e["message"].as_str().unwrap().contains("expires in")),
        "{expiring:#?}"
    );
    let text = home.botctl(&["auth", "check"]).code(1);
    assert!(
        text.stdout.contains("OUTCOME") && text.stdout.contains("TIME LEFT"),
        "{text:?}"
    );
    no_secret_anywhere(&home, &["valid", "soon", "old", "partial", "broken"]);
}

fn botctl_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A stand-in for the platform on 127.0.0.1: answers each request with the status in
/// `status` (0 = accept and never answer), and keeps the last request's head.
struct Platform {
    port: u16,
    status: Arc<AtomicU16>,
    last: Arc<std::sync::Mutex<String>>,
}

impl Platform {
    fn start() -> Platform {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(200));
        let last = Arc::new(std::sync::Mutex::new(String::new()));
        let (s, l) = (status.clone(), last.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                *l.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).into_owned();
                let code = s.load(Ordering::SeqCst);
                if code == 0 {
                    held.push(conn);
                    continue;
                }
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    )
                    .as_bytes(),
                );
            }
        });
        Platform { port, status, last }
    }
}

#[test]
fn live_probes_decide_between_valid_rejected_and_unknown() {
    let home = Home::new();
    home.write_config(&config());
    let platform = Platform::start();
    auth_bot(
        &home,
        "tw",
        &format!(
            "probe_url = \"http://127.0.0.1:{}/1.1/account/verify_credentials.json\"\nprobe_headers_file = \"probe-headers.toml\"\n",
            platform.port
        ),
    );
    // The stand-in answers for the platform's host, so the session is for its address (and
    // not secure-only, since it speaks plain http).
    cookie_file(
        &home,
        "tw",
        &format!(
            "127.0.0.1\tFALSE\t/\tFALSE\t{FAR}\tauth_token\tSECRETpa\n127.0.0.1\tFALSE\t/\tFALSE\t{FAR}\tct0\tSECRETpb\n"
        ),
    );
    std::fs::write(
        home.file("bots/alice/tw/probe-headers.toml"),
        "authorization = \"Bearer SECRETbearer\"\n",
    )
    .unwrap();
    home.running_pid("tw");
    let r = home.json(&["auth", "check", "tw", "--json"]);
    assert_eq!(r[0]["outcome"], "valid", "{r:#}");
    assert_eq!(r[0]["last_probe"], "accepted");
    let request = platform.last.lock().unwrap().clone();
    assert!(
        request.contains("auth_token=SECRETpa"),
        "the probe sends the session"
    );
    assert!(
        request.to_lowercase().contains("x-csrf-token: secretpb"),
        "{request}"
    );
    assert!(request.contains("Bearer SECRETbearer"));

    // A server error or no answer is "unknown": reported, the bot keeps running.
    platform.status.store(500, Ordering::SeqCst);
    let r = home.botctl(&["auth", "check", "tw", "--json"]).ok().json();
    assert_eq!(r[0]["outcome"], "unknown", "{r:#}");
    assert_eq!(home.bot("tw")["state"], "running");

    // 401: the platform rejected the session: the bot is stopped.
    platform.status.store(401, Ordering::SeqCst);
    let r = home
        .botctl(&["auth", "check", "tw", "--json"])
        .code(1)
        .json();
    assert_eq!(r[0]["outcome"], "rejected", "{r:#}");
    assert!(r[0]["detail"].as_str().unwrap().contains("401"));
    wait_state(&home, "tw", "auth-invalid");

    // The platform accepts it again: the next check starts the bot by itself.
    platform.status.store(200, Ordering::SeqCst);
    home.botctl(&["auth", "check", "tw"]).ok();
    home.running_pid("tw");
    no_secret_anywhere(&home, &["tw"]);
}

/// No cookie or header value of any fixture appears in anything botctl says or stores in
/// plain sight: every SECRET... string stays in the cookie files.
fn no_secret_anywhere(home: &Home, bots: &[&str]) {
    let mut seen = String::new();
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["events", "--json", "-n", "1000"],
        vec!["events", "-n", "1000"],
        vec!["bots", "list", "--json"],
    ] {
        seen.push_str(&home.botctl(&args).all());
    }
    for bot in bots {
        seen.push_str(&home.botctl(&["bots", "show", bot]).all());
        seen.push_str(&home.botctl(&["bots", "show", bot, "--json"]).all());
        seen.push_str(&home.botctl(&["auth", "check", bot, "--json"]).all());
        seen.push_str(&home.botctl(&["auth", "check", bot]).all());
    }
    seen.push_str(&std::fs::read_to_string(home.file("logs/agent.log")).unwrap_or_default());
    assert!(
        !seen.contains("SECRET"),
        "a secret leaked: {}",
        &seen[seen.find("SECRET").unwrap().saturating_sub(200)..]
    );
}
