//! `reload` applies what it accepts at once: shortened intervals of the agent's own loops
//! (cleanup, health sampling) and a bot's `[auth]` section added or removed.

use std::time::{Duration, SystemTime};

use crate::support::*;

/// An interval no test waits out: anything that happens sooner came from the reload.
const NEVER: &str = "1d";

fn agent_config(agent: &str, extra: &str) -> String {
    format!("{FAST}\n[agent]\n{agent}\n{extra}")
}

#[test]
fn a_shortened_cleanup_interval_applies_at_reload() {
    let home = Home::new();
    let cleanup = "[cleanup]\ntemp_max_age = \"1h\"\n";
    home.write_config(&agent_config(
        &format!("cleanup_interval = \"{NEVER}\""),
        cleanup,
    ));
    home.write_bot("tidy", &sleeper("alice"));
    home.running_pid("tidy");
    let tmp = home.file("bots/alice/tidy/tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let old = tmp.join("old.tmp");
    std::fs::write(&old, "old").unwrap();
    std::fs::File::open(&old)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    // Garbage by the rules, and still there: the day-long interval has not come round.
    let plan = home.json(&["cleanup", "--json"]);
    assert!(plan.to_string().contains("tmp/old.tmp"), "{plan:#}");
    assert!(old.exists());

    home.write_config(&agent_config("cleanup_interval = \"1s\"", cleanup));
    home.botctl(&["reload"]).ok();
    wait_for("the automatic cleanup to remove tmp/old.tmp", WAIT, || {
        ensure(!old.exists(), kinds(&home.events("tidy")))
    });
    let events = home.events("tidy");
    assert!(
        kinds(&events).contains(&"cleanup".to_string()),
        "{events:#?}"
    );
}

#[test]
fn a_shortened_health_interval_applies_at_reload() {
    let home = Home::new();
    home.write_config(&agent_config(&format!("health_interval = \"{NEVER}\""), ""));
    home.write_bot("hello", &sleeper("alice"));
    home.running_pid("hello");
    // Past the sampler's baseline (half a second in), it waits out the day: no sample yet.
    let status = wait_for("the agent up for 2 s", WAIT, || {
        let status = home.status();
        ensure(
            status["agent"]["uptime_secs"].as_u64() >= Some(2),
            status.clone(),
        )
        .map(|_| status)
    });
    assert!(status["host"].is_null(), "{status:#}");

    home.write_config(&agent_config("health_interval = \"1s\"", ""));
    home.botctl(&["reload"]).ok();
    wait_for("a host sample and the bot's figures", WAIT, || {
        let status = home.status();
        let bot = home.bot("hello");
        ensure(
            !status["host"].is_null() && bot["memory_bytes"].as_u64().is_some_and(|m| m > 0),
            (status, bot),
        )
    });
}

#[test]
fn an_auth_section_added_or_removed_applies_at_reload() {
    let home = Home::new();
    home.write_config(&agent_config(&format!("auth_interval = \"{NEVER}\""), ""));
    let plain = "user = \"alice\"\nplatform = \"twitter\"\ncommand = [\"sleep\", \"1000\"]\n";
    home.write_bot("tw", plain);
    let pid = home.running_pid("tw");
    std::fs::create_dir_all(home.file("bots/alice/tw")).unwrap();
    cookie_file(&home, "tw", &netscape("SECRETauth1", "SECRETct01", PAST));

    // Cookies are checked from the moment [auth] says so, not a day later.
    auth_bot(&home, "tw", "");
    home.botctl(&["reload"]).ok().says(&["1 changed (tw)"]);
    let bot = wait_for("tw stopped as auth-invalid", WAIT, || {
        let bot = home.bot("tw");
        ensure(bot["state"] == "auth-invalid", bot.clone()).map(|_| bot)
    });
    assert_eq!(bot["auth"], "expired", "{bot:#}");
    assert!(bot["pid"].is_null(), "{bot:#}");
    wait_for("the bot's process to end", WAIT, || {
        ensure(!alive(pid), pid)
    });

    // Without [auth] nothing holds the bot: it runs again, and shows no session.
    home.write_bot("tw", plain);
    home.botctl(&["reload"]).ok().says(&["1 changed (tw)"]);
    let bot = wait_for("tw running again", WAIT, || {
        let bot = home.bot("tw");
        ensure(bot["state"] == "running", bot.clone()).map(|_| bot)
    });
    assert!(bot["auth"].is_null(), "{bot:#}");
}
