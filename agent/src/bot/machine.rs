//! The supervision state machine for one bot: when to spawn, stop, back off and give up.
//! Pure and clock-free; the runner owns the process and executes the actions returned here.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use crate::events::EventKind;
use crate::events::{KILLED_BY_THE_KERNEL, exited_with};

/// The configuration's restart mode, used as it is.
pub use botctl_proto::config::RestartMode as Mode;
use botctl_proto::config::RestartPolicy;
// One duration form in every message (botctl_proto::human).
use botctl_proto::human::duration as compact;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub stable_after: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub max_restarts: u32,
    pub window: Duration,
    pub retry_after: Duration,
    pub stop_timeout: Duration,
    /// `[health] ready = "notify"`: a started process counts as started (for `stable_after`)
    /// only once it says READY=1 (`Machine::ready`).
    pub wait_ready: bool,
}

// The defaults are the configuration's: defined once, there.
impl Default for Policy {
    fn default() -> Self {
        Policy::from(&RestartPolicy::default())
    }
}

impl From<&RestartPolicy> for Policy {
    fn from(p: &RestartPolicy) -> Self {
        Policy {
            mode: p.policy,
            stable_after: p.stable_after,
            backoff_initial: p.backoff_initial,
            backoff_max: p.backoff_max,
            max_restarts: p.max_restarts,
            window: p.window,
            retry_after: p.retry_after,
            stop_timeout: p.stop_timeout,
            wait_ready: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// An adopted process is not our child, so its status cannot be reaped.
    Unknown,
    /// SIGKILL from the kernel's OOM killer at the cgroup's `memory.max` (in MiB).
    OutOfMemory {
        limit_mb: u64,
    },
}

impl Exit {
    pub fn success(&self) -> bool {
        matches!(self, Exit::Code(0))
    }

    /// The exit code or the signal, as stored and shown (neither for an unknown status).
    pub fn code_and_signal(&self) -> (Option<i32>, Option<i32>) {
        match *self {
            Exit::Code(c) => (Some(c), None),
            Exit::Signal(s) => (None, Some(s)),
            Exit::Unknown => (None, None),
            Exit::OutOfMemory { .. } => (None, Some(libc::SIGKILL)),
        }
    }

    pub fn from_code_and_signal(code: Option<i32>, signal: Option<i32>) -> Exit {
        match (code, signal) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Unknown,
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            Exit::Code(code) => format!("code {code}"),
            Exit::Signal(sig) => match signal_name(sig) {
                Some(name) => format!("signal {sig} ({name})"),
                None => format!("signal {sig}"),
            },
            Exit::Unknown => "unknown status".to_string(),
            Exit::OutOfMemory { limit_mb } => {
                format!("{KILLED_BY_THE_KERNEL}out of memory (limit {limit_mb} MiB)")
            }
        }
    }
}

// Only the signals a user is likely to recognise; the number is always shown anyway.
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    Stay,
    Start,
    Remove,
    /// A limit, health or pressure restart: once stopped, restart under the rate limit.
    Recycle,
    /// Stopped by the agent for a reason (an invalid session): once stopped, stay stopped.
    Park,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Stopped,
    Running {
        pid: u32,
        since: Instant,
    },
    /// `since` is kept from Running so uptime stays reportable while the stop is in progress.
    Stopping {
        pid: u32,
        since: Instant,
        then: AfterStop,
    },
    Backoff {
        until: Instant,
    },
    Failed {
        retry_at: Instant,
    },
    Exited,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Start,
    Stop,
    Restart,
    Recover,
    Remove,
    Spawned {
        pid: u32,
    },
    SpawnFailed {
        error: String,
    },
    Exited {
        pid: u32,
        exit: Exit,
    },
    Timer,
    /// The agent decided the running process must be replaced (a resource limit, a failing
    /// health check, host memory pressure). Unlike a user restart it counts toward the
    /// restart-rate limit, so a leaking bot cannot be recycled forever.
    Recycle {
        kind: EventKind,
        reason: String,
    },
    /// The agent stops the bot for a reason that is not a crash (an invalid session); it stays
    /// stopped until started again, and the reason is what the stop event says.
    Park {
        reason: String,
    },
    /// The bot's `[restart] schedule` is due. Like a user's restart it counts toward neither
    /// the restart-rate limit nor the backoff; only a running bot is restarted (a stopped,
    /// failed or backing-off one is where it should be, or already on its way back).
    Scheduled {
        schedule: String,
    },
}

/// Where a bot stands for the next agent: what the operator (or the restart policy) left it
/// at, whatever was under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Wanted running: running, starting, or restarting at once.
    Running,
    Backoff {
        until: Instant,
    },
    Failed {
        retry_at: Instant,
    },
    /// Stopped (by a user, by the agent for a reason, or never started).
    Stopped,
    /// Ended, and its restart policy says leave it.
    Exited,
}

/// What outlives the agent of one bot's supervision (see `Machine::saved`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub standing: Standing,
    pub restarts: u32,
    pub recent_restarts: Vec<Instant>,
    pub quick_failures: u32,
    pub last_exit: Option<(Exit, Instant)>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Spawn,
    Terminate { pid: u32, timeout: Duration },
    Record { kind: EventKind, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub phase: Phase,
    pub recent_restarts: VecDeque<Instant>,
    pub quick_failures: u32,
    pub restarts: u32,
    pub last_exit: Option<(Exit, Instant)>,
    pub last_error: Option<String>,
    // A Spawn was emitted and its Spawned/SpawnFailed has not come back; a second Spawn now
    // would start a second process, and a timer firing now would do the same.
    spawning: bool,
    // The in-flight spawn came from a user restart out of a phase that does not itself
    // imply one (Stopped/Exited), so it must still count toward `restarts`.
    user_restart: bool,
    // Stop/Remove that arrived while a spawn was in flight: there is no pid to terminate yet,
    // so the request is parked and applied to whatever the spawn produces.
    after_spawn: Option<AfterStop>,
    // Why a Park stop is under way, for the event once it completes.
    park_reason: Option<String>,
    // The running process has not said READY=1 yet (`Policy::wait_ready`): however long it
    // ran, its end is a quick failure.
    unready: bool,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    pub fn new() -> Self {
        Machine {
            phase: Phase::Stopped,
            recent_restarts: VecDeque::new(),
            quick_failures: 0,
            restarts: 0,
            last_exit: None,
            last_error: None,
            spawning: false,
            user_restart: false,
            after_spawn: None,
            park_reason: None,
            unready: false,
        }
    }

    pub fn adopted(pid: u32, since: Instant) -> Self {
        Machine {
            phase: Phase::Running { pid, since },
            ..Self::new()
        }
    }

    /// A machine as an earlier agent left it (see `saved`), with the live process it adopted
    /// if any: the same phase, counters and last exit, so the restart policy goes on where it
    /// was. A bot wanted running without a process is left `Stopped` for the runner to start;
    /// one wanted stopped whose process still runs is `Running` for the runner to stop.
    pub fn restored(saved: &Saved, process: Option<(u32, Instant)>) -> Self {
        let phase = match (process, saved.standing) {
            (Some((pid, since)), _) => Phase::Running { pid, since },
            (None, Standing::Running | Standing::Stopped) => Phase::Stopped,
            (None, Standing::Backoff { until }) => Phase::Backoff { until },
            (None, Standing::Failed { retry_at }) => Phase::Failed { retry_at },
            (None, Standing::Exited) => Phase::Exited,
        };
        Machine {
            phase,
            recent_restarts: saved.recent_restarts.iter().copied().collect(),
            quick_failures: saved.quick_failures,
            restarts: saved.restarts,
            last_exit: saved.last_exit,
            last_error: saved.last_error.clone(),
            ..Self::new()
        }
    }

    /// What must outlive the agent: where the bot is meant to stand once what is under way
    /// completes, and the counters of its restart policy. `None` once it is being removed.
    pub fn saved(&self) -> Option<Saved> {
        let standing = if self.spawning {
            match self.after_spawn {
                Some(AfterStop::Remove) => return None,
                Some(AfterStop::Stay | AfterStop::Park) => Standing::Stopped,
                _ => Standing::Running,
            }
        } else {
            match self.phase {
                Phase::Stopped => Standing::Stopped,
                Phase::Running { .. } => Standing::Running,
                Phase::Stopping { then, .. } => match then {
                    AfterStop::Stay | AfterStop::Park => Standing::Stopped,
                    AfterStop::Start | AfterStop::Recycle => Standing::Running,
                    AfterStop::Remove => return None,
                },
                Phase::Backoff { until } => Standing::Backoff { until },
                Phase::Failed { retry_at } => Standing::Failed { retry_at },
                Phase::Exited => Standing::Exited,
                Phase::Removed => return None,
            }
        };
        Some(Saved {
            standing,
            restarts: self.restarts,
            recent_restarts: self.recent_restarts.iter().copied().collect(),
            quick_failures: self.quick_failures,
            last_exit: self.last_exit,
            last_error: self.last_error.clone(),
        })
    }

    pub fn deadline(&self) -> Option<Instant> {
        if self.spawning {
            return None;
        }
        match self.phase {
            Phase::Backoff { until } => Some(until),
            Phase::Failed { retry_at } => Some(retry_at),
            _ => None,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        match self.phase {
            Phase::Running { pid, .. } | Phase::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// The bot's main process is now `new` (sd_notify `MAINPID=`): the same run goes on, and
    /// its end is `new`'s exit.
    pub fn follow(&mut self, new: u32) {
        if let Phase::Running { pid, .. } | Phase::Stopping { pid, .. } = &mut self.phase {
            *pid = new;
        }
    }

    /// The running process `pid` said READY=1: it counts as started from `now`, so
    /// `stable_after` is measured from here. True when this was news.
    pub fn ready(&mut self, pid: u32, now: Instant) -> bool {
        match &mut self.phase {
            Phase::Running { pid: own, since } if *own == pid && self.unready => {
                *since = now;
                self.unready = false;
                true
            }
            _ => false,
        }
    }

    /// The running process was started and has not said READY=1 yet.
    pub fn awaiting_ready(&self) -> bool {
        self.unready && matches!(self.phase, Phase::Running { .. })
    }

    /// How long a run ended at `now` counts for `stable_after`.
    fn stable_run(&self, since: Instant, now: Instant) -> Duration {
        if self.unready {
            Duration::ZERO
        } else {
            now.saturating_duration_since(since)
        }
    }

    pub fn handle(&mut self, input: Input, now: Instant, policy: &Policy) -> Vec<Action> {
        match input {
            Input::Spawned { pid } => self.on_spawned(pid, now, policy),
            Input::SpawnFailed { error } => self.on_spawn_failed(error, now, policy),
            other if self.spawning => self.while_spawning(other),
            Input::Start => self.on_start(),
            Input::Stop => self.on_stop(policy),
            Input::Restart => self.on_restart(policy),
            Input::Recover => self.on_recover(),
            Input::Remove => self.on_remove(policy),
            Input::Exited { pid, exit } => self.on_exited(pid, exit, now, policy),
            Input::Timer => self.on_timer(now),
            Input::Recycle { kind, reason } => self.on_recycle(kind, reason, policy),
            Input::Park { reason } => self.on_park(reason, policy),
            Input::Scheduled { schedule } => self.on_scheduled(schedule, policy),
        }
    }

    fn on_scheduled(&mut self, schedule: String, policy: &Policy) -> Vec<Action> {
        let Phase::Running { pid, since } = self.phase else {
            return Vec::new();
        };
        self.phase = Phase::Stopping {
            pid,
            since,
            then: AfterStop::Start,
        };
        vec![
            record(
                EventKind::ScheduledRestart,
                format!("scheduled restart (schedule \"{schedule}\"): restarting"),
            ),
            terminate(pid, policy),
        ]
    }

    fn on_park(&mut self, reason: String, policy: &Policy) -> Vec<Action> {
        match &mut self.phase {
            Phase::Running { pid, since } => {
                let (pid, since) = (*pid, *since);
                self.park_reason = Some(reason);
                self.phase = Phase::Stopping {
                    pid,
                    since,
                    then: AfterStop::Park,
                };
                vec![terminate(pid, policy)]
            }
            Phase::Stopping { then, .. } => {
                if *then != AfterStop::Remove {
                    *then = AfterStop::Park;
                    self.park_reason = Some(reason);
                }
                Vec::new()
            }
            Phase::Backoff { .. } | Phase::Failed { .. } => {
                self.phase = Phase::Stopped;
                vec![record(EventKind::Stopped, format!("stopped: {reason}"))]
            }
            Phase::Stopped | Phase::Exited | Phase::Removed => Vec::new(),
        }
    }

    fn on_recycle(&mut self, kind: EventKind, reason: String, policy: &Policy) -> Vec<Action> {
        match self.phase {
            Phase::Running { pid, since } => {
                self.phase = Phase::Stopping {
                    pid,
                    since,
                    then: AfterStop::Recycle,
                };
                // Shown as the reason while the bot waits to come back.
                self.last_error = Some(reason.clone());
                vec![
                    record(kind, format!("{reason}: restarting")),
                    terminate(pid, policy),
                ]
            }
            // Nothing runs (or a stop is already under way): nothing to recycle.
            _ => Vec::new(),
        }
    }

    fn while_spawning(&mut self, input: Input) -> Vec<Action> {
        match input {
            Input::Start | Input::Recover | Input::Restart => {
                if self.after_spawn == Some(AfterStop::Stay) {
                    self.after_spawn = None;
                }
                if input == Input::Restart {
                    self.user_restart = true;
                }
            }
            // Remove is never downgraded: the fleet entry is already gone.
            Input::Stop | Input::Park { .. } if self.after_spawn != Some(AfterStop::Remove) => {
                self.after_spawn = Some(AfterStop::Stay);
            }
            Input::Remove => self.after_spawn = Some(AfterStop::Remove),
            // No process exists yet and the timer is suppressed by deadline().
            _ => {}
        }
        Vec::new()
    }

    fn spawn(&mut self) -> Vec<Action> {
        self.spawning = true;
        vec![Action::Spawn]
    }

    fn reset_rate(&mut self) {
        self.recent_restarts.clear();
        self.quick_failures = 0;
    }

    fn on_start(&mut self) -> Vec<Action> {
        match &mut self.phase {
            Phase::Stopped | Phase::Exited | Phase::Backoff { .. } => self.spawn(),
            Phase::Failed { .. } => self.on_recover(),
            Phase::Stopping { then, .. } => {
                if *then != AfterStop::Remove {
                    *then = AfterStop::Start;
                }
                Vec::new()
            }
            Phase::Running { .. } | Phase::Removed => Vec::new(),
        }
    }

    fn on_stop(&mut self, policy: &Policy) -> Vec<Action> {
        match &mut self.phase {
            Phase::Running { pid, since } => {
                let pid = *pid;
                self.phase = Phase::Stopping {
                    pid,
                    since: *since,
                    then: AfterStop::Stay,
                };
                vec![terminate(pid, policy)]
            }
            Phase::Backoff { .. } | Phase::Failed { .. } => {
                self.phase = Phase::Stopped;
                vec![record(EventKind::Stopped, "stopped by user")]
            }
            Phase::Stopping { then, .. } => {
                if *then != AfterStop::Remove {
                    *then = AfterStop::Stay;
                }
                Vec::new()
            }
            Phase::Stopped | Phase::Exited | Phase::Removed => Vec::new(),
        }
    }

    fn on_restart(&mut self, policy: &Policy) -> Vec<Action> {
        match &mut self.phase {
            Phase::Running { pid, since } => {
                let pid = *pid;
                self.phase = Phase::Stopping {
                    pid,
                    since: *since,
                    then: AfterStop::Start,
                };
                vec![terminate(pid, policy)]
            }
            Phase::Stopped | Phase::Exited | Phase::Backoff { .. } | Phase::Failed { .. } => {
                // The user is vouching for the bot, so past crash loops should not throttle it.
                self.reset_rate();
                self.user_restart = true;
                self.spawn()
            }
            Phase::Stopping { then, .. } => {
                if *then != AfterStop::Remove {
                    *then = AfterStop::Start;
                }
                Vec::new()
            }
            Phase::Removed => Vec::new(),
        }
    }

    fn on_recover(&mut self) -> Vec<Action> {
        match self.phase {
            Phase::Backoff { .. } | Phase::Failed { .. } => {
                self.reset_rate();
                let mut actions = vec![record(
                    EventKind::Recovered,
                    "recovered by user: starting now",
                )];
                actions.extend(self.spawn());
                actions
            }
            _ => Vec::new(),
        }
    }

    fn on_remove(&mut self, policy: &Policy) -> Vec<Action> {
        match &mut self.phase {
            Phase::Running { pid, since } => {
                let pid = *pid;
                self.phase = Phase::Stopping {
                    pid,
                    since: *since,
                    then: AfterStop::Remove,
                };
                vec![terminate(pid, policy)]
            }
            Phase::Stopping { then, .. } => {
                *then = AfterStop::Remove;
                Vec::new()
            }
            Phase::Removed => Vec::new(),
            _ => {
                self.phase = Phase::Removed;
                Vec::new()
            }
        }
    }

    fn on_spawned(&mut self, pid: u32, now: Instant, policy: &Policy) -> Vec<Action> {
        match self.phase {
            // A repeated report for the process already tracked.
            Phase::Running { pid: own, .. } | Phase::Stopping { pid: own, .. } if own == pid => {
                return Vec::new();
            }
            // A process nobody asked for: it cannot be tracked alongside the current one (or
            // at all once removed), so kill it rather than leak it. Its Exited will be stale.
            Phase::Running { .. } | Phase::Stopping { .. } | Phase::Removed => {
                return vec![terminate(pid, policy)];
            }
            _ => {}
        }
        let restart =
            self.user_restart || matches!(self.phase, Phase::Backoff { .. } | Phase::Failed { .. });
        self.spawning = false;
        self.user_restart = false;
        self.last_error = None;
        let event = if restart {
            self.restarts = self.restarts.saturating_add(1);
            record(
                EventKind::Restarted,
                format!("restarted, pid {pid} (restart #{})", self.restarts),
            )
        } else {
            record(EventKind::Started, format!("started, pid {pid}"))
        };
        match self.after_spawn.take() {
            Some(then) => {
                self.phase = Phase::Stopping {
                    pid,
                    since: now,
                    then,
                };
                vec![event, terminate(pid, policy)]
            }
            None => {
                self.phase = Phase::Running { pid, since: now };
                self.unready = policy.wait_ready;
                vec![event]
            }
        }
    }

    fn on_spawn_failed(&mut self, error: String, now: Instant, policy: &Policy) -> Vec<Action> {
        if matches!(
            self.phase,
            Phase::Running { .. } | Phase::Stopping { .. } | Phase::Removed
        ) {
            // Nothing was created, so there is nothing to clean up or account for.
            return Vec::new();
        }
        self.spawning = false;
        self.user_restart = false;
        let mut actions = vec![record(
            EventKind::SpawnFailed,
            format!("spawn failed: {error}"),
        )];
        self.last_error = Some(error);
        match self.after_spawn.take() {
            Some(AfterStop::Remove) => self.phase = Phase::Removed,
            Some(_) => {
                self.phase = Phase::Stopped;
                actions.push(record(EventKind::Stopped, "stopped by user"));
            }
            // A command that cannot start is a crash loop of zero-length runs; treating it the
            // same way keeps a typo in the config from spinning the CPU.
            None => actions.extend(self.fail(
                "spawn failed".to_string(),
                Duration::ZERO,
                now,
                policy,
                None,
            )),
        }
        actions
    }

    fn on_exited(&mut self, pid: u32, exit: Exit, now: Instant, policy: &Policy) -> Vec<Action> {
        match self.phase {
            Phase::Running { pid: own, since } if own == pid => {
                self.last_exit = Some((exit, now));
                let ran = now.saturating_duration_since(since);
                let what = format!("{} after {}", exited_with(&exit.describe()), compact(ran));
                let ran = self.stable_run(since, now);
                let leave = match policy.mode {
                    Mode::Always => false,
                    Mode::OnFailure => exit.success(),
                    Mode::Never => true,
                };
                if leave {
                    self.phase = Phase::Exited;
                    return vec![record(
                        EventKind::Exited,
                        format!("{what}; policy {}: not restarting", policy.mode.as_str()),
                    )];
                }
                self.fail(what, ran, now, policy, Some(EventKind::Exited))
            }
            Phase::Stopping {
                pid: own,
                then,
                since,
            } if own == pid => {
                self.last_exit = Some((exit, now));
                match then {
                    AfterStop::Stay => {
                        self.phase = Phase::Stopped;
                        vec![record(EventKind::Stopped, "stopped by user")]
                    }
                    AfterStop::Start => {
                        self.phase = Phase::Stopped;
                        self.user_restart = true;
                        self.spawn()
                    }
                    AfterStop::Remove => {
                        self.phase = Phase::Removed;
                        vec![record(EventKind::Stopped, "stopped: bot removed")]
                    }
                    AfterStop::Park => {
                        self.phase = Phase::Stopped;
                        let why = self.park_reason.take().unwrap_or_default();
                        vec![record(EventKind::Stopped, format!("stopped: {why}"))]
                    }
                    AfterStop::Recycle => {
                        let ran = now.saturating_duration_since(since);
                        let what = format!("stopped ({}) after {}", exit.describe(), compact(ran));
                        let ran = self.stable_run(since, now);
                        self.fail(what, ran, now, policy, None)
                    }
                }
            }
            // Another pid is a process we already stopped tracking; in other phases there is
            // no process at all. Either way the report is stale.
            _ => Vec::new(),
        }
    }

    fn on_timer(&mut self, now: Instant) -> Vec<Action> {
        match self.phase {
            Phase::Backoff { until } if now >= until => self.spawn(),
            Phase::Failed { retry_at } if now >= retry_at => {
                // The cool-down is the point of Failed; once served, the bot gets a full budget.
                self.reset_rate();
                let mut actions = vec![record(
                    EventKind::Recovered,
                    "automatic retry after cool-down",
                )];
                actions.extend(self.spawn());
                actions
            }
            _ => Vec::new(),
        }
    }

    // Shared by real exits and spawn failures so both hit the same backoff and rate limit.
    fn fail(
        &mut self,
        what: String,
        ran: Duration,
        now: Instant,
        policy: &Policy,
        immediate: Option<EventKind>,
    ) -> Vec<Action> {
        let delay = if ran >= policy.stable_after {
            self.quick_failures = 0;
            Duration::ZERO
        } else {
            self.quick_failures = self.quick_failures.saturating_add(1);
            quick_failure_delay(policy, self.quick_failures)
        };

        let window = policy.window;
        self.recent_restarts
            .retain(|&at| now.saturating_duration_since(at) <= window);
        let count = self.recent_restarts.len();
        if count >= policy.max_restarts as usize {
            self.phase = Phase::Failed {
                retry_at: later(now, policy.retry_after),
            };
            let why = if policy.max_restarts == 0 {
                "automatic restarts are disabled (max_restarts 0)".to_string()
            } else {
                format!("restarted {count} times within {}", compact(window))
            };
            return vec![record(
                EventKind::Failed,
                format!(
                    "{what}; {why}: retrying automatically in {} or at `botctl recover`",
                    compact(policy.retry_after)
                ),
            )];
        }

        self.recent_restarts.push_back(now);
        if delay.is_zero() {
            // Backoff with a deadline of now, rather than Stopped, so the bot still reads as
            // wanted (Stop/Start behave as for any pending restart) until Spawned lands.
            self.phase = Phase::Backoff { until: now };
            let now_note = match self.quick_failures {
                0 => "restarting now".to_string(),
                n => format!("restarting now (quick failure {n})"),
            };
            let mut actions: Vec<Action> = immediate
                .map(|kind| record(kind, format!("{what}; {now_note}")))
                .into_iter()
                .collect();
            actions.extend(self.spawn());
            actions
        } else {
            self.phase = Phase::Backoff {
                until: later(now, delay),
            };
            vec![record(
                EventKind::Backoff,
                format!(
                    "{what}; restarting in {} (quick failure {})",
                    compact(delay),
                    self.quick_failures
                ),
            )]
        }
    }
}

fn record(kind: EventKind, message: impl Into<String>) -> Action {
    Action::Record {
        kind,
        message: message.into(),
    }
}

fn terminate(pid: u32, policy: &Policy) -> Action {
    Action::Terminate {
        pid,
        timeout: policy.stop_timeout,
    }
}

// The first quick failure in a row restarts at once, as PM2 and systemd do: one crash is
// usually a hiccup, and only a second one in a row shows a loop worth slowing down.
fn quick_failure_delay(policy: &Policy, quick_failures: u32) -> Duration {
    match quick_failures {
        0 | 1 => Duration::ZERO,
        n => backoff_delay(policy, n - 1),
    }
}

// Saturating throughout: quick_failures is unbounded and a misconfigured policy may hold
// enormous durations, and neither may panic the agent.
fn backoff_delay(policy: &Policy, quick_failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(quick_failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    policy
        .backoff_initial
        .saturating_mul(factor)
        .min(policy.backoff_max)
}

// Instant + Duration panics on overflow; a deadline a century out is as good as never.
fn later(now: Instant, by: Duration) -> Instant {
    now.checked_add(by)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn rec(kind: EventKind, message: &str) -> Action {
        record(kind, message)
    }

    fn term(pid: u32) -> Action {
        Action::Terminate {
            pid,
            timeout: S(10),
        }
    }

    fn kinds(actions: &[Action]) -> Vec<EventKind> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Record { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect()
    }

    fn spawns(actions: &[Action]) -> usize {
        actions.iter().filter(|a| **a == Action::Spawn).count()
    }

    fn running(pid: u32, at: Instant) -> Machine {
        let mut m = Machine::new();
        let p = Policy::default();
        assert_eq!(m.handle(Input::Start, at, &p), vec![Action::Spawn]);
        m.handle(Input::Spawned { pid }, at, &p);
        m
    }

    fn exit1(pid: u32) -> Input {
        Input::Exited {
            pid,
            exit: Exit::Code(1),
        }
    }

    fn phase_index(p: &Phase) -> usize {
        match p {
            Phase::Stopped => 0,
            Phase::Running { .. } => 1,
            Phase::Stopping { .. } => 2,
            Phase::Backoff { .. } => 3,
            Phase::Failed { .. } => 4,
            Phase::Exited => 5,
            Phase::Removed => 6,
        }
    }

    fn input_index(i: &Input) -> usize {
        match i {
            Input::Start => 0,
            Input::Stop => 1,
            Input::Restart => 2,
            Input::Recover => 3,
            Input::Remove => 4,
            Input::Spawned { .. } => 5,
            Input::SpawnFailed { .. } => 6,
            Input::Exited { .. } => 7,
            Input::Timer => 8,
            Input::Recycle { .. } => 9,
            Input::Park { .. } => 10,
            Input::Scheduled { .. } => 11,
        }
    }

    #[test]
    fn every_phase_and_input() {
        use Action::Spawn;
        use EventKind as K;
        let p = Policy::default();
        let t0 = Instant::now();
        let now = t0 + S(20 * 60);

        let stopped = Phase::Stopped;
        let run = Phase::Running {
            pid: 100,
            since: t0,
        };
        let stopping = |then| Phase::Stopping {
            pid: 100,
            since: t0,
            then,
        };
        let backoff = Phase::Backoff { until: t0 + S(5) };
        let failed = Phase::Failed {
            retry_at: t0 + S(15 * 60),
        };
        let exited = Phase::Exited;
        let removed = Phase::Removed;

        let spawned = Input::Spawned { pid: 200 };
        let spawn_failed = Input::SpawnFailed {
            error: "boom".into(),
        };
        let new_run = Phase::Running {
            pid: 200,
            since: now,
        };
        // A first quick failure (none before it in a row) is retried at once.
        let failed_spawn_phase = Phase::Backoff { until: now };
        let failed_spawn = vec![rec(K::SpawnFailed, "spawn failed: boom"), Spawn];
        let restarted = vec![rec(K::Restarted, "restarted, pid 200 (restart #1)")];
        let started = vec![rec(K::Started, "started, pid 200")];
        let recovered = rec(K::Recovered, "recovered by user: starting now");
        let by_user = rec(K::Stopped, "stopped by user");
        let none: Vec<Action> = Vec::new();
        let stay = AfterStop::Stay;
        let park = Input::Park {
            reason: "session expired".into(),
        };
        let recycle = Input::Recycle {
            kind: K::LimitRestart,
            reason: "memory 600 MiB > 512 MiB for 2 samples".into(),
        };
        let scheduled = Input::Scheduled {
            schedule: "0 4 * * *".into(),
        };

        #[rustfmt::skip]
        let table: Vec<(Phase, Input, Phase, Vec<Action>)> = vec![
            (stopped.clone(), Input::Start, stopped.clone(), vec![Spawn]),
            (stopped.clone(), Input::Stop, stopped.clone(), none.clone()),
            (stopped.clone(), Input::Restart, stopped.clone(), vec![Spawn]),
            (stopped.clone(), Input::Recover, stopped.clone(), none.clone()),
            (stopped.clone(), Input::Remove, removed.clone(), none.clone()),
            (stopped.clone(), spawned.clone(), new_run.clone(), started.clone()),
            (stopped.clone(), spawn_failed.clone(), failed_spawn_phase.clone(), failed_spawn.clone()),
            (stopped.clone(), exit1(100), stopped.clone(), none.clone()),
            (stopped.clone(), Input::Timer, stopped.clone(), none.clone()),

            (run.clone(), Input::Start, run.clone(), none.clone()),
            (run.clone(), Input::Stop, stopping(stay), vec![term(100)]),
            (run.clone(), Input::Restart, stopping(AfterStop::Start), vec![term(100)]),
            (run.clone(), Input::Recover, run.clone(), none.clone()),
            (run.clone(), Input::Remove, stopping(AfterStop::Remove), vec![term(100)]),
            (run.clone(), spawned.clone(), run.clone(), vec![term(200)]),
            (run.clone(), spawn_failed.clone(), run.clone(), none.clone()),
            (run.clone(), exit1(100), Phase::Backoff { until: now },
                vec![rec(K::Exited, "exited with code 1 after 20m; restarting now"), Spawn]),
            (run.clone(), Input::Timer, run.clone(), none.clone()),

            (stopping(stay), Input::Start, stopping(AfterStop::Start), none.clone()),
            (stopping(stay), Input::Stop, stopping(stay), none.clone()),
            (stopping(stay), Input::Restart, stopping(AfterStop::Start), none.clone()),
            (stopping(stay), Input::Recover, stopping(stay), none.clone()),
            (stopping(stay), Input::Remove, stopping(AfterStop::Remove), none.clone()),
            (stopping(stay), spawned.clone(), stopping(stay), vec![term(200)]),
            (stopping(stay), spawn_failed.clone(), stopping(stay), none.clone()),
            (stopping(stay), exit1(100), stopped.clone(), vec![by_user.clone()]),
            (stopping(stay), Input::Timer, stopping(stay), none.clone()),

            (backoff.clone(), Input::Start, backoff.clone(), vec![Spawn]),
            (backoff.clone(), Input::Stop, stopped.clone(), vec![by_user.clone()]),
            (backoff.clone(), Input::Restart, backoff.clone(), vec![Spawn]),
            (backoff.clone(), Input::Recover, backoff.clone(), vec![recovered.clone(), Spawn]),
            (backoff.clone(), Input::Remove, removed.clone(), none.clone()),
            (backoff.clone(), spawned.clone(), new_run.clone(), restarted.clone()),
            (backoff.clone(), spawn_failed.clone(), failed_spawn_phase.clone(), failed_spawn.clone()),
            (backoff.clone(), exit1(100), backoff.clone(), none.clone()),
            (backoff.clone(), Input::Timer, backoff.clone(), vec![Spawn]),

            (failed.clone(), Input::Start, failed.clone(), vec![recovered.clone(), Spawn]),
            (failed.clone(), Input::Stop, stopped.clone(), vec![by_user.clone()]),
            (failed.clone(), Input::Restart, failed.clone(), vec![Spawn]),
            (failed.clone(), Input::Recover, failed.clone(), vec![recovered.clone(), Spawn]),
            (failed.clone(), Input::Remove, removed.clone(), none.clone()),
            (failed.clone(), spawned.clone(), new_run.clone(), restarted.clone()),
            (failed.clone(), spawn_failed.clone(), failed_spawn_phase.clone(), failed_spawn.clone()),
            (failed.clone(), exit1(100), failed.clone(), none.clone()),
            (failed.clone(), Input::Timer, failed.clone(),
                vec![rec(K::Recovered, "automatic retry after cool-down"), Spawn]),

            (exited.clone(), Input::Start, exited.clone(), vec![Spawn]),
            (exited.clone(), Input::Stop, exited.clone(), none.clone()),
            (exited.clone(), Input::Restart, exited.clone(), vec![Spawn]),
            (exited.clone(), Input::Recover, exited.clone(), none.clone()),
            (exited.clone(), Input::Remove, removed.clone(), none.clone()),
            (exited.clone(), spawned.clone(), new_run.clone(), started.clone()),
            (exited.clone(), spawn_failed.clone(), failed_spawn_phase.clone(), failed_spawn.clone()),
            (exited.clone(), exit1(100), exited.clone(), none.clone()),
            (exited.clone(), Input::Timer, exited.clone(), none.clone()),

            (removed.clone(), Input::Start, removed.clone(), none.clone()),
            (removed.clone(), Input::Stop, removed.clone(), none.clone()),
            (removed.clone(), Input::Restart, removed.clone(), none.clone()),
            (removed.clone(), Input::Recover, removed.clone(), none.clone()),
            (removed.clone(), Input::Remove, removed.clone(), none.clone()),
            (removed.clone(), spawned.clone(), removed.clone(), vec![term(200)]),
            (removed.clone(), spawn_failed.clone(), removed.clone(), none.clone()),
            (removed.clone(), exit1(100), removed.clone(), none.clone()),
            (removed.clone(), Input::Timer, removed.clone(), none.clone()),

            (stopped.clone(), recycle.clone(), stopped.clone(), none.clone()),
            (run.clone(), recycle.clone(), stopping(AfterStop::Recycle),
                vec![rec(K::LimitRestart, "memory 600 MiB > 512 MiB for 2 samples: restarting"), term(100)]),
            (stopping(stay), recycle.clone(), stopping(stay), none.clone()),
            (backoff.clone(), recycle.clone(), backoff.clone(), none.clone()),
            (failed.clone(), recycle.clone(), failed.clone(), none.clone()),
            (exited.clone(), recycle.clone(), exited.clone(), none.clone()),
            (removed.clone(), recycle.clone(), removed.clone(), none.clone()),

            (stopped.clone(), park.clone(), stopped.clone(), none.clone()),
            (run.clone(), park.clone(), stopping(AfterStop::Park), vec![term(100)]),
            (stopping(stay), park.clone(), stopping(AfterStop::Park), none.clone()),
            (backoff.clone(), park.clone(), stopped.clone(), vec![rec(K::Stopped, "stopped: session expired")]),
            (failed.clone(), park.clone(), stopped.clone(), vec![rec(K::Stopped, "stopped: session expired")]),
            (exited.clone(), park.clone(), exited.clone(), none.clone()),
            (removed.clone(), park.clone(), removed.clone(), none.clone()),

            (stopped.clone(), scheduled.clone(), stopped.clone(), none.clone()),
            (run.clone(), scheduled.clone(), stopping(AfterStop::Start),
                vec![rec(K::ScheduledRestart, "scheduled restart (schedule \"0 4 * * *\"): restarting"), term(100)]),
            (stopping(stay), scheduled.clone(), stopping(stay), none.clone()),
            (backoff.clone(), scheduled.clone(), backoff.clone(), none.clone()),
            (failed.clone(), scheduled.clone(), failed.clone(), none.clone()),
            (exited.clone(), scheduled.clone(), exited.clone(), none.clone()),
            (removed.clone(), scheduled.clone(), removed.clone(), none.clone()),
        ];

        let mut covered = std::collections::HashSet::new();
        for (before, input, after, expected) in table {
            covered.insert((phase_index(&before), input_index(&input)));
            let mut m = Machine {
                phase: before.clone(),
                ..Machine::new()
            };
            let actions = m.handle(input.clone(), now, &p);
            assert_eq!(m.phase, after, "phase after {input:?} in {before:?}");
            assert_eq!(actions, expected, "actions for {input:?} in {before:?}");
        }
        assert_eq!(covered.len(), 7 * 12);
    }

    /// The machine a restored one must equal: what is not saved is what only matters while
    /// a stop or a spawn is under way, and those are not compared.
    fn as_restored(m: &Machine) -> Option<(Machine, Machine)> {
        if m.spawning || matches!(m.phase, Phase::Stopping { .. } | Phase::Removed) {
            return None;
        }
        let process = match m.phase {
            Phase::Running { pid, since } => Some((pid, since)),
            _ => None,
        };
        let back = Machine::restored(&m.saved()?, process);
        Some((
            back,
            Machine {
                park_reason: None,
                ..m.clone()
            },
        ))
    }

    #[test]
    fn what_survives_the_agent_in_every_phase() {
        let t0 = Instant::now();
        let until = t0 + S(5);
        let stopping = |then| Phase::Stopping {
            pid: 100,
            since: t0,
            then,
        };
        let run = Phase::Running {
            pid: 100,
            since: t0,
        };
        use Standing as W;
        #[rustfmt::skip]
        let table: Vec<(Phase, bool, Option<AfterStop>, Option<Standing>)> = vec![
            (Phase::Stopped, false, None, Some(W::Stopped)),
            (run.clone(), false, None, Some(W::Running)),
            (stopping(AfterStop::Stay), false, None, Some(W::Stopped)),
            (stopping(AfterStop::Park), false, None, Some(W::Stopped)),
            (stopping(AfterStop::Start), false, None, Some(W::Running)),
            (stopping(AfterStop::Recycle), false, None, Some(W::Running)),
            (stopping(AfterStop::Remove), false, None, None),
            (Phase::Backoff { until }, false, None, Some(W::Backoff { until })),
            (Phase::Failed { retry_at: until }, false, None, Some(W::Failed { retry_at: until })),
            (Phase::Exited, false, None, Some(W::Exited)),
            (Phase::Removed, false, None, None),
            // A spawn in flight: where the bot stands once it lands.
            (Phase::Stopped, true, None, Some(W::Running)),
            (Phase::Backoff { until: t0 }, true, None, Some(W::Running)),
            (Phase::Failed { retry_at: t0 }, true, None, Some(W::Running)),
            (Phase::Stopped, true, Some(AfterStop::Stay), Some(W::Stopped)),
            (Phase::Stopped, true, Some(AfterStop::Remove), None),
        ];
        for (phase, spawning, after_spawn, expected) in table {
            let m = Machine {
                phase: phase.clone(),
                spawning,
                after_spawn,
                restarts: 7,
                quick_failures: 2,
                recent_restarts: VecDeque::from([t0]),
                last_exit: Some((Exit::Signal(9), t0)),
                last_error: Some("boom".into()),
                ..Machine::new()
            };
            let what = format!("{phase:?}, spawning {spawning}, then {after_spawn:?}");
            let saved = m.saved();
            assert_eq!(saved.as_ref().map(|s| s.standing), expected, "{what}");
            if let Some(saved) = saved {
                assert_eq!(
                    (
                        saved.restarts,
                        saved.quick_failures,
                        &saved.recent_restarts[..]
                    ),
                    (7, 2, &[t0][..]),
                    "{what}"
                );
                assert_eq!(saved.last_exit, Some((Exit::Signal(9), t0)), "{what}");
                assert_eq!(saved.last_error.as_deref(), Some("boom"), "{what}");
            }
            if let Some((back, original)) = as_restored(&m) {
                assert_eq!(back, original, "{what}");
            }
        }
    }

    #[test]
    fn a_restored_machine_carries_on_its_counters_and_cool_down() {
        let p = Policy {
            max_restarts: 2,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let now = t0 + S(60);
        let saved = |standing| Saved {
            standing,
            restarts: 4,
            recent_restarts: vec![t0, t0 + S(1)],
            quick_failures: 1,
            last_exit: None,
            last_error: None,
        };
        // The window is full: the next quick crash fails instead of restarting once more.
        let mut m = Machine::restored(&saved(Standing::Running), Some((9, now)));
        let actions = m.handle(exit1(9), now + S(1), &p);
        assert_eq!(kinds(&actions), vec![EventKind::Failed]);
        assert!(matches!(m.phase, Phase::Failed { .. }));

        // The restart count goes on from where it was.
        let mut m = Machine::restored(&saved(Standing::Stopped), None);
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.handle(Input::Restart, now, &p), vec![Action::Spawn]);
        assert_eq!(
            m.handle(Input::Spawned { pid: 10 }, now, &p),
            vec![rec(EventKind::Restarted, "restarted, pid 10 (restart #5)")]
        );

        // A failed bot waits out what is left of its cool-down, then is retried as usual.
        let retry_at = now + S(30);
        let mut m = Machine::restored(&saved(Standing::Failed { retry_at }), None);
        assert_eq!(m.deadline(), Some(retry_at));
        assert!(
            m.handle(Input::Timer, now, &p).is_empty(),
            "not before it ends"
        );
        let actions = m.handle(Input::Timer, retry_at, &p);
        assert_eq!(
            actions,
            vec![
                rec(EventKind::Recovered, "automatic retry after cool-down"),
                Action::Spawn
            ]
        );

        // A backoff under way keeps its deadline, and its restart counts as one.
        let mut m = Machine::restored(&saved(Standing::Backoff { until: retry_at }), None);
        assert_eq!(m.deadline(), Some(retry_at));
        assert_eq!(m.handle(Input::Timer, retry_at, &p), vec![Action::Spawn]);
        assert_eq!(
            m.handle(Input::Spawned { pid: 11 }, retry_at, &p),
            vec![rec(EventKind::Restarted, "restarted, pid 11 (restart #5)")]
        );

        // Exited stays exited; wanted stopped with a live process is left for the runner to stop.
        let m = Machine::restored(&saved(Standing::Exited), None);
        assert_eq!((m.phase.clone(), m.deadline()), (Phase::Exited, None));
        let m = Machine::restored(&saved(Standing::Stopped), Some((12, now)));
        assert_eq!(m.pid(), Some(12));
    }

    #[test]
    fn park_stops_with_its_reason_and_stays_stopped() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = Machine::adopted(5, t0);
        let actions = m.handle(
            Input::Park {
                reason: "auth expired (auth_token)".into(),
            },
            t0 + S(1),
            &p,
        );
        assert_eq!(actions, vec![term(5)]);
        let actions = m.handle(exit1(5), t0 + S(2), &p);
        assert_eq!(
            actions,
            vec![rec(
                EventKind::Stopped,
                "stopped: auth expired (auth_token)"
            )]
        );
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.deadline(), None, "no automatic restart");
        assert_eq!(m.handle(Input::Start, t0 + S(3), &p), vec![Action::Spawn]);
    }

    #[test]
    fn recycles_count_toward_the_rate_limit() {
        let p = Policy {
            max_restarts: 2,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut m = Machine::adopted(1, t0);
        let mut now = t0;
        for round in 0..3u32 {
            now += S(60);
            let pid = m.pid().unwrap();
            let recycle = Input::Recycle {
                kind: EventKind::LimitRestart,
                reason: "memory 600 MiB > 512 MiB for 2 samples".into(),
            };
            let actions = m.handle(recycle, now, &p);
            assert_eq!(actions[1], term(pid), "round {round}");
            let actions = m.handle(exit1(pid), now, &p);
            if round < 2 {
                assert_eq!(
                    actions,
                    vec![Action::Spawn],
                    "a stable run restarts at once"
                );
                m.handle(Input::Spawned { pid: pid + 1 }, now, &p);
                assert_eq!(m.restarts, round + 1);
            } else {
                assert!(matches!(m.phase, Phase::Failed { .. }), "{:?}", m.phase);
                assert!(matches!(
                    &actions[0],
                    Action::Record {
                        kind: EventKind::Failed,
                        ..
                    }
                ));
            }
        }
    }

    #[test]
    fn stopping_with_start_or_remove_on_exit() {
        let p = Policy::default();
        let t0 = Instant::now();
        for (then, phase, actions) in [
            (AfterStop::Start, Phase::Stopped, vec![Action::Spawn]),
            (
                AfterStop::Remove,
                Phase::Removed,
                vec![rec(EventKind::Stopped, "stopped: bot removed")],
            ),
        ] {
            let mut m = Machine {
                phase: Phase::Stopping {
                    pid: 7,
                    since: t0,
                    then,
                },
                ..Machine::new()
            };
            assert_eq!(m.handle(exit1(7), t0 + S(1), &p), actions);
            assert_eq!(m.phase, phase);
            assert_eq!(m.last_exit, Some((Exit::Code(1), t0 + S(1))));
        }
        // Remove is sticky against every later change of mind.
        let mut m = Machine {
            phase: Phase::Stopping {
                pid: 7,
                since: t0,
                then: AfterStop::Remove,
            },
            ..Machine::new()
        };
        for input in [Input::Start, Input::Stop, Input::Restart] {
            assert!(m.handle(input, t0, &p).is_empty());
        }
        assert!(matches!(
            m.phase,
            Phase::Stopping {
                then: AfterStop::Remove,
                ..
            }
        ));
    }

    #[test]
    fn exit_describe_and_success() {
        assert!(Exit::Code(0).success());
        assert!(!Exit::Code(1).success());
        assert!(!Exit::Signal(0).success());
        assert!(!Exit::Unknown.success());
        assert_eq!(Exit::Code(1).describe(), "code 1");
        assert_eq!(Exit::Code(-1).describe(), "code -1");
        assert_eq!(Exit::Signal(9).describe(), "signal 9 (SIGKILL)");
        assert_eq!(Exit::Signal(15).describe(), "signal 15 (SIGTERM)");
        assert_eq!(Exit::Signal(11).describe(), "signal 11 (SIGSEGV)");
        assert_eq!(Exit::Signal(42).describe(), "signal 42");
        assert_eq!(
            Exit::OutOfMemory { limit_mb: 512 }.describe(),
            "killed by the kernel: out of memory (limit 512 MiB)"
        );
        assert_eq!(Exit::Unknown.describe(), "unknown status");
        for exit in [
            Exit::Code(0),
            Exit::Code(-1),
            Exit::Signal(9),
            Exit::Unknown,
        ] {
            let (code, signal) = exit.code_and_signal();
            assert_eq!(Exit::from_code_and_signal(code, signal), exit);
        }
    }

    #[test]
    fn names_and_defaults() {
        let all = [
            (EventKind::Started, "started"),
            (EventKind::Exited, "exited"),
            (EventKind::Restarted, "restarted"),
            (EventKind::Backoff, "backoff"),
            (EventKind::Failed, "failed"),
            (EventKind::Recovered, "recovered"),
            (EventKind::Stopped, "stopped"),
            (EventKind::SpawnFailed, "spawn-failed"),
            (EventKind::Adopted, "adopted"),
        ];
        for (kind, name) in all {
            assert_eq!(kind.as_str(), name);
        }
        let p = Policy::default();
        assert_eq!(p.mode, Mode::Always);
        assert_eq!(p.stable_after, S(30));
        assert_eq!(p.backoff_initial, S(1));
        assert_eq!(p.backoff_max, S(60));
        assert_eq!(p.max_restarts, 5);
        assert_eq!(p.window, S(600));
        assert_eq!(p.retry_after, S(900));
        assert_eq!(p.stop_timeout, S(10));
        let m = Machine::default();
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.deadline(), None);
        assert_eq!(m.pid(), None);
        assert_eq!(m.restarts, 0);
    }

    #[test]
    fn compact_durations() {
        let cases = [
            (S(0), "0s"),
            (ms(200), "200ms"),
            (ms(1500), "1.5s"),
            (ms(9960), "9.9s"),
            (S(4), "4s"),
            (S(59), "59s"),
            (S(120), "2m"),
            (S(150), "2m 30s"),
            (S(600), "10m"),
            (S(3600), "1h"),
            (S(3900), "1h 5m"),
        ];
        for (d, s) in cases {
            assert_eq!(compact(d), s, "{d:?}");
        }
    }

    #[test]
    fn with_wait_ready_a_run_counts_as_stable_only_from_ready() {
        let p = Policy {
            wait_ready: true,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut m = Machine::new();
        m.handle(Input::Start, t0, &p);
        m.handle(Input::Spawned { pid: 7 }, t0, &p);
        assert!(m.awaiting_ready());
        assert!(!m.ready(8, t0 + S(1)), "another pid's READY=1");
        // Never ready, however long it ran: its end is a quick failure.
        let long = t0 + p.stable_after * 3;
        m.handle(
            Input::Exited {
                pid: 7,
                exit: Exit::Code(1),
            },
            long,
            &p,
        );
        assert_eq!(m.quick_failures, 1);
        m.handle(Input::Spawned { pid: 9 }, long, &p);
        assert!(m.ready(9, long + S(100)));
        assert!(!m.awaiting_ready());
        assert!(!m.ready(9, long + S(101)), "news once");
        // Stable counts from READY=1: a run that ends soon after it is quick.
        m.handle(
            Input::Exited {
                pid: 9,
                exit: Exit::Code(1),
            },
            long + S(110),
            &p,
        );
        assert_eq!(m.quick_failures, 2);
        // Without wait_ready nothing waits.
        let mut m = Machine::new();
        m.handle(Input::Start, t0, &Policy::default());
        m.handle(Input::Spawned { pid: 7 }, t0, &Policy::default());
        assert!(!m.awaiting_ready());
    }

    #[test]
    fn stable_run_restarts_immediately_and_resets_quick_failures() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        m.quick_failures = 3;
        let at = t0 + S(45);
        let actions = m.handle(exit1(1), at, &p);
        assert_eq!(
            actions,
            vec![
                rec(
                    EventKind::Exited,
                    "exited with code 1 after 45s; restarting now"
                ),
                Action::Spawn
            ]
        );
        assert_eq!(m.quick_failures, 0);
        assert_eq!(m.last_exit, Some((Exit::Code(1), at)));
        assert_eq!(m.recent_restarts, VecDeque::from([at]));
        assert_eq!(
            m.handle(Input::Spawned { pid: 2 }, at, &p),
            vec![rec(EventKind::Restarted, "restarted, pid 2 (restart #1)")]
        );
        assert_eq!(m.restarts, 1);
        assert_eq!(m.phase, Phase::Running { pid: 2, since: at });
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = Policy {
            max_restarts: 100,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut now = t0;
        let mut m = running(1, now);
        // The first quick failure restarts at once; backoff starts with the second in a row.
        now += ms(200);
        assert_eq!(
            m.handle(exit1(1), now, &p),
            vec![
                rec(
                    EventKind::Exited,
                    "exited with code 1 after 200ms; restarting now (quick failure 1)"
                ),
                Action::Spawn
            ]
        );
        assert_eq!(m.phase, Phase::Backoff { until: now });
        m.handle(Input::Spawned { pid: 2 }, now, &p);
        let expected = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for (i, secs) in expected.into_iter().enumerate() {
            let pid = i as u32 + 2;
            now += ms(200);
            let actions = m.handle(exit1(pid), now, &p);
            let until = now + S(secs);
            assert_eq!(m.phase, Phase::Backoff { until });
            assert_eq!(m.deadline(), Some(until));
            assert_eq!(m.quick_failures, i as u32 + 2);
            assert_eq!(
                actions,
                vec![rec(
                    EventKind::Backoff,
                    &format!(
                        "exited with code 1 after 200ms; restarting in {} (quick failure {})",
                        compact(S(secs)),
                        i + 2
                    )
                )]
            );
            assert!(m.handle(Input::Timer, until - ms(1), &p).is_empty());
            now = until;
            assert_eq!(m.handle(Input::Timer, now, &p), vec![Action::Spawn]);
            m.handle(Input::Spawned { pid: pid + 1 }, now, &p);
        }
        assert_eq!(m.restarts, expected.len() as u32 + 1);
    }

    #[test]
    fn a_stable_run_makes_the_next_quick_failure_a_first_again() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        let quick = |m: &mut Machine, pid: u32, at: Instant| {
            let actions = m.handle(exit1(pid), at, &p);
            m.handle(Input::Timer, m.deadline().unwrap_or(at), &p);
            m.handle(Input::Spawned { pid: pid + 1 }, at, &p);
            actions
        };
        assert_eq!(spawns(&quick(&mut m, 1, t0 + ms(300))), 1);
        assert_eq!(
            kinds(&quick(&mut m, 2, t0 + ms(600))),
            vec![EventKind::Backoff]
        );
        // Ran past stable_after (30s by default): restarted at once, the count starts over.
        let later = t0 + S(60);
        m.phase = Phase::Running { pid: 3, since: t0 };
        assert_eq!(spawns(&m.handle(exit1(3), later, &p)), 1);
        assert_eq!(m.quick_failures, 0);
        m.handle(Input::Spawned { pid: 4 }, later, &p);
        let actions = m.handle(exit1(4), later + ms(300), &p);
        assert_eq!(spawns(&actions), 1);
        assert_eq!(m.quick_failures, 1);
    }

    #[test]
    fn a_scheduled_restart_neither_counts_nor_backs_off() {
        let p = Policy {
            max_restarts: 0,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut m = running(1, t0);
        m.quick_failures = 2;
        let mut now = t0;
        for pid in 1..=5u32 {
            now += ms(100);
            let actions = m.handle(
                Input::Scheduled {
                    schedule: "* * * * *".into(),
                },
                now,
                &p,
            );
            assert_eq!(kinds(&actions), vec![EventKind::ScheduledRestart]);
            assert_eq!(m.handle(exit1(pid), now, &p), vec![Action::Spawn]);
            m.handle(Input::Spawned { pid: pid + 1 }, now, &p);
            assert_eq!(
                m.phase,
                Phase::Running {
                    pid: pid + 1,
                    since: now
                }
            );
        }
        // Five restarts with max_restarts 0, none of them a failure, the backoff untouched.
        assert_eq!(m.restarts, 5);
        assert!(m.recent_restarts.is_empty());
        assert_eq!(m.quick_failures, 2);
    }

    #[test]
    fn backoff_never_overflows() {
        let p = Policy {
            backoff_max: Duration::MAX,
            ..Policy::default()
        };
        for qf in [1, 31, 32, 33, 1000, u32::MAX] {
            let d = backoff_delay(&p, qf);
            assert!(d >= S(1));
        }
        assert_eq!(backoff_delay(&p, 33), S(u64::from(u32::MAX)));
        let t0 = Instant::now();
        let mut m = running(1, t0);
        m.quick_failures = u32::MAX;
        let p = Policy {
            backoff_max: Duration::MAX,
            max_restarts: 100,
            ..Policy::default()
        };
        m.handle(exit1(1), t0 + ms(1), &p);
        assert_eq!(m.quick_failures, u32::MAX);
        assert!(matches!(m.phase, Phase::Backoff { .. }));
    }

    #[test]
    fn sixth_restart_in_window_fails() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut now = t0;
        let mut m = running(1, now);
        for pid in 1..=5u32 {
            now += ms(200);
            let actions = m.handle(exit1(pid), now, &p);
            let Phase::Backoff { until } = m.phase else {
                panic!("expected backoff, got {:?}", m.phase)
            };
            // Only the first quick failure restarts without waiting.
            assert_eq!(spawns(&actions), usize::from(pid == 1));
            if pid > 1 {
                now = until;
                assert_eq!(m.handle(Input::Timer, now, &p), vec![Action::Spawn]);
            }
            m.handle(Input::Spawned { pid: pid + 1 }, now, &p);
        }
        assert_eq!(m.restarts, 5);
        now += ms(200);
        let actions = m.handle(exit1(6), now, &p);
        assert_eq!(
            actions,
            vec![rec(
                EventKind::Failed,
                "exited with code 1 after 200ms; restarted 5 times within 10m: \
                 retrying automatically in 15m or at `botctl recover`"
            )]
        );
        assert_eq!(
            m.phase,
            Phase::Failed {
                retry_at: now + S(900)
            }
        );
        assert_eq!(m.deadline(), Some(now + S(900)));
    }

    #[test]
    fn restarts_spaced_beyond_window_are_forgotten() {
        let p = Policy {
            max_restarts: 1,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut now = t0;
        let mut m = running(1, now);
        for pid in 1..=20u32 {
            now += S(11 * 60);
            let actions = m.handle(exit1(pid), now, &p);
            assert_eq!(spawns(&actions), 1, "restart {pid}");
            assert_eq!(m.recent_restarts.len(), 1);
            m.handle(Input::Spawned { pid: pid + 1 }, now, &p);
        }
        // The same rhythm inside the window trips the limit on the second exit.
        now += S(60);
        let actions = m.handle(exit1(21), now, &p);
        assert_eq!(kinds(&actions), vec![EventKind::Failed]);
        assert!(matches!(m.phase, Phase::Failed { .. }));
    }

    #[test]
    fn max_restarts_zero_fails_on_first_exit() {
        let p = Policy {
            max_restarts: 0,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut m = running(1, t0);
        let actions = m.handle(exit1(1), t0 + S(60), &p);
        assert_eq!(
            actions,
            vec![rec(
                EventKind::Failed,
                "exited with code 1 after 1m; automatic restarts are disabled (max_restarts 0): \
                 retrying automatically in 15m or at `botctl recover`"
            )]
        );
        assert!(m.recent_restarts.is_empty());
    }

    fn failed_machine(t0: Instant) -> (Machine, Instant) {
        let p = Policy {
            max_restarts: 0,
            ..Policy::default()
        };
        let mut m = running(1, t0);
        m.quick_failures = 2;
        m.handle(exit1(1), t0 + S(1), &p);
        m.recent_restarts.push_back(t0);
        let Phase::Failed { retry_at } = m.phase else {
            panic!("not failed: {:?}", m.phase)
        };
        (m, retry_at)
    }

    #[test]
    fn failed_retries_on_timer_only_once_due() {
        let p = Policy::default();
        let t0 = Instant::now();
        let (mut m, retry_at) = failed_machine(t0);
        assert_eq!(retry_at, t0 + S(1) + S(900));
        assert_eq!(m.deadline(), Some(retry_at));
        assert!(m.handle(Input::Timer, retry_at - ms(1), &p).is_empty());
        assert_eq!(m.phase, Phase::Failed { retry_at });
        assert_eq!(
            m.handle(Input::Timer, retry_at, &p),
            vec![
                rec(EventKind::Recovered, "automatic retry after cool-down"),
                Action::Spawn
            ]
        );
        assert!(m.recent_restarts.is_empty());
        assert_eq!(m.quick_failures, 0);
        assert_eq!(
            m.deadline(),
            None,
            "no second timer while the spawn is pending"
        );
        assert_eq!(
            m.handle(Input::Spawned { pid: 9 }, retry_at, &p),
            vec![rec(EventKind::Restarted, "restarted, pid 9 (restart #1)")]
        );
    }

    #[test]
    fn recover_from_failed_starts_now() {
        let p = Policy::default();
        let t0 = Instant::now();
        let (mut m, _) = failed_machine(t0);
        let at = t0 + S(5);
        assert_eq!(
            m.handle(Input::Recover, at, &p),
            vec![
                rec(EventKind::Recovered, "recovered by user: starting now"),
                Action::Spawn
            ]
        );
        assert!(m.recent_restarts.is_empty());
        assert_eq!(m.quick_failures, 0);
        m.handle(Input::Spawned { pid: 2 }, at, &p);
        assert_eq!(m.phase, Phase::Running { pid: 2, since: at });
    }

    #[test]
    fn on_failure_policy() {
        let p = Policy {
            mode: Mode::OnFailure,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut m = running(1, t0);
        let actions = m.handle(
            Input::Exited {
                pid: 1,
                exit: Exit::Code(0),
            },
            t0 + S(4),
            &p,
        );
        assert_eq!(
            actions,
            vec![rec(
                EventKind::Exited,
                "exited with code 0 after 4s; policy on-failure: not restarting"
            )]
        );
        assert_eq!(m.phase, Phase::Exited);
        assert_eq!(m.deadline(), None);

        let mut m = running(1, t0);
        let actions = m.handle(exit1(1), t0 + S(4), &p);
        assert_eq!(
            actions,
            vec![
                rec(
                    EventKind::Exited,
                    "exited with code 1 after 4s; restarting now (quick failure 1)"
                ),
                Action::Spawn
            ]
        );
        let mut m = running(1, t0);
        let actions = m.handle(
            Input::Exited {
                pid: 1,
                exit: Exit::Signal(11),
            },
            t0 + S(40),
            &p,
        );
        assert_eq!(spawns(&actions), 1);
    }

    #[test]
    fn never_policy_leaves_it_exited() {
        let p = Policy {
            mode: Mode::Never,
            ..Policy::default()
        };
        let t0 = Instant::now();
        let mut m = running(1, t0);
        let actions = m.handle(exit1(1), t0 + S(4), &p);
        assert_eq!(
            actions,
            vec![rec(
                EventKind::Exited,
                "exited with code 1 after 4s; policy never: not restarting"
            )]
        );
        assert_eq!(m.phase, Phase::Exited);
        assert!(m.recent_restarts.is_empty());
    }

    #[test]
    fn user_restart_from_running() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        assert_eq!(m.handle(Input::Restart, t0 + S(5), &p), vec![term(1)]);
        assert_eq!(
            m.phase,
            Phase::Stopping {
                pid: 1,
                since: t0,
                then: AfterStop::Start
            }
        );
        assert_eq!(m.pid(), Some(1));
        let stopped_at = t0 + S(6);
        let exit = Exit::Signal(15);
        let actions = m.handle(Input::Exited { pid: 1, exit }, stopped_at, &p);
        assert_eq!(actions, vec![Action::Spawn]);
        assert_eq!(m.last_exit, Some((exit, stopped_at)));
        assert_eq!(
            m.handle(Input::Spawned { pid: 2 }, stopped_at, &p),
            vec![rec(EventKind::Restarted, "restarted, pid 2 (restart #1)")]
        );
        assert_eq!(m.restarts, 1);
        assert!(
            m.recent_restarts.is_empty(),
            "user restarts are not rate limited"
        );
    }

    #[test]
    fn user_restart_from_stopped_counts() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = Machine::new();
        m.recent_restarts.push_back(t0);
        m.quick_failures = 4;
        assert_eq!(m.handle(Input::Restart, t0, &p), vec![Action::Spawn]);
        assert!(m.recent_restarts.is_empty());
        assert_eq!(m.quick_failures, 0);
        assert_eq!(
            m.handle(Input::Spawned { pid: 3 }, t0, &p),
            vec![rec(EventKind::Restarted, "restarted, pid 3 (restart #1)")]
        );
        // A later plain start is not a restart.
        m.handle(Input::Stop, t0, &p);
        m.handle(exit1(3), t0, &p);
        m.handle(Input::Start, t0, &p);
        assert_eq!(
            m.handle(Input::Spawned { pid: 4 }, t0, &p),
            vec![rec(EventKind::Started, "started, pid 4")]
        );
        assert_eq!(m.restarts, 1);
    }

    #[test]
    fn start_during_stopping_restarts_after() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        assert_eq!(m.handle(Input::Stop, t0, &p), vec![term(1)]);
        assert!(m.handle(Input::Start, t0, &p).is_empty());
        assert_eq!(m.handle(exit1(1), t0 + S(1), &p), vec![Action::Spawn]);
        m.handle(Input::Spawned { pid: 2 }, t0 + S(1), &p);
        assert_eq!(m.pid(), Some(2));
        assert_eq!(m.restarts, 1);
    }

    #[test]
    fn remove_during_stopping_wins_over_start() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        assert_eq!(m.handle(Input::Remove, t0, &p), vec![term(1)]);
        assert!(m.handle(Input::Start, t0, &p).is_empty());
        assert!(m.handle(Input::Restart, t0, &p).is_empty());
        assert_eq!(
            m.handle(exit1(1), t0 + S(1), &p),
            vec![rec(EventKind::Stopped, "stopped: bot removed")]
        );
        assert_eq!(m.phase, Phase::Removed);
        assert_eq!(m.deadline(), None);

        // Start then Remove during a stop: Remove still wins.
        let mut m = running(1, t0);
        m.handle(Input::Stop, t0, &p);
        m.handle(Input::Start, t0, &p);
        m.handle(Input::Remove, t0, &p);
        m.handle(exit1(1), t0, &p);
        assert_eq!(m.phase, Phase::Removed);
    }

    #[test]
    fn stale_exits_are_ignored() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        assert!(m.handle(exit1(99), t0 + S(1), &p).is_empty());
        assert_eq!(m.phase, Phase::Running { pid: 1, since: t0 });
        assert_eq!(m.last_exit, None);
        m.handle(Input::Stop, t0, &p);
        assert!(m.handle(exit1(99), t0 + S(1), &p).is_empty());
        assert_eq!(m.pid(), Some(1));
    }

    #[test]
    fn repeated_spawn_failures_back_off_then_fail() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut now = t0;
        let mut m = Machine::new();
        assert_eq!(m.handle(Input::Start, now, &p), vec![Action::Spawn]);
        let fail = || Input::SpawnFailed {
            error: "command not found".into(),
        };
        let actions = m.handle(fail(), now, &p);
        assert_eq!(
            actions,
            vec![
                rec(EventKind::SpawnFailed, "spawn failed: command not found"),
                Action::Spawn
            ]
        );
        for n in 2..=5u32 {
            let actions = m.handle(fail(), now, &p);
            let delay = S(1 << (n - 2));
            assert_eq!(
                actions,
                vec![
                    rec(EventKind::SpawnFailed, "spawn failed: command not found"),
                    rec(
                        EventKind::Backoff,
                        &format!(
                            "spawn failed; restarting in {} (quick failure {n})",
                            compact(delay)
                        )
                    ),
                ]
            );
            assert_eq!(m.last_error.as_deref(), Some("command not found"));
            assert_eq!(m.phase, Phase::Backoff { until: now + delay });
            now += delay;
            assert_eq!(m.handle(Input::Timer, now, &p), vec![Action::Spawn]);
        }
        let actions = m.handle(fail(), now, &p);
        assert_eq!(
            kinds(&actions),
            vec![EventKind::SpawnFailed, EventKind::Failed]
        );
        assert!(matches!(m.phase, Phase::Failed { .. }));
        m.handle(Input::Recover, now, &p);
        m.handle(Input::Spawned { pid: 5 }, now, &p);
        assert_eq!(m.last_error, None);
        assert_eq!(m.restarts, 1);
    }

    #[test]
    fn adopted_process_restarts_after_unknown_exit() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = Machine::adopted(4242, t0);
        assert_eq!(
            m.phase,
            Phase::Running {
                pid: 4242,
                since: t0
            }
        );
        assert_eq!(m.pid(), Some(4242));
        assert_eq!(m.deadline(), None);
        let at = t0 + S(3600);
        let actions = m.handle(
            Input::Exited {
                pid: 4242,
                exit: Exit::Unknown,
            },
            at,
            &p,
        );
        assert_eq!(
            actions,
            vec![
                rec(
                    EventKind::Exited,
                    "exited with unknown status after 1h; restarting now"
                ),
                Action::Spawn
            ]
        );
        m.handle(Input::Spawned { pid: 5 }, at, &p);
        assert_eq!(m.restarts, 1);
    }

    #[test]
    fn stop_during_backoff() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        // A second quick failure in a row, so it waits.
        m.quick_failures = 1;
        m.handle(exit1(1), t0 + S(1), &p);
        let Phase::Backoff { until } = m.phase else {
            panic!("expected backoff")
        };
        assert_eq!(
            m.handle(Input::Stop, t0 + S(1), &p),
            vec![rec(EventKind::Stopped, "stopped by user")]
        );
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.deadline(), None);
        assert!(m.handle(Input::Timer, until, &p).is_empty());
    }

    #[test]
    fn inputs_while_a_spawn_is_in_flight() {
        let p = Policy::default();
        let t0 = Instant::now();

        // Duplicate starts do not spawn twice.
        let mut m = Machine::new();
        assert_eq!(m.handle(Input::Start, t0, &p), vec![Action::Spawn]);
        for input in [Input::Start, Input::Restart, Input::Recover, Input::Timer] {
            assert!(m.handle(input, t0, &p).is_empty());
        }

        // A stop parked during the spawn terminates the new process at once.
        assert!(m.handle(Input::Stop, t0, &p).is_empty());
        assert_eq!(
            m.handle(Input::Spawned { pid: 8 }, t0, &p),
            vec![
                rec(EventKind::Restarted, "restarted, pid 8 (restart #1)"),
                term(8)
            ]
        );
        assert_eq!(
            m.phase,
            Phase::Stopping {
                pid: 8,
                since: t0,
                then: AfterStop::Stay
            }
        );

        // Stop then Start cancels the stop.
        let mut m = Machine::new();
        m.handle(Input::Start, t0, &p);
        m.handle(Input::Stop, t0, &p);
        m.handle(Input::Start, t0, &p);
        m.handle(Input::Spawned { pid: 8 }, t0, &p);
        assert_eq!(m.phase, Phase::Running { pid: 8, since: t0 });

        // A removal parked during a failing spawn ends in Removed without backoff.
        let mut m = Machine::new();
        m.handle(Input::Start, t0, &p);
        m.handle(Input::Remove, t0, &p);
        assert_eq!(
            m.phase,
            Phase::Stopped,
            "not Removed while a process may appear"
        );
        m.handle(Input::Start, t0, &p);
        let actions = m.handle(Input::SpawnFailed { error: "x".into() }, t0, &p);
        assert_eq!(kinds(&actions), vec![EventKind::SpawnFailed]);
        assert_eq!(m.phase, Phase::Removed);

        // Parked stop with a failing spawn.
        let mut m = Machine::new();
        m.handle(Input::Start, t0, &p);
        m.handle(Input::Stop, t0, &p);
        let actions = m.handle(Input::SpawnFailed { error: "x".into() }, t0, &p);
        assert_eq!(
            kinds(&actions),
            vec![EventKind::SpawnFailed, EventKind::Stopped]
        );
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.quick_failures, 0);
    }

    #[test]
    fn duplicate_spawned_report_is_ignored() {
        let p = Policy::default();
        let t0 = Instant::now();
        let mut m = running(1, t0);
        assert!(m.handle(Input::Spawned { pid: 1 }, t0, &p).is_empty());
        assert_eq!(m.pid(), Some(1));
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn is_reply_input(input: &Input) -> bool {
        matches!(input, Input::Spawned { .. } | Input::SpawnFailed { .. })
    }

    #[test]
    fn random_inputs_keep_invariants() {
        let base = Policy {
            mode: Mode::Always,
            stable_after: S(5),
            backoff_initial: S(1),
            backoff_max: S(8),
            max_restarts: 3,
            window: S(60),
            retry_after: S(120),
            stop_timeout: S(2),
            wait_ready: false,
        };
        let runs = [
            (0x9e37_79b9_7f4a_7c15_u64, Mode::Always),
            (0x0123_4567_89ab_cdef, Mode::OnFailure),
            (0xdead_beef_cafe_f00d, Mode::Never),
            (42, Mode::Always),
        ];
        for (seed, mode) in runs {
            let p = Policy {
                mode,
                ..base.clone()
            };
            let mut rng = XorShift(seed);
            let mut now = Instant::now();
            let mut m = Machine::new();
            let mut outstanding = false;
            let mut next_pid = 1000u32;
            let mut auto_restarts: Vec<Instant> = Vec::new();
            let mut seen_failed = false;
            let (mut immediate, mut delayed, mut parked) = (0, 0, 0);

            for step in 0..20_000 {
                now += match rng.below(4) {
                    0 => ms(rng.below(500)),
                    1 => ms(rng.below(5_000)),
                    2 => ms(rng.below(30_000)),
                    _ => ms(rng.below(200_000)),
                };
                let exit = match rng.below(4) {
                    0 => Exit::Code(0),
                    1 => Exit::Code(1),
                    2 => Exit::Signal(9),
                    _ => Exit::Unknown,
                };
                let input = if outstanding && rng.below(5) != 0 {
                    if rng.below(3) == 0 {
                        Input::SpawnFailed { error: "e".into() }
                    } else {
                        next_pid += 1;
                        Input::Spawned { pid: next_pid }
                    }
                } else {
                    match rng.below(13) {
                        0 => Input::Start,
                        1 => Input::Stop,
                        2 => Input::Restart,
                        3 => Input::Recover,
                        4 if rng.below(10) == 0 => Input::Remove,
                        5 => {
                            next_pid += 1;
                            Input::Spawned { pid: next_pid }
                        }
                        6 => Input::SpawnFailed { error: "e".into() },
                        7..=9 => {
                            let pid = match m.pid() {
                                Some(pid) if rng.below(8) != 0 => pid,
                                _ => rng.below(5) as u32,
                            };
                            Input::Exited { pid, exit }
                        }
                        _ => {
                            if let Some(d) = m.deadline()
                                && rng.below(2) == 0
                            {
                                now = now.max(d);
                            }
                            Input::Timer
                        }
                    }
                };

                if outstanding && !is_reply_input(&input) {
                    parked += 1;
                }
                let before = m.phase.clone();
                let ctx = format!("seed {seed:x} step {step}: {input:?} in {before:?}");
                let is_reply = is_reply_input(&input);
                let actions = m.handle(input.clone(), now, &p);
                if is_reply {
                    outstanding = false;
                }

                let n = spawns(&actions);
                assert!(n <= 1, "{ctx}: {actions:?}");
                if n == 1 {
                    assert!(!outstanding, "second Spawn before a reply: {ctx}");
                    outstanding = true;
                    assert!(
                        !matches!(
                            m.phase,
                            Phase::Running { .. } | Phase::Stopping { .. } | Phase::Removed
                        ),
                        "{ctx}: spawned into {:?}",
                        m.phase
                    );
                }
                assert_eq!(m.spawning, outstanding, "{ctx}");
                if outstanding {
                    assert_eq!(m.deadline(), None, "{ctx}");
                }

                // Automatic restarts: never before the deadline, never faster than the backoff.
                if n == 1 && input == Input::Timer {
                    match before {
                        Phase::Backoff { until } => assert!(now >= until, "{ctx}"),
                        Phase::Failed { retry_at } => assert!(now >= retry_at, "{ctx}"),
                        _ => panic!("timer spawned from {before:?}"),
                    }
                }
                let automatic = matches!(input, Input::Exited { .. } | Input::SpawnFailed { .. });
                if automatic
                    && !actions.is_empty()
                    && let Phase::Backoff { until } = m.phase
                {
                    if until == now {
                        // After a stable run, or the first quick failure in a row.
                        match (m.quick_failures, &before) {
                            (0, Phase::Running { since, .. }) => {
                                assert!(now - *since >= p.stable_after, "{ctx}")
                            }
                            (1, _) => {}
                            _ => panic!("immediate restart from {before:?}: {ctx}"),
                        }
                        assert_eq!(n, 1, "{ctx}");
                        immediate += 1;
                    } else {
                        let qf = m.quick_failures;
                        assert!(qf >= 2, "{ctx}");
                        let expected = S(1u64 << (qf - 2).min(20)).min(p.backoff_max);
                        assert_eq!(until - now, expected, "{ctx}");
                        assert_eq!(n, 0, "{ctx}");
                        delayed += 1;
                    }
                    auto_restarts.push(now);
                }
                if matches!(m.phase, Phase::Failed { .. }) {
                    seen_failed = true;
                }

                // Rate limit, checked against an independent log of automatic restarts.
                let user_reset = actions.iter().any(|a| {
                    matches!(
                        a,
                        Action::Record {
                            kind: EventKind::Recovered,
                            ..
                        }
                    )
                }) || (input == Input::Restart && n == 1);
                if user_reset {
                    auto_restarts.clear();
                }
                let in_window = auto_restarts
                    .iter()
                    .filter(|&&at| now - at <= p.window)
                    .count();
                assert!(in_window <= p.max_restarts as usize, "{ctx}");
                assert!(m.recent_restarts.len() <= p.max_restarts as usize, "{ctx}");

                // Whatever it went through, an agent restart here would change nothing.
                if let Some((back, original)) = as_restored(&m) {
                    assert_eq!(back, original, "{ctx}: restored");
                }

                if m.phase == Phase::Removed {
                    assert!(!outstanding, "{ctx}");
                    m = Machine::new();
                    auto_restarts.clear();
                }
            }
            if mode == Mode::Always {
                assert!(seen_failed, "seed {seed:x} never reached Failed");
                assert!(immediate > 10 && delayed > 10, "{immediate} {delayed}");
            }
            assert!(
                parked > 10,
                "in-flight inputs exercised only {parked} times"
            );
        }
    }
}

/// The machine driven by a simulated runner through arbitrary sequences of user commands,
/// crashes, spawn results and time, checked against the promises the README makes: one live
/// process per bot at most, and automatic restarts no faster than the policy allows.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Start,
        Stop,
        Restart,
        Recover,
        Remove,
        Recycle,
        Park,
        Scheduled,
        /// The live process exits by itself (or, when a stop was asked, at last obeys it).
        Exit(Exit),
        /// The outstanding spawn, if any, reports back.
        SpawnOk,
        SpawnFails,
        /// A stale exit report for a pid that is not the live one.
        StaleExit(u32),
        Wait(u64),
        /// The runner's timer fires at the machine's deadline.
        Deadline,
    }

    fn op() -> impl Strategy<Value = Op> {
        let exit = prop_oneof![
            Just(Exit::Code(0)),
            Just(Exit::Code(1)),
            Just(Exit::Signal(9)),
            Just(Exit::Unknown),
        ];
        prop_oneof![
            2 => Just(Op::Start),
            2 => Just(Op::Stop),
            2 => Just(Op::Restart),
            1 => Just(Op::Recover),
            1 => Just(Op::Remove),
            1 => Just(Op::Recycle),
            1 => Just(Op::Park),
            1 => Just(Op::Scheduled),
            6 => exit.prop_map(Op::Exit),
            4 => Just(Op::SpawnOk),
            1 => Just(Op::SpawnFails),
            1 => (0u32..3).prop_map(Op::StaleExit),
            4 => (0u64..3_000).prop_map(Op::Wait),
            5 => Just(Op::Deadline),
        ]
    }

    fn policy() -> impl Strategy<Value = Policy> {
        let mode = prop_oneof![Just(Mode::Always), Just(Mode::OnFailure), Just(Mode::Never)];
        (
            mode,
            0u64..2_000,
            0u64..1_000,
            0u64..4_000,
            0u32..5,
            1u64..20_000,
            0u64..10_000,
        )
            .prop_map(
                |(mode, stable, initial, max, max_restarts, window, retry)| Policy {
                    mode,
                    stable_after: Duration::from_millis(stable),
                    backoff_initial: Duration::from_millis(initial),
                    backoff_max: Duration::from_millis(max),
                    max_restarts,
                    window: Duration::from_millis(window),
                    retry_after: Duration::from_millis(retry),
                    stop_timeout: Duration::from_secs(1),
                    wait_ready: false,
                },
            )
    }

    /// What the runner knows: the process it started, if any, and what it was asked to do.
    #[derive(Default)]
    struct Runner {
        live: Option<u32>,
        spawn_pending: bool,
        next_pid: u32,
        /// Times of restarts the machine decided by itself, since the last human reset.
        automatic: Vec<Instant>,
        /// Quick failures in a row the runner saw since the last stable run or human reset.
        quick_in_row: u32,
        /// When the last quick failure that must wait was seen, and when `Failed` was entered.
        quick_exit_at: Option<Instant>,
        failed_at: Option<Instant>,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        #[test]
        fn one_process_at_most_and_restarts_within_policy(
            p in policy(),
            ops in prop::collection::vec(op(), 1..120),
        ) {
            run(&p, ops)?;
        }
    }

    fn run(p: &Policy, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut m = Machine::new();
        let mut r = Runner {
            next_pid: 100,
            ..Runner::default()
        };
        let mut now = Instant::now();
        for (step, op) in ops.into_iter().enumerate() {
            let before = m.phase.clone();
            let ctx = || format!("step {step}: {op:?} in {before:?}");
            let input = match &op {
                Op::Start => Input::Start,
                Op::Stop => Input::Stop,
                Op::Restart => Input::Restart,
                Op::Recover => Input::Recover,
                Op::Remove => Input::Remove,
                Op::Recycle => Input::Recycle {
                    kind: EventKind::LimitRestart,
                    reason: "limit".into(),
                },
                Op::Park => Input::Park {
                    reason: "session".into(),
                },
                Op::Scheduled => Input::Scheduled {
                    schedule: "* * * * *".into(),
                },
                Op::Exit(exit) => match r.live.take() {
                    Some(pid) => Input::Exited { pid, exit: *exit },
                    None => continue,
                },
                Op::SpawnOk if r.spawn_pending => {
                    r.spawn_pending = false;
                    r.next_pid += 1;
                    r.live = Some(r.next_pid);
                    Input::Spawned { pid: r.next_pid }
                }
                Op::SpawnFails if r.spawn_pending => {
                    r.spawn_pending = false;
                    Input::SpawnFailed {
                        error: "no such file".into(),
                    }
                }
                Op::SpawnOk | Op::SpawnFails => continue,
                Op::StaleExit(pid) => Input::Exited {
                    pid: *pid,
                    exit: Exit::Code(1),
                },
                Op::Wait(ms) => {
                    now += Duration::from_millis(*ms);
                    continue;
                }
                Op::Deadline => match m.deadline() {
                    Some(at) => {
                        now = now.max(at);
                        Input::Timer
                    }
                    None => continue,
                },
            };
            let human = matches!(input, Input::Start | Input::Restart | Input::Recover);
            // Exits the machine answers with a restart of its own accord: a crash, or the end
            // of a recycle (a limit or health restart); not the end of a user restart.
            let (own_exit_or_spawn_failure, quick) = match (&input, &before) {
                (Input::Exited { pid, .. }, Phase::Running { pid: own, since })
                | (
                    Input::Exited { pid, .. },
                    Phase::Stopping {
                        pid: own,
                        since,
                        then: AfterStop::Recycle,
                    },
                ) if pid == own => (true, now.saturating_duration_since(*since) < p.stable_after),
                (Input::SpawnFailed { .. }, _) => (true, true),
                _ => (false, false),
            };
            let timer = input == Input::Timer;
            let actions = m.handle(input, now, p);
            let recovered = actions.iter().any(|a| {
                matches!(
                    a,
                    Action::Record {
                        kind: EventKind::Recovered,
                        ..
                    }
                )
            });
            if human || recovered {
                r.automatic.clear();
                r.quick_in_row = 0;
            }

            for action in &actions {
                match action {
                    Action::Spawn => {
                        prop_assert!(
                            r.live.is_none(),
                            "{}: Spawn while {:?} lives",
                            ctx(),
                            r.live
                        );
                        prop_assert!(!r.spawn_pending, "{}: a second Spawn in flight", ctx());
                        r.spawn_pending = true;
                    }
                    Action::Terminate { pid, .. } => {
                        prop_assert_eq!(Some(*pid), r.live, "{}: terminates a dead pid", ctx());
                    }
                    Action::Record { .. } => {}
                }
            }
            // The machine tracks exactly the live process, so it can always stop it.
            prop_assert_eq!(m.pid(), r.live, "{}: machine and runner disagree", ctx());

            // Every restart the machine decides by itself counts toward the rate limit.
            if own_exit_or_spawn_failure
                && matches!(m.phase, Phase::Backoff { .. } | Phase::Failed { .. })
            {
                r.quick_in_row = if quick { r.quick_in_row + 1 } else { 0 };
            }
            if own_exit_or_spawn_failure && matches!(m.phase, Phase::Backoff { .. }) {
                r.automatic.push(now);
                // The first quick failure in a row is restarted at once; from the second on,
                // a restart waits at least the initial backoff.
                r.quick_exit_at = (quick && r.quick_in_row >= 2).then_some(now);
            }
            let in_window = r
                .automatic
                .iter()
                .filter(|&&t| now.saturating_duration_since(t) <= p.window)
                .count();
            prop_assert!(
                in_window <= p.max_restarts as usize,
                "{}: {} automatic restarts within {:?}, max {}",
                ctx(),
                in_window,
                p.window,
                p.max_restarts
            );

            // After a quick failure a restart waits the backoff; after failing, the cool-down.
            if timer && actions.contains(&Action::Spawn) {
                match before {
                    Phase::Backoff { .. } => {
                        if let Some(at) = r.quick_exit_at {
                            let waited = now.saturating_duration_since(at);
                            let least = p.backoff_initial.min(p.backoff_max);
                            prop_assert!(waited >= least, "{}: after {:?}", ctx(), waited);
                        }
                    }
                    Phase::Failed { .. } => {
                        let at = r.failed_at.expect("entered Failed");
                        let waited = now.saturating_duration_since(at);
                        prop_assert!(waited >= p.retry_after, "{}: after {:?}", ctx(), waited);
                    }
                    _ => prop_assert!(false, "{}: the timer spawned", ctx()),
                }
            }
            if matches!(m.phase, Phase::Failed { .. }) && !matches!(before, Phase::Failed { .. }) {
                r.failed_at = Some(now);
            }

            // An agent restart at any quiet moment would leave the machine as it is.
            if !m.spawning && !matches!(m.phase, Phase::Stopping { .. } | Phase::Removed) {
                let process = match m.phase {
                    Phase::Running { pid, since } => Some((pid, since)),
                    _ => None,
                };
                let saved = m.saved().expect("a machine not being removed is saved");
                let back = Machine::restored(&saved, process);
                prop_assert_eq!(
                    back,
                    Machine {
                        park_reason: None,
                        ..m.clone()
                    },
                    "{}: restored",
                    ctx()
                );
            }

            if m.phase == Phase::Removed {
                prop_assert!(
                    r.live.is_none() && !r.spawn_pending,
                    "{}: removed with a process left",
                    ctx()
                );
                break;
            }
        }
        Ok(())
    }
}
