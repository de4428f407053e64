//! `botctl __stdio`, the far side of `--host` (ssh runs it): bridges stdin and stdout to the
//! agent's socket, or runs one command until the caller goes away.

use std::ffi::OsString;
use std::io::{Read, Write};

use std::os::unix::net::UnixStream;

use clap::Parser;

use crate::CliError;
use crate::args::{Cli, Command};
use crate::client::{self, Target};

pub async fn run(
    target: &Target,
    no_start: bool,
    called: Option<String>,
    args: Vec<OsString>,
) -> Result<(), CliError> {
    if args.is_empty() {
        return bridge(target, no_start).await;
    }
    let done = command(target, args).await;
    // Said as the caller's own errors over --host are: `on web1: ...`.
    match called {
        Some(name) => done.map_err(|e| crate::ssh::on(&name, e)),
        None => done,
    }
}

/// Bytes both ways between ssh and the agent's socket, until either side closes.
async fn bridge(target: &Target, no_start: bool) -> Result<(), CliError> {
    let socket = &target.paths.socket;
    let stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(_) if no_start => {
            return Err(CliError::unreachable(format!(
                "no agent runs for {}",
                target.paths.home.display()
            )));
        }
        Err(_) => {
            // Started (or found starting) as a CLI here would; its hello is the check that
            // it answers, the caller's hello travels next.
            drop(client::connect(target).await?);
            UnixStream::connect(socket).map_err(|e| {
                CliError::unreachable(format!("cannot connect to {}: {e}", socket.display()))
            })?
        }
    };
    let mut to_agent = stream
        .try_clone()
        .map_err(|e| CliError::unreachable(format!("duplicating the socket: {e}")))?;
    // Plain threads: the process ends when the agent's side does, without waiting on a
    // blocked read of stdin.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_agent);
        // The caller is gone: the agent sees the session end.
        let _ = to_agent.shutdown(std::net::Shutdown::Write);
    });
    let mut from_agent = stream;
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_agent.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(()),
        };
        // Stdout is line-buffered, and frames are not lines: every write is flushed.
        if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
    }
}

/// A command run here for the caller (`logs -f`, `agent status`), which ends when the caller's
/// ssh closes stdin: a follower would otherwise wait for its next line to find it gone.
async fn command(target: &Target, args: Vec<OsString>) -> Result<(), CliError> {
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("botctl")).chain(args)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if matches!(cli.command, Command::Stdio { .. }) {
        return Err(CliError {
            code: 2,
            message: "__stdio runs one command, not another __stdio".into(),
        });
    }
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) => break,
                Err(e) if e.kind() != std::io::ErrorKind::Interrupted => break,
                _ => {}
            }
        }
        std::process::exit(0);
    });
    let here = Target {
        paths: target.paths.clone(),
        home: target.home.clone(),
        host: None,
    };
    Box::pin(super::run(cli.command, &here)).await
}
