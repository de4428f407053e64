//! Whether a running bot is alive and useful: the sd_notify messages it sends (the parser)
//! and the pure deadlines of readiness, the watchdog and log silence; the runner owns the clock.

use std::time::{Duration, Instant};

use botctl_proto::config::{BotConfig, ReadyMode};
use botctl_proto::human::duration as compact;

use crate::events::EventKind;

/// The longest `STATUS=` text kept: a status line, not a log.
const STATUS_MAX_CHARS: usize = 200;

/// One assignment of an sd_notify datagram that botctl acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Ready,
    Watchdog,
    Status(String),
    Stopping,
    Reloading,
    MainPid(u32),
    /// A new watchdog period, in microseconds (0 switches the watchdog off).
    WatchdogUsec(u64),
    /// More time to become ready, from now, in microseconds.
    ExtendTimeoutUsec(u64),
}

/// The notices of one datagram: newline-separated `KEY=value` lines, as sd_notify(3) sends
/// them. Lines botctl does not act on (`ERRNO=`, `FDSTORE=`, malformed ones) are skipped.
pub fn parse(datagram: &[u8]) -> Vec<Notice> {
    let text = String::from_utf8_lossy(datagram);
    text.split('\n')
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let number = || value.trim().parse::<u64>().ok();
            Some(match key {
                "READY" if value == "1" => Notice::Ready,
                "WATCHDOG" if value == "1" => Notice::Watchdog,
                "STOPPING" if value == "1" => Notice::Stopping,
                "RELOADING" if value == "1" => Notice::Reloading,
                "STATUS" => Notice::Status(status_text(value)),
                "MAINPID" => Notice::MainPid(u32::try_from(number()?).ok().filter(|p| *p > 1)?),
                "WATCHDOG_USEC" => Notice::WatchdogUsec(number()?),
                "EXTEND_TIMEOUT_USEC" => Notice::ExtendTimeoutUsec(number()?),
                _ => return None,
            })
        })
        .collect()
}

/// A status as shown: printable characters only (it lands in tables and terminals), cut to
/// a status line's length.
fn status_text(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(STATUS_MAX_CHARS)
        .collect()
}

/// What a bot's `[health]` asks to be watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watches {
    /// `ready = "notify"`, with its `start_timeout`.
    pub ready: Option<Duration>,
    pub watchdog: Option<Duration>,
    pub log_silence: Option<Duration>,
}

impl Watches {
    /// Whether the bot is set up to speak sd_notify (readiness or a watchdog).
    pub fn speaks(&self) -> bool {
        self.ready.is_some() || self.watchdog.is_some()
    }

    pub fn of(config: &BotConfig) -> Watches {
        let Some(h) = &config.health else {
            return Watches::default();
        };
        Watches {
            ready: (h.ready == ReadyMode::Notify).then_some(h.start_timeout.0),
            watchdog: h.watchdog.map(|d| d.0),
            log_silence: h.log_silence.map(|d| d.0),
        }
    }
}

/// What the bot said it is doing besides running (shown as the state's detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    Stopping,
    Reloading,
}

impl Note {
    pub fn as_str(self) -> &'static str {
        match self {
            Note::Stopping => "stopping (STOPPING=1)",
            Note::Reloading => "reloading (RELOADING=1)",
        }
    }
}

/// Why a running bot is to be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No READY=1 within the start timeout (how long it waited).
    NotReady(Duration),
    /// No WATCHDOG=1 within the watchdog period.
    NoPing(Duration),
    /// No log output for `log_silence`.
    Silent(Duration),
}

impl Verdict {
    pub fn kind(self) -> EventKind {
        match self {
            Verdict::NotReady(_) => EventKind::NotReady,
            Verdict::NoPing(_) | Verdict::Silent(_) => EventKind::Hung,
        }
    }

    /// The event's words: "hung: no watchdog ping for 60s".
    pub fn reason(self) -> String {
        match self {
            Verdict::NotReady(d) => format!("not ready after {}", compact(d)),
            Verdict::NoPing(d) => format!("hung: no watchdog ping for {}", compact(d)),
            Verdict::Silent(d) => format!("hung: no log output for {}", compact(d)),
        }
    }
}

/// The watches of one running process. `None` deadlines are off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Liveness {
    /// Waiting for READY=1: when it began and when it gives up.
    waiting: Option<(Instant, Instant)>,
    /// The watchdog period and the time by which the next ping is due.
    watchdog: Option<(Duration, Instant)>,
    /// The silence allowed and since when output is counted.
    silence: Option<(Duration, Instant)>,
    /// The next time the silence is looked at (moved on by output seen meanwhile).
    silence_check: Option<Instant>,
    /// Adopted from an earlier agent and silent since: its watchdog waits for a first message
    /// (a client that connected its socket to the earlier agent's can no longer reach us).
    unheard: Option<Watches>,
    /// The period the bot set with `WATCHDOG_USEC=` (zero: off), over the configured one.
    period_set: Option<Duration>,
    /// The last `STATUS=` text of this process.
    pub status: Option<String>,
    pub note: Option<Note>,
    /// The process has sent a message this agent acted on.
    pub heard: bool,
}

impl Liveness {
    /// A process just started (`fresh`) or adopted from an earlier agent (it said READY=1 to
    /// that agent, or never will: it is taken as ready; its watchdog counts from its first
    /// message to this agent).
    pub fn started(watches: Watches, now: Instant, fresh: bool) -> Liveness {
        let mut l = Liveness::default();
        match watches.ready.filter(|_| fresh) {
            Some(timeout) => l.waiting = Some((now, later(now, timeout))),
            None => l.arm(watches, now),
        }
        if !fresh && l.watchdog.take().is_some() {
            l.unheard = Some(watches);
        }
        l
    }

    /// The watchdog and the silence count from readiness: before it, the start timeout rules.
    fn arm(&mut self, watches: Watches, now: Instant) {
        let period = self
            .period_set
            .or(watches.watchdog)
            .filter(|d| !d.is_zero());
        self.watchdog = period.map(|d| (d, later(now, d)));
        self.silence = watches.log_silence.map(|d| (d, now));
        self.silence_check = watches.log_silence.map(|d| later(now, d));
    }

    /// Moves every deadline `by` later: the time the bot could not be heard (its task was
    /// prepared during a fleet load and ran only once the whole fleet was started).
    pub fn postpone(&mut self, by: Duration) {
        if let Some((_, give_up)) = &mut self.waiting {
            *give_up = later(*give_up, by);
        }
        if let Some((_, due)) = &mut self.watchdog {
            *due = later(*due, by);
        }
        if let Some((_, armed)) = &mut self.silence {
            *armed = later(*armed, by);
        }
        if let Some(check) = &mut self.silence_check {
            *check = later(*check, by);
        }
    }

    pub fn waiting_ready(&self) -> bool {
        self.waiting.is_some()
    }

    /// Takes one notice in. True when it made the bot ready.
    pub fn notice(&mut self, notice: &Notice, watches: Watches, now: Instant) -> bool {
        self.heard = true;
        if let Some(w) = self.unheard.take() {
            let period = self.period_set.or(w.watchdog).filter(|d| !d.is_zero());
            self.watchdog = period.map(|d| (d, later(now, d)));
        }
        match notice {
            Notice::Ready => {
                // READY=1 also ends a reload, as for systemd.
                if self.note == Some(Note::Reloading) {
                    self.note = None;
                }
                if self.waiting.take().is_some() {
                    self.arm(watches, now);
                    return true;
                }
            }
            Notice::Watchdog => {
                if let Some((period, due)) = &mut self.watchdog {
                    *due = later(now, *period);
                }
            }
            Notice::WatchdogUsec(usec) => {
                // A new period counts from now (or from readiness); 0 switches it off.
                let period = Duration::from_micros(*usec);
                self.period_set = Some(period);
                if self.waiting.is_none() {
                    self.watchdog = (!period.is_zero()).then(|| (period, later(now, period)));
                }
            }
            Notice::ExtendTimeoutUsec(usec) => {
                if let Some((_, give_up)) = &mut self.waiting {
                    *give_up = (*give_up).max(later(now, Duration::from_micros(*usec)));
                }
            }
            Notice::Status(text) => self.status = Some(text.clone()).filter(|t| !t.is_empty()),
            Notice::Stopping => self.note = Some(Note::Stopping),
            Notice::Reloading => self.note = Some(Note::Reloading),
            // The runner's business: it decides whether the pid is the bot's.
            Notice::MainPid(_) => {}
        }
        false
    }

    /// The next time `due` has something to look at.
    pub fn deadline(&self) -> Option<Instant> {
        [
            self.waiting.map(|(_, t)| t),
            self.watchdog.map(|(_, t)| t),
            self.silence_check,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// What is overdue at `now`, given the bot's last log output (if any was seen).
    pub fn due(&mut self, now: Instant, last_output: Option<Instant>) -> Option<Verdict> {
        if let Some((since, give_up)) = self.waiting
            && now >= give_up
        {
            return Some(Verdict::NotReady(now.saturating_duration_since(since)));
        }
        if let Some((period, due)) = self.watchdog
            && now >= due
        {
            return Some(Verdict::NoPing(period));
        }
        if let (Some((allowed, armed)), Some(check)) = (self.silence, self.silence_check)
            && now >= check
        {
            let latest = last_output.map_or(armed, |o| o.max(armed));
            let quiet_until = later(latest, allowed);
            if now >= quiet_until {
                return Some(Verdict::Silent(allowed));
            }
            self.silence_check = Some(quiet_until);
        }
        None
    }
}

/// `now + by`, or far away if that does not fit.
fn later(now: Instant, by: Duration) -> Instant {
    now.checked_add(by)
        .or_else(|| now.checked_add(botctl_proto::config::MAX_DURATION))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_datagram_holds_several_assignments() {
        assert_eq!(
            parse(b"READY=1\nSTATUS=polling mentions (42 today)\nWATCHDOG=1"),
            [
                Notice::Ready,
                Notice::Status("polling mentions (42 today)".into()),
                Notice::Watchdog
            ]
        );
        assert_eq!(
            parse(b"MAINPID=4242\nWATCHDOG_USEC=5000000\nEXTEND_TIMEOUT_USEC=20000000\n"),
            [
                Notice::MainPid(4242),
                Notice::WatchdogUsec(5_000_000),
                Notice::ExtendTimeoutUsec(20_000_000)
            ]
        );
        assert_eq!(
            parse(b"STOPPING=1\nRELOADING=1"),
            [Notice::Stopping, Notice::Reloading]
        );
    }

    #[test]
    fn what_is_not_understood_is_skipped() {
        assert_eq!(
            parse(b"READY=0\nERRNO=2\nFDSTORE=1\nnonsense\nMAINPID=x\nMAINPID=1\nWATCHDOG=trigger"),
            []
        );
        assert_eq!(parse(b""), []);
        // Control characters would break a table or a terminal; long text is cut.
        let long = format!("STATUS=a\x1b[31mb\r{}", "x".repeat(500));
        let [Notice::Status(s)] = &parse(long.as_bytes())[..] else {
            panic!()
        };
        assert!(s.starts_with("a[31mb"));
        assert_eq!(s.chars().count(), STATUS_MAX_CHARS);
    }

    fn watches(ready: Option<u64>, watchdog: Option<u64>, silence: Option<u64>) -> Watches {
        Watches {
            ready: ready.map(S),
            watchdog: watchdog.map(S),
            log_silence: silence.map(S),
        }
    }

    #[test]
    fn not_ready_within_the_start_timeout_unless_extended() {
        let w = watches(Some(90), Some(10), None);
        let t0 = Instant::now();
        let mut l = Liveness::started(w, t0, true);
        assert!(l.waiting_ready());
        // The watchdog waits for readiness.
        assert_eq!(l.deadline(), Some(t0 + S(90)));
        assert_eq!(l.due(t0 + S(89), None), None);
        assert_eq!(l.due(t0 + S(90), None), Some(Verdict::NotReady(S(90))));
        assert_eq!(Verdict::NotReady(S(90)).reason(), "not ready after 1m 30s");

        let mut l = Liveness::started(w, t0, true);
        l.notice(&Notice::ExtendTimeoutUsec(120_000_000), w, t0 + S(60));
        assert_eq!(l.due(t0 + S(100), None), None);
        assert_eq!(l.deadline(), Some(t0 + S(180)));
        assert!(l.notice(&Notice::Ready, w, t0 + S(150)));
        assert!(!l.waiting_ready());
        assert!(!l.notice(&Notice::Ready, w, t0 + S(151)), "once only");
        assert_eq!(l.deadline(), Some(t0 + S(160)));
        // A period set before readiness is the one armed at it.
        let mut l = Liveness::started(w, t0, true);
        l.notice(&Notice::WatchdogUsec(3_000_000), w, t0);
        assert_eq!(l.deadline(), Some(t0 + S(90)));
        l.notice(&Notice::Ready, w, t0 + S(1));
        assert_eq!(l.deadline(), Some(t0 + S(4)));
    }

    #[test]
    fn a_watchdog_ping_moves_the_deadline_and_its_absence_is_hung() {
        let w = watches(None, Some(60), None);
        let t0 = Instant::now();
        let mut l = Liveness::started(w, t0, true);
        assert!(!l.waiting_ready());
        l.notice(&Notice::Watchdog, w, t0 + S(50));
        assert_eq!(l.due(t0 + S(100), None), None);
        let v = l.due(t0 + S(110), None);
        assert_eq!(v, Some(Verdict::NoPing(S(60))));
        assert_eq!(v.unwrap().reason(), "hung: no watchdog ping for 1m");
        assert_eq!(v.unwrap().kind(), EventKind::Hung);
        // The bot sets its own period, or switches the watchdog off.
        l.notice(&Notice::WatchdogUsec(5_000_000), w, t0 + S(110));
        assert_eq!(l.deadline(), Some(t0 + S(115)));
        l.notice(&Notice::WatchdogUsec(0), w, t0 + S(111));
        assert_eq!(l.deadline(), None);
    }

    #[test]
    fn log_silence_counts_from_the_last_output() {
        let w = watches(None, None, Some(900));
        let t0 = Instant::now();
        let mut l = Liveness::started(w, t0, true);
        assert_eq!(l.deadline(), Some(t0 + S(900)));
        // Output meanwhile: look again 15 minutes after it.
        assert_eq!(l.due(t0 + S(900), Some(t0 + S(600))), None);
        assert_eq!(l.deadline(), Some(t0 + S(1500)));
        let v = l.due(t0 + S(1500), Some(t0 + S(600)));
        assert_eq!(v, Some(Verdict::Silent(S(900))));
        assert_eq!(v.unwrap().reason(), "hung: no log output for 15m");
        // Output from before this process started does not count for it.
        let mut l = Liveness::started(w, t0, true);
        assert_eq!(
            l.due(t0 + S(900), Some(t0 - S(5))),
            Some(Verdict::Silent(S(900)))
        );
    }

    #[test]
    fn an_adopted_process_is_taken_as_ready_and_watched_once_heard() {
        let w = watches(Some(90), Some(10), Some(900));
        let t0 = Instant::now();
        let mut l = Liveness::started(w, t0, false);
        assert!(!l.waiting_ready());
        // Its logs are watched at once; its watchdog from its first message here.
        assert_eq!(l.deadline(), Some(t0 + S(900)));
        l.notice(&Notice::Status("back".into()), w, t0 + S(5));
        assert_eq!(l.deadline(), Some(t0 + S(15)));
        assert_eq!(l.due(t0 + S(15), None), Some(Verdict::NoPing(S(10))));
    }

    #[test]
    fn time_the_bot_could_not_be_heard_does_not_count() {
        let w = watches(Some(90), Some(10), Some(60));
        let t0 = Instant::now();
        let mut l = Liveness::started(w, t0, true);
        l.postpone(S(12));
        assert_eq!(l.deadline(), Some(t0 + S(102)));
        let mut l = Liveness::started(watches(None, Some(10), Some(60)), t0, true);
        l.postpone(S(12));
        assert_eq!(l.deadline(), Some(t0 + S(22)));
        assert_eq!(l.due(t0 + S(21), None), None);
        assert_eq!(l.due(t0 + S(72), None), Some(Verdict::NoPing(S(10))));
    }

    #[test]
    fn status_and_notes() {
        let w = Watches::default();
        let t0 = Instant::now();
        let mut l = Liveness::started(w, t0, true);
        l.notice(&Notice::Status("polling".into()), w, t0);
        assert_eq!(l.status.as_deref(), Some("polling"));
        l.notice(&Notice::Status(String::new()), w, t0);
        assert_eq!(l.status, None);
        l.notice(&Notice::Reloading, w, t0);
        assert_eq!(l.note, Some(Note::Reloading));
        l.notice(&Notice::Ready, w, t0);
        assert_eq!(l.note, None);
        l.notice(&Notice::Stopping, w, t0);
        assert_eq!(l.note.map(Note::as_str), Some("stopping (STOPPING=1)"));
        assert_eq!(l.deadline(), None);
    }
}
