//! A bot's `env_file`: the dotenv format read at each start (KEY=VALUE, `export`, quotes,
//! comments), and its place below the bot's `env`. Errors name file and line, never a value.

use std::collections::BTreeMap;
use std::path::Path;

use botctl_proto::config::{EnvFile, RESERVED_ENV_PREFIX};

/// What is wrong with a line: said without quoting it, as the line may hold a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    NoEquals,
    BadName,
    Reserved,
    Unterminated,
    AfterQuote,
}

impl LineProblem {
    fn describe(self) -> &'static str {
        match self {
            LineProblem::NoEquals => "expected KEY=VALUE",
            LineProblem::BadName => {
                "the name must be letters, digits and _, not starting with a digit"
            }
            LineProblem::Reserved => "names starting BOTCTL_ are set by botctl",
            LineProblem::Unterminated => "a quoted value is not closed",
            LineProblem::AfterQuote => "only a # comment may follow a closing quote",
        }
    }
}

/// The variables of a dotenv text, in file order (a later line wins), or the first bad line
/// (from 1) and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, LineProblem)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        let start = line;
        let (entry, consumed) = parse_entry(rest, &mut line).map_err(|p| (start, p))?;
        out.extend(entry);
        rest = &rest[consumed..];
    }
    Ok(out)
}

// One logical line (a quoted value may span several): its variable, if any, and the bytes
// it took; moves `line` past them.
fn parse_entry(
    text: &str,
    line: &mut usize,
) -> Result<(Option<(String, String)>, usize), LineProblem> {
    let end = text.find('\n').map_or(text.len(), |i| i + 1);
    let trimmed = text[..end].trim_start();
    if trimmed.trim().is_empty() || trimmed.starts_with('#') {
        *line += 1;
        return Ok((None, end));
    }
    let body = trimmed
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']))
        .map_or(trimmed, str::trim_start);
    let Some(eq) = body.find('=') else {
        return Err(LineProblem::NoEquals);
    };
    let name = body[..eq].trim_end();
    if !valid_name(name) {
        return Err(LineProblem::BadName);
    }
    if name.starts_with(RESERVED_ENV_PREFIX) {
        return Err(LineProblem::Reserved);
    }
    // `body` lies inside `text`: where its value starts there.
    let value_at = body.as_ptr() as usize - text.as_ptr() as usize + eq + 1;
    let after_eq = &text[value_at..];
    let value_text = after_eq.trim_start_matches([' ', '\t']);
    let lead = after_eq.len() - value_text.len();
    let (value, used) = match value_text.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let (value, used) = quoted(&value_text[1..], q)?;
            let after = &value_text[1 + used..];
            let line_end = after.find('\n').map_or(after.len(), |i| i + 1);
            let tail = after[..line_end].trim();
            if !(tail.is_empty() || tail.starts_with('#')) {
                return Err(LineProblem::AfterQuote);
            }
            (value, 1 + used + line_end)
        }
        _ => {
            let line_end = value_text.find('\n').map_or(value_text.len(), |i| i + 1);
            let raw = value_text[..line_end].trim_end();
            let raw = match find_comment(raw) {
                Some(at) => raw[..at].trim_end(),
                None => raw,
            };
            (raw.to_string(), line_end)
        }
    };
    let consumed = value_at + lead + used;
    *line += text[..consumed].matches('\n').count();
    Ok((Some((name.to_string(), value)), consumed))
}

// An unquoted `#` starts a comment only after whitespace, so `a#b` stays a value.
fn find_comment(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    (1..bytes.len()).find(|&i| bytes[i] == b'#' && matches!(bytes[i - 1], b' ' | b'\t'))
}

// The value up to the closing quote `q`, and the bytes taken including that quote. Double
// quotes know the shell's escapes \n \t \r \" \\ \$; single quotes take everything literally.
fn quoted(text: &str, q: char) -> Result<(String, usize), LineProblem> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == q => return Ok((out, i + 1)),
            '\\' if q == '"' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, e @ ('"' | '\\' | '$'))) => out.push(e),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(LineProblem::Unterminated)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads `file` (relative to the bot's directory `dir`): its variables, or why the start
/// must fail. An optional file (`-` prefix) that does not exist gives none.
pub fn read(file: &EnvFile, dir: &Path) -> Result<Vec<(String, String)>, String> {
    let path = dir.join(&file.path);
    let text = match botctl_proto::fsread::read_regular_string(
        &path,
        botctl_proto::fsread::CONFIG_FILE_CAP,
    ) {
        Ok(text) => text,
        Err(e) if e.is_not_found() && file.optional => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "env_file {}: cannot read: {e} (write env_file = \"-{}\" if it is optional)",
                path.display(),
                file.path
            ));
        }
    };
    parse(&text).map_err(|(line, problem)| {
        format!("env_file {}:{line}: {}", path.display(), problem.describe())
    })
}

/// What a bot gets on top of the agent's environment: the file's variables, then its `env`,
/// which wins (as systemd's Environment= over EnvironmentFile=).
pub fn merge(
    from_file: Vec<(String, String)>,
    env: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = from_file.into_iter().collect();
    all.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_dotenv_forms() {
        let text = "# a comment\n\nA=1\nexport B=two words\n  C = spaced  \nD=\"dq # not a comment\" # comment\nE='single $HOME \\n'\nF=\"esc\\n\\\"q\\\" \\$x\"\nG=a#b\nH=val # comment\nI=\nexport_J=x\n";
        assert_eq!(
            ok(text),
            pairs(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "spaced"),
                ("D", "dq # not a comment"),
                ("E", "single $HOME \\n"),
                ("F", "esc\n\"q\" $x"),
                ("G", "a#b"),
                ("H", "val"),
                ("I", ""),
                ("export_J", "x"),
            ])
        );
        // CRLF files and a last line without a newline.
        assert_eq!(
            ok("A=1\r\nB='x'\r\nC=3"),
            pairs(&[("A", "1"), ("B", "x"), ("C", "3")])
        );
        assert_eq!(ok(""), pairs(&[]));
    }

    #[test]
    fn a_quoted_value_may_span_lines_and_lines_are_counted() {
        let text = "A=\"one\ntwo\"\nB='x\ny'\nbroken line\n";
        assert_eq!(parse(text), Err((5, LineProblem::NoEquals)));
        assert_eq!(
            ok("A=\"one\ntwo\"\nB='x\ny'\n"),
            pairs(&[("A", "one\ntwo"), ("B", "x\ny")])
        );
    }

    #[test]
    fn bad_lines_are_named_by_number_and_kind() {
        let cases = [
            ("A=1\nsk-secret-value\n", 2, LineProblem::NoEquals),
            ("1A=x\n", 1, LineProblem::BadName),
            ("A B=x\n", 1, LineProblem::BadName),
            ("=x\n", 1, LineProblem::BadName),
            ("\n\nBOTCTL_BOT=other\n", 3, LineProblem::Reserved),
            ("A=\"open\n", 1, LineProblem::Unterminated),
            ("A='x' y\n", 1, LineProblem::AfterQuote),
        ];
        for (text, line, problem) in cases {
            assert_eq!(parse(text), Err((line, problem)), "{text:?}");
        }
    }

    #[test]
    fn errors_never_quote_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "TOKEN=ok\nhunter2-secret\n").unwrap();
        let file = EnvFile::parse(".env");
        let e = read(&file, dir.path()).unwrap_err();
        assert!(e.ends_with(".env:2: expected KEY=VALUE"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_missing_file_fails_unless_optional() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(&EnvFile::parse(".env"), dir.path()).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        assert!(e.contains("env_file = \"-.env\""), "{e}");
        assert_eq!(read(&EnvFile::parse("-.env"), dir.path()), Ok(Vec::new()));
        // Optional is only about a missing file: a broken one still fails the start.
        std::fs::write(dir.path().join(".env"), "nonsense\n").unwrap();
        assert!(read(&EnvFile::parse("-.env"), dir.path()).is_err());
    }

    #[test]
    fn env_wins_over_the_file() {
        let env = BTreeMap::from([("A".to_string(), "from env".to_string())]);
        let merged = merge(pairs(&[("A", "file"), ("B", "file"), ("B", "later")]), &env);
        assert_eq!(merged, pairs(&[("A", "from env"), ("B", "later")]));
    }
}
