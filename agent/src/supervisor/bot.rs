//! The runner of one bot: a task that owns its process, feeds the pure state machine with what
//! happens (commands, exits seen through the pidfd, timers) and carries out its actions.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use botctl_proto::config::{BotConfig, RestartPolicy};
use botctl_proto::{Action as UserAction, BotOutcome, BotState, ExitInfo, now_ms};
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;

use super::machine::{Action, EventKind, Exit, Input, Machine, Phase, Policy};
use crate::Context;
use crate::process::{self, BotProcess, SpawnSpec};
use crate::store::{NewEvent, RegistryRow};

/// After SIGKILL, how long to wait for the group to disappear before reporting it stopped anyway.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How often to look for survivors of a stopping group once its leader is gone.
const GROUP_POLL: Duration = Duration::from_millis(10);

/// What a bot task needs from the configuration besides its own file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: RestartPolicy,
    /// The default interval of its `[health]` checks.
    pub health_interval: Duration,
}

impl Settings {
    pub fn of(config: &BotConfig, global: &botctl_proto::config::GlobalConfig) -> Settings {
        Settings {
            policy: config.policy(global),
            health_interval: global.agent.health_interval,
        }
    }
}

/// What a bot task is asked to do. Kept small (the settings are boxed): each bot's channel
/// allocates room for 32 of them up front, which at 128 bytes each made the channels the
/// largest part of the agent's memory per bot.
pub enum Command {
    User(UserAction, oneshot::Sender<BotOutcome>),
    Reconfigure(Arc<BotConfig>, Box<Settings>),
    /// Replace the running process (a limit, a health check, host pressure); counts toward
    /// the restart-rate limit.
    Recycle {
        kind: EventKind,
        reason: String,
    },
    /// The auth monitor's verdict: Some(why) parks the bot until None says the session is
    /// valid again.
    Auth(Option<String>),
    /// Stop and end the task (bot removed from the fleet).
    Remove(oneshot::Sender<BotOutcome>),
    /// The agent is going away: stop the bot, or leave it running for the next agent.
    Shutdown {
        keep: bool,
        done: oneshot::Sender<BotOutcome>,
    },
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
}

pub type SharedView = Arc<Mutex<View>>;

pub fn new_view() -> SharedView {
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
    }))
}

/// How a task begins.
pub enum Begin {
    /// Start the bot now (enabled bots at load, `bots add`).
    Start,
    /// Leave it stopped (disabled bots, `bots add --no-start`).
    Idle,
    /// A live process of an earlier agent, verified against /proc.
    Adopt {
        process: BotProcess,
        started_at_ms: i64,
        restarts: u32,
    },
}

struct Stopping {
    pgid: u32,
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
    machine: Machine,
    process: Option<BotProcess>,
    started_at_ms: Option<i64>,
    stopping: Option<Stopping>,
    waiters: Vec<Waiter>,
    /// Ends the task once the bot is stopped (agent shutdown).
    exit_when_stopped: Option<oneshot::Sender<BotOutcome>>,
    view: SharedView,
    settings: Settings,
    tx: mpsc::UnboundedSender<Command>,
    checker: Option<tokio::task::JoinHandle<()>>,
    /// Parked by the auth monitor: why.
    auth_blocked: Option<String>,
}

impl Drop for BotTask {
    fn drop(&mut self) {
        if let Some(checker) = self.checker.take() {
            checker.abort();
        }
    }
}

/// A bot task that has begun (its process started or adopted, its view published) but is
/// not on the runtime yet: see `start`.
pub struct Prepared {
    task: BotTask,
    rx: mpsc::UnboundedReceiver<Command>,
}

impl Prepared {
    /// Puts the task on the runtime. Each spawn from a worker wakes the other, idle worker,
    /// which takes the task and goes back to sleep; spawned one by one between the slower
    /// steps of a fleet load, that was 200 wake-ups (a write to an eventfd each, and a thread
    /// woken each time) on the path of an agent's start. Started together once the fleet is
    /// prepared, the other worker wakes once and finds them all.
    pub fn start(self) {
        tokio::spawn(self.task.run(self.rx));
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
        view: SharedView,
    ) -> (mpsc::UnboundedSender<Command>, Prepared) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut task = BotTask {
            ctx,
            config,
            policy: Policy::from(&settings.policy),
            settings,
            tx: tx.clone(),
            checker: None,
            auth_blocked: None,
            machine: Machine::new(),
            process: None,
            started_at_ms: None,
            stopping: None,
            waiters: Vec::new(),
            exit_when_stopped: None,
            view,
        };
        match begin {
            Begin::Start => task.feed(Input::Start),
            Begin::Idle => task.publish(),
            Begin::Adopt {
                process,
                started_at_ms,
                restarts,
            } => {
                let age = Duration::from_millis((now_ms() - started_at_ms).max(0) as u64);
                let since = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                task.machine = Machine::adopted(process.pid, since);
                task.machine.restarts = restarts;
                task.started_at_ms = Some(started_at_ms);
                task.record(
                    "adopted",
                    format!(
                        "adopted running process {} from the previous agent",
                        process.pid
                    ),
                );
                task.process = Some(process);
                if !task.config.enabled {
                    task.feed(Input::Stop);
                }
                task.publish();
            }
        }
        task.start_checker();
        (tx, Prepared { task, rx })
    }

    /// (Re)starts the `[health]` checks of this bot, if it has any.
    fn start_checker(&mut self) {
        if let Some(old) = self.checker.take() {
            old.abort();
        }
        let Some(check) = self.config.health.clone() else {
            return;
        };
        let checker = crate::health::checks::Checker {
            ctx: self.ctx.clone(),
            bot: self.config.name.clone(),
            owner: self.config.user.clone(),
            interval: check
                .interval
                .map_or(self.settings.health_interval, |d| d.0),
            check,
            view: self.view.clone(),
            tx: self.tx.clone(),
        };
        self.checker = Some(tokio::spawn(checker.run()));
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        loop {
            if self.machine.phase == Phase::Removed {
                return;
            }
            let timer = self.machine.deadline();
            let stop_tick = self.stop_tick();
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
                _ = exited(self.process.as_ref()), if self.process.is_some() => self.leader_exited(),
                _ = sleep_until(timer.unwrap_or_else(Instant::now).into()), if timer.is_some() => {
                    self.feed(Input::Timer)
                }
                _ = sleep_until(stop_tick.unwrap_or_else(Instant::now).into()), if stop_tick.is_some() => {
                    self.stop_progress()
                }
            }
            if self.exit_when_stopped.is_some() && !self.busy() {
                let outcome = self.outcome(UserAction::Stop, &Phase::Stopped);
                if let Some(done) = self.exit_when_stopped.take() {
                    let _ = done.send(outcome);
                }
                return;
            }
        }
    }

    /// Returns true when the task must end now.
    fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::User(action, reply) => {
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
            Command::Auth(Some(why)) => {
                self.auth_blocked = Some(why.clone());
                self.feed(Input::Park {
                    reason: format!("session invalid: {why}"),
                });
            }
            Command::Auth(None) => {
                if self.auth_blocked.take().is_some()
                    && self.config.enabled
                    && self.machine.phase == Phase::Stopped
                {
                    self.feed(Input::Start);
                } else {
                    self.publish();
                }
            }
            Command::Reconfigure(config, settings) => {
                let restart = config.command != self.config.command
                    || config.cwd != self.config.cwd
                    || config.env != self.config.env
                    || config.user != self.config.user;
                let enabled_changed = config.enabled != self.config.enabled;
                let checks_changed = config.health != self.config.health
                    || settings.health_interval != self.settings.health_interval;
                self.config = config;
                self.policy = Policy::from(&settings.policy);
                self.settings = *settings;
                if checks_changed {
                    self.start_checker();
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
                    self.record("config-changed", "configuration changed: restarting".into());
                    self.feed(Input::Restart);
                } else {
                    self.publish();
                }
            }
            Command::Remove(reply) => {
                self.waiters.push(Waiter {
                    action: UserAction::Stop,
                    was: self.machine.phase.clone(),
                    reply,
                });
                self.feed(Input::Remove);
                return self.machine.phase == Phase::Removed;
            }
            Command::Shutdown { keep, done } => {
                if keep || self.process.is_none() {
                    let outcome = BotOutcome {
                        bot: self.config.name.clone(),
                        ok: true,
                        message: if self.process.is_some() {
                            "left running for the next agent".into()
                        } else {
                            "not running".into()
                        },
                        state: Some(self.view.lock().unwrap().state),
                        pid: self.machine.pid(),
                    };
                    let _ = done.send(outcome);
                    return true;
                }
                self.exit_when_stopped = Some(done);
                self.feed(Input::Stop);
            }
        }
        false
    }

    /// Feeds one input and everything the resulting actions feed back, then publishes.
    /// Events are recorded once the process is started: a crashed bot's restart waits for
    /// nothing but itself.
    fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        let mut records = Vec::new();
        while let Some(input) = queue.pop_front() {
            let spawned = matches!(input, Input::Spawned { .. });
            let actions = self.machine.handle(input, Instant::now(), &self.policy);
            if spawned {
                self.register();
                if self.config.auth.is_some() {
                    self.ctx.request_auth_check(&self.config.name);
                }
            }
            for action in actions {
                match action {
                    Action::Spawn => queue.push_back(self.start_process()),
                    Action::Terminate { pid, timeout } => self.terminate(pid, timeout),
                    Action::Record { kind, message } => records.push((kind, message)),
                }
            }
        }
        for (kind, message) in records {
            self.record(kind.as_str(), message);
        }
        self.publish();
        self.answer_waiters();
    }

    fn start_process(&mut self) -> Input {
        let config = self.config.clone();
        let paths = &self.ctx.paths;
        let cwd = crate::fleet::bot_cwd(paths, &config);
        if config.cwd.is_none()
            && let Err(e) = std::fs::create_dir_all(&cwd)
        {
            return Input::SpawnFailed {
                error: format!("cannot create working directory {}: {e}", cwd.display()),
            };
        }
        if !cwd.is_dir() {
            return Input::SpawnFailed {
                error: format!(
                    "working directory {} does not exist: create it or fix `cwd` in {}",
                    cwd.display(),
                    paths.display(&paths.bot_file(&config.name))
                ),
            };
        }
        let open = |path: std::path::PathBuf| {
            crate::logs::open_for_bot(&path)
                .map_err(|e| format!("cannot open log {}: {e}", path.display()))
        };
        let (stdout, stderr) = match (
            open(paths.stdout_log(&config.name)),
            open(paths.stderr_log(&config.name)),
        ) {
            (Ok(out), Ok(err)) => (out, err),
            (Err(e), _) | (_, Err(e)) => return Input::SpawnFailed { error: e },
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
            config
                .env
                .iter()
                .filter(|(k, _)| !k.starts_with(botctl_proto::config::RESERVED_ENV_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let spec = SpawnSpec {
            command: &config.command,
            cwd: &cwd,
            env,
            stdout,
            stderr,
        };
        match process::spawn(spec) {
            Ok(p) => {
                let pid = p.pid;
                self.started_at_ms = Some(now_ms());
                self.process = Some(p);
                Input::Spawned { pid }
            }
            Err(e) => Input::SpawnFailed {
                error: format!("cannot run `{}`: {e}", config.command[0]),
            },
        }
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
            pgid: p.pid,
            start_ticks: p.start_ticks,
            pidfs_id: p.pidfs_id,
            started_at_ms: self.started_at_ms.unwrap_or_else(now_ms),
            restarts: self.machine.restarts,
            config_toml: self.config.to_toml(),
        });
    }

    fn terminate(&mut self, pid: u32, timeout: Duration) {
        process::signal_group(pid, Signal::SIGTERM);
        self.stopping = Some(Stopping {
            pgid: pid,
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
        let exit = process::reap(&process);
        let pid = process.pid;
        drop(process);
        match &mut self.stopping {
            Some(stopping) if process::group_alive(stopping.pgid) => {
                stopping.leader_exit = Some(exit);
            }
            Some(_) => self.finish_stop(pid, exit),
            None => {
                // A crashed leader can leave children behind in its group; they would hold
                // ports and files the restarted bot needs, and would run twice.
                process::signal_group(pid, Signal::SIGKILL);
                self.feed(Input::Exited { pid, exit });
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
            process::signal_group(s.pgid, Signal::SIGKILL);
            s.killed = true;
            s.give_up_at = Some(now + KILL_GRACE);
        }
        if let Some(exit) = s.leader_exit {
            let pgid = s.pgid;
            if !process::group_alive(pgid) {
                self.finish_stop(pgid, exit);
            } else if s.give_up_at.is_some_and(|t| now >= t) {
                self.record(
                    "stop-incomplete",
                    format!("processes of group {pgid} survived SIGKILL; giving up on them"),
                );
                self.finish_stop(pgid, exit);
            }
        }
    }

    fn finish_stop(&mut self, pid: u32, exit: Exit) {
        self.stopping = None;
        self.ctx.store.unregister(&self.config.name);
        self.feed(Input::Exited { pid, exit });
    }

    /// True while a stop is still in progress.
    fn busy(&self) -> bool {
        matches!(self.machine.phase, Phase::Stopping { .. }) || self.stopping.is_some()
    }

    fn record(&self, kind: &str, message: String) {
        self.ctx.record(NewEvent {
            bot: Some(self.config.name.clone()),
            owner: Some(self.config.user.clone()),
            kind: kind.to_string(),
            message,
        });
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
        let mut view = self.view.lock().unwrap();
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
    }

    fn answer_waiters(&mut self) {
        if self.busy() {
            return;
        }
        for w in std::mem::take(&mut self.waiters) {
            let outcome = self.outcome(w.action, &w.was);
            let _ = w.reply.send(outcome);
        }
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
                    .or_else(|| {
                        view.last_exit
                            .as_ref()
                            .map(|e| format!("exited with {}", e.description))
                    })
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
    let (code, signal) = match exit {
        Exit::Code(c) => (Some(c), None),
        Exit::Signal(s) => (None, Some(s)),
        Exit::Unknown => (None, None),
    };
    ExitInfo {
        code,
        signal,
        description: exit.describe(),
        at_ms: now_ms() - ago,
    }
}
