//! Health mechanisms: per-process figures from /proc with descriptors kept open, process
//! trees and disk use. The loop that uses them is `loops::sampler`; the probe of `[health]`
//! checks is `checks`; what `top` shows of the last samples is `recent`.

pub mod checks;
pub mod forecast;
pub mod recent;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A process tree deeper than this is not followed (a fork bomb must not cost us).
const MAX_TREE: usize = 4096;

/// Per-process figures read straight from /proc with descriptors kept open between ticks:
/// one pread of `stat` (CPU time and resident pages) and one of `children` per process, where
/// a general-purpose sampler opens, stats and lists several files each time. At 200 bots
/// that is the difference between most of the agent's idle CPU and almost none of it.
#[derive(Default)]
pub struct ProcTable {
    procs: HashMap<u32, Proc>,
    /// The `cgroup.procs` of bots' cgroups, by bot name, kept open the same way.
    cgroups: HashMap<String, std::fs::File>,
    /// One buffer for every read (a tick reads a few files per bot).
    buf: Vec<u8>,
}

struct Proc {
    stat: std::fs::File,
    children: Option<std::fs::File>,
    /// utime + stime in clock ticks, and when it was read.
    last: Option<(u64, Instant)>,
}

fn open_proc(procs: &mut HashMap<u32, Proc>, pid: u32) -> Option<&mut Proc> {
    match procs.entry(pid) {
        std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
        std::collections::hash_map::Entry::Vacant(v) => {
            let stat = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
            let children = std::fs::File::open(format!("/proc/{pid}/task/{pid}/children")).ok();
            Some(v.insert(Proc {
                stat,
                children,
                last: None,
            }))
        }
    }
}

/// The pids in a list such as `children` or `cgroup.procs`.
fn pids(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok())
}

impl ProcTable {
    /// A bot's process and its descendants (children of the main thread, recursively): a
    /// bot's figure is that of its whole tree, found without scanning all of /proc.
    pub fn tree(&mut self, root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() && out.len() < MAX_TREE {
            let pid = out[i];
            if let Some(text) = open_proc(&mut self.procs, pid)
                .and_then(|p| p.children.as_ref())
                .and_then(|f| pread(f, &mut self.buf))
            {
                out.extend(pids(text));
            }
            i += 1;
        }
        out.truncate(MAX_TREE);
        out
    }

    /// CPU % of one core since the last sample (0 the first time) and resident bytes.
    pub fn sample(&mut self, pid: u32) -> Option<(f32, u64)> {
        let page = page_size();
        let hz = clock_ticks();
        let p = open_proc(&mut self.procs, pid)?;
        let text = pread(&p.stat, &mut self.buf)?;
        let fields = stat_fields(text)?;
        let ticks = stat_sum(&fields, 14..=15)?;
        let rss_pages: u64 = fields.get(21)?.parse().ok()?;
        let now = Instant::now();
        let cpu = match p.last {
            Some((before, at)) if now > at => {
                let secs = now.duration_since(at).as_secs_f64();
                (ticks.saturating_sub(before) as f64 / hz / secs * 100.0) as f32
            }
            _ => 0.0,
        };
        p.last = Some((ticks, now));
        Some((cpu, rss_pages * page))
    }

    /// The processes in bot `name`'s cgroup (`dir`, asked only when it is not open yet), from
    /// its `cgroup.procs` kept open; None when it cannot be read (there is no such cgroup).
    pub fn cgroup_procs(&mut self, name: &str, dir: impl FnOnce() -> PathBuf) -> Option<Vec<u32>> {
        if let Some(text) = self.cgroups.get(name).and_then(|f| pread(f, &mut self.buf)) {
            return Some(pids(text).collect());
        }
        // Not open yet, or removed since (a restarted bot gets a new cgroup): the old
        // descriptor reads ENODEV.
        let file = std::fs::File::open(dir().join("cgroup.procs")).ok();
        let found = file
            .as_ref()
            .and_then(|f| pread(f, &mut self.buf))
            .map(|text| pids(text).collect());
        match file {
            Some(f) if found.is_some() => self.cgroups.insert(name.to_string(), f),
            _ => self.cgroups.remove(name),
        };
        found
    }

    /// Closes the descriptors of processes no longer sampled (a reused pid gets fresh ones)
    /// and of the cgroups of bots other than `bots`.
    pub fn forget_except(
        &mut self,
        live: &std::collections::HashSet<u32>,
        bots: &std::collections::HashSet<&str>,
    ) {
        self.procs.retain(|pid, _| live.contains(pid));
        self.cgroups.retain(|name, _| bots.contains(name.as_str()));
    }
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
fn pread<'a>(f: &std::fs::File, buf: &'a mut Vec<u8>) -> Option<&'a str> {
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
    std::str::from_utf8(&buf[..len]).ok()
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
