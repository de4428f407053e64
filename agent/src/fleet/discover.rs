//! Which live processes are a home's bots after an agent died: only what the agent itself
//! recorded identifies a bot's process (pid, start time and process group, from the registry
//! and the spawn records); the BOTCTL_HOME and BOTCTL_BOT every bot carries, which any
//! process can copy, only ever lead to adopting a bot that has no record at all, never to a kill.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use botctl_proto::now_ms;

use crate::bot::process;
use crate::spawn_record::Spawn;
use crate::store::{RegistryRow, Wanted};

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

/// What the previous agent left: its registry rows, its spawn records, where each bot was
/// left (`wanted`), and the live processes that carry a bot's name.
#[derive(Debug, Default)]
pub struct Evidence {
    pub registry: Vec<RegistryRow>,
    pub spawns: BTreeMap<String, Spawn>,
    pub wanted: BTreeMap<String, Wanted>,
    pub live: BTreeMap<String, Vec<Found>>,
}

/// How a bot's row was made when the registry did not have it right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// From its spawn record: the agent died before the registry row was written.
    SpawnRecord,
    /// The agent died while starting it, before it could write the pid down: the first
    /// process carrying its name that started since.
    InFlight,
    /// Nothing was recorded of it at all (the database and spawn records were lost): the one
    /// process carrying its name, adopted as a bot that was wanted running.
    Environ,
}

/// What discovery concluded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The registry as it should be: a row per bot with a recorded (or repaired) process,
    /// live or not; the caller checks each against its pidfd and handles the dead.
    pub rows: Vec<RegistryRow>,
    /// Rows made or corrected here, and how.
    pub repaired: Vec<(String, Repair)>,
    /// Older processes of a bot the agent itself started, whose later recorded copy also
    /// runs: provably a second copy.
    pub duplicates: Vec<RegistryRow>,
    /// Processes carrying a bot's name that nothing recorded: a bot's helper that left its
    /// group, or a process claiming a name. Left alone.
    pub unrecorded: Vec<(String, Found)>,
}

/// Sorts the evidence out. `is_live(row)` says whether the row's process still runs in its
/// recorded group (the pure part takes it as a function, for tests).
pub fn reconcile(evidence: Evidence, is_live: impl Fn(&RegistryRow) -> bool) -> Verdict {
    let Evidence {
        registry,
        spawns,
        wanted,
        mut live,
    } = evidence;
    let mut recorded: BTreeMap<String, RegistryRow> =
        registry.into_iter().map(|r| (r.name.clone(), r)).collect();
    let names: BTreeSet<String> = recorded
        .keys()
        .chain(spawns.keys())
        .chain(live.keys())
        .cloned()
        .collect();
    let mut verdict = Verdict::default();
    let mut claims: BTreeMap<String, RegistryRow> = BTreeMap::new();
    // First what was recorded: the later of the registry row and the spawn record that runs.
    for name in &names {
        let rec = recorded.get(name);
        let from_spawn = match spawns.get(name) {
            Some(Spawn::Done {
                pid,
                start_ticks,
                pidfs_id,
                started_at_ms,
                pgid,
            }) => Some(RegistryRow {
                name: name.clone(),
                owner: rec.map(|r| r.owner.clone()).unwrap_or_else(|| {
                    owner_of(live.get(name), *pid, *start_ticks).unwrap_or_default()
                }),
                pid: *pid,
                pgid: *pgid,
                start_ticks: *start_ticks,
                pidfs_id: *pidfs_id,
                started_at_ms: *started_at_ms,
                restarts: rec.map_or(0, |r| r.restarts),
                config_toml: rec.map(|r| r.config_toml.clone()).unwrap_or_default(),
                cgroup: rec.map(|r| r.cgroup.clone()).unwrap_or_default(),
            }),
            _ => None,
        };
        let rec_live = rec.is_some_and(&is_live);
        match from_spawn {
            Some(row)
                if is_live(&row)
                    && rec.is_none_or(|r| (r.pid, r.start_ticks) != (row.pid, row.start_ticks)) =>
            {
                if rec_live && let Some(old) = rec {
                    verdict.duplicates.push(old.clone());
                }
                verdict.repaired.push((name.clone(), Repair::SpawnRecord));
                claims.insert(name.clone(), row);
            }
            _ if rec_live => {
                claims.insert(name.clone(), rec.cloned().expect("live"));
            }
            _ => {}
        }
    }
    // A recorded process is its own bot's, whatever name it carries.
    let claimed: BTreeSet<(u32, u64)> = claims.values().map(|r| (r.pid, r.start_ticks)).collect();
    for procs in live.values_mut() {
        procs.retain(|p| !claimed.contains(&(p.pid, p.start_ticks)));
    }
    for name in &names {
        let mut candidates = live.remove(name).unwrap_or_default();
        if !claims.contains_key(name) {
            let found = match spawns.get(name) {
                Some(Spawn::InFlight { since_ticks }) => candidates
                    .iter()
                    .filter(|p| p.start_ticks >= *since_ticks)
                    .min_by_key(|p| (p.start_ticks, p.pid))
                    .map(|p| (p.clone(), Repair::InFlight)),
                None if !recorded.contains_key(name)
                    && candidates.len() == 1
                    && wanted
                        .get(name)
                        .is_none_or(|w| matches!(w, Wanted::Running | Wanted::Backoff)) =>
                {
                    Some((candidates[0].clone(), Repair::Environ))
                }
                _ => None,
            };
            if let Some((p, how)) = found {
                candidates.retain(|c| c.pid != p.pid);
                let old = recorded.get(name);
                let age_ms = process::age_secs(p.start_ticks).map_or(0, |s| (s * 1000.0) as i64);
                claims.insert(
                    name.clone(),
                    RegistryRow {
                        name: name.clone(),
                        owner: old.map_or_else(|| p.owner.clone(), |r| r.owner.clone()),
                        pid: p.pid,
                        pgid: p.pid,
                        start_ticks: p.start_ticks,
                        pidfs_id: 0,
                        started_at_ms: now_ms() - age_ms,
                        restarts: old.map_or(0, |r| r.restarts),
                        config_toml: old.map(|r| r.config_toml.clone()).unwrap_or_default(),
                        cgroup: old.map(|r| r.cgroup.clone()).unwrap_or_default(),
                    },
                );
                verdict.repaired.push((name.clone(), how));
            }
        }
        verdict
            .unrecorded
            .extend(candidates.into_iter().map(|p| (name.clone(), p)));
        // A bot without a live process keeps its dead row, for the caller to say so.
        match (claims.remove(name), recorded.remove(name)) {
            (Some(row), _) | (None, Some(row)) => verdict.rows.push(row),
            (None, None) => {}
        }
    }
    verdict
}

/// The BOTCTL_OWNER of the live process `pid`, if it carries this bot's name.
fn owner_of(found: Option<&Vec<Found>>, pid: u32, start_ticks: u64) -> Option<String> {
    found?
        .iter()
        .find(|p| (p.pid, p.start_ticks) == (pid, start_ticks))
        .map(|p| p.owner.clone())
}

/// Whether the row's process is still the one that started at its start time, in its
/// recorded group (its own, unless sd_notify `MAINPID=` named it; such a process may have
/// made a group of its own since): what a bot's recorded process is, and a pid reused by
/// another process is not.
pub fn is_live(row: &RegistryRow) -> bool {
    process::read_stat(row.pid).is_some_and(|s| {
        s.start_ticks == row.start_ticks
            && (s.pgrp == row.pid || s.pgrp == row.pgid)
            && !s.is_gone()
    })
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
            cgroup: String::new(),
        }
    }

    fn found(pid: u32, ticks: u64) -> Found {
        Found {
            pid,
            start_ticks: ticks,
            owner: "bob".into(),
        }
    }

    fn done(pid: u32, ticks: u64) -> Spawn {
        Spawn::Done {
            pid,
            start_ticks: ticks,
            pidfs_id: 0,
            started_at_ms: 2,
            pgid: pid,
        }
    }

    /// Every process in `live` runs, and so do the extra pids given.
    fn running(
        live: &BTreeMap<String, Vec<Found>>,
        extra: &[u32],
    ) -> impl Fn(&RegistryRow) -> bool {
        let mut pids: BTreeSet<u32> = live.values().flatten().map(|p| p.pid).collect();
        pids.extend(extra);
        move |row| pids.contains(&row.pid)
    }

    fn procs(list: &[(&str, Vec<Found>)]) -> BTreeMap<String, Vec<Found>> {
        list.iter()
            .map(|(n, f)| (n.to_string(), f.clone()))
            .collect()
    }

    #[test]
    fn recorded_processes_are_kept_and_what_carries_a_name_is_left_alone() {
        let live = procs(&[
            // The bot and a helper of it that called setsid(): the helper is nobody's.
            ("good", vec![found(11, 150), found(10, 100)]),
            // Bot a's process carrying b's name: it is a's, b's own runs too.
            ("b", vec![found(30, 300), found(20, 200)]),
        ]);
        let evidence = Evidence {
            registry: vec![row("good", 10, 100), row("a", 30, 300), row("b", 20, 200)],
            live: live.clone(),
            ..Evidence::default()
        };
        let v = reconcile(evidence, running(&live, &[]));
        let pids: Vec<(&str, u32)> = v.rows.iter().map(|r| (r.name.as_str(), r.pid)).collect();
        assert_eq!(pids, [("a", 30), ("b", 20), ("good", 10)]);
        assert_eq!(v.unrecorded, vec![("good".to_string(), found(11, 150))]);
        assert!(v.duplicates.is_empty() && v.repaired.is_empty(), "{v:?}");
    }

    #[test]
    fn a_bot_whose_process_died_keeps_its_row_and_gets_no_stand_in() {
        // The bot was stopped (or died); a helper of it that left the group lives on.
        let live = procs(&[("stopped", vec![found(41, 410)])]);
        let evidence = Evidence {
            registry: vec![row("stopped", 40, 400)],
            spawns: BTreeMap::from([("stopped".to_string(), done(40, 400))]),
            live: live.clone(),
            wanted: BTreeMap::from([("stopped".to_string(), Wanted::Stopped)]),
        };
        let v = reconcile(evidence, running(&live, &[]));
        assert_eq!(
            v.rows,
            vec![row("stopped", 40, 400)],
            "dead rows go to the caller"
        );
        assert_eq!(v.unrecorded, vec![("stopped".to_string(), found(41, 410))]);
        // Without a registry row the spawn record says the same: it was recorded, and died.
        let evidence = Evidence {
            spawns: BTreeMap::from([("gone".to_string(), done(40, 400))]),
            live: procs(&[("gone", vec![found(41, 410)])]),
            ..Evidence::default()
        };
        let v = reconcile(evidence, |r| r.pid == 41);
        assert!(v.rows.is_empty(), "{v:?}");
        assert_eq!(v.unrecorded.len(), 1);
    }

    #[test]
    fn a_main_process_named_by_mainpid_keeps_the_group_it_was_started_in() {
        // The bot started as 90 (group 90) and named its child 91 with MAINPID=; the wrapper
        // ended. Both records say so; the row adopted is 91's, and stops signal group 90.
        let switched = RegistryRow {
            pgid: 90,
            ..row("wrapped", 91, 910)
        };
        let evidence = Evidence {
            registry: vec![switched.clone()],
            spawns: BTreeMap::from([(
                "wrapped".to_string(),
                Spawn::Done {
                    pid: 91,
                    start_ticks: 910,
                    pidfs_id: 0,
                    started_at_ms: 2,
                    pgid: 90,
                },
            )]),
            ..Evidence::default()
        };
        let v = reconcile(evidence, |r| r.pid == 91);
        assert_eq!(v.rows, vec![switched]);
        assert!(v.repaired.is_empty() && v.duplicates.is_empty(), "{v:?}");
    }

    #[test]
    fn the_spawn_record_beats_a_registry_row_that_was_not_written_yet() {
        let live = procs(&[
            ("late", vec![found(51, 510)]),
            ("new", vec![found(60, 600)]),
        ]);
        let evidence = Evidence {
            // `late` was restarted: the registry still names its old, dead process.
            registry: vec![row("late", 50, 500)],
            spawns: BTreeMap::from([
                ("late".to_string(), done(51, 510)),
                ("new".to_string(), done(60, 600)),
            ]),
            live: live.clone(),
            ..Evidence::default()
        };
        let v = reconcile(evidence, running(&live, &[]));
        let by: BTreeMap<&str, &RegistryRow> =
            v.rows.iter().map(|r| (r.name.as_str(), r)).collect();
        assert_eq!((by["late"].pid, by["late"].restarts), (51, 4));
        assert_eq!(by["late"].config_toml, "user = \"alice\"\n");
        assert_eq!((by["new"].pid, by["new"].owner.as_str()), (60, "bob"));
        assert_eq!(
            v.repaired,
            vec![
                ("late".to_string(), Repair::SpawnRecord),
                ("new".to_string(), Repair::SpawnRecord)
            ]
        );
        assert!(v.unrecorded.is_empty() && v.duplicates.is_empty(), "{v:?}");

        // Both recorded copies run: the older one is a duplicate the agent itself started.
        let evidence = Evidence {
            registry: vec![row("twice", 70, 700)],
            spawns: BTreeMap::from([("twice".to_string(), done(71, 710))]),
            ..Evidence::default()
        };
        let v = reconcile(evidence, |r| r.pid == 70 || r.pid == 71);
        assert_eq!(v.rows[0].pid, 71);
        assert_eq!(v.duplicates, vec![row("twice", 70, 700)]);
    }

    #[test]
    fn a_spawn_in_flight_is_the_first_process_started_since() {
        let live = procs(&[(
            "mid",
            vec![
                found(90, 899),
                found(92, 905),
                found(91, 905),
                found(93, 920),
            ],
        )]);
        let evidence = Evidence {
            spawns: BTreeMap::from([("mid".to_string(), Spawn::InFlight { since_ticks: 900 })]),
            live: live.clone(),
            ..Evidence::default()
        };
        let v = reconcile(evidence, running(&live, &[]));
        assert_eq!(v.rows.len(), 1);
        assert_eq!(
            v.rows[0].pid, 91,
            "earliest since the spawn began, lowest pid first"
        );
        assert_eq!(v.repaired, vec![("mid".to_string(), Repair::InFlight)]);
        let left: Vec<u32> = v.unrecorded.iter().map(|(_, p)| p.pid).collect();
        assert_eq!(left, [90, 92, 93]);
    }

    #[test]
    fn with_nothing_recorded_only_a_lone_claimant_of_a_wanted_bot_is_adopted() {
        let live = procs(&[
            ("lone", vec![found(1, 10)]),
            ("two", vec![found(2, 20), found(3, 30)]),
            ("stopped", vec![found(4, 40)]),
            ("failed", vec![found(5, 50)]),
            ("spawn-failed", vec![found(6, 60)]),
        ]);
        let evidence = Evidence {
            spawns: BTreeMap::from([("spawn-failed".to_string(), Spawn::Failed)]),
            wanted: BTreeMap::from([
                ("stopped".to_string(), Wanted::Stopped),
                ("failed".to_string(), Wanted::Failed),
            ]),
            live: live.clone(),
            ..Evidence::default()
        };
        let v = reconcile(evidence, running(&live, &[]));
        let pids: Vec<(&str, u32)> = v.rows.iter().map(|r| (r.name.as_str(), r.pid)).collect();
        assert_eq!(pids, [("lone", 1)]);
        assert_eq!(v.repaired, vec![("lone".to_string(), Repair::Environ)]);
        assert_eq!(v.unrecorded.len(), 5, "{v:?}");
        assert!(v.duplicates.is_empty());
    }

    #[test]
    fn finds_nothing_for_a_home_without_processes() {
        assert!(live_bots(Path::new("/nonexistent/botctl-home")).is_empty());
    }
}
