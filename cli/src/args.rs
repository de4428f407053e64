//! The command line, as clap definitions: the single source for parsing, `--help`, shell
//! completions and man pages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  not done: some bot did not reach the asked state, or a check found problems (the output says which and why); for `status`: something needs attention (a bot failed, backing off, auth-invalid, config-error or over-limit), so `botctl status >/dev/null || alert` works
  2  usage error
  3  agent unreachable (not running where required, failed to start, or a version mismatch)";

pub const TOP_KEYS: &str = "\
Keys:
  q, Ctrl-C          quit (the terminal is restored)
  Up/Down, k/j       select a bot (PageUp/PageDown, Home/End, g/G jump)
  Enter              open or close the detail pane: recent events and the end of the log
  c, m, r, n         sort by CPU, memory, restarts, name
  /                  search names, owners and platforms (Enter keeps, Esc clears)
  o                  cycle the owner filter
  s                  cycle the state filter (problems, then each state present)
  Esc                close the detail pane, or clear search and filters
  R, S, T, V         restart, stop, start, recover the selected bot (asks y/n)";

#[derive(Debug, Parser)]
#[command(
    name = "botctl",
    version,
    about = "Keeps a fleet of chat and social bots alive on a server",
    long_about = "Keeps a fleet of chat and social bots alive on a server.\n\nThe CLI talks to a background agent over a Unix socket and starts the agent when none answers. The agent supervises the bots: restarts on crash, backoff, restart-rate limits, graceful stop of whole process groups.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    /// Put everything (config, bots, logs, state, socket) under this directory.
    #[arg(long, global = true, env = "BOTCTL_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Run the command against the agent on another host, over ssh: an ssh://user@host[:port]
    /// address or a host named in hosts.toml (see `botctl status --hosts`).
    #[arg(long, global = true, env = "BOTCTL_HOST", value_name = "HOST")]
    pub host: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last
    /// exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention.
    #[command(
        after_help = "Exit codes:\n  0  every bot shown is where it is wanted\n  1  something needs attention: a bot failed, backing off, auth-invalid, config-error or\n     over-limit, a configuration problem, or a BOT that does not exist\n  2  usage error\n  3  agent unreachable\n\nSo `botctl status >/dev/null || alert` works like `supervisorctl status`."
    )]
    Status(StatusArgs),
    /// A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions.
    #[command(
        long_about = "A live full-screen view of the fleet, refreshed every second: the agent and the host in a header, then every bot's state, pid, uptime, restarts, and CPU and memory with a sparkline of the last samples. Select a bot to see its recent events and the end of its log, and restart, stop, start or recover it after a y/n confirmation.\n\nFits 80x24; colour follows the same rule as tables (NO_COLOR, CLICOLOR, TERM=dumb). Needs a terminal: for scripts use `botctl status` or `botctl status --json`.",
        after_help = TOP_KEYS
    )]
    Top,
    /// Start bots.
    Start(StartArgs),
    /// Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout).
    Stop(Selection),
    /// Restart bots.
    Restart(StartArgs),
    /// Retry failed bots now instead of after their cool-down (all failing bots by default).
    Recover {
        /// Bots to recover; none means every failed or backing-off bot.
        #[arg(value_name = "BOT")]
        bots: Vec<String>,
        /// Print what was done to each bot as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add, remove, list and inspect bots.
    Bots {
        #[command(subcommand)]
        command: BotsCommand,
    },
    /// Show bots' output (logs/BOT.out and logs/BOT.err), read straight from the files.
    #[command(
        long_about = "Show bots' output: logs/BOT.out and logs/BOT.err, read straight from the files (no agent needed).\n\nWith several bots (or --all, --user) each line starts with the bot's name, padded to the longest name and coloured per bot on a terminal. -f follows every file through rotations (inotify, no polling).\n\nBots write their own log files, so a line carries no time of its own and botctl cannot put the lines of two files in time order: without -f each file's last lines are shown in turn (stdout, then stderr, bot by bot). For when things happened, see `botctl events --since`."
    )]
    Logs {
        /// Bots by name.
        #[arg(value_name = "BOT", required_unless_present_any = ["all", "user"])]
        bots: Vec<String>,
        /// Every bot in bots.d.
        #[arg(long, conflicts_with_all = ["bots", "user"])]
        all: bool,
        /// Every bot of this owner.
        #[arg(long, short, value_name = "OWNER", conflicts_with = "bots")]
        user: Option<String>,
        /// How many lines from the end of each file (0: none, with -f only new lines).
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Keep printing new output as it arrives, through log rotations.
        #[arg(short, long)]
        follow: bool,
        /// Only standard error.
        #[arg(long, conflicts_with = "stdout")]
        stderr: bool,
        /// Only standard output.
        #[arg(long)]
        stdout: bool,
    },
    /// Show the event history: starts, exits, restarts, backoff, failures, config errors.
    Events {
        /// Only this bot's events.
        #[arg(long, value_name = "BOT")]
        bot: Option<String>,
        /// Only events about this owner's bots.
        #[arg(long, value_name = "OWNER")]
        user: Option<String>,
        /// Only events newer than this, e.g. 30m, 1h, 2d.
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// How many events at most (the newest); 0 with -f: only new events.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: u32,
        /// Keep printing new events as they happen.
        #[arg(short, long)]
        follow: bool,
        /// Print JSON: an array, or with -f one object a line (the same object either way,
        /// times as `ts_ms` and as an RFC 3339 `time`).
        #[arg(long)]
        json: bool,
    },
    /// Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones.
    Reload(JsonFlag),
    /// Check the configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Session cookies of bots with an [auth] section: check them, install new ones.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Update bots' code (`git pull --ff-only` in the bot's directory, or its
    /// update_command) and restart them; a failed update leaves the old code running.
    Update {
        /// Bots to update.
        #[arg(value_name = "BOT", required_unless_present = "all")]
        bots: Vec<String>,
        /// Every bot with an [update] section.
        #[arg(long, conflicts_with = "bots")]
        all: bool,
        /// Print what was done to each bot as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Alerts: send a test message through the configured channels.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Shared bot code that `bots create` makes bots from.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// What will break next, soonest first: bots whose memory grows towards max_memory_mb,
    /// the host's disk and memory growing towards their thresholds, expiring sessions.
    #[command(
        after_help = "A trend is a least-squares line through the peaks of the samples of the last forecast_window\n([limits] in botctl.toml or the bot's file), and counts only when it fits well and reaches the\nlimit within forecast_horizon. Sessions are listed when they expire within their warn_before.\nAn owner sees its own bots' forecasts; the host's are shown to admins."
    )]
    Forecast {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disk use per owner against quotas, and what template links save.
    Storage {
        /// Only this owner.
        #[arg(long, short, value_name = "OWNER")]
        user: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs,
    /// stale records); --force removes it.
    Cleanup {
        /// Remove what the plan lists (without it, nothing is deleted).
        #[arg(long)]
        force: bool,
        /// Only this owner's bots.
        #[arg(long, short, value_name = "OWNER")]
        user: Option<String>,
        /// Print the plan (or, with --force, what was removed) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host's
    /// JSON: shows what it would write and what does not map; --write writes.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Hand bots to systemd units or Kubernetes manifests, saying what each target does not
    /// keep.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Make, list and revoke tokens for the HTTP API and the dashboard.
    #[command(
        long_about = "Make, list and revoke tokens for the HTTP API and the dashboard ([remote.http] in botctl.toml).\n\nA token is printed once, when it is made, and kept by the agent only as a hash: hand it to its owner then. An owner's token reaches that owner's bots only; --admin reaches every bot, the system figures, cleanup and /metrics. A read-only token can look but not act. An expired or revoked token is refused like a wrong one."
    )]
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Print the dashboard's address ([remote.http] listen, https when TLS is set).
    Dashboard {
        /// Print {"url": ...} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Control the agent itself.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// For the completion scripts: the fleet's bot, owner or template names, one a line. Asks
    /// a running agent, never starts one; reads bots.d and templates/ when none answers.
    #[command(name = "__complete", hide = true)]
    Complete {
        #[arg(value_enum)]
        kind: NameKind,
    },
    /// What `--host` runs on the other host over ssh: bridges stdin and stdout to the agent's
    /// socket (starting the agent as usual), or with ARGS runs that command until stdin closes.
    #[command(name = "__stdio", hide = true)]
    Stdio {
        /// Only reach a running agent: exit 3 when none runs.
        #[arg(long)]
        no_start: bool,
        /// What the caller calls this host: the command's errors begin with it.
        #[arg(long, value_name = "NAME")]
        called: Option<String>,
        /// A command to run here instead (`logs -f BOT`), ended when the caller goes away.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// For maintainers: write DIR/completions/ and DIR/man/ from these definitions.
    #[command(name = "__generate-docs", hide = true)]
    GenerateDocs {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// What `botctl __complete` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NameKind {
    Bots,
    Owners,
    Templates,
    /// The hosts named in hosts.toml (for `--host`), read from the file alone.
    Hosts,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these bots (a name that is no bot is an error).
    #[arg(value_name = "BOT")]
    pub bots: Vec<String>,
    /// Only this owner's bots.
    #[arg(long, short, value_name = "OWNER")]
    pub user: Option<String>,
    /// Print JSON (with a `summary` object) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Several hosts in one table with a HOST column, asked at once: names from hosts.toml
    /// or ssh:// addresses, comma-separated.
    #[arg(
        long,
        value_name = "HOST",
        value_delimiter = ',',
        conflicts_with = "all_hosts"
    )]
    pub hosts: Vec<String>,
    /// Every host named in hosts.toml.
    #[arg(long)]
    pub all_hosts: bool,
}

impl StatusArgs {
    /// `status` or `status --json`: every bot of this host.
    pub fn all(json: bool) -> StatusArgs {
        StatusArgs {
            bots: Vec::new(),
            user: None,
            json,
            hosts: Vec::new(),
            all_hosts: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(false).args(["bots", "all", "user", "template"])))]
pub struct Selection {
    /// Bots by name.
    #[arg(value_name = "BOT")]
    pub bots: Vec<String>,
    /// Every bot.
    #[arg(long)]
    pub all: bool,
    /// Every bot of this owner.
    #[arg(long, short, value_name = "OWNER")]
    pub user: Option<String>,
    /// Every bot made from this template (e.g. after its code changed).
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Print what was done to each bot as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `start` and `restart`: which bots, and whether to wait until they are ready.
#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub sel: Selection,
    /// Return only once each bot is ready (with `[health] ready = "notify"`: once it sent
    /// READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for
    /// a bot that is not ready by then or stopped trying.
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        default_missing_value = "2m",
        value_parser = botctl_proto::config::parse_duration
    )]
    pub wait: Option<std::time::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum BotsCommand {
    /// List bots.
    List {
        /// Only bots of this owner; without a value, of the invoking Unix user.
        #[arg(long, short, value_name = "OWNER", num_args = 0..=1, default_missing_value = "")]
        user: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a bot (writes bots.d/NAME.toml) and start it.
    #[command(
        after_help = "Example:\n  botctl bots add hello --user alice -- sh -c 'while true; do date; sleep 5; done'\n\nThe command runs directly, without a shell; write `sh -c '...'` for one."
    )]
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        /// The owner.
        #[arg(long, short, value_name = "OWNER")]
        user: String,
        /// Working directory (default bots/OWNER/NAME under the home).
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// Environment variable for the bot (repeatable).
        #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// twitter, messenger, telegram or generic.
        #[arg(long)]
        platform: Option<String>,
        /// Write the file but do not start the bot.
        #[arg(long)]
        no_start: bool,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Make a bot from a template: links to the shared code, its own copies and dirs.
    #[command(
        after_help = "Example:\n  botctl bots create tw-alice --user alice --template twitter --set env.LANG=en\n\n--set takes dotted fields of the bot file (env.KEY, platform, limits.max_memory_mb, ...);\nvalues are TOML (numbers, true/false, [\"a\"]) or plain strings."
    )]
    Create {
        #[arg(value_name = "NAME")]
        name: String,
        /// The owner.
        #[arg(long, short, value_name = "OWNER")]
        user: String,
        /// The template (a directory under templates/).
        #[arg(long, short, value_name = "TEMPLATE")]
        template: String,
        /// Override a field of the bot file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Make the bot but do not start it.
        #[arg(long)]
        no_start: bool,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a bot and remove its file (and with --purge its directory).
    Remove {
        #[arg(value_name = "BOT")]
        name: String,
        /// Also delete the bot's directory under bots/ (never a custom cwd).
        #[arg(long)]
        purge: bool,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one bot in detail.
    Show {
        #[arg(value_name = "BOT")]
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Check sessions now: a line per bot with outcome, expiry, time left, last probe.
    /// Exits 1 when any session is invalid.
    Check {
        /// Bots to check; none means every bot with [auth].
        #[arg(value_name = "BOT")]
        bots: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate a cookie file and install it for a bot (mode 0600), then check it; a bot
    /// stopped for an invalid session starts again once it is valid.
    SetCookies {
        #[arg(value_name = "BOT")]
        bot: String,
        /// Netscape cookies.txt or a browser extension's JSON export.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// Print the check of the installed file as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it (the only time it is shown).
    Create {
        /// The person it is for: the owner whose bots it reaches.
        #[arg(long, short, value_name = "USER")]
        user: String,
        /// Valid for this long, e.g. 30d, 12h (default: until revoked).
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Can look but not act (start, stop, restart, recover, cleanup are refused).
        #[arg(long)]
        read_only: bool,
        /// Reaches every owner's bots, the system figures, cleanup and /metrics.
        #[arg(long)]
        admin: bool,
        /// Print {"id", "token", ...} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The tokens: id, user, scope, created, expires, last used (never the token).
    List(JsonFlag),
    /// Revoke a token by id: refused from then on, and its dashboard sessions end.
    Revoke {
        #[arg(value_name = "ID")]
        id: String,
        /// Print the revoked token's row as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send one test message to every configured channel and say what happened.
    Test {
        /// The text (default: a short greeting naming this host).
        #[arg(value_name = "MESSAGE")]
        message: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// The templates, with the number of bots using each.
    List(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse botctl.toml and every bots.d file and report problems (never starts an agent).
    Check(JsonFlag),
}

/// What every bot import takes: who owns the bots, and whether to write them.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The owner of the imported bots (default: you; for supervisord, a program's `user=`
    /// when it is a valid owner name).
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// Write the bot files (without it, only show them).
    #[arg(long)]
    pub write: bool,
    /// With --write, overwrite bot files that already exist.
    #[arg(long, requires = "write")]
    pub force: bool,
    /// Print the files (env values hidden) and what was not mapped as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist`
    /// output or `pm2 save`'s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for
    /// `instances`.
    #[command(
        after_help = "Example:\n  botctl import pm2 ecosystem.config.js --env production --owner alice\n  botctl import pm2 ecosystem.config.js --env production --owner alice --write\n  botctl reload"
    )]
    Pm2 {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Use the apps' `env_NAME` section over `env` (as `pm2 start --env NAME`).
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
        #[command(flatten)]
        args: ImportArgs,
    },
    /// supervisord programs: `[program:x]` sections of these files and of the files their
    /// `[include]` names; `numprocs` makes one bot per process.
    #[command(
        after_help = "Example:\n  botctl import supervisord /etc/supervisor/supervisord.conf --owner alice --write"
    )]
    Supervisord {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        args: ImportArgs,
    },
    /// The Messenger bot host's JSON configuration (resourceManagement, storageOptimization,
    /// botRecovery) merged into botctl.toml's [limits], [restart], [logs], [cleanup] and
    /// [agent], keeping the rest of the file.
    BotConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Write botctl.toml (without it, only show the changes and the result).
        #[arg(long)]
        write: bool,
        /// With --write, replace values botctl.toml already sets differently.
        #[arg(long, requires = "write")]
        force: bool,
        /// Print the changes, what was not mapped and the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600),
    /// its restart schedule as bot-NAME-restart.timer.
    #[command(
        after_help = "Example:\n  botctl export systemd tweeter --out ./units\n  sudo cp ./units/* /etc/systemd/system/ && sudo systemctl daemon-reload"
    )]
    Systemd {
        /// Bots to export (default: every bot).
        #[arg(value_name = "BOT")]
        bots: Vec<String>,
        /// Where to write the files (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print what was written and what is not kept as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env
    /// values and cookie file (NAME-secret.yaml, 0600).
    #[command(
        after_help = "Example:\n  botctl export kubernetes --image registry.example.com/bots:1.4 --out ./k8s\n  kubectl apply -f ./k8s"
    )]
    Kubernetes {
        /// Bots to export (default: every bot).
        #[arg(value_name = "BOT")]
        bots: Vec<String>,
        /// The container image holding the bots' code, at their directory's path.
        #[arg(long, value_name = "IMAGE")]
        image: String,
        /// Where to write the files (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print what was written and what is not kept as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run the agent in the foreground (what the CLI starts in the background).
    Run,
    /// Start the agent if it is not running.
    Start,
    /// Stop the bots, then the agent (under the botctl.service unit, also the unit, through
    /// systemctl).
    Stop {
        /// Leave the bots running; the next agent adopts them.
        #[arg(long)]
        keep_bots: bool,
    },
    /// Replace the agent (after an upgrade); the bots keep running and are adopted. Under the
    /// botctl.service unit this is `systemctl restart` of the unit.
    Restart,
    /// Say whether the agent runs, without starting it.
    Status(JsonFlag),
    /// Write a systemd unit that runs the agent at boot (a user unit; --system for a system
    /// unit) and print the command that enables it.
    Install {
        /// A system unit in /etc/systemd/system (needs root and a home: --home or BOTCTL_HOME)
        /// instead of a user unit in ~/.config/systemd/user.
        #[arg(long)]
        system: bool,
        /// Also enable and start it now (`systemctl enable --now`).
        #[arg(long)]
        now: bool,
    },
    /// Remove the systemd unit written by `agent install`.
    Uninstall {
        /// The system unit instead of the user unit.
        #[arg(long)]
        system: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bots_add_takes_the_command_after_double_dash() {
        let cli = Cli::try_parse_from([
            "botctl", "bots", "add", "hello", "--user", "alice", "--", "sh", "-c", "echo hi",
        ])
        .unwrap();
        match cli.command {
            Command::Bots {
                command: BotsCommand::Add { command, user, .. },
            } => {
                assert_eq!(command, ["sh", "-c", "echo hi"]);
                assert_eq!(user, "alice");
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn selection_needs_exactly_one_kind() {
        assert!(Cli::try_parse_from(["botctl", "restart"]).is_err());
        assert!(Cli::try_parse_from(["botctl", "restart", "a", "--all"]).is_err());
        assert!(Cli::try_parse_from(["botctl", "restart", "a", "b"]).is_ok());
        assert!(Cli::try_parse_from(["botctl", "stop", "--user", "bob"]).is_ok());
        assert!(Cli::try_parse_from(["botctl", "stop", "a", "--json"]).is_ok());
        assert!(Cli::try_parse_from(["botctl", "stop", "--json"]).is_err());
    }

    #[test]
    fn list_user_without_value_means_self() {
        let cli = Cli::try_parse_from(["botctl", "bots", "list", "--user"]).unwrap();
        match cli.command {
            Command::Bots {
                command: BotsCommand::List { user, .. },
            } => assert_eq!(user.as_deref(), Some("")),
            other => panic!("parsed as {other:?}"),
        }
    }
}
