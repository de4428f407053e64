//! What a user sees from the CLI: starting the agent on demand, the quick start, status and
//! list, show, logs, events, remove, and secrets that never show.

use serde_json::Value;

use crate::support::*;

const STARTED: &str = "started the agent";

#[test]
fn first_command_starts_the_agent_and_says_so_once() {
    let home = Home::new();
    assert!(agent_pids(&home).is_empty());

    let first = home.botctl(&["status"]).ok();
    let lines: Vec<&str> = first.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{first:?}");
    assert!(lines[0].contains(STARTED), "{first:?}");
    assert!(first.stdout.contains("agent: running"), "{first:?}");

    let pid = home.agent_pid_file().expect("run/agent.pid holds a pid");
    assert_eq!(
        agent_pids(&home),
        vec![pid],
        "run/agent.pid names the agent"
    );
    assert!(lines[0].contains(&format!("pid {pid}")), "{first:?}");
    assert!(home.socket().exists());

    let second = home.botctl(&["status", "--json"]).ok();
    assert_eq!(second.stderr, "", "no second start line:\n{second:?}");
    assert_eq!(second.json()["agent"]["pid"], pid);
    assert_eq!(agent_pids(&home), vec![pid]);
}

#[test]
fn some_commands_never_start_an_agent() {
    let home = Home::new();
    let version = home.botctl(&["--version"]).ok();
    assert!(version.stdout.starts_with("botctl "), "{version:?}");
    home.botctl(&["--help"]).ok().says(&["Usage", "status"]);
    home.botctl(&["bots", "add", "--help"])
        .ok()
        .says(&["--user"]);
    let completions = home.botctl(&["completions", "bash"]).ok();
    assert!(completions.stdout.contains("botctl"), "{completions:?}");
    home.botctl(&["config", "check"]).ok().says(&["ok"]);
    home.botctl(&["agent", "status"])
        .code(3)
        .says(&["not running"]);
    let status = home.botctl(&["agent", "status", "--json"]).code(3);
    assert_eq!(status.json()["running"], false, "{status:?}");
    home.botctl(&["agent", "stop"])
        .ok()
        .says(&["no agent running"]);
    home.botctl(&["logs", "hello"])
        .code(1)
        .says(&["no bot named hello"]);
    // A known bot without output yet: still read from disk, still no agent.
    home.write_bot("hello", &sleeper("alice"));
    home.botctl(&["logs", "hello"]).code(1).says(&["no output"]);
    home.botctl(&["config", "check"]).ok().says(&["1 bot(s)"]);

    assert!(agent_pids(&home).is_empty(), "an agent was started");
    assert!(!home.socket().exists(), "a socket was created");
    assert!(home.agent_pid_file().is_none(), "a pid file was written");
    assert!(processes_of(home.path()).is_empty());
}

#[test]
fn racing_clis_start_exactly_one_agent() {
    let home = Home::new();
    // A configured bot: only the winning agent may start it.
    home.write_bot("one", &sleeper("alice"));
    let args = ["status"];
    let children: Vec<_> = (0..8)
        .map(|_| home.command(&args).spawn().expect("spawning botctl"))
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| Home::finish(&args, c))
        .collect();
    for out in &outputs {
        assert_eq!(out.code, 0, "every racer is served:\n{out:?}");
        assert!(out.stdout.contains("agent: running"), "{out:?}");
    }
    let starters = outputs
        .iter()
        .filter(|o| o.stderr.contains(STARTED))
        .count();
    assert_eq!(
        starters, 1,
        "exactly one CLI says it started the agent: {outputs:#?}"
    );
    // Agents that lost the race for the lock exit on their own.
    let agent = wait_for("exactly one agent", WAIT, || {
        let agents = agent_pids(&home);
        match agents[..] {
            [pid] => Ok(pid),
            _ => Err(agents),
        }
    });
    assert_eq!(home.agent_pid_file(), Some(agent));
    let agent_pids_seen: Vec<&str> = outputs
        .iter()
        .filter_map(|o| o.stdout.lines().next())
        .collect();
    for line in agent_pids_seen {
        assert!(
            line.contains(&format!("pid {agent},")),
            "every racer talked to the one agent: {line}"
        );
    }
    let pid = home.running_pid("one");
    assert_eq!(bot_pids(&home, "one"), vec![pid], "one process for the bot");
}

#[test]
fn quick_start_runs_hello() {
    let home = Home::new();
    let add = home
        .botctl(&[
            "bots",
            "add",
            "hello",
            "--user",
            "alice",
            "--",
            "sh",
            "-c",
            "while true; do date; sleep 5; done",
        ])
        .ok()
        .says(&["hello", "started"]);
    assert!(add.stderr.contains(STARTED), "{add:?}");
    assert!(home.file("bots.d/hello.toml").exists());

    let pid = home.running_pid("hello");
    let status = home.botctl(&["status"]).ok();
    let line = status
        .stdout
        .lines()
        .find(|l| l.contains("hello"))
        .unwrap_or_else(|| panic!("no row for hello:\n{status:?}"));
    let cells: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells[..4],
        ["hello", "alice", "running", pid.to_string().as_str()],
        "{status:?}"
    );
    let args = cmdline(pid);
    assert_eq!(args[0], "sh", "/proc/{pid}/cmdline is the bot: {args:?}");
    assert!(environ(pid).contains(&"BOTCTL_BOT=hello".to_string()));
    assert!(environ(pid).contains(&"BOTCTL_OWNER=alice".to_string()));
}

#[test]
fn list_filters_by_owner_and_json_has_the_stable_shape() {
    let home = Home::fast();
    let me = whoami();
    home.write_bot("a1", &sleeper("alice"));
    home.write_bot("a2", &sleeper("alice"));
    home.write_bot("b1", &sleeper("bob"));
    home.write_bot("me1", &sleeper(&me));
    for bot in ["a1", "a2", "b1", "me1"] {
        home.running_pid(bot);
    }

    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v:#}"))
            .iter()
            .map(|b| b["name"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    assert_eq!(
        names(&home.json(&["bots", "list", "--user", "alice", "--json"])),
        ["a1", "a2"]
    );
    assert_eq!(
        names(&home.json(&["bots", "list", "--user", "--json"])),
        ["me1"]
    );
    assert_eq!(
        names(&home.json(&["bots", "list", "--json"])),
        ["a1", "a2", "b1", "me1"]
    );
    let table = home.botctl(&["bots", "list", "--user", "alice"]).ok();
    assert!(
        table.stdout.contains("a1") && table.stdout.contains("a2"),
        "{table:?}"
    );
    assert!(
        !table.stdout.contains("b1") && !table.stdout.contains("me1"),
        "{table:?}"
    );
    let mine = home.botctl(&["bots", "list", "--user"]).ok();
    assert!(
        mine.stdout.contains("me1") && !mine.stdout.contains("a1"),
        "{mine:?}"
    );
    home.botctl(&["bots", "list", "--user", "nobody"])
        .ok()
        .says(&["no bots owned by nobody"]);

    let status = home.status();
    assert!(status["agent"]["pid"].is_u64(), "{status:#}");
    assert!(status["agent"]["version"].is_string(), "{status:#}");
    assert!(status["agent"]["uptime_secs"].is_u64(), "{status:#}");
    assert!(status["config_issues"].is_array(), "{status:#}");
    let list = home.json(&["bots", "list", "--json"]);
    for rows in [&status["bots"], &list] {
        let rows = rows.as_array().expect("bots is an array");
        assert_eq!(rows.len(), 4);
        for b in rows {
            assert!(b["name"].is_string(), "{b:#}");
            assert!(b["owner"].is_string(), "{b:#}");
            assert_eq!(b["state"], "running", "{b:#}");
            assert!(alive(pid_of(b).expect("pid")), "{b:#}");
            assert!(b["uptime_secs"].is_u64(), "{b:#}");
            assert_eq!(b["restarts"], 0, "{b:#}");
            assert!(b["last_exit"].is_null(), "{b:#}");
            assert!(b.get("detail").is_some_and(Value::is_null), "{b:#}");
        }
    }
    let b1 = row(&status, "b1").expect("b1");
    assert_eq!(b1["owner"], "bob");
}

#[test]
fn show_describes_one_bot() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let pid = home.running_pid("hello");

    let show = home.botctl(&["bots", "show", "hello"]).ok();
    for (key, value) in [
        ("bot", "hello"),
        ("owner", "alice"),
        ("state", "running"),
        ("pid", pid.to_string().as_str()),
        ("file", "bots.d/hello.toml"),
        ("command", "sleep 1000"),
    ] {
        assert!(
            show.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(key) && l.trim_end().ends_with(value)),
            "expected a `{key}  {value}` line:\n{show:?}"
        );
    }
    let json = home.json(&["bots", "show", "hello", "--json"]);
    assert_eq!(json["info"]["name"], "hello", "{json:#}");
    assert_eq!(json["info"]["pid"], pid, "{json:#}");
    assert_eq!(json["command"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(json["file"], "bots.d/hello.toml");
    assert_eq!(
        json["policy"]["stable_after_ms"], 300,
        "botctl.toml applies"
    );
    assert!(json["recent_events"].is_array());

    home.botctl(&["bots", "show", "nosuch"])
        .code(1)
        .says(&["nosuch"]);
}

#[test]
fn env_values_never_show() {
    let home = Home::fast();
    let secret = "s3cretVALUE";
    let add = home
        .botctl(&[
            "bots",
            "add",
            "sec",
            "--user",
            "alice",
            "--env",
            &format!("TOKEN={secret}"),
            "--",
            "sleep",
            "1000",
        ])
        .ok();
    let pid = home.running_pid("sec");
    let env = environ(pid);
    assert!(
        env.contains(&format!("TOKEN={secret}")),
        "the bot gets its env: {env:?}"
    );
    let show = home.botctl(&["bots", "show", "sec"]).ok().says(&["TOKEN"]);
    let show_json = home.botctl(&["bots", "show", "sec", "--json"]).ok();
    assert_eq!(show_json.json()["env_keys"], serde_json::json!(["TOKEN"]));
    home.botctl(&["restart", "sec"]).ok();
    let outputs = [
        add,
        show,
        show_json,
        home.botctl(&["status"]).ok(),
        home.botctl(&["status", "--json"]).ok(),
        home.botctl(&["bots", "list", "--json"]).ok(),
        home.botctl(&["events"]).ok(),
        home.botctl(&["events", "--json"]).ok(),
        home.botctl(&["events", "--bot", "sec", "--json"]).ok(),
    ];
    for out in &outputs {
        assert!(!out.all().contains(secret), "the secret leaked:\n{out:?}");
    }
    // Nor in the agent's own log.
    home.botctl(&["agent", "stop", "--keep-bots"]).ok();
    let log = std::fs::read_to_string(home.file("logs/agent.log")).unwrap_or_default();
    assert!(
        !log.contains(secret),
        "the secret is in logs/agent.log:\n{log}"
    );
}

#[test]
fn logs_tail_the_bot_output_and_events_parse() {
    let home = Home::fast();
    home.write_bot(
        "hello",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \
         \"echo one; echo two; echo three; echo oops1 >&2; echo oops2 >&2; exec sleep 1000\"]\n",
    );
    home.running_pid("hello");
    wait_for("the bot wrote its output", WAIT, || {
        let out = std::fs::read_to_string(home.file("logs/hello.out")).unwrap_or_default();
        let err = std::fs::read_to_string(home.file("logs/hello.err")).unwrap_or_default();
        ensure(
            out.ends_with("three\n") && err.ends_with("oops2\n"),
            (out, err),
        )
    });

    let two = home.botctl(&["logs", "hello", "-n", "2", "--stdout"]).ok();
    assert_eq!(two.stdout, "two\nthree\n", "{two:?}");
    // Both streams by default, the last lines of each file in turn.
    let all = home.botctl(&["logs", "hello"]).ok();
    assert_eq!(all.stdout, "one\ntwo\nthree\noops1\noops2\n", "{all:?}");
    let err = home.botctl(&["logs", "hello", "--stderr", "-n", "1"]).ok();
    assert_eq!(err.stdout, "oops2\n", "{err:?}");
    home.botctl(&["logs", "nosuch"]).code(1).says(&["nosuch"]);

    let events = home.events("hello");
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!(e["bot"], "hello", "{e:#}");
        assert!(e["id"].is_i64() && e["ts_ms"].is_i64(), "{e:#}");
        assert!(e["kind"].is_string() && e["message"].is_string(), "{e:#}");
    }
    assert!(
        kinds(&events).contains(&"started".to_string()),
        "{events:#?}"
    );
    let text = home.botctl(&["events", "--bot", "hello"]).ok();
    assert!(text.stdout.contains("started"), "{text:?}");
}

#[test]
fn remove_stops_the_bot_and_deletes_its_file() {
    let home = Home::fast();
    home.write_bot("gone", &sleeper("alice"));
    home.write_bot("stay", &sleeper("alice"));
    let pid = home.running_pid("gone");
    let stay = home.running_pid("stay");

    home.botctl(&["bots", "remove", "gone"])
        .ok()
        .says(&["gone", "removed"]);
    assert!(!alive(pid), "the bot process is gone when remove returns");
    assert_eq!(bot_pids(&home, "gone"), Vec::<u32>::new());
    assert!(!home.file("bots.d/gone.toml").exists());
    assert!(row(&home.status(), "gone").is_none());
    assert_eq!(home.running_pid("stay"), stay, "the other bot is untouched");

    home.botctl(&["bots", "remove", "gone"])
        .code(1)
        .says(&["no bot named gone"]);
    home.botctl(&["bots", "show", "gone"]).code(1);
}

#[test]
fn bots_add_refuses_what_it_cannot_add() {
    let home = Home::fast();
    home.botctl(&[
        "bots", "add", "hello", "--user", "alice", "--", "sleep", "1000",
    ])
    .ok();
    let pid = home.running_pid("hello");
    home.botctl(&["bots", "add", "hello", "--user", "bob", "--", "sleep", "1"])
        .code(1)
        .says(&["hello", "already exists"]);
    assert_eq!(
        home.running_pid("hello"),
        pid,
        "the existing bot is untouched"
    );
    assert_eq!(home.bot("hello")["owner"], "alice");
    home.botctl(&["bots", "add", "Bad Name", "--user", "alice", "--", "true"])
        .code(1)
        .says(&["Bad Name"]);
    assert!(!home.file("bots.d/Bad Name.toml").exists());
    home.botctl(&[
        "bots", "add", "envy", "--user", "alice", "--env", "NOEQUALS", "--", "true",
    ])
    .code(2)
    .says(&["KEY=VALUE"]);
    home.botctl(&[
        "bots",
        "add",
        "plat",
        "--user",
        "alice",
        "--platform",
        "myspace",
        "--",
        "true",
    ])
    .code(1)
    .says(&["myspace"]);
    home.botctl(&["bots", "add", "nocmd", "--user", "alice"])
        .code(2);
    for name in ["envy", "plat", "nocmd"] {
        assert!(
            !home.file(&format!("bots.d/{name}.toml")).exists(),
            "{name}"
        );
    }

    home.botctl(&[
        "bots",
        "add",
        "later",
        "--user",
        "alice",
        "--no-start",
        "--",
        "sleep",
        "1000",
    ])
    .ok()
    .says(&["not started"]);
    let later = home.bot("later");
    assert_eq!(later["state"], "stopped", "{later:#}");
    assert!(later["pid"].is_null());
    assert_eq!(bot_pids(&home, "later"), Vec::<u32>::new());
    home.botctl(&["start", "later"]).ok();
    home.running_pid("later");
}

#[test]
fn reload_adds_and_removes_bots() {
    let home = Home::fast();
    home.write_bot("old", &sleeper("alice"));
    home.write_bot("off", &format!("{}enabled = false\n", sleeper("alice")));
    let old = home.running_pid("old");
    let off = home.bot("off");
    assert_eq!(off["state"], "disabled", "{off:#}");
    assert_eq!(bot_pids(&home, "off"), Vec::<u32>::new());

    home.write_bot("new", &sleeper("bob"));
    std::fs::remove_file(home.file("bots.d/old.toml")).expect("removing old.toml");
    home.botctl(&["reload"])
        .ok()
        .says(&["1 added (new)", "1 removed (old)", "1 unchanged"]);
    home.running_pid("new");
    wait_for("old stopped", WAIT, || {
        let left = bot_pids(&home, "old");
        ensure(left.is_empty(), left)
    });
    assert!(!alive(old));
    assert!(row(&home.status(), "old").is_none());

    home.write_bot("off", &sleeper("alice"));
    home.botctl(&["reload"]).ok().says(&["1 changed (off)"]);
    home.running_pid("off");
}

#[test]
fn output_has_no_colour_without_a_terminal() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");
    for args in [
        &["status"][..],
        &["bots", "list"],
        &["events"],
        &["bots", "show", "hello"],
    ] {
        let out = home.botctl(args).ok();
        assert!(!out.all().contains('\x1b'), "escape codes:\n{out:?}");
    }
}

#[test]
fn racing_adds_on_a_fresh_home_all_land() {
    let home = Home::fast();
    let names: Vec<String> = (0..6).map(|i| format!("bot{i}")).collect();
    let args: Vec<Vec<&str>> = names
        .iter()
        .map(|n| {
            vec![
                "bots",
                "add",
                n.as_str(),
                "--user",
                "alice",
                "--",
                "sleep",
                "1000",
            ]
        })
        .collect();
    let children: Vec<_> = args
        .iter()
        .map(|a| home.command(a).spawn().expect("spawning botctl"))
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .zip(&args)
        .map(|(c, a)| Home::finish(a, c))
        .collect();
    for out in &outputs {
        assert_eq!(out.code, 0, "{out:?}");
    }
    let starters = outputs
        .iter()
        .filter(|o| o.stderr.contains(STARTED))
        .count();
    assert_eq!(starters, 1, "{outputs:#?}");
    wait_for("exactly one agent", WAIT, || {
        let agents = agent_pids(&home);
        ensure(agents.len() == 1, agents)
    });
    for name in &names {
        let pid = home.running_pid(name);
        assert_eq!(bot_pids(&home, name), vec![pid], "one process for {name}");
    }
}

#[test]
fn home_flag_wins_over_the_environment() {
    let home = Home::new();
    let other = Home::new();
    let out = Output::from_command(
        &[
            "--home",
            &home.path().display().to_string(),
            "status",
            "--json",
        ],
        other.command(&[
            "--home",
            &home.path().display().to_string(),
            "status",
            "--json",
        ]),
    )
    .ok();
    assert_eq!(
        out.json()["agent"]["home"],
        home.path().display().to_string()
    );
    assert_eq!(agent_pids(&home).len(), 1, "the agent of --home runs");
    assert!(agent_pids(&other).is_empty(), "none for BOTCTL_HOME");
    assert!(!other.socket().exists());
}

#[test]
fn agent_start_and_status() {
    let home = Home::new();
    let start = home.botctl(&["agent", "start"]).ok();
    let pid = home.agent_pid_file().expect("agent pid");
    assert!(
        start.stdout.contains(&format!("agent running (pid {pid})")),
        "{start:?}"
    );
    home.botctl(&["agent", "start"])
        .ok()
        .says(&[&format!("already running (pid {pid})")]);
    home.botctl(&["agent", "status"])
        .ok()
        .says(&["agent running", &format!("pid {pid}")]);
    let json = home.json(&["agent", "status", "--json"]);
    assert_eq!(json["running"], true, "{json:#}");
    assert_eq!(json["agent"]["pid"], pid, "{json:#}");
}

#[test]
fn a_bot_that_cannot_start_is_added_but_the_exit_says_so() {
    let home = Home::fast();
    home.botctl(&[
        "bots",
        "add",
        "lost",
        "--user",
        "alice",
        "--cwd",
        "no/such/dir",
        "--",
        "sleep",
        "1000",
    ])
    .code(1)
    .says(&["lost", "did not start", "no/such/dir"]);
    assert!(
        home.file("bots.d/lost.toml").exists(),
        "the file is written"
    );
    let bot = home.bot("lost");
    assert!(bot["pid"].is_null(), "{bot:#}");
    assert!(
        bot["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("no/such/dir"),
        "{bot:#}"
    );
}

#[test]
fn logs_follow_prints_new_output() {
    let home = Home::fast();
    home.write_bot(
        "tick",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \
         \"i=0; while true; do i=$((i+1)); echo line$i; sleep 0.05; done\"]\n",
    );
    home.running_pid("tick");
    wait_for("the first line", WAIT, || {
        let out = std::fs::read_to_string(home.file("logs/tick.out")).unwrap_or_default();
        ensure(out.contains("line1\n"), out)
    });

    let mut child = home
        .command(&["logs", "tick", "-f", "-n", "1"])
        .spawn()
        .expect("spawning botctl logs -f");
    let rx = lines_of(&mut child);
    let mut lines: Vec<String> = Vec::new();
    wait_for("five lines from logs -f", WAIT, || {
        lines.extend(rx.try_iter());
        ensure(lines.len() >= 5, lines.clone())
    });
    let _ = child.kill();
    let _ = child.wait();
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| {
            l.strip_prefix("line")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {l:?} in {lines:?}"))
        })
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive lines, none lost or repeated: {lines:?}"
    );
}

/// `botctl logs ... | head -1`: once the reader is gone the CLI ends by SIGPIPE, quietly,
/// as Unix tools do (a SIGPIPE from the agent's socket is handled instead; see
/// `quiet_on_closed_output`).
#[test]
fn a_cli_whose_reader_goes_away_ends_quietly_by_sigpipe() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let home = Home::fast();
    std::fs::create_dir_all(home.file("logs")).unwrap();
    let line = "0123456789".repeat(10);
    let text: String = (0..20_000).map(|i| format!("{i} {line}\n")).collect();
    std::fs::write(home.file("logs/chatty.out"), text).unwrap();
    home.write_bot("chatty", &sleeper("alice"));
    home.running_pid("chatty");
    let mut child = home
        .command(&["logs", "chatty", "-n", "20000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains(&line), "{first:?}");
    // The reader is dropped here: the rest of the output has nowhere to go.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
