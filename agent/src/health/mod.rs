//! Health and resources: samples the managed bots (whole process groups) and the host every
//! `health_interval`, enforces memory/CPU limits and host thresholds, keeps minute history.

pub mod checks;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use botctl_proto::config::{BotLimits, GlobalConfig};
use botctl_proto::{HostInfo, now_ms};
use sysinfo::System;
use tokio::sync::mpsc;

use crate::Context;
use crate::fleet::Fleet;
use crate::store::{NewEvent, SampleRow};
use crate::supervisor::bot::{Command, SharedView};
use crate::supervisor::machine::EventKind;

/// How long after the agent's start the sampler takes its baseline.
const PRIME_AFTER: Duration = Duration::from_millis(500);
/// History is stored a point a minute: averages of CPU, peaks of memory.
const HISTORY_STEP: Duration = Duration::from_secs(60);
/// A process tree deeper than this is not followed (a fork bomb must not cost us).
const MAX_TREE: usize = 4096;

/// One running bot, as the sampler needs it.
pub struct Target {
    pub name: String,
    pub owner: String,
    pub pid: u32,
    pub limits: BotLimits,
    pub view: SharedView,
    pub tx: mpsc::UnboundedSender<Command>,
}

#[derive(Default)]
struct Over {
    pid: u32,
    memory: u32,
    cpu: u32,
}

#[derive(Default)]
struct Minute {
    cpu_sum: f64,
    memory_max: u64,
    n: u32,
}

pub struct Sampler {
    ctx: Arc<Context>,
    fleet: Arc<Fleet>,
    procs: ProcTable,
    host: System,
    over: HashMap<String, Over>,
    minute: HashMap<Option<String>, Minute>,
    minute_started: Instant,
    memory_alarm: bool,
    disk_alarm: bool,
    last_pressure_restart: Option<Instant>,
}

impl Sampler {
    pub fn new(ctx: Arc<Context>, fleet: Arc<Fleet>) -> anyhow::Result<Sampler> {
        Ok(Sampler {
            ctx,
            fleet,
            procs: ProcTable::default(),
            host: System::new()?,
            over: HashMap::new(),
            minute: HashMap::new(),
            minute_started: Instant::now(),
            memory_alarm: false,
            disk_alarm: false,
            last_pressure_restart: None,
        })
    }

    /// Runs forever on a thread of its own: one tick per `health_interval` (re-read each
    /// time, so a reload applies).
    ///
    /// Sampling reads /proc for every bot, a few milliseconds for a large fleet: on its own
    /// thread, requests and crash restarts never wait behind it. The baseline is taken a
    /// moment after start so that it does not compete with the first requests of a freshly
    /// started agent.
    pub fn start(mut self) -> std::io::Result<()> {
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                // Events and restarts it asks for may need the runtime.
                let _entered = runtime.enter();
                crate::background_thread();
                let first = self.fleet.global().agent.health_interval;
                std::thread::sleep(PRIME_AFTER.min(first / 2));
                // CPU % is a difference between two refreshes: prime both systems so the
                // first real tick has a baseline.
                self.prime();
                loop {
                    let global = self.fleet.global();
                    std::thread::sleep(global.agent.health_interval);
                    self.tick(&global);
                }
            })
            .map(drop)
    }

    fn prime(&mut self) {
        self.host.refresh_cpu_usage();
        for t in self.fleet.sample_targets() {
            for pid in self.procs.tree(t.pid) {
                self.procs.sample(pid);
            }
        }
    }

    pub fn tick(&mut self, global: &GlobalConfig) {
        let targets = self.fleet.sample_targets();
        let mut trees: Vec<Vec<u32>> = Vec::with_capacity(targets.len());
        for t in &targets {
            trees.push(self.procs.tree(t.pid));
        }
        let live: std::collections::HashSet<u32> = trees.iter().flatten().copied().collect();
        self.procs.forget_except(&live);
        let mut figures = Vec::with_capacity(targets.len());
        for (t, members) in targets.iter().zip(&trees) {
            let (mut cpu, mut memory) = (0f32, 0u64);
            for pid in members {
                if let Some((c, m)) = self.procs.sample(*pid) {
                    cpu += c;
                    memory += m;
                }
            }
            {
                let mut view = t.view.lock().unwrap();
                view.cpu_percent = Some(cpu);
                view.memory_bytes = Some(memory);
            }
            self.enforce(t, cpu, memory);
            self.remember(Some(t.name.clone()), cpu, memory);
            figures.push((t, memory));
        }
        let names: std::collections::HashSet<&str> =
            targets.iter().map(|t| t.name.as_str()).collect();
        self.over.retain(|name, _| names.contains(name.as_str()));

        if let Some(host) = self.sample_host(&self.ctx.paths.home.clone()) {
            self.remember(None, host.cpu_percent, host.memory_used_bytes);
            self.host_thresholds(global, &host, &figures);
            *self.ctx.host.lock().unwrap() = Some(host);
        }
        if self.minute_started.elapsed() >= HISTORY_STEP {
            self.flush_history();
        }
    }

    fn enforce(&mut self, t: &Target, cpu: f32, memory: u64) {
        let over = self.over.entry(t.name.clone()).or_default();
        if over.pid != t.pid {
            *over = Over {
                pid: t.pid,
                ..Over::default()
            };
        }
        let mib = memory / (1024 * 1024);
        over.memory = if mib > t.limits.max_memory_mb {
            over.memory + 1
        } else {
            0
        };
        over.cpu = if cpu > t.limits.max_cpu_percent as f32 {
            over.cpu + 1
        } else {
            0
        };
        let reason = if over.memory >= t.limits.memory_samples {
            Some(format!(
                "memory {mib} MiB > {} MiB for {} samples",
                t.limits.max_memory_mb, over.memory
            ))
        } else if over.cpu >= t.limits.cpu_samples {
            Some(format!(
                "cpu {cpu:.0}% > {}% for {} samples",
                t.limits.max_cpu_percent, over.cpu
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            *over = Over::default();
            let _ = t.tx.send(Command::Recycle {
                kind: EventKind::LimitRestart,
                reason,
            });
        }
    }

    fn sample_host(&mut self, home: &Path) -> Option<HostInfo> {
        self.host.refresh_cpu_usage();
        self.host.refresh_memory();
        let total = self.host.total_memory();
        let used = total.saturating_sub(self.host.available_memory());
        let (disk_used, disk_total) = disk_use(home).unwrap_or((0, 0));
        let load = System::load_average()
            .map(|l| vec![l.one, l.five, l.fifteen])
            .unwrap_or_default();
        Some(HostInfo {
            cpu_percent: self.host.global_cpu_usage(),
            memory_used_bytes: used,
            memory_total_bytes: total,
            disk_path: home.display().to_string(),
            disk_used_bytes: disk_used,
            disk_total_bytes: disk_total,
            load,
            uptime_secs: System::uptime().unwrap_or(0),
            sampled_at_ms: now_ms(),
        })
    }

    fn host_thresholds(&mut self, global: &GlobalConfig, host: &HostInfo, bots: &[(&Target, u64)]) {
        let limits = &global.limits;
        let memory = host.memory_percent();
        let over = memory > limits.memory_threshold_percent as f64;
        if over != self.memory_alarm {
            self.memory_alarm = over;
            self.event(
                "host-memory",
                if over {
                    format!(
                        "host memory {memory:.0}% > {}% (memory_threshold_percent)",
                        limits.memory_threshold_percent
                    )
                } else {
                    format!("host memory back to {memory:.0}%")
                },
            );
        }
        let cooled = self
            .last_pressure_restart
            .is_none_or(|t| t.elapsed() >= limits.pressure_cooldown);
        if over && cooled {
            let heaviest = bots
                .iter()
                .filter(|(t, _)| t.limits.restart_on_pressure)
                .max_by_key(|(_, memory)| *memory);
            if let Some((t, bytes)) = heaviest {
                self.last_pressure_restart = Some(Instant::now());
                let _ = t.tx.send(Command::Recycle {
                    kind: EventKind::PressureRestart,
                    reason: format!(
                        "host memory {memory:.0}% > {}%; {} is the heaviest bot ({} MiB)",
                        limits.memory_threshold_percent,
                        t.name,
                        bytes / (1024 * 1024)
                    ),
                });
            }
        }
        let disk = host.disk_percent();
        let disk_over = disk > limits.max_disk_percent as f64;
        if disk_over != self.disk_alarm {
            self.disk_alarm = disk_over;
            if disk_over {
                self.ctx.cleanup_now.notify_one();
            }
            self.event(
                "host-disk",
                if disk_over {
                    format!(
                        "disk of {} {disk:.0}% full > {}% (max_disk_percent)",
                        host.disk_path, limits.max_disk_percent
                    )
                } else {
                    format!("disk of {} back to {disk:.0}%", host.disk_path)
                },
            );
        }
    }

    fn remember(&mut self, bot: Option<String>, cpu: f32, memory: u64) {
        let m = self.minute.entry(bot).or_default();
        m.cpu_sum += cpu as f64;
        m.memory_max = m.memory_max.max(memory);
        m.n += 1;
    }

    fn flush_history(&mut self) {
        let ts_ms = now_ms();
        let rows = self
            .minute
            .drain()
            .filter(|(_, m)| m.n > 0)
            .map(|(bot, m)| SampleRow {
                bot,
                ts_ms,
                cpu_percent: (m.cpu_sum / m.n as f64) as f32,
                memory_bytes: m.memory_max,
            })
            .collect();
        self.ctx.store.samples(rows);
        self.minute_started = Instant::now();
    }

    fn event(&self, kind: &str, message: String) {
        self.ctx.record(NewEvent {
            bot: None,
            owner: None,
            kind: kind.into(),
            message,
        });
    }
}

/// Per-process figures read straight from /proc with descriptors kept open between ticks:
/// one pread of `stat` (CPU time and resident pages) and one of `children` per process, where
/// a general-purpose sampler opens, stats and lists several files each time. At 200 bots
/// that is the difference between most of the agent's idle CPU and almost none of it.
#[derive(Default)]
pub struct ProcTable {
    procs: HashMap<u32, Proc>,
}

struct Proc {
    stat: std::fs::File,
    children: Option<std::fs::File>,
    /// utime + stime in clock ticks, and when it was read.
    last: Option<(u64, Instant)>,
}

impl ProcTable {
    fn open(&mut self, pid: u32) -> Option<&mut Proc> {
        match self.procs.entry(pid) {
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

    /// A bot's process and its descendants (children of the main thread, recursively): a
    /// bot's figure is that of its whole tree, found without scanning all of /proc.
    pub fn tree(&mut self, root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() && out.len() < MAX_TREE {
            let pid = out[i];
            if let Some(text) = self
                .open(pid)
                .and_then(|p| p.children.as_ref())
                .and_then(pread_string)
            {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
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
        let p = self.open(pid)?;
        let text = pread_string(&p.stat)?;
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the command name, field N of proc_pid_stat(5) is fields[N - 3].
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
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

    /// Closes the descriptors of processes no longer sampled (a reused pid gets fresh ones).
    pub fn forget_except(&mut self, live: &std::collections::HashSet<u32>) {
        self.procs.retain(|pid, _| live.contains(pid));
    }
}

fn pread_string(f: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        let n = f.read_at(&mut buf[len..], len as u64).ok()?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
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
    fn disk_use_of_tmp() {
        let (used, total) = disk_use(Path::new("/tmp")).unwrap();
        assert!(total > 0 && used <= total);
    }
}
