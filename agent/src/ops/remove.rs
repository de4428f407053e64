//! `bots remove [--purge]`: the bot stopped and taken out of the fleet, its file deleted,
//! and with `--purge` its default directory under bots/ (never a custom cwd).

use std::path::Path;
use std::sync::Arc;

use botctl_proto::config;
use botctl_proto::{BotOutcome, RpcError};

use super::{Ops, Who, no_such_bot};
use crate::bot::Command;
use crate::events::{Event, EventKind};
use crate::storage;

pub async fn remove(ops: &Ops, who: &Who, name: &str, purge: bool) -> Result<BotOutcome, RpcError> {
    let fleet = &ops.fleet;
    let _guard = fleet.changing().await;
    let paths = &ops.ctx.paths;
    let file = paths.bot_file(name);
    // Another owner's bot, or a broken file an owner cannot own yet: as if missing.
    let visible = fleet.read(|r| {
        let owner = r
            .bots
            .get(name)
            .map(|e| e.handle.owner().to_string())
            .or_else(|| r.over_limit.get(name).map(|(c, _)| c.user.clone()));
        match owner {
            Some(o) => who.caller.sees(&o),
            None => who.caller.owner().is_none(),
        }
    });
    if !visible {
        return Err(no_such_bot(name));
    }
    let (bot, parked) = fleet.take(name);
    // Purge deletes only a default directory under bots/, never a custom cwd.
    let config = bot
        .as_ref()
        .map(|b| b.config.clone())
        .or(parked)
        .or_else(|| config::load_bot(&file).ok().map(Arc::new));
    let owner = config.as_ref().map(|c| c.user.clone());
    let purge_dir = config
        .filter(|c| c.cwd.is_none())
        .map(|c| Path::new(&c.user).join(name));
    let outcome = match bot {
        Some(bot) => {
            let answer = bot
                .ask(|reply| Command::Remove {
                    by: Box::new(who.actor.clone()),
                    reply,
                })
                .await;
            let mut outcome = answer.unwrap_or_else(|| BotOutcome {
                bot: name.to_string(),
                ok: true,
                message: "stopped".into(),
                state: None,
                pid: None,
            });
            outcome.message = format!("{}; removed {}", outcome.message, paths.display(&file));
            outcome
        }
        None if file.exists() => BotOutcome {
            bot: name.to_string(),
            ok: true,
            message: format!("removed {}", paths.display(&file)),
            state: None,
            pid: None,
        },
        None => return Err(no_such_bot(name)),
    };
    if let Err(e) = std::fs::remove_file(&file)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(RpcError::internal(format!(
            "stopped {name}, but cannot remove {}: {e}",
            paths.display(&file)
        )));
    }
    let mut outcome = outcome;
    if purge {
        match purge_dir {
            Some(rel) if paths.bots_root.join(&rel).exists() => {
                match storage::fsops::remove_under(&paths.bots_root, &rel, false) {
                    Ok(freed) => outcome.message.push_str(&format!(
                        "; deleted bots/{} ({} files, {} bytes)",
                        rel.display(),
                        freed.files,
                        freed.bytes
                    )),
                    Err(e) => {
                        outcome.ok = false;
                        outcome
                            .message
                            .push_str(&format!("; could not delete its directory: {e}"));
                    }
                }
            }
            Some(_) => outcome.message.push_str("; it had no directory to delete"),
            None => outcome
                .message
                .push_str("; its directory is a custom cwd: not deleted"),
        }
    }
    ops.ctx.record(
        Event::new(EventKind::Removed, outcome.message.clone())
            .bot(Some(name), owner.as_deref())
            .by(&who.actor),
    );
    Ok(outcome)
}
