//! Reading the end of a log file without reading all of it: `logs`, error messages, `top`
//! and the API's log tail.

use std::io;
use std::path::Path;

use crate::fsread;

/// The last `n` lines of a file, reading only its tail.
pub fn last_lines(path: &Path, n: usize) -> io::Result<String> {
    let (mut file, len) = open(path)?;
    lines_before(&mut file, len, n)
}

/// Opens a log to read: only a regular file (a log replaced by a FIFO or a link to /dev/zero
/// would hang or never end), with the size it had when opened.
pub fn open(path: &Path) -> io::Result<(std::fs::File, u64)> {
    fsread::open_regular(path).map_err(|e| match e {
        fsread::ReadError::Io(e) => e,
        e => io::Error::other(e),
    })
}

/// The last `n` lines of the first `len` bytes of `file`.
pub fn lines_before(file: &mut std::fs::File, len: u64, n: usize) -> io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    if n == 0 {
        return Ok(String::new());
    }
    let mut chunk = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(chunk);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        (&mut *file).take(len - start).read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() > n || start == 0 {
            let from = lines.len().saturating_sub(n);
            let mut out = lines[from..].join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            return Ok(out);
        }
        chunk *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("botctl-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.out");
        let text: String = (1..=100_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();
        assert_eq!(last_lines(&log, 2).unwrap(), "line 99999\nline 100000\n");
        std::fs::write(&log, "one\ntwo").unwrap();
        assert_eq!(last_lines(&log, 5).unwrap(), "one\ntwo\n");
        std::fs::write(&log, "").unwrap();
        assert_eq!(last_lines(&log, 5).unwrap(), "");
        std::fs::write(&log, "one\ntwo\n").unwrap();
        assert_eq!(last_lines(&log, 0).unwrap(), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
