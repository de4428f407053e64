//! `botctl status`: the agent, a table of every bot, and what needs attention.

use std::time::Duration;

use crate::render::Cell;
use botctl_proto::{StatusReport, now_ms};

use crate::CliError;
use crate::client::{Target, connect_and, ctx};
use crate::render::{self, opt};

pub async fn run(target: &Target, json: bool) -> Result<(), CliError> {
    let (_, report) = connect_and(target, |client| async move {
        client.status(ctx(Duration::from_secs(10))).await
    })
    .await?;
    if json {
        render::print_json(&report);
        return Ok(());
    }
    print(&report);
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
    let notes: Vec<String> = report
        .bots
        .iter()
        .filter_map(|b| b.detail.as_ref().map(|d| format!("  {}: {d}", b.name)))
        .collect();
    if !notes.is_empty() {
        println!("needs attention:");
        for n in notes {
            println!("{n}");
        }
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
