//! Supervision as a user sees it: start, stop and restart by name, owner or all; restart after a
//! crash; backoff, failed, recover and the automatic retry; stopping whole process groups.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// A little past the FAST stable_after (300ms).
const STABLE: Duration = Duration::from_millis(500);

#[test]
fn restart_replaces_the_process() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let old = home.running_pid("hello");

    let out = home.botctl(&["restart", "hello"]).ok().says(&["restarted"]);
    assert!(!alive(old), "old pid {old} is gone when restart returns");
    let bot = home.bot("hello");
    let new = pid_of(&bot).expect("a pid after restart");
    assert_ne!(new, old, "{bot:#}");
    assert!(alive(new));
    assert!(out.stdout.contains(&format!("pid {new}")), "{out:?}");
    assert_eq!(bot["state"], "running");
    assert_eq!(bot["restarts"], 1, "{bot:#}");
    assert_eq!(bot_pids(&home, "hello"), vec![new]);
}

#[test]
fn start_and_stop_report_what_they_did() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let pid = home.running_pid("hello");

    home.botctl(&["stop", "hello"])
        .ok()
        .says(&["hello", "stopped"]);
    assert!(!alive(pid), "stopped before stop returns");
    assert_eq!(home.bot("hello")["state"], "stopped");
    assert!(home.bot("hello")["pid"].is_null());
    home.botctl(&["stop", "hello"])
        .ok()
        .says(&["already stopped"]);

    let start = home.botctl(&["start", "hello"]).ok().says(&["started"]);
    let pid = home.running_pid("hello");
    assert!(start.stdout.contains(&format!("pid {pid}")), "{start:?}");
    home.botctl(&["start", "hello"])
        .ok()
        .says(&["already running"]);
}

#[test]
fn actions_take_json_with_a_selection() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");

    let json = home.json(&["stop", "hello", "--json"]);
    assert_eq!(json["action"], "stop", "{json:#}");
    assert_eq!(json["outcomes"][0]["bot"], "hello", "{json:#}");
    assert_eq!(json["outcomes"][0]["ok"], true, "{json:#}");
    assert_eq!(json["outcomes"][0]["state"], "stopped", "{json:#}");
    let json = home.json(&["start", "--all", "--json"]);
    assert_eq!(json["outcomes"][0]["state"], "running", "{json:#}");
    let json = home.json(&["restart", "--user", "alice", "--json"]);
    assert_eq!(json["outcomes"][0]["ok"], true, "{json:#}");
    // --json is not a selection: without one, nothing to act on is a usage error.
    home.botctl(&["stop", "--json"]).code(2);
}

#[test]
fn unknown_bots_and_owners_fail_and_are_named() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let pid = home.running_pid("hello");
    for action in ["start", "stop", "restart", "recover"] {
        let out = home.botctl(&[action, "nosuch"]).code(1).says(&["nosuch"]);
        assert!(out.stderr.contains("nosuch"), "stderr names it:\n{out:?}");
    }
    // One unknown name among known ones: the known one is acted on, the exit says 1.
    home.botctl(&["stop", "hello", "nosuch"])
        .code(1)
        .says(&["nosuch"]);
    assert!(!alive(pid));
    home.botctl(&["restart", "--user", "nobody"])
        .code(1)
        .says(&["nobody"]);
    // A command line that does not parse is a usage error.
    home.botctl(&["restart"]).code(2);
}

#[test]
fn selections_by_all_and_by_owner_affect_exactly_those_bots() {
    let home = Home::fast();
    for (bot, owner) in [
        ("a1", "alice"),
        ("a2", "alice"),
        ("b1", "bob"),
        ("b2", "bob"),
    ] {
        home.write_bot(bot, &sleeper(owner));
    }
    let before: Vec<u32> = ["a1", "a2", "b1", "b2"]
        .iter()
        .map(|b| home.running_pid(b))
        .collect();

    let out = home.botctl(&["restart", "--user", "bob"]).ok();
    assert_eq!(
        out.stdout.lines().count(),
        2,
        "one line per bob bot:\n{out:?}"
    );
    assert_eq!(home.running_pid("a1"), before[0], "alice's bots untouched");
    assert_eq!(home.running_pid("a2"), before[1], "alice's bots untouched");
    for (i, bot) in ["b1", "b2"].iter().enumerate() {
        let pid = home.running_pid(bot);
        assert_ne!(pid, before[2 + i], "{bot} restarted");
        assert!(!alive(before[2 + i]));
    }

    home.botctl(&["stop", "--all"]).ok();
    let status = home.status();
    for bot in ["a1", "a2", "b1", "b2"] {
        let row = row(&status, bot).expect("row");
        assert_eq!(row["state"], "stopped", "{row:#}");
        assert_eq!(
            bot_pids(&home, bot),
            Vec::<u32>::new(),
            "{bot} has no process"
        );
    }

    home.botctl(&["start", "--user", "alice"]).ok();
    home.running_pid("a1");
    home.running_pid("a2");
    let status = home.status();
    for bot in ["b1", "b2"] {
        assert_eq!(row(&status, bot).expect("row")["state"], "stopped");
    }
}

#[test]
fn a_killed_bot_is_restarted() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let old = home.running_pid("hello");
    // After a stable run the restart is immediate (no backoff).
    wait_age(old, STABLE);

    kill(old, libc::SIGKILL);
    let new = home.new_pid("hello", old);
    let bot = home.bot("hello");
    assert_eq!(bot["restarts"], 1, "{bot:#}");
    assert_eq!(bot["last_exit"]["signal"], 9, "{bot:#}");
    assert_eq!(bot_pids(&home, "hello"), vec![new]);

    let events = wait_for("exited and restarted events", WAIT, || {
        let events = home.events("hello");
        let k = kinds(&events);
        ensure(
            k.contains(&"exited".to_string()) && k.contains(&"restarted".to_string()),
            events.clone(),
        )
        .map(|_| events)
    });
    assert!(
        !kinds(&events).contains(&"backoff".to_string()),
        "no backoff after a stable run: {events:#?}"
    );
    let text = home.botctl(&["events", "--bot", "hello"]).ok();
    assert!(text.stdout.contains("SIGKILL"), "{text:?}");
}

#[test]
fn a_bot_whose_directories_were_removed_restarts_and_has_them_again() {
    // The agent looks its directories up only where the last start did not find them: a
    // restart after they went makes them again and starts the bot.
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let old = home.running_pid("hello");
    wait_age(old, STABLE);
    let cwd = std::fs::read_link(format!("/proc/{old}/cwd")).unwrap();
    let log = std::fs::read_link(format!("/proc/{old}/fd/1")).unwrap();
    std::fs::remove_dir_all(&cwd).unwrap();
    std::fs::remove_dir_all(log.parent().unwrap()).unwrap();

    kill(old, libc::SIGKILL);
    let new = home.new_pid("hello", old);
    assert_eq!(home.bot("hello")["state"], "running");
    assert_eq!(std::fs::read_link(format!("/proc/{new}/cwd")).unwrap(), cwd);
    assert_eq!(
        std::fs::read_link(format!("/proc/{new}/fd/1")).unwrap(),
        log
    );
    assert!(cwd.is_dir() && log.is_file());
    let events = home.events("hello");
    assert!(
        !kinds(&events).contains(&"spawn-failed".to_string()),
        "{events:#?}"
    );
}

#[test]
fn the_first_quick_failure_restarts_at_once_and_the_second_waits() {
    let home = Home::new();
    home.write_config("[restart]\nstable_after = \"10s\"\nbackoff_initial = \"5s\"\n");
    home.write_bot(
        "flaky",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"sleep 0.3; exit 1\"]\n",
    );
    let first = home.running_pid("flaky");
    let seen_first = std::time::Instant::now();
    let second = home.new_pid("flaky", first);
    let gap = seen_first.elapsed();
    let seen_second = std::time::Instant::now();
    // 0.3s of run and the polling: far from the 5s a backoff would take.
    assert!(gap < Duration::from_secs(3), "first restart took {gap:?}");

    let bot = wait_for("flaky backing off", WAIT, || {
        let bot = home.bot("flaky");
        ensure(bot["state"] == "backoff", bot.clone()).map(|_| bot)
    });
    assert!(bot["pid"].is_null(), "{bot:#}");
    let third = home.new_pid("flaky", second);
    assert_ne!(third, first);
    let gap = seen_second.elapsed();
    assert!(
        gap >= Duration::from_secs(5),
        "second restart after {gap:?}"
    );

    let events = home.events("flaky");
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.ends_with("restarting now (quick failure 1)")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.ends_with("restarting in 5s (quick failure 2)")),
        "{messages:#?}"
    );
}

/// A bot that fails at once, with three restarts allowed per window.
fn crasher(retry_after: &str) -> String {
    format!(
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n\n\
         [restart]\nmax_restarts = 3\nretry_after = \"{retry_after}\"\n"
    )
}

#[track_caller]
fn wait_failed(home: &Home, name: &str) -> serde_json::Value {
    wait_for(&format!("{name} failed"), WAIT, || {
        let bot = home.bot(name);
        ensure(bot["state"] == "failed", bot.clone()).map(|_| bot)
    })
}

#[test]
fn a_crash_loop_backs_off_then_fails_and_says_why() {
    let home = Home::fast();
    home.write_bot("crash", &crasher("1h"));
    home.write_bot("ok", &sleeper("alice"));
    home.running_pid("ok");

    let bot = wait_failed(&home, "crash");
    assert!(bot["pid"].is_null(), "{bot:#}");
    assert_eq!(bot["last_exit"]["code"], 3, "{bot:#}");
    assert_eq!(bot["restarts"], 3, "{bot:#}");
    let detail = bot["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("too many restarts (last: exited with code 3)"),
        "{bot:#}"
    );
    assert!(detail.contains("botctl recover crash"), "{bot:#}");
    let status = home.botctl(&["status"]).code(1);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.contains("crash") && l.contains("failed") && l.contains("code 3")),
        "{status:?}"
    );
    status.says(&["needs attention", "too many restarts"]);

    let events = home.events("crash");
    let k = kinds(&events);
    let first_backoff = k.iter().position(|k| k == "backoff");
    let failed = k.iter().position(|k| k == "failed");
    assert!(
        matches!((first_backoff, failed), (Some(b), Some(f)) if b < f),
        "backoff before failed: {k:?}"
    );
    // Three restarts allowed: the first quick failure restarts at once, the next two wait.
    assert_eq!(k.iter().filter(|k| *k == "backoff").count(), 2, "{k:?}");
    let first_exit = &events[k.iter().position(|k| k == "exited").expect("an exit")];
    assert!(
        first_exit["message"]
            .as_str()
            .unwrap_or_default()
            .ends_with("restarting now (quick failure 1)"),
        "{events:#?}"
    );
    assert!(
        events[failed.unwrap()]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("code 3"),
        "{events:#?}"
    );
    assert_eq!(home.bot("ok")["restarts"], 0, "the other bot is untouched");
}

#[test]
fn start_of_a_failed_bot_starts_it_and_it_fails_again() {
    // `start` answers once the process runs (like systemd's simple services); a bot that then
    // crashes again is reported by status, not by start.
    let home = Home::fast();
    home.write_bot("crash", &crasher("1h"));
    wait_failed(&home, "crash");
    home.botctl(&["start", "crash"])
        .ok()
        .says(&["crash", "started"]);
    wait_failed(&home, "crash");
}

#[test]
fn start_of_a_bot_that_cannot_spawn_exits_1_and_says_why() {
    let home = Home::fast();
    home.write_bot(
        "typo",
        "user = \"alice\"\ncommand = [\"/nonexistent/bot\"]\n",
    );
    home.botctl(&["status"]).code_in(&[0, 1]);
    home.botctl(&["start", "typo"]).code(1).says(&[
        "FAIL",
        "typo",
        "cannot run",
        "/nonexistent/bot",
    ]);
    let bot = home.bot("typo");
    assert!(bot["pid"].is_null(), "{bot:#}");
    assert!(
        bot["state"] == "backoff" || bot["state"] == "failed",
        "{bot:#}"
    );
    let k = kinds(&home.events("typo"));
    assert!(k.contains(&"spawn-failed".to_string()), "{k:?}");
}

#[test]
fn recover_starts_a_failed_bot_now() {
    let home = Home::fast();
    home.write_bot("crash", &crasher("1h"));
    let before = wait_failed(&home, "crash");
    let recovered = |home: &Home| {
        home.events("crash")
            .iter()
            .filter(|e| e["kind"] == "recovered")
            .count()
    };
    assert_eq!(recovered(&home), 0);

    home.botctl(&["recover", "crash"]).ok().says(&["crash"]);
    let events = home.events("crash");
    let recover = events
        .iter()
        .position(|e| e["kind"] == "recovered")
        .unwrap_or_else(|| panic!("a recovered event: {events:#?}"));
    assert!(
        events[recover]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("user"),
        "{events:#?}"
    );
    assert!(
        events[recover..].iter().any(|e| e["kind"] == "restarted"),
        "a new spawn after the recover: {events:#?}"
    );
    let after = home.bot("crash");
    assert!(
        after["restarts"].as_u64() > before["restarts"].as_u64(),
        "{before:#} -> {after:#}"
    );

    // Without names: every failed bot; with none failing, says so.
    wait_failed(&home, "crash");
    home.botctl(&["recover"]).ok().says(&["crash"]);
    assert_eq!(recovered(&home), 2);
    home.botctl(&["stop", "crash"]).ok();
    home.botctl(&["recover"]).ok().says(&["nothing to recover"]);
}

#[test]
fn a_failed_bot_is_retried_after_the_cool_down() {
    let home = Home::fast();
    home.write_bot("crash", &crasher("2s"));
    wait_failed(&home, "crash");
    let event = wait_for("an automatic recovered event", WAIT, || {
        let events = home.events("crash");
        events
            .iter()
            .find(|e| e["kind"] == "recovered")
            .cloned()
            .ok_or(events)
    });
    let message = event["message"].as_str().unwrap_or_default();
    assert!(message.contains("automatic"), "{event:#}");
}

#[test]
fn stop_kills_a_group_that_ignores_sigterm() {
    let home = Home::fast();
    let pid = stubborn_bot(&home);

    home.botctl(&["stop", "stubborn"]).ok().says(&["stopped"]);
    assert!(!alive(pid));
    let left: Vec<(u32, Vec<String>)> = bot_pids(&home, "stubborn")
        .into_iter()
        .map(|p| (p, cmdline(p)))
        .collect();
    assert!(left.is_empty(), "left behind after stop: {left:?}");
    let bot = home.bot("stubborn");
    assert_eq!(bot["state"], "stopped", "{bot:#}");
    assert_eq!(
        bot["last_exit"]["signal"], 9,
        "SIGKILL after the timeout: {bot:#}"
    );
}

#[test]
fn events_name_who_stopped_a_bot_and_filter_by_owner() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    home.write_bot("other", &sleeper("bob"));
    home.running_pid("hello");
    home.running_pid("other");
    home.botctl(&["stop", "hello"]).ok();

    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let by = format!("uid {uid}");
    let events = home.events("hello");
    let stopped = events
        .iter()
        .rev()
        .find(|e| e["kind"] == "stopped")
        .unwrap_or_else(|| panic!("no stopped event: {events:#?}"));
    assert_eq!(stopped["actor"], by.as_str(), "{stopped:#}");
    // What the agent did by itself names nobody.
    let started = events.iter().find(|e| e["kind"] == "started").unwrap();
    assert!(started["actor"].is_null(), "{started:#}");

    home.botctl(&["events", "--bot", "hello"])
        .ok()
        .says(&[&format!("stopped by user [by {by}]")]);
    let alices = home.json(&["events", "--user", "alice", "--json"]);
    let owners: Vec<&Value> = alices
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["owner"])
        .collect();
    assert!(
        !owners.is_empty() && owners.iter().all(|o| *o == "alice"),
        "{alices:#}"
    );
}

#[test]
fn a_panicking_loop_is_restarted_and_the_agent_carries_on() {
    let home = Home::fast();
    home.write_config(&format!("{FAST}\n[agent]\nhealth_interval = \"1s\"\n"));
    home.write_bot("hello", &sleeper("alice"));
    let started = home
        .command(&["agent", "start"])
        .env("BOTCTL_FAULT_PANIC", "health sampler")
        .output()
        .expect("starting the agent");
    assert!(started.status.success(), "{started:?}");
    let pid = home.running_pid("hello");
    wait_for("a component-restart event", WAIT, || {
        let all = home.json(&["events", "--json", "-n", "1000"]);
        let found = all.as_array().unwrap().iter().any(|e| {
            e["kind"] == "component-restart"
                && e["message"] == "health sampler panicked; restarting in 1s"
        });
        if found { Ok(()) } else { Err(all) }
    });
    // The restarted sampler samples again; the bot never noticed.
    wait_for("memory figures from the restarted sampler", WAIT, || {
        let bot = home.bot("hello");
        if bot["memory_bytes"].as_u64().is_some_and(|m| m > 0) {
            Ok(())
        } else {
            Err(bot)
        }
    });
    assert_eq!(pid_of(&home.bot("hello")), Some(pid));
}

/// A webhook that refuses every alert (HTTP 403, not retried): what the agent drops, it
/// records as `notify-dropped` through the report relay.
fn refusing_webhook() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut conn = conn;
            while read_http_request(&mut reader).is_some() {
                let _ = std::io::Write::write_all(
                    &mut conn,
                    b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n",
                );
            }
        }
    });
    port
}

#[test]
fn a_panicking_report_relay_is_restarted_and_still_records_drops() {
    let home = Home::fast();
    let port = refusing_webhook();
    home.write_config(&format!(
        "{FAST}\n[notify.webhook]\nurl = \"http://127.0.0.1:{port}/hook\"\n"
    ));
    let started = home
        .command(&["agent", "start"])
        .env("BOTCTL_FAULT_PANIC", "notify reports")
        .output()
        .expect("starting the agent");
    assert!(started.status.success(), "{started:?}");
    // The agent's start is alerted; the webhook refuses it; the restarted relay records it.
    wait_for("the restart and the dropped alert", WAIT, || {
        let all = home.json(&["events", "--json", "-n", "1000"]);
        let has = |kind: &str, message: &str| {
            all.as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == kind && e["message"] == message)
        };
        if has(
            "component-restart",
            "notify reports panicked; restarting in 1s",
        ) && has(
            "notify-dropped",
            "1 alert(s) to webhook dropped: HTTP 403 Forbidden",
        ) {
            Ok(())
        } else {
            Err(all)
        }
    });
}

#[test]
fn crashes_are_counted_from_their_cause_and_user_restarts_are_not() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let pid = home.running_pid("hello");
    home.botctl(&["restart", "hello"]).ok();
    let pid = home.new_pid("hello", pid);
    kill(pid, libc::SIGKILL);
    home.new_pid("hello", pid);
    let shown = home.json(&["bots", "show", "hello", "--json"]);
    assert_eq!(shown["record"]["crashes"], 1, "{shown:#}");
    assert_eq!(shown["record"]["limit_restarts"], 0, "{shown:#}");
    assert!(
        shown["record"]["mean_time_to_recovery_ms"].is_u64(),
        "{shown:#}"
    );
}
