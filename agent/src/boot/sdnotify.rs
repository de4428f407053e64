//! The agent's side of systemd's `Type=notify` and `WatchdogSec=`: READY=1 once it answers,
//! WATCHDOG=1 at half the interval systemd asks for, STOPPING=1 when it ends.
//! Twenty lines of datagram rather than a crate: the protocol is one sendto, and std's
//! abstract-socket address covers the `@` form systemd uses for user managers.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where systemd listens, if it does: `$NOTIFY_SOCKET`, a path or `@abstract`.
fn socket_addr() -> Option<SocketAddr> {
    let raw = std::env::var_os("NOTIFY_SOCKET")?;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(raw.as_os_str());
    match bytes.split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name).ok(),
        Some((b'/', _)) => SocketAddr::from_pathname(&raw).ok(),
        _ => None,
    }
}

/// Sends `state` (e.g. "READY=1") to the service manager; nothing without one. A manager
/// that cannot be told is no reason to stop supervising, so errors are only returned.
pub fn notify(state: &str) -> std::io::Result<()> {
    let Some(addr) = socket_addr() else {
        return Ok(());
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &addr).map(|_| ())
}

/// How often to tell the manager the agent lives: half of `$WATCHDOG_USEC`, when it is meant
/// for this process (`$WATCHDOG_PID`, if set, names it).
pub fn watchdog_every() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec) / 2)
}

/// Pings the watchdog from the runtime every `every`: a wedged runtime stops the pings and
/// systemd restarts the agent (the bots keep running and are adopted).
pub async fn watchdog(every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = notify("WATCHDOG=1");
    }
}
