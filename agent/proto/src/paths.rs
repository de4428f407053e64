//! Where every botctl file lives: one `BOTCTL_HOME` holding everything, or the platform's
//! config, data and runtime directories. Both the CLI and the agent resolve paths here.

use std::path::{Path, PathBuf};

/// The environment variable that puts everything under one directory.
pub const HOME_ENV: &str = "BOTCTL_HOME";

/// The environment variable that sends commands to another host (`--host`).
pub const HOST_ENV: &str = "BOTCTL_HOST";

/// The environment variable naming the hosts file, instead of `hosts.toml` beside
/// `botctl.toml`.
pub const HOSTS_FILE_ENV: &str = "BOTCTL_HOSTS_FILE";

/// The environment variable naming the fd on which an agent started by the CLI reports
/// readiness: one line, `ready`, `busy` (another agent holds the lock) or `error: ...`.
pub const READY_FD_ENV: &str = "BOTCTL_READY_FD";

/// What systemd sets for the agent alone (`Type=notify`, `WatchdogSec=`): bots must not
/// inherit them, or a bot could speak for the agent's unit.
pub const SYSTEMD_AGENT_ENV: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The directory shown to the user as "home" (BOTCTL_HOME, or the config dir).
    pub home: PathBuf,
    pub config_file: PathBuf,
    /// `hosts.toml`: the hosts `--host NAME` reaches (`BOTCTL_HOSTS_FILE` overrides it).
    pub hosts_file: PathBuf,
    pub bots_dir: PathBuf,
    pub templates_dir: PathBuf,
    /// `bots/USER/NAME/`: the bots' working directories.
    pub bots_root: PathBuf,
    pub logs_dir: PathBuf,
    pub state_dir: PathBuf,
    pub db_file: PathBuf,
    pub run_dir: PathBuf,
    pub socket: PathBuf,
    /// The datagram socket bots send sd_notify messages to (their `NOTIFY_SOCKET`).
    pub notify_socket: PathBuf,
    pub pid_file: PathBuf,
    /// Held (flock) by the one live agent for its whole life, and naming its pid. With the
    /// data, not in the runtime directory, which can vanish under a running agent.
    pub lock_file: PathBuf,
    pub agent_log: PathBuf,
}

impl Paths {
    /// Everything under one directory.
    pub fn under(home: &Path) -> Paths {
        Paths::split(home, home, home, &home.join("run"))
    }

    fn split(shown: &Path, config: &Path, data: &Path, run: &Path) -> Paths {
        Paths {
            home: shown.to_path_buf(),
            config_file: config.join("botctl.toml"),
            hosts_file: config.join("hosts.toml"),
            bots_dir: config.join("bots.d"),
            templates_dir: data.join("templates"),
            bots_root: data.join("bots"),
            logs_dir: data.join("logs"),
            state_dir: data.join("state"),
            db_file: data.join("state").join("botctl.db"),
            run_dir: run.to_path_buf(),
            socket: run.join("agent.sock"),
            notify_socket: run.join("notify.sock"),
            pid_file: run.join("agent.pid"),
            lock_file: data.join("state").join("agent.lock"),
            agent_log: data.join("logs").join("agent.log"),
        }
    }

    /// `--home` wins, then `BOTCTL_HOME`, then the platform directories.
    pub fn resolve(home: Option<&Path>) -> Result<Paths, String> {
        if let Some(home) = home {
            return Ok(Paths::under(&absolute(home)?));
        }
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
            return Ok(Paths::under(&absolute(Path::new(&home))?));
        }
        let dirs = directories::ProjectDirs::from("", "", "botctl").ok_or_else(|| {
            format!("cannot find a home directory for botctl: set {HOME_ENV} or pass --home DIR")
        })?;
        let data = dirs.data_dir();
        let run = match dirs.runtime_dir() {
            Some(run) => run.to_path_buf(),
            None => data.join("run"),
        };
        Ok(Paths::split(
            dirs.config_dir(),
            dirs.config_dir(),
            data,
            &run,
        ))
    }

    pub fn bot_file(&self, name: &str) -> PathBuf {
        self.bots_dir.join(format!("{name}.toml"))
    }

    /// The default working directory of a bot.
    pub fn bot_dir(&self, owner: &str, name: &str) -> PathBuf {
        self.bots_root.join(owner).join(name)
    }

    /// Where a bot runs: its `cwd` (relative to the home), or its default directory.
    pub fn bot_cwd(&self, bot: &crate::config::BotConfig) -> PathBuf {
        match &bot.cwd {
            Some(dir) => self.home.join(dir),
            None => self.bot_dir(&bot.user, &bot.name),
        }
    }

    pub fn stdout_log(&self, name: &str) -> PathBuf {
        self.logs_dir.join(format!("{name}.out"))
    }

    pub fn stderr_log(&self, name: &str) -> PathBuf {
        self.logs_dir.join(format!("{name}.err"))
    }

    /// A path relative to the home when it is inside it, for short messages.
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.home) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("cannot use {} as home: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_puts_everything_under_it() {
        let p = Paths::under(Path::new("/tmp/h"));
        assert_eq!(p.socket, Path::new("/tmp/h/run/agent.sock"));
        assert_eq!(p.db_file, Path::new("/tmp/h/state/botctl.db"));
        assert_eq!(p.lock_file, Path::new("/tmp/h/state/agent.lock"));
        assert_eq!(p.bot_file("x"), Path::new("/tmp/h/bots.d/x.toml"));
        assert_eq!(p.bot_dir("al", "x"), Path::new("/tmp/h/bots/al/x"));
        assert_eq!(p.display(&p.bot_file("x")), "bots.d/x.toml");
        assert_eq!(p.display(Path::new("/etc/x")), "/etc/x");
    }

    #[test]
    fn explicit_home_wins() {
        let p = Paths::resolve(Some(Path::new("/tmp/other"))).unwrap();
        assert_eq!(p.home, Path::new("/tmp/other"));
    }
}
