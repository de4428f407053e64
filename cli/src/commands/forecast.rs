//! `botctl forecast`: what will break next, soonest first: bots' memory and the host's disk
//! and memory that a trend takes to their limit within the horizon, and expiring sessions.

use std::time::Duration;

use botctl_proto::{Forecast, human, now_ms};

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render::{self, Cell};

pub async fn run(target: &Target, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let forecasts = session
        .client
        .forecast(ctx(Duration::from_secs(10)))
        .await?;
    if json {
        render::print_json(&forecasts);
        return Ok(());
    }
    if forecasts.is_empty() {
        println!(
            "nothing forecast: no trend reaches a limit within its forecast_horizon, and no session expires within its warn_before"
        );
        return Ok(());
    }
    let now = now_ms();
    let mut table = render::table(&["IN", "WHAT", "KIND", "FORECAST"]);
    for f in &forecasts {
        table.add_row(vec![
            Cell::new(when(f, now)),
            Cell::new(f.bot.as_deref().unwrap_or("host")),
            Cell::new(f.kind.as_str()),
            Cell::new(&f.message),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// How long until it happens, from now (the message says it as of the sample).
fn when(f: &Forecast, now: i64) -> String {
    human::duration(Duration::from_millis((f.at_ms - now).max(0) as u64))
}
