//! `botctl auth check|set-cookies`: session state per bot, and installing fresh cookies.
//! Cookie values never reach the CLI: the agent reports outcomes and names only.

use std::time::Duration;

use crate::render::Cell;
use botctl_proto::{AuthReport, now_ms};

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

/// Probes can take a while each; checks of many bots run one after another.
const CHECK_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn check(target: &Target, bots: Vec<String>, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let reports = session
        .client
        .auth_check(ctx(CHECK_TIMEOUT), bots)
        .await??;
    if json {
        render::print_json(&reports);
    } else if reports.is_empty() {
        println!("no bot has an [auth] section");
    } else {
        print(&reports);
    }
    let invalid: Vec<&str> = reports
        .iter()
        .filter(|r| r.is_invalid())
        .map(|r| r.bot.as_str())
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "invalid session: {}",
            invalid.join(", ")
        )))
    }
}

pub async fn set_cookies(
    target: &Target,
    bot: String,
    file: std::path::PathBuf,
    json: bool,
) -> Result<(), CliError> {
    let file = std::path::absolute(&file)
        .map_err(|e| CliError::failed(format!("{}: {e}", file.display())))?;
    let session = connect(target).await?;
    let report = session
        .client
        .set_cookies(ctx(CHECK_TIMEOUT), bot, file.display().to_string())
        .await??;
    if json {
        render::print_json(&report);
    } else {
        println!("installed new cookies for {}", report.bot);
        print(std::slice::from_ref(&report));
    }
    if report.is_invalid() {
        Err(CliError::failed(format!(
            "{}: the new session is {}",
            report.bot, report.outcome
        )))
    } else {
        Ok(())
    }
}

fn print(reports: &[AuthReport]) {
    let now = now_ms();
    let mut table = render::table(&[
        "BOT",
        "OWNER",
        "PLATFORM",
        "OUTCOME",
        "EXPIRES",
        "TIME LEFT",
        "LAST PROBE",
    ]);
    for r in reports {
        // The agent's detail may already name the outcome ("expired: auth_token, ct0").
        let outcome = match &r.detail {
            Some(d) if d.starts_with(&format!("{}:", r.outcome)) => d.clone(),
            Some(d) => format!("{}: {d}", r.outcome),
            None => r.outcome.clone(),
        };
        // Only a session that was read has an expiry: "session" means cookies without one.
        let read = matches!(r.outcome.as_str(), "valid" | "expiring" | "expired");
        table.add_row(vec![
            Cell::new(&r.bot),
            Cell::new(&r.owner),
            Cell::new(&r.platform),
            Cell::new(outcome),
            Cell::new(match r.expires_at_ms {
                Some(t) => render::local_time(t),
                None if read => "session".into(),
                None => "-".into(),
            }),
            Cell::new(match r.expires_at_ms {
                Some(t) if t > now => render::ago(t - now),
                Some(_) => "expired".into(),
                None => "-".into(),
            }),
            Cell::new(match (&r.last_probe, r.last_probe_at_ms) {
                (Some(p), Some(at)) => format!("{p}, {} ago", render::ago(now - at)),
                (Some(p), None) => p.clone(),
                _ => "-".into(),
            }),
        ]);
    }
    println!("{table}");
    for r in reports.iter().filter(|r| r.world_readable) {
        println!(
            "warning: {}'s cookie file is readable by other users: chmod 600 it",
            r.bot
        );
    }
}
