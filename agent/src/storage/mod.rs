//! Storage: bots made from shared templates by symbolic links, per-owner usage and quotas,
//! and the cleanup plan. All deletion goes through `fsops`, which never follows a link.

pub mod cleanup;
pub mod fsops;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use botctl_proto::Paths;
use botctl_proto::config::{BotConfig, TEMPLATE_FILE, TemplateConfig};
use botctl_proto::fsread;

/// Makes `bots/OWNER/NAME/` from a template: a link to every template entry that is not
/// copied or made per bot, a copy of each `copy` entry, an empty dir for each `dirs` entry.
/// Built under a temporary name and renamed into place, so a failure leaves nothing behind.
pub fn create_bot_dir(
    paths: &Paths,
    template: &TemplateConfig,
    owner: &str,
    name: &str,
) -> Result<PathBuf, String> {
    let template_dir = std::fs::canonicalize(paths.templates_dir.join(&template.name))
        .map_err(|e| format!("template {}: {e}", template.name))?;
    let owner_dir = paths.bots_root.join(owner);
    let target = owner_dir.join(name);
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(format!(
            "{} already exists: remove it (botctl cleanup shows orphaned bot directories) or pick another name",
            paths.display(&target)
        ));
    }
    std::fs::create_dir_all(&owner_dir)
        .map_err(|e| format!("creating {}: {e}", paths.display(&owner_dir)))?;
    let staging_name = format!(".{name}.creating-{}", std::process::id());
    let staging = owner_dir.join(&staging_name);
    let result = fill(&template_dir, template, &staging).and_then(|()| {
        std::fs::rename(&staging, &target)
            .map_err(|e| format!("moving the new bot directory into place: {e}"))
    });
    if let Err(e) = result {
        let _ = fsops::remove_under(&owner_dir, Path::new(&staging_name), false);
        return Err(e);
    }
    Ok(target)
}

fn fill(template_dir: &Path, template: &TemplateConfig, dir: &Path) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let per_bot: Vec<&str> = template
        .copy
        .iter()
        .chain(&template.dirs)
        .map(|s| first_component(s))
        .collect();
    let entries = std::fs::read_dir(template_dir)
        .map_err(|e| format!("reading template {}: {e}", template.name))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading template {}: {e}", template.name))?;
        let file_name = entry.file_name();
        let Some(entry_name) = file_name.to_str() else {
            continue;
        };
        if entry_name == TEMPLATE_FILE || per_bot.contains(&entry_name) {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), dir.join(entry_name))
            .map_err(|e| format!("linking {entry_name}: {e}"))?;
    }
    for rel in &template.copy {
        let from = template_dir.join(rel);
        let to = dir.join(rel);
        copy_tree(&from, &to).map_err(|e| format!("copying {rel}: {e}"))?;
    }
    for rel in &template.dirs {
        std::fs::create_dir_all(dir.join(rel)).map_err(|e| format!("making {rel}: {e}"))?;
    }
    Ok(())
}

fn first_component(rel: &str) -> &str {
    rel.split('/').next().unwrap_or(rel)
}

/// Copies a file, or a directory recursively; links inside are copied as links.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else if meta.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        // Only a regular file is copied, and only the size it had when opened: a FIFO would
        // hang the copy and a device (or a file still growing) would fill the disk.
        let (src, size) = fsread::open_regular(from).map_err(std::io::Error::other)?;
        let permissions = src.metadata()?.permissions();
        let mut dst = std::fs::File::create(to)?;
        std::io::copy(&mut std::io::Read::take(src, size), &mut dst)?;
        dst.set_permissions(permissions)
    }
}

/// The bytes a new bot of this template adds: its copies.
pub fn copies_size(paths: &Paths, template: &TemplateConfig) -> u64 {
    let dir = paths.templates_dir.join(&template.name);
    template
        .copy
        .iter()
        .map(|rel| {
            let p = dir.join(rel);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => fsops::usage(&p).map(|u| u.bytes).unwrap_or(0),
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        })
        .sum()
}

/// Templates by name, with their parse problems.
pub fn templates(paths: &Paths) -> Vec<Result<TemplateConfig, (String, String)>> {
    let Ok(entries) = std::fs::read_dir(&paths.templates_dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            botctl_proto::config::load_template(&e.path()).map_err(|err| (name, err.to_string()))
        })
        .collect();
    out.sort_by_key(|t| match t {
        Ok(t) => t.name.clone(),
        Err((name, _)) => name.clone(),
    });
    out
}

/// What one owner's bots take: `bots/OWNER/` (links count as links, hard links once) plus the
/// logs of the owner's bots.
pub fn owner_usage(paths: &Paths, owner: &str, bots: &[&BotConfig]) -> u64 {
    let mut counter = fsops::UsageCounter::new();
    let dir = paths.bots_root.join(owner);
    if dir.is_dir() {
        let _ = counter.add(&dir);
    }
    counter.total().bytes + bots.iter().map(|b| log_bytes(paths, &b.name)).sum::<u64>()
}

/// Bytes of a bot's logs, rotated copies included.
pub fn log_bytes(paths: &Paths, name: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(&paths.logs_dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            log_owner(&n) == Some(name)
        })
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// `NAME.out`, `NAME.err.3` -> `NAME`.
pub fn log_owner(file: &str) -> Option<&str> {
    let (stem, rest) = file
        .split_once(".out")
        .or_else(|| file.split_once(".err"))?;
    let rotation_ok = rest.is_empty()
        || rest
            .strip_prefix('.')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    rotation_ok.then_some(stem)
}

/// What the links of one bot save compared with full copies: the size of the template
/// entries it links to.
pub fn saved_by_links(paths: &Paths, bot: &BotConfig, cache: &mut BTreeMap<PathBuf, u64>) -> u64 {
    let dir = match &bot.cwd {
        Some(_) => return 0,
        None => paths.bot_dir(&bot.user, &bot.name),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let templates = std::fs::canonicalize(&paths.templates_dir).unwrap_or_default();
    let mut saved = 0;
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_symlink()) {
            continue;
        }
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !target.starts_with(&templates) {
            continue;
        }
        saved += *cache.entry(target.clone()).or_insert_with(|| {
            match std::fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => fsops::usage(&target).map(|u| u.bytes).unwrap_or(0),
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        });
    }
    saved
}

/// A bot's working directory: its `cwd` (relative to the home) or `bots/OWNER/NAME`.
pub fn bot_cwd(paths: &Paths, c: &BotConfig) -> PathBuf {
    paths.bot_cwd(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_owner_reads_rotations() {
        assert_eq!(log_owner("bot.out"), Some("bot"));
        assert_eq!(log_owner("bot-2.err.3"), Some("bot-2"));
        assert_eq!(log_owner("agent.log"), None);
        assert_eq!(log_owner("bot.out.x"), None);
    }

    #[test]
    fn a_bot_from_a_template_links_copies_and_makes_dirs() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under(home.path());
        let tdir = paths.templates_dir.join("py");
        std::fs::create_dir_all(tdir.join("lib")).unwrap();
        std::fs::write(tdir.join("bot.py"), "print(1)").unwrap();
        std::fs::write(tdir.join("lib/x.py"), "x").unwrap();
        std::fs::write(tdir.join("config.json"), "{}").unwrap();
        std::fs::write(
            tdir.join(TEMPLATE_FILE),
            "command = [\"python3\", \"bot.py\"]\ncopy = [\"config.json\"]\ndirs = [\"data\", \"tmp\"]\n",
        )
        .unwrap();
        let t = botctl_proto::config::load_template(&tdir).unwrap();
        let dir = create_bot_dir(&paths, &t, "alice", "one").unwrap();
        assert!(
            std::fs::symlink_metadata(dir.join("bot.py"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(dir.join("lib"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(dir.join("config.json"))
                .unwrap()
                .is_file()
        );
        assert!(dir.join("data").is_dir() && dir.join("tmp").is_dir());
        assert!(!dir.join(TEMPLATE_FILE).exists());
        assert!(
            create_bot_dir(&paths, &t, "alice", "one").is_err(),
            "never over an existing dir"
        );

        // A copy that cannot be made leaves nothing behind.
        let mut broken = t.clone();
        broken.copy = vec!["missing.json".into()];
        assert!(create_bot_dir(&paths, &broken, "alice", "two").is_err());
        let left: Vec<_> = std::fs::read_dir(paths.bots_root.join("alice"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("one")]);

        // Nor is anything but a regular file copied (links are copied as links): a FIFO
        // would hang the copy.
        nix::unistd::mkfifo(&tdir.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let mut odd = t.clone();
        odd.copy = vec!["fifo".into()];
        assert_eq!(
            create_bot_dir(&paths, &odd, "alice", "three"),
            Err("copying fifo: is a FIFO, not a regular file".into())
        );
    }
}
