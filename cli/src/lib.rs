//! The botctl command line: parses arguments, reaches the agent (starting it when needed) and
//! renders what it answers. One module per command under `commands/`.

pub mod args;
pub mod client;
mod commands;
pub mod docs;
pub mod render;
mod systemd;
pub mod tail;

use std::process::ExitCode;

use botctl_proto::Paths;
use clap::Parser;

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

pub fn main() -> Run {
    // `botctl agent run`, as the CLI starts the agent (its home in the environment), skips
    // building the whole command line: every millisecond of an agent's start is one a
    // command that started it waits for.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).take(3).collect();
    if args == ["agent", "run"] {
        return match Paths::resolve(None) {
            Ok(paths) => Run::Agent(Box::new(paths)),
            Err(e) => {
                eprintln!("botctl: error: {e}");
                Run::Exit(ExitCode::from(2))
            }
        };
    }
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        args::Command::Agent {
            command: args::AgentCommand::Run
        }
    ) {
        // A CLI whose output is cut short (`botctl status | head`) ends quietly, like other
        // Unix tools; the agent keeps Rust's default of ignoring SIGPIPE.
        // SAFETY: restoring a default signal disposition before any thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
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
    let target = client::Target { paths, home };
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
    let result = runtime.block_on(commands::run(cli.command, &target));
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
