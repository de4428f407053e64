//! `botctl import` and `botctl export` as an operator uses them: real PM2, supervisord and bot
//! host files in, bots that botctl parses and a real agent starts; units that systemd-analyze
//! verifies and manifests that validate against the Kubernetes schemas, out.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");
/// Secrets in the fixtures and bots: never in any output.
const SECRETS: [&str; 4] = [
    "pm2-s3cret-token",
    "sv-s3cret-value",
    "exp-s3cret-env",
    "cookie-s3cret-value",
];

/// The fixtures copied under the home (the imports resolve paths against where they are).
fn fixtures(home: &Home) -> PathBuf {
    let to = home.file("fx");
    copy_dir(Path::new(FIXTURES), &to);
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[track_caller]
fn no_secrets(out: &Output) {
    for secret in SECRETS {
        assert!(!out.all().contains(secret), "{secret} was shown:\n{out:?}");
    }
}

fn bot_file(home: &Home, name: &str) -> String {
    std::fs::read_to_string(home.file(&format!("bots.d/{name}.toml")))
        .unwrap_or_else(|e| panic!("bots.d/{name}.toml: {e}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[track_caller]
fn has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "{line:?} missing from:\n{text}"
        );
    }
}

fn log_has(home: &Home, bot: &str, text: &str) {
    wait_for(&format!("{text:?} in {bot}'s log"), WAIT, || {
        let log =
            std::fs::read_to_string(home.file(&format!("logs/{bot}.out"))).unwrap_or_default();
        ensure(log.contains(text), log)
    });
}

#[test]
fn a_pm2_ecosystem_is_previewed_then_written_checked_and_started() {
    let home = Home::fast();
    let fx = fixtures(&home);
    let file = fx.join("pm2/ecosystem.config.json");
    let file = file.to_str().unwrap();
    let args = [
        "import",
        "pm2",
        file,
        "--env",
        "production",
        "--owner",
        "alice",
    ];

    let preview = home.botctl(&args).ok().says(&[
        "would write bots.d/ticker.toml",
        "would write bots.d/api-server-0.toml",
        "would write bots.d/api-server-2.toml",
        "would write bots.d/scraper.toml",
        "app \"ticker\": watch: botctl does not restart on file changes",
        ": deploy: botctl does not deploy code",
        "app \"scraper\": cron_restart: not a botctl schedule",
        "app \"scraper\": wait_ready: botctl's readiness is sd_notify",
        "app \"Api Server\": exec_mode: cluster mode",
        "app \"ticker\": out_file: botctl writes each bot's output to logs/NAME.out",
        "nothing written: run again with --write",
        "`botctl reload` starts them",
    ]);
    no_secrets(&preview);
    assert!(!home.file("bots.d").exists(), "a preview wrote files");
    let mut json = args.to_vec();
    json.push("--json");
    let report = home.botctl(&json).ok();
    no_secrets(&report);
    let report = report.json();
    assert_eq!(report["written"], false);
    assert_eq!(
        report["files"].as_array().map(Vec::len),
        Some(5),
        "{report:#}"
    );
    assert_eq!(report["files"][0]["bot"], "ticker");
    assert_eq!(report["files"][0]["path"], "bots.d/ticker.toml");
    assert!(
        report["files"][0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("API_TOKEN = \"(hidden)\"")),
        "{report:#}"
    );
    assert!(
        report["unmapped"]
            .as_array()
            .is_some_and(|u| u.iter().any(|n| n["field"] == "watch")),
        "{report:#}"
    );
    home.botctl(&["import", "pm2", file, "--env", "staging"])
        .code(1)
        .says(&["no app has an `env_staging` section"]);

    let mut write = args.to_vec();
    write.push("--write");
    no_secrets(&home.botctl(&write).ok().says(&["wrote bots.d/ticker.toml"]));
    let ticker = bot_file(&home, "ticker");
    has_lines(
        &ticker,
        &[
            "user = \"alice\"",
            "command = [\"sh\", \"-e\", \"tick.sh\", \"--greet\", \"hello world\"]",
            &format!("cwd = \"{}\"", fx.join("pm2/app").display()),
            "stop_timeout = \"3s\"",
            "GREETING = \"hello from production\"",
            "API_TOKEN = \"pm2-s3cret-token\"",
            "stable_after = \"5s\"",
            "backoff_initial = \"2s\"",
            "max_restarts = 10",
            "schedule = \"0 4 * * *\"",
            "max_memory_mb = 200",
        ],
    );
    assert_eq!(mode(&home.file("bots.d/ticker.toml")), 0o600);
    has_lines(
        &bot_file(&home, "api-server-1"),
        &[
            "command = [\"node\", \"--max-old-space-size=300\", \"server.js\"]",
            "NODE_APP_INSTANCE = \"1\"",
            "PORT = \"8080\"",
            "policy = \"never\"",
            "backoff_initial = \"100ms\"",
            "backoff_max = \"15s\"",
            "max_memory_mb = 300",
        ],
    );
    // botctl's own parser reads every file back.
    home.botctl(&["config", "check"])
        .ok()
        .says(&["5 bot(s) defined"]);

    // An existing bot is never overwritten silently.
    home.botctl(&write)
        .code(1)
        .says(&["already exist", "--force"]);
    let mut force = write.clone();
    force.push("--force");
    home.botctl(&force)
        .ok()
        .says(&["overwrote bots.d/ticker.toml"]);

    // The apps whose directories are on another machine stay out of the agent's way.
    for gone in ["api-server-0", "api-server-1", "api-server-2", "scraper"] {
        std::fs::remove_file(home.file(&format!("bots.d/{gone}.toml"))).unwrap();
    }
    home.running_pid("ticker");
    log_has(
        &home,
        "ticker",
        "tick args=[--greet hello world] greeting=hello from production instance=none",
    );
}

#[test]
fn a_js_ecosystem_is_evaluated_by_node_and_without_node_the_error_says_so() {
    let home = Home::new();
    let fx = fixtures(&home);
    let file = fx.join("pm2/ecosystem.config.js");
    let file = file.to_str().unwrap();
    home.botctl(&["import", "pm2", file, "--owner", "bob", "--write"])
        .ok()
        .says(&["wrote bots.d/js-ticker.toml", "every field was mapped"]);
    has_lines(
        &bot_file(&home, "js-ticker"),
        &[
            "user = \"bob\"",
            "command = [\"sh\", \"tick.sh\"]",
            "max_restarts = 4",
            "stable_after = \"1s\"",
            "max_memory_mb = 1024",
        ],
    );
    // Over --host it would read FILE here and write there: refused before any ssh.
    home.botctl(&["--host", "ssh://nobody@127.0.0.1:1", "import", "pm2", file])
        .code(2)
        .says(&["copy FILE to the host"]);
    home.botctl(&[
        "--host",
        "ssh://nobody@127.0.0.1:1",
        "export",
        "systemd",
        "--out",
        "x",
    ])
    .code(2)
    .says(&["run `botctl export` on the host"]);
    let mut cmd = home.command(&["import", "pm2", file]);
    cmd.env("PATH", home.file("no-such-dir"));
    Output::from_command(&["import", "pm2", file], cmd)
        .code(1)
        .says(&["needs `node`, which is not installed", "pm2 jlist"]);
}

#[test]
fn pm2_jlist_and_dump_become_bots_without_the_daemons_own_environment() {
    let home = Home::new();
    let fx = fixtures(&home);
    let jlist = fx.join("pm2/jlist.json");
    home.botctl(&[
        "import",
        "pm2",
        jlist.to_str().unwrap(),
        "--owner",
        "ops",
        "--write",
    ])
    .ok()
    .says(&[
        "wrote bots.d/worker-0.toml",
        "wrote bots.d/worker-1.toml",
        "env (HOME, PATH, PM2_HOME, unique_id): the PM2 daemon's own environment",
        "pm_id, pm_uptime, restart_time, status",
        "error_file: botctl writes",
    ]);
    let worker = bot_file(&home, "worker-1");
    has_lines(
        &worker,
        &[
            "command = [\"node\", \"/srv/worker/worker.js\", \"--queue\", \"mail\"]",
            "cwd = \"/srv/worker\"",
            "stop_timeout = \"1600ms\"",
            "NODE_APP_INSTANCE = \"1\"",
            "QUEUE_URL = \"redis://127.0.0.1:6379\"",
            "max_restarts = 16",
            "max_memory_mb = 256",
        ],
    );
    assert!(
        !worker.contains("PATH") && !worker.contains("PM2_HOME"),
        "{worker}"
    );

    let dump = fx.join("pm2/dump.pm2");
    home.botctl(&[
        "import",
        "pm2",
        dump.to_str().unwrap(),
        "--owner",
        "ops",
        "--write",
    ])
    .ok()
    .says(&["wrote bots.d/digest.toml", "env (SHELL)"]);
    has_lines(
        &bot_file(&home, "digest"),
        &[
            "command = [\"/usr/bin/python3\", \"main.py\", \"--daily\"]",
            "DIGEST_CHANNEL = \"news\"",
            "backoff_initial = \"5s\"",
            "schedule = \"30 6 * * 1-5\"",
        ],
    );
    home.botctl(&["config", "check"])
        .ok()
        .says(&["3 bot(s) defined"]);
    let garbage = home.file("fx/garbage.json");
    std::fs::write(&garbage, "[{\"name\": \"x\"}]").unwrap();
    home.botctl(&["import", "pm2", garbage.to_str().unwrap()])
        .code(1)
        .says(&["has no pm_exec_path"]);
}

#[test]
fn supervisord_programs_with_includes_and_numprocs_become_bots_that_start() {
    let home = Home::fast();
    let fx = fixtures(&home);
    let conf = fx.join("supervisord/supervisord.conf");
    let args = [
        "import",
        "supervisord",
        conf.to_str().unwrap(),
        "--owner",
        "bob",
    ];
    let preview = home.botctl(&args).ok().says(&[
        "would write bots.d/greeter.toml",
        "would write bots.d/worker_01.toml",
        "would write bots.d/worker_03.toml",
        "[program:greeter]: user: bots run as the agent's user",
        "[program:greeter]: priority: botctl starts bots in parallel",
        "[program:worker]: stopsignal: botctl stops with SIGTERM",
        "[program:worker]: stopasgroup: botctl always signals the bot's whole process group",
        "[program:worker]: umask: no botctl equivalent",
        "[group:all]: programs: botctl has no groups",
        "[rpcinterface:supervisor], [supervisorctl], [supervisord], [unix_http_server]",
    ]);
    no_secrets(&preview);
    let mut write = args.to_vec();
    write.push("--write");
    home.botctl(&write).ok();
    has_lines(
        &bot_file(&home, "greeter"),
        &[
            "user = \"bob\"",
            "command = [\"/bin/sh\", \"-c\", 'echo \"greeter says $GREETING\"; exec sleep 1000']",
            &format!("cwd = \"{}\"", fx.join("supervisord").display()),
            "stop_timeout = \"4s\"",
            "GREETING = \"hello, supervisor\"",
            "TOKEN = \"sv-s3cret-value\"",
            "policy = \"on-failure\"",
            "stable_after = \"3s\"",
            "max_restarts = 7",
        ],
    );
    has_lines(
        &bot_file(&home, "worker_02"),
        &[
            "command = [\"python3\", \"worker.py\", \"--id\", \"2\"]",
            "cwd = \"/srv/workers\"",
            "enabled = false",
            "policy = \"always\"",
        ],
    );
    home.botctl(&["config", "check"])
        .ok()
        .says(&["4 bot(s) defined"]);
    home.running_pid("greeter");
    log_has(&home, "greeter", "greeter says hello, supervisor");
    assert_eq!(home.bot("worker_01")["state"], "disabled");
}

#[test]
fn the_bot_hosts_json_is_merged_into_botctl_toml_keeping_the_rest() {
    let home = Home::new();
    let fx = fixtures(&home);
    let json = fx.join("bot-config.json");
    let json = json.to_str().unwrap();
    let before = "# tuned by hand\n[agent]\nhealth_interval = \"10s\" # keep\n\n[limits]\nmax_total_bots = 100\n";
    home.write_config(before);
    home.botctl(&["import", "bot-config", json]).ok().says(&[
        "would change botctl.toml:",
        "+ limits.max_bots_per_user = 4 (from resourceManagement.maxBotsPerUser)",
        "~ limits.max_total_bots = 40 (was 100; from resourceManagement.maxTotalBots)",
        "+ limits.max_memory_mb = 300",
        "+ limits.memory_threshold_percent = 85",
        "+ limits.storage_quota_mb = 2048",
        "+ restart.max_restarts = 8",
        "+ restart.backoff_max = \"2m\"",
        "+ restart.window = \"15m\"",
        "+ restart.retry_after = \"10m\"",
        "+ agent.cleanup_interval = \"30m\"",
        "+ logs.max_size_mb = 20",
        "botRecovery.backoffMultiplier: botctl doubles the delay",
        "storageOptimization.compressLogs: botctl keeps rotated logs uncompressed",
        "server: not read",
        "--write --force",
    ]);
    assert_eq!(
        std::fs::read_to_string(home.file("botctl.toml")).unwrap(),
        before
    );
    home.botctl(&["import", "bot-config", json, "--write"])
        .code(1)
        .says(&["limits.max_total_bots", "--force"]);
    home.botctl(&["import", "bot-config", json, "--write", "--force"])
        .ok()
        .says(&["changed botctl.toml", "`botctl reload` applies it"]);
    let after = std::fs::read_to_string(home.file("botctl.toml")).unwrap();
    assert!(
        after.starts_with("# tuned by hand\n[agent]\nhealth_interval = \"10s\" # keep\n"),
        "{after}"
    );
    has_lines(
        &after,
        &[
            "[restart]",
            "max_total_bots = 40",
            "backoff_initial = \"2s\"",
            "keep = 3",
        ],
    );
    home.botctl(&["config", "check"]).ok();
    // The agent runs with it, every section on.
    home.botctl(&["agent", "start"]).ok();
    let agent = home.json(&["agent", "status", "--json"]);
    assert_eq!(agent["sections_off"], serde_json::json!([]), "{agent:#}");
    home.botctl(&["import", "bot-config", json])
        .ok()
        .says(&["already says all of it"]);

    home.write_config("[limits\n");
    home.botctl(&["import", "bot-config", json, "--write"])
        .code(1)
        .says(&["is not valid TOML"]);
}

const RICH_DIR: &str = "srv/rich bot 5%";

/// A home with bots using most of what botctl offers, for the exports.
fn fleet(home: &Home) {
    // A directory a unit file must escape (`%`) and keep whole (the space).
    let dir = home.file(RICH_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cookies.txt"),
        netscape("cookie-s3cret-value", "ct0value", FAR),
    )
    .unwrap();
    home.write_config(
        "[limits]\nmax_memory_mb = 256\nstorage_quota_mb = 300\nmax_pids = 64\ncpu_quota_percent = 50\nnofile = 1024\n\
         [restart]\nmax_restarts = 4\nwindow = \"5m\"\n[users.alice]\nrun_as = \"root\"\n",
    );
    home.write_bot(
        "rich",
        "user = \"alice\"\nplatform = \"twitter\"\n\
         command = [\"sh\", \"-c\", \"echo \\\"$X\\\" 50%; exec sleep 1000\", \"\", \"a b\"]\n\
         env = { API_KEY = \"exp-s3cret-env\" }\nenv_file = \"-.env\"\nstop_timeout = \"20s\"\n\
         cwd = \"srv/rich bot 5%\"\n\
         [restart]\nbackoff_initial = \"2s\"\nbackoff_max = \"1m\"\nschedule = \"30 6 * * 1-5\"\n\
         [health]\nport = 8081\nready = \"notify\"\nwatchdog = \"30s\"\nlog_silence = \"15m\"\n\
         [auth]\ncookies = \"cookies.txt\"\n",
    );
    home.write_bot(
        "plain_one",
        "user = \"bob.b\"\ncommand = [\"sleep\", \"1000\"]\n[restart]\npolicy = \"on-failure\"\n\
         [health]\nhttp = \"http://127.0.0.1:9000/healthz\"\n",
    );
}

#[test]
fn exported_systemd_units_pass_systemd_analyze_verify() {
    let home = Home::new();
    fleet(&home);
    let out = home.file("units");
    let shown = home
        .botctl(&["export", "systemd", "--out", out.to_str().unwrap()])
        .ok()
        .says(&[
            "rich: wrote",
            "not kept: session cookie checks ([auth] cookies.txt",
            "not kept: owner limits and quotas",
            "not kept: memory forecasts",
            "not kept: hang detection by log silence",
            "not kept: health checks (port 8081)",
            "bot-rich-restart.service",
            "bot-rich-restart.timer",
            "plain_one: wrote",
        ]);
    no_secrets(&shown);
    let rich = std::fs::read_to_string(out.join("bot-rich.service")).unwrap();
    let which = |program: &str| {
        let out = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let sh = which("sh");
    let bot_dir = home.file(RICH_DIR).display().to_string().replace('%', "%%");
    has_lines(
        &rich,
        &[
            "#   - session cookie checks ([auth] cookies.txt: expiry, required cookies, probe, stop while invalid)",
            &format!(
                "ExecStart={} -c \"echo \\\"$$X\\\" 50%%; exec sleep 1000\" \"\" \"a b\"",
                sh.trim()
            ),
            &format!("WorkingDirectory={bot_dir}"),
            "Environment=BOTCTL_BOT=rich BOTCTL_OWNER=alice",
            &format!("EnvironmentFile=-{bot_dir}/.env"),
            &format!("EnvironmentFile={}", out.join("bot-rich.env").display()),
            "Type=notify",
            "NotifyAccess=all",
            "WatchdogSec=30s",
            "TimeoutStartSec=90s",
            "Restart=always",
            "RestartSec=2s",
            "RestartSteps=5",
            "RestartMaxDelaySec=60s",
            "StartLimitBurst=5",
            "StartLimitIntervalSec=300s",
            "TimeoutStopSec=20s",
            "KillMode=control-group",
            "User=root",
            "Group=root",
            "MemoryMax=256M",
            "TasksMax=64",
            "CPUQuota=50%",
            "LimitNOFILE=1024",
            "LimitCORE=0",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "ProtectSystem=strict",
            &format!("ReadWritePaths=\"{bot_dir}\""),
        ],
    );
    assert!(!rich.contains("exp-s3cret-env"));
    let env = out.join("bot-rich.env");
    assert_eq!(mode(&env), 0o600);
    has_lines(
        &std::fs::read_to_string(&env).unwrap(),
        &["API_KEY=\"exp-s3cret-env\""],
    );
    let plain = std::fs::read_to_string(out.join("bot-plain_one.service")).unwrap();
    has_lines(
        &plain,
        &[
            "Type=exec",
            "Restart=on-failure",
            &format!("ExecStart={} 1000", which("sleep")),
        ],
    );
    assert!(
        !plain
            .lines()
            .any(|l| l.starts_with("EnvironmentFile=") || l.starts_with("WatchdogSec=")),
        "{plain}"
    );

    let timer = std::fs::read_to_string(out.join("bot-rich-restart.timer")).unwrap();
    has_lines(
        &timer,
        &[
            "OnCalendar=Mon..Fri *-*-* 06:30:00",
            "WantedBy=timers.target",
        ],
    );
    let restart = std::fs::read_to_string(out.join("bot-rich-restart.service")).unwrap();
    has_lines(
        &restart,
        &[
            "Type=oneshot",
            &format!(
                "ExecStart={} try-restart bot-rich.service",
                which("systemctl")
            ),
        ],
    );
    let mut units: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service") || n.ends_with(".timer"))
        .collect();
    units.sort();
    assert_eq!(units.len(), 4, "{units:?}");
    for unit in &units {
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(unit)
            .current_dir(&out)
            .output()
            .expect("systemd-analyze (systemd) must be installed: .ci/run installs it");
        let said = String::from_utf8_lossy(&verify.stderr).into_owned()
            + &String::from_utf8_lossy(&verify.stdout);
        assert!(
            verify.status.success(),
            "{unit} fails verification:\n{said}"
        );
        // systemd before 254 does not know the backoff steps; anything else is a finding.
        for line in said.lines() {
            assert!(
                line.contains("Unknown key 'RestartSteps'")
                    || line.contains("Unknown key 'RestartMaxDelaySec'"),
                "{unit}: {line}\n{rich}"
            );
        }
    }
    home.botctl(&["export", "systemd", "nope", "--out", out.to_str().unwrap()])
        .code(1)
        .says(&["no bot named nope"]);
}

#[test]
fn exported_kubernetes_manifests_validate_against_the_schemas_offline() {
    let home = Home::new();
    fleet(&home);
    let out = home.file("k8s");
    let shown = home
        .botctl(&[
            "export",
            "kubernetes",
            "--image",
            "registry.example.com/bots:1.4",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok()
        .says(&[
            "rich: wrote",
            "not kept: sd_notify readiness and watchdog",
            "not kept: the name \"plain_one\": Kubernetes names its objects \"plain-one\"",
            "not kept: restart policy \"on-failure\": a Deployment restarts its container always",
            "kubectl apply -f",
        ]);
    no_secrets(&shown);
    let rich = std::fs::read_to_string(out.join("rich.yaml")).unwrap();
    for part in [
        "kind: \"Deployment\"",
        "replicas: 1",
        "type: \"Recreate\"",
        "botctl/owner: \"alice\"",
        "botctl/bot: \"rich\"",
        "image: \"registry.example.com/bots:1.4\"",
        "tcpSocket:\n              port: 8081",
        "memory: \"256Mi\"",
        "kind: \"PersistentVolumeClaim\"",
        "storage: \"300Mi\"",
        "terminationGracePeriodSeconds: 20",
        "secretName: \"rich-cookies\"",
    ] {
        assert!(rich.contains(part), "{part:?} missing:\n{rich}");
    }
    let secret = out.join("rich-secret.yaml");
    assert_eq!(mode(&secret), 0o600);
    let secret_text = std::fs::read_to_string(&secret).unwrap();
    assert!(
        !secret_text.contains("exp-s3cret-env"),
        "values are base64 in a Secret"
    );
    let cookies = std::fs::read_to_string(home.file(RICH_DIR).join("cookies.txt")).unwrap();
    assert!(
        secret_text.contains(&base64(cookies.as_bytes())),
        "{secret_text}"
    );
    let plain = std::fs::read_to_string(out.join("plain-one.yaml")).unwrap();
    assert!(
        plain.contains("path: \"/healthz\"") && plain.contains("port: 9000"),
        "{plain}"
    );

    let files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    let validate = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.30.0"])
        .args(&files)
        .output()
        .expect("kubernetes-validate (PyPI) must be installed: .ci/run installs it");
    let said = String::from_utf8_lossy(&validate.stdout).into_owned()
        + &String::from_utf8_lossy(&validate.stderr);
    assert!(validate.status.success(), "{said}");
    assert_eq!(said.matches(" passed ").count(), 6, "{said}");
}

/// RFC 4648 base64, to check what the Secret holds without trusting the exporter's encoder.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
