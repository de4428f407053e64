//! The agent as systemd's `Type=notify` service with a watchdog: READY=1 once it answers,
//! WATCHDOG=1 pings at half of `WATCHDOG_USEC`, STOPPING=1 at the end, none of it for bots.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::*;

/// The messages on `socket` until `until` holds for them or `within` passes.
fn messages_until(
    socket: &UnixDatagram,
    seen: &mut Vec<String>,
    within: Duration,
    until: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 512];
    while !until(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "only these arrived: {seen:?}");
        socket.set_read_timeout(Some(left)).unwrap();
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[test]
fn the_agent_tells_systemd_it_is_ready_and_alive() {
    let home = Home::fast();
    home.write_bot("quiet", &sleeper("alice"));
    let path = home.file("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let started = Instant::now();
    let agent = KillOnDrop(
        home.command(&["agent", "run"])
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "200000")
            .spawn()
            .expect("starting botctl agent run"),
    );
    let mut seen = Vec::new();
    messages_until(&socket, &mut seen, WAIT, |m| !m.is_empty());
    assert_eq!(seen[0], "READY=1", "{seen:?}");
    // It answers once it said so.
    home.botctl(&["agent", "status"]).ok();
    // Every 100ms: half of the 200ms systemd would allow.
    messages_until(&socket, &mut seen, WAIT, |m| {
        m.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3
    });
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "three pings 100ms apart came too fast: {:?}",
        started.elapsed()
    );

    // Bots do not inherit what systemd said to the agent: their NOTIFY_SOCKET is the agent's
    // own, and without `[health] watchdog` they get no WATCHDOG_USEC.
    let bot = home.running_pid("quiet");
    let env = environ(bot);
    let notify: Vec<&String> = env
        .iter()
        .filter(|v| v.starts_with("NOTIFY_SOCKET="))
        .collect();
    let own = format!("NOTIFY_SOCKET={}", home.file("run/notify.sock").display());
    assert_eq!(notify, [&own], "systemd's NOTIFY_SOCKET reached the bot");
    assert!(
        !env.iter().any(|v| v.starts_with("WATCHDOG_USEC=")),
        "WATCHDOG_USEC reached the bot"
    );

    home.botctl(&["agent", "stop"]).ok();
    messages_until(&socket, &mut seen, WAIT, |m| {
        m.iter().any(|m| m == "STOPPING=1")
    });
    wait_agent_gone(&home, agent.0.id());
}
