//! Cleanup over the fleet: the plan (files from the storage planner, stale registry rows,
//! database rows past retention), its application, the storage report, and the loop that
//! runs them every `cleanup_interval` and when the disk fills up.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use botctl_proto::config::BotConfig;
use botctl_proto::{CleanupItem, CleanupReport, OwnerStorage, StorageReport};

use crate::bot::process;
use crate::context::Context;
use crate::events::{Actor, Event, EventKind};
use crate::fleet::Fleet;
use crate::schedule::Reloads;
use crate::storage;

const MIB: u64 = 1024 * 1024;

/// What cleanup would remove now (of one owner's, when given).
pub async fn plan(ctx: &Context, fleet: &Fleet, owner: Option<&str>) -> Vec<CleanupItem> {
    let paths = &ctx.paths;
    let (mut items, running) = fleet.read(|r| {
        let mut bots = Vec::new();
        let mut running = BTreeSet::new();
        for e in r.bots.values() {
            let live = e.handle.pid().is_some();
            if live {
                running.insert(e.handle.name().to_string());
            }
            let c = &e.handle.config;
            bots.push((
                c.name.as_str(),
                c.user.as_str(),
                storage::bot_cwd(paths, c),
                live,
            ));
        }
        for (c, _) in r.over_limit.values() {
            bots.push((
                c.name.as_str(),
                c.user.as_str(),
                storage::bot_cwd(paths, c),
                false,
            ));
        }
        let files = std::fs::read_dir(&paths.bots_dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.strip_suffix(".toml").map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fleet = storage::cleanup::Fleet { bots, files };
        let settings = storage::cleanup::Settings {
            temp_max_age: r.global.cleanup.temp_max_age,
            orphan_grace: r.global.cleanup.orphan_grace,
            keep_logs: r.global.logs.keep,
        };
        (
            storage::cleanup::plan(paths, &settings, &fleet, owner),
            running,
        )
    });
    if owner.is_none() {
        if let Ok(rows) = ctx.store.registry().await {
            for row in rows.iter().filter(|r| !running.contains(&r.name)) {
                if process::adopt(row.pid, row.start_ticks).is_none() {
                    items.push(CleanupItem {
                        kind: "stale-registry".into(),
                        path: format!("state/botctl.db#registry/{}", row.name),
                        bytes: 0,
                        reason: format!("process {} of {} is gone", row.pid, row.name),
                    });
                }
            }
        }
        if let Ok(m) = ctx.store.maintenance(false).await
            && m.events + m.samples > 0
        {
            items.push(CleanupItem {
                kind: "database".into(),
                path: "state/botctl.db".into(),
                bytes: 0,
                reason: format!(
                    "{} events and {} samples past retention; the file is vacuumed",
                    m.events, m.samples
                ),
            });
        }
    }
    items
}

/// Removes those of `items` that are still in `fresh` (a plan made just now), recording
/// each removal as an event that names the bot and owner it touched, and who asked.
pub async fn apply(
    ctx: &Context,
    fleet: &Fleet,
    items: Vec<CleanupItem>,
    fresh: &[CleanupItem],
    by: &Actor,
) -> CleanupReport {
    let (files, rest): (Vec<CleanupItem>, Vec<CleanupItem>) = items
        .into_iter()
        .partition(|i| !matches!(i.kind.as_str(), "stale-registry" | "database"));
    let (mut removed, mut bytes, mut failed) = storage::cleanup::apply(&ctx.paths, fresh, &files);
    for it in rest {
        if !fresh.iter().any(|f| f.kind == it.kind && f.path == it.path) {
            failed.push((
                it.path.clone(),
                "no longer in the cleanup plan; left alone".into(),
            ));
            continue;
        }
        match it.kind.as_str() {
            "stale-registry" => {
                if let Some(name) = it.path.rsplit('/').next() {
                    ctx.store.unregister(name);
                }
                removed.push(it);
            }
            _ => match ctx.store.maintenance(true).await {
                Ok(m) => {
                    bytes += m.freed_bytes;
                    removed.push(CleanupItem {
                        bytes: m.freed_bytes,
                        ..it
                    });
                }
                Err(e) => failed.push((it.path.clone(), format!("{e:#}"))),
            },
        }
    }
    for it in &removed {
        let (bot, owner) = touched(fleet, &it.path);
        ctx.record(
            Event::new(
                EventKind::Cleanup,
                format!("removed {} ({} bytes): {}", it.path, it.bytes, it.reason),
            )
            .bot(bot.as_deref(), owner.as_deref())
            .by(by),
        );
    }
    CleanupReport {
        items: removed,
        bytes,
        failed,
    }
}

/// The bot and owner a cleanup path belongs to: `bots/OWNER/NAME/...`, `logs/NAME.out.1`,
/// `state/botctl.db#registry/NAME`.
fn touched(fleet: &Fleet, path: &str) -> (Option<String>, Option<String>) {
    let owner_of =
        |bot: &str| fleet.read(|r| r.configs().find(|c| c.name == bot).map(|c| c.user.clone()));
    let mut parts = path.split('/');
    match parts.next() {
        Some("bots") => {
            let owner = parts.next().map(str::to_string);
            (parts.next().map(str::to_string), owner)
        }
        Some("logs") => {
            let bot = parts
                .next()
                .and_then(storage::log_owner)
                .map(str::to_string);
            let owner = bot.as_deref().and_then(owner_of);
            (bot, owner)
        }
        _ => match path.strip_prefix("state/botctl.db#registry/") {
            Some(bot) => (Some(bot.to_string()), owner_of(bot)),
            None => (None, None),
        },
    }
}

/// Disk use per owner (of one owner's, when given) against their quotas.
pub fn storage_report(ctx: &Context, fleet: &Fleet, owner: Option<&str>) -> StorageReport {
    let paths = &ctx.paths;
    fleet.read(|r| {
        let configs: Vec<&BotConfig> = r.configs().map(|c| &**c).collect();
        let mut owners: BTreeSet<String> = configs.iter().map(|c| c.user.clone()).collect();
        if let Ok(dirs) = std::fs::read_dir(&paths.bots_root) {
            owners.extend(
                dirs.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter_map(|e| e.file_name().to_str().map(str::to_string)),
            );
        }
        let mut cache = BTreeMap::new();
        let mut report = StorageReport {
            owners: Vec::new(),
            total_bytes: 0,
            total_saved_by_links: 0,
            templates_bytes: storage::fsops::usage(&paths.templates_dir)
                .map(|u| u.bytes)
                .unwrap_or(0),
        };
        for o in owners
            .iter()
            .filter(|o| owner.is_none_or(|want| want == *o))
        {
            let bots: Vec<&BotConfig> = configs.iter().copied().filter(|c| &c.user == o).collect();
            let used = storage::owner_usage(paths, o, &bots);
            let saved: u64 = bots
                .iter()
                .map(|b| storage::saved_by_links(paths, b, &mut cache))
                .sum();
            let quota = r.global.storage_quota_for(o).saturating_mul(MIB);
            report.total_bytes += used;
            report.total_saved_by_links += saved;
            report.owners.push(OwnerStorage {
                owner: o.clone(),
                bytes_used: used,
                quota_bytes: quota,
                bots: bots.len() as u32,
                saved_by_links: saved,
                over_quota: used > quota,
            });
        }
        report
    })
}

/// The agent's own cleanup: every `cleanup_interval` (as the settings say now: a reload
/// re-counts it), and at once when the disk fills up.
pub async fn run(ctx: Arc<Context>, fleet: Arc<Fleet>) {
    let mut over_quota = BTreeSet::new();
    let mut reloads = ctx.reloads.subscribe();
    let mut last = std::time::Instant::now();
    loop {
        let interval = || fleet.global().agent.cleanup_interval;
        tokio::select! {
            _ = Reloads::wait_due(&mut reloads, last, interval) => {}
            _ = ctx.cleanup_now.notified() => {}
        }
        last = std::time::Instant::now();
        let items = plan(&ctx, &fleet, None).await;
        if !items.is_empty() {
            let fresh = plan(&ctx, &fleet, None).await;
            let report = apply(&ctx, &fleet, items, &fresh, &Actor::Agent).await;
            ctx.record(Event::new(
                EventKind::CleanupFreed,
                format!(
                    "automatic cleanup removed {} item(s), {} bytes; {} left alone",
                    report.items.len(),
                    report.bytes,
                    report.failed.len()
                ),
            ));
        }
        for owner in storage_report(&ctx, &fleet, None).owners {
            let was = over_quota.contains(&owner.owner);
            if owner.over_quota && !was {
                ctx.record(
                    Event::new(
                        EventKind::OverQuota,
                        format!(
                            "owner {} uses {} MiB, over storage_quota_mb = {}",
                            owner.owner,
                            owner.bytes_used.div_ceil(MIB),
                            owner.quota_bytes / MIB
                        ),
                    )
                    .bot(None, Some(&owner.owner)),
                );
                over_quota.insert(owner.owner.clone());
            } else if !owner.over_quota && was {
                over_quota.remove(&owner.owner);
                ctx.alerts.quota_ok(&owner.owner);
            }
        }
    }
}
