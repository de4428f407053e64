//! The fleet as rows: one `BotInfo` per bot, parked bot and broken bot file, read from the
//! bots' snapshots in one pass under the registry's lock (what `status` answers).

use std::time::Duration;

use botctl_proto::config::BotConfig;
use botctl_proto::{BotInfo, BotState, ConfigIssue};

use super::Registry;
use crate::bot::View;
use crate::events::exited_with;
use crate::util::FastMap;

impl Registry {
    /// Every bot (of `owner`, when given), plus a `config-error` row for each bot file that
    /// never loaded (to an admin only: such a file has no owner yet), by name.
    pub fn list(&self, owner: Option<&str>, now: i64) -> Vec<BotInfo> {
        self.rows(owner, now).0
    }

    /// [`Registry::list`], and until when the rows read as built at `now` while nothing
    /// changes: the next whole second (an uptime may then lag by up to a second, as the
    /// whole seconds of a longer countdown do), or the next tenth while a bot's restart is
    /// under 10 s away (shown in tenths).
    pub fn rows(&self, owner: Option<&str>, now: i64) -> (Vec<BotInfo>, i64) {
        let mut until = (now / 1000 + 1) * 1000;
        // Sized first: grown from empty, 2,000 rows were copied over a dozen times.
        let mut out = Vec::with_capacity(self.bots.len() + self.over_limit.len());
        // Each bot's broken file, looked up once: a scan of every issue for every bot was
        // O(bots x issues) on each `status`.
        let mut by_bot: FastMap<&str, &ConfigIssue> = FastMap::default();
        for issue in self.issues.values() {
            if let Some(bot) = &issue.bot {
                by_bot.entry(bot.as_str()).or_insert(issue);
            }
        }
        out.extend(
            self.bots
                .values()
                .filter(|e| owner.is_none_or(|o| e.handle.owner() == o))
                .map(|e| {
                    let issue = by_bot.get(e.handle.config.name.as_str()).copied();
                    e.handle.read(|v| {
                        if matches!(v.state, BotState::Backoff | BotState::Failed)
                            && v.next_attempt_ms.is_some_and(|t| t - now < 10_000)
                        {
                            until = until.min((now / 100 + 1) * 100);
                        }
                        info(&e.handle.config, v, issue, now)
                    })
                }),
        );
        for (config, reason) in self.over_limit.values() {
            if owner.is_none_or(|o| config.user == o) {
                out.push(not_running(
                    config.name.clone(),
                    config.user.clone(),
                    config.platform.as_str().to_owned(),
                    BotState::OverLimit,
                    config.enabled,
                    format!(
                        "not started: {reason}; remove a bot or raise the limit, then `botctl reload`"
                    ),
                ));
            }
        }
        if owner.is_none() {
            for issue in self.issues.values() {
                if let Some(name) = &issue.bot
                    && !self.bots.contains_key(name)
                {
                    out.push(not_running(
                        name.clone(),
                        "-".into(),
                        "-".into(),
                        BotState::ConfigError,
                        false,
                        issue.to_string(),
                    ));
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        (out, until)
    }
}

/// The row of a bot that has no process of its own to report (parked over a limit, or a
/// file that never loaded): every live figure empty, the reason in its detail.
fn not_running(
    name: String,
    owner: String,
    platform: String,
    state: BotState,
    enabled: bool,
    detail: String,
) -> BotInfo {
    BotInfo {
        name,
        owner,
        platform,
        state,
        enabled,
        pid: None,
        uptime_secs: None,
        restarts: 0,
        last_exit: None,
        detail: Some(detail),
        cpu_percent: None,
        memory_bytes: None,
        auth: None,
        forecast: None,
        notify_status: None,
        waiting_ready: false,
    }
}

/// One bot's row from its configuration, snapshot and the problem of its file, if any.
pub fn info(config: &BotConfig, view: &View, issue: Option<&ConfigIssue>, now: i64) -> BotInfo {
    let secs_until = |t: i64| {
        let ms = (t - now).max(0) as u64;
        // Whole seconds read better, but a sub-second wait must not read as "1s".
        if ms < 10_000 {
            Duration::from_millis(ms / 100 * 100)
        } else {
            Duration::from_secs(ms.div_ceil(1000))
        }
    };
    // Why the last start or run ended: what a bot waiting to start again is waiting out.
    let why = || {
        view.last_error
            .clone()
            .or_else(|| view.last_exit.as_ref().map(|e| exited_with(&e.description)))
    };
    let detail = match view.state {
        BotState::Backoff => view.next_attempt_ms.map(|t| {
            format!(
                "{}; restarting in {}",
                why().unwrap_or_default(),
                botctl_proto::human::duration(secs_until(t))
            )
        }),
        BotState::AuthInvalid => view.auth_blocked.as_ref().map(|why| {
            format!(
                "session invalid: {why}; it starts again by itself once valid cookies are in place (botctl auth set-cookies {} FILE)",
                config.name
            )
        }),
        BotState::Failed => view.next_attempt_ms.map(|t| {
            // A bot that never gets to run (a refused start) would otherwise hide why.
            format!(
                "too many restarts{}; retrying in {} (or `botctl recover {}`)",
                why().map(|w| format!(" (last: {w})")).unwrap_or_default(),
                botctl_proto::human::duration(secs_until(t)),
                config.name
            )
        }),
        BotState::Running if view.waiting_ready => Some("starting (waiting for READY=1)".into()),
        BotState::Running => view.note.map(|n| n.as_str().to_string()),
        _ => None,
    };
    // A broken file whose last good version still runs is worth saying on the row itself.
    let file_issue = issue.map(|i| format!("config error (running last good version): {i}"));
    BotInfo {
        name: config.name.clone(),
        owner: config.user.clone(),
        // Not `to_string()`: through the formatter, that was a tenth of `status` at 2,000 bots.
        platform: config.platform.as_str().to_owned(),
        state: view.state,
        enabled: config.enabled,
        pid: view.pid,
        uptime_secs: view.started_at_ms.map(|t| ((now - t).max(0) / 1000) as u64),
        restarts: view.restarts,
        last_exit: view.last_exit.clone(),
        detail: match (detail, file_issue) {
            (Some(d), Some(i)) => Some(format!("{d}; {i}")),
            (d, i) => d.or(i),
        },
        cpu_percent: view.cpu_percent,
        memory_bytes: view.memory_bytes,
        auth: view.auth.clone(),
        // Filled in from the sampler's forecasts by the ops that answer (`ops::forecast`).
        forecast: None,
        notify_status: view.notify_status.clone(),
        waiting_ready: view.waiting_ready,
    }
}
