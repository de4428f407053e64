//! Containment: what holds each bot's processes together so that stop, restart and crash
//! handling reach all of them (a cgroup per bot, or the subreaper fallback), decided once.

pub mod account;
pub mod cgroup;
pub mod discover;
pub mod procfs;
pub mod tree;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use botctl_proto::config::{CGROUP_ROOT_ENV, CONTAINMENT_ENV, ContainmentMode};
use botctl_proto::{ContainmentInfo, ContainmentKind};
use nix::sys::signal::Signal;

use cgroup::{BotCgroup, Tree};
use discover::Hierarchy;
use procfs as process;

/// What is in force for this agent's life.
#[derive(Debug)]
pub struct InForce {
    pub kind: ContainmentKind,
    pub reason: String,
    /// With cgroups: the mount and the agent's subtree.
    pub cgroups: Option<(PathBuf, Tree)>,
}

static IN_FORCE: OnceLock<InForce> = OnceLock::new();

/// Decides containment once, at the agent's start: `BOTCTL_CONTAINMENT`, else `[agent]
/// containment`, against what the host allows (or the stand-in `BOTCTL_CGROUP_ROOT` names).
/// Later calls return the first decision.
pub fn decide(configured: ContainmentMode, home: &Path) -> &'static InForce {
    IN_FORCE.get_or_init(|| {
        let from_env = std::env::var(CONTAINMENT_ENV).ok();
        let (asked, by) = match from_env.as_deref().and_then(ContainmentMode::parse) {
            Some(m) => (m, format!("{CONTAINMENT_ENV}={m}")),
            None => (configured, format!("containment = \"{configured}\"")),
        };
        let in_force = choose(asked, &by, home);
        if in_force.kind == ContainmentKind::Subreaper
            && let Err(e) = tree::become_subreaper()
        {
            crate::util::log_line(format_args!("botctl agent: cannot become a subreaper: {e}"));
        }
        in_force
    })
}

fn choose(asked: ContainmentMode, by: &str, home: &Path) -> InForce {
    let subreaper = |why: String| InForce {
        kind: ContainmentKind::Subreaper,
        reason: why,
        cgroups: None,
    };
    if asked == ContainmentMode::Subreaper {
        return subreaper(format!(
            "{by}: the agent adopts orphans and stop walks /proc"
        ));
    }
    // A stand-in root (tests) is named in every reason, so it is never mistaken for the host's.
    let stand_in = std::env::var_os(CGROUP_ROOT_ENV).map(PathBuf::from);
    let hierarchy = match &stand_in {
        Some(root) => Ok(Hierarchy {
            mount: root.clone(),
            own: PathBuf::from("/"),
        }),
        None => Hierarchy::of_this_process(),
    };
    let found = hierarchy
        .and_then(|h| {
            // SAFETY: geteuid has no preconditions.
            let euid = unsafe { libc::geteuid() };
            let choice = discover::choose(&h, euid)?;
            let tree = Tree::open(&choice.base, &subtree_name(home)).map_err(|e| e.to_string())?;
            Ok((h, choice, tree))
        })
        .map_err(|why| match &stand_in {
            Some(root) => format!("{CGROUP_ROOT_ENV}={}: {why}", root.display()),
            None => why,
        });
    match found {
        Ok((h, choice, tree)) => InForce {
            kind: ContainmentKind::Cgroup,
            reason: format!("{by}: {}", choice.why),
            cgroups: Some((h.mount, tree)),
        },
        Err(why) if asked == ContainmentMode::Cgroup => InForce {
            kind: ContainmentKind::Refused,
            reason: format!("{by}, but no cgroup can be made: {why}"),
            cgroups: None,
        },
        Err(why) => subreaper(format!("{by}: no cgroup can be made ({why}); subreaper")),
    }
}

/// `botctl-<16 hex digits of the home's hash>`: one subtree per home, so agents of different
/// homes (tests in parallel) never meet.
pub fn subtree_name(home: &Path) -> String {
    use sha2::Digest;
    use std::os::unix::ffi::OsStrExt;
    let digest = sha2::Sha256::digest(home.as_os_str().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("botctl-{hex}")
}

pub fn in_force() -> Option<&'static InForce> {
    IN_FORCE.get()
}

/// The agent's subtree, with cgroups.
pub fn tree() -> Option<&'static Tree> {
    in_force()?.cgroups.as_ref().map(|(_, t)| t)
}

/// What `status` and `agent status` show (without the owners, which `status` adds).
pub fn info() -> Option<Box<ContainmentInfo>> {
    let f = in_force()?;
    let tree = f.cgroups.as_ref().map(|(_, t)| t);
    Some(Box::new(ContainmentInfo {
        mode: f.kind,
        reason: f.reason.clone(),
        cgroup: tree.map(|t| t.dir.display().to_string()),
        limits: tree
            .map(|t| {
                t.controllers
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        root_owners: Vec::new(),
    }))
}

/// The bot `name` is gone from the fleet: its cgroup goes too, once empty.
pub fn discard(name: &str) {
    if let Some(tree) = tree() {
        tree.forget(name);
        tree.bot(name).remove();
    }
}

/// Removes the agent's subtree at its exit, when no bot's cgroup is left in it (bots left
/// running for the next agent keep theirs, and so the subtree).
pub fn release() {
    if let Some(tree) = tree() {
        tree.sweep(|_| false);
        let _ = std::fs::remove_dir(&tree.dir);
    }
}

/// Whether bots' cgroups have the memory controller, so `memory.events` and
/// `memory.current` exist (not on a hybrid host, whose memory controller is v1's).
pub fn charges_memory() -> bool {
    tree().is_some_and(|t| t.controllers.contains(&cgroup::Controller::Memory))
}

/// The OOM kills counted so far in `cgroup` (`memory.events`), where bots' cgroups have the
/// memory controller; elsewhere there is no such file, and none is read.
pub fn oom_kills(cgroup: Option<&BotCgroup>) -> Option<u64> {
    cgroup
        .filter(|_| charges_memory())
        .and_then(BotCgroup::oom_kills)
}

/// The cgroup a process lives in, when it is one of this agent's bot cgroups.
pub fn cgroup_of(pid: u32) -> Option<BotCgroup> {
    let (mount, tree) = in_force()?.cgroups.as_ref()?;
    tree.of_pid(mount, pid)
}

/// The cgroup of a process an earlier agent recorded in cgroup `recorded` ('' for none):
/// - one of this agent's bot cgroups is taken as recorded: a process leaves its cgroup only
///   when something allowed to write `cgroup.procs` moves it, and reading /proc/PID/cgroup
///   (every v1 hierarchy listed too on a hybrid host) cost 10 µs a bot;
/// - otherwise the one /proc names, when it is this agent's;
/// - otherwise the recorded one (an agent of another containment mode), if it still holds
///   the process.
pub fn cgroup_of_adopted(pid: u32, recorded: &str) -> Option<BotCgroup> {
    let ours = tree().is_some_and(|t| Path::new(recorded).parent() == Some(t.dir.as_path()));
    if ours {
        return Some(BotCgroup {
            dir: recorded.into(),
        });
    }
    cgroup_of(pid).or_else(|| {
        let cgroup = BotCgroup {
            dir: recorded.into(),
        };
        (!recorded.is_empty() && cgroup.procs().contains(&pid)).then_some(cgroup)
    })
}

/// One bot's processes as stop, restart and crash handling reach them.
#[derive(Debug, Clone)]
pub struct Members {
    /// The group botctl started the bot in.
    pub pgid: u32,
    /// The main process: the started one, or the one sd_notify `MAINPID=` named.
    pub main: u32,
    pub leader_ticks: u64,
    pub cgroup: Option<BotCgroup>,
    pub bot: String,
    pub home: OsString,
}

impl Members {
    fn walk(&self) -> Vec<u32> {
        tree::members(&tree::Marks {
            leader: self.pgid,
            leader_ticks: self.leader_ticks,
            pgid: self.pgid,
            home: &self.home,
            bot: &self.bot,
        })
    }

    /// `signal` to the group and to every other process of the bot.
    pub fn signal(&self, signal: Signal) {
        process::signal_group(self.pgid, signal);
        if self.main != self.pgid {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.main as i32), signal);
        }
        match &self.cgroup {
            Some(cg) => cg.signal(signal),
            None => {
                for pid in self.walk() {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
                }
            }
        }
    }

    /// SIGKILL to everything of the bot (`cgroup.kill` with a cgroup).
    pub fn kill(&self) {
        process::signal_group(self.pgid, Signal::SIGKILL);
        match &self.cgroup {
            Some(cg) => {
                if let Some(tree) = tree() {
                    tree.forget(&self.bot);
                }
                cg.kill_all()
            }
            None => self.signal(Signal::SIGKILL),
        }
    }

    /// After the main process exited: SIGKILL to what it left behind. A cgroup with nothing
    /// left in it is not killed, so that the bot's next start can use it again (see
    /// `Tree::prepare`); true when that is what was found.
    pub fn kill_leftovers(&self) -> bool {
        match &self.cgroup {
            Some(cg) if !cg.populated() => {
                process::signal_group(self.pgid, Signal::SIGKILL);
                true
            }
            _ => {
                self.kill();
                false
            }
        }
    }

    /// While any process of the bot lives: its cgroup is populated, or (without one) its
    /// group or a process found by the walk lives.
    pub fn alive(&self) -> bool {
        match &self.cgroup {
            Some(cg) => cg.populated() || process::group_alive(self.pgid),
            None => process::group_alive(self.pgid) || !self.walk().is_empty(),
        }
    }

    /// After a stop: removes the bot's cgroup once it is empty, unless the bot's next start
    /// can use it as it is (see `Tree::prepare`): then it stays until that start, the bot's
    /// removal ([`discard`]) or the agent's exit ([`release`]).
    pub fn release(&self) {
        if let Some(cg) = &self.cgroup
            && !tree().is_some_and(|t| t.keeps(&self.bot))
        {
            cg.remove();
        }
    }
}
