//! The configuration's unit tests: defaults, every field's reading and bounds, error
//! wording with file, field, line and column, and round trips of written bot files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

fn bot(text: &str) -> Result<BotConfig, ConfigError> {
    parse_bot("echo", Path::new("bots.d/echo.toml"), text)
}

fn bot_err(text: &str) -> ConfigError {
    bot(text).expect_err("should be rejected")
}

fn global_err(text: &str) -> ConfigError {
    parse_global(Path::new("botctl.toml"), text).expect_err("should be rejected")
}

const MINIMAL: &str = "user = \"alice\"\ncommand = [\"python3\", \"bot.py\"]\n";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn global_defaults() {
    let g = parse_global(Path::new("botctl.toml"), "").unwrap();
    assert_eq!(g, GlobalConfig::default());
    assert_eq!(
        g.restart,
        RestartPolicy {
            policy: RestartMode::Always,
            stable_after: secs(30),
            backoff_initial: secs(1),
            backoff_max: secs(60),
            max_restarts: 5,
            window: secs(600),
            retry_after: secs(900),
            stop_timeout: secs(10),
            schedule: None,
        }
    );
    assert_eq!(
        g.logs,
        LogSettings {
            max_size_mb: 10,
            keep: 5
        }
    );
    let empty_sections = "[agent]\n[restart]\n[logs]\n";
    assert_eq!(
        parse_global(Path::new("botctl.toml"), empty_sections).unwrap(),
        g
    );
}

#[test]
fn bot_defaults() {
    let b = bot(MINIMAL).unwrap();
    assert_eq!(b.name, "echo");
    assert_eq!(b.user, "alice");
    assert_eq!(b.command, ["python3", "bot.py"]);
    assert_eq!(b.cwd, None);
    assert!(b.env.is_empty());
    assert_eq!(b.platform, Platform::Generic);
    assert!(b.enabled);
    assert_eq!(b.stop_timeout, None);
    assert_eq!(b.template, None);
    assert_eq!(b.restart, RestartOverrides::default());
    assert_eq!(b.policy(&GlobalConfig::default()), RestartPolicy::default());
}

#[test]
fn global_every_field() {
    let text = r#"
        [agent]
        [restart]
        policy = "on-failure"
        stable_after = "1m"
        backoff_initial = "500ms"
        backoff_max = "2m"
        max_restarts = 0
        window = "1h"
        retry_after = "1d"
        stop_timeout = "3s"
        [logs]
        max_size_mb = 1
        keep = 0
    "#;
    let g = parse_global(Path::new("botctl.toml"), text).unwrap();
    assert_eq!(
        g,
        GlobalConfig {
            restart: RestartPolicy {
                policy: RestartMode::OnFailure,
                stable_after: secs(60),
                backoff_initial: Duration::from_millis(500),
                backoff_max: secs(120),
                max_restarts: 0,
                window: secs(3600),
                retry_after: secs(86_400),
                stop_timeout: secs(3),
                schedule: None,
            },
            logs: LogSettings {
                max_size_mb: 1,
                keep: 0
            },
            ..GlobalConfig::default()
        }
    );
}

#[test]
fn limits_users_and_agent_sections() {
    let text = r#"
        [agent]
        health_interval = "2s"
        sample_retention = "1d"
        [limits]
        max_bots_per_user = 3
        max_total_bots = 10
        max_memory_mb = 256
        max_cpu_percent = 50
        memory_samples = 4
        cpu_samples = 5
        restart_on_pressure = false
        memory_threshold_percent = 70
        max_disk_percent = 95
        pressure_cooldown = "1m"
        forecast_window = "10m"
        forecast_min_samples = 5
        [users.alice]
        max_bots_per_user = 7
        max_memory_mb = 1024
        forecast_horizon = "2h"
    "#;
    let g = parse_global(Path::new("botctl.toml"), text).unwrap();
    assert_eq!(g.agent.health_interval, secs(2));
    assert_eq!(g.agent.sample_retention, secs(86_400));
    assert_eq!(g.limits.max_total_bots, 10);
    assert_eq!(g.limits.bot.max_cpu_percent, 50);
    assert!(!g.limits.bot.restart_on_pressure);
    assert_eq!(g.limits.pressure_cooldown, secs(60));
    assert_eq!(g.max_bots_for("alice"), 7);
    assert_eq!(g.max_bots_for("bob"), 3);
    let alice = bot("user = \"alice\"\ncommand = [\"x\"]\n[limits]\ncpu_samples = 9\n").unwrap();
    let limits = alice.limits(&g);
    assert_eq!(limits.max_memory_mb, 1024, "owner override");
    assert_eq!(limits.cpu_samples, 9, "bot override");
    assert_eq!(limits.memory_samples, 4, "global");
    assert_eq!(limits.forecast_window, secs(600), "global");
    assert_eq!(limits.forecast_min_samples, 5, "global");
    assert_eq!(limits.forecast_horizon, secs(7200), "owner override");
    assert!(!limits.restart_before_limit, "the default");
    let eager = bot("user = \"bob\"\ncommand = [\"x\"]\n[limits]\nrestart_before_limit = true\n")
        .unwrap()
        .limits(&g);
    assert!(eager.restart_before_limit, "bot override");
    assert_eq!(eager.forecast_horizon, DEFAULT_FORECAST_HORIZON);

    for (text, field) in [
        (
            "[agent]\nhealth_interval = \"500ms\"\n",
            "agent.health_interval",
        ),
        (
            "[limits]\nmax_disk_percent = 101\n",
            "limits.max_disk_percent",
        ),
        ("[limits]\nstorage = 1\n", "limits.storage"),
        (
            "[limits]\nforecast_min_samples = 2\n",
            "limits.forecast_min_samples",
        ),
        (
            "[limits]\nforecast_horizon = \"0s\"\n",
            "limits.forecast_horizon",
        ),
        (
            "[users.bob]\nmax_total_bots = 1\n",
            "users.bob.max_total_bots",
        ),
        ("[users]\nbob = 1\n", "users.bob"),
    ] {
        let e = parse_global(Path::new("botctl.toml"), text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
    }
}

#[test]
fn templates_and_bots_made_from_them() {
    let path = Path::new("templates/tw/template.toml");
    let t = parse_template(
        "tw",
        path,
        "command = [\"python3\", \"bot.py\"]\nplatform = \"twitter\"\ncopy = [\"config.json\", \".env\"]\ndirs = [\"data\"]\nenv = { LANG = \"en\" }\nenv_file = \"-.env\"\n[limits]\nmax_memory_mb = 64\n",
    )
    .unwrap();
    assert_eq!(t.copy, vec!["config.json", ".env"]);
    assert_eq!(t.platform, Platform::Twitter);
    let file = Path::new("bots.d/b1.toml");
    let sets = vec![
        ("env.TOKEN_FILE".to_string(), "token.txt".to_string()),
        ("limits.max_cpu_percent".to_string(), "50".to_string()),
        ("enabled".to_string(), "false".to_string()),
    ];
    let b = bot_from_template("b1", "alice", &t, &sets, file).unwrap();
    assert_eq!(b.template.as_deref(), Some("tw"));
    assert_eq!(b.env_file.as_deref(), Some("-.env"));
    // Written into the bot file and read back the same.
    let again = parse_bot("b1", file, &b.to_toml()).unwrap();
    assert_eq!(again.env_file.as_deref(), Some("-.env"));
    assert_eq!(
        EnvFile::parse("-.env"),
        EnvFile {
            path: ".env".into(),
            optional: true
        }
    );
    assert_eq!(b.command, vec!["python3", "bot.py"]);
    assert_eq!(
        b.env.get("TOKEN_FILE").map(String::as_str),
        Some("token.txt")
    );
    assert_eq!(b.env.get("LANG").map(String::as_str), Some("en"));
    assert_eq!(b.limits.max_memory_mb, Some(64));
    assert_eq!(b.limits.max_cpu_percent, Some(50));
    assert!(!b.enabled);

    for bad in ["", "-"] {
        let text = format!("user = \"a\"\ncommand = [\"x\"]\nenv_file = {bad:?}\n");
        let e = parse_bot("b1", file, &text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("env_file"), "{bad:?}: {e}");
    }
    for (key, value, field) in [
        ("user", "bob", "user"),
        ("limits.max_memory_mb", "lots", "limits.max_memory_mb"),
        ("nonsense", "1", "nonsense"),
    ] {
        let e =
            bot_from_template("b1", "alice", &t, &[(key.into(), value.into())], file).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{key}: {e}");
    }
    for (text, field) in [
        ("command = [\"x\"]\ncopy = [\"../etc\"]\n", "copy"),
        ("command = [\"x\"]\ndirs = [\"/abs\"]\n", "dirs"),
        (
            "command = [\"x\"]\ncopy = [\"a\"]\ndirs = [\"a\"]\n",
            "dirs",
        ),
        ("copy = []\n", "command"),
        ("command = [\"x\"]\nuser = \"a\"\n", "user"),
    ] {
        let e = parse_template("tw", path, text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
    }
}

#[test]
fn health_section() {
    let b = bot(
        "user = \"a\"\ncommand = [\"x\"]\n[health]\nport = 8080\nhttp = \"http://127.0.0.1:8080/h\"\nexpect = [200, 204]\ninterval = \"2s\"\nfailures = 2\n",
    )
    .unwrap();
    let h = b.health.clone().unwrap();
    assert_eq!(h.port, Some(8080));
    assert_eq!(h.expect, vec![200, 204]);
    assert_eq!(h.interval, Some(Dur(secs(2))));
    assert_eq!(h.timeout, Dur(DEFAULT_CHECK_TIMEOUT));
    assert_eq!(h.start_grace, Dur(DEFAULT_START_GRACE));
    assert_eq!(h.failures, 2);
    let again = parse_bot("echo", Path::new("bots.d/echo.toml"), &b.to_toml()).unwrap();
    assert_eq!(again, b, "round trip through to_toml");

    for (text, field) in [
        ("[health]\nfailures = 1\n", "health"),
        ("[health]\nport = 70000\n", "health.port"),
        ("[health]\nhttp = \"ftp://x\"\n", "health.http"),
        ("[health]\nport = 1\nexpect = [\"ok\"]\n", "health.expect"),
        (
            "[health]\nport = 1\ninterval = \"10ms\"\n",
            "health.interval",
        ),
        ("[health]\nport = 1\nurl = \"x\"\n", "health.url"),
        ("[health]\nready = \"sometime\"\n", "health.ready"),
        ("[health]\nwatchdog = \"10ms\"\n", "health.watchdog"),
        ("[health]\nlog_silence = \"0s\"\n", "health.log_silence"),
        ("[health]\nstart_timeout = \"90s\"\n", "health"),
        (
            "[limits]\nmax_bots_per_user = 1\n",
            "limits.max_bots_per_user",
        ),
    ] {
        let full = format!("user = \"a\"\ncommand = [\"x\"]\n{text}");
        let e = bot(&full).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
    }
}

#[test]
fn health_watches_without_probes() {
    let b = bot(
        "user = \"a\"\ncommand = [\"x\"]\n[health]\nready = \"notify\"\nstart_timeout = \"20s\"\nwatchdog = \"1m\"\nlog_silence = \"15m\"\n",
    )
    .unwrap();
    let h = b.health.clone().unwrap();
    assert!(!h.probes());
    assert_eq!(h.ready, ReadyMode::Notify);
    assert_eq!(h.start_timeout, Dur(secs(20)));
    assert_eq!(h.watchdog, Some(Dur(secs(60))));
    assert_eq!(h.log_silence, Some(Dur(secs(900))));
    let again = parse_bot("echo", Path::new("bots.d/echo.toml"), &b.to_toml()).unwrap();
    assert_eq!(again, b, "round trip through to_toml");
    // Each alone is a check; the defaults are documented once.
    for one in [
        "ready = \"notify\"",
        "watchdog = \"5s\"",
        "log_silence = \"2s\"",
    ] {
        bot(&format!(
            "user = \"a\"\ncommand = [\"x\"]\n[health]\n{one}\n"
        ))
        .unwrap();
    }
    let h = HealthCheck::default();
    assert_eq!(h.ready, DEFAULT_READY);
    assert_eq!(h.start_timeout, Dur(DEFAULT_START_TIMEOUT));
    assert_eq!((h.watchdog, h.log_silence), (None, None));
}

#[test]
fn bot_every_field() {
    let text = r#"
        user = "bob.smith-2"
        command = ["sh", "-c", "exec ./run"]
        cwd = "/srv/x"
        env = { TOKEN = "abc", _DEBUG = "1" }
        platform = "telegram"
        enabled = false
        stop_timeout = "20s"
        template = "python"
        [restart]
        policy = "never"
        stable_after = "5s"
        backoff_initial = "2s"
        backoff_max = "1m30s"
        max_restarts = 9
        window = "5m"
        retry_after = "1h"
        stop_timeout = "7s"
        schedule = "0 4 * * *"
    "#;
    let b = bot(text).unwrap();
    let env = BTreeMap::from([
        ("TOKEN".to_string(), "abc".to_string()),
        ("_DEBUG".to_string(), "1".to_string()),
    ]);
    assert_eq!(
        b,
        BotConfig {
            name: "echo".into(),
            user: "bob.smith-2".into(),
            command: vec!["sh".into(), "-c".into(), "exec ./run".into()],
            cwd: Some("/srv/x".into()),
            env,
            env_file: None,
            platform: Platform::Telegram,
            enabled: false,
            stop_timeout: Some(secs(20)),
            template: Some("python".into()),
            no_new_privs: true,
            core_dumps: false,
            restart: RestartOverrides {
                policy: Some(RestartMode::Never),
                stable_after: Some(secs(5)),
                backoff_initial: Some(secs(2)),
                backoff_max: Some(secs(90)),
                max_restarts: Some(9),
                window: Some(secs(300)),
                retry_after: Some(secs(3600)),
                stop_timeout: Some(secs(7)),
                schedule: Some(Some(Schedule::parse("0 4 * * *").unwrap())),
            },
            limits: LimitOverrides::default(),
            health: None,
            auth: None,
            update: None,
        }
    );
    for p in Platform::ALL {
        let b = bot(&format!("{MINIMAL}platform = \"{p}\"\n")).unwrap();
        assert_eq!(b.platform, p);
    }
}

#[test]
fn overrides_resolve() {
    let global = parse_global(
        Path::new("botctl.toml"),
        "[restart]\nmax_restarts = 3\nwindow = \"20m\"\nstop_timeout = \"30s\"\n",
    )
    .unwrap();
    let b = bot(&format!("{MINIMAL}[restart]\nmax_restarts = 8\n")).unwrap();
    let p = b.policy(&global);
    assert_eq!(p.max_restarts, 8);
    assert_eq!(p.window, secs(1200));
    assert_eq!(p.stop_timeout, secs(30));
    assert_eq!(p.backoff_max, DEFAULT_BACKOFF_MAX);

    let b = bot(&format!("{MINIMAL}[restart]\nstop_timeout = \"5s\"\n")).unwrap();
    assert_eq!(b.policy(&global).stop_timeout, secs(5));

    let b = bot(&format!(
        "{MINIMAL}stop_timeout = \"1s\"\n[restart]\nstop_timeout = \"5s\"\n"
    ))
    .unwrap();
    assert_eq!(b.policy(&global).stop_timeout, secs(1));
}

#[test]
fn unknown_top_level_field() {
    let e = bot_err(&format!("{MINIMAL}comand = []\n"));
    assert_eq!(e.field.as_deref(), Some("comand"));
    assert_eq!(
        e.message,
        "unknown field; allowed here: user, command, cwd, platform, enabled, stop_timeout, \
         template, no_new_privs, core_dumps, env_file, env, restart, limits, health, auth, update"
    );
    let e = global_err("restrt = 1\n");
    assert_eq!(e.field.as_deref(), Some("restrt"));
    assert!(e.message.contains("agent, restart, logs"), "{e}");
}

#[test]
fn unknown_field_in_sections() {
    let e = bot_err(&format!("{MINIMAL}[restart]\nbackof_max = \"1s\"\n"));
    assert_eq!(e.field.as_deref(), Some("restart.backof_max"));
    assert!(e.message.contains("backoff_max"), "{e}");
    let e = global_err("[restart]\nmax = 1\n");
    assert_eq!(e.field.as_deref(), Some("restart.max"));
    let e = global_err("[logs]\nsize = 1\n");
    assert_eq!(e.field.as_deref(), Some("logs.size"));
    assert!(e.message.contains("max_size_mb, keep"), "{e}");
    let e = global_err("[agent]\nsocket = \"/x\"\n");
    assert_eq!(e.field.as_deref(), Some("agent.socket"));
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        (
            "[restart]\nmax_restarts = \"five\"\n",
            "restart.max_restarts",
            "must be a whole number from 0 to 10000",
        ),
        (
            "[restart]\nmax_restarts = -1\n",
            "restart.max_restarts",
            "must be a whole number from 0 to 10000",
        ),
        (
            "[restart]\nmax_restarts = 5000000000\n",
            "restart.max_restarts",
            "5000000000 is too large: at most 10000",
        ),
        ("[restart]\npolicy = 1\n", "restart.policy", "string"),
        ("[restart]\nwindow = 10\n", "restart.window", "e.g. \"10s\""),
        ("restart = 1\n", "restart", "must be a table"),
        ("enabled = \"yes\"\n", "enabled", "must be true or false"),
        ("cwd = 1\n", "cwd", "must be a string"),
        ("template = []\n", "template", "must be a string"),
        ("env = \"A=1\"\n", "env", "must be a table"),
    ];
    for (extra, field, needle) in cases {
        let e = bot_err(&format!("{MINIMAL}{extra}"));
        assert_eq!(e.field.as_deref(), Some(field), "{extra}");
        assert!(e.message.contains(needle), "{extra}: {e}");
    }
    let e = global_err("[logs]\nmax_size_mb = 0\n");
    assert_eq!(e.field.as_deref(), Some("logs.max_size_mb"));
    assert_eq!(e.message, "must be a whole number from 1 to 16777216");
}

#[test]
fn bad_duration() {
    let e = bot_err(&format!("{MINIMAL}[restart]\nwindow = \"10x\"\n"));
    assert_eq!(
        e.to_string(),
        "bots.d/echo.toml:4:10: field `restart.window`: invalid duration \"10x\": use a number \
         with a unit ms, s, m, h or d, e.g. \"15s\""
    );
    let e = bot_err(&format!("{MINIMAL}stop_timeout = \"soon\"\n"));
    assert_eq!(e.field.as_deref(), Some("stop_timeout"));
}

#[test]
fn bad_policy_and_platform() {
    let e = bot_err(&format!("{MINIMAL}platform = \"twiter\"\n"));
    assert_eq!(e.field.as_deref(), Some("platform"));
    assert_eq!(
        e.message,
        "unknown value \"twiter\": use twitter, messenger, telegram, generic"
    );
    let e = global_err("[restart]\npolicy = \"sometimes\"\n");
    assert_eq!(e.field.as_deref(), Some("restart.policy"));
    assert!(e.message.contains("use always, on-failure, never"), "{e}");
}

#[test]
fn missing_or_bad_user() {
    let e = bot_err("command = [\"x\"]\n");
    assert_eq!(e.field.as_deref(), Some("user"));
    assert_eq!(
        e.message,
        "missing: every bot needs an owner, e.g. user = \"alice\""
    );
    for user in ["", "../etc", ".hidden", "a b", &"a".repeat(65)] {
        let e = bot_err(&format!("user = {user:?}\ncommand = [\"x\"]\n"));
        assert_eq!(e.field.as_deref(), Some("user"), "{user}");
    }
}

#[test]
fn missing_or_bad_command() {
    let e = bot_err("user = \"alice\"\n");
    assert_eq!(e.field.as_deref(), Some("command"));
    assert!(e.message.starts_with("missing"), "{e}");
    for command in ["[]", "\"python3 bot.py\"", "[\"a\", 1]", "[\"\", \"x\"]"] {
        let e = bot_err(&format!("user = \"alice\"\ncommand = {command}\n"));
        assert_eq!(e.field.as_deref(), Some("command"), "{command}");
        assert!(
            e.message.contains("e.g. command = [\"python3\"") || e.message.starts_with("must be"),
            "{e}"
        );
    }
}

#[test]
fn bad_env_never_echoes_values() {
    let secret = "s3cret-t0ken";
    let cases = [
        (
            format!("env = {{ \"1BAD\" = \"{secret}\" }}\n"),
            Some("env.1BAD"),
        ),
        (
            format!("env = {{ \"A-B\" = \"{secret}\" }}\n"),
            Some("env.A-B"),
        ),
        ("env = { TOKEN = 12345 }\n".to_string(), Some("env.TOKEN")),
        (format!("env = {{ TOKEN = \"{secret} }}\n"), None),
        (format!("env = {{ TOKEN = {secret} }}\n"), None),
        (format!("[env]\nTOKEN = '{secret}'x\n"), None),
    ];
    for (extra, field) in cases {
        let e = bot_err(&format!("{MINIMAL}{extra}"));
        assert_eq!(e.field.as_deref(), field, "{extra}");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("12345"), "{shown}");
    }
    let e = bot_err(&format!("{MINIMAL}env = {{ \"1BAD\" = \"x\" }}\n"));
    assert!(e.message.contains("\"1BAD\""), "{e}");
}

#[test]
fn bad_bot_name() {
    for name in ["", "Echo", "-echo", "my bot", "a.b", &"a".repeat(65)] {
        let e = parse_bot(name, Path::new("bots.d/x.toml"), MINIMAL).unwrap_err();
        assert_eq!(e.field, None);
        assert!(e.message.contains("lowercase letters, digits"), "{e}");
    }
    for name in ["echo", "0day", "my_bot-2", &"a".repeat(64)] {
        assert!(valid_bot_name(name), "{name}");
    }
}

#[test]
fn owner_names() {
    for name in ["alice", "_svc", "Bob.Smith-2", "0"] {
        assert!(valid_owner_name(name), "{name}");
    }
    for name in ["", ".", "..", "-x", "a/b", "é"] {
        assert!(!valid_owner_name(name), "{name}");
    }
}

#[test]
fn syntax_error_has_line() {
    let e = bot_err("user = \"alice\"\ncommand = [\"x\"]\nplatform = \n");
    assert_eq!(e.field, None);
    assert_eq!(e.location, Some((3, 12)), "{e}");
    assert!(e.message.starts_with("invalid TOML: "), "{e}");
    let e = global_err("[restart]\nwindow = \"1s\"\nwindow = \"2s\"\n");
    assert_eq!(e.location.map(|l| l.0), Some(3), "{e}");
    assert!(e.to_string().starts_with("botctl.toml:3:"), "{e}");
}

#[test]
fn display_without_field() {
    let e = file_error(Path::new("bots.d/x.toml"), "cannot read: denied");
    assert_eq!(e.to_string(), "bots.d/x.toml: cannot read: denied");
}

#[test]
fn durations_parse() {
    let ms = Duration::from_millis;
    let cases = [
        ("0s", ms(0)),
        ("0ms", ms(0)),
        ("500ms", ms(500)),
        ("15s", secs(15)),
        ("10m", secs(600)),
        ("2h", secs(7200)),
        ("3d", secs(3 * 86_400)),
        ("1h30m", secs(5400)),
        ("1m30s", secs(90)),
        ("1d2h3m4s5ms", ms(93_784_005)),
    ];
    for (text, want) in cases {
        assert_eq!(parse_duration(text), Ok(want), "{text}");
    }
    for bad in [
        "",
        "10",
        "x5s",
        "5 s",
        " 5s",
        "5s ",
        "-1s",
        "+1s",
        "1.5s",
        "5S",
        "5sec",
        "1h30",
        "99999999999999999999s",
        "999999999999999d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        parse_duration("10x").unwrap_err(),
        "invalid duration \"10x\": use a number with a unit ms, s, m, h or d, e.g. \"15s\""
    );
}

#[test]
fn durations_format() {
    let ms = Duration::from_millis;
    let cases = [
        (ms(0), "0s"),
        (ms(1500), "1500ms"),
        (ms(999), "999ms"),
        (secs(15), "15s"),
        (secs(90), "1m30s"),
        (ms(90_500), "1m30s"),
        (secs(3725), "1h2m5s"),
        (secs(2 * 86_400 + 3 * 3600), "2d3h"),
        (secs(3600), "1h"),
    ];
    for (d, want) in cases {
        assert_eq!(format_duration(d), want, "{d:?}");
    }
    for d in [
        ms(0),
        ms(1),
        ms(59_999),
        secs(60),
        secs(93_784),
        secs(86_400 * 400),
    ] {
        assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
    }
}

#[test]
fn dur_serde() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct W {
        d: Dur,
    }
    let w: W = toml::from_str("d = \"1m30s\"").unwrap();
    assert_eq!(w.d, Dur(secs(90)));
    assert_eq!(toml::to_string(&w).unwrap().trim(), "d = \"1m30s\"");
    let exact = W {
        d: Dur(Duration::from_millis(61_500)),
    };
    let back: W = toml::from_str(&toml::to_string(&exact).unwrap()).unwrap();
    assert_eq!(back, exact);
    let err = toml::from_str::<W>("d = \"10x\"").unwrap_err();
    assert!(err.message().contains("invalid duration"), "{err}");
}

#[test]
fn restart_overrides_serde() {
    let o: RestartOverrides = toml::from_str("policy = \"on-failure\"\nwindow = \"5m\"").unwrap();
    assert_eq!(o.policy, Some(RestartMode::OnFailure));
    assert_eq!(o.window, Some(secs(300)));
    let text = toml::to_string(&o).unwrap();
    assert_eq!(text, "policy = \"on-failure\"\nwindow = \"5m\"\n");
    assert!(toml::from_str::<RestartOverrides>("polcy = \"never\"").is_err());
    assert_eq!(RestartMode::OnFailure.to_string(), "on-failure");
    assert_eq!(Platform::Messenger.to_string(), "messenger");
    assert_eq!(Platform::default(), Platform::Generic);
}

#[test]
fn to_toml_round_trip() {
    let minimal = bot(MINIMAL).unwrap();
    assert_eq!(minimal.to_toml(), MINIMAL);

    let full = BotConfig {
        name: "echo".into(),
        user: "alice".into(),
        command: vec!["sh".into(), "-c".into(), "echo \"hi\" 'there'\n".into()],
        cwd: Some("/srv/échо".into()),
        env: BTreeMap::from([
            ("TOKEN".to_string(), "a\"b\\c\nd".to_string()),
            ("EMPTY".to_string(), String::new()),
        ]),
        env_file: Some("/etc/bots/échо.env".into()),
        platform: Platform::Twitter,
        enabled: false,
        stop_timeout: Some(Duration::from_millis(61_500)),
        template: Some("py".into()),
        no_new_privs: false,
        core_dumps: true,
        restart: RestartOverrides {
            policy: Some(RestartMode::OnFailure),
            max_restarts: Some(0),
            backoff_max: Some(secs(90)),
            ..RestartOverrides::default()
        },
        limits: LimitOverrides {
            max_memory_mb: Some(64),
            restart_on_pressure: Some(false),
            ..LimitOverrides::default()
        },
        health: Some(HealthCheck {
            port: None,
            http: Some("http://127.0.0.1:1/h".into()),
            expect: vec![204],
            interval: None,
            timeout: Dur(secs(2)),
            start_grace: Dur(Duration::ZERO),
            failures: 1,
            ready: ReadyMode::Notify,
            start_timeout: Dur(secs(20)),
            watchdog: Some(Dur(secs(30))),
            log_silence: Some(Dur(secs(900))),
        }),
        auth: Some(AuthConfig {
            cookies: "c.txt".into(),
            required: Some(vec!["sid".into()]),
            warn_before: Dur(secs(3600)),
            on_invalid: OnInvalid::Alert,
            probe_url: Some("https://x.test/me".into()),
            probe_method: "POST".into(),
            probe_expect: vec![200, 204],
            probe_headers_file: Some("h.toml".into()),
        }),
        update: Some(UpdateConfig {
            repo: Some("alice/bot".into()),
            branch: "prod".into(),
            update_command: Some(vec!["make".into(), "deploy".into()]),
            timeout: Dur(secs(60)),
        }),
    };
    let text = full.to_toml();
    assert_eq!(bot(&text).unwrap(), full, "{text}");
    assert!(!text.contains("name"), "{text}");
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "botctl-config-{tag}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fleet_loads_good_reports_bad_ignores_others() {
    let dir = scratch_dir("fleet");
    std::fs::write(dir.join("zeta.toml"), MINIMAL).unwrap();
    std::fs::write(dir.join("alpha.toml"), MINIMAL).unwrap();
    std::fs::write(dir.join("broken.toml"), "user = \"alice\"\n").unwrap();
    std::fs::write(dir.join("Bad Name.toml"), MINIMAL).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a bot").unwrap();
    std::fs::write(dir.join("alpha.toml~"), "garbage").unwrap();
    std::fs::write(dir.join(".alpha.toml.swp"), "garbage").unwrap();
    std::fs::write(dir.join(".hidden.toml"), "garbage").unwrap();
    std::fs::create_dir(dir.join("sub.toml")).unwrap();
    // Links count for what they point to: a linked file is a bot, a linked directory not.
    std::os::unix::fs::symlink(dir.join("sub.toml"), dir.join("linkdir.toml")).unwrap();
    std::os::unix::fs::symlink(dir.join("zeta.toml"), dir.join("linked.toml")).unwrap();

    let fleet = load_fleet(&dir);
    let names: Vec<_> = fleet.bots.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["alpha", "linked", "zeta"]);
    let files: Vec<_> = fleet.errors.iter().map(|e| e.file.clone()).collect();
    assert_eq!(files, [dir.join("Bad Name.toml"), dir.join("broken.toml")]);
    assert_eq!(fleet.errors[1].field.as_deref(), Some("command"));

    assert_eq!(load_bot(&dir.join("alpha.toml")).unwrap().name, "alpha");
    let e = load_bot(&dir.join("missing.toml")).unwrap_err();
    assert!(e.message.starts_with("cannot read"), "{e}");

    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(load_fleet(&dir).listing, Listing::Missing);
    assert_eq!(load_fleet(&dir).bots, []);

    // A folder that cannot be listed is not an empty fleet.
    std::fs::write(&dir, "not a folder").unwrap();
    let fleet = load_fleet(&dir);
    assert_eq!(fleet.listing, Listing::Unreadable);
    assert!(
        fleet.errors[0]
            .message
            .starts_with("cannot read directory:"),
        "{:?}",
        fleet.errors
    );
    std::fs::remove_file(&dir).unwrap();
}

#[test]
fn fleet_reports_odd_entries_per_file() {
    let dir = scratch_dir("odd-entries");
    std::fs::write(dir.join("good.toml"), MINIMAL).unwrap();
    crate::fsread::tests::mkfifo(&dir.join("fifo.toml"));
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.toml")).unwrap();
    std::os::unix::fs::symlink(dir.join("gone"), dir.join("dangling.toml")).unwrap();
    let fleet = load_fleet(&dir);
    assert_eq!(fleet.listing, Listing::Read);
    assert_eq!(fleet.bots.len(), 1);
    let errors: Vec<String> = fleet.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("dangling.toml") && errors[0].contains("No such file"));
    assert!(errors[1].contains("fifo.toml") && errors[1].contains("is a FIFO, not a regular file"));
    assert!(errors[2].contains("zero.toml") && errors[2].contains("is a character device"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_global_missing_and_present() {
    let dir = scratch_dir("global");
    let path = dir.join("botctl.toml");
    assert_eq!(load_global(&path), Ok(GlobalConfig::default()));
    std::fs::write(&path, "[logs]\nkeep = 2\n").unwrap();
    assert_eq!(load_global(&path).unwrap().logs.keep, 2);
    std::fs::write(&path, "[logs]\nkeep = \"2\"\n").unwrap();
    let e = load_global(&path).unwrap_err();
    assert_eq!(e.file, path);
    assert_eq!(e.field.as_deref(), Some("logs.keep"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_say_line_and_column() {
    let e = parse_bot(
        "tweeter",
        Path::new("bots.d/tweeter.toml"),
        &format!("{MINIMAL}[restart]\nbackoff_max = \"5 m\"\n"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bots.d/tweeter.toml:4:15: field `restart.backoff_max`: invalid duration \"5 m\": use a \
         number with a unit ms, s, m, h or d, e.g. \"15s\""
    );
    // An unknown field points at its key, in a section or at the top.
    let e = bot_err(&format!("{MINIMAL}[limits]\n  max_memry_mb = 5\n"));
    assert_eq!(e.field.as_deref(), Some("limits.max_memry_mb"));
    assert_eq!(e.location, Some((4, 3)));
    assert!(e.message.contains("allowed here: max_memory_mb, "), "{e}");
    // A problem found after reading still has its place.
    let e = bot_err("command = [\"x\"]\nuser = \"-bad\"\n");
    assert_eq!(e.field.as_deref(), Some("user"));
    assert_eq!(e.location, Some((2, 8)));
}

#[test]
fn every_section_reports_its_own_problem() {
    let text = "[agent]\nhealth_intervl = \"5s\"\n\n[logs]\nkeep = 4294967295\n\n\
                [limits]\nstorage_quota_mb = 17592186044416\n\n[restart]\nwindow = \"soon\"\n";
    let problems = check_global_text(Path::new("botctl.toml"), text).unwrap_err();
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "botctl.toml:2:1: field `agent.health_intervl`: unknown field; allowed here: \
             health_interval, sample_retention, cleanup_interval, auth_interval, report_interval, containment",
            "botctl.toml:8:20: field `limits.storage_quota_mb`: 17592186044416 is too large: at \
             most 16777216",
            "botctl.toml:5:8: field `logs.keep`: 4294967295 is too large: at most 100",
            "botctl.toml:11:10: field `restart.window`: invalid duration \"soon\": use a number \
             with a unit ms, s, m, h or d, e.g. \"15s\"",
        ]
    );
    // The summary is the first of them.
    assert_eq!(
        parse_global(Path::new("botctl.toml"), text).unwrap_err(),
        problems[0]
    );
}

#[test]
fn every_problem_of_a_file_is_reported_not_only_one_a_section() {
    let fields = |problems: &[ConfigError]| {
        let mut f: Vec<String> = problems
            .iter()
            .map(|p| p.field.clone().unwrap_or_default())
            .collect();
        f.sort();
        f
    };
    let text = "[restart]\nstable_after = \"x\"\nbackoff_max = \"y\"\nbogus = 1\n\
                [logs]\nkeep = -1\n";
    let problems = check_global_text(Path::new("botctl.toml"), text).unwrap_err();
    assert_eq!(
        fields(&problems),
        [
            "logs.keep",
            "restart.backoff_max",
            "restart.bogus",
            "restart.stable_after"
        ],
        "{problems:?}"
    );
    assert!(
        problems.iter().all(|p| p.location.is_some()),
        "{problems:?}"
    );
    let text = "user = 7\ncommand = [\"x\"]\n[limits]\nmax_memory_mb = \"z\"\nbogus = 1\n\
                [restart]\nstable_after = \"x\"\n";
    let problems = check_bot_text("b", Path::new("bots.d/b.toml"), text).unwrap_err();
    // A field set aside for being wrong is not reported missing as well.
    assert_eq!(
        fields(&problems),
        [
            "limits.bogus",
            "limits.max_memory_mb",
            "restart.stable_after",
            "user"
        ],
        "{problems:?}"
    );
}

#[test]
fn numbers_are_bounded_where_they_are_read() {
    let cases = [
        (
            "[logs]\nkeep = 101\n",
            "logs.keep",
            "101 is too large: at most 100",
        ),
        (
            "[logs]\nmax_size_mb = 16777217\n",
            "logs.max_size_mb",
            "at most 16777216",
        ),
        (
            "[limits]\nmax_memory_mb = 99999999999\n",
            "limits.max_memory_mb",
            "at most 16777216",
        ),
        (
            "[limits]\nmax_disk_percent = 101\n",
            "limits.max_disk_percent",
            "at most 100",
        ),
        (
            "[limits]\nmax_total_bots = 4294967295\n",
            "limits.max_total_bots",
            "at most 100000",
        ),
        (
            "[restart]\nbackoff_max = \"100000000d\"\n",
            "restart.backoff_max",
            "at most 3650d",
        ),
        (
            "[restart]\nmax_restarts = 4294967295\n",
            "restart.max_restarts",
            "at most 10000",
        ),
        (
            "[users.bob]\nstorage_quota_mb = 17592186044416\n",
            "users.bob.storage_quota_mb",
            "at most 16777216",
        ),
        (
            "[agent]\nsample_retention = \"18446744073709551615ms\"\n",
            "agent.sample_retention",
            "at most 3650d",
        ),
    ];
    for (text, field, needle) in cases {
        let e = global_err(text);
        assert_eq!(e.field.as_deref(), Some(field), "{text}");
        assert!(e.message.contains(needle), "{text}: {e}");
    }
    let g = parse_global(
        Path::new("botctl.toml"),
        "[logs]\nkeep = 100\nmax_size_mb = 16777216\n[restart]\nbackoff_max = \"3650d\"\n",
    )
    .unwrap();
    assert_eq!(g.logs.keep, 100);
    assert_eq!(g.restart.backoff_max, MAX_DURATION);
    assert!(MAX_MIB.checked_mul(1024 * 1024).is_some());
}

#[test]
fn botctl_variables_cannot_be_set_from_env() {
    let e = bot_err(&format!("{MINIMAL}env = {{ BOTCTL_BOT = \"other\" }}\n"));
    assert_eq!(e.field.as_deref(), Some("env.BOTCTL_BOT"));
    assert_eq!(
        e.message,
        "variables starting BOTCTL_ are set by botctl and cannot be overridden"
    );
    assert!(env_key_problem("BOTCTL_HOME").is_some());
    assert!(env_key_problem("BOTCTLX").is_none());
    let template = TemplateConfig {
        name: "py".into(),
        command: vec!["python3".into()],
        ..TemplateConfig::default()
    };
    let e = bot_from_template(
        "b",
        "alice",
        &template,
        &[("env.BOTCTL_OWNER".into(), "mallory".into())],
        Path::new("bots.d/b.toml"),
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("env.BOTCTL_OWNER"));
    let e = parse_template(
        "py",
        Path::new("templates/py/template.toml"),
        "command = [\"x\"]\n[env]\nBOTCTL_BOT = \"y\"\n",
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("env.BOTCTL_BOT"));
}

#[test]
fn the_machine_defaults_are_the_documented_ones() {
    let p = RestartPolicy::default();
    assert_eq!(p.policy, DEFAULT_RESTART_MODE);
    assert_eq!(p.backoff_max, DEFAULT_BACKOFF_MAX);
    assert_eq!(p.max_restarts, DEFAULT_MAX_RESTARTS);
}

/// The parsers meet hand-edited and half-written files: no input may panic them, whether it is
/// random bytes or TOML built from the real field names with values of every type and size.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// The keys a derived schema type reads, as serde lists them.
    fn derived<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
        struct Capture<'a>(&'a mut Vec<&'static str>);
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        impl<'de> serde::Deserializer<'de> for Capture<'_> {
            type Error = Stop;
            fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                self.0.extend(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut out = Vec::new();
        let _ = T::deserialize(Capture(&mut out));
        out
    }

    fn layered<T: Fields>() -> Vec<&'static str> {
        let mut out = Vec::new();
        T::names(&mut out);
        out
    }

    /// Sections a file may have, each with the keys allowed in it.
    fn sections() -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            ("", derived::<BotConfig>()),
            ("", derived::<TemplateConfig>()),
            ("", derived::<GlobalConfig>()),
            ("agent", layered::<AgentOverrides>()),
            ("restart", layered::<RestartOverrides>()),
            ("logs", layered::<LogOverrides>()),
            ("limits", layered::<FleetLimitOverrides>()),
            ("users.alice", layered::<UserSettings>()),
            ("cleanup", layered::<CleanupOverrides>()),
            ("health", derived::<HealthCheck>()),
            ("auth", derived::<AuthConfig>()),
            ("update", derived::<UpdateConfig>()),
            ("env", vec!["TOKEN", "LANG"]),
            ("notify", derived::<NotifySettings>()),
            ("notify.telegram", derived::<TelegramNotify>()),
            ("notify.webhook", derived::<WebhookNotify>()),
            ("remote", derived::<RemoteSettings>()),
            ("remote.telegram", derived::<TelegramRemote>()),
            ("remote.http", derived::<HttpRemote>()),
        ]
    }

    #[test]
    fn every_schema_lists_its_keys() {
        for (section, keys) in sections() {
            assert!(!keys.is_empty(), "{section:?}");
        }
    }

    /// Values of every TOML type, at the edges that break arithmetic and conversions.
    fn value() -> impl Strategy<Value = String> {
        let plausible = prop_oneof![
            Just("\"1s\"".to_string()),
            Just("\"250ms\"".to_string()),
            Just("3".to_string()),
            Just("100".to_string()),
            Just("true".to_string()),
            Just("\"x\"".to_string()),
            Just("[\"a\", \"b\"]".to_string()),
            Just("[200, 204]".to_string()),
        ];
        let edge = prop_oneof![
            Just("0".to_string()),
            Just("-1".to_string()),
            Just("9223372036854775807".to_string()),
            Just("-9223372036854775808".to_string()),
            Just("4294967296".to_string()),
            Just("1e308".to_string()),
            Just("nan".to_string()),
            Just("-inf".to_string()),
            Just("true".to_string()),
            Just("1979-05-27T07:32:00Z".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            "[0-9]{1,25}(ms|s|m|h|d|x|)".prop_map(|d| format!("{d:?}")),
            prop_oneof![
                Just("always"),
                Just("on-failure"),
                Just("never"),
                Just("twitter"),
                Just("stop"),
                Just("GET"),
                Just("127.0.0.1:8080"),
                Just("http://127.0.0.1:1/x"),
                Just("owner/repo"),
                Just("../../etc"),
                Just(""),
            ]
            .prop_map(|s| format!("{s:?}")),
            any::<String>().prop_map(|s| format!("{s:?}")),
        ];
        let scalar = prop_oneof![3 => plausible, 2 => edge];
        scalar.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..3).prop_map(|kv| {
                    let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", body.join(", "))
                }),
            ]
        })
    }

    /// A value of the type a field takes (or a plain string for names this does not know).
    fn typical(key: &str) -> &'static str {
        const DURATION_WORDS: &[&str] = &[
            "interval",
            "after",
            "timeout",
            "backoff",
            "window",
            "grace",
            "age",
            "cooldown",
            "before",
            "retention",
        ];
        if DURATION_WORDS.iter().any(|w| key.contains(w)) {
            "\"1s\""
        } else if key.ends_with("_mb")
            || key.starts_with("max_")
            || key.ends_with("samples")
            || key.ends_with("percent")
            || matches!(
                key,
                "port" | "failures" | "keep" | "rate_per_minute" | "nofile"
            )
        {
            "3"
        } else if matches!(
            key,
            "enabled" | "restart_on_pressure" | "no_new_privs" | "core_dumps"
        ) {
            "true"
        } else if matches!(key, "expect" | "probe_expect" | "chat_ids" | "admins") {
            "[200]"
        } else if matches!(
            key,
            "command" | "required" | "update_command" | "copy" | "dirs"
        ) {
            "[\"a\", \"b\"]"
        } else if key == "policy" {
            "\"on-failure\""
        } else if key == "platform" {
            "\"twitter\""
        } else if key == "containment" {
            "\"subreaper\""
        } else if key == "on_invalid" {
            "\"alert\""
        } else if key == "probe_method" {
            "\"POST\""
        } else if key == "http" || key == "probe_url" || key == "url" || key == "api_base" {
            "\"http://127.0.0.1:1/x\""
        } else if key == "listen" {
            "\"127.0.0.1:0\""
        } else if key == "repo" {
            "\"owner/repo\""
        } else {
            "\"value\""
        }
    }

    /// A file of sections and `key = value` lines drawn from the real field names (and a few
    /// that are not), so most inputs get past the TOML syntax into the field checks.
    fn config_text() -> impl Strategy<Value = String> {
        text_of(sections())
    }

    /// Like [`config_text`] but only with what a bot file may hold, after its required fields.
    fn bot_text() -> impl Strategy<Value = String> {
        let top = vec!["cwd", "platform", "enabled", "stop_timeout", "template"];
        let bot_sections = vec![
            ("", top),
            ("restart", layered::<RestartOverrides>()),
            ("limits", layered::<LimitOverrides>()),
            ("health", derived::<HealthCheck>()),
            ("auth", derived::<AuthConfig>()),
            ("update", derived::<UpdateConfig>()),
            ("env", vec!["TOKEN", "LANG"]),
        ];
        text_of(bot_sections).prop_map(|t| format!("user = \"alice\"\ncommand = [\"x\"]\n{t}"))
    }

    fn text_of(all: Vec<(&'static str, Vec<&'static str>)>) -> impl Strategy<Value = String> {
        let line = (0..all.len(), any::<prop::sample::Index>(), value(), 0..20u8);
        prop::collection::vec(line, 0..8).prop_map(move |lines| {
            let mut by_section: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (s, key, value, dice) in lines {
                let (section, keys) = &all[s];
                let section = *section;
                let key = if dice == 0 {
                    "unknown_field"
                } else {
                    keys[key.index(keys.len())]
                };
                // Mostly a value of the right type, so the checks behind the type run too.
                let value = if dice % 4 == 0 {
                    value
                } else {
                    typical(key).to_string()
                };
                by_section
                    .entry(section)
                    .or_default()
                    .push(format!("{key} = {value}"));
            }
            let mut text = String::new();
            // Top-level keys first: after a [section] header they would belong to it.
            for (section, lines) in by_section {
                if !section.is_empty() {
                    text.push_str(&format!("[{section}]\n"));
                }
                for l in lines {
                    text.push_str(&l);
                    text.push('\n');
                }
            }
            text
        })
    }

    /// A valid bot file with bytes cut, repeated or replaced somewhere.
    fn mangled() -> impl Strategy<Value = String> {
        const VALID: &str = "user = \"alice\"\ncommand = [\"sleep\", \"1\"]\nenv = { A = \"b\" }\n\
            [restart]\nbackoff_initial = \"1s\"\nmax_restarts = 3\n[health]\nport = 8080\n\
            [auth]\ncookies = \"c.json\"\n";
        (0..VALID.len(), 0..VALID.len(), any::<String>()).prop_map(|(a, b, insert)| {
            let (a, b) = (a.min(b), a.max(b));
            let bytes = VALID.as_bytes();
            let mut out = bytes[..a].to_vec();
            out.extend_from_slice(insert.as_bytes());
            out.extend_from_slice(&bytes[b..]);
            String::from_utf8_lossy(&out).into_owned()
        })
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..512)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            1 => any::<String>(),
            2 => config_text(),
            3 => bot_text(),
            1 => mangled(),
        ]
    }

    fn check_all(text: &str) {
        let file = Path::new("bots.d/fuzz.toml");
        if let Ok(bot) = parse_bot("fuzz", file, text) {
            // What the agent stores as the last good version must read back the same.
            let again = parse_bot("fuzz", file, &bot.to_toml());
            assert_eq!(again, Ok(bot), "to_toml does not round-trip:\n{text}");
        }
        let _ = parse_global(Path::new("botctl.toml"), text);
        let _ = parse_template("fuzz", Path::new("templates/fuzz/template.toml"), text);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parsers_never_panic(text in any_text()) {
            check_all(&text);
        }

        #[test]
        fn durations_never_panic(s in "[0-9a-z ]{0,30}") {
            if let Ok(d) = parse_duration(&s) {
                // Whatever parses must format to something that parses to the same.
                prop_assert_eq!(parse_duration(&Dur(d).to_string()), Ok(d));
            }
        }

        #[test]
        fn names_never_panic(name in any::<String>()) {
            let _ = valid_bot_name(&name);
            let _ = valid_owner_name(&name);
            let _ = parse_bot(&name, Path::new("bots.d/x.toml"), "user = \"a\"\ncommand = [\"x\"]\n");
        }
    }
}

fn sections(text: &str) -> Result<GlobalFile, Problems> {
    read_global_text(Path::new("botctl.toml"), text)
}

#[test]
fn remote_telegram_uses_the_notify_bot_unless_it_names_its_own() {
    let notify = "[notify.telegram]\ntoken_file = \"alerts.token\"\nchat_ids = [1]\napi_base = \"http://127.0.0.1:9/tg\"\n";
    let g = parse_global(
        Path::new("botctl.toml"),
        &format!("{notify}[remote.telegram]\nadmins = [42]\n"),
    )
    .unwrap();
    let commands = g.telegram_commands().unwrap();
    assert_eq!(commands.token_file, Path::new("alerts.token"));
    assert_eq!(commands.api_base, "http://127.0.0.1:9/tg");
    assert_eq!(commands.admins, vec![42]);

    let g = parse_global(
        Path::new("botctl.toml"),
        &format!("{notify}[remote.telegram]\nadmins = [42]\ntoken_file = \"admin.token\"\napi_base = \"https://tg.example\"\n"),
    )
    .unwrap();
    let commands = g.telegram_commands().unwrap();
    assert_eq!(commands.token_file, Path::new("admin.token"));
    assert_eq!(commands.api_base, "https://tg.example");

    // Alone, with no token file anywhere: that section is off and says what to write.
    let file = sections("[logs]\nkeep = 2\n[remote.telegram]\nadmins = [42]\n").unwrap();
    assert_eq!(file.config.logs.keep, 2);
    assert_eq!(file.config.telegram_commands(), None);
    assert_eq!(file.off.len(), 1);
    assert_eq!(own_section(&file.off[0]), Some("remote.telegram"));
    assert!(
        file.off[0].message.contains("[notify.telegram]"),
        "{:?}",
        file.off
    );
    // Without [remote.telegram] there are no commands, whatever [notify.telegram] says.
    let g = parse_global(Path::new("botctl.toml"), notify).unwrap();
    assert_eq!(g.telegram_commands(), None);
}

#[test]
fn a_broken_channel_section_is_switched_off_and_the_rest_applies() {
    let text = "[logs]\nkeep = 3\n\
                [notify.telegram]\ntoken_file = \"t\"\nchat_ids = [1]\n\
                [notify.webhook]\nurl = \"ftp://nope\"\n\
                [remote.telegram]\nadmins = []\n\
                [remote.http]\nlisten = \"not an address\"\n";
    let file = sections(text).unwrap();
    assert_eq!(file.config.logs.keep, 3);
    assert!(file.config.notify.telegram.is_some(), "alerts stay on");
    assert_eq!(file.config.notify.webhook, None);
    assert_eq!(file.config.remote.telegram, None);
    assert_eq!(file.config.remote.http, None);
    let mut off: Vec<_> = file
        .off
        .iter()
        .map(|e| {
            (
                own_section(e).unwrap(),
                e.field.clone().unwrap(),
                e.location,
            )
        })
        .collect();
    off.sort();
    assert_eq!(
        off,
        vec![
            ("notify.webhook", "notify.webhook.url".into(), Some((7, 7))),
            ("remote.http", "remote.http.listen".into(), Some((11, 10))),
            (
                "remote.telegram",
                "remote.telegram.admins".into(),
                Some((9, 10))
            ),
        ]
    );
    // The strict reading (`config check`, the parsers' tests) still calls each a problem.
    assert_eq!(
        check_global_text(Path::new("botctl.toml"), text)
            .unwrap_err()
            .len(),
        3
    );
}

#[test]
fn a_problem_outside_the_channel_sections_fails_the_file_with_every_problem() {
    let problems =
        sections("[logs]\nkeep = \"many\"\n[remote.telegram]\nadmins = []\ntoken_file = \"x\"\n")
            .unwrap_err();
    let fields: Vec<_> = problems.iter().filter_map(|e| e.field.as_deref()).collect();
    assert!(fields.contains(&"logs.keep"), "{problems:?}");
    // A section that is not one of the channels' is never switched off on its own.
    let problems = sections("[remote.foo]\nx = 1\n").unwrap_err();
    assert_eq!(own_section(&problems[0]), None, "{problems:?}");
    // TOML that does not parse has no sections to keep.
    assert!(sections("[remote.http\n").is_err());
}

#[test]
fn a_schedule_is_inherited_turned_off_and_refused_with_its_place() {
    let global = parse_global(
        Path::new("botctl.toml"),
        "[restart]\nschedule = \"0 4 * * *\"\n",
    )
    .unwrap();
    let inherits = bot(MINIMAL).unwrap();
    assert_eq!(
        inherits.policy(&global).schedule.map(|s| s.to_string()),
        Some("0 4 * * *".to_string())
    );
    let own = bot(&format!("{MINIMAL}[restart]\nschedule = \"\"\n")).unwrap();
    assert_eq!(own.policy(&global).schedule, None);
    // Written back as it was read.
    let b = bot(&format!("{MINIMAL}[restart]\nschedule = \"*/5 * * * *\"\n")).unwrap();
    assert_eq!(bot(&b.to_toml()).unwrap(), b);

    let e = bot_err(&format!("{MINIMAL}[restart]\nschedule = \"0 25 * * *\"\n"));
    assert_eq!(e.field.as_deref(), Some("restart.schedule"));
    assert_eq!(e.location, Some((4, 12)));
    assert!(e.message.contains("use 5 fields"), "{e}");
    assert!(
        e.to_string().starts_with(
            "bots.d/echo.toml:4:12: field `restart.schedule`: invalid cron schedule \"0 25 * * *\""
        ),
        "{e}"
    );
}

#[test]
fn containment_limits_hardening_and_run_as_are_read_layered_and_refused_with_their_place() {
    let g = parse_global(Path::new("botctl.toml"), "").unwrap();
    assert_eq!(g.agent.containment, ContainmentMode::Auto);
    let b = bot(MINIMAL).unwrap();
    let limits = b.limits(&g);
    assert_eq!(limits.max_pids, 512);
    assert_eq!(limits.cpu_quota_percent, None);
    assert_eq!(limits.nofile, None);
    assert!(b.no_new_privs);
    assert!(!b.core_dumps);
    assert_eq!(g.run_as("alice"), None);

    let g = parse_global(
        Path::new("botctl.toml"),
        "[agent]\ncontainment = \"subreaper\"\n[limits]\nmax_pids = 100\ncpu_quota_percent = 50\n\
         nofile = 4096\n[users.alice]\nrun_as = \"alice\"\nmax_pids = 64\n",
    )
    .unwrap();
    assert_eq!(g.agent.containment, ContainmentMode::Subreaper);
    assert_eq!(g.run_as("alice"), Some("alice"));
    assert_eq!(g.run_as("bob"), None);
    let b = bot(&format!(
        "{MINIMAL}no_new_privs = false\ncore_dumps = true\n[limits]\ncpu_quota_percent = 0\n"
    ))
    .unwrap();
    let limits = b.limits(&g);
    assert_eq!(limits.max_pids, 64, "[users.alice] wins over [limits]");
    assert_eq!(
        limits.cpu_quota_percent, None,
        "0 turns an inherited quota off"
    );
    assert_eq!(limits.nofile, Some(4096));
    assert!(!b.no_new_privs && b.core_dumps);
    assert_eq!(bot(&b.to_toml()).unwrap(), b, "written back as read");

    let e = global_err("[agent]\ncontainment = \"jail\"\n");
    assert_eq!(e.field.as_deref(), Some("agent.containment"));
    assert_eq!(e.location.map(|l| l.0), Some(2));
    assert!(e.message.contains("subreaper"), "{e}");
    let e = global_err("[users.alice]\nrun_as = \"../root\"\n");
    assert_eq!(e.field.as_deref(), Some("users.alice.run_as"));
    assert_eq!(e.location.map(|l| l.0), Some(2));
    let e = bot_err(&format!("{MINIMAL}[limits]\nmax_pids = 0\n"));
    assert_eq!(e.field.as_deref(), Some("limits.max_pids"));
    let e = bot_err(&format!("{MINIMAL}[limits]\nnofile = 2000000000\n"));
    assert_eq!(e.field.as_deref(), Some("limits.nofile"));
    assert!(e.message.contains("at most 1073741816"), "{e}");
    let e = bot_err(&format!("{MINIMAL}no_new_privs = \"yes\"\n"));
    assert_eq!(e.field.as_deref(), Some("no_new_privs"));
}
