//! The agent's SQLite file (`state/botctl.db`, WAL): the running-bot registry used for adoption
//! and the event history. It lives on its own thread so supervision never waits on the disk.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use botctl_proto::{EventQuery, EventRecord, RecoveryRecord, SamplePoint, now_ms};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

/// Events older than this are deleted.
const EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// And never more than this many rows, whatever their age.
const EVENT_MAX_ROWS: i64 = 200_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

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
    pub started_at_ms: i64,
    pub restarts: u32,
    /// The bot's configuration when it was started (`BotConfig::to_toml`): the last good
    /// version, kept running by the next agent even if the file is broken by then.
    pub config_toml: String,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub bot: Option<String>,
    pub owner: Option<String>,
    pub kind: String,
    pub message: String,
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

enum Cmd {
    Event(NewEvent, i64),
    Samples(Vec<SampleRow>),
    SampleRetention(Duration),
    History(
        String,
        i64,
        oneshot::Sender<rusqlite::Result<Vec<SamplePoint>>>,
    ),
    Record(String, oneshot::Sender<rusqlite::Result<RecoveryRecord>>),
    /// Counts rows past retention; with `apply`, deletes them and vacuums.
    Maintenance(bool, oneshot::Sender<rusqlite::Result<Maintenance>>),
    MetaSet(String, String),
    MetaGet(String, oneshot::Sender<rusqlite::Result<Option<String>>>),
    Delivery(String),
    Deliveries(oneshot::Sender<rusqlite::Result<Vec<String>>>),
    Register(RegistryRow),
    Unregister(String),
    Registry(oneshot::Sender<rusqlite::Result<Vec<RegistryRow>>>),
    Events(
        EventQuery,
        oneshot::Sender<rusqlite::Result<Vec<EventRecord>>>,
    ),
    Flush(oneshot::Sender<()>),
}

/// A cheap handle to the store thread. Writes are fire-and-forget and batched.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
}

impl Store {
    /// Opens (creating) the database and starts its thread. The second value, when present,
    /// says why the file could not be used and that the history is kept in memory instead.
    pub fn open(path: &Path) -> (Store, Option<String>) {
        let (conn, problem) = match open_file(path) {
            Ok(conn) => (conn, None),
            Err(e) => {
                let conn = Connection::open_in_memory().expect("sqlite in memory");
                init(&conn).expect("sqlite schema in memory");
                (
                    conn,
                    Some(format!(
                        "cannot use {}: {e:#}; keeping history in memory until the agent restarts",
                        path.display()
                    )),
                )
            }
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || run(conn, rx))
            .expect("spawn store thread");
        (Store { tx }, problem)
    }

    pub fn record(&self, event: NewEvent) {
        let _ = self.tx.send(Cmd::Event(event, now_ms()));
    }

    pub fn register(&self, row: RegistryRow) {
        let _ = self.tx.send(Cmd::Register(row));
    }

    pub fn samples(&self, rows: Vec<SampleRow>) {
        if !rows.is_empty() {
            let _ = self.tx.send(Cmd::Samples(rows));
        }
    }

    pub fn set_sample_retention(&self, keep: Duration) {
        let _ = self.tx.send(Cmd::SampleRetention(keep));
    }

    /// A bot's samples since `since_ms`, oldest first.
    pub async fn history(&self, bot: &str, since_ms: i64) -> anyhow::Result<Vec<SamplePoint>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::History(bot.to_string(), since_ms, tx))
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
        let _ = self.tx.send(Cmd::MetaSet(key.into(), value.into()));
    }

    pub async fn meta_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::MetaGet(key.into(), tx))
            .ok()
            .context("store thread is gone")?;
        Ok(rx.await.context("store thread is gone")??)
    }

    /// Remembers a GitHub delivery id so a redelivery is not acted on twice.
    pub fn delivery_seen(&self, id: &str) {
        let _ = self.tx.send(Cmd::Delivery(id.into()));
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
        let _ = self.tx.send(Cmd::Unregister(name.to_string()));
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
         CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS deliveries(id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL);",
    )?;
    // Files made before a column existed get it added; bump user_version with each change.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        let has_config: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('registry') WHERE name = 'config_toml'")?
            .exists([])?;
        if !has_config {
            conn.execute_batch(
                "ALTER TABLE registry ADD COLUMN config_toml TEXT NOT NULL DEFAULT ''",
            )?;
        }
        conn.pragma_update(None, "user_version", 1)?;
    }
    Ok(())
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Cmd>) {
    let mut last_prune = None;
    let mut sample_retention = botctl_proto::config::DEFAULT_SAMPLE_RETENTION;
    loop {
        if last_prune.is_none_or(|t: std::time::Instant| t.elapsed() >= PRUNE_EVERY) {
            if let Err(e) = prune(&conn, sample_retention) {
                eprintln!("store: pruning old events failed: {e}");
            }
            last_prune = Some(std::time::Instant::now());
        }
        let first = match rx.recv_timeout(PRUNE_EVERY) {
            Ok(cmd) => cmd,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Everything already queued goes into one transaction: one fsync for a burst.
        let mut batch = vec![first];
        while let Ok(cmd) = rx.try_recv() {
            batch.push(cmd);
            if batch.len() >= 1024 {
                break;
            }
        }
        for cmd in &batch {
            if let Cmd::SampleRetention(keep) = cmd {
                sample_retention = *keep;
            }
        }
        if let Err(e) = apply(&mut conn, batch, sample_retention) {
            eprintln!("store: write failed: {e}");
        }
    }
}

fn apply(
    conn: &mut Connection,
    batch: Vec<Cmd>,
    sample_retention: Duration,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut replies = Vec::new();
    for cmd in batch {
        match cmd {
            Cmd::Event(e, ts) => {
                tx.execute(
                    "INSERT INTO events(ts_ms, bot, owner, kind, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![ts, e.bot, e.owner, e.kind, e.message],
                )?;
            }
            Cmd::Register(r) => {
                tx.execute(
                    "INSERT OR REPLACE INTO registry(name, owner, pid, pgid, start_ticks, started_at_ms, restarts, config_toml)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        r.name,
                        r.owner,
                        r.pid,
                        r.pgid,
                        r.start_ticks as i64,
                        r.started_at_ms,
                        r.restarts,
                        r.config_toml
                    ],
                )?;
            }
            Cmd::Unregister(name) => {
                tx.execute("DELETE FROM registry WHERE name = ?1", params![name])?;
            }
            Cmd::Samples(rows) => {
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
            Cmd::SampleRetention(_) => {}
            Cmd::MetaSet(k, v) => {
                tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                    params![k, v],
                )?;
            }
            Cmd::Delivery(id) => {
                tx.execute(
                    "INSERT OR IGNORE INTO deliveries(id, ts_ms) VALUES (?1, ?2)",
                    params![id, now_ms()],
                )?;
            }
            // Reads answer after the writes queued before them are visible.
            other => replies.push(other),
        }
    }
    tx.commit()?;
    for cmd in replies {
        match cmd {
            Cmd::Registry(reply) => {
                let _ = reply.send(read_registry(conn));
            }
            Cmd::Events(q, reply) => {
                let _ = reply.send(read_events(conn, &q));
            }
            Cmd::Flush(reply) => {
                let _ = reply.send(());
            }
            Cmd::History(bot, since, reply) => {
                let _ = reply.send(read_history(conn, &bot, since));
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
                let _ = reply.send(maintain(conn, apply, sample_retention));
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_registry(conn: &Connection) -> rusqlite::Result<Vec<RegistryRow>> {
    let mut stmt = conn.prepare(
        "SELECT name, owner, pid, pgid, start_ticks, started_at_ms, restarts, config_toml
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
        })
    })?;
    rows.collect()
}

fn read_events(conn: &Connection, q: &EventQuery) -> rusqlite::Result<Vec<EventRecord>> {
    let limit = if q.limit == 0 {
        100
    } else {
        q.limit.min(10_000)
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, ts_ms, bot, owner, kind, message FROM events
         WHERE (?1 IS NULL OR bot = ?1) AND (?2 IS NULL OR ts_ms >= ?2) AND (?3 IS NULL OR id > ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![q.bot, q.since_ms, q.after_id, limit], |r| {
        Ok(EventRecord {
            id: r.get(0)?,
            ts_ms: r.get(1)?,
            bot: r.get(2)?,
            owner: r.get(3)?,
            kind: r.get(4)?,
            message: r.get(5)?,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

fn read_history(conn: &Connection, bot: &str, since: i64) -> rusqlite::Result<Vec<SamplePoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts_ms, cpu, memory FROM samples WHERE bot = ?1 AND ts_ms >= ?2 ORDER BY ts_ms",
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
        "SELECT ts_ms, kind, message FROM events WHERE bot = ?1 AND kind IN
         ('exited', 'backoff', 'failed', 'spawn-failed', 'limit-restart', 'pressure-restart',
          'health-restart', 'started', 'restarted', 'stopped') ORDER BY id",
    )?;
    let rows = stmt.query_map(params![bot], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut record = RecoveryRecord::default();
    let mut down_since: Option<i64> = None;
    let mut recoveries: Vec<i64> = Vec::new();
    for row in rows {
        let (ts, kind, message) = row?;
        match kind.as_str() {
            "exited" | "backoff" | "failed" if message.starts_with("exited with") => {
                record.crashes += 1;
                down_since.get_or_insert(ts);
            }
            "limit-restart" | "pressure-restart" => {
                record.limit_restarts += 1;
                down_since.get_or_insert(ts);
            }
            "health-restart" => {
                record.health_restarts += 1;
                down_since.get_or_insert(ts);
            }
            "started" | "restarted" => {
                if let Some(t) = down_since.take() {
                    recoveries.push(ts - t);
                }
            }
            // A user stop ends an outage without a recovery.
            "stopped" => down_since = None,
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

    fn event(bot: &str, kind: &str) -> NewEvent {
        NewEvent {
            bot: Some(bot.into()),
            owner: Some("alice".into()),
            kind: kind.into(),
            message: format!("{kind} happened"),
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
                started_at_ms: 1,
                restarts: 3,
                config_toml: "user = \"alice\"\n".into(),
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
            assert_eq!(store.registry().await.unwrap(), vec![row]);
        }
        let (store, _) = Store::open(&db);
        assert_eq!(store.registry().await.unwrap().len(), 1);
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
