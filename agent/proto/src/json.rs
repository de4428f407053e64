//! The JSON botctl prints for scripts: serde_json's pretty layout (two-space indent), every
//! timestamp followed by its RFC 3339 twin (see [`Twins`]). One module for the CLI, which
//! prints it, and the agent, which writes `status --json`'s text itself (see [`status_text`]).

use std::io::Write;

use serde::Serialize;

use crate::{StatusReport, Summary, human};

/// `status --json`: the report and the numbers of the table's last line.
#[derive(Serialize)]
pub struct StatusJson<'a> {
    #[serde(flatten)]
    pub report: &'a StatusReport,
    pub summary: &'a Summary,
}

/// `value` as pretty JSON into `w`, with [`Twins`]; no line break at the end.
pub fn write_pretty<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> std::io::Result<()> {
    write_pretty_at(w, value, 0)
}

/// [`write_pretty`] for a value written `depth` levels deep in an enclosing document: its
/// inner lines are indented as they would be there.
fn write_pretty_at<W: Write, T: Serialize + ?Sized>(
    w: W,
    value: &T,
    depth: usize,
) -> std::io::Result<()> {
    let formatter = Twins::new(Pretty {
        depth,
        has_value: false,
    });
    value
        .serialize(&mut serde_json::Serializer::with_formatter(w, formatter))
        .map_err(std::io::Error::other)
}

/// `value` as one line of JSON (for streams: a line parses on its own), with [`Twins`].
pub fn line<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut line = Vec::new();
    let formatter = Twins::new(serde_json::ser::CompactFormatter);
    value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut line, formatter,
        ))
        .ok()?;
    String::from_utf8(line).ok()
}

/// The text of a report's `bots` inside `status --json` (the member's value, as
/// [`status_text`] puts it in).
pub fn rows_text(bots: &[crate::BotInfo]) -> String {
    let mut out = Vec::with_capacity(600 * bots.len() + 2);
    // Into a Vec: cannot fail; a row is plain data.
    let _ = write_pretty_at(&mut out, bots, 1);
    String::from_utf8(out).unwrap_or_default()
}

/// `status --json`'s text for `report` and `summary`, with `bots` (as [`rows_text`] wrote
/// them) for the report's own, which the caller leaves empty: exactly what [`write_pretty`]
/// writes for the [`StatusJson`] of the report with those bots. The agent keeps the rows'
/// text while they stay the same, so that a `status --json` of 2,000 bots is neither encoded
/// twice nor decoded on its way to the terminal. (A report with bots of its own is written
/// as it is.)
pub fn status_text(report: &StatusReport, summary: &Summary, bots: &str) -> String {
    // With no bots, `"bots": []` is written at the first level, once; a string never holds a
    // raw line break (JSON escapes it), so this line is found there and nowhere else.
    const EMPTY: &str = "\n  \"bots\": []";
    let mut head = Vec::with_capacity(4096);
    // Into a Vec: cannot fail; a report is plain data.
    let _ = write_pretty(&mut head, &StatusJson { report, summary });
    let head = String::from_utf8(head).unwrap_or_default();
    let Some(at) = head.find(EMPTY).map(|at| at + EMPTY.len() - 2) else {
        return head;
    };
    let mut text = String::with_capacity(head.len() + bots.len());
    text.push_str(&head[..at]);
    text.push_str(bots);
    text.push_str(&head[at + 2..]);
    text
}

/// serde_json's `PrettyFormatter` with its two-space indent, each line break and its indent
/// written at once (serde_json writes the indent two spaces at a time: at 2,000 bots, a
/// hundred thousand writes, the largest part of `status --json`'s formatting).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What `write_pretty` writes for `v`.
    fn pretty(v: &impl Serialize) -> String {
        let mut out = Vec::new();
        write_pretty(&mut out, v).unwrap();
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
                Pretty {
                    depth: 0,
                    has_value: false,
                },
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
        let line = line(&v).unwrap();
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

    fn bot(name: &str, exited_at_ms: Option<i64>) -> crate::BotInfo {
        crate::BotInfo {
            name: name.into(),
            owner: "alice".into(),
            platform: "generic".into(),
            state: crate::BotState::Running,
            enabled: true,
            pid: Some(42),
            uptime_secs: Some(7),
            restarts: 1,
            last_exit: exited_at_ms.map(|at_ms| crate::ExitInfo {
                code: Some(1),
                signal: None,
                description: "code 1".into(),
                at_ms,
            }),
            detail: None,
            cpu_percent: Some(0.5),
            memory_bytes: Some(1 << 20),
            auth: None,
            forecast: None,
            notify_status: None,
            waiting_ready: false,
        }
    }

    #[test]
    fn the_agents_status_text_is_what_the_cli_writes() {
        let report = |bots: Vec<crate::BotInfo>| StatusReport {
            agent: crate::AgentInfo {
                pid: 1,
                version: "0.1.0".into(),
                protocol: crate::PROTOCOL_VERSION,
                started_at_ms: 1_796_200_200_123,
                uptime_secs: 5,
                home: "/home/\"bots\": []".into(),
                host: "vm".into(),
                containment: None,
            },
            bots: bots.into(),
            config_issues: vec![crate::ConfigIssue {
                file: "botctl.toml".into(),
                field: None,
                message: "line\n  \"bots\": []".into(),
                bot: None,
                kept_last_good: false,
                line: Some(3),
                column: None,
                section_off: None,
            }],
            host: None,
            notify_ignored: 2,
        };
        let fleets = [
            vec![],
            vec![bot("a", Some(1_796_200_200_123))],
            // A name that reads like the member the text goes into.
            vec![bot("\n  \"bots\": []", None), bot("b", Some(0))],
        ];
        for bots in fleets {
            let whole = report(bots.clone());
            let summary = Summary::of(&whole.bots, &whole.config_issues);
            let text = status_text(&report(vec![]), &summary, &rows_text(&bots));
            let want = pretty(&StatusJson {
                report: &whole,
                summary: &summary,
            });
            assert_eq!(text, want);
            // And a report with bots of its own is written as it is.
            assert_eq!(status_text(&whole, &summary, "[]"), want);
        }
    }
}
