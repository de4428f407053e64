//! A bot as a systemd service: its command, directory, environment, restart policy, limits,
//! sd_notify use and hardening in one unit, its env values in a 0600 file beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use botctl_proto::config::{EnvFile, ReadyMode, RestartMode, format_duration};

use super::{BotView, OutFile, Rendered, lost_everywhere};
use crate::systemd::quote;

/// The unit's name: prefixed, so that a bot called `ssh` never shadows the system's unit.
pub fn unit_name(bot: &str) -> String {
    format!("bot-{bot}.service")
}

pub fn render(view: &BotView) -> Result<Rendered, String> {
    let bot = view.bot;
    let policy = bot.policy(view.global);
    let limits = bot.limits(view.global);
    let health = bot.health.clone().unwrap_or_default();
    let mut not_kept = lost_everywhere(view);
    if health.probes() {
        not_kept.push(format!(
            "health checks ({}): systemd has none; a bot that speaks sd_notify can use [health] watchdog (WatchdogSec=)",
            [
                health.port.map(|p| format!("port {p}")),
                health.http.clone().map(|h| format!("http {h}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        ));
    }
    let mut timer = None;
    if let Some(schedule) = policy.schedule.as_ref() {
        match on_calendar(schedule.as_str()) {
            Some(calendar) => timer = Some((schedule.as_str().to_string(), calendar)),
            None => not_kept.push(format!(
                "the restart schedule {:?} (no OnCalendar= form): use a timer whose service \
                 runs `systemctl try-restart {}`",
                schedule.as_str(),
                unit_name(&bot.name)
            )),
        }
    }
    not_kept.push(format!(
        "output in logs/{0}.out and .err: it goes to the journal (`journalctl -u {1}`)",
        bot.name,
        unit_name(&bot.name)
    ));

    let program = resolve(&bot.command[0], &view.cwd);
    if !program.is_absolute() {
        not_kept.push(format!(
            "the program {:?} was not found on this PATH: ExecStart= needs its absolute path",
            bot.command[0]
        ));
    }
    let mut exec = vec![quote(&program.to_string_lossy(), true)?];
    for arg in &bot.command[1..] {
        exec.push(quote(arg, true)?);
    }

    let mut unit = String::new();
    unit.push_str(&format!(
        "# Exported by `botctl export systemd` from bots.d/{}.toml (owner {}).\n",
        bot.name, bot.user
    ));
    unit.push_str("# What botctl did for this bot that systemd does not:\n");
    for lost in &not_kept {
        unit.push_str(&format!("#   - {lost}\n"));
    }
    unit.push_str(&format!(
        "\n[Unit]\nDescription=botctl bot {} (owner {})\n",
        bot.name, bot.user
    ));
    unit.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    // botctl gives up after max_restarts automatic restarts within window: that many
    // restarts plus the first start.
    unit.push_str(&format!(
        "StartLimitIntervalSec={}\nStartLimitBurst={}\n",
        seconds(policy.window),
        policy.max_restarts.saturating_add(1)
    ));

    unit.push_str("\n[Service]\n");
    let notify = health.ready == ReadyMode::Notify;
    unit.push_str(if notify {
        "Type=notify\n"
    } else {
        "Type=exec\n"
    });
    if notify || health.watchdog.is_some() {
        // botctl takes sd_notify messages from any process of the bot's tree.
        unit.push_str("NotifyAccess=all\n");
    }
    unit.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    unit.push_str(&format!("WorkingDirectory={}\n", path_value(&view.cwd)?));
    unit.push_str(&format!(
        "Environment={} {}\n",
        quote(&format!("BOTCTL_BOT={}", bot.name), false)?,
        quote(&format!("BOTCTL_OWNER={}", bot.user), false)?
    ));
    if let Some(account) = view.global.run_as(&bot.user) {
        unit.push_str(&format!("User={}\n", quote(account, false)?));
        if let Some(group) = crate::systemd::primary_group(account) {
            unit.push_str(&format!("Group={}\n", quote(&group, false)?));
        }
    }
    let mut files = Vec::new();
    if let Some(written) = &bot.env_file {
        let file = EnvFile::parse(written);
        let path = view.cwd.join(&file.path);
        let dash = if file.optional { "-" } else { "" };
        unit.push_str(&format!("EnvironmentFile={dash}{}\n", path_value(&path)?));
    }
    if !bot.env.is_empty() {
        // Values are secrets: in a file only root and the unit read, never in the unit.
        let name = format!("bot-{}.env", bot.name);
        let path = view.out.join(&name);
        unit.push_str(&format!("EnvironmentFile={}\n", path_value(&path)?));
        files.push(OutFile {
            name,
            text: env_file(&bot.env),
            private: true,
        });
    }
    unit.push_str(&format!(
        "Restart={}\n",
        match policy.policy {
            RestartMode::Always => "always",
            RestartMode::OnFailure => "on-failure",
            RestartMode::Never => "no",
        }
    ));
    unit.push_str(&format!("RestartSec={}\n", seconds(policy.backoff_initial)));
    if policy.backoff_max > policy.backoff_initial && !policy.backoff_initial.is_zero() {
        // botctl doubles the delay: as many steps as doublings from the first to the cap.
        let ratio = policy.backoff_max.as_secs_f64() / policy.backoff_initial.as_secs_f64();
        unit.push_str(&format!(
            "RestartSteps={}\nRestartMaxDelaySec={}\n",
            ratio.log2().ceil() as u64,
            seconds(policy.backoff_max)
        ));
    }
    unit.push_str(&format!(
        "TimeoutStopSec={}\nKillMode=control-group\n",
        seconds(policy.stop_timeout)
    ));
    unit.push_str(&format!("MemoryMax={}M\n", limits.max_memory_mb));
    unit.push_str(&format!("TasksMax={}\n", limits.max_pids));
    if let Some(quota) = limits.cpu_quota_percent {
        unit.push_str(&format!("CPUQuota={quota}%\n"));
    }
    if let Some(nofile) = limits.nofile {
        unit.push_str(&format!("LimitNOFILE={nofile}\n"));
    }
    unit.push_str(if bot.core_dumps {
        "LimitCORE=infinity\n"
    } else {
        "LimitCORE=0\n"
    });
    if let Some(watchdog) = health.watchdog {
        unit.push_str(&format!("WatchdogSec={}\n", seconds(watchdog.0)));
    }
    if notify {
        unit.push_str(&format!(
            "TimeoutStartSec={}\n",
            seconds(health.start_timeout.0)
        ));
    }
    unit.push_str(if bot.no_new_privs {
        "NoNewPrivileges=yes\n"
    } else {
        "NoNewPrivileges=no\n"
    });
    unit.push_str("PrivateTmp=yes\nProtectSystem=strict\n");
    unit.push_str(&format!(
        "ReadWritePaths={}\n",
        quote(&view.cwd.to_string_lossy(), false)?
    ));
    unit.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    files.insert(
        0,
        OutFile {
            name: unit_name(&bot.name),
            text: unit,
            private: false,
        },
    );
    if let Some((cron, calendar)) = timer {
        files.extend(restart_timer(&bot.name, &cron, &calendar)?);
    }
    Ok(Rendered { files, not_kept })
}

/// `[restart] schedule` as a timer: `bot-NAME-restart.timer` fires a oneshot service that
/// restarts the bot's unit if it runs (as botctl leaves a stopped bot alone).
fn restart_timer(bot: &str, cron: &str, calendar: &str) -> Result<Vec<OutFile>, String> {
    let unit = unit_name(bot);
    let systemctl = resolve("systemctl", Path::new("/"));
    let description = format!("Restart {unit} on its botctl schedule {cron:?}");
    let service = format!(
        "# Exported by `botctl export systemd`: [restart] schedule {cron:?} of bots.d/{bot}.toml.\n\
         [Unit]\nDescription={description}\n\n[Service]\nType=oneshot\nExecStart={} try-restart {unit}\n",
        quote(&systemctl.to_string_lossy(), true)?
    );
    let timer = format!(
        "# Exported by `botctl export systemd`: [restart] schedule {cron:?} of bots.d/{bot}.toml,\n\
         # in local time as botctl reads it.\n\
         [Unit]\nDescription={description}\n\n[Timer]\nOnCalendar={calendar}\n\n\
         [Install]\nWantedBy=timers.target\n"
    );
    Ok(vec![
        OutFile {
            name: format!("bot-{bot}-restart.service"),
            text: service,
            private: false,
        },
        OutFile {
            name: format!("bot-{bot}-restart.timer"),
            text: timer,
            private: false,
        },
    ])
}

/// A five-field cron line as systemd's calendar event (`30 6 * * 1-5` is
/// `Mon..Fri *-*-* 06:30:00`), for lines made of numbers, lists, ranges and `*/N` steps. None
/// for the rest (names, steps over ranges, and a day of the month together with a day of the
/// week, which cron joins with "or" and systemd with "and").
pub fn on_calendar(cron: &str) -> Option<String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else {
        return None;
    };
    if dom != "*" && dow != "*" {
        return None;
    }
    let minute = calendar_field(minute, 0, 59, 0)?;
    let hour = calendar_field(hour, 0, 23, 0)?;
    let dom = calendar_field(dom, 1, 31, 1)?;
    let month = calendar_field(month, 1, 12, 1)?;
    let days = if dow == "*" {
        String::new()
    } else {
        const NAMES: [&str; 8] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let mut parts = Vec::new();
        for item in dow.split(',') {
            let day = |d: &str| {
                d.parse::<usize>()
                    .ok()
                    .filter(|d| *d <= 7)
                    .map(|d| NAMES[d])
            };
            match item.split_once('-') {
                Some((a, b)) => parts.push(format!("{}..{}", day(a)?, day(b)?)),
                None => parts.push(day(item)?.to_string()),
            }
        }
        format!("{} ", parts.join(","))
    };
    Some(format!("{days}*-{month}-{dom} {hour}:{minute}:00"))
}

/// One cron field in systemd's words: `*`, `5`, `1,15`, `1-5` (`1..5`), `*/6` (`FIRST/6`).
fn calendar_field(field: &str, min: u32, max: u32, first: u32) -> Option<String> {
    if field == "*" {
        return Some("*".to_string());
    }
    let number = |n: &str| n.parse::<u32>().ok().filter(|n| (min..=max).contains(n));
    let mut parts = Vec::new();
    for item in field.split(',') {
        if let Some(step) = item.strip_prefix("*/") {
            let step: u32 = step.parse().ok().filter(|s| *s >= 1)?;
            parts.push(format!("{first:02}/{step}"));
        } else if let Some((a, b)) = item.split_once('-') {
            parts.push(format!("{:02}..{:02}", number(a)?, number(b)?));
        } else {
            parts.push(format!("{:02}", number(item)?));
        }
    }
    Some(parts.join(","))
}

/// A path for the settings that take the rest of the line as one path, unquoted
/// (`WorkingDirectory=`, `EnvironmentFile=`): only specifiers are escaped.
fn path_value(path: &Path) -> Result<String, String> {
    let text = path.to_string_lossy();
    if text.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{text:?} has a control character, which a unit file cannot hold"
        ));
    }
    Ok(text.replace('%', "%%"))
}

/// The program as systemd needs it: absolute, found on PATH as the agent would find it, or
/// relative to the bot's directory. Unchanged when it cannot be found.
fn resolve(program: &str, cwd: &Path) -> PathBuf {
    if program.contains('/') {
        return cwd.join(program);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_absolute() && is_executable(p))
        .unwrap_or_else(|| PathBuf::from(program))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A duration as systemd reads it: `1500ms`, `30s`, `10min` all work as `1500ms`, `30s`.
fn seconds(d: Duration) -> String {
    let text = format_duration(d);
    // systemd reads `m` as minutes too, but `1m30s` is clearer as `90s`; whole seconds
    // always parse.
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        text
    }
}

/// `KEY="value"` lines as systemd's EnvironmentFile= reads them: double quotes, with `\`,
/// `"`, `$` and backquotes escaped.
fn env_file(env: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = String::from("# Written by `botctl export systemd`: the bot's env values.\n");
    for (key, value) in env {
        let mut escaped = String::new();
        for c in value.chars() {
            if matches!(c, '\\' | '"' | '$' | '`') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        out.push_str(&format!("{key}=\"{escaped}\"\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_quoted_for_systemd() {
        let env = [("A".to_string(), "x \"y\" $HOME \\ `z`".to_string())].into();
        assert!(env_file(&env).contains("A=\"x \\\"y\\\" \\$HOME \\\\ \\`z\\`\"\n"));
    }

    #[test]
    fn cron_lines_become_calendar_events() {
        assert_eq!(
            on_calendar("30 6 * * 1-5").unwrap(),
            "Mon..Fri *-*-* 06:30:00"
        );
        assert_eq!(on_calendar("0 4 * * *").unwrap(), "*-*-* 04:00:00");
        assert_eq!(
            on_calendar("0 */6 1,15 * *").unwrap(),
            "*-*-01,15 00/6:00:00"
        );
        assert_eq!(
            on_calendar("5 0 * 2 0,7").unwrap(),
            "Sun,Sun *-02-* 00:05:00"
        );
        assert_eq!(on_calendar("0 4 1 * 1"), None);
        assert_eq!(on_calendar("0 4 * * mon"), None);
        assert_eq!(on_calendar("0 1-5/2 * * *"), None);
    }

    #[test]
    fn whole_line_paths_escape_specifiers_only() {
        assert_eq!(
            path_value(Path::new("/srv/my bots/50%")).unwrap(),
            "/srv/my bots/50%%"
        );
        assert!(path_value(Path::new("/a\nb")).is_err());
    }

    #[test]
    fn durations_are_whole_seconds_or_milliseconds() {
        assert_eq!(seconds(Duration::from_secs(600)), "600s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1500ms");
    }
}
