//! A bot's `env_file` as a user sees it: read at each start, `env` over it, a missing or
//! broken file fails the start with a clear event, and no value is ever shown.

use crate::support::*;

const SECRET: &str = "tok-s3cr3t-value";

fn log_has(home: &Home, bot: &str, text: &str) -> String {
    wait_for(&format!("{text:?} in {bot}'s log"), WAIT, || {
        let log =
            std::fs::read_to_string(home.file(&format!("logs/{bot}.out"))).unwrap_or_default();
        ensure(log.contains(text), log.clone()).map(|_| log)
    })
}

fn spawn_failure(home: &Home, bot: &str) -> String {
    wait_for(&format!("a spawn-failed event of {bot}"), WAIT, || {
        let events = home.events(bot);
        events
            .iter()
            .rev()
            .find(|e| e["kind"] == "spawn-failed")
            .and_then(|e| e["message"].as_str().map(str::to_string))
            .ok_or(events)
    })
}

#[test]
fn a_bot_reads_its_env_file_at_each_start_and_env_wins() {
    let home = Home::fast();
    let dir = home.file("bots/alice/greeter");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("# settings\nexport GREETING=\"hello from file\"\nTOKEN='{SECRET}'\nCOLOUR=file\n"),
    )
    .unwrap();
    home.write_bot(
        "greeter",
        "user = \"alice\"\nenv_file = \".env\"\nenv = { COLOUR = \"env\" }\n\
         command = [\"sh\", \"-c\", \"echo \\\"G=$GREETING C=$COLOUR T=${#TOKEN}\\\"; exec sleep 1000\"]\n",
    );
    let first = home.running_pid("greeter");
    log_has(
        &home,
        "greeter",
        &format!("G=hello from file C=env T={}", SECRET.len()),
    );

    // Edited, then restarted: the new value.
    std::fs::write(dir.join(".env"), "GREETING=changed\nCOLOUR=file\n").unwrap();
    home.botctl(&["restart", "greeter"]).ok();
    home.new_pid("greeter", first);
    log_has(&home, "greeter", "G=changed C=env T=0");

    // Never shown: not by show (text or JSON), status or events.
    std::fs::write(dir.join(".env"), format!("TOKEN={SECRET}\n")).unwrap();
    let pid = home.running_pid("greeter");
    home.botctl(&["restart", "greeter"]).ok();
    home.new_pid("greeter", pid);
    for args in [
        &["bots", "show", "greeter"][..],
        &["bots", "show", "greeter", "--json"],
        &["status", "--json"],
        &["events", "--bot", "greeter", "--json"],
    ] {
        let out = home.botctl(args).ok();
        assert!(
            !out.all().contains(SECRET),
            "{args:?} shows the value:\n{out:?}"
        );
    }
}

#[test]
fn a_missing_or_broken_env_file_fails_the_start_and_says_where() {
    let home = Home::fast();
    std::fs::create_dir_all(home.file("bots/alice/needy")).unwrap();
    home.write_bot(
        "needy",
        "user = \"alice\"\nenv_file = \".env\"\ncommand = [\"sleep\", \"1000\"]\n",
    );
    // `-` makes it optional, as in systemd's EnvironmentFile=-.
    home.write_bot(
        "relaxed",
        "user = \"alice\"\nenv_file = \"-.env\"\ncommand = [\"sleep\", \"1000\"]\n",
    );
    home.running_pid("relaxed");
    home.botctl(&["bots", "show", "relaxed"])
        .ok()
        .says(&[".env (optional)"]);
    let missing = spawn_failure(&home, "needy");
    assert!(
        missing.contains("env_file") && missing.contains("bots/alice/needy/.env"),
        "{missing}"
    );
    assert!(missing.contains("cannot read"), "{missing}");

    // A bad line names the file and the line, never what the line holds.
    std::fs::write(
        home.file("bots/alice/needy/.env"),
        format!("A=1\n{SECRET}\n"),
    )
    .unwrap();
    let out =
        home.botctl(&["restart", "needy"])
            .code(1)
            .says(&["needy", ".env:2", "expected KEY=VALUE"]);
    assert!(!out.all().contains(SECRET), "{out:?}");
    let broken = spawn_failure(&home, "needy");
    assert!(broken.contains(".env:2"), "{broken}");
    assert!(!broken.contains(SECRET), "{broken}");

    std::fs::write(home.file("bots/alice/needy/.env"), "A=1\n").unwrap();
    home.botctl(&["restart", "needy"]).ok();
    home.running_pid("needy");
}
