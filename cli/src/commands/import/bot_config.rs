//! The Messenger bot host's JSON configuration (`resourceManagement`, `storageOptimization`,
//! `botRecovery`) merged into botctl.toml, keeping everything else the file already says.

use std::path::Path;

use botctl_proto::config::{self, Dur};
use serde::Serialize;
use serde_json::Value;

use super::{Unmapped, mib, millis};
use crate::CliError;
use crate::client::Target;
use crate::render;

/// What a setting of the JSON becomes in botctl.toml.
enum Becomes {
    Count,
    Mib,
    Percent,
    Duration,
    /// `enabled: false` turns automatic restarts off.
    PolicyFromEnabled,
}

/// Each known field of the JSON: its section, its key there, and botctl.toml's place for it.
const MAPPED: &[(&str, &str, &str, &str, Becomes)] = &[
    (
        "resourceManagement",
        "maxBotsPerUser",
        "limits",
        "max_bots_per_user",
        Becomes::Count,
    ),
    (
        "resourceManagement",
        "maxTotalBots",
        "limits",
        "max_total_bots",
        Becomes::Count,
    ),
    (
        "resourceManagement",
        "maxMemoryPerBot",
        "limits",
        "max_memory_mb",
        Becomes::Mib,
    ),
    (
        "resourceManagement",
        "memoryThreshold",
        "limits",
        "memory_threshold_percent",
        Becomes::Percent,
    ),
    (
        "resourceManagement",
        "maxCpuPerBot",
        "limits",
        "max_cpu_percent",
        Becomes::Count,
    ),
    (
        "resourceManagement",
        "diskThreshold",
        "limits",
        "max_disk_percent",
        Becomes::Percent,
    ),
    (
        "storageOptimization",
        "maxStoragePerUser",
        "limits",
        "storage_quota_mb",
        Becomes::Mib,
    ),
    (
        "storageOptimization",
        "diskThreshold",
        "limits",
        "max_disk_percent",
        Becomes::Percent,
    ),
    (
        "storageOptimization",
        "cleanupInterval",
        "agent",
        "cleanup_interval",
        Becomes::Duration,
    ),
    (
        "storageOptimization",
        "tempFileMaxAge",
        "cleanup",
        "temp_max_age",
        Becomes::Duration,
    ),
    (
        "storageOptimization",
        "orphanGracePeriod",
        "cleanup",
        "orphan_grace",
        Becomes::Duration,
    ),
    (
        "storageOptimization",
        "maxLogSize",
        "logs",
        "max_size_mb",
        Becomes::Mib,
    ),
    (
        "storageOptimization",
        "maxLogFiles",
        "logs",
        "keep",
        Becomes::Count,
    ),
    (
        "botRecovery",
        "enabled",
        "restart",
        "policy",
        Becomes::PolicyFromEnabled,
    ),
    (
        "botRecovery",
        "maxRestarts",
        "restart",
        "max_restarts",
        Becomes::Count,
    ),
    (
        "botRecovery",
        "restartDelay",
        "restart",
        "backoff_initial",
        Becomes::Duration,
    ),
    (
        "botRecovery",
        "maxRestartDelay",
        "restart",
        "backoff_max",
        Becomes::Duration,
    ),
    (
        "botRecovery",
        "restartWindow",
        "restart",
        "window",
        Becomes::Duration,
    ),
    (
        "botRecovery",
        "cooldownPeriod",
        "restart",
        "retry_after",
        Becomes::Duration,
    ),
    (
        "botRecovery",
        "minUptime",
        "restart",
        "stable_after",
        Becomes::Duration,
    ),
    (
        "botRecovery",
        "healthCheckInterval",
        "agent",
        "health_interval",
        Becomes::Duration,
    ),
];

/// Known fields with no botctl setting, and why.
const KNOWN_UNMAPPED: &[(&str, &str, &str)] = &[
    (
        "storageOptimization",
        "enabled",
        "botctl always cleans up, every cleanup_interval ([agent])",
    ),
    (
        "storageOptimization",
        "compressLogs",
        "botctl keeps rotated logs uncompressed",
    ),
    (
        "storageOptimization",
        "useSymlinks",
        "templates share their code by links: `botctl bots create`",
    ),
    (
        "storageOptimization",
        "sharedTemplates",
        "templates share their code by links: `botctl bots create`",
    ),
    (
        "botRecovery",
        "backoffMultiplier",
        "botctl doubles the delay after each quick failure",
    ),
];

#[derive(Serialize)]
struct Change {
    /// `limits.max_memory_mb`.
    field: String,
    from: String,
    old: Option<String>,
    new: String,
}

#[derive(Serialize)]
struct Report<'a> {
    written: bool,
    path: String,
    changes: &'a [Change],
    unmapped: &'a [Unmapped],
    content: &'a str,
}

pub fn run(
    target: &Target,
    file: &Path,
    write: bool,
    force: bool,
    json: bool,
) -> Result<(), CliError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::failed(format!("cannot read {shown}: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::failed(format!("{shown}: invalid JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(CliError::failed(format!("{shown}: expected a JSON object")));
    };
    let mut unmapped = Vec::new();
    let mut note = |field: String, reason: &str| {
        unmapped.push(Unmapped {
            source: shown.clone(),
            field,
            reason: reason.to_string(),
        })
    };
    let mut settings: Vec<(String, &str, &str, toml_edit::Value)> = Vec::new();
    for (section, body) in &top {
        let Some(Value::Object(body)) = MAPPED.iter().any(|m| m.0 == section).then_some(body)
        else {
            note(
                section.clone(),
                "not read: only resourceManagement, storageOptimization and botRecovery map to botctl.toml",
            );
            continue;
        };
        for (key, v) in body {
            let field = format!("{section}.{key}");
            if let Some((.., reason)) = KNOWN_UNMAPPED.iter().find(|u| u.0 == section && u.1 == key)
            {
                note(field, reason);
                continue;
            }
            let Some((_, _, table, name, becomes)) =
                MAPPED.iter().find(|m| m.0 == section && m.1 == key)
            else {
                note(field, "no botctl equivalent");
                continue;
            };
            match convert(v, becomes) {
                Some(Some(value)) => settings.push((field, table, name, value)),
                Some(None) => {}
                None => note(field, &format!("{v} is not {}", expected(becomes))),
            }
        }
    }
    let paths = &target.paths;
    let old_text = match std::fs::read_to_string(&paths.config_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read {}: {e}",
                paths.config_file.display()
            )));
        }
    };
    let mut doc: toml_edit::DocumentMut = old_text.parse().map_err(|e| {
        CliError::failed(format!(
            "cannot merge into {}: it is not valid TOML ({e}); fix it first (`botctl config check`)",
            paths.config_file.display()
        ))
    })?;
    let mut changes: Vec<Change> = Vec::new();
    for (from, table, key, value) in settings {
        let old = doc
            .get(table)
            .and_then(|t| t.get(key))
            .and_then(|i| i.as_value())
            .map(|v| v.to_string().trim().to_string());
        let new = value.to_string().trim().to_string();
        if old.as_deref() == Some(new.as_str()) {
            continue;
        }
        if doc.get(table).is_none() {
            // A section of its own, as a person writes it, not an inline table.
            doc.insert(table, toml_edit::Item::Table(toml_edit::Table::new()));
        }
        doc[table][key] = toml_edit::Item::Value(value.decorated(" ", ""));
        changes.push(Change {
            field: format!("{table}.{key}"),
            from,
            old,
            new,
        });
    }
    let new_text = doc.to_string();
    // The result is read back by botctl's own parser: a merge never leaves a file the agent
    // would refuse.
    config::check_global_text(&paths.config_file, &new_text).map_err(|problems| {
        let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
        CliError::failed(format!(
            "the merged botctl.toml would not parse: {}",
            all.join("; ")
        ))
    })?;
    let replaced: Vec<&str> = changes
        .iter()
        .filter(|c| c.old.is_some())
        .map(|c| c.field.as_str())
        .collect();
    if write && !force && !replaced.is_empty() {
        return Err(CliError::failed(format!(
            "{} already gives {} another value: nothing written; --force replaces it",
            paths.display(&paths.config_file),
            replaced.join(", ")
        )));
    }
    if write && !changes.is_empty() {
        super::write_with_mode(&paths.config_file, new_text.as_bytes(), 0o600).map_err(|e| {
            CliError::failed(format!("cannot write {}: {e}", paths.config_file.display()))
        })?;
    }
    let path = paths.display(&paths.config_file);
    if json {
        render::print_json(&Report {
            written: write && !changes.is_empty(),
            path,
            changes: &changes,
            unmapped: &unmapped,
            content: &new_text,
        });
        return Ok(());
    }
    if changes.is_empty() {
        println!("{path}: already says all of it; nothing to change");
    } else {
        let verb = if write { "changed" } else { "would change" };
        println!("{verb} {path}:");
        for c in &changes {
            match &c.old {
                Some(old) => println!("  ~ {} = {} (was {old}; from {})", c.field, c.new, c.from),
                None => println!("  + {} = {} (from {})", c.field, c.new, c.from),
            }
        }
        println!("the result:");
        for line in new_text.lines() {
            println!("    {line}");
        }
    }
    super::print_unmapped(&unmapped);
    if write {
        if !changes.is_empty() {
            println!("written: `botctl reload` applies it.");
        }
    } else if !changes.is_empty() {
        let force = if replaced.is_empty() { "" } else { " --force" };
        println!(
            "nothing written: run again with --write{force} to write it; then `botctl reload` applies it."
        );
    }
    Ok(())
}

fn expected(becomes: &Becomes) -> &'static str {
    match becomes {
        Becomes::Count => "a whole number",
        Becomes::Mib => "a size (a number of MB, or \"512MB\", \"1GB\")",
        Becomes::Percent => "a percentage (85, \"85%\" or 0.85)",
        Becomes::Duration => "a duration (milliseconds, or \"30s\")",
        Becomes::PolicyFromEnabled => "true or false",
    }
}

/// The TOML value for `v`; `Some(None)` when it says what botctl does anyway, None when it
/// cannot be read.
fn convert(v: &Value, becomes: &Becomes) -> Option<Option<toml_edit::Value>> {
    let value = match becomes {
        Becomes::Count => toml_edit::Value::from(i64::try_from(v.as_u64()?).ok()?),
        Becomes::Mib => {
            let text = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return None,
            };
            toml_edit::Value::from(i64::try_from(mib(&text, 1 << 20)?).ok()?)
        }
        Becomes::Percent => {
            let n = match v {
                Value::Number(n) => n.as_f64()?,
                Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok()?,
                _ => return None,
            };
            // A fraction (0.85) or a percentage (85).
            let percent = if n > 0.0 && n <= 1.0 { n * 100.0 } else { n };
            let percent = percent.round();
            if !(1.0..=100.0).contains(&percent) {
                return None;
            }
            toml_edit::Value::from(percent as i64)
        }
        Becomes::Duration => toml_edit::Value::from(Dur(millis(v)?).to_string()),
        Becomes::PolicyFromEnabled => match v.as_bool()? {
            true => return Some(None),
            false => toml_edit::Value::from("never"),
        },
    };
    Some(Some(value))
}
