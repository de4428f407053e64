//! Bot log files: `logs/NAME.out` and `logs/NAME.err`, written by the bots themselves (opened
//! for append, so they outlive the agent) and rotated by size without the bot's cooperation.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Opens a log for a bot's stdout or stderr. O_APPEND matters: after a rotation truncates the
/// file, the bot's next write lands at the new end instead of leaving a hole.
pub fn open_for_bot(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Rotates `path` when it is larger than `max_bytes`: NAME.out.(k-1) -> NAME.out.k, the live
/// file is copied to NAME.out.1 and truncated in place (the bot keeps its open descriptor).
/// `keep` = 0 just truncates. Returns whether it rotated.
pub fn rotate_if_needed(path: &Path, max_bytes: u64, keep: u32) -> io::Result<bool> {
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if size <= max_bytes {
        return Ok(false);
    }
    if keep > 0 {
        let _ = std::fs::remove_file(rotated(path, keep));
        for n in (1..keep).rev() {
            let from = rotated(path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(path, n + 1))?;
            }
        }
        std::fs::copy(path, rotated(path, 1))?;
    }
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn rotation_keeps_n_files_and_the_writer_appends_after_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/bot.out");
        let mut writer = open_for_bot(&log).unwrap();
        for round in 0..4 {
            writer.write_all(&[b'a' + round; 100]).unwrap();
            assert!(rotate_if_needed(&log, 50, 2).unwrap());
        }
        assert!(!rotate_if_needed(&log, 50, 2).unwrap());
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        assert_eq!(std::fs::read(rotated(&log, 1)).unwrap(), vec![b'd'; 100]);
        assert_eq!(std::fs::read(rotated(&log, 2)).unwrap(), vec![b'c'; 100]);
        assert!(!rotated(&log, 3).exists());
        writer.write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"after\n");
    }
}
