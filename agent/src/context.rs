//! What every component of the agent shares: paths, the store, the alerts, the last host
//! sample, the API tokens, and `record()`, the one way an event is stored, counted and fanned
//! out to alerts.

use std::sync::Mutex;

use botctl_proto::{Paths, now_ms};

use crate::events::Event;
use crate::notify::{Alerts, Notifier};
use crate::schedule::Reloads;
use crate::spawn_record::SpawnRecords;
use crate::store::Store;

/// What every component of the agent shares.
pub struct Context {
    pub paths: Paths,
    pub store: Store,
    /// Each bot's latest spawn, written before the store has it.
    pub spawn_records: SpawnRecords,
    pub started_at_ms: i64,
    /// The host at the last health sample.
    pub host: Mutex<Option<botctl_proto::HostInfo>>,
    /// The bots' last samples and the agent's own cost, for `top`.
    pub recent: Mutex<crate::health::recent::Recent>,
    /// The forecasts in force at the last health sample.
    pub forecasts: Mutex<crate::health::forecast::Published>,
    /// Wakes the cleanup loop before its interval (disk use crossed max_disk_percent).
    pub cleanup_now: tokio::sync::Notify,
    /// Tells the loops that wait out an interval that a reload may have changed it.
    pub reloads: Reloads,
    /// Asks the auth monitor to check a bot soon (set once the monitor runs).
    pub auth_requests: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<String>>,
    /// Events that deserve a notification become alerts here.
    pub alerts: Alerts,
    /// Sections of botctl.toml that parsed but are off as applied (a secret file that cannot
    /// be read), for `status`: set by each application of the settings.
    pub sections_off: Mutex<Vec<botctl_proto::ConfigIssue>>,
    http: std::sync::OnceLock<reqwest::Client>,
    /// sd_notify messages from processes that are no bot's (`status` shows the count).
    pub notify_ignored: std::sync::atomic::AtomicU64,
    /// Changes of what a row of `status` shows: each write of a bot's view and each change
    /// of the fleet's registry counts one. Rows built after reading the count are current
    /// until it moves (`ops::show` shares them).
    rows_changes: std::sync::atomic::AtomicU64,
    /// The HTTP API's tokens.
    pub tokens: crate::tokens::Tokens,
    /// Events recorded since the agent started, by kind (`/metrics`).
    pub event_counts: crate::events::Counts,
    /// Asks the running notify-socket loop to hand out every message waiting in the socket;
    /// it answers once they are with their bots. Replaced by each run of the loop.
    pub notify_flush: Mutex<Option<tokio::sync::mpsc::UnboundedSender<NotifyFlushed>>>,
}

/// Answered once the notify socket's backlog is with the bots (see `Context::flush_notify`).
pub type NotifyFlushed = tokio::sync::oneshot::Sender<()>;

/// A stranger's sd_notify messages are logged at most this often (they are all counted).
const NOTIFY_IGNORED_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Context {
    /// Something a row of `status` shows changed (see `rows_changes`).
    pub fn rows_changed(&self) {
        self.rows_changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn rows_generation(&self) -> u64 {
        self.rows_changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Asks for the notify socket's backlog to be handed to the bots: `None` when no loop
    /// runs to do it; otherwise resolves once it is done.
    pub fn flush_notify(&self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let asked = self.notify_flush.lock().unwrap().as_ref()?.send(tx);
        asked.ok().map(|_| rx)
    }

    /// An sd_notify message nobody may send (no bot's process, or a MAINPID outside the bot):
    /// counted for `status`, and logged at most once a minute, never an event or an alert.
    pub fn ignore_notify(&self, pid: u32, why: &str) {
        static LOGGED: Mutex<Option<std::time::Instant>> = Mutex::new(None);
        let count = self
            .notify_ignored
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let mut logged = LOGGED.lock().unwrap();
        if logged.is_none_or(|t| t.elapsed() >= NOTIFY_IGNORED_LOG_EVERY) {
            *logged = Some(std::time::Instant::now());
            crate::util::log_line(format_args!(
                "botctl agent: ignored an sd_notify message from pid {pid} ({why}); {count} ignored so far"
            ));
        }
    }

    pub fn new(paths: Paths, store: Store) -> Context {
        Context {
            spawn_records: SpawnRecords::new(&paths),
            paths,
            store: store.clone(),
            started_at_ms: now_ms(),
            host: Mutex::new(None),
            recent: Mutex::default(),
            forecasts: Mutex::default(),
            cleanup_now: tokio::sync::Notify::new(),
            reloads: Reloads::default(),
            auth_requests: std::sync::OnceLock::new(),
            alerts: Alerts::default(),
            sections_off: Mutex::new(Vec::new()),
            http: std::sync::OnceLock::new(),
            notify_ignored: std::sync::atomic::AtomicU64::new(0),
            rows_changes: std::sync::atomic::AtomicU64::new(0),
            tokens: crate::tokens::Tokens::new(store.clone(), store.take_tokens()),
            event_counts: crate::events::Counts::default(),
            notify_flush: Mutex::new(None),
        }
    }

    /// Records an event, and alerts about it when it deserves one (as its kind says).
    pub fn record(&self, event: Event) {
        self.alerts.on_event(&event);
        self.event_counts.add(event.kind);
        self.store.record(event.into_row());
    }

    pub fn notifier(&self) -> Notifier {
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
            crate::http_client::builder()
                .user_agent(concat!("botctl/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default()
        })
    }
}

/// A request to end the agent, from the RPC `shutdown`, and who made it.
#[derive(Default)]
pub struct Shutdown {
    notify: tokio::sync::Notify,
    by: Mutex<Option<crate::events::Actor>>,
}

impl Shutdown {
    pub fn request(&self, by: crate::events::Actor) {
        *self.by.lock().unwrap() = Some(by);
        self.notify.notify_one();
    }

    /// Waits for a request; answers who made it.
    pub async fn requested(&self) -> crate::events::Actor {
        self.notify.notified().await;
        self.by
            .lock()
            .unwrap()
            .take()
            .unwrap_or(crate::events::Actor::Agent)
    }
}
