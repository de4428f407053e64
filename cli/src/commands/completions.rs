//! `botctl completions SHELL`: the completion script, generated from the clap definitions.

use clap::CommandFactory;

pub fn run(shell: clap_complete::Shell) {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(shell, &mut cmd, "botctl", &mut std::io::stdout());
}
