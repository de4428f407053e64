//! `botctl completions SHELL`, and the hidden helpers behind it: `__complete KIND` (the live
//! names the scripts offer) and `__generate-docs DIR` (the committed completions/ and man/).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use botctl_proto::Paths;
use botctl_proto::config;

use crate::CliError;
use crate::args::NameKind;
use crate::client::{Target, connect_existing, ctx};
use crate::docs;

/// How long a <TAB> waits for the agent before reading the files instead.
const ASK_AGENT: Duration = Duration::from_secs(2);

pub fn run(shell: clap_complete::Shell) {
    print!("{}", docs::completion_script(shell));
}

/// One name a line. Asks a running agent (it knows the fleet it supervises); when none answers
/// in time, reads bots.d and templates/. Never starts an agent and never fails: a completion
/// that cannot find names offers none.
pub async fn names(target: &Target, kind: NameKind) -> Result<(), CliError> {
    let names = match tokio::time::timeout(ASK_AGENT, from_agent(target, kind)).await {
        Ok(Some(names)) => names,
        // This machine's files say nothing of another host's fleet.
        _ if target.host.is_some() => BTreeSet::new(),
        _ => from_files(&target.paths, kind),
    };
    let mut out = String::new();
    for name in names {
        out.push_str(&name);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

async fn from_agent(target: &Target, kind: NameKind) -> Option<BTreeSet<String>> {
    // Hosts are this machine's file's, never an agent's.
    if kind == NameKind::Hosts {
        return None;
    }
    let session = connect_existing(target).await.ok()??;
    let client = &session.client;
    Some(match kind {
        NameKind::Bots | NameKind::Owners => client
            .list_bots(ctx(ASK_AGENT), None)
            .await
            .ok()?
            .into_vec()
            .into_iter()
            .map(|b| {
                if kind == NameKind::Bots {
                    b.name
                } else {
                    b.owner
                }
            })
            .collect(),
        NameKind::Templates => client
            .templates(ctx(ASK_AGENT))
            .await
            .ok()?
            .into_iter()
            .map(|t| t.name)
            .collect(),
        NameKind::Hosts => return None,
    })
}

fn from_files(paths: &Paths, kind: NameKind) -> BTreeSet<String> {
    match kind {
        // By file name, so that a bot whose file is broken still completes (to `bots show` it).
        NameKind::Bots => entries(&paths.bots_dir)
            .filter_map(|(name, path)| {
                let stem = name.strip_suffix(".toml")?;
                (config::valid_bot_name(stem) && path.is_file()).then(|| stem.to_string())
            })
            .collect(),
        NameKind::Owners => config::load_fleet(&paths.bots_dir)
            .bots
            .into_iter()
            .map(|b| b.user)
            .collect(),
        NameKind::Templates => entries(&paths.templates_dir)
            .filter(|(name, path)| config::valid_bot_name(name) && path.is_dir())
            .map(|(name, _)| name)
            .collect(),
        NameKind::Hosts => crate::ssh::hosts_file(paths)
            .map(|file| file.names().into_iter().collect())
            .unwrap_or_default(),
    }
}

fn entries(dir: &Path) -> impl Iterator<Item = (String, std::path::PathBuf)> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
}

pub fn generate_docs(dir: &Path) -> Result<(), CliError> {
    let written = docs::generate(dir).map_err(|e| {
        CliError::failed(format!(
            "cannot write the docs under {}: {e}",
            dir.display()
        ))
    })?;
    println!(
        "wrote {} files under {} (completions/, man/)",
        written.len(),
        dir.display()
    );
    Ok(())
}
