//! `botctl start|stop|restart|recover`: one action on many bots, with a progress bar on a
//! terminal, a line per bot, and exit 1 naming the bots that did not get there.

use std::time::Duration;

use botctl_proto::{Action, ActionReport, BotState, Target as Which};
use futures::future::join_all;

use crate::CliError;
use crate::args::{Selection, StartArgs};
use crate::client::{Session, Target, connect, ctx};
use crate::render;

/// Stopping waits for stop_timeout per bot (in parallel); leave room for slow ones.
const ACTION_TIMEOUT: Duration = Duration::from_secs(3600);

pub async fn run(target: &Target, action: Action, sel: Selection) -> Result<(), CliError> {
    let session = connect(target).await?;
    let report = execute(&session, action, which(&sel)).await?;
    finish(&report, sel.json)
}

/// `start` and `restart`, which may wait for the bots to be ready.
pub async fn start(target: &Target, action: Action, args: StartArgs) -> Result<(), CliError> {
    let Some(within) = args.wait else {
        return run(target, action, args.sel).await;
    };
    let session = connect(target).await?;
    let mut report = execute(&session, action, which(&args.sel)).await?;
    super::ready::wait(&session, &mut report.outcomes, within).await?;
    finish(&report, args.sel.json)
}

fn which(sel: &Selection) -> Which {
    let sel = sel.clone();
    if sel.all {
        Which::All
    } else if let Some(owner) = sel.user {
        Which::Owner(owner)
    } else if let Some(template) = sel.template {
        Which::Template(template)
    } else {
        Which::Bots(sel.bots)
    }
}

pub async fn recover(target: &Target, bots: Vec<String>, json: bool) -> Result<(), CliError> {
    let which = if bots.is_empty() {
        Which::Failing
    } else {
        Which::Bots(bots)
    };
    let session = connect(target).await?;
    let report = execute(&session, Action::Recover, which).await?;
    if report.outcomes.is_empty() && !json {
        println!("nothing to recover: no bot is failed or backing off");
        return Ok(());
    }
    finish(&report, json)
}

async fn execute(
    session: &Session,
    action: Action,
    which: Which,
) -> Result<ActionReport, CliError> {
    let client = &session.client;
    // On a terminal, act bot by bot (in parallel) so a bar can show progress.
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) && which != Which::Bots(vec![]) {
        let names: Vec<String> = match &which {
            Which::Bots(names) => names.clone(),
            Which::All => names_of(client.list_bots(ctx(secs(10)), None).await?, |_| true),
            Which::Owner(o) => names_of(
                client.list_bots(ctx(secs(10)), Some(o.clone())).await?,
                |_| true,
            ),
            Which::Failing => names_of(client.list_bots(ctx(secs(10)), None).await?, |s| {
                matches!(s, BotState::Failed | BotState::Backoff)
            }),
            // The agent knows which bots use a template; no bar for this one.
            Which::Template(_) => Vec::new(),
        };
        if let Some(bar) = render::progress(names.len(), action.as_str()) {
            let calls = names.into_iter().map(|name| {
                let bar = bar.clone();
                async move {
                    let r = client
                        .control(ctx(ACTION_TIMEOUT), action, Which::Bots(vec![name]))
                        .await;
                    bar.inc(1);
                    r
                }
            });
            let mut outcomes = Vec::new();
            for r in join_all(calls).await {
                outcomes.extend(r??.outcomes);
            }
            bar.finish_and_clear();
            return Ok(ActionReport { action, outcomes });
        }
    }
    Ok(client.control(ctx(ACTION_TIMEOUT), action, which).await??)
}

fn names_of(bots: botctl_proto::Rows, keep: impl Fn(BotState) -> bool) -> Vec<String> {
    bots.iter()
        .filter(|b| b.state != BotState::ConfigError && keep(b.state))
        .map(|b| b.name.clone())
        .collect()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn finish(report: &ActionReport, json: bool) -> Result<(), CliError> {
    if json {
        render::print_json(report);
    }
    print_outcomes(
        &report.outcomes,
        !json,
        &format!("did not {}", report.action.as_str()),
    )
}

/// A line per bot (when `print`), and exit 1 naming the bots that did not make it.
pub(crate) fn print_outcomes(
    outcomes: &[botctl_proto::BotOutcome],
    print: bool,
    failed_verb: &str,
) -> Result<(), CliError> {
    if print {
        for o in outcomes {
            let mark = if o.ok { "ok  " } else { "FAIL" };
            println!("{mark} {}: {}", o.bot, o.message);
        }
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .map(|o| o.bot.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} of {} bot(s) {failed_verb}: {}",
            failed.len(),
            outcomes.len(),
            failed.join(", ")
        )))
    }
}
