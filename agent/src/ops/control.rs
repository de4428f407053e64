//! `start`, `stop`, `restart`, `recover`: a target resolved to the caller's bots, a command
//! sent to each, their answers gathered.

use botctl_proto::{Action, ActionReport, BotOutcome, BotState, RpcError, Target};
use futures::future::join_all;

use super::{Ops, Who, no_such_bot};
use crate::bot::runner::UserCommand;
use crate::bot::{BotHandle, Command};

/// Resolves a target to the caller's bots; names it cannot see are reported, not fatal.
fn resolve(
    ops: &Ops,
    who: &Who,
    target: &Target,
) -> Result<(Vec<BotHandle>, Vec<String>), RpcError> {
    let caller = &who.caller;
    ops.fleet.read(|r| {
        let visible = || {
            r.bots
                .values()
                .map(|e| &e.handle)
                .filter(|h| caller.sees(h.owner()))
        };
        let mut unknown = Vec::new();
        let bots: Vec<BotHandle> = match target {
            Target::Bots(names) => names
                .iter()
                .filter_map(|n| {
                    let found = r
                        .bots
                        .get(n)
                        .map(|e| &e.handle)
                        .filter(|h| caller.sees(h.owner()));
                    if found.is_none() {
                        unknown.push(n.clone());
                    }
                    found.cloned()
                })
                .collect(),
            Target::All => visible().cloned().collect(),
            Target::Owner(owner) => {
                let bots: Vec<BotHandle> =
                    visible().filter(|h| h.owner() == owner).cloned().collect();
                if bots.is_empty() {
                    return Err(RpcError::not_found(format!("owner {owner} has no bots")));
                }
                bots
            }
            Target::Template(t) => {
                let bots: Vec<BotHandle> = visible()
                    .filter(|h| h.config.template.as_deref() == Some(t.as_str()))
                    .cloned()
                    .collect();
                if bots.is_empty() {
                    return Err(RpcError::not_found(format!("no bots use template {t}")));
                }
                bots
            }
            Target::Failing => visible()
                .filter(|h| matches!(h.state(), BotState::Failed | BotState::Backoff))
                .cloned()
                .collect(),
        };
        Ok((bots, unknown))
    })
}

pub async fn control(
    ops: &Ops,
    who: &Who,
    action: Action,
    target: Target,
) -> Result<ActionReport, RpcError> {
    let (bots, unknown) = resolve(ops, who, &target)?;
    let mut outcomes: Vec<BotOutcome> = unknown
        .into_iter()
        .map(|name| BotOutcome {
            message: no_such_bot(&name).message,
            bot: name,
            ok: false,
            state: None,
            pid: None,
        })
        .collect();
    let answers = join_all(bots.iter().map(|bot| async move {
        let answer = bot
            .ask(|reply| {
                Command::User(Box::new(UserCommand {
                    action,
                    by: who.actor.clone(),
                    reply,
                }))
            })
            .await;
        answer.unwrap_or_else(|| BotOutcome {
            bot: bot.name().to_string(),
            ok: false,
            message: "the bot was removed meanwhile".into(),
            state: None,
            pid: None,
        })
    }))
    .await;
    outcomes.extend(answers);
    // What was asked is on disk before the caller hears it was done: an agent killed right
    // after a `stop` must not start the bot again.
    ops.ctx.store.flush().await;
    Ok(ActionReport { action, outcomes })
}
