//! Output for people: tables, colours (one decision for help, tables and log prefixes), times
//! and durations, progress bars; and JSON for scripts (timestamps also as RFC 3339).

use std::io::IsTerminal;
use std::time::Duration;

use botctl_proto::human;
use botctl_proto::{BotInfo, BotState, ConfigIssue, ExitInfo};
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

/// The fleet in numbers: the last line of `status` and the `summary` of `status --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub bots: usize,
    pub running: usize,
    pub failed: usize,
    /// Bots with `[auth]` whose last check found the session valid (expiring included).
    pub auth_valid: usize,
    /// Parked for an invalid session, or whose last check found it expired, missing,
    /// malformed, rejected or without a file.
    pub auth_invalid: usize,
    /// Valid but expiring within `warn_before`.
    pub auth_expiring: usize,
    pub over_limit: usize,
    pub stopped: usize,
    /// Some bot is failed, backing off, auth-invalid, config-error or over its limit, or a
    /// configuration file has a problem: what `status` exits 1 for.
    pub needs_attention: bool,
}

impl Summary {
    pub fn of(bots: &[BotInfo], config_issues: &[ConfigIssue]) -> Summary {
        let count = |s: BotState| bots.iter().filter(|b| b.state == s).count();
        let auth = |outcomes: &[&str]| {
            bots.iter()
                .filter(|b| b.auth.as_deref().is_some_and(|a| outcomes.contains(&a)))
                .count()
        };
        let auth_invalid = bots
            .iter()
            .filter(|b| {
                b.state == BotState::AuthInvalid
                    || b.auth.as_deref().is_some_and(|a| {
                        matches!(
                            a,
                            "expired" | "missing" | "malformed" | "rejected" | "no-file"
                        )
                    })
            })
            .count();
        Summary {
            bots: bots.len(),
            running: count(BotState::Running),
            failed: count(BotState::Failed),
            auth_valid: auth(&["valid", "expiring"]),
            auth_invalid,
            auth_expiring: auth(&["expiring"]),
            over_limit: count(BotState::OverLimit),
            stopped: count(BotState::Stopped),
            needs_attention: bots.iter().any(|b| b.state.is_problem())
                || config_issues.iter().any(|i| i.bot.is_none()),
        }
    }
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

/// `value` as pretty JSON on stdout, every timestamp with its RFC 3339 twin (see [`Twins`]).
pub fn print_json<T: Serialize>(value: &T) {
    use std::io::Write;
    // Serialized straight into one buffered stdout, the twins written as it goes: at 2,000
    // bots (about 800 KB) a buffer of the whole text and a second pass over it to add the
    // twins were a third of `status --json`'s own time.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let formatter = Twins::new(Pretty::default());
    let mut json = serde_json::Serializer::with_formatter(&mut out, formatter);
    let written = value
        .serialize(&mut json)
        .map_err(std::io::Error::other)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        eprintln!("botctl: cannot write JSON: {e}");
    }
}

/// `value` as one line of JSON (for streams: a line parses on its own), with [`Twins`].
pub fn json_line<T: Serialize>(value: &T) -> Option<String> {
    let mut line = Vec::new();
    let formatter = Twins::new(serde_json::ser::CompactFormatter);
    value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut line, formatter,
        ))
        .ok()?;
    String::from_utf8(line).ok()
}

/// serde_json's `PrettyFormatter` with its two-space indent, each line break and its indent
/// written at once (serde_json writes the indent two spaces at a time: at 2,000 bots, a
/// hundred thousand writes, the largest part of `status --json`'s formatting).
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// `,` unless `first`, a line break and the indent of the current depth.
    fn line<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        const LINE: &[u8] = b",\n                                                                ";
        let mut indent = 2 * self.depth;
        let start = usize::from(first);
        let now = indent.min(LINE.len() - 2);
        w.write_all(&LINE[start..2 + now])?;
        indent -= now;
        while indent > 0 {
            let now = indent.min(LINE.len() - 2);
            w.write_all(&LINE[2..2 + now])?;
            indent -= now;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A JSON formatter that gives every timestamp an RFC 3339 twin right after it: a member
/// `ts_ms` gains `time`, `X_at_ms` gains `X_at` (`at_ms` gains `at`). Durations
/// (`window_ms`, `stable_after_ms`, ...) never end in `at_ms` and stay as they are; a
/// timestamp that is null has no twin. Everything else is `F`'s.
struct Twins<F> {
    inner: F,
    /// The key being written, then the key whose value is being written.
    key: String,
    in_key: bool,
    /// The key had an escape: no twin's key has one, and its name could not be written as is.
    escaped: bool,
    /// The integer just written as a member's whole value.
    int: Option<i64>,
}

impl<F> Twins<F> {
    fn new(inner: F) -> Self {
        Twins {
            inner,
            key: String::new(),
            in_key: false,
            escaped: false,
            int: None,
        }
    }

    fn wrote_int(&mut self, v: impl TryInto<i64>) {
        if !self.in_key {
            self.int = v.try_into().ok();
        }
    }
}

/// The name of a timestamp's RFC 3339 twin: `ts_ms` → `time`, `X_at_ms` → `X_at`.
fn twin_name(key: &str) -> Option<&str> {
    if key == "ts_ms" {
        Some("time")
    } else if key == "at_ms" || key.ends_with("_at_ms") {
        key.strip_suffix("_ms")
    } else {
        None
    }
}

/// One `write_*` of an integer type: the inner formatter's, noting the value.
macro_rules! noting_int {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: $ty) -> std::io::Result<()> {
            self.wrote_int(v);
            self.inner.$name(w, v)
        }
    )*};
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Twins<F> {
    noting_int!(write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_u8: u8,
        write_u16: u16, write_u32: u32, write_u64: u64);

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if self.in_key {
            self.key.push_str(fragment);
        }
        self.inner.write_string_fragment(w, fragment)
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        self.escaped |= self.in_key;
        self.inner.write_char_escape(w, escape)
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.int = None;
        self.inner.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.int = None;
        self.inner.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.key.clear();
        self.in_key = true;
        self.escaped = false;
        self.inner.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.in_key = false;
        self.inner.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.int = None;
        self.inner.begin_object_value(w)
    }

    /// The member ends; a timestamp's twin follows as a member of its own. An object or
    /// array value ends with `int` cleared, so only a bare integer has one.
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_value(w)?;
        let Some(ms) = self.int.take() else {
            return Ok(());
        };
        let Some(name) = twin_name(&self.key).filter(|_| !self.escaped) else {
            return Ok(());
        };
        self.inner.begin_object_key(w, false)?;
        self.inner.begin_string(w)?;
        self.inner.write_string_fragment(w, name)?;
        self.inner.end_string(w)?;
        self.inner.end_object_key(w)?;
        self.inner.begin_object_value(w)?;
        self.inner.begin_string(w)?;
        self.inner.write_string_fragment(w, &human::rfc3339(ms))?;
        self.inner.end_string(w)?;
        self.inner.end_object_value(w)
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

    /// What `print_json` writes for `v`.
    fn pretty(v: &impl Serialize) -> String {
        let mut out = Vec::new();
        let formatter = Twins::new(Pretty::default());
        v.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out, formatter,
        ))
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    /// [`pretty`], parsed back.
    fn printed(v: &impl Serialize) -> serde_json::Value {
        serde_json::from_str(&pretty(v)).unwrap()
    }

    #[test]
    fn pretty_writes_what_serde_jsons_pretty_formatter_writes() {
        // Forty levels: deeper than one write of the indent (32 levels).
        let mut deep = serde_json::json!({"a": [1, {"b": []}, {}], "c": "x"});
        for i in 0..40 {
            deep = serde_json::json!({ "n": i, "v": [deep, [], {}, null] });
        }
        for v in [
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!(1),
            deep,
        ] {
            let mut ours = Vec::new();
            v.serialize(&mut serde_json::Serializer::with_formatter(
                &mut ours,
                Pretty::default(),
            ))
            .unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string_pretty(&v).unwrap()
            );
        }
    }

    #[test]
    fn json_timestamps_gain_rfc3339_strings() {
        let v = serde_json::json!({
            "ts_ms": 1_796_200_200_123i64,
            "window_ms": 60_000,
            "last_exit": {"at_ms": 0, "code": 1},
            "agent": [{"started_at_ms": 1_796_200_200_123i64}],
            "list": [{"at_ms": 0, "code": 1}, "\"x_at_ms\": 5", {"ts_ms": -1}],
            "z": {"started_at_ms": null, "stopped_at_ms": 7, "n_at_ms": {"a": 1}, "l_at_ms": [5]},
            "esc\"_at_ms": 5,
            "by_id": {"5": 1}
        });
        let want = serde_json::json!({
            "ts_ms": 1_796_200_200_123i64,
            "time": "2026-12-02T08:30:00.123Z",
            "window_ms": 60_000,
            "last_exit": {"at_ms": 0, "at": "1970-01-01T00:00:00.000Z", "code": 1},
            "agent": [{"started_at_ms": 1_796_200_200_123i64, "started_at": "2026-12-02T08:30:00.123Z"}],
            "list": [
                {"at_ms": 0, "at": "1970-01-01T00:00:00.000Z", "code": 1},
                "\"x_at_ms\": 5",
                {"ts_ms": -1, "time": "1969-12-31T23:59:59.999Z"}
            ],
            "z": {"started_at_ms": null, "stopped_at_ms": 7, "stopped_at": "1970-01-01T00:00:00.007Z", "n_at_ms": {"a": 1}, "l_at_ms": [5]},
            "esc\"_at_ms": 5,
            "by_id": {"5": 1}
        });
        assert_eq!(printed(&v), want);
        let line = json_line(&v).unwrap();
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            want
        );
    }

    #[test]
    fn a_twin_comes_right_after_its_timestamp() {
        #[derive(Serialize)]
        struct Row {
            started_at_ms: i64,
            pid: u32,
            last: Option<u64>,
        }
        let row = Row {
            started_at_ms: 7,
            pid: 1,
            last: Some(9),
        };
        assert_eq!(
            pretty(&row),
            "{\n  \"started_at_ms\": 7,\n  \"started_at\": \"1970-01-01T00:00:00.007Z\",\n  \"pid\": 1,\n  \"last\": 9\n}"
        );
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
