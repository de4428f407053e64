//! The health sampler: a thread of its own that samples the fleet's process trees and the
//! host every `health_interval`, enforces memory/CPU limits and host thresholds, keeps history.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use botctl_proto::config::{BotLimits, GlobalConfig};
use botctl_proto::{AgentUsage, HostInfo, now_ms};
use sysinfo::System;

use crate::bot::{BotHandle, Command};
use crate::context::Context;
use crate::events::{Event, EventKind};
use crate::fleet::Fleet;
use crate::health::{ProcTable, disk_use};
use crate::loops::forecasts::{BotSample, Forecaster, News};
use crate::store::SampleRow;
use crate::util::{FastMap, FastSet};

/// How long after the agent's start the sampler takes its baseline.
const PRIME_AFTER: Duration = Duration::from_millis(500);
/// History is stored a point a minute: averages of CPU, peaks of memory.
const HISTORY_STEP: Duration = Duration::from_secs(60);
/// Changes of the bots' rows (a restart makes three or four) after which a tick hands the
/// heap's free memory back to the system: see [`Sampler::trim`].
const TRIM_AFTER_CHANGES: u64 = 2_000;

/// One running bot, as the sampler needs it.
struct Target {
    handle: BotHandle,
    pid: u32,
    limits: BotLimits,
}

impl Target {
    fn name(&self) -> &str {
        self.handle.name()
    }
}

/// Samples until the thread ends (it runs forever unless it panics; `boot` restarts it).
/// Sampling reads /proc for every bot, a few milliseconds for a large fleet: on its own
/// thread, requests and crash restarts never wait behind it. The baseline is taken a moment
/// after start so that it does not compete with the first requests of a freshly started agent.
pub fn run(ctx: Arc<Context>, fleet: Arc<Fleet>) -> Result<(), String> {
    let mut sampler = match Sampler::new(ctx.clone(), fleet) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("cannot sample processes: {e}");
            ctx.record(Event::new(EventKind::HealthError, why.clone()));
            return Err(why);
        }
    };
    let first = sampler.fleet.global().agent.health_interval;
    std::thread::sleep(PRIME_AFTER.min(first / 2));
    // CPU % is a difference between two refreshes: prime both systems so the first real
    // tick has a baseline.
    sampler.prime();
    let mut last = Instant::now();
    loop {
        let fleet = &sampler.fleet;
        ctx.reloads
            .block_until_due(last, || fleet.global().agent.health_interval);
        last = Instant::now();
        let global = sampler.fleet.global();
        sampler.tick(&global);
    }
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

struct Sampler {
    ctx: Arc<Context>,
    fleet: Arc<Fleet>,
    procs: ProcTable,
    /// The agent's own process, kept apart from the bots' table that forgets what is not a bot.
    me: ProcTable,
    host: System,
    over: FastMap<String, Over>,
    minute: FastMap<String, Minute>,
    host_minute: Minute,
    minute_started: Instant,
    memory_alarm: bool,
    disk_alarm: bool,
    last_pressure_restart: Option<Instant>,
    forecaster: Forecaster,
    /// `ctx.rows_generation()` at the last trim.
    trimmed_at: u64,
}

impl Sampler {
    fn new(ctx: Arc<Context>, fleet: Arc<Fleet>) -> anyhow::Result<Sampler> {
        Ok(Sampler {
            ctx,
            fleet,
            procs: ProcTable::default(),
            me: ProcTable::default(),
            host: System::new()?,
            over: FastMap::default(),
            minute: FastMap::default(),
            host_minute: Minute::default(),
            minute_started: Instant::now(),
            memory_alarm: false,
            disk_alarm: false,
            last_pressure_restart: None,
            forecaster: Forecaster::default(),
            trimmed_at: 0,
        })
    }

    fn prime(&mut self) {
        self.host.refresh_cpu_usage();
        self.me.sample(std::process::id());
        for t in self.targets() {
            self.sample_bot(&t);
        }
    }

    /// A running bot's CPU % and memory. With a cgroup each, a bot's processes are its
    /// cgroup's (helpers that left the tree included) and its memory is what the kernel
    /// charges it (`memory.current`) where the memory controller is on (not on a hybrid host).
    fn sample_bot(&mut self, t: &Target) -> (f32, u64) {
        let dir = crate::contain::tree().map(|tree| move || tree.bot(t.name()).dir);
        let cgroup = dir.as_ref().map(|d| {
            (
                d as &dyn Fn() -> std::path::PathBuf,
                crate::contain::charges_memory(),
            )
        });
        self.procs.bot(t.name(), t.pid, cgroup)
    }

    /// The running bots.
    fn targets(&self) -> Vec<Target> {
        self.fleet.read(|r| {
            r.bots
                .values()
                .filter_map(|e| {
                    let pid = e.handle.pid()?;
                    Some(Target {
                        handle: e.handle.clone(),
                        pid,
                        limits: e.handle.config.limits(&r.global),
                    })
                })
                .collect()
        })
    }

    fn tick(&mut self, global: &GlobalConfig) {
        let at = Instant::now();
        let now = now_ms();
        let targets = self.targets();
        self.procs
            .begin(crate::contain::tree().map(|t| t.dir.as_path()));
        let mut figures = Vec::with_capacity(targets.len());
        for t in &targets {
            let (cpu, memory) = self.sample_bot(t);
            // Only news wakes the bot's task: a fleet of idle bots shows the same figures tick
            // after tick, and 200 wake-ups (each publishing the bot's state) per tick tripled
            // the cost of a tick at 200 bots.
            let shown = t
                .handle
                .read(|v| v.cpu_percent == Some(cpu) && v.memory_bytes == Some(memory));
            if !shown {
                t.handle.send(Command::Sampled {
                    cpu_percent: cpu,
                    memory_bytes: memory,
                });
            }
            self.enforce(t, cpu, memory);
            let news = self.forecaster.bot(
                at,
                now,
                &BotSample {
                    name: t.name(),
                    owner: t.handle.owner(),
                    pid: t.pid,
                    memory_bytes: memory,
                    limits: &t.limits,
                },
            );
            self.tell(news, &targets);
            self.remember(Some(t.name()), cpu, memory);
            figures.push((t, cpu, memory));
        }
        let usage = self
            .me
            .sample(std::process::id())
            .map(|(cpu_percent, memory_bytes)| AgentUsage {
                cpu_percent,
                memory_bytes,
            });
        self.procs.sweep();
        let recent: Vec<(&str, f32, u64)> =
            figures.iter().map(|(t, c, m)| (t.name(), *c, *m)).collect();
        self.ctx.recent.lock().unwrap().tick(&recent, usage);
        let names: FastSet<&str> = targets.iter().map(|t| t.name()).collect();
        self.over.retain(|name, _| names.contains(name.as_str()));
        let news = self.forecaster.keep_bots(|name| names.contains(name));
        self.tell(news, &targets);

        if let Some(host) = self.sample_host(&self.ctx.paths.home.clone()) {
            self.remember(None, host.cpu_percent, host.memory_used_bytes);
            self.host_thresholds(global, &host, &figures);
            let news = self.forecaster.host(at, now, &host, &global.limits);
            self.tell(news, &targets);
            *self.ctx.host.lock().unwrap() = Some(host);
        }
        let mut published = self.ctx.forecasts.lock().unwrap();
        if *published != *self.forecaster.published() {
            *published = self.forecaster.published().clone();
            // A bot's forecast is on its row of `status`.
            self.ctx.rows_changed();
        }
        drop(published);
        if self.minute_started.elapsed() >= HISTORY_STEP {
            self.flush_history();
        }
        self.trim();
    }

    /// After a burst of restarts, the memory it took and freed again (events on their way
    /// to the store, rows, requests) stays with the agent: glibc returns free memory to the
    /// system only from the top of its heap, and a storm of 2,000 crashes left 7 MiB more
    /// resident. `malloc_trim` also releases the free pages inside the heap. It runs at the
    /// first tick after enough changes, so a fleet at rest never pays for it.
    fn trim(&mut self) {
        let generation = self.ctx.rows_generation();
        if generation.saturating_sub(self.trimmed_at) < TRIM_AFTER_CHANGES {
            return;
        }
        self.trimmed_at = generation;
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only hands free memory of the allocator back to the system.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    fn enforce(&mut self, t: &Target, cpu: f32, memory: u64) {
        let over = crate::util::slot(&mut self.over, t.name());
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
            t.handle.send(Command::Recycle {
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

    fn host_thresholds(
        &mut self,
        global: &GlobalConfig,
        host: &HostInfo,
        bots: &[(&Target, f32, u64)],
    ) {
        let limits = &global.limits;
        let memory = host.memory_percent();
        let over = memory > limits.memory_threshold_percent as f64;
        if over != self.memory_alarm {
            self.memory_alarm = over;
            self.event(
                EventKind::HostMemory,
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
                .filter(|(t, _, _)| t.limits.restart_on_pressure)
                .max_by_key(|(_, _, memory)| *memory);
            if let Some((t, _, bytes)) = heaviest {
                self.last_pressure_restart = Some(Instant::now());
                t.handle.send(Command::Recycle {
                    kind: EventKind::PressureRestart,
                    reason: format!(
                        "host memory {memory:.0}% > {}%; {} is the heaviest bot ({} MiB)",
                        limits.memory_threshold_percent,
                        t.name(),
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
                EventKind::HostDisk,
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

    fn remember(&mut self, bot: Option<&str>, cpu: f32, memory: u64) {
        let m = match bot {
            Some(name) => crate::util::slot(&mut self.minute, name),
            None => &mut self.host_minute,
        };
        m.cpu_sum += cpu as f64;
        m.memory_max = m.memory_max.max(memory);
        m.n += 1;
    }

    fn flush_history(&mut self) {
        let ts_ms = now_ms();
        let host = std::mem::take(&mut self.host_minute);
        let rows = self
            .minute
            .drain()
            .map(|(bot, m)| (Some(bot), m))
            .chain([(None, host)])
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

    /// Carries out what the forecasts of a tick ask.
    fn tell(&self, news: Vec<News>, targets: &[Target]) {
        for n in news {
            match n {
                News::Record(event) => self.ctx.record(event),
                News::Restart { bot, reason } => {
                    if let Some(t) = targets.iter().find(|t| t.name() == bot) {
                        t.handle.send(Command::Recycle {
                            kind: EventKind::ForecastRestart,
                            reason,
                        });
                    }
                }
            }
        }
    }

    /// A host threshold crossed, or back below it.
    fn event(&self, kind: EventKind, message: String) {
        self.ctx.record(Event::new(kind, message));
    }
}
