//! Keeps the agent reachable at `run/agent.sock`: binds it (and writes `run/agent.pid`), and
//! binds both again when the runtime directory or the socket is removed under a live agent.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use botctl_proto::Paths;

use crate::store::NewEvent;
use crate::{Context, log_line, server, watch};

/// A look at the socket besides inotify's word (a watch is lost with its directory).
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// A removal is often one step of several (`rm -rf run`): let it finish before binding.
const SETTLE: Duration = Duration::from_millis(200);

/// A socket this agent bound, and which file it is (device, inode).
pub struct Bound {
    listener: std::os::unix::net::UnixListener,
    id: (u64, u64),
}

impl Bound {
    /// Starts accepting on the socket: `hello` is answered from here on.
    pub fn serve(self, gate: &server::Gate) -> Serving {
        Serving {
            id: self.id,
            task: spawn_server(self.listener, gate),
        }
    }
}

/// A socket being served: which file it is and the task accepting on it.
pub struct Serving {
    id: (u64, u64),
    task: tokio::task::JoinHandle<()>,
}

/// Binds the socket and writes the pid file. Only the lock holder calls it, so any file at
/// the socket's path belongs to a dead agent (or a stray one) and is replaced.
pub fn bind(paths: &Paths) -> anyhow::Result<Bound> {
    std::fs::create_dir_all(&paths.run_dir)
        .with_context(|| format!("creating {}", paths.run_dir.display()))?;
    std::fs::set_permissions(&paths.run_dir, std::fs::Permissions::from_mode(0o700))
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
    crate::fleet::write_atomically_volatile(&paths.pid_file, &format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", paths.pid_file.display()))
}

/// The task that keeps the socket; ended when dropped, so that an agent on its way out does
/// not bind again the socket it is removing.
pub struct Keeper(tokio::task::JoinHandle<()>);

impl Drop for Keeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts [`keep`].
pub fn start(ctx: Arc<Context>, gate: server::Gate, serving: Serving) -> Keeper {
    Keeper(tokio::spawn(keep(ctx, gate, serving)))
}

/// Serves the socket for the life of the agent; when the socket file is no longer the one
/// it bound (removed with its directory at logout, deleted by hand), binds a new one, so
/// that the next command finds this agent instead of starting a second one.
async fn keep(ctx: Arc<Context>, gate: server::Gate, serving: Serving) {
    let paths = ctx.paths.clone();
    let watcher = watch::DirWatcher::new().ok();
    let follow = |w: &watch::DirWatcher| {
        use nix::sys::inotify::AddWatchFlags as F;
        let _ = w.add(&paths.run_dir, F::IN_DELETE | F::IN_MOVED_FROM);
    };
    if let Some(w) = &watcher {
        follow(w);
    }
    let mut id = serving.id;
    let mut serving = serving.task;
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
        let ours = std::fs::symlink_metadata(&paths.socket).is_ok_and(|m| (m.dev(), m.ino()) == id);
        if ours {
            if !paths.pid_file.exists()
                && let Err(e) = write_pid(&paths)
            {
                log_line(format_args!("botctl agent: {e:#}"));
            }
            continue;
        }
        match bind(&paths) {
            Ok(bound) => {
                id = bound.id;
                serving.abort();
                serving = spawn_server(bound.listener, &gate);
                if let Some(w) = &watcher {
                    follow(w);
                }
                ctx.record(NewEvent {
                    bot: None,
                    owner: None,
                    kind: "agent-socket-restored".into(),
                    message: format!(
                        "{} was removed under the running agent (pid {}): bound it again",
                        paths.socket.display(),
                        std::process::id()
                    ),
                });
            }
            // Tried again at the next check; the lock still keeps a second agent out.
            Err(e) => log_line(format_args!("botctl agent: rebinding the socket: {e:#}")),
        }
    }
}

fn spawn_server(
    listener: std::os::unix::net::UnixListener,
    gate: &server::Gate,
) -> tokio::task::JoinHandle<()> {
    let gate = gate.clone();
    tokio::spawn(async move {
        match tokio::net::UnixListener::from_std(listener) {
            Ok(listener) => server::serve(listener, gate).await,
            Err(e) => log_line(format_args!("botctl agent: serving the socket: {e}")),
        }
    })
}
