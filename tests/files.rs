//! Files a user points somewhere odd: a FIFO or a link to /dev/zero where a bot file or a cookie
//! file should be, and a `bots.d` that cannot be listed or is gone. Nothing hangs or exhausts.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use crate::support::*;

/// The agent's (and each CLI's) address space in these tests: far above what they use, far
/// below what reading /dev/zero would take, so a regression fails here instead of the host.
const MEMORY_LIMIT: u64 = 2 << 30;

/// Runs `botctl ARGS` under `MEMORY_LIMIT` (inherited by an agent it starts), killed if it
/// has not answered within `WAIT`.
fn bounded(home: &Home, args: &[&str]) -> Output {
    let mut cmd = home.command(args);
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let child = cmd.spawn().expect("starting botctl");
    finish_within(args, child, Instant::now() + WAIT).unwrap_or_else(|e| panic!("{e}"))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {c:?}"
    );
}

fn config_issues(status: &Value) -> String {
    status["config_issues"].to_string()
}

/// The agent's pid, which the test checks is still the one answering at the end.
fn agent_pid(home: &Home) -> u64 {
    bounded(home, &["status", "--json"]).code_in(&[0, 1]).json()["agent"]["pid"]
        .as_u64()
        .expect("agent pid")
}

#[test]
fn a_fifo_in_bots_d_is_one_bad_file_and_nothing_waits_for_it() {
    let home = Home::fast();
    home.write_bot("good", &sleeper("alice"));
    mkfifo(&home.file("bots.d/jam.toml"));

    bounded(&home, &["config", "check"])
        .code(1)
        .says(&["bots.d/jam.toml", "is a FIFO, not a regular file"]);
    // The agent starts with the FIFO there: its first load must not wait on it either.
    let status = bounded(&home, &["status", "--json"]).code(1).json();
    assert!(
        config_issues(&status).contains("is a FIFO, not a regular file"),
        "{status:#}"
    );
    let good = home.running_pid("good");
    bounded(&home, &["reload"])
        .code(1)
        .says(&["jam.toml", "is a FIFO, not a regular file"]);
    bounded(
        &home,
        &[
            "bots", "add", "other", "--user", "alice", "--", "sleep", "1000",
        ],
    )
    .ok()
    .says(&["started"]);
    home.running_pid("other");
    assert_eq!(
        home.running_pid("good"),
        good,
        "the good bot was left alone"
    );
}

#[test]
fn links_to_dev_zero_and_fifos_are_refused_not_read() {
    let home = Home::fast();
    home.write_config(&format!("{FAST}\n[agent]\nauth_interval = \"1h\"\n"));
    home.write_bot("good", &sleeper("alice"));
    std::os::unix::fs::symlink("/dev/zero", home.file("bots.d/zero.toml")).unwrap();
    std::fs::create_dir_all(home.file("bots/alice/tw")).unwrap();
    home.write_bot(
        "tw",
        "user = \"alice\"\nplatform = \"twitter\"\ncommand = [\"sleep\", \"1000\"]\n[auth]\ncookies = \"cookies.txt\"\non_invalid = \"alert\"\n",
    );
    std::os::unix::fs::symlink("/dev/zero", home.file("bots/alice/tw/cookies.txt")).unwrap();

    bounded(&home, &["config", "check"]).code(1).says(&[
        "bots.d/zero.toml",
        "is a character device, not a regular file",
    ]);
    let pid = agent_pid(&home);
    home.running_pid("good");
    let check = bounded(&home, &["auth", "check", "tw", "--json"]).code(1);
    let report = check.json();
    assert_eq!(report[0]["outcome"], "malformed", "{report:#}");
    assert_eq!(
        report[0]["detail"], "file is a character device, not a regular file",
        "{report:#}"
    );
    bounded(&home, &["auth", "set-cookies", "tw", "/dev/zero"])
        .code(1)
        .says(&["/dev/zero: is a character device, not a regular file"]);
    // A FIFO given as the new cookie file is refused at once, not waited on.
    let fifo = home.file("cookies.fifo");
    mkfifo(&fifo);
    bounded(
        &home,
        &["auth", "set-cookies", "tw", fifo.to_str().unwrap()],
    )
    .code(1)
    .says(&["cookies.fifo: is a FIFO, not a regular file"]);
    bounded(&home, &["reload"]).code(1).says(&["zero.toml"]);
    assert_eq!(agent_pid(&home), pid, "the agent is the one that started");
}

/// Asserts that an event of `kind` whose message contains `text` was recorded.
#[track_caller]
fn event_says(home: &Home, kind: &str, text: &str) {
    let events = home.json(&["events", "--json", "-n", "100"]);
    let found = events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == kind && e["message"].as_str().is_some_and(|m| m.contains(text)));
    assert!(found, "no {kind} event saying {text:?}: {events:#}");
}

/// Two running bots and their pids.
fn two_bots() -> (Home, u32, u32) {
    let home = Home::fast();
    home.write_bot("one", &sleeper("alice"));
    home.write_bot("two", &sleeper("bob"));
    let one = home.running_pid("one");
    let two = home.running_pid("two");
    (home, one, two)
}

#[track_caller]
fn still_running(home: &Home, one: u32, two: u32) {
    assert_eq!(home.running_pid("one"), one);
    assert_eq!(home.running_pid("two"), two);
}

#[test]
fn an_unreadable_bots_d_keeps_every_bot_and_says_why() {
    let (home, one, two) = two_bots();
    let dir = home.file("bots.d");
    let aside = home.file("bots.d.aside");
    std::fs::rename(&dir, &aside).unwrap();
    std::fs::write(&dir, "not a folder").unwrap();

    bounded(&home, &["reload"]).code(1).says(&[
        "bots.d: cannot read directory",
        "every bot is kept as it is until it can be read",
        "0 removed, 2 unchanged",
    ]);
    still_running(&home, one, two);
    let status = home.status();
    assert!(
        config_issues(&status).contains("cannot read directory"),
        "{status:#}"
    );
    event_says(&home, "config-error", "2 bot(s) kept");

    // A FIFO in its place: the listing fails at once instead of waiting for a writer.
    std::fs::remove_file(&dir).unwrap();
    mkfifo(&dir);
    bounded(&home, &["reload"])
        .code(1)
        .says(&["cannot read directory"]);
    still_running(&home, one, two);

    // A new agent finds bots.d unreadable too: it adopts the bots as they were recorded.
    let agent = home.agent_pid_file().expect("agent pid");
    kill(agent, libc::SIGKILL);
    wait_for("the killed agent gone", WAIT, || {
        ensure(!alive(agent), agent)
    });
    let status = bounded(&home, &["status", "--json"]).code(1).json();
    assert!(
        config_issues(&status).contains("cannot read directory"),
        "{status:#}"
    );
    still_running(&home, one, two);

    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&aside, &dir).unwrap();
    bounded(&home, &["reload"]).ok().says(&["0 removed"]);
    still_running(&home, one, two);
    assert_eq!(home.status()["config_issues"], Value::Array(vec![]));
}

#[test]
fn deleting_bots_d_says_how_many_bots_it_stops() {
    let (home, one, two) = two_bots();
    std::fs::remove_dir_all(home.file("bots.d")).unwrap();
    bounded(&home, &["reload"])
        .ok()
        .says(&["is missing: stopping 2 bot(s)", "2 removed (one, two)"]);
    wait_for("both bots ended", WAIT, || {
        ensure(!alive(one) && !alive(two), (alive(one), alive(two)))
    });
    event_says(&home, "reload", "is missing: stopping 2 bot(s) (one, two)");
}

#[test]
fn a_new_agent_says_which_bots_it_stops_for_a_missing_bots_d() {
    let (home, one, two) = two_bots();
    let agent = home.agent_pid_file().expect("agent pid");
    kill(agent, libc::SIGKILL);
    wait_for("the killed agent gone", WAIT, || {
        ensure(!alive(agent), agent)
    });
    std::fs::remove_dir_all(home.file("bots.d")).unwrap();
    bounded(&home, &["status"]).ok();
    wait_for("both bots ended", WAIT, || {
        ensure(!alive(one) && !alive(two), (alive(one), alive(two)))
    });
    for (name, pid) in [("one", one), ("two", two)] {
        let events = home.events(name);
        assert!(
            events.iter().any(|e| e["kind"] == "stopped"
                && e["message"]
                    == format!(
                        "stopped process {pid} left by the previous agent: its bot file is gone"
                    )),
            "{events:#?}"
        );
    }
}
