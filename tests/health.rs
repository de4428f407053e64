//! Health and resources as a user sees them: limit restarts for memory and CPU (counted by the
//! restart-rate limit), HTTP health checks with their grace and failure count, owner and fleet
//! limits, and the host section of status.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Fast restarts plus a 1 s sampling interval.
fn config(extra: &str) -> String {
    format!("{FAST}\n[agent]\nhealth_interval = \"1s\"\n{extra}")
}

/// Waits for an event of `kind` for `bot` and returns it.
#[track_caller]
fn wait_event(home: &Home, bot: &str, kind: &str) -> Value {
    wait_event_saying(home, bot, kind, "")
}

fn python3() -> &'static str {
    "python3"
}

#[test]
fn a_bot_over_its_memory_limit_is_restarted_and_counted() {
    let home = Home::new();
    home.write_config(
        "[agent]\nhealth_interval = \"1s\"\n[restart]\nmax_restarts = 1\nstable_after = \"100ms\"\nretry_after = \"1h\"\n",
    );
    // 80 MiB held by a child: the figure must cover the whole process group.
    home.write_bot(
        "leaky",
        &format!(
            "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"{} -c 'import os, time; b = os.urandom(80 * 2**20); time.sleep(1000)'; sleep 1000\"]\n[limits]\nmax_memory_mb = 40\nmemory_samples = 2\n",
            python3()
        ),
    );
    let first = home.running_pid("leaky");
    let event = wait_event(&home, "leaky", "limit-restart");
    let message = event["message"].as_str().unwrap();
    assert!(
        message.contains("MiB > 40 MiB for 2 samples"),
        "the event says the figure and the limit: {message}"
    );
    let second = home.new_pid("leaky", first);
    assert!(!alive(first));
    assert_eq!(home.bot("leaky")["restarts"], 1);

    // The second limit restart exceeds max_restarts = 1: the bot is parked, not recycled forever.
    wait_for("leaky failed", Duration::from_secs(20), || {
        let bot = home.bot("leaky");
        ensure(bot["state"] == "failed", bot)
    });
    assert!(!alive(second));
    let shown = home.json(&["bots", "show", "leaky", "--json"]);
    assert_eq!(shown["record"]["limit_restarts"], 2, "{shown:#}");
    assert!(
        shown["record"]["mean_time_to_recovery_ms"].is_u64(),
        "{shown:#}"
    );
}

#[test]
fn a_cpu_spinner_over_its_limit_is_restarted() {
    let home = Home::new();
    home.write_config(&config(""));
    home.write_bot(
        "spin",
        "user = \"bob\"\ncommand = [\"sh\", \"-c\", \"while :; do :; done\"]\n[limits]\nmax_cpu_percent = 30\ncpu_samples = 2\n",
    );
    home.write_bot("calm", &sleeper("bob"));
    let first = home.running_pid("spin");
    let calm = home.running_pid("calm");
    let event = wait_event(&home, "spin", "limit-restart");
    let message = event["message"].as_str().unwrap();
    assert!(message.starts_with("cpu "), "{message}");
    assert!(message.contains("> 30% for 2 samples"), "{message}");
    home.new_pid("spin", first);
    assert_eq!(home.bot("calm")["pid"], calm, "the calm bot is untouched");
    let bot = home.bot("calm");
    assert!(bot["cpu_percent"].as_f64().unwrap() < 30.0, "{bot:#}");
    assert!(bot["memory_bytes"].as_u64().unwrap() > 0, "{bot:#}");
}

/// A bot that serves `dir` over HTTP on 127.0.0.1:port, checked at /ok.txt.
fn web_bot(dir: &std::path::Path, port: u16, health: &str) -> String {
    format!(
        "user = \"carol\"\ncommand = [\"{}\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\", \"--directory\", \"{}\"]\n[health]\nhttp = \"http://127.0.0.1:{port}/ok.txt\"\ninterval = \"1s\"\ntimeout = \"2s\"\n{health}",
        python3(),
        dir.display()
    )
}

#[test]
fn a_failing_health_url_restarts_the_bot_after_its_grace_and_failures() {
    let home = Home::new();
    home.write_config(&config(""));
    let site = home.file("site");
    std::fs::create_dir_all(&site).unwrap();
    let port = free_port();
    // ok.txt is missing from the start: every check fails (404).
    home.write_bot(
        "web",
        &web_bot(&site, port, "start_grace = \"3s\"\nfailures = 2\n"),
    );
    let first = home.running_pid("web");
    let event = wait_event(&home, "web", "health-restart");
    // Measured on the agent's own clock: from the bot's start to the restart decision.
    let started = wait_event(&home, "web", "started");
    let waited = event["ts_ms"].as_i64().unwrap() - started["ts_ms"].as_i64().unwrap();
    assert!(
        waited >= 3000,
        "no restart before the 3s grace (restarted after {waited} ms)"
    );
    let message = event["message"].as_str().unwrap();
    assert!(
        message.contains("failed 2 time(s) in a row") && message.contains("status 404"),
        "the event names the check and its last error: {message}"
    );
    home.new_pid("web", first);
    let shown = home.json(&["bots", "show", "web", "--json"]);
    assert!(
        shown["health_checks"]
            .as_str()
            .unwrap()
            .contains(&format!("http://127.0.0.1:{port}/ok.txt")),
        "{shown:#}"
    );
}

#[test]
fn a_health_check_that_passes_again_is_recorded_as_recovered() {
    let home = Home::new();
    home.write_config(&config(""));
    let site = home.file("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("ok.txt"), "ok").unwrap();
    let port = free_port();
    home.write_bot(
        "web",
        &web_bot(&site, port, "start_grace = \"0s\"\nfailures = 30\n"),
    );
    let pid = home.running_pid("web");
    // Wait until the server answers, then break it for a while and mend it.
    wait_for("the bot serves HTTP", WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())
    });
    // A check made before the server bound its port failed with "connection refused" and
    // recovered once it answered: the 404 is the failure this test makes.
    std::fs::remove_file(site.join("ok.txt")).unwrap();
    let failing = wait_event_saying(&home, "web", "health-failing", "404");
    std::fs::write(site.join("ok.txt"), "ok").unwrap();
    wait_for("a recovery after the 404", Duration::from_secs(20), || {
        let events = home.events("web");
        let after = events
            .iter()
            .filter(|e| {
                e["kind"] == "health-recovered" && e["id"].as_i64() > failing["id"].as_i64()
            })
            .count();
        if after > 0 {
            Ok(())
        } else {
            Err(kinds(&events))
        }
    });
    assert_eq!(
        home.bot("web")["pid"],
        pid,
        "not restarted: failures stayed under 30"
    );
}

#[test]
fn owner_and_fleet_limits_refuse_and_report() {
    let home = Home::new();
    home.write_config(&config(
        "[limits]\nmax_bots_per_user = 2\nmax_total_bots = 3\n[users.bob]\nmax_bots_per_user = 1\n",
    ));
    for name in ["a1", "a2"] {
        home.botctl(&[
            "bots", "add", name, "--user", "alice", "--", "sleep", "1000",
        ])
        .ok();
    }
    home.botctl(&[
        "bots", "add", "a3", "--user", "alice", "--", "sleep", "1000",
    ])
    .code(1)
    .says(&["alice has 2 bots", "max_bots_per_user is 2"]);
    assert!(
        !home.file("bots.d/a3.toml").exists(),
        "a refused bot leaves no file"
    );
    home.botctl(&["bots", "add", "b1", "--user", "bob", "--", "sleep", "1000"])
        .ok();
    home.botctl(&[
        "bots", "add", "c1", "--user", "carol", "--", "sleep", "1000",
    ])
    .code(1)
    .says(&["3 bots", "max_total_bots is 3"]);

    // Files dropped in beyond the limits are shown as over-limit, not started, not dropped.
    home.write_bot("b2", &sleeper("bob"));
    home.write_bot("c2", &sleeper("carol"));
    home.botctl(&["reload"]).ok();
    for name in ["b2", "c2"] {
        let bot = home.bot(name);
        assert_eq!(bot["state"], "over-limit", "{bot:#}");
        assert!(bot["pid"].is_null());
        assert!(bot_pids(&home, name).is_empty());
    }
    assert!(
        home.bot("b2")["detail"]
            .as_str()
            .unwrap()
            .contains("owner bob has 1 bots and max_bots_per_user is 1")
    );
    let text = home.botctl(&["status"]).code(1);
    assert!(text.stdout.contains("2 over limit"), "{text:?}");
    let events = home.events("c2");
    assert!(
        kinds(&events).contains(&"over-limit".to_string()),
        "{events:#?}"
    );

    // Freeing a slot and reloading starts a waiting bot.
    home.botctl(&["bots", "remove", "b1"]).ok();
    home.botctl(&["reload"]).ok();
    home.running_pid("b2");
    assert_eq!(
        home.bot("c2")["state"],
        "over-limit",
        "the fleet is full again"
    );
}

#[test]
fn status_shows_the_host() {
    let home = Home::new();
    home.write_config(&config(""));
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");
    let status = wait_for("a host sample", WAIT, || {
        let status = home.status();
        ensure(!status["host"].is_null(), status.clone()).map(|_| status)
    });
    let host = &status["host"];
    assert!(host["memory_total_bytes"].as_u64().unwrap() > 0, "{host:#}");
    assert!(host["memory_used_bytes"].as_u64().unwrap() > 0, "{host:#}");
    assert!(host["disk_total_bytes"].as_u64().unwrap() > 0, "{host:#}");
    assert_eq!(host["load"].as_array().unwrap().len(), 3, "{host:#}");
    assert!(host["uptime_secs"].as_u64().unwrap() > 0, "{host:#}");
    assert!(host["cpu_percent"].is_number(), "{host:#}");
    let out = home.botctl(&["status"]).ok();
    assert!(out.stdout.contains("host: cpu "), "{out:?}");
    assert!(
        out.stdout.contains("CPU") && out.stdout.contains("MEM"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("fleet: 1 bot: 1 running, 0 failed, 0 auth issues, 0 over limit"),
        "{out:?}"
    );
}

#[test]
fn a_hung_health_endpoint_does_not_stall_the_agent() {
    let home = Home::new();
    home.write_config(&config(""));
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    home.write_bot(
        "stuck",
        &format!(
            "user = \"dan\"\ncommand = [\"sleep\", \"1000\"]\n[health]\nhttp = \"http://127.0.0.1:{port}/\"\ninterval = \"1s\"\ntimeout = \"30s\"\nstart_grace = \"0s\"\n"
        ),
    );
    home.running_pid("stuck");
    // Let a check get stuck on the silent endpoint, then the agent must still answer at once.
    let (_conn, _) = listener.accept().unwrap();
    let t = Instant::now();
    home.botctl(&["status"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "status answered while a check hangs ({:?})",
        t.elapsed()
    );
}
