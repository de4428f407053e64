//! `status`, `bots list` and `bots show`: answered from the bots' snapshots in memory, in one
//! pass under the registry's lock; `show` adds the history the store keeps.

use std::time::Duration;

use botctl_proto::{
    AgentInfo, BotDetail, BotInfo, ConfigIssue, EventQuery, PolicyInfo, Rows, RpcError,
    StatusReport, StatusText, Summary, json, now_ms,
};

use super::{Ops, Who, no_such_bot};
use crate::fleet::list::info;

/// The whole fleet's rows as last built, shared by the answers that follow while they read
/// the same: until anything a row shows changes (`Context::rows_generation` moves) or their
/// time-derived figures are due (`Registry::rows`). At 2,000 bots, building the rows was
/// most of the agent's part of `status`: a pass over every bot's scattered state.
#[derive(Default)]
pub struct SharedRows(std::sync::Mutex<Option<Built>>);

struct Built {
    /// The count of changes read before the rows were built.
    generation: u64,
    /// When they are due again (Unix ms).
    until_ms: i64,
    rows: Rows,
    /// Their text in `status --json`, once asked for.
    text: Option<std::sync::Arc<str>>,
}

/// Every bot's row (an owner's bots only, for an owner or when `owner` is given), with its
/// forecast.
pub fn rows(ops: &Ops, who: &Who, owner: Option<String>) -> Rows {
    rows_at(ops, who, owner, now_ms())
}

/// [`rows`] as of `now` (Unix ms).
pub(crate) fn rows_at(ops: &Ops, who: &Who, owner: Option<String>, now: i64) -> Rows {
    let owner = who.caller.narrow(owner);
    if owner.is_some() {
        return build(ops, owner.as_deref(), now).0;
    }
    shared(ops, now, |built| built.rows.clone())
}

/// The caller's rows as of `now` and their text in `status --json` ([`json::rows_text`]),
/// written once for shared rows.
pub(crate) fn rows_text_at(ops: &Ops, who: &Who, now: i64) -> (Rows, std::sync::Arc<str>) {
    if let Some(owner) = who.caller.owner() {
        let rows = build(ops, Some(owner), now).0;
        let text = json::rows_text(&rows).into();
        return (rows, text);
    }
    shared(ops, now, |built| {
        let text = built
            .text
            .get_or_insert_with(|| json::rows_text(&built.rows).into());
        (built.rows.clone(), text.clone())
    })
}

/// `f` of the whole fleet's rows as of `now`, built again first when they are not current.
fn shared<T>(ops: &Ops, now: i64, f: impl FnOnce(&mut Built) -> T) -> T {
    let generation = ops.ctx.rows_generation();
    // Held while building: a second caller waits for these rows instead of building its own.
    let mut shared = ops.rows.0.lock().unwrap();
    match shared.as_mut() {
        Some(built) if built.generation == generation && now < built.until_ms => f(built),
        _ => {
            let (rows, until_ms) = build(ops, None, now);
            f(shared.insert(Built {
                generation,
                until_ms,
                rows,
                text: None,
            }))
        }
    }
}

fn build(ops: &Ops, owner: Option<&str>, now: i64) -> (Rows, i64) {
    let (mut rows, until) = ops.fleet.read(|r| r.rows(owner, now));
    super::forecast::attach(ops, &mut rows);
    (Rows::new(rows), until)
}

/// [`rows`], as a list of the caller's own (a copy of shared rows: for a caller that takes
/// the rows apart).
pub fn list(ops: &Ops, who: &Who, owner: Option<String>) -> Vec<BotInfo> {
    rows(ops, who, owner).into_vec()
}

/// A root agent: the owners of `bots` without `run_as`, whose bots therefore run as root.
fn root_owners(bots: &[BotInfo], global: &botctl_proto::config::GlobalConfig) -> Vec<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Vec::new();
    }
    // A set of the few owners first: sorting 2,000 rows' owners was most of `status`'s own
    // work once the rows were shared.
    let owners: crate::util::FastSet<&str> = bots.iter().map(|b| b.owner.as_str()).collect();
    let mut owners: Vec<String> = owners
        .into_iter()
        .filter(|o| global.run_as(o).is_none())
        .map(str::to_string)
        .collect();
    owners.sort_unstable();
    owners
}

pub fn status(ops: &Ops, who: &Who, agent: AgentInfo) -> StatusReport {
    report(ops, who, agent, rows(ops, who, None))
}

/// `status --json`'s text of the caller's fleet, as the CLI would write it from [`status`]
/// (see [`json::status_text`]); `None` when it would not fit in a frame.
pub fn status_text(ops: &Ops, who: &Who, agent: AgentInfo) -> Option<StatusText> {
    let (rows, text) = rows_text_at(ops, who, now_ms());
    let mut report = report(ops, who, agent, rows);
    let summary = Summary::of(&report.bots, &report.config_issues);
    report.bots = Rows::default();
    let json = json::status_text(&report, &summary, &text);
    // Room for the frame's own few bytes.
    (json.len() + 1024 <= botctl_proto::MAX_FRAME_BYTES).then_some(StatusText {
        json,
        needs_attention: summary.needs_attention,
    })
}

/// The report of `status` with `bots`, the caller's.
fn report(ops: &Ops, who: &Who, agent: AgentInfo, bots: Rows) -> StatusReport {
    let mut config_issues = match who.caller.owner() {
        // Files are the admin's; an owner hears of its own bots' problems only.
        Some(me) => ops.fleet.read(|r| {
            r.issues
                .values()
                .filter(|i| {
                    i.bot
                        .as_deref()
                        .and_then(|b| r.bots.get(b))
                        .is_some_and(|e| e.handle.owner() == me)
                })
                .cloned()
                .collect()
        }),
        None => ops.fleet.issues(),
    };
    // A database that cannot be written is a problem a person must fix, like a config one.
    if who.caller.owner().is_none()
        && let Some(problem) = ops.ctx.store.problem()
    {
        config_issues.push(ConfigIssue {
            file: ops.ctx.paths.display(&ops.ctx.paths.db_file),
            field: None,
            message: problem,
            bot: None,
            kept_last_good: false,
            line: None,
            column: None,
            section_off: None,
        });
    }
    if who.caller.owner().is_none() {
        config_issues.extend(ops.ctx.sections_off.lock().unwrap().iter().cloned());
    }
    let mut agent = agent;
    if let Some(c) = agent.containment.as_mut() {
        c.root_owners = root_owners(&bots, &ops.fleet.global());
    }
    StatusReport {
        agent,
        bots,
        config_issues,
        host: ops.ctx.host.lock().unwrap().clone(),
        // Who sends stray messages is the admin's business, as the socket is.
        notify_ignored: match who.caller.owner() {
            Some(_) => 0,
            None => ops
                .ctx
                .notify_ignored
                .load(std::sync::atomic::Ordering::Relaxed),
        },
    }
}

pub async fn show(ops: &Ops, who: &Who, name: &str) -> Result<BotDetail, RpcError> {
    let paths = &ops.ctx.paths;
    let file = paths.display(&paths.bot_file(name));
    let (bot, issue, global) = ops.fleet.read(|r| {
        let issue = r.issues.get(&file).cloned();
        match r
            .bots
            .get(name)
            .filter(|e| who.caller.sees(e.handle.owner()))
        {
            Some(e) => Ok((e.handle.clone(), issue, r.global.clone())),
            None => Err(match issue {
                Some(issue) if who.caller.owner().is_none() => {
                    RpcError::invalid(format!("bot {name} has no valid configuration: {issue}"))
                }
                _ => no_such_bot(name),
            }),
        }
    })?;
    let config = bot.config.clone();
    let issue = issue.filter(|i| i.bot.as_deref() == Some(name));
    let mut info = bot.read(|v| info(&config, v, issue.as_ref(), now_ms()));
    super::forecast::attach(ops, std::slice::from_mut(&mut info));
    let policy = config.policy(&global);
    let limits = config.limits(&global);
    let store = &ops.ctx.store;
    let history = store
        .history(name, now_ms() - 3_600_000)
        .await
        .unwrap_or_default();
    let mut record = store.recovery(name).await.unwrap_or_default();
    record.restarts = info.restarts;
    record.last_exit = info.last_exit.clone();
    let recent_events = store
        .events(EventQuery {
            bot: Some(name.to_string()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let cwd = crate::storage::bot_cwd(paths, &config);
    let ms = |d: Duration| d.as_millis() as u64;
    Ok(BotDetail {
        info,
        file: paths.display(&paths.bot_file(name)),
        command: config.command.clone(),
        cwd: cwd.display().to_string(),
        env_keys: config.env.keys().cloned().collect(),
        template: config.template.clone(),
        policy: PolicyInfo {
            policy: policy.policy.to_string(),
            stable_after_ms: ms(policy.stable_after),
            backoff_initial_ms: ms(policy.backoff_initial),
            backoff_max_ms: ms(policy.backoff_max),
            max_restarts: policy.max_restarts,
            window_ms: ms(policy.window),
            retry_after_ms: ms(policy.retry_after),
            stop_timeout_ms: ms(policy.stop_timeout),
        },
        stdout_log: paths.stdout_log(name).display().to_string(),
        stderr_log: paths.stderr_log(name).display().to_string(),
        recent_events,
        config_issue: issue,
        limits: botctl_proto::LimitsInfo {
            max_memory_mb: limits.max_memory_mb,
            max_cpu_percent: limits.max_cpu_percent,
            memory_samples: limits.memory_samples,
            cpu_samples: limits.cpu_samples,
            restart_on_pressure: limits.restart_on_pressure,
            forecast_window_ms: ms(limits.forecast_window),
            forecast_horizon_ms: ms(limits.forecast_horizon),
            forecast_min_samples: limits.forecast_min_samples,
            restart_before_limit: limits.restart_before_limit,
        },
        history,
        record,
        health_checks: config.health.as_ref().map(crate::health::checks::describe),
        env_file: config.env_file.clone(),
        schedule: policy
            .schedule
            .as_ref()
            .map(|s| botctl_proto::ScheduleInfo {
                cron: s.to_string(),
                next_ms: s
                    .next_after(std::time::SystemTime::now())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64),
            }),
    })
}
