//! Linux process plumbing for bots: spawning into a new session, pidfds for event-driven exit
//! detection, reaping, signalling whole process groups and identifying a pid by its start time.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

use crate::supervisor::machine::Exit;

/// What to run and where its output goes.
pub struct SpawnSpec<'a> {
    pub command: &'a [String],
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    pub stdout: File,
    pub stderr: File,
}

/// A live bot process: the leader of its own session and process group.
pub struct BotProcess {
    pub pid: u32,
    pub start_ticks: u64,
    pub pidfd: AsyncFd<OwnedFd>,
    /// False for a process adopted from an earlier agent: it is not our child, so its exit
    /// status cannot be read.
    pub is_child: bool,
}

pub fn spawn(spec: SpawnSpec<'_>) -> io::Result<BotProcess> {
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(spec.cwd)
        .envs(spec.env)
        .env_remove(botctl_proto::paths::READY_FD_ENV)
        .stdin(Stdio::null())
        .stdout(spec.stdout)
        .stderr(spec.stderr);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let pid = child.id();
    // Dropping a std Child neither waits nor kills; we reap by pid once the pidfd says so.
    drop(child);
    // The child cannot be reaped by anyone else before we wait on it, so the pid is ours.
    let pidfd = pidfd_open(pid)?;
    let start_ticks = start_ticks(pid).unwrap_or(0);
    Ok(BotProcess {
        pid,
        start_ticks,
        pidfd: watch(pidfd)?,
        is_child: true,
    })
}

/// Takes over a process started by an earlier agent, if `pid` is still that process.
pub fn adopt(pid: u32, expected_ticks: u64) -> Option<BotProcess> {
    if start_ticks(pid)? != expected_ticks || is_zombie(pid) {
        return None;
    }
    let pidfd = pidfd_open(pid).ok()?;
    // Checked again now that the pidfd pins the process: the pid cannot be reused under us.
    if start_ticks(pid)? != expected_ticks {
        return None;
    }
    Some(BotProcess {
        pid,
        start_ticks: expected_ticks,
        pidfd: watch(pidfd).ok()?,
        is_child: false,
    })
}

fn watch(pidfd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd owns the OwnedFd, so the fd stays open and the same for its life.
    Ok(unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }?)
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: a plain syscall; the returned fd is owned by us from here on.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Collects the exit status of an exited process (once its pidfd is readable).
pub fn reap(process: &BotProcess) -> Exit {
    if !process.is_child {
        return Exit::Unknown;
    }
    match waitpid(
        Pid::from_raw(process.pid as i32),
        Some(WaitPidFlag::WNOHANG),
    ) {
        Ok(WaitStatus::Exited(_, code)) => Exit::Code(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Exit::Signal(sig as i32),
        _ => Exit::Unknown,
    }
}

/// Sends `signal` to every process in the group led by `pgid`. A group that is already gone
/// is not an error.
pub fn signal_group(pgid: u32, signal: Signal) {
    match killpg(Pid::from_raw(pgid as i32), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => eprintln!("signal {signal} to process group {pgid}: {e}"),
    }
}

/// True while any process of the group is alive (zombies waiting for init do not count).
pub fn group_alive(pgid: u32) -> bool {
    match kill(Pid::from_raw(-(pgid as i32)), None) {
        Err(Errno::ESRCH) => false,
        _ => group_has_live_member(pgid),
    }
}

fn group_has_live_member(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(stat) = read_stat(pid)
            && stat.pgrp == pgid
            && stat.state != 'Z'
            && stat.state != 'X'
        {
            return true;
        }
    }
    false
}

struct Stat {
    state: char,
    pgrp: u32,
    start_ticks: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

pub fn start_ticks(pid: u32) -> Option<u64> {
    read_stat(pid).map(|s| s.start_ticks)
}

fn is_zombie(pid: u32) -> bool {
    read_stat(pid).is_none_or(|s| s.state == 'Z' || s.state == 'X')
}

/// Seconds a process has been running, from its start ticks.
pub fn age_secs(start_ticks: u64) -> Option<f64> {
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    Some((uptime - start_ticks as f64 / hz as f64).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_stat() {
        let me = std::process::id();
        let ticks = start_ticks(me).unwrap();
        assert!(ticks > 0);
        assert!(age_secs(ticks).unwrap() < 3600.0 * 24.0 * 365.0);
        assert!(
            adopt(me, ticks + 1).is_none(),
            "wrong start time must not adopt"
        );
    }
}
