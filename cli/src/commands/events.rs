//! `botctl events`: the history of what happened to the fleet, optionally followed live.

use std::time::Duration;

use botctl_proto::config::parse_duration;
use botctl_proto::{EventQuery, EventRecord, now_ms};

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

const FOLLOW_POLL: Duration = Duration::from_millis(300);

pub async fn run(
    target: &Target,
    bot: Option<String>,
    since: Option<String>,
    lines: u32,
    follow: bool,
    json: bool,
) -> Result<(), CliError> {
    let since_ms = match since {
        Some(s) => {
            let d = parse_duration(&s).map_err(|e| CliError {
                code: 2,
                message: format!("--since: {e}"),
            })?;
            Some(now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
        }
        None => None,
    };
    let session = connect(target).await?;
    let mut query = EventQuery {
        bot,
        since_ms,
        after_id: None,
        limit: lines,
    };
    let events = session
        .client
        .events(ctx(Duration::from_secs(10)), query.clone())
        .await??;
    if json && !follow {
        render::print_json(&events);
        return Ok(());
    }
    print(&events, json);
    if !follow {
        return Ok(());
    }
    let mut last = events.last().map(|e| e.id).unwrap_or(0);
    query.since_ms = None;
    query.limit = 1000;
    loop {
        tokio::time::sleep(FOLLOW_POLL).await;
        query.after_id = Some(last);
        let events = session
            .client
            .events(ctx(Duration::from_secs(10)), query.clone())
            .await??;
        if let Some(e) = events.last() {
            last = e.id;
        }
        print(&events, json);
    }
}

fn print(events: &[EventRecord], json: bool) {
    for e in events {
        if json {
            // One object per line while following, so each line parses on its own.
            if let Ok(line) = serde_json::to_string(e) {
                println!("{line}");
            }
        } else {
            println!(
                "{}  {:<14} {:<16} {}",
                render::local_time(e.ts_ms),
                e.bot.as_deref().unwrap_or("-"),
                e.kind,
                e.message
            );
        }
    }
}
