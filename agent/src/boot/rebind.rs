//! Keeps the agent reachable at `run/agent.sock`: binds it (and writes `run/agent.pid`), and
//! binds both again when the runtime directory or the socket is removed under a live agent.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use botctl_proto::Paths;
use tokio::sync::watch;

use crate::context::Context;
use crate::events::{Event, EventKind};
use crate::server::{Socket, Sockets};
use crate::util::log_line;
use crate::watch::DirWatcher;

/// A look at the socket besides inotify's word (a watch is lost with its directory).
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// A removal is often one step of several (`rm -rf run`): let it finish before binding.
const SETTLE: Duration = Duration::from_millis(200);

/// A socket bound before the runtime runs (the listener is registered with it later).
pub struct Bound {
    listener: std::os::unix::net::UnixListener,
    id: (u64, u64),
}

impl Bound {
    /// The socket as the runtime serves it.
    fn into_socket(self) -> anyhow::Result<Arc<Socket>> {
        Ok(Arc::new(Socket {
            listener: tokio::net::UnixListener::from_std(self.listener)?,
            id: self.id,
        }))
    }

    /// The socket for the runtime, and its sender, to bind it again.
    pub fn into_sockets(self) -> anyhow::Result<(watch::Sender<Arc<Socket>>, Sockets)> {
        Ok(watch::channel(self.into_socket()?))
    }
}

/// Binds the socket and writes the pid file. Only the lock holder calls it, so any file at
/// the socket's path belongs to a dead agent (or a stray one) and is replaced.
pub fn bind(paths: &Paths) -> anyhow::Result<Bound> {
    std::fs::create_dir_all(&paths.run_dir)
        .with_context(|| format!("creating {}", paths.run_dir.display()))?;
    // Searchable by all (not listable): bots running as their owners' accounts reach
    // notify.sock; agent.sock stays the agent user's (0600, and the peer's uid is checked).
    std::fs::set_permissions(&paths.run_dir, std::fs::Permissions::from_mode(0o711))
        .with_context(|| format!("setting permissions of {}", paths.run_dir.display()))?;
    match std::fs::remove_file(&paths.socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("removing stale {}", paths.socket.display())),
    }
    let listener = std::os::unix::net::UnixListener::bind(&paths.socket)
        .with_context(|| format!("binding {}", paths.socket.display()))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    let meta = std::fs::symlink_metadata(&paths.socket)?;
    write_pid(paths)?;
    Ok(Bound {
        listener,
        id: (meta.dev(), meta.ino()),
    })
}

fn write_pid(paths: &Paths) -> anyhow::Result<()> {
    crate::util::write_atomically_volatile(&paths.pid_file, &format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", paths.pid_file.display()))
}

/// Watches the socket for the life of the agent (run through `supervise`); when the socket
/// file is no longer the one it bound (removed with its directory at logout, deleted by
/// hand), binds a new one and hands it to the RPC server, so that the next command finds
/// this agent instead of starting a second one.
pub async fn keep(ctx: Arc<Context>, sockets: Arc<watch::Sender<Arc<Socket>>>) {
    let paths = ctx.paths.clone();
    let watcher = DirWatcher::new().ok();
    let follow = |w: &DirWatcher| {
        use nix::sys::inotify::AddWatchFlags as F;
        let _ = w.add(&paths.run_dir, F::IN_DELETE | F::IN_MOVED_FROM);
    };
    if let Some(w) = &watcher {
        follow(w);
    }
    loop {
        tokio::select! {
            _ = async {
                match &watcher {
                    Some(w) => { w.next().await; }
                    None => std::future::pending().await,
                }
            } => tokio::time::sleep(SETTLE).await,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let id = sockets.borrow().id;
        let ours = std::fs::symlink_metadata(&paths.socket).is_ok_and(|m| (m.dev(), m.ino()) == id);
        if ours {
            if !paths.pid_file.exists()
                && let Err(e) = write_pid(&paths)
            {
                log_line(format_args!("botctl agent: {e:#}"));
            }
            continue;
        }
        match bind(&paths).and_then(Bound::into_socket) {
            Ok(socket) => {
                sockets.send_replace(socket);
                if let Some(w) = &watcher {
                    follow(w);
                }
                ctx.record(Event::new(
                    EventKind::AgentSocketRestored,
                    format!(
                        "{} was removed under the running agent (pid {}): bound it again",
                        paths.socket.display(),
                        std::process::id()
                    ),
                ));
            }
            // Tried again at the next check; the lock still keeps a second agent out.
            Err(e) => log_line(format_args!("botctl agent: rebinding the socket: {e:#}")),
        }
    }
}
