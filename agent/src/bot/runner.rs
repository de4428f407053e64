//! The runner of one bot: a task that owns its process, feeds the pure state machine with what
//! happens (commands, exits seen through the pidfd, timers) and carries out its actions.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use botctl_proto::config::{BotConfig, EnvFile, RestartPolicy, Schedule};
use botctl_proto::{Action as UserAction, BotOutcome, BotState, ExitInfo, Paths, now_ms};
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;

use super::containment;
use super::envfile;
use super::liveness::{Liveness, Note, Notice, Verdict, Watches};
use super::machine::{Action, EventKind, Exit, Input, Machine, Phase, Policy, Saved, Standing};
use super::process::{self, BotProcess, SpawnSpec};
use super::{BotHandle, OutputSeen};
use crate::context::Context;
use crate::events::{Actor, Cause, Event, exited_with};
use crate::spawn_record::{Spawn, boot_ticks};
use crate::store::{RegistryRow, StoredExit, Supervision, Wanted};

/// After SIGKILL, how long to wait for the group to disappear before reporting it stopped anyway.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How often to look for survivors of a stopping group once its leader is gone.
const GROUP_POLL: Duration = Duration::from_millis(10);
/// The longest a crash of an sd_notify bot waits for the notify socket's backlog to be read.
const NOTIFY_FLUSH_WAIT: Duration = Duration::from_millis(100);

/// What a bot task needs from the configuration besides its own file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: RestartPolicy,
    pub contain: containment::Wanted,
}

/// The machine's policy for this bot: its restart policy and whether it waits for READY=1.
fn policy_of(settings: &Settings, watches: Watches) -> Policy {
    Policy {
        wait_ready: watches.ready.is_some(),
        ..Policy::from(&settings.policy)
    }
}

impl Settings {
    pub fn of(config: &BotConfig, global: &botctl_proto::config::GlobalConfig) -> Settings {
        Settings {
            policy: config.policy(global),
            contain: containment::Wanted::of(config, global),
        }
    }
}

/// A schedule with its next run after now, if the calendar has one.
fn planned(schedule: Option<Schedule>) -> Option<(Schedule, Option<(Instant, SystemTime)>)> {
    let schedule = schedule?;
    let next = schedule.next_after(SystemTime::now()).and_then(until);
    Some((schedule, next))
}

/// `wall` on the monotonic clock too, as the runner's timers need.
fn until(wall: SystemTime) -> Option<(Instant, SystemTime)> {
    let wait = wall.duration_since(SystemTime::now()).unwrap_or_default();
    Some((Instant::now().checked_add(wait)?, wall))
}

/// A user's start, stop, restart or recover, and who asked.
pub struct UserCommand {
    pub action: UserAction,
    pub by: Actor,
    pub reply: oneshot::Sender<BotOutcome>,
}

/// What the auth monitor saw of the bot's session.
pub struct AuthSeen {
    /// The outcome label `status` shows.
    pub label: String,
    pub verdict: AuthVerdict,
}

pub enum AuthVerdict {
    /// Invalid with `on_invalid = "stop"`: park the bot, saying why.
    Park(String),
    /// Valid again after it was invalid: a parked bot starts again.
    Release,
    /// Nothing to do (unknown, alert only, still valid).
    Keep,
}

/// What a bot task is asked to do. Kept small (the settings are boxed): each bot's channel
/// allocates room for 32 of them up front, which at 128 bytes each made the channels the
/// largest part of the agent's memory per bot.
pub enum Command {
    User(Box<UserCommand>),
    Reconfigure(Arc<BotConfig>, Box<Settings>),
    /// Replace the running process (a limit, a health check, host pressure); counts toward
    /// the restart-rate limit.
    Recycle {
        kind: EventKind,
        reason: String,
    },
    /// The auth monitor's verdict: a park holds the bot stopped until a release.
    Auth(Box<AuthSeen>),
    /// The health sampler's figures for the bot's process tree.
    Sampled {
        cpu_percent: f32,
        memory_bytes: u64,
    },
    /// sd_notify messages from the bot's process tree (`from` is the sender's pid).
    Notify {
        from: u32,
        notices: Box<[Notice]>,
    },
    /// Stop and end the task (bot removed from the fleet).
    Remove {
        by: Box<Actor>,
        reply: oneshot::Sender<BotOutcome>,
    },
    /// The agent is going away: stop the bot, or leave it running for the next agent.
    Shutdown {
        keep: bool,
        by: Box<Actor>,
        done: oneshot::Sender<Left>,
    },
}

/// How the agent's shutdown left a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// Its process runs on, for the next agent to adopt.
    Running,
    /// Stopped by this shutdown.
    Stopped,
    /// It was not running: nothing to stop (`agent stop` counts only the bots it stopped).
    NotRunning,
}

const _: () = assert!(
    std::mem::size_of::<Command>() <= 32,
    "keep Command small (see above)"
);

/// What `status` reads without asking the task.
#[derive(Debug, Clone)]
pub struct View {
    pub state: BotState,
    pub pid: Option<u32>,
    pub started_at_ms: Option<i64>,
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
    /// Unix ms of the next automatic attempt (backoff or failed cool-down).
    pub next_attempt_ms: Option<i64>,
    pub last_error: Option<String>,
    pub cpu_percent: Option<f32>,
    pub memory_bytes: Option<u64>,
    /// The last auth check's outcome label.
    pub auth: Option<String>,
    /// Why the bot is parked as auth-invalid.
    pub auth_blocked: Option<String>,
    /// The running process's last sd_notify `STATUS=`.
    pub notify_status: Option<String>,
    /// Running, and waiting for its READY=1.
    pub waiting_ready: bool,
    /// STOPPING=1 or RELOADING=1, as the process said.
    pub note: Option<Note>,
}

impl View {
    /// The last sample's CPU and memory.
    fn figures(&self) -> (Option<f32>, Option<u64>) {
        (self.cpu_percent, self.memory_bytes)
    }
}

type SharedView = Arc<Mutex<View>>;

/// The bot's view, being written. When it goes, the rows `status` shares are stale
/// ([`Context::rows_changed`]): counted while the view is still locked, so rows built
/// after the count read the new view.
struct ViewWrite<'a>(std::sync::MutexGuard<'a, View>, &'a Context);

impl Drop for ViewWrite<'_> {
    fn drop(&mut self) {
        self.1.rows_changed();
    }
}

impl std::ops::Deref for ViewWrite<'_> {
    type Target = View;

    fn deref(&self) -> &View {
        &self.0
    }
}

impl std::ops::DerefMut for ViewWrite<'_> {
    fn deref_mut(&mut self) -> &mut View {
        &mut self.0
    }
}

fn new_view() -> SharedView {
    Arc::new(Mutex::new(View {
        state: BotState::Stopped,
        pid: None,
        started_at_ms: None,
        restarts: 0,
        last_exit: None,
        next_attempt_ms: None,
        last_error: None,
        cpu_percent: None,
        memory_bytes: None,
        auth: None,
        auth_blocked: None,
        notify_status: None,
        waiting_ready: false,
        note: None,
    }))
}

/// How a task begins.
pub enum Begin {
    /// Start the bot now (enabled bots at load, `bots add`).
    Start,
    /// Leave it stopped (disabled bots, `bots add --no-start`).
    Idle,
    /// No process to adopt: put it back where an earlier agent left it (its `Supervision`),
    /// or start it when it is enabled and nothing was left.
    Resume,
    /// A live process of an earlier agent, verified against /proc.
    Adopt {
        process: BotProcess,
        started_at_ms: i64,
        restarts: u32,
    },
}

struct Stopping {
    /// The main process, whose exit the machine waits for.
    pid: u32,
    members: crate::contain::Members,
    kill_at: Instant,
    killed: bool,
    give_up_at: Option<Instant>,
    /// Set once the leader has exited while other processes of its group still live.
    leader_exit: Option<Exit>,
}

struct Waiter {
    action: UserAction,
    was: Phase,
    reply: oneshot::Sender<BotOutcome>,
}

pub struct BotTask {
    ctx: Arc<Context>,
    config: Arc<BotConfig>,
    policy: Policy,
    /// `[restart] schedule` and its next run, on the monotonic clock and the wall clock.
    schedule: Option<(Schedule, Option<(Instant, SystemTime)>)>,
    machine: Machine,
    process: Option<BotProcess>,
    started_at_ms: Option<i64>,
    stopping: Option<Stopping>,
    waiters: Vec<Waiter>,
    /// Ends the task once the bot is stopped (agent shutdown).
    exit_when_stopped: Option<oneshot::Sender<Left>>,
    view: SharedView,
    /// Parked by the auth monitor: why.
    auth_blocked: Option<String>,
    /// Who asked for what the bot is doing now; the agent once it is done.
    actor: Actor,
    /// What was last written of where the bot stands, to write only changes.
    persisted: Option<Persisted>,
    /// The bot is being removed and its supervision is forgotten.
    forgotten: bool,
    /// What `[health]` watches besides probes, and how the running process fares.
    watches: Watches,
    liveness: Liveness,
    output: Arc<OutputSeen>,
    /// When `prepare` ran: the watches' deadlines wait for `run`.
    prepared_at: Instant,
    /// What the configuration asks of the bot's cgroup, account and limits.
    contain: containment::Wanted,
    /// The working directory the last start found in place, with the logs' directory.
    dirs_found: Option<PathBuf>,
    /// While the exit of the bot's process is fed: its cgroup was found empty.
    cgroup_seen_empty: bool,
}

/// Where a bot stands as far as the next agent is concerned: the machine's part, why it is
/// parked, and whether its file enables it.
type Persisted = (Saved, Option<String>, bool);

/// A bot task that has begun (its process adopted, or its view published, or its first
/// start still to make) but is not on the runtime yet: see `start`.
pub struct Prepared {
    task: BotTask,
    rx: mpsc::UnboundedReceiver<Command>,
    /// The bot is to start, and has not yet.
    first_start: bool,
}

/// Resolves once a task's first start was made (whatever its outcome).
pub type Begun = oneshot::Receiver<()>;

impl Prepared {
    /// Puts the task on the runtime, where it makes its first start, if it has one to
    /// make: the starts of a fleet are made on both workers side by side, as those of
    /// `start --all` are (made one after the other during the fleet's load, 2,000 bots took
    /// 0.3-0.5 s longer to start, and the agent answered nothing meanwhile). Each spawn from
    /// a worker wakes the other, idle worker; started together once the fleet is prepared,
    /// the other worker wakes once and finds them all.
    pub fn start(self) -> Option<Begun> {
        let (begun, answer) = self.first_start.then(oneshot::channel).unzip();
        tokio::spawn(self.task.run(self.rx, begun));
        answer
    }

    /// Makes the first start here, then puts the task on the runtime: the caller reads the
    /// outcome from the bot's view at once (`bots add`).
    pub fn start_here(mut self) {
        if std::mem::take(&mut self.first_start) {
            self.task.feed(Input::Start);
        }
        tokio::spawn(self.task.run(self.rx, None));
    }
}

impl BotTask {
    /// Builds the task and begins: starts the process, adopts it, or stays idle. An exit of
    /// the process before the task runs is not missed: its pidfd is watched from here.
    pub fn prepare(
        ctx: Arc<Context>,
        config: Arc<BotConfig>,
        settings: Settings,
        begin: Begin,
        saved: Option<Supervision>,
    ) -> (BotHandle, Prepared) {
        let (tx, rx) = mpsc::unbounded_channel();
        let view = new_view();
        let output = Arc::new(OutputSeen::default());
        let handle = BotHandle {
            config: config.clone(),
            tx,
            view: view.clone(),
            output: output.clone(),
        };
        let watches = Watches::of(&config);
        let clocks = Clocks::read();
        let restored = saved.map(|s| restore(&s, &clocks));
        let mut task = BotTask {
            persisted: None,
            forgotten: false,
            ctx,
            config,
            policy: policy_of(&settings, watches),
            watches,
            liveness: Liveness::default(),
            output,
            prepared_at: Instant::now(),
            schedule: planned(settings.policy.schedule.clone()),
            contain: settings.contain.clone(),
            auth_blocked: None,
            actor: Actor::Agent,
            machine: Machine::new(),
            process: None,
            started_at_ms: None,
            dirs_found: None,
            cgroup_seen_empty: false,
            stopping: None,
            waiters: Vec::new(),
            exit_when_stopped: None,
            view,
        };
        // Made once the task runs (see `Prepared::start`); until then the view stays as new,
        // and nothing is written down of where the bot stands.
        let mut first_start = false;
        match begin {
            Begin::Start => first_start = true,
            Begin::Idle => task.publish(),
            Begin::Resume => match restored {
                None if task.config.enabled => first_start = true,
                None => task.publish(),
                Some((mut saved, blocked)) => {
                    if !task.config.enabled {
                        saved.standing = Standing::Stopped;
                    }
                    task.machine = Machine::restored(&saved, None);
                    task.auth_blocked = blocked;
                    task.persisted = task.persisted();
                    if saved.standing == Standing::Running {
                        first_start = true;
                    } else {
                        task.publish();
                    }
                }
            },
            Begin::Adopt {
                process,
                started_at_ms,
                restarts,
            } => {
                let age = Duration::from_millis((now_ms() - started_at_ms).max(0) as u64);
                let since = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                let mut wanted_stopped = false;
                match restored {
                    Some((saved, blocked)) => {
                        task.machine = Machine::restored(&saved, Some((process.pid, since)));
                        // Parked again below, with its reason.
                        task.auth_blocked = blocked;
                        task.persisted = task.persisted();
                        wanted_stopped = saved.standing == Standing::Stopped;
                    }
                    None => {
                        task.machine = Machine::adopted(process.pid, since);
                        task.machine.restarts = restarts;
                    }
                }
                task.started_at_ms = Some(started_at_ms);
                task.record(
                    EventKind::Adopted,
                    format!(
                        "adopted running process {} from the previous agent",
                        process.pid
                    ),
                );
                task.process = Some(process);
                task.liveness = Liveness::started(task.watches, Instant::now(), false);
                // The previous agent died while stopping it: finish what was asked.
                if let Some(why) = task.auth_blocked.clone() {
                    task.feed(Input::Park {
                        reason: format!("session invalid: {why}"),
                    });
                } else if !task.config.enabled || wanted_stopped {
                    task.feed(Input::Stop);
                }
                task.publish();
            }
        }
        let prepared = Prepared {
            task,
            rx,
            first_start,
        };
        (handle, prepared)
    }

    async fn run(
        mut self,
        rx: mpsc::UnboundedReceiver<Command>,
        begun: Option<oneshot::Sender<()>>,
    ) {
        self.serve(rx, begun).await;
        if self.machine.phase == Phase::Removed {
            crate::contain::discard(&self.config.name);
        }
    }

    /// The bot's life: its commands, its process's exit and its timers, until it is removed
    /// or the agent lets it go.
    async fn serve(
        &mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        begun: Option<oneshot::Sender<()>>,
    ) {
        match begun {
            Some(begun) => {
                self.feed(Input::Start);
                let _ = begun.send(());
            }
            // Prepared during a fleet load (a process adopted), the task may have waited for
            // the rest of the fleet: the bot could not be heard meanwhile.
            None => self.liveness.postpone(self.prepared_at.elapsed()),
        }
        loop {
            if self.machine.phase == Phase::Removed {
                return;
            }
            let timer = self.machine.deadline();
            let stop_tick = self.stop_tick();
            let scheduled = self.schedule.as_ref().and_then(|(_, next)| *next);
            let watched = self.liveness.deadline().filter(|_| self.process.is_some());
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        if self.command(cmd) {
                            return;
                        }
                    }
                    // The fleet dropped us: the agent is exiting; leave the bot to the next one.
                    None => return,
                },
                _ = exited(self.process.as_ref()), if self.process.is_some() => {
                    if self.hear_out(&mut rx).await {
                        return;
                    }
                    if self.process.as_ref().is_some_and(BotProcess::has_exited) {
                        self.leader_exited();
                    }
                }
                _ = sleep_until(timer.unwrap_or_else(Instant::now).into()), if timer.is_some() => {
                    self.feed(Input::Timer)
                }
                _ = sleep_until(stop_tick.unwrap_or_else(Instant::now).into()), if stop_tick.is_some() => {
                    self.stop_progress()
                }
                _ = sleep_until(scheduled.map_or_else(Instant::now, |(at, _)| at).into()), if scheduled.is_some() => {
                    self.scheduled_restart()
                }
                _ = sleep_until(watched.unwrap_or_else(Instant::now).into()), if watched.is_some() => {
                    self.watch_due()
                }
            }
            if self.exit_when_stopped.is_some() && !self.busy() {
                if let Some(done) = self.exit_when_stopped.take() {
                    let _ = done.send(Left::Stopped);
                }
                return;
            }
        }
    }

    /// Before the main process's exit counts, what the bot said just before it is heard: a
    /// wrapper that sends `MAINPID=` and ends at once must not be taken for a crash (the
    /// message is in the socket before the exit, but another task reads it). Only for bots
    /// that speak sd_notify; the rest lose no time. True when the task must end now.
    async fn hear_out(&mut self, rx: &mut mpsc::UnboundedReceiver<Command>) -> bool {
        if self.stopping.is_some() || !(self.watches.speaks() || self.liveness.heard) {
            return false;
        }
        if let Some(flushed) = self.ctx.flush_notify() {
            let _ = tokio::time::timeout(NOTIFY_FLUSH_WAIT, flushed).await;
        }
        while let Ok(cmd) = rx.try_recv() {
            if self.command(cmd) {
                return true;
            }
        }
        false
    }

    /// A watch's deadline came: a bot not ready in time, or hung, is replaced like one that
    /// fails its health checks (counted toward the restart-rate limit).
    fn watch_due(&mut self) {
        if !matches!(self.machine.phase, Phase::Running { .. }) {
            return;
        }
        let now = Instant::now();
        if let Some(verdict) = self.liveness.due(now, self.output.last())
            && !self.wrote_lately(verdict, now)
        {
            self.liveness = Liveness::default();
            self.actor = Actor::Agent;
            self.feed(Input::Recycle {
                kind: verdict.kind(),
                reason: verdict.reason(),
            });
        }
    }

    /// Before a silent bot is replaced, its log files' times have a say: inotify is what
    /// counts output, and a watch that could not be set (or missed an event) must not cost a
    /// working bot its process. Two stats, once per `log_silence` at most.
    fn wrote_lately(&mut self, verdict: Verdict, now: Instant) -> bool {
        let Verdict::Silent(allowed) = verdict else {
            return false;
        };
        let paths = &self.ctx.paths;
        let written = [
            paths.stdout_log(&self.config.name),
            paths.stderr_log(&self.config.name),
        ]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .filter_map(|t| now.checked_sub(t.elapsed().unwrap_or_default()))
        .max();
        match written {
            Some(at) if now.saturating_duration_since(at) < allowed => {
                self.output.seen_at(at);
                true
            }
            _ => false,
        }
    }

    /// What the bot's process tree said over sd_notify.
    fn notified(&mut self, from: u32, notices: &[Notice]) {
        if self.process.is_none() {
            return;
        }
        if !matches!(self.machine.phase, Phase::Running { .. }) {
            // Stopping: only what it says about itself still shows.
            for n in notices {
                if matches!(n, Notice::Status(_) | Notice::Stopping) {
                    self.liveness.notice(n, self.watches, Instant::now());
                }
            }
            self.show_liveness();
            return;
        }
        let mut shown = false;
        for n in notices {
            let now = Instant::now();
            if let Notice::MainPid(main) = n {
                self.main_pid(*main, from);
                continue;
            }
            // Read for each notice: a MAINPID= before it in the message moves it.
            let Some(pid) = self.process.as_ref().map(|p| p.pid) else {
                return;
            };
            shown |= !matches!(n, Notice::Watchdog | Notice::WatchdogUsec(_));
            if self.liveness.notice(n, self.watches, now) && self.machine.ready(pid, now) {
                let waited = Duration::from_millis(
                    (now_ms() - self.started_at_ms.unwrap_or_else(now_ms)).max(0) as u64,
                );
                self.record(
                    EventKind::Ready,
                    format!(
                        "ready (READY=1) after {}",
                        botctl_proto::human::duration(waited)
                    ),
                );
            }
        }
        if shown {
            self.show_liveness();
        }
    }

    /// MAINPID=: the bot's main process is now `main`, a process of its tree (a wrapper that
    /// started the real bot, a daemon that forked): its exit is the bot's from here, its pid
    /// is what `status` shows and the next agent adopts, and stops still signal the group
    /// botctl started (and `main`, should it have left it). A pid outside the bot is refused
    /// and counted like a stranger's message.
    fn main_pid(&mut self, main: u32, from: u32) {
        let Some(own) = &self.process else {
            return;
        };
        if main == own.pid {
            return;
        }
        // The old main process may have exited already (a wrapper that says MAINPID= and
        // ends): its children then belong to init, and only the group still ties them to it.
        let ours =
            process::pgid_of(main) == Some(own.pgid) || process::descends_from(main, own.pid);
        let followed = ours.then(|| process::follow(main, own.pgid)).flatten();
        let Some(new) = followed else {
            self.ctx.ignore_notify(
                from,
                &format!(
                    "MAINPID={main} is not in bot {}'s process tree",
                    self.config.name
                ),
            );
            return;
        };
        let Some(old) = self.process.replace(new) else {
            return;
        };
        self.machine.follow(main);
        if old.is_child {
            // Still botctl's child: reaped when it ends, so it never lingers as a zombie.
            tokio::spawn(async move {
                let _ = old.pidfd.readable().await;
                process::reap(&old);
            });
        }
        if let Some(p) = &self.process {
            self.record_spawn(p, self.started_at_ms.unwrap_or_else(now_ms));
        }
        self.register();
        self.record(
            EventKind::MainPid,
            format!("main process is now {main} (MAINPID= from process {from})"),
        );
        self.publish();
    }

    /// Copies what the process said into the view (`status`, `bots show`, `top`).
    fn show_liveness(&mut self) {
        let mut view = self.write_view();
        view.notify_status = self.liveness.status.clone();
        view.waiting_ready = self.machine.awaiting_ready() && self.liveness.waiting_ready();
        view.note = self.liveness.note;
    }

    /// The schedule's time came (on the monotonic clock). The wall clock decides: if it was
    /// set back meanwhile, wait on for the planned time instead of restarting early.
    fn scheduled_restart(&mut self) {
        let Some((schedule, Some((_, wall)))) = self.schedule.take() else {
            return;
        };
        if SystemTime::now() + Duration::from_millis(500) < wall {
            self.schedule = Some((schedule, until(wall)));
            return;
        }
        self.actor = Actor::Agent;
        self.feed(Input::Scheduled {
            schedule: schedule.to_string(),
        });
        self.schedule = planned(Some(schedule));
    }

    /// Returns true when the task must end now.
    fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::User(user) => {
                let UserCommand { action, by, reply } = *user;
                self.actor = by;
                if matches!(action, UserAction::Start | UserAction::Restart) {
                    // An explicit start overrides the block; the next check decides again.
                    self.auth_blocked = None;
                }
                let was = self.machine.phase.clone();
                let input = match action {
                    UserAction::Start => Input::Start,
                    UserAction::Stop => Input::Stop,
                    UserAction::Restart => Input::Restart,
                    UserAction::Recover => Input::Recover,
                };
                self.waiters.push(Waiter { action, was, reply });
                self.feed(input);
            }
            Command::Recycle { kind, reason } => self.feed(Input::Recycle { kind, reason }),
            Command::Notify { from, notices } => self.notified(from, &notices),
            Command::Auth(seen) => {
                let AuthSeen { label, verdict } = *seen;
                self.write_view().auth = Some(label);
                match verdict {
                    AuthVerdict::Park(why) => {
                        self.auth_blocked = Some(why.clone());
                        self.feed(Input::Park {
                            reason: format!("session invalid: {why}"),
                        });
                    }
                    AuthVerdict::Release => self.release_auth(),
                    AuthVerdict::Keep => self.publish(),
                }
            }
            Command::Sampled {
                cpu_percent,
                memory_bytes,
            } => {
                // Figures of a process that has ended since the sample would outlive it.
                // Unchanged figures (an idle fleet's) leave the shared rows as they are.
                let now = (Some(cpu_percent), Some(memory_bytes));
                if self.process.is_some() && self.view.lock().unwrap().figures() != now {
                    let mut view = self.write_view();
                    view.cpu_percent = now.0;
                    view.memory_bytes = now.1;
                }
            }
            Command::Reconfigure(config, settings) => {
                let restart = config.command != self.config.command
                    || config.cwd != self.config.cwd
                    || config.env != self.config.env
                    || config.env_file != self.config.env_file
                    || config.user != self.config.user;
                let enabled_changed = config.enabled != self.config.enabled;
                let auth_changed = config.auth != self.config.auth;
                self.config = config;
                let watches = Watches::of(&self.config);
                if watches != self.watches {
                    self.watches = watches;
                    // New watches count from now; a process waiting for READY=1 goes on
                    // waiting (or not, when `ready` changed), its status stays.
                    if let Some(pid) = self.process.as_ref().map(|p| p.pid) {
                        if watches.ready.is_none() {
                            // No longer waiting for READY=1: it counts as started now.
                            self.machine.ready(pid, Instant::now());
                        }
                        let fresh = self.machine.awaiting_ready();
                        let status = self.liveness.status.take();
                        self.liveness = Liveness::started(watches, Instant::now(), fresh);
                        self.liveness.status = status;
                    }
                }
                self.policy = policy_of(&settings, self.watches);
                self.contain = settings.contain;
                if self.schedule.as_ref().map(|(s, _)| s) != settings.policy.schedule.as_ref() {
                    self.schedule = planned(settings.policy.schedule.clone());
                }
                if auth_changed {
                    // A new or changed [auth] is checked now, not at the next auth_interval;
                    // without one, nothing is left to hold the bot parked.
                    match self.config.auth {
                        Some(_) => self.ctx.request_auth_check(&self.config.name),
                        None => {
                            self.write_view().auth = None;
                            self.release_auth();
                        }
                    }
                }
                if enabled_changed && !self.config.enabled {
                    self.feed(Input::Stop);
                } else if enabled_changed {
                    self.feed(Input::Start);
                } else if restart
                    && matches!(
                        self.machine.phase,
                        Phase::Running { .. } | Phase::Backoff { .. } | Phase::Failed { .. }
                    )
                {
                    // Also for a failing bot: the new command or environment may be the fix.
                    self.record(
                        EventKind::ConfigChanged,
                        "configuration changed: restarting".into(),
                    );
                    self.feed(Input::Restart);
                } else {
                    self.publish();
                }
            }
            Command::Remove { by, reply } => {
                self.actor = *by;
                self.waiters.push(Waiter {
                    action: UserAction::Stop,
                    was: self.machine.phase.clone(),
                    reply,
                });
                self.feed(Input::Remove);
                return self.machine.phase == Phase::Removed;
            }
            Command::Shutdown { keep, by, done } => {
                self.actor = *by;
                if keep || self.process.is_none() {
                    let _ = done.send(match self.process {
                        Some(_) => Left::Running,
                        None => Left::NotRunning,
                    });
                    return true;
                }
                self.exit_when_stopped = Some(done);
                self.feed(Input::Stop);
            }
        }
        false
    }

    /// The session is valid again (or no longer checked): a bot parked for it starts again.
    fn release_auth(&mut self) {
        if self.auth_blocked.take().is_some()
            && self.config.enabled
            && self.machine.phase == Phase::Stopped
        {
            self.feed(Input::Start);
        } else {
            self.publish();
        }
    }

    /// Feeds one input and everything the resulting actions feed back, then publishes.
    /// Events are recorded once the process is started: a crashed bot's restart waits for
    /// nothing but itself.
    fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        let mut records = Vec::new();
        while let Some(input) = queue.pop_front() {
            let spawned = matches!(input, Input::Spawned { .. });
            // An exit of the running process that nobody asked for is what crash counts count.
            let crash = matches!((&input, &self.machine.phase),
                (Input::Exited { pid, .. }, Phase::Running { pid: own, .. }) if pid == own);
            let actions = self.machine.handle(input, Instant::now(), &self.policy);
            if spawned {
                self.liveness = Liveness::started(self.watches, Instant::now(), true);
                self.register();
                if self.config.auth.is_some() {
                    self.ctx.request_auth_check(&self.config.name);
                }
            }
            for action in actions {
                match action {
                    Action::Spawn => queue.push_back(self.start_process()),
                    Action::Terminate { pid, timeout } => self.terminate(pid, timeout),
                    Action::Record { kind, message } => {
                        let cause = match kind {
                            EventKind::Exited | EventKind::Backoff | EventKind::Failed if crash => {
                                Some(Cause::Crash)
                            }
                            _ => Cause::of_recycle(kind),
                        };
                        records.push((kind, message, cause));
                    }
                }
            }
        }
        for (kind, message, cause) in records {
            self.record_caused(kind, message, cause);
        }
        self.publish();
        self.answer_waiters();
    }

    fn start_process(&mut self) -> Input {
        let config = self.config.clone();
        let paths = &self.ctx.paths;
        let cwd = crate::storage::bot_cwd(paths, &config);
        let (stdout, stderr) = (
            paths.stdout_log(&config.name),
            paths.stderr_log(&config.name),
        );
        // Both directories are looked for (and the default ones made) when the last start did
        // not find them; otherwise a start that misses one (removed meanwhile) does it again
        // after it. At every restart, the lookups were 2 % of the agent's CPU in a storm.
        let dirs_known = self.dirs_found.as_ref() == Some(&cwd);
        if !dirs_known && let Some(error) = Self::find_dirs(paths, &config, &cwd, &stdout) {
            return Input::SpawnFailed { error };
        }
        // Read at every start, so an edited file takes effect with a restart.
        let from_file = match config.env_file.as_deref().map(EnvFile::parse) {
            Some(file) => match envfile::read(&file, &cwd) {
                Ok(vars) => vars,
                Err(error) => return Input::SpawnFailed { error },
            },
            None => Vec::new(),
        };
        let mut env = vec![
            (
                botctl_proto::paths::HOME_ENV.to_string(),
                paths.home.display().to_string(),
            ),
            ("BOTCTL_BOT".to_string(), config.name.clone()),
            ("BOTCTL_OWNER".to_string(), config.user.clone()),
        ];
        // Config checks refuse them; a guard here too, so a bot can never pose as another.
        env.extend(
            envfile::merge(from_file, &config.env)
                .into_iter()
                .filter(|(k, _)| !k.starts_with(botctl_proto::config::RESERVED_ENV_PREFIX))
                .filter(|(k, _)| !botctl_proto::paths::SYSTEMD_AGENT_ENV.contains(&k.as_str())),
        );
        env.extend(notify_env(&paths.notify_socket, self.watches));
        let contained = match containment::prepare(
            &self.ctx,
            &config,
            &self.contain,
            &cwd,
            self.cgroup_seen_empty,
        ) {
            Ok(c) => c,
            Err(error) => return Input::SpawnFailed { error },
        };
        env.extend(contained.env);
        let spec = SpawnSpec {
            command: &config.command,
            cwd: &cwd,
            env,
            stdout,
            stderr,
            cgroup: contained.cgroup,
            account: contained.account,
            hardening: contained.hardening,
        };
        // Written around the spawn, before anything else: an agent killed right after it
        // leaves the next one a record of the process (or of a spawn under way).
        let records = &self.ctx.spawn_records;
        records.put(
            &config.name,
            Spawn::InFlight {
                since_ticks: boot_ticks(),
            },
        );
        match process::spawn(spec) {
            Err(e) if dirs_known && e.lacks_a_directory() => {
                self.dirs_found = None;
                self.start_process()
            }
            Ok(p) => {
                self.dirs_found = Some(cwd);
                let pid = p.pid;
                let started_at_ms = now_ms();
                self.record_spawn(&p, started_at_ms);
                self.started_at_ms = Some(started_at_ms);
                self.process = Some(p);
                Input::Spawned { pid }
            }
            Err(e) => {
                records.put(&config.name, Spawn::Failed);
                Input::SpawnFailed {
                    error: e.to_string(),
                }
            }
        }
    }

    /// The bot's working directory (the default one made; create_dir_all checks that what
    /// is there is a directory, and a configured one must be there) and its logs' directory
    /// (the child opens the logs; here an error says why): why the start cannot go on.
    fn find_dirs(paths: &Paths, config: &BotConfig, cwd: &Path, stdout: &Path) -> Option<String> {
        if config.cwd.is_none() {
            if let Err(e) = std::fs::create_dir_all(cwd) {
                return Some(format!(
                    "cannot create working directory {}: {e}",
                    cwd.display()
                ));
            }
        } else if !cwd.is_dir() {
            return Some(format!(
                "working directory {} does not exist: create it or fix `cwd` in {}",
                cwd.display(),
                paths.display(&paths.bot_file(&config.name))
            ));
        }
        if let Some(dir) = stdout.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return Some(format!("cannot open log {}: {e}", stdout.display()));
        }
        None
    }

    /// The spawn record of the bot's main process (see `spawn_record`).
    fn record_spawn(&self, p: &BotProcess, started_at_ms: i64) {
        let done = Spawn::Done {
            pid: p.pid,
            start_ticks: p.start_ticks,
            pidfs_id: p.pidfs_id,
            started_at_ms,
            pgid: p.pgid,
        };
        self.ctx.spawn_records.put(&self.config.name, done);
    }

    /// Records the running process for the next agent, once the machine has counted it.
    fn register(&self) {
        let Some(p) = &self.process else {
            return;
        };
        self.ctx.store.register(RegistryRow {
            name: self.config.name.clone(),
            owner: self.config.user.clone(),
            pid: p.pid,
            pgid: p.pgid,
            start_ticks: p.start_ticks,
            pidfs_id: p.pidfs_id,
            started_at_ms: self.started_at_ms.unwrap_or_else(now_ms),
            restarts: self.machine.restarts,
            config_toml: self.config.to_toml(),
            cgroup: p
                .cgroup
                .as_ref()
                .map(|c| c.dir.display().to_string())
                .unwrap_or_default(),
        });
    }

    fn terminate(&mut self, pid: u32, timeout: Duration) {
        let members =
            containment::members(&self.ctx, &self.config.name, pid, self.process.as_ref());
        members.signal(Signal::SIGTERM);
        self.stopping = Some(Stopping {
            pid,
            members,
            kill_at: Instant::now() + timeout,
            killed: false,
            give_up_at: None,
            leader_exit: None,
        });
    }

    fn leader_exited(&mut self) {
        let Some(process) = self.process.take() else {
            return;
        };
        let exit = containment::exit_of(
            &process,
            process::reap(&process),
            self.contain.limits.memory_mb,
        );
        let pid = process.pid;
        let members = containment::members(&self.ctx, &self.config.name, pid, Some(&process));
        drop(process);
        match &mut self.stopping {
            Some(stopping) if stopping.members.alive() => {
                stopping.leader_exit = Some(exit);
            }
            Some(_) => self.finish_stop(pid, exit),
            None => {
                // A crashed main process can leave processes behind (its group, its cgroup,
                // its orphans); they would hold ports and files the restarted bot needs, and
                // would run twice.
                self.cgroup_seen_empty = members.kill_leftovers();
                self.feed(Input::Exited { pid, exit });
                self.cgroup_seen_empty = false;
                // A restarted bot's row was replaced as its new process started.
                if self.process.is_none() {
                    self.ctx.store.unregister(&self.config.name);
                }
            }
        }
    }

    fn stop_tick(&self) -> Option<Instant> {
        let s = self.stopping.as_ref()?;
        let next_deadline = if s.killed { s.give_up_at? } else { s.kill_at };
        if s.leader_exit.is_some() {
            Some(next_deadline.min(Instant::now() + GROUP_POLL))
        } else {
            Some(next_deadline)
        }
    }

    fn stop_progress(&mut self) {
        let Some(s) = &mut self.stopping else {
            return;
        };
        let now = Instant::now();
        if !s.killed && now >= s.kill_at {
            s.members.kill();
            s.killed = true;
            s.give_up_at = Some(now + KILL_GRACE);
        }
        if let Some(exit) = s.leader_exit {
            let (pid, pgid) = (s.pid, s.members.pgid);
            if !s.members.alive() {
                self.finish_stop(pid, exit);
            } else if s.give_up_at.is_some_and(|t| now >= t) {
                self.record(
                    EventKind::StopIncomplete,
                    format!("processes of group {pgid} survived SIGKILL; giving up on them"),
                );
                self.finish_stop(pid, exit);
            }
        }
    }

    fn finish_stop(&mut self, pid: u32, exit: Exit) {
        if let Some(s) = self.stopping.take() {
            s.members.release();
        }
        self.ctx.store.unregister(&self.config.name);
        self.feed(Input::Exited { pid, exit });
    }

    /// True while a stop is still in progress.
    fn busy(&self) -> bool {
        matches!(self.machine.phase, Phase::Stopping { .. }) || self.stopping.is_some()
    }

    fn record(&self, kind: EventKind, message: String) {
        self.record_caused(kind, message, None);
    }

    fn record_caused(&self, kind: EventKind, message: String, cause: Option<Cause>) {
        self.ctx.record(
            Event::new(kind, message)
                .of(&self.config.name, &self.config.user)
                .by(&self.actor)
                .cause(cause),
        );
    }

    /// The view to write; only this task writes it.
    fn write_view(&self) -> ViewWrite<'_> {
        ViewWrite(self.view.lock().unwrap(), &self.ctx)
    }

    fn publish(&mut self) {
        let now = Instant::now();
        let to_ms = |t: Instant| now_ms() + t.saturating_duration_since(now).as_millis() as i64;
        let (state, next_attempt_ms) = match &self.machine.phase {
            Phase::Running { .. } => (BotState::Running, None),
            Phase::Stopping { .. } => (BotState::Stopping, None),
            Phase::Stopped if self.auth_blocked.is_some() => (BotState::AuthInvalid, None),
            Phase::Stopped | Phase::Removed if !self.config.enabled => (BotState::Disabled, None),
            Phase::Stopped | Phase::Removed => (BotState::Stopped, None),
            Phase::Backoff { until } => (BotState::Backoff, Some(to_ms(*until))),
            Phase::Failed { retry_at } => (BotState::Failed, Some(to_ms(*retry_at))),
            Phase::Exited => (BotState::Exited, None),
        };
        let running = matches!(
            self.machine.phase,
            Phase::Running { .. } | Phase::Stopping { .. }
        );
        let mut view = self.write_view();
        view.state = state;
        view.pid = self.machine.pid();
        view.started_at_ms = if running { self.started_at_ms } else { None };
        view.restarts = self.machine.restarts;
        view.last_exit = self.machine.last_exit.map(|(exit, at)| exit_info(exit, at));
        view.next_attempt_ms = next_attempt_ms;
        view.last_error = self.machine.last_error.clone();
        view.auth_blocked = self.auth_blocked.clone();
        if !running {
            view.cpu_percent = None;
            view.memory_bytes = None;
        }
        drop(view);
        if self.process.is_none() {
            self.liveness = Liveness::default();
        }
        self.show_liveness();
        self.persist();
    }

    fn persisted(&self) -> Option<Persisted> {
        let saved = self.machine.saved()?;
        Some((saved, self.auth_blocked.clone(), self.config.enabled))
    }

    /// Writes where the bot now stands, when that changed, so an agent restart changes
    /// nothing. Sent to the store thread after the actions of the input were carried out: a
    /// crash's restart never waits for it.
    fn persist(&mut self) {
        // `agent stop` stops every bot and the next agent starts them again: that is no
        // decision about this bot to keep.
        if self.exit_when_stopped.is_some() {
            return;
        }
        let Some(now) = self.persisted() else {
            if !std::mem::replace(&mut self.forgotten, true) {
                self.ctx.store.forget(&self.config.name);
                self.ctx.spawn_records.remove(&self.config.name);
            }
            return;
        };
        if self.persisted.as_ref() == Some(&now) {
            return;
        }
        let row = supervision(&self.config.name, &now, &Clocks::read());
        self.persisted = Some(now);
        self.ctx.store.supervise(row);
    }

    fn answer_waiters(&mut self) {
        if self.busy() {
            return;
        }
        for w in std::mem::take(&mut self.waiters) {
            let outcome = self.outcome(w.action, &w.was);
            let _ = w.reply.send(outcome);
        }
        // What follows (a crash, a timer) is the agent's own doing.
        self.actor = Actor::Agent;
    }

    fn outcome(&self, action: UserAction, was: &Phase) -> BotOutcome {
        let view = self.view.lock().unwrap().clone();
        let pid = self.machine.pid();
        let already = |s: &str| format!("already {s}");
        let (ok, message) = match (action, &self.machine.phase) {
            (UserAction::Stop, Phase::Running { .. }) => (false, "still running".to_string()),
            (UserAction::Stop, _) if matches!(was, Phase::Stopped | Phase::Exited) => {
                (true, already("stopped"))
            }
            (UserAction::Stop, Phase::Removed) => (true, "stopped and removed".to_string()),
            (UserAction::Stop, _) => (true, "stopped".to_string()),
            (UserAction::Recover, Phase::Running { pid, .. })
                if matches!(was, Phase::Running { .. }) =>
            {
                (true, format!("nothing to recover: running (pid {pid})"))
            }
            (_, Phase::Running { pid, .. }) if matches!(was, Phase::Running { .. }) => {
                if action == UserAction::Restart {
                    (true, format!("restarted (pid {pid})"))
                } else {
                    (true, already(&format!("running (pid {pid})")))
                }
            }
            (UserAction::Restart, Phase::Running { pid, .. }) => {
                (true, format!("restarted (pid {pid})"))
            }
            (_, Phase::Running { pid, .. }) => (true, format!("started (pid {pid})")),
            (_, Phase::Backoff { .. }) | (_, Phase::Failed { .. }) => {
                let why = view
                    .last_error
                    .clone()
                    .or_else(|| view.last_exit.as_ref().map(|e| exited_with(&e.description)))
                    .unwrap_or_else(|| "it did not start".into());
                (false, format!("not running: {why}"))
            }
            (UserAction::Recover, Phase::Stopped) => (
                false,
                "stopped by a user: use `botctl start` to start it".to_string(),
            ),
            (_, Phase::Exited) => {
                let how = view
                    .last_exit
                    .as_ref()
                    .map(|e| e.description.clone())
                    .unwrap_or_default();
                (false, format!("exited at once with {how}"))
            }
            (_, _) => (false, format!("not running ({})", view.state)),
        };
        BotOutcome {
            bot: self.config.name.clone(),
            ok,
            message,
            state: Some(view.state),
            pid,
        }
    }
}

/// One reading of both clocks, to convert between the machine's `Instant`s and the wall-clock
/// milliseconds the store keeps (an `Instant` means nothing to the next agent).
struct Clocks {
    now: Instant,
    now_ms: i64,
}

impl Clocks {
    fn read() -> Clocks {
        Clocks {
            now: Instant::now(),
            now_ms: now_ms(),
        }
    }

    /// `None` for a time this machine's monotonic clock cannot show (before its boot).
    fn instant(&self, ms: i64) -> Option<Instant> {
        let delta = Duration::from_millis(ms.abs_diff(self.now_ms));
        if ms >= self.now_ms {
            self.now.checked_add(delta)
        } else {
            self.now.checked_sub(delta)
        }
    }

    fn ms(&self, t: Instant) -> i64 {
        let delta = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if t >= self.now {
            self.now_ms.saturating_add(delta(t - self.now))
        } else {
            self.now_ms.saturating_sub(delta(self.now - t))
        }
    }
}

/// The stored form of where a bot stands.
fn supervision(name: &str, (saved, blocked, enabled): &Persisted, clocks: &Clocks) -> Supervision {
    let (wanted, until) = match saved.standing {
        _ if !enabled => (Wanted::Disabled, None),
        Standing::Stopped if blocked.is_some() => (Wanted::Parked, None),
        Standing::Running => (Wanted::Running, None),
        Standing::Backoff { until } => (Wanted::Backoff, Some(clocks.ms(until))),
        Standing::Failed { retry_at } => (Wanted::Failed, Some(clocks.ms(retry_at))),
        Standing::Stopped => (Wanted::Stopped, None),
        Standing::Exited => (Wanted::Exited, None),
    };
    Supervision {
        name: name.to_string(),
        wanted,
        until_ms: until,
        restarts: saved.restarts,
        recent_restarts_ms: saved
            .recent_restarts
            .iter()
            .map(|t| clocks.ms(*t))
            .collect(),
        quick_failures: saved.quick_failures,
        last_exit: saved.last_exit.map(|(exit, at)| {
            let (code, signal) = exit.code_and_signal();
            StoredExit {
                code,
                signal,
                at_ms: clocks.ms(at),
            }
        }),
        last_error: saved.last_error.clone(),
        reason: blocked.clone(),
    }
}

/// Where the store says a bot was left, for `Machine::restored`, and why it is parked. A
/// cool-down that ended while no agent ran is due at once.
fn restore(s: &Supervision, clocks: &Clocks) -> (Saved, Option<String>) {
    let at = |ms: Option<i64>| ms.and_then(|ms| clocks.instant(ms)).unwrap_or(clocks.now);
    let standing = match s.wanted {
        Wanted::Running | Wanted::Disabled => Standing::Running,
        Wanted::Backoff => Standing::Backoff {
            until: at(s.until_ms),
        },
        Wanted::Failed => Standing::Failed {
            retry_at: at(s.until_ms),
        },
        Wanted::Stopped | Wanted::Parked => Standing::Stopped,
        Wanted::Exited => Standing::Exited,
    };
    let saved = Saved {
        standing,
        restarts: s.restarts,
        recent_restarts: s
            .recent_restarts_ms
            .iter()
            .filter_map(|ms| clocks.instant(*ms))
            .collect(),
        quick_failures: s.quick_failures,
        last_exit: s.last_exit.and_then(|e| {
            let exit = Exit::from_code_and_signal(e.code, e.signal);
            Some((exit, clocks.instant(e.at_ms)?))
        }),
        last_error: s.last_error.clone(),
    };
    let blocked = (s.wanted == Wanted::Parked).then(|| s.reason.clone().unwrap_or_default());
    (saved, blocked)
}

/// What sd_notify clients read: where to send, and the watchdog period. WATCHDOG_PID is
/// not set: the pid is not known before posix_spawn returns, and clients (sd_watchdog_enabled)
/// take an unset WATCHDOG_PID as meant for them. These replace any of the bot's own `env`.
fn notify_env(socket: &std::path::Path, watches: Watches) -> Vec<(String, String)> {
    let mut env = vec![("NOTIFY_SOCKET".to_string(), socket.display().to_string())];
    if let Some(d) = watches.watchdog {
        env.push(("WATCHDOG_USEC".to_string(), d.as_micros().to_string()));
    }
    env
}

async fn exited(process: Option<&BotProcess>) {
    match process {
        Some(p) => {
            // Readable means the process has exited; the guard is dropped with the process.
            let _ = p.pidfd.readable().await;
        }
        None => std::future::pending().await,
    }
}

pub fn exit_info(exit: Exit, at: Instant) -> ExitInfo {
    let ago = Instant::now().saturating_duration_since(at).as_millis() as i64;
    let (code, signal) = exit.code_and_signal();
    ExitInfo {
        code,
        signal,
        description: exit.describe(),
        at_ms: now_ms() - ago,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_a_bot_stands_round_trips_through_the_store() {
        let clocks = Clocks::read();
        let at = |ms: i64| clocks.instant(clocks.now_ms + ms).unwrap();
        let saved = |standing| Saved {
            standing,
            restarts: 9,
            recent_restarts: vec![at(-5_000), at(-1_000)],
            quick_failures: 3,
            last_exit: Some((Exit::Signal(9), at(-1_000))),
            last_error: Some("cannot run `x`".into()),
        };
        for (standing, blocked, enabled, wanted) in [
            (Standing::Running, None, true, Wanted::Running),
            (
                Standing::Backoff { until: at(700) },
                None,
                true,
                Wanted::Backoff,
            ),
            (
                Standing::Failed {
                    retry_at: at(60_000),
                },
                None,
                true,
                Wanted::Failed,
            ),
            (Standing::Stopped, None, true, Wanted::Stopped),
            (Standing::Exited, None, true, Wanted::Exited),
            (
                Standing::Stopped,
                Some("expired".to_string()),
                true,
                Wanted::Parked,
            ),
        ] {
            let row = supervision("b", &(saved(standing), blocked.clone(), enabled), &clocks);
            assert_eq!(row.wanted, wanted);
            let (back, back_blocked) = restore(&row, &clocks);
            assert_eq!(back, saved(standing), "{wanted:?}");
            assert_eq!(back_blocked, blocked);
        }
        // A disabled bot is the file's business: it comes back as wanted running, and its
        // file decides again.
        let row = supervision("b", &(saved(Standing::Stopped), None, false), &clocks);
        assert_eq!(row.wanted, Wanted::Disabled);
        assert_eq!(restore(&row, &clocks).0.standing, Standing::Running);
    }

    #[test]
    fn a_cool_down_that_ended_while_no_agent_ran_is_due_at_once() {
        let clocks = Clocks::read();
        let row = Supervision {
            name: "b".into(),
            wanted: Wanted::Failed,
            // Long ago, before this machine booted, say.
            until_ms: Some(clocks.now_ms - 86_400_000 * 365),
            restarts: 1,
            recent_restarts_ms: vec![clocks.now_ms],
            quick_failures: 0,
            last_exit: None,
            last_error: None,
            reason: None,
        };
        let (saved, _) = restore(&row, &clocks);
        let Standing::Failed { retry_at } = saved.standing else {
            panic!("{saved:?}");
        };
        assert!(retry_at <= clocks.now);
        assert_eq!(saved.recent_restarts, vec![clocks.now]);
        assert_eq!(clocks.ms(clocks.now), clocks.now_ms);
    }
}
