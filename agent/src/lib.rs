//! The botctl agent: one per home, started on demand by the CLI. It owns the lock that makes it
//! the only agent, the RPC socket, the store and the supervised fleet.

pub mod auth;
pub mod fleet;
pub mod health;
pub mod logs;
pub mod notify;
pub mod process;
pub mod rebind;
pub mod remote;
pub mod secret;
pub mod server;
pub mod services;
pub mod storage;
pub mod store;
pub mod supervisor;
pub mod watch;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use botctl_proto::paths::READY_FD_ENV;
use botctl_proto::{Paths, now_ms};
use tokio::signal::unix::{SignalKind, signal};

use crate::fleet::{Files, Fleet};
use crate::store::{NewEvent, Store};

/// Threads of the agent's runtime.
const WORKERS: usize = 2;
/// How often every log is checked against `[logs] max_size_mb` besides inotify's word.
const LOG_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The first sweep comes this long after the agent starts.
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(2);
/// A log is copied aside at most this often; faster growth is a flood and is only truncated.
const FLOOD_COPY_EVERY: Duration = Duration::from_secs(1);
/// A flood is reported at most this often per log.
const FLOOD_REPORT_EVERY: Duration = Duration::from_secs(60);

/// Writes a line to the agent's log (its stderr). Not `eprintln!`, which panics when the write
/// fails: the log lives in the home, whose disk may be the one that is full.
pub(crate) fn log_line(line: std::fmt::Arguments<'_>) {
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("{line}\n"));
}

/// Lowers the calling thread's scheduling priority (nice 10): for background work (health
/// sampling, the store's writes), so that on a busy machine it never delays a request, a
/// restart or an agent's start, which run at the normal priority.
pub(crate) fn background_thread() {
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

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

/// What every component of the agent shares.
pub struct Context {
    pub paths: Paths,
    pub store: Store,
    /// Each bot's latest spawn, written before the store has it.
    pub spawn_records: supervisor::spawn_record::SpawnRecords,
    pub started_at_ms: i64,
    /// The host at the last health sample.
    pub host: std::sync::Mutex<Option<botctl_proto::HostInfo>>,
    /// Wakes the cleanup loop before its interval (disk use crossed max_disk_percent).
    pub cleanup_now: tokio::sync::Notify,
    /// Asks the auth monitor to check a bot soon (set once the monitor runs).
    pub auth_requests: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<String>>,
    /// Events that deserve a notification become alerts here.
    pub alerts: notify::Alerts,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl Context {
    pub fn new(paths: Paths, store: Store) -> Context {
        Context {
            spawn_records: supervisor::spawn_record::SpawnRecords::new(&paths),
            paths,
            store,
            started_at_ms: now_ms(),
            host: std::sync::Mutex::new(None),
            cleanup_now: tokio::sync::Notify::new(),
            auth_requests: std::sync::OnceLock::new(),
            alerts: notify::Alerts::default(),
            http: std::sync::OnceLock::new(),
        }
    }

    /// Records an event, and alerts about it when it deserves one.
    pub fn record(&self, event: NewEvent) {
        self.alerts.on_event(&event);
        self.store.record(event);
    }

    pub fn notifier(&self) -> notify::Notifier {
        self.alerts.notifier()
    }

    pub fn request_auth_check(&self, bot: &str) {
        if let Some(tx) = self.auth_requests.get() {
            let _ = tx.send(bot.to_string());
        }
    }

    /// One HTTP client for the agent, built on first use (its TLS setup is not free).
    pub fn http_client(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("botctl/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default()
        })
    }
}

/// A request to end the agent, from the RPC `shutdown`.
#[derive(Default)]
pub struct Shutdown {
    notify: tokio::sync::Notify,
}

impl Shutdown {
    pub fn request(&self) {
        self.notify.notify_one();
    }
}

/// `botctl agent run`: runs until asked to stop. Reports readiness on the ready fd if the
/// CLI passed one.
pub fn run(paths: Paths) -> anyhow::Result<()> {
    one_malloc_arena();
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
    let bound = rebind::bind(paths)?;
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
            let result = serve(&owned_paths, bound, &mut owned_ready).await;
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

async fn serve(paths: &Paths, bound: rebind::Bound, ready: &mut ReadyPipe) -> anyhow::Result<()> {
    // BOTCTL_TRACE_STARTUP=1 logs how long each phase of the start takes.
    let t0 = std::time::Instant::now();
    let trace = std::env::var_os("BOTCTL_TRACE_STARTUP").is_some();
    let phase = |what: &str| {
        if trace {
            let mut cpu = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes the timespec we pass.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut cpu) };
            let cpu = Duration::new(cpu.tv_sec as u64, cpu.tv_nsec as u32);
            log_line(format_args!(
                "startup: {what} at {:?} (CPU of the starting thread {cpu:?})",
                t0.elapsed()
            ));
        }
    };
    // Ready once the socket answers `hello`, before anything that can be slow: the database
    // (an fsync on a busy disk) and the fleet (adopting every bot, searching /proc after a
    // crash, which grows with the fleet). Calls that need them wait for them instead.
    let started_at_ms = now_ms();
    let (loaded, handler) = tokio::sync::watch::channel(None);
    let gate = server::Gate {
        agent: server::Identity {
            started_at_ms,
            home: paths.home.clone(),
        },
        handler,
    };
    let serving = bound.serve(&gate);
    ready.send("ready");
    phase("ready");
    let files = {
        let paths = paths.clone();
        std::thread::Builder::new()
            .name("read-config".into())
            .spawn(move || Files::read(&paths))
    };
    let (store, problem) = Store::open(&paths.db_file);
    phase("store open");
    let mut context = Context::new(paths.clone(), store.clone());
    context.started_at_ms = started_at_ms;
    let ctx = Arc::new(context);
    let _keeper = rebind::start(ctx.clone(), gate, serving);
    let record = |kind: &str, message: String| {
        ctx.record(NewEvent {
            bot: None,
            owner: None,
            kind: kind.into(),
            message,
        })
    };
    if let Some(problem) = problem {
        log_line(format_args!("botctl agent: {problem}"));
        record("store-error", problem);
    }
    let opened = store.take_opened();
    // After a clean exit the registry names every bot process; otherwise (a crash, a kill,
    // a lost or new database) the live processes are searched too.
    let registry_complete = store.clean_exit();
    phase("registry read");
    let fleet = Fleet::new(ctx.clone());
    let services = services::Services::new(ctx.clone(), fleet.clone());
    let files = || match files.map(|t| t.join()) {
        Ok(Ok(files)) => files,
        _ => Files::read(paths),
    };
    let report = fleet.load(files, opened, registry_complete).await;
    phase("fleet loaded");
    let bots = fleet.list(None);
    let running = bots
        .iter()
        .filter(|b| b.state == botctl_proto::BotState::Running)
        .count();
    let shutdown = Arc::new(Shutdown::default());
    let auth = auth::Monitor::start(ctx.clone(), fleet.clone());
    services.apply(&fleet.global());
    let handler = server::Handler {
        ctx: ctx.clone(),
        fleet: fleet.clone(),
        shutdown: shutdown.clone(),
        auth,
        services: services.clone(),
    };
    record(
        "agent-started",
        format!(
            "agent {} started (pid {}): {} bots, {} running, {} config problems",
            botctl_proto::VERSION,
            std::process::id(),
            bots.len(),
            running,
            report.issues.len()
        ),
    );

    let _ = loaded.send(Some(handler));
    phase("serving");
    tokio::spawn(rotate_logs(ctx.clone(), fleet.clone()));
    tokio::spawn(cleanup_loop(ctx.clone(), fleet.clone()));
    if let Err(e) = health::Sampler::new(ctx.clone(), fleet.clone()).and_then(|s| Ok(s.start()?)) {
        record("health-error", format!("cannot sample processes: {e}"));
    }

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = shutdown.notify.notified() => {
                // The request stopped (or let go of) the bots; any added since are let go
                // of too, so that no bot task is left to start a process after the last write.
                fleet.shutdown(true).await;
                record("agent-stopped", "agent stopped by `botctl agent stop`".into());
                break;
            }
            // A signal ends the agent but not the bots: the next agent adopts them. This is
            // what an upgrade or a service manager restarting the agent needs.
            _ = term.recv() => {
                fleet.shutdown(true).await;
                record("agent-stopped", "agent stopped by SIGTERM; bots left running".into());
                break;
            }
            _ = int.recv() => {
                fleet.shutdown(true).await;
                record("agent-stopped", "agent stopped by SIGINT; bots left running".into());
                break;
            }
            _ = hup.recv() => {
                let report = fleet.reload().await;
                services.apply(&fleet.global());
                record("reload", format!(
                    "reload on SIGHUP: {} added, {} changed, {} removed, {} config problems",
                    report.added.len(), report.changed.len(), report.removed.len(), report.issues.len()
                ));
            }
        }
    }
    store.close_cleanly().await;
    Ok(())
}

/// Rotates logs as they grow: inotify says which log was written (the kernel folds a flood
/// of writes into one event per wake-up), so a runaway bot cannot outgrow `max_size_mb` by
/// much; a slow sweep catches anything a watch missed.
async fn rotate_logs(ctx: Arc<Context>, fleet: Arc<Fleet>) {
    let dir = ctx.paths.logs_dir.clone();
    let _ = std::fs::create_dir_all(&dir);
    let watcher = watch::DirWatcher::new().ok().filter(|w| {
        w.add(&dir, nix::sys::inotify::AddWatchFlags::IN_MODIFY)
            .is_ok()
    });
    let mut last_copy: std::collections::HashMap<std::path::PathBuf, std::time::Instant> =
        std::collections::HashMap::new();
    let mut dropped: std::collections::HashMap<
        std::path::PathBuf,
        (u64, Option<std::time::Instant>),
    > = std::collections::HashMap::new();
    // The first sweep (logs that grew while no agent ran) a moment after the start, not
    // during the first requests of a freshly started agent.
    let mut sweep = tokio::time::interval_at(
        tokio::time::Instant::now() + FIRST_SWEEP_AFTER,
        LOG_SWEEP_EVERY,
    );
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let files: Vec<std::path::PathBuf> = tokio::select! {
            _ = sweep.tick() => {
                let mut files = fleet.log_files();
                files.push(fleet.agent_log());
                files
            }
            names = async {
                match &watcher {
                    Some(w) => w.next().await,
                    None => std::future::pending().await,
                }
            } => names
                .into_iter()
                .map(|(_, name)| dir.join(name))
                // Only live logs: NAME.out, NAME.err, agent.log; never the rotated copies.
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "out" || e == "err" || e == "log")
                })
                .collect(),
        };
        let settings = fleet.log_settings();
        let max = settings.max_size_mb.saturating_mul(1024 * 1024);
        let now = std::time::Instant::now();
        // A stat is cheaper than a trip to the blocking pool: only logs over the limit go on.
        let files: Vec<std::path::PathBuf> = files
            .into_iter()
            .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > max))
            .collect();
        if files.is_empty() {
            continue;
        }
        // A copy at most once a second per log; a log that fills faster is only truncated.
        let work: Vec<(std::path::PathBuf, bool)> = files
            .into_iter()
            .map(|f| {
                let copy = last_copy.get(&f).is_none_or(|t: &std::time::Instant| {
                    now.duration_since(*t) >= FLOOD_COPY_EVERY
                });
                (f, copy)
            })
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .filter_map(|(file, copy)| {
                    match logs::rotate_if_needed(&file, max, settings.keep, copy) {
                        Ok(logs::Rotation::None) => None,
                        Ok(r) => Some((file, r)),
                        Err(e) => {
                            log_line(format_args!("rotating {}: {e}", file.display()));
                            None
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (file, r) in done {
            match r {
                logs::Rotation::Rotated => {
                    last_copy.insert(file, now);
                }
                logs::Rotation::Dropped(bytes) => {
                    let d = dropped.entry(file.clone()).or_insert((0u64, None));
                    d.0 += bytes;
                    if d.1.is_none_or(|t: std::time::Instant| {
                        now.duration_since(t) >= FLOOD_REPORT_EVERY
                    }) {
                        let name = file
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let bot = logs_bot(&name);
                        ctx.record(NewEvent {
                            bot: bot.clone(),
                            owner: None,
                            kind: "log-flood".into(),
                            message: format!(
                                "logs/{name} fills faster than it can be rotated: {} MiB of output dropped so far",
                                d.0 / (1024 * 1024)
                            ),
                        });
                        d.1 = Some(now);
                    }
                }
                logs::Rotation::None => {}
            }
        }
        if last_copy.len() > 4096 {
            last_copy.retain(|_, t| now.duration_since(*t) < FLOOD_COPY_EVERY);
        }
        if dropped.len() > 4096 {
            dropped.clear();
        }
    }
}

/// `NAME.out` -> Some(NAME).
fn logs_bot(file: &str) -> Option<String> {
    storage::log_owner(file).map(str::to_string)
}

/// The agent's own cleanup: every `cleanup_interval`, and at once when the disk fills up.
async fn cleanup_loop(ctx: Arc<Context>, fleet: Arc<Fleet>) {
    let mut over_quota = std::collections::BTreeSet::new();
    loop {
        let interval = fleet.global().agent.cleanup_interval;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = ctx.cleanup_now.notified() => {}
        }
        let plan = fleet.cleanup_plan(None).await;
        if !plan.is_empty() {
            let report = fleet.cleanup_apply(plan).await;
            ctx.record(NewEvent {
                bot: None,
                owner: None,
                kind: "cleanup-freed".into(),
                message: format!(
                    "automatic cleanup removed {} item(s), {} bytes; {} left alone",
                    report.items.len(),
                    report.bytes,
                    report.failed.len()
                ),
            });
        }
        for owner in fleet.storage(None).owners {
            let was = over_quota.contains(&owner.owner);
            if owner.over_quota && !was {
                ctx.record(NewEvent {
                    bot: None,
                    owner: Some(owner.owner.clone()),
                    kind: "over-quota".into(),
                    message: format!(
                        "owner {} uses {} MiB, over storage_quota_mb = {}",
                        owner.owner,
                        owner.bytes_used.div_ceil(1024 * 1024),
                        owner.quota_bytes / (1024 * 1024)
                    ),
                });
                over_quota.insert(owner.owner.clone());
            } else if !owner.over_quota && was {
                over_quota.remove(&owner.owner);
                ctx.alerts.quota_ok(&owner.owner);
            }
        }
    }
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

/// Runs blocking work (reading files, walking directories) on the blocking pool: a slow disk
/// or a huge tree must not hold a runtime worker the other RPCs need. A panic stays a panic.
pub(crate) async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
