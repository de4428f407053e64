//! botctl: one binary, two roles. `botctl agent run` is the agent; everything else is the CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    match botctl_cli::main() {
        botctl_cli::Run::Exit(code) => code,
        botctl_cli::Run::Agent(paths) => match botctl_agent::run(*paths) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("botctl agent: error: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}
