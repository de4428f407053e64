//! `--host` against a real OpenSSH server on 127.0.0.1 that each test starts with keys it
//! makes: status, restart, logs -f, hosts that refuse, and `status --hosts`.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    Home, Output, WAIT, agent_pids, cmdline, ensure, free_port, kill, lines_of, processes_of,
    sleeper, wait_for, whoami,
};

const SSHD: &str = "/usr/sbin/sshd";

/// An sshd of this test's own: its host key, one authorized client key, a free port.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sshd {
    fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (.ci/run does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("sshd")
            .tempdir_in("/tmp")
            .unwrap();
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("client_key"));
        keygen(&dir.path().join("stranger_key"));
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        // Privilege separation (sshd run as root) needs it, and a container may not have it
        // yet; when it cannot be made, sshd's own log says what it lacks.
        let _ = std::fs::create_dir_all("/run/sshd");
        // A free port can be taken between our look and sshd's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            let d = dir.path().display();
            std::fs::write(
                dir.path().join("sshd_config"),
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                     AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
                     StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(dir.path().join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting sshd");
            let deadline = Instant::now() + WAIT;
            let up = loop {
                if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                    let mut banner = [0u8; 4];
                    if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                        break true;
                    }
                }
                if child.try_wait().unwrap().is_some() || Instant::now() >= deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            if up {
                return Sshd { child, dir, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start; its log:\n{}",
            std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default()
        );
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn address(&self) -> String {
        format!("ssh://{}@127.0.0.1:{}", whoami(), self.port)
    }

    /// `[defaults]` of the test's hosts: this binary, and ssh options for this test's
    /// known_hosts, no operator's ssh config and no ssh agent's keys; with `key`, that key
    /// for every host (ssh tries each `-i` it is given, so a host with a key of its own
    /// needs defaults without one).
    fn defaults(&self, key: Option<&str>) -> String {
        let key = key
            .map(|k| format!("\"-i\", \"{}\", ", self.file(k).display()))
            .unwrap_or_default();
        format!(
            "[defaults]\nbotctl = \"{}\"\nssh_options = [{key}\"-F\", \"/dev/null\", \"-o\", \"UserKnownHostsFile={}\", \"-o\", \"StrictHostKeyChecking=accept-new\", \"-o\", \"IdentitiesOnly=yes\", \"-o\", \"LogLevel=ERROR\"]\n",
            crate::support::BIN,
            self.file("known_hosts").display(),
        )
    }

    /// `-i KEY` as a host's options.
    fn key(&self, key: &str) -> String {
        format!("ssh_options = [\"-i\", \"{}\"]\n", self.file(key).display())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("running ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

/// An sshd, the far side's home (a sleeper bot `tick` of alice's) and this side's home,
/// whose hosts.toml `hosts` writes from the other two.
fn setup(hosts: impl FnOnce(&Sshd, &Home) -> String) -> (Sshd, Home, Home) {
    let sshd = Sshd::start();
    let far = Home::fast();
    far.write_bot("tick", &sleeper("alice"));
    let near = Home::new();
    std::fs::write(near.file("hosts.toml"), hosts(&sshd, &far)).unwrap();
    (sshd, far, near)
}

/// `host` over ssh, from the `near` home's CLI.
fn over(near: &Home, host: &str, args: &[&str]) -> Output {
    let mut all = vec!["--host", host];
    all.extend_from_slice(args);
    near.botctl(&all)
}

/// `tick`'s pid in `status --json` over ssh, once it runs.
fn tick_pid(near: &Home, host: &str) -> u64 {
    wait_for("tick running over ssh", WAIT, || {
        let out = over(near, host, &["status", "--json"]);
        let status = out.json();
        let tick = crate::support::row(&status, "tick").unwrap_or_default();
        match tick["pid"].as_u64() {
            Some(pid) if tick["state"] == "running" => Ok(pid),
            _ => Err(out),
        }
    })
}

/// The processes of `home` whose command line contains `word`.
fn with_word(home: &Path, word: &str) -> Vec<(u32, Vec<String>)> {
    processes_of(home)
        .into_iter()
        .map(|pid| (pid, cmdline(pid)))
        .filter(|(_, args)| args.iter().any(|a| a.contains(word)))
        .collect()
}

/// A host `web`: the sshd, with the far home.
fn web(sshd: &Sshd, far: &Home) -> String {
    format!(
        "{}[hosts.web]\naddress = \"{}\"\nhome = \"{}\"\n{}",
        sshd.defaults(None),
        sshd.address(),
        far.path().display(),
        sshd.key("client_key")
    )
}

/// Waits until no ssh of `near`'s CLIs and no bridge of `far` is left.
#[track_caller]
fn nothing_left(near: &Home, far: &Home) {
    wait_for("no ssh here and no bridge there", WAIT, || {
        let ssh = with_word(near.path(), "ssh");
        let bridge = with_word(far.path(), "__stdio");
        ensure(ssh.is_empty() && bridge.is_empty(), (ssh, bridge))
    });
}

#[test]
fn status_and_restart_reach_the_agent_of_the_host_and_hello_says_which() {
    let (_sshd, far, near) = setup(web);

    let first = tick_pid(&near, "web");
    // A follower over the link (tarpc through the bridge, not a command run there).
    let mut follow = near.command(&["--host", "web", "events", "-f", "-n", "0", "--bot", "tick"]);
    let mut follower = crate::support::KillOnDrop(follow.spawn().unwrap());
    let followed = lines_of(&mut follower.0);
    let out = over(&near, "web", &["status"]).ok();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    out.says(&[
        &format!("agent: running on {}, pid", hostname.trim()),
        &format!("home {}", far.path().display()),
        "tick",
        "alice",
    ]);
    // A command run whole on the host says its errors as the link's own are said.
    over(&near, "web", &["logs", "nosuch"])
        .code(1)
        .says(&["botctl: error: on web: no bot named nosuch"]);
    // The far side's agent answered: this side started none.
    assert_eq!(agent_pids(&far).len(), 1, "{:?}", agent_pids(&far));
    assert!(agent_pids(&near).is_empty(), "a local agent was started");

    over(&near, "web", &["restart", "tick"])
        .ok()
        .says(&["tick: restarted"]);
    let second = tick_pid(&near, "web");
    assert_ne!(first, second, "restart over ssh kept the pid");

    // The follower saw the restart, and ending it leaves nothing behind, here or there.
    let line = wait_for("the restart through events -f", WAIT, || {
        followed
            .recv_timeout(Duration::from_millis(100))
            .map_err(|e| format!("{e:?}"))
            .and_then(|l| ensure(l.contains("restarted"), l.clone()).map(|()| l))
    });
    assert!(line.contains("tick"), "{line}");
    kill(follower.0.id(), libc::SIGTERM);
    let _ = follower.0.wait();
    nothing_left(&near, &far);
}

#[test]
fn top_over_ssh_shows_the_host_s_fleet_and_restarts_from_the_keyboard() {
    let (_sshd, far, near) = setup(web);
    let first = tick_pid(&near, "web");
    let tmux = crate::top::Tmux::top(&near, "BOTCTL_HOST=web");
    tmux.wait_screen(&["tick", "running", &first.to_string(), "q quit"]);
    tmux.keys(&["g", "R"]);
    tmux.wait_screen(&["restart tick? y/n"]);
    tmux.keys(&["y"]);
    tmux.wait_screen(&["restart tick: ok"]);
    assert_ne!(
        tick_pid(&near, "web"),
        first,
        "restart from top over ssh kept the pid"
    );
    // The log is a file on the host: the pane says how to read it.
    tmux.keys(&["Enter"]);
    tmux.wait_screen(&["── tick", "restarted", "botctl --host web logs tick"]);
    tmux.keys(&["q"]);
    tmux.wait_screen(&["TOP-EXITED 0"]);
    nothing_left(&near, &far);
}

#[test]
fn logs_follow_over_ssh_sees_new_lines_and_leaves_nothing_behind_when_ended() {
    let (sshd, far, near) = setup(|sshd, far| {
        format!(
            "{}home = \"{}\"\n",
            sshd.defaults(Some("client_key")),
            far.path().display(),
        )
    });
    // The hosts file named by BOTCTL_HOSTS_FILE, and a host given by address (taking the
    // defaults).
    let elsewhere = sshd.file("elsewhere.toml");
    std::fs::rename(near.file("hosts.toml"), &elsewhere).unwrap();
    let address = sshd.address();
    let mut cmd = near.command(&["logs", "-f", "-n", "0", "tick"]);
    cmd.env("BOTCTL_HOST", &address)
        .env("BOTCTL_HOSTS_FILE", &elsewhere);
    let mut cli = crate::support::KillOnDrop(cmd.spawn().unwrap());
    let lines = lines_of(&mut cli.0);
    let log = far.file("logs/tick.out");
    std::fs::create_dir_all(far.file("logs")).unwrap();
    // The follower is ready at some moment this side cannot see: write until it is read.
    let mut n = 0;
    let seen = wait_for("a new line of tick.out through ssh", WAIT, || {
        n += 1;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        std::io::Write::write_all(&mut f, format!("far line {n}\n").as_bytes()).unwrap();
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => Ok(line),
            Err(e) => Err(format!(
                "{e:?}; far side: {:?}",
                with_word(far.path(), "__stdio")
            )),
        }
    });
    assert!(seen.starts_with("far line "), "{seen:?}");
    assert!(
        !with_word(near.path(), "ssh").is_empty(),
        "no ssh child seen"
    );

    // Ended like a user ends it: nothing of it stays, here or there.
    kill(cli.0.id(), libc::SIGTERM);
    let _ = cli.0.wait();
    nothing_left(&near, &far);
}

#[test]
fn a_host_that_refuses_is_exit_3_naming_the_host_in_ssh_s_words() {
    let closed = free_port();
    let (_sshd, far, near) = setup(|sshd, far| {
        format!(
            "{}home = \"{}\"\n\
             [hosts.closed]\naddress = \"ssh://{}@127.0.0.1:{closed}\"\n{}\
             [hosts.stranger]\naddress = \"{}\"\n{}\
             [hosts.nobin]\naddress = \"{}\"\nbotctl = \"/nonexistent/botctl\"\n{}",
            sshd.defaults(None),
            far.path().display(),
            whoami(),
            sshd.key("client_key"),
            sshd.address(),
            sshd.key("stranger_key"),
            sshd.address(),
            sshd.key("client_key"),
        )
    });

    over(&near, "closed", &["status"]).code(3).says(&[
        "botctl: error: on closed: ssh to ssh://",
        "Connection refused",
    ]);
    over(&near, "stranger", &["restart", "tick"])
        .code(3)
        .says(&["on stranger: ", "Permission denied (publickey)"]);
    over(&near, "nobin", &["status"]).code(3).says(&[
        "on nobin: ",
        "/nonexistent/botctl",
        "No such file",
    ]);
    // A command run whole on the host fails the same way.
    over(&near, "stranger", &["logs", "tick"])
        .code(3)
        .says(&["on stranger: ssh to", "Permission denied (publickey)"]);
    // A name that is no host is a usage error that lists the names.
    over(&near, "nope", &["status"])
        .code(2)
        .says(&["no host named \"nope\"", "closed, nobin, stranger"]);
    assert!(
        agent_pids(&far).is_empty(),
        "an agent started for a refused host"
    );
    assert!(agent_pids(&near).is_empty(), "a local agent was started");
}

#[test]
fn status_of_several_hosts_is_one_table_and_a_host_that_does_not_answer_hides_none() {
    let closed = free_port();
    let (_sshd, _far, near) = setup(|sshd, far| {
        format!(
            "{}[hosts.web]\naddress = \"{}\"\nhome = \"{}\"\n{}\
             [hosts.down]\naddress = \"ssh://{}@127.0.0.1:{closed}\"\n",
            sshd.defaults(None),
            sshd.address(),
            far.path().display(),
            sshd.key("client_key"),
            whoami(),
        )
    });
    tick_pid(&near, "web");

    let out = near.botctl(&["status", "--all-hosts"]).code(3);
    out.stdout
        .lines()
        .find(|l| l.contains("HOST") && l.contains("BOT") && l.contains("STATE"))
        .unwrap_or_else(|| panic!("no HOST column:\n{out:?}"));
    out.stdout
        .lines()
        .find(|l| l.contains("web") && l.contains("tick") && l.contains("running"))
        .unwrap_or_else(|| panic!("no row for web's tick:\n{out:?}"));
    let down = out
        .stdout
        .lines()
        .find(|l| l.starts_with("down: unreachable: "))
        .unwrap_or_else(|| panic!("no line for down:\n{out:?}"));
    assert!(down.contains("Connection refused"), "{down}");
    assert!(out.stdout.contains("web: agent on "), "{out:?}");

    let out = near
        .botctl(&["status", "--hosts", "web,down", "--json"])
        .code(3);
    let json = out.json();
    let hosts = json["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2, "{json:#}");
    assert_eq!(hosts[0]["host"], "web");
    assert_eq!(hosts[0]["code"], 0);
    assert_eq!(hosts[0]["error"], serde_json::Value::Null);
    assert_eq!(hosts[0]["status"]["bots"][0]["name"], "tick");
    assert_eq!(hosts[0]["status"]["summary"]["running"], 1);
    assert_eq!(hosts[1]["host"], "down");
    assert_eq!(hosts[1]["code"], 3);
    assert_eq!(hosts[1]["status"], serde_json::Value::Null);
    assert!(
        hosts[1]["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{json:#}"
    );

    // Only good hosts: exit 0.
    near.botctl(&["status", "--hosts", "web"])
        .ok()
        .says(&["web", "tick"]);
}
