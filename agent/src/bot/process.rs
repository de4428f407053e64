//! Linux process plumbing for bots: spawning into a new session (and cgroup, account and
//! hardening), pidfds for exit detection, reaping, signalling groups, identifying a pid.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

use super::machine::Exit;
use super::spawn::{CgroupEntry, Inherited, Launch, Started};
pub use super::spawn::{Hardening, SpawnError};
use crate::contain::account::Account;
use crate::contain::cgroup::{BotCgroup, Prepared};
pub use crate::contain::procfs::{
    Stat, all_pids, group_alive, leaders, pgid_of, read_stat, signal_group,
};

/// What to run, where its output goes, and how it is contained.
pub struct SpawnSpec<'a> {
    pub command: &'a [String],
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    /// The bot's logs, opened (appending) by the child.
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// The bot's cgroup, made ready: the child enters it before it runs the bot, so that
    /// even the bot's first fork is inside.
    pub cgroup: Option<Prepared>,
    /// The Unix account the bot runs as (`run_as`); None: the agent's own.
    pub account: Option<Account>,
    pub hardening: Hardening,
}

/// A live bot process: the one botctl started, the leader of its own session and process
/// group, or the process the bot named with sd_notify `MAINPID=`, in that group's tree.
pub struct BotProcess {
    pub pid: u32,
    /// The group a stop signals: the started process's, kept when `MAINPID=` moves `pid`.
    pub pgid: u32,
    pub start_ticks: u64,
    /// See `pidfs_id`; 0 when unknown.
    pub pidfs_id: u64,
    pub pidfd: AsyncFd<OwnedFd>,
    /// False for a process adopted from an earlier agent: it is not our child, so its exit
    /// status cannot be read.
    pub is_child: bool,
    /// The bot's cgroup, when it has one.
    pub cgroup: Option<BotCgroup>,
    /// Its cgroup's OOM kills when it started: more at its exit means the kernel killed it.
    pub oom_kills: u64,
}

/// Starts a bot (see `spawn::launch`: born in its cgroup, in a new session and process
/// group, with the bot's account, limits and hardening, and nothing of the agent's but its
/// environment). Returns once the command runs, or says why it could not.
pub fn spawn(spec: SpawnSpec<'_>) -> Result<BotProcess, SpawnError> {
    let env = spec
        .env
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let launch = Launch {
        command: spec.command,
        cwd: spec.cwd,
        inherited: inherited(),
        env,
        stdout: &spec.stdout,
        stderr: &spec.stderr,
        log_mode: crate::logs::MODE,
        cgroup: spec.cgroup.as_ref().map(|p| CgroupEntry {
            dir: p.dir.as_raw_fd(),
            born_inside: p.born_inside,
        }),
        ids: spec
            .account
            .as_ref()
            .map(|a| (a.uid, a.gid, a.groups.clone())),
        hardening: spec.hardening,
    };
    let oom_kills = crate::contain::oom_kills(spec.cgroup.as_ref().map(|p| &p.cgroup)).unwrap_or(0);
    // The subreaper's orphan reaper must not take a bot that exits at once before it is
    // known as a leader, so there the spawn holds the lock; elsewhere nobody else reaps, and
    // the two runtime workers spawn side by side (each waits for its child's exec).
    let reaper = crate::contain::in_force()
        .is_some_and(|f| f.kind == botctl_proto::ContainmentKind::Subreaper);
    let held = reaper.then(leaders);
    let before = crate::spawn_record::boot_ticks();
    let Started { pid, pidfd } = super::spawn::launch(launch)?;
    let after = crate::spawn_record::boot_ticks();
    held.unwrap_or_else(leaders).insert(pid);
    // The kernel stamps a process's start time as it makes it, between these two readings
    // of the same clock: when both fall in one clock tick, that tick is the start time. Read
    // from /proc/PID/stat otherwise (the kernel has to make that file, and its exit then has
    // to drop it): that read was 7 % of the agent's CPU in a crash storm.
    let start_ticks = if before == after {
        before
    } else {
        start_ticks(pid).unwrap_or(0)
    };
    let run_error = |error| SpawnError::Run {
        program: spec.command[0].clone(),
        step: None,
        error,
    };
    Ok(BotProcess {
        pid,
        pgid: pid,
        start_ticks,
        pidfs_id: pidfs_id(&pidfd).unwrap_or(0),
        pidfd: watch(pidfd).map_err(run_error)?,
        is_child: true,
        cgroup: spec.cgroup.map(|p| p.cgroup),
        oom_kills,
    })
}

/// The agent's environment as every bot inherits it, less the readiness fd and systemd's
/// notify variables; made once (the agent never changes its own environment), where
/// building it at each start cost three allocations a variable.
fn inherited() -> &'static [Inherited] {
    static ENV: std::sync::OnceLock<Vec<Inherited>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        std::env::vars_os()
            .filter(|(k, _)| k != botctl_proto::paths::READY_FD_ENV)
            .filter(|(k, _)| {
                !botctl_proto::paths::SYSTEMD_AGENT_ENV
                    .iter()
                    .any(|a| k == a)
            })
            .filter_map(|(k, v)| Inherited::new(k, &v))
            .collect()
    })
}

/// Takes over a process started by an earlier agent, if `pid` is still that process.
pub fn adopt(pid: u32, expected_ticks: u64) -> Option<BotProcess> {
    Claim::check(pid, expected_ticks, 0)?.adopt(pid, "")
}

/// Follows `pid`, a process of the bot's group `pgid` (sd_notify `MAINPID=`): pinned by a
/// pidfd from now, its exit is the bot's. Not our child, so its exit status is unknown.
pub fn follow(pid: u32, pgid: u32) -> Option<BotProcess> {
    Claim::check(pid, start_ticks(pid)?, 0)?.adopt(pgid, "")
}

/// The identity of a process on kernels with pidfs (Linux 6.9 and later): the inode number
/// of its pidfd, which is never reused while the machine is up, unlike pids. Reading it is
/// one fstat, where the start time costs a read of /proc/PID/stat, which the kernel has to
/// generate; adopting 200 bots does 200 of these. `None` where pidfds are anonymous inodes
/// that all share one number.
pub fn pidfs_id(pidfd: &OwnedFd) -> Option<u64> {
    const PID_FS_MAGIC: libc::c_long = 0x5049_4446;
    // Which filesystem pidfds live on is the kernel's, the same for every pidfd: asked once.
    static ON_PIDFS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: fstatfs and fstat fill the structures we pass, for an fd we own.
    unsafe {
        let on_pidfs = *ON_PIDFS.get_or_init(|| {
            let mut fs: libc::statfs = std::mem::zeroed();
            libc::fstatfs(pidfd.as_raw_fd(), &mut fs) == 0
                && fs.f_type as libc::c_long == PID_FS_MAGIC
        });
        if !on_pidfs {
            return None;
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(pidfd.as_raw_fd(), &mut st) != 0 {
            return None;
        }
        Some(st.st_ino)
    }
}

/// A process of an earlier agent, checked to be the one that was recorded and pinned by a
/// pidfd, but not yet watched: checking many can happen ahead of the takeover (while the
/// configuration is still being read).
pub struct Claim {
    pid: u32,
    start_ticks: u64,
    pidfs_id: u64,
    pidfd: OwnedFd,
}

impl Claim {
    /// The process `pid`, if it is still the one recorded with `expected_ticks` and, when
    /// known (not 0), `expected_id` (see `pidfs_id`).
    pub fn check(pid: u32, expected_ticks: u64, expected_id: u64) -> Option<Claim> {
        let pidfd = pidfd_open(pid).ok()?;
        let id = pidfs_id(&pidfd);
        let exited = id.is_some() && has_exited(&pidfd);
        let claim = |pidfs_id| Claim {
            pid,
            start_ticks: expected_ticks,
            pidfs_id,
            pidfd,
        };
        if expected_id != 0
            && let Some(id) = id
        {
            // The pidfd's own identity: the process it pins is the recorded one or not; and
            // a pidfd polls readable once its process has exited (a zombie nobody reaped).
            return (id == expected_id && !exited).then(|| claim(id));
        }
        // Checked after the pidfd is open: a process that still has this pid and the recorded
        // start time had it since before the open (a newer process cannot have an older start
        // time), so the pidfd refers to it and not to a process that reused the pid.
        let stat = read_stat(pid)?;
        if stat.start_ticks != expected_ticks || stat.is_gone() {
            return None;
        }
        Some(claim(id.unwrap_or(0)))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes the process over, with `pgid` the group its stops signal and `recorded` the
    /// cgroup directory recorded with it ('' when none was): from here its exit is noticed.
    /// If it ended since the check, that is noticed at once.
    pub fn adopt(self, pgid: u32, recorded: &str) -> Option<BotProcess> {
        let cgroup = crate::contain::cgroup_of_adopted(self.pid, recorded);
        Some(BotProcess {
            pid: self.pid,
            pgid,
            start_ticks: self.start_ticks,
            pidfs_id: self.pidfs_id,
            pidfd: watch(self.pidfd).ok()?,
            is_child: false,
            oom_kills: crate::contain::oom_kills(cgroup.as_ref()).unwrap_or(0),
            cgroup,
        })
    }
}

impl BotProcess {
    /// Whether the process has exited (its pidfd is readable), without waiting.
    pub fn has_exited(&self) -> bool {
        has_exited(self.pidfd.get_ref())
    }

    /// Sends `signal` to the bot's process group and, when `MAINPID=` named a process that
    /// may have left the group, to that process too.
    pub fn signal(&self, signal: Signal) {
        signal_group(self.pgid, signal);
        if self.pid != self.pgid {
            match kill(Pid::from_raw(self.pid as i32), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => crate::util::log_line(format_args!(
                    "signal {signal} to process {}: {e}",
                    self.pid
                )),
            }
        }
    }
}

/// Whether the process of `pidfd` has exited, without waiting.
fn has_exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready > 0
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
    let mut leaders = leaders();
    let status = waitpid(
        Pid::from_raw(process.pid as i32),
        Some(WaitPidFlag::WNOHANG),
    );
    if !matches!(status, Ok(WaitStatus::StillAlive)) {
        leaders.remove(&process.pid);
    }
    drop(leaders);
    match status {
        Ok(WaitStatus::Exited(_, code)) => Exit::Code(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Exit::Signal(sig as i32),
        _ => Exit::Unknown,
    }
}

pub fn start_ticks(pid: u32) -> Option<u64> {
    read_stat(pid).map(|s| s.start_ticks)
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

    #[tokio::test]
    async fn a_started_process_knows_the_start_time_the_kernel_shows() {
        // Taken from the clock around the clone, or read where a tick fell in between:
        // either way what /proc/PID/stat says, which adoption compares it with.
        let dir = tempfile::tempdir().unwrap();
        let command = ["sleep".to_string(), "30".to_string()];
        for _ in 0..300 {
            let p = spawn(SpawnSpec {
                command: &command,
                cwd: dir.path(),
                env: vec![("BOTCTL_TEST".into(), "1".into())],
                stdout: dir.path().join("out"),
                stderr: dir.path().join("err"),
                cgroup: None,
                account: None,
                hardening: Hardening {
                    no_new_privs: true,
                    core_dumps: false,
                    nofile: None,
                },
            })
            .unwrap();
            let shown = read_stat(p.pid).unwrap().start_ticks;
            let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(p.pid as i32), None);
            leaders().remove(&p.pid);
            assert_eq!(p.start_ticks, shown, "start time of pid {}", p.pid);
        }
    }

    #[test]
    fn a_pidfs_identity_tells_processes_apart_and_the_start_time_backs_it_up() {
        let me = std::process::id();
        let ticks = start_ticks(me).unwrap();
        // Unknown identity (0): the start time decides.
        assert!(Claim::check(me, ticks, 0).is_some());
        assert!(Claim::check(me, ticks + 1, 0).is_none());
        let pidfd = pidfd_open(me).unwrap();
        if let Some(id) = pidfs_id(&pidfd) {
            assert_eq!(Claim::check(me, ticks, id).map(|c| c.pidfs_id), Some(id));
            assert!(
                Claim::check(me, ticks, id + 1).is_none(),
                "another identity is another process, whatever its start time"
            );
            let mut child = std::process::Command::new("sleep")
                .arg("5")
                .spawn()
                .unwrap();
            let other = pidfs_id(&pidfd_open(child.id()).unwrap());
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                other.is_some_and(|o| o != id),
                "each process has its own identity"
            );
        }
    }

    #[test]
    fn the_group_of_a_process_is_one_syscall_away() {
        use std::os::unix::process::CommandExt;
        let me = std::process::id();
        assert_eq!(pgid_of(me), read_stat(me).map(|s| s.pgrp));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        assert_eq!(pgid_of(pid), Some(pid), "a leader of its own group");
        assert!(group_alive(pid));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(pgid_of(pid), None, "gone once reaped");
        assert!(!group_alive(pid));
    }

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

/// How many parents a process-tree walk climbs at most: deeper trees are not bots' (and a
/// bound keeps a pid-reuse loop from spinning).
const TREE_DEPTH: usize = 64;

/// The parent of `pid`, from /proc/PID/stat.
pub fn parent_of(pid: u32) -> Option<u32> {
    read_stat(pid).map(|s| s.ppid)
}

/// The first of `pid` and its ancestors for which `pick` answers, walking parents with
/// `parent` (up to init).
pub fn up_the_tree<T>(
    pid: u32,
    parent: impl Fn(u32) -> Option<u32>,
    mut pick: impl FnMut(u32) -> Option<T>,
) -> Option<T> {
    let mut p = pid;
    for _ in 0..TREE_DEPTH {
        if let Some(found) = pick(p) {
            return Some(found);
        }
        p = parent(p).filter(|&pp| pp > 1 && pp != p)?;
    }
    None
}

/// Whether `pid` is `ancestor` or runs under it.
pub fn descends_from(pid: u32, ancestor: u32) -> bool {
    up_the_tree(pid, parent_of, |p| (p == ancestor).then_some(())).is_some()
}

#[cfg(test)]
mod tree_tests {
    use super::*;

    #[test]
    fn the_parent_is_read_from_proc() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
        assert!(descends_from(me, std::os::unix::process::parent_id()));
        assert!(descends_from(me, me));
        assert!(!descends_from(std::os::unix::process::parent_id(), me));
    }

    #[test]
    fn a_walk_stops_at_init_at_a_loop_and_at_its_depth() {
        let tree = |p: u32| match p {
            10 => Some(5),
            5 => Some(1),
            7 => Some(7),
            n if n > 1000 => Some(n - 1),
            _ => None,
        };
        assert_eq!(
            up_the_tree(10, tree, |p| (p == 5).then_some("bot")),
            Some("bot")
        );
        assert_eq!(up_the_tree(10, tree, |p| (p == 1).then_some(())), None);
        assert_eq!(up_the_tree(7, tree, |p| (p == 3).then_some(())), None);
        assert_eq!(up_the_tree(5000, tree, |p| (p == 1000).then_some(())), None);
        assert_eq!(
            up_the_tree(1050, tree, |p| (p == 1000).then_some(p)),
            Some(1000)
        );
    }
}
