//! The owners' HTTP API and /metrics as owners, an admin and strangers meet them: tokens from
//! `botctl tokens`, scoping across owners, read-only, expired and revoked tokens, rate
//! limits, the audit trail, and no token value anywhere but where it was created.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// Tokens of one test, by who holds them.
struct Tokens {
    alice: String,
    bob: String,
    viewer: String,
    admin: String,
    /// Every value ever made, for the grep at the end.
    all: Vec<String>,
}

/// `tokens create --json ARGS`: the token and its id.
pub(crate) fn create(home: &Home, args: &[&str]) -> (String, String) {
    let mut full = vec!["tokens", "create", "--json"];
    full.extend_from_slice(args);
    let made = home.json(&full);
    (
        made["token"].as_str().unwrap().to_string(),
        made["id"].as_str().unwrap().to_string(),
    )
}

/// A listener on a free port with `extra` settings, and bots a1, a2 (alice's) and b1 (bob's)
/// running; the port.
pub(crate) fn setup(home: &Home, extra: &str) -> u16 {
    let port = free_port();
    home.write_config(&format!(
        "{FAST}\n[remote.http]\nlisten = \"127.0.0.1:{port}\"\nrate_per_minute = 100000\n{extra}"
    ));
    home.write_bot("a1", &sleeper("alice"));
    home.write_bot("a2", &sleeper("alice"));
    home.write_bot("b1", &sleeper("bob"));
    for b in ["a1", "a2", "b1"] {
        home.running_pid(b);
    }
    wait_for("the listener", WAIT, || {
        let answer = http(port, "GET", "/health", &[], "");
        ensure(answer.status == 200, answer)
    });
    port
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn get(port: u16, token: &str, path: &str) -> HttpAnswer {
    http(port, "GET", path, &[("authorization", &bearer(token))], "")
}

fn post(port: u16, token: &str, path: &str, body: &str) -> HttpAnswer {
    http(
        port,
        "POST",
        path,
        &[
            ("authorization", &bearer(token)),
            ("content-type", "application/json"),
        ],
        body,
    )
}

fn names(bots: &Value) -> Vec<String> {
    bots["bots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

#[track_caller]
fn error_code(answer: &HttpAnswer) -> String {
    answer.json()["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {answer:?}"))
        .to_string()
}

#[test]
fn owners_see_and_act_on_their_own_bots_only_and_every_step_is_audited() {
    let home = Home::fast();
    let port = setup(&home, "metrics = true\ntoken_rate_per_minute = 40\n");
    let mut outputs = Vec::new();
    let (alice, alice_id) = create(&home, &["--user", "alice"]);
    let (bob, _) = create(&home, &["--user", "bob"]);
    let (viewer, _) = create(&home, &["--user", "alice", "--read-only"]);
    let (admin, _) = create(&home, &["--user", "ops", "--admin"]);
    let t = Tokens {
        all: vec![alice.clone(), bob.clone(), viewer.clone(), admin.clone()],
        alice,
        bob,
        viewer,
        admin,
    };
    assert!(t.alice.starts_with("botctl_") && t.alice.len() >= 7 + 32);

    // Each owner sees its own bots; the admin sees all, with health and auth state.
    assert_eq!(
        names(&get(port, &t.alice, "/api/v1/bots").json()),
        ["a1", "a2"]
    );
    assert_eq!(names(&get(port, &t.bob, "/api/v1/bots").json()), ["b1"]);
    let all = get(port, &t.admin, "/api/v1/bots").json();
    assert_eq!(names(&all), ["a1", "a2", "b1"]);
    assert_eq!(all["bots"][0]["state"], "running");
    assert_eq!(all["bots"][0]["health"], "none");
    assert!(all["bots"][0]["pid"].as_u64().is_some());

    // Another owner's bot answers exactly like a missing one, to reads and actions alike.
    let b1_pid = home.running_pid("b1");
    for (method, path, body) in [
        ("GET", "/api/v1/bots/{}", ""),
        ("GET", "/api/v1/bots/{}/logs?lines=5", ""),
        ("POST", "/api/v1/bots/{}/restart", ""),
        ("POST", "/api/v1/recover", r#"{"bots": ["{}"]}"#),
        (
            "POST",
            "/api/v1/bulk",
            r#"{"action": "stop", "bots": ["{}"]}"#,
        ),
    ] {
        let ask = |bot: &str| {
            let path = path.replace("{}", bot);
            let body = body.replace("{}", bot);
            let answer = if method == "GET" {
                get(port, &t.alice, &path)
            } else {
                post(port, &t.alice, &path, &body)
            };
            let text = answer.body.replace(bot, "BOT");
            (answer.status, text)
        };
        let theirs = ask("b1");
        assert_eq!(theirs.0, 404, "{method} {path}: {theirs:?}");
        assert!(theirs.1.contains("\"code\":\"not_found\""), "{theirs:?}");
        assert_eq!(theirs, ask("nosuchbot"), "{method} {path}");
    }
    // In a bulk request with one of its own, the other's bot is one not_found answer.
    let bulk = post(
        port,
        &t.alice,
        "/api/v1/bulk",
        r#"{"action": "restart", "bots": ["a2", "b1"]}"#,
    );
    assert_eq!(bulk.status, 200, "{bulk:?}");
    let outcomes = bulk.json()["outcomes"].as_array().unwrap().clone();
    let of = |bot: &str| outcomes.iter().find(|o| o["bot"] == bot).unwrap().clone();
    assert_eq!(of("a2")["ok"], true);
    assert_eq!(of("b1")["ok"], false);
    assert_eq!(of("b1")["code"], "not_found");
    assert_eq!(home.running_pid("b1"), b1_pid, "bob's bot was not touched");
    assert!(
        get(port, &t.alice, "/api/v1/events?bot=b1").json()["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // An owner restarts its own bot and sees the new pid.
    let a1_pid = home.running_pid("a1");
    let restarted = post(port, &t.alice, "/api/v1/bots/a1/restart", "");
    assert_eq!(restarted.status, 200, "{restarted:?}");
    let new_pid = restarted.json()["pid"].as_u64().unwrap() as u32;
    assert_ne!(new_pid, a1_pid);
    assert_eq!(home.running_pid("a1"), new_pid);
    let detail = get(port, &t.alice, "/api/v1/bots/a1").json();
    assert_eq!(detail["info"]["pid"], new_pid);
    let logs = get(port, &t.alice, "/api/v1/bots/a1/logs?lines=3&stream=err");
    assert_eq!(logs.status, 200, "{logs:?}");
    assert!(logs.json()["lines"].is_array());

    // Resources: the owner's count against its limit; the system view is the admin's.
    let resources = get(port, &t.alice, "/api/v1/resources").json();
    let mine = &resources["owners"][0];
    assert_eq!(resources["owners"].as_array().unwrap().len(), 1);
    assert_eq!(
        (mine["owner"].as_str(), mine["bots"].as_u64()),
        (Some("alice"), Some(2))
    );
    assert!(mine["max_bots"].as_u64().unwrap() > 0);
    assert!(mine["recovery"]["restarts"].as_u64().unwrap() >= 1);
    let refused = get(port, &t.alice, "/api/v1/system");
    assert_eq!(
        (refused.status, error_code(&refused).as_str()),
        (403, "forbidden")
    );
    let system = get(port, &t.admin, "/api/v1/system").json();
    assert_eq!(system["bots"], 3);
    assert_eq!(system["owners"].as_array().unwrap().len(), 2);
    let plan = post(port, &t.admin, "/api/v1/cleanup", "");
    assert_eq!(
        (plan.status, plan.json()["applied"].as_bool()),
        (200, Some(false))
    );

    // Read-only looks but cannot act.
    assert_eq!(get(port, &t.viewer, "/api/v1/bots").status, 200);
    let acting = post(port, &t.viewer, "/api/v1/bots/a1/stop", "");
    assert_eq!(
        (acting.status, error_code(&acting).as_str()),
        (403, "forbidden")
    );
    let recovering = post(port, &t.viewer, "/api/v1/recover", "");
    assert_eq!(recovering.status, 403);
    assert_eq!(home.bot("a1")["state"], "running");

    // No token, a wrong, a revoked and an expired one: the same 401.
    let (expiring, _) = create(&home, &["--user", "alice", "--expires", "1s"]);
    let (revoked, revoked_id) = create(&home, &["--user", "alice"]);
    outputs.push(home.botctl(&["tokens", "revoke", &revoked_id]).ok());
    let mut wrong = t.alice.clone();
    wrong.replace_range(wrong.len() - 4.., "0000");
    let none = http(port, "GET", "/api/v1/bots", &[], "");
    assert_eq!(none.status, 401);
    assert!(none.header("www-authenticate").is_some());
    let refusal = get(port, &wrong, "/api/v1/bots");
    assert_eq!(
        (refusal.status, error_code(&refusal).as_str()),
        (401, "unauthorized")
    );
    assert_eq!(get(port, &revoked, "/api/v1/bots").body, refusal.body);
    wait_for("the token to expire", WAIT, || {
        let answer = get(port, &expiring, "/api/v1/bots");
        ensure(answer.status == 401, answer)
    });
    assert_eq!(get(port, &expiring, "/api/v1/bots").body, refusal.body);

    // Per-token limit: a burst past it is 429 with Retry-After; other tokens go on.
    let limited = (0..45)
        .map(|_| get(port, &t.bob, "/api/v1/bots"))
        .find(|a| a.status == 429)
        .expect("a burst over token_rate_per_minute is limited");
    assert_eq!(error_code(&limited), "rate_limited");
    assert!(
        limited
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(get(port, &t.admin, "/api/v1/bots").status, 200);

    // /metrics: admin only, parsed by a real Prometheus parser.
    assert_eq!(http(port, "GET", "/metrics", &[], "").status, 401);
    assert_eq!(get(port, &t.alice, "/metrics").status, 403);
    let metrics = get(port, &t.admin, "/metrics");
    assert_eq!(metrics.status, 200, "{metrics:?}");
    let parsed = parse_metrics(&metrics.body);
    let sample = |name: &str, labels: &[(&str, &str)]| {
        parsed
            .iter()
            .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map(|s| s["value"].as_f64().unwrap())
    };
    assert_eq!(
        sample("botctl_bot_up", &[("bot", "a1"), ("owner", "alice")]),
        Some(1.0)
    );
    assert_eq!(
        sample("botctl_bot_state", &[("bot", "b1"), ("state", "running")]),
        Some(1.0)
    );
    assert_eq!(
        sample("botctl_bot_state", &[("bot", "b1"), ("state", "failed")]),
        Some(0.0)
    );
    assert!(sample("botctl_bot_restarts_total", &[("bot", "a1")]).unwrap() >= 1.0);
    assert!(sample("botctl_bot_memory_bytes", &[("bot", "a1")]).is_some());
    assert!(sample("botctl_bot_cpu_seconds_total", &[("bot", "a1")]).is_some());
    assert_eq!(
        sample(
            "botctl_bot_health_state",
            &[("bot", "a1"), ("state", "none")]
        ),
        Some(1.0)
    );
    assert!(sample("botctl_events_total", &[("kind", "started")]).unwrap() >= 3.0);
    assert!(sample("botctl_agent_uptime_seconds", &[]).is_some());

    // The audit trail: who did what from where, and every refusal.
    let events = home.json(&["events", "--json", "-n", "1000"]);
    let events = events.as_array().unwrap();
    let actor = format!("alice (token {alice_id}) from 127.0.0.1");
    assert!(
        events.iter().any(|e| e["kind"] == "remote"
            && e["bot"] == "a1"
            && e["actor"] == actor.as_str()
            && e["message"].as_str().unwrap().contains("restart a1")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "restarted" && e["bot"] == "a1" && e["actor"] == actor.as_str()),
        "the bot's own event names the token too"
    );
    let refusals: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "remote-refused")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for why in [
        "no valid token",
        "read-only",
        "admin",
        "over 40 requests a minute",
    ] {
        assert!(
            refusals
                .iter()
                .any(|m| m.contains(why) && m.contains("127.0.0.1")),
            "no refusal saying {why:?}: {refusals:#?}"
        );
    }
    assert!(events.iter().any(|e| e["kind"] == "token-created"));
    assert!(events.iter().any(|e| e["kind"] == "token-revoked"));

    // No token value anywhere: not in what the CLI printed since, not in events, logs or
    // the database (which keeps only hashes).
    let mut all = t.all.clone();
    all.extend([expiring, revoked, wrong]);
    outputs.push(home.botctl(&["tokens", "list"]).ok());
    outputs.push(home.botctl(&["tokens", "list", "--json"]).ok());
    outputs.push(home.botctl(&["events", "-n", "1000"]).ok());
    outputs.push(home.botctl(&["status"]));
    let listed = home.json(&["tokens", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 5, "{listed:#}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["scope"] == "admin")
    );
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == alice_id.as_str() && t["last_used_ms"].as_i64().is_some())
    );
    home.botctl(&["agent", "stop"]).ok();
    let mut seen = outputs
        .iter()
        .map(|o| o.all())
        .collect::<Vec<_>>()
        .join("\n");
    seen.push_str(&serde_json::to_string(&events).unwrap());
    seen.push_str(&files_under(home.path()));
    for token in &all {
        assert!(!seen.contains(token.as_str()), "a token value leaked");
        // The secret half alone must not be anywhere either.
        assert!(
            !seen.contains(&token[token.len() - 32..]),
            "a token's secret leaked"
        );
    }
}

/// Every regular file under `dir`, as lossy text (logs, the database and its journal).
fn files_under(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            out.push_str(&files_under(&path));
        } else if kind.is_file()
            && let Ok(bytes) = std::fs::read(&path)
        {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

/// The samples of an exposition as Python's prometheus_client reads it (its OpenMetrics
/// parser): name, labels and value of each.
fn parse_metrics(text: &str) -> Vec<Value> {
    const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({'name': s.name, 'labels': s.labels, 'value': s.value})
print(json.dumps(out))
"#;
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (.ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn metrics_open_on_loopback_needs_no_token_and_a_bare_public_listener_refuses_to_start() {
    let home = Home::fast();
    let port = free_port();
    home.write_config(&format!(
        "{FAST}\n[remote.http]\nlisten = \"127.0.0.1:{port}\"\nmetrics = true\nmetrics_open = true\n"
    ));
    home.write_bot("a1", &sleeper("alice"));
    home.running_pid("a1");
    let metrics = wait_for("open metrics", WAIT, || {
        let answer = http(port, "GET", "/metrics", &[], "");
        if answer.status == 200 {
            Ok(answer)
        } else {
            Err(answer)
        }
    });
    assert!(
        parse_metrics(&metrics.body)
            .iter()
            .any(|s| s["name"] == "botctl_bot_up")
    );
    assert_eq!(http(port, "GET", "/api/v1/bots", &[], "").status, 401);
    // Per source address (60 a minute by default): a JSON 429 with Retry-After.
    let limited = (0..80)
        .map(|_| http(port, "GET", "/api/v1/bots", &[], ""))
        .find(|a| a.status == 429)
        .expect("a burst over rate_per_minute is limited");
    assert_eq!(error_code(&limited), "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("1"));

    // Anywhere but loopback, plain HTTP and open metrics are refused with the reason.
    home.write_config(&format!(
        "{FAST}\n[remote.http]\nlisten = \"0.0.0.0:{port}\"\nmetrics_open = true\n"
    ));
    let check = home.botctl(&["config", "check"]).code(1);
    check.says(&[
        "remote.http.listen",
        "no TLS is set",
        "allow_plain_http",
        "remote.http.metrics_open",
    ]);
    let dashboard = home.botctl(&["dashboard"]).code(1);
    dashboard.says(&["no dashboard", "no TLS is set"]);
}

/// One request over TLS through `openssl s_client` (the listener closes after answering).
fn https(port: u16, request: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_quiet", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the openssl CLI (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_listener_speaks_tls_with_the_configured_certificate() {
    let home = Home::fast();
    let port = free_port();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let config = format!(
        "{FAST}\n[remote.http]\nlisten = \"127.0.0.1:{port}\"\ntls_cert_file = \"cert.pem\"\ntls_key_file = \"key.pem\"\n"
    );
    home.write_config(&config);
    home.write_bot("a1", &sleeper("alice"));
    home.running_pid("a1");
    let health = wait_for("the TLS listener", WAIT, || {
        let answer = https(
            port,
            "GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        );
        if answer.starts_with("HTTP/1.1 200") {
            Ok(answer)
        } else {
            Err(answer)
        }
    });
    assert!(health.contains("\"bots\":1"), "{health}");
    // Plain HTTP on the TLS port gets no answer.
    assert_ne!(http(port, "GET", "/health", &[], "").status, 200);
    // Under TLS the session cookie is Secure.
    let (token, _) = create(&home, &["--user", "alice"]);
    let body = serde_json::json!({ "token": token }).to_string();
    let signed = https(
        port,
        &format!(
            "POST /session HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(signed.starts_with("HTTP/1.1 200"), "{signed}");
    let cookie = signed
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(
        home.botctl(&["dashboard"]).ok().stdout.trim(),
        format!("https://127.0.0.1:{port}/")
    );

    // A certificate that cannot be read keeps the listener off, and says why.
    std::fs::write(home.file("cert.pem"), "not a certificate\n").unwrap();
    home.write_config(&format!("{config}rate_per_minute = 61\n"));
    home.botctl(&["reload"]).ok();
    let status = home.status();
    let issue = status["config_issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["section_off"] == "remote.http")
        .unwrap_or_else(|| panic!("no issue for remote.http: {status:#}"))
        .clone();
    assert!(
        issue["message"].as_str().unwrap().contains("cert.pem"),
        "{issue:#}"
    );
    wait_for("the listener to close", WAIT, || {
        let answer = https(
            port,
            "GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        );
        ensure(!answer.starts_with("HTTP/1.1 200"), answer)
    });
}
