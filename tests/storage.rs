//! Storage as a user sees it: bots made from a template by links, quotas and limits, purge,
//! the storage report, and a cleanup that removes exactly its plan and nothing else.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::*;

/// A template `tw` of about `mb` MiB of shared code, a per-bot config copy and per-bot dirs.
fn template(home: &Home, mb: usize) {
    let dir = home.file("templates/tw");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    let blob: Vec<u8> = (0..mb * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("lib/blob.bin"), blob).unwrap();
    std::fs::write(dir.join("run.sh"), "echo started; exec sleep 1000\n").unwrap();
    std::fs::write(dir.join("config.json"), "{\"lang\": \"en\"}\n").unwrap();
    std::fs::write(
        dir.join("template.toml"),
        "description = \"test bot\"\ncommand = [\"sh\", \"run.sh\"]\ncopy = [\"config.json\"]\ndirs = [\"data\", \"tmp\"]\n",
    )
    .unwrap();
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn bots_from_a_template_share_its_code_by_links() {
    let home = Home::fast();
    template(&home, 1);
    home.botctl(&[
        "bots",
        "create",
        "tw1",
        "--user",
        "alice",
        "--template",
        "tw",
        "--set",
        "env.LANG=en",
    ])
    .ok()
    .says(&["tw1", "created and started"]);
    let dir = home.file("bots/alice/tw1");
    assert!(is_link(&dir.join("run.sh")) && is_link(&dir.join("lib")));
    assert!(!is_link(&dir.join("config.json")) && dir.join("config.json").is_file());
    assert!(dir.join("data").is_dir() && dir.join("tmp").is_dir());
    assert!(!dir.join("template.toml").exists());
    let pid = home.running_pid("tw1");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(), dir);
    assert!(environ(pid).contains(&"LANG=en".to_string()));
    let file = std::fs::read_to_string(home.file("bots.d/tw1.toml")).unwrap();
    assert!(file.contains("template = \"tw\""), "{file}");

    let list = home.json(&["templates", "list", "--json"]);
    assert_eq!(list[0]["name"], "tw");
    assert_eq!(list[0]["bots"], 1);

    // Refusals leave nothing behind.
    home.botctl(&[
        "bots",
        "create",
        "tw1",
        "--user",
        "alice",
        "--template",
        "tw",
    ])
    .code(1)
    .says(&["already exists"]);
    home.botctl(&[
        "bots",
        "create",
        "x1",
        "--user",
        "alice",
        "--template",
        "nope",
    ])
    .code(1)
    .says(&["no template \"nope\""]);
    home.botctl(&[
        "bots",
        "create",
        "x2",
        "--user",
        "alice",
        "--template",
        "tw",
        "--set",
        "limits.max_memory_mb=lots",
    ])
    .code(1)
    .says(&["limits.max_memory_mb"]);
    for name in ["x1", "x2"] {
        assert!(!home.file(&format!("bots.d/{name}.toml")).exists());
        assert!(!home.file(&format!("bots/alice/{name}")).exists());
    }
    // A copy the template does not have fails half-way and leaves nothing.
    std::fs::write(
        home.file("templates/tw/template.toml"),
        "command = [\"sh\", \"run.sh\"]\ncopy = [\"missing.json\"]\n",
    )
    .unwrap();
    home.botctl(&[
        "bots",
        "create",
        "x3",
        "--user",
        "alice",
        "--template",
        "tw",
    ])
    .code(1)
    .says(&["missing.json"]);
    assert!(!home.file("bots.d/x3.toml").exists());
    let left: Vec<_> = std::fs::read_dir(home.file("bots/alice"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        vec!["tw1".to_string()],
        "no staging directory is left"
    );
}

#[test]
fn restart_by_template_and_remove_with_purge() {
    let home = Home::fast();
    template(&home, 1);
    for (name, owner) in [("a", "alice"), ("b", "bob")] {
        home.botctl(&["bots", "create", name, "--user", owner, "--template", "tw"])
            .ok();
    }
    home.write_bot("plain", &sleeper("alice"));
    home.botctl(&["reload"]).ok();
    let a = home.running_pid("a");
    let b = home.running_pid("b");
    let plain = home.running_pid("plain");
    home.botctl(&["restart", "--template", "tw"]).ok();
    assert_ne!(home.running_pid("a"), a);
    assert_ne!(home.running_pid("b"), b);
    assert_eq!(
        home.running_pid("plain"),
        plain,
        "not a bot of the template"
    );

    home.botctl(&["bots", "remove", "a", "--purge"])
        .ok()
        .says(&["deleted bots/alice/a"]);
    assert!(!home.file("bots/alice/a").exists());
    assert!(
        home.file("templates/tw/lib/blob.bin").exists(),
        "the template is untouched"
    );
    assert!(home.file("bots/bob/b/run.sh").exists());
}

#[test]
fn owner_quota_refuses_creation_with_the_figures() {
    let home = Home::new();
    home.write_config("[limits]\nstorage_quota_mb = 1\n[users.bob]\nstorage_quota_mb = 100\n");
    template(&home, 1);
    // Each bot copies a 600 KiB file: the second one does not fit in alice's 1 MiB.
    std::fs::write(
        home.file("templates/tw/config.json"),
        vec![b'x'; 600 * 1024],
    )
    .unwrap();
    let made = home.json(&[
        "bots",
        "create",
        "a1",
        "--user",
        "alice",
        "--template",
        "tw",
        "--no-start",
        "--json",
    ]);
    assert_eq!((&made["bot"], &made["ok"]), (&"a1".into(), &true.into()));
    // The figures as they are, not rounded up to whole MiB.
    home.botctl(&[
        "bots",
        "create",
        "a2",
        "--user",
        "alice",
        "--template",
        "tw",
        "--no-start",
    ])
    .code(1)
    .says(&[
        "owner alice uses 600 KiB",
        "storage_quota_mb = 1",
        "need 600 KiB more",
    ]);
    home.botctl(&["templates", "list"])
        .ok()
        .says(&["DESCRIPTION", "test bot"]);
    home.botctl(&[
        "bots",
        "create",
        "b1",
        "--user",
        "bob",
        "--template",
        "tw",
        "--no-start",
    ])
    .ok();
    let report = home.json(&["storage", "--json"]);
    let alice = report["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["owner"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(alice["quota_bytes"], 1024 * 1024, "{report:#}");
    assert_eq!(alice["bots"], 1);
}

#[test]
fn fifty_bots_from_a_twenty_megabyte_template_cost_under_five_percent_more() {
    let home = Home::new();
    template(&home, 20);
    for i in 0..50 {
        home.botctl(&[
            "bots",
            "create",
            &format!("t{i}"),
            "--user",
            &format!("o{}", i % 5),
            "--template",
            "tw",
            "--no-start",
        ])
        .ok();
    }
    let report = home.json(&["storage", "--json"]);
    let template_bytes = report["templates_bytes"].as_u64().unwrap();
    let bots_bytes = report["total_bytes"].as_u64().unwrap();
    assert!(template_bytes >= 20 * 1024 * 1024, "{report:#}");
    assert!(
        (template_bytes + bots_bytes) as f64 <= template_bytes as f64 * 1.05,
        "50 bots take {bots_bytes} bytes on top of a {template_bytes}-byte template"
    );
    // du agrees: the bot dirs hold links, not copies.
    let du = std::process::Command::new("du")
        .args(["-sb", home.file("bots").to_str().unwrap()])
        .output()
        .unwrap();
    let du_bytes: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(du_bytes < template_bytes / 20, "du says {du_bytes} bytes");
    let saved = report["total_saved_by_links"].as_u64().unwrap();
    assert!(saved >= 49 * template_bytes, "{report:#}");
    let text = home.botctl(&["storage"]).ok();
    assert!(text.stdout.contains("saved by links"), "{text:?}");
}

/// Every path under `root` with what identifies its content: kind, size, mtime, link target.
fn manifest(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let desc = if m.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else {
                format!("file {} {}", m.size(), m.mtime())
            };
            out.insert(p, desc);
        }
    }
    out
}

fn age(path: &Path, by: Duration) {
    let t = SystemTime::now() - by;
    let f = std::fs::File::open(path).unwrap();
    f.set_modified(t).unwrap();
}

#[test]
fn cleanup_removes_exactly_its_plan_and_never_follows_a_link() {
    let home = Home::fast();
    std::fs::write(
        home.file("botctl.toml"),
        format!(
            "{FAST}\n[cleanup]\ntemp_max_age = \"1h\"\norphan_grace = \"1h\"\n[logs]\nkeep = 1\n"
        ),
    )
    .unwrap();
    template(&home, 1);
    let two_hours = Duration::from_secs(7200);

    // Outside the home: what traps point at. Never to be touched.
    let outside = tempfile::Builder::new()
        .prefix("bo")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::create_dir_all(outside.path().join("dir")).unwrap();
    std::fs::write(outside.path().join("dir/canary"), "alive").unwrap();
    std::fs::write(outside.path().join("file"), "alive").unwrap();
    age(&outside.path().join("dir/canary"), two_hours);
    age(&outside.path().join("file"), two_hours);

    // A running bot from the template, with old and new temp files and traps in its dir.
    home.botctl(&[
        "bots",
        "create",
        "live",
        "--user",
        "alice",
        "--template",
        "tw",
    ])
    .ok();
    home.running_pid("live");
    let live = home.file("bots/alice/live");
    std::fs::write(live.join("tmp/old.tmp"), "old").unwrap();
    std::fs::write(live.join("tmp/new.tmp"), "new").unwrap();
    age(&live.join("tmp/old.tmp"), two_hours);
    std::os::unix::fs::symlink(outside.path().join("dir"), live.join("tmp/escape-dir")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("file"), live.join("tmp/escape-file")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", live.join("dangling-but-running")).unwrap();
    std::os::unix::fs::symlink("loop-b", live.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", live.join("loop-b")).unwrap();

    // A stopped bot with a dangling link.
    home.botctl(&[
        "bots",
        "create",
        "idle",
        "--user",
        "alice",
        "--template",
        "tw",
        "--no-start",
    ])
    .ok();
    let idle = home.file("bots/alice/idle");
    std::os::unix::fs::symlink("/nonexistent/y", idle.join("gone")).unwrap();

    // Orphans: an old one holding a link to the outside, a young one, and one that will be
    // swapped for a link to the outside between the preview and --force.
    let orphan = home.file("bots/alice/orphan");
    std::fs::create_dir_all(orphan.join("data")).unwrap();
    std::fs::write(orphan.join("data/state.db"), vec![b'z'; 4096]).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), orphan.join("to-outside")).unwrap();
    std::os::unix::fs::symlink(home.file("templates/tw"), orphan.join("to-template")).unwrap();
    age(&orphan.join("data/state.db"), two_hours);
    for link in ["to-outside", "to-template"] {
        let ok = std::process::Command::new("touch")
            .args(["-h", "-d", "2 hours ago"])
            .arg(orphan.join(link))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    age(&orphan.join("data"), two_hours);
    age(&orphan, two_hours);
    let young = home.file("bots/bob/young");
    std::fs::create_dir_all(&young).unwrap();
    std::fs::write(young.join("x"), "x").unwrap();
    let swap = home.file("bots/bob/swap");
    std::fs::create_dir_all(&swap).unwrap();
    age(&swap, two_hours);

    // Logs: a rotation beyond keep = 1 of a live bot, and an old log of a bot that is gone.
    std::fs::write(home.file("logs/live.out.2"), "old rotation").unwrap();
    std::fs::write(home.file("logs/live.out.1"), "kept rotation").unwrap();
    std::fs::write(home.file("logs/ghost.out"), "ghost").unwrap();
    age(&home.file("logs/ghost.out"), two_hours);

    let preview = home.json(&["cleanup", "--json"]);
    let planned: Vec<String> = preview["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "bots/alice/live/tmp/old.tmp",
        "bots/alice/idle/gone",
        "bots/alice/orphan",
        "bots/bob/swap",
        "logs/live.out.2",
        "logs/ghost.out",
    ] {
        assert!(
            planned.contains(&want.to_string()),
            "{want} in {planned:#?}"
        );
    }
    for never in [
        "bots/alice/live/tmp/new.tmp",
        "bots/alice/live/dangling-but-running",
        "bots/bob/young",
        "logs/live.out.1",
    ] {
        assert!(
            !planned.iter().any(|p| p == never),
            "{never} in {planned:#?}"
        );
    }
    assert!(
        home.file("bots/alice/orphan").exists(),
        "the preview deletes nothing"
    );

    // Between plan and force: the swap dir becomes a link to the outside directory.
    std::fs::remove_dir(&swap).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), &swap).unwrap();

    let before_home = manifest(home.path());
    let before_outside = manifest(outside.path());
    let out = home.botctl(&["cleanup", "--force", "--json"]);
    let done: Value = out.json();
    let removed: Vec<String> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !removed.iter().any(|p| p == "bots/bob/swap"),
        "{removed:#?}"
    );

    let after_home = manifest(home.path());
    assert_eq!(
        manifest(outside.path()),
        before_outside,
        "nothing outside the home changed"
    );
    for (path, desc) in &before_home {
        let rel = path
            .strip_prefix(home.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let in_plan = removed
            .iter()
            .any(|r| rel == *r || rel.starts_with(&format!("{r}/")));
        // The agent's own files change as it works: its database, logs and socket.
        let agents_own = rel.starts_with("state/")
            || rel.starts_with("run/")
            || rel == "logs/agent.log"
            || rel.starts_with("logs/live.") && !rel.ends_with(".2")
            || rel.starts_with("logs/idle.");
        if in_plan {
            assert!(
                !after_home.contains_key(path),
                "{rel} was in the plan and is gone"
            );
        } else if !agents_own {
            assert_eq!(after_home.get(path), Some(desc), "{rel} is unchanged");
        }
    }
    assert!(home.file("state/botctl.db").exists() && home.socket().exists());
    let events = home.json(&["events", "--json", "-n", "1000"]);
    let cleanup_events: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "cleanup")
        .collect();
    assert!(
        cleanup_events
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("bots/alice/orphan")),
        "{cleanup_events:#?}"
    );
}
