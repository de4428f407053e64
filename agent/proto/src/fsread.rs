//! The one way botctl reads a file a user can point anywhere (bot files, botctl.toml, templates,
//! cookie, header, token and secret files): opened without blocking, a regular file, size-capped.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most read of `botctl.toml`, a `bots.d` file or a `template.toml`.
pub const CONFIG_FILE_CAP: u64 = 1024 * 1024;
/// The most read of a cookie file (the auth monitor's and `auth set-cookies`' source).
pub const COOKIE_FILE_CAP: u64 = 8 * 1024 * 1024;
/// The most read of a `probe_headers_file`.
pub const PROBE_HEADERS_CAP: u64 = 64 * 1024;
/// The most read of a `token_file` or `secret_file`.
pub const SECRET_FILE_CAP: u64 = 64 * 1024;

/// Why a file was not read. `Display` says it after the file's name ("x.toml: is a FIFO, ...")
/// and never quotes the content.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed (missing, no permission, I/O error).
    Io(io::Error),
    /// It exists but is not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Larger than the cap: its size when the file system said it, else `None`.
    TooLarge { size: Option<u64>, cap: u64 },
    /// Not UTF-8 (for the text readers).
    NotUtf8,
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(kind) => write!(f, "is {kind}, not a regular file"),
            ReadError::TooLarge {
                size: Some(size),
                cap,
            } => write!(
                f,
                "is {}; at most {} is read",
                size_text(*size),
                size_text(*cap)
            ),
            ReadError::TooLarge { size: None, cap } => {
                write!(
                    f,
                    "is larger than {0}; at most {0} is read",
                    size_text(*cap)
                )
            }
            ReadError::NotUtf8 => f.write_str("is not valid UTF-8 text"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Opens `path` (following links) for reading if, once open, it is a regular file; returns it
/// with its size. O_NONBLOCK makes the open of a FIFO return at once (std adds O_CLOEXEC), and
/// the check is on the opened descriptor, so a swap after a check cannot slip a FIFO in.
pub fn open_regular(path: &Path) -> Result<(File, u64), ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            // A socket cannot be opened at all (ENXIO): say what it is rather than
            // "No such device or address".
            match std::fs::metadata(path) {
                Ok(meta) if !meta.is_file() => ReadError::NotRegular(kind_of(&meta.file_type())),
                _ => ReadError::Io(e),
            }
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta.file_type())));
    }
    Ok((file, meta.len()))
}

/// The bytes of the regular file at `path`, at most `cap` of them: anything larger, or
/// anything else (a FIFO, a device, a directory, a socket), is an error.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let (file, size) = open_regular(path)?;
    if size > cap {
        return Err(ReadError::TooLarge {
            size: Some(size),
            cap,
        });
    }
    // The size said is not trusted: a file may grow while it is read, and some (in /proc)
    // say 0. One byte past the cap tells "too large" from "exactly the cap".
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { size: None, cap });
    }
    Ok(bytes)
}

/// `read_regular` for text files.
pub fn read_regular_string(path: &Path, cap: u64) -> Result<String, ReadError> {
    // The UTF-8 error is dropped: its Debug form would carry the file's bytes (a secret).
    String::from_utf8(read_regular(path, cap)?).map_err(|_| ReadError::NotUtf8)
}

fn kind_of(t: &std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// Exact below 1 KiB, else one decimal in the largest binary unit that fits ("2.1 GiB").
fn size_text(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("botctl-fsread-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub(crate) fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn reads_a_regular_file_up_to_the_cap() {
        let s = Scratch::new("regular");
        let f = s.0.join("a.toml");
        std::fs::write(&f, "x = 1\n").unwrap();
        assert_eq!(read_regular_string(&f, 6).unwrap(), "x = 1\n");
        let e = read_regular(&f, 5).unwrap_err();
        assert_eq!(e.to_string(), "is 6 bytes; at most 5 bytes is read");
        std::os::unix::fs::symlink(&f, s.0.join("link.toml")).unwrap();
        assert_eq!(read_regular(&s.0.join("link.toml"), 6).unwrap(), b"x = 1\n");
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_without_blocking() {
        let s = Scratch::new("odd");
        let fifo = s.0.join("fifo.toml");
        mkfifo(&fifo);
        // No writer: a blocking open would hang here for ever.
        let e = read_regular(&fifo, CONFIG_FILE_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a FIFO, not a regular file");

        std::os::unix::fs::symlink("/dev/zero", s.0.join("zero.toml")).unwrap();
        let e = read_regular(&s.0.join("zero.toml"), CONFIG_FILE_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a character device, not a regular file");

        let e = read_regular(&s.0, CONFIG_FILE_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a directory, not a regular file");

        let sock = s.0.join("sock.toml");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = read_regular(&sock, CONFIG_FILE_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a socket, not a regular file");

        std::os::unix::fs::symlink(s.0.join("gone"), s.0.join("dangling.toml")).unwrap();
        let e = read_regular(&s.0.join("dangling.toml"), CONFIG_FILE_CAP).unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    #[test]
    fn a_file_that_grows_past_its_stated_size_is_still_capped() {
        // /proc files say 0 bytes and are regular: the read itself stops at the cap.
        let e = read_regular(Path::new("/proc/self/maps"), 8).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is larger than 8 bytes; at most 8 bytes is read"
        );
    }

    #[test]
    fn invalid_utf8_is_named_not_quoted() {
        let s = Scratch::new("utf8");
        let f = s.0.join("bin");
        std::fs::write(&f, [0xff, 0xfe, b's']).unwrap();
        let e = read_regular_string(&f, 10).unwrap_err();
        assert_eq!(e.to_string(), "is not valid UTF-8 text");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size_text(1023), "1023 bytes");
        assert_eq!(size_text(1024 * 1024), "1 MiB");
        assert_eq!(size_text(2_254_857_830), "2.1 GiB");
        assert_eq!(size_text(1536), "1.5 KiB");
    }
}
