//! Where the agent may make cgroups: the cgroup v2 mount and the agent's own cgroup, read
//! from /proc, and the choice among a delegated subtree, a writable root, or none (and why).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The cgroup v2 hierarchy as this process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where cgroup2 is mounted: `/sys/fs/cgroup` (unified) or `/sys/fs/cgroup/unified`
    /// (hybrid, beside the v1 controllers).
    pub mount: PathBuf,
    /// The agent's own cgroup, relative to the mount (`/` for the root).
    pub own: PathBuf,
}

impl Hierarchy {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup`; `Err` says what is missing.
    pub fn of_this_process() -> Result<Hierarchy, String> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let cgroup = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        Hierarchy::parse(&mountinfo, &cgroup)
    }

    pub fn parse(mountinfo: &str, cgroup: &str) -> Result<Hierarchy, String> {
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
        let mount = mountinfo
            .lines()
            .find_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                (right.split_whitespace().next()? == "cgroup2")
                    .then(|| left.split_whitespace().nth(4).map(unescape))?
            })
            .ok_or("no cgroup v2 filesystem is mounted")?;
        let own = cgroup
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or("the agent is in no cgroup v2 group (/proc/self/cgroup has no 0:: line)")?;
        Ok(Hierarchy {
            mount: PathBuf::from(mount),
            own: PathBuf::from(own.trim_end_matches(" (deleted)")),
        })
    }

    /// The agent's own cgroup directory.
    pub fn own_dir(&self) -> PathBuf {
        self.mount
            .join(self.own.strip_prefix("/").unwrap_or(&self.own))
    }

    /// "unified" or "hybrid": the words `status` uses.
    pub fn layout(&self) -> &'static str {
        if self.mount.ends_with("unified") {
            "hybrid"
        } else {
            "unified"
        }
    }
}

// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the agent's cgroups go, and why there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The cgroup under which the agent makes its own subtree.
    pub base: PathBuf,
    /// The agent's own cgroup, handed to it (systemd `Delegate=yes`).
    pub delegated: bool,
    pub why: String,
}

/// Picks where cgroups can be made: the agent's own cgroup when it is delegated to it, else
/// the hierarchy's root when it is writable (root), else an own cgroup this user owns.
/// Touches nothing: only looks (paths, permissions, the `delegate` attribute), so that it
/// can be pointed at a stand-in directory.
pub fn choose(h: &Hierarchy, euid: u32) -> Result<Choice, String> {
    let mount = &h.mount;
    if !mount.join("cgroup.procs").is_file() {
        return Err(format!(
            "{} is not a cgroup v2 hierarchy (no cgroup.procs)",
            mount.display()
        ));
    }
    let own_dir = h.own_dir();
    let not_root = h.own != Path::new("/");
    let writable_cgroup = |dir: &Path| writable(dir) && writable(&dir.join("cgroup.procs"));
    if not_root && marked_delegated(&own_dir) && writable_cgroup(&own_dir) {
        return Ok(Choice {
            base: own_dir.clone(),
            delegated: true,
            why: format!(
                "the agent's cgroup {} is delegated to it (Delegate=yes)",
                own_dir.display()
            ),
        });
    }
    if writable_cgroup(mount) {
        return Ok(Choice {
            base: mount.clone(),
            delegated: false,
            why: format!(
                "cgroup v2 ({}) at {} is writable",
                h.layout(),
                mount.display()
            ),
        });
    }
    if not_root && owned_by(&own_dir, euid) && writable_cgroup(&own_dir) {
        return Ok(Choice {
            base: own_dir.clone(),
            delegated: true,
            why: format!(
                "the agent's cgroup {} belongs to its user (delegated)",
                own_dir.display()
            ),
        });
    }
    Err(format!(
        "cgroup v2 ({}) at {} is not writable by uid {euid}, and the agent's cgroup {} is not \
         delegated to it: run the agent as root, or under systemd with Delegate=yes (which \
         `botctl agent install` writes)",
        h.layout(),
        mount.display(),
        h.own.display()
    ))
}

fn cpath(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_bytes()).ok()
}

fn writable(path: &Path) -> bool {
    // SAFETY: access only reads the path we pass.
    cpath(path).is_some_and(|p| unsafe { libc::access(p.as_ptr(), libc::W_OK) } == 0)
}

fn owned_by(path: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.uid() == uid)
}

/// systemd marks a delegated cgroup with `trusted.delegate` (root's units) or
/// `user.delegate` (a user manager's): "1".
fn marked_delegated(path: &Path) -> bool {
    let Some(p) = cpath(path) else {
        return false;
    };
    ["trusted.delegate", "user.delegate"]
        .into_iter()
        .any(|name| {
            let name = CString::new(name).expect("no NUL");
            let mut value = [0u8; 8];
            // SAFETY: getxattr writes at most value.len() bytes into value.
            let n = unsafe {
                libc::getxattr(
                    p.as_ptr(),
                    name.as_ptr(),
                    value.as_mut_ptr().cast(),
                    value.len(),
                )
            };
            n > 0 && value[..n as usize].starts_with(b"1")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_HYBRID: &str = "\
25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
31 25 0:27 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";

    #[test]
    fn the_mount_and_own_cgroup_are_read_from_proc_text() {
        let h = Hierarchy::parse(MOUNTINFO_HYBRID, "4:memory:/x\n0::/user.slice/a b\n").unwrap();
        assert_eq!(h.mount, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(h.own, Path::new("/user.slice/a b"));
        assert_eq!(h.layout(), "hybrid");
        assert_eq!(
            h.own_dir(),
            Path::new("/sys/fs/cgroup/unified/user.slice/a b")
        );
        let unified = "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = Hierarchy::parse(unified, "0::/system.slice/botctl.service\n").unwrap();
        assert_eq!(h.mount, Path::new("/sys/fs/cgroup"));
        assert_eq!(h.layout(), "unified");
        let spaced = "30 1 0:26 / /mnt/cg\\040two rw - cgroup2 none rw\n";
        assert_eq!(
            Hierarchy::parse(spaced, "0::/\n").unwrap().mount,
            Path::new("/mnt/cg two")
        );
        let e = Hierarchy::parse("25 30 0:23 / /sys rw - sysfs sysfs rw\n", "0::/\n");
        assert_eq!(e.unwrap_err(), "no cgroup v2 filesystem is mounted");
        assert!(Hierarchy::parse(MOUNTINFO_HYBRID, "1:cpu:/\n").is_err());
    }

    fn stand_in(tag: &str) -> tempfile::TempDir {
        let dir = tempfile::Builder::new().prefix(tag).tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.procs"), "").unwrap();
        dir
    }

    #[test]
    fn a_writable_root_is_chosen_and_a_missing_hierarchy_says_why() {
        let root = stand_in("cg-root");
        let h = Hierarchy {
            mount: root.path().to_path_buf(),
            own: PathBuf::from("/"),
        };
        let euid = unsafe { libc::geteuid() };
        let c = choose(&h, euid).unwrap();
        assert_eq!(c.base, root.path());
        assert!(!c.delegated);
        assert!(c.why.contains("is writable"), "{}", c.why);

        let empty = tempfile::tempdir().unwrap();
        let h = Hierarchy {
            mount: empty.path().to_path_buf(),
            own: PathBuf::from("/"),
        };
        let e = choose(&h, euid).unwrap_err();
        assert!(e.contains("is not a cgroup v2 hierarchy"), "{e}");
    }

    #[test]
    fn an_own_cgroup_of_the_agents_user_is_used_when_the_root_is_not_writable() {
        use std::os::unix::fs::PermissionsExt;
        let root = stand_in("cg-deleg");
        let own = root.path().join("user.slice/botctl.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.procs"), "").unwrap();
        let h = Hierarchy {
            mount: root.path().to_path_buf(),
            own: PathBuf::from("/user.slice/botctl.service"),
        };
        let euid = unsafe { libc::geteuid() };
        if euid == 0 {
            // Root may write anywhere: the root wins unless the own cgroup is marked.
            assert_eq!(choose(&h, euid).unwrap().base, root.path());
            return;
        }
        std::fs::set_permissions(
            root.path().join("cgroup.procs"),
            PermissionsExt::from_mode(0o444),
        )
        .unwrap();
        let c = choose(&h, euid).unwrap();
        assert_eq!(c.base, own);
        assert!(c.delegated);
        std::fs::set_permissions(own.join("cgroup.procs"), PermissionsExt::from_mode(0o444))
            .unwrap();
        let e = choose(&h, euid).unwrap_err();
        assert!(e.contains("Delegate=yes"), "{e}");
    }
}
