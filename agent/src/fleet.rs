//! The fleet: which bots exist (the files in bots.d), the task running each one, and the
//! operations on many of them (load and reload, add, remove, start/stop/restart/recover).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botctl_proto::config::{self, BotConfig, ConfigError, GlobalConfig, Listing};
use std::path::Path;

use botctl_proto::{
    Action, ActionReport, AddBot, BotDetail, BotInfo, BotOutcome, BotState, CleanupItem,
    CleanupReport, ConfigIssue, CreateBot, EventQuery, OwnerStorage, PolicyInfo, ReloadReport,
    RpcError, ShutdownReport, StorageReport, Target, TemplateInfo, now_ms,
};
use futures::future::join_all;
use tokio::sync::{mpsc, oneshot};

use crate::Context;
use crate::process;
use crate::storage;
use crate::store::{NewEvent, Opened, RegistryRow, Supervision};
use crate::supervisor::bot::{Begin, BotTask, Command, Prepared, Settings, SharedView, new_view};

mod discover;

/// What the auth monitor needs of one bot.
pub struct AuthTarget {
    pub config: Arc<BotConfig>,
    pub cwd: std::path::PathBuf,
    pub view: SharedView,
    pub tx: mpsc::UnboundedSender<Command>,
}

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
    /// Where an earlier agent left each bot, until the bot's task takes it over.
    saved: BTreeMap<String, Supervision>,
}

/// botctl.toml and every bot file as read from disk, ready to apply.
pub struct Files {
    global: Result<GlobalConfig, ConfigError>,
    fleet: config::Fleet,
}

impl Files {
    /// Reads and parses them: the largest part of a start with many bots, which is why the
    /// agent does it on its own thread while the store opens.
    pub fn read(paths: &botctl_proto::Paths) -> Files {
        Files {
            global: config::load_global(&paths.config_file),
            fleet: config::load_fleet(&paths.bots_dir),
        }
    }
}

/// Registry rows of an earlier agent by bot name, each with its process if that still runs.
type Adoptable = BTreeMap<String, (RegistryRow, Option<process::Claim>)>;

/// Checks which recorded processes still run: a pidfd each, identified by its pidfs inode or,
/// where that is unknown, by the start time in /proc.
fn adoptable(rows: Vec<RegistryRow>) -> Adoptable {
    rows.into_iter()
        .map(|r| {
            let claim = process::Claim::check(r.pid, r.start_ticks, r.pidfs_id);
            (r.name.clone(), (r, claim))
        })
        .collect()
}

pub struct Fleet {
    ctx: Arc<Context>,
    state: Mutex<State>,
    /// Serialises the operations that change the set of bots (reload, add, remove).
    changes: tokio::sync::Mutex<()>,
    /// Set by `shutdown`: no bot is added after it, so the registry the agent leaves names
    /// every process (the next agent trusts it after a clean exit).
    closed: std::sync::atomic::AtomicBool,
}

impl Fleet {
    pub fn new(ctx: Arc<Context>) -> Arc<Fleet> {
        Arc::new(Fleet {
            ctx,
            state: Mutex::new(State::default()),
            changes: tokio::sync::Mutex::new(()),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// First load: adopt what an earlier agent left running, restore where it left every
    /// bot, start the rest. Unless the last agent exited cleanly (`registry_complete`), its
    /// spawn records and the live processes are checked too (see `discover`): a bot whose
    /// registry row was not written before the agent died is adopted, not doubled.
    ///
    /// `files` gives botctl.toml and bots.d: they may still be being read on another thread
    /// while this checks the recorded processes.
    pub async fn load(
        &self,
        files: impl FnOnce() -> Files,
        opened: Opened,
        registry_complete: bool,
    ) -> ReloadReport {
        let _guard = self.changes.lock().await;
        let saved: BTreeMap<String, Supervision> = opened
            .supervision
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let rows = if registry_complete {
            opened.registry
        } else {
            let t0 = std::time::Instant::now();
            let evidence = discover::Evidence {
                registry: opened.registry,
                spawns: self.ctx.spawn_records.read_all(),
                wanted: saved.iter().map(|(n, r)| (n.clone(), r.wanted)).collect(),
                live: discover::live_bots(&self.ctx.paths.home),
            };
            if std::env::var_os("BOTCTL_TRACE_STARTUP").is_some() {
                crate::log_line(format_args!("startup: /proc scan took {:?}", t0.elapsed()));
            }
            self.sort_out(discover::reconcile(evidence, discover::is_live), true)
        };
        let mut registry = adoptable(rows);
        self.state.lock().unwrap().saved = saved;
        let report = self.apply_files(files(), &mut registry);
        let unreadable = report.listing == Listing::Unreadable;
        // Recorded bots that no longer have a file: stop whatever is left of them.
        for (row, claim) in registry.into_values() {
            if unreadable || self.ctx.paths.bot_file(&row.name).exists() {
                // Its file is broken (or bots.d cannot be read) and no last good version is
                // known: leave it running rather than stop a bot over a typo; `reload` adopts
                // it once the file is fixed.
                if claim.is_some() {
                    let why = if unreadable {
                        "bots.d cannot be read"
                    } else {
                        "its bot file is broken"
                    };
                    self.event(
                        Some(&row.name),
                        Some(&row.owner),
                        "config-error",
                        format!(
                            "process {} keeps running unsupervised: {why} and no last good version is recorded; fix it and run `botctl reload`",
                            row.pid
                        ),
                    );
                }
                continue;
            }
            self.ctx.store.unregister(&row.name);
            match claim {
                Some(p) => {
                    process::signal_group(p.pid(), nix::sys::signal::Signal::SIGTERM);
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
        // Where a bot whose file is gone was left goes with it (not when bots.d cannot be
        // read: its files may all be there).
        let mut state = self.state.lock().unwrap();
        let gone: Vec<String> = state
            .saved
            .keys()
            .filter(|n| !unreadable && !self.ctx.paths.bot_file(n).exists())
            .cloned()
            .collect();
        for name in gone {
            state.saved.remove(&name);
            self.ctx.store.forget(&name);
        }
        report
    }

    /// Carries out what discovery concluded: repaired rows are written down, duplicates the
    /// agent provably started are stopped, and processes nothing recorded are left alone
    /// (said once, at the agent's start: `report_unrecorded`). Gives the rows to adopt.
    fn sort_out(&self, verdict: discover::Verdict, report_unrecorded: bool) -> Vec<RegistryRow> {
        for (name, how) in &verdict.repaired {
            let Some(row) = verdict.rows.iter().find(|r| &r.name == name) else {
                continue;
            };
            self.ctx.store.register(row.clone());
            let why = match how {
                // The agent's own record: adopted as usual, nothing to say.
                discover::Repair::SpawnRecord => continue,
                discover::Repair::InFlight => format!(
                    "found its process {}, started while the previous agent was starting it (that agent died before writing the pid down): adopting it instead of starting a copy",
                    row.pid
                ),
                discover::Repair::Environ => format!(
                    "found its process {} running with no record of it at all (the database and spawn records were lost): adopting it instead of starting a copy",
                    row.pid
                ),
            };
            self.event(Some(name), Some(&row.owner), "discovered", why);
        }
        for row in &verdict.duplicates {
            self.stop_duplicate(row);
        }
        if report_unrecorded {
            for (name, p) in &verdict.unrecorded {
                self.event(
                    Some(name),
                    None,
                    "unrecorded",
                    format!(
                        "found an unrecorded process claiming to be bot {name} (pid {}): left alone (neither adopted nor stopped; it may be a helper the bot started in a session of its own)",
                        p.pid
                    ),
                );
            }
        }
        verdict.rows
    }

    pub async fn reload(&self) -> ReloadReport {
        let _guard = self.changes.lock().await;
        if self.is_closed() {
            return ReloadReport::default();
        }
        // A bot that is new to this agent may still run: left unsupervised at load because its
        // file was broken, say. Adopt it rather than start a second copy.
        let (known, wanted) = {
            let state = self.state.lock().unwrap();
            let known: BTreeSet<String> = state.bots.keys().cloned().collect();
            let wanted = state.saved.iter().map(|(n, r)| (n.clone(), r.wanted));
            (known, wanted.collect())
        };
        let mut registry = self.ctx.store.registry().await.unwrap_or_default();
        registry.retain(|r| !known.contains(&r.name));
        let mut spawns = self.ctx.spawn_records.read_all();
        spawns.retain(|name, _| !known.contains(name));
        let mut live = discover::live_bots(&self.ctx.paths.home);
        live.retain(|name, _| !known.contains(name));
        let evidence = discover::Evidence {
            registry,
            spawns,
            wanted,
            live,
        };
        let rows = self.sort_out(discover::reconcile(evidence, discover::is_live), false);
        // Reading many files is blocking work: off the runtime, so RPCs keep being answered.
        let paths = self.ctx.paths.clone();
        let files = crate::off_runtime(move || Files::read(&paths)).await;
        self.apply_files(files, &mut adoptable(rows))
    }

    /// An older process of a bot that the agent recorded starting, while the copy it started
    /// later runs too (an agent killed mid-restart, say): it is stopped so the bot runs once.
    fn stop_duplicate(&self, row: &RegistryRow) {
        process::signal_group(row.pid, nix::sys::signal::Signal::SIGTERM);
        self.event(
            Some(&row.name),
            Some(&row.owner),
            "stopped",
            format!(
                "stopped process {}: an older copy of the bot that the previous agent started, while the copy it started later runs",
                row.pid
            ),
        );
        let (pid, ticks) = (row.pid, row.start_ticks);
        tokio::spawn(async move {
            tokio::time::sleep(DUPLICATE_KILL_AFTER).await;
            if process::start_ticks(pid) == Some(ticks) {
                process::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
    }

    /// Makes the running fleet match botctl.toml and bots.d as `files` read them. `adoptable`
    /// holds registry rows of an earlier agent; the ones used are removed from it.
    fn apply_files(&self, files: Files, adoptable: &mut Adoptable) -> ReloadReport {
        let mut report = ReloadReport::default();
        let mut issues = BTreeMap::new();
        let mut state = self.state.lock().unwrap();

        match files.global {
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
        let fleet = files.fleet;
        if fleet.listing == Listing::Unreadable {
            return self.keep_all(&mut state, fleet.errors, issues, adoptable, &global);
        }
        let previously_over: BTreeSet<String> = state.over_limit.keys().cloned().collect();
        state.over_limit.clear();
        let mut seen = BTreeSet::new();
        // New bots' tasks, put on the runtime together at the end.
        let mut prepared = Vec::new();
        for err in &fleet.errors {
            let name = bot_name_of(&err.file);
            if let Some(n) = &name
                && !state.bots.contains_key(n)
                && let Some((entry, task)) =
                    self.adopt_last_good(n, adoptable, &global, &mut state.saved)
            {
                state.bots.insert(n.clone(), entry);
                prepared.push(task);
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
                        let _ = entry
                            .tx
                            .send(Command::Reconfigure(config, Box::new(settings)));
                    } else {
                        // The global settings may have changed under an unchanged file.
                        let _ = entry.tx.send(Command::Reconfigure(
                            entry.config.clone(),
                            Box::new(settings),
                        ));
                        report.unchanged += 1;
                    }
                }
                None => new_bots.push(bot),
            }
        }
        // Bots that are already running keep their places; new ones take what is left, in
        // name order, and a live process of an earlier agent is adopted whatever the limits.
        let mut owned: BTreeMap<String, usize> = BTreeMap::new();
        for e in state.bots.values() {
            *owned.entry(e.config.user.clone()).or_default() += 1;
        }
        for bot in new_bots {
            let live = adoptable
                .get(&bot.name)
                .is_some_and(|(_, claim)| claim.is_some());
            let has = owned.get(&bot.user).copied().unwrap_or(0);
            if let Err(reason) = admit(has, state.bots.len(), &global, &bot.user)
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
            let saved = state.saved.remove(&bot.name);
            let begin = match adoptable.remove(&bot.name) {
                Some(row) => self.adopt_or_start(&bot, row, saved.as_ref()),
                None => Begin::Resume,
            };
            if !previously_over.contains(&bot.name) {
                report.added.push(bot.name.clone());
            }
            *owned.entry(bot.user.clone()).or_default() += 1;
            let (entry, task) = self.prepare(bot, settings, begin, saved);
            state.bots.insert(entry.config.name.clone(), entry);
            prepared.push(task);
        }
        prepared.into_iter().for_each(Prepared::start);
        let gone: Vec<String> = state
            .bots
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        if fleet.listing == Listing::Missing && !gone.is_empty() {
            // Deleting the folder removes every bot: said once, with the count, before it happens.
            self.event(
                None,
                None,
                "reload",
                format!(
                    "{} is missing: stopping {} bot(s) ({})",
                    self.ctx.paths.display(&self.ctx.paths.bots_dir),
                    gone.len(),
                    gone.join(", ")
                ),
            );
        }
        for name in gone {
            if let Some(entry) = state.bots.remove(&name) {
                let (tx, _rx) = oneshot::channel();
                let _ = entry.tx.send(Command::Remove(tx));
                report.removed.push(name);
            }
        }
        report.issues = issues.values().cloned().collect();
        report.listing = fleet.listing;
        state.issues = issues;
        report
    }

    /// bots.d cannot be listed: what its files say is unknown, which is not "no bots". Every
    /// bot stays as it is (the global settings still apply), a live process of an earlier
    /// agent is adopted under the configuration it was started with, and the reason is an
    /// issue and a `config-error` event.
    fn keep_all(
        &self,
        state: &mut State,
        errors: Vec<ConfigError>,
        mut issues: BTreeMap<String, ConfigIssue>,
        adoptable: &mut Adoptable,
        global: &GlobalConfig,
    ) -> ReloadReport {
        let live: Vec<String> = adoptable
            .iter()
            .filter(|(name, (_, claim))| claim.is_some() && !state.bots.contains_key(*name))
            .map(|(name, _)| name.clone())
            .collect();
        let mut prepared = Vec::new();
        for name in live {
            if let Some((entry, task)) =
                self.adopt_last_good(&name, adoptable, global, &mut state.saved)
            {
                state.bots.insert(name, entry);
                prepared.push(task);
            }
        }
        prepared.into_iter().for_each(Prepared::start);
        for entry in state.bots.values() {
            let settings = Settings::of(&entry.config, global);
            let _ = entry.tx.send(Command::Reconfigure(
                entry.config.clone(),
                Box::new(settings),
            ));
        }
        // The bot files' own problems stand as last seen: nothing newer is known.
        for (file, issue) in &state.issues {
            if issue.bot.is_some() {
                issues.insert(file.clone(), issue.clone());
            }
        }
        for e in &errors {
            let mut issue = self.issue(e, None, true);
            issue
                .message
                .push_str("; every bot is kept as it is until it can be read");
            if state.issues.get(&issue.file) != Some(&issue) {
                self.event(
                    None,
                    None,
                    "config-error",
                    format!("{issue} ({} bot(s) kept)", state.bots.len()),
                );
            }
            issues.insert(issue.file.clone(), issue);
        }
        let report = ReloadReport {
            unchanged: state.bots.len(),
            issues: issues.values().cloned().collect(),
            listing: Listing::Unreadable,
            ..ReloadReport::default()
        };
        state.issues = issues;
        report
    }

    /// A bot whose file broke while no agent ran: if its process still runs, keep it running
    /// under the configuration it was started with, recorded in the registry.
    fn adopt_last_good(
        &self,
        name: &str,
        adoptable: &mut Adoptable,
        global: &GlobalConfig,
        saved: &mut BTreeMap<String, Supervision>,
    ) -> Option<(Entry, Prepared)> {
        let (row, Some(_)) = adoptable.get(name)? else {
            return None;
        };
        let file = self.ctx.paths.bot_file(name);
        let bot = config::parse_bot(name, &file, &row.config_toml).ok()?;
        let (row, claim) = adoptable.remove(name)?;
        let process = claim?.adopt()?;
        let begin = Begin::Adopt {
            process,
            started_at_ms: row.started_at_ms,
            restarts: row.restarts,
        };
        let settings = Settings::of(&bot, global);
        Some(self.prepare(bot, settings, begin, saved.remove(name)))
    }

    fn adopt_or_start(
        &self,
        bot: &BotConfig,
        (row, claim): (RegistryRow, Option<process::Claim>),
        saved: Option<&Supervision>,
    ) -> Begin {
        match claim.and_then(process::Claim::adopt) {
            Some(process) => {
                if row.pidfs_id != process.pidfs_id {
                    // Recorded before identities were (a discovered process, an older
                    // agent): record it now, so the next agent need not read /proc.
                    self.ctx.store.register(RegistryRow {
                        pidfs_id: process.pidfs_id,
                        ..row.clone()
                    });
                }
                Begin::Adopt {
                    process,
                    started_at_ms: row.started_at_ms,
                    restarts: row.restarts,
                }
            }
            None => {
                use crate::store::Wanted;
                self.ctx.store.unregister(&row.name);
                let next = match (bot.enabled, saved.map(|s| s.wanted)) {
                    (false, _) => "",
                    (true, None | Some(Wanted::Running | Wanted::Disabled)) => "; starting it",
                    (true, Some(Wanted::Backoff)) => "; restarting it after its backoff",
                    (true, Some(_)) => "; left as it was, not started",
                };
                self.event(
                    Some(&bot.name),
                    Some(&bot.user),
                    "exited",
                    format!(
                        "process {} exited while no agent was running{next}",
                        row.pid
                    ),
                );
                Begin::Resume
            }
        }
    }

    /// A bot's task, begun but not on the runtime yet (see `Prepared::start`).
    fn prepare(
        &self,
        bot: BotConfig,
        settings: Settings,
        begin: Begin,
        saved: Option<Supervision>,
    ) -> (Entry, Prepared) {
        let config = Arc::new(bot);
        let view = new_view();
        let (tx, prepared) = BotTask::prepare(
            self.ctx.clone(),
            config.clone(),
            settings,
            begin,
            saved,
            view.clone(),
        );
        (Entry { config, tx, view }, prepared)
    }

    fn spawn(&self, bot: BotConfig, settings: Settings, begin: Begin) -> Entry {
        let (entry, prepared) = self.prepare(bot, settings, begin, None);
        prepared.start();
        entry
    }

    fn issue(&self, e: &ConfigError, bot: Option<String>, kept_last_good: bool) -> ConfigIssue {
        ConfigIssue::new(e, self.ctx.paths.display(&e.file), bot, kept_last_good)
    }

    fn event(&self, bot: Option<&str>, owner: Option<&str>, kind: &str, message: String) {
        self.ctx.record(NewEvent {
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
                    auth: None,
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
                        auth: None,
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
        let cwd = bot_cwd(paths, &config);
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
            Target::Template(t) => {
                let names: Vec<String> = state
                    .bots
                    .values()
                    .filter(|e| e.config.template.as_deref() == Some(t.as_str()))
                    .map(|e| e.config.name.clone())
                    .collect();
                if names.is_empty() {
                    return Err(RpcError::not_found(format!("no bots use template {t}")));
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
        // What was asked is on disk before the caller hears it was done: an agent killed
        // right after a `stop` must not start the bot again.
        self.ctx.store.flush().await;
        Ok(ActionReport { action, outcomes })
    }

    pub async fn add(&self, req: AddBot) -> Result<BotOutcome, RpcError> {
        let _guard = self.changes.lock().await;
        self.refuse_when_closed()?;
        let paths = &self.ctx.paths;
        if !config::valid_bot_name(&req.name) {
            return Err(invalid_name(&req.name));
        }
        let file = paths.bot_file(&req.name);
        if self.exists(&req.name) || file.exists() {
            return Err(already_exists(paths, &req.name, &file));
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
            auth: None,
            update: None,
        };
        {
            let state = self.state.lock().unwrap();
            admit_one(&state, &draft.user).map_err(|reason| {
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
        let outcome = self.install(bot, req.start, "added");
        self.ctx.store.flush().await;
        Ok(outcome)
    }

    /// Puts a bot whose file is written into the fleet, started or not.
    fn install(&self, bot: BotConfig, start: bool, verb: &str) -> BotOutcome {
        let global = self.state.lock().unwrap().global.clone();
        let settings = Settings::of(&bot, &global);
        let begin = if start { Begin::Start } else { Begin::Idle };
        let entry = self.spawn(bot, settings, begin);
        let view = entry.view.lock().unwrap().clone();
        let name = entry.config.name.clone();
        self.state.lock().unwrap().bots.insert(name.clone(), entry);
        let ok = !start || view.state == BotState::Running;
        BotOutcome {
            message: match (start, view.pid) {
                (false, _) => format!("{verb}; not started"),
                (true, Some(pid)) => format!("{verb} and started (pid {pid})"),
                (true, None) => format!(
                    "{verb}, but it did not start: {}",
                    view.last_error.unwrap_or_else(|| view.state.to_string())
                ),
            },
            bot: name,
            ok,
            state: Some(view.state),
            pid: view.pid,
        }
    }

    /// `bots create`: limits and quota first, then the directory from the template, then the
    /// file; a failure half-way removes what was made.
    pub async fn create(&self, req: CreateBot) -> Result<BotOutcome, RpcError> {
        let _guard = self.changes.lock().await;
        self.refuse_when_closed()?;
        let paths = &self.ctx.paths;
        if !config::valid_bot_name(&req.name) {
            return Err(invalid_name(&req.name));
        }
        if !config::valid_owner_name(&req.owner) {
            return Err(RpcError::invalid(format!(
                "invalid owner name {:?}: use letters, digits, _, . and -",
                req.owner
            )));
        }
        let file = paths.bot_file(&req.name);
        if self.exists(&req.name) || file.exists() {
            return Err(already_exists(paths, &req.name, &file));
        }
        let tdir = paths.templates_dir.join(&req.template);
        if !config::valid_bot_name(&req.template) || !tdir.is_dir() {
            return Err(RpcError::not_found(format!(
                "no template {:?} in {}: `botctl templates list` shows them",
                req.template,
                paths.display(&paths.templates_dir)
            )));
        }
        let template =
            config::load_template(&tdir).map_err(|e| RpcError::invalid(e.to_string()))?;
        let bot = config::bot_from_template(&req.name, &req.owner, &template, &req.sets, &file)
            .map_err(|e| {
                RpcError::invalid(match &e.field {
                    Some(f) => format!("{f}: {}", e.message),
                    None => e.message.clone(),
                })
            })?;
        {
            let state = self.state.lock().unwrap();
            admit_one(&state, &bot.user).map_err(|reason| {
                RpcError::conflict(format!("cannot create {}: {reason}", req.name))
            })?;
            let owned: Vec<&BotConfig> = state
                .bots
                .values()
                .filter(|e| e.config.user == req.owner)
                .map(|e| &*e.config)
                .collect();
            let used = storage::owner_usage(paths, &req.owner, &owned);
            let needs = storage::copies_size(paths, &template);
            let quota = state
                .global
                .storage_quota_for(&req.owner)
                .saturating_mul(MIB);
            if used + needs > quota {
                return Err(RpcError::conflict(format!(
                    "cannot create {}: owner {} uses {} MiB of storage_quota_mb = {} and the copies of template {} need {} MiB more",
                    req.name,
                    req.owner,
                    used.div_ceil(MIB),
                    quota / MIB,
                    template.name,
                    needs.div_ceil(MIB)
                )));
            }
        }
        // Copying the template's files is blocking work of any size: off the runtime.
        let dir = {
            let (paths, template) = (paths.clone(), template.clone());
            let (owner, name) = (req.owner.clone(), req.name.clone());
            crate::off_runtime(move || storage::create_bot_dir(&paths, &template, &owner, &name))
                .await
                .map_err(RpcError::internal)?
        };
        if let Err(e) = write_atomically(&file, &bot.to_toml()) {
            let _ = storage::fsops::remove_under(
                &paths.bots_root,
                &Path::new(&req.owner).join(&req.name),
                false,
            );
            return Err(RpcError::internal(format!(
                "cannot write {}: {e}",
                paths.display(&file)
            )));
        }
        self.event(
            Some(&bot.name),
            Some(&bot.user),
            "created",
            format!(
                "created from template {} in {}",
                template.name,
                paths.display(&dir)
            ),
        );
        let outcome = self.install(bot, req.start, "created");
        self.ctx.store.flush().await;
        Ok(outcome)
    }

    fn exists(&self, name: &str) -> bool {
        let state = self.state.lock().unwrap();
        state.bots.contains_key(name) || state.over_limit.contains_key(name)
    }

    pub async fn remove(&self, name: &str, purge: bool) -> Result<BotOutcome, RpcError> {
        let _guard = self.changes.lock().await;
        let paths = &self.ctx.paths;
        let file = paths.bot_file(name);
        let (entry, parked) = {
            let mut state = self.state.lock().unwrap();
            (state.bots.remove(name), state.over_limit.remove(name))
        };
        // Purge deletes only a default directory under bots/, never a custom cwd.
        let purge_dir = entry
            .as_ref()
            .map(|e| e.config.clone())
            .or(parked.map(|(c, _)| c))
            .or_else(|| config::load_bot(&file).ok().map(Arc::new))
            .filter(|c| c.cwd.is_none())
            .map(|c| Path::new(&c.user).join(name));
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
        let mut outcome = outcome;
        if purge {
            match purge_dir {
                Some(rel) if paths.bots_root.join(&rel).exists() => {
                    match storage::fsops::remove_under(&paths.bots_root, &rel, false) {
                        Ok(freed) => outcome.message.push_str(&format!(
                            "; deleted bots/{} ({} files, {} bytes)",
                            rel.display(),
                            freed.files,
                            freed.bytes
                        )),
                        Err(e) => {
                            outcome.ok = false;
                            outcome
                                .message
                                .push_str(&format!("; could not delete its directory: {e}"));
                        }
                    }
                }
                Some(_) => outcome.message.push_str("; it had no directory to delete"),
                None => outcome
                    .message
                    .push_str("; its directory is a custom cwd: not deleted"),
            }
        }
        self.event(Some(name), None, "removed", outcome.message.clone());
        Ok(outcome)
    }

    pub fn templates(&self) -> Vec<TemplateInfo> {
        let paths = &self.ctx.paths;
        let state = self.state.lock().unwrap();
        let count = |t: &str| {
            state
                .bots
                .values()
                .map(|e| &e.config)
                .chain(state.over_limit.values().map(|(c, _)| c))
                .filter(|c| c.template.as_deref() == Some(t))
                .count() as u32
        };
        let bytes = |t: &str| {
            storage::fsops::usage(&paths.templates_dir.join(t))
                .map(|u| u.bytes)
                .unwrap_or(0)
        };
        storage::templates(paths)
            .into_iter()
            .map(|t| match t {
                Ok(t) => TemplateInfo {
                    bots: count(&t.name),
                    bytes: bytes(&t.name),
                    name: t.name,
                    description: t.description,
                    command: t.command,
                    platform: t.platform.to_string(),
                    problem: None,
                },
                Err((name, problem)) => TemplateInfo {
                    bots: count(&name),
                    bytes: bytes(&name),
                    name,
                    description: None,
                    command: Vec::new(),
                    platform: "-".into(),
                    problem: Some(problem),
                },
            })
            .collect()
    }

    pub fn storage(&self, owner: Option<&str>) -> StorageReport {
        let paths = &self.ctx.paths;
        let state = self.state.lock().unwrap();
        let configs: Vec<&BotConfig> = state
            .bots
            .values()
            .map(|e| &*e.config)
            .chain(state.over_limit.values().map(|(c, _)| &**c))
            .collect();
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
            let quota = state.global.storage_quota_for(o).saturating_mul(MIB);
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
    }

    /// What cleanup would remove now: files (from the storage planner), stale registry rows
    /// and database rows past retention.
    pub async fn cleanup_plan(&self, owner: Option<&str>) -> Vec<CleanupItem> {
        let paths = &self.ctx.paths;
        let (mut items, running) = {
            let state = self.state.lock().unwrap();
            let mut bots = Vec::new();
            let mut running = BTreeSet::new();
            for e in state.bots.values() {
                let live = e.view.lock().unwrap().pid.is_some();
                if live {
                    running.insert(e.config.name.clone());
                }
                bots.push((
                    e.config.name.as_str(),
                    e.config.user.as_str(),
                    bot_cwd(paths, &e.config),
                    live,
                ));
            }
            for (c, _) in state.over_limit.values() {
                bots.push((c.name.as_str(), c.user.as_str(), bot_cwd(paths, c), false));
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
                temp_max_age: state.global.cleanup.temp_max_age,
                orphan_grace: state.global.cleanup.orphan_grace,
                keep_logs: state.global.logs.keep,
            };
            (
                storage::cleanup::plan(paths, &settings, &fleet, owner),
                running,
            )
        };
        if owner.is_none() {
            if let Ok(rows) = self.ctx.store.registry().await {
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
            if let Ok(m) = self.ctx.store.maintenance(false).await
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

    /// Removes what is still in a fresh plan, recording each removal as an event.
    pub async fn cleanup_apply(&self, items: Vec<CleanupItem>) -> CleanupReport {
        let fresh = self.cleanup_plan(None).await;
        let (files, rest): (Vec<CleanupItem>, Vec<CleanupItem>) = items
            .into_iter()
            .partition(|i| !matches!(i.kind.as_str(), "stale-registry" | "database"));
        let (mut removed, mut bytes, mut failed) =
            storage::cleanup::apply(&self.ctx.paths, &fresh, &files);
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
                        self.ctx.store.unregister(name);
                    }
                    removed.push(it);
                }
                _ => match self.ctx.store.maintenance(true).await {
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
            self.event(
                None,
                None,
                "cleanup",
                format!("removed {} ({} bytes): {}", it.path, it.bytes, it.reason),
            );
        }
        CleanupReport {
            items: removed,
            bytes,
            failed,
        }
    }

    /// Stops every bot (or leaves them running for the next agent) and ends their tasks.
    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn refuse_when_closed(&self) -> Result<(), RpcError> {
        if self.is_closed() {
            return Err(RpcError::conflict(
                "the agent is stopping: run the command again once the next agent is up",
            ));
        }
        Ok(())
    }

    pub async fn shutdown(&self, keep: bool) -> ShutdownReport {
        let _guard = self.changes.lock().await;
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
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

    /// Bots with an `[update]` section.
    pub fn updatable_bots(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .bots
            .values()
            .filter(|e| e.config.update.is_some())
            .map(|e| e.config.name.clone())
            .collect()
    }

    /// Bots whose `[update] repo` and `branch` match a push.
    pub fn bots_for_push(&self, repo: &str, branch: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .bots
            .values()
            .filter(|e| {
                e.config.update.as_ref().is_some_and(|u| {
                    u.repo
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(repo))
                        && u.branch == branch
                })
            })
            .map(|e| e.config.name.clone())
            .collect()
    }

    /// Pulls a bot's code (`git pull --ff-only` in its directory, or its update_command)
    /// and restarts it. A failed pull leaves the bot running its old code, and says so.
    pub async fn update(&self, name: &str) -> Result<BotOutcome, RpcError> {
        let (config, cwd) = {
            let state = self.state.lock().unwrap();
            let e = state.bots.get(name).ok_or_else(|| no_such_bot(name))?;
            (e.config.clone(), bot_cwd(&self.ctx.paths, &e.config))
        };
        let Some(up) = &config.update else {
            return Err(RpcError::invalid(format!(
                "{name} has no [update] section: add one (repo, branch or update_command) to its bot file"
            )));
        };
        let argv: Vec<String> = match &up.update_command {
            Some(cmd) => cmd.clone(),
            None => vec![
                "git".into(),
                "-C".into(),
                cwd.display().to_string(),
                "pull".into(),
                "--ff-only".into(),
            ],
        };
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&cwd)
            .stdin(std::process::Stdio::null())
            .env("GIT_TERMINAL_PROMPT", "0")
            .kill_on_drop(true);
        botctl_proto::fds::only_stdio(cmd.as_std_mut());
        let what = if up.update_command.is_some() {
            "update_command"
        } else {
            "git pull --ff-only"
        };
        let result = tokio::time::timeout(up.timeout.0, cmd.output()).await;
        let failure = match result {
            Err(_) => Some(format!(
                "{what} took longer than {}",
                config::format_duration(up.timeout.0)
            )),
            Ok(Err(e)) => Some(format!("cannot run {what}: {e}")),
            Ok(Ok(out)) if !out.status.success() => Some(format!(
                "{what} failed ({}): {}",
                out.status,
                last_line(&out.stderr)
                    .or_else(|| last_line(&out.stdout))
                    .unwrap_or_default()
            )),
            Ok(Ok(out)) => {
                let said = last_line(&out.stdout).unwrap_or_else(|| "done".into());
                self.event(
                    Some(name),
                    Some(&config.user),
                    "update-applied",
                    format!("{what}: {said}"),
                );
                None
            }
        };
        if let Some(why) = failure {
            self.event(
                Some(name),
                Some(&config.user),
                "update-failed",
                format!("{why}; it keeps running its old code"),
            );
            return Ok(BotOutcome {
                bot: name.to_string(),
                ok: false,
                message: format!("{why}; not restarted"),
                state: None,
                pid: None,
            });
        }
        let report = self
            .control(Action::Restart, Target::Bots(vec![name.to_string()]))
            .await?;
        let mut outcome = report
            .outcomes
            .into_iter()
            .next()
            .ok_or_else(|| no_such_bot(name))?;
        outcome.message = format!("updated; {}", outcome.message);
        Ok(outcome)
    }

    /// Names of the valid bots that have an `[auth]` section.
    pub fn auth_bots(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .bots
            .values()
            .filter(|e| e.config.auth.is_some())
            .map(|e| e.config.name.clone())
            .collect()
    }

    pub fn auth_target(&self, name: &str) -> Option<AuthTarget> {
        let state = self.state.lock().unwrap();
        let e = state.bots.get(name)?;
        Some(AuthTarget {
            config: e.config.clone(),
            cwd: bot_cwd(&self.ctx.paths, &e.config),
            view: e.view.clone(),
            tx: e.tx.clone(),
        })
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
        BotState::AuthInvalid => view.auth_blocked.as_ref().map(|why| {
            format!(
                "session invalid: {why}; it starts again by itself once valid cookies are in place (botctl auth set-cookies {} FILE)",
                config.name
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
        auth: view.auth.clone(),
    }
}

/// Whether one more bot of `user` fits in the fleet as it is.
fn admit_one(state: &State, user: &str) -> Result<(), String> {
    let owned = state
        .bots
        .values()
        .filter(|e| e.config.user == user)
        .count();
    admit(owned, state.bots.len(), &state.global, user)
}

/// Whether one more bot of `user`, who has `owned` of the fleet's `total`, fits under
/// `max_bots_per_user` and `max_total_bots`.
fn admit(owned: usize, total: usize, global: &GlobalConfig, user: &str) -> Result<(), String> {
    let max_owned = global.max_bots_for(user) as usize;
    if owned >= max_owned {
        return Err(format!(
            "owner {user} has {owned} bots and max_bots_per_user is {max_owned}"
        ));
    }
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

const MIB: u64 = 1024 * 1024;

/// A duplicate process that ignores SIGTERM is killed after this long.
const DUPLICATE_KILL_AFTER: Duration = Duration::from_secs(10);

/// The last non-empty line of a command's output, with any credentials in URLs masked
/// (`https://user:token@host` is a common git remote).
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let mut out = String::new();
    for word in line.split(' ') {
        let masked = match (word.find("://"), word.find('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***{}", &word[..scheme], &word[at..])
            }
            _ => word.to_string(),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&masked);
    }
    Some(out.chars().take(300).collect())
}

/// A bot's working directory: its `cwd` (relative to the home) or `bots/OWNER/NAME`.
pub fn bot_cwd(paths: &botctl_proto::Paths, c: &BotConfig) -> std::path::PathBuf {
    match &c.cwd {
        Some(dir) => paths.home.join(dir),
        None => paths.bot_dir(&c.user, &c.name),
    }
}

fn invalid_name(name: &str) -> RpcError {
    RpcError::invalid(format!(
        "invalid bot name {name:?}: use lowercase letters, digits, '-' and '_', starting with a letter or digit (at most 64)"
    ))
}

fn already_exists(paths: &botctl_proto::Paths, name: &str, file: &Path) -> RpcError {
    RpcError::conflict(format!(
        "bot {name} already exists ({}): remove it first or choose another name",
        paths.display(file)
    ))
}

pub fn no_such_bot(name: &str) -> RpcError {
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
    replace_file(path, text, true)
}

/// `write_atomically` without the fsync, for a file that need not outlive a power cut: the
/// agent's pid file (after a reboot nothing it names runs). The fsync cost an agent's start
/// up to 9 ms of waiting for the disk here.
pub fn write_atomically_volatile(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    replace_file(path, text, false)
}

fn replace_file(path: &std::path::Path, text: &str, durable: bool) -> std::io::Result<()> {
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
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
