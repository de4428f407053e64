//! What the operator decided outlives the agent (an `agent restart`, a SIGKILL), and a new
//! agent tells a bot's own process from anything that merely carries the bot's name.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

/// What a user sees of each bot in `status`: state, pid, restart count, last exit (without
/// its time, which is only kept to the millisecond) and the start of the detail line.
fn seen(home: &Home) -> BTreeMap<String, Value> {
    let status = home.status();
    let bots = status["bots"].as_array().cloned().unwrap_or_default();
    bots.into_iter()
        .map(|b| {
            let detail = b["detail"].as_str().unwrap_or("");
            let view = serde_json::json!({
                "state": b["state"],
                "pid": b["pid"],
                "restarts": b["restarts"],
                "exit": [b["last_exit"]["code"], b["last_exit"]["signal"]],
                "detail": detail.split(';').next(),
            });
            (b["name"].as_str().unwrap_or("?").to_string(), view)
        })
        .collect()
}

/// How many times each bot was started by anyone: `started`, `restarted` and `recovered`.
fn starts(home: &Home, bots: &[&str]) -> BTreeMap<String, usize> {
    bots.iter()
        .map(|b| {
            let n = home
                .events(b)
                .iter()
                .filter(|e| {
                    ["started", "restarted", "recovered"]
                        .contains(&e["kind"].as_str().unwrap_or(""))
                })
                .count();
            (b.to_string(), n)
        })
        .collect()
}

#[test]
fn stopped_unstarted_and_failed_bots_stay_so_across_agent_restarts_and_kills() {
    let home = Home::fast();
    home.write_bot("runs", &sleeper("alice"));
    home.write_bot("stops", &sleeper("alice"));
    // Exits at once: one automatic restart, then `failed` for an hour.
    home.write_bot(
        "fails",
        "user = \"alice\"\ncommand = [\"false\"]\n[restart]\nmax_restarts = 1\nretry_after = \"1h\"\n",
    );
    home.running_pid("runs");
    home.botctl(&["restart", "runs"]).ok();
    home.botctl(&["restart", "runs"]).ok();
    home.running_pid("stops");
    home.botctl(&["stop", "stops"]).ok();
    home.botctl(&[
        "bots",
        "add",
        "idle",
        "--user",
        "alice",
        "--no-start",
        "--",
        "sleep",
        "1000",
    ])
    .ok()
    .says(&["not started"]);
    wait_for("fails to fail", WAIT, || {
        let bot = home.bot("fails");
        ensure(bot["state"] == "failed", bot)
    });
    let bots = ["runs", "stops", "idle", "fails"];
    let before = seen(&home);
    assert_eq!(before["runs"]["restarts"], 2, "{before:#?}");
    assert_eq!(before["stops"]["state"], "stopped");
    assert_eq!(before["idle"]["state"], "stopped");
    assert_eq!(before["fails"]["restarts"], 1);
    assert_eq!(before["fails"]["exit"], serde_json::json!([1, null]));
    let started = starts(&home, &bots);

    home.botctl(&["agent", "restart"]).ok().says(&["restarted"]);
    assert_eq!(seen(&home), before, "after `agent restart`");

    kill_agent(&home);
    // `fails` is failed: status exits 1 for it.
    home.botctl(&["status"])
        .code(1)
        .says(&["started the agent"]);
    assert_eq!(seen(&home), before, "after the agent was SIGKILLed");
    assert_eq!(
        starts(&home, &bots),
        started,
        "no bot was started by either agent"
    );
    for bot in ["stops", "idle", "fails"] {
        assert!(bot_pids(&home, bot).is_empty(), "{bot} has no process");
    }

    // The restart count goes on from where it was.
    home.botctl(&["restart", "runs"]).ok();
    assert_eq!(home.bot("runs")["restarts"], 3);

    // `agent stop` stops every bot, but that is no decision about any one of them: the next
    // agent starts the bot that was running, and only that one.
    let runs = home.running_pid("runs");
    home.botctl(&["agent", "stop"]).ok();
    home.botctl(&["status"])
        .code(1)
        .says(&["started the agent"]);
    assert_ne!(home.running_pid("runs"), runs);
    let after = seen(&home);
    for bot in ["stops", "idle", "fails"] {
        assert_eq!(
            after[bot]["state"], before[bot]["state"],
            "{bot}: {after:#?}"
        );
    }
}

/// A bot that starts a helper in a session of its own (`setsid`), as daemons do.
const HELPED: &str =
    "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"setsid sleep 1000 & exec sleep 1000\"]\n";

/// Waits for the helper of bot `name` (whose own process is `bot`): a process carrying the
/// bot's name that leads a group of its own.
#[track_caller]
fn helper_of(home: &Home, name: &str, bot: u32) -> u32 {
    wait_for(&format!("the helper of {name}"), WAIT, || {
        let pids = bot_pids(home, name);
        // SAFETY: getpgid only reads the process table.
        let leader = |p: u32| unsafe { libc::getpgid(p as libc::pid_t) } == p as libc::pid_t;
        pids.iter()
            .copied()
            .find(|&p| p != bot && leader(p))
            .ok_or(pids)
    })
}

/// Waits for an `unrecorded` event of `bot` naming each of `pids`; fails on one naming
/// another pid.
#[track_caller]
fn wait_unrecorded(home: &Home, bot: &str, pids: &[u32]) {
    wait_for(&format!("unrecorded events for {bot}"), WAIT, || {
        let named: Vec<String> = home
            .events(bot)
            .iter()
            .filter(|e| e["kind"] == "unrecorded")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect();
        let each = pids
            .iter()
            .all(|p| named.iter().any(|m| m.contains(&format!("(pid {p})"))));
        ensure(each && named.len() == pids.len(), named)
    });
}

/// No event of these bots says a process was taken for the bot or stopped as a copy of it.
#[track_caller]
fn assert_no_duplicate_or_discovery(home: &Home, bots: &[&str]) {
    for bot in bots {
        for e in home.events(bot) {
            let message = e["message"].as_str().unwrap_or("");
            assert!(
                e["kind"] != "discovered" && !message.contains("copy"),
                "{bot}: {e:#}"
            );
        }
    }
}

#[test]
fn helpers_that_left_the_group_are_adopted_unrecorded_and_stopped_with_their_bot() {
    let home = Home::fast();
    home.write_bot("helped", HELPED);
    home.write_bot("parked", HELPED);
    let bot = home.running_pid("helped");
    let helper = helper_of(&home, "helped", bot);
    let parked = home.running_pid("parked");
    let parked_helper = helper_of(&home, "parked", parked);
    home.botctl(&["stop", "parked"]).ok().says(&["stopped"]);
    assert!(!alive(parked), "the bot itself is stopped");
    assert!(
        !alive(parked_helper),
        "a stop reaches the helper outside its group too (containment)"
    );

    kill_agent(&home);
    home.botctl(&["status"]).ok().says(&["started the agent"]);
    assert_eq!(home.running_pid("helped"), bot, "the bot itself is adopted");
    assert_eq!(
        home.bot("parked")["state"],
        "stopped",
        "stopped stays stopped"
    );
    wait_unrecorded(&home, "helped", &[helper]);
    assert!(alive(helper), "the running bot's helper is not killed");
    assert_no_duplicate_or_discovery(&home, &["helped", "parked"]);
    let parked_starts = starts(&home, &["parked"]);
    assert_eq!(parked_starts["parked"], 1, "started once, before the stop");
}

#[test]
fn a_process_claiming_another_bots_name_is_neither_adopted_nor_killed() {
    let home = Home::fast();
    // Bot a's own process says it is b (env can override BOTCTL_BOT in the command).
    home.write_bot(
        "a",
        "user = \"alice\"\ncommand = [\"env\", \"BOTCTL_BOT=b\", \"sleep\", \"1000\"]\n",
    );
    home.write_bot("b", &sleeper("alice"));
    home.write_bot("c", &sleeper("alice"));
    let a = home.running_pid("a");
    let b = home.running_pid("b");
    home.running_pid("c");
    home.botctl(&["stop", "c"]).ok();
    // Processes of nobody's that lead their own group and carry b's and c's names.
    let forge = |name: &str| {
        let child = Command::new("sleep")
            .arg("1000")
            .env("BOTCTL_HOME", home.path())
            .env("BOTCTL_BOT", name)
            .env("BOTCTL_OWNER", "alice")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a forger");
        KillOnDrop(child)
    };
    let forged_b = forge("b");
    let forged_c = forge("c");
    let (fb, fc) = (forged_b.0.id(), forged_c.0.id());

    kill_agent(&home);
    home.botctl(&["status"]).ok().says(&["started the agent"]);
    assert_eq!(home.running_pid("a"), a, "a keeps its own process");
    assert_eq!(home.running_pid("b"), b, "b keeps its own process");
    assert_eq!(
        home.bot("c")["state"],
        "stopped",
        "c is not revived by a forger"
    );
    wait_unrecorded(&home, "b", &[fb]);
    wait_unrecorded(&home, "c", &[fc]);
    for pid in [a, b, fb, fc] {
        assert!(alive(pid), "{pid} is not killed");
    }
    assert_no_duplicate_or_discovery(&home, &["a", "b", "c"]);
}
