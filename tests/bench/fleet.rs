//! The fleet benchmark: a temp home with N sleeper bots (default 200, BOTCTL_BENCH_BOTS to
//! change) driven through the release binary; prints one table of figures against targets.
//! Run with `cargo bench --bench fleet` (BOTCTL_BENCH_ONLY=api: the HTTP API rows alone). It
//! cleans up every process it started.
//!
//! It is also its own marker bot: `fleet --marker FILE` appends the CLOCK_MONOTONIC time at
//! which it started to FILE and sleeps, so crash-to-new-process is measured on one clock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod floor;
mod scale;

const BIN: &str = env!("CARGO_BIN_EXE_botctl");

/// The binary measured: this build's, or another build's given in BOTCTL_BENCH_BIN, so that
/// two builds (before and after a change) are compared by the same measurements.
fn bin() -> String {
    std::env::var("BOTCTL_BENCH_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// Room for the fleet, the marker bot and the template bots beyond the default limits.
const LIMITS: &str = "[limits]\nmax_total_bots = 10000\nmax_bots_per_user = 10000\n";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--marker") {
        marker(Path::new(&args[i + 1]));
    }
    if let Ok(curve) = std::env::var("BOTCTL_BENCH_CURVE") {
        let sizes: Vec<usize> = curve
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("BOTCTL_BENCH_CURVE: sizes such as 1,200,1000,2000")
            })
            .collect();
        scale::curve(&sizes);
        return;
    }
    let n: usize = std::env::var("BOTCTL_BENCH_BOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let bench = Bench::new(n);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bench.run()));
    bench.cleanup();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn marker(file: &Path) -> ! {
    let now = monotonic_ns();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(f, "{now}");
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

struct Bench {
    n: usize,
    /// The HTTP listener's port on 127.0.0.1.
    port: u16,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

struct Row {
    measure: &'static str,
    value: String,
    target: &'static str,
    ok: Option<bool>,
}

impl Bench {
    fn new(n: usize) -> Bench {
        let dir = tempfile::Builder::new()
            .prefix("bb")
            .tempdir_in("/tmp")
            .unwrap();
        let home = dir.path().to_path_buf();
        std::fs::create_dir_all(home.join("bots.d")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            home.join("botctl.toml"),
            format!(
                "{LIMITS}[restart]\nstable_after = \"1s\"\nmax_restarts = 10000\n\
                 [remote.http]\nlisten = \"127.0.0.1:{port}\"\nrate_per_minute = 100000\n\
                 token_rate_per_minute = 100000\n"
            ),
        )
        .unwrap();
        for i in 0..n {
            std::fs::write(
                home.join(format!("bots.d/s{i:03}.toml")),
                format!(
                    "user = \"u{}\"\ncommand = [\"sleep\", \"100000\"]\n",
                    i % 10
                ),
            )
            .unwrap();
        }
        Bench {
            n,
            port,
            home,
            _dir: dir,
        }
    }

    fn botctl(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new(bin())
            .args(args)
            .env("BOTCTL_HOME", &self.home)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("running botctl");
        if !out.status.success() {
            panic!(
                "botctl {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out
    }

    fn timed(&self, args: &[&str]) -> Duration {
        let t = Instant::now();
        self.botctl(args);
        t.elapsed()
    }

    fn agent_pid(&self) -> u32 {
        std::fs::read_to_string(self.home.join("run/agent.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits until every bot process is asleep (state S in /proc), as a sleeper bot is once
    /// it has started.
    fn settle(&self) {
        let out = self.botctl(&["status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let pids: Vec<u64> = v["bots"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["pid"].as_u64())
            .collect();
        wait(
            || {
                pids.iter().all(|pid| {
                    let stat =
                        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.starts_with('S'))
                })
            },
            "the fleet settled",
        );
    }

    /// The bots of `status --json`.
    fn bots(&self) -> Vec<serde_json::Value> {
        let out = self.botctl(&["status", "--json"]);
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        match v["bots"].take() {
            serde_json::Value::Array(bots) => bots,
            other => panic!("no bots array in status --json: {other}"),
        }
    }

    fn running(&self) -> usize {
        self.bots()
            .iter()
            .filter(|b| b["state"] == "running")
            .count()
    }

    fn run(&self) {
        let n = self.n;
        let mut rows = Vec::new();
        eprintln!(
            "fleet benchmark: {n} bots in {}, binary {}",
            self.home.display(),
            bin()
        );

        // Start: the agent starts the whole fleet, then stops and timed starts of all (the
        // median of 5: one start is a quarter of a second on a machine that is not ours).
        self.botctl(&["agent", "start"]);
        wait(|| self.running() == n, "all bots running");
        if std::env::var("BOTCTL_BENCH_ONLY").as_deref() == Ok("api") {
            self.settle();
            self.api_rows(&mut rows);
            print_table(n, &rows);
            return;
        }
        let mut starts: Vec<Duration> = (0..5)
            .map(|_| {
                self.botctl(&["stop", "--all"]);
                let t = Instant::now();
                self.botctl(&["start", "--all"]);
                wait(|| self.running() == n, "all bots running again");
                t.elapsed()
            })
            .collect();
        starts.sort();
        let start_all = median(&starts);
        rows.push(Row {
            measure: "start all bots until all alive (median of 5)",
            value: format!("{} (fastest {})", ms(start_all), ms(starts[0])),
            target: "<= 250 ms",
            ok: Some(start_all <= Duration::from_millis(250)),
        });

        // status with the agent warm, once the fleet has settled: just started, 200 bots
        // spend a while loading their programs, which would be measured instead.
        self.settle();
        for _ in 0..5 {
            self.botctl(&["status"]);
        }
        let mut warm: Vec<Duration> = (0..30).map(|_| self.timed(&["status"])).collect();
        warm.sort();
        let (med, p90) = (median(&warm), pct(&warm, 90));
        rows.push(Row {
            measure: "status, agent warm (median / p90 of 30)",
            value: format!("{} / {}", ms(med), ms(p90)),
            target: "<= 5 ms median",
            ok: Some(med <= Duration::from_millis(5)),
        });
        // The floor under any command on this machine: starting the binary at all.
        let mut floor: Vec<Duration> = (0..30).map(|_| self.timed(&["--version"])).collect();
        floor.sort();
        rows.push(Row {
            measure: "botctl --version, for reference (median of 30)",
            value: ms(median(&floor)),
            target: "-",
            ok: None,
        });
        let mut warm_json: Vec<Duration> =
            (0..30).map(|_| self.timed(&["status", "--json"])).collect();
        warm_json.sort();
        rows.push(Row {
            measure: "status --json, agent warm (median)",
            value: ms(median(&warm_json)),
            target: "-",
            ok: None,
        });

        // status with agent auto-start (bots keep running and are adopted).
        let mut cold = Vec::new();
        for _ in 0..20 {
            self.botctl(&["agent", "stop", "--keep-bots"]);
            cold.push(self.timed(&["status"]));
        }
        cold.sort();
        let cmed = median(&cold);
        rows.push(Row {
            measure: "status with agent auto-start (median of 20)",
            value: ms(cmed),
            target: "<= 20 ms",
            ok: Some(cmed <= Duration::from_millis(20)),
        });
        assert_eq!(self.running(), n, "every bot adopted, none restarted");

        // Crash to new process, after a stable run.
        let marker_file = self.home.join("markers");
        let me = std::env::current_exe().unwrap();
        std::fs::write(
            self.home.join("bots.d/crashy.toml"),
            format!(
                "user = \"bench\"\ncommand = [{:?}, \"--marker\", {:?}]\n",
                me.display().to_string(),
                marker_file.display().to_string()
            ),
        )
        .unwrap();
        self.botctl(&["reload"]);
        let events = ProcEvents::open();
        let agent = self.agent_pid();
        let (mut forked, mut execd) = (Vec::new(), Vec::new());
        let mut crash = Vec::new();
        for _ in 0..20 {
            wait(
                || lines(&marker_file) > crash.len(),
                "the marker bot started",
            );
            // Past stable_after, so the restart is immediate rather than backed off.
            std::thread::sleep(Duration::from_millis(1100));
            let pid = self.bot_pid("crashy");
            let before = lines(&marker_file);
            if let Some(events) = &events {
                events.drain();
            }
            let t0 = monotonic_ns();
            // SAFETY: a pid the agent reports for the bot we created.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            wait(|| lines(&marker_file) > before, "the marker bot restarted");
            if let Some((fork, exec)) = events.as_ref().and_then(|e| e.restart_of(agent)) {
                forked.push(Duration::from_nanos(fork.saturating_sub(t0) as u64));
                execd.push(Duration::from_nanos(exec.saturating_sub(t0) as u64));
            }
            let t1: u128 = std::fs::read_to_string(&marker_file)
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .parse()
                .unwrap();
            crash.push(Duration::from_nanos((t1.saturating_sub(t0)) as u64));
        }
        crash.sort();
        let (cm, cp) = (median(&crash), pct(&crash, 90));
        rows.push(Row {
            measure: "crash to new process running its main, after a stable run (median / p90 of 20)",
            value: format!("{} / {}", ms(cm), ms(cp)),
            target: "<= 3 ms median",
            ok: Some(cm <= Duration::from_millis(3)),
        });
        // Where the time goes, from the kernel's own clock: the agent has done its part once
        // the new process exists and its program is loaded; the rest is the bot's own start
        // (here a Rust program's dynamic loading and runtime set-up).
        for (measure, mut v) in [
            ("  of which: crash to new pid (median / p90)", forked),
            (
                "  of which: crash to new program loaded, exec done (median / p90)",
                execd,
            ),
        ] {
            v.sort();
            rows.push(Row {
                measure,
                value: if v.is_empty() {
                    "n/a (the kernel's process events need CAP_NET_ADMIN)".into()
                } else {
                    format!("{} / {}", ms(median(&v)), ms(pct(&v, 90)))
                },
                target: "-",
                ok: None,
            });
        }

        // Agent memory and idle CPU at the default health interval.
        let rss = rss_kib(agent);
        rows.push(Row {
            measure: "agent RSS",
            value: format!("{:.1} MiB", rss as f64 / 1024.0),
            target: "<= 15 MiB",
            ok: Some(rss <= 15 * 1024),
        });
        let idle_secs = 30.0;
        let before = cpu_ns(agent);
        std::thread::sleep(Duration::from_secs_f64(idle_secs));
        let idle_pct = (cpu_ns(agent) - before) as f64 / 1e9 / idle_secs * 100.0;
        rows.push(Row {
            measure: "agent CPU over 30 idle s (% of one core)",
            value: format!("{idle_pct:.3} %"),
            target: "<= 0.05 %",
            ok: Some(idle_pct <= 0.05),
        });

        let tick = self.health_tick(
            agent,
            format!("{LIMITS}[restart]\nstable_after = \"1s\"\nmax_restarts = 10000\n"),
        );
        rows.push(Row {
            measure: "one health tick (all bots + host)",
            value: ms(tick),
            target: "-",
            ok: None,
        });

        // Storage: 50 bots from a 20 MB template.
        let tdir = self.home.join("templates/big");
        std::fs::create_dir_all(tdir.join("lib")).unwrap();
        let blob: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        std::fs::write(tdir.join("lib/blob.bin"), blob).unwrap();
        std::fs::write(tdir.join("config.json"), "{}").unwrap();
        std::fs::write(
            tdir.join("template.toml"),
            "command = [\"sleep\", \"100000\"]\ncopy = [\"config.json\"]\ndirs = [\"data\", \"tmp\"]\n",
        )
        .unwrap();
        std::fs::write(self.home.join("botctl.toml"), LIMITS).unwrap();
        self.botctl(&["reload"]);
        for i in 0..50 {
            self.botctl(&[
                "bots",
                "create",
                &format!("t{i:02}"),
                "--user",
                "tpl",
                "--template",
                "big",
                "--no-start",
            ]);
        }
        let out = self.botctl(&["storage", "--user", "tpl", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let used = v["owners"][0]["bytes_used"].as_u64().unwrap_or(0);
        let template = v["templates_bytes"].as_u64().unwrap_or(1);
        let extra = used as f64 / template as f64 * 100.0;
        rows.push(Row {
            measure: "storage of 50 bots from a 20 MB template",
            value: format!("template + {extra:.3} %"),
            target: "<= template + 5 %",
            ok: Some(extra <= 5.0),
        });

        self.api_rows(&mut rows);
        print_table(n, &rows);
    }

    /// The owners' door: `GET /api/v1/bots` of the whole fleet with an admin token (a fresh
    /// connection each, as the listener closes after one request), and what the dashboard's
    /// first page weighs.
    fn api_rows(&self, rows: &mut Vec<Row>) {
        let out = self.botctl(&["tokens", "create", "--user", "bench", "--admin", "--json"]);
        let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let auth = format!("Bearer {}", made["token"].as_str().unwrap());
        let (status, body) = http_get(self.port, "/api/v1/bots", &auth);
        assert_eq!(status, 200, "GET /api/v1/bots: {body}");
        for _ in 0..10 {
            http_get(self.port, "/api/v1/bots", &auth);
        }
        let mut times: Vec<Duration> = (0..100)
            .map(|_| {
                let t = Instant::now();
                http_get(self.port, "/api/v1/bots", &auth);
                t.elapsed()
            })
            .collect();
        times.sort();
        let (med, p90) = (median(&times), pct(&times, 90));
        rows.push(Row {
            measure: "GET /api/v1/bots, all bots (median / p90 of 100)",
            value: format!("{} / {} ({} KiB)", ms(med), ms(p90), body.len() / 1024),
            target: "<= 5 ms median",
            ok: Some(med <= Duration::from_millis(5)),
        });
        let first: usize = ["/", "/app.js", "/app.css"]
            .iter()
            .map(|p| http_get(self.port, p, "").1.len())
            .sum();
        rows.push(Row {
            measure: "dashboard first page (HTML, script, style; uncompressed)",
            value: format!("{:.1} KB", first as f64 / 1000.0),
            target: "<= 100 KB",
            ok: Some(first <= 100_000),
        });
    }

    /// The CPU of one health tick: the sampler thread's, over ten ticks at a 1 s interval
    /// (set on top of `config`, the rest of botctl.toml).
    /// (Taken as the whole agent's CPU less its idle rate, the tick of 200 bots, about
    /// 0.5 ms a second, drowned in the idle rate's own noise and once came out as 0.)
    fn health_tick(&self, agent: u32, config: String) -> Duration {
        std::fs::write(
            self.home.join("botctl.toml"),
            format!("{config}[agent]\nhealth_interval = \"1s\"\n"),
        )
        .unwrap();
        self.botctl(&["reload"]);
        std::thread::sleep(Duration::from_secs(2));
        let sampler = || threads_cpu_ns(agent, Some("health-sampler"));
        let before = sampler();
        let ticks = 10;
        std::thread::sleep(Duration::from_secs(ticks));
        Duration::from_nanos((sampler() - before) / ticks)
    }

    fn bot_pid(&self, name: &str) -> u32 {
        let out = self.botctl(&["bots", "show", name, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["info"]["pid"].as_u64().expect("a running bot") as u32
    }

    fn cleanup(&self) {
        let _ = Command::new(bin())
            .args(["agent", "stop"])
            .env("BOTCTL_HOME", &self.home)
            .output();
        // Anything left that carries this home (only ours: the home is unique).
        let needle = format!("BOTCTL_HOME={}", self.home.display());
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                    // SAFETY: a process that carries this benchmark's own home.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

/// One GET to the agent's listener on 127.0.0.1: the status and the body.
fn http_get(port: u16, path: &str, authorization: &str) -> (u16, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the HTTP listener");
    let auth = if authorization.is_empty() {
        String::new()
    } else {
        format!("authorization: {authorization}\r\n")
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{auth}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn print_table(n: usize, rows: &[Row]) {
    println!("\nbotctl fleet benchmark, {n} bots, release build");
    println!("| measure | result | target | met |");
    println!("|---|---|---|---|");
    for r in rows {
        let met = match r.ok {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!("| {} | {} | {} | {met} |", r.measure, r.value, r.target);
    }
}

fn wait(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn median(v: &[Duration]) -> Duration {
    v[v.len() / 2]
}

fn pct(v: &[Duration], p: usize) -> Duration {
    v[((v.len() * p).div_ceil(100))
        .saturating_sub(1)
        .min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of every thread of a process, in nanoseconds (schedstat is exact where
/// /proc/PID/stat counts 10 ms ticks).
fn cpu_ns(pid: u32) -> u64 {
    threads_cpu_ns(pid, None)
}

/// The same, of the threads called `comm` only when given.
fn threads_cpu_ns(pid: u32, comm: Option<&str>) -> u64 {
    each_thread(pid, comm, "schedstat")
        .iter()
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// File `name` of every thread of a process (`/proc/PID/task/TID/NAME`), as read; of the
/// threads called `comm` only when given.
fn each_thread(pid: u32, comm: Option<&str>, name: &str) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let called = |t: &std::fs::DirEntry| {
        comm.is_none_or(|c| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|n| n.trim_end() == c)
        })
    };
    tasks
        .flatten()
        .filter(called)
        .filter_map(|t| std::fs::read_to_string(t.path().join(name)).ok())
        .collect()
}

/// The kernel's process events (the proc connector, a netlink socket): when a process forked
/// and when it loaded a program, on CLOCK_MONOTONIC. Listening needs CAP_NET_ADMIN.
struct ProcEvents {
    fd: std::os::fd::OwnedFd,
}

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;

impl Drop for ProcEvents {
    /// The kernel reports process events while anyone listens: say we stopped.
    fn drop(&mut self) {
        self.control(PROC_CN_MCAST_IGNORE);
    }
}

enum ProcEvent {
    Fork {
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
        at_ns: u128,
    },
    Exec {
        tgid: u32,
        at_ns: u128,
    },
    Other,
}

impl ProcEvents {
    fn open() -> Option<ProcEvents> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        const NETLINK_CONNECTOR: i32 = 11;
        // SAFETY: plain socket calls on an fd we own, with a structure we fill.
        let events = unsafe {
            let raw = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_CONNECTOR,
            );
            if raw < 0 {
                return None;
            }
            let fd = OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as u16;
            addr.nl_groups = CN_IDX_PROC;
            let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            if libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) != 0 {
                return None;
            }
            ProcEvents { fd }
        };
        events.control(PROC_CN_MCAST_LISTEN).then_some(events)
    }

    /// Sends the connector an operation (listen, ignore); true if it was sent.
    fn control(&self, op: u32) -> bool {
        use std::os::fd::AsRawFd;
        // nlmsghdr (16 bytes), cn_msg (20), then the operation.
        let mut msg = Vec::with_capacity(40);
        msg.extend(40u32.to_ne_bytes());
        msg.extend((libc::NLMSG_DONE as u16).to_ne_bytes());
        msg.extend([0u8; 10]);
        msg.extend(CN_IDX_PROC.to_ne_bytes());
        msg.extend(CN_VAL_PROC.to_ne_bytes());
        msg.extend([0u8; 8]);
        msg.extend(4u16.to_ne_bytes());
        msg.extend(0u16.to_ne_bytes());
        msg.extend(op.to_ne_bytes());
        // SAFETY: sending a local buffer of the given length on an fd we own.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        sent == msg.len() as isize
    }

    /// The next event already queued, if any.
    fn next(&self) -> Option<ProcEvent> {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 256];
        // SAFETY: receiving into a local buffer of the given length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 68 {
            return (n >= 0).then_some(ProcEvent::Other);
        }
        let u32_at = |at: usize| u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
        let at_ns = u64::from_ne_bytes(buf[44..52].try_into().unwrap()) as u128;
        Some(match u32_at(36) {
            1 => ProcEvent::Fork {
                parent_tgid: u32_at(56),
                child_pid: u32_at(60),
                child_tgid: u32_at(64),
                at_ns,
            },
            2 => ProcEvent::Exec {
                tgid: u32_at(56),
                at_ns,
            },
            _ => ProcEvent::Other,
        })
    }

    fn drain(&self) {
        while self.next().is_some() {}
    }

    /// When, since the last drain, `agent` started a process, and when that process loaded
    /// its program.
    fn restart_of(&self, agent: u32) -> Option<(u128, u128)> {
        let (mut fork, mut exec) = (None, None);
        while let Some(event) = self.next() {
            match event {
                ProcEvent::Fork {
                    parent_tgid,
                    child_pid,
                    child_tgid,
                    at_ns,
                } if parent_tgid == agent && child_pid == child_tgid && fork.is_none() => {
                    fork = Some((child_tgid, at_ns));
                }
                ProcEvent::Exec { tgid, at_ns } if fork.is_some_and(|(pid, _)| pid == tgid) => {
                    exec.get_or_insert(at_ns);
                }
                _ => {}
            }
        }
        Some((fork?.1, exec?))
    }
}
