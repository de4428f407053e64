//! The fallback without cgroups: the agent is a child subreaper, a bot's processes are found
//! by walking /proc (its tree, its group, and what inherited its variables since it started),
//! and orphans that come back to the agent are reaped.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::procfs::{self as process, all_pids, read_stat};

/// Makes the agent the reaper of every orphan among its descendants: a bot's daemon whose
/// parent exits comes back to the agent instead of init, so the agent still sees it.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: a prctl on the calling process, no pointers.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What tells a bot's processes apart from the rest.
pub struct Marks<'a> {
    pub leader: u32,
    pub leader_ticks: u64,
    pub pgid: u32,
    /// `BOTCTL_HOME=...` and `BOTCTL_BOT=...`, as the bot's environment has them.
    pub home: &'a OsStr,
    pub bot: &'a str,
}

/// Every live process of the bot: its leader's descendants, its process group, and the
/// processes started since the leader that carry its `BOTCTL_HOME` and `BOTCTL_BOT` (those
/// that left the tree: a setsid() child whose parent died, a double-forked daemon).
pub fn members(marks: &Marks<'_>) -> Vec<u32> {
    let me = std::process::id();
    let stats: HashMap<u32, process::Stat> = all_pids()
        .filter(|&p| p != me)
        .filter_map(|p| Some((p, read_stat(p)?)))
        .filter(|(_, s)| !s.is_gone())
        .collect();
    let under_leader = |pid: u32| {
        let mut p = pid;
        for _ in 0..64 {
            if p == marks.leader {
                return true;
            }
            match stats.get(&p) {
                Some(s) if s.ppid > 1 && s.ppid != p => p = s.ppid,
                _ => return false,
            }
        }
        false
    };
    stats
        .iter()
        .filter(|(pid, s)| {
            s.pgrp == marks.pgid
                || under_leader(**pid)
                || (s.start_ticks >= marks.leader_ticks && carries(**pid, marks))
        })
        .map(|(pid, _)| *pid)
        .collect()
}

fn carries(pid: u32, marks: &Marks<'_>) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let mut home = b"BOTCTL_HOME=".to_vec();
    home.extend_from_slice(marks.home.as_bytes());
    let bot = format!("BOTCTL_BOT={}", marks.bot);
    let mut has_home = false;
    let mut has_bot = false;
    for var in environ.split(|b| *b == 0) {
        has_home |= var == home.as_slice();
        has_bot |= var == bot.as_bytes();
    }
    has_home && has_bot
}

/// Reaps the agent's children that are no bot's main process and not its own helpers:
/// orphans of bots that came back to the subreaper and exited (no zombie is left).
/// `leaders` answers whether a pid is a bot's main process (reaped by its task).
pub fn reap_orphans(leaders: impl Fn(u32) -> bool) -> usize {
    let me = std::process::id();
    // SAFETY: getsid(0) reads the caller's session.
    let my_session = unsafe { libc::getsid(0) } as u32;
    let mut reaped = 0;
    for pid in all_pids() {
        let Some(stat) = read_stat(pid) else {
            continue;
        };
        if stat.ppid != me || stat.state != 'Z' || leaders(pid) {
            continue;
        }
        // The agent's own helpers (update commands) share its session; bots never do.
        // SAFETY: getsid only reads the process table.
        let session = unsafe { libc::getsid(pid as libc::pid_t) };
        if session < 0 || session as u32 == my_session {
            continue;
        }
        let mut status = 0;
        // SAFETY: waitpid on one zombie child of ours, without blocking.
        if unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) } > 0 {
            reaped += 1;
        }
    }
    reaped
}

/// Reaps orphans whenever a child exits (SIGCHLD), and every few seconds in case signals
/// were merged: the subreaper's duty. Ends only on an error (`supervise` restarts it).
pub async fn reap_forever() -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut children = signal(SignalKind::child()).map_err(|e| format!("SIGCHLD: {e}"))?;
    loop {
        tokio::select! {
            _ = children.recv() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
        let leaders = process::leaders();
        reap_orphans(|pid| leaders.contains(&pid));
    }
}
