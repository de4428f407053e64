//! The systemd unit `botctl agent install` writes: where it goes and what it says. Pure, so
//! the unit text is unit-tested; `commands::agent` does the file and systemctl work.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const UNIT_NAME: &str = "botctl.service";

/// Overrides the unit directory (tests and packaging), for user and system units alike.
pub const DIR_ENV: &str = "BOTCTL_SYSTEMD_DIR";

/// How long systemd lets the agent go without a WATCHDOG=1 before restarting it.
pub const WATCHDOG_SEC: u32 = 30;

/// Whether the process `pid` runs under the unit `agent install` writes, and if so whether
/// it is a system unit (`Some(true)`) or a user unit: systemd names a service's cgroup after
/// its unit.
pub fn managing_unit(pid: u32) -> Option<bool> {
    unit_in_cgroup(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)
}

/// `/proc/PID/cgroup` read for our unit: `0::/system.slice/botctl.service` (cgroup v2) or
/// `1:name=systemd:/user.slice/.../user@1000.service/app.slice/botctl.service` (v1).
fn unit_in_cgroup(text: &str) -> Option<bool> {
    text.lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .find(|path| path.rsplit('/').next() == Some(UNIT_NAME))
        .map(|path| !path.contains("/user@"))
}

/// What goes into the unit.
pub struct Unit<'a> {
    pub system: bool,
    /// This binary, absolute.
    pub exe: &'a Path,
    /// The home given by --home or BOTCTL_HOME, absolute; none means the platform directories.
    pub home: Option<&'a Path>,
    /// The account a system unit runs the agent as.
    pub user: Option<&'a str>,
}

fn non_empty(v: OsString) -> Option<OsString> {
    (!v.is_empty()).then_some(v)
}

/// Where the unit goes: $BOTCTL_SYSTEMD_DIR, else /etc/systemd/system for a system unit, else
/// the user unit directory under $XDG_CONFIG_HOME or ~/.config.
pub fn unit_dir(system: bool) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(DIR_ENV).and_then(non_empty) {
        return Ok(PathBuf::from(dir));
    }
    if system {
        return Ok(PathBuf::from("/etc/systemd/system"));
    }
    if let Some(config) = std::env::var_os("XDG_CONFIG_HOME")
        .and_then(non_empty)
        .filter(|c| Path::new(c).is_absolute())
    {
        return Ok(Path::new(&config).join("systemd/user"));
    }
    let home = std::env::var_os("HOME")
        .and_then(non_empty)
        .ok_or("cannot find the user unit directory: set HOME or XDG_CONFIG_HOME")?;
    Ok(Path::new(&home).join(".config/systemd/user"))
}

/// The target whose `.wants/` holds the link `systemctl enable` makes.
pub fn wanted_by(system: bool) -> &'static str {
    if system {
        "multi-user.target"
    } else {
        "default.target"
    }
}

/// `systemctl` or `systemctl --user`.
pub fn systemctl(system: bool) -> &'static str {
    if system {
        "systemctl"
    } else {
        "systemctl --user"
    }
}

/// The one command that enables (at boot) and starts the unit.
pub fn enable_command(system: bool) -> String {
    format!("{} enable --now {UNIT_NAME}", systemctl(system))
}

pub fn render(unit: &Unit) -> Result<String, String> {
    let exe = quote(&unit.exe.to_string_lossy(), true)?;
    let mut text = String::from(
        "# Written by `botctl agent install`; `botctl agent uninstall` removes it.\n\
         [Unit]\n\
         Description=botctl agent: keeps the bot fleet running\n\
         Documentation=man:botctl(1)\n",
    );
    if unit.system {
        // Bots talk to chat platforms: start once the network is up. (User managers have no
        // network-online target to wait for.)
        text.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    }
    // The agent says when it answers (READY=1) and pings from its runtime (WATCHDOG=1 every
    // WatchdogSec/2): a hung agent is restarted by systemd, its bots adopted by the next one.
    text.push_str(&format!(
        "\n[Service]\nType=notify\nExecStart={exe} agent run\nWatchdogSec={WATCHDOG_SEC}\n"
    ));
    if let Some(home) = unit.home {
        let assignment = format!("BOTCTL_HOME={}", home.to_string_lossy());
        text.push_str(&format!("Environment={}\n", quote(&assignment, false)?));
    }
    if let Some(user) = unit.user {
        text.push_str(&format!("User={}\n", quote(user, false)?));
    }
    text.push_str(
        "Restart=always\n\
         RestartSec=2\n\
         # Only the agent is stopped or restarted with the unit. Bots run in their own sessions\n\
         # and process groups and write their own log files, so they outlive the agent (SIGTERM\n\
         # to the agent leaves them running by design) and the next agent adopts them; the\n\
         # default KillMode (control-group) would kill every bot on each agent restart.\n\
         KillMode=process\n\
         # The unit's cgroup is the agent's to divide: each bot gets a cgroup of its own in it\n\
         # (containment, kernel limits), also when the agent does not run as root.\n\
         Delegate=yes\n",
    );
    text.push_str(&format!(
        "\n[Install]\nWantedBy={}\n",
        wanted_by(unit.system)
    ));
    Ok(text)
}

/// One word of a unit file: `%` escaped (specifiers), `$` too on command lines (variable
/// expansion), and double quotes with C escapes around a word that needs them (an empty
/// word too, which would otherwise vanish).
pub fn quote(word: &str, command_line: bool) -> Result<String, String> {
    if word.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{word:?} has a control character, which a unit file cannot hold"
        ));
    }
    let mut out = word.replace('%', "%%");
    if command_line {
        out = out.replace('$', "$$");
    }
    if out.is_empty()
        || out
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        out = format!("\"{}\"", out.replace('\\', "\\\\").replace('"', "\\\""));
    }
    Ok(out)
}

/// The account a system unit should run the agent as: whoever ran `sudo`, or the caller.
pub fn invoking_user() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0
        && let Some(user) = std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty())
    {
        return Some(user);
    }
    user_name(euid).or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
}

/// The name of the primary group of the account `user`, for a unit's `Group=`.
pub fn primary_group(user: &str) -> Option<String> {
    let account = nix::unistd::User::from_name(user).ok()??;
    Some(nix::unistd::Group::from_gid(account.gid).ok()??.name)
}

fn user_name(uid: libc::uid_t) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()?
        .map(|u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_unit_runs_this_binary_with_the_home_and_leaves_bots_alone() {
        let text = render(&Unit {
            system: false,
            exe: Path::new("/usr/local/bin/botctl"),
            home: Some(Path::new("/srv/bots")),
            user: None,
        })
        .unwrap();
        for line in [
            "Type=notify",
            "WatchdogSec=30",
            "ExecStart=/usr/local/bin/botctl agent run",
            "Environment=BOTCTL_HOME=/srv/bots",
            "Restart=always",
            "RestartSec=2",
            "KillMode=process",
            "Delegate=yes",
            "WantedBy=default.target",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("User="));
        assert!(!text.contains("network-online"));
    }

    #[test]
    fn a_system_unit_names_its_user_and_waits_for_the_network() {
        let text = render(&Unit {
            system: true,
            exe: Path::new("/usr/bin/botctl"),
            home: None,
            user: Some("alice"),
        })
        .unwrap();
        assert!(text.contains("\nUser=alice\n"));
        assert!(text.contains("\nWantedBy=multi-user.target\n"));
        assert!(text.contains("\nAfter=network-online.target\n"));
        assert!(!text.contains("Environment="));
    }

    #[test]
    fn awkward_paths_are_quoted_for_systemd() {
        let text = render(&Unit {
            system: false,
            exe: Path::new("/opt/my bots/50%/botctl"),
            home: Some(Path::new("/srv/a \"b\"")),
            user: None,
        })
        .unwrap();
        assert!(
            text.contains("ExecStart=\"/opt/my bots/50%%/botctl\" agent run\n"),
            "{text}"
        );
        assert!(
            text.contains("Environment=\"BOTCTL_HOME=/srv/a \\\"b\\\"\"\n"),
            "{text}"
        );
        assert_eq!(quote("/a$b", true).unwrap(), "/a$$b");
        assert!(quote("a\nb", false).is_err());
        assert_eq!(quote("", true).unwrap(), "\"\"");
    }

    #[test]
    fn the_unit_is_found_in_the_cgroup() {
        let user = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/botctl.service\n";
        assert_eq!(unit_in_cgroup(user), Some(false));
        assert_eq!(
            unit_in_cgroup("0::/system.slice/botctl.service\n"),
            Some(true)
        );
        let v1 =
            "12:pids:/system.slice/botctl.service\n1:name=systemd:/system.slice/botctl.service\n";
        assert_eq!(unit_in_cgroup(v1), Some(true));
        for other in [
            "0::/user.slice/user-1000.slice/session-3.scope\n",
            "0::/system.slice/botctl.service.d\n",
            "0::/system.slice/other-botctl.service\n",
            "",
        ] {
            assert_eq!(unit_in_cgroup(other), None, "{other:?}");
        }
    }

    #[test]
    fn the_enable_command_matches_the_unit_kind() {
        assert_eq!(
            enable_command(false),
            "systemctl --user enable --now botctl.service"
        );
        assert_eq!(
            enable_command(true),
            "systemctl enable --now botctl.service"
        );
    }
}
