//! The agent's cgroup subtree and each bot's cgroup in it: making them, kernel limits, the
//! members, signals, `cgroup.kill`, "populated", OOM kills, memory figures and removal.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::FastSet;

/// The controllers botctl sets limits with, as the kernel names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    Cpu,
    Memory,
    Pids,
}

impl Controller {
    pub const ALL: [Controller; 3] = [Self::Cpu, Self::Memory, Self::Pids];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Pids => "pids",
        }
    }
}

/// The kernel-enforced limits of one bot, from its resolved `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_mb: u64,
    pub pids: u32,
    pub cpu_percent: Option<u32>,
}

/// `cpu.max`'s period: the kernel's default, 100 ms.
const CPU_PERIOD_US: u64 = 100_000;

/// The agent's own subtree, `<base>/botctl-<hash of the home>`: every bot's cgroup is a
/// child of it, and nothing outside it is ever written.
#[derive(Debug)]
pub struct Tree {
    pub dir: PathBuf,
    /// Enabled for the bots' cgroups: the limits that hold.
    pub controllers: Vec<Controller>,
    /// The bots whose cgroup this agent made and never killed through `cgroup.kill`: once
    /// empty again (its process exited and left nothing), their next start uses it as it is.
    clean: Mutex<FastSet<String>>,
}

impl Tree {
    /// Makes (or finds) the subtree `name` under `base` and enables in it the controllers
    /// it was given. Nothing is enabled in `base`: when it is the agent's own delegated
    /// cgroup, systemd must be able to put the next agent in it, which a cgroup passing
    /// controllers down refuses (only processes in leaves, then).
    pub fn open(base: &Path, name: &str) -> io::Result<Tree> {
        let dir = base.join(name);
        make_dir(&dir)?;
        let wanted = available(&dir);
        let controllers = match enable(&dir, &wanted) {
            Ok(()) => wanted,
            Err(_) => enabled(&dir),
        };
        Ok(Tree {
            dir,
            controllers,
            clean: Mutex::default(),
        })
    }

    pub fn bot(&self, name: &str) -> BotCgroup {
        BotCgroup {
            dir: self.dir.join(name),
        }
    }

    /// The bot's cgroup, with `limits` written where the controllers are enabled, ready for
    /// a start: the one its last process left when this agent made it, never killed it and
    /// nothing is left in it; otherwise made anew, anything already in it (what a crashed
    /// bot left) killed first. Returns it with its directory opened, for the child to be born
    /// in (see `Entry`).
    ///
    /// Using the cgroup again spares a restart the cgroup's `rmdir` and `mkdir`, and the
    /// first opening of its files (the kernel makes each file's inode on first use): 0.1 to
    /// 0.3 ms of the agent's CPU a restart on the 2-core VM.
    ///
    /// `seen_empty`: the exit of the bot's last process just found it empty (a restart), so
    /// it is not read again: nothing but a process in it can put another in it.
    pub fn prepare(&self, name: &str, limits: &Limits, seen_empty: bool) -> io::Result<Prepared> {
        let cg = self.bot(name);
        let keeps = if seen_empty {
            self.clean.lock().unwrap().contains(name)
        } else {
            self.keeps(name)
        };
        if keeps && let Ok(dir) = open_dir(&cg.dir) {
            cg.set_limits(limits, &self.controllers)?;
            return Ok(Prepared {
                cgroup: cg,
                dir,
                born_inside: true,
            });
        }
        self.forget(name);
        if cg.populated() {
            cg.kill_all();
            cg.wait_empty(std::time::Duration::from_secs(5));
        }
        // A cgroup that was ever killed through `cgroup.kill` kills every process later
        // cloned into it (from Linux 6.14, 6.18 included, clone3 compares the target's count
        // of kills with the one of the cloning process's cgroup), so the bot gets a new one;
        // one that cannot go (a leftover that does not die) is entered by writing
        // `cgroup.procs`.
        cg.remove();
        let born_inside = !cg.dir.exists();
        make_dir(&cg.dir)?;
        cg.set_limits(limits, &self.controllers)?;
        let dir = open_dir(&cg.dir)?;
        if born_inside {
            self.clean.lock().unwrap().insert(name.to_string());
        }
        Ok(Prepared {
            cgroup: cg,
            dir,
            born_inside,
        })
    }

    /// The bot's cgroup is about to be killed or removed: its next start makes a new one.
    pub fn forget(&self, name: &str) {
        self.clean.lock().unwrap().remove(name);
    }

    /// Whether the bot's next start would use its cgroup as it is: kept after a stop.
    pub fn keeps(&self, name: &str) -> bool {
        self.clean.lock().unwrap().contains(name) && !self.bot(name).populated()
    }

    /// Removes the empty cgroups of bots `keep` does not want (left by removed bots or an
    /// earlier agent); a populated one is left, its processes being somebody's bot.
    pub fn sweep(&self, keep: impl Fn(&str) -> bool) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| !e.file_name().to_str().is_some_and(&keep))
            .filter(|e| std::fs::remove_dir(e.path()).is_ok())
            .count()
    }

    /// The bot's cgroup `pid` is in, when it is one of this tree's (from /proc/PID/cgroup).
    pub fn of_pid(&self, mount: &Path, pid: u32) -> Option<BotCgroup> {
        let text = crate::health::read_pseudo(format!("/proc/{pid}/cgroup"))?;
        let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
        let dir = mount.join(rel.trim_start_matches('/'));
        (dir.parent() == Some(self.dir.as_path())).then_some(BotCgroup { dir })
    }
}

/// What the kernel would let the subtree `dir` enable (its `cgroup.controllers`).
fn available(dir: &Path) -> Vec<Controller> {
    let text = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    listed(&text)
}

fn enabled(dir: &Path) -> Vec<Controller> {
    let text = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    listed(&text)
}

fn listed(text: &str) -> Vec<Controller> {
    let words: Vec<&str> = text.split_whitespace().collect();
    Controller::ALL
        .into_iter()
        .filter(|c| words.contains(&c.as_str()))
        .collect()
}

fn enable(dir: &Path, controllers: &[Controller]) -> io::Result<()> {
    if controllers.is_empty() {
        return Ok(());
    }
    let line: Vec<String> = controllers
        .iter()
        .map(|c| format!("+{}", c.as_str()))
        .collect();
    write_file(&dir.join("cgroup.subtree_control"), &line.join(" "))
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)?;
    Ok(dir.into())
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io::Error::new(
            e.kind(),
            format!("cannot make cgroup {}: {e}", dir.display()),
        )),
        _ => Ok(()),
    }
}

/// A bot's cgroup made ready for its start.
pub struct Prepared {
    pub cgroup: BotCgroup,
    /// Its directory, opened.
    pub dir: OwnedFd,
    /// Whether the child may be born in it (`CLONE_INTO_CGROUP`): made just now. Otherwise
    /// the child writes itself into `cgroup.procs`.
    pub born_inside: bool,
}

/// One write, as the kernel's interface files want (no truncation, no temp file).
fn write_file(path: &Path, text: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

/// One bot's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotCgroup {
    pub dir: PathBuf,
}

impl BotCgroup {
    pub fn procs(&self) -> Vec<u32> {
        crate::health::read_pseudo(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Whether any process is in it, from `cgroup.events` (gone: not populated).
    pub fn populated(&self) -> bool {
        crate::health::read_pseudo(self.dir.join("cgroup.events"))
            .is_some_and(|text| text.lines().any(|l| l.trim() == "populated 1"))
    }

    /// `signal` to every process in it.
    pub fn signal(&self, signal: Signal) {
        for pid in self.procs() {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    /// SIGKILL to every process in it and every one forked meanwhile: `cgroup.kill` (5.14),
    /// else SIGKILL to each member a few rounds over.
    pub fn kill_all(&self) {
        if write_file(&self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for _ in 0..16 {
            let procs = self.procs();
            if procs.is_empty() {
                return;
            }
            for pid in procs {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }

    /// Waits (polling, bounded) until nothing is left in it; false at the deadline.
    pub fn wait_empty(&self, within: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + within;
        loop {
            if !self.populated() {
                return true;
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Removes it when empty; a cgroup still in use (EBUSY) stays.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// `memory.max` with `memory.high` a little below it (the kernel reclaims and slows the
    /// bot there before it kills), `pids.max`, `cpu.max`: each where its controller is on.
    pub fn set_limits(&self, limits: &Limits, on: &[Controller]) -> io::Result<()> {
        if on.contains(&Controller::Memory) {
            let max = limits.memory_mb.saturating_mul(1024 * 1024);
            write_file(&self.dir.join("memory.high"), &(max / 100 * 95).to_string())?;
            write_file(&self.dir.join("memory.max"), &max.to_string())?;
        }
        if on.contains(&Controller::Pids) {
            write_file(&self.dir.join("pids.max"), &limits.pids.to_string())?;
        }
        if on.contains(&Controller::Cpu) {
            let line = match limits.cpu_percent {
                Some(p) => format!("{} {CPU_PERIOD_US}", u64::from(p) * CPU_PERIOD_US / 100),
                None => format!("max {CPU_PERIOD_US}"),
            };
            write_file(&self.dir.join("cpu.max"), &line)?;
        }
        Ok(())
    }

    /// How many times the kernel's OOM killer killed in it (`memory.events` `oom_kill`);
    /// None without the memory controller.
    pub fn oom_kills(&self) -> Option<u64> {
        let text = crate::health::read_pseudo(self.dir.join("memory.events"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory standing in for a cgroup root: the interface files a real one has, so
    /// that every write the agent makes can be read back.
    fn stand_in(controllers: &str) -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix("cg-stand-in")
            .tempdir()
            .unwrap();
        for f in ["cgroup.procs", "cgroup.subtree_control"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::write(dir.path().join("cgroup.controllers"), controllers).unwrap();
        dir
    }

    /// What a real cgroupfs puts in a new directory (a stand-in has to be told).
    fn as_kernel_would(dir: &Path, controllers: &str) {
        for f in [
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.kill",
            "memory.high",
            "memory.max",
            "pids.max",
            "cpu.max",
        ] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        std::fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
        std::fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn limits_are_written_only_where_their_controllers_are_enabled() {
        let root = stand_in("cpuset cpu io memory pids");
        let sub = root.path().join("botctl-x");
        std::fs::create_dir(&sub).unwrap();
        as_kernel_would(&sub, "cpu memory pids");
        let tree = Tree::open(root.path(), "botctl-x").unwrap();
        assert_eq!(tree.controllers, Controller::ALL.to_vec());
        assert_eq!(
            read(sub.join("cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
        assert_eq!(
            read(root.path().join("cgroup.subtree_control")),
            "",
            "not ours"
        );
        let bot = sub.join("echo");
        std::fs::create_dir(&bot).unwrap();
        as_kernel_would(&bot, "cpu memory pids");
        let limits = Limits {
            memory_mb: 512,
            pids: 64,
            cpu_percent: Some(150),
        };
        let prepared = tree.prepare("echo", &limits, false).unwrap();
        assert!(
            !prepared.born_inside,
            "a cgroup that could not be made anew is entered by writing cgroup.procs"
        );
        let cg = prepared.cgroup;
        assert_eq!(read(bot.join("memory.max")), (512u64 << 20).to_string());
        assert_eq!(read(bot.join("memory.high")), "510027355");
        assert_eq!(read(bot.join("pids.max")), "64");
        assert_eq!(read(bot.join("cpu.max")), "150000 100000");
        assert_eq!(
            read(bot.join("cgroup.kill")),
            "",
            "an empty cgroup is not killed"
        );

        // Only pids, as a hybrid host may have: nothing else is written.
        as_kernel_would(&bot, "pids");
        cg.set_limits(&limits, &[Controller::Pids]).unwrap();
        assert_eq!(read(bot.join("memory.max")), "");
        assert_eq!(read(bot.join("cpu.max")), "");
        assert_eq!(read(bot.join("pids.max")), "64");
    }

    #[test]
    fn no_controllers_no_limits_and_a_populated_leftover_is_killed_first() {
        let root = stand_in("");
        let sub = root.path().join("botctl-y");
        std::fs::create_dir(&sub).unwrap();
        as_kernel_would(&sub, "");
        let tree = Tree::open(root.path(), "botctl-y").unwrap();
        assert!(tree.controllers.is_empty());
        assert_eq!(read(sub.join("cgroup.subtree_control")), "");
        let bot = sub.join("echo");
        std::fs::create_dir(&bot).unwrap();
        as_kernel_would(&bot, "");
        std::fs::write(bot.join("cgroup.events"), "populated 1\n").unwrap();
        let limits = Limits {
            memory_mb: 512,
            pids: 512,
            cpu_percent: None,
        };
        // The stand-in never empties: prepare gives up waiting after its deadline.
        let cg = tree.bot("echo");
        cg.kill_all();
        assert_eq!(read(bot.join("cgroup.kill")), "1");
        assert!(!cg.wait_empty(std::time::Duration::from_millis(20)));
        std::fs::write(bot.join("cgroup.events"), "populated 0\n").unwrap();
        tree.prepare("echo", &limits, false).unwrap();
        assert_eq!(read(bot.join("memory.max")), "");
        assert_eq!(read(bot.join("pids.max")), "");
    }

    #[test]
    fn oom_kills_come_from_memory_events() {
        let dir = tempfile::tempdir().unwrap();
        let cg = BotCgroup {
            dir: dir.path().to_path_buf(),
        };
        assert_eq!(cg.oom_kills(), None, "no memory controller");
        // As a kernel with the memory controller writes it after one OOM kill.
        std::fs::write(
            dir.path().join("memory.events"),
            "low 0\nhigh 12\nmax 40\noom 1\noom_kill 1\noom_group_kill 0\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), Some(1));
    }

    #[test]
    fn sweep_removes_the_empty_cgroups_of_bots_gone_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["kept", "gone", "busy"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        // A directory with files in it cannot be removed, like a populated cgroup.
        std::fs::write(dir.path().join("busy/x"), "").unwrap();
        let tree = Tree {
            dir: dir.path().to_path_buf(),
            controllers: Vec::new(),
            clean: Mutex::default(),
        };
        assert_eq!(tree.sweep(|n| n == "kept"), 1);
        assert!(dir.path().join("kept").exists());
        assert!(!dir.path().join("gone").exists());
        assert!(dir.path().join("busy").exists());
    }
}
