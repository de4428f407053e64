//! Reading one TOML file into its schema type: every problem of the file with the field's
//! dotted path and its line and column, in the wording of `config check`.

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;

/// A parsed file: the text (for line and column) and its tables with their spans.
pub(crate) struct Document<'a> {
    file: &'a Path,
    text: &'a str,
    root: Spanned<DeTable<'a>>,
}

impl<'a> Document<'a> {
    pub(crate) fn parse(file: &'a Path, text: &'a str) -> Result<Self, ConfigError> {
        match DeTable::parse(text) {
            Ok(root) => Ok(Self { file, text, root }),
            // Only the parser's own message is shown, never the source around it: the
            // offending text could be part of an `env` value.
            Err(e) => Err(ConfigError {
                file: file.to_path_buf(),
                field: None,
                message: format!("invalid TOML: {}", e.message().trim()),
                location: e.span().map(|s| location(text, s.start)),
            }),
        }
    }

    /// The whole file as `T`. On failure, every problem of the file: the field at fault is
    /// set aside and the rest read again, until it reads or a problem names no field that
    /// could be set aside (a missing one); then each remaining top-level entry is read on its
    /// own, so that problems in independent sections are all reported too.
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Result<T, Vec<ConfigError>> {
        let mut root = self.root.clone();
        let mut errors: Vec<ConfigError> = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        let add = |errors: &mut Vec<ConfigError>, e: ConfigError| {
            if !errors.contains(&e) {
                errors.push(e);
            }
        };
        // Bounded: each round removes one field, and a file has few problems worth listing.
        for _ in 0..MAX_PROBLEMS {
            let e = match T::deserialize(toml::de::Deserializer::from(root.clone())) {
                Ok(value) if errors.is_empty() => return Ok(value),
                Ok(_) => return Err(errors),
                Err(e) => e,
            };
            let mut path = Vec::new();
            if let Some(span) = e.span() {
                find_path(root.get_ref(), &span, &mut path);
            }
            let error = self.error(&e);
            if reword(e.message()).1.is_some() {
                // A field set aside above is now missing: already reported as it was.
                if !error.field.as_ref().is_some_and(|f| removed.contains(f)) {
                    add(&mut errors, error);
                }
                break;
            }
            let gone = remove(root.get_mut(), &path);
            add(&mut errors, error);
            if !gone {
                break;
            }
            removed.push(path.join("."));
        }
        let span = root.span();
        for (key, value) in root.get_ref().iter() {
            let mut alone = DeTable::new();
            alone.insert(key.clone(), value.clone());
            let alone = Spanned::new(span.clone(), alone);
            if let Err(e) = T::deserialize(toml::de::Deserializer::from(alone)) {
                add(&mut errors, self.error(&e));
            }
        }
        Err(errors)
    }

    /// A problem found after reading, at `field` (a dotted path) when the file has it.
    pub(crate) fn problem(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let mut table = self.root.get_ref();
        let mut span = None;
        for part in field.split('.') {
            let Some((key, value)) = table.get_key_value(part) else {
                break;
            };
            span = Some(if matches!(value.get_ref(), DeValue::Table(_)) {
                key.span()
            } else {
                value.span()
            });
            match value.get_ref() {
                DeValue::Table(t) => table = t,
                _ => break,
            }
        }
        ConfigError {
            file: self.file.to_path_buf(),
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.into(),
            location: span.map(|s| location(self.text, s.start)),
        }
    }

    fn error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        let mut path = Vec::new();
        if let Some(span) = &span {
            find_path(self.root.get_ref(), span, &mut path);
        }
        let (message, missing) = reword(e.message());
        if let Some(missing) = missing {
            path.push(missing);
        }
        ConfigError {
            file: self.file.to_path_buf(),
            field: (!path.is_empty()).then(|| path.join(".")),
            message,
            location: span.map(|s| location(self.text, s.start)),
        }
    }
}

/// At most this many problems are listed for one file.
const MAX_PROBLEMS: usize = 64;

/// Removes the entry at `path` (dotted keys); false when there is none.
fn remove(table: &mut DeTable<'_>, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => table.remove(last.as_str()).is_some(),
        [first, rest @ ..] => match table.get_mut(first.as_str()).map(|v| v.get_mut()) {
            Some(DeValue::Table(inner)) => remove(inner, rest),
            _ => false,
        },
    }
}

/// The keys leading to the deepest key or value whose span holds `span`.
fn find_path(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
    let within = |outer: Range<usize>| outer.start <= span.start && span.end <= outer.end;
    for (key, value) in table.iter() {
        if let DeValue::Table(inner) = value.get_ref() {
            path.push(key.get_ref().to_string());
            if find_path(inner, span, path) {
                return true;
            }
            path.pop();
        }
        if within(key.span()) || within(value.span()) {
            path.push(key.get_ref().to_string());
            return true;
        }
    }
    false
}

/// serde's messages in `config check`'s words; never the offending value itself, which could
/// be a secret. Also returns the name of a missing field, which belongs in the field path.
fn reword(message: &str) -> (String, Option<String>) {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let allowed = rest.split_once(", expected ").map(|(_, list)| list);
        let allowed: Vec<&str> = allowed
            .map(|list| list.trim_start_matches("one of "))
            .map(|list| list.split(", ").map(|f| f.trim_matches('`')).collect())
            .unwrap_or_default();
        return if allowed.is_empty() {
            ("unknown field; this section has no settings".into(), None)
        } else {
            (
                format!("unknown field; allowed here: {}", allowed.join(", ")),
                None,
            )
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`').to_string();
        return ("missing".into(), Some(name));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, allowed)) = rest.split_once("`, expected ")
    {
        let allowed: Vec<&str> = allowed
            .trim_start_matches("one of ")
            .split([',', ' '])
            .filter(|w| !w.is_empty() && *w != "or")
            .map(|w| w.trim_matches('`'))
            .collect();
        return (
            format!("unknown value {value:?}: use {}", allowed.join(", ")),
            None,
        );
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let found = found.split([' ', '`']).next().unwrap_or(found);
            let found = match found {
                "map" => "a table",
                "sequence" => "a list",
                "string" => "a string",
                "integer" => "a number",
                "floating" => "a decimal number",
                "boolean" => "true or false",
                _ => "something else",
            };
            let expected = match expected {
                "a sequence" => "a list",
                "a map" => "a table",
                "a boolean" => "true or false",
                other => other,
            };
            return (format!("must be {expected}, not {found}"), None);
        }
    }
    (message.to_string(), None)
}

/// Line and column (both from 1, the column in characters) of byte `at`.
fn location(text: &str, at: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
        + 1;
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(line), clamp(column))
}
