//! Finding a home's bots among the live processes, by the BOTCTL_HOME and BOTCTL_BOT every bot
//! is started with: the registry's safety net when it was lost, damaged or behind (an agent
//! killed between starting a bot and writing it down), so a new agent adopts instead of
//! starting a second copy.

use std::collections::BTreeMap;
use std::path::Path;

use botctl_proto::now_ms;

use crate::bot::process;
use crate::store::RegistryRow;

/// A live process that leads its own group and carries a bot's name for this home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub pid: u32,
    pub start_ticks: u64,
    pub owner: String,
}

/// Every bot of `home` with a live process, newest first. Bots run as leaders of their own
/// session and group; their children share the group and are not listed.
pub fn live_bots(home: &Path) -> BTreeMap<String, Vec<Found>> {
    let home_var = format!("{}={}", botctl_proto::paths::HOME_ENV, home.display());
    let me = std::process::id();
    let mut found: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for pid in crate::bot::process::all_pids() {
        // Group leaders only: one getpgid each, where the stat below is far dearer.
        if pid == me || process::pgid_of(pid) != Some(pid) {
            continue;
        }
        let Some(stat) = process::read_stat(pid) else {
            continue;
        };
        if stat.pgrp != pid || stat.is_gone() {
            continue;
        }
        let start_ticks = stat.start_ticks;
        // Processes of other users are unreadable here, and are not our bots anyway.
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let (mut ours, mut bot, mut owner) = (false, None, String::new());
        for var in environ.split(|b| *b == 0) {
            let Ok(var) = std::str::from_utf8(var) else {
                continue;
            };
            if var == home_var {
                ours = true;
            } else if let Some(name) = var.strip_prefix("BOTCTL_BOT=") {
                bot = Some(name.to_string());
            } else if let Some(name) = var.strip_prefix("BOTCTL_OWNER=") {
                owner = name.to_string();
            }
        }
        if let (true, Some(bot)) = (ours, bot) {
            found.entry(bot).or_default().push(Found {
                pid,
                start_ticks,
                owner,
            });
        }
    }
    for list in found.values_mut() {
        list.sort_by_key(|p| std::cmp::Reverse(p.start_ticks));
    }
    found
}

/// The registry as it should be: each recorded row whose process is the live one is kept; a
/// bot whose row is missing or names a dead process gets a row for its live process (the
/// newest, keeping the old row's restart count and configuration). The second value lists
/// the processes beyond one per bot, which should not exist at all; the third names the bots
/// whose rows were made up here.
pub fn reconcile(
    registry: Vec<RegistryRow>,
    live: BTreeMap<String, Vec<Found>>,
) -> (Vec<RegistryRow>, Vec<(String, Found)>, Vec<String>) {
    let mut rows: BTreeMap<String, RegistryRow> =
        registry.into_iter().map(|r| (r.name.clone(), r)).collect();
    let mut extra = Vec::new();
    let mut repaired = Vec::new();
    for (name, procs) in live {
        let recorded = rows.get(&name).and_then(|row| {
            procs
                .iter()
                .position(|p| p.pid == row.pid && p.start_ticks == row.start_ticks)
        });
        let keep = match recorded {
            Some(i) => i,
            None => {
                // Newest first: the copy the agent started last, after any it lost track of.
                let p = &procs[0];
                let old = rows.remove(&name);
                let age_ms = process::age_secs(p.start_ticks).map_or(0, |s| (s * 1000.0) as i64);
                rows.insert(
                    name.clone(),
                    RegistryRow {
                        name: name.clone(),
                        owner: old
                            .as_ref()
                            .map_or_else(|| p.owner.clone(), |r| r.owner.clone()),
                        pid: p.pid,
                        pgid: p.pid,
                        start_ticks: p.start_ticks,
                        pidfs_id: 0,
                        started_at_ms: now_ms() - age_ms,
                        restarts: old.as_ref().map_or(0, |r| r.restarts),
                        config_toml: old.map(|r| r.config_toml).unwrap_or_default(),
                    },
                );
                repaired.push(name.clone());
                0
            }
        };
        for (i, p) in procs.iter().enumerate() {
            if i != keep {
                extra.push((name.clone(), p.clone()));
            }
        }
    }
    (rows.into_values().collect(), extra, repaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, pid: u32, ticks: u64) -> RegistryRow {
        RegistryRow {
            name: name.into(),
            owner: "alice".into(),
            pid,
            pgid: pid,
            start_ticks: ticks,
            pidfs_id: 0,
            started_at_ms: 1,
            restarts: 4,
            config_toml: "user = \"alice\"\n".into(),
        }
    }

    fn found(pid: u32, ticks: u64) -> Found {
        Found {
            pid,
            start_ticks: ticks,
            owner: "bob".into(),
        }
    }

    #[test]
    fn reconcile_keeps_good_rows_repairs_stale_ones_and_names_extras() {
        let registry = vec![
            row("good", 10, 100),
            row("stale", 20, 200),
            row("gone", 30, 300),
        ];
        let live = BTreeMap::from([
            ("good".to_string(), vec![found(11, 150), found(10, 100)]),
            ("stale".to_string(), vec![found(22, 220)]),
            ("lost".to_string(), vec![found(41, 410), found(40, 400)]),
        ]);
        let (rows, extra, repaired) = reconcile(registry, live);
        let by: BTreeMap<&str, &RegistryRow> = rows.iter().map(|r| (r.name.as_str(), r)).collect();
        assert_eq!(by["good"], &row("good", 10, 100));
        assert_eq!((by["stale"].pid, by["stale"].restarts), (22, 4));
        assert_eq!(by["stale"].config_toml, "user = \"alice\"\n");
        assert_eq!((by["lost"].pid, by["lost"].owner.as_str()), (41, "bob"));
        assert_eq!(
            by["gone"],
            &row("gone", 30, 300),
            "dead rows are left to the caller"
        );
        assert_eq!(
            extra,
            vec![
                ("good".to_string(), found(11, 150)),
                ("lost".to_string(), found(40, 400))
            ]
        );
        assert_eq!(repaired, vec!["lost".to_string(), "stale".to_string()]);
    }

    #[test]
    fn finds_nothing_for_a_home_without_processes() {
        assert!(live_bots(Path::new("/nonexistent/botctl-home")).is_empty());
    }
}
