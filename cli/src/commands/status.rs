//! `botctl status [BOT...]`: the agent, a table of the bots, what needs attention, and an
//! exit code that says whether anything does.

use std::time::Duration;

use crate::render::{Cell, Summary};
use botctl_proto::{BotState, StatusReport, now_ms};
use serde::Serialize;

use crate::CliError;
use crate::args::StatusArgs;
use crate::client::{Target, connect_and, ctx};
use crate::render::{self, opt};

/// `status --json`: the report and the numbers of the table's last line.
#[derive(Serialize)]
struct StatusJson<'a> {
    #[serde(flatten)]
    report: &'a StatusReport,
    summary: Summary,
}

pub async fn run(target: &Target, args: StatusArgs) -> Result<(), CliError> {
    let (_, mut report) = connect_and(target, |client| async move {
        client.status(ctx(Duration::from_secs(10))).await
    })
    .await?;
    select(&mut report, &args)?;
    // A problem of botctl.toml is the whole fleet's; `status BOT` asks about BOT only.
    let whole_fleet = args.bots.is_empty() && args.user.is_none();
    let issues = if whole_fleet {
        &report.config_issues[..]
    } else {
        &[]
    };
    let summary = Summary::of(&report.bots, issues);
    if args.json {
        render::print_json(&StatusJson {
            report: &report,
            summary: summary.clone(),
        });
    } else {
        print(&report);
    }
    // Like `supervisorctl status`: a script learns from the code alone whether to look.
    if summary.needs_attention {
        Err(CliError::quiet())
    } else {
        Ok(())
    }
}

/// Keeps the bots asked for (by name, or by owner); a name that is no bot is an error.
fn select(report: &mut StatusReport, args: &StatusArgs) -> Result<(), CliError> {
    if let Some(owner) = &args.user {
        report.bots.retain(|b| &b.owner == owner);
    }
    if args.bots.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&str> = args
        .bots
        .iter()
        .filter(|name| !report.bots.iter().any(|b| &&b.name == name))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(CliError::failed(format!(
            "no bot named {}: `botctl bots list` shows the fleet",
            unknown.join(", ")
        )));
    }
    report.bots.retain(|b| args.bots.contains(&b.name));
    Ok(())
}

fn print(report: &StatusReport) {
    let a = &report.agent;
    println!(
        "agent: running, pid {}, botctl {}, up {}, home {}",
        a.pid,
        a.version,
        render::uptime(Some(a.uptime_secs)),
        a.home
    );
    for line in a.containment.iter().flat_map(render::containment) {
        println!("{line}");
    }
    if let Some(h) = &report.host {
        let load: Vec<String> = h.load.iter().map(|l| format!("{l:.2}")).collect();
        println!(
            "host: cpu {:.0}%, memory {} of {} ({:.0}%), disk {:.0}% ({} of {}), load {}, up {}",
            h.cpu_percent,
            render::bytes(h.memory_used_bytes),
            render::bytes(h.memory_total_bytes),
            h.memory_percent(),
            h.disk_percent(),
            render::bytes(h.disk_used_bytes),
            render::bytes(h.disk_total_bytes),
            load.join(" "),
            render::uptime(Some(h.uptime_secs)),
        );
    }
    let now = now_ms();
    if !report.bots.is_empty() {
        // The AUTH column only when some bot has its session checked.
        let with_auth = report.bots.iter().any(|b| b.auth.is_some());
        let mut headers = vec![
            "BOT",
            "OWNER",
            "STATE",
            "PID",
            "UPTIME",
            "CPU",
            "MEM",
            "RESTARTS",
            "LAST EXIT",
        ];
        if with_auth {
            headers.push("AUTH");
        }
        let mut table = render::table(&headers);
        for b in &report.bots {
            let mut row = vec![
                Cell::new(&b.name),
                Cell::new(&b.owner),
                render::state_cell(b.state),
                Cell::new(opt(b.pid)),
                Cell::new(render::uptime(b.uptime_secs)),
                Cell::new(render::cpu(b.cpu_percent)),
                Cell::new(render::memory(b.memory_bytes)),
                Cell::new(b.restarts),
                Cell::new(render::last_exit(&b.last_exit, now)),
            ];
            if with_auth {
                row.push(Cell::new(b.auth.as_deref().unwrap_or("-")));
            }
            table.add_row(row);
        }
        println!("{table}");
    }
    println!("fleet: {}", render::summary(&report.bots));
    // A bot waiting for its READY=1 is on its way, not a problem: said apart.
    let (starting, notes): (Vec<_>, Vec<_>) = report
        .bots
        .iter()
        .filter_map(|b| {
            let line = format!("  {}: {}", b.name, b.detail.as_ref()?);
            Some((b.waiting_ready && b.state == BotState::Running, line))
        })
        .partition(|(waiting, _)| *waiting);
    let notes: Vec<String> = notes.into_iter().map(|(_, l)| l).collect();
    if !starting.is_empty() {
        println!("starting:");
        for (_, line) in starting {
            println!("{line}");
        }
    }
    if !notes.is_empty() {
        println!("needs attention:");
        for n in notes {
            println!("{n}");
        }
    }
    let forecasts: Vec<String> = report
        .bots
        .iter()
        .filter_map(|b| {
            b.forecast
                .as_ref()
                .map(|f| format!("  {}: {}", b.name, f.message))
        })
        .collect();
    if !forecasts.is_empty() {
        println!("forecast (botctl forecast):");
        for f in forecasts {
            println!("{f}");
        }
    }
    // What the bots say they are doing (sd_notify STATUS=), one line each.
    let said: Vec<String> = report
        .bots
        .iter()
        .filter_map(|b| {
            let s = b.notify_status.as_ref()?;
            Some(format!("  {}: {s}", b.name))
        })
        .collect();
    if !said.is_empty() {
        println!("bot status (STATUS=):");
        for s in said {
            println!("{s}");
        }
    }
    if report.notify_ignored > 0 {
        println!("{}", render::notify_ignored(report.notify_ignored));
    }
    let global: Vec<_> = report
        .config_issues
        .iter()
        .filter(|i| i.bot.is_none())
        .collect();
    if !global.is_empty() {
        println!("config problems:");
        for i in global {
            println!("  {i}");
        }
    }
}
