//! PM2's configuration read into bots: ecosystem files (`.json`, or `.js`/`.cjs`/`.mjs`
//! evaluated by `node`), `pm2 jlist` output and `pm2 save`'s dump.

use std::path::{Path, PathBuf};
use std::time::Duration;

use botctl_proto::config::{self, BotConfig, RestartMode, Schedule};
use serde_json::{Map, Value};

use super::{Found, Imported, add_env, bot_name, env_value, mib, millis};

/// PM2 caps its exponential backoff at 15 s.
const PM2_BACKOFF_CAP: Duration = Duration::from_secs(15);

/// Every app of `file` as bots of `owner`; `env` picks the `env_NAME` profile.
pub fn read(file: &Path, env: Option<&str>, owner: &str) -> Result<Found, String> {
    let shown = file.display().to_string();
    let value = load(file)?;
    let dir = std::path::absolute(file)
        .map_err(|e| format!("{shown}: {e}"))?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut found = Found::default();
    let apps = apps(&value, &shown, &mut found)?;
    if let Some(profile) = env {
        let key = format!("env_{profile}");
        if !apps.iter().any(|(app, _)| app.contains_key(&key)) {
            return Err(format!(
                "{shown}: no app has an `{key}` section for --env {profile}"
            ));
        }
    }
    for (app, from) in &apps {
        app_bots(app, from, &dir, env, owner, &mut found);
    }
    Ok(found)
}

/// The file as JSON: ecosystem `.js` files are programs, evaluated by node.
fn load(file: &Path) -> Result<Value, String> {
    let shown = file.display();
    let text = match file.extension().and_then(|e| e.to_str()) {
        Some("js" | "cjs" | "mjs") => evaluate(file)?,
        _ => std::fs::read_to_string(file).map_err(|e| format!("cannot read {shown}: {e}"))?,
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{shown} is not an ecosystem file, `pm2 jlist` output or a `pm2 save` dump: \
             invalid JSON: {e}"
        )
    })
}

/// Runs node on the ecosystem file and takes what it exports, as JSON.
fn evaluate(file: &Path) -> Result<String, String> {
    let shown = file.display();
    let absolute = std::path::absolute(file).map_err(|e| format!("{shown}: {e}"))?;
    // `import()` reads CommonJS and ES modules alike; functions and the like are dropped by
    // JSON.stringify, as pm2 itself would not see them as settings either.
    let script = "import(require('url').pathToFileURL(process.argv[1]).href)\
        .then(m => process.stdout.write(JSON.stringify(m.default ?? m)))\
        .catch(e => { console.error(String(e && e.message || e)); process.exit(1); })";
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&absolute)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{shown} is JavaScript and reading it needs `node`, which is not installed \
                 (or not on PATH): install Node.js, or give the apps as JSON (an ecosystem \
                 .json file, `pm2 jlist` output or ~/.pm2/dump.pm2)"
            ),
            _ => format!("cannot run node on {shown}: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!(
            "node could not evaluate {shown}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("node printed no text for {shown}"))
}

/// One app's settings under their ecosystem names, and where it came from.
type App = (Map<String, Value>, String);

/// The apps of any of PM2's formats, as ecosystem entries, each with where it came from.
fn apps(value: &Value, shown: &str, found: &mut Found) -> Result<Vec<App>, String> {
    let named = |app: &Map<String, Value>, i: usize| match app.get("name").and_then(Value::as_str) {
        Some(name) => format!("{shown} app {name:?}"),
        None => format!("{shown} app #{}", i + 1),
    };
    match value {
        Value::Object(top) if top.contains_key("apps") => {
            for key in top.keys().filter(|k| *k != "apps") {
                found.note(
                    shown,
                    key.as_str(),
                    match key.as_str() {
                        "deploy" => "botctl does not deploy code: see `botctl update` and [update]",
                        _ => "not an app setting",
                    },
                );
            }
            let list = match &top["apps"] {
                Value::Array(list) => list.clone(),
                one @ Value::Object(_) => vec![one.clone()],
                _ => return Err(format!("{shown}: `apps` must be a list of apps")),
            };
            let mut out = Vec::new();
            for (i, app) in list.into_iter().enumerate() {
                let Value::Object(app) = app else {
                    return Err(format!("{shown}: app #{} is not an object", i + 1));
                };
                let from = named(&app, i);
                out.push((app, from));
            }
            Ok(out)
        }
        Value::Object(app) if app.contains_key("script") => Ok(vec![(app.clone(), named(app, 0))]),
        Value::Array(list) => {
            let mut out: Vec<App> = Vec::new();
            for (i, entry) in list.iter().enumerate() {
                // `pm2 jlist` wraps each process's settings in `pm2_env`; the dump is those
                // settings alone.
                let env = entry.get("pm2_env").unwrap_or(entry);
                let Value::Object(process) = env else {
                    return Err(format!("{shown}: entry #{} is not a PM2 process", i + 1));
                };
                if !process.contains_key("pm_exec_path") {
                    return Err(format!(
                        "{shown}: entry #{} has no pm_exec_path: not `pm2 jlist` output or a \
                         `pm2 save` dump",
                        i + 1
                    ));
                }
                // PM2 lists each instance of an app: the first entry stands for them all.
                if out
                    .iter()
                    .any(|(a, _)| a.get("name") == process.get("name"))
                {
                    continue;
                }
                let app = from_process(process, &named(process, i), found);
                out.push((app, named(process, i)));
            }
            Ok(out)
        }
        _ => Err(format!(
            "{shown}: expected an ecosystem file ({{\"apps\": [...]}}), `pm2 jlist` output or \
             a `pm2 save` dump (a list of processes)"
        )),
    }
}

/// The settings of a running process (`pm2_env`) under their ecosystem names.
fn from_process(process: &Map<String, Value>, from: &str, found: &mut Found) -> Map<String, Value> {
    const RENAMED: [(&str, &str); 7] = [
        ("pm_exec_path", "script"),
        ("pm_cwd", "cwd"),
        ("exec_interpreter", "interpreter"),
        ("node_args", "interpreter_args"),
        ("pm_out_log_path", "out_file"),
        ("pm_err_log_path", "error_file"),
        ("pm_log_path", "log_file"),
    ];
    // What the PM2 daemon keeps about a process it runs: state, not configuration.
    const RUNTIME: [&str; 33] = [
        "pm_id",
        "status",
        "restart_time",
        "unstable_restarts",
        "created_at",
        "pm_uptime",
        "axm_actions",
        "axm_monitor",
        "axm_options",
        "axm_dynamic",
        "vizion",
        "vizion_running",
        "versioning",
        "unique_id",
        "username",
        "windowsHide",
        "km_link",
        "node_version",
        "exit_code",
        "prev_restart_delay",
        "pm_pid_path",
        "pmx",
        "automation",
        "instance_var",
        "filter_env",
        "treekill",
        "merge_logs",
        "version",
        "NODE_APP_INSTANCE",
        "env",
        "pm2_env",
        "exec_mode_default",
        "_pm2_version",
    ];
    let env_keys: Vec<&String> = process
        .get("env")
        .and_then(Value::as_object)
        .map(|e| e.keys().collect())
        .unwrap_or_default();
    let mut app = Map::new();
    let mut runtime = Vec::new();
    for (key, value) in process {
        if let Some((_, to)) = RENAMED.iter().find(|(from, _)| from == key) {
            app.insert(to.to_string(), value.clone());
        } else if RUNTIME.contains(&key.as_str()) {
            if key != "env" {
                runtime.push(key.as_str());
            }
        } else if env_keys.contains(&key) && key.starts_with(|c: char| c.is_ascii_uppercase()) {
            // PM2 copies the process's environment into its settings: `env` has it.
        } else {
            app.insert(key.clone(), value.clone());
        }
    }
    if let Some(Value::Object(env)) = process.get("env") {
        let mut kept = Map::new();
        let mut dropped = Vec::new();
        for (key, value) in env {
            if inherited(key) {
                dropped.push(key.as_str());
            } else {
                kept.insert(key.clone(), value.clone());
            }
        }
        if !dropped.is_empty() {
            found.note(
                from,
                format!("env ({})", dropped.join(", ")),
                "the PM2 daemon's own environment and settings, not the app's: bots get the \
                 agent's environment",
            );
        }
        app.insert("env".to_string(), Value::Object(kept));
    }
    if !runtime.is_empty() {
        found.note(
            from,
            runtime.join(", "),
            "the PM2 daemon's record of the running process, not settings",
        );
    }
    app
}

/// Variables every login shell or PM2 itself sets (PM2's own are lowercase, `pm_id`,
/// `unique_id`, ...): not an app's own.
fn inherited(key: &str) -> bool {
    const NAMES: [&str; 22] = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "TERM",
        "LANG",
        "LANGUAGE",
        "MAIL",
        "HOSTNAME",
        "_",
        "DISPLAY",
        "COLORTERM",
        "EDITOR",
        "PAGER",
        "LS_COLORS",
        "MOTD_SHOWN",
        "DBUS_SESSION_BUS_ADDRESS",
        "NODE_APP_INSTANCE",
    ];
    NAMES.contains(&key)
        || ["LC_", "XDG_", "SSH_", "PM2_", "TMUX", "TERM_"]
            .iter()
            .any(|p| key.starts_with(p))
        || key.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The bots of one app: one, or NAME-0..N-1 for `instances`.
fn app_bots(
    app: &Map<String, Value>,
    from: &str,
    dir: &Path,
    profile: Option<&str>,
    owner: &str,
    found: &mut Found,
) {
    let Some(script) = app.get("script").and_then(Value::as_str) else {
        found.note(
            from,
            "script",
            "missing: an app without a script cannot be imported",
        );
        return;
    };
    let raw_name = app
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            Path::new(script)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let name = bot_name(&raw_name);
    if name != raw_name {
        found.note(
            from,
            "name",
            format!(
                "{raw_name:?} is not a bot name (lowercase letters, digits, - and _): {name:?}"
            ),
        );
    }
    let mut bot = BotConfig {
        name: name.clone(),
        user: owner.to_string(),
        ..BotConfig::default()
    };
    let cwd = match app.get("cwd").and_then(Value::as_str) {
        Some(cwd) => dir.join(cwd),
        None => {
            found.note(
                from,
                "cwd",
                format!(
                    "not set: the bot runs in {}, the file's directory (where `pm2 start` \
                     usually runs)",
                    dir.display()
                ),
            );
            dir.to_path_buf()
        }
    };
    bot.cwd = Some(cwd.to_string_lossy().into_owned());
    bot.command = command(app, script, &cwd, from, found);
    let mut instances = 1;
    for (key, value) in app {
        map_field(key, value, &mut bot, &mut instances, profile, from, found);
    }
    // The chosen profile wins over `env`, as in PM2.
    if let Some(Value::Object(env)) = profile.and_then(|p| app.get(&format!("env_{p}"))) {
        for (key, value) in env {
            match env_value(value) {
                Some(v) => add_env(found, from, &mut bot, key, v),
                None => found.note(
                    from,
                    format!("env_{}.{key}", profile.unwrap_or_default()),
                    "not a string, number or boolean",
                ),
            }
        }
    }
    if instances <= 1 {
        found.bots.push(Imported {
            bot,
            source: from.to_string(),
        });
        return;
    }
    for i in 0..instances {
        let mut one = bot.clone();
        one.name = format!("{name}-{i}");
        if one.name.len() > 64 {
            one.name = format!("{}-{i}", &name[..64 - 1 - i.to_string().len()]);
        }
        // What PM2 gives each instance (its `instance_var`).
        one.env
            .insert("NODE_APP_INSTANCE".to_string(), i.to_string());
        found.bots.push(Imported {
            bot: one,
            source: format!("{from} instance {i}"),
        });
    }
}

/// `script` run by its interpreter (given, or PM2's choice by extension), with its arguments.
fn command(
    app: &Map<String, Value>,
    script: &str,
    cwd: &Path,
    from: &str,
    found: &mut Found,
) -> Vec<String> {
    let args = words(app.get("args"), from, "args", found);
    let interpreter_args = match app.get("interpreter_args") {
        Some(v) => words(Some(v), from, "interpreter_args", found),
        None => words(app.get("node_args"), from, "node_args", found),
    };
    let interpreter = match app.get("interpreter").and_then(Value::as_str) {
        Some("none") => None,
        Some(i) => Some(i.to_string()),
        None => by_extension(script).map(str::to_string),
    };
    let mut command = Vec::new();
    match interpreter {
        Some(i) => {
            command.push(i);
            command.extend(interpreter_args);
            command.push(script.to_string());
        }
        None => {
            if !interpreter_args.is_empty() {
                found.note(
                    from,
                    "interpreter_args",
                    "the script runs without an interpreter",
                );
            }
            // PM2 finds a bare script name in the app's directory; botctl would search PATH.
            if !script.contains('/') && cwd.join(script).is_file() {
                command.push(format!("./{script}"));
            } else {
                command.push(script.to_string());
            }
        }
    }
    command.extend(args);
    command
}

/// PM2's interpreter for a script's extension.
fn by_extension(script: &str) -> Option<&'static str> {
    let ext = Path::new(script).extension()?.to_str()?;
    Some(match ext {
        "js" | "cjs" | "mjs" => "node",
        "py" => "python3",
        "sh" => "bash",
        "rb" => "ruby",
        "php" => "php",
        "pl" => "perl",
        "coffee" => "coffee",
        "ts" | "tsx" => "ts-node",
        _ => return None,
    })
}

/// Arguments written as one string (split as a shell would) or as a list.
fn words(value: Option<&Value>, from: &str, field: &str, found: &mut Found) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => shlex::split(s).unwrap_or_else(|| {
            found.note(from, field, "unbalanced quotes: taken as one argument");
            vec![s.clone()]
        }),
        Some(Value::Array(list)) => list.iter().filter_map(env_value).collect(),
        Some(other) => {
            found.note(from, field, format!("{other} is not a string or a list"));
            Vec::new()
        }
    }
}

/// One setting of an app into the bot, or a note saying why not.
fn map_field(
    key: &str,
    value: &Value,
    bot: &mut BotConfig,
    instances: &mut usize,
    profile: Option<&str>,
    from: &str,
    found: &mut Found,
) {
    let bad = |found: &mut Found, expected: &str| {
        found.note(from, key, format!("{value} is not {expected}"));
    };
    match key {
        // Read elsewhere.
        "name" | "script" | "cwd" | "args" | "interpreter" | "interpreter_args" | "node_args" => {}
        "env" => match value {
            Value::Object(env) => {
                for (k, v) in env {
                    match env_value(v) {
                        Some(v) => add_env(found, from, bot, k, v),
                        None => {
                            found.note(from, format!("env.{k}"), "not a string, number or boolean")
                        }
                    }
                }
            }
            // Never the value: it holds the variables.
            _ => found.note(from, key, "not an object of variables"),
        },
        k if k.starts_with("env_") => {
            if profile != Some(&k["env_".len()..]) {
                found.note(
                    from,
                    k,
                    format!(
                        "a profile not chosen (--env {} chooses it)",
                        &k["env_".len()..]
                    ),
                );
            }
        }
        "max_memory_restart" => match value {
            Value::Number(n) => match n.as_u64().and_then(|b| mib(&b.to_string(), 1)) {
                Some(mb) => bot.limits.max_memory_mb = Some(mb),
                None => bad(found, "a size"),
            },
            Value::String(s) => match mib(s, 1) {
                Some(mb) => bot.limits.max_memory_mb = Some(mb),
                None => bad(found, "a size such as \"200M\""),
            },
            _ => bad(found, "a size"),
        },
        "autorestart" => match value.as_bool() {
            Some(false) => bot.restart.policy = Some(RestartMode::Never),
            Some(true) => {}
            None => bad(found, "true or false"),
        },
        "max_restarts" => match value.as_u64() {
            Some(n) => {
                bot.restart.max_restarts = Some(n.min(config::MAX_RESTARTS) as u32);
            }
            None => bad(found, "a whole number"),
        },
        "min_uptime" => match millis(value) {
            Some(d) => bot.restart.stable_after = Some(d),
            None => bad(found, "milliseconds or a duration"),
        },
        "restart_delay" => match millis(value) {
            Some(d) => {
                bot.restart.backoff_initial = Some(d);
                bot.restart.backoff_max = Some(d);
                found.note(
                    from,
                    key,
                    "mapped to backoff_initial and backoff_max: botctl restarts at once after a \
                     stable run and after the first quick failure, and waits this long from the \
                     second quick failure in a row",
                );
            }
            None => bad(found, "milliseconds"),
        },
        "exp_backoff_restart_delay" => match millis(value) {
            Some(d) => {
                bot.restart.backoff_initial = Some(d);
                bot.restart.backoff_max = Some(PM2_BACKOFF_CAP.max(d));
            }
            None => bad(found, "milliseconds"),
        },
        "cron_restart" => match value.as_str().map(Schedule::parse) {
            Some(Ok(s)) => bot.restart.schedule = Some(Some(s)),
            Some(Err(e)) => found.note(from, key, format!("not a botctl schedule: {e}")),
            None => bad(found, "a cron line"),
        },
        "kill_timeout" => match millis(value) {
            Some(d) => bot.stop_timeout = Some(d),
            None => bad(found, "milliseconds"),
        },
        "instances" => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            match value {
                Value::Number(n) if n.as_i64().is_some_and(|n| n >= 1) => {
                    *instances = n.as_u64().unwrap_or(1) as usize;
                }
                Value::String(s) if s == "max" => *instances = cores,
                Value::Number(n) if n.as_i64().is_some_and(|n| n <= 0) => {
                    *instances = cores
                        .saturating_sub(n.as_i64().unwrap_or(0).unsigned_abs() as usize)
                        .max(1);
                }
                _ => bad(found, "a number of instances"),
            }
            if !value.is_u64() {
                found.note(
                    from,
                    key,
                    format!("{value} means a count of this machine's cores: {instances} bot(s)"),
                );
            }
        }
        "exec_mode" => {
            if value.as_str().is_some_and(|m| m.starts_with("cluster")) {
                found.note(
                    from,
                    key,
                    "cluster mode: each instance is a bot of its own; they do not share one \
                     listening port as PM2's cluster balances it",
                );
            }
        }
        "out_file" | "error_file" | "log_file" | "log" | "output" | "error" | "combine_logs"
        | "merge_logs" | "log_date_format" | "log_type" | "disable_logs" => found.note(
            from,
            key,
            "botctl writes each bot's output to logs/NAME.out and logs/NAME.err \
             (`botctl logs NAME`), rotated by [logs]",
        ),
        "watch" | "ignore_watch" | "watch_options" | "watch_delay" => {
            if value != &Value::Bool(false) {
                found.note(
                    from,
                    key,
                    "botctl does not restart on file changes: `botctl restart NAME` after a \
                     change, or [update] for code from git",
                );
            }
        }
        "wait_ready" | "listen_timeout" => found.note(
            from,
            key,
            "botctl's readiness is sd_notify: [health] ready = \"notify\" and start_timeout, \
             with the bot sending READY=1 instead of process.send('ready')",
        ),
        "uid" | "gid" | "user" => found.note(
            from,
            key,
            "bots run as the agent's user: the owner is set by --owner",
        ),
        _ => found.note(from, key, "no botctl equivalent"),
    }
}
