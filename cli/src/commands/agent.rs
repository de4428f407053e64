//! `botctl agent start|stop|restart|status` (`run` is dispatched by main before we get here).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::CliError;
use crate::args::AgentCommand;
use crate::client::{Target, connect, connect_existing, ctx};
use crate::render;

pub async fn run(target: &Target, command: AgentCommand) -> Result<(), CliError> {
    match command {
        AgentCommand::Run => unreachable!("dispatched in main"),
        AgentCommand::Start => start(target).await,
        AgentCommand::Stop { keep_bots } => stop(target, keep_bots).await,
        AgentCommand::Restart => restart(target).await,
        AgentCommand::Status(f) => status(target, f.json).await,
    }
}

async fn start(target: &Target) -> Result<(), CliError> {
    if let Some(s) = connect_existing(target).await? {
        println!("agent already running (pid {})", s.agent.pid);
        return Ok(());
    }
    let s = connect(target).await?;
    println!("agent running (pid {})", s.agent.pid);
    Ok(())
}

async fn stop(target: &Target, keep_bots: bool) -> Result<(), CliError> {
    let Some(s) = connect_existing(target).await? else {
        println!("no agent running for {}", target.paths.home.display());
        return Ok(());
    };
    let pid = s.agent.pid;
    let report = s
        .client
        .shutdown(ctx(Duration::from_secs(3600)), keep_bots)
        .await;
    wait_gone(pid, Duration::from_secs(30))?;
    // The agent may exit before its answer arrives; it being gone is what was asked.
    let report = report.unwrap_or_default();
    if keep_bots {
        println!(
            "agent (pid {pid}) stopped; {} bot(s) left running for the next agent",
            report.kept.len()
        );
    } else {
        println!(
            "agent (pid {pid}) stopped after stopping {} bot(s)",
            report.stopped.len()
        );
    }
    Ok(())
}

/// Replaces the agent without touching the bots: SIGTERM (which leaves bots running, and works
/// even across a protocol change), then a new agent adopts them.
async fn restart(target: &Target) -> Result<(), CliError> {
    let old = agent_pid(target);
    if let Some(pid) = old {
        // SAFETY: kill with a pid read from our own pid file, checked to be a botctl agent.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        wait_gone(pid, Duration::from_secs(30))?;
    }
    let s = connect(target).await?;
    match old {
        Some(pid) => println!(
            "agent restarted: pid {pid} -> {}; bots kept running",
            s.agent.pid
        ),
        None => println!("agent started (pid {})", s.agent.pid),
    }
    Ok(())
}

#[derive(Serialize)]
struct AgentStatus {
    running: bool,
    home: String,
    socket: String,
    agent: Option<botctl_proto::AgentInfo>,
    bots: Option<usize>,
}

async fn status(target: &Target, json: bool) -> Result<(), CliError> {
    let paths = &target.paths;
    let session = connect_existing(target).await?;
    let bots = match &session {
        Some(s) => Some(
            s.client
                .list_bots(ctx(Duration::from_secs(10)), None)
                .await?
                .len(),
        ),
        None => None,
    };
    let st = AgentStatus {
        running: session.is_some(),
        home: paths.home.display().to_string(),
        socket: paths.socket.display().to_string(),
        agent: session.map(|s| s.agent),
        bots,
    };
    if json {
        render::print_json(&st);
    } else if let Some(a) = &st.agent {
        println!(
            "agent running: pid {}, botctl {} (protocol {}), up {}, {} bot(s), home {}",
            a.pid,
            a.version,
            a.protocol,
            render::uptime(Some(a.uptime_secs)),
            st.bots.unwrap_or(0),
            a.home
        );
    } else {
        println!("agent not running (home {})", st.home);
    }
    if st.running {
        Ok(())
    } else {
        Err(CliError {
            code: 3,
            message: String::new(),
        })
    }
}

/// The pid in run/agent.pid, if that process is alive and is a botctl agent.
fn agent_pid(target: &Target) -> Option<u32> {
    let text = std::fs::read_to_string(&target.paths.pid_file).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_agent = args.windows(2).any(|w| w[0] == b"agent" && w[1] == b"run");
    (is_agent && alive(pid)).then_some(pid)
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn wait_gone(pid: u32, within: Duration) -> Result<(), CliError> {
    let deadline = Instant::now() + within;
    while alive(pid) {
        if Instant::now() >= deadline {
            return Err(CliError::failed(format!(
                "the agent (pid {pid}) is still running after {}s",
                within.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
