//! The botctl command line: parses arguments, reaches the agent (starting it when needed) and
//! renders what it answers. One module per command under `commands/`.

pub mod args;
pub mod client;
mod commands;
pub mod docs;
pub mod render;
mod ssh;
mod systemd;
pub use botctl_proto::tail;
mod top;

use std::process::ExitCode;

use botctl_proto::Paths;

pub use args::Cli;

/// What `main` must do after the CLI has run.
pub enum Run {
    Exit(ExitCode),
    /// `botctl agent run`: hand over to the agent with these paths.
    Agent(Box<Paths>),
}

/// An error with the exit code it means (see `args::EXIT_CODES`).
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// 1: the command did not do what was asked.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError {
            code: 1,
            message: message.into(),
        }
    }
    /// 3: no agent could be reached.
    pub fn unreachable(message: impl Into<String>) -> Self {
        CliError {
            code: 3,
            message: message.into(),
        }
    }
    /// Exit 1 without a further message (the output already said what went wrong).
    pub fn quiet() -> Self {
        CliError {
            code: 1,
            message: String::new(),
        }
    }
}

impl From<botctl_proto::RpcError> for CliError {
    fn from(e: botctl_proto::RpcError) -> Self {
        CliError::failed(e.message)
    }
}

impl From<tarpc::client::RpcError> for CliError {
    fn from(e: tarpc::client::RpcError) -> Self {
        CliError::unreachable(format!("the agent did not answer: {e}"))
    }
}

/// The command lines run most, without building clap's whole command tree: in a fresh process
/// that costs 0.4-0.6 ms (mostly first touches of its code), a tenth of what `botctl status`
/// may take, and a part of every agent start (`agent run` is how the CLI starts the agent).
/// Anything else, or anything more, goes through clap.
fn common(args: &[std::ffi::OsString]) -> Option<Cli> {
    let command = match args {
        [a] if a == "status" => args::Command::Status(args::StatusArgs::all(false)),
        [a, b] if a == "status" && b == "--json" => {
            args::Command::Status(args::StatusArgs::all(true))
        }
        [a, b] if a == "agent" && b == "run" => args::Command::Agent {
            command: args::AgentCommand::Run,
        },
        _ => return None,
    };
    Some(Cli {
        home: std::env::var_os(botctl_proto::paths::HOME_ENV).map(Into::into),
        host: std::env::var(botctl_proto::paths::HOST_ENV).ok(),
        command,
    })
}

/// Clap's parse, with help and usage errors coloured by the same rule as tables.
fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command().color(render::color_choice());
    let matches = command.get_matches_mut();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit())
}

/// The host `--host` (or `BOTCTL_HOST`) names, for a command that goes there.
fn remote_host(cli: &Cli, paths: &Paths) -> Result<Option<botctl_proto::config::Host>, CliError> {
    let Some(given) = cli.host.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    match commands::reach(&cli.command) {
        commands::Reach::Here => Ok(None),
        commands::Reach::Refused(why) => Err(CliError {
            code: 2,
            message: why.to_string(),
        }),
        commands::Reach::Agent | commands::Reach::There => ssh::resolve(paths, given).map(Some),
    }
}

/// SIGPIPE ends the CLI when its own output (stdout or stderr) has no reader any more, as it
/// does other Unix tools; a SIGPIPE from the agent's socket (an agent killed just as the CLI
/// spoke to it) does not: the write fails with EPIPE and the CLI says what happened, or
/// starts a new agent, instead of dying without a word.
fn quiet_on_closed_output() {
    extern "C" fn on_sigpipe(_: libc::c_int) {
        let mut out = [1, 2].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        });
        // SAFETY: poll, signal and raise are async-signal-safe; `out` lives on this stack.
        unsafe {
            libc::poll(out.as_mut_ptr(), out.len() as libc::nfds_t, 0);
            // A pipe without readers polls POLLERR; a hung-up terminal or socket POLLHUP.
            if out
                .iter()
                .any(|p| p.revents & (libc::POLLERR | libc::POLLHUP) != 0)
            {
                // Delivered as the handler returns (it is blocked until then): the default
                // action, an exit by SIGPIPE.
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
    }
    // SAFETY: installing a handler that only makes async-signal-safe calls, before any
    // thread exists.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigpipe as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGPIPE, &action, std::ptr::null_mut());
    }
}

pub fn main() -> Run {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).take(3).collect();
    let cli = common(&args).unwrap_or_else(parse);
    if !matches!(
        cli.command,
        args::Command::Agent {
            command: args::AgentCommand::Run
        }
    ) {
        // A CLI whose output is cut short (`botctl status | head`) ends quietly, like other
        // Unix tools; the agent keeps Rust's default of ignoring SIGPIPE.
        quiet_on_closed_output();
    }
    let home = cli.home.clone().filter(|h| !h.as_os_str().is_empty());
    let paths = match Paths::resolve(home.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("botctl: error: {e}");
            return Run::Exit(ExitCode::from(2));
        }
    };
    if let args::Command::Agent {
        command: args::AgentCommand::Run,
    } = cli.command
    {
        return Run::Agent(Box::new(paths));
    }
    let host = match remote_host(&cli, &paths) {
        Ok(host) => host,
        Err(e) => {
            eprintln!("botctl: error: {}", e.message);
            return Run::Exit(ExitCode::from(e.code));
        }
    };
    let target = client::Target { paths, home, host };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("botctl: error: cannot start the async runtime: {e}");
            return Run::Exit(ExitCode::from(1));
        }
    };
    let result = match &target.host {
        Some(host) => runtime
            .block_on(async {
                if commands::reach(&cli.command) == commands::Reach::There {
                    let args = ssh::args_for_there(std::env::args_os().skip(1));
                    ssh::run_there(host, args).await
                } else {
                    commands::run(cli.command, &target).await
                }
            })
            .map_err(|e| ssh::on(&host.name, e)),
        None => runtime.block_on(commands::run(cli.command, &target)),
    };
    Run::Exit(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("botctl: error: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_common_command_lines_read_as_clap_reads_them() {
        for line in [&["status"][..], &["status", "--json"], &["agent", "run"]] {
            let args: Vec<std::ffi::OsString> = line.iter().map(Into::into).collect();
            let ours = common(&args).expect("a common command line");
            let clap =
                Cli::try_parse_from(std::iter::once("botctl").chain(line.iter().copied())).unwrap();
            assert_eq!(format!("{ours:?}"), format!("{clap:?}"), "{line:?}");
        }
        for line in [
            &["status", "--help"][..],
            &["status", "--json", "x"],
            &["--json", "status"],
            &["agent"],
            &["stat"],
        ] {
            let args: Vec<std::ffi::OsString> = line.iter().map(Into::into).collect();
            assert!(common(&args).is_none(), "{line:?} goes through clap");
        }
    }
}
