//! `botctl update BOT... | --all`: pull each bot's code and restart it, a line per bot, with a
//! progress bar on a terminal; exit 1 naming the bots whose update failed.

use std::time::Duration;

use futures::future::join_all;

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

/// A pull and a restart each; slow remotes are common.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(900);

pub async fn run(
    target: &Target,
    bots: Vec<String>,
    all: bool,
    json: bool,
) -> Result<(), CliError> {
    let session = connect(target).await?;
    let client = &session.client;
    let names = if all {
        client.updatable_bots(ctx(Duration::from_secs(10))).await?
    } else {
        bots
    };
    if names.is_empty() {
        println!("no bot has an [update] section");
        return Ok(());
    }
    let bar = render::progress(names.len(), "updating");
    let calls = names.iter().map(|name| {
        let bar = bar.clone();
        async move {
            let r = client.update_bot(ctx(UPDATE_TIMEOUT), name.clone()).await;
            if let Some(b) = &bar {
                b.inc(1);
            }
            (name.clone(), r)
        }
    });
    let mut outcomes = Vec::new();
    for (name, r) in join_all(calls).await {
        outcomes.push(match r? {
            Ok(o) => o,
            Err(e) => botctl_proto::BotOutcome {
                bot: name,
                ok: false,
                message: e.message,
                state: None,
                pid: None,
            },
        });
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        render::print_json(&outcomes);
    }
    super::control::print_outcomes(&outcomes, !json, "were not updated")
}
