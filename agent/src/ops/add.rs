//! `bots add`: a bot file written from a command line (validated exactly like a hand-written
//! one) and the bot admitted into the fleet, started or not.

use botctl_proto::config::{self, BotConfig};
use botctl_proto::{AddBot, BotOutcome, BotState, RpcError};

use super::{Ops, Who, config_error_text};
use crate::bot::BotHandle;
use crate::events::{Event, EventKind};

pub async fn add(ops: &Ops, who: &Who, req: AddBot) -> Result<BotOutcome, RpcError> {
    let fleet = &ops.fleet;
    let _guard = fleet.changing().await;
    let paths = &ops.ctx.paths;
    let file = new_bot_file(ops, who, &req.name, &req.owner)?;
    let platform = match req.platform.as_deref() {
        None => config::Platform::default(),
        Some(p) => config::Platform::ALL
            .into_iter()
            .find(|x| x.as_str() == p)
            .ok_or_else(|| {
                RpcError::invalid(format!(
                    "unknown platform {p:?}: use twitter, messenger, telegram or generic"
                ))
            })?,
    };
    let draft = BotConfig {
        name: req.name.clone(),
        user: req.owner.clone(),
        command: req.command.clone(),
        cwd: req.cwd.clone(),
        env: req.env.iter().cloned().collect(),
        env_file: None,
        platform,
        enabled: true,
        stop_timeout: None,
        template: None,
        restart: Default::default(),
        limits: Default::default(),
        health: None,
        auth: None,
        update: None,
        ..BotConfig::default()
    };
    fleet
        .read(|r| r.admit_one(&draft.user))
        .map_err(|reason| RpcError::conflict(format!("cannot add {}: {reason}", req.name)))?;
    // Parsing what we are about to write validates it exactly like a hand-written file.
    let text = draft.to_toml();
    let bot = config::parse_bot(&req.name, &file, &text)
        .map_err(|e| RpcError::invalid(config_error_text(&e)))?;
    crate::util::write_atomically(&file, &text)
        .map_err(|e| RpcError::internal(format!("cannot write {}: {e}", paths.display(&file))))?;
    ops.ctx.record(
        Event::new(
            EventKind::Added,
            format!("added by botctl bots add ({})", paths.display(&file)),
        )
        .of(&bot.name, &bot.user)
        .by(&who.actor),
    );
    Ok(admit(ops, bot, req.start, "added").await)
}

/// Puts a new bot whose file is written into the fleet, started or not, and answers once
/// that is on disk: an agent killed right after keeps the bot as it was asked.
pub(super) async fn admit(ops: &Ops, bot: BotConfig, start: bool, verb: &str) -> BotOutcome {
    let done = outcome(ops.fleet.admit_new(bot, start), start, verb);
    ops.ctx.store.flush().await;
    done
}

/// What a new bot passes first (the caller holds `changing()`): the agent is not stopping,
/// the name is valid and free, and an owner adds bots of its own only. Answers its file.
pub(super) fn new_bot_file(
    ops: &Ops,
    who: &Who,
    name: &str,
    owner: &str,
) -> Result<std::path::PathBuf, RpcError> {
    ops.fleet.refuse_when_closed()?;
    if !config::valid_bot_name(name) {
        return Err(invalid_name(name));
    }
    if let Some(me) = who.caller.owner()
        && me != owner
    {
        return Err(RpcError::invalid(format!(
            "you may add bots for owner {me} only"
        )));
    }
    let paths = &ops.ctx.paths;
    let file = paths.bot_file(name);
    if ops.fleet.read(|r| r.exists(name)) || file.exists() {
        return Err(already_exists(paths, name, &file));
    }
    Ok(file)
}

/// What `add` and `create` answer about the bot they admitted.
fn outcome(bot: BotHandle, start: bool, verb: &str) -> BotOutcome {
    let view = bot.snapshot();
    let ok = !start || view.state == BotState::Running;
    BotOutcome {
        message: match (start, view.pid) {
            (false, _) => format!("{verb}; not started"),
            (true, Some(pid)) => format!("{verb} and started (pid {pid})"),
            (true, None) => format!(
                "{verb}, but it did not start: {}",
                view.last_error.unwrap_or_else(|| view.state.to_string())
            ),
        },
        bot: bot.name().to_string(),
        ok,
        state: Some(view.state),
        pid: view.pid,
    }
}

fn invalid_name(name: &str) -> RpcError {
    RpcError::invalid(format!(
        "invalid bot name {name:?}: use lowercase letters, digits, '-' and '_', starting with a letter or digit (at most 64)"
    ))
}

fn already_exists(paths: &botctl_proto::Paths, name: &str, file: &std::path::Path) -> RpcError {
    RpcError::conflict(format!(
        "bot {name} already exists ({}): remove it first or choose another name",
        paths.display(file)
    ))
}
