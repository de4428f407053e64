//! `update`: a bot's code pulled (`git pull --ff-only` in its directory, or its
//! update_command) and the bot restarted; a failed pull leaves it running its old code.

use botctl_proto::config;
use botctl_proto::{Action, BotOutcome, RpcError, Target};

use super::{Ops, Who, no_such_bot};
use crate::events::{Event, EventKind};

pub async fn update(ops: &Ops, who: &Who, name: &str) -> Result<BotOutcome, RpcError> {
    let bot = ops.bot(who, name)?;
    let config = bot.config.clone();
    let cwd = crate::storage::bot_cwd(&ops.ctx.paths, &config);
    let Some(up) = &config.update else {
        return Err(RpcError::invalid(format!(
            "{name} has no [update] section: add one (repo, branch or update_command) to its bot file"
        )));
    };
    let argv: Vec<String> = match &up.update_command {
        Some(cmd) => cmd.clone(),
        None => vec![
            "git".into(),
            "-C".into(),
            cwd.display().to_string(),
            "pull".into(),
            "--ff-only".into(),
        ],
    };
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&cwd)
        .stdin(std::process::Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true);
    botctl_proto::fds::only_stdio(cmd.as_std_mut());
    let what = if up.update_command.is_some() {
        "update_command"
    } else {
        "git pull --ff-only"
    };
    let event = |kind: EventKind, message: String| {
        ops.ctx.record(
            Event::new(kind, message)
                .of(name, &config.user)
                .by(&who.actor),
        );
    };
    let result = tokio::time::timeout(up.timeout.0, cmd.output()).await;
    let failure = match result {
        Err(_) => Some(format!(
            "{what} took longer than {}",
            config::format_duration(up.timeout.0)
        )),
        Ok(Err(e)) => Some(format!("cannot run {what}: {e}")),
        Ok(Ok(out)) if !out.status.success() => Some(format!(
            "{what} failed ({}): {}",
            out.status,
            last_line(&out.stderr)
                .or_else(|| last_line(&out.stdout))
                .unwrap_or_default()
        )),
        Ok(Ok(out)) => {
            let said = last_line(&out.stdout).unwrap_or_else(|| "done".into());
            event(EventKind::UpdateApplied, format!("{what}: {said}"));
            None
        }
    };
    if let Some(why) = failure {
        event(
            EventKind::UpdateFailed,
            format!("{why}; it keeps running its old code"),
        );
        return Ok(BotOutcome {
            bot: name.to_string(),
            ok: false,
            message: format!("{why}; not restarted"),
            state: None,
            pid: None,
        });
    }
    let report = super::control::control(
        ops,
        who,
        Action::Restart,
        Target::Bots(vec![name.to_string()]),
    )
    .await?;
    let mut outcome = report
        .outcomes
        .into_iter()
        .next()
        .ok_or_else(|| no_such_bot(name))?;
    outcome.message = format!("updated; {}", outcome.message);
    Ok(outcome)
}

/// The caller's bots with an `[update]` section.
pub fn updatable(ops: &Ops, who: &Who) -> Vec<String> {
    ops.fleet.read(|r| {
        r.bots
            .values()
            .map(|e| &e.handle)
            .filter(|h| h.config.update.is_some() && who.caller.sees(h.owner()))
            .map(|h| h.name().to_string())
            .collect()
    })
}

/// The caller's bots whose `[update] repo` and `branch` match a push.
pub fn bots_for_push(ops: &Ops, who: &Who, repo: &str, branch: &str) -> Vec<String> {
    ops.fleet.read(|r| {
        r.bots
            .values()
            .map(|e| &e.handle)
            .filter(|h| who.caller.sees(h.owner()))
            .filter(|h| {
                h.config.update.as_ref().is_some_and(|u| {
                    u.repo
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(repo))
                        && u.branch == branch
                })
            })
            .map(|h| h.name().to_string())
            .collect()
    })
}

/// The last non-empty line of a command's output, with any credentials in URLs masked
/// (`https://user:token@host` is a common git remote).
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let mut out = String::new();
    for word in line.split(' ') {
        let masked = match (word.find("://"), word.find('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***{}", &word[..scheme], &word[at..])
            }
            _ => word.to_string(),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&masked);
    }
    Some(out.chars().take(300).collect())
}
