//! The fleet: the registry of bots (name -> bot handle) as bots.d defines it, its load and
//! reload, admission under the bot limits, and discovery of live bots after a lost registry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botctl_proto::config::{self, BotConfig, ConfigError, GlobalConfig, Listing};
use botctl_proto::{ConfigIssue, ReloadReport, RpcError, ShutdownReport};
use futures::future::join_all;

use crate::bot::process;
use crate::bot::runner::{Begun, BotTask};
use crate::bot::{Begin, BotHandle, Command, Left, Prepared, Settings};
use crate::context::Context;
use crate::events::{Actor, Event, EventKind};
use crate::store::{Opened, RegistryRow, Supervision, Wanted};

pub mod checks;
mod discover;
pub mod list;

/// One bot of the fleet: its handle, and its `[health]` checks, started here rather than by
/// the bot's runner (they only read its state and send it what they saw).
pub struct Entry {
    pub handle: BotHandle,
    checker: Option<checks::Checker>,
}

/// How a bot fares in its `[health]` probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// It has no probe (port or http).
    None,
    Passing,
    Failing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::None => "none",
            Health::Passing => "passing",
            Health::Failing => "failing",
        }
    }
}

impl Entry {
    pub fn health(&self) -> Health {
        match &self.checker {
            None => Health::None,
            Some(c) if c.failing() => Health::Failing,
            Some(_) => Health::Passing,
        }
    }
}

/// The fleet as the operations read it, under one lock: `status` reads 200 bots in one pass.
#[derive(Default)]
pub struct Registry {
    pub global: GlobalConfig,
    pub bots: BTreeMap<String, Entry>,
    /// Valid bot files not started because of `max_bots_per_user` or `max_total_bots`,
    /// with the reason.
    pub over_limit: BTreeMap<String, (Arc<BotConfig>, String)>,
    /// Problems of the last load, by file; a bot file here either keeps its last good version
    /// running (its name is in `bots`) or shows as `config-error`.
    pub issues: BTreeMap<String, ConfigIssue>,
    /// Where an earlier agent left each bot, until the bot's task takes it over.
    saved: BTreeMap<String, Supervision>,
}

impl Registry {
    /// Whether one more bot of `user` fits in the fleet as it is.
    pub fn admit_one(&self, user: &str) -> Result<(), String> {
        let owned = self
            .bots
            .values()
            .filter(|e| e.handle.owner() == user)
            .count();
        admit(owned, self.bots.len(), &self.global, user)
    }

    /// A bot by name, running or parked over the limit.
    pub fn exists(&self, name: &str) -> bool {
        self.bots.contains_key(name) || self.over_limit.contains_key(name)
    }

    /// Every bot file's configuration: the fleet's and the parked ones.
    pub fn configs(&self) -> impl Iterator<Item = &Arc<BotConfig>> {
        self.bots
            .values()
            .map(|e| &e.handle.config)
            .chain(self.over_limit.values().map(|(c, _)| c))
    }
}

/// botctl.toml and every bot file as read from disk, ready to apply.
pub struct Files {
    global: Result<config::GlobalFile, ConfigError>,
    fleet: config::Fleet,
}

impl Files {
    /// Reads and parses them: the largest part of a start with many bots, which is why the
    /// agent does it on its own thread while the store opens.
    pub fn read(paths: &botctl_proto::Paths) -> Files {
        Files {
            global: config::read_global(&paths.config_file).map_err(config::first),
            fleet: config::load_fleet(&paths.bots_dir),
        }
    }

    /// `[agent] containment` as the file says (the default when it cannot be read).
    pub fn containment(&self) -> config::ContainmentMode {
        self.global
            .as_ref()
            .map_or(config::DEFAULT_CONTAINMENT, |g| g.config.agent.containment)
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
    state: Mutex<Registry>,
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
            state: Mutex::new(Registry::default()),
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
                crate::util::log_line(format_args!("startup: /proc scan took {:?}", t0.elapsed()));
            }
            self.sort_out(discover::reconcile(evidence, discover::is_live), true)
        };
        let mut registry = adoptable(rows);
        self.write().saved = saved;
        let report = self.apply_files(files(), &mut registry).await;
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
                        EventKind::ConfigError,
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
                Some(_) => {
                    process::signal_group(row.pgid, nix::sys::signal::Signal::SIGTERM);
                    self.event(
                        Some(&row.name),
                        Some(&row.owner),
                        EventKind::Stopped,
                        format!(
                            "stopped process {} left by the previous agent: its bot file is gone",
                            row.pid
                        ),
                    );
                }
                None => self.event(
                    Some(&row.name),
                    Some(&row.owner),
                    EventKind::Exited,
                    "exited while no agent was running; its bot file is gone".into(),
                ),
            }
        }
        // Where a bot whose file is gone was left goes with it (not when bots.d cannot be
        // read: its files may all be there).
        let mut state = self.write();
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
            self.event(Some(name), Some(&row.owner), EventKind::Discovered, why);
        }
        for row in &verdict.duplicates {
            self.stop_duplicate(row);
        }
        if report_unrecorded {
            for (name, p) in &verdict.unrecorded {
                self.event(
                    Some(name),
                    None,
                    EventKind::Unrecorded,
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
        let files = crate::util::off_runtime(move || Files::read(&paths)).await;
        self.apply_files(files, &mut adoptable(rows)).await
    }

    /// An older process of a bot that the agent recorded starting, while the copy it started
    /// later runs too (an agent killed mid-restart, say): it is stopped so the bot runs once.
    fn stop_duplicate(&self, row: &RegistryRow) {
        process::signal_group(row.pgid, nix::sys::signal::Signal::SIGTERM);
        self.event(
            Some(&row.name),
            Some(&row.owner),
            EventKind::Stopped,
            format!(
                "stopped process {}: an older copy of the bot that the previous agent started, while the copy it started later runs",
                row.pid
            ),
        );
        let (pid, pgid, ticks) = (row.pid, row.pgid, row.start_ticks);
        tokio::spawn(async move {
            tokio::time::sleep(DUPLICATE_KILL_AFTER).await;
            if process::start_ticks(pid) == Some(ticks) {
                process::signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
            }
        });
    }

    /// Makes the running fleet match botctl.toml and bots.d as `files` read them. `adoptable`
    /// holds registry rows of an earlier agent; the ones used are removed from it. Answers
    /// once every new bot's first start was made.
    async fn apply_files(&self, files: Files, adoptable: &mut Adoptable) -> ReloadReport {
        let mut begun = Vec::new();
        let report = self.apply(files, adoptable, &mut begun);
        for first_start in begun {
            let _ = first_start.await;
        }
        report
    }

    /// What `apply_files` does under the registry's lock; the tasks' first starts are on
    /// their way when it returns (`begun`).
    fn apply(
        &self,
        files: Files,
        adoptable: &mut Adoptable,
        begun: &mut Vec<Begun>,
    ) -> ReloadReport {
        let mut report = ReloadReport::default();
        let mut issues = BTreeMap::new();
        let mut state = self.write();

        match files.global {
            Ok(file) => {
                state.global = file.config;
                // Each switched-off section is a problem of its own, told once.
                for e in &file.off {
                    let section = config::own_section(e).unwrap_or_default();
                    let issue = self.issue(e, None, false).section_off(section);
                    let key = format!("{}#{section}", issue.file);
                    if state.issues.get(&key) != Some(&issue) {
                        self.event(None, None, EventKind::ConfigError, issue.to_string());
                    }
                    issues.insert(key, issue);
                }
            }
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
            return self.keep_all(&mut state, fleet.errors, issues, adoptable, &global, begun);
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
                    .map(|e| e.handle.owner().to_string());
                let mut message = issue.to_string();
                if kept {
                    message.push_str(" (the last good version keeps running)");
                }
                self.event(
                    name.as_deref(),
                    owner.as_deref(),
                    EventKind::ConfigError,
                    message,
                );
            }
            issues.insert(issue.file.clone(), issue);
        }
        let mut new_bots = Vec::new();
        for bot in fleet.bots {
            seen.insert(bot.name.clone());
            let settings = Settings::of(&bot, &global);
            match state.bots.get_mut(&bot.name) {
                Some(entry) => {
                    let config = if *entry.handle.config != bot {
                        report.changed.push(bot.name.clone());
                        Arc::new(bot)
                    } else {
                        // The global settings may have changed under an unchanged file.
                        report.unchanged += 1;
                        entry.handle.config.clone()
                    };
                    entry.handle = entry.handle.with_config(config.clone());
                    entry
                        .handle
                        .send(Command::Reconfigure(config, Box::new(settings)));
                    checks::keep_current(&self.ctx, &mut entry.checker, &entry.handle, &global);
                }
                None => new_bots.push(bot),
            }
        }
        // Bots that are already running keep their places; new ones take what is left, in
        // name order, and a live process of an earlier agent is adopted whatever the limits.
        let mut owned: BTreeMap<String, usize> = BTreeMap::new();
        for e in state.bots.values() {
            *owned.entry(e.handle.owner().to_string()).or_default() += 1;
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
                        EventKind::OverLimit,
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
            let (entry, task) = self.prepare(bot, settings, begin, saved, &global);
            state.bots.insert(entry.handle.name().to_string(), entry);
            prepared.push(task);
        }
        begun.extend(prepared.into_iter().filter_map(Prepared::start));
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
                EventKind::Reload,
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
                let (reply, _) = tokio::sync::oneshot::channel();
                entry.handle.send(Command::Remove {
                    by: Box::new(Actor::Agent),
                    reply,
                });
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
        state: &mut Registry,
        errors: Vec<ConfigError>,
        mut issues: BTreeMap<String, ConfigIssue>,
        adoptable: &mut Adoptable,
        global: &GlobalConfig,
        begun: &mut Vec<Begun>,
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
        begun.extend(prepared.into_iter().filter_map(Prepared::start));
        for entry in state.bots.values_mut() {
            let settings = Settings::of(&entry.handle.config, global);
            entry.handle.send(Command::Reconfigure(
                entry.handle.config.clone(),
                Box::new(settings),
            ));
            checks::keep_current(&self.ctx, &mut entry.checker, &entry.handle, global);
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
                    EventKind::ConfigError,
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
        let process = claim?.adopt(row.pgid, &row.cgroup)?;
        let begin = Begin::Adopt {
            process,
            started_at_ms: row.started_at_ms,
            restarts: row.restarts,
        };
        let settings = Settings::of(&bot, global);
        Some(self.prepare(bot, settings, begin, saved.remove(name), global))
    }

    fn adopt_or_start(
        &self,
        bot: &BotConfig,
        (row, claim): (RegistryRow, Option<process::Claim>),
        saved: Option<&Supervision>,
    ) -> Begin {
        match claim.and_then(|c| c.adopt(row.pgid, &row.cgroup)) {
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
                    EventKind::Exited,
                    format!(
                        "process {} exited while no agent was running{next}",
                        row.pid
                    ),
                );
                Begin::Resume
            }
        }
    }

    /// A bot's task, begun but not on the runtime yet (see `Prepared::start`), and its checks.
    fn prepare(
        &self,
        bot: BotConfig,
        settings: Settings,
        begin: Begin,
        saved: Option<Supervision>,
        global: &GlobalConfig,
    ) -> (Entry, Prepared) {
        let (handle, prepared) =
            BotTask::prepare(self.ctx.clone(), Arc::new(bot), settings, begin, saved);
        let checker = checks::start(&self.ctx, &handle, global);
        (Entry { handle, checker }, prepared)
    }

    fn issue(&self, e: &ConfigError, bot: Option<String>, kept_last_good: bool) -> ConfigIssue {
        ConfigIssue::new(e, self.ctx.paths.display(&e.file), bot, kept_last_good)
    }

    fn event(&self, bot: Option<&str>, owner: Option<&str>, kind: EventKind, message: String) {
        self.ctx.record(Event::new(kind, message).bot(bot, owner));
    }

    /// Reads the registry under its lock; keep `f` short (no awaits, no I/O).
    pub fn read<R>(&self, f: impl FnOnce(&Registry) -> R) -> R {
        f(&self.state.lock().unwrap())
    }

    /// The registry to change: the rows `status` shares are built again after this.
    fn write(&self) -> std::sync::MutexGuard<'_, Registry> {
        let state = self.state.lock().unwrap();
        // Counted under the lock: a list built from this registry later sees the change.
        self.ctx.rows_changed();
        state
    }

    pub fn paths(&self) -> &botctl_proto::Paths {
        &self.ctx.paths
    }

    pub fn handle(&self, name: &str) -> Option<BotHandle> {
        self.read(|r| r.bots.get(name).map(|e| e.handle.clone()))
    }

    pub fn issues(&self) -> Vec<ConfigIssue> {
        self.read(|r| r.issues.values().cloned().collect())
    }

    pub fn global(&self) -> GlobalConfig {
        self.read(|r| r.global.clone())
    }

    pub fn log_settings(&self) -> config::LogSettings {
        self.read(|r| r.global.logs.clone())
    }

    /// Holds off other changes to the set of bots (reload, add, create, remove) while the
    /// returned guard lives.
    pub async fn changing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Refuses a new bot once the agent is stopping.
    pub fn refuse_when_closed(&self) -> Result<(), RpcError> {
        if self.is_closed() {
            return Err(RpcError::conflict(
                "the agent is stopping: run the command again once the next agent is up",
            ));
        }
        Ok(())
    }

    /// Admits a bot whose file is written: its task starts (and the bot with it, if `start`).
    /// The caller holds `changing()` and checked the limits.
    pub fn admit_new(&self, bot: BotConfig, start: bool) -> BotHandle {
        let global = self.global();
        let settings = Settings::of(&bot, &global);
        let begin = if start { Begin::Start } else { Begin::Idle };
        let (entry, prepared) = self.prepare(bot, settings, begin, None, &global);
        prepared.start_here();
        let handle = entry.handle.clone();
        self.write().bots.insert(handle.name().to_string(), entry);
        handle
    }

    /// Takes a bot out of the registry (running or parked over the limit), and forgets the
    /// problems of its file. The caller stops the task.
    pub fn take(&self, name: &str) -> (Option<BotHandle>, Option<Arc<BotConfig>>) {
        let file = self.ctx.paths.display(&self.ctx.paths.bot_file(name));
        let mut state = self.write();
        state.issues.remove(&file);
        (
            state.bots.remove(name).map(|e| e.handle),
            state.over_limit.remove(name).map(|(c, _)| c),
        )
    }

    /// Stops every bot (or leaves them running for the next agent) and ends their tasks.
    pub async fn shutdown(&self, keep: bool, by: &Actor) -> ShutdownReport {
        let _guard = self.changes.lock().await;
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let entries: Vec<Entry> = std::mem::take(&mut self.write().bots)
            .into_values()
            .collect();
        let waits = entries.iter().map(|e| async move {
            let answer = e
                .handle
                .ask(|done| Command::Shutdown {
                    keep,
                    by: Box::new(by.clone()),
                    done,
                })
                .await;
            (e.handle.name().to_string(), answer)
        });
        let mut report = ShutdownReport::default();
        for (name, outcome) in join_all(waits).await {
            match outcome {
                Some(Left::Running) => report.kept.push(name),
                Some(Left::Stopped) => report.stopped.push(name),
                // Not running, or its task already gone: nothing was stopped.
                Some(Left::NotRunning) | None => {}
            }
        }
        report
    }

    /// Log files of every bot, for rotation.
    pub fn log_files(&self) -> Vec<std::path::PathBuf> {
        let paths = &self.ctx.paths;
        self.read(|r| {
            r.bots
                .keys()
                .flat_map(|n| [paths.stdout_log(n), paths.stderr_log(n)])
                .collect()
        })
    }
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

/// A duplicate process that ignores SIGTERM is killed after this long.
const DUPLICATE_KILL_AFTER: Duration = Duration::from_secs(10);

fn bot_name_of(file: &std::path::Path) -> Option<String> {
    if file.extension()? != "toml" {
        return None;
    }
    let stem = file.file_stem()?.to_str()?;
    config::valid_bot_name(stem).then(|| stem.to_string())
}
