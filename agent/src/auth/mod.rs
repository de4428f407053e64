//! Session mechanisms: cookie files (parsing, evaluation, probes: `cookies`), what an outcome
//! says, probe headers, and installing a cookie file. The monitor that uses them is
//! `loops::auth`. Cookie values never leave `cookies`.

pub mod cookies;

use std::path::Path;

use botctl_proto::config::{AuthConfig, Platform};
use botctl_proto::fsread;
use cookies::{Outcome, Secret};

pub fn platform(p: Platform) -> cookies::Platform {
    match p {
        Platform::Twitter => cookies::Platform::Twitter,
        Platform::Messenger => cookies::Platform::Messenger,
        Platform::Telegram => cookies::Platform::Telegram,
        Platform::Generic => cookies::Platform::Generic,
    }
}

/// What an outcome is about, never with a value.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Valid { .. } | Outcome::Expiring { .. } => String::new(),
        Outcome::Expired { names, .. } => format!("expired: {}", names.join(", ")),
        Outcome::Missing { names } => format!("missing: {}", names.join(", ")),
        Outcome::Malformed { location, message } => match location {
            Some(l) => format!("{l}: {message}"),
            None => message.clone(),
        },
        Outcome::Rejected { status } => format!("the platform answered {status}"),
        Outcome::Unknown { reason } => reason.clone(),
        Outcome::NoFile { path } => format!("no cookie file {path}"),
    }
}

/// The secret headers a probe sends: a TOML table of strings. Errors never quote a value.
pub fn probe_headers(cwd: &Path, auth: &AuthConfig) -> Result<Vec<(String, Secret)>, String> {
    let Some(file) = &auth.probe_headers_file else {
        return Ok(Vec::new());
    };
    let path = cwd.join(file);
    let text = fsread::read_regular_string(&path, fsread::PROBE_HEADERS_CAP)
        .map_err(|e| format!("cannot read {file}: {e}"))?;
    let table: toml::Table = text
        .parse()
        .map_err(|_| format!("{file} is not a TOML table of header = \"value\" lines"))?;
    table
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, Secret::new(s))),
            _ => Err(format!("{file}: header {k} must be a string")),
        })
        .collect()
}

/// Reads, validates and installs a cookie file for a bot: 0600, atomically.
pub fn install_cookies(source: &Path, dest: &Path) -> Result<(), String> {
    let text = fsread::read_regular_string(source, fsread::COOKIE_FILE_CAP)
        .map_err(|e| format!("{}: {e}", source.display()))?;
    cookies::parse(&text).map_err(|e| format!("{}: {e}", source.display()))?;
    crate::util::write_atomically(dest, &text)
        .map_err(|e| format!("writing {}: {e}", dest.display()))
}
