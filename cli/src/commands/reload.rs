//! `botctl reload`: the agent re-reads botctl.toml and bots.d.

use std::time::Duration;

use botctl_proto::config::Listing;

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

pub async fn run(target: &Target, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let report = session.client.reload(ctx(Duration::from_secs(600))).await?;
    if json {
        render::print_json(&report);
    } else {
        if report.listing == Listing::Missing && !report.removed.is_empty() {
            println!(
                "{} is missing: stopping {} bot(s); create it again to define bots",
                target.paths.display(&target.paths.bots_dir),
                report.removed.len()
            );
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                String::new()
            } else {
                format!(" ({})", v.join(", "))
            }
        };
        println!(
            "reloaded: {} added{}, {} changed{}, {} removed{}, {} unchanged",
            report.added.len(),
            list(&report.added),
            report.changed.len(),
            list(&report.changed),
            report.removed.len(),
            list(&report.removed),
            report.unchanged
        );
        for issue in &report.issues {
            let kept = if issue.kept_last_good {
                " (the last good version keeps running)"
            } else {
                ""
            };
            println!("  problem: {issue}{kept}");
        }
    }
    if report.issues.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} configuration problem(s); fix them and run `botctl reload` again",
            report.issues.len()
        )))
    }
}
