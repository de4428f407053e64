//! Owners as Unix users: `[users.NAME] run_as` resolved to a uid, its groups and home, and
//! the owner's bot directory and cookie file handed to that uid (0700 and 0600).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, User, getgrouplist};

/// A Unix account a bot runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, the primary one included (as initgroups makes them).
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

/// Looks up `name`, the account `[users.OWNER] run_as` names, in the user database. Errors
/// name the owner and the account, and say what to do.
pub fn resolve(owner: &str, name: &str) -> Result<Account, String> {
    let setting = format!("[users.{owner}] run_as = {name:?}");
    if !Uid::effective().is_root() {
        return Err(format!(
            "{setting} needs an agent running as root (this one runs as uid {}), so the bots \
             of {owner} do not start rather than run as the agent's own user: remove run_as, \
             or run the agent as root",
            Uid::effective()
        ));
    }
    let user = User::from_name(name)
        .map_err(|e| format!("{setting}: cannot read the user database: {e}"))?
        .ok_or_else(|| format!("{setting}: no such Unix account (create it with useradd)"))?;
    let cname = CString::new(name).map_err(|_| format!("{setting}: invalid name"))?;
    let groups = getgrouplist(&cname, user.gid)
        .map_err(|e| format!("{setting}: cannot read its groups: {e}"))?;
    Ok(Account {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(Gid::as_raw).collect(),
        home: user.dir,
    })
}

/// `HOME`, `USER` and `LOGNAME` of the account, for the bot's environment.
pub fn env(account: &Account) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), account.home.display().to_string()),
        ("USER".into(), account.name.clone()),
        ("LOGNAME".into(), account.name.clone()),
    ]
}

/// Hands the owner's directory (`bots/OWNER`) and the bot's working directory, when it is
/// in there, to the account, mode 0700, so that no other owner's bot can enter them; on the
/// first start (the working directory not yet the account's) everything in it too. The
/// cookie file, when there is one, becomes the account's with 0600. Every step is relative to
/// `bots_root` and follows no link, so a bot that swaps a name for a link changes nothing
/// outside its own files. A working directory elsewhere is the administrator's to set up.
pub fn hand_over(
    account: &Account,
    bots_root: &Path,
    owner: &str,
    cwd: &Path,
    cookies: Option<&Path>,
) -> Result<(), String> {
    use crate::storage::fsops::{give_dir, give_file};
    use std::os::unix::fs::MetadataExt;
    let (uid, gid) = (account.uid, account.gid);
    let failed = |e: std::io::Error| format!("cannot give {} its files: {e}", account.name);
    give_dir(bots_root, Path::new(owner), uid, gid, 0o700, false).map_err(failed)?;
    let Ok(rel) = cwd.strip_prefix(bots_root) else {
        return Ok(());
    };
    if !rel.starts_with(owner) {
        return Ok(());
    }
    let first = std::fs::symlink_metadata(cwd).is_ok_and(|m| m.uid() != uid);
    give_dir(bots_root, rel, uid, gid, 0o700, first).map_err(failed)?;
    if let Some(file) = cookies.and_then(|c| c.strip_prefix(bots_root).ok())
        && bots_root.join(file).exists()
    {
        give_file(bots_root, file, uid, gid, 0o600).map_err(failed)?;
    }
    Ok(())
}
