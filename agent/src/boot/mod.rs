//! Start-up: the store and the configuration read side by side, the fleet loaded, the ops
//! and the services wired, every long-lived loop started through `supervise`, readiness
//! reported; then the signals that end or reload the agent.

pub mod rebind;
pub mod sdnotify;
pub mod services;
pub mod supervise;
mod trim;

use std::sync::Arc;
use std::time::Duration;

use botctl_proto::Paths;
use tokio::signal::unix::{SignalKind, signal};

use crate::context::{Context, Shutdown};
use crate::events::{Actor, Event, EventKind};
use crate::fleet::{Files, Fleet};
use crate::loops;
use crate::ops::{self, Ops, Who};
use crate::remote::AgentControl;
use crate::server;
use crate::store::Store;
use crate::util::log_line;
use supervise::{supervise, supervise_thread};

/// How long after start-up the agent drops the clean pages of its code (see `trim`).
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Runs the agent on its bound socket until it is asked to stop; `ready` is told once the
/// socket answers `hello`.
pub async fn serve(
    paths: &Paths,
    bound: rebind::Bound,
    ready: impl FnOnce(&str),
) -> anyhow::Result<()> {
    let (sockets_tx, sockets) = bound.into_sockets()?;
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
    let started_at_ms = botctl_proto::now_ms();
    let (loaded, ops_rx) = tokio::sync::watch::channel(None);
    let gate = server::Gate {
        agent: ops::agent::Identity {
            started_at_ms,
            home: paths.home.clone(),
        },
        ops: ops_rx,
    };
    // Bare until there is a context to report a panic to; `start_loops` then supervises it.
    let early = tokio::spawn(server::serve(sockets.clone(), gate.clone()));
    ready("ready");
    // Under systemd (Type=notify) the unit is started once this arrives.
    let _ = sdnotify::notify("READY=1");
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
    let record = |kind: EventKind, message: String| ctx.record(Event::new(kind, message));
    if let Some(problem) = problem {
        log_line(format_args!("botctl agent: {problem}"));
        record(EventKind::StoreError, problem);
    }
    let opened = store.take_opened();
    // After a clean exit the registry names every bot process; otherwise (a crash, a kill,
    // a lost or new database) the live processes are searched too.
    let registry_complete = store.clean_exit();
    phase("registry read");
    // Before the first bot starts: its NOTIFY_SOCKET must answer from its first moment. A
    // failure here is the notify loop's first error (an event, and binding again later).
    let notify_socket = Arc::new(std::sync::Mutex::new(
        loops::notify_socket::bind(&paths.notify_socket).ok(),
    ));
    let fleet = Fleet::new(ctx.clone());
    // Once the configuration is read, before any bot is adopted or started: containment is
    // decided, and empty cgroups an earlier agent left for bots it did not record (removed
    // bots) are removed, before any bot can be in one. The cgroups of recorded bots hold
    // their processes (a failed rmdir each, worth skipping) or are made anew at their start.
    // The fleet asks for this after checking the recorded processes, while the
    // configuration may still be being read.
    let recorded: std::collections::HashSet<String> =
        opened.registry.iter().map(|r| r.name.clone()).collect();
    let files = || {
        let files = match files.map(|t| t.join()) {
            Ok(Ok(files)) => files,
            _ => Files::read(paths),
        };
        let contained = crate::contain::decide(files.containment(), &paths.home);
        if let Some((_, tree)) = &contained.cgroups {
            tree.sweep(|name| recorded.contains(name));
        }
        phase("containment decided");
        files
    };
    let report = fleet.load(files, opened, registry_complete).await;
    phase("fleet loaded");
    let rows = fleet.read(|r| r.list(None, botctl_proto::now_ms()));
    let bots = rows.len();
    let running = rows
        .iter()
        .filter(|b| b.state == botctl_proto::BotState::Running)
        .count();
    let shutdown = Arc::new(Shutdown::default());
    let (auth, auth_requests) = loops::auth::Monitor::new(ctx.clone(), fleet.clone());
    // The services live above the ops; the ops reach them through this once they exist.
    let services_slot: Arc<std::sync::OnceLock<Arc<services::Services>>> = Arc::default();
    let slot = services_slot.clone();
    let ops = Arc::new(Ops {
        ctx: ctx.clone(),
        fleet: fleet.clone(),
        auth: auth.clone(),
        shutdown: shutdown.clone(),
        reconfigure: Box::new(move |global| {
            if let Some(s) = slot.get() {
                s.apply(global);
            }
        }),
        rows: Default::default(),
    });
    let services = services::Services::new(ctx.clone(), Arc::new(AgentControl::new(ops.clone())));
    let _ = services_slot.set(services.clone());
    services.apply(&fleet.global());
    record(
        EventKind::AgentStarted,
        format!(
            "agent {} started (pid {}): {} bots, {} running, {} config problems",
            botctl_proto::VERSION,
            std::process::id(),
            bots,
            running,
            report.issues.len()
        ),
    );

    let _ = loaded.send(Some(ops.clone()));
    phase("serving");
    // Start-up is over: its code need not stay resident. Dropped a moment later, not on the
    // way to the first answers (reading smaps and faulting back in cost those a millisecond
    // or two).
    tokio::spawn(async {
        tokio::time::sleep(TRIM_AFTER).await;
        let _ = tokio::task::spawn_blocking(trim::drop_clean_file_pages).await;
    });
    early.abort();
    let rpc = Rpc {
        sockets,
        sockets_tx: Arc::new(sockets_tx),
        gate,
    };
    start_loops(&ctx, &fleet, rpc, auth, auth_requests, notify_socket);

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            by = shutdown.requested() => {
                // The request stopped (or let go of) the bots; any added since are let go
                // of too, so that no bot task is left to start a process after the last write.
                fleet.shutdown(true, &by).await;
                ctx.record(
                    Event::new(EventKind::AgentStopped, "agent stopped by `botctl agent stop`")
                        .by(&by),
                );
                break;
            }
            // A signal ends the agent but not the bots: the next agent adopts them. This is
            // what an upgrade or a service manager restarting the agent needs.
            _ = term.recv() => {
                fleet.shutdown(true, &Actor::Agent).await;
                record(EventKind::AgentStopped, "agent stopped by SIGTERM; bots left running".into());
                break;
            }
            _ = int.recv() => {
                fleet.shutdown(true, &Actor::Agent).await;
                record(EventKind::AgentStopped, "agent stopped by SIGINT; bots left running".into());
                break;
            }
            _ = hup.recv() => {
                ops::reload::on_hangup(&ops, &Who::admin(Actor::Agent)).await;
            }
        }
    }
    let _ = sdnotify::notify("STOPPING=1");
    crate::contain::release();
    ops.ctx.tokens.flush_uses();
    store.close_cleanly().await;
    Ok(())
}

/// What the RPC server runs on: the socket (bound again by the keeper when removed) and
/// the gate that answers `hello` before the fleet is loaded.
struct Rpc {
    sockets: server::Sockets,
    sockets_tx: Arc<tokio::sync::watch::Sender<Arc<server::Socket>>>,
    gate: server::Gate,
}

/// Every long-lived loop, each through `supervise`: the RPC server and its socket keeper,
/// the auth monitor, log rotation, cleanup and the health sampler's thread.
fn start_loops(
    ctx: &Arc<Context>,
    fleet: &Arc<Fleet>,
    rpc: Rpc,
    auth: Arc<loops::auth::Monitor>,
    auth_requests: tokio::sync::mpsc::UnboundedReceiver<String>,
    notify_socket: Arc<std::sync::Mutex<Option<tokio::net::UnixDatagram>>>,
) {
    {
        let Rpc {
            sockets,
            sockets_tx,
            gate,
        } = rpc;
        tokio::spawn(supervise("rpc server", ctx.clone(), move || {
            Box::pin(server::serve(sockets.clone(), gate.clone()).map_ok())
        }));
        let c = ctx.clone();
        tokio::spawn(supervise("socket keeper", ctx.clone(), move || {
            Box::pin(rebind::keep(c.clone(), sockets_tx.clone()).map_ok())
        }));
    }
    {
        let requests = Arc::new(tokio::sync::Mutex::new(auth_requests));
        tokio::spawn(supervise("auth monitor", ctx.clone(), move || {
            let (auth, requests) = (auth.clone(), requests.clone());
            Box::pin(async move {
                auth.run(requests).await;
                Ok(())
            })
        }));
    }
    {
        let (c, f) = (ctx.clone(), fleet.clone());
        tokio::spawn(supervise("log rotation", ctx.clone(), move || {
            Box::pin(loops::logs::run(c.clone(), f.clone()).map_ok())
        }));
    }
    {
        let (c, f) = (ctx.clone(), fleet.clone());
        tokio::spawn(supervise("cleanup", ctx.clone(), move || {
            Box::pin(loops::cleanup::run(c.clone(), f.clone()).map_ok())
        }));
    }
    {
        let (c, f) = (ctx.clone(), fleet.clone());
        tokio::spawn(supervise("bots' notify socket", ctx.clone(), move || {
            Box::pin(loops::notify_socket::run(
                c.clone(),
                f.clone(),
                notify_socket.clone(),
            ))
        }));
    }
    if crate::contain::in_force()
        .is_some_and(|f| f.kind == botctl_proto::ContainmentKind::Subreaper)
    {
        tokio::spawn(supervise("orphan reaper", ctx.clone(), move || {
            Box::pin(crate::contain::tree::reap_forever())
        }));
    }
    if let Some(every) = sdnotify::watchdog_every() {
        tokio::spawn(supervise("systemd watchdog", ctx.clone(), move || {
            Box::pin(sdnotify::watchdog(every).map_ok())
        }));
    }
    let (c, f) = (ctx.clone(), fleet.clone());
    if let Err(e) = supervise_thread("health sampler", ctx.clone(), move || {
        loops::sampler::run(c.clone(), f.clone())
    }) {
        ctx.record(Event::new(
            EventKind::HealthError,
            format!("cannot sample processes: {e}"),
        ));
    }
}

/// A loop that returns nothing, as a component run (its end is unexpected).
trait MapOk: std::future::Future<Output = ()> + Sized {
    fn map_ok(self) -> impl std::future::Future<Output = Result<(), String>> {
        async move {
            self.await;
            Ok(())
        }
    }
}

impl<F: std::future::Future<Output = ()>> MapOk for F {}
