//! The fleet: which bots exist (the files in bots.d), the task running each one, and the
//! operations on many of them (load and reload, add, remove, start/stop/restart/recover).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botctl_proto::config::{self, BotConfig, ConfigError, GlobalConfig};
use botctl_proto::{
    Action, ActionReport, AddBot, BotDetail, BotInfo, BotOutcome, BotState, ConfigIssue,
    EventQuery, PolicyInfo, ReloadReport, RpcError, ShutdownReport, Target, now_ms,
};
use futures::future::join_all;
use tokio::sync::{mpsc, oneshot};

use crate::Context;
use crate::process;
use crate::store::{NewEvent, RegistryRow};
use crate::supervisor::bot::{Begin, BotTask, Command, Settings, SharedView, new_view};

struct Entry {
    config: Arc<BotConfig>,
    tx: mpsc::UnboundedSender<Command>,
    view: SharedView,
}

#[derive(Default)]
struct State {
    global: GlobalConfig,
    bots: BTreeMap<String, Entry>,
    /// Valid bot files not started because of `max_bots_per_user` or `max_total_bots`,
    /// with the reason.
    over_limit: BTreeMap<String, (Arc<BotConfig>, String)>,
    /// Problems of the last load, by file; a bot file here either keeps its last good version
    /// running (its name is in `bots`) or shows as `config-error`.
    issues: BTreeMap<String, ConfigIssue>,
}

pub struct Fleet {
    ctx: Arc<Context>,
    state: Mutex<State>,
    /// Serialises the operations that change the set of bots (reload, add, remove).
    changes: tokio::sync::Mutex<()>,
}

impl Fleet {
    pub fn new(ctx: Arc<Context>) -> Arc<Fleet> {
        Arc::new(Fleet {
            ctx,
            state: Mutex::new(State::default()),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    /// First load: adopt what an earlier agent left running, start the rest.
    pub async fn load(&self, registry: Vec<RegistryRow>) -> ReloadReport {
        let _guard = self.changes.lock().await;
        let mut registry: BTreeMap<String, RegistryRow> =
            registry.into_iter().map(|r| (r.name.clone(), r)).collect();
        let report = self.apply_files(&mut registry);
        // Recorded bots that no longer have a file: stop whatever is left of them.
        for row in registry.into_values() {
            self.ctx.store.unregister(&row.name);
            match process::adopt(row.pid, row.start_ticks) {
                Some(p) => {
                    process::signal_group(p.pid, nix::sys::signal::Signal::SIGTERM);
                    self.event(
                        Some(&row.name),
                        Some(&row.owner),
                        "stopped",
                        format!(
                            "stopped process {} left by the previous agent: its bot file is gone",
                            row.pid
                        ),
                    );
                }
                None => self.event(
                    Some(&row.name),
                    Some(&row.owner),
                    "exited",
                    "exited while no agent was running; its bot file is gone".into(),
                ),
            }
        }
        report
    }

    pub async fn reload(&self) -> ReloadReport {
        let _guard = self.changes.lock().await;
        let mut none = BTreeMap::new();
        self.apply_files(&mut none)
    }

    /// Reads botctl.toml and bots.d and makes the running fleet match them. `adoptable` holds
    /// registry rows of an earlier agent; the ones used are removed from it.
    fn apply_files(&self, adoptable: &mut BTreeMap<String, RegistryRow>) -> ReloadReport {
        let paths = &self.ctx.paths;
        let mut report = ReloadReport::default();
        let mut issues = BTreeMap::new();
        let mut state = self.state.lock().unwrap();

        match config::load_global(&paths.config_file) {
            Ok(global) => state.global = global,
            Err(e) => {
                let issue = self.issue(&e, None, true);
                issues.insert(issue.file.clone(), issue);
            }
        }
        let global = state.global.clone();
        self.ctx
            .store
            .set_sample_retention(global.agent.sample_retention);
        let fleet = config::load_fleet(&paths.bots_dir);
        let previously_over: BTreeSet<String> = state.over_limit.keys().cloned().collect();
        state.over_limit.clear();
        let mut seen = BTreeSet::new();
        for err in &fleet.errors {
            let name = bot_name_of(&err.file);
            if let Some(n) = &name
                && !state.bots.contains_key(n)
                && let Some(entry) = self.adopt_last_good(n, adoptable, &global)
            {
                state.bots.insert(n.clone(), entry);
            }
            let kept = name.as_ref().is_some_and(|n| state.bots.contains_key(n));
            if let Some(n) = &name {
                seen.insert(n.clone());
            }
            let issue = self.issue(err, name.clone(), kept);
            let is_new = state.issues.get(&issue.file) != Some(&issue);
            if is_new {
                let owner = name
                    .as_ref()
                    .and_then(|n| state.bots.get(n))
                    .map(|e| e.config.user.clone());
                let mut message = issue.to_string();
                if kept {
                    message.push_str(" (the last good version keeps running)");
                }
                self.event(name.as_deref(), owner.as_deref(), "config-error", message);
            }
            issues.insert(issue.file.clone(), issue);
        }
        let mut new_bots = Vec::new();
        for bot in fleet.bots {
            seen.insert(bot.name.clone());
            let settings = Settings::of(&bot, &global);
            match state.bots.get_mut(&bot.name) {
                Some(entry) => {
                    if *entry.config != bot {
                        report.changed.push(bot.name.clone());
                        let config = Arc::new(bot);
                        entry.config = config.clone();
                        let _ = entry.tx.send(Command::Reconfigure(config, settings));
                    } else {
                        // The global settings may have changed under an unchanged file.
                        let _ = entry
                            .tx
                            .send(Command::Reconfigure(entry.config.clone(), settings));
                        report.unchanged += 1;
                    }
                }
                None => new_bots.push(bot),
            }
        }
        // Bots that are already running keep their places; new ones take what is left, in
        // name order, and a live process of an earlier agent is adopted whatever the limits.
        for bot in new_bots {
            let live = adoptable.contains_key(&bot.name);
            if let Err(reason) = admit(&state, &global, &bot)
                && !live
            {
                if !previously_over.contains(&bot.name) {
                    self.event(
                        Some(&bot.name),
                        Some(&bot.user),
                        "over-limit",
                        format!("not started: {reason}"),
                    );
                }
                state
                    .over_limit
                    .insert(bot.name.clone(), (Arc::new(bot), reason));
                continue;
            }
            let settings = Settings::of(&bot, &global);
            let begin = match adoptable.remove(&bot.name) {
                Some(row) => self.adopt_or_start(&bot, row),
                None if bot.enabled => Begin::Start,
                None => Begin::Idle,
            };
            if !previously_over.contains(&bot.name) {
                report.added.push(bot.name.clone());
            }
            let entry = self.spawn(bot, settings, begin);
            state.bots.insert(entry.config.name.clone(), entry);
        }
        let gone: Vec<String> = state
            .bots
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(entry) = state.bots.remove(&name) {
                let (tx, _rx) = oneshot::channel();
                let _ = entry.tx.send(Command::Remove(tx));
                report.removed.push(name);
            }
        }
        report.issues = issues.values().cloned().collect();
        state.issues = issues;
        report
    }

    /// A bot whose file broke while no agent ran: if its process still runs, keep it running
    /// under the configuration it was started with, recorded in the registry.
    fn adopt_last_good(
        &self,
        name: &str,
        adoptable: &mut BTreeMap<String, RegistryRow>,
        global: &GlobalConfig,
    ) -> Option<Entry> {
        let row = adoptable.get(name)?;
        let file = self.ctx.paths.bot_file(name);
        let bot = config::parse_bot(name, &file, &row.config_toml).ok()?;
        let process = process::adopt(row.pid, row.start_ticks)?;
        let row = adoptable.remove(name)?;
        let begin = Begin::Adopt {
            process,
            started_at_ms: row.started_at_ms,
            restarts: row.restarts,
        };
        let settings = Settings::of(&bot, global);
        Some(self.spawn(bot, settings, begin))
    }

    fn adopt_or_start(&self, bot: &BotConfig, row: RegistryRow) -> Begin {
        match process::adopt(row.pid, row.start_ticks) {
            Some(process) => Begin::Adopt {
                process,
                started_at_ms: row.started_at_ms,
                restarts: row.restarts,
            },
            None => {
                self.ctx.store.unregister(&row.name);
                self.event(
                    Some(&bot.name),
                    Some(&bot.user),
                    "exited",
                    format!(
                        "process {} exited while no agent was running{}",
                        row.pid,
                        if bot.enabled { "; starting it" } else { "" }
                    ),
                );
                if bot.enabled {
                    Begin::Start
                } else {
                    Begin::Idle
                }
            }
        }
    }

    fn spawn(&self, bot: BotConfig, settings: Settings, begin: Begin) -> Entry {
        let config = Arc::new(bot);
        let view = new_view();
        let tx = BotTask::spawn(
            self.ctx.clone(),
            config.clone(),
            settings,
            begin,
            view.clone(),
        );
        Entry { config, tx, view }
    }

    fn issue(&self, e: &ConfigError, bot: Option<String>, kept_last_good: bool) -> ConfigIssue {
        ConfigIssue {
            file: self.ctx.paths.display(&e.file),
            field: e.field.clone(),
            message: e.message.clone(),
            bot,
            kept_last_good,
        }
    }

    fn event(&self, bot: Option<&str>, owner: Option<&str>, kind: &str, message: String) {
        self.ctx.store.record(NewEvent {
            bot: bot.map(str::to_string),
            owner: owner.map(str::to_string),
            kind: kind.into(),
            message,
        });
    }

    pub fn issues(&self) -> Vec<ConfigIssue> {
        self.state
            .lock()
            .unwrap()
            .issues
            .values()
            .cloned()
            .collect()
    }

    /// Every bot, plus a `config-error` row for each bot file that never loaded.
    pub fn list(&self, owner: Option<&str>) -> Vec<BotInfo> {
        let state = self.state.lock().unwrap();
        let now = now_ms();
        let mut out: Vec<BotInfo> = state
            .bots
            .values()
            .filter(|e| owner.is_none_or(|o| e.config.user == o))
            .map(|e| info(&e.config, &e.view.lock().unwrap(), &state.issues, now))
            .collect();
        for (config, reason) in state.over_limit.values() {
            if owner.is_none_or(|o| config.user == o) {
                out.push(BotInfo {
                    name: config.name.clone(),
                    owner: config.user.clone(),
                    platform: config.platform.to_string(),
                    state: BotState::OverLimit,
                    enabled: config.enabled,
                    pid: None,
                    uptime_secs: None,
                    restarts: 0,
                    last_exit: None,
                    detail: Some(format!(
                        "not started: {reason}; remove a bot or raise the limit, then `botctl reload`"
                    )),
                    cpu_percent: None,
                    memory_bytes: None,
                });
            }
        }
        if owner.is_some() {
            out.sort_by(|a, b| a.name.cmp(&b.name));
        }
        if owner.is_none() {
            for issue in state.issues.values() {
                if let Some(name) = &issue.bot
                    && !state.bots.contains_key(name)
                {
                    out.push(BotInfo {
                        name: name.clone(),
                        owner: "-".into(),
                        platform: "-".into(),
                        state: BotState::ConfigError,
                        enabled: false,
                        pid: None,
                        uptime_secs: None,
                        restarts: 0,
                        last_exit: None,
                        detail: Some(issue.to_string()),
                        cpu_percent: None,
                        memory_bytes: None,
                    });
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
        }
        out
    }

    pub async fn show(&self, name: &str) -> Result<BotDetail, RpcError> {
        let (config, view, issue, global) = {
            let state = self.state.lock().unwrap();
            let file = self.ctx.paths.display(&self.ctx.paths.bot_file(name));
            let issue = state.issues.get(&file).cloned();
            match state.bots.get(name) {
                Some(e) => (
                    e.config.clone(),
                    e.view.lock().unwrap().clone(),
                    issue,
                    state.global.clone(),
                ),
                None => {
                    return Err(match issue {
                        Some(issue) => RpcError::invalid(format!(
                            "bot {name} has no valid configuration: {issue}"
                        )),
                        None => no_such_bot(name),
                    });
                }
            }
        };
        let paths = &self.ctx.paths;
        let mut issues = BTreeMap::new();
        if let Some(i) = &issue {
            issues.insert(i.file.clone(), i.clone());
        }
        let info = info(&config, &view, &issues, now_ms());
        let policy = config.policy(&global);
        let limits = config.limits(&global);
        let history = self
            .ctx
            .store
            .history(name, now_ms() - 3_600_000)
            .await
            .unwrap_or_default();
        let mut record = self.ctx.store.recovery(name).await.unwrap_or_default();
        record.restarts = info.restarts;
        record.last_exit = info.last_exit.clone();
        let recent_events = self
            .ctx
            .store
            .events(EventQuery {
                bot: Some(name.to_string()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap_or_default();
        let cwd = match &config.cwd {
            Some(dir) => paths.home.join(dir),
            None => paths.bot_dir(&config.user, &config.name),
        };
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
            },
            history,
            record,
            health_checks: config.health.as_ref().map(crate::health::checks::describe),
        })
    }

    /// Resolves a target to bot names; unknown names are reported, not fatal.
    fn resolve(&self, target: &Target) -> Result<(Vec<String>, Vec<String>), RpcError> {
        let state = self.state.lock().unwrap();
        let mut unknown = Vec::new();
        let names: Vec<String> = match target {
            Target::Bots(names) => names
                .iter()
                .filter(|n| {
                    let known = state.bots.contains_key(*n);
                    if !known {
                        unknown.push((*n).clone());
                    }
                    known
                })
                .cloned()
                .collect(),
            Target::All => state.bots.keys().cloned().collect(),
            Target::Owner(owner) => {
                let names: Vec<String> = state
                    .bots
                    .values()
                    .filter(|e| &e.config.user == owner)
                    .map(|e| e.config.name.clone())
                    .collect();
                if names.is_empty() {
                    return Err(RpcError::not_found(format!("owner {owner} has no bots")));
                }
                names
            }
            Target::Failing => state
                .bots
                .values()
                .filter(|e| {
                    matches!(
                        e.view.lock().unwrap().state,
                        BotState::Failed | BotState::Backoff
                    )
                })
                .map(|e| e.config.name.clone())
                .collect(),
        };
        Ok((names, unknown))
    }

    pub async fn control(&self, action: Action, target: Target) -> Result<ActionReport, RpcError> {
        let (names, unknown) = self.resolve(&target)?;
        let mut waits = Vec::new();
        {
            let state = self.state.lock().unwrap();
            for name in &names {
                let Some(entry) = state.bots.get(name) else {
                    continue;
                };
                let (tx, rx) = oneshot::channel();
                let _ = entry.tx.send(Command::User(action, tx));
                waits.push((name.clone(), rx));
            }
        }
        let mut outcomes: Vec<BotOutcome> = unknown
            .into_iter()
            .map(|name| BotOutcome {
                message: no_such_bot(&name).message,
                bot: name,
                ok: false,
                state: None,
                pid: None,
            })
            .collect();
        let answers = join_all(waits.into_iter().map(|(name, rx)| async move {
            rx.await.unwrap_or_else(|_| BotOutcome {
                bot: name,
                ok: false,
                message: "the bot was removed meanwhile".into(),
                state: None,
                pid: None,
            })
        }))
        .await;
        outcomes.extend(answers);
        Ok(ActionReport { action, outcomes })
    }

    pub async fn add(&self, req: AddBot) -> Result<BotOutcome, RpcError> {
        let _guard = self.changes.lock().await;
        let paths = &self.ctx.paths;
        if !config::valid_bot_name(&req.name) {
            return Err(RpcError::invalid(format!(
                "invalid bot name {:?}: use lowercase letters, digits, '-' and '_', starting with a letter or digit (at most 64)",
                req.name
            )));
        }
        let file = paths.bot_file(&req.name);
        if self.state.lock().unwrap().bots.contains_key(&req.name) || file.exists() {
            return Err(RpcError::conflict(format!(
                "bot {} already exists ({}): remove it first or choose another name",
                req.name,
                paths.display(&file)
            )));
        }
        let platform = match req.platform.as_deref() {
            None => config::Platform::default(),
            Some(p) => config::Platform::ALL
                .into_iter()
                .find(|x| x.as_str() == p)
                .ok_or_else(|| {
                    RpcError::invalid(format!(
                        "unknown platform {p:?}: use twitter, messenger, telegram or generic"
                    ))
                })?,
        };
        let draft = BotConfig {
            name: req.name.clone(),
            user: req.owner.clone(),
            command: req.command.clone(),
            cwd: req.cwd.clone(),
            env: req.env.iter().cloned().collect(),
            platform,
            enabled: true,
            stop_timeout: None,
            template: None,
            restart: Default::default(),
            limits: Default::default(),
            health: None,
        };
        {
            let state = self.state.lock().unwrap();
            admit(&state, &state.global, &draft).map_err(|reason| {
                RpcError::conflict(format!("cannot add {}: {reason}", req.name))
            })?;
        }
        // Parsing what we are about to write validates it exactly like a hand-written file.
        let text = draft.to_toml();
        let bot = config::parse_bot(&req.name, &file, &text).map_err(|e| {
            let msg = match &e.field {
                Some(f) => format!("{f}: {}", e.message),
                None => e.message.clone(),
            };
            RpcError::invalid(msg)
        })?;
        write_atomically(&file, &text).map_err(|e| {
            RpcError::internal(format!("cannot write {}: {e}", paths.display(&file)))
        })?;
        self.event(
            Some(&bot.name),
            Some(&bot.user),
            "added",
            format!("added by botctl bots add ({})", paths.display(&file)),
        );
        let global = self.state.lock().unwrap().global.clone();
        let settings = Settings::of(&bot, &global);
        let begin = if req.start { Begin::Start } else { Begin::Idle };
        let entry = self.spawn(bot, settings, begin);
        let view = entry.view.lock().unwrap().clone();
        let name = entry.config.name.clone();
        self.state.lock().unwrap().bots.insert(name.clone(), entry);
        let ok = !req.start || view.state == BotState::Running;
        Ok(BotOutcome {
            message: match (req.start, view.pid) {
                (false, _) => "added; not started".into(),
                (true, Some(pid)) => format!("added and started (pid {pid})"),
                (true, None) => format!(
                    "added, but it did not start: {}",
                    view.last_error.unwrap_or_else(|| view.state.to_string())
                ),
            },
            bot: name,
            ok,
            state: Some(view.state),
            pid: view.pid,
        })
    }

    pub async fn remove(&self, name: &str) -> Result<BotOutcome, RpcError> {
        let _guard = self.changes.lock().await;
        let paths = &self.ctx.paths;
        let file = paths.bot_file(name);
        let entry = {
            let mut state = self.state.lock().unwrap();
            state.over_limit.remove(name);
            state.bots.remove(name)
        };
        let outcome = match entry {
            Some(entry) => {
                let (tx, rx) = oneshot::channel();
                let _ = entry.tx.send(Command::Remove(tx));
                let mut outcome = rx.await.unwrap_or_else(|_| BotOutcome {
                    bot: name.to_string(),
                    ok: true,
                    message: "stopped".into(),
                    state: None,
                    pid: None,
                });
                outcome.message = format!("{}; removed {}", outcome.message, paths.display(&file));
                outcome
            }
            None if file.exists() => BotOutcome {
                bot: name.to_string(),
                ok: true,
                message: format!("removed {}", paths.display(&file)),
                state: None,
                pid: None,
            },
            None => return Err(no_such_bot(name)),
        };
        if let Err(e) = std::fs::remove_file(&file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(RpcError::internal(format!(
                "stopped {name}, but cannot remove {}: {e}",
                paths.display(&file)
            )));
        }
        self.state
            .lock()
            .unwrap()
            .issues
            .remove(&paths.display(&file));
        self.event(Some(name), None, "removed", outcome.message.clone());
        Ok(outcome)
    }

    /// Stops every bot (or leaves them running for the next agent) and ends their tasks.
    pub async fn shutdown(&self, keep: bool) -> ShutdownReport {
        let _guard = self.changes.lock().await;
        let entries: Vec<Entry> = std::mem::take(&mut self.state.lock().unwrap().bots)
            .into_values()
            .collect();
        let waits = entries.iter().map(|e| {
            let (tx, rx) = oneshot::channel();
            let _ = e.tx.send(Command::Shutdown { keep, done: tx });
            let name = e.config.name.clone();
            async move { (name, rx.await.ok()) }
        });
        let mut report = ShutdownReport::default();
        for (name, outcome) in join_all(waits).await {
            match outcome {
                Some(o) if o.message.starts_with("left running") => report.kept.push(name),
                _ => report.stopped.push(name),
            }
        }
        report
    }

    /// Log files of every bot, for rotation.
    pub fn log_files(&self) -> Vec<std::path::PathBuf> {
        let state = self.state.lock().unwrap();
        let paths = &self.ctx.paths;
        state
            .bots
            .keys()
            .flat_map(|n| [paths.stdout_log(n), paths.stderr_log(n)])
            .collect()
    }

    pub fn agent_log(&self) -> std::path::PathBuf {
        self.ctx.paths.agent_log.clone()
    }

    pub fn global(&self) -> GlobalConfig {
        self.state.lock().unwrap().global.clone()
    }

    /// The running bots, for the health sampler.
    pub fn sample_targets(&self) -> Vec<crate::health::Target> {
        let state = self.state.lock().unwrap();
        state
            .bots
            .values()
            .filter_map(|e| {
                let pid = e.view.lock().unwrap().pid?;
                Some(crate::health::Target {
                    name: e.config.name.clone(),
                    owner: e.config.user.clone(),
                    pid,
                    limits: e.config.limits(&state.global),
                    view: e.view.clone(),
                    tx: e.tx.clone(),
                })
            })
            .collect()
    }

    pub fn log_settings(&self) -> config::LogSettings {
        self.state.lock().unwrap().global.logs.clone()
    }
}

fn info(
    config: &BotConfig,
    view: &crate::supervisor::bot::View,
    issues: &BTreeMap<String, ConfigIssue>,
    now: i64,
) -> BotInfo {
    let secs_until = |t: i64| {
        let ms = (t - now).max(0) as u64;
        // Whole seconds read better, but a sub-second wait must not read as "1s".
        if ms < 10_000 {
            Duration::from_millis(ms / 100 * 100)
        } else {
            Duration::from_secs(ms.div_ceil(1000))
        }
    };
    let detail = match view.state {
        BotState::Backoff => view.next_attempt_ms.map(|t| {
            let why = view
                .last_error
                .clone()
                .or_else(|| {
                    view.last_exit
                        .as_ref()
                        .map(|e| format!("exited with {}", e.description))
                })
                .unwrap_or_default();
            format!(
                "{why}; restarting in {}",
                config::format_duration(secs_until(t))
            )
        }),
        BotState::Failed => view.next_attempt_ms.map(|t| {
            format!(
                "too many restarts; retrying in {} (or `botctl recover {}`)",
                config::format_duration(secs_until(t)),
                config.name
            )
        }),
        _ => None,
    };
    // A broken file whose last good version still runs is worth saying on the row itself.
    let file_issue = issues
        .values()
        .find(|i| i.bot.as_deref() == Some(config.name.as_str()))
        .map(|i| format!("config error (running last good version): {i}"));
    BotInfo {
        name: config.name.clone(),
        owner: config.user.clone(),
        platform: config.platform.to_string(),
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
    }
}

/// Whether one more bot of this owner fits under `max_bots_per_user` and `max_total_bots`.
fn admit(state: &State, global: &GlobalConfig, bot: &BotConfig) -> Result<(), String> {
    let owned = state
        .bots
        .values()
        .filter(|e| e.config.user == bot.user)
        .count();
    let max_owned = global.max_bots_for(&bot.user) as usize;
    if owned >= max_owned {
        return Err(format!(
            "owner {} has {owned} bots and max_bots_per_user is {max_owned}",
            bot.user
        ));
    }
    let total = state.bots.len();
    let max_total = global.limits.max_total_bots as usize;
    if total >= max_total {
        return Err(format!(
            "the fleet has {total} bots and max_total_bots is {max_total}"
        ));
    }
    Ok(())
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn no_such_bot(name: &str) -> RpcError {
    RpcError::not_found(format!(
        "no bot named {name}: `botctl bots list` shows the fleet"
    ))
}

fn bot_name_of(file: &std::path::Path) -> Option<String> {
    if file.extension()? != "toml" {
        return None;
    }
    let stem = file.file_stem()?.to_str()?;
    config::valid_bot_name(stem).then(|| stem.to_string())
}

/// Temp file in the same directory, fsync, rename: readers see the old file or the new one.
/// Mode 0600: bot files can hold secrets in `env`.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
