//! `botctl status [BOT...]`: the agent, a table of the bots, what needs attention, and an
//! exit code that says whether anything does; with `--hosts`, several hosts in one table.

use std::time::Duration;

use crate::render::{Cell, Summary};
use botctl_proto::config::Host;
use botctl_proto::json::StatusJson;
use botctl_proto::{BotInfo, BotState, StatusReport, now_ms};
use serde::Serialize;

use crate::CliError;
use crate::args::StatusArgs;
use crate::client::{Target, connect_and, ctx};
use crate::render::{self, opt};
use crate::ssh;

/// `status --json` as the agent wrote it, and the line break after it.
fn print_text(json: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(json.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        eprintln!("botctl: cannot write JSON: {e}");
    }
}

/// One host of `status --hosts --json`: `status` is what `status --json` prints for it alone
/// and `error` null, or `status` null and `error` why it did not answer; `code` is the exit
/// code `status` would give for it alone.
#[derive(Serialize)]
struct HostJson<'a> {
    host: &'a str,
    code: u8,
    status: Option<StatusJson<'a>>,
    error: Option<&'a str>,
}

pub async fn run(target: &Target, args: StatusArgs) -> Result<(), CliError> {
    if !args.hosts.is_empty() || args.all_hosts {
        return several(target, &args).await;
    }
    // The whole fleet's `--json` is written by the agent. Not over ssh: the far side may
    // be another version, and `status` is the request every version reads alike.
    if args.json && whole_fleet(&args) && target.host.is_none() {
        let (_, text) = connect_and(target, |client| async move {
            client.status_text(ctx(Duration::from_secs(10))).await
        })
        .await?;
        if let Some(text) = text {
            print_text(&text.json);
            return if text.needs_attention {
                Err(CliError::quiet())
            } else {
                Ok(())
            };
        }
    }
    let (report, summary) = fetch(target, &args).await?;
    if args.json {
        render::print_json(&StatusJson {
            report: &report,
            summary: &summary,
        });
    } else {
        print(&report, target.host.is_some());
    }
    // Like `supervisorctl status`: a script learns from the code alone whether to look.
    if summary.needs_attention {
        Err(CliError::quiet())
    } else {
        Ok(())
    }
}

/// No bot or owner asked for.
fn whole_fleet(args: &StatusArgs) -> bool {
    args.bots.is_empty() && args.user.is_none()
}

/// The report of the bots asked for, and its summary.
async fn fetch(target: &Target, args: &StatusArgs) -> Result<(StatusReport, Summary), CliError> {
    let (_, mut report) = connect_and(target, |client| async move {
        client.status(ctx(Duration::from_secs(10))).await
    })
    .await?;
    select(&mut report, args)?;
    // A problem of botctl.toml is the whole fleet's; `status BOT` asks about BOT only.
    let issues = if whole_fleet(args) {
        &report.config_issues[..]
    } else {
        &[]
    };
    let summary = Summary::of(&report.bots, issues);
    Ok((report, summary))
}

/// What one host of `--hosts` answered.
struct Answer {
    name: String,
    got: Result<(StatusReport, Summary), CliError>,
}

impl Answer {
    fn code(&self) -> u8 {
        match &self.got {
            Ok((_, summary)) => u8::from(summary.needs_attention),
            Err(e) => e.code.max(1),
        }
    }
}

/// Every host at once, each within its deadline; one that fails is a line of its own.
async fn several(target: &Target, args: &StatusArgs) -> Result<(), CliError> {
    let file = ssh::hosts_file(&target.paths)?;
    let names = if args.all_hosts {
        file.names()
    } else {
        args.hosts.clone()
    };
    if names.is_empty() {
        return Err(CliError {
            code: 2,
            message: "no hosts: name them in hosts.toml ([hosts.NAME] with an address)".into(),
        });
    }
    let asks = names.iter().map(|name| {
        let host = file.host(name);
        let paths = target.paths.clone();
        async move {
            let got = match host {
                Err(message) => Err(CliError { code: 2, message }),
                Ok(host) => ask(host, paths, args).await,
            };
            Answer {
                name: name.clone(),
                got,
            }
        }
    });
    let answers = futures::future::join_all(asks).await;
    if args.json {
        let hosts: Vec<HostJson> = answers
            .iter()
            .map(|a| HostJson {
                host: &a.name,
                code: a.code(),
                status: a
                    .got
                    .as_ref()
                    .ok()
                    .map(|(report, summary)| StatusJson { report, summary }),
                error: a.got.as_ref().err().map(|e| e.message.as_str()),
            })
            .collect();
        render::print_json(&serde_json::json!({ "hosts": hosts }));
    } else {
        print_hosts(&answers);
    }
    match answers.iter().map(Answer::code).max().unwrap_or(0) {
        0 => Ok(()),
        code => Err(CliError {
            code,
            message: String::new(),
        }),
    }
}

async fn ask(
    host: Host,
    paths: botctl_proto::Paths,
    args: &StatusArgs,
) -> Result<(StatusReport, Summary), CliError> {
    let within = ssh::deadline(&host);
    let target = Target {
        paths,
        home: None,
        host: Some(host),
    };
    match tokio::time::timeout(within, fetch(&target, args)).await {
        Ok(got) => got,
        Err(_) => Err(CliError::unreachable(format!(
            "no answer within {}",
            botctl_proto::human::duration(within)
        ))),
    }
}

fn print_hosts(answers: &[Answer]) {
    let now = now_ms();
    let answered: Vec<(&str, &StatusReport)> = answers
        .iter()
        .filter_map(|a| Some((a.name.as_str(), &a.got.as_ref().ok()?.0)))
        .collect();
    let with_auth = answered
        .iter()
        .any(|(_, r)| r.bots.iter().any(|b| b.auth.is_some()));
    if answered.iter().any(|(_, r)| !r.bots.is_empty()) {
        let mut headers = vec!["HOST"];
        headers.extend(bot_headers(with_auth));
        let mut table = render::table(&headers);
        for (name, report) in &answered {
            for b in &report.bots {
                let mut row = vec![Cell::new(name)];
                row.extend(bot_cells(b, now, with_auth));
                table.add_row(row);
            }
        }
        println!("{table}");
    }
    for a in answers {
        match &a.got {
            Ok((report, _)) => {
                let agent = &report.agent;
                println!(
                    "{}: agent on {}, pid {}, botctl {}, up {}; fleet: {}",
                    a.name,
                    agent.host,
                    agent.pid,
                    agent.version,
                    render::uptime(Some(agent.uptime_secs)),
                    render::summary(&report.bots)
                );
            }
            Err(e) if e.code == 3 => println!("{}: unreachable: {}", a.name, e.message),
            Err(e) => println!("{}: error: {}", a.name, e.message),
        }
    }
    let notes: Vec<String> = answered
        .iter()
        .flat_map(|(name, report)| {
            report.bots.iter().filter_map(move |b| {
                let waiting = b.waiting_ready && b.state == BotState::Running;
                let detail = b.detail.as_ref().filter(|_| !waiting)?;
                Some(format!("  {name}/{}: {detail}", b.name))
            })
        })
        .collect();
    print_section("needs attention:", &notes);
}
/// Keeps the bots asked for (by name, or by owner); a name that is no bot is an error.
fn select(report: &mut StatusReport, args: &StatusArgs) -> Result<(), CliError> {
    if let Some(owner) = &args.user {
        report.bots.to_mut().retain(|b| &b.owner == owner);
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
    report.bots.to_mut().retain(|b| args.bots.contains(&b.name));
    Ok(())
}

fn print(report: &StatusReport, remote: bool) {
    let a = &report.agent;
    // Over ssh, which machine answered.
    let on = if remote {
        format!(" on {}", a.host)
    } else {
        String::new()
    };
    println!(
        "agent: running{on}, pid {}, botctl {}, up {}, home {}",
        a.pid,
        a.version,
        render::uptime(Some(a.uptime_secs)),
        a.home
    );
    for line in a.containment.iter().flat_map(|c| render::containment(c)) {
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
        let mut table = render::table(&bot_headers(with_auth));
        for b in &report.bots {
            table.add_row(bot_cells(b, now, with_auth));
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
    let starting: Vec<String> = starting.into_iter().map(|(_, l)| l).collect();
    print_section("starting:", &starting);
    print_section("needs attention:", &notes);
    let forecasts: Vec<String> = report
        .bots
        .iter()
        .filter_map(|b| {
            b.forecast
                .as_ref()
                .map(|f| format!("  {}: {}", b.name, f.message))
        })
        .collect();
    print_section("forecast (botctl forecast):", &forecasts);
    // What the bots say they are doing (sd_notify STATUS=), one line each.
    let said: Vec<String> = report
        .bots
        .iter()
        .filter_map(|b| {
            let s = b.notify_status.as_ref()?;
            Some(format!("  {}: {s}", b.name))
        })
        .collect();
    print_section("bot status (STATUS=):", &said);
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

fn bot_headers(with_auth: bool) -> Vec<&'static str> {
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
    headers
}

/// One bot's row; the AUTH column only when some bot has its session checked.
fn bot_cells(b: &BotInfo, now: i64, with_auth: bool) -> Vec<Cell> {
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
    row
}

/// A heading and its lines, or nothing when there are none.
fn print_section(heading: &str, lines: &[String]) {
    if !lines.is_empty() {
        println!("{heading}");
        for line in lines {
            println!("{line}");
        }
    }
}
