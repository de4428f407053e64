//! Scheduled restarts as a user sees them: `[restart] schedule` in `bots show` with its next
//! run, the restart at the minute, its event, and no effect on the restart-rate limit.

use std::time::Duration;

use crate::support::*;

#[test]
fn a_one_minute_schedule_restarts_the_bot_at_the_minute_boundary() {
    let home = Home::fast();
    // max_restarts 0: a restart that counted toward the rate limit would fail the bot.
    let file = "user = \"alice\"\ncommand = [\"sleep\", \"1000\"]\n\
                [restart]\nschedule = \"* * * * *\"\nmax_restarts = 0\n";
    home.write_bot("cronned", file);
    let first = home.running_pid("cronned");
    home.botctl(&["bots", "show", "cronned"])
        .ok()
        .says(&["* * * * * (local time), next "]);
    let show = home.json(&["bots", "show", "cronned", "--json"]);
    assert_eq!(show["schedule"]["cron"], "* * * * *", "{show:#}");
    let next = show["schedule"]["next_ms"].as_i64().expect("a next run");
    assert_eq!(next % 60_000, 0, "on a minute: {next}");

    let second = home.new_pid_within("cronned", first, Duration::from_secs(75));
    assert!(!alive(first));
    let events = home.events("cronned");
    let scheduled = events
        .iter()
        .find(|e| e["kind"] == "scheduled-restart")
        .unwrap_or_else(|| panic!("a scheduled-restart event: {events:#?}"));
    assert!(
        scheduled["message"]
            .as_str()
            .unwrap_or_default()
            .contains("schedule \"* * * * *\""),
        "{scheduled:#}"
    );
    let at = scheduled["ts_ms"].as_i64().expect("ts_ms");
    assert_eq!(
        at / 60_000,
        next / 60_000,
        "at the planned minute: {at} vs {next}"
    );
    let bot = home.bot("cronned");
    assert_eq!(bot["state"], "running", "{bot:#}");
    assert_eq!(bot["restarts"], 1, "{bot:#}");
    assert_eq!(pid_of(&bot), Some(second));

    // A reload applies a change of schedule: here, none.
    home.write_bot(
        "cronned",
        &file.replace("schedule = \"* * * * *\"", "schedule = \"\""),
    );
    home.botctl(&["reload"]).ok();
    let show = home.json(&["bots", "show", "cronned", "--json"]);
    assert!(show["schedule"].is_null(), "{show:#}");
    assert_eq!(
        home.running_pid("cronned"),
        second,
        "a schedule change restarts nothing"
    );
}
