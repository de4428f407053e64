//! `botctl cleanup [--force]`: the plan (nothing deleted), or carrying it out with a progress
//! bar on a terminal; either way a line per item with its reason and size.

use std::time::Duration;

use botctl_proto::CleanupReport;

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

/// Items removed per call, so the bar moves and a huge plan does not make one huge call.
const CHUNK: usize = 25;

pub async fn run(
    target: &Target,
    force: bool,
    owner: Option<String>,
    json: bool,
) -> Result<(), CliError> {
    let session = connect(target).await?;
    let spinner = render::progress(2, "scanning");
    let plan = session
        .client
        .cleanup_plan(ctx(Duration::from_secs(600)), owner)
        .await?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    if !force {
        if json {
            render::print_json(&plan);
        } else {
            print_items(&plan, "would remove");
            if !plan.items.is_empty() {
                println!("nothing was deleted: run `botctl cleanup --force` to remove these");
            }
        }
        return Ok(());
    }
    let bar = render::progress(plan.items.len(), "removing");
    let mut done = CleanupReport::default();
    for chunk in plan.items.chunks(CHUNK) {
        let r = session
            .client
            .cleanup_apply(ctx(Duration::from_secs(600)), chunk.to_vec())
            .await?;
        if let Some(b) = &bar {
            b.inc(chunk.len() as u64);
        }
        done.bytes += r.bytes;
        done.items.extend(r.items);
        done.failed.extend(r.failed);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        render::print_json(&done);
    } else {
        print_items(&done, "removed");
        for (path, why) in &done.failed {
            println!("left alone: {path}: {why}");
        }
    }
    if done.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} item(s) were not removed",
            done.failed.len()
        )))
    }
}

fn print_items(report: &CleanupReport, verb: &str) {
    if report.items.is_empty() {
        println!("nothing to clean up");
        return;
    }
    for i in &report.items {
        println!(
            "{verb} {:<14} {:>9}  {}  ({})",
            i.kind,
            render::bytes(i.bytes),
            i.path,
            i.reason
        );
    }
    println!(
        "{} item(s), {} in all",
        report.items.len(),
        render::bytes(report.bytes)
    );
}
