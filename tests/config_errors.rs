//! Broken configuration: errors name the file and the field, a bad bot file never stops the
//! rest of the fleet, and a bot whose file breaks keeps running its last good version.

use serde_json::Value;

use crate::support::*;

const TYPO: &str = "user = \"alice\"\ncomand = [\"sleep\", \"1000\"]\n";
const NOT_A_NUMBER: &str =
    "user = \"alice\"\ncommand = [\"sleep\", \"1000\"]\n\n[restart]\nmax_restarts = \"five\"\n";

fn broken_fleet() -> Home {
    let home = Home::fast();
    home.write_bot("good", &sleeper("alice"));
    home.write_bot("typo", TYPO);
    home.write_bot("five", NOT_A_NUMBER);
    home
}

#[track_caller]
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

#[test]
fn config_check_names_file_and_field() {
    let home = broken_fleet();
    let out = home.botctl(&["config", "check"]).code(1);
    let typo = line_with(&out.stdout, "bots.d/typo.toml");
    assert!(
        typo.contains("`comand`") && typo.contains("unknown field"),
        "{out:?}"
    );
    assert!(typo.contains("command"), "says what is allowed: {out:?}");
    let five = line_with(&out.stdout, "bots.d/five.toml");
    assert!(five.contains("`restart.max_restarts`"), "{out:?}");
    assert!(five.contains("whole number"), "{out:?}");
    assert!(!out.stdout.contains("good.toml"), "{out:?}");
    assert!(out.stderr.contains("2 configuration problem"), "{out:?}");

    let json = home.botctl(&["config", "check", "--json"]).code(1).json();
    assert_eq!(json["ok"], false, "{json:#}");
    assert_eq!(json["bots"], 1, "{json:#}");
    let issues = json["issues"].as_array().expect("issues");
    let fields: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap_or("?"),
                i["field"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("bots.d/five.toml", "restart.max_restarts"),
            ("bots.d/typo.toml", "comand")
        ]
    );
    assert!(agent_pids(&home).is_empty(), "config check starts no agent");
}

#[test]
fn a_bad_bot_file_does_not_stop_the_rest() {
    let home = broken_fleet();
    let pid = home.running_pid("good");
    let status = home.status();
    for (bot, field) in [("typo", "comand"), ("five", "restart.max_restarts")] {
        let row = row(&status, bot).unwrap_or_else(|| panic!("a row for {bot}: {status:#}"));
        assert_eq!(row["state"], "config-error", "{row:#}");
        assert!(row["pid"].is_null(), "{row:#}");
        let detail = row["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("bots.d/{bot}.toml")) && detail.contains(field),
            "{row:#}"
        );
        assert_eq!(bot_pids(&home, bot), Vec::<u32>::new());
    }
    let issues: Vec<&Value> = status["config_issues"]
        .as_array()
        .expect("config_issues")
        .iter()
        .collect();
    assert_eq!(issues.len(), 2, "{status:#}");

    let text = home.botctl(&["status"]).code(1);
    let typo = line_with(&text.stdout, "typo: bots.d/typo.toml");
    assert!(typo.contains("comand"), "{text:?}");
    assert!(
        line_with(&text.stdout, "good").contains("running"),
        "{text:?}"
    );
    home.botctl(&["start", "typo"]).code(1).says(&["typo"]);
    assert_eq!(home.running_pid("good"), pid);
}

#[test]
fn reload_keeps_the_last_good_version_until_the_file_is_fixed() {
    let home = Home::fast();
    home.write_bot("good", &sleeper("alice"));
    let pid = home.running_pid("good");

    home.write_bot("good", TYPO);
    let out = home.botctl(&["reload"]).code(1);
    let problem = line_with(&out.stdout, "bots.d/good.toml");
    assert!(problem.contains("comand"), "{out:?}");
    assert!(problem.contains("last good version"), "{out:?}");
    let json = home.botctl(&["reload", "--json"]).code(1).json();
    assert_eq!(json["issues"][0]["kept_last_good"], true, "{json:#}");

    let bot = home.bot("good");
    assert_eq!(bot["state"], "running", "{bot:#}");
    assert_eq!(pid_of(&bot), Some(pid), "the same process keeps running");
    assert!(alive(pid));
    let detail = bot["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("last good version") && detail.contains("comand"),
        "status says so: {bot:#}"
    );
    home.botctl(&["status"]).ok().says(&["last good version"]);
    let k = kinds(&home.events("good"));
    assert!(k.contains(&"config-error".to_string()), "{k:?}");

    // Fixed, with a changed command: reload applies it.
    home.write_bot(
        "good",
        "user = \"alice\"\ncommand = [\"sleep\", \"1001\"]\n",
    );
    home.botctl(&["reload"]).ok().says(&["1 changed (good)"]);
    let new = home.new_pid("good", pid);
    assert!(!alive(pid));
    assert_eq!(cmdline(new), ["sleep", "1001"]);
    let status = home.status();
    let bot = row(&status, "good").expect("row");
    assert!(bot["detail"].is_null(), "{bot:#}");
    assert_eq!(status["config_issues"], serde_json::json!([]));
}

#[test]
fn a_bad_global_file_is_named_and_the_bots_still_run() {
    let home = Home::new();
    home.write_config("[restart]\nstable_afer = \"1s\"\n");
    home.write_bot("good", &sleeper("alice"));
    home.botctl(&["config", "check"])
        .code(1)
        .says(&["botctl.toml", "`restart.stable_afer`"]);
    home.running_pid("good");
    let text = home.botctl(&["status"]).code(1);
    line_with(&text.stdout, "config problems");
    assert!(
        line_with(&text.stdout, "botctl.toml").contains("stable_afer"),
        "{text:?}"
    );
}

#[test]
fn config_check_names_the_bound_of_every_number_too_large() {
    let home = Home::new();
    // Both problems of one file are listed, each with its line and column.
    home.write_config("[logs]\nkeep = 4294967295\n\n[limits]\nstorage_quota_mb = 17592186044416\n");
    let out = home.botctl(&["config", "check"]).code(1);
    let keep = line_with(&out.stdout, "`logs.keep`");
    assert!(keep.starts_with("botctl.toml:2:8: "), "{out:?}");
    assert!(
        keep.contains("4294967295 is too large: at most 100"),
        "{out:?}"
    );
    let quota = line_with(&out.stdout, "`limits.storage_quota_mb`");
    assert!(quota.starts_with("botctl.toml:5:20: "), "{out:?}");
    assert!(quota.contains("at most 16777216"), "{out:?}");
    assert!(out.stderr.contains("2 configuration problem"), "{out:?}");

    let json = home.botctl(&["config", "check", "--json"]).code(1).json();
    let issues = json["issues"].as_array().expect("issues");
    let places: Vec<(&str, u64, u64)> = issues
        .iter()
        .map(|i| {
            (
                i["field"].as_str().unwrap_or("?"),
                i["line"].as_u64().unwrap_or(0),
                i["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        places,
        [("limits.storage_quota_mb", 5, 20), ("logs.keep", 2, 8)],
        "{json:#}"
    );
    assert!(agent_pids(&home).is_empty(), "config check starts no agent");
}

#[test]
fn a_huge_duration_is_refused_with_its_bound() {
    let home = Home::new();
    home.write_bot(
        "slow",
        "user = \"alice\"\ncommand = [\"sleep\", \"1000\"]\n[restart]\nbackoff_max = \"18446744073709551615ms\"\n",
    );
    home.botctl(&["config", "check"]).code(1).says(&[
        "bots.d/slow.toml:4:15: field `restart.backoff_max`",
        "at most 3650d",
    ]);
}

#[test]
fn events_since_a_huge_duration_says_the_bound_and_ten_years_shows_everything() {
    let home = Home::fast();
    home.write_bot("good", &sleeper("alice"));
    home.running_pid("good");
    home.botctl(&["events", "--since", "100000000d"])
        .code(2)
        .says(&["--since", "too large: at most 3650d"]);
    home.botctl(&["events", "--since", "3650d"])
        .ok()
        .says(&["good"]);
}

#[test]
fn botctl_variables_cannot_be_overridden_from_env() {
    let home = Home::fast();
    home.write_bot("good", &sleeper("alice"));
    home.write_bot(
        "imposter",
        "user = \"alice\"\ncommand = [\"sleep\", \"1000\"]\n[env]\nBOTCTL_BOT = \"good\"\n",
    );
    let out = home.botctl(&["config", "check"]).code(1);
    let line = line_with(&out.stdout, "bots.d/imposter.toml");
    assert!(
        line.contains("field `env.BOTCTL_BOT`: variables starting BOTCTL_ are set by botctl and cannot be overridden"),
        "{out:?}"
    );
    // The agent refuses the file like any bad one: nothing runs as `good` but `good`.
    let pid = home.running_pid("good");
    assert_eq!(home.bot("imposter")["state"], "config-error");
    assert_eq!(bot_pids(&home, "good"), [pid]);
    assert!(environ(pid).contains(&"BOTCTL_BOT=good".to_string()));

    home.botctl(&[
        "bots",
        "add",
        "other",
        "--user",
        "alice",
        "-e",
        "BOTCTL_OWNER=bob",
        "--",
        "sleep",
        "1000",
    ])
    .code(1)
    .says(&["env.BOTCTL_OWNER", "cannot be overridden"]);
    assert!(!home.file("bots.d/other.toml").exists());
}
