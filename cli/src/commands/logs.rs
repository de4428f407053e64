//! `botctl logs BOT...|--all|--user U`: the end of bots' logs, read straight from the files
//! (no agent needed), each line named by its bot, and `-f` to follow them all across rotations.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use botctl_proto::{Paths, config};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::CliError;
use crate::client::Target;
use crate::render;
use crate::tail;

/// Which bots' logs.
pub enum Which {
    Bots(Vec<String>),
    All,
    Owner(String),
}

/// Which of a bot's two files.
#[derive(Clone, Copy)]
pub struct Streams {
    pub stdout: bool,
    pub stderr: bool,
}

/// Prefix colours, one per bot in turn (as `docker compose logs` does).
const PALETTE: [&str; 6] = [
    "\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[31m",
];

pub fn run(
    target: &Target,
    which: Which,
    lines: usize,
    follow: bool,
    streams: Streams,
) -> Result<(), CliError> {
    let paths = &target.paths;
    let single = matches!(&which, Which::Bots(names) if names.len() == 1);
    let names = bots(paths, which)?;
    let prefixes = prefixes(&names, !single, render::color_enabled());
    raise_open_files_limit();
    let mut logs: Vec<Log> = Vec::new();
    for (name, prefix) in names.iter().zip(&prefixes) {
        if streams.stdout {
            logs.push(Log::new(paths.stdout_log(name), prefix.clone()));
        }
        if streams.stderr {
            logs.push(Log::new(paths.stderr_log(name), prefix.clone()));
        }
    }
    if !follow && logs.iter().all(|l| !l.path.exists()) {
        return Err(CliError::failed(match names.as_slice() {
            [one] => format!(
                "{one} has no output yet (no file under {})",
                paths.logs_dir.display()
            ),
            _ => format!("no output yet (no file under {})", paths.logs_dir.display()),
        }));
    }
    // Batched: a flood of lines costs a write per batch, not per line (stdout alone flushes
    // at every newline); flushed after each batch so a follower sees lines at once.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for log in &mut logs {
        log.tail(lines, &mut out)
            .map_err(|e| CliError::failed(format!("reading {}: {e}", log.path.display())))?;
    }
    if out.flush().is_err() || !follow {
        return Ok(());
    }
    follow_all(&paths.logs_dir, &mut logs, &mut out)
}

/// Each log stays open while it is followed (two per bot): a big fleet needs more than a
/// soft limit of 1024 descriptors, so take what the hard limit allows.
fn raise_open_files_limit() {
    // SAFETY: getrlimit and setrlimit read and write the struct we pass, nothing else.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The names asked for, checked: a bot is known by its file in bots.d or by a log of its own.
fn bots(paths: &Paths, which: Which) -> Result<Vec<String>, CliError> {
    let names = match which {
        Which::Bots(names) => {
            for name in &names {
                if !config::valid_bot_name(name) {
                    return Err(CliError::failed(format!("{name:?} is not a bot name")));
                }
                let known = paths.bot_file(name).exists()
                    || paths.stdout_log(name).exists()
                    || paths.stderr_log(name).exists();
                if !known {
                    return Err(CliError::failed(format!(
                        "no bot named {name}: `botctl bots list` shows the fleet"
                    )));
                }
            }
            names
        }
        // By file name, so a bot whose file is broken still shows what it printed.
        Which::All => {
            let mut names: Vec<String> = std::fs::read_dir(&paths.bots_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let stem = name.strip_suffix(".toml")?;
                    config::valid_bot_name(stem).then(|| stem.to_string())
                })
                .collect();
            names.sort();
            names
        }
        Which::Owner(owner) => {
            let mut names: Vec<String> = config::load_fleet(&paths.bots_dir)
                .bots
                .into_iter()
                .filter(|b| b.user == owner)
                .map(|b| b.name)
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(CliError::failed(format!("no bots owned by {owner}")));
            }
            names
        }
    };
    if names.is_empty() {
        return Err(CliError::failed(
            "no bots: add one with `botctl bots add NAME --user OWNER -- COMMAND...`",
        ));
    }
    Ok(names)
}

/// `name | ` padded to the longest name, coloured per bot; nothing when `show` is false (one
/// bot asked for by name: its lines stay exactly as it wrote them).
fn prefixes(names: &[String], show: bool, color: bool) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = names.iter().map(|n| n.width()).max().unwrap_or(0);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if !show {
                return String::new();
            }
            let pad = " ".repeat(width - name.width());
            if color {
                format!("{}{name}{pad} |\x1b[0m ", PALETTE[i % PALETTE.len()])
            } else {
                format!("{name}{pad} | ")
            }
        })
        .collect()
}

/// How many of the last bytes read are kept to recognise the file on the next read.
const SEEN_TAIL: usize = 64;

/// One followed file: where it was read up to, in which file (by inode: a log renamed away
/// and created again is a new file), the bytes just before that point, and a line not yet
/// ended.
struct Log {
    path: PathBuf,
    prefix: String,
    file: Option<File>,
    inode: u64,
    offset: u64,
    seen: Vec<u8>,
    partial: Vec<u8>,
}

impl Log {
    fn new(path: PathBuf, prefix: String) -> Log {
        Log {
            path,
            prefix,
            file: None,
            inode: 0,
            offset: 0,
            seen: Vec::new(),
            partial: Vec::new(),
        }
    }

    /// Prints the last `n` lines and remembers where they ended.
    fn tail(&mut self, n: usize, out: &mut impl Write) -> std::io::Result<()> {
        let (mut file, len) = match tail::open(&self.path) {
            Ok(opened) => opened,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let text = tail::lines_before(&mut file, len, n)?;
        self.inode = file.metadata()?.ino();
        self.offset = len;
        self.seen = before(&file, len)?;
        self.file = Some(file);
        self.emit(text.as_bytes(), out)
    }

    /// Prints what was written since the last call: the rest of the file it had open (also
    /// when the file was renamed away meanwhile), then a new file at its path from the start;
    /// a file truncated in place (the agent's rotation) is read again from the start.
    fn pump(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.drain(out)?;
        let current = std::fs::metadata(&self.path).ok().map(|m| m.ino());
        let known = self.file.as_ref().map(|_| self.inode);
        if current.is_some()
            && current != known
            && let Ok((file, _)) = tail::open(&self.path)
        {
            self.end_line(out)?;
            self.inode = file.metadata()?.ino();
            self.file = Some(file);
            self.offset = 0;
            self.drain(out)?;
        }
        Ok(())
    }

    fn drain(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let len = file.metadata()?.len();
        // Truncated: whatever is there now was written after the truncation. A file that
        // was truncated and has grown past our place again since we last looked is told by
        // its bytes before our place, which are no longer the ones we read there.
        if len < self.offset || before(file, self.offset)? != self.seen {
            self.offset = 0;
            self.end_line(out)?;
        }
        if len == self.offset {
            return Ok(());
        }
        let Some(mut file) = self.file.as_ref() else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.take(len - self.offset).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.seen = before(file, self.offset)?;
        self.emit(&buf, out)
    }

    /// Ends a line the file left unfinished when it was rotated: what follows is another
    /// file's first line, not the rest of this one.
    fn end_line(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.partial.is_empty() {
            return Ok(());
        }
        self.emit(b"\n", out)
    }

    /// Writes every finished line with the prefix; keeps an unfinished one for later.
    fn emit(&mut self, bytes: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let done: Vec<u8> = self.partial.drain(..=end).collect();
        if self.prefix.is_empty() {
            return out.write_all(&done);
        }
        for line in done.split_inclusive(|&b| b == b'\n') {
            out.write_all(self.prefix.as_bytes())?;
            out.write_all(line)?;
        }
        Ok(())
    }
}

/// The (up to) [`SEEN_TAIL`] bytes of `file` before `offset`.
fn before(file: &File, offset: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let start = offset.saturating_sub(SEEN_TAIL as u64);
    let mut buf = vec![0; (offset - start) as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], start + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Follows every log until the output goes away: the kernel says (inotify on the logs
/// directory) which file was written, created, moved or truncated, so nothing polls.
fn follow_all(
    dir: &std::path::Path,
    logs: &mut [Log],
    out: &mut impl Write,
) -> Result<(), CliError> {
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC)
        .map_err(|e| CliError::failed(format!("cannot watch the logs: {e}")))?;
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Err(CliError::failed(format!("{}: {e}", dir.display())));
    }
    inotify
        .add_watch(
            dir,
            AddWatchFlags::IN_MODIFY
                | AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM,
        )
        .map_err(|e| CliError::failed(format!("cannot watch {}: {e}", dir.display())))?;
    let mut by_name: HashMap<OsString, Vec<usize>> = HashMap::new();
    for (i, log) in logs.iter().enumerate() {
        if let Some(name) = log.path.file_name() {
            by_name.entry(name.to_owned()).or_default().push(i);
        }
    }
    // Written between the tail and the watch: read it now that no write can be missed.
    for log in logs.iter_mut() {
        let _ = log.pump(out);
    }
    if out.flush().is_err() {
        return Ok(());
    }
    loop {
        let events = inotify
            .read_events()
            .map_err(|e| CliError::failed(format!("watching {}: {e}", dir.display())))?;
        let mut touched: Vec<usize> = Vec::new();
        for event in events {
            if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                touched.extend(0..logs.len());
            } else if let Some(ids) = event.name.as_ref().and_then(|n| by_name.get(n)) {
                touched.extend(ids);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            // A file that cannot be read now is read at its next change.
            let _ = logs[i].pump(out);
        }
        if out.flush().is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_pad_to_the_longest_name() {
        let names: Vec<String> = ["a", "bb", "ccc"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            prefixes(&names, true, false),
            ["a   | ", "bb  | ", "ccc | "]
        );
        assert_eq!(prefixes(&names[..1], false, false), [""]);
        let colored = prefixes(&names, true, true);
        assert!(colored[0].starts_with("\x1b[36ma   |"), "{colored:?}");
        assert_ne!(colored[0][..5], colored[1][..5], "{colored:?}");
    }

    #[test]
    fn lines_are_prefixed_once_whole() {
        let mut log = Log::new(PathBuf::from("x.out"), "x | ".into());
        let mut out = Vec::new();
        log.emit(b"one\ntw", &mut out).unwrap();
        log.emit(b"o\n", &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "x | one\nx | two\n");
    }

    #[test]
    fn following_survives_truncation_and_rename() {
        let dir = tempfile_dir();
        let path = dir.join("b.out");
        std::fs::write(&path, "old1\nold2\n").unwrap();
        let mut log = Log::new(path.clone(), String::new());
        let mut out = Vec::new();
        log.tail(1, &mut out).unwrap();
        assert_eq!(out, b"old2\n");
        out.clear();
        // The agent's rotation: truncated in place, then written again.
        truncate(&path);
        std::fs::write(&path, "new1\n").unwrap();
        log.pump(&mut out).unwrap();
        assert_eq!(out, b"new1\n");
        out.clear();
        // A line cut short by the rotation stays a line of its own.
        std::fs::write(&path, "new1\nhalf").unwrap();
        log.pump(&mut out).unwrap();
        assert_eq!(out, b"");
        truncate(&path);
        std::fs::write(&path, "x\n").unwrap();
        log.pump(&mut out).unwrap();
        assert_eq!(out, b"half\nx\n");
        out.clear();
        // Truncated and written past our place again before we looked.
        truncate(&path);
        std::fs::write(&path, "a much longer line than before\n").unwrap();
        log.pump(&mut out).unwrap();
        assert_eq!(out, b"a much longer line than before\n");
        out.clear();
        // Renamed away after one more line, and a new file created in its place.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"last of old\n").unwrap();
        std::fs::rename(&path, dir.join("b.out.1")).unwrap();
        std::fs::write(&path, "fresh\n").unwrap();
        log.pump(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "last of old\nfresh\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What the agent's rotation does to a live log.
    fn truncate(path: &std::path::Path) {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_len(0).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("botctl-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
