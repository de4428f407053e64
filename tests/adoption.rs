//! Bots outlive their agent: a killed, restarted or stopped-with-`--keep-bots` agent leaves them
//! running and the next agent adopts them instead of starting duplicates.

use std::time::Duration;

use crate::support::*;

const BOTS: [&str; 2] = ["a", "b"];

/// A fast home with two one-process bots, running; returns their pids.
fn fleet() -> (Home, Vec<u32>) {
    let home = Home::fast();
    for bot in BOTS {
        home.write_bot(bot, &sleeper("alice"));
    }
    let pids = BOTS.iter().map(|b| home.running_pid(b)).collect();
    (home, pids)
}

/// Every bot runs with the same pid as before, as the only process of that bot, and the agent
/// recorded that it adopted it.
#[track_caller]
fn assert_adopted(home: &Home, pids: &[u32]) {
    let status = home.status();
    for (bot, pid) in BOTS.iter().zip(pids) {
        let row = row(&status, bot).expect("row");
        assert_eq!(row["state"], "running", "{row:#}");
        assert_eq!(pid_of(&row), Some(*pid), "{bot} keeps its pid: {row:#}");
        assert_eq!(bot_pids(home, bot), vec![*pid], "no duplicate of {bot}");
        wait_for(&format!("an adopted event for {bot}"), WAIT, || {
            let events = home.events(bot);
            ensure(events.iter().any(|e| e["kind"] == "adopted"), events)
        });
    }
}

#[test]
fn bots_survive_a_killed_agent_and_are_adopted() {
    let (home, pids) = fleet();
    let agent = home.agent_pid_file().expect("agent pid");
    assert_eq!(agent_pids(&home), vec![agent]);

    kill(agent, libc::SIGKILL);
    wait_agent_gone(&home, agent);
    for (bot, pid) in BOTS.iter().zip(&pids) {
        assert!(alive(*pid), "{bot} outlives the agent");
    }

    let out = home.botctl(&["status"]).ok().says(&["started the agent"]);
    let new_agent = home.agent_pid_file().expect("new agent pid");
    assert_ne!(new_agent, agent);
    assert!(out.stdout.contains(&format!("pid {new_agent}")), "{out:?}");
    assert_eq!(agent_pids(&home), vec![new_agent]);
    assert_adopted(&home, &pids);

    // An adopted bot is watched like any other: killing it gets it restarted.
    wait_age(pids[0], Duration::from_millis(500));
    kill(pids[0], libc::SIGKILL);
    let new = home.new_pid("a", pids[0]);
    assert_eq!(bot_pids(&home, "a"), vec![new]);
    assert_eq!(home.running_pid("b"), pids[1]);
}

#[test]
fn agent_restart_keeps_the_bots() {
    let (home, pids) = fleet();
    let agent = home.agent_pid_file().expect("agent pid");

    let out = home.botctl(&["agent", "restart"]).ok().says(&["restarted"]);
    let new_agent = home.agent_pid_file().expect("new agent pid");
    assert_ne!(new_agent, agent, "{out:?}");
    assert!(!alive(agent));
    assert_eq!(agent_pids(&home), vec![new_agent]);
    assert_adopted(&home, &pids);
}

#[test]
fn agent_stop_keep_bots_leaves_them_for_the_next_agent() {
    let (home, pids) = fleet();
    let agent = home.agent_pid_file().expect("agent pid");

    home.botctl(&["agent", "stop", "--keep-bots"])
        .ok()
        .says(&["2 bot(s) left running"]);
    assert!(!alive(agent), "the agent is gone when stop returns");
    assert!(agent_pids(&home).is_empty());
    for pid in &pids {
        assert!(alive(*pid));
    }
    home.botctl(&["agent", "status"]).code(3);

    home.botctl(&["status"]).ok().says(&["started the agent"]);
    assert_adopted(&home, &pids);
}

#[test]
fn agent_stop_stops_every_bot() {
    let (home, pids) = fleet();
    let agent = home.agent_pid_file().expect("agent pid");

    home.botctl(&["agent", "stop"])
        .ok()
        .says(&["stopped after stopping 2 bot(s)"]);
    assert!(!alive(agent));
    for pid in &pids {
        assert!(!alive(*pid), "bot {pid} stopped with the agent");
    }
    assert!(processes_of(home.path()).is_empty());
    assert!(!home.socket().exists(), "the socket is removed");
    assert!(home.agent_pid_file().is_none(), "the pid file is removed");

    // The next agent starts them again, as new processes.
    home.botctl(&["status"]).ok().says(&["started the agent"]);
    for (bot, old) in BOTS.iter().zip(&pids) {
        assert_ne!(home.running_pid(bot), *old);
    }
}

#[test]
fn the_next_agent_sorts_out_what_changed_while_none_ran() {
    let home = Home::fast();
    for bot in ["kept", "died", "dropped"] {
        home.write_bot(bot, &sleeper("alice"));
    }
    let kept = home.running_pid("kept");
    let died = home.running_pid("died");
    let dropped = home.running_pid("dropped");
    let agent = home.agent_pid_file().expect("agent pid");

    kill(agent, libc::SIGKILL);
    wait_agent_gone(&home, agent);
    kill(died, libc::SIGKILL);
    wait_for("died is dead", WAIT, || ensure(!alive(died), died));
    std::fs::remove_file(home.file("bots.d/dropped.toml")).expect("removing a bot file");

    home.botctl(&["status"]).ok().says(&["started the agent"]);
    let status = home.status();
    let row_kept = row(&status, "kept").expect("kept");
    assert_eq!(pid_of(&row_kept), Some(kept), "adopted: {row_kept:#}");
    let new_died = home.running_pid("died");
    assert_ne!(new_died, died, "a bot that died meanwhile is started again");
    assert_eq!(bot_pids(&home, "died"), vec![new_died]);
    let k = kinds(&home.events("died"));
    assert!(k.contains(&"exited".to_string()), "{k:?}");
    assert!(row(&status, "dropped").is_none(), "{status:#}");
    wait_for("the dropped bot's process stopped", WAIT, || {
        let left = bot_pids(&home, "dropped");
        ensure(left.is_empty(), left)
    });
    assert!(!alive(dropped));
}

#[test]
fn adopted_bots_keep_their_restart_count() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");
    home.botctl(&["restart", "hello"]).ok();
    home.botctl(&["restart", "hello"]).ok();
    let pid = home.running_pid("hello");
    assert_eq!(home.bot("hello")["restarts"], 2);

    home.botctl(&["agent", "restart"]).ok();
    let bot = home.bot("hello");
    assert_eq!(pid_of(&bot), Some(pid), "adopted: {bot:#}");
    assert_eq!(
        bot["restarts"], 2,
        "the restart count survives adoption: {bot:#}"
    );
}

#[test]
fn an_adopted_group_is_stopped_whole() {
    let home = Home::fast();
    let pid = stubborn_bot(&home);
    home.botctl(&["agent", "restart"]).ok();
    assert_eq!(home.running_pid("stubborn"), pid, "adopted");

    home.botctl(&["stop", "stubborn"]).ok().says(&["stopped"]);
    let left: Vec<(u32, Vec<String>)> = bot_pids(&home, "stubborn")
        .into_iter()
        .map(|p| (p, cmdline(p)))
        .collect();
    assert!(left.is_empty(), "left behind after stop: {left:?}");
    assert_eq!(home.bot("stubborn")["state"], "stopped");
}
