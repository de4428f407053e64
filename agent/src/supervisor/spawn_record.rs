//! The write-ahead record of each bot's latest spawn (`state/spawned/NAME`): overwritten in
//! place just before and just after every spawn, so the next agent knows a bot's process even
//! when this one died before the database had its registry row.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use botctl_proto::Paths;

/// Every record has this length, so each write replaces the last one whole: one pwrite of a
/// few dozen bytes, which a killed process cannot leave half done.
const LEN: usize = 96;
const MAGIC: &str = "botctl-spawn-1";

/// What the record of one bot says about its latest spawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spawn {
    /// A spawn began when the boot clock read `since_ticks` (clock ticks, the unit of a
    /// process's start time in /proc) and its outcome was never written: the agent died in
    /// between. A process the spawn made started at or after that tick.
    InFlight { since_ticks: u64 },
    Done {
        pid: u32,
        start_ticks: u64,
        pidfs_id: u64,
        started_at_ms: i64,
    },
    /// The last spawn made no process.
    Failed,
}

impl Spawn {
    fn encode(self) -> [u8; LEN] {
        let text = match self {
            Spawn::InFlight { since_ticks } => format!("{MAGIC} in-flight {since_ticks}"),
            Spawn::Done {
                pid,
                start_ticks,
                pidfs_id,
                started_at_ms,
            } => format!("{MAGIC} done {pid} {start_ticks} {pidfs_id} {started_at_ms}"),
            Spawn::Failed => format!("{MAGIC} failed"),
        };
        let mut out = [b' '; LEN];
        out[..text.len()].copy_from_slice(text.as_bytes());
        out[LEN - 1] = b'\n';
        out
    }

    fn decode(bytes: &[u8]) -> Option<Spawn> {
        let text = std::str::from_utf8(bytes).ok()?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let num = |i: usize| words.get(i)?.parse::<u64>().ok();
        let spawn = match words.get(..2)? {
            [MAGIC, "in-flight"] => Spawn::InFlight {
                since_ticks: num(2)?,
            },
            [MAGIC, "done"] => Spawn::Done {
                pid: u32::try_from(num(2)?).ok()?,
                start_ticks: num(3)?,
                pidfs_id: num(4)?,
                started_at_ms: i64::try_from(num(5)?).ok()?,
            },
            [MAGIC, "failed"] => Spawn::Failed,
            _ => return None,
        };
        Some(spawn)
    }
}

/// One bot's record, opened at its first spawn by this agent and kept open.
pub struct SpawnLog {
    path: PathBuf,
    file: Option<File>,
    /// Said once per bot: the record cannot be written (the state directory is read-only).
    complained: bool,
}

impl SpawnLog {
    pub fn new(paths: &Paths, bot: &str) -> SpawnLog {
        SpawnLog {
            path: dir(paths).join(bot),
            file: None,
            complained: false,
        }
    }

    /// Replaces the record. Not synced: what it guards against is the agent dying, after
    /// which the page cache still holds it; after a power loss no process it names survives.
    pub fn put(&mut self, spawn: Spawn) {
        if self.file.is_none() {
            self.file = open(&self.path).map_err(|e| self.complain(e)).ok();
        }
        if let Some(file) = &self.file
            && let Err(e) = file.write_all_at(&spawn.encode(), 0)
        {
            self.complain(e);
        }
    }

    /// The bot is removed: nothing of it is left to find.
    pub fn remove(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }

    fn complain(&mut self, e: std::io::Error) {
        if !std::mem::replace(&mut self.complained, true) {
            crate::log_line(format_args!(
                "botctl agent: cannot write {}: {e}; a crash of the agent right after this bot's next start may leave its process unrecognised",
                self.path.display()
            ));
        }
    }
}

fn dir(paths: &Paths) -> PathBuf {
    paths.state_dir.join("spawned")
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The records of every bot, by name. Only regular files of the expected length are read,
/// without following links and without blocking on a FIFO.
pub fn read_all(paths: &Paths) -> BTreeMap<String, Spawn> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir(paths)) else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !botctl_proto::config::valid_bot_name(&name) {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(entry.path())
        else {
            continue;
        };
        let mut buf = [0u8; LEN];
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if regular
            && file.read_exact_at(&mut buf, 0).is_ok()
            && let Some(spawn) = Spawn::decode(&buf)
        {
            out.insert(name, spawn);
        }
    }
    out
}

/// The boot clock in clock ticks: what a process started now would show as its start time.
pub fn boot_ticks() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass; sysconf has no preconditions.
    let hz = unsafe {
        libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts);
        libc::sysconf(libc::_SC_CLK_TCK)
    }
    .max(1) as u64;
    // Rounded down, as the kernel rounds a start time: a process started after this call
    // never shows an earlier tick.
    ts.tv_sec as u64 * hz + ts.tv_nsec as u64 * hz / 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_no_record() {
        for spawn in [
            Spawn::InFlight { since_ticks: 12345 },
            Spawn::Done {
                pid: 4_194_304,
                start_ticks: u64::MAX >> 2,
                pidfs_id: 77,
                started_at_ms: 1_764_000_000_000,
            },
            Spawn::Failed,
        ] {
            assert_eq!(Spawn::decode(&spawn.encode()), Some(spawn));
        }
        assert_eq!(Spawn::decode(b"botctl-spawn-1 done 1 2"), None);
        assert_eq!(Spawn::decode(b"something else entirely"), None);
        assert_eq!(Spawn::decode(&[0xff; LEN]), None);
    }

    #[test]
    fn a_record_is_replaced_in_place_and_removed_with_its_bot() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let mut log = SpawnLog::new(&paths, "a");
        log.put(Spawn::InFlight { since_ticks: 1 });
        let done = Spawn::Done {
            pid: 9,
            start_ticks: 2,
            pidfs_id: 0,
            started_at_ms: 3,
        };
        log.put(done);
        SpawnLog::new(&paths, "b").put(Spawn::Failed);
        std::fs::write(paths.state_dir.join("spawned/Not a bot"), "x").unwrap();
        let all = read_all(&paths);
        assert_eq!(all.get("a"), Some(&done));
        assert_eq!(all.get("b"), Some(&Spawn::Failed));
        assert_eq!(all.len(), 2);
        let len = std::fs::metadata(paths.state_dir.join("spawned/a")).unwrap();
        assert_eq!(len.len(), LEN as u64, "overwritten, never appended");
        log.remove();
        assert!(!read_all(&paths).contains_key("a"));
    }

    #[test]
    fn the_boot_clock_agrees_with_a_new_process_start_time() {
        let before = boot_ticks();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let started = crate::process::start_ticks(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let started = started.unwrap();
        assert!(started >= before, "{started} < {before}");
        assert!(started <= boot_ticks());
    }
}
