//! The write-ahead record of each bot's latest spawn (`state/spawned`, a slot per bot):
//! overwritten in place just before and just after every spawn, so the next agent knows a
//! bot's process even when this one died before the database had its registry row.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::Mutex;

use botctl_proto::Paths;

/// Every record has this length, so each write replaces one slot whole: one pwrite of a few
/// dozen bytes, which a killed process cannot leave half done. One file for the fleet: a file
/// per bot cost a file creation at each bot's first start, up to a millisecond each on a busy
/// disk, which a fleet of 200 felt in its start.
const LEN: usize = 192;
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
        /// The group a stop signals: `pid`'s own, unless sd_notify `MAINPID=` moved `pid`.
        pgid: u32,
    },
    /// The last spawn made no process.
    Failed,
}

impl Spawn {
    /// The slot's bytes for bot `name` (a valid bot name: no spaces, at most 64 bytes).
    fn encode(self, name: &str) -> [u8; LEN] {
        let text = match self {
            Spawn::InFlight { since_ticks } => format!("{MAGIC} {name} in-flight {since_ticks}"),
            Spawn::Done {
                pid,
                start_ticks,
                pidfs_id,
                started_at_ms,
                pgid,
            } => {
                format!("{MAGIC} {name} done {pid} {start_ticks} {pidfs_id} {started_at_ms} {pgid}")
            }
            Spawn::Failed => format!("{MAGIC} {name} failed"),
        };
        let mut out = [b' '; LEN];
        let n = text.len().min(LEN - 1);
        out[..n].copy_from_slice(&text.as_bytes()[..n]);
        out[LEN - 1] = b'\n';
        out
    }

    fn decode(bytes: &[u8]) -> Option<(String, Spawn)> {
        let text = std::str::from_utf8(bytes).ok()?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let num = |i: usize| words.get(i)?.parse::<u64>().ok();
        let [MAGIC, name, kind] = words.get(..3)? else {
            return None;
        };
        if !botctl_proto::config::valid_bot_name(name) {
            return None;
        }
        let spawn = match *kind {
            "in-flight" => Spawn::InFlight {
                since_ticks: num(3)?,
            },
            "done" => {
                let pid = u32::try_from(num(3)?).ok()?;
                Spawn::Done {
                    pid,
                    start_ticks: num(4)?,
                    pidfs_id: num(5)?,
                    started_at_ms: i64::try_from(num(6)?).ok()?,
                    // Records written before MAINPID= was followed end at the start time.
                    pgid: num(7).and_then(|g| u32::try_from(g).ok()).unwrap_or(pid),
                }
            }
            "failed" => Spawn::Failed,
            _ => return None,
        };
        Some((name.to_string(), spawn))
    }
}

/// The fleet's spawn records: the file, opened at the first use, and which slot is whose.
pub struct SpawnRecords {
    path: std::path::PathBuf,
    slots: Mutex<Option<Slots>>,
}

struct Slots {
    /// `None` when the file cannot be opened: said once, and nothing is recorded.
    file: Option<File>,
    by_name: BTreeMap<String, u64>,
    /// Slots of removed bots, and the first slot past the end.
    free: std::collections::BTreeSet<u64>,
    end: u64,
    /// What the file held when it was opened.
    read: BTreeMap<String, Spawn>,
}

impl SpawnRecords {
    pub fn new(paths: &Paths) -> SpawnRecords {
        SpawnRecords {
            path: paths.state_dir.join("spawned"),
            slots: Mutex::new(None),
        }
    }

    /// Every bot's record as the file held it when this agent first used it.
    pub fn read_all(&self) -> BTreeMap<String, Spawn> {
        self.with(|slots| slots.read.clone())
    }

    /// Replaces bot `name`'s record. Not synced: what it guards against is the agent dying,
    /// after which the page cache still holds it; after a power loss no process it names
    /// survives.
    pub fn put(&self, name: &str, spawn: Spawn) {
        self.with(|slots| {
            let slot = match slots.by_name.get(name) {
                Some(slot) => *slot,
                None => {
                    let slot = slots.free.pop_first().unwrap_or_else(|| {
                        slots.end += 1;
                        slots.end - 1
                    });
                    slots.by_name.insert(name.to_string(), slot);
                    slot
                }
            };
            if let Some(file) = &slots.file
                && let Err(e) = file.write_all_at(&spawn.encode(name), slot * LEN as u64)
            {
                crate::util::log_line(format_args!(
                    "botctl agent: cannot write {}: {e}",
                    self.path.display()
                ));
            }
        });
    }

    /// The bot is removed: its slot is blanked for another.
    pub fn remove(&self, name: &str) {
        self.with(|slots| {
            if let Some(slot) = slots.by_name.remove(name) {
                slots.free.insert(slot);
                if let Some(file) = &slots.file {
                    let _ = file.write_all_at(&[b' '; LEN], slot * LEN as u64);
                }
            }
        });
    }

    fn with<T>(&self, f: impl FnOnce(&mut Slots) -> T) -> T {
        let mut slots = self.slots.lock().unwrap();
        f(slots.get_or_insert_with(|| self.open()))
    }

    /// Opens (creating) the file and reads which slot is whose. Only a regular file is used,
    /// without following a link; the read is capped at the slots of 10 000 bots.
    fn open(&self) -> Slots {
        let opened = self
            .path
            .parent()
            .map_or(Ok(()), |dir| {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
            })
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(&self.path)
            })
            .and_then(|file| match file.metadata()?.is_file() {
                true => Ok(file),
                false => Err(std::io::Error::other("not a regular file")),
            });
        let mut slots = Slots {
            file: None,
            by_name: BTreeMap::new(),
            free: Default::default(),
            end: 0,
            read: BTreeMap::new(),
        };
        let file = match opened {
            Ok(file) => file,
            Err(e) => {
                crate::util::log_line(format_args!(
                    "botctl agent: cannot use {}: {e}; a crash of the agent right after a bot starts may leave its process unrecognised",
                    self.path.display()
                ));
                return slots;
            }
        };
        let size = file
            .metadata()
            .map_or(0, |m| m.len())
            .min(LEN as u64 * 10_000);
        let mut buf = vec![0u8; size as usize];
        let len = read_up_to(&file, &mut buf);
        for (i, record) in buf[..len].chunks_exact(LEN).enumerate() {
            let slot = i as u64;
            slots.end = slot + 1;
            match Spawn::decode(record) {
                Some((name, spawn)) if !slots.by_name.contains_key(&name) => {
                    slots.by_name.insert(name.clone(), slot);
                    slots.read.insert(name, spawn);
                }
                _ => {
                    slots.free.insert(slot);
                }
            }
        }
        slots.file = Some(file);
        slots
    }
}

fn read_up_to(file: &File, buf: &mut [u8]) -> usize {
    let mut len = 0;
    while len < buf.len() {
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    len
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
                pidfs_id: u64::MAX,
                started_at_ms: i64::MAX,
                pgid: 4_194_303,
            },
            Spawn::Failed,
        ] {
            let name = "b".repeat(64);
            assert_eq!(
                Spawn::decode(&spawn.encode(&name)),
                Some((name.clone(), spawn))
            );
        }
        assert_eq!(Spawn::decode(b"botctl-spawn-1 a done 1 2"), None);
        // A record of an older agent, before MAINPID= was followed: its own group.
        assert_eq!(
            Spawn::decode(b"botctl-spawn-1 a done 7 2 3 4"),
            Some((
                "a".to_string(),
                Spawn::Done {
                    pid: 7,
                    start_ticks: 2,
                    pidfs_id: 3,
                    started_at_ms: 4,
                    pgid: 7
                }
            ))
        );
        assert_eq!(Spawn::decode(b"botctl-spawn-1 Not/a/bot failed"), None);
        assert_eq!(Spawn::decode(b"something else entirely"), None);
        assert_eq!(Spawn::decode(&[b' '; LEN]), None);
        assert_eq!(Spawn::decode(&[0xff; LEN]), None);
    }

    #[test]
    fn each_bot_has_its_slot_replaced_in_place_and_freed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let done = |pid| Spawn::Done {
            pid,
            start_ticks: 2,
            pidfs_id: 0,
            started_at_ms: 3,
            pgid: pid,
        };
        {
            let records = SpawnRecords::new(&paths);
            assert!(records.read_all().is_empty());
            records.put("a", Spawn::InFlight { since_ticks: 1 });
            records.put("a", done(9));
            records.put("b", Spawn::Failed);
            records.put("c", done(10));
            records.remove("b");
        }
        let file = paths.state_dir.join("spawned");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 3 * LEN as u64);
        // The next agent reads them back, and reuses the freed slot for a new bot.
        let records = SpawnRecords::new(&paths);
        let all = records.read_all();
        assert_eq!(
            all,
            BTreeMap::from([("a".to_string(), done(9)), ("c".to_string(), done(10))])
        );
        records.put("d", Spawn::Failed);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 3 * LEN as u64);
        records.put("a", done(11));
        let again = SpawnRecords::new(&paths).read_all();
        assert_eq!(again.get("a"), Some(&done(11)));
        assert_eq!(again.get("d"), Some(&Spawn::Failed));
        assert_eq!(again.len(), 3);
    }

    #[test]
    fn the_boot_clock_agrees_with_a_new_process_start_time() {
        let before = boot_ticks();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        // Field 22 of /proc/PID/stat, after the command in parentheses.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let started: Option<u64> = after.split(' ').nth(19).and_then(|f| f.parse().ok());
        let _ = child.kill();
        let _ = child.wait();
        let started = started.unwrap();
        assert!(started >= before, "{started} < {before}");
        assert!(started <= boot_ticks());
    }
}
