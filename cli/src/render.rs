//! Output for people: tables, colours (only on a terminal and never with NO_COLOR), times and
//! durations, progress bars; and JSON for scripts.

use std::io::IsTerminal;
use std::time::Duration;

use botctl_proto::config::format_duration;
use botctl_proto::{BotInfo, BotState, ExitInfo};

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    // Fitting columns to the terminal is only worth its cost when there is a terminal.
    let arrangement = if std::io::stdout().is_terminal() {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    };
    t.load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(arrangement)
        .set_header(headers.iter().map(Cell::new));
    if !color_enabled() {
        t.force_no_tty();
    }
    t
}

pub fn state_cell(state: BotState) -> Cell {
    let cell = Cell::new(state.as_str());
    if !color_enabled() {
        return cell;
    }
    match state {
        BotState::Running => cell.fg(Color::Green),
        BotState::Failed | BotState::ConfigError => cell.fg(Color::Red),
        BotState::Backoff | BotState::Stopping | BotState::AuthInvalid => cell.fg(Color::Yellow),
        _ => cell.fg(Color::DarkGrey),
    }
}

pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn uptime(secs: Option<u64>) -> String {
    secs.map(|s| format_duration(Duration::from_secs(s)))
        .unwrap_or_else(|| "-".into())
}

pub fn last_exit(exit: &Option<ExitInfo>, now_ms: i64) -> String {
    match exit {
        Some(e) => format!("{}, {} ago", e.description, ago(now_ms - e.at_ms)),
        None => "-".into(),
    }
}

pub fn ago(ms: i64) -> String {
    format_duration(Duration::from_secs((ms.max(0) / 1000) as u64))
}

/// Local time of a Unix-ms timestamp, `2026-11-22 10:04:05`.
pub fn local_time(ms: i64) -> String {
    let secs = (ms / 1000) as libc::time_t;
    // SAFETY: localtime_r writes into the tm we pass and reads the time we pass.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return format!("@{}", ms / 1000);
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A summary line for a set of bots: "3 bots: 2 running, 1 failed, 0 over limit".
pub fn summary(bots: &[BotInfo]) -> String {
    if bots.is_empty() {
        return "0 bots: add one with `botctl bots add NAME --user OWNER -- COMMAND...`".into();
    }
    let count = |s: BotState| bots.iter().filter(|b| b.state == s).count();
    let noun = if bots.len() == 1 { "bot" } else { "bots" };
    let auth_issues = bots
        .iter()
        .filter(|b| {
            b.state == BotState::AuthInvalid
                || b.auth.as_deref().is_some_and(|a| {
                    matches!(
                        a,
                        "expired" | "missing" | "malformed" | "rejected" | "no-file" | "expiring"
                    )
                })
        })
        .count();
    let mut parts = vec![
        format!("{} running", count(BotState::Running)),
        format!("{} failed", count(BotState::Failed)),
        format!("{auth_issues} auth issues"),
        format!("{} over limit", count(BotState::OverLimit)),
    ];
    // Other states only when present, so the line stays short for a healthy fleet.
    for state in [
        BotState::Backoff,
        BotState::Stopping,
        BotState::Stopped,
        BotState::Exited,
        BotState::Disabled,
        BotState::ConfigError,
        BotState::AuthInvalid,
    ] {
        let n = count(state);
        if n > 0 {
            parts.push(format!("{n} {}", state.as_str()));
        }
    }
    format!("{} {noun}: {}", bots.len(), parts.join(", "))
}

/// Bytes for people: "512 KiB", "612 MiB", "1.5 GiB".
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n < KIB * KIB {
        format!("{:.0} KiB", n / KIB)
    } else if n < KIB * KIB * KIB {
        format!("{:.0} MiB", n / (KIB * KIB))
    } else {
        format!("{:.1} GiB", n / (KIB * KIB * KIB))
    }
}

pub fn cpu(v: Option<f32>) -> String {
    v.map(|c| format!("{c:.0}%")).unwrap_or_else(|| "-".into())
}

pub fn memory(v: Option<u64>) -> String {
    v.map(bytes).unwrap_or_else(|| "-".into())
}

/// A one-line graph of `values` scaled to their maximum: "▁▂▄█▆".
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().fold(0f64, |a, b| a.max(*b));
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(v) => BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("botctl: cannot encode JSON: {e}"),
    }
}

/// A progress bar on stderr, only when stderr is a terminal and there is more than one item.
pub fn progress(len: usize, what: &str) -> Option<indicatif::ProgressBar> {
    if len < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(50.0), None, Some(100.0)]),
            "▁▅ █"
        );
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)]), "▁▁");
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(bytes(512 * 1024), "512 KiB");
        assert_eq!(bytes(612 * 1024 * 1024), "612 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}
