//! `botctl bots list|add|remove|show`.

use std::time::Duration;

use crate::render::Cell;
use botctl_proto::{AddBot, now_ms};

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render::{self, opt};

pub struct AddArgs {
    pub name: String,
    pub user: String,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub platform: Option<String>,
    pub start: bool,
    pub command: Vec<String>,
}

pub async fn list(target: &Target, user: Option<String>, json: bool) -> Result<(), CliError> {
    let owner = match user {
        Some(u) if u.is_empty() => Some(invoking_user()?),
        other => other,
    };
    let session = connect(target).await?;
    let bots = session
        .client
        .list_bots(ctx(Duration::from_secs(10)), owner.clone())
        .await?;
    if json {
        render::print_json(&bots);
        return Ok(());
    }
    if bots.is_empty() {
        match owner {
            Some(o) => println!("no bots owned by {o}"),
            None => println!("{}", render::summary(&bots)),
        }
        return Ok(());
    }
    let mut table = render::table(&[
        "BOT", "OWNER", "PLATFORM", "STATE", "PID", "UPTIME", "CPU", "MEM",
    ]);
    for b in &bots {
        table.add_row(vec![
            Cell::new(&b.name),
            Cell::new(&b.owner),
            Cell::new(&b.platform),
            render::state_cell(b.state),
            Cell::new(opt(b.pid)),
            Cell::new(render::uptime(b.uptime_secs)),
            Cell::new(render::cpu(b.cpu_percent)),
            Cell::new(render::memory(b.memory_bytes)),
        ]);
    }
    println!("{table}");
    println!("{}", render::summary(&bots));
    Ok(())
}

/// `KEY=VALUE` arguments as pairs; anything else is a usage error naming the flag (never the
/// value: it may be a secret).
fn key_values(args: &[String], flag: &str) -> Result<Vec<(String, String)>, CliError> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(CliError {
                code: 2,
                message: format!(
                    "{flag} takes KEY=VALUE, got {:?}",
                    a.split('=').next().unwrap_or_default()
                ),
            }),
        })
        .collect()
}

fn invoking_user() -> Result<String, CliError> {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy out at once.
    let from_passwd = unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() {
            None
        } else {
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_str()
                .ok()
                .map(str::to_string)
        }
    };
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| CliError::failed("cannot tell who you are: pass --user OWNER"))
}

pub async fn add(target: &Target, args: AddArgs, json: bool) -> Result<(), CliError> {
    let env = key_values(&args.env, "--env")?;
    // A relative --cwd means relative to where the user typed it, not to the agent.
    let cwd = match args.cwd {
        Some(dir) => Some(
            std::path::absolute(&dir)
                .map_err(|e| CliError::failed(format!("--cwd {dir}: {e}")))?
                .display()
                .to_string(),
        ),
        None => None,
    };
    let session = connect(target).await?;
    let req = AddBot {
        name: args.name,
        owner: args.user,
        command: args.command,
        cwd,
        env,
        platform: args.platform,
        start: args.start,
    };
    let outcome = session
        .client
        .add_bot(ctx(Duration::from_secs(60)), req)
        .await??;
    answer(&outcome, json)
}

/// `req` with its `sets` taken from the `--set KEY=VALUE` arguments.
pub async fn create(
    target: &Target,
    mut req: botctl_proto::CreateBot,
    sets: Vec<String>,
    json: bool,
) -> Result<(), CliError> {
    req.sets = key_values(&sets, "--set")?;
    let session = connect(target).await?;
    let outcome = session
        .client
        .create_bot(ctx(Duration::from_secs(600)), req)
        .await??;
    answer(&outcome, json)
}

pub async fn remove(
    target: &Target,
    name: String,
    purge: bool,
    json: bool,
) -> Result<(), CliError> {
    let session = connect(target).await?;
    let outcome = session
        .client
        .remove_bot(ctx(Duration::from_secs(3600)), name, purge)
        .await??;
    answer(&outcome, json)
}

/// Prints what the agent said of one bot (as JSON with `json`); exit 1 when it did not do it.
fn answer(outcome: &botctl_proto::BotOutcome, json: bool) -> Result<(), CliError> {
    if json {
        render::print_json(outcome);
    } else {
        println!("{}: {}", outcome.bot, outcome.message);
    }
    if outcome.ok {
        Ok(())
    } else {
        Err(CliError::quiet())
    }
}

pub async fn show(target: &Target, name: String, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let d = session
        .client
        .show_bot(ctx(Duration::from_secs(10)), name)
        .await??;
    if json {
        render::print_json(&d);
        return Ok(());
    }
    let now = now_ms();
    let i = &d.info;
    let ms = botctl_proto::human::millis;
    let p = &d.policy;
    let rows: Vec<(&str, String)> = vec![
        ("bot", i.name.clone()),
        ("owner", i.owner.clone()),
        ("platform", i.platform.clone()),
        ("state", i.state.to_string()),
        ("enabled", i.enabled.to_string()),
        ("pid", opt(i.pid)),
        ("uptime", render::uptime(i.uptime_secs)),
        ("restarts", i.restarts.to_string()),
        ("last exit", render::last_exit(&i.last_exit, now)),
        (
            "status",
            i.notify_status.clone().unwrap_or_else(|| "-".into()),
        ),
        ("file", d.file.clone()),
        ("command", shell_words(&d.command)),
        ("cwd", d.cwd.clone()),
        (
            "env",
            if d.env_keys.is_empty() {
                "-".into()
            } else {
                d.env_keys.join(", ")
            },
        ),
        (
            "env file",
            match d
                .env_file
                .as_deref()
                .map(botctl_proto::config::EnvFile::parse)
            {
                Some(f) if f.optional => format!("{} (optional)", f.path),
                Some(f) => f.path,
                None => "-".into(),
            },
        ),
        (
            "restart",
            format!(
                "{}, stable after {}, backoff {}..{}, at most {} in {}, retry after {}, stop timeout {}",
                p.policy,
                ms(p.stable_after_ms),
                ms(p.backoff_initial_ms),
                ms(p.backoff_max_ms),
                p.max_restarts,
                ms(p.window_ms),
                ms(p.retry_after_ms),
                ms(p.stop_timeout_ms)
            ),
        ),
        (
            "schedule",
            match &d.schedule {
                Some(s) => format!(
                    "{} (local time), next {}",
                    s.cron,
                    s.next_ms.map_or_else(|| "never".into(), render::local_time)
                ),
                None => "-".into(),
            },
        ),
        ("stdout", d.stdout_log.clone()),
        ("stderr", d.stderr_log.clone()),
    ];
    let l = &d.limits;
    let r = &d.record;
    let mut rows = rows;
    rows.push((
        "limits",
        format!(
            "memory {} MiB for {} samples, cpu {}% for {} samples, restart on host pressure: {}",
            l.max_memory_mb,
            l.memory_samples,
            l.max_cpu_percent,
            l.cpu_samples,
            if l.restart_on_pressure { "yes" } else { "no" }
        ),
    ));
    rows.push((
        "forecasts",
        format!(
            "memory trend over {} ({} samples at least), within {}; restart before the limit: {}",
            ms(l.forecast_window_ms),
            l.forecast_min_samples,
            ms(l.forecast_horizon_ms),
            if l.restart_before_limit { "yes" } else { "no" }
        ),
    ));
    if let Some(h) = &d.health_checks {
        rows.push(("health", h.clone()));
    }
    rows.push(("cpu", render::cpu(i.cpu_percent)));
    rows.push(("memory", render::memory(i.memory_bytes)));
    if let Some(f) = &i.forecast {
        rows.push(("forecast", f.message.clone()));
    }
    rows.push((
        "record",
        format!(
            "{} restarts, {} crashes, {} limit restarts, {} health restarts, mean time to recovery {}",
            r.restarts,
            r.crashes,
            r.limit_restarts,
            r.health_restarts,
            r.mean_time_to_recovery_ms
                .map(ms)
                .unwrap_or_else(|| "-".into())
        ),
    ));
    for (k, v) in rows {
        println!("{k:>10}  {v}");
    }
    print_history(&d.history, now);
    if let Some(detail) = &i.detail {
        println!("{:>10}  {detail}", "note");
    }
    if !d.recent_events.is_empty() {
        println!("recent events:");
        for e in &d.recent_events {
            println!(
                "  {}  {:<12} {}",
                render::local_time(e.ts_ms),
                e.kind,
                e.message
            );
        }
    }
    Ok(())
}

/// The last hour as two one-line graphs, a character a minute, oldest on the left.
fn print_history(history: &[botctl_proto::SamplePoint], now: i64) {
    if history.is_empty() {
        println!("{:>10}  no samples yet (one is kept a minute)", "history");
        return;
    }
    let mut cpu = vec![None; 60];
    let mut mem = vec![None; 60];
    for p in history {
        let minutes_ago = ((now - p.ts_ms).max(0) / 60_000) as usize;
        if minutes_ago < 60 {
            cpu[59 - minutes_ago] = Some(p.cpu_percent as f64);
            mem[59 - minutes_ago] = Some(p.memory_bytes as f64);
        }
    }
    let peak_cpu = history.iter().map(|p| p.cpu_percent).fold(0f32, f32::max);
    let peak_mem = history.iter().map(|p| p.memory_bytes).max().unwrap_or(0);
    println!("last hour (a character a minute, now on the right):");
    println!(
        "{:>10}  {} peak {peak_cpu:.0}%",
        "cpu",
        render::sparkline(&cpu)
    );
    println!(
        "{:>10}  {} peak {}",
        "memory",
        render::sparkline(&mem),
        render::bytes(peak_mem)
    );
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
