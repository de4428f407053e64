//! Output for people: tables, colours (one decision for help, tables and log prefixes), times
//! and durations, progress bars; and JSON for scripts (timestamps also as RFC 3339).

use std::io::IsTerminal;
use std::time::Duration;

pub use botctl_proto::Summary;
use botctl_proto::{BotInfo, BotState, ExitInfo};
use botctl_proto::{human, json};
use serde::Serialize;

use unicode_width::UnicodeWidthStr;

/// Whether to colour output, one rule for `--help`, tables and log prefixes alike, first match
/// wins: NO_COLOR set (and not empty, as no-color.org says) turns colour off; CLICOLOR_FORCE
/// set to anything but "0" turns it on even off a terminal; CLICOLOR=0 and TERM=dumb turn it
/// off; otherwise colour only on a terminal.
pub fn color_decision(var: impl Fn(&str) -> Option<std::ffi::OsString>, terminal: bool) -> bool {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    if var("CLICOLOR").is_some_and(|v| v == "0") || var("TERM").is_some_and(|v| v == "dumb") {
        return false;
    }
    terminal
}

/// [`color_decision`] for standard output in this process's environment.
pub fn color_enabled() -> bool {
    color_decision(
        |name| std::env::var_os(name),
        std::io::stdout().is_terminal(),
    )
}

/// The same decision as clap takes it for `--help` and usage errors.
pub fn color_choice() -> clap::ColorChoice {
    if color_enabled() {
        clap::ColorChoice::Always
    } else {
        clap::ColorChoice::Never
    }
}

pub fn table(headers: &[&str]) -> Table {
    Table {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows: Vec::new(),
        color: color_enabled(),
    }
}

/// The colours a cell can have (shown on a colour terminal only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Red,
    Yellow,
    Grey,
}

impl Color {
    fn sgr(self) -> &'static str {
        match self {
            Color::Green => "\x1b[32m",
            Color::Red => "\x1b[31m",
            Color::Yellow => "\x1b[33m",
            Color::Grey => "\x1b[90m",
        }
    }

    fn comfy(self) -> comfy_table::Color {
        match self {
            Color::Green => comfy_table::Color::Green,
            Color::Red => comfy_table::Color::Red,
            Color::Yellow => comfy_table::Color::Yellow,
            Color::Grey => comfy_table::Color::DarkGrey,
        }
    }
}

/// One cell: its text and colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    text: String,
    color: Option<Color>,
}

impl Cell {
    pub fn new(content: impl std::fmt::Display) -> Cell {
        Cell {
            text: content.to_string(),
            color: None,
        }
    }

    pub fn fg(self, color: Color) -> Cell {
        Cell {
            color: Some(color),
            ..self
        }
    }
}

/// A table with a border around it, a double rule under the header and columns three spaces
/// apart (comfy-table's UTF8_BORDERS_ONLY look). Drawn here in one pass into one string:
/// comfy-table took 1–1.5 ms for the 200 rows of `botctl status` (each cell costs it several
/// allocations and a padding loop), a third of the command's 5 ms budget; this takes a few
/// tens of microseconds. A table wider than the terminal it is shown on still goes to
/// comfy-table, which wraps cells to fit.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    color: bool,
}

impl Table {
    pub fn add_row(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.text.width());
            }
        }
        widths
    }

    /// The table drawn `width` columns wide at most.
    fn render(&self, width: Option<u16>) -> String {
        let widths = self.widths();
        let inner = widths.iter().sum::<usize>() + 3 * widths.len().saturating_sub(1) + 2;
        if let Some(width) = width
            && inner + 2 > width as usize
        {
            return self.wrapped(width).to_string();
        }
        let mut out = String::with_capacity((inner + 8) * 3 * (self.rows.len() + 4));
        let rule = |out: &mut String, left: char, fill: char, right: char| {
            out.push(left);
            out.extend(std::iter::repeat_n(fill, inner));
            out.push(right);
        };
        let line = |out: &mut String, cells: &mut dyn Iterator<Item = (&str, Option<Color>)>| {
            out.push_str("\n│ ");
            for (i, w) in widths.iter().enumerate() {
                let (text, color) = cells.next().unwrap_or(("", None));
                if i > 0 {
                    out.push_str("   ");
                }
                match color.filter(|_| self.color) {
                    Some(c) => {
                        out.push_str(c.sgr());
                        out.push_str(text);
                        out.push_str("\x1b[39m");
                    }
                    None => out.push_str(text),
                }
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(text.width())));
            }
            out.push_str(" │");
        };
        rule(&mut out, '┌', '─', '┐');
        line(
            &mut out,
            &mut self.headers.iter().map(|h| (h.as_str(), None)),
        );
        out.push('\n');
        rule(&mut out, '╞', '═', '╡');
        for row in &self.rows {
            line(
                &mut out,
                &mut row.iter().map(|c| (c.text.as_str(), c.color)),
            );
        }
        out.push('\n');
        rule(&mut out, '└', '─', '┘');
        out
    }

    /// Laid out by comfy-table to fit `width` columns, wrapping cells.
    fn wrapped(&self, width: u16) -> comfy_table::Table {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_BORDERS_ONLY)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(width)
            .set_header(self.headers.iter().map(comfy_table::Cell::new));
        if self.color {
            // CLICOLOR_FORCE colours a table off a terminal too.
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        for row in &self.rows {
            t.add_row(row.iter().map(|c| {
                let cell = comfy_table::Cell::new(&c.text);
                match c.color.filter(|_| self.color) {
                    Some(color) => cell.fg(color.comfy()),
                    None => cell,
                }
            }));
        }
        t
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(terminal_columns()))
    }
}

/// The width of the terminal on standard output, if it is one.
fn terminal_columns() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: a zeroed winsize is valid; TIOCGWINSZ fills the one we pass.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col)
}

pub fn state_cell(state: BotState) -> Cell {
    Cell::new(state.as_str()).fg(state_color(state))
}

/// The colour of a state, in every table and in `top`.
pub fn state_color(state: BotState) -> Color {
    match state {
        BotState::Running => Color::Green,
        BotState::Failed | BotState::ConfigError => Color::Red,
        BotState::Backoff | BotState::Stopping | BotState::AuthInvalid => Color::Yellow,
        _ => Color::Grey,
    }
}

pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn uptime(secs: Option<u64>) -> String {
    secs.map(|s| human::duration(Duration::from_secs(s)))
        .unwrap_or_else(|| "-".into())
}

pub fn last_exit(exit: &Option<ExitInfo>, now_ms: i64) -> String {
    match exit {
        Some(e) => format!("{}, {} ago", e.description, ago(now_ms - e.at_ms)),
        None => "-".into(),
    }
}

pub fn ago(ms: i64) -> String {
    human::duration(Duration::from_secs((ms.max(0) / 1000) as u64))
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
    let sum = Summary::of(bots, &[]);
    let count = |s: BotState| bots.iter().filter(|b| b.state == s).count();
    let noun = if bots.len() == 1 { "bot" } else { "bots" };
    let mut parts = vec![
        format!("{} running", sum.running),
        format!("{} failed", sum.failed),
        format!("{} auth issues", sum.auth_invalid + sum.auth_expiring),
        format!("{} over limit", sum.over_limit),
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

pub use botctl_proto::human::bytes;

pub fn cpu(v: Option<f32>) -> String {
    v.map(|c| format!("{c:.0}%")).unwrap_or_else(|| "-".into())
}

pub fn memory(v: Option<u64>) -> String {
    v.map(bytes).unwrap_or_else(|| "-".into())
}

/// A one-line graph of `values` scaled to their maximum: "▁▂▄█▆". Zero (and a minute without
/// a sample) is an empty bar, so an idle bot draws nothing rather than a row of blocks; any
/// value above zero draws at least the lowest block.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().fold(0f64, |a, b| a.max(*b));
    values
        .iter()
        .map(|v| match v {
            Some(v) if *v > 0.0 => BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize],
            _ => ' ',
        })
        .collect()
}

/// `value` as pretty JSON on stdout, every timestamp with its RFC 3339 twin (see
/// [`botctl_proto::json`]).
pub fn print_json<T: Serialize>(value: &T) {
    use std::io::Write;
    // Serialized straight into one buffered stdout, the twins written as it goes: at 2,000
    // bots (about 800 KB) a buffer of the whole text and a second pass over it to add the
    // twins were a third of `status --json`'s own time.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = json::write_pretty(&mut out, value)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        eprintln!("botctl: cannot write JSON: {e}");
    }
}

/// `value` as one line of JSON (for streams: a line parses on its own), with the twins.
pub fn json_line<T: Serialize>(value: &T) -> Option<String> {
    json::line(value)
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

/// The line `status` and `agent status` give the agent's count of strangers' sd_notify messages.
pub fn notify_ignored(count: u64) -> String {
    format!("sd_notify: {count} message(s) from processes that are no bot's ignored")
}

/// What `status` and `agent status` say of containment: what is in force and why, and the
/// owners whose bots run as root.
pub fn containment(c: &botctl_proto::ContainmentInfo) -> Vec<String> {
    use botctl_proto::ContainmentKind;
    let what = match (c.mode, &c.cgroup) {
        (ContainmentKind::Cgroup, Some(dir)) => {
            let limits = if c.limits.is_empty() {
                "no kernel limits (no controller enabled)".to_string()
            } else {
                format!("kernel limits: {}", c.limits.join(", "))
            };
            format!("a cgroup per bot under {dir}, {limits}")
        }
        (ContainmentKind::Cgroup, None) => "a cgroup per bot".to_string(),
        (ContainmentKind::Subreaper, _) => {
            "subreaper (no cgroups; stop walks each bot's processes)".to_string()
        }
        (ContainmentKind::Refused, _) => "none: no bot starts".to_string(),
    };
    let mut lines = vec![format!("containment: {what} ({})", c.reason)];
    if !c.root_owners.is_empty() {
        lines.push(format!(
            "  the bots of {} run as root: set run_as in [users.NAME] to run them as their own accounts",
            c.root_owners.join(", ")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(50.0), None, Some(100.0)]),
            " ▅ █"
        );
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)]), "  ");
        assert_eq!(sparkline(&[Some(0.0), Some(0.1), Some(10.0)]), " ▁█");
    }

    #[test]
    fn one_colour_decision_for_every_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        // (environment, on a terminal, expected)
        type Vars = &'static [(&'static str, &'static str)];
        let cases: &[(Vars, bool, bool)] = &[
            (&[], true, true),
            (&[], false, false),
            (&[("TERM", "xterm-256color")], true, true),
            (&[("NO_COLOR", "1")], true, false),
            (&[("NO_COLOR", "0")], true, false),
            (&[("NO_COLOR", "")], true, true),
            (&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], true, false),
            (&[("CLICOLOR", "0")], true, false),
            (&[("CLICOLOR", "1")], true, true),
            (&[("CLICOLOR", "1")], false, false),
            (&[("CLICOLOR_FORCE", "1")], false, true),
            (&[("CLICOLOR_FORCE", "1"), ("CLICOLOR", "0")], false, true),
            (&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")], false, true),
            (&[("CLICOLOR_FORCE", "0")], false, false),
            (&[("CLICOLOR_FORCE", "")], true, true),
            (&[("TERM", "dumb")], true, false),
        ];
        for (vars, terminal, want) in cases {
            assert_eq!(
                color_decision(env(vars), *terminal),
                *want,
                "{vars:?} on a terminal: {terminal}"
            );
        }
    }

    fn sample() -> Table {
        let mut t = table(&["BOT", "OWNER", "STATE", "LAST EXIT"]);
        t.color = false;
        t.add_row(vec![
            Cell::new("twitter-1"),
            Cell::new("alice"),
            state_cell(BotState::Running),
            Cell::new("-"),
        ]);
        t.add_row(vec![
            Cell::new("ünï"),
            Cell::new("bob"),
            state_cell(BotState::Failed),
            Cell::new("exit code 1, 5s ago"),
        ]);
        t
    }

    #[test]
    fn tables_look_like_comfy_tables_do() {
        let t = sample();
        let mut comfy = t.wrapped(u16::MAX);
        comfy.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        assert_eq!(t.render(None), comfy.to_string());
        assert_eq!(t.render(Some(200)), comfy.to_string());
    }

    #[test]
    fn a_table_wider_than_the_terminal_is_wrapped_to_fit() {
        let t = sample();
        let text = t.render(Some(30));
        assert!(text.lines().count() > 6, "{text}");
        for line in text.lines() {
            assert!(line.width() <= 30, "{line:?} is wider than 30 columns");
        }
        assert!(text.contains("│ twitt"), "{text}");
    }

    #[test]
    fn colours_wrap_the_text_not_the_padding() {
        let mut t = sample();
        t.color = true;
        let text = t.render(None);
        assert!(text.contains("\x1b[32mrunning\x1b[39m   "), "{text}");
        assert!(text.contains("\x1b[31mfailed\x1b[39m "), "{text}");
    }
}
