//! Health mechanisms: per-process figures from /proc with descriptors kept open, process
//! trees and disk use. The loop that uses them is `loops::sampler`; the probe of `[health]`
//! checks is `checks`; what `top` shows of the last samples is `recent`.

pub mod checks;
pub mod forecast;
pub mod recent;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::FastMap;

/// A process tree deeper than this is not followed (a fork bomb must not cost us).
const MAX_TREE: usize = 4096;

/// Per-process figures read straight from /proc with descriptors kept open between ticks:
/// one pread of `stat` (CPU time and resident pages) and one of `children` per process, where
/// a general-purpose sampler opens, stats and lists several files each time. At 200 bots
/// that is the difference between most of the agent's idle CPU and almost none of it.
///
/// A bot with a cgroup of its own is read as a cgroup: its processes from `cgroup.procs`, its
/// CPU from `cpu.stat` (every process that ran in it, helpers that already ended included,
/// in microseconds) and its memory from `memory.current` where the memory controller is on,
/// else from each process's `statm`. `stat` formats some fifty fields and walks the
/// process's threads: `cpu.stat` and `statm` together cost less than it alone.
#[derive(Default)]
pub struct ProcTable {
    procs: FastMap<u32, Proc>,
    /// Bots' cgroups, by bot name, kept open the same way.
    cgroups: FastMap<String, Cgroup>,
    /// One buffer for every read (a tick reads a few files per bot).
    buf: Vec<u8>,
    /// Counts `sweep`s: what a tick did not read is closed at its end.
    tick: u64,
    /// The `cpu.stat` of the cgroup that holds every bot's, and its `usage_usec` at the
    /// last tick (see [`ProcTable::begin`]).
    fleet: Option<(PathBuf, File)>,
    fleet_usage: Option<u64>,
    /// No process of any bot's cgroup ran since the last tick.
    quiet: bool,
    /// Cgroups opened so far.
    opened: u64,
}

/// A process's files, each opened when first needed (a bot read as a cgroup needs only
/// `statm`, one read as a tree `stat` and `children`).
#[derive(Default)]
struct Proc {
    stat: Option<File>,
    statm: Option<File>,
    children: Option<File>,
    /// utime + stime in clock ticks, and when it was read.
    last: Option<(u64, Instant)>,
    seen: u64,
}

struct Cgroup {
    procs: File,
    cpu: Option<File>,
    memory: Option<File>,
    /// `usage_usec`, and when it was read.
    last: Option<(u64, Instant)>,
    /// Its processes, and the tick by which they and its memory are read again at the latest.
    members: Vec<u32>,
    due: u64,
    /// Its memory as last read.
    memory_bytes: u64,
    seen: u64,
}

/// The most ticks a cgroup's process list and memory are kept without reading them again
/// (two minutes at the default interval). Cgroups opened together are spread over as many
/// ticks, so that a fleet started at once is not read all in one tick thereafter.
const RELIST: u64 = 8;

/// `usage_usec` of a cgroup's `cpu.stat`.
fn usage_usec(text: &str) -> Option<u64> {
    text.strip_prefix("usage_usec ")?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `slot`'s file, opened (at `path`) the first time; None while it cannot be.
fn opened(slot: &mut Option<File>, path: impl FnOnce() -> String) -> Option<&File> {
    if slot.is_none() {
        *slot = File::open(path()).ok();
    }
    slot.as_ref()
}

/// The pids in a list such as `children` or `cgroup.procs`.
fn pids(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok())
}

/// CPU % of one core from a counter that went from `last` to `units` (`per_sec` a second).
fn percent(last: Option<(u64, Instant)>, units: u64, per_sec: f64, now: Instant) -> f32 {
    match last {
        Some((before, at)) if now > at => {
            let secs = now.duration_since(at).as_secs_f64();
            (units.saturating_sub(before) as f64 / per_sec / secs * 100.0) as f32
        }
        _ => 0.0,
    }
}

impl ProcTable {
    /// Starts a tick. `parent` is the cgroup that holds every bot's cgroup and nothing else:
    /// while its `usage_usec` stays where it was at the last tick, no bot's process ran, so
    /// no bot's CPU, processes or memory grew, and bots read as cgroups keep the figures they
    /// had, without a read of their own (still every [`RELIST`] ticks). A fleet at rest
    /// then costs one read a tick, not one or two a bot: at 2,000 bots those reads were
    /// two thirds of a tick.
    pub fn begin(&mut self, parent: Option<&Path>) {
        let usage = parent.and_then(|dir| {
            if self.fleet.as_ref().is_none_or(|(at, _)| at != dir) {
                let file = File::open(dir.join("cpu.stat")).ok()?;
                self.fleet = Some((dir.to_path_buf(), file));
                self.fleet_usage = None;
            }
            let (_, file) = self.fleet.as_ref()?;
            usage_usec(pread(file, &mut self.buf)?)
        });
        self.quiet = usage.is_some() && usage == self.fleet_usage;
        self.fleet_usage = usage;
    }

    /// One of process `pid`'s files (`file`, opened at `path` the first time), read whole.
    ///
    /// A descriptor kept from an earlier tick that no longer reads is of a process that
    /// ended (descriptors of /proc files hold the process, not its number): the file is
    /// opened anew, for the pid may be another process's now.
    fn read(
        &mut self,
        pid: u32,
        file: fn(&mut Proc) -> &mut Option<File>,
        path: impl Fn() -> String,
    ) -> Option<(&mut Proc, &str)> {
        let p = self.procs.entry(pid).or_default();
        p.seen = self.tick;
        let slot = file(p);
        let kept = slot.is_some();
        let mut len = fill(opened(slot, &path)?, &mut self.buf);
        if len.is_none() && kept {
            *slot = None;
            len = fill(opened(slot, &path)?, &mut self.buf);
        }
        let text = std::str::from_utf8(&self.buf[..len?]).ok()?;
        Some((p, text))
    }

    /// A bot's process and its descendants (children of the main thread, recursively): a
    /// bot's figure is that of its whole tree, found without scanning all of /proc.
    pub fn tree(&mut self, root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() && out.len() < MAX_TREE {
            let pid = out[i];
            if let Some((_, text)) = self.read(
                pid,
                |p| &mut p.children,
                || format!("/proc/{pid}/task/{pid}/children"),
            ) {
                out.extend(pids(text));
            }
            i += 1;
        }
        out.truncate(MAX_TREE);
        out
    }

    /// CPU % of one core since the last sample (0 the first time) and resident bytes.
    pub fn sample(&mut self, pid: u32) -> Option<(f32, u64)> {
        let (p, text) = self.read(pid, |p| &mut p.stat, || format!("/proc/{pid}/stat"))?;
        let fields = stat_fields(text)?;
        let ticks = stat_sum(&fields, 14..=15)?;
        let rss_pages: u64 = fields.get(21)?.parse().ok()?;
        let now = Instant::now();
        let cpu = percent(p.last, ticks, clock_ticks(), now);
        p.last = Some((ticks, now));
        Some((cpu, rss_pages * page_size()))
    }

    /// Resident bytes of one process (`statm`).
    fn resident(&mut self, pid: u32) -> Option<u64> {
        let (_, text) = self.read(pid, |p| &mut p.statm, || format!("/proc/{pid}/statm"))?;
        let pages: u64 = text.split_ascii_whitespace().nth(1)?.parse().ok()?;
        Some(pages * page_size())
    }

    /// CPU % of one core and memory of a bot: of its cgroup when it has one that holds a
    /// process (`dir` and `charged`, whether it has the memory controller, are asked only
    /// when it is not open yet), else of the tree of processes under `root`.
    pub fn bot(
        &mut self,
        name: &str,
        root: u32,
        cgroup: Option<(&dyn Fn() -> PathBuf, bool)>,
    ) -> (f32, u64) {
        if let Some((dir, charged)) = cgroup
            && let Some(figures) = self.cgroup(name, dir, charged)
        {
            return figures;
        }
        let tree = self.tree(root);
        self.sample_all(&tree)
    }

    /// The sum of `pids`' samples (`stat` each).
    fn sample_all(&mut self, pids: &[u32]) -> (f32, u64) {
        let (mut cpu, mut memory) = (0f32, 0u64);
        for pid in pids {
            if let Some((c, m)) = self.sample(*pid) {
                cpu += c;
                memory += m;
            }
        }
        (cpu, memory)
    }

    /// A bot's figures from its cgroup; None when there is no such cgroup or it holds no
    /// process (a bot without one, or one whose cgroup cannot be read as such).
    ///
    /// Its CPU is read first (not at all in a quiet tick: see [`ProcTable::begin`]); its
    /// processes are listed and its memory read again only when it used CPU since they last
    /// were (no process forks, exits or faults pages in without running), and every
    /// [`RELIST`] ticks in any case (a process moved in or out from outside, pages
    /// reclaimed). An idle bot thus costs one read a tick; `cgroup.procs`, under the
    /// kernel's `css_set_lock`, was a quarter of a tick, each process's `statm` a fifth.
    fn cgroup(
        &mut self,
        name: &str,
        dir: &dyn Fn() -> PathBuf,
        charged: bool,
    ) -> Option<(f32, u64)> {
        let tick = self.tick;
        let buf = &mut self.buf;
        // Not open yet, or removed since (a restarted bot gets a new cgroup: the old
        // descriptors read ENODEV): opened anew. Without `cpu.stat`, `cgroup.procs` tells.
        let mut usage = None;
        let reopen = match self.cgroups.get(name) {
            Some(c @ Cgroup { cpu: Some(cpu), .. }) => {
                usage = match c.last {
                    Some((before, _)) if self.quiet => Some(before),
                    _ => pread(cpu, buf).and_then(usage_usec),
                };
                usage.is_none()
            }
            Some(_) => false,
            None => true,
        };
        if reopen {
            let dir = dir();
            let Ok(procs) = File::open(dir.join("cgroup.procs")) else {
                self.cgroups.remove(name);
                return None;
            };
            let cpu = File::open(dir.join("cpu.stat")).ok();
            usage = cpu.as_ref().and_then(|f| usage_usec(pread(f, buf)?));
            let cgroup = Cgroup {
                procs,
                cpu,
                memory: charged
                    .then(|| File::open(dir.join("memory.current")).ok())
                    .flatten(),
                last: None,
                members: Vec::new(),
                due: tick,
                memory_bytes: 0,
                seen: tick,
            };
            self.cgroups.insert(name.to_string(), cgroup);
        }
        let c = self.cgroups.get_mut(name)?;
        c.seen = tick;
        let ran = usage.is_none() || c.last.map(|(u, _)| u) != usage;
        let fresh = ran || tick >= c.due;
        if fresh {
            let Some(text) = pread(&c.procs, buf) else {
                self.cgroups.remove(name);
                return None;
            };
            c.members.clear();
            c.members.extend(pids(text));
            c.due = tick + RELIST;
            if reopen {
                // The first cgroup opened waits RELIST ticks, the next one tick less...
                c.due -= self.opened % RELIST;
                self.opened += 1;
            }
        }
        if c.members.is_empty() {
            return None;
        }
        let memory =
            |c: &Cgroup, buf: &mut Vec<u8>| c.memory.as_ref().and_then(|f| read_number(f, buf));
        let Some(usage) = usage else {
            // No `cpu.stat`: each process's `stat`, as for a tree.
            let memory = memory(c, buf);
            let members = std::mem::take(&mut c.members);
            let (cpu, resident) = self.sample_all(&members);
            self.cgroups.get_mut(name)?.members = members;
            return Some((cpu, memory.unwrap_or(resident)));
        };
        let now = Instant::now();
        let cpu = percent(c.last, usage, 1e6, now);
        c.last = Some((usage, now));
        if !fresh {
            return Some((cpu, c.memory_bytes));
        }
        let members = std::mem::take(&mut c.members);
        let memory = match memory(c, buf) {
            Some(m) => m,
            None => members.iter().filter_map(|p| self.resident(*p)).sum(),
        };
        let c = self.cgroups.get_mut(name)?;
        c.members = members;
        c.memory_bytes = memory;
        Some((cpu, memory))
    }

    /// Ends a tick: closes the descriptors of cgroups it did not read, and of processes not
    /// read for [`RELIST`] ticks (those of an idle cgroup are read every [`RELIST`] ticks).
    pub fn sweep(&mut self) {
        let tick = self.tick;
        self.procs.retain(|_, p| tick - p.seen < RELIST);
        self.cgroups.retain(|_, c| c.seen == tick);
        self.tick += 1;
    }
}

/// A file that holds one number, such as `memory.current`.
fn read_number(f: &File, buf: &mut Vec<u8>) -> Option<u64> {
    pread(f, buf)?.trim().parse().ok()
}

/// The fields of /proc/PID/stat after the command name (which may hold spaces and parens):
/// field N of proc_pid_stat(5) is `fields[N - 3]`.
fn stat_fields(text: &str) -> Option<Vec<&str>> {
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

/// The sum of stat fields `numbers` (as proc_pid_stat(5) numbers them).
fn stat_sum(fields: &[&str], numbers: std::ops::RangeInclusive<usize>) -> Option<u64> {
    numbers
        .map(|n| fields.get(n - 3)?.parse::<u64>().ok())
        .sum()
}

/// CPU seconds a process used, with those of its children it waited for (utime, stime,
/// cutime, cstime): a bot's main process and the helpers it ran and reaped.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = stat_sum(&stat_fields(&text)?, 14..=17)?;
    Some(ticks as f64 / clock_ticks())
}

/// The whole of a /proc or cgroup file kept open, read into `buf`. These files are
/// seq_files: a read returns all that is left unless the kernel's own page-sized buffer
/// filled first, so a read well short of a page is the whole file and needs no second read
/// to see the end (that second read was a third of a tick's system calls).
fn pread<'a>(f: &File, buf: &'a mut Vec<u8>) -> Option<&'a str> {
    let len = fill(f, buf)?;
    std::str::from_utf8(&buf[..len]).ok()
}

/// A small file of /proc or a cgroup read whole: an open and, as a rule, a single read.
/// `std::fs::read_to_string` also asks such a file its size, which it does not know, and
/// then reads from 32 bytes up, doubling: six reads and a `statx` for a `/proc/PID/stat`,
/// which each restart of a bot reads.
pub fn read_pseudo(path: impl AsRef<Path>) -> Option<String> {
    let file = File::open(path).ok()?;
    let mut buf = Vec::new();
    pread(&file, &mut buf).map(str::to_owned)
}

/// [`pread`]'s read: how many bytes of `buf` it filled.
fn fill(f: &File, buf: &mut Vec<u8>) -> Option<usize> {
    use std::os::unix::fs::FileExt;
    const WHOLE_BELOW: usize = 2048;
    buf.resize(buf.len().max(4096), 0);
    let mut len = 0;
    loop {
        let n = f.read_at(&mut buf[len..], len as u64).ok()?;
        len += n;
        if n == 0 || (len == n && n < WHOLE_BELOW) {
            break;
        }
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    Some(len)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as u64
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

/// A bot's process tree, read once (for callers without a table).
pub fn tree(root: u32) -> Vec<u32> {
    ProcTable::default().tree(root)
}

/// Used and total bytes of the filesystem holding `path` (as `df` counts them).
pub fn disk_use(path: &Path) -> Option<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frsize = st.fragment_size() as u64;
    let total = st.blocks() as u64 * frsize;
    let free = st.blocks_free() as u64 * frsize;
    let avail = st.blocks_available() as u64 * frsize;
    let used = total.saturating_sub(free);
    // df's "use%" is used / (used + available): blocks reserved for root do not count as room.
    Some((used, used + avail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tree_finds_grandchildren() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = tree(pid);
        while found.len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            found = tree(pid);
        }
        for p in &found[1..] {
            unsafe { libc::kill(*p as i32, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 3, "{found:?}");
    }

    /// A bot read as a cgroup (a stand-in directory with the files a cgroup has): its
    /// processes are those `cgroup.procs` lists, its CPU comes from `cpu.stat`, its memory from
    /// `memory.current` when charged, else from each process's `statm`; an empty cgroup is read
    /// as the tree under the bot's pid.
    #[test]
    fn a_cgroup_is_read_from_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let (me, pid) = (std::process::id(), child.id());
        let write = |file: &str, text: String| std::fs::write(dir.path().join(file), text).unwrap();
        write("cgroup.procs", format!("{pid}\n{me}\n"));
        write(
            "cpu.stat",
            "usage_usec 1000\nuser_usec 1000\nsystem_usec 0\n".into(),
        );
        write("memory.current", "12345\n".into());
        let path = dir.path().to_path_buf();
        let at = move || path.clone();
        let mut table = ProcTable::default();
        let resident = |pid: u32| {
            let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
            statm.split(' ').nth(1).unwrap().parse::<u64>().unwrap() * page_size()
        };
        let (cpu, memory) = table.bot("a", pid, Some((&at, false)));
        assert_eq!(cpu, 0.0, "no baseline yet");
        // The test process's own resident size moves a little between two reads.
        let both = resident(pid) + resident(me);
        assert!(memory.abs_diff(both) < both / 10, "{memory} against {both}");
        assert!(memory > resident(pid), "both processes count");
        table.sweep();
        std::thread::sleep(Duration::from_millis(100));
        write(
            "cpu.stat",
            "usage_usec 501000\nuser_usec 1000\nsystem_usec 0\n".into(),
        );
        let (cpu, _) = table.bot("a", pid, Some((&at, false)));
        assert!(
            cpu > 100.0 && cpu <= 500.0,
            "0.5 s of CPU in 0.1 s or more: {cpu}"
        );
        table.sweep();
        assert_eq!(table.bot("b", pid, Some((&at, true))).1, 12345, "charged");
        table.sweep();
        let tick = |table: &mut ProcTable| {
            let (_, memory) = table.bot("a", pid, Some((&at, false)));
            table.sweep();
            memory
        };
        let (alone, both) = (resident(pid), resident(pid) + resident(me));
        let near = |memory: u64, want: u64| memory.abs_diff(want) < want / 10;
        assert!(near(tick(&mut table), both), "opened anew: both listed");
        // A cgroup that used no CPU since is not listed again...
        write("cgroup.procs", format!("{pid}\n"));
        assert!(near(tick(&mut table), both), "idle: the list is kept");
        // ...until it runs...
        let usage = |usec: u64| write("cpu.stat", format!("usage_usec {usec}\n"));
        usage(502_000);
        assert!(near(tick(&mut table), alone), "it ran: listed again");
        // ...or RELIST ticks go by.
        write("cgroup.procs", format!("{pid}\n{me}\n"));
        for _ in 1..RELIST {
            assert!(near(tick(&mut table), alone), "within RELIST ticks");
        }
        assert!(
            near(tick(&mut table), both),
            "RELIST ticks later: listed again"
        );
        write("cgroup.procs", String::new());
        usage(503_000);
        let memory = tick(&mut table);
        // `stat` (read for a tree) sums the per-CPU counters roughly, `statm` exactly.
        assert!(
            memory.abs_diff(alone) < alone / 5,
            "an empty cgroup: the tree under the pid, {memory} against {alone}"
        );
        let _ = child.kill();
        let _ = child.wait();
    }

    /// An idle bot's memory is read again only when it ran, or every RELIST ticks; while the
    /// cgroup holding every bot's used no CPU since the last tick, no bot's files are read
    /// (stand-in directories: what they say is what a read would have seen).
    #[test]
    fn idle_cgroups_are_not_read_again() {
        let (parent, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let write =
            |at: &Path, file: &str, text: String| std::fs::write(at.join(file), text).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        write(dir.path(), "cgroup.procs", format!("{}\n", child.id()));
        let usage = |at: &Path, usec: u64| write(at, "cpu.stat", format!("usage_usec {usec}\n"));
        let memory = |bytes: u64| write(dir.path(), "memory.current", format!("{bytes}\n"));
        let (fleet, bot) = (parent.path(), dir.path());
        usage(fleet, 1000);
        usage(bot, 1000);
        memory(111);
        let path = bot.to_path_buf();
        let at = move || path.clone();
        let mut table = ProcTable::default();
        let tick = |table: &mut ProcTable| {
            table.begin(Some(fleet));
            let figures = table.bot("a", child.id(), Some((&at, true)));
            table.sweep();
            figures
        };
        assert_eq!(tick(&mut table), (0.0, 111), "first read");
        // The fleet's CPU moved, the bot's did not: its memory is not read again...
        usage(fleet, 2000);
        memory(222);
        assert_eq!(tick(&mut table).1, 111, "idle: memory kept");
        // ...until it runs.
        usage(fleet, 3000);
        usage(bot, 2000);
        assert_eq!(tick(&mut table).1, 222, "it ran: memory read");
        // The fleet's CPU did not move: the bot's own files are not read at all.
        usage(bot, 502_000);
        memory(333);
        for _ in 1..RELIST {
            assert_eq!(tick(&mut table), (0.0, 222), "a quiet tick reads nothing");
        }
        // Every RELIST ticks its processes and memory are read anyway; not its CPU, in a
        // tick where the fleet's did not move (the stand-in's 502 ms cannot happen).
        assert_eq!(
            tick(&mut table),
            (0.0, 333),
            "RELIST ticks later: memory read, CPU known"
        );
        // Without a parent (no cgroup tree) every tick reads.
        usage(bot, 1_002_000);
        table.begin(None);
        assert!(table.bot("a", child.id(), Some((&at, true))).0 > 0.0);
        // Cgroups opened in one tick are read again in different ones.
        let mut table = ProcTable::default();
        let ticks = |table: &mut ProcTable| {
            table.begin(Some(fleet));
            let memory = ["a", "b"].map(|n| table.bot(n, child.id(), Some((&at, true))).1);
            table.sweep();
            memory
        };
        assert_eq!(ticks(&mut table), [333, 333]);
        memory(444);
        let seen: Vec<[u64; 2]> = (1..=RELIST).map(|_| ticks(&mut table)).collect();
        let last = RELIST as usize - 1;
        assert_eq!(seen[last - 1], [333, 444], "the second one a tick earlier");
        assert_eq!(seen[last], [444, 444], "the first one RELIST ticks after");
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn cpu_seconds_of_a_busy_process_grow() {
        let me = std::process::id();
        let before = cpu_seconds(me).unwrap();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_seconds(me).unwrap() > before);
        assert!(stat_fields("1 (a) b) R 1 2").unwrap()[0] == "R");
    }

    #[test]
    fn disk_use_of_tmp() {
        let (used, total) = disk_use(Path::new("/tmp")).unwrap();
        assert!(total > 0 && used <= total);
    }
}
