//! The cleanup plan: old temp files, orphaned bot directories, dangling links and old logs,
//! found under the managed roots only (bots/, logs/, tmp/); and carrying out a plan safely.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use botctl_proto::human::duration as format_duration;
use botctl_proto::{CleanupItem, Paths};

use super::fsops;

/// What the fleet looks like to the planner.
pub struct Fleet<'a> {
    /// Bots with a valid configuration: (name, owner, working directory, running).
    pub bots: Vec<(&'a str, &'a str, PathBuf, bool)>,
    /// Names with a bots.d file, valid or not: their directories are never orphans.
    pub files: BTreeSet<String>,
}

pub struct Settings {
    pub temp_max_age: Duration,
    pub orphan_grace: Duration,
    pub keep_logs: u32,
}

/// Leftovers of an interrupted `bots create` older than this are removed.
const STAGING_GRACE: Duration = Duration::from_secs(3600);

pub fn plan(paths: &Paths, s: &Settings, fleet: &Fleet, owner: Option<&str>) -> Vec<CleanupItem> {
    let now = now_secs();
    let mut items = Vec::new();
    let owners = match std::fs::read_dir(&paths.bots_root) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|o| owner.is_none_or(|want| want == o))
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    for o in &owners {
        let owner_dir = paths.bots_root.join(o);
        let Ok(entries) = std::fs::read_dir(&owner_dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            // Only real directories: a link here is not ours to judge or follow.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let dir = entry.path();
            let rel = format!("bots/{o}/{name}");
            let bot = fleet.bots.iter().find(|(_, _, cwd, _)| *cwd == dir);
            match bot {
                Some((_, _, _, running)) => {
                    temp_files(&dir.join("tmp"), &format!("{rel}/tmp"), s, now, &mut items);
                    if !running {
                        dangling(&dir, &rel, &mut items);
                    }
                }
                None if name.starts_with('.') && name.contains(".creating-") => {
                    if untouched_for(&dir, now) >= STAGING_GRACE {
                        items.push(item(
                            "orphan",
                            &rel,
                            &dir,
                            "left by an interrupted `bots create`".into(),
                        ));
                    }
                }
                None if fleet.files.contains(&name)
                    || fleet
                        .bots
                        .iter()
                        .any(|(_, _, cwd, _)| cwd.starts_with(&dir)) => {}
                None => {
                    let idle = untouched_for(&dir, now);
                    if idle >= s.orphan_grace {
                        items.push(item(
                            "orphan",
                            &rel,
                            &dir,
                            format!(
                                "no bots.d/{name}.toml for owner {o}; untouched for {}",
                                format_duration(round(idle))
                            ),
                        ));
                    }
                }
            }
        }
    }
    if owner.is_none() {
        temp_files(&paths.home.join("tmp"), "tmp", s, now, &mut items);
    }
    old_logs(paths, s, fleet, owner, now, &mut items);
    items
}

fn item(kind: &str, rel: &str, path: &Path, reason: String) -> CleanupItem {
    let bytes = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fsops::usage(path).map(|u| u.bytes).unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    CleanupItem {
        kind: kind.into(),
        path: rel.into(),
        bytes,
        reason,
    }
}

fn temp_files(dir: &Path, rel: &str, s: &Settings, now: i64, items: &mut Vec<CleanupItem>) {
    // A tmp that is a link (into a template, or anywhere) is never entered.
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return;
    }
    let Ok(files) = fsops::old_files(dir, s.temp_max_age.as_secs() as i64, now) else {
        return;
    };
    for (file, bytes) in files {
        items.push(CleanupItem {
            kind: "temp".into(),
            path: format!("{rel}/{}", file.display()),
            bytes,
            reason: format!(
                "temp file older than {} (temp_max_age)",
                format_duration(s.temp_max_age)
            ),
        });
    }
}

fn dangling(dir: &Path, rel: &str, items: &mut Vec<CleanupItem>) {
    let Ok(links) = fsops::dangling_links(dir) else {
        return;
    };
    for link in links {
        let target = std::fs::read_link(dir.join(&link))
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        items.push(CleanupItem {
            kind: "dangling-link".into(),
            path: format!("{rel}/{}", link.display()),
            bytes: 0,
            reason: format!("link to missing {target}"),
        });
    }
}

fn old_logs(
    paths: &Paths,
    s: &Settings,
    fleet: &Fleet,
    owner: Option<&str>,
    now: i64,
    items: &mut Vec<CleanupItem>,
) {
    let Ok(entries) = std::fs::read_dir(&paths.logs_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(bot) = super::log_owner(&file) else {
            continue;
        };
        let rotation: Option<u32> = file.rsplit('.').next().and_then(|n| n.parse().ok());
        let known = fleet.bots.iter().find(|(name, _, _, _)| *name == bot);
        if let Some(want) = owner
            && known.is_none_or(|(_, o, _, _)| *o != want)
        {
            continue;
        }
        let rel = format!("logs/{file}");
        let path = entry.path();
        match (known, rotation) {
            (Some(_), Some(n)) if n > s.keep_logs => items.push(item(
                "old-log",
                &rel,
                &path,
                format!("rotated log beyond [logs] keep = {}", s.keep_logs),
            )),
            (None, _) if !fleet.files.contains(bot) => {
                let idle = untouched_for(&path, now);
                if idle >= s.orphan_grace {
                    items.push(item(
                        "old-log",
                        &rel,
                        &path,
                        format!(
                            "log of a bot that no longer exists; untouched for {}",
                            format_duration(round(idle))
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// How long since a path or any of its direct entries changed.
fn untouched_for(path: &Path, now: i64) -> Duration {
    let mut newest = std::fs::symlink_metadata(path)
        .map(|m| m.mtime())
        .unwrap_or(now);
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            if let Ok(m) = e.metadata() {
                newest = newest.max(m.mtime());
            }
        }
    }
    Duration::from_secs((now - newest).max(0) as u64)
}

fn round(d: Duration) -> Duration {
    let s = d.as_secs();
    let unit = match s {
        0..3600 => 60,
        3600..86_400 => 3600,
        _ => 86_400,
    };
    Duration::from_secs(s / unit * unit)
}

fn now_secs() -> i64 {
    botctl_proto::now_ms() / 1000
}

/// Removes each item that is still in `fresh` (a plan made just now): anything that changed
/// since the preview is left alone. Returns what was removed and what failed, with why.
pub fn apply(
    paths: &Paths,
    fresh: &[CleanupItem],
    items: &[CleanupItem],
) -> (Vec<CleanupItem>, u64, Vec<(String, String)>) {
    let mut removed = Vec::new();
    let mut freed = 0;
    let mut failed = Vec::new();
    for it in items {
        let Some(current) = fresh
            .iter()
            .find(|f| f.kind == it.kind && f.path == it.path)
        else {
            failed.push((
                it.path.clone(),
                "no longer in the cleanup plan; left alone".into(),
            ));
            continue;
        };
        let Some((root, rel)) = root_of(paths, &current.path) else {
            failed.push((
                it.path.clone(),
                "outside the managed roots; left alone".into(),
            ));
            continue;
        };
        match fsops::remove_under(&root, Path::new(rel), false) {
            Ok(f) => {
                freed += f.bytes;
                removed.push(CleanupItem {
                    bytes: f.bytes,
                    ..current.clone()
                });
            }
            Err(e) => failed.push((it.path.clone(), e.to_string())),
        }
    }
    (removed, freed, failed)
}

/// The managed root a plan path lives under, and the path relative to it.
fn root_of<'p>(paths: &Paths, path: &'p str) -> Option<(PathBuf, &'p str)> {
    let (first, rest) = path.split_once('/')?;
    let root = match first {
        "bots" => paths.bots_root.clone(),
        "logs" => paths.logs_dir.clone(),
        "tmp" => paths.home.join("tmp"),
        _ => return None,
    };
    (!rest.is_empty()).then_some((root, rest))
}
