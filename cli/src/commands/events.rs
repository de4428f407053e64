//! `botctl events`: the history of what happened to the fleet and who caused it, optionally
//! followed live.

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
    user: Option<String>,
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
        // The agent reads a limit of 0 as its default; `-n 0` asks for none, so ask for the
        // newest one only to learn where new events start.
        limit: lines.max(1),
        owner: user,
    };
    let mut events = session
        .client
        .events(ctx(Duration::from_secs(10)), query.clone())
        .await??;
    let last_id = events.last().map(|e| e.id);
    if lines == 0 {
        events.clear();
    }
    if json && !follow {
        render::print_json(&events);
        return Ok(());
    }
    print(&events, json);
    if !follow {
        return Ok(());
    }
    // Nothing matched: new events start after the newest of all (not after id 0, which
    // would print every older event of the bot that --since left out).
    let newest = match last_id {
        Some(id) => id,
        None => {
            let any = EventQuery {
                limit: 1,
                ..EventQuery::default()
            };
            let newest = session.client.events(ctx(Duration::from_secs(10)), any);
            newest.await??.last().map(|e| e.id).unwrap_or(0)
        }
    };
    let mut last = newest;
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
            // One object per line while following, so each line parses on its own; the same
            // object as in the array `events --json` prints.
            if let Some(line) = render::json_line(e) {
                println!("{line}");
            }
        } else {
            // Who caused it, when someone did: `[by uid 1000]`, `[by telegram user 42]`.
            let by = e
                .actor
                .as_deref()
                .map(|a| format!(" [by {a}]"))
                .unwrap_or_default();
            println!(
                "{}  {:<14} {:<16} {}{by}",
                render::local_time(e.ts_ms),
                e.bot.as_deref().unwrap_or("-"),
                e.kind,
                e.message
            );
        }
    }
}
