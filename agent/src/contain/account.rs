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

/// Looks `name` up in the user database. Errors say what to do.
pub fn resolve(name: &str) -> Result<Account, String> {
    if !Uid::effective().is_root() {
        return Err(format!(
            "run_as = {name:?} needs an agent running as root (this one runs as uid {}): \
             remove run_as, or run the agent as root",
            Uid::effective()
        ));
    }
    let user = User::from_name(name)
        .map_err(|e| format!("run_as = {name:?}: cannot read the user database: {e}"))?
        .ok_or_else(|| {
            format!("run_as = {name:?}: no such Unix account (create it with useradd)")
        })?;
    let cname = CString::new(name).map_err(|_| format!("run_as = {name:?}: invalid name"))?;
    let groups = getgrouplist(&cname, user.gid)
        .map_err(|e| format!("run_as = {name:?}: cannot read its groups: {e}"))?;
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

/// Hands the owner's directory (`bots/OWNER`) and the bot's working directory to the
/// account, mode 0700, so that no other owner's bot can enter them; on the first start
/// (the working directory not yet the account's) everything in it too, without following
/// links or leaving its filesystem. The cookie file, when there is one, becomes 0600.
pub fn hand_over(
    account: &Account,
    owner_dir: &Path,
    cwd: &Path,
    cookies: Option<&Path>,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let own = |path: &Path, mode: Option<u32>| -> Result<(), String> {
        std::os::unix::fs::lchown(path, Some(account.uid), Some(account.gid))
            .map_err(|e| format!("cannot give {} to {}: {e}", path.display(), account.name))?;
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
        }
        Ok(())
    };
    if cwd.starts_with(owner_dir) {
        own(owner_dir, Some(0o700))?;
    }
    let first = std::fs::metadata(cwd).is_ok_and(|m| m.uid() != account.uid);
    if first {
        let dev = std::fs::metadata(cwd).map(|m| m.dev()).ok();
        walk(cwd, dev, &|p| own(p, None))?;
    }
    own(cwd, Some(0o700))?;
    if let Some(file) = cookies.filter(|f| f.exists()) {
        own(file, Some(0o600))?;
    }
    Ok(())
}

/// Every entry under `dir` (not `dir` itself), links as links, on filesystem `dev` only.
fn walk(
    dir: &Path,
    dev: Option<u64>,
    each: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if dev.is_some_and(|d| d != meta.dev()) {
            continue;
        }
        each(&path)?;
        if meta.is_dir() {
            walk(&path, dev, each)?;
        }
    }
    Ok(())
}
