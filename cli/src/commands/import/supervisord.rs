//! supervisord's configuration read into bots: `[program:x]` sections with supervisord's
//! own expansions, quoting and `numprocs`, and the files its `[include]` globs name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use botctl_proto::config::{self, BotConfig, RestartMode};

use super::{Found, Imported, add_env, bot_name};

/// Files included from included files are read too, up to this depth (a loop ends there).
const MAX_INCLUDE_DEPTH: usize = 8;

/// One section of an INI file: its name and its `key = value` lines, keys lowercased as
/// supervisord's parser does.
struct Section {
    name: String,
    file: PathBuf,
    values: BTreeMap<String, String>,
}

/// Every program of `files` (and what they include) as bots.
pub fn read(files: &[PathBuf], owner: Option<&str>, default_owner: &str) -> Result<Found, String> {
    let mut sections = Vec::new();
    let mut seen = Vec::new();
    for file in files {
        read_file(file, 0, &mut sections, &mut seen)?;
    }
    let mut found = Found::default();
    let mut other = Vec::new();
    for section in &sections {
        let shown = format!("{} [{}]", section.file.display(), section.name);
        match section.name.split_once(':') {
            Some(("program", name)) => {
                program(section, name, &shown, owner, default_owner, &mut found)
            }
            Some(("group", _)) => found.note(
                &shown,
                "programs",
                "botctl has no groups: select several bots with --user or --template",
            ),
            Some((kind @ ("eventlistener" | "fcgi-program"), _)) => found.note(
                &shown,
                kind,
                "event listeners and FastCGI programs have no botctl equivalent",
            ),
            _ if section.name == "include" => {}
            _ => other.push(section.name.clone()),
        }
    }
    if !other.is_empty() {
        other.sort();
        other.dedup();
        found.note(
            "supervisord",
            other
                .iter()
                .map(|s| format!("[{s}]"))
                .collect::<Vec<_>>()
                .join(", "),
            "supervisord's own settings: botctl.toml has the agent's",
        );
    }
    Ok(found)
}

fn read_file(
    file: &Path,
    depth: usize,
    sections: &mut Vec<Section>,
    seen: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let absolute = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if seen.contains(&absolute) || depth > MAX_INCLUDE_DEPTH {
        return Ok(());
    }
    seen.push(absolute.clone());
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let here = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
    let parsed = parse_ini(&text, file)?;
    for section in parsed {
        if section.name == "include" {
            let files = section.values.get("files").cloned().unwrap_or_default();
            let files = expand(&files, &vars(&here, &[]))
                .map_err(|e| format!("{} [include] files: {e}", file.display()))?;
            for pattern in files.split_whitespace() {
                for included in glob(&here, pattern) {
                    read_file(&included, depth + 1, sections, seen)?;
                }
            }
        }
        sections.push(section);
    }
    Ok(())
}

/// The INI dialect supervisord reads: `[section]`, `key = value` or `key: value`, comments
/// from `;` or `#` at the start of a line or from ` ;` inside one, indented continuation lines.
fn parse_ini(text: &str, file: &Path) -> Result<Vec<Section>, String> {
    let mut sections: Vec<Section> = Vec::new();
    let mut last_key: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        let line = match raw.find(" ;").or_else(|| raw.find("\t;")) {
            Some(at) => &raw[..at],
            None => raw,
        };
        if raw.starts_with([' ', '\t'])
            && let (Some(section), Some(key)) = (sections.last_mut(), &last_key)
        {
            let value = section.values.entry(key.clone()).or_default();
            value.push('\n');
            value.push_str(line.trim());
            continue;
        }
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(Section {
                name: name.trim().to_string(),
                file: file.to_path_buf(),
                values: BTreeMap::new(),
            });
            last_key = None;
            continue;
        }
        let at = line
            .find(['=', ':'])
            .ok_or_else(|| format!("{}:{}: expected `key = value`", file.display(), n + 1))?;
        let key = line[..at].trim().to_ascii_lowercase();
        let value = line[at + 1..].trim().to_string();
        let section = sections.last_mut().ok_or_else(|| {
            format!(
                "{}:{}: a setting before any [section]",
                file.display(),
                n + 1
            )
        })?;
        section.values.insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(sections)
}

/// The names `%(name)s` may use: `here`, `ENV_X` for each variable, and `extra`.
fn vars(here: &Path, extra: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = std::env::vars()
        .map(|(k, v)| (format!("ENV_{k}"), v))
        .collect();
    vars.insert("here".to_string(), here.to_string_lossy().into_owned());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.clone());
    }
    vars
}

/// Python's `%(name)s` / `%(name)02d` formatting, as supervisord expands its values. Errors
/// never quote the value: it may be an `environment` line full of secrets.
fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(tail) = rest.strip_prefix('%') {
            out.push('%');
            rest = tail;
            continue;
        }
        let inner = rest
            .strip_prefix('(')
            .ok_or("a lone % (write %% for one)")?;
        let close = inner
            .find(')')
            .ok_or_else(|| format!("unclosed %( in {text:?}"))?;
        let name = &inner[..close];
        let after = &inner[close + 1..];
        let spec_len = after
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(|| format!("no conversion after %({name})"))?;
        let (spec, conversion) = (&after[..spec_len], &after[spec_len..spec_len + 1]);
        let value = vars
            .get(name)
            .ok_or_else(|| format!("unknown name %({name})"))?;
        let width: usize = spec.trim_start_matches('0').parse().unwrap_or(0);
        match conversion {
            "d" if spec.starts_with('0') => out.push_str(&format!("{value:0>width$}")),
            "d" | "s" => out.push_str(&format!("{value:>width$}")),
            other => return Err(format!("conversion %{other} is not supported")),
        }
        rest = &after[spec_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// supervisord's `environment`: `KEY="value",KEY2=value2`.
fn environment(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err("expected KEY=value pairs separated by commas".to_string());
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let value = match chars.peek() {
            Some(&q @ ('"' | '\'')) => {
                chars.next();
                let value: String = chars.by_ref().take_while(|c| *c != q).collect();
                value
            }
            _ => {
                let value: String = chars.by_ref().take_while(|c| *c != ',').collect();
                value.trim().to_string()
            }
        };
        out.push((key, value));
    }
}

fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn seconds(value: &str) -> Option<Duration> {
    value.parse().ok().map(Duration::from_secs)
}

/// One `[program:x]` section: a bot, or `numprocs` of them.
fn program(
    section: &Section,
    program: &str,
    shown: &str,
    owner: Option<&str>,
    default_owner: &str,
    found: &mut Found,
) {
    let here = std::path::absolute(&section.file)
        .ok()
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/"));
    let get = |key: &str| section.values.get(key).map(String::as_str);
    let numprocs: usize = match get("numprocs").map(str::parse) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            found.note(
                shown,
                "numprocs",
                "not a whole number of at least 1: one bot",
            );
            1
        }
    };
    let start: usize = get("numprocs_start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let user = get("user");
    let owner = match (owner, user) {
        (Some(o), _) => o.to_string(),
        (None, Some(u)) if config::valid_owner_name(u) => u.to_string(),
        _ => default_owner.to_string(),
    };
    for num in start..start + numprocs {
        let vars = vars(
            &here,
            &[
                ("program_name", program.to_string()),
                ("group_name", program.to_string()),
                ("process_num", num.to_string()),
                ("numprocs", numprocs.to_string()),
                ("host_node_name", host_name()),
            ],
        );
        let from = if numprocs > 1 {
            format!("{shown} process {num}")
        } else {
            shown.to_string()
        };
        // Each process's values are expanded with its own number.
        let mut values = BTreeMap::new();
        let mut broken = false;
        for (key, value) in &section.values {
            match expand(value, &vars) {
                Ok(v) => {
                    values.insert(key.as_str(), v);
                }
                Err(e) => {
                    found.note(&from, key.as_str(), e);
                    broken |= key == "command" || key == "process_name";
                }
            }
        }
        if broken {
            continue;
        }
        let process_name = values
            .get("process_name")
            .cloned()
            .unwrap_or_else(|| program.to_string());
        let name = bot_name(&process_name);
        if name != process_name {
            found.note(
                &from,
                "process_name",
                format!("{process_name:?} is not a bot name (lowercase letters, digits, - and _): {name:?}"),
            );
        }
        let mut bot = BotConfig {
            name,
            user: owner.clone(),
            // supervisord's default: restart unless the exit code is an expected one.
            restart: config::RestartOverrides {
                policy: Some(RestartMode::OnFailure),
                ..Default::default()
            },
            ..BotConfig::default()
        };
        for (key, value) in &values {
            map_field(key, value, &mut bot, &here, shown, found);
        }
        if bot.command.is_empty() {
            found.note(
                &from,
                "command",
                "missing: a program without a command cannot be imported",
            );
            continue;
        }
        found.bots.push(Imported { bot, source: from });
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn map_field(
    key: &str,
    value: &str,
    bot: &mut BotConfig,
    here: &Path,
    from: &str,
    found: &mut Found,
) {
    let bad = |found: &mut Found, expected: &str| {
        found.note(from, key, format!("{value:?} is not {expected}"));
    };
    match key {
        "process_name" | "numprocs" | "numprocs_start" => {}
        "command" => match shlex::split(value) {
            Some(words) if !words.is_empty() => bot.command = words,
            _ => bad(found, "a command (unbalanced quotes?)"),
        },
        "directory" => bot.cwd = Some(here.join(value).to_string_lossy().into_owned()),
        "environment" => match environment(value) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    add_env(found, from, bot, &k, v);
                }
            }
            Err(e) => found.note(from, key, e),
        },
        "user" => found.note(
            from,
            key,
            format!(
                "bots run as the agent's user; the owner is {:?} (--owner sets it)",
                bot.user
            ),
        ),
        "autostart" => match flag(value) {
            Some(on) => bot.enabled = on,
            None => bad(found, "true or false"),
        },
        "autorestart" => match value.to_ascii_lowercase().as_str() {
            "unexpected" => bot.restart.policy = Some(RestartMode::OnFailure),
            v => match flag(v) {
                Some(true) => bot.restart.policy = Some(RestartMode::Always),
                Some(false) => bot.restart.policy = Some(RestartMode::Never),
                None => bad(found, "true, false or unexpected"),
            },
        },
        "exitcodes" => {
            if value.split(',').map(str::trim).ne(["0"]) {
                found.note(
                    from,
                    key,
                    "botctl's on-failure expects exit code 0 only; other codes count as failures",
                );
            }
        }
        "startsecs" => match seconds(value) {
            Some(d) => bot.restart.stable_after = Some(d),
            None => bad(found, "whole seconds"),
        },
        "startretries" => match value.parse::<u64>() {
            Ok(n) => bot.restart.max_restarts = Some(n.min(config::MAX_RESTARTS) as u32),
            Err(_) => bad(found, "a whole number"),
        },
        "stopsignal" => {
            if !matches!(value.to_ascii_uppercase().trim_start_matches("SIG"), "TERM") {
                found.note(
                    from,
                    key,
                    "botctl stops with SIGTERM, then SIGKILL after stop_timeout",
                );
            }
        }
        "stopwaitsecs" => match seconds(value) {
            Some(d) => bot.stop_timeout = Some(d),
            None => bad(found, "whole seconds"),
        },
        "stopasgroup" | "killasgroup" => {
            if flag(value) == Some(false) {
                found.note(
                    from,
                    key,
                    "botctl always signals the bot's whole process group",
                );
            }
        }
        k if k.starts_with("stdout_") || k.starts_with("stderr_") || k == "redirect_stderr" => {
            found.note(
                from,
                key,
                "botctl writes each bot's output to logs/NAME.out and logs/NAME.err, rotated by [logs]",
            )
        }
        "priority" => found.note(from, key, "botctl starts bots in parallel, in no order"),
        _ => found.note(from, key, "no botctl equivalent"),
    }
}

/// Files matching `pattern` (`*`, `?`, `[...]` in any component), relative to `base`, sorted.
fn glob(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut paths = vec![if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    }];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &paths {
            if !part.contains(['*', '?', '[']) {
                next.push(dir.join(part));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && wildcard(part.as_bytes(), name.as_bytes()) {
                    next.push(entry.path());
                }
            }
        }
        paths = next;
    }
    paths.retain(|p| p.is_file());
    paths.sort();
    paths
}

/// fnmatch without the path rules: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(b'['), Some(&c)) => {
            let Some(end) = pattern.iter().skip(1).position(|&b| b == b']') else {
                return false;
            };
            let class = &pattern[1..end + 1];
            let (negate, class) = match class.first() {
                Some(b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && wildcard(&pattern[end + 2..], &name[1..])
        }
        (Some(&p), Some(&c)) => p == c && wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expand_as_supervisord_expands_them() {
        let vars = vars(
            Path::new("/etc/sv"),
            &[("program_name", "web".into()), ("process_num", "3".into())],
        );
        assert_eq!(
            expand("%(program_name)s_%(process_num)02d", &vars).unwrap(),
            "web_03"
        );
        assert_eq!(
            expand("%(here)s/app 100%%", &vars).unwrap(),
            "/etc/sv/app 100%"
        );
        assert!(expand("%(nope)s", &vars).is_err());
    }

    #[test]
    fn environment_reads_quoted_and_bare_values() {
        assert_eq!(
            environment("A=\"x, y\",B=plain, C='q'").unwrap(),
            [
                ("A".into(), "x, y".into()),
                ("B".into(), "plain".into()),
                ("C".into(), "q".into())
            ]
        );
    }

    #[test]
    fn wildcards_match_like_fnmatch() {
        assert!(wildcard(b"*.conf", b"a.conf"));
        assert!(!wildcard(b"*.conf", b"a.ini"));
        assert!(wildcard(b"bot-[0-9]?.ini", b"bot-4x.ini"));
        assert!(!wildcard(b"[!a]*", b"abc"));
    }

    #[test]
    fn ini_reads_comments_continuations_and_colons() {
        let text = "; top\n[program:a]\ncommand = sh -c 'x' ; inline\nenvironment=A=1,\n  B=2\nuser: bob\n";
        let s = parse_ini(text, Path::new("x.conf")).unwrap();
        assert_eq!(s[0].values["command"], "sh -c 'x'");
        assert_eq!(s[0].values["environment"], "A=1,\nB=2");
        assert_eq!(s[0].values["user"], "bob");
    }
}
