//! Containment on this host: helpers that leave their bot's group, or a fork loop, never
//! outlive stop, restart, a crash or a replaced agent, with a cgroup per bot or the subreaper;
//! owners as Unix users; the refusals (no cgroup can be made, `run_as` to an agent not root).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// A bot whose child calls setsid() (Puppeteer's `detached: true`, Python's
/// `start_new_session=True`): the child leaves the bot's session and process group.
const SETSID: &str =
    "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"setsid sleep 1000 & exec sleep 1001\"]\n";
/// A bot that double-forks a daemon: the middle process exits, so the daemon is nobody's
/// child in the bot's tree and in a session of its own.
const DAEMON: &str = "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"sh -c 'setsid sleep 1002 &'; exec sleep 1003\"]\n";
const BOTS: [&str; 2] = ["esc", "daemon"];

fn escapers(containment: &str) -> Home {
    let home = Home::new();
    home.write_config(&format!(
        "{FAST}\n[agent]\ncontainment = \"{containment}\"\n"
    ));
    home.write_bot("esc", SETSID);
    home.write_bot("daemon", DAEMON);
    home
}

/// Waits until `bot` runs as its main process and the helper that escaped it; returns all
/// of its processes (by the variables they inherited: the test's own view, not the agent's).
#[track_caller]
fn both_running(home: &Home, bot: &str) -> BTreeSet<u32> {
    let main = home.running_pid(bot);
    wait_for(&format!("{bot} and its escaped helper"), WAIT, || {
        let pids: BTreeSet<u32> = bot_pids(home, bot).into_iter().collect();
        if pids.len() == 2 && pids.contains(&main) {
            Ok(pids)
        } else {
            Err(pids)
        }
    })
}

#[track_caller]
fn all_running(home: &Home) -> BTreeSet<u32> {
    BOTS.iter().flat_map(|b| both_running(home, b)).collect()
}

/// Nothing of `old` lives on, and (once a stop has returned) nothing of the bots at all.
#[track_caller]
fn none_left(home: &Home, old: &BTreeSet<u32>, stopped: bool) {
    let live: Vec<u32> = old.iter().copied().filter(|p| alive(*p)).collect();
    assert!(live.is_empty(), "left running: {live:?}");
    if stopped {
        for bot in BOTS {
            assert_eq!(
                bot_pids(home, bot),
                Vec::<u32>::new(),
                "{bot} left processes"
            );
        }
    }
}

/// Old processes are gone soon after a restart or crash: the agent kills them before the
/// bot runs again, but their exit is the kernel's to finish.
#[track_caller]
fn gone_soon(old: &BTreeSet<u32>) {
    wait_for("every old process gone", WAIT, || {
        let live: Vec<u32> = old.iter().copied().filter(|p| alive(*p)).collect();
        ensure(live.is_empty(), live)
    });
}

fn containment_of(home: &Home) -> Value {
    home.json(&["agent", "status", "--json"])["agent"]["containment"].clone()
}

/// The cgroup v2 directory of a process, from /proc/PID/cgroup.
fn cgroup_of(pid: u32, mount: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(mount.join(rel.trim_start_matches('/')))
}

/// stop, start, restart, a crash, a killed and replaced agent: after each, nothing of the
/// processes before is left; `check` looks at the running bots each time.
fn no_escape(home: &Home, check: impl Fn(&Home, &BTreeSet<u32>)) {
    let first = all_running(home);
    check(home, &first);
    home.botctl(&["stop", "esc", "daemon"]).ok();
    none_left(home, &first, true);

    home.botctl(&["start", "esc", "daemon"]).ok();
    let started = all_running(home);
    home.botctl(&["restart", "esc", "daemon"]).ok();
    let restarted = all_running(home);
    assert!(started.is_disjoint(&restarted), "{started:?} {restarted:?}");
    gone_soon(&started);
    check(home, &restarted);

    // A crash of each main process: what it left behind goes before the restart.
    for bot in BOTS {
        let main = home.running_pid(bot);
        let before: BTreeSet<u32> = bot_pids(home, bot).into_iter().collect();
        kill(main, libc::SIGKILL);
        home.new_pid(bot, main);
        gone_soon(&before);
        both_running(home, bot);
    }

    // The agent killed and replaced: the new one adopts the bots and stops all of them.
    let running = all_running(home);
    kill_agent(home);
    for bot in BOTS {
        let row = home.bot(bot);
        assert_eq!(row["state"], "running", "{row:#}");
    }
    assert_eq!(all_running(home), running, "adopted, not restarted");
    check(home, &running);
    home.botctl(&["stop", "esc", "daemon"]).ok();
    none_left(home, &running, true);
}

#[test]
fn escaped_helpers_never_outlive_their_bot_in_its_cgroup() {
    let home = escapers("cgroup");
    home.botctl(&["start", "esc"]).ok();
    let c = containment_of(&home);
    if c["mode"] != "cgroup" {
        eprintln!("[containment] skipped with cgroups: this host has none writable: {c}");
        return;
    }
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("containment = \"cgroup\""),
        "{c}"
    );
    let subtree = PathBuf::from(c["cgroup"].as_str().unwrap());
    let mount = subtree.parent().unwrap().to_path_buf();
    no_escape(&home, |_, pids| {
        // Each process, escaped helpers too, sits in its bot's cgroup in the agent's subtree.
        for pid in pids {
            let dir = cgroup_of(*pid, &mount).expect("a cgroup");
            assert_eq!(dir.parent(), Some(subtree.as_path()), "{pid} in {dir:?}");
            let bot = dir.file_name().unwrap().to_str().unwrap();
            assert!(
                bot_pids(&home, bot).contains(pid),
                "{pid} in {bot}'s cgroup"
            );
        }
    });
    for bot in BOTS {
        // Made by the agent before the one that stopped it: removed, not kept.
        assert!(
            !subtree.join(bot).exists(),
            "a stopped bot's cgroup is removed"
        );
    }
    home.botctl(&["agent", "stop"]).ok();
    assert!(
        !subtree.exists(),
        "the agent's empty subtree is removed at its exit"
    );
}

#[test]
fn a_bots_cgroup_serves_its_next_start_unless_it_was_killed_and_goes_with_the_bot() {
    use std::os::unix::fs::MetadataExt;
    let home = Home::new();
    // Never stable: a restart after the first waits its backoff.
    home.write_config(
        &FAST
            .replace("\"300ms\"", "\"1h\"")
            .replace("[restart]", "[agent]\ncontainment = \"cgroup\"\n[restart]"),
    );
    home.write_bot(
        "lone",
        "user = \"alice\"\ncommand = [\"sleep\", \"1000\"]\n",
    );
    home.write_bot("esc", SETSID);
    home.botctl(&["start", "lone", "esc"]).ok();
    let c = containment_of(&home);
    if c["mode"] != "cgroup" {
        eprintln!("[containment] skipped with cgroups: this host has none writable: {c}");
        return;
    }
    let subtree = PathBuf::from(c["cgroup"].as_str().unwrap());
    let mount = subtree.parent().unwrap().to_path_buf();
    // The cgroup of `bot`'s running process, and the identity of its directory.
    let cgroup = |pid: u32| {
        let dir = cgroup_of(pid, &mount).expect("a cgroup");
        let ino = std::fs::metadata(&dir).unwrap().ino();
        (dir, ino)
    };
    let mut main = home.running_pid("lone");
    let first = cgroup(main);
    assert_eq!(first.0, subtree.join("lone"));
    for _ in 0..3 {
        kill(main, libc::SIGKILL);
        main = home.new_pid("lone", main);
        assert_eq!(cgroup(main), first, "the same cgroup, not one made anew");
    }
    // A helper left behind is killed through `cgroup.kill`, after which the kernel would kill
    // any process born in that cgroup: the bot restarts in a new one, and runs.
    // The second crash's restart waits its backoff: the old cgroup is empty by then.
    for _ in 0..2 {
        let before = both_running(&home, "esc");
        let main = home.running_pid("esc");
        let old = cgroup(main);
        kill(main, libc::SIGKILL);
        home.new_pid("esc", main);
        gone_soon(&before);
        let after = both_running(&home, "esc");
        let main = home.running_pid("esc");
        assert!(after.contains(&main), "{after:?}");
        let new = cgroup(main);
        assert_eq!(new.0, old.0);
        assert_ne!(new.1, old.1, "a new cgroup after a kill");
    }
    // Stopped and started again: the same cgroup. Removed: its cgroup goes.
    home.botctl(&["stop", "lone"]).ok();
    assert!(first.0.exists(), "kept for the next start");
    home.botctl(&["start", "lone"]).ok();
    assert_eq!(cgroup(home.running_pid("lone")), first);
    home.botctl(&["bots", "remove", "lone"]).ok();
    assert!(!first.0.exists(), "a removed bot's cgroup is removed");
    home.botctl(&["stop", "esc"]).ok();
}

#[test]
fn escaped_helpers_never_outlive_their_bot_with_the_subreaper() {
    let home = escapers("subreaper");
    home.botctl(&["start", "esc"]).ok();
    let c = containment_of(&home);
    assert_eq!(c["mode"], "subreaper", "{c}");
    assert_eq!(c["cgroup"], Value::Null, "{c}");
    home.botctl(&["agent", "status"])
        .ok()
        .says(&["containment: subreaper", "containment = \"subreaper\""]);
    let agent = home.agent_pid_file().unwrap();
    no_escape(&home, |home, _| {
        // No zombie is left among the agent's children: orphans that came back are reaped.
        let agent = home.agent_pid_file().unwrap();
        wait_for("no zombie child of the agent", WAIT, || {
            let zombies: Vec<u32> = children_of(agent)
                .into_iter()
                .filter(|p| !alive(*p))
                .collect();
            ensure(zombies.is_empty(), zombies)
        });
    });
    assert_ne!(home.agent_pid_file(), Some(agent), "the agent was replaced");
}

fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
            after.split_whitespace().nth(1) == Some(&parent.to_string())
        })
        .collect()
}

/// Forks `setsid sleep` as fast as it can, up to a cap (the test's safety net: without a pids
/// controller here, a bug must not be able to exhaust the machine).
const FORK_LOOP: &str = "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"i=0; while [ $i -lt 300 ]; do setsid sleep 1000 & i=$((i+1)); sleep 0.01; done; exec sleep 1001\"]\n";

fn fork_loop_is_stopped(containment: &str) {
    let home = Home::new();
    home.write_config(&format!(
        "{FAST}\n[agent]\ncontainment = \"{containment}\"\n"
    ));
    home.write_bot("bomb", FORK_LOOP);
    home.running_pid("bomb");
    let seen = wait_for("the loop forking", WAIT, || {
        let n = bot_pids(&home, "bomb").len();
        if n >= 20 { Ok(n) } else { Err(n) }
    });
    home.botctl(&["stop", "bomb"]).ok();
    assert_eq!(bot_pids(&home, "bomb"), Vec::<u32>::new(), "after stop");
    // Were any fork of the loop left, it would go on forking: nothing appears.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(bot_pids(&home, "bomb"), Vec::<u32>::new(), "a moment later");
    eprintln!("[containment] {containment}: stopped a fork loop at {seen}+ processes");
}

#[test]
fn a_fork_loop_is_stopped_by_stop_with_cgroup_kill() {
    fork_loop_is_stopped("auto");
}

#[test]
fn a_fork_loop_is_stopped_by_stop_with_the_subreaper() {
    fork_loop_is_stopped("subreaper");
}

/// A stand-in for the cgroup v2 root that is not one: it has `cgroup.controllers` but no
/// `cgroup.procs` (root may write anywhere, so no mode bits could make it unusable).
fn unusable_cgroup_root() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("cg")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::write(dir.path().join("cgroup.controllers"), "memory pids\n").unwrap();
    dir
}

/// `botctl ARGS` with one variable set (for the agent it starts).
fn with_var(home: &Home, args: &[&str], var: &str, value: impl AsRef<std::ffi::OsStr>) -> Output {
    let mut cmd = home.command(args);
    cmd.env(var, value);
    Output::from_command(args, cmd)
}

/// `agent start` of an agent that runs bots on any host: `BOTCTL_CONTAINMENT=subreaper`.
fn start_with_subreaper(home: &Home) {
    with_var(home, &["agent", "start"], "BOTCTL_CONTAINMENT", "subreaper").ok();
}

/// An unusable stand-in root, and a home asking for `containment`.
fn unusable_root_and_home(containment: &str) -> (tempfile::TempDir, Home) {
    let home = Home::new();
    home.write_config(&format!(
        "{FAST}\n[agent]\ncontainment = \"{containment}\"\n"
    ));
    (unusable_cgroup_root(), home)
}

#[test]
fn cgroup_asked_where_none_can_be_made_starts_no_bot_and_says_why() {
    let (root, home) = unusable_root_and_home("cgroup");
    // A bot an earlier agent runs (without cgroups, so on any host), and one added after.
    home.write_bot("kept", &sleeper("bob"));
    start_with_subreaper(&home);
    let kept = home.running_pid("kept");
    home.write_bot("one", &sleeper("alice"));
    let file = std::fs::read_to_string(home.file("bots.d/one.toml")).unwrap();
    let why = format!(
        "BOTCTL_CGROUP_ROOT={0}: {0} is not a cgroup v2 hierarchy (no cgroup.procs)",
        root.path().display()
    );
    let refused = format!("containment = \"cgroup\", but no cgroup can be made: {why}");

    // The agent that replaces it runs (status can say why), and its start says at once that
    // no bot starts.
    with_var(
        &home,
        &["agent", "restart"],
        "BOTCTL_CGROUP_ROOT",
        root.path(),
    )
    .ok()
    .says(&["agent restarted", "the agent starts no bot", &refused]);
    home.botctl(&["agent", "start"]).ok().says(&[
        "agent already running",
        "the agent starts no bot",
        &refused,
    ]);
    home.botctl(&["agent", "status"])
        .ok()
        .says(&["containment: none: no bot starts", &refused]);
    let c = containment_of(&home);
    assert_eq!(c["mode"], "refused", "{c}");
    assert_eq!(c["reason"], refused.as_str(), "{c}");
    assert_eq!(c["cgroup"], Value::Null, "{c}");

    // Each start fails and says why; nothing of the bot ever runs.
    wait_event_saying(&home, "one", "spawn-failed", &refused);
    home.botctl(&["start", "one"])
        .code(1)
        .says(&["one: not running", &refused]);
    home.botctl(&["status"]).code(1).says(&["one", &refused]);
    // Given up on after its quick failures, it still says why.
    let failed = wait_for("one failed", WAIT, || {
        let bot = home.bot("one");
        ensure(bot["state"] == "failed", bot.clone()).map(|_| bot)
    });
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("too many restarts (last: "),
        "{failed:#}"
    );
    assert!(detail.contains(&refused), "{failed:#}");
    let events = home.events("one");
    assert!(
        !kinds(&events).contains(&"started".to_string()),
        "{events:#?}"
    );
    assert_eq!(bot_pids(&home, "one"), Vec::<u32>::new());

    // Nothing is lost: the running bot was adopted as it was, not stopped; the file is as
    // written; and the next agent that can contain the bot runs it, with the refusals still
    // in its history.
    assert_eq!(home.running_pid("kept"), kept);
    wait_event_saying(&home, "kept", "adopted", &kept.to_string());
    home.botctl(&["agent", "stop"]).ok();
    assert_eq!(bot_pids(&home, "kept"), Vec::<u32>::new());
    assert_eq!(
        std::fs::read_to_string(home.file("bots.d/one.toml")).unwrap(),
        file
    );
    start_with_subreaper(&home);
    home.running_pid("one");
    home.running_pid("kept");
    let events = home.events("one");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "spawn-failed" && e["message"].as_str().unwrap().contains(&why)),
        "{events:#?}"
    );
}

#[test]
fn auto_where_no_cgroup_can_be_made_falls_back_to_the_subreaper_and_says_why() {
    let (root, home) = unusable_root_and_home("auto");
    home.write_bot("one", &sleeper("alice"));
    let start = with_var(
        &home,
        &["agent", "start"],
        "BOTCTL_CGROUP_ROOT",
        root.path(),
    )
    .ok();
    let fallback = format!(
        "containment = \"auto\": no cgroup can be made (BOTCTL_CGROUP_ROOT={0}: {0} is not a \
         cgroup v2 hierarchy (no cgroup.procs)); subreaper",
        root.path().display()
    );
    assert!(!start.all().contains("starts no bot"), "{start:?}");
    let c = containment_of(&home);
    assert_eq!(c["mode"], "subreaper", "{c}");
    assert_eq!(c["reason"], fallback.as_str(), "{c}");
    home.botctl(&["agent", "status"])
        .ok()
        .says(&["containment: subreaper", &fallback]);
    home.botctl(&["status"])
        .says(&["containment: subreaper", &fallback]);

    // The bot runs, in no cgroup of the agent's, and stop still reaches it.
    let pid = home.running_pid("one");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(!own.contains("botctl-"), "{own}");
    home.botctl(&["stop", "one"]).ok();
    assert_eq!(bot_pids(&home, "one"), Vec::<u32>::new());
}

#[test]
fn the_environment_variable_wins_over_the_setting() {
    let home = Home::new();
    home.write_config("[agent]\ncontainment = \"cgroup\"\n");
    start_with_subreaper(&home);
    let c = containment_of(&home);
    assert_eq!(c["mode"], "subreaper", "{c}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .starts_with("BOTCTL_CONTAINMENT=subreaper"),
        "{c}"
    );
}

/// Unix accounts made for one test and removed after it, whatever happens.
struct Accounts(Vec<String>);

/// One useradd or userdel at a time: two tests make accounts at once, and the tools lock
/// /etc/passwd rather than wait for each other's lock for long.
static USER_DATABASE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Accounts {
    fn create(names: &[String]) -> Accounts {
        let mut made = Accounts(Vec::new());
        for name in names {
            let mut useradd = std::process::Command::new("useradd");
            useradd
                .args([
                    "--no-create-home",
                    "--user-group",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(name);
            let out = one_at_a_time(useradd).expect("running useradd");
            assert!(out.status.success(), "useradd {name}: {out:?}");
            made.0.push(name.clone());
        }
        made
    }

    fn uid(&self, name: &str) -> String {
        let out = std::process::Command::new("id")
            .args(["-u", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for name in &self.0 {
            let mut userdel = std::process::Command::new("userdel");
            userdel.arg(name);
            let _ = one_at_a_time(userdel);
        }
    }
}

fn one_at_a_time(mut cmd: std::process::Command) -> std::io::Result<std::process::Output> {
    let _one = USER_DATABASE.lock().unwrap_or_else(|e| e.into_inner());
    cmd.output()
}

#[test]
fn owners_run_as_their_accounts_and_cannot_read_each_other() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !is_root() {
        eprintln!(
            "[containment] skipped run_as: making accounts and running bots as them needs root"
        );
        return;
    }
    let tag = std::process::id() % 100_000;
    let (alice, bob) = (format!("btca{tag}"), format!("btcb{tag}"));
    // Declared before the home: dropped after it, once the bots are gone.
    let accounts = Accounts::create(&[alice.clone(), bob.clone()]);
    let home = Home::new();
    // The accounts must reach run/notify.sock through the home.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    home.write_config(&format!(
        "{FAST}\n[users.alice]\nrun_as = \"{alice}\"\n[users.bob]\nrun_as = \"{bob}\"\n"
    ));
    let vault = home.file("bots/bob/vault");
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(
        vault.join("cookies.txt"),
        netscape("SECRETbobtoken", "SECRETbobct0", FAR),
    )
    .unwrap();
    let ready = if Path::new("/usr/bin/python3").exists() {
        "exec /usr/bin/python3 -c 'import os, socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\\\"READY=1\\\", os.environ[\\\"NOTIFY_SOCKET\\\"]); time.sleep(1000)'"
    } else {
        "exec sleep 1000"
    };
    home.write_bot(
        "vault",
        &format!(
            "user = \"bob\"\nplatform = \"twitter\"\ncommand = [\"sh\", \"-c\", \"echo uid=$(id -u); {ready}\"]\n[auth]\ncookies = \"cookies.txt\"\n{}",
            if ready.contains("python3") { "[health]\nready = \"notify\"\n" } else { "" }
        ),
    );
    let vault_pid = home.running_pid("vault");
    if ready.contains("python3") {
        // Its READY=1 reached run/notify.sock from another uid, and was taken as the bot's.
        wait_event_saying(&home, "vault", "ready", "READY=1");
    }
    let reader = format!(
        "echo uid=$(id -u); cat {dir}/cookies.txt || echo READ-REFUSED; ls {dir} || echo LIST-REFUSED; exec sleep 1000",
        dir = vault.display()
    );
    home.write_bot(
        "reader",
        &format!("user = \"alice\"\ncommand = [\"sh\", \"-c\", \"{reader}\"]\n"),
    );
    home.write_bot("plain", &sleeper("carol"));
    home.botctl(&["reload"]).ok();
    let reader_pid = home.running_pid("reader");
    let log = |bot: &str| {
        wait_for(&format!("{bot} printed its uid"), WAIT, || {
            let out =
                std::fs::read_to_string(home.file(&format!("logs/{bot}.out"))).unwrap_or_default();
            if out.contains("uid=") {
                Ok(out)
            } else {
                Err(out)
            }
        })
    };
    let said = wait_for("reader tried and was refused", WAIT, || {
        let out = log("reader");
        if out.contains("LIST-REFUSED") {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert!(
        said.contains(&format!("uid={}", accounts.uid(&alice))),
        "{said}"
    );
    assert!(said.contains("READ-REFUSED"), "{said}");
    assert!(!said.contains("SECRET"), "alice read bob's cookies: {said}");
    assert!(log("vault").contains(&format!("uid={}", accounts.uid(&bob))));
    let err = std::fs::read_to_string(home.file("logs/reader.err")).unwrap();
    assert!(err.contains("Permission denied"), "{err}");

    // Bob's directory and cookie file are his, closed to others.
    let meta = |p: &Path| std::fs::metadata(p).unwrap();
    let bob_uid: u32 = accounts.uid(&bob).parse().unwrap();
    assert_eq!(meta(&home.file("bots/bob")).uid(), bob_uid);
    assert_eq!(meta(&home.file("bots/bob")).mode() & 0o777, 0o700);
    assert_eq!(meta(&vault.join("cookies.txt")).mode() & 0o777, 0o600);
    assert_eq!(meta(&vault.join("cookies.txt")).uid(), bob_uid);

    // A root agent says whose bots still run as root.
    home.botctl(&["status"])
        .ok()
        .says(&["the bots of carol run as root"]);
    home.botctl(&["config", "check"])
        .ok()
        .says(&["the bots of carol run as root"]);

    // Adopted after a SIGKILL, as they are: same processes, same accounts.
    kill_agent(&home);
    assert_eq!(home.running_pid("vault"), vault_pid);
    assert_eq!(home.running_pid("reader"), reader_pid);
    for (pid, account) in [(vault_pid, &bob), (reader_pid, &alice)] {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(uid.contains(&accounts.uid(account)), "{uid}");
    }
    wait_for("adopted events", WAIT, || {
        let events = home.events("reader");
        ensure(
            events.iter().any(|e| e["kind"] == "adopted"),
            kinds(&events),
        )
    });
    home.botctl(&["stop", "--all"]).ok();
}

#[test]
fn an_agent_that_is_not_root_refuses_run_as_and_says_why() {
    if !is_root() {
        eprintln!(
            "[containment] skipped the unprivileged agent's run_as refusal: running the agent \
             as another account needs root"
        );
        return;
    }
    let tag = std::process::id() % 100_000;
    let (user, target) = (format!("btcu{tag}"), format!("btcr{tag}"));
    // Declared before the home: dropped after it, once its processes are gone.
    let accounts = Accounts::create(&[user.clone(), target.clone()]);
    let home = Home::new();
    home.write_config(&format!("{FAST}\n[users.alice]\nrun_as = \"{target}\"\n"));
    home.write_bot("mine", &sleeper("alice"));
    home.write_bot("other", &sleeper("carol"));
    let chown = std::process::Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(home.path())
        .output()
        .unwrap();
    assert!(chown.status.success(), "{chown:?}");
    // Every command as the account: an agent a root CLI started would be root's.
    let botctl = |args: &[&str]| Output::from_command(args, home.command_as(&user, args));
    let refusal = format!(
        "[users.alice] run_as = \"{target}\" needs an agent running as root (this one runs as \
         uid {}), so the bots of alice do not start",
        accounts.uid(&user)
    );

    let check = botctl(&["config", "check", "--json"]).ok().json();
    assert_eq!(
        check["needs_root"],
        serde_json::json!(["alice"]),
        "{check:#}"
    );
    assert_eq!(check["root_owners"], serde_json::json!([]), "{check:#}");
    botctl(&["config", "check"]).ok().says(&[
        &format!("[users.alice] run_as = \"{target}\" needs an agent running as root"),
        "does not start the bots of alice",
    ]);
    botctl(&["agent", "start"]).ok();
    let agent = home.agent_pid_file().expect("the agent's pid");
    let uid = accounts.uid(&user);
    assert_eq!(
        uids_of(agent),
        [uid.as_str(); 4],
        "the agent runs as {user}"
    );
    let c = botctl(&["agent", "status", "--json"]).ok().json()["agent"]["containment"].clone();
    // Nothing is writable or delegated to this account: the subreaper, and why.
    assert_eq!(c["mode"], "subreaper", "{c}");
    eprintln!("[containment] an unprivileged agent here: {}", c["reason"]);

    // The other owner's bot runs (as the agent's account, as it asked nothing else).
    let other = wait_for("other running", WAIT, || {
        let status = botctl(&["status", "--json"]).json();
        let bot = row(&status, "other").unwrap();
        match pid_of(&bot) {
            Some(pid) if bot["state"] == "running" && alive(pid) => Ok(pid),
            _ => Err(status),
        }
    });
    assert_eq!(uids_of(other), [uid.as_str(); 4], "other runs as {user}");

    // alice's bot does not start, and says why where she looks; it never ran as the
    // agent's account instead.
    wait_for("mine refused", WAIT, || {
        let events = botctl(&["events", "--bot", "mine", "--json"]).ok().json();
        let said = events.as_array().unwrap().iter().any(|e| {
            e["kind"] == "spawn-failed" && e["message"].as_str().unwrap().contains(&refusal)
        });
        ensure(said, events)
    });
    botctl(&["start", "mine"])
        .code(1)
        .says(&["mine: not running", &refusal]);
    botctl(&["status"]).code(1).says(&["mine", &refusal]);
    let events = botctl(&["events", "--bot", "mine", "--json"]).ok().json();
    let events = events.as_array().unwrap();
    assert!(
        !kinds(events).contains(&"started".to_string()),
        "{events:#?}"
    );
    assert_eq!(bot_pids(&home, "mine"), Vec::<u32>::new());

    botctl(&["agent", "stop"]).ok();
    wait_agent_gone(&home, agent);
    assert!(!alive(other), "other stopped with the agent");
}

/// The uids of a process (real, effective, saved, filesystem), from /proc/PID/status.
fn uids_of(pid: u32) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"));
    line.unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The soft and hard open-file limits of a process, from /proc/PID/limits.
fn open_files_of(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .unwrap();
    let mut words = line.split_whitespace().map(str::to_string);
    (words.next().unwrap(), words.next().unwrap())
}

/// Started with the usual soft limit of open files, the agent raises its own to the hard
/// limit (each bot costs it several descriptors: 2,000 bots need thousands), and its bots
/// get the limit it was started with.
#[test]
fn the_agent_raises_its_open_file_limit_and_bots_keep_the_one_it_was_given() {
    use std::os::unix::process::CommandExt;
    let home = Home::fast();
    home.write_bot("a", &sleeper("alice"));
    let mut start = home.command(&["start", "a"]);
    // SAFETY: only getrlimit and setrlimit between fork and exec.
    unsafe {
        start.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = 256;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        })
    };
    Output::from_command(&["start", "a"], start).ok();
    let agent = home.agent_pid_file().expect("the agent started");
    let bot = home.running_pid("a");
    let (soft, hard) = open_files_of(agent);
    assert_ne!(soft, "256", "the agent's own limit is raised");
    assert_eq!(soft, hard, "to the hard limit");
    assert_eq!(open_files_of(bot), ("256".to_string(), hard), "the bot's");
}

#[test]
fn every_bot_is_hardened_unless_its_file_says_otherwise() {
    let home = Home::fast();
    home.write_config(&format!("{FAST}\n[limits]\nnofile = 4096\n"));
    let report = "echo nnp=$(grep NoNewPrivs /proc/self/status | tr -dc 0-9) umask=$(umask) \
                  core=$(ulimit -H -c) nofile=$(ulimit -n) fds=$(ls /proc/self/fd | tr '\\n' ,); \
                  exec sleep 1000";
    let bot = |extra: &str| {
        format!("user = \"alice\"\ncommand = [\"sh\", \"-c\", \"{report}\"]\n{extra}")
    };
    home.write_bot("hard", &bot(""));
    home.write_bot(
        "soft",
        &bot("no_new_privs = false\ncore_dumps = true\n[limits]\nnofile = 0\n"),
    );
    let said = |name: &str| {
        home.running_pid(name);
        wait_for(&format!("{name} reported"), WAIT, || {
            let out =
                std::fs::read_to_string(home.file(&format!("logs/{name}.out"))).unwrap_or_default();
            if out.contains("fds=") {
                Ok(out)
            } else {
                Err(out)
            }
        })
    };
    let hard = said("hard");
    for part in ["nnp=1 ", "umask=0077 ", "core=0 ", "nofile=4096 "] {
        assert!(hard.contains(part), "{part:?} in {hard}");
    }
    // The shell's own (0, 1, 2 and the one ls reads /proc/self/fd with): nothing inherited.
    let fds = hard.split("fds=").nth(1).unwrap().trim();
    assert_eq!(
        fds.split(',').filter(|f| !f.is_empty()).count(),
        4,
        "{hard}"
    );
    let soft = said("soft");
    assert!(soft.contains("nnp=0 "), "{soft}");
    // Core dumps allowed: the hard limit is the agent's own again, not 0.
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut own) };
    if own.rlim_max != 0 {
        assert!(!soft.contains("core=0 "), "{soft}");
    }
    assert!(!soft.contains("nofile=4096 "), "{soft}");
}
