//! Small helpers every layer may use: the agent's log line, background-thread priority and
//! atomic file replacement. Nothing here knows about bots, events or the fleet.

/// Writes a line to the agent's log (its stderr). Not `eprintln!`, which panics when the write
/// fails: the log lives in the home, whose disk may be the one that is full.
pub(crate) fn log_line(line: std::fmt::Arguments<'_>) {
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("{line}\n"));
}

/// Lowers the calling thread's scheduling priority (nice 10): for background work (health
/// sampling, the store's writes), so that on a busy machine it never delays a request, a
/// restart or an agent's start, which run at the normal priority.
pub(crate) fn background_thread() {
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// Temp file in the same directory, fsync, rename: readers see the old file or the new one.
/// Mode 0600: bot files can hold secrets in `env`.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    replace_file(path, text, true)
}

/// `write_atomically` without the fsync, for a file that need not outlive a power cut: the
/// agent's pid file (after a reboot nothing it names runs). The fsync cost an agent's start
/// up to 9 ms of waiting for the disk here.
pub fn write_atomically_volatile(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    replace_file(path, text, false)
}

fn replace_file(path: &std::path::Path, text: &str, durable: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Runs blocking work (reading files, walking directories) on the blocking pool: a slow disk
/// or a huge tree must not hold a runtime worker the other RPCs need. A panic stays a panic.
pub(crate) async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// A map for the health tick's lookups, a few per bot per tick: foldhash (already built as
/// hashbrown's hasher) is several times faster than std's SipHash on short keys such as pids
/// and bot names, and still seeded per process.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// `map`'s value for `key`, made (the default) when missing: the key is copied only then,
/// where `entry(key.to_string())` allocates on every call, a few times per bot per health
/// tick.
pub fn slot<'a, V: Default, S: std::hash::BuildHasher>(
    map: &'a mut std::collections::HashMap<String, V, S>,
    key: &str,
) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("present or just inserted")
}
