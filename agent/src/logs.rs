//! Bot log files: `logs/NAME.out` and `logs/NAME.err`, written by the bots themselves (opened
//! for append, so they outlive the agent) and rotated by size without the bot's cooperation.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every log file, live or rotated: what a bot prints is for its owner's group,
/// never for every local user.
pub const MODE: u32 = 0o640;

/// Opens a log for a bot's stdout or stderr. O_APPEND matters: after a rotation truncates the
/// file, the bot's next write lands at the new end instead of leaving a hole.
pub fn open_for_bot(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(MODE)
        .open(path)
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// What a size check did to a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Under the limit.
    None,
    /// Shifted into NAME.out.1 and truncated.
    Rotated,
    /// Truncated without keeping a copy (the log grew again too soon: a flood); the bytes
    /// dropped.
    Dropped(u64),
}

/// Rotates `path` when it is larger than `max_bytes`: NAME.out.(k-1) -> NAME.out.k, the last
/// `max_bytes` of the live file are copied to NAME.out.1 and it is truncated in place (the bot
/// keeps its open descriptor). With `keep` = 0, or when `copy` is false (a flood: the caller
/// rotated this file moments ago), it is only truncated: the disk stays bounded and the cost
/// stays one ftruncate however fast the bot writes.
pub fn rotate_if_needed(
    path: &Path,
    max_bytes: u64,
    keep: u32,
    copy: bool,
) -> io::Result<Rotation> {
    use std::io::{Seek, SeekFrom};
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Rotation::None),
        Err(e) => return Err(e),
    };
    let size = meta.len();
    // A copy is as private as the live log (0640, or less under a stricter umask).
    let private = || std::fs::Permissions::from_mode(meta.permissions().mode() & MODE);
    if size <= max_bytes {
        return Ok(Rotation::None);
    }
    if keep == 0 || !copy {
        OpenOptions::new().write(true).open(path)?.set_len(0)?;
        return Ok(if keep == 0 {
            Rotation::Rotated
        } else {
            Rotation::Dropped(size)
        });
    }
    let _ = std::fs::remove_file(rotated(path, keep));
    for n in (1..keep).rev() {
        let from = rotated(path, n);
        if from.exists() {
            let to = rotated(path, n + 1);
            std::fs::rename(&from, &to)?;
            // Copies rotated by an older botctl were world-readable.
            std::fs::set_permissions(&to, private())?;
        }
    }
    // Only the newest max_bytes: a rotated file is never larger than a live one may be.
    let mut src = File::open(path)?;
    src.seek(SeekFrom::Start(size.saturating_sub(max_bytes)))?;
    let mut dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(MODE)
        .open(rotated(path, 1))?;
    // A copy made by an older botctl (0644) may still be there to be reused.
    dst.set_permissions(private())?;
    io::copy(&mut io::Read::take(&mut src, max_bytes), &mut dst)?;
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(Rotation::Rotated)
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
            assert_eq!(
                rotate_if_needed(&log, 50, 2, true).unwrap(),
                Rotation::Rotated
            );
        }
        assert_eq!(rotate_if_needed(&log, 50, 2, true).unwrap(), Rotation::None);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        assert_eq!(
            std::fs::read(rotated(&log, 1)).unwrap(),
            vec![b'd'; 50],
            "the newest 50 bytes"
        );
        assert_eq!(std::fs::read(rotated(&log, 2)).unwrap(), vec![b'c'; 50]);
        assert!(!rotated(&log, 3).exists());
        for file in [log.clone(), rotated(&log, 1), rotated(&log, 2)] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, MODE, "{}", file.display());
        }
        writer.write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"after\n");
        // A flood: truncated without a copy, and the older copies stay as they are.
        writer.write_all(&[b'z'; 80]).unwrap();
        assert_eq!(
            rotate_if_needed(&log, 50, 2, false).unwrap(),
            Rotation::Dropped(86)
        );
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        assert_eq!(std::fs::read(rotated(&log, 1)).unwrap(), vec![b'd'; 50]);
    }
}
