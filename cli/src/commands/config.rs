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
}

pub fn check(target: &Target, json: bool) -> Result<(), CliError> {
    let paths = &target.paths;
    let issue = |e: &ConfigError| ConfigIssue {
        file: paths.display(&e.file),
        field: e.field.clone(),
        message: e.message.clone(),
        bot: e
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| config::valid_bot_name(s))
            .map(str::to_string),
        kept_last_good: false,
    };
    let mut issues = Vec::new();
    let global_exists = paths.config_file.exists();
    if let Err(e) = config::load_global(&paths.config_file) {
        let mut i = issue(&e);
        i.bot = None;
        issues.push(i);
    }
    let fleet = config::load_fleet(&paths.bots_dir);
    issues.extend(fleet.errors.iter().map(issue));
    let report = Check {
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
    if report.ok {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} configuration problem(s)",
            report.issues.len()
        )))
    }
}
