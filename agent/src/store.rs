//! The agent's SQLite file (`state/botctl.db`, WAL): the running-bot registry used for adoption,
//! where the operator left each bot (its supervision), the event history and the API tokens'
//! hashes. It lives on its own thread so supervision never waits on the disk.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use botctl_proto::{EventQuery, EventRecord, RecoveryRecord, SamplePoint, now_ms};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

/// Events older than this are deleted.
const EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// And never more than this many rows, whatever their age.
const EVENT_MAX_ROWS: i64 = 200_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long a first write waits for the rest of its burst (see `run`).
const BATCH_WINDOW: Duration = Duration::from_millis(2);
/// How long it waits when the last transaction was written less than [`BURST_GAP`] ago: a
/// burst that goes on (a crash storm, a start of all).
const BURST_WINDOW: Duration = Duration::from_millis(20);
const BURST_GAP: Duration = Duration::from_millis(100);
/// The first pruning, this long after the store opens.
const PRUNE_FIRST: Duration = Duration::from_secs(60);
/// How often a batch that could not be written is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// Changes held in memory while the file cannot be written; the oldest go first beyond this
/// (the registry is kept whole apart, so adoption never depends on what was dropped).
const MAX_PENDING: usize = 100_000;
/// Columns added since the first version, in order, with the table they belong to: a file
/// whose `user_version` is behind gets those it lacks.
const COLUMNS_ADDED: [(&str, &str, &str); 5] = [
    ("registry", "config_toml", "TEXT NOT NULL DEFAULT ''"),
    ("registry", "pidfs_id", "INTEGER NOT NULL DEFAULT 0"),
    // Who caused the event (`uid 1000`, `telegram user 5`, ...); NULL for the agent's own.
    ("events", "actor", "TEXT"),
    // Why a bot went down unasked (crash, limit, health, pressure): what statistics count.
    ("events", "cause", "TEXT"),
    // The bot's cgroup directory ('' without one): a new agent reaches it even in another mode.
    ("registry", "cgroup", "TEXT NOT NULL DEFAULT ''"),
];
/// Tables added since the first version: `supervision`, `tokens`. Created by `init` (IF NOT
/// EXISTS) whenever a file's `user_version` is behind.
const TABLES_ADDED: i64 = 2;
/// The `user_version` of a file with the whole schema of this version.
const SCHEMA_VERSION: i64 = COLUMNS_ADDED.len() as i64 + TABLES_ADDED;
/// The meta key an agent leaves when it exits with its registry complete.
const CLEAN_EXIT: &str = "clean_exit";

/// A bot the agent started, as recorded for the next agent to adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRow {
    pub name: String,
    pub owner: String,
    pub pid: u32,
    pub pgid: u32,
    /// Process start time in clock ticks since boot (/proc/PID/stat field 22): with the pid,
    /// it tells our bot from an unrelated process that got the same pid later.
    pub start_ticks: u64,
    /// The process's pidfs inode number (0 when unknown): unique for the whole uptime, so it
    /// identifies the process from a pidfd alone, without reading /proc (see
    /// `process::pidfs_id`).
    pub pidfs_id: u64,
    pub started_at_ms: i64,
    pub restarts: u32,
    /// The bot's configuration when it was started (`BotConfig::to_toml`): the last good
    /// version, kept running by the next agent even if the file is broken by then.
    pub config_toml: String,
    /// The bot's cgroup directory; empty without one.
    pub cgroup: String,
}

/// Where a bot was left, as stored: what the next agent restores it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    Running,
    /// Running once `until_ms` passes (a backoff under way).
    Backoff,
    /// Given up until `until_ms` (the cool-down), or `botctl recover`.
    Failed,
    Stopped,
    /// Ended, and its restart policy says leave it.
    Exited,
    /// `enabled = false` in its file: the file decides again at the next start.
    Disabled,
    /// Stopped by the auth monitor for `reason`; started again once the session is valid.
    Parked,
}

impl Wanted {
    const ALL: [Wanted; 7] = [
        Wanted::Running,
        Wanted::Backoff,
        Wanted::Failed,
        Wanted::Stopped,
        Wanted::Exited,
        Wanted::Disabled,
        Wanted::Parked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Wanted::Running => "running",
            Wanted::Backoff => "backoff",
            Wanted::Failed => "failed",
            Wanted::Stopped => "stopped",
            Wanted::Exited => "exited",
            Wanted::Disabled => "disabled",
            Wanted::Parked => "parked",
        }
    }

    fn parse(text: &str) -> Option<Wanted> {
        Wanted::ALL.into_iter().find(|w| w.as_str() == text)
    }
}

/// How a bot's last process ended, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub at_ms: i64,
}

/// One bot's supervision as it must outlive the agent: where it was left and the counters of
/// its restart policy. Kept while the bot exists, written when it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervision {
    pub name: String,
    pub wanted: Wanted,
    /// Unix ms a backoff or failed cool-down ends.
    pub until_ms: Option<i64>,
    pub restarts: u32,
    /// Unix ms of the automatic restarts still in the rate limit's window.
    pub recent_restarts_ms: Vec<i64>,
    pub quick_failures: u32,
    pub last_exit: Option<StoredExit>,
    pub last_error: Option<String>,
    /// Why it is parked.
    pub reason: Option<String>,
}

/// What the file held when it was opened: what a starting agent adopts and restores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    pub registry: Vec<RegistryRow>,
    pub supervision: Vec<Supervision>,
    pub tokens: Vec<TokenRow>,
}

/// An API token as stored: its SHA-256, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub user: String,
    pub admin: bool,
    pub read_only: bool,
    pub hash: [u8; 32],
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub bot: Option<String>,
    pub owner: Option<String>,
    /// The stored name of an `events::EventKind`.
    pub kind: &'static str,
    pub message: String,
    pub actor: Option<String>,
    /// The stored name of an `events::Cause`.
    pub cause: Option<&'static str>,
}

/// A minute of one bot's resources, or of the host (`bot` None).
#[derive(Debug, Clone)]
pub struct SampleRow {
    pub bot: Option<String>,
    pub ts_ms: i64,
    pub cpu_percent: f32,
    pub memory_bytes: u64,
}

/// Rows past retention, and what removing them freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintenance {
    pub events: u64,
    pub samples: u64,
    pub freed_bytes: u64,
}

/// A change to the file. Kept until it is on disk: a batch that cannot be written (the file
/// is locked, the disk is full) is retried, not dropped.
#[derive(Debug, Clone)]
enum Write {
    Event(NewEvent, i64),
    Samples(Vec<SampleRow>),
    MetaSet(String, String),
    Delivery(String, i64),
    Register(RegistryRow),
    Unregister(String),
    Supervise(Supervision),
    /// The bot is gone: its supervision row goes too.
    Forget(String),
    Token(TokenRow),
    RevokeToken(String),
    /// Last uses, batched by the caller.
    TokensUsed(Vec<(String, i64)>),
}

enum Cmd {
    Write(Write),
    SampleRetention(Duration),
    /// A bot's samples, or the host's (None).
    History(
        Option<String>,
        i64,
        oneshot::Sender<rusqlite::Result<Vec<SamplePoint>>>,
    ),
    Record(String, oneshot::Sender<rusqlite::Result<RecoveryRecord>>),
    /// Counts rows past retention; with `apply`, deletes them and vacuums.
    Maintenance(bool, oneshot::Sender<rusqlite::Result<Maintenance>>),
    MetaGet(String, oneshot::Sender<rusqlite::Result<Option<String>>>),
    Deliveries(oneshot::Sender<rusqlite::Result<Vec<String>>>),
    Registry(oneshot::Sender<rusqlite::Result<Vec<RegistryRow>>>),
    Events(
        EventQuery,
        oneshot::Sender<rusqlite::Result<Vec<EventRecord>>>,
    ),
    Flush(oneshot::Sender<()>),
    /// Copies the write-ahead log into the file and empties it (before a clean exit).
    Checkpoint(oneshot::Sender<()>),
}

/// A cheap handle to the store thread. Writes are fire-and-forget and batched.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
    /// What keeps the file from being written right now, for `status`.
    problem: Arc<Mutex<Option<String>>>,
    /// The file held the mark of a clean exit when it was opened (see `clean_exit`).
    clean_exit: bool,
    /// The registry and supervision as read at open, until taken (see `take_opened`).
    opened: Arc<Mutex<Option<Opened>>>,
    /// The tokens as read at open, until taken (see `take_tokens`).
    tokens: Arc<Mutex<Vec<TokenRow>>>,
}

impl Store {
    /// Opens (creating) the database and starts its thread. The second value, when present,
    /// says why the file could not be used and that the history is kept in memory instead.
    pub fn open(path: &Path) -> (Store, Option<String>) {
        let (conn, opened, file, problem) = match open_checked(path) {
            Ok((conn, opened, replaced)) => (conn, opened, Some(path.to_path_buf()), replaced),
            Err(e) => {
                let conn = Connection::open_in_memory().expect("sqlite in memory");
                init(&conn).expect("sqlite schema in memory");
                (
                    conn,
                    Opened::default(),
                    None,
                    Some(format!(
                        "cannot use {}: {e:#}; keeping history in memory until the agent restarts",
                        path.display()
                    )),
                )
            }
        };
        // Taken here, on the opening thread, before anything else can be written.
        let clean_exit = file.is_some() && take_clean_mark(&conn);
        let in_memory = file.is_none().then(|| problem.clone()).flatten();
        let tokens = opened.tokens.clone();
        let problem_now = Arc::new(Mutex::new(in_memory));
        let writer = Writer::new(
            conn,
            opened.clone(),
            file,
            path.to_path_buf(),
            problem_now.clone(),
        );
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || run(writer, rx))
            .expect("spawn store thread");
        (
            Store {
                tx,
                problem: problem_now,
                clean_exit,
                opened: Arc::new(Mutex::new(Some(Opened {
                    tokens: Vec::new(),
                    ..opened
                }))),
                tokens: Arc::new(Mutex::new(tokens)),
            },
            problem,
        )
    }

    /// Why the database cannot be written right now (changes wait in memory), if it cannot.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().unwrap().clone()
    }

    pub fn record(&self, event: NewEvent) {
        let _ = self.tx.send(Cmd::Write(Write::Event(event, now_ms())));
    }

    pub fn register(&self, row: RegistryRow) {
        let _ = self.tx.send(Cmd::Write(Write::Register(row)));
    }

    /// Records where a bot now stands (see `Supervision`).
    pub fn supervise(&self, row: Supervision) {
        let _ = self.tx.send(Cmd::Write(Write::Supervise(row)));
    }

    /// Forgets a removed bot's supervision.
    pub fn forget(&self, name: &str) {
        let _ = self.tx.send(Cmd::Write(Write::Forget(name.to_string())));
    }

    pub fn samples(&self, rows: Vec<SampleRow>) {
        if !rows.is_empty() {
            let _ = self.tx.send(Cmd::Write(Write::Samples(rows)));
        }
    }

    pub fn set_sample_retention(&self, keep: Duration) {
        let _ = self.tx.send(Cmd::SampleRetention(keep));
    }

    /// A bot's samples since `since_ms`, oldest first.
    pub async fn history(&self, bot: &str, since_ms: i64) -> anyhow::Result<Vec<SamplePoint>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::History(Some(bot.to_string()), since_ms, tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// The host's samples since `since_ms`, oldest first.
    pub async fn host_history(&self, since_ms: i64) -> anyhow::Result<Vec<SamplePoint>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::History(None, since_ms, tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// Crashes, forced restarts and recovery times from a bot's retained events.
    pub async fn recovery(&self, bot: &str) -> anyhow::Result<RecoveryRecord> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Record(bot.to_string(), tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// Rows past retention (`apply` false), or deletes them and vacuums the file.
    pub async fn maintenance(&self, apply: bool) -> anyhow::Result<Maintenance> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Maintenance(apply, tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// A small persistent setting of the agent's own (e.g. the Telegram update offset).
    pub fn meta_set(&self, key: &str, value: &str) {
        let _ = self
            .tx
            .send(Cmd::Write(Write::MetaSet(key.into(), value.into())));
    }

    pub async fn meta_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::MetaGet(key.into(), tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// The registry and supervision as the file held them when it was opened, once: what a
    /// starting agent adopts and restores. Read on the opening thread, they spare the start a
    /// round trip to the store thread, which had just been started and could take a
    /// millisecond or two to answer.
    pub fn take_opened(&self) -> Opened {
        self.opened.lock().unwrap().take().unwrap_or_default()
    }

    /// The API tokens as the file held them when it was opened, once (for `tokens::Tokens`,
    /// which holds them from then on).
    pub fn take_tokens(&self) -> Vec<TokenRow> {
        std::mem::take(&mut *self.tokens.lock().unwrap())
    }

    pub fn save_token(&self, row: TokenRow) {
        let _ = self.tx.send(Cmd::Write(Write::Token(row)));
    }

    pub fn revoke_token(&self, id: &str) {
        let _ = self.tx.send(Cmd::Write(Write::RevokeToken(id.to_string())));
    }

    pub fn tokens_used(&self, uses: Vec<(String, i64)>) {
        if !uses.is_empty() {
            let _ = self.tx.send(Cmd::Write(Write::TokensUsed(uses)));
        }
    }

    /// Whether the previous agent left the registry complete: it exited cleanly after every
    /// start was written down (see `close_cleanly`). The mark was removed from the file when
    /// it was opened, so an agent that dies from then on leaves none; a file where it could
    /// not be removed says no, since its registry cannot be trusted either.
    pub fn clean_exit(&self) -> bool {
        self.clean_exit
    }

    /// The last write of an agent that exits with its registry complete (no bot task left
    /// that could still start a process): the next agent may trust the registry alone.
    /// The write-ahead log is emptied too: left full (up to 1000 pages, 4.7 MB in the bench's
    /// home), the next agent's open would have to read and checksum all of it.
    pub async fn close_cleanly(&self) {
        self.meta_set(CLEAN_EXIT, &now_ms().to_string());
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Checkpoint(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Remembers a GitHub delivery id so a redelivery is not acted on twice.
    pub fn delivery_seen(&self, id: &str) {
        let _ = self
            .tx
            .send(Cmd::Write(Write::Delivery(id.into(), now_ms())));
    }

    pub async fn recent_deliveries(&self) -> anyhow::Result<Vec<String>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Deliveries(tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    pub fn unregister(&self, name: &str) {
        let _ = self
            .tx
            .send(Cmd::Write(Write::Unregister(name.to_string())));
    }

    pub async fn registry(&self) -> anyhow::Result<Vec<RegistryRow>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Registry(tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    pub async fn events(&self, query: EventQuery) -> anyhow::Result<Vec<EventRecord>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Events(query, tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// Waits until every write sent before this call is on disk.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn open_file(path: &Path) -> anyhow::Result<Connection> {
    use std::os::unix::fs::PermissionsExt;
    // The registry holds each bot's configuration, env values included: owner-only.
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let conn = Connection::open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    conn.busy_timeout(Duration::from_secs(2))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    init(&conn)?;
    Ok(conn)
}

fn init(conn: &Connection) -> rusqlite::Result<()> {
    // A file this version made has everything below: skip parsing a dozen statements.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts_ms INTEGER NOT NULL,
            bot TEXT,
            owner TEXT,
            kind TEXT NOT NULL,
            message TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS events_bot ON events(bot, id);
         CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ms);
         CREATE TABLE IF NOT EXISTS registry(
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            pid INTEGER NOT NULL,
            pgid INTEGER NOT NULL,
            start_ticks INTEGER NOT NULL,
            started_at_ms INTEGER NOT NULL,
            restarts INTEGER NOT NULL DEFAULT 0,
            config_toml TEXT NOT NULL DEFAULT '');
         CREATE TABLE IF NOT EXISTS samples(
            bot TEXT,
            ts_ms INTEGER NOT NULL,
            cpu REAL NOT NULL,
            memory INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS samples_bot ON samples(bot, ts_ms);
         CREATE INDEX IF NOT EXISTS samples_ts ON samples(ts_ms);
         CREATE TABLE IF NOT EXISTS supervision(
            name TEXT PRIMARY KEY,
            wanted TEXT NOT NULL,
            until_ms INTEGER,
            restarts INTEGER NOT NULL DEFAULT 0,
            recent_ms TEXT NOT NULL DEFAULT '',
            quick_failures INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER,
            exit_signal INTEGER,
            exit_at_ms INTEGER,
            last_error TEXT,
            reason TEXT);
         CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS deliveries(id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS tokens(
            id TEXT PRIMARY KEY,
            user TEXT NOT NULL,
            admin INTEGER NOT NULL,
            read_only INTEGER NOT NULL,
            hash BLOB NOT NULL,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER,
            last_used_ms INTEGER);",
    )?;
    // Files made before a column existed get it added.
    // Each column is looked for rather than trusted to the version: the version counts the
    // supervision table too, so a column added after it shares a number with an older file.
    for (i, (table, column, declaration)) in COLUMNS_ADDED.into_iter().enumerate() {
        let to = i as i64 + 1;
        let has: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists([table, column])?;
        if !has {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
            if column == "cause" {
                backfill_causes(conn)?;
            }
        }
        if to > version {
            conn.pragma_update(None, "user_version", to)?;
        }
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Events written before the `cause` column get theirs from what they said, once: the
/// statistics then read only the column.
fn backfill_causes(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "UPDATE events SET cause = 'crash'
            WHERE kind IN ('exited', 'backoff', 'failed') AND message LIKE 'exited with%';
         UPDATE events SET cause = 'limit' WHERE kind = 'limit-restart';
         UPDATE events SET cause = 'pressure' WHERE kind = 'pressure-restart';
         UPDATE events SET cause = 'health' WHERE kind = 'health-restart';",
    )
}

/// Removes the clean-exit mark (see `Store::clean_exit`); true if it was there and is gone.
///
/// Without syncing: the last agent emptied the write-ahead log, and the first write into an
/// empty log makes SQLite fsync the log's header and its directory, two disk flushes on the
/// path of every agent start (0.3 ms on a quiet disk, far more behind another program's
/// writes). What the removal must guard against is this agent dying, after which the next
/// one must not trust the registry; a committed write survives a dying process, synced or
/// not. Power loss can undo it, but then no recorded process survives either, and the
/// registry's pids are checked against the running processes anyway.
fn take_clean_mark(conn: &Connection) -> bool {
    let _ = conn.pragma_update(None, "synchronous", "OFF");
    let taken = conn
        .execute("DELETE FROM meta WHERE key = ?1", params![CLEAN_EXIT])
        .is_ok_and(|removed| removed > 0);
    let _ = conn.pragma_update(None, "synchronous", "NORMAL");
    taken
}

/// Identifies the database file as the store last left it, to notice it deleted, replaced or
/// truncated under the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
}

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
        })
    }
}

/// When writes started failing, and why.
struct Failing {
    since: Instant,
    error: String,
}

/// The store thread's state: the connection, the changes not yet on disk, and a copy of the
/// registry, which is what a rebuilt file must hold for the next agent to adopt the bots.
struct Writer {
    conn: Connection,
    /// The file, while it is used (`None` once the store fell back to memory).
    file: Option<PathBuf>,
    /// Where the file is meant to be, for messages.
    path: PathBuf,
    seen: Option<FileId>,
    pending: VecDeque<Write>,
    dropped: usize,
    failing: Option<Failing>,
    registry: BTreeMap<String, RegistryRow>,
    /// Every bot's supervision, kept whole like the registry.
    supervision: BTreeMap<String, Supervision>,
    /// The tokens, kept whole too: a rebuilt file must not lock every owner out.
    tokens: BTreeMap<String, TokenRow>,
    /// Rewrite the registry and supervision tables from memory with the next write (after a
    /// rebuild, or when changes to them were dropped).
    resync: bool,
    sample_retention: Duration,
    problem: Arc<Mutex<Option<String>>>,
}

impl Writer {
    fn new(
        conn: Connection,
        opened: Opened,
        file: Option<PathBuf>,
        path: PathBuf,
        problem: Arc<Mutex<Option<String>>>,
    ) -> Writer {
        let registry = opened
            .registry
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let supervision = opened
            .supervision
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let tokens = opened
            .tokens
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let seen = file.as_deref().and_then(FileId::of);
        Writer {
            conn,
            file,
            path,
            seen,
            pending: VecDeque::new(),
            dropped: 0,
            failing: None,
            registry,
            supervision,
            tokens,
            resync: false,
            sample_retention: botctl_proto::config::DEFAULT_SAMPLE_RETENTION,
            problem,
        }
    }

    fn queue(&mut self, write: Write) {
        match &write {
            Write::Register(row) => {
                self.registry.insert(row.name.clone(), row.clone());
            }
            Write::Unregister(name) => {
                self.registry.remove(name);
            }
            Write::Supervise(row) => {
                self.supervision.insert(row.name.clone(), row.clone());
            }
            Write::Forget(name) => {
                self.supervision.remove(name);
            }
            Write::Token(row) => {
                self.tokens.insert(row.id.clone(), row.clone());
            }
            Write::RevokeToken(id) => {
                self.tokens.remove(id);
            }
            Write::TokensUsed(uses) => {
                for (id, ts) in uses {
                    if let Some(t) = self.tokens.get_mut(id) {
                        t.last_used_ms = Some(*ts);
                    }
                }
            }
            _ => {}
        }
        self.pending.push_back(write);
        if self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
            self.resync = true;
        }
    }

    /// The store's own events (`store-error`, `store-recovered`): it sits below the event
    /// enum, so it names them by their stored names.
    fn event(&mut self, kind: &'static str, message: String) {
        self.queue(Write::Event(
            NewEvent {
                bot: None,
                owner: None,
                kind,
                message,
                actor: None,
                cause: None,
            },
            now_ms(),
        ));
    }

    /// Writes what is pending in one transaction, or keeps it for the next try.
    fn write(&mut self) {
        if self.pending.is_empty() && !self.resync {
            return;
        }
        let whole = self
            .resync
            .then_some((&self.registry, &self.supervision, &self.tokens));
        match apply(&mut self.conn, &self.pending, whole) {
            Ok(()) => {
                let written = self.pending.len();
                self.pending.clear();
                self.resync = false;
                self.seen = self.file.as_deref().and_then(FileId::of);
                if let Some(failing) = self.failing.take() {
                    let dropped = std::mem::take(&mut self.dropped);
                    let message = format!(
                        "{} can be written again after {} ({}); {written} change(s) held in memory were written{}",
                        self.path.display(),
                        compact(failing.since.elapsed()),
                        failing.error,
                        if dropped > 0 {
                            format!(", {dropped} older ones were dropped")
                        } else {
                            String::new()
                        }
                    );
                    log_line(format_args!("botctl agent: store: {message}"));
                    *self.problem.lock().unwrap() = None;
                    self.event("store-recovered", message);
                    self.write();
                }
            }
            Err(e) if is_corrupt(&e) && self.file.is_some() => {
                self.rebuild(format!("is damaged ({e})"));
                // Once: a fresh file that fails again is reported as a failing write below.
                let whole = Some((&self.registry, &self.supervision, &self.tokens));
                if apply(&mut self.conn, &self.pending, whole).is_ok() {
                    self.pending.clear();
                    self.resync = false;
                    self.seen = self.file.as_deref().and_then(FileId::of);
                }
            }
            Err(e) => {
                let error = e.to_string();
                if self.failing.is_none() {
                    let message = format!(
                        "cannot write {}: {error}; changes are kept in memory and written once it works again",
                        self.path.display()
                    );
                    log_line(format_args!("botctl agent: store: {message}"));
                    self.failing = Some(Failing {
                        since: Instant::now(),
                        error: error.clone(),
                    });
                    // Stored with the time the trouble began, once the file can be written.
                    self.event("store-error", message);
                }
                let since = self
                    .failing
                    .as_ref()
                    .map_or(Duration::ZERO, |f| f.since.elapsed());
                *self.problem.lock().unwrap() = Some(format!(
                    "cannot be written for {} ({error}): {} change(s) held in memory; supervision goes on",
                    compact(since),
                    self.pending.len()
                ));
            }
        }
    }

    /// Notices the file deleted, replaced or truncated by someone else since the last write.
    fn check_file(&mut self) {
        let (Some(file), Some(seen)) = (&self.file, self.seen) else {
            return;
        };
        let why = match std::fs::metadata(file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("was deleted".to_string()),
            Err(_) => None,
            Ok(m) if (m.dev(), m.ino()) != (seen.dev, seen.ino) => {
                Some("was replaced by another file".to_string())
            }
            // The store itself only shrinks the file by VACUUM, after which `seen` is renewed.
            Ok(m) if m.len() < seen.len => Some(format!(
                "was truncated (from {} to {} bytes)",
                seen.len,
                m.len()
            )),
            Ok(_) => None,
        };
        if let Some(why) = why {
            self.rebuild(why);
        }
    }

    /// Makes a usable file at `path` again: a copy of what the open connection can still read
    /// when that is sound (a deleted file is whole behind our descriptor), else a fresh file.
    /// Either way it gets the registry of the running bots.
    fn rebuild(&mut self, why: String) {
        let Some(file) = self.file.clone() else {
            return;
        };
        // The whole state directory may be what was deleted.
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let copy = sibling(&file, "rebuild");
        let _ = std::fs::remove_file(&copy);
        let salvaged = self
            .conn
            .execute("VACUUM INTO ?1", params![copy.to_string_lossy()])
            .is_ok()
            && Connection::open(&copy)
                .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)))
                .is_ok_and(|s| s == "ok");
        // Closing the old connection removes its -wal and -shm; only then is the name free.
        drop(std::mem::replace(
            &mut self.conn,
            Connection::open_in_memory().expect("sqlite in memory"),
        ));
        let mut kept_aside = None;
        if std::fs::symlink_metadata(&file).is_ok() {
            let aside = sibling(&file, &format!("broken-{}", now_ms()));
            if std::fs::rename(&file, &aside).is_ok() {
                kept_aside = Some(aside);
            }
        }
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        let outcome = if salvaged && std::fs::rename(&copy, &file).is_ok() {
            "rebuilt it from the agent's open copy".to_string()
        } else {
            let _ = std::fs::remove_file(&copy);
            format!(
                "started a new one holding the registry of the running bots{}",
                match &kept_aside {
                    Some(aside) => format!("; the old file is kept as {}", aside.display()),
                    None => String::new(),
                }
            )
        };
        let message = match open_file(&file) {
            Ok(conn) => {
                self.conn = conn;
                format!("{} {why}; {outcome}", self.path.display())
            }
            Err(e) => {
                let conn = Connection::open_in_memory().expect("sqlite in memory");
                init(&conn).expect("sqlite schema in memory");
                self.conn = conn;
                self.file = None;
                let message = format!(
                    "{} {why} and cannot be made again ({e:#}); keeping history in memory until the agent restarts",
                    self.path.display()
                );
                *self.problem.lock().unwrap() = Some(message.clone());
                message
            }
        };
        log_line(format_args!("botctl agent: store: {message}"));
        self.resync = true;
        self.event("store-error", message);
        self.seen = self.file.as_deref().and_then(FileId::of);
    }

    fn answer(&mut self, cmd: Cmd) {
        let conn = &self.conn;
        match cmd {
            // From memory: it is what the file holds, plus what could not be written yet.
            Cmd::Registry(reply) => {
                let _ = reply.send(Ok(self.registry.values().cloned().collect()));
            }
            Cmd::Events(q, reply) => {
                let _ = reply.send(read_events(conn, &q));
            }
            Cmd::Flush(reply) => {
                let _ = reply.send(());
            }
            Cmd::Checkpoint(reply) => {
                if self.pending.is_empty()
                    && let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                {
                    log_line(format_args!("botctl agent: store: checkpoint failed: {e}"));
                }
                let _ = reply.send(());
            }
            Cmd::History(bot, since, reply) => {
                let _ = reply.send(read_history(conn, bot.as_deref(), since));
            }
            Cmd::Record(bot, reply) => {
                let _ = reply.send(read_recovery(conn, &bot));
            }
            Cmd::MetaGet(k, reply) => {
                let _ = reply.send(
                    conn.query_row("SELECT value FROM meta WHERE key = ?1", params![k], |r| {
                        r.get(0)
                    })
                    .optional(),
                );
            }
            Cmd::Deliveries(reply) => {
                let read = || -> rusqlite::Result<Vec<String>> {
                    let mut stmt =
                        conn.prepare("SELECT id FROM deliveries ORDER BY ts_ms DESC LIMIT 10000")?;
                    let rows = stmt.query_map([], |r| r.get(0))?;
                    rows.collect()
                };
                let _ = reply.send(read());
            }
            Cmd::Maintenance(apply, reply) => {
                let _ = reply.send(maintain(conn, apply, self.sample_retention));
                self.seen = self.file.as_deref().and_then(FileId::of);
            }
            Cmd::Write(_) | Cmd::SampleRetention(_) => {}
        }
    }
}

pub(crate) use crate::util::log_line;

/// `botctl.db` -> `botctl.db.WHAT` in the same directory.
fn sibling(file: &Path, what: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".{what}"));
    PathBuf::from(name)
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// Opens the file; one that is not a database or is damaged is moved aside for a new one
/// (the next agent must not be stuck without a registry). Also gives the registry it read
/// to check the file, and a word on a file moved aside.
fn open_checked(path: &Path) -> anyhow::Result<(Connection, Opened, Option<String>)> {
    let read = |conn: &Connection| -> rusqlite::Result<Opened> {
        Ok(Opened {
            registry: read_registry(conn)?,
            supervision: read_supervision(conn)?,
            tokens: read_tokens(conn)?,
        })
    };
    let damaged = match short_of_its_header(path) {
        Some(why) => why,
        None => match open_file(path) {
            Ok(conn) => match read(&conn) {
                Ok(opened) => return Ok((conn, opened, None)),
                Err(e) if is_corrupt(&e) => e.to_string(),
                Err(e) => return Err(e.into()),
            },
            Err(e) => match e.downcast_ref::<rusqlite::Error>() {
                Some(sql) if is_corrupt(sql) => sql.to_string(),
                _ => return Err(e),
            },
        },
    };
    let aside = sibling(path, &format!("broken-{}", now_ms()));
    std::fs::rename(path, &aside)
        .with_context(|| format!("moving the damaged {} aside", path.display()))?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let conn = open_file(path)?;
    Ok((
        conn,
        Opened::default(),
        Some(format!(
            "{} was damaged ({damaged}): kept it as {} and started a new one; running bots are found by their processes",
            path.display(),
            aside.display()
        )),
    ))
}

/// A database file cut short (truncated by hand, a copy that stopped half way): its header
/// says how many pages it has, and SQLite itself may not notice until it reads a missing one.
fn short_of_its_header(path: &Path) -> Option<String> {
    use std::io::Read as _;
    // Not a regular file is not "cut short": SQLite says what it is; a FIFO must not hang here.
    let (mut file, _) = botctl_proto::fsread::open_regular(path).ok()?;
    let mut h = [0u8; 100];
    file.read_exact(&mut h).ok()?;
    if &h[..16] != b"SQLite format 3\0" {
        return None;
    }
    let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let page_size = match u16::from_be_bytes([h[16], h[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    // The page count is only meaningful when the header says it is current.
    let pages = u64::from(be32(28));
    if be32(24) != be32(92) || pages == 0 {
        return None;
    }
    let len = file.metadata().ok()?.len();
    (len < pages * page_size).then(|| {
        format!(
            "it is {len} bytes, its header says {} pages of {page_size}: truncated",
            pages
        )
    })
}

fn run(mut w: Writer, rx: mpsc::Receiver<Cmd>) {
    crate::util::background_thread();
    // Not at once: the agent's start is busy enough, and the configured sample retention
    // arrives from the configuration only once the fleet is loaded.
    let mut next_prune = Instant::now() + PRUNE_FIRST;
    let mut last_write: Option<Instant> = None;
    loop {
        if Instant::now() >= next_prune {
            if let Err(e) = prune(&w.conn, w.sample_retention) {
                log_line(format_args!(
                    "botctl agent: store: pruning old events failed: {e}"
                ));
            }
            next_prune = Instant::now() + PRUNE_EVERY;
        }
        let until_prune = next_prune.saturating_duration_since(Instant::now());
        let wait = if w.pending.is_empty() {
            until_prune
        } else {
            RETRY_EVERY.min(until_prune)
        };
        let mut batch = Vec::new();
        match rx.recv_timeout(wait) {
            Ok(cmd) => {
                // Writes come in bursts (a fleet starting records an event per bot). Waiting
                // a moment makes a burst one transaction and one wake-up of this thread; taken
                // one by one, each cost a transaction and a wake-up that took the CPU from
                // the thread producing the burst, which made an agent adopting 200 bots 16 ms
                // slower. A read arriving meanwhile waits at most that moment.
                //
                // A burst that lasts (2,000 bots restarting after a crash storm, for 2 s)
                // waits longer: at 2 ms it was written in about 300 transactions, whose
                // commits (every page they touch, appended to the WAL) took a tenth of the
                // agent's CPU during the storm.
                if matches!(cmd, Cmd::Write(_)) {
                    let lasts = last_write.is_some_and(|t| t.elapsed() < BURST_GAP);
                    std::thread::sleep(if lasts { BURST_WINDOW } else { BATCH_WINDOW });
                }
                batch.push(cmd);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                w.write();
                return;
            }
        }
        // Everything already queued goes into one transaction: one fsync for a burst.
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let mut reads = Vec::new();
        for cmd in batch {
            match cmd {
                Cmd::Write(write) => w.queue(write),
                Cmd::SampleRetention(keep) => w.sample_retention = keep,
                other => reads.push(other),
            }
        }
        if !w.pending.is_empty() {
            last_write = Some(Instant::now());
        }
        w.check_file();
        w.write();
        // Reads answer after the writes queued before them are visible (or known to wait).
        for cmd in reads {
            w.answer(cmd);
        }
    }
}

/// The registry and every bot's supervision, as the store thread holds them: written whole
/// into a rebuilt file.
type Whole<'a> = (
    &'a BTreeMap<String, RegistryRow>,
    &'a BTreeMap<String, Supervision>,
    &'a BTreeMap<String, TokenRow>,
);

fn apply(
    conn: &mut Connection,
    writes: &VecDeque<Write>,
    whole: Option<Whole<'_>>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for write in writes {
        match write {
            // Cached statements: a burst (an event per bot of a fleet) parses each once.
            Write::Event(e, ts) => {
                tx.prepare_cached(
                    "INSERT INTO events(ts_ms, bot, owner, kind, message, actor, cause)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    ts, e.bot, e.owner, e.kind, e.message, e.actor, e.cause
                ])?;
            }
            Write::Register(r) => register(&tx, r)?,
            Write::Unregister(name) => {
                tx.prepare_cached("DELETE FROM registry WHERE name = ?1")?
                    .execute(params![name])?;
            }
            Write::Supervise(row) => supervise(&tx, row)?,
            Write::Forget(name) => {
                tx.prepare_cached("DELETE FROM supervision WHERE name = ?1")?
                    .execute(params![name])?;
            }
            Write::Samples(rows) => {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO samples(bot, ts_ms, cpu, memory) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for r in rows {
                    stmt.execute(params![
                        r.bot,
                        r.ts_ms,
                        r.cpu_percent,
                        r.memory_bytes as i64
                    ])?;
                }
            }
            Write::MetaSet(k, v) => {
                tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                    params![k, v],
                )?;
            }
            Write::Delivery(id, ts) => {
                tx.execute(
                    "INSERT OR IGNORE INTO deliveries(id, ts_ms) VALUES (?1, ?2)",
                    params![id, ts],
                )?;
            }
            Write::Token(row) => save_token(&tx, row)?,
            Write::RevokeToken(id) => {
                tx.execute("DELETE FROM tokens WHERE id = ?1", params![id])?;
            }
            Write::TokensUsed(uses) => {
                let mut stmt =
                    tx.prepare_cached("UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1")?;
                for (id, ts) in uses {
                    stmt.execute(params![id, ts])?;
                }
            }
        }
    }
    if let Some((registry, supervision, tokens)) = whole {
        tx.execute("DELETE FROM tokens", [])?;
        for r in tokens.values() {
            save_token(&tx, r)?;
        }
        tx.execute("DELETE FROM registry", [])?;
        for r in registry.values() {
            register(&tx, r)?;
        }
        tx.execute("DELETE FROM supervision", [])?;
        for r in supervision.values() {
            supervise(&tx, r)?;
        }
    }
    tx.commit()
}

fn save_token(tx: &rusqlite::Transaction<'_>, r: &TokenRow) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO tokens(id, user, admin, read_only, hash, created_ms, expires_ms,
            last_used_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.id,
        r.user,
        r.admin,
        r.read_only,
        &r.hash[..],
        r.created_ms,
        r.expires_ms,
        r.last_used_ms
    ])?;
    Ok(())
}

/// Every token; a row whose hash is not 32 bytes (not one this version wrote) is left out.
fn read_tokens(conn: &Connection) -> rusqlite::Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, user, admin, read_only, hash, created_ms, expires_ms, last_used_ms
         FROM tokens ORDER BY created_ms",
    )?;
    let rows = stmt.query_map([], |r| {
        let hash: Vec<u8> = r.get(4)?;
        Ok(<[u8; 32]>::try_from(hash).ok().map(|hash| TokenRow {
            id: r.get(0).unwrap_or_default(),
            user: r.get(1).unwrap_or_default(),
            admin: r.get(2).unwrap_or_default(),
            read_only: r.get(3).unwrap_or(true),
            hash,
            created_ms: r.get(5).unwrap_or_default(),
            expires_ms: r.get(6).unwrap_or_default(),
            last_used_ms: r.get(7).unwrap_or_default(),
        }))
    })?;
    rows.filter_map(|r| r.transpose()).collect()
}

fn supervise(tx: &rusqlite::Transaction<'_>, r: &Supervision) -> rusqlite::Result<()> {
    let recent: Vec<String> = r.recent_restarts_ms.iter().map(i64::to_string).collect();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO supervision(name, wanted, until_ms, restarts, recent_ms,
            quick_failures, exit_code, exit_signal, exit_at_ms, last_error, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        r.name,
        r.wanted.as_str(),
        r.until_ms,
        r.restarts,
        recent.join(","),
        r.quick_failures,
        r.last_exit.and_then(|e| e.code),
        r.last_exit.and_then(|e| e.signal),
        r.last_exit.map(|e| e.at_ms),
        r.last_error,
        r.reason
    ])?;
    Ok(())
}

/// Every bot's supervision. A row this version cannot read (an unknown `wanted`, written by
/// a newer agent) is left out: its bot starts as a new one would.
fn read_supervision(conn: &Connection) -> rusqlite::Result<Vec<Supervision>> {
    let mut stmt = conn.prepare(
        "SELECT name, wanted, until_ms, restarts, recent_ms, quick_failures, exit_code,
            exit_signal, exit_at_ms, last_error, reason
         FROM supervision ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        let wanted: String = r.get(1)?;
        let recent: String = r.get(4)?;
        let exit_at: Option<i64> = r.get(8)?;
        Ok(Wanted::parse(&wanted).map(|wanted| Supervision {
            name: r.get(0).unwrap_or_default(),
            wanted,
            until_ms: r.get(2).unwrap_or_default(),
            restarts: r.get(3).unwrap_or_default(),
            recent_restarts_ms: recent.split(',').filter_map(|t| t.parse().ok()).collect(),
            quick_failures: r.get(5).unwrap_or_default(),
            last_exit: exit_at.map(|at_ms| StoredExit {
                code: r.get(6).unwrap_or_default(),
                signal: r.get(7).unwrap_or_default(),
                at_ms,
            }),
            last_error: r.get(9).unwrap_or_default(),
            reason: r.get(10).unwrap_or_default(),
        }))
    })?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

fn register(tx: &rusqlite::Transaction<'_>, r: &RegistryRow) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO registry(name, owner, pid, pgid, start_ticks, started_at_ms, restarts, config_toml, pidfs_id, cgroup)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
            r.name,
            r.owner,
            r.pid,
            r.pgid,
            r.start_ticks as i64,
            r.started_at_ms,
            r.restarts,
            r.config_toml,
            r.pidfs_id as i64,
            r.cgroup
        ],
    )?;
    Ok(())
}

// `1.5s`, `3m` or `2h`: how long the file could not be written.
use botctl_proto::human::duration as compact;

fn read_registry(conn: &Connection) -> rusqlite::Result<Vec<RegistryRow>> {
    let mut stmt = conn.prepare(
        "SELECT name, owner, pid, pgid, start_ticks, started_at_ms, restarts, config_toml, pidfs_id, cgroup
         FROM registry ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RegistryRow {
            name: r.get(0)?,
            owner: r.get(1)?,
            pid: r.get(2)?,
            pgid: r.get(3)?,
            start_ticks: r.get::<_, i64>(4)? as u64,
            started_at_ms: r.get(5)?,
            restarts: r.get(6)?,
            config_toml: r.get(7)?,
            pidfs_id: r.get::<_, i64>(8)? as u64,
            cgroup: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// The events query, with the bot named (`bot = ?1`, which the `events_bot` index serves) or
/// not: written `(?1 IS NULL OR bot = ?1)`, SQLite scanned the whole table for one bot.
fn events_sql(one_bot: bool) -> &'static str {
    if one_bot {
        "SELECT id, ts_ms, bot, owner, kind, message, actor FROM events
         WHERE bot = ?1 AND (?2 IS NULL OR ts_ms >= ?2) AND (?3 IS NULL OR id > ?3)
            AND (?5 IS NULL OR owner = ?5)
         ORDER BY id DESC LIMIT ?4"
    } else {
        "SELECT id, ts_ms, bot, owner, kind, message, actor FROM events
         WHERE ?1 IS NULL AND (?2 IS NULL OR ts_ms >= ?2) AND (?3 IS NULL OR id > ?3)
            AND (?5 IS NULL OR owner = ?5)
         ORDER BY id DESC LIMIT ?4"
    }
}

fn read_events(conn: &Connection, q: &EventQuery) -> rusqlite::Result<Vec<EventRecord>> {
    let limit = if q.limit == 0 {
        100
    } else {
        q.limit.min(10_000)
    };
    let mut stmt = conn.prepare_cached(events_sql(q.bot.is_some()))?;
    let rows = stmt.query_map(
        params![q.bot, q.since_ms, q.after_id, limit, q.owner],
        |r| {
            Ok(EventRecord {
                id: r.get(0)?,
                ts_ms: r.get(1)?,
                bot: r.get(2)?,
                owner: r.get(3)?,
                kind: r.get(4)?,
                message: r.get(5)?,
                actor: r.get(6)?,
            })
        },
    )?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

fn read_history(
    conn: &Connection,
    bot: Option<&str>,
    since: i64,
) -> rusqlite::Result<Vec<SamplePoint>> {
    // `IS` matches NULL (the host) as well as a name, and uses the (bot, ts_ms) index.
    let mut stmt = conn.prepare_cached(
        "SELECT ts_ms, cpu, memory FROM samples WHERE bot IS ?1 AND ts_ms >= ?2 ORDER BY ts_ms",
    )?;
    let rows = stmt.query_map(params![bot, since], |r| {
        Ok(SamplePoint {
            ts_ms: r.get(0)?,
            cpu_percent: r.get::<_, f64>(1)? as f32,
            memory_bytes: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    rows.collect()
}

/// Counts from the events the supervisor records: an exit nobody asked for is a crash, and
/// the time from it (or from a forced restart) to the next start is one recovery.
fn read_recovery(conn: &Connection, bot: &str) -> rusqlite::Result<RecoveryRecord> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts_ms, kind, cause FROM events WHERE bot = ?1
            AND (cause IS NOT NULL OR kind IN ('started', 'restarted', 'stopped')) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![bot], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    let mut record = RecoveryRecord::default();
    let mut down_since: Option<i64> = None;
    let mut recoveries: Vec<i64> = Vec::new();
    for row in rows {
        let (ts, kind, cause) = row?;
        match (cause.as_deref(), kind.as_str()) {
            (Some("crash"), _) => {
                record.crashes += 1;
                down_since.get_or_insert(ts);
            }
            (Some("limit" | "pressure"), _) => {
                record.limit_restarts += 1;
                down_since.get_or_insert(ts);
            }
            (Some("health"), _) => {
                record.health_restarts += 1;
                down_since.get_or_insert(ts);
            }
            (_, "started" | "restarted") => {
                if let Some(t) = down_since.take() {
                    recoveries.push(ts - t);
                    record.recoveries += 1;
                }
            }
            // A user stop ends an outage without a recovery.
            (_, "stopped") => down_since = None,
            _ => {}
        }
    }
    if !recoveries.is_empty() {
        let sum: i64 = recoveries.iter().sum();
        record.mean_time_to_recovery_ms = Some((sum / recoveries.len() as i64).max(0) as u64);
    }
    Ok(record)
}

fn maintain(
    conn: &Connection,
    apply: bool,
    sample_retention: Duration,
) -> rusqlite::Result<Maintenance> {
    let now = now_ms();
    let sample_cutoff = now - sample_retention.as_millis() as i64;
    let event_cutoff = now - EVENT_RETENTION.as_millis() as i64;
    let count = |sql: &str, cutoff: i64| -> rusqlite::Result<u64> {
        conn.query_row(sql, params![cutoff], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
    };
    let mut m = Maintenance {
        events: count("SELECT COUNT(*) FROM events WHERE ts_ms < ?1", event_cutoff)?,
        samples: count(
            "SELECT COUNT(*) FROM samples WHERE ts_ms < ?1",
            sample_cutoff,
        )?,
        freed_bytes: 0,
    };
    if apply {
        let size = |conn: &Connection| -> rusqlite::Result<u64> {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok((pages * page).max(0) as u64)
        };
        let before = size(conn)?;
        prune(conn, sample_retention)?;
        conn.execute_batch("VACUUM")?;
        m.freed_bytes = before.saturating_sub(size(conn)?);
    }
    Ok(m)
}

fn prune(conn: &Connection, sample_retention: Duration) -> rusqlite::Result<()> {
    let cutoff = now_ms() - sample_retention.as_millis() as i64;
    conn.execute("DELETE FROM samples WHERE ts_ms < ?1", params![cutoff])?;
    let cutoff = now_ms() - EVENT_RETENTION.as_millis() as i64;
    conn.execute("DELETE FROM events WHERE ts_ms < ?1", params![cutoff])?;
    conn.execute("DELETE FROM deliveries WHERE ts_ms < ?1", params![cutoff])?;
    let max_id: Option<i64> = conn
        .query_row("SELECT MAX(id) FROM events", [], |r| r.get(0))
        .optional()?
        .flatten();
    if let Some(max_id) = max_id {
        conn.execute(
            "DELETE FROM events WHERE id <= ?1",
            params![max_id - EVENT_MAX_ROWS],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bot: &str, kind: &'static str) -> NewEvent {
        NewEvent {
            bot: Some(bot.into()),
            owner: Some("alice".into()),
            kind,
            message: format!("{kind} happened"),
            actor: None,
            cause: None,
        }
    }

    #[tokio::test]
    async fn registry_and_events_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/botctl.db");
        {
            let (store, problem) = Store::open(&db);
            assert!(problem.is_none());
            let row = RegistryRow {
                name: "a".into(),
                owner: "alice".into(),
                pid: 42,
                pgid: 42,
                start_ticks: 123456,
                pidfs_id: 77,
                started_at_ms: 1,
                restarts: 3,
                config_toml: "user = \"alice\"\n".into(),
                cgroup: "/sys/fs/cgroup/botctl-x/a".into(),
            };
            store.register(row.clone());
            store.register(RegistryRow {
                name: "b".into(),
                ..row.clone()
            });
            store.unregister("b");
            store.record(event("a", "started"));
            store.record(event("b", "exited"));
            store.flush().await;
            assert_eq!(store.registry().await.unwrap(), vec![row.clone()]);
            assert!(store.take_opened().registry.is_empty(), "a new file");
        }
        let (store, _) = Store::open(&db);
        assert_eq!(store.registry().await.unwrap().len(), 1);
        assert_eq!(store.take_opened().registry.len(), 1, "as read at open");
        assert!(store.take_opened().registry.is_empty(), "taken once");
        let all = store
            .events(EventQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["started", "exited"]
        );
        let only_b = store
            .events(EventQuery {
                bot: Some("b".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(only_b.len(), 1);
        let after = store
            .events(EventQuery {
                after_id: Some(all[0].id),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(after, vec![all[1].clone()]);
    }

    fn supervision(name: &str, wanted: Wanted) -> Supervision {
        Supervision {
            name: name.into(),
            wanted,
            until_ms: Some(1_700_000_000_000),
            restarts: 12,
            recent_restarts_ms: vec![1, 2, 3],
            quick_failures: 2,
            last_exit: Some(StoredExit {
                code: None,
                signal: Some(9),
                at_ms: 5,
            }),
            last_error: Some("cannot run `nope`".into()),
            reason: None,
        }
    }

    #[test]
    fn one_bots_events_are_found_through_its_index_not_by_scanning_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_file(&dir.path().join("botctl.db")).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt
                .query_map(
                    params!["b1", None::<i64>, None::<i64>, 100, None::<String>],
                    |r| r.get::<_, String>(3),
                )
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let one = plan(events_sql(true));
        assert!(one.contains("USING INDEX events_bot"), "{one}");
        assert!(!one.contains("SCAN events"), "{one}");
    }

    #[tokio::test]
    async fn supervision_survives_reopen_and_a_removed_bot_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/botctl.db");
        let every: Vec<Supervision> = Wanted::ALL
            .into_iter()
            .map(|w| supervision(w.as_str(), w))
            .collect();
        {
            let (store, _) = Store::open(&db);
            for row in &every {
                store.supervise(row.clone());
            }
            store.supervise(supervision("gone", Wanted::Stopped));
            store.forget("gone");
            store.flush().await;
        }
        let (store, _) = Store::open(&db);
        let mut expected = every.clone();
        expected.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(store.take_opened().supervision, expected);

        // A row a newer agent wrote with a standing this one does not know is left out.
        let conn = Connection::open(&db).unwrap();
        conn.execute(
            "INSERT INTO supervision(name, wanted) VALUES ('new', 'hibernating')",
            [],
        )
        .unwrap();
        assert_eq!(read_supervision(&conn).unwrap().len(), every.len());
    }

    #[tokio::test]
    async fn a_file_from_before_supervision_gets_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let (store, _) = Store::open(&db);
            store.flush().await;
        }
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch("DROP TABLE supervision; PRAGMA user_version = 2;")
                .unwrap();
        }
        let (store, problem) = Store::open(&db);
        assert!(problem.is_none(), "{problem:?}");
        assert!(store.take_opened().supervision.is_empty());
        store.supervise(supervision("a", Wanted::Failed));
        store.flush().await;
        let conn = Connection::open(&db).unwrap();
        assert_eq!(read_supervision(&conn).unwrap().len(), 1);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn a_file_from_before_process_identities_gets_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(
                "CREATE TABLE registry(name TEXT PRIMARY KEY, owner TEXT NOT NULL,
                    pid INTEGER NOT NULL, pgid INTEGER NOT NULL, start_ticks INTEGER NOT NULL,
                    started_at_ms INTEGER NOT NULL, restarts INTEGER NOT NULL DEFAULT 0,
                    config_toml TEXT NOT NULL DEFAULT '');
                 INSERT INTO registry VALUES ('a', 'alice', 42, 42, 7, 1, 0, 'user = \"alice\"');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let (store, problem) = Store::open(&db);
        assert!(problem.is_none(), "{problem:?}");
        let rows = store.registry().await.unwrap();
        assert_eq!((rows[0].name.as_str(), rows[0].pidfs_id), ("a", 0));
        store.register(RegistryRow {
            pidfs_id: 99,
            ..rows[0].clone()
        });
        store.flush().await;
        let on_disk = read_registry(&Connection::open(&db).unwrap()).unwrap();
        assert_eq!(on_disk[0].pidfs_id, 99);
    }

    #[tokio::test]
    async fn a_file_of_the_version_before_cgroups_gets_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let conn = Connection::open(&db).unwrap();
            init(&conn).unwrap();
            // As the agent before the cgroup column left it: version 6, every other column.
            conn.execute_batch(
                "ALTER TABLE registry DROP COLUMN cgroup;
                 INSERT INTO registry(name, owner, pid, pgid, start_ticks, started_at_ms)
                    VALUES ('a', 'alice', 42, 42, 7, 1);
                 PRAGMA user_version = 6;",
            )
            .unwrap();
        }
        let (store, problem) = Store::open(&db);
        assert!(problem.is_none(), "{problem:?}");
        let rows = store.registry().await.unwrap();
        assert_eq!((rows[0].name.as_str(), rows[0].cgroup.as_str()), ("a", ""));
        store.register(RegistryRow {
            cgroup: "/sys/fs/cgroup/botctl-x/a".into(),
            ..rows[0].clone()
        });
        store.flush().await;
        let on_disk = read_registry(&Connection::open(&db).unwrap()).unwrap();
        assert_eq!(on_disk[0].cgroup, "/sys/fs/cgroup/botctl-x/a");
    }

    #[tokio::test]
    async fn events_of_an_older_file_read_the_same_and_still_count_crashes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let conn = Connection::open(&db).unwrap();
            init(&conn).unwrap();
            conn.execute_batch(
                "ALTER TABLE events DROP COLUMN actor; ALTER TABLE events DROP COLUMN cause;
                 INSERT INTO events(ts_ms, bot, owner, kind, message) VALUES
                    (1000, 'a', 'alice', 'exited', 'exited with code 1 after 2s; restarting now'),
                    (1500, 'a', 'alice', 'started', 'started, pid 9'),
                    (2000, 'a', 'alice', 'limit-restart', 'memory 600 MiB > 512 MiB'),
                    (2600, 'a', 'alice', 'restarted', 'restarted, pid 10'),
                    (3000, 'a', 'alice', 'stopped', 'stopped by user');
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        }
        let (store, problem) = Store::open(&db);
        assert!(problem.is_none(), "{problem:?}");
        let all = store
            .events(EventQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].kind, "exited");
        assert!(all.iter().all(|e| e.actor.is_none()));
        let r = store.recovery("a").await.unwrap();
        assert_eq!((r.crashes, r.limit_restarts), (1, 1));
        assert_eq!(r.mean_time_to_recovery_ms, Some(550));
        // New rows keep who did it, and the owner filter finds them.
        store.record(NewEvent {
            actor: Some("uid 0".into()),
            owner: Some("bob".into()),
            ..event("b", "stopped")
        });
        store.flush().await;
        let bobs = store
            .events(EventQuery {
                owner: Some("bob".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(bobs.len(), 1);
        assert_eq!(bobs[0].actor.as_deref(), Some("uid 0"));
    }

    #[tokio::test]
    async fn a_clean_exit_is_vouched_for_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let (store, _) = Store::open(&db);
            assert!(!store.clean_exit(), "a new file vouches for nothing");
            for _ in 0..50 {
                store.record(event("a", "started"));
            }
            store.flush().await;
            store.close_cleanly().await;
            let wal = std::fs::metadata(dir.path().join("botctl.db-wal")).map_or(0, |m| m.len());
            assert_eq!(wal, 0, "the write-ahead log is emptied for the next agent");
        }
        let (store, _) = Store::open(&db);
        assert!(store.clean_exit(), "the last agent exited cleanly");
        drop(store);
        // An agent that then dies without closing leaves no mark behind.
        let (store, _) = Store::open(&db);
        assert!(!store.clean_exit(), "the mark was taken");
    }

    #[tokio::test]
    async fn a_clean_exit_is_not_trusted_while_the_file_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let (store, _) = Store::open(&db);
            store.close_cleanly().await;
        }
        let locker = Connection::open(&db).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let (store, _) = Store::open(&db);
        assert!(!store.clean_exit(), "the mark could not be removed");
        locker.execute_batch("COMMIT").unwrap();
    }

    #[tokio::test]
    async fn unusable_file_falls_back_to_memory() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, "not a directory").unwrap();
        let (store, problem) = Store::open(&blocker.join("botctl.db"));
        assert!(problem.unwrap().contains("in memory"));
        store.record(event("a", "started"));
        let events = store
            .events(EventQuery {
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
    }
}

/// The file going wrong under a running store: it must keep every change, say what is wrong
/// and leave a file the next agent can adopt from.
#[cfg(test)]
mod fault_tests {
    use super::*;

    fn row(name: &str, pid: u32) -> RegistryRow {
        RegistryRow {
            name: name.into(),
            owner: "alice".into(),
            pid,
            pgid: pid,
            start_ticks: 7,
            pidfs_id: 0,
            started_at_ms: 1,
            restarts: 0,
            config_toml: String::new(),
            cgroup: String::new(),
        }
    }

    fn event(kind: &'static str) -> NewEvent {
        NewEvent {
            bot: None,
            owner: None,
            kind,
            message: kind.into(),
            actor: None,
            cause: None,
        }
    }

    async fn kinds(store: &Store) -> Vec<String> {
        let q = EventQuery {
            limit: 100,
            ..Default::default()
        };
        store
            .events(q)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// Drops a store and waits until its thread has closed the file (which removes the -wal).
    async fn store_flushed_and_gone(store: Store, db: &Path) {
        store.flush().await;
        drop(store);
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while wal.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn registry_on_disk(db: &Path) -> Vec<RegistryRow> {
        read_registry(&Connection::open(db).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_deleted_file_is_rebuilt_with_its_registry_and_history() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/botctl.db");
        let (store, _) = Store::open(&db);
        store.register(row("a", 10));
        store.supervise(Supervision {
            name: "s".into(),
            wanted: Wanted::Stopped,
            until_ms: None,
            restarts: 3,
            recent_restarts_ms: Vec::new(),
            quick_failures: 0,
            last_exit: None,
            last_error: None,
            reason: None,
        });
        store.record(event("started"));
        store.flush().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        store.register(row("b", 11));
        store.flush().await;
        assert!(db.exists());
        let k = kinds(&store).await;
        assert!(k.contains(&"started".to_string()), "history kept: {k:?}");
        assert!(k.contains(&"store-error".to_string()), "{k:?}");
        drop(store);
        let names: Vec<String> = registry_on_disk(&db).into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["a", "b"]);
        let kept = read_supervision(&Connection::open(&db).unwrap()).unwrap();
        assert_eq!(
            kept.iter()
                .map(|r| (r.name.as_str(), r.restarts))
                .collect::<Vec<_>>(),
            [("s", 3)],
            "where the operator left a bot is rebuilt too"
        );
    }

    #[tokio::test]
    async fn a_locked_file_holds_changes_until_it_can_write_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        let (store, _) = Store::open(&db);
        store.flush().await;
        let locker = Connection::open(&db).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        store.register(row("a", 10));
        store.record(event("started"));
        store.flush().await;
        let problem = store.problem().expect("a problem while locked");
        assert!(problem.contains("locked"), "{problem}");
        locker.execute_batch("COMMIT").unwrap();
        drop(locker);
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.problem().is_some() {
            assert!(Instant::now() < deadline, "still failing");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.flush().await;
        let k = kinds(&store).await;
        for kind in ["started", "store-error", "store-recovered"] {
            assert!(k.contains(&kind.to_string()), "{kind} missing: {k:?}");
        }
        assert_eq!(registry_on_disk(&db), vec![row("a", 10)]);
    }

    #[tokio::test]
    async fn a_damaged_or_short_file_is_kept_aside_for_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("botctl.db");
        {
            let (store, _) = Store::open(&db);
            for i in 0..200 {
                store.record(NewEvent {
                    message: format!("e{i}"),
                    ..event("started")
                });
                store.register(row(&format!("bot{i}"), i));
            }
            store.flush().await;
        }
        // Everything into the main file, as a stopped agent leaves it.
        Connection::open(&db)
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let len = std::fs::metadata(&db).unwrap().len();
        assert!(len > 8192, "{len}");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let (store, problem) = Store::open(&db);
        let problem = problem.expect("the short file is reported");
        assert!(problem.contains("truncated"), "{problem}");
        assert!(store.registry().await.unwrap().is_empty());

        store_flushed_and_gone(store, &db).await;
        std::fs::write(&db, vec![b'x'; 8192]).unwrap();
        let (_store, problem) = Store::open(&db);
        let problem = problem.expect("reported");
        assert!(problem.contains("kept it as"), "{problem}");
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".broken-"))
            .count();
        assert_eq!(aside, 2, "both old files are kept");
    }
}
