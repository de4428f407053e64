//! `botctl agent start|stop|restart|status|install|uninstall` (`run` is dispatched by main
//! before we get here).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::CliError;
use crate::args::AgentCommand;
use crate::client::{
    Target, alive, connect, connect_existing, connect_running, ctx, running_agent,
};
use crate::render;
use crate::systemd;

pub async fn run(target: &Target, command: AgentCommand) -> Result<(), CliError> {
    match command {
        AgentCommand::Run => unreachable!("dispatched in main"),
        AgentCommand::Start => start(target).await,
        AgentCommand::Stop { keep_bots } => stop(target, keep_bots).await,
        AgentCommand::Restart => restart(target).await,
        AgentCommand::Status(f) => status(target, f.json).await,
        AgentCommand::Install { system, now } => install(target, system, now).await,
        AgentCommand::Uninstall { system } => uninstall(system),
    }
}

async fn start(target: &Target) -> Result<(), CliError> {
    if let Some(s) = connect_existing(target).await? {
        println!("agent already running (pid {})", s.agent.pid);
        crate::client::warn_if_refused(&s.agent);
        return Ok(());
    }
    let s = connect(target).await?;
    println!("agent running (pid {})", s.agent.pid);
    Ok(())
}

async fn stop(target: &Target, keep_bots: bool) -> Result<(), CliError> {
    let Some(s) = connect_running(target).await? else {
        println!("no agent running for {}", target.paths.home.display());
        return Ok(());
    };
    let pid = s.agent.pid;
    let unit = systemd::managing_unit(pid);
    if keep_bots && let Some(system) = unit {
        // SIGTERM from systemd is an agent stop that leaves the bots running.
        systemctl(system, &["stop", systemd::UNIT_NAME])?;
        wait_gone(pid, Duration::from_secs(30))?;
        println!(
            "agent (pid {pid}) stopped by `{} stop {}`; the bots keep running for the next agent",
            systemd::systemctl(system),
            systemd::UNIT_NAME
        );
        return Ok(());
    }
    let report = s
        .client
        .shutdown(ctx(Duration::from_secs(3600)), keep_bots)
        .await;
    wait_gone(pid, Duration::from_secs(30))?;
    if let Some(system) = unit {
        // The unit would start a new agent RestartSec (2s) after this one ended, and that
        // one would start the bots again: stopping the unit now cancels the restart.
        systemctl(system, &["stop", systemd::UNIT_NAME])?;
    }
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
    let old = running_agent(&target.paths);
    if let Some(pid) = old
        && let Some(system) = systemd::managing_unit(pid)
    {
        // Under the unit, the unit replaces it: an agent started here would run outside
        // systemd, and systemd would fight it for the lock.
        systemctl(system, &["restart", systemd::UNIT_NAME])?;
        wait_gone(pid, Duration::from_secs(30))?;
        let s = connect(target).await?;
        println!(
            "agent restarted by `{} restart {}`: pid {pid} -> {}; bots kept running",
            systemd::systemctl(system),
            systemd::UNIT_NAME,
            s.agent.pid
        );
        return Ok(());
    }
    if let Some(pid) = old {
        // SAFETY: kill with the pid of our home's lock holder (or pid file), checked to be a
        // botctl agent.
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
    /// Sections of botctl.toml the agent runs without, and why.
    sections_off: Vec<botctl_proto::ConfigIssue>,
    /// sd_notify messages from processes that are no bot's, ignored since the agent started.
    notify_ignored: Option<u64>,
}

async fn status(target: &Target, json: bool) -> Result<(), CliError> {
    let paths = &target.paths;
    let session = connect_running(target).await?;
    let report = match &session {
        Some(s) => Some(s.client.status(ctx(Duration::from_secs(10))).await?),
        None => None,
    };
    let bots = report.as_ref().map(|r| r.bots.len());
    let notify_ignored = report.as_ref().map(|r| r.notify_ignored);
    let sections_off = report
        .map(|r| {
            r.config_issues
                .into_iter()
                .filter(|i| i.section_off.is_some())
                .collect()
        })
        .unwrap_or_default();
    let st = AgentStatus {
        running: session.is_some(),
        home: paths.home.display().to_string(),
        socket: paths.socket.display().to_string(),
        agent: session.map(|s| s.agent),
        bots,
        sections_off,
        notify_ignored,
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
        for line in a.containment.iter().flat_map(|c| render::containment(c)) {
            println!("  {line}");
        }
        for issue in &st.sections_off {
            println!("  {issue}");
        }
        if let Some(n) = st.notify_ignored.filter(|n| *n > 0) {
            println!("  {}", crate::render::notify_ignored(n));
        }
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

fn wait_gone(pid: u32, within: Duration) -> Result<(), CliError> {
    let deadline = Instant::now() + within;
    while alive(pid) {
        if Instant::now() >= deadline {
            return Err(CliError::failed(format!(
                "the agent (pid {pid}) is still running after {}",
                botctl_proto::human::duration(within)
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Writes the systemd unit (see `systemd::render`); never starts an agent itself.
async fn install(target: &Target, system: bool, now: bool) -> Result<(), CliError> {
    if system && target.home.is_none() {
        // A system service has no login session, hence no $XDG_RUNTIME_DIR: without one home
        // shared with the shell, its agent and your CLI would look for different sockets.
        return Err(CliError {
            code: 2,
            message: "a system unit needs a home that the agent and your shell share: pass \
                      --home DIR (or set BOTCTL_HOME), and use the same home in your shell"
                .to_string(),
        });
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(format!("cannot find the botctl binary: {e}")))?;
    let user = if system {
        Some(systemd::invoking_user().ok_or_else(|| {
            CliError::failed("cannot tell which user the system unit should run the agent as")
        })?)
    } else {
        None
    };
    let text = systemd::render(&systemd::Unit {
        system,
        exe: &exe,
        home: target.home.as_ref().map(|_| target.paths.home.as_path()),
        user: user.as_deref(),
    })
    .map_err(CliError::failed)?;
    let dir = systemd::unit_dir(system).map_err(CliError::failed)?;
    let path = dir.join(systemd::UNIT_NAME);
    let before = std::fs::read_to_string(&path).ok();
    if before.as_deref() != Some(text.as_str()) {
        write_atomically(&path, &text)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    let what = match before {
        None => "wrote",
        Some(old) if old == text => "unchanged:",
        Some(_) => "updated",
    };
    println!("{what} {}", path.display());
    // By its lock: an agent whose socket is gone still keeps the unit's agent out.
    if let Some(pid) = running_agent(&target.paths) {
        println!(
            "note: an agent (pid {pid}) already runs outside systemd; the unit's agent cannot \
             take over until it is gone: `botctl agent stop --keep-bots` (the bots keep running \
             and are adopted)"
        );
    }
    if now {
        systemctl(system, &["daemon-reload"])?;
        systemctl(system, &["enable", "--now", systemd::UNIT_NAME])?;
        println!("enabled and started {}", systemd::UNIT_NAME);
    } else {
        println!("enable and start it: {}", systemd::enable_command(system));
    }
    if !system {
        let who = systemd::invoking_user().unwrap_or_else(|| "$USER".to_string());
        println!(
            "a user unit starts at boot, before anyone logs in, only with lingering: \
             loginctl enable-linger {who}"
        );
    }
    Ok(())
}

/// Removes the unit and its enable link (what `systemctl disable` removes), so nothing dangles.
fn uninstall(system: bool) -> Result<(), CliError> {
    let dir = systemd::unit_dir(system).map_err(CliError::failed)?;
    let path = dir.join(systemd::UNIT_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("no unit at {}: nothing to remove", path.display());
            return Ok(());
        }
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot remove {}: {e}",
                path.display()
            )));
        }
    }
    let link = dir
        .join(format!("{}.wants", systemd::wanted_by(system)))
        .join(systemd::UNIT_NAME);
    if link.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
        std::fs::remove_file(&link)
            .map_err(|e| CliError::failed(format!("cannot remove {}: {e}", link.display())))?;
    }
    println!("removed {}", path.display());
    let ctl = systemd::systemctl(system);
    println!(
        "if it is running, stop it: {ctl} stop {} && {ctl} daemon-reload (the bots keep running; \
         the next agent adopts them)",
        systemd::UNIT_NAME
    );
    Ok(())
}

fn systemctl(system: bool, args: &[&str]) -> Result<(), CliError> {
    let mut cmd = std::process::Command::new("systemctl");
    if !system {
        cmd.arg("--user");
    }
    cmd.args(args);
    botctl_proto::fds::only_stdio(&mut cmd);
    let shown = format!("{} {}", systemd::systemctl(system), args.join(" "));
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(CliError::failed(format!("`{shown}` failed ({status})"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::failed(format!(
            "systemctl not found (is this a systemd machine?); the unit is written, enable it \
             with: {}",
            systemd::enable_command(system)
        ))),
        Err(e) => Err(CliError::failed(format!("cannot run `{shown}`: {e}"))),
    }
}

fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("service.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
