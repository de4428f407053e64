//! `botctl config check`: parses the files right here, without an agent.

use botctl_proto::ConfigIssue;
use botctl_proto::config::{self, ConfigError};
use serde::Serialize;

use crate::CliError;
use crate::client::Target;
use crate::render;

#[derive(Serialize)]
struct Check {
    ok: bool,
    files_checked: usize,
    bots: usize,
    issues: Vec<ConfigIssue>,
    /// Run by root (as a root agent would run them): owners without `run_as`, whose bots
    /// run as root. A note, not a problem.
    root_owners: Vec<String>,
    /// Run by another user (as an agent of that user would run them): owners with `run_as`,
    /// whose bots such an agent does not start. A note, not a problem: the agent may be root's.
    needs_root: Vec<String>,
}

pub fn check(target: &Target, json: bool) -> Result<(), CliError> {
    let paths = &target.paths;
    let issue = |e: &ConfigError, bot: Option<String>| {
        ConfigIssue::new(e, paths.display(&e.file), bot, false)
    };
    let mut issues = Vec::new();
    let global_exists = paths.config_file.exists();
    // Every problem of every file, not only the first of each.
    let global = config::read_global(&paths.config_file);
    let run_as: std::collections::BTreeMap<String, String> = match &global {
        Ok(file) => file
            .config
            .users
            .iter()
            .filter_map(|(name, u)| Some((name.clone(), u.run_as.clone()?)))
            .collect(),
        Err(_) => Default::default(),
    };
    match global {
        // Problems confined to sections that stand alone: the agent runs without those.
        Ok(file) => issues.extend(
            file.off
                .iter()
                .map(|e| issue(e, None).section_off(config::own_section(e).unwrap_or_default())),
        ),
        Err(problems) => issues.extend(problems.iter().map(|e| issue(e, None))),
    }
    let fleet = config::load_fleet(&paths.bots_dir);
    for e in fleet.problems.iter().flatten() {
        let bot = e
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| config::valid_bot_name(s))
            .map(str::to_string);
        issues.push(issue(e, bot));
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let root = euid == 0;
    let owners: std::collections::BTreeSet<String> =
        fleet.bots.iter().map(|b| b.user.clone()).collect();
    // Root runs the owners without run_as as root; anyone else cannot run those with it.
    let (with_run_as, without): (Vec<String>, Vec<String>) =
        owners.into_iter().partition(|o| run_as.contains_key(o));
    let (root_owners, needs_root) = if root {
        (without, Vec::new())
    } else {
        (Vec::new(), with_run_as)
    };
    let report = Check {
        root_owners,
        needs_root,
        ok: issues.is_empty(),
        files_checked: usize::from(global_exists) + fleet.bots.len() + fleet.errors.len(),
        bots: fleet.bots.len(),
        issues,
    };
    if json {
        render::print_json(&report);
    } else if report.ok {
        println!(
            "ok: {} file(s) checked, {} bot(s) defined in {}",
            report.files_checked,
            report.bots,
            paths.bots_dir.display()
        );
    } else {
        for i in &report.issues {
            println!("{i}");
        }
    }
    if !json && !report.root_owners.is_empty() {
        println!(
            "note: run by root, the bots of {} run as root: set run_as in [users.NAME] to run \
             them as their own accounts",
            report.root_owners.join(", ")
        );
    }
    if !json && !report.needs_root.is_empty() {
        let settings: Vec<String> = report
            .needs_root
            .iter()
            .map(|o| format!("[users.{o}] run_as = {:?}", run_as[o]))
            .collect();
        println!(
            "note: {} needs an agent running as root: an agent run by uid {} (as this check \
             is) does not start the bots of {}",
            settings.join(", "),
            euid,
            report.needs_root.join(", ")
        );
    }
    if report.ok {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} configuration problem(s)",
            report.issues.len()
        )))
    }
}
