//! What ships beside the binary: the committed completions/ and man/ are what it generates,
//! bash completes bot, owner and template names from the fleet (never starting an agent to do
//! it), and `agent install` writes a systemd unit that leaves the bots alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// What to run, from the repository root, when the committed copies are stale.
const REGENERATE: &str = "cargo run -- __generate-docs .";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The file names in a directory (dotfiles aside), or none when it does not exist.
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[test]
fn committed_completions_and_man_pages_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("__generate-docs").arg(fresh.path());
    Output::from_command(&["__generate-docs", "DIR"], cmd).ok();

    let mut stale = Vec::new();
    for dir in ["completions", "man"] {
        let generated = names_in(&fresh.path().join(dir));
        let committed = names_in(&repo().join(dir));
        assert!(
            !generated.is_empty(),
            "__generate-docs wrote nothing to {dir}/"
        );
        for name in generated.union(&committed) {
            let new = std::fs::read(fresh.path().join(dir).join(name)).ok();
            let old = std::fs::read(repo().join(dir).join(name)).ok();
            match (new, old) {
                (Some(new), Some(old)) if new == old => {}
                (Some(_), Some(_)) => stale.push(format!("{dir}/{name} differs")),
                (Some(_), None) => stale.push(format!("{dir}/{name} is missing")),
                (None, _) => stale.push(format!("{dir}/{name} is no longer generated")),
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the committed completions/ and man/ are stale ({}).\nRegenerate them from the \
         repository root with `{REGENERATE}` and commit the result.",
        stale.join(", ")
    );

    // `botctl completions SHELL` prints exactly what is committed.
    for (shell, file) in [
        ("bash", "botctl.bash"),
        ("zsh", "_botctl"),
        ("fish", "botctl.fish"),
        ("elvish", "botctl.elv"),
        ("powershell", "_botctl.ps1"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["completions", shell]);
        let out = Output::from_command(&["completions", shell], cmd).ok();
        let generated = std::fs::read_to_string(fresh.path().join("completions").join(file));
        assert!(
            generated.is_ok_and(|g| g == out.stdout),
            "`botctl completions {shell}` differs from completions/{file}"
        );
    }
}

/// What bash offers on <TAB> after `words` (the last one is being completed): sources the
/// committed completions/botctl.bash in a real bash, with the botctl under test first on
/// PATH, and calls the function it registered for botctl the way readline would.
fn bash_complete(home: &Home, words: &[&str]) -> Vec<String> {
    const SCRIPT: &str = r#"
source "$1" || exit 10
shift
spec=$(complete -p botctl) || exit 11
func=${spec#*-F }
func=${func%% *}
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
"$func" botctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let bin_dir = Path::new(BIN).parent().expect("the binary's directory");
    let path = match std::env::var_os("PATH") {
        Some(p) => {
            let mut dirs = vec![bin_dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&p));
            std::env::join_paths(dirs).expect("a PATH")
        }
        None => bin_dir.as_os_str().to_owned(),
    };
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", SCRIPT, "bash"])
        .arg(repo().join("completions/botctl.bash"))
        .args(words)
        .env("PATH", path)
        .env("BOTCTL_HOME", home.path())
        .env_remove("BOTCTL_READY_FD")
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "bash failed completing {words:?} ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut offered: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    offered.sort();
    offered
}

fn write_template(home: &Home, name: &str) {
    let dir = home.file(&format!("templates/{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("template.toml"),
        "command = [\"sleep\", \"1000\"]\n",
    )
    .unwrap();
}

#[track_caller]
fn assert_no_agent(home: &Home) {
    assert!(
        agent_pids(home).is_empty() && !home.socket().exists(),
        "completing started an agent: {:?}",
        agent_pids(home)
    );
}

#[test]
fn bash_completes_names_from_the_files_when_no_agent_runs_and_starts_none() {
    let home = Home::new();
    home.write_bot("alpha", &sleeper("alice"));
    home.write_bot("beta", &sleeper("bob"));
    write_template(&home, "tw");

    assert_eq!(
        bash_complete(&home, &["botctl", "restart", ""]),
        ["alpha", "beta"]
    );
    assert_eq!(bash_complete(&home, &["botctl", "restart", "b"]), ["beta"]);
    assert_eq!(
        bash_complete(&home, &["botctl", "stop", "alpha", ""]),
        ["alpha", "beta"],
        "BOT... repeats"
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "bots", "show", ""]),
        ["alpha", "beta"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "logs", ""]),
        ["alpha", "beta"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "stop", "--user", ""]),
        ["alice", "bob"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "restart", "--template", ""]),
        ["tw"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "events", "--bot", "a"]),
        ["alpha"]
    );
    // Elsewhere the generated completion answers: subcommands and options.
    assert!(
        bash_complete(&home, &["botctl", "bots", ""]).contains(&"show".to_string()),
        "bots subcommands"
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "restart", "--al"]),
        ["--all"]
    );
    // A --home on the line wins over BOTCTL_HOME.
    let other = Home::new();
    other.write_bot("gamma", &sleeper("carol"));
    let other_home = other.path().to_str().unwrap();
    assert_eq!(
        bash_complete(&home, &["botctl", "--home", other_home, "restart", ""]),
        ["gamma"]
    );

    // The helper itself, as the scripts call it.
    let names = home.botctl(&["__complete", "bots"]).ok();
    assert_eq!(names.stdout, "alpha\nbeta\n", "{names:?}");

    assert_no_agent(&home);
    assert_no_agent(&other);
}

#[test]
fn bash_completes_host_names_from_the_hosts_file() {
    let home = Home::new();
    std::fs::write(
        home.file("hosts.toml"),
        "[hosts.web1]\naddress = \"ssh://a@web1\"\n[hosts.web2]\naddress = \"ssh://a@web2\"\n[hosts.db]\naddress = \"ssh://a@db\"\n",
    )
    .unwrap();
    assert_eq!(
        bash_complete(&home, &["botctl", "--host", ""]),
        ["db", "web1", "web2"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "restart", "--host", "w"]),
        ["web1", "web2"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "status", "--hosts", "d"]),
        ["db"]
    );
    assert_no_agent(&home);
}

#[test]
fn bash_completes_names_from_the_running_agent() {
    let home = Home::fast();
    home.write_bot("alpha", &sleeper("alice"));
    home.write_bot("delta", &sleeper("dave"));
    home.running_pid("delta");
    let agent = agent_pids(&home);
    assert_eq!(agent.len(), 1);

    // delta's file goes bad: the agent keeps its last good version (owner dave), while the
    // files alone no longer name dave. Seeing dave means the agent answered.
    std::fs::write(home.file("bots.d/delta.toml"), "user = [\n").unwrap();

    assert_eq!(
        bash_complete(&home, &["botctl", "restart", "--user", ""]),
        ["alice", "dave"]
    );
    assert_eq!(
        bash_complete(&home, &["botctl", "restart", ""]),
        ["alpha", "delta"]
    );
    assert_eq!(agent_pids(&home), agent, "the same one agent");
}

/// Runs `botctl ARGS` for `home` with the unit directory overridden.
fn with_units(home: &Home, units: &Path, args: &[&str]) -> Output {
    let mut cmd = home.command(args);
    cmd.env("BOTCTL_SYSTEMD_DIR", units).env_remove("SUDO_USER");
    Output::from_command(args, cmd)
}

#[test]
fn agent_install_writes_a_unit_that_runs_this_binary_and_leaves_bots_alone() {
    let home = Home::new();
    let units = tempfile::tempdir().unwrap();
    let unit_file: PathBuf = units.path().join("botctl.service");
    let exe = std::fs::canonicalize(BIN).unwrap();

    with_units(&home, units.path(), &["agent", "install"])
        .ok()
        .says(&[
            "wrote",
            "systemctl --user enable --now botctl.service",
            "loginctl enable-linger",
        ]);
    let unit = std::fs::read_to_string(&unit_file).unwrap();
    for line in [
        format!("ExecStart={} agent run", exe.display()),
        format!("Environment=BOTCTL_HOME={}", home.path().display()),
        "Restart=always".to_string(),
        "RestartSec=2".to_string(),
        "KillMode=process".to_string(),
        "Delegate=yes".to_string(),
        "WantedBy=default.target".to_string(),
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "{line:?} missing from the unit:\n{unit}"
        );
    }
    with_units(&home, units.path(), &["agent", "install"])
        .ok()
        .says(&["unchanged"]);

    // A system unit runs the agent as the caller, once the network is up.
    with_units(&home, units.path(), &["agent", "install", "--system"])
        .ok()
        .says(&["updated", "systemctl enable --now botctl.service"]);
    let unit = std::fs::read_to_string(&unit_file).unwrap();
    assert!(unit.contains(&format!("\nUser={}\n", whoami())), "{unit}");
    assert!(unit.contains("\nWantedBy=multi-user.target\n"), "{unit}");
    assert!(unit.contains("\nKillMode=process\n"), "{unit}");

    // ... and needs a home both sides share.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = home.command(&["agent", "install", "--system"]);
    cmd.env_remove("BOTCTL_HOME")
        .env("BOTCTL_SYSTEMD_DIR", elsewhere.path());
    Output::from_command(&["agent", "install", "--system"], cmd)
        .code(2)
        .says(&["--home"]);
    assert!(names_in(elsewhere.path()).is_empty());

    // --now where there is no systemctl: the unit is written, the command says what to run.
    let no_tools = tempfile::tempdir().unwrap();
    let mut cmd = home.command(&["agent", "install", "--now"]);
    cmd.env("BOTCTL_SYSTEMD_DIR", units.path())
        .env("PATH", no_tools.path());
    Output::from_command(&["agent", "install", "--now"], cmd)
        .code(1)
        .says(&[
            "systemctl not found",
            "systemctl --user enable --now botctl.service",
        ]);
    assert!(
        std::fs::read_to_string(&unit_file)
            .unwrap()
            .contains("WantedBy=default.target")
    );

    // uninstall removes the unit and the link `systemctl enable` made.
    let wants = units.path().join("default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(&unit_file, wants.join("botctl.service")).unwrap();
    with_units(&home, units.path(), &["agent", "uninstall"])
        .ok()
        .says(&["removed", "systemctl --user stop botctl.service"]);
    assert!(!unit_file.exists());
    assert!(wants.join("botctl.service").symlink_metadata().is_err());
    with_units(&home, units.path(), &["agent", "uninstall"])
        .ok()
        .says(&["nothing to remove"]);

    assert!(
        agent_pids(&home).is_empty() && !home.socket().exists(),
        "agent install started an agent"
    );
}
