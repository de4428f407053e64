//! `hosts.toml`: the machines `botctl --host NAME` reaches over SSH, and the defaults every host
//! (named, or given as an `ssh://` address) takes: the remote botctl, its home, ssh options.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::values::{Time, de_opt};
use super::{NAME_MAX, Problems, fsread, parse_file, unreadable};

/// The remote botctl when a host does not say: found on the remote user's PATH.
pub const DEFAULT_REMOTE_BOTCTL: &str = "botctl";
/// How long a host has to answer: ssh's ConnectTimeout, and `status --hosts`'s deadline.
pub const DEFAULT_HOST_TIMEOUT: Duration = Duration::from_secs(10);

/// The file: `[defaults]` and one `[hosts.NAME]` table per host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostsFile {
    pub defaults: HostEntry,
    pub hosts: BTreeMap<String, HostEntry>,
}

/// One table of the file; in `[defaults]`, every field but `address`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostEntry {
    /// `ssh://[user@]host[:port]`.
    pub address: Option<String>,
    /// The botctl binary on that host.
    pub botctl: Option<String>,
    /// The remote BOTCTL_HOME; without it, the remote user's default home.
    pub home: Option<String>,
    /// Arguments for `ssh` before the destination, e.g. `["-i", "~/.ssh/fleet"]`.
    pub ssh_options: Vec<String>,
    #[serde(deserialize_with = "de_opt::<_, Time<1000>>")]
    pub timeout: Option<Duration>,
}

/// An `ssh://[user@]host[:port]` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshAddress {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// A host with its settings resolved: what the CLI needs to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// What the user called it: its name in hosts.toml, or the address given.
    pub name: String,
    pub address: SshAddress,
    pub botctl: String,
    pub home: Option<String>,
    /// The host's own options first: ssh keeps the first value it is given for each option.
    pub ssh_options: Vec<String>,
    pub timeout: Duration,
}

impl SshAddress {
    pub fn parse(text: &str) -> Result<SshAddress, String> {
        let invalid =
            |why: &str| format!("invalid address {text:?}: {why}; write ssh://user@host[:port]");
        let rest = text
            .strip_prefix("ssh://")
            .ok_or_else(|| invalid("it must start with ssh://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, rest),
        };
        // `[::1]:22` for IPv6; otherwise the port follows the last colon.
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| invalid("an unclosed ["))?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        let port = port
            .map(|p| p.parse::<u16>().ok().filter(|p| *p > 0))
            .map(|p| p.ok_or_else(|| invalid("the port must be a number from 1 to 65535")))
            .transpose()?;
        // Neither may read as an ssh option or carry anything a shell or ssh would split.
        let plain = |s: &str| {
            !s.is_empty()
                && !s.starts_with('-')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        };
        if !plain(host) {
            return Err(invalid("the host must be a name or an address"));
        }
        if let Some(user) = user
            && !plain(user)
        {
            return Err(invalid("the user must be a plain user name"));
        }
        Ok(SshAddress {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        })
    }

    /// `user@host`, as ssh takes its destination.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for SshAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// A host name in hosts.toml: letters, digits, `.`, `_` and `-`.
pub fn valid_host_name(name: &str) -> bool {
    name.len() <= NAME_MAX
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl HostsFile {
    fn check(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        if self.defaults.address.is_some() {
            found.push((
                "defaults.address".into(),
                "an address belongs to one host: set it in [hosts.NAME]".into(),
            ));
        }
        for (name, entry) in &self.hosts {
            if !valid_host_name(name) {
                found.push((
                    format!("hosts.{name}"),
                    "a host name is letters, digits, `.`, `_` and `-`".into(),
                ));
            }
            match &entry.address {
                None => found.push((
                    format!("hosts.{name}"),
                    "missing field `address`, e.g. address = \"ssh://deploy@web1:22\"".into(),
                )),
                Some(address) => {
                    if let Err(why) = SshAddress::parse(address) {
                        found.push((format!("hosts.{name}.address"), why));
                    }
                }
            }
        }
        found
    }

    /// The named hosts, in the file's (sorted) order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// `given` is an `ssh://` address (taking `[defaults]`) or the name of a host here.
    pub fn host(&self, given: &str) -> Result<Host, String> {
        let (address, own) = if given.starts_with("ssh://") {
            (SshAddress::parse(given)?, None)
        } else {
            let entry = self.hosts.get(given).ok_or_else(|| {
                let known = if self.hosts.is_empty() {
                    "none are named in the hosts file".to_string()
                } else {
                    format!("the hosts file names {}", self.names().join(", "))
                };
                format!("no host named {given:?} ({known}); give an ssh://user@host[:port] address or name it in hosts.toml")
            })?;
            let address = entry.address.as_deref().unwrap_or_default();
            (SshAddress::parse(address)?, Some(entry))
        };
        let defaults = &self.defaults;
        let pick =
            |f: fn(&HostEntry) -> Option<&String>| own.and_then(f).or_else(|| f(defaults)).cloned();
        let mut ssh_options = own.map(|e| e.ssh_options.clone()).unwrap_or_default();
        ssh_options.extend(defaults.ssh_options.iter().cloned());
        Ok(Host {
            name: given.to_string(),
            address,
            botctl: pick(|e| e.botctl.as_ref()).unwrap_or_else(|| DEFAULT_REMOTE_BOTCTL.into()),
            home: pick(|e| e.home.as_ref()),
            ssh_options,
            timeout: own
                .and_then(|e| e.timeout)
                .or(defaults.timeout)
                .unwrap_or(DEFAULT_HOST_TIMEOUT),
        })
    }
}

/// Every problem of hosts.toml's text.
pub fn check_hosts_text(path: &Path, text: &str) -> Result<HostsFile, Problems> {
    parse_file(path, text, HostsFile::check)
}

/// The hosts file; a missing one names no hosts.
pub fn load_hosts(path: &Path) -> Result<HostsFile, Problems> {
    match fsread::read_regular_string(path, fsread::CONFIG_FILE_CAP) {
        Ok(text) => check_hosts_text(path, &text),
        Err(e) if e.is_not_found() => Ok(HostsFile::default()),
        Err(e) => Err(vec![unreadable(path, &e)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_ssh_takes_them() {
        let a = SshAddress::parse("ssh://deploy@web1.example.com:2222").unwrap();
        assert_eq!(a.destination(), "deploy@web1.example.com");
        assert_eq!(a.port, Some(2222));
        assert_eq!(a.to_string(), "ssh://deploy@web1.example.com:2222");
        let b = SshAddress::parse("ssh://web1").unwrap();
        assert_eq!((b.destination(), b.port), ("web1".into(), None));
        let c = SshAddress::parse("ssh://root@[::1]:22").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", Some(22)));
        assert_eq!(c.to_string(), "ssh://root@[::1]:22");
        for bad in [
            "web1",
            "ssh://",
            "ssh://-oProxyCommand=x",
            "ssh://a b",
            "ssh://-u@h",
            "ssh://h:0",
            "ssh://h:99999",
            "ssh://h;rm",
            "ssh://[::1",
        ] {
            assert!(SshAddress::parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn a_host_takes_its_own_settings_then_the_defaults() {
        let text = r#"
[defaults]
botctl = "/usr/local/bin/botctl"
ssh_options = ["-o", "ConnectTimeout=3"]
timeout = "5s"

[hosts.web1]
address = "ssh://deploy@web1:2222"
home = "/srv/botctl"
ssh_options = ["-i", "/k"]
"#;
        let file = check_hosts_text(Path::new("hosts.toml"), text).unwrap();
        let web1 = file.host("web1").unwrap();
        assert_eq!(web1.botctl, "/usr/local/bin/botctl");
        assert_eq!(web1.home.as_deref(), Some("/srv/botctl"));
        assert_eq!(web1.ssh_options, ["-i", "/k", "-o", "ConnectTimeout=3"]);
        assert_eq!(web1.timeout, Duration::from_secs(5));
        let url = file.host("ssh://h").unwrap();
        assert_eq!((url.name.as_str(), url.home), ("ssh://h", None));
        assert_eq!(url.ssh_options, ["-o", "ConnectTimeout=3"]);
        let missing = file.host("web2").unwrap_err();
        assert!(missing.contains("the hosts file names web1"), "{missing}");
        let bare = HostsFile::default().host("ssh://h").unwrap();
        assert_eq!(bare.botctl, DEFAULT_REMOTE_BOTCTL);
        assert_eq!(bare.timeout, DEFAULT_HOST_TIMEOUT);
    }

    #[test]
    fn problems_name_the_field_and_its_line() {
        let text = "[defaults]\naddress = \"ssh://x\"\n[hosts.a]\nhome = \"/h\"\n[hosts.b]\naddress = \"b\"\n[hosts.c]\naddress = \"ssh://c\"\nport = 22\n";
        let problems = check_hosts_text(Path::new("hosts.toml"), text).unwrap_err();
        let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(said.iter().any(|p| p.contains("hosts.c.port")), "{said:#?}");
        let problems = check_hosts_text(Path::new("hosts.toml"), &text.replace("port = 22\n", ""))
            .unwrap_err();
        let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            said.iter().any(|p| p.contains("`defaults.address`")),
            "{said:#?}"
        );
        assert!(
            said.iter().any(|p| p.contains("`hosts.a`: missing field")),
            "{said:#?}"
        );
        assert!(
            said.iter()
                .any(|p| p.contains("`hosts.b.address`") && p.contains("ssh://")),
            "{said:#?}"
        );
    }
}
