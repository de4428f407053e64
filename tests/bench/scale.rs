//! The cost curve (BOTCTL_BENCH_CURVE=1,200,1000,2000): each figure at each fleet size in one
//! table, crash storms and `restart --all` included, so growth per bot is visible.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Bench, cpu_ns, each_thread, floor, median, ms, rss_kib};

/// Storms per size; the median is reported.
const STORMS: usize = 3;
/// How often the end of a storm or a start of all is looked for, once enough pids were
/// handed out for it ([`GATE`] before that).
const POLL: Duration = Duration::from_millis(10);
/// The shortest wait between two readings of the kernel's last pid until then. A reading costs
/// 17 µs of CPU, but a wake-up 60-250 µs on this VM: read every 2 ms, it took 0.1-0.2 s of CPU
/// from a storm of 2,000, so the waits follow the rate at which pids are handed out.
const GATE: Duration = Duration::from_millis(2);

/// The last pid the kernel handed out in this pid namespace, at a moment.
#[derive(Clone, Copy)]
struct Pids {
    last: u64,
    max: u64,
}

impl Pids {
    fn now() -> Pids {
        Pids {
            last: read_number("/proc/sys/kernel/ns_last_pid"),
            max: read_number("/proc/sys/kernel/pid_max"),
        }
    }

    /// None once `want` pids were handed out since then (at `t0`); else how long to wait
    /// before looking again: half the time the rest should take at the rate so far.
    fn wait_for(self, want: usize, t0: Instant) -> Option<Duration> {
        let done = self.handed_out();
        if done >= want {
            return None;
        }
        if done == 0 {
            return Some(GATE);
        }
        let rest = (want - done) as f64 / done as f64;
        Some(t0.elapsed().mul_f64(rest / 2.0).clamp(GATE, 50 * GATE))
    }

    /// Pids handed out since then (to processes and threads of the whole machine), as an
    /// upper bound: they are handed out in increasing order up to `pid_max`, then again from
    /// 300 and skipping pids in use, so counting across a wrap only overcounts. The fleet's
    /// new processes cannot all be there before this reaches their number.
    fn handed_out(self) -> usize {
        let last = read_number("/proc/sys/kernel/ns_last_pid");
        ((last + self.max - self.last) % self.max) as usize
    }
}

fn read_number(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("reading {path}"))
}

/// What one fleet size measured, in the order of the table's rows.
struct Column {
    n: usize,
    figures: Vec<(&'static str, String)>,
    rss_kib: u64,
    /// Agent CPU of one health tick.
    tick: Duration,
}

/// What one crash storm measured.
struct Storm {
    /// From the first SIGKILL until every bot runs again with a new pid.
    took: Duration,
    /// The agent's CPU meanwhile.
    cpu: Duration,
    /// This harness's CPU meanwhile (its watch and the one `status --json`).
    own: Duration,
    /// The CPU the bots' new processes used by the end: their exec and their start.
    bots_cpu: Duration,
    /// Bots restarted other than exactly once.
    wrong: usize,
}

/// One bot as `status --json` shows it.
#[derive(Clone, PartialEq)]
struct Seen {
    pid: Option<u64>,
    running: bool,
    restarts: u64,
}

impl Bench {
    fn fleet(&self) -> HashMap<String, Seen> {
        self.bots()
            .iter()
            .map(|b| {
                let seen = Seen {
                    pid: b["pid"].as_u64(),
                    running: b["state"] == "running",
                    restarts: b["restarts"].as_u64().unwrap_or(0),
                };
                (b["name"].as_str().unwrap().to_string(), seen)
            })
            .collect()
    }

    /// Polls until every bot runs with a pid other than the one it had in `before`: the
    /// time from `t0`, and the fleet as then seen. The end is watched in three steps, each
    /// dearer and rarer than the one before: the pids handed out since `pids0` (one small
    /// file, read as [`Pids::wait_for`] says) must be as many as the bots; then the agent's
    /// children are counted (every [`POLL`]); then `status --json` confirms. Asking the
    /// agent for the whole fleet every few milliseconds took about a core of the two at
    /// 2,000 bots; counting the agent's children every 10 ms (1.3 ms of CPU each at 2,000)
    /// still took 0.3 s of CPU from a 2.4 s storm it timed.
    fn all_back(
        &self,
        agent: u32,
        before: &HashMap<String, Seen>,
        (t0, pids0): (Instant, Pids),
    ) -> (Duration, HashMap<String, Seen>) {
        let deadline = t0 + Duration::from_secs(120);
        let old: HashSet<u64> = before.values().filter_map(|s| s.pid).collect();
        loop {
            let gate = pids0.wait_for(before.len(), t0);
            let seen = t0.elapsed();
            let kids: HashSet<u64> = match gate {
                None => children(agent).into_iter().collect(),
                Some(_) => HashSet::new(),
            };
            if kids.iter().filter(|p| !old.contains(p)).count() >= before.len() {
                let now = self.fleet();
                let back = before.iter().all(|(name, old)| {
                    now.get(name).is_some_and(|s| {
                        s.running && s.pid.is_some_and(|p| kids.contains(&p)) && s.pid != old.pid
                    })
                });
                if back {
                    return (seen, now);
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for all bots back"
            );
            std::thread::sleep(gate.unwrap_or(POLL));
        }
    }

    /// SIGKILL to every bot at once: what [`Storm`] holds.
    fn storm(&self, agent: u32) -> Storm {
        // Past stable_after (1 s in the bench's botctl.toml): every restart is immediate.
        std::thread::sleep(Duration::from_millis(1100));
        let before = self.fleet();
        let pids: Vec<i32> = before
            .values()
            .filter_map(|s| s.pid)
            .map(|p| p as i32)
            .collect();
        assert_eq!(pids.len(), self.n, "every bot running before the storm");
        let cpu0 = cpu_ns(agent);
        let own0 = own_cpu();
        let pids0 = Pids::now();
        let t0 = Instant::now();
        for pid in pids {
            // SAFETY: a pid the agent reports for one of this benchmark's bots.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let (took, after) = self.all_back(agent, &before, (t0, pids0));
        let cpu = Duration::from_nanos(cpu_ns(agent) - cpu0);
        let own = own_cpu() - own0;
        let new: Vec<u32> = after
            .values()
            .filter_map(|s| s.pid)
            .map(|p| p as u32)
            .collect();
        let bots_cpu = floor::started_cpu(&new);
        // A doubled restart would show as a second new pid or a count up by two; give it
        // the time a restart takes, several times over, to show.
        std::thread::sleep(Duration::from_millis(300));
        let settled = self.fleet();
        let wrong = before
            .iter()
            .filter(|(name, old)| {
                let (a, s) = (&after[*name], &settled[*name]);
                s.restarts != old.restarts + 1 || s.pid != a.pid
            })
            .count();
        Storm {
            took,
            cpu,
            own,
            bots_cpu,
            wrong,
        }
    }

    /// `agent start`, and the agent's answer: the CLI gives a starting agent 5 s to answer,
    /// and an agent answers once it has put every bot on the way, which at 1,000 bots and
    /// more can take longer on a busy machine. Then the command fails though the agent runs:
    /// that is counted (a row of the table) and the agent is waited for.
    fn start_agent(&self, late: &mut usize) {
        let start = Command::new(super::bin())
            .args(["agent", "start"])
            .env("BOTCTL_HOME", &self.home)
            .stdin(Stdio::null())
            .output()
            .expect("running botctl");
        if start.status.success() {
            return;
        }
        *late += 1;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !Command::new(super::bin())
            .args(["status", "--json"])
            .env("BOTCTL_HOME", &self.home)
            .stdin(Stdio::null())
            .output()
            .expect("running botctl")
            .status
            .success()
        {
            assert!(Instant::now() < deadline, "the agent never answered");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every bot runs, watched as [`Bench::all_back`] watches: enough pids handed
    /// out since `pids0`, then enough children of the agent, then `status --json`.
    fn all_running(&self, (t0, pids0): (Instant, Pids)) {
        let deadline = t0 + Duration::from_secs(120);
        let agent = self.agent_pid();
        loop {
            let gate = pids0.wait_for(self.n, t0);
            if gate.is_none() && children(agent).len() >= self.n && self.running() == self.n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for all bots running"
            );
            std::thread::sleep(gate.unwrap_or(POLL));
        }
    }

    /// The medians of `a` and `b`, run in turns: a moment of the agent's background work
    /// (a health tick of 2,000 new processes) falls on both alike, where ten runs of one and
    /// then ten of the other put it on one only.
    fn medians_in_turn(&self, runs: usize, a: &[&str], b: &[&str]) -> (Duration, Duration) {
        self.botctl(a);
        self.botctl(b);
        let (mut va, mut vb) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            va.push(self.timed(a));
            vb.push(self.timed(b));
        }
        va.sort();
        vb.sort();
        (median(&va), median(&vb))
    }

    fn median_of(&self, runs: usize, args: &[&str]) -> Duration {
        self.botctl(args);
        let mut v: Vec<Duration> = (0..runs).map(|_| self.timed(args)).collect();
        v.sort();
        median(&v)
    }

    /// The `top` view's one RPC, over one connection as `top` keeps it.
    fn top_rpc(&self, runs: usize) -> Duration {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let target = botctl_cli::client::Target {
                paths: botctl_proto::Paths::under(&self.home),
                home: Some(self.home.clone()),
                host: None,
            };
            let session = botctl_cli::client::connect_existing(&target)
                .await
                .unwrap()
                .expect("the agent answers");
            let ctx = || botctl_cli::client::ctx(Duration::from_secs(10));
            session.client.top(ctx()).await.unwrap();
            let mut v = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                session.client.top(ctx()).await.unwrap();
                v.push(t.elapsed());
            }
            v.sort();
            median(&v)
        })
    }

    fn column(&self) -> Column {
        let n = self.n;
        let mut figures = Vec::new();
        eprintln!("curve: {n} bots in {}", self.home.display());

        let mut late = 0;
        let (t, pids0) = (Instant::now(), Pids::now());
        self.start_agent(&mut late);
        self.all_running((t, pids0));
        figures.push(("agent start until all bots alive", ms(t.elapsed())));
        // Each start of all is followed, on the fleet at rest, by the floor's start of as
        // many sleeps (ended before the next round), so both see the machine alike.
        let (mut starts, mut floor_starts) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            self.botctl(&["stop", "--all"]);
            let (t, pids0) = (Instant::now(), Pids::now());
            self.botctl(&["start", "--all"]);
            self.all_running((t, pids0));
            starts.push(t.elapsed());
            self.settle();
            floor_starts.push(floor::start(n).0);
        }
        starts.sort();
        floor_starts.sort();
        let (start_all, floor_start) = (median(&starts), median(&floor_starts));
        figures.push(("start --all until all alive (median of 3)", ms(start_all)));
        figures.push((
            "  floor: the bench starts as many `sleep`s itself, two threads (x botctl)",
            format!(
                "{} (x{:.1})",
                ms(floor_start),
                start_all.as_secs_f64() / floor_start.as_secs_f64()
            ),
        ));

        let (version, status) = self.medians_in_turn(10, &["--version"], &["status", "--json"]);
        figures.push((
            "botctl --version (median of 10, in turn with the next row's)",
            ms(version),
        ));
        figures.push((
            "status --json, warm (median of 10; x --version)",
            format!(
                "{} (x{:.1})",
                ms(status),
                status.as_secs_f64() / version.as_secs_f64()
            ),
        ));
        figures.push((
            "bots list (median of 10)",
            ms(self.median_of(10, &["bots", "list"])),
        ));
        figures.push(("top RPC, one refresh (median of 20)", ms(self.top_rpc(20))));

        let agent = self.agent_pid();
        let rss = rss_kib(agent);
        figures.push(("agent RSS", format!("{:.1} MiB", rss as f64 / 1024.0)));
        let idle = Duration::from_secs(30);
        // The agent's CPU over `idle`, in % of a core.
        let cpu_pct = || {
            let c0 = cpu_ns(agent);
            std::thread::sleep(idle);
            (cpu_ns(agent) - c0) as f64 / 1e9 / idle.as_secs_f64() * 100.0
        };
        let idle_pct = cpu_pct();
        figures.push((
            "agent CPU, 30 idle s, default interval (% of a core)",
            format!("{idle_pct:.3} %"),
        ));
        // The window above opens as the last `start --all` settles: the agent is still
        // opening the new cgroups and storing 3N stops and starts. The same fleet at rest,
        // a minute after its last start:
        std::thread::sleep(idle);
        let rest_pct = cpu_pct();
        figures.push((
            "  the same 30 s later (at rest)",
            format!("{rest_pct:.3} %"),
        ));

        // Each storm of the fleet follows one of the floor's sleeps, on the machine as it is
        // then; the floor's sleeps wait, asleep, through the fleet's storms.
        let (_, mut sleeps) = floor::start(n);
        let (mut storms, mut floor_storms, mut floor_own) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..STORMS {
            std::thread::sleep(Duration::from_millis(1100));
            let own0 = floor::rusage(libc::RUSAGE_SELF);
            floor_storms.push(floor::storm(&mut sleeps));
            floor_own.push(floor::rusage(libc::RUSAGE_SELF) - own0);
            storms.push(self.storm(agent));
        }
        floor_storms.sort();
        floor_own.sort();
        let floor_cpu = sleeps.cpu();
        drop(sleeps);
        let sorted = |f: fn(&Storm) -> Duration| {
            let mut v: Vec<Duration> = storms.iter().map(f).collect();
            v.sort();
            v
        };
        let took = sorted(|s| s.took);
        figures.push((
            "crash storm (SIGKILL all): all back with new pids, median of 3 (fastest)",
            format!("{} ({})", ms(median(&took)), ms(took[0])),
        ));
        figures.push((
            "  floor: the bench kills, reaps and restarts as many `sleep`s itself (x botctl)",
            format!(
                "{} (x{:.1})",
                ms(median(&floor_storms)),
                median(&took).as_secs_f64() / median(&floor_storms).as_secs_f64()
            ),
        ));
        figures.push((
            "  agent CPU during the storm (median; the floor's, spawning and reaping)",
            format!(
                "{} ({})",
                ms(median(&sorted(|s| s.cpu))),
                ms(median(&floor_own))
            ),
        ));
        figures.push((
            "  the bots' new processes' own CPU, exec and start (median; floor's)",
            format!(
                "{} ({})",
                ms(median(&sorted(|s| s.bots_cpu))),
                ms(floor_cpu)
            ),
        ));
        figures.push((
            "  this bench's CPU while it watched (median)",
            ms(median(&sorted(|s| s.own))),
        ));
        figures.push((
            "  bots restarted other than exactly once (all storms)",
            storms.iter().map(|s| s.wrong).sum::<usize>().to_string(),
        ));

        std::thread::sleep(Duration::from_millis(1100));
        let before = self.fleet();
        let pids0 = Pids::now();
        let t0 = Instant::now();
        self.botctl(&["restart", "--all"]);
        let wall = t0.elapsed();
        let (back, _) = self.all_back(agent, &before, (t0, pids0));
        figures.push((
            "restart --all: command / all back with new pids",
            format!("{} / {}", ms(wall), ms(back)),
        ));

        // What the bad minutes left resident, once the next health tick (at most the default
        // 15 s later) had a chance to hand freed memory back.
        std::thread::sleep(Duration::from_secs(16));
        figures.push((
            "agent RSS after the storms and restart --all (16 s later)",
            format!("{:.1} MiB", rss_kib(agent) as f64 / 1024.0),
        ));

        // A new agent adopting the running fleet.
        self.settle();
        self.botctl(&["agent", "stop", "--keep-bots"]);
        let t0 = Instant::now();
        self.start_agent(&mut late);
        let ready = t0.elapsed();
        super::wait(|| self.running() == n, "all bots adopted");
        figures.push((
            "new agent adopting all: ready / all shown running",
            format!("{} / {}", ms(ready), ms(t0.elapsed())),
        ));
        figures.push((
            "`agent start` failed though the agent started (of 2)",
            late.to_string(),
        ));
        let after = self.fleet();
        assert!(
            after.values().all(|s| s.pid.is_some()),
            "every bot adopted, none lost"
        );

        let agent = self.agent_pid();
        let config = std::fs::read_to_string(self.home.join("botctl.toml")).unwrap();
        let tick = self.health_tick(agent, config);
        figures.push(("one health tick (agent CPU)", ms(tick)));
        Column {
            n,
            figures,
            rss_kib: rss,
            tick,
        }
    }
}

/// CPU this process and the commands it waited for used so far.
fn own_cpu() -> Duration {
    floor::rusage(libc::RUSAGE_SELF) + floor::rusage(libc::RUSAGE_CHILDREN)
}

/// The pids of a process's children (each of its threads has its own list).
fn children(pid: u32) -> Vec<u64> {
    each_thread(pid, None, "children")
        .iter()
        .flat_map(|s| s.split_ascii_whitespace().filter_map(|p| p.parse().ok()))
        .collect()
}

/// Measures each size in a fresh home (every process ended before the next size starts)
/// and prints one table, a column per size.
pub fn curve(sizes: &[usize]) {
    let mut columns = Vec::new();
    for &n in sizes {
        let bench = Bench::new(n);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bench.column()));
        bench.cleanup();
        match result {
            Ok(c) => columns.push(c),
            Err(e) => std::panic::resume_unwind(e),
        }
    }
    let Some(first) = columns.first() else {
        return;
    };
    let (n0, rss0) = (first.n, first.rss_kib);
    println!("\nbotctl cost curve, release build");
    let header: Vec<String> = columns.iter().map(|c| format!("{} bots", c.n)).collect();
    println!("| measure | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(columns.len()));
    for (i, (measure, _)) in first.figures.iter().enumerate() {
        let cells: Vec<&str> = columns.iter().map(|c| c.figures[i].1.as_str()).collect();
        println!("| {measure} | {} |", cells.join(" | "));
    }
    let per_bot_rss: Vec<String> = columns
        .iter()
        .map(|c| match c.n.checked_sub(n0).filter(|d| *d > 0) {
            Some(d) => format!("{:.1} KiB", (c.rss_kib as f64 - rss0 as f64) / d as f64),
            None => "-".into(),
        })
        .collect();
    println!(
        "| agent RSS per bot above the {n0}-bot agent | {} |",
        per_bot_rss.join(" | ")
    );
    let per_bot_tick: Vec<String> = columns
        .iter()
        .map(|c| format!("{:.2} µs", c.tick.as_secs_f64() * 1e6 / c.n as f64))
        .collect();
    println!("| health tick per bot | {} |", per_bot_tick.join(" | "));
}
