//! Connect-or-start: reach the agent on its socket, or start `botctl agent run` detached and
//! wait for its typed readiness line; then `hello` to agree on the protocol.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use botctl_proto::paths::{HOME_ENV, READY_FD_ENV};
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

pub struct Session {
    pub client: AgentClient,
    pub agent: AgentInfo,
}

/// Where the CLI looks and what it passes on to an agent it starts.
pub struct Target {
    pub paths: Paths,
    /// The home given by --home or BOTCTL_HOME, passed to a started agent.
    pub home: Option<PathBuf>,
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
    match probe(target).await? {
        Probe::Up(s) => Ok(Some(s)),
        Probe::Down => Ok(None),
    }
}

/// Connects, starting an agent when none answers. Racing CLIs each start one; the losers'
/// agents find the lock taken and say `busy`, and those CLIs wait for the winner's socket.
pub async fn connect(target: &Target) -> Result<Session, CliError> {
    let deadline = Instant::now() + START_DEADLINE;
    let mut started = None;
    loop {
        if let Probe::Up(s) = probe(target).await? {
            if let Some(pid) = started {
                eprintln!(
                    "botctl: started the agent (pid {pid}, log {})",
                    target.paths.agent_log.display()
                );
            }
            return Ok(s);
        }
        if Instant::now() >= deadline {
            return Err(CliError::unreachable(format!(
                "no agent answers on {} (an agent for {} may be starting or stopping; see {})",
                target.paths.socket.display(),
                target.paths.home.display(),
                target.paths.agent_log.display()
            )));
        }
        if started.is_some() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let (pid, ready) = start_agent(target)?;
        let left = deadline.saturating_duration_since(Instant::now());
        // Blocking this (single) runtime thread is fine: the CLI has nothing else to do
        // meanwhile, and a thread of its own to wait on cost a start 0.3 ms.
        let line = read_ready(ready, left);
        match line.as_deref() {
            Some("ready") => started = Some(pid),
            // Another agent holds the lock: it is starting (or stopping); wait for its socket.
            Some("busy") => wait_for_socket(target, deadline).await,
            Some(other) => {
                return Err(CliError::unreachable(format!(
                    "the agent failed to start: {}",
                    other.strip_prefix("error: ").unwrap_or(other)
                )));
            }
            None => {
                return Err(CliError::unreachable(format!(
                    "the agent (pid {pid}) did not report ready within {}s; its log {} ends with:\n{}",
                    START_DEADLINE.as_secs(),
                    target.paths.agent_log.display(),
                    log_tail(&target.paths.agent_log)
                )));
            }
        }
    }
}

/// Polls (briefly) for the lock holder's socket to answer before trying to start again.
async fn wait_for_socket(target: &Target, deadline: Instant) {
    let until = deadline.min(Instant::now() + Duration::from_secs(1));
    while Instant::now() < until {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&target.paths.socket) {
            let _ = std::io::Write::flush(&mut s);
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
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

fn hello() -> ClientHello {
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
    let log = OpenOptions::new()
        .create(true)
        .append(true)
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
        .stderr(log2);
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
            Ok(())
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

/// The agent's one readiness line, or `None` on timeout or when it closed the pipe silently.
fn read_ready(fd: OwnedFd, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
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
            return None;
        }
        if n == 0 {
            return None;
        }
        let mut chunk = [0u8; 512];
        // SAFETY: reading into a local buffer of the given length.
        let got = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if got <= 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..got as usize]);
        if buf.contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
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
