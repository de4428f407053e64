//! What an unlucky or hostile host does to the agent: a caller's descriptors, a runtime
//! directory removed under a running agent, file modes, a slow HTTP client, a slow adoption.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::{all_events, names, wait_each_once};
use crate::remote::{get, get_or_refused};
use crate::support::*;

// ---- harness ----

/// A pipe whose ends are close-on-exec in this process: a test spawning something at the same
/// time in another thread does not get them.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds that we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both were just created for us.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Makes `cmd` start the way `exec 9>LOCK; flock 9` leaves a shell script: fd 9 holds an
/// exclusive lock on `lock`, and fd 8 (when given) is the write end of a pipe the caller
/// reads, both inheritable. Done in the child only, so no other test's child inherits them.
fn hold_like_a_script(cmd: &mut Command, lock: &Path, pipe_write: Option<&OwnedFd>) {
    let lock = CString::new(lock.as_os_str().as_bytes()).unwrap();
    let pipe_write = pipe_write.map(|w| w.as_raw_fd());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(lock.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o600);
            if fd < 0 || libc::flock(fd, libc::LOCK_EX) != 0 || libc::dup2(fd, 9) < 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(w) = pipe_write
                && libc::dup2(w, 8) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether another process could take `lock` now (it is not held anywhere).
fn lock_is_free(lock: &Path) -> bool {
    let file = std::fs::OpenOptions::new().write(true).open(lock).unwrap();
    // SAFETY: flock on a file we own; the lock goes with the file when it is dropped.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Waits for end-of-file on `read`: every write end is closed.
fn eof_within(read: &OwnedFd, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if n <= 0 {
            return false;
        }
        let mut buf = [0u8; 64];
        // SAFETY: reading into a local buffer.
        let got = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if got == 0 {
            return true;
        }
    }
}

/// The descriptors of a process: number and what it points to.
fn fds_of(pid: u32) -> Vec<(u32, PathBuf)> {
    let mut fds: Vec<(u32, PathBuf)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_str()?.parse().ok()?;
                    Some((n, std::fs::read_link(e.path()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds
}

fn pipe_name(fd: &OwnedFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Ends a process this test started, however the test ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- 1. descriptors ----

#[test]
fn a_callers_lock_and_pipe_stay_with_the_caller() {
    let home = Home::fast();
    home.write_bot("held", &sleeper("alice"));
    let lock = home.file("deploy.lock");
    let (read, write) = pipe();
    let pipe_link = pipe_name(&read);
    let mut cmd = home.command(&["status"]);
    hold_like_a_script(&mut cmd, &lock, Some(&write));
    // The CLI auto-starts the agent, which starts the bot.
    Output::from_command(&["status"], cmd)
        .ok()
        .says(&["started the agent"]);
    drop(write);
    let bot = home.running_pid("held");
    let agents = agent_pids(&home);
    assert_eq!(agents.len(), 1, "one agent: {agents:?}");

    assert!(
        eof_within(&read, WAIT),
        "a reader of the caller's pipe sees EOF once botctl exited (agent fds {:?}, bot fds {:?})",
        fds_of(agents[0]),
        fds_of(bot)
    );
    assert!(
        lock_is_free(&lock),
        "the caller's lock is free once botctl exited (agent fds {:?}, bot fds {:?})",
        fds_of(agents[0]),
        fds_of(bot)
    );
    let bot_fds = fds_of(bot);
    assert_eq!(
        bot_fds.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [0, 1, 2],
        "a bot has its stdio only: {bot_fds:?}"
    );
    for (n, target) in fds_of(agents[0]) {
        assert!(
            target != lock && target != pipe_link,
            "the agent holds the caller's {} as fd {n}",
            target.display()
        );
    }
}

#[test]
fn an_agent_run_by_hand_lets_go_of_what_its_caller_held() {
    let home = Home::fast();
    home.write_bot("held", &sleeper("alice"));
    let lock = home.file("deploy.lock");
    let mut cmd = home.command(&["agent", "run"]);
    hold_like_a_script(&mut cmd, &lock, None);
    let agent = Reap(cmd.spawn().expect("starting botctl agent run"));
    let bot = home.running_pid("held");
    assert!(
        lock_is_free(&lock),
        "the agent closed the lock it inherited (agent fds {:?})",
        fds_of(agent.0.id())
    );
    assert_eq!(
        fds_of(bot).iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    home.botctl(&["agent", "stop"]).ok();
}

// ---- 5. one agent per home ----

/// Waits until `bot` has crashed and come back, then checks that it runs exactly once.
fn crash_restarts_once(home: &Home, bot: &str) {
    let pid = home.running_pid(bot);
    kill(pid, libc::SIGKILL);
    let new = home.new_pid(bot, pid);
    wait_age(new, Duration::from_millis(500));
    assert_eq!(bot_pids(home, bot), [new], "{bot} runs exactly once");
}

#[test]
fn a_removed_runtime_directory_gives_no_second_agent() {
    let home = Home::fast();
    home.write_bot("solo", &sleeper("alice"));
    home.running_pid("solo");
    let agent = agent_pids(&home);
    assert_eq!(agent.len(), 1);

    // What systemd-logind does to $XDG_RUNTIME_DIR at logout.
    std::fs::remove_dir_all(home.file("run")).unwrap();
    let status = home.botctl(&["status", "--json"]).ok();
    assert!(row(&status.json(), "solo").is_some(), "{status:?}");
    assert_eq!(agent_pids(&home), agent, "still the one agent");
    wait_for("the socket and pid file back", WAIT, || {
        ensure(
            home.socket().exists() && home.agent_pid_file() == Some(agent[0]),
            home.agent_pid_file(),
        )
    });
    assert_eq!(mode(&home.file("run")), 0o711);
    assert_eq!(mode(&home.socket()), 0o600);
    crash_restarts_once(&home, "solo");
    assert_eq!(agent_pids(&home), agent);
    let restored: Vec<Value> = all_events(&home)
        .into_iter()
        .filter(|e| e["kind"] == "agent-socket-restored")
        .collect();
    assert!(!restored.is_empty(), "the rebinding is an event");

    // `agent restart` finds it and leaves one agent.
    home.botctl(&["agent", "restart"]).ok();
    let after = agent_pids(&home);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, agent);
}

#[test]
fn agent_stop_stops_an_agent_whose_socket_was_deleted() {
    let home = Home::fast();
    home.write_bot("solo", &sleeper("alice"));
    let bot = home.running_pid("solo");
    let agent = agent_pids(&home);
    std::fs::remove_file(home.socket()).unwrap();
    home.botctl(&["agent", "stop"])
        .ok()
        .says(&[&format!("agent (pid {}) stopped", agent[0])]);
    assert!(!alive(agent[0]), "the agent is gone");
    assert!(!alive(bot), "and its bot with it");
    home.botctl(&["agent", "status"])
        .code(3)
        .says(&["agent not running"]);
}

// ---- 6. file modes ----

#[test]
fn every_file_botctl_creates_has_its_documented_mode() {
    let home = Home::new();
    home.write_config(&format!("{FAST}\n[logs]\nmax_size_mb = 1\nkeep = 2\n"));
    // 1.5 MiB of output (bounded), then quiet.
    home.write_bot(
        "loud",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"head -c 1500000 /dev/zero | tr '\\\\0' x; exec sleep 1000\"]\n",
    );
    home.running_pid("loud");
    let rotated = home.file("logs/loud.out.1");
    wait_for("a rotated copy of logs/loud.out", WAIT, || {
        ensure(rotated.exists(), ())
    });
    home.botctl(&[
        "bots",
        "add",
        "quiet",
        "--user",
        "alice",
        "--no-start",
        "--",
        "sleep",
        "1",
    ])
    .ok();
    let expected = [
        ("logs/loud.out", 0o640),
        ("logs/loud.out.1", 0o640),
        ("logs/loud.err", 0o640),
        ("logs/agent.log", 0o640),
        ("state", 0o700),
        ("state/botctl.db", 0o600),
        ("state/agent.lock", 0o600),
        ("run", 0o711),
        ("run/agent.sock", 0o600),
        ("run/agent.pid", 0o600),
        ("bots.d/quiet.toml", 0o600),
    ];
    let octal = |modes: Vec<(&str, u32)>| -> Vec<String> {
        modes
            .iter()
            .map(|(rel, m)| format!("{rel} {m:o}"))
            .collect()
    };
    let seen = expected
        .iter()
        .map(|(rel, _)| (*rel, mode(&home.file(rel))))
        .collect();
    assert_eq!(octal(seen), octal(expected.to_vec()));
}

// ---- 8. the HTTP listener ----

/// A TCP connection to 127.0.0.1:`port` from the source address `from` (any of 127/8).
fn connect_from(from: Ipv4Addr, port: u16) -> TcpStream {
    let sockaddr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a new socket we own, bound and connected with valid sockaddr_in values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        assert_eq!(libc::bind(fd, (&raw const local).cast(), len), 0, "bind");
        let remote = sockaddr(Ipv4Addr::LOCALHOST, port);
        assert_eq!(
            libc::connect(fd, (&raw const remote).cast(), len),
            0,
            "connect: {}",
            io::Error::last_os_error()
        );
        stream
    }
}

/// Whether the server closed `stream` (EOF or reset), without waiting.
fn closed_by_server(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    let closed = match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn one_slow_source_cannot_starve_the_http_listener() {
    let home = Home::fast();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    home.write_config(&format!(
        "{FAST}\n[remote.http]\nlisten = \"127.0.0.1:{port}\"\n"
    ));
    home.botctl(&["status"]).ok();
    wait_for("the listener answers /health", WAIT, || {
        let answer = get_or_refused(port);
        ensure(answer.0 == 200, answer)
    });

    // 100 connections from one source, each with half a request line: a slowloris.
    let slow_source = Ipv4Addr::new(127, 0, 0, 2);
    let slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = connect_from(slow_source, port);
            let _ = s.write_all(b"GET /hea");
            s
        })
        .collect();
    let open = wait_for("all but the source's share closed", WAIT, || {
        let open = slow.iter().filter(|s| !closed_by_server(s)).count();
        if open <= 8 { Ok(open) } else { Err(open) }
    });
    let asked = Instant::now();
    let (code, answer) = get(port, "/health");
    let took = asked.elapsed();
    assert_eq!(code, 200, "{answer}");
    assert!(took < Duration::from_secs(1), "/health took {took:?}");
    let still_open = slow.iter().filter(|s| !closed_by_server(s)).count();
    assert_eq!(
        still_open, open,
        "answered while the slow connections still hold their share"
    );
    eprintln!("[reliability] /health in {took:?} with {still_open} slow connections open");

    let refused_events = || -> Vec<String> {
        all_events(&home)
            .into_iter()
            .filter(|e| e["kind"] == "remote-refused")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    wait_for("the refusal recorded", WAIT, || {
        let refused = refused_events();
        ensure(!refused.is_empty(), refused)
    });
    let refused = refused_events();
    assert_eq!(refused.len(), 1, "92 refusals are one event: {refused:#?}");
    assert!(refused[0].contains("127.0.0.2"), "{refused:?}");
}

// ---- 10. readiness with a big, slowly adopted fleet ----

#[test]
fn agent_restart_with_200_bots_after_a_crash_is_ready_before_the_store_and_the_fleet() {
    let home = Home::new();
    home.write_config(&format!(
        "{FAST}\n[limits]\nmax_bots_per_user = 250\nmax_total_bots = 250\n"
    ));
    let bots = names("r", 200);
    for name in &bots {
        home.write_bot(name, &sleeper("alice"));
    }
    home.botctl(&["status"]).ok();
    let before = wait_each_once(&home, &bots, Duration::from_secs(60));
    // A SIGKILLed agent leaves no clean exit: the next one also searches /proc.
    kill_agent(&home);
    let log = home.file("logs/agent.log");
    let start_of_log = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let out = Output::from_command(&["agent", "restart"], {
        let mut cmd = home.command(&["agent", "restart"]);
        cmd.env("BOTCTL_TRACE_STARTUP", "1");
        cmd
    });
    let took = started.elapsed();
    out.ok().says(&["agent started"]);
    let after = wait_each_once(&home, &bots, Duration::from_secs(60));
    assert_eq!(after, before, "every bot adopted with its pid");
    let text = std::fs::read_to_string(&log).unwrap();
    let trace = &text[start_of_log as usize..];
    let at = |phase: &str| {
        trace
            .find(&format!("startup: {phase} at"))
            .unwrap_or_else(|| panic!("no {phase:?} in the start-up trace:\n{trace}"))
    };
    assert!(
        at("ready") < at("store open") && at("ready") < at("fleet loaded"),
        "ready is reported before the database is open and the fleet loaded:\n{trace}"
    );
    eprintln!("[reliability] agent restart with 200 bots after SIGKILL: {took:?}\n{trace}");
}
