//! Connect-or-start: reach the agent on its socket, or start `botctl agent run` detached and
//! wait for its typed readiness line; then `hello` to agree on the protocol.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use botctl_proto::config::Host;
use botctl_proto::paths::{HOME_ENV, HOST_ENV, READY_FD_ENV};
use botctl_proto::{
    AgentClient, AgentInfo, ClientHello, ErrorKind, MAX_FRAME_BYTES, PROTOCOL_VERSION, Paths,
    VERSION,
};
use tarpc::tokio_serde::formats::Bincode;
use tokio::net::UnixStream;
use tokio_util::codec::LengthDelimitedCodec;

use crate::CliError;

/// How long a started agent has to say it is ready.
const START_DEADLINE: Duration = Duration::from_secs(5);
/// How long an agent that reported ready may take to answer: it answers `hello` at once, but
/// a large fleet (2,000 bots) keeps both of its runtime threads spawning bots for seconds.
const STARTED_PATIENCE: Duration = Duration::from_secs(60);

pub struct Session {
    pub client: AgentClient,
    pub agent: AgentInfo,
}

/// Where the CLI looks and what it passes on to an agent it starts.
pub struct Target {
    pub paths: Paths,
    /// The home given by --home or BOTCTL_HOME, passed to a started agent.
    pub home: Option<PathBuf>,
    /// `--host`: the agent is that host's, reached over ssh; `paths` are then unused.
    pub host: Option<Host>,
}

enum Probe {
    Up(Session),
    Down,
}

/// A tarpc context whose deadline fits the call: long for calls that stop bots.
pub fn ctx(timeout: Duration) -> tarpc::context::Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = Instant::now() + timeout;
    ctx
}

/// Connects to a running agent; `None` when nothing answers.
pub async fn connect_existing(target: &Target) -> Result<Option<Session>, CliError> {
    if let Some(host) = &target.host {
        return crate::ssh::connect(host, true).await.map(Some);
    }
    match probe(target).await? {
        Probe::Up(s) => Ok(Some(s)),
        Probe::Down => Ok(None),
    }
}

/// Said when an agent is started (or found by `agent start`): an agent whose containment
/// was refused runs no bot, which is not a working agent.
pub fn warn_if_refused(agent: &botctl_proto::AgentInfo) {
    if let Some(c) = agent
        .containment
        .as_ref()
        .filter(|c| c.mode == botctl_proto::ContainmentKind::Refused)
    {
        eprintln!("botctl: warning: the agent starts no bot: {}", c.reason);
    }
}

/// Connects, starting an agent when none answers. Racing CLIs each start one; the losers'
/// agents find the lock taken and say `busy`, and those CLIs wait for the winner's socket.
pub async fn connect(target: &Target) -> Result<Session, CliError> {
    if let Some(host) = &target.host {
        return crate::ssh::connect(host, false).await;
    }
    let mut deadline = Instant::now() + START_DEADLINE;
    let mut started = None;
    let mut holder = None;
    loop {
        if let Probe::Up(s) = probe(target).await? {
            if let Some(pid) = started {
                eprintln!(
                    "botctl: started the agent (pid {pid}, log {})",
                    target.paths.agent_log.display()
                );
                warn_if_refused(&s.agent);
            }
            return Ok(s);
        }
        if Instant::now() >= deadline {
            if let Some(pid) = holder {
                return Err(not_answering(target, pid));
            }
            return Err(CliError::unreachable(format!(
                "no agent answers on {} (an agent for {} may be starting or stopping; see {})",
                target.paths.socket.display(),
                target.paths.home.display(),
                target.paths.agent_log.display()
            )));
        }
        if let Some(pid) = started {
            if !alive(pid) {
                return Err(CliError::unreachable(format!(
                    "the agent (pid {pid}) exited right after it started; see {}",
                    target.paths.agent_log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        // An agent holds the lock but its socket is gone (its runtime directory was removed):
        // it binds the socket again, so wait for it rather than start a second agent.
        if let Some(pid) = lock_holder(&target.paths) {
            holder = Some(pid);
            wait_for_socket(target, deadline).await;
            continue;
        }
        let (pid, ready) = start_agent(target)?;
        let left = deadline.saturating_duration_since(Instant::now());
        // Blocking this (single) runtime thread is fine: the CLI has nothing else to do
        // meanwhile, and a thread of its own to wait on cost a start 0.3 ms.
        match read_ready(ready, left) {
            Ready::Up => {
                started = Some(pid);
                // It runs and said so: waiting on is not waiting for nothing.
                deadline = deadline.max(Instant::now() + STARTED_PATIENCE);
            }
            // Another agent holds the lock: it is starting (or stopping); wait for its socket.
            Ready::Busy => {
                wait_for_socket(target, deadline).await;
            }
            Ready::Failed(why) => {
                return Err(CliError::unreachable(format!(
                    "the agent failed to start: {why}"
                )));
            }
            Ready::Silent { last_phase } => {
                return Err(CliError::unreachable(format!(
                    "the agent (pid {pid}) did not report ready within {} (it was {}); its log {} ends with:\n{}",
                    botctl_proto::human::duration(START_DEADLINE),
                    last_phase.as_deref().unwrap_or("starting up"),
                    target.paths.agent_log.display(),
                    log_tail(&target.paths.agent_log)
                )));
            }
        }
    }
}

/// Polls (briefly) for the lock holder's socket to answer before trying to start again;
/// whether it did.
async fn wait_for_socket(target: &Target, deadline: Instant) -> bool {
    let until = deadline.min(Instant::now() + Duration::from_secs(1));
    while Instant::now() < until {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&target.paths.socket) {
            let _ = std::io::Write::flush(&mut s);
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

fn not_answering(target: &Target, pid: u32) -> CliError {
    CliError::unreachable(format!(
        "the agent for {} (pid {pid}, holding {}) does not answer on {}; see {}",
        target.paths.home.display(),
        target.paths.lock_file.display(),
        target.paths.socket.display(),
        target.paths.agent_log.display()
    ))
}

/// Connects to the running agent, found by its lock when its socket does not answer (the
/// socket or its directory was removed, and the agent is binding it again); `None` when
/// no agent runs.
pub async fn connect_running(target: &Target) -> Result<Option<Session>, CliError> {
    if target.host.is_some() {
        return connect_existing(target).await;
    }
    if let Some(session) = connect_existing(target).await? {
        return Ok(Some(session));
    }
    let Some(pid) = running_agent(&target.paths) else {
        return Ok(None);
    };
    let deadline = Instant::now() + START_DEADLINE;
    while Instant::now() < deadline && alive(pid) {
        if wait_for_socket(target, deadline).await
            && let Some(session) = connect_existing(target).await?
        {
            return Ok(Some(session));
        }
    }
    if !alive(pid) {
        return Ok(None);
    }
    Err(not_answering(target, pid))
}

/// The running agent of this home: the holder of its lock, or (an agent of an older botctl,
/// whose lock was elsewhere) the process in its pid file, if that is a live botctl agent.
pub fn running_agent(paths: &Paths) -> Option<u32> {
    lock_holder(paths).or_else(|| {
        let text = std::fs::read_to_string(&paths.pid_file).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        is_agent(pid).then_some(pid)
    })
}

/// The process holding the home's lock, from the kernel's table of locks (/proc/locks), so
/// that nothing is taken to ask: taking the lock, even for a moment, could turn away an agent
/// starting at that moment.
fn lock_holder(paths: &Paths) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    // The holder writes its pid into the lock as it takes it: when that pid is no live agent,
    // no agent holds the lock, and the kernel's table of every lock on the host (8-15 ms to
    // read on a busy one, on every auto-start) is not read. An agent that took the lock but
    // has not written its pid yet turns a second one away by the lock itself.
    let named = botctl_proto::fsread::read_regular_string(&paths.lock_file, 64).ok()?;
    if !is_agent(named.trim().parse().ok()?) {
        return None;
    }
    let meta = std::fs::metadata(&paths.lock_file).ok()?;
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let file = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        let pid: u32 = fields.get(at + 3)?.parse().ok()?;
        (fields.get(at + 4) == Some(&file.as_str()) && is_agent(pid)).then_some(pid)
    })
}

/// Whether `pid` is a live `botctl agent run`.
pub fn is_agent(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(2).any(|w| w[0] == b"agent" && w[1] == b"run") && alive(pid)
}

/// Exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Connects like `connect` and makes the command's first call in the same round trip as
/// `hello` (both requests go out at once), which saves a `botctl status` one round trip to
/// the agent. Should anything go wrong (no agent yet, another protocol), it falls back to
/// `connect` and a second call, so that every error reads as it always does.
pub async fn connect_and<T, F, Fut>(target: &Target, first: F) -> Result<(Session, T), CliError>
where
    F: Fn(AgentClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, tarpc::client::RpcError>>,
{
    // Over ssh too the two go out together; the far side starts its agent itself, so a
    // failed hello is the answer.
    if let Some(host) = &target.host {
        let link = crate::ssh::open(host, false)?;
        let (agent, answer) = futures::join!(
            link.client.hello(ctx(crate::ssh::deadline(host)), hello()),
            first(link.client.clone())
        );
        let session = link.session(agent).await?;
        return Ok((session, answer?));
    }
    if let Ok(Some(client)) = open(target).await {
        let (agent, answer) = futures::join!(
            client.hello(ctx(Duration::from_secs(5)), hello()),
            first(client.clone())
        );
        if let (Ok(Ok(agent)), Ok(answer)) = (agent, answer) {
            return Ok((Session { client, agent }, answer));
        }
    }
    let session = connect(target).await?;
    let answer = first(session.client.clone()).await?;
    Ok((session, answer))
}

pub(crate) fn hello() -> ClientHello {
    ClientHello {
        version: VERSION.to_string(),
        protocol: PROTOCOL_VERSION,
    }
}

/// A client on the agent's socket, before any call; `None` when nothing listens there.
async fn open(target: &Target) -> Result<Option<AgentClient>, CliError> {
    let socket = &target.paths.socket;
    let stream = match UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(CliError::unreachable(format!(
                "cannot connect to {}: {e}",
                socket.display()
            )));
        }
    };
    let framed = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_framed(stream);
    let transport = tarpc::serde_transport::new(framed, Bincode::default());
    Ok(Some(
        AgentClient::new(tarpc::client::Config::default(), transport).spawn(),
    ))
}

async fn probe(target: &Target) -> Result<Probe, CliError> {
    let Some(client) = open(target).await? else {
        return Ok(Probe::Down);
    };
    match client.hello(ctx(Duration::from_secs(5)), hello()).await {
        Ok(Ok(agent)) => Ok(Probe::Up(Session { client, agent })),
        Ok(Err(e)) if e.kind == ErrorKind::VersionMismatch => Err(CliError::unreachable(e.message)),
        Ok(Err(e)) => Err(CliError::unreachable(e.message)),
        // The socket accepted but the agent went away (it is exiting): as good as down.
        Err(_) => Ok(Probe::Down),
    }
}

fn start_agent(target: &Target) -> Result<(u32, OwnedFd), CliError> {
    let paths = &target.paths;
    let fail = |what: &str, e: io::Error| CliError::unreachable(format!("{what}: {e}"));
    std::fs::create_dir_all(&paths.logs_dir)
        .map_err(|e| fail(&format!("creating {}", paths.logs_dir.display()), e))?;
    // The agent's log holds what bots said when they failed: 0640 like the bots' logs.
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&paths.agent_log)
        .map_err(|e| fail(&format!("opening {}", paths.agent_log.display()), e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| fail("duplicating the log fd", e))?;
    let exe = std::env::current_exe().map_err(|e| fail("finding the botctl binary", e))?;
    let (read, write) = pipe().map_err(|e| fail("creating the readiness pipe", e))?;
    let mut cmd = Command::new(exe);
    cmd.args(["agent", "run"])
        .env(READY_FD_ENV, "3")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        // The agent is this host's: a BOTCTL_HOST in the caller's environment is not its.
        .env_remove(HOST_ENV);
    match &target.home {
        Some(home) => cmd.env(HOME_ENV, home),
        None => cmd.env_remove(HOME_ENV),
    };
    let write_fd = write.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // dup2 onto fd 3 clears close-on-exec there; if it already is 3, clear it by hand.
            if write_fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(write_fd, 3) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The agent outlives this command: whatever else our caller left open (a
            // `flock`ed file, a pipe a CI job waits on) must not stay open with it.
            botctl_proto::fds::cloexec_from(4)
        });
    }
    let child = cmd.spawn().map_err(|e| fail("starting the agent", e))?;
    drop(write);
    Ok((child.id(), read))
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created for us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What a started agent said on its readiness pipe.
enum Ready {
    Up,
    /// Another agent holds the lock.
    Busy,
    Failed(String),
    /// Nothing final within the time (or the pipe closed): the last phase it named.
    Silent {
        last_phase: Option<String>,
    },
}

/// Reads the agent's readiness pipe: `phase: ...` lines while it starts, then one final line.
fn read_ready(fd: OwnedFd, within: Duration) -> Ready {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut last_phase = None;
    loop {
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim().to_string();
            match line.as_str() {
                "ready" => return Ready::Up,
                "busy" => return Ready::Busy,
                "" => {}
                other => match other.strip_prefix("phase: ") {
                    Some(phase) => last_phase = Some(phase.to_string()),
                    None => {
                        return Ready::Failed(
                            other.strip_prefix("error: ").unwrap_or(other).into(),
                        );
                    }
                },
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ready::Silent { last_phase };
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Ready::Silent { last_phase };
        }
        if n == 0 {
            return Ready::Silent { last_phase };
        }
        let mut chunk = [0u8; 512];
        // SAFETY: reading into a local buffer of the given length.
        let got = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if got <= 0 {
            return Ready::Silent { last_phase };
        }
        buf.extend_from_slice(&chunk[..got as usize]);
    }
}

fn log_tail(path: &std::path::Path) -> String {
    crate::tail::last_lines(path, 5)
        .map(|s| {
            s.lines()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|e| format!("  (cannot read it: {e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(lines: &str, close: bool) -> Ready {
        let (read, write) = pipe().unwrap();
        let mut write = std::fs::File::from(write);
        io::Write::write_all(&mut write, lines.as_bytes()).unwrap();
        // Left open, the agent is still there but says nothing more.
        let open = (!close).then_some(write);
        let answer = read_ready(read, Duration::from_millis(50));
        drop(open);
        answer
    }

    #[test]
    fn a_silent_agent_is_reported_with_the_last_phase_it_named() {
        assert!(matches!(
            said("phase: taking the lock\nphase: starting the runtime\n", false),
            Ready::Silent { last_phase: Some(p) } if p == "starting the runtime"
        ));
        assert!(matches!(
            said("phase: binding the socket\n", true),
            Ready::Silent { last_phase: Some(p) } if p == "binding the socket"
        ));
        assert!(matches!(said("", true), Ready::Silent { last_phase: None }));
        assert!(matches!(said("phase: x\nready\n", false), Ready::Up));
        assert!(matches!(said("phase: x\nbusy\n", false), Ready::Busy));
        assert!(matches!(
            said("phase: x\nerror: binding: too long\n", false),
            Ready::Failed(why) if why == "binding: too long"
        ));
    }
}
