//! The auth monitor: checks each bot's session cookies at start, every `auth_interval`, on
//! request and when the cookie file changes (inotify); tells bots whose session is invalid to
//! park and starts them again once it is valid.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botctl_proto::config::{AuthConfig, BotConfig, OnInvalid};
use botctl_proto::{AuthReport, now_ms};
use nix::sys::inotify::{AddWatchFlags, WatchDescriptor};
use tokio::sync::mpsc;

use crate::auth::cookies::{self, Outcome};
use crate::auth::{describe, platform, probe_headers};
use crate::bot::runner::{AuthSeen, AuthVerdict};
use crate::bot::{BotHandle, Command};
use crate::context::Context;
use crate::events::{Event, EventKind};
use crate::fleet::Fleet;
use crate::schedule::Reloads;
use crate::watch::DirWatcher;

/// What the monitor needs of one bot.
pub struct AuthTarget {
    pub handle: BotHandle,
    pub cwd: PathBuf,
}

impl AuthTarget {
    pub fn of(fleet: &Fleet, name: &str) -> Option<AuthTarget> {
        let handle = fleet.handle(name)?;
        let cwd = crate::storage::bot_cwd(fleet.paths(), &handle.config);
        Some(AuthTarget { handle, cwd })
    }

    fn config(&self) -> &BotConfig {
        &self.handle.config
    }
}

/// Names of the bots that have an `[auth]` section.
pub fn auth_bots(fleet: &Fleet) -> Vec<String> {
    fleet.read(|r| {
        r.bots
            .values()
            .filter(|e| e.handle.config.auth.is_some())
            .map(|e| e.handle.name().to_string())
            .collect()
    })
}

/// A live probe may take this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Check requests arriving this close together are handled as one batch.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// One expiring warning per bot per this long.
const WARN_EVERY_MS: i64 = 24 * 3600 * 1000;

#[derive(Default)]
struct Status {
    report: Option<AuthReport>,
    invalid: bool,
    /// The last check found the session expiring (for `botctl forecast`).
    expiring: bool,
    last_warning_ms: Option<i64>,
    last_world_readable_warning_ms: Option<i64>,
}

pub struct Monitor {
    ctx: Arc<Context>,
    fleet: Arc<Fleet>,
    status: Mutex<HashMap<String, Status>>,
    requests: mpsc::UnboundedSender<String>,
    /// Built on the first probe: TLS setup costs milliseconds the agent's start can do without.
    client: std::sync::OnceLock<reqwest::Client>,
}

impl Monitor {
    /// The monitor and the receiving end of its requests, for `run`.
    pub fn new(
        ctx: Arc<Context>,
        fleet: Arc<Fleet>,
    ) -> (Arc<Monitor>, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let monitor = Arc::new(Monitor {
            ctx,
            fleet,
            status: Mutex::new(HashMap::new()),
            requests: tx,
            client: std::sync::OnceLock::new(),
        });
        let _ = monitor.ctx.auth_requests.set(monitor.requests.clone());
        (monitor, rx)
    }

    /// Checks on schedule, on request and on file changes, forever. Requests wait in `rx`
    /// while a restarted monitor comes back.
    pub async fn run(
        self: Arc<Self>,
        rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>>,
    ) {
        let mut rx = rx.lock().await;
        let mut watcher = Watcher::new().ok();
        let mut reloads = self.ctx.reloads.subscribe();
        // None: the first full check is due at once.
        let mut last_full: Option<std::time::Instant> = None;
        loop {
            let full_due = async {
                if let Some(last) = last_full {
                    let interval = || self.fleet.global().agent.auth_interval;
                    Reloads::wait_due(&mut reloads, last, interval).await;
                }
            };
            let changed = async {
                match &mut watcher {
                    Some(w) => w.changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = full_due => {
                    last_full = Some(std::time::Instant::now());
                    let names = auth_bots(&self.fleet);
                    if let Some(w) = &mut watcher {
                        w.sync(&self.fleet, &names);
                    }
                    self.check(&names).await;
                }
                Some(name) = rx.recv() => {
                    let mut names = vec![name];
                    tokio::time::sleep(DEBOUNCE).await;
                    while let Ok(more) = rx.try_recv() {
                        if !names.contains(&more) {
                            names.push(more);
                        }
                    }
                    if let Some(w) = &mut watcher {
                        w.sync(&self.fleet, &auth_bots(&self.fleet));
                    }
                    self.check(&names).await;
                }
                names = changed => {
                    tokio::time::sleep(DEBOUNCE).await;
                    self.check(&names).await;
                }
            }
        }
    }

    /// The last reports of the sessions that expire soon (within their `warn_before`).
    pub fn expiring(&self) -> Vec<AuthReport> {
        self.status
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.expiring)
            .filter_map(|s| s.report.clone())
            .collect()
    }

    /// Checks these bots now and acts on what changed; returns their reports.
    pub async fn check(&self, names: &[String]) -> Vec<AuthReport> {
        let mut out = Vec::new();
        for name in names {
            if let Some(r) = self.check_one(name).await {
                out.push(r);
            }
        }
        out
    }

    async fn check_one(&self, name: &str) -> Option<AuthReport> {
        let Some(target) = AuthTarget::of(&self.fleet, name) else {
            self.status.lock().unwrap().remove(name);
            return None;
        };
        let auth = target.config().auth.clone()?;
        let path = target.cwd.join(&auth.cookies);
        let required: Vec<String> = auth.required.clone().unwrap_or_else(|| {
            cookies::preset_required(platform(target.config().platform))
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        let warn = auth.warn_before.0.as_secs() as i64;
        // Every file read here is off the runtime: a slow disk stalls only this check.
        let (outcome, jar, world_readable, headers) = {
            let path = path.clone();
            let required = required.clone();
            let (cwd, auth) = (target.cwd.clone(), auth.clone());
            tokio::task::spawn_blocking(move || {
                let world_readable = std::fs::metadata(&path)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o004 != 0)
                    .unwrap_or(false);
                let headers = auth.probe_url.as_ref().map(|_| probe_headers(&cwd, &auth));
                match cookies::load(&path) {
                    Ok(jar) => {
                        let o = cookies::evaluate(&jar, &required, cookies::now_unix(), warn);
                        (o, Some(jar), world_readable, headers)
                    }
                    Err(o) => (o, None, world_readable, headers),
                }
            })
            .await
            .ok()?
        };
        let mut outcome = outcome;
        let previous = self
            .status
            .lock()
            .unwrap()
            .get(name)
            .and_then(|s| s.report.clone());
        let mut last_probe = previous.as_ref().and_then(|r| r.last_probe.clone());
        let mut last_probe_at_ms = previous.as_ref().and_then(|r| r.last_probe_at_ms);
        if let (Some(url), Some(jar), Some(headers)) = (&auth.probe_url, &jar, headers)
            && matches!(outcome, Outcome::Valid { .. } | Outcome::Expiring { .. })
        {
            match headers {
                Ok(headers) => {
                    let probe = cookies::Probe {
                        url: url.clone(),
                        method: auth.probe_method.clone(),
                        expect: auth.probe_expect.clone(),
                        headers,
                        timeout: PROBE_TIMEOUT,
                    };
                    // Probes must see a redirect (to a login page) as the answer, not follow it.
                    let client = self.client.get_or_init(|| {
                        crate::http_client::builder()
                            .redirect(reqwest::redirect::Policy::none())
                            .user_agent(concat!("botctl/", env!("CARGO_PKG_VERSION")))
                            .build()
                            .unwrap_or_default()
                    });
                    let result = cookies::probe(
                        client,
                        &probe,
                        jar,
                        &required,
                        platform(target.config().platform),
                    )
                    .await;
                    last_probe_at_ms = Some(now_ms());
                    last_probe = Some(match &result {
                        Ok(()) => "accepted".to_string(),
                        Err(o) => format!("{}: {}", o.label(), describe(o)),
                    });
                    if let Err(o) = result {
                        outcome = o;
                    }
                }
                Err(why) => {
                    outcome = Outcome::Unknown {
                        reason: format!("probe headers: {why}"),
                    };
                }
            }
        }
        let report = AuthReport {
            bot: name.to_string(),
            owner: target.config().user.clone(),
            platform: target.config().platform.to_string(),
            outcome: outcome.label().to_string(),
            detail: Some(describe(&outcome)).filter(|d| !d.is_empty()),
            expires_at_ms: match &outcome {
                Outcome::Valid { earliest_expiry } => earliest_expiry.map(|s| s * 1000),
                Outcome::Expiring { expires, .. } => Some(expires * 1000),
                Outcome::Expired { at, .. } => Some(at * 1000),
                _ => None,
            },
            checked_at_ms: now_ms(),
            last_probe,
            last_probe_at_ms,
            world_readable,
        };
        let verdict = self.act(&auth, &outcome, &report);
        target.handle.send(Command::Auth(Box::new(AuthSeen {
            label: report.outcome.clone(),
            verdict,
        })));
        Some(report)
    }

    /// Events for what changed since the last check, and what the bot must do.
    fn act(&self, auth: &AuthConfig, outcome: &Outcome, report: &AuthReport) -> AuthVerdict {
        let mut verdict = AuthVerdict::Keep;
        let name = &report.bot;
        let now = now_ms();
        let mut status = self.status.lock().unwrap();
        let s = status.entry(name.clone()).or_default();
        let was_label = s.report.as_ref().map(|r| r.outcome.clone());
        let changed = was_label.as_deref() != Some(report.outcome.as_str());
        let record = |kind: EventKind, message: String| {
            self.ctx
                .record(Event::new(kind, message).of(name, &report.owner))
        };
        let what = match &report.detail {
            Some(d) => format!("{} ({d})", report.outcome),
            None => report.outcome.clone(),
        };
        if outcome.is_invalid() {
            if !s.invalid || changed {
                let action = match auth.on_invalid {
                    OnInvalid::Stop => {
                        "the bot is stopped until valid cookies are in place (`botctl auth set-cookies`)"
                    }
                    OnInvalid::Alert => "on_invalid = \"alert\": the bot keeps running",
                };
                record(
                    EventKind::AuthInvalid,
                    format!("session invalid: {what}; {action}"),
                );
            }
            s.invalid = true;
            if auth.on_invalid == OnInvalid::Stop {
                verdict = AuthVerdict::Park(what.clone());
            }
        } else if !matches!(outcome, Outcome::Unknown { .. }) {
            if s.invalid {
                record(EventKind::AuthValid, format!("session valid again: {what}"));
                verdict = AuthVerdict::Release;
            }
            s.invalid = false;
        } else if changed {
            // Unknown never deactivates a bot: it is retried at the next check.
            record(
                EventKind::AuthUnknown,
                format!("session could not be checked: {what}; retrying"),
            );
        }
        if !matches!(outcome, Outcome::Unknown { .. }) {
            s.expiring = matches!(outcome, Outcome::Expiring { .. });
        }
        if !matches!(outcome, Outcome::Expiring { .. } | Outcome::Unknown { .. }) {
            // Renewed or gone: the once-a-day limit belongs to one expiring session, and the
            // next one to come near its end is news again.
            s.last_warning_ms = None;
        }
        if let Outcome::Expiring { left_secs, .. } = outcome
            && s.last_warning_ms.is_none_or(|t| now - t >= WARN_EVERY_MS)
        {
            s.last_warning_ms = Some(now);
            record(
                EventKind::AuthExpiring,
                format!(
                    "session expires in {}",
                    botctl_proto::human::duration(Duration::from_secs((*left_secs).max(0) as u64))
                ),
            );
        }
        if !report.world_readable {
            s.last_world_readable_warning_ms = None;
        }
        if report.world_readable
            && s.last_world_readable_warning_ms
                .is_none_or(|t| now - t >= WARN_EVERY_MS)
        {
            s.last_world_readable_warning_ms = Some(now);
            record(
                EventKind::AuthWarning,
                format!(
                    "the cookie file {} is readable by other users: chmod 600 it",
                    auth.cookies
                ),
            );
        }
        s.report = Some(report.clone());
        verdict
    }
}

/// inotify on the directories holding cookie files: a changed file is checked at once.
struct Watcher {
    inner: DirWatcher,
    watches: BTreeMap<PathBuf, WatchDescriptor>,
    /// Per watch: (file name, bot).
    files: HashMap<WatchDescriptor, Vec<(std::ffi::OsString, String)>>,
}

impl Watcher {
    fn new() -> std::io::Result<Watcher> {
        Ok(Watcher {
            inner: DirWatcher::new()?,
            watches: BTreeMap::new(),
            files: HashMap::new(),
        })
    }

    /// Watches exactly the directories of these bots' cookie files.
    fn sync(&mut self, fleet: &Fleet, names: &[String]) {
        let mut wanted: BTreeMap<PathBuf, Vec<(std::ffi::OsString, String)>> = BTreeMap::new();
        for name in names {
            let Some(t) = AuthTarget::of(fleet, name) else {
                continue;
            };
            let Some(auth) = &t.config().auth else {
                continue;
            };
            let path = t.cwd.join(&auth.cookies);
            if let (Some(dir), Some(file)) = (path.parent(), path.file_name()) {
                wanted
                    .entry(dir.to_path_buf())
                    .or_default()
                    .push((file.to_os_string(), name.clone()));
            }
        }
        let stale: Vec<PathBuf> = self
            .watches
            .keys()
            .filter(|d| !wanted.contains_key(*d))
            .cloned()
            .collect();
        for dir in stale {
            if let Some(wd) = self.watches.remove(&dir) {
                self.inner.remove(wd);
                self.files.remove(&wd);
            }
        }
        for (dir, files) in wanted {
            let wd = match self.watches.get(&dir) {
                Some(wd) => *wd,
                None => {
                    let flags = AddWatchFlags::IN_CLOSE_WRITE
                        | AddWatchFlags::IN_MOVED_TO
                        | AddWatchFlags::IN_CREATE
                        | AddWatchFlags::IN_DELETE
                        | AddWatchFlags::IN_ATTRIB;
                    // A bot dir that does not exist yet is watched at a later sync.
                    let Ok(wd) = self.inner.add(&dir, flags) else {
                        continue;
                    };
                    self.watches.insert(dir, wd);
                    wd
                }
            };
            self.files.insert(wd, files);
        }
    }

    /// Waits for a change to a watched cookie file; returns the bots concerned.
    async fn changed(&mut self) -> Vec<String> {
        loop {
            let mut bots = Vec::new();
            for (wd, name) in self.inner.next().await {
                let Some(files) = self.files.get(&wd) else {
                    continue;
                };
                for (file, bot) in files {
                    if *file == name && !bots.contains(bot) {
                        bots.push(bot.clone());
                    }
                }
            }
            if !bots.is_empty() {
                return bots;
            }
        }
    }
}
