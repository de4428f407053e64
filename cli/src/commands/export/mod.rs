//! `botctl export`: bots handed to systemd units or Kubernetes manifests, with what each
//! target cannot keep said in the files and in the output.

mod kubernetes;
mod systemd;

use std::path::{Path, PathBuf};

use botctl_proto::config::{self, BotConfig, GlobalConfig};
use serde::Serialize;

use crate::CliError;
use crate::client::Target;
use crate::render;

/// Where bots go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Systemd,
    Kubernetes,
}

/// What `export` writes for one bot, and what the target does not keep of it.
#[derive(Serialize)]
struct Exported {
    bot: String,
    files: Vec<String>,
    not_kept: Vec<String>,
}

/// One file to write: its name in the output directory, its content and mode.
pub struct OutFile {
    pub name: String,
    pub text: String,
    /// 0600 for files holding secrets (env values, cookies).
    pub private: bool,
}

/// What a bot becomes: its files and what is lost.
pub struct Rendered {
    pub files: Vec<OutFile>,
    pub not_kept: Vec<String>,
}

/// Everything an exporter needs to know about one bot.
pub struct BotView<'a> {
    pub bot: &'a BotConfig,
    pub global: &'a GlobalConfig,
    /// The bot's working directory, absolute.
    pub cwd: PathBuf,
    /// Where the files are written, absolute (files name each other by it).
    pub out: PathBuf,
}

pub fn run(
    target: &Target,
    kind: Kind,
    names: &[String],
    out: &Path,
    image: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let paths = &target.paths;
    let global = config::load_global(&paths.config_file)
        .map_err(|e| CliError::failed(format!("{e}: fix it first (`botctl config check`)")))?;
    let fleet = config::load_fleet(&paths.bots_dir);
    let mut bots: Vec<&BotConfig> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    if names.is_empty() {
        bots.extend(&fleet.bots);
        skipped.extend(fleet.errors.iter().map(ToString::to_string));
    } else {
        for name in names {
            match fleet.bots.iter().find(|b| &b.name == name) {
                Some(bot) => bots.push(bot),
                None => match fleet.errors.iter().find(|e| e.file == paths.bot_file(name)) {
                    Some(e) => skipped.push(e.to_string()),
                    None => return Err(CliError::failed(format!("no bot named {name}"))),
                },
            }
        }
    }
    if bots.is_empty() && skipped.is_empty() {
        return Err(CliError::failed(format!(
            "no bots to export: {} has no bot files",
            paths.bots_dir.display()
        )));
    }
    let out = std::path::absolute(out)
        .map_err(|e| CliError::failed(format!("cannot use {} as --out: {e}", out.display())))?;
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", out.display())))?;
    let mut report = Vec::new();
    for bot in bots {
        let view = BotView {
            bot,
            global: &global,
            cwd: paths.bot_cwd(bot),
            out: out.clone(),
        };
        let rendered = match kind {
            Kind::Systemd => systemd::render(&view),
            Kind::Kubernetes => kubernetes::render(&view, image.unwrap_or_default()),
        }
        .map_err(|e| CliError::failed(format!("{}: {e}", bot.name)))?;
        let mut files = Vec::new();
        for file in &rendered.files {
            let path = out.join(&file.name);
            let mode = if file.private { 0o600 } else { 0o644 };
            super::import::write_with_mode(&path, file.text.as_bytes(), mode)
                .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
            files.push(path.display().to_string());
        }
        report.push(Exported {
            bot: bot.name.clone(),
            files,
            not_kept: rendered.not_kept,
        });
    }
    if json {
        #[derive(Serialize)]
        struct All<'a> {
            bots: &'a [Exported],
            skipped: &'a [String],
        }
        render::print_json(&All {
            bots: &report,
            skipped: &skipped,
        });
    } else {
        // What every bot loses is said once, after what each loses of its own: 200 bots
        // would otherwise repeat the same lines 200 times.
        let shared: Vec<&String> = match report.split_first() {
            Some((first, rest)) if !rest.is_empty() => first
                .not_kept
                .iter()
                .filter(|l| rest.iter().all(|e| e.not_kept.contains(l)))
                .collect(),
            _ => Vec::new(),
        };
        for e in &report {
            println!("{}: wrote {}", e.bot, e.files.join(", "));
            for lost in e.not_kept.iter().filter(|l| !shared.contains(l)) {
                println!("  not kept: {lost}");
            }
        }
        if !shared.is_empty() {
            println!("for every bot above:");
            for lost in shared {
                println!("  not kept: {lost}");
            }
        }
        for s in &skipped {
            println!("skipped (does not parse): {s}");
        }
        match kind {
            Kind::Systemd => println!(
                "next: copy the files to /etc/systemd/system (keep the .env files 0600 and \
                 their EnvironmentFile= paths right), `systemctl daemon-reload`, then \
                 `botctl stop` each bot and `systemctl enable --now` its unit (and its \
                 -restart.timer)"
            ),
            Kind::Kubernetes => println!(
                "next: `kubectl apply -f {}` (the Secrets hold env values and cookies: keep \
                 the files 0600)",
                out.display()
            ),
        }
    }
    if skipped.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} bot file(s) skipped: they do not parse",
            skipped.len()
        )))
    }
}

/// What botctl does for `bot` that neither systemd nor Kubernetes does: said in every export.
pub fn lost_everywhere(view: &BotView) -> Vec<String> {
    let bot = view.bot;
    let limits = bot.limits(view.global);
    let policy = bot.policy(view.global);
    let mut lost = Vec::new();
    if let Some(auth) = &bot.auth {
        lost.push(format!(
            "session cookie checks ([auth] {}: expiry, required cookies, probe, stop while invalid)",
            auth.cookies
        ));
    }
    lost.push(format!(
        "owner limits and quotas (max_bots_per_user {}, storage_quota_mb {} of owner {})",
        view.global.max_bots_for(&bot.user),
        view.global.storage_quota_for(&bot.user),
        bot.user
    ));
    lost.push(format!(
        "memory forecasts (forecast_window {}, forecast_horizon {}{})",
        config::format_duration(limits.forecast_window),
        config::format_duration(limits.forecast_horizon),
        if limits.restart_before_limit {
            ", restart_before_limit"
        } else {
            ""
        }
    ));
    lost.push(format!(
        "restart on CPU over max_cpu_percent {} for {} samples (a CPU limit throttles instead)",
        limits.max_cpu_percent, limits.cpu_samples
    ));
    if limits.restart_on_pressure {
        lost.push("restart when host memory is short (restart_on_pressure)".to_string());
    }
    lost.push(format!(
        "retry of a given-up bot after retry_after {}",
        config::format_duration(policy.retry_after)
    ));
    if let Some(h) = &bot.health
        && let Some(silence) = h.log_silence
    {
        lost.push(format!(
            "hang detection by log silence ([health] log_silence {silence})"
        ));
    }
    if bot.update.is_some() {
        lost.push("code updates ([update]: `botctl update`, GitHub pushes)".to_string());
    }
    lost.push("alerts ([notify.*]) and botctl's events".to_string());
    lost
}
