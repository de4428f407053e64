//! Log rotation: inotify says which log grew, a sweep of every log catches what a watch
//! missed; a log that refills faster than it can be copied is truncated and the flood
//! reported.

use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::events::{Event, EventKind};
use crate::fleet::Fleet;
use crate::{logs, storage, watch};

/// How often every log is checked against `[logs] max_size_mb` without inotify.
const LOG_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How often with inotify: it reports every write to a log, and says when it lost events
/// (a sweep follows at once), so this sweep only guards against the unforeseen. At 2,000
/// bots a sweep is 4,000 `statx` calls, a quarter of an idle agent's CPU when it was
/// made every minute.
const LOG_SWEEP_WATCHED: Duration = Duration::from_secs(600);
/// The first sweep comes this long after the agent starts.
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(2);
/// A log is copied aside at most this often; faster growth is a flood and is only truncated.
const FLOOD_COPY_EVERY: Duration = Duration::from_secs(1);
/// A flood is reported at most this often per log.
const FLOOD_REPORT_EVERY: Duration = Duration::from_secs(60);

/// Rotates logs as they grow: inotify says which log was written (the kernel folds a flood
/// of writes into one event per wake-up), so a runaway bot cannot outgrow `max_size_mb` by
/// much; a slow sweep catches anything a watch missed.
/// A bot wrote to its log: the same inotify events that drive rotation feed
/// `[health] log_silence` (no second watch, no polling).
fn output_seen(fleet: &Fleet, log: &std::path::Path) {
    let bot = log
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(storage::log_owner);
    if let Some(handle) = bot.and_then(|b| fleet.handle(b)) {
        handle.output.now();
    }
}

pub async fn run(ctx: Arc<Context>, fleet: Arc<Fleet>) {
    let dir = ctx.paths.logs_dir.clone();
    let _ = std::fs::create_dir_all(&dir);
    let watcher = watch::DirWatcher::new().ok().filter(|w| {
        w.add(&dir, nix::sys::inotify::AddWatchFlags::IN_MODIFY)
            .is_ok()
    });
    let mut last_copy: std::collections::HashMap<std::path::PathBuf, std::time::Instant> =
        std::collections::HashMap::new();
    let mut dropped: std::collections::HashMap<
        std::path::PathBuf,
        (u64, Option<std::time::Instant>),
    > = std::collections::HashMap::new();
    // The first sweep (logs that grew while no agent ran) a moment after the start, not
    // during the first requests of a freshly started agent.
    let every = match watcher {
        Some(_) => LOG_SWEEP_WATCHED,
        None => LOG_SWEEP_EVERY,
    };
    let mut sweep =
        tokio::time::interval_at(tokio::time::Instant::now() + FIRST_SWEEP_AFTER, every);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every_log = || {
        let mut files = fleet.log_files();
        files.push(ctx.paths.agent_log.clone());
        files
    };
    loop {
        let files: Vec<std::path::PathBuf> = tokio::select! {
            _ = sweep.tick() => every_log(),
            names = async {
                match &watcher {
                    Some(w) => w.next().await,
                    None => std::future::pending().await,
                }
            } => {
                let written: Vec<std::path::PathBuf> = names
                    .into_iter()
                    .map(|(_, name)| dir.join(name))
                    // Only live logs: NAME.out, NAME.err, agent.log; never the rotated copies.
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|e| e == "out" || e == "err" || e == "log")
                    })
                    .inspect(|p| output_seen(&fleet, p))
                    .collect();
                match &watcher {
                    // Events were lost: any log may have grown.
                    Some(w) if w.overflowed() => every_log(),
                    _ => written,
                }
            }
        };
        let settings = fleet.log_settings();
        let max = settings.max_size_mb.saturating_mul(1024 * 1024);
        let now = std::time::Instant::now();
        // A stat is cheaper than a trip to the blocking pool: only logs over the limit go on.
        let files: Vec<std::path::PathBuf> = files
            .into_iter()
            .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > max))
            .collect();
        if files.is_empty() {
            continue;
        }
        // A copy at most once a second per log; a log that fills faster is only truncated.
        let work: Vec<(std::path::PathBuf, bool)> = files
            .into_iter()
            .map(|f| {
                let copy = last_copy.get(&f).is_none_or(|t: &std::time::Instant| {
                    now.duration_since(*t) >= FLOOD_COPY_EVERY
                });
                (f, copy)
            })
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .filter_map(|(file, copy)| {
                    match logs::rotate_if_needed(&file, max, settings.keep, copy) {
                        Ok(logs::Rotation::None) => None,
                        Ok(r) => Some((file, r)),
                        Err(e) => {
                            crate::util::log_line(format_args!("rotating {}: {e}", file.display()));
                            None
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (file, r) in done {
            match r {
                logs::Rotation::Rotated => {
                    last_copy.insert(file, now);
                }
                logs::Rotation::Dropped(bytes) => {
                    let d = dropped.entry(file.clone()).or_insert((0u64, None));
                    d.0 += bytes;
                    if d.1.is_none_or(|t: std::time::Instant| {
                        now.duration_since(t) >= FLOOD_REPORT_EVERY
                    }) {
                        let name = file
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let bot = storage::log_owner(&name);
                        let owner = bot
                            .and_then(|b| fleet.handle(b))
                            .map(|h| h.owner().to_string());
                        ctx.record(
                            Event::new(
                                EventKind::LogFlood,
                                format!(
                                    "logs/{name} fills faster than it can be rotated: {} MiB of output dropped so far",
                                    d.0 / (1024 * 1024)
                                ),
                            )
                            .bot(bot, owner.as_deref()),
                        );
                        d.1 = Some(now);
                    }
                }
                logs::Rotation::None => {}
            }
        }
        if last_copy.len() > 4096 {
            last_copy.retain(|_, t| now.duration_since(*t) < FLOOD_COPY_EVERY);
        }
        if dropped.len() > 4096 {
            dropped.clear();
        }
    }
}
