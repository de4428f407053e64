//! What the agent reads and signals of processes through /proc and the kernel: groups, stat
//! lines, every pid, and the set of bots' main processes this agent has yet to reap.

use std::collections::BTreeSet;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The main processes of bots this agent started and has not reaped yet: the orphan reaper
/// (subreaper fallback) leaves them to their tasks. Held across the fork, so a main process
/// is in the set before anyone can see it exit.
static LEADERS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Whether `pid` is a bot's main process this agent started and has not reaped.
pub fn leaders() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LEADERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `signal` to every process in the group led by `pgid`. A group that is already gone
/// is not an error.
pub fn signal_group(pgid: u32, signal: Signal) {
    match killpg(Pid::from_raw(pgid as i32), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => {
            crate::util::log_line(format_args!("signal {signal} to process group {pgid}: {e}"))
        }
    }
}

/// True while any process of the group is alive (zombies waiting for init do not count).
pub fn group_alive(pgid: u32) -> bool {
    match kill(Pid::from_raw(-(pgid as i32)), None) {
        Err(Errno::ESRCH) => false,
        _ => group_has_live_member(pgid),
    }
}

/// Every pid in /proc (empty when /proc cannot be read).
pub fn all_pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

fn group_has_live_member(pgid: u32) -> bool {
    if std::fs::metadata("/proc/self").is_err() {
        // Without /proc we cannot tell: assume the group lives (the caller kills it anyway).
        return true;
    }
    // getpgid is one cheap syscall where /proc/PID/stat is text the kernel generates
    // (~15 us): the stat is read for the group's members only. Stopping 200 adopted bots,
    // whose exited leaders stay zombies until init reaps them, took 0.8 s of such scans.
    all_pids()
        .filter(|pid| pgid_of(*pid) == Some(pgid))
        .any(|pid| read_stat(pid).is_some_and(|s| !s.is_gone()))
}

/// The process group of `pid` (`None` once it is gone).
pub fn pgid_of(pid: u32) -> Option<u32> {
    // SAFETY: getpgid only reads the process table.
    let pgid = unsafe { libc::getpgid(pid as libc::pid_t) };
    (pgid >= 0).then_some(pgid as u32)
}

/// What the agent needs of /proc/PID/stat.
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub start_ticks: u64,
}

impl Stat {
    /// A zombie or dead process: gone but for its entry.
    pub fn is_gone(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

pub fn read_stat(pid: u32) -> Option<Stat> {
    let text = crate::health::read_pseudo(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}
