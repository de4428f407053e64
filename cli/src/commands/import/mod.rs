//! `botctl import`: another supervisor's configuration (PM2, supervisord, the Messenger bot
//! host's JSON) turned into botctl files; a preview by default, `--write` writes them.

mod bot_config;
mod pm2;
mod supervisord;

use std::path::{Path, PathBuf};
use std::time::Duration;

use botctl_proto::config::{self, BotConfig};
use serde::Serialize;

use crate::CliError;
use crate::client::Target;
use crate::render;

pub use bot_config::run as bot_config;

/// What every bot import takes from the command line.
pub struct Options {
    pub owner: Option<String>,
    pub write: bool,
    pub force: bool,
    pub json: bool,
}

/// A setting of the source that did not become botctl configuration, and why: shown in the
/// preview and after writing, so nothing is dropped silently.
#[derive(Debug, Clone, Serialize)]
pub struct Unmapped {
    /// The file and the entry in it (`ecosystem.config.js app "api"`).
    pub source: String,
    pub field: String,
    pub reason: String,
}

/// One bot an importer made, and the entry it came from.
pub struct Imported {
    pub bot: BotConfig,
    pub source: String,
}

/// What an importer found in its files.
#[derive(Default)]
pub struct Found {
    pub bots: Vec<Imported>,
    pub unmapped: Vec<Unmapped>,
}

impl Found {
    /// Says once why `field` of `source` was not mapped (a note repeated for each process of
    /// one entry is shown once).
    pub fn note(&mut self, source: &str, field: impl Into<String>, reason: impl Into<String>) {
        let note = Unmapped {
            source: source.to_string(),
            field: field.into(),
            reason: reason.into(),
        };
        if !self
            .unmapped
            .iter()
            .any(|u| u.source == note.source && u.field == note.field && u.reason == note.reason)
        {
            self.unmapped.push(note);
        }
    }
}

/// The tool a bot import reads.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Pm2,
    Supervisord,
}

impl Source {
    fn command(self) -> &'static str {
        match self {
            Source::Pm2 => "botctl import pm2",
            Source::Supervisord => "botctl import supervisord",
        }
    }
}

pub fn pm2(
    target: &Target,
    file: &Path,
    env: Option<&str>,
    opts: &Options,
) -> Result<(), CliError> {
    let owner = owner(opts)?;
    let found = pm2::read(file, env, &owner).map_err(CliError::failed)?;
    finish(target, Source::Pm2, found, opts)
}

pub fn supervisord(target: &Target, files: &[PathBuf], opts: &Options) -> Result<(), CliError> {
    let found =
        supervisord::read(files, opts.owner.as_deref(), &owner(opts)?).map_err(CliError::failed)?;
    finish(target, Source::Supervisord, found, opts)
}

/// `--owner`, or whoever runs the command.
fn owner(opts: &Options) -> Result<String, CliError> {
    let owner = match &opts.owner {
        Some(o) => o.clone(),
        None => crate::systemd::invoking_user()
            .ok_or_else(|| CliError::failed("cannot tell who you are: pass --owner OWNER"))?,
    };
    if !config::valid_owner_name(&owner) {
        return Err(CliError::failed(format!(
            "invalid owner {owner:?}: use letters, digits, _, . and -, e.g. --owner alice"
        )));
    }
    Ok(owner)
}

/// One file the import writes (or would write).
#[derive(Serialize)]
struct Planned {
    bot: String,
    path: String,
    source: String,
    /// A bot of this name already has a file: `--write` needs `--force`.
    exists: bool,
    /// The file as written, with `env` values hidden.
    content: String,
    #[serde(skip)]
    text: String,
    #[serde(skip)]
    full_path: PathBuf,
}

#[derive(Serialize)]
struct Report<'a> {
    written: bool,
    files: &'a [Planned],
    unmapped: &'a [Unmapped],
}

fn finish(target: &Target, source: Source, found: Found, opts: &Options) -> Result<(), CliError> {
    let paths = &target.paths;
    let mut planned: Vec<Planned> = Vec::new();
    for Imported { bot, source: from } in found.bots {
        if let Some(other) = planned.iter().find(|p| p.bot == bot.name) {
            return Err(CliError::failed(format!(
                "{from} and {} would both be the bot {:?}: rename one of them",
                other.source, bot.name
            )));
        }
        let full_path = paths.bot_file(&bot.name);
        let header = format!("# Imported by `{}` from {from}.\n", source.command());
        let text = format!("{header}{}", bot.to_toml());
        // What botctl will read back is checked with botctl's own parser: an import never
        // writes a file that `config check` or the agent would refuse.
        config::check_bot_text(&bot.name, &full_path, &text).map_err(|problems| {
            let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
            CliError::failed(format!(
                "the file made from {from} does not parse: {}",
                all.join("; ")
            ))
        })?;
        let mut hidden = bot.clone();
        for value in hidden.env.values_mut() {
            *value = "(hidden)".to_string();
        }
        planned.push(Planned {
            path: paths.display(&full_path),
            exists: full_path.exists(),
            content: format!("{header}{}", hidden.to_toml()),
            bot: bot.name,
            source: from,
            text,
            full_path,
        });
    }
    if planned.is_empty() {
        return Err(CliError::failed("found no program to import"));
    }
    let clashes: Vec<&str> = planned
        .iter()
        .filter(|p| p.exists)
        .map(|p| p.path.as_str())
        .collect();
    if opts.write && !opts.force && !clashes.is_empty() {
        return Err(CliError::failed(format!(
            "{} already exist(s): nothing written; --force overwrites",
            clashes.join(", ")
        )));
    }
    if opts.write {
        for p in &planned {
            write_private(&p.full_path, &p.text).map_err(|e| {
                CliError::failed(format!("cannot write {}: {e}", p.full_path.display()))
            })?;
        }
    }
    if opts.json {
        render::print_json(&Report {
            written: opts.write,
            files: &planned,
            unmapped: &found.unmapped,
        });
        return Ok(());
    }
    for p in &planned {
        let verb = match (opts.write, p.exists) {
            (true, true) => "overwrote",
            (true, false) => "wrote",
            (false, true) => "would overwrite (needs --force)",
            (false, false) => "would write",
        };
        println!("{verb} {} (from {}):", p.path, p.source);
        for line in p.content.lines() {
            println!("    {line}");
        }
    }
    print_unmapped(&found.unmapped);
    if planned.iter().any(|p| p.content != p.text) {
        println!("(env values are hidden here; the files hold them, mode 0600)");
    }
    if opts.write {
        println!(
            "{} bot file(s) written: `botctl config check`, then `botctl reload` starts them.",
            planned.len()
        );
    } else {
        println!(
            "nothing written: run again with --write to write {} bot file(s); then `botctl reload` starts them.",
            planned.len()
        );
    }
    Ok(())
}

fn print_unmapped(unmapped: &[Unmapped]) {
    if unmapped.is_empty() {
        println!("every field was mapped");
        return;
    }
    println!("not mapped ({}):", unmapped.len());
    for u in unmapped {
        println!("  {}: {}: {}", u.source, u.field, u.reason);
    }
}

/// Writes `text` to `path` with mode 0600 (a bot file may hold `env` secrets), through a
/// hidden temporary file in the same directory so that a reader never sees half a file.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    write_with_mode(path, text.as_bytes(), 0o600)
}

pub(crate) fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    // The mode of an existing temporary file is not changed by open.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A bot name from another tool's name: lowercase, and `-` for what a bot name cannot hold.
pub fn bot_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let start = name
        .find(|c: char| c.is_ascii_alphanumeric())
        .unwrap_or(name.len());
    name.drain(..start);
    name.truncate(64);
    if name.is_empty() {
        name = "bot".to_string();
    }
    name
}

/// Milliseconds as another tool writes them: a number, or a string of digits, or a string
/// with botctl's units (`"30s"`).
pub fn millis(value: &serde_json::Value) -> Option<Duration> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().map(Duration::from_millis),
        serde_json::Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) => {
            s.parse().ok().map(Duration::from_millis)
        }
        serde_json::Value::String(s) => config::parse_duration(s).ok(),
        _ => None,
    }
}

/// A size with a unit (`"200M"`, `"1G"`, `"512MB"`, `"300K"`) in whole MiB, rounded up;
/// `bare` is what a number without a unit counts in, in bytes.
pub fn mib(text: &str, bare: u64) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: f64 = number.parse().ok()?;
    let unit_bytes: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" => bare,
        "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return None,
    };
    let bytes = number * unit_bytes as f64;
    let mib = (bytes / (1u64 << 20) as f64).ceil() as u64;
    (1..=config::MAX_MIB).contains(&mib).then_some(mib)
}

/// A variable value as another tool may write it: strings as they are, numbers and booleans
/// as their text.
pub fn env_value(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Adds `key=value` to the bot's env unless botctl refuses the name (noted instead).
pub fn add_env(found: &mut Found, source: &str, bot: &mut BotConfig, key: &str, value: String) {
    match config::env_key_problem(key) {
        Some(problem) => found.note(source, format!("env.{key}"), problem),
        None => {
            bot.env.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_bot_names() {
        assert_eq!(bot_name("API Server"), "api-server");
        assert_eq!(bot_name("_worker.1"), "worker-1");
        assert_eq!(bot_name("!!!"), "bot");
        assert!(config::valid_bot_name(&bot_name(&"x".repeat(90))));
    }

    #[test]
    fn sizes_round_up_to_mib() {
        assert_eq!(mib("200M", 1), Some(200));
        assert_eq!(mib("1G", 1), Some(1024));
        assert_eq!(mib("300K", 1), Some(1));
        assert_eq!(mib("512MB", 1), Some(512));
        assert_eq!(mib("1.5G", 1), Some(1536));
        assert_eq!(mib("157286400", 1), Some(150));
        assert_eq!(mib("512", 1 << 20), Some(512));
        assert_eq!(mib("12 parsecs", 1), None);
    }

    #[test]
    fn millis_read_numbers_digit_strings_and_units() {
        use serde_json::json;
        assert_eq!(millis(&json!(1500)), Some(Duration::from_millis(1500)));
        assert_eq!(millis(&json!("2000")), Some(Duration::from_secs(2)));
        assert_eq!(millis(&json!("1m")), Some(Duration::from_secs(60)));
        assert_eq!(millis(&json!(true)), None);
    }
}
