//! `botctl storage`: bytes per owner against their quota, and what template links save.

use std::time::Duration;

use crate::render::Cell;

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

pub async fn run(target: &Target, owner: Option<String>, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let report = session
        .client
        .storage(ctx(Duration::from_secs(600)), owner)
        .await?;
    if json {
        render::print_json(&report);
        return Ok(());
    }
    let mut table = render::table(&["OWNER", "BOTS", "USED", "QUOTA", "USE", "SAVED BY LINKS"]);
    for o in &report.owners {
        let pct = if o.quota_bytes == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", o.bytes_used as f64 * 100.0 / o.quota_bytes as f64)
        };
        table.add_row(vec![
            Cell::new(&o.owner),
            Cell::new(o.bots),
            Cell::new(render::bytes(o.bytes_used)),
            Cell::new(render::bytes(o.quota_bytes)),
            Cell::new(if o.over_quota {
                format!("{pct} OVER")
            } else {
                pct
            }),
            Cell::new(render::bytes(o.saved_by_links)),
        ]);
    }
    println!("{table}");
    println!(
        "fleet: {} used, {} saved by links to templates ({} in templates/)",
        render::bytes(report.total_bytes),
        render::bytes(report.total_saved_by_links),
        render::bytes(report.templates_bytes)
    );
    Ok(())
}
