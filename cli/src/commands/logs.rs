//! `botctl logs BOT`: the end of a bot's log, read straight from the file (no agent needed),
//! and `-f` to follow it across rotations.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use botctl_proto::config;

use crate::CliError;
use crate::client::Target;
use crate::tail;

const FOLLOW_POLL: Duration = Duration::from_millis(200);

pub async fn run(
    target: &Target,
    bot: &str,
    lines: usize,
    follow: bool,
    stderr: bool,
) -> Result<(), CliError> {
    let paths = &target.paths;
    if !config::valid_bot_name(bot) {
        return Err(CliError::failed(format!("{bot:?} is not a bot name")));
    }
    let path = if stderr {
        paths.stderr_log(bot)
    } else {
        paths.stdout_log(bot)
    };
    if !path.exists() {
        if !paths.bot_file(bot).exists() {
            return Err(CliError::failed(format!(
                "no bot named {bot}: `botctl bots list` shows the fleet"
            )));
        }
        if !follow {
            return Err(CliError::failed(format!(
                "{bot} has no output yet ({} does not exist)",
                path.display()
            )));
        }
    }
    let mut offset = 0;
    if path.exists() {
        let text = tail::last_lines(&path, lines)
            .map_err(|e| CliError::failed(format!("reading {}: {e}", path.display())))?;
        offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        print!("{text}");
    }
    if !follow {
        return Ok(());
    }
    let mut out = std::io::stdout();
    let _ = out.flush();
    loop {
        tokio::time::sleep(FOLLOW_POLL).await;
        let Ok(len) = std::fs::metadata(&path).map(|m| m.len()) else {
            continue;
        };
        if len < offset {
            // Rotated (copied away and truncated): the new content starts at 0.
            offset = 0;
        }
        if len == offset {
            continue;
        }
        let Ok(mut f) = std::fs::File::open(&path) else {
            continue;
        };
        if f.seek(SeekFrom::Start(offset)).is_err() {
            continue;
        }
        let mut buf = Vec::new();
        if f.take(len - offset).read_to_end(&mut buf).is_ok() {
            offset += buf.len() as u64;
            if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                return Ok(());
            }
        }
    }
}
