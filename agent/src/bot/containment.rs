//! What a bot's task asks of containment: its cgroup, account and hardening at each start,
//! its members at stop and crash, and how an exit reads (an OOM kill from memory.events).

use std::path::Path;

use botctl_proto::ContainmentKind;
use botctl_proto::config::{BotConfig, GlobalConfig};

use super::machine::Exit;
use super::process::{BotProcess, Hardening};
use crate::contain::account::{self, Account};
use crate::contain::cgroup::{Limits, Prepared};
use crate::contain::{self, Members};
use crate::context::Context;

/// What the configuration asks of a bot's containment (besides its own file's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub limits: Limits,
    pub nofile: Option<u64>,
    pub run_as: Option<String>,
}

impl Wanted {
    pub fn of(config: &BotConfig, global: &GlobalConfig) -> Wanted {
        let limits = config.limits(global);
        Wanted {
            limits: Limits {
                memory_mb: limits.max_memory_mb,
                pids: limits.max_pids,
                cpu_percent: limits.cpu_quota_percent,
            },
            nofile: limits.nofile,
            run_as: global.run_as(&config.user).map(str::to_string),
        }
    }
}

/// What a start gets: where the child puts itself, whom it runs as, what it may not do.
pub struct Contained {
    pub cgroup: Option<Prepared>,
    pub account: Option<Account>,
    pub hardening: Hardening,
    /// `HOME`, `USER`, `LOGNAME` of the account.
    pub env: Vec<(String, String)>,
}

/// Everything a start needs of containment, made ready: the bot's cgroup (leftovers in it
/// killed; `seen_empty` as `Tree::prepare` takes it), its account resolved and its
/// directories handed over. `Err` is why the bot cannot start, as `spawn-failed` says it.
pub fn prepare(
    ctx: &Context,
    config: &BotConfig,
    wanted: &Wanted,
    cwd: &Path,
    seen_empty: bool,
) -> Result<Contained, String> {
    let in_force = contain::in_force();
    if let Some(f) = in_force.filter(|f| f.kind == ContainmentKind::Refused) {
        return Err(f.reason.clone());
    }
    let account = match &wanted.run_as {
        Some(name) => {
            let account = account::resolve(&config.user, name)?;
            let cookies = config.auth.as_ref().map(|a| cwd.join(&a.cookies));
            let root = &ctx.paths.bots_root;
            account::hand_over(&account, root, &config.user, cwd, cookies.as_deref())?;
            Some(account)
        }
        None => None,
    };
    let cgroup = match contain::tree() {
        Some(tree) => Some(
            tree.prepare(&config.name, &wanted.limits, seen_empty)
                .map_err(|e| format!("cannot prepare the cgroup of {}: {e}", config.name))?,
        ),
        None => None,
    };
    Ok(Contained {
        cgroup,
        env: account.as_ref().map(account::env).unwrap_or_default(),
        account,
        hardening: Hardening {
            no_new_privs: config.no_new_privs,
            core_dumps: config.core_dumps,
            nofile: wanted.nofile,
        },
    })
}

/// The bot's processes as containment reaches them: those of `process` (its cgroup), or,
/// for a process already gone, the cgroup the bot's name has in the agent's subtree.
pub fn members(ctx: &Context, bot: &str, pid: u32, process: Option<&BotProcess>) -> Members {
    let process = process.filter(|p| p.pid == pid);
    Members {
        pgid: process.map_or(pid, |p| p.pgid),
        main: pid,
        leader_ticks: process.map_or(0, |p| p.start_ticks),
        cgroup: process.and_then(|p| p.cgroup.clone()).or_else(|| {
            contain::tree()
                .map(|t| t.bot(bot))
                .filter(|c| c.dir.is_dir())
        }),
        bot: bot.to_string(),
        home: ctx.paths.home.clone().into_os_string(),
    }
}

/// How the exit of `process` reads: a SIGKILL while its cgroup's OOM kills went up is the
/// kernel's, at `memory.max`.
pub fn exit_of(process: &BotProcess, exit: Exit, limit_mb: u64) -> Exit {
    let now = contain::oom_kills(process.cgroup.as_ref());
    oom_or(exit, process.oom_kills, now, limit_mb)
}

fn oom_or(exit: Exit, before: u64, now: Option<u64>, limit_mb: u64) -> Exit {
    let killed = matches!(exit, Exit::Signal(libc::SIGKILL) | Exit::Unknown);
    match now {
        Some(n) if killed && n > before => Exit::OutOfMemory { limit_mb },
        _ => exit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contain::cgroup::BotCgroup;

    #[test]
    fn a_sigkill_with_a_new_oom_kill_in_memory_events_is_the_kernels() {
        // As recorded from a host with the memory controller, after the bot hit memory.max.
        let dir = tempfile::tempdir().unwrap();
        let cg = BotCgroup {
            dir: dir.path().to_path_buf(),
        };
        let events = |kills: u32| {
            std::fs::write(
                dir.path().join("memory.events"),
                format!("low 0\nhigh 31\nmax 57\noom 1\noom_kill {kills}\noom_group_kill 0\n"),
            )
            .unwrap();
        };
        events(0);
        let before = cg.oom_kills().unwrap();
        events(1);
        let exit = oom_or(Exit::Signal(9), before, cg.oom_kills(), 512);
        assert_eq!(exit, Exit::OutOfMemory { limit_mb: 512 });
        assert_eq!(
            exit.describe(),
            "killed by the kernel: out of memory (limit 512 MiB)"
        );
        assert_eq!(
            exit.code_and_signal(),
            (None, Some(9)),
            "stored as signal 9"
        );
        // The same count as at the start: a SIGKILL from someone else.
        assert_eq!(
            oom_or(Exit::Signal(9), 1, cg.oom_kills(), 512),
            Exit::Signal(9)
        );
        // Not a kill: an exit code stays what it was.
        assert_eq!(oom_or(Exit::Code(1), 0, cg.oom_kills(), 512), Exit::Code(1));
        // No memory controller: nothing to read.
        assert_eq!(oom_or(Exit::Signal(9), 0, None, 512), Exit::Signal(9));
    }
}
