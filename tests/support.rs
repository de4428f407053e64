//! The harness: a fresh short home per test, the real binary run with `BOTCTL_HOME`, bounded
//! polling on observed conditions, and what /proc says about the processes of one home.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_botctl");

/// The deadline of every wait. Waits return as soon as their condition holds, so a generous
/// deadline costs nothing when things work and absorbs a loaded machine when they are slow.
pub const WAIT: Duration = Duration::from_secs(10);

/// Restart timings small enough that no test waits long for the supervisor.
pub const FAST: &str = r#"
[restart]
stable_after = "300ms"
backoff_initial = "100ms"
backoff_max = "400ms"
window = "1m"
retry_after = "2s"
stop_timeout = "2s"
"#;

/// Cookie expiries: 2100-01-01, and a day in 2020.
pub const FAR: i64 = 4_102_444_800;
pub const PAST: i64 = 1_600_000_000;

/// A Netscape cookie file with the two cookies a twitter bot requires, expiring at `expiry`.
pub fn netscape(auth_token: &str, ct0: &str, expiry: i64) -> String {
    format!(
        "# Netscape HTTP Cookie File\n.x.com\tTRUE\t/\tTRUE\t{expiry}\tauth_token\t{auth_token}\n#HttpOnly_.x.com\tTRUE\t/\tTRUE\t{expiry}\tct0\t{ct0}\n.x.com\tTRUE\t/\tFALSE\t0\tguest_id\tSECRETguest77\n"
    )
}

/// A twitter bot of alice's that checks `cookies.txt` in its directory.
pub fn auth_bot(home: &Home, name: &str, extra: &str) {
    std::fs::create_dir_all(home.file(&format!("bots/alice/{name}"))).unwrap();
    home.write_bot(
        name,
        &format!(
            "user = \"alice\"\nplatform = \"twitter\"\ncommand = [\"sleep\", \"1000\"]\n[auth]\ncookies = \"cookies.txt\"\nwarn_before = \"3d\"\n{extra}"
        ),
    );
}

pub fn cookie_file(home: &Home, name: &str, text: &str) {
    std::fs::write(home.file(&format!("bots/alice/{name}/cookies.txt")), text).unwrap();
}

/// A bot file running one long `sleep`: exactly one process per bot.
pub fn sleeper(owner: &str) -> String {
    format!("user = \"{owner}\"\ncommand = [\"sleep\", \"1000\"]\n")
}

/// What one run of the CLI did, asserted on all together.
pub struct Output {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`botctl {}` exited {}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

impl Output {
    fn from(args: Vec<String>, out: std::process::Output) -> Output {
        Output {
            args,
            // A CLI killed by a signal has no code; -1 never matches an expected one.
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a prepared command (from [`Home::command`]) to the end.
    pub fn from_command(args: &[&str], mut cmd: Command) -> Output {
        let out = cmd.output().expect("running the botctl binary");
        Output::from(args.iter().map(|a| a.to_string()).collect(), out)
    }

    /// Asserts the exit code and returns self for further assertions.
    #[track_caller]
    pub fn code(self, expected: i32) -> Output {
        assert_eq!(self.code, expected, "unexpected exit code:\n{self:?}");
        self
    }

    /// Asserts the exit code is one of `expected` (`status` while a bot may or may not be in
    /// backoff yet: 0 or 1, never anything else).
    #[track_caller]
    pub fn code_in(self, expected: &[i32]) -> Output {
        assert!(
            expected.contains(&self.code),
            "unexpected exit code (expected one of {expected:?}):\n{self:?}"
        );
        self
    }

    #[track_caller]
    pub fn ok(self) -> Output {
        self.code(0)
    }

    /// Asserts that stdout or stderr contains every one of `parts`.
    #[track_caller]
    pub fn says(self, parts: &[&str]) -> Output {
        for part in parts {
            assert!(
                self.stdout.contains(part) || self.stderr.contains(part),
                "expected {part:?} in the output:\n{self:?}"
            );
        }
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:?}"))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// One BOTCTL_HOME: a temp dir with a short path (socket paths are limited to ~107 bytes).
/// Dropping it stops its agent and kills every process that carries its BOTCTL_HOME.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("bt")
            .tempdir_in("/tmp")
            .expect("creating a temp home under /tmp");
        Home { dir }
    }

    /// A home whose botctl.toml has the fast restart timings.
    pub fn fast() -> Home {
        let home = Home::new();
        home.write_config(FAST);
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    pub fn socket(&self) -> PathBuf {
        self.file("run/agent.sock")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.file("botctl.toml"), text).expect("writing botctl.toml");
    }

    pub fn write_bot(&self, name: &str, text: &str) {
        let dir = self.file("bots.d");
        std::fs::create_dir_all(&dir).expect("creating bots.d");
        std::fs::write(dir.join(format!("{name}.toml")), text).expect("writing a bot file");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.prepared(Command::new(BIN), args)
    }

    /// `command` run as the Unix account `account` (uid, its group and its groups), by a
    /// test running as root: an agent it starts runs as that account too.
    pub fn command_as(&self, account: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", account, "--regid", account, "--init-groups", BIN]);
        self.prepared(cmd, args)
    }

    fn prepared(&self, mut cmd: Command, args: &[&str]) -> Command {
        cmd.args(args)
            .env("BOTCTL_HOME", self.path())
            .env("NO_COLOR", "1")
            .env_remove("BOTCTL_READY_FD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `botctl ARGS` to the end.
    pub fn botctl(&self, args: &[&str]) -> Output {
        let out = self
            .command(args)
            .output()
            .expect("running the botctl binary");
        Output::from(args.iter().map(|a| a.to_string()).collect(), out)
    }

    /// Waits for a CLI started with `command(..).spawn()`.
    pub fn finish(args: &[&str], child: std::process::Child) -> Output {
        let out = child.wait_with_output().expect("waiting for botctl");
        Output::from(args.iter().map(|a| a.to_string()).collect(), out)
    }

    /// Runs a command that must succeed and parses its stdout as JSON.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        self.botctl(args).ok().json()
    }

    /// `status --json`, which exits 1 when something needs attention: either code is an answer.
    #[track_caller]
    pub fn status(&self) -> Value {
        let out = self.botctl(&["status", "--json"]);
        assert!(matches!(out.code, 0 | 1), "unexpected exit code:\n{out:?}");
        out.json()
    }

    /// The row of `status --json` for one bot.
    #[track_caller]
    pub fn bot(&self, name: &str) -> Value {
        let status = self.status();
        row(&status, name).unwrap_or_else(|| panic!("no bot {name} in status: {status:#}"))
    }

    /// `events --bot NAME --json`, oldest first.
    #[track_caller]
    pub fn events(&self, bot: &str) -> Vec<Value> {
        match self.json(&["events", "--bot", bot, "--json", "-n", "1000"]) {
            Value::Array(events) => events,
            other => panic!("events --json is not an array: {other:#}"),
        }
    }

    /// The pid written in run/agent.pid.
    pub fn agent_pid_file(&self) -> Option<u32> {
        std::fs::read_to_string(self.file("run/agent.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits until `name` runs with a pid /proc confirms; returns the pid.
    #[track_caller]
    pub fn running_pid(&self, name: &str) -> u32 {
        wait_for(&format!("{name} running"), WAIT, || {
            let bot = self.bot(name);
            match pid_of(&bot) {
                Some(pid) if bot["state"] == "running" && alive(pid) => Ok(pid),
                _ => Err(bot),
            }
        })
    }

    /// Waits until `name` runs again with a pid other than `old`; returns the new pid.
    #[track_caller]
    pub fn new_pid(&self, name: &str, old: u32) -> u32 {
        self.new_pid_within(name, old, WAIT)
    }

    /// `new_pid` for a change that is due only later (a schedule).
    #[track_caller]
    pub fn new_pid_within(&self, name: &str, old: u32, within: Duration) -> u32 {
        wait_for(
            &format!("{name} running with a pid other than {old}"),
            within,
            || {
                let bot = self.bot(name);
                match pid_of(&bot) {
                    Some(pid) if pid != old && bot["state"] == "running" && alive(pid) => Ok(pid),
                    _ => Err(bot),
                }
            },
        )
    }

    fn stop_agent(&self) {
        // Bounded: a hung agent must not hang the test run; whatever is left is killed below.
        let Ok(mut child) = self
            .command(&["agent", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for Home {
    // Runs on panic too, so it must never panic itself.
    fn drop(&mut self) {
        self.stop_agent();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = processes_of(self.path());
            if left.is_empty() || Instant::now() >= deadline {
                break;
            }
            for pid in left {
                kill(pid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        remove_cgroups_of(self.path());
    }
}

/// Removes the (empty) cgroups an agent of `home` left when it was killed rather than
/// stopped: `botctl-<16 hex digits of the home's SHA-256>` under the cgroup v2 mount, as
/// README's Containment section names it. Never a cgroup of another home.
fn remove_cgroups_of(home: &Path) {
    use sha2::Digest;
    use std::os::unix::ffi::OsStrExt;
    let Some(mount) = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|r| r.starts_with("cgroup2 "))
        })
        .and_then(|l| l.split_whitespace().nth(4).map(PathBuf::from))
    else {
        return;
    };
    let digest = sha2::Sha256::digest(home.as_os_str().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let subtree = mount.join(format!("botctl-{hex}"));
    if let Ok(bots) = std::fs::read_dir(&subtree) {
        for bot in bots.flatten().filter(|e| e.path().is_dir()) {
            let _ = std::fs::remove_dir(bot.path());
        }
    }
    let _ = std::fs::remove_dir(&subtree);
}

/// Collects a CLI started with `command(..).spawn()`, or kills it at the deadline: a hang is
/// an error naming the command, never a hung test.
pub fn finish_within(args: &[&str], mut child: Child, deadline: Instant) -> Result<Output, String> {
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(Home::finish(args, child)),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`botctl {}` hung and was killed", args.join(" ")));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for `botctl {}`: {e}", args.join(" "))),
        }
    }
}

/// The row of one bot in a `status --json` or `bots list --json` value.
pub fn row(report: &Value, name: &str) -> Option<Value> {
    let bots = match report.get("bots") {
        Some(bots) => bots,
        None => report,
    };
    bots.as_array()?.iter().find(|b| b["name"] == name).cloned()
}

pub fn pid_of(bot: &Value) -> Option<u32> {
    bot["pid"].as_u64().map(|p| p as u32)
}

/// Waits for an event of `kind` for `bot` whose message contains `text`, and returns it.
#[track_caller]
pub fn wait_event_saying(home: &Home, bot: &str, kind: &str, text: &str) -> Value {
    wait_for(
        &format!("a {kind} event for {bot} saying {text:?}"),
        Duration::from_secs(20),
        || {
            let events = home.events(bot);
            events
                .iter()
                .find(|e| {
                    e["kind"] == kind && e["message"].as_str().is_some_and(|m| m.contains(text))
                })
                .cloned()
                .ok_or(kinds(&events))
        },
    )
}

/// The `kind` of each event, in order.
pub fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Polls `check` every 20 ms until it returns `Ok`, or panics after `within` with `what`
/// and the last state `check` observed.
#[track_caller]
pub fn wait_for<T, E: fmt::Debug>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check() {
            Ok(v) => return v,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {within:?} waiting for {what}; last observed:\n{state:#?}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// `Ok(())` when `cond` holds, else the observed `state`: the usual body of a `wait_for`.
pub fn ensure<E>(cond: bool, state: E) -> Result<(), E> {
    if cond { Ok(()) } else { Err(state) }
}

// ---- /proc ----

fn all_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The process state letter of field 3 of /proc/PID/stat.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

fn nul_separated(path: String) -> Vec<String> {
    std::fs::read(path)
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Resident memory of a process in KiB (0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub fn environ(pid: u32) -> Vec<String> {
    nul_separated(format!("/proc/{pid}/environ"))
}

pub fn cmdline(pid: u32) -> Vec<String> {
    nul_separated(format!("/proc/{pid}/cmdline"))
}

fn home_var(home: &Path) -> String {
    format!("BOTCTL_HOME={}", home.display())
}

/// Every live process (ours excepted) started with this BOTCTL_HOME.
pub fn processes_of(home: &Path) -> Vec<u32> {
    let var = home_var(home);
    let me = std::process::id();
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me && environ(pid).contains(&var) && alive(pid))
        .collect()
}

/// Every live process of one bot of this home: the bot and whatever it started.
pub fn bot_pids(home: &Home, name: &str) -> Vec<u32> {
    let var = home_var(home.path());
    let bot = format!("BOTCTL_BOT={name}");
    all_pids()
        .into_iter()
        .filter(|&pid| {
            let env = environ(pid);
            env.contains(&var) && env.contains(&bot) && alive(pid)
        })
        .collect()
}

/// Every live `botctl agent run` of this home.
pub fn agent_pids(home: &Home) -> Vec<u32> {
    let var = home_var(home.path());
    all_pids()
        .into_iter()
        .filter(|&pid| {
            let args = cmdline(pid);
            args.len() >= 3
                && args[args.len() - 2..] == ["agent", "run"]
                && environ(pid).contains(&var)
                && alive(pid)
        })
        .collect()
}

/// How long a process has been running, from /proc.
pub fn process_age(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Field 22 (starttime, in clock ticks since boot) is fields[22 - 3].
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(Duration::from_secs_f64(
        (uptime - start_ticks / hz).max(0.0),
    ))
}

/// Waits until `pid` has run for at least `age` (past `stable_after`, say).
#[track_caller]
pub fn wait_age(pid: u32, age: Duration) {
    wait_for(&format!("process {pid} older than {age:?}"), WAIT, || {
        let seen = process_age(pid);
        ensure(seen.is_some_and(|a| a >= age), seen)
    });
}

/// The lines a running CLI (`logs -f`, `events -f`) prints, read on a thread so that the test
/// never blocks on them.
pub fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if line.map(|l| tx.send(l)).is_err() {
                break;
            }
        }
    });
    rx
}

/// A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Kills a process this test started (a locker, a flood, a forger) when the test ends,
/// however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until a killed agent is dead and its socket refuses connections: its leader turns
/// zombie before its other threads have exited and closed the listening socket.
#[track_caller]
pub fn wait_agent_gone(home: &Home, pid: u32) {
    wait_for(&format!("agent {pid} gone"), WAIT, || {
        let connect = std::os::unix::net::UnixStream::connect(home.socket());
        ensure(!alive(pid) && connect.is_err(), (alive(pid), connect))
    });
}

/// SIGKILLs the home's agent and waits until it is gone; returns its pid.
#[track_caller]
pub fn kill_agent(home: &Home) -> u32 {
    let agent = home.agent_pid_file().expect("agent pid");
    kill(agent, libc::SIGKILL);
    wait_agent_gone(home, agent);
    agent
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn kill(pid: u32, signal: i32) {
    // SAFETY: a plain syscall on a pid this test found for its own home.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// The invoking user's name, asked of `id` rather than of the code under test.
pub fn whoami() -> String {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .expect("running id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Reads one HTTP/1.1 request from a keep-alive connection: the request line and the body
/// (by Content-Length). None when the peer closed the connection.
pub fn read_http_request(
    reader: &mut std::io::BufReader<std::net::TcpStream>,
) -> Option<(String, Vec<u8>)> {
    use std::io::{BufRead, Read};
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line, body))
}

/// A bot `stubborn` that ignores SIGTERM and has a grandchild (`sleep 1000`) in its group,
/// with a 500 ms stop timeout; returns its pid once the grandchild runs too.
pub fn stubborn_bot(home: &Home) -> u32 {
    home.write_bot(
        "stubborn",
        "user = \"alice\"\n\
         command = [\"sh\", \"-c\", \"trap '' TERM; sleep 1000 & while true; do sleep 1; done\"]\n\
         stop_timeout = \"500ms\"\n",
    );
    let pid = home.running_pid("stubborn");
    wait_for("the grandchild sleep 1000", WAIT, || {
        let pids = bot_pids(home, "stubborn");
        ensure(pids.iter().any(|p| cmdline(*p) == ["sleep", "1000"]), pids)
    });
    pid
}

/// CPU time the process's live threads have used so far, in nanoseconds from the scheduler
/// (`/proc/PID/task/*/schedstat`): the 10 ms clock ticks of `/proc/PID/stat` are too coarse
/// for what one refresh costs.
pub fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("a live process");
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// Starts `bots` sleeper bots of four owners in `home` (whose botctl.toml must allow them),
/// waits until all run and the start-up's work (spawns, first samples, store writes) is
/// done, and returns the agent's pid: the fleet the cost measurements run against.
pub fn settled_sleepers(home: &Home, bots: usize) -> u32 {
    for i in 0..bots {
        home.write_bot(&format!("bot{i:03}"), &sleeper(&format!("owner{}", i % 4)));
    }
    wait_for("every bot running", Duration::from_secs(60), || {
        let status = home.status();
        let running = status["bots"]
            .as_array()
            .map(|b| b.iter().filter(|b| b["state"] == "running").count())
            .unwrap_or(0);
        ensure(running == bots, running)
    });
    let agent = home.agent_pid_file().expect("the agent's pid");
    std::thread::sleep(Duration::from_secs(5));
    agent
}

/// What an HTTP request to the agent's listener answered.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (the connection closes after the answer); status
/// 0 when nothing listens there (yet).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpAnswer {
    use std::io::{Read, Write};
    let mut s = match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => {
            return HttpAnswer {
                status: 0,
                headers: Vec::new(),
                body: e.to_string(),
            };
        }
    };
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body: body.to_string(),
    }
}
