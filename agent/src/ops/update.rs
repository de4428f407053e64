//! `update`: a bot's code pulled (`git pull --ff-only` in its directory, or its
//! update_command) and the bot restarted; a failed pull leaves it running its old code.

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
            botctl_proto::human::duration(up.timeout.0)
        )),
        Ok(Err(e)) => Some(format!("cannot run {what}: {e}")),
        Ok(Ok(out)) if !out.status.success() => Some(format!(
            "{what} failed ({}): {}",
            out.status,
            explanation(&out.stderr)
                .or_else(|| explanation(&out.stdout))
                .unwrap_or_else(|| "it said nothing".into())
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

/// At most this much of a failed update's own explanation goes into its event and alert.
const EXPLANATION_MAX_CHARS: usize = 600;

/// What a failed command said, as one bounded line with secrets removed: its non-empty lines
/// joined by " | " (git explains over several lines and ends with a bare "Aborting"), hints
/// left out, the beginning kept when it is too long (the reason comes first) plus its last
/// line.
fn explanation(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("hint:"))
        .map(redact)
        .collect();
    let last = lines.last()?.clone();
    let all = lines.join(" | ");
    if all.chars().count() <= EXPLANATION_MAX_CHARS {
        return Some(all);
    }
    let room = EXPLANATION_MAX_CHARS.saturating_sub(last.chars().count().min(200) + 5);
    let head: String = all.chars().take(room).collect();
    let tail: String = last.chars().take(200).collect();
    Some(format!("{head} … {tail}"))
}

/// The last non-empty line of a command's output, with secrets removed.
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(redact(line).chars().take(300).collect())
}

/// Token prefixes of the forges and chat services a bot's update may talk to.
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
];

/// A line with what could be a secret masked: credentials in URLs
/// (`https://user:token@host`, a common git remote), known token shapes, the values of
/// `token=`, `password=` and similar, the word after `Bearer`, and long random-looking words.
fn redact(line: &str) -> String {
    let mut out = Vec::new();
    let mut after_bearer = false;
    for word in line.split(' ') {
        let masked = if after_bearer && !word.is_empty() {
            "***".to_string()
        } else {
            redact_word(word)
        };
        after_bearer = word.eq_ignore_ascii_case("bearer");
        out.push(masked);
    }
    out.join(" ")
}

fn redact_word(word: &str) -> String {
    if let (Some(scheme), Some(at)) = (word.find("://"), word.rfind('@'))
        && at > scheme
    {
        return format!("{}://***{}", &word[..scheme], &word[at..]);
    }
    let bare = word.trim_matches(|c: char| "'\"()[]<>,;".contains(c));
    if TOKEN_PREFIXES.iter().any(|p| bare.starts_with(p)) {
        return "***".into();
    }
    for key in ["token=", "password=", "passwd=", "secret=", "key=", "auth="] {
        if let Some(at) = word.to_ascii_lowercase().find(key) {
            return format!("{}***", &word[..at + key.len()]);
        }
    }
    let token_like = bare.len() >= 32
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+/=".contains(c))
        && bare.chars().any(|c| c.is_ascii_digit())
        && bare.chars().any(|c| c.is_ascii_alphabetic())
        && !bare.chars().all(|c| c.is_ascii_hexdigit());
    if token_like {
        return "***".into();
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_pull_keeps_gits_reason_not_only_its_last_word() {
        let git = b"error: Your local changes to the following files would be overwritten by merge:\n\tbot.sh\nPlease commit your changes or stash them before you merge.\nAborting\n";
        assert_eq!(
            explanation(git).unwrap(),
            "error: Your local changes to the following files would be overwritten by merge: | bot.sh | Please commit your changes or stash them before you merge. | Aborting"
        );
        assert_eq!(explanation(b"\n  \n"), None);
        let hints = b"fatal: Not possible to fast-forward, aborting.\nhint: Diverging branches can't be fast-forwarded\n";
        assert_eq!(
            explanation(hints).unwrap(),
            "fatal: Not possible to fast-forward, aborting."
        );
    }

    #[test]
    fn a_long_explanation_is_bounded_and_keeps_its_start_and_end() {
        let mut text = String::from("error: the first line says why\n");
        for i in 0..200 {
            text.push_str(&format!("\tfile-{i}.txt\n"));
        }
        text.push_str("Aborting\n");
        let e = explanation(text.as_bytes()).unwrap();
        assert!(e.chars().count() <= EXPLANATION_MAX_CHARS, "{}", e.len());
        assert!(e.starts_with("error: the first line says why"), "{e}");
        assert!(e.ends_with(" … Aborting"), "{e}");
    }

    #[test]
    fn secrets_in_what_the_command_said_are_masked() {
        let said = "fatal: unable to access 'https://bob:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/bob/x.git/': The requested URL returned error: 403";
        let e = explanation(said.as_bytes()).unwrap();
        assert!(!e.contains("ghp_"), "{e}");
        assert!(e.contains("https://***@github.com/bob/x.git/"), "{e}");
        for (input, secret) in [
            (
                "push with ghp_0123456789abcdefghijABCDEFGHIJ012345 failed",
                "ghp_",
            ),
            ("Authorization: Bearer s3cr3t-value", "s3cr3t"),
            ("GET /api?access_token=abc123&x=1", "abc123"),
            (
                "key aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5 rejected",
                "aB3dE5",
            ),
        ] {
            let r = redact(input);
            assert!(!r.contains(secret), "{input} -> {r}");
        }
        // A commit range and plain words stay readable.
        let plain = "Updating 3f2a1bc..9d8e7f6 Fast-forward bot.sh | 2 +-";
        assert_eq!(redact(plain), plain);
        assert_eq!(
            redact("HEAD is now at 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"),
            "HEAD is now at 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
        );
    }
}
