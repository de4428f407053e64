//! The bots' sd_notify socket: one datagram socket under run/ (every bot's NOTIFY_SOCKET); each
//! message's sender, known from its credentials, is mapped to its bot and sent to the bot's task.

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UnixDatagram;

use crate::bot::liveness::parse;
use crate::bot::process::{parent_of, up_the_tree};
use crate::bot::{BotHandle, Command};
use crate::context::{Context, NotifyFlushed};
use crate::fleet::Fleet;

/// sd_notify messages are a few short lines; a longer one is read cut to this.
const DATAGRAM_MAX: usize = 4096;
/// The map of bots' pids is rebuilt at most this often on a miss, so a stranger sending in
/// a loop costs a lookup each, not a pass over the fleet each.
const REBUILD_EVERY: Duration = Duration::from_millis(100);

/// Binds the socket, replacing a stale one of an earlier agent (the agent's lock is held, so
/// no live agent owns it). Anyone may send (bots running as their owners' accounts must), but
/// with SO_PASSCRED each datagram carries its sender's pid, set by the kernel: a message is
/// taken only from a bot's own process.
pub fn bind(path: &Path) -> io::Result<UnixDatagram> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let socket = UnixDatagram::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    setsockopt(&socket, sockopt::PassCred, &true)?;
    Ok(socket)
}

/// Receives for ever (an error ends the run, and `supervise` starts another). `bound` is the
/// socket bound at start-up, before the first bot was spawned; a later run binds again.
pub async fn run(
    ctx: Arc<Context>,
    fleet: Arc<Fleet>,
    bound: Arc<Mutex<Option<UnixDatagram>>>,
) -> Result<(), String> {
    let path = &ctx.paths.notify_socket;
    let socket = match bound.lock().unwrap().take() {
        Some(s) => s,
        None => bind(path).map_err(|e| format!("cannot bind {}: {e}", path.display()))?,
    };
    let (flush_tx, mut flushes) = tokio::sync::mpsc::unbounded_channel::<NotifyFlushed>();
    *ctx.notify_flush.lock().unwrap() = Some(flush_tx);
    let mut owners = Owners::default();
    let mut buf = vec![0u8; DATAGRAM_MAX];
    let reading = |e: io::Error| format!("reading {}: {e}", path.display());
    loop {
        tokio::select! {
            got = receive(&socket, &mut buf) => {
                let (len, sender) = got.map_err(reading)?;
                deliver(&ctx, &fleet, &mut owners, &buf[..len], sender);
            }
            Some(done) = flushes.recv() => {
                // A bot's main process ended: what it said before is read out first.
                loop {
                    match socket.try_io(Interest::READABLE, || receive_now(&socket, &mut buf)) {
                        Ok((len, sender)) => deliver(&ctx, &fleet, &mut owners, &buf[..len], sender),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(reading(e)),
                    }
                }
                let _ = done.send(());
            }
        }
    }
}

/// Hands one datagram to the bot its sender belongs to, or counts it as a stranger's.
fn deliver(
    ctx: &Context,
    fleet: &Fleet,
    owners: &mut Owners,
    datagram: &[u8],
    sender: Option<u32>,
) {
    let notices = parse(datagram);
    if notices.is_empty() {
        return;
    }
    let Some(pid) = sender else {
        ctx.ignore_notify(0, "no sender credentials");
        return;
    };
    match owners.find(fleet, pid) {
        Some(bot) => {
            bot.send(Command::Notify {
                from: pid,
                notices: notices.into(),
            });
        }
        None => ctx.ignore_notify(pid, "not a bot's process"),
    }
}

/// One datagram and its sender's pid (from SCM_CREDENTIALS).
async fn receive(socket: &UnixDatagram, buf: &mut [u8]) -> io::Result<(usize, Option<u32>)> {
    socket
        .async_io(Interest::READABLE, || receive_now(socket, buf))
        .await
}

/// One datagram waiting in the socket, without waiting (WouldBlock when there is none).
fn receive_now(socket: &UnixDatagram, buf: &mut [u8]) -> io::Result<(usize, Option<u32>)> {
    let mut iov = [IoSliceMut::new(&mut *buf)];
    // Room for the credentials only: descriptors sent along (FDSTORE=) do not fit
    // and are closed by the kernel, never installed here.
    let mut space = nix::cmsg_space!(UnixCredentials);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let pid = msg
        .cmsgs()
        .ok()
        .into_iter()
        .flatten()
        .find_map(|c| match c {
            ControlMessageOwned::ScmCredentials(c) => u32::try_from(c.pid()).ok(),
            _ => None,
        });
    Ok((msg.bytes, pid))
}

/// Which bot a sender belongs to: by its cgroup (/proc/PID/cgroup) where bots get one each,
/// else by process tree: the sender is a bot's main process or runs under one.
#[derive(Default)]
struct Owners {
    /// Bots by the pid of their main process, as last read from the fleet.
    mains: HashMap<u32, BotHandle>,
    built: Option<Instant>,
}

impl Owners {
    fn find(&mut self, fleet: &Fleet, pid: u32) -> Option<BotHandle> {
        // A process in a bot's cgroup is the bot's, wherever it moved in the process tree.
        if let Some(cgroup) = crate::contain::cgroup_of(pid) {
            let name = cgroup.dir.file_name()?.to_str()?.to_string();
            return fleet.read(|r| r.bots.get(&name).map(|e| e.handle.clone()));
        }
        if let Some(bot) = self.by_process_tree(pid) {
            return Some(bot);
        }
        if self.built.is_some_and(|t| t.elapsed() < REBUILD_EVERY) {
            return None;
        }
        self.mains = fleet.read(|r| {
            r.bots
                .values()
                .filter_map(|e| Some((e.handle.pid()?, e.handle.clone())))
                .collect()
        });
        self.built = Some(Instant::now());
        self.by_process_tree(pid)
    }

    fn by_process_tree(&self, pid: u32) -> Option<BotHandle> {
        owner_in_tree(pid, &self.mains, parent_of, |bot, main| {
            bot.pid() == Some(main)
        })
    }
}

/// The bot whose main pid is `pid` or one of its ancestors, and still is (`current`): a map
/// a moment old may name a process that has since ended.
fn owner_in_tree<B: Clone>(
    pid: u32,
    mains: &HashMap<u32, B>,
    parent: impl Fn(u32) -> Option<u32>,
    current: impl Fn(&B, u32) -> bool,
) -> Option<B> {
    up_the_tree(pid, parent, |p| {
        mains.get(&p).filter(|b| current(b, p)).cloned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_maps_to_the_bot_whose_tree_it_is_in() {
        // 1 ─ 50 (shell) ─ 100 (bot a) ─ 101 ─ 102;  1 ─ 200 (bot b);  1 ─ 300 (stranger)
        let tree = |p: u32| match p {
            50 | 200 | 300 => Some(1),
            100 => Some(50),
            101 => Some(100),
            102 => Some(101),
            _ => None,
        };
        let mains = HashMap::from([(100, "a"), (200, "b"), (999, "gone")]);
        let live = |_: &&str, main: u32| main != 999;
        let find = |pid| owner_in_tree(pid, &mains, tree, live);
        assert_eq!(find(100), Some("a"));
        assert_eq!(find(102), Some("a"));
        assert_eq!(find(200), Some("b"));
        assert_eq!(find(300), None);
        assert_eq!(find(50), None, "a bot's parent is not the bot");
        assert_eq!(find(999), None, "a main pid that is no longer the bot's");
        assert_eq!(find(4242), None, "a process that has gone");
    }

    #[tokio::test]
    async fn the_socket_takes_anyones_datagrams_and_says_who_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("notify.sock");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "stale").unwrap();
        let socket = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666, "bots of other accounts can send");
        let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
        client.send_to(b"READY=1\nSTATUS=hi", &path).unwrap();
        let mut buf = vec![0u8; DATAGRAM_MAX];
        let (len, pid) = receive(&socket, &mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=hi");
        assert_eq!(pid, Some(std::process::id()));
    }
}
