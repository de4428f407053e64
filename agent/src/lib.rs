//! The botctl agent: one per home, started on demand by the CLI. It owns the lock that makes it
//! the only agent, the RPC socket, the store and the supervised fleet.

pub mod auth;
pub mod boot;
pub mod bot;
pub mod contain;
pub mod context;
pub mod events;
pub mod fleet;
pub mod health;
pub mod http_client;
pub mod logs;
pub mod loops;
pub mod notify;
pub mod ops;
pub mod remote;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod spawn_record;
pub mod storage;
pub mod store;
pub mod tokens;
pub mod util;
pub mod watch;

#[cfg(test)]
mod layers;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};

use anyhow::{Context as _, bail};
use botctl_proto::Paths;
use botctl_proto::paths::READY_FD_ENV;

use crate::util::log_line;

/// Threads of the agent's runtime.
const WORKERS: usize = 2;

/// Makes every thread of the agent allocate from glibc's main heap. By default each thread
/// that allocates gets a heap of its own, and such a heap grows by one mprotect call per
/// page or two it needs (the main heap grows by 128 KiB steps): an agent adopting 200 bots
/// made about 340 of these calls while it started, where one heap makes none, and its memory
/// is a few hundred KiB smaller. The agent's threads are mostly asleep, so sharing one heap
/// costs them nothing noticeable. Called before the agent starts its threads.
fn one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes an allocator setting; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// `botctl agent run`: runs until asked to stop. Reports readiness on the ready fd if the
/// CLI passed one.
pub fn run(paths: Paths) -> anyhow::Result<()> {
    one_malloc_arena();
    bot::spawn::raise_open_files();
    let mut ready = ReadyPipe::from_env();
    // Started by hand or by an older CLI, the agent may hold descriptors of its caller's.
    botctl_proto::fds::close_inherited();
    let result = run_agent(&paths, &mut ready);
    if let Err(e) = &result {
        ready.send(&format!("error: {e:#}"));
    }
    result
}

fn run_agent(paths: &Paths, ready: &mut ReadyPipe) -> anyhow::Result<()> {
    ready.phase("taking the lock");
    let Some(_lock) = take_lock(paths)? else {
        ready.send("busy");
        log_line(format_args!(
            "botctl agent: another agent already runs for {} (lock {} is held)",
            paths.home.display(),
            paths.lock_file.display()
        ));
        return Ok(());
    };
    ready.phase("binding the socket");
    let bound = boot::rebind::bind(paths)?;
    ready.phase("starting the runtime");

    // Two workers: starting a bot blocks its worker while the kernel sets up the new
    // process (posix_spawn returns once the child has exec'd), so a fleet starts about twice
    // as fast on two cores; more workers than that gain nothing a bot could notice.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The agent's own work runs on a worker too: the bot tasks it spawns then start on the
    // workers' own queues instead of each waking a parked worker from outside.
    let mut owned_ready = std::mem::replace(ready, ReadyPipe(None));
    let owned_paths = paths.clone();
    let (result, back) = runtime.block_on(async move {
        let served = tokio::spawn(async move {
            let result = boot::serve(&owned_paths, bound, |line| owned_ready.send(line)).await;
            (result, owned_ready)
        });
        match served.await {
            Ok((result, ready)) => (result, Some(ready)),
            Err(e) => (
                Err(anyhow::anyhow!("the agent's main task failed: {e}")),
                None,
            ),
        }
    });
    if let Some(back) = back {
        *ready = back;
    }
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.pid_file);
    result
}

/// Holds `state/agent.lock` for the life of the agent; `None` when another agent holds it.
/// It lives with the data, not in the runtime directory, which can vanish under a running
/// agent (logind removes it at logout): a lock there would let a second agent in. It names
/// its holder, so that commands find the agent by its lock when its socket is gone.
fn take_lock(paths: &Paths) -> anyhow::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = paths.lock_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        // Whatever is put at its path (a FIFO, say) must not hang the agent's start.
        .custom_flags(libc::O_NONBLOCK)
        .open(&paths.lock_file)
        .with_context(|| format!("opening {}", paths.lock_file.display()))?;
    // SAFETY: flock on an fd we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("writing {}", paths.lock_file.display()))?;
        return Ok(Some(file));
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(None);
    }
    bail!("locking {}: {err}", paths.lock_file.display())
}

/// The write end of the CLI's readiness pipe, if this agent was started by a CLI.
struct ReadyPipe(Option<File>);

impl ReadyPipe {
    fn from_env() -> ReadyPipe {
        let fd = std::env::var(READY_FD_ENV)
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|fd| *fd > 2);
        ReadyPipe(fd.and_then(|fd| {
            // SAFETY: F_GETFD only checks that the fd is open; we then own it. CLOEXEC keeps
            // it out of the bots we spawn.
            unsafe {
                if libc::fcntl(fd, libc::F_GETFD) == -1 {
                    return None;
                }
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                Some(File::from_raw_fd(fd))
            }
        }))
    }

    /// Says what the agent is doing now, so that a CLI that gives up waiting can say it.
    fn phase(&mut self, what: &str) {
        if let Some(f) = &mut self.0 {
            let _ = writeln!(f, "phase: {what}");
        }
    }

    fn send(&mut self, line: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = writeln!(f, "{line}");
        }
    }
}
