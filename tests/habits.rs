//! The habits operators bring from systemctl, supervisorctl and pm2: `status BOT...` and its
//! exit code, one colour rule, `events -n 0 -f`, RFC 3339 times, and `--json` on every change.

use std::process::Stdio;

use serde_json::Value;

use crate::support::*;

/// A JSON string that reads as an RFC 3339 UTC time with milliseconds.
fn is_rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
    })
}

#[test]
fn status_shows_the_bots_asked_for_and_exits_by_what_needs_attention() {
    let home = Home::fast();
    home.write_bot("ok1", &sleeper("alice"));
    home.write_bot("ok2", &sleeper("bob"));
    home.running_pid("ok1");
    home.running_pid("ok2");

    let all = home.botctl(&["status"]).ok();
    assert!(
        all.stdout.contains("ok1") && all.stdout.contains("ok2"),
        "{all:?}"
    );
    let one = home.botctl(&["status", "ok1"]).ok();
    assert!(
        one.stdout.contains("ok1") && !one.stdout.contains("ok2"),
        "{one:?}"
    );
    assert!(one.stdout.contains("fleet: 1 bot: 1 running"), "{one:?}");
    let bob = home.botctl(&["status", "--user", "bob"]).ok();
    assert!(
        bob.stdout.contains("ok2") && !bob.stdout.contains("ok1"),
        "{bob:?}"
    );
    home.botctl(&["status", "ok1", "nosuch"])
        .code(1)
        .says(&["no bot named nosuch"]);

    let json = home.botctl(&["status", "--json"]).ok().json();
    let summary = &json["summary"];
    assert_eq!(summary["bots"], 2, "{json:#}");
    assert_eq!(summary["running"], 2, "{json:#}");
    assert_eq!(summary["failed"], 0, "{json:#}");
    assert_eq!(summary["over_limit"], 0, "{json:#}");
    assert_eq!(summary["stopped"], 0, "{json:#}");
    assert_eq!(summary["auth_valid"], 0, "{json:#}");
    assert_eq!(summary["auth_invalid"], 0, "{json:#}");
    assert_eq!(summary["needs_attention"], false, "{json:#}");
    assert!(is_rfc3339(&json["agent"]["started_at"]), "{json:#}");
    assert!(json["agent"]["started_at_ms"].is_i64(), "{json:#}");

    let list = home.botctl(&["bots", "list", "--user", "alice"]).ok();
    assert!(
        list.stdout.contains("CPU") && list.stdout.contains("MEM"),
        "{list:?}"
    );

    // A bot that crashes at once: backoff, then failed. Either needs attention.
    home.write_bot(
        "crash",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    home.botctl(&["reload"]).ok();
    wait_for("crash needs attention", WAIT, || {
        let out = home.botctl(&["status", "--json"]);
        ensure(out.code == 1, out)
    });
    let text = home.botctl(&["status"]).code(1);
    assert!(text.stdout.contains("crash"), "{text:?}");
    let json = home.botctl(&["status", "--json"]).code(1).json();
    assert_eq!(json["summary"]["needs_attention"], true, "{json:#}");
    assert!(
        is_rfc3339(&row(&json, "crash").unwrap()["last_exit"]["at"]),
        "{json:#}"
    );
    // Only the bots asked about count.
    home.botctl(&["status", "ok1", "ok2"]).ok();
    home.botctl(&["status", "--user", "bob"]).ok();
    home.botctl(&["status", "crash"]).code(1);
    home.botctl(&["status", "--help"]).ok().says(&[
        "1  something needs attention",
        "botctl status >/dev/null || alert",
    ]);
}

/// `botctl ARGS` with these environment variables and none of the colour ones inherited.
fn with_env(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = home.command(args);
    for var in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM"] {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().copied());
    Output::from_command(args, cmd)
}

#[test]
fn colour_follows_one_rule_for_help_tables_and_log_names() {
    let home = Home::fast();
    home.write_bot(
        "c1",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"echo hi; exec sleep 1000\"]\n",
    );
    home.write_bot("c2", &sleeper("alice"));
    home.running_pid("c1");
    home.running_pid("c2");
    wait_for("c1 wrote", WAIT, || {
        let out = std::fs::read_to_string(home.file("logs/c1.out")).unwrap_or_default();
        ensure(out == "hi\n", out)
    });
    let esc = "\x1b[";
    // (environment, whether colour is expected); output is a pipe here, not a terminal.
    let cases: [(&[(&str, &str)], bool); 6] = [
        (&[], false),
        (&[("TERM", "xterm-256color"), ("CLICOLOR", "1")], false),
        (&[("CLICOLOR_FORCE", "1")], true),
        (&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")], true),
        (&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], false),
        (&[("CLICOLOR_FORCE", "0")], false),
    ];
    for (vars, colour) in cases {
        for args in [&["--help"][..], &["status"], &["logs", "c1", "c2"]] {
            let out = with_env(&home, args, vars).ok();
            assert_eq!(
                out.stdout.contains(esc),
                colour,
                "colour {colour} expected with {vars:?}:\n{out:?}"
            );
        }
    }
    // A usage error is coloured by the same rule (on stderr).
    let bad = with_env(&home, &["status", "--bogus"], &[("CLICOLOR_FORCE", "1")]).code(2);
    assert!(bad.stderr.contains(esc), "{bad:?}");

    // On a real terminal (script(1) gives the command one): colour unless TERM=dumb, CLICOLOR=0
    // or NO_COLOR.
    for (vars, colour) in [
        (&[("TERM", "xterm")][..], true),
        (&[("TERM", "dumb")], false),
        (&[("TERM", "xterm"), ("CLICOLOR", "0")], false),
        (&[("TERM", "xterm"), ("NO_COLOR", "1")], false),
    ] {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &format!("{BIN} status"), "/dev/null"])
            .env("BOTCTL_HOME", home.path())
            .env_remove("NO_COLOR")
            .env_remove("BOTCTL_READY_FD")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = Output::from_command(&["status (on a terminal)"], cmd).ok();
        assert!(out.stdout.contains("c1"), "{out:?}");
        assert_eq!(
            out.stdout.contains(esc),
            colour,
            "colour {colour} expected on a terminal with {vars:?}:\n{out:?}"
        );
    }
}

#[test]
fn events_n0_follow_prints_only_new_events_in_the_same_json_shape() {
    let home = Home::fast();
    home.write_bot("ev", &sleeper("alice"));
    let pid = home.running_pid("ev");

    let listed = home.json(&["events", "--bot", "ev", "--json"]);
    let listed = listed.as_array().expect("an array").clone();
    assert!(!listed.is_empty());
    let newest_old = listed
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .max()
        .unwrap();
    for e in &listed {
        assert!(is_rfc3339(&e["time"]) && e["ts_ms"].is_i64(), "{e:#}");
    }
    assert_eq!(
        home.json(&["events", "--bot", "ev", "--json", "-n", "0"]),
        Value::Array(vec![])
    );

    let args = ["events", "-n", "0", "-f", "--json", "--bot", "ev"];
    let mut follower = KillOnDrop(home.command(&args).spawn().expect("events -f"));
    let rx = lines_of(&mut follower.0);
    // The follower prints nothing until something happens, so when its first query is done
    // cannot be seen: restart until one restart's events come through (each restart makes
    // new events, so the wait ends as soon as the follower listens).
    let mut lines: Vec<String> = Vec::new();
    let mut pid = pid;
    let followed: Vec<Value> = wait_for("a restart's events from events -n 0 -f", WAIT, || {
        home.botctl(&["restart", "ev"]).ok();
        pid = home.new_pid("ev", pid);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let mut events: Vec<Value> = Vec::new();
        while std::time::Instant::now() < deadline {
            lines.extend(rx.try_iter());
            events = lines
                .iter()
                .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
                .collect();
            if events.iter().any(|e| e["kind"] == "restarted") {
                return Ok(events);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Err(events)
    });
    for e in &followed {
        assert!(
            e["id"].as_i64().unwrap() > newest_old,
            "-n 0 -f printed an old event: {e:#}"
        );
    }
    // The same object either way.
    let all = home.json(&["events", "--bot", "ev", "--json", "-n", "1000"]);
    let same = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == followed[0]["id"])
        .expect("the followed event is in the list");
    assert_eq!(same, &followed[0]);
}

#[test]
fn every_change_takes_json_and_says_what_it_did() {
    let home = Home::fast();
    let add = home.json(&[
        "bots", "add", "js", "--user", "alice", "--json", "--", "sleep", "1000",
    ]);
    assert_eq!(add["bot"], "js", "{add:#}");
    assert_eq!(add["ok"], true, "{add:#}");
    home.running_pid("js");
    for action in ["stop", "start", "restart"] {
        let report = home.json(&[action, "js", "--json"]);
        assert_eq!(report["action"], action, "{report:#}");
        assert_eq!(report["outcomes"][0]["bot"], "js", "{report:#}");
        assert_eq!(report["outcomes"][0]["ok"], true, "{report:#}");
    }
    let recover = home.json(&["recover", "--json"]);
    assert_eq!(recover["outcomes"], Value::Array(vec![]), "{recover:#}");
    let cleanup = home.json(&["cleanup", "--json"]);
    assert!(cleanup["items"].is_array(), "{cleanup:#}");
    let removed = home.json(&["bots", "remove", "js", "--json"]);
    assert_eq!(removed["ok"], true, "{removed:#}");

    // Every --json flag says what it does in --help.
    let mut stack = vec![Vec::<String>::new()];
    while let Some(path) = stack.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = home.botctl(&args).ok().stdout;
        if let Some(line) = help.lines().find(|l| l.trim_start().starts_with("--json")) {
            assert!(
                line.trim_start().trim_start_matches("--json").trim().len() > 3,
                "`botctl {}` --json has no help text: {line:?}",
                path.join(" ")
            );
        }
        let commands = help
            .split("Commands:\n")
            .nth(1)
            .map(|rest| rest.split("\n\n").next().unwrap_or_default().to_string());
        for line in commands.unwrap_or_default().lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && name != "help" {
                let mut sub = path.clone();
                sub.push(name.to_string());
                stack.push(sub);
            }
        }
    }
}

#[test]
fn agent_stop_counts_only_the_bots_it_stopped() {
    let home = Home::fast();
    home.write_bot("up", &sleeper("alice"));
    home.write_bot("off", &format!("{}enabled = false\n", sleeper("alice")));
    home.running_pid("up");
    home.botctl(&["agent", "stop"])
        .ok()
        .says(&["after stopping 1 bot(s)"]);
}
