//! Shell completions and man pages, generated from the clap definitions in `args`: the
//! committed completions/ and man/ are this module's output (`botctl __generate-docs .`).
//!
//! Live names. Bot, owner and template names come from the fleet at the moment of <TAB>. We keep
//! clap_complete's static scripts (what every shell user expects to install) and append, for
//! bash, zsh and fish, a small layer generated from the same definitions: every argument whose
//! value name is BOT, OWNER or TEMPLATE is a "live slot", and at such a slot the script runs the
//! hidden `botctl __complete bots|owners|templates`, which asks a running agent and otherwise
//! reads bots.d and templates/ (it never starts one). Everything else falls through to the
//! static script. We chose this over clap_complete's `unstable-dynamic` engine: that engine is
//! unstable API, it would make every <TAB> of every word a call into the binary, and its
//! registration scripts are not the self-contained files packagers install.

use std::io;
use std::path::{Path, PathBuf};

use clap::{Arg, Command, CommandFactory, ValueEnum, ValueHint};
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::args::{Cli, EXIT_CODES, NameKind};

const BIN: &str = "botctl";

/// Each generated completion script and its file name under completions/.
pub const COMPLETION_FILES: [(Shell, &str); 5] = [
    (Shell::Bash, "botctl.bash"),
    (Shell::Zsh, "_botctl"),
    (Shell::Fish, "botctl.fish"),
    (Shell::Elvish, "botctl.elv"),
    (Shell::PowerShell, "_botctl.ps1"),
];

/// The command tree users see: the clap definitions without the hidden helper commands
/// (clap_complete would offer them), live slots marked so that no shell offers file names there.
pub fn command() -> Command {
    mark_live(visible(Cli::command()))
}

/// `cmd` without its hidden subcommands. clap cannot remove a subcommand, so the root is rebuilt
/// from its parts; a unit test checks that the rebuilt root says the same in `--help`.
fn visible(cmd: Command) -> Command {
    if !cmd.get_subcommands().any(|s| s.is_hide_set()) {
        return cmd;
    }
    let mut out = Command::new(cmd.get_name().to_string())
        .propagate_version(cmd.is_propagate_version_set())
        .subcommand_required(cmd.is_subcommand_required_set())
        .arg_required_else_help(cmd.is_arg_required_else_help_set())
        .disable_help_subcommand(cmd.is_disable_help_subcommand_set());
    if let Some(v) = cmd.get_version() {
        out = out.version(v.to_string());
    }
    if let Some(v) = cmd.get_long_version() {
        out = out.long_version(v.to_string());
    }
    if let Some(v) = cmd.get_author() {
        out = out.author(v.to_string());
    }
    if let Some(v) = cmd.get_about() {
        out = out.about(v.clone());
    }
    if let Some(v) = cmd.get_long_about() {
        out = out.long_about(v.clone());
    }
    if let Some(v) = cmd.get_before_help() {
        out = out.before_help(v.clone());
    }
    if let Some(v) = cmd.get_before_long_help() {
        out = out.before_long_help(v.clone());
    }
    if let Some(v) = cmd.get_after_help() {
        out = out.after_help(v.clone());
    }
    if let Some(v) = cmd.get_after_long_help() {
        out = out.after_long_help(v.clone());
    }
    out.args(cmd.get_arguments().cloned())
        .groups(cmd.get_groups().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

fn mark_live(cmd: Command) -> Command {
    cmd.mut_args(|a| match live_kind(&a) {
        Some(_) => a.value_hint(ValueHint::Other),
        None => a,
    })
    .mut_subcommands(mark_live)
}

/// Which live names an argument takes, by its value name.
fn live_kind(arg: &Arg) -> Option<NameKind> {
    match arg.get_value_names()?.first()?.as_str() {
        "BOT" => Some(NameKind::Bots),
        "OWNER" => Some(NameKind::Owners),
        "TEMPLATE" => Some(NameKind::Templates),
        "HOST" => Some(NameKind::Hosts),
        _ => None,
    }
}

fn kind_word(kind: NameKind) -> String {
    kind.to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

// ---- completions ----

/// The completion script for one shell, as committed under completions/.
pub fn completion_script(shell: Shell) -> String {
    let mut cmd = command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    cmd.build();
    let specs = live_specs(&cmd);
    match shell {
        Shell::Bash => format!("{generated}{}", bash_layer(&specs)),
        Shell::Zsh => zsh_with_layer(&generated, &specs),
        Shell::Fish => format!("{generated}{}", fish_layer(&specs)),
        _ => generated,
    }
}

/// What the live layer needs to know about one (sub)command.
struct Spec {
    /// Subcommand names from the root: [] is `botctl`, ["bots", "show"] is `botctl bots show`.
    path: Vec<String>,
    /// Every spelling of every option that takes a value (so its value is not a positional).
    value_options: Vec<String>,
    /// Spellings of options whose value is a live name.
    live_options: Vec<(String, NameKind)>,
    /// The same options as fish names them, one entry per option: "-s u -l user".
    fish_options: Vec<(String, NameKind)>,
    /// The live kind of each positional, in order (None: not a live name).
    positionals: Vec<Option<NameKind>>,
    /// The last positional repeats (BOT...).
    repeats: bool,
    /// Some positional takes a path (fish must then keep offering files).
    path_positional: bool,
    subcommands: Vec<String>,
}

fn live_specs(cmd: &Command) -> Vec<Spec> {
    let mut specs = Vec::new();
    collect_specs(cmd, Vec::new(), &mut specs);
    specs
}

fn collect_specs(cmd: &Command, path: Vec<String>, specs: &mut Vec<Spec>) {
    let mut spec = Spec {
        path: path.clone(),
        value_options: Vec::new(),
        live_options: Vec::new(),
        fish_options: Vec::new(),
        positionals: Vec::new(),
        repeats: false,
        path_positional: false,
        subcommands: Vec::new(),
    };
    let mut positionals: Vec<&Arg> = cmd.get_positionals().collect();
    positionals.sort_by_key(|a| a.get_index());
    for arg in positionals {
        spec.positionals.push(live_kind(arg));
        spec.repeats = arg.get_num_args().is_some_and(|n| n.max_values() > 1)
            || matches!(arg.get_action(), clap::ArgAction::Append);
        spec.path_positional |= matches!(
            arg.get_value_hint(),
            ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath
        );
    }
    for arg in cmd.get_opts() {
        if !arg.get_action().takes_values() {
            continue;
        }
        let mut spellings = Vec::new();
        spellings.extend(arg.get_short().map(|c| format!("-{c}")));
        spellings.extend(arg.get_long().map(|l| format!("--{l}")));
        for c in arg.get_all_short_aliases().unwrap_or_default() {
            spellings.push(format!("-{c}"));
        }
        for l in arg.get_all_aliases().unwrap_or_default() {
            spellings.push(format!("--{l}"));
        }
        if let Some(kind) = live_kind(arg) {
            spec.live_options
                .extend(spellings.iter().map(|s| (s.clone(), kind)));
            let mut fish = Vec::new();
            fish.extend(arg.get_short().map(|c| format!("-s {c}")));
            fish.extend(arg.get_long().map(|l| format!("-l {l}")));
            spec.fish_options.push((fish.join(" "), kind));
        }
        spec.value_options.extend(spellings);
    }
    let subs: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    spec.subcommands = subs.iter().map(|s| s.get_name().to_string()).collect();
    specs.push(spec);
    for sub in subs {
        let mut p = path.clone();
        p.push(sub.get_name().to_string());
        collect_specs(sub, p, specs);
    }
}

/// Shared by bash and zsh, so it sticks to what both understand the same way (positional
/// parameters, `case`, `${var#pattern}`), and avoids zsh's special names (`path`, `status`).
const SLOT_FUNCTIONS: &str = r#"
# Sets `kind` (bots, owners or templates) when the word being completed is a live name, and
# `home` to a --home given on the line. $1: the index of that word among the words that follow
# it ($2 is the command itself).
_botctl_live_slot() {
    local cword=$1 i=0 w cur="" prev="" before="" sub="" npos=0 skip=0 sethome=0
    local vopts lopts pos opt=""
    shift
    _botctl_live_spec ""
    for w in "$@"; do
        if [ "$i" -eq "$cword" ]; then
            cur=$w
            break
        fi
        i=$((i + 1))
        before=$prev
        prev=$w
        [ "$i" -eq 1 ] && continue
        if [ "$skip" -eq 1 ]; then
            # the value of an option (bash splits --opt=value into three words)
            [ "$w" = "=" ] && continue
            skip=0
            [ "$sethome" -eq 1 ] && home=$w
            sethome=0
            continue
        fi
        case $w in
            --) return ;;
            --home=*) home=${w#--home=} ;;
            -*=*) ;;
            -?*)
                case $vopts in *" $w "*) skip=1 ;; esac
                [ "$w" = "--home" ] && sethome=1
                ;;
            *)
                if _botctl_live_sub "$sub" "$w"; then
                    sub=${sub:+$sub }$w
                    _botctl_live_spec "$sub"
                else
                    npos=$((npos + 1))
                fi
                ;;
        esac
    done
    if [ "$skip" -eq 1 ]; then
        opt=$prev
        [ "$opt" = "=" ] && opt=$before
    else
        case $cur in
            -*=*) opt=${cur%%=*} ;;
            -*) return ;;
        esac
    fi
    if [ -n "$opt" ]; then
        case $lopts in
            *" $opt="*) kind=${lopts#*" $opt="}; kind=${kind%% *} ;;
        esac
        return
    fi
    case $pos in
        *" $npos="*) kind=${pos#*" $npos="}; kind=${kind%% *} ;;
        *" r="*) kind=${pos#*" r="}; kind=${kind%% *} ;;
    esac
    [ "$kind" = "-" ] && kind=""
}

# The names of one kind, from the botctl being completed: $1 the command as typed, $2 the kind,
# $3 a --home from the line.
_botctl_live_names() {
    local bin=$1
    case $bin in "~/"*) bin=$HOME/${bin#"~/"} ;; esac
    if [ -n "$3" ]; then
        case $3 in "~/"*) set -- "$1" "$2" "$HOME/${3#"~/"}" ;; esac
        command "$bin" --home "$3" __complete "$2" 2>/dev/null </dev/null
    else
        command "$bin" __complete "$2" 2>/dev/null </dev/null
    fi
}
"#;

/// The generated tables the slot function reads: subcommand names, and per (sub)command the
/// options that take a value, the live options (" --user=owners ") and the live positionals
/// (" 0=bots 1=- " by index, " r=bots " for the repeated last one).
fn shell_tables(specs: &[Spec]) -> String {
    let mut out = String::new();
    out.push_str("\n# Generated from the clap definitions: which words are subcommands.\n");
    out.push_str("_botctl_live_sub() {\n    case \"$1:$2\" in\n");
    for spec in specs {
        let parent = spec.path.join(" ");
        for sub in &spec.subcommands {
            out.push_str(&format!("        \"{parent}:{sub}\") return 0 ;;\n"));
        }
    }
    out.push_str("    esac\n    return 1\n}\n");
    out.push_str(
        "\n# Generated from the clap definitions: per subcommand, the options that take a value\n\
         # (vopts), those whose value is a live name (lopts) and the live positionals (pos).\n",
    );
    out.push_str("_botctl_live_spec() {\n    vopts=\"\"; lopts=\"\"; pos=\"\"\n    case $1 in\n");
    for spec in specs {
        let lopts: Vec<String> = spec
            .live_options
            .iter()
            .map(|(o, k)| format!("{o}={}", kind_word(*k)))
            .collect();
        let mut pos = Vec::new();
        let n = spec.positionals.len();
        for (i, kind) in spec.positionals.iter().enumerate() {
            let word = kind.map(kind_word).unwrap_or_else(|| "-".to_string());
            if spec.repeats && i + 1 == n {
                pos.push(format!("r={word}"));
            } else {
                pos.push(format!("{i}={word}"));
            }
        }
        // Padded with spaces so that `*" $word="*` finds the first and the last word too.
        let padded = |words: &[String]| match words.is_empty() {
            true => String::new(),
            false => format!(" {} ", words.join(" ")),
        };
        out.push_str(&format!(
            "        \"{}\") vopts=\"{}\"; lopts=\"{}\"; pos=\"{}\" ;;\n",
            spec.path.join(" "),
            padded(&spec.value_options),
            padded(&lopts),
            padded(&pos)
        ));
    }
    out.push_str("    esac\n}\n");
    out
}

fn bash_layer(specs: &[Spec]) -> String {
    format!(
        r#"
# ---- live names (bots, owners, templates) ----
# Added by botctl to the script clap generates: where the command line wants a BOT, OWNER or
# TEMPLATE, complete it from the fleet (`botctl __complete KIND`: the running agent, else the
# files); everywhere else defer to _botctl above.
{SLOT_FUNCTIONS}{tables}
_botctl_live() {{
    local kind="" home="" cur="${{COMP_WORDS[COMP_CWORD]}}"
    _botctl_live_slot "$COMP_CWORD" "${{COMP_WORDS[@]}}"
    if [[ -z $kind ]]; then
        _botctl "$@"
        return
    fi
    [[ $cur == "=" ]] && cur=""
    # no file names where a name is wanted, even when none matches
    compopt +o default +o bashdefault 2>/dev/null
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$(_botctl_live_names "${{COMP_WORDS[0]}}" "$kind" "$home")" -- "$cur"))
}}

if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _botctl_live -o nosort -o bashdefault -o default botctl
else
    complete -F _botctl_live -o bashdefault -o default botctl
fi
"#,
        tables = shell_tables(specs)
    )
}

const ZSH_FOOTER: &str = "\nif [ \"$funcstack[1]\" = \"_botctl\" ]; then";

fn zsh_with_layer(generated: &str, specs: &[Spec]) -> String {
    // The generated `_botctl` becomes `_botctl_clap`, and ours (which defers to it) takes its
    // name, so both `compdef` and autoloading from $fpath reach ours.
    let head = "\n_botctl() {\n";
    assert_eq!(
        generated.matches(head).count(),
        1,
        "clap_complete's zsh script changed shape: adapt docs::zsh_with_layer"
    );
    let renamed = generated.replacen(head, "\n_botctl_clap() {\n", 1);
    let at = renamed
        .find(ZSH_FOOTER)
        .expect("clap_complete's zsh script changed shape: adapt docs::zsh_with_layer");
    let layer = format!(
        r#"
# ---- live names (bots, owners, templates) ----
# Added by botctl to the script clap generates: where the command line wants a BOT, OWNER or
# TEMPLATE, complete it from the fleet (`botctl __complete KIND`: the running agent, else the
# files); everywhere else defer to _botctl_clap above.
{SLOT_FUNCTIONS}{tables}
_botctl() {{
    local kind="" home=""
    _botctl_live_slot $((CURRENT - 1)) "${{words[@]}}"
    if [[ -z $kind ]]; then
        _botctl_clap "$@"
        return
    fi
    [[ $PREFIX == -*=* ]] && compset -P '*='
    local -a names expl
    names=(${{(f)"$(_botctl_live_names "${{words[1]}}" "$kind" "$home")"}})
    _wanted "$kind" expl "${{kind%s}}" compadd -a names
}}
"#,
        tables = shell_tables(specs)
    );
    format!("{}{layer}{}", &renamed[..at], &renamed[at..])
}

fn fish_layer(specs: &[Spec]) -> String {
    let mut out = String::from(
        r#"
# ---- live names (bots, owners, templates) ----
# Added by botctl to the script clap generates: where the command line wants a BOT, OWNER or
# TEMPLATE, complete it from the fleet (`botctl __complete KIND`: the running agent, else the
# files).
function __fish_botctl_live --argument-names kind
    set -l cmd (commandline -opc)
    set -l home
    for i in (seq 2 (count $cmd))
        switch $cmd[$i]
            case --home
                set -l next (math $i + 1)
                set -q cmd[$next]; and set home --home $cmd[$next]
            case '--home=*'
                set home --home (string replace -- --home= '' $cmd[$i])
        end
    end
    set -l bin (string replace -r -- '^~' $HOME $cmd[1])
    command $bin $home __complete $kind 2>/dev/null </dev/null
end
"#,
    );
    for spec in specs {
        let Some(first) = spec.path.first() else {
            continue;
        };
        let mut cond = format!("__fish_{BIN}_using_subcommand {first}");
        for p in &spec.path[1..] {
            cond.push_str(&format!("; and __fish_seen_subcommand_from {p}"));
        }
        // fish cannot tell positionals apart: offer the first live kind at every one, and
        // keep file names when some positional is a path.
        if let Some(kind) = spec.positionals.iter().flatten().next() {
            let files = if spec.path_positional { "" } else { " -f" };
            out.push_str(&format!(
                "complete -c {BIN} -n \"{cond}\"{files} -a \"(__fish_botctl_live {})\"\n",
                kind_word(*kind)
            ));
        }
        for (flags, kind) in &spec.fish_options {
            out.push_str(&format!(
                "complete -c {BIN} -n \"{cond}\" {flags} -r -f -a \"(__fish_botctl_live {})\"\n",
                kind_word(*kind)
            ));
        }
    }
    out
}

// ---- man pages ----

/// Every man page: botctl.1 and one per subcommand, nested ones too (botctl-bots-list.1).
pub fn man_pages() -> Vec<(String, String)> {
    let mut root = command().disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    collect_pages(&root, None, &mut pages);
    pages
}

fn collect_pages(cmd: &Command, parent: Option<&str>, pages: &mut Vec<(String, String)>) {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    pages.push((format!("{name}.1"), man_page(cmd, parent)));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(sub, Some(&name), pages);
    }
}

fn man_page(cmd: &Command, parent: Option<&str>) -> String {
    let is_root = parent.is_none();
    let man = Man::new(cmd.clone())
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .manual("botctl manual");
    let mut page = String::new();
    let render = |f: &dyn Fn(&mut dyn io::Write) -> io::Result<()>| {
        let mut buf = Vec::new();
        f(&mut buf).expect("rendering into memory");
        String::from_utf8_lossy(&buf).into_owned()
    };
    append_roff(&mut page, &render(&|w| man.render_title(w)));
    append_roff(&mut page, &render(&|w| man.render_name_section(w)));
    append_roff(&mut page, &render(&|w| man.render_synopsis_section(w)));
    append_roff(&mut page, &render(&|w| man.render_description_section(w)));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        append_roff(&mut page, &render(&|w| man.render_options_section(w)));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        append_roff(&mut page, &render(&|w| man.render_subcommands_section(w)));
    }
    let mut roff = Roff::new();
    // The root's after_help is the exit code list, rendered below as EXIT STATUS.
    if let (false, Some(text)) = (is_root, cmd.get_after_help()) {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        for line in text.to_string().lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    exit_status(&mut roff);
    if is_root {
        environment(&mut roff);
        files(&mut roff);
    } else {
        roff.control("SH", ["SEE ALSO"]);
        let mut refs = vec![format!("{BIN}(1)")];
        if let Some(p) = parent.filter(|p| *p != BIN) {
            refs.push(format!("{p}(1)"));
        }
        roff.text([roman(refs.join(", "))]);
    }
    append_roff(&mut page, &roff.render());
    if cmd.get_version().is_some() {
        append_roff(&mut page, &render(&|w| man.render_version_section(w)));
    }
    page
}

/// Appends rendered roff, without the preamble every rendering starts with past the first.
fn append_roff(page: &mut String, rendered: &str) {
    let preamble = Roff::new().render();
    match rendered.strip_prefix(&preamble) {
        Some(rest) if !page.is_empty() => page.push_str(rest),
        _ => page.push_str(rendered),
    }
}

/// The exit codes, parsed from `args::EXIT_CODES` so that `--help` and the man pages agree.
pub fn exit_codes() -> Vec<(&'static str, &'static str)> {
    EXIT_CODES
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (code, text) = line.trim_start().split_once(' ')?;
            Some((code, text.trim_start()))
        })
        .collect()
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, text) in exit_codes() {
        roff.control("TP", []);
        roff.text([bold(code)]);
        roff.text([roman(text)]);
    }
}

fn items(roff: &mut Roff, entries: &[(&str, &str)]) {
    for (name, text) in entries {
        roff.control("TP", []);
        roff.text([bold(*name)]);
        roff.text([roman(*text)]);
    }
}

fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    items(
        roff,
        &[
            (
                "BOTCTL_HOME",
                "Put everything (configuration, bots, logs, state, socket) under this directory; \
                 the same as --home, which wins over it. Without either, configuration goes to \
                 $XDG_CONFIG_HOME/botctl (~/.config/botctl), data to $XDG_DATA_HOME/botctl \
                 (~/.local/share/botctl) and the socket to $XDG_RUNTIME_DIR/botctl (or the data \
                 directory's run/).",
            ),
            (
                "NO_COLOR",
                "When set, output has no colour. Colour is only ever used on a terminal.",
            ),
            (
                "XDG_CONFIG_HOME",
                "Also where agent install puts a user unit: $XDG_CONFIG_HOME/systemd/user.",
            ),
            (
                "BOTCTL_HOST",
                "Run commands against this host's agent over ssh, as --host (which wins over \
                 it): an ssh://user@host[:port] address or a name in hosts.toml; empty means \
                 this machine.",
            ),
            (
                "BOTCTL_CONTAINMENT",
                "auto, cgroup or subreaper: wins over [agent] containment for an agent started \
                 with it (e.g. BOTCTL_CONTAINMENT=subreaper botctl agent restart).",
            ),
            (
                "BOTCTL_TRACE_STARTUP",
                "When set in the agent's environment, the agent logs the wall and CPU time of \
                 each phase of its start to its log.",
            ),
            (
                "BOTCTL_SYSTEMD_DIR",
                "Where agent install writes the unit and agent uninstall removes it, instead of \
                 the systemd directory (for tests and packaging).",
            ),
        ],
    );
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    roff.text([
        roman("Under the home ("),
        bold("BOTCTL_HOME"),
        roman(" or "),
        bold("--home"),
        roman("):"),
    ]);
    items(
        roff,
        &[
            (
                "botctl.toml",
                "Global settings (optional; every field has a documented default).",
            ),
            (
                "bots.d/NAME.toml",
                "One file per bot: the fleet is this folder.",
            ),
            (
                "templates/NAME/",
                "Shared bot code; its template.toml says how to make a bot from it.",
            ),
            (
                "bots/OWNER/NAME/",
                "A bot's working directory (links into its template, its own files, data/, tmp/).",
            ),
            (
                "logs/",
                "Bot output, NAME.out and NAME.err, rotated by size; agent.log, the agent's own \
                 (all 0640).",
            ),
            (
                "state/botctl.db",
                "SQLite: the running-bot registry, events, restart history, resource samples.",
            ),
            (
                "state/agent.lock",
                "Held by the one live agent and naming its pid; kept with the data, since the \
                 runtime directory can vanish under a running agent.",
            ),
            (
                "run/agent.sock",
                "The agent's socket (directory 0700, socket 0600; only the same user or root may \
                 connect).",
            ),
            (
                "run/agent.pid",
                "The agent's pid. The agent binds its socket and writes this file again if they \
                 are removed.",
            ),
        ],
    );
    roff.control("PP", []);
    roff.text([
        roman("Written by "),
        bold("botctl agent install"),
        roman(":"),
    ]);
    items(
        roff,
        &[
            (
                "~/.config/systemd/user/botctl.service",
                "The user unit (under $XDG_CONFIG_HOME when set).",
            ),
            (
                "/etc/systemd/system/botctl.service",
                "The system unit (with --system).",
            ),
        ],
    );
    roff.control("PP", []);
    roff.text([
        bold("botctl config check"),
        roman(" parses every configuration file and names the file and field of each problem."),
    ]);
}

// ---- writing ----

/// Writes DIR/completions/* and DIR/man/*.1, and removes man pages of commands that are gone.
/// Returns the files written.
pub fn generate(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let completions = dir.join("completions");
    std::fs::create_dir_all(&completions)?;
    for (shell, file) in COMPLETION_FILES {
        let path = completions.join(file);
        std::fs::write(&path, completion_script(shell))?;
        written.push(path);
    }
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    let pages = man_pages();
    for (file, text) in &pages {
        let path = man.join(file);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    for entry in std::fs::read_dir(&man)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(BIN) && name.ends_with(".1");
        if ours && !pages.iter().any(|(f, _)| *f == name) {
            std::fs::remove_file(man.join(&name))?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rebuilt_root_says_what_the_real_one_says() {
        let mut real = Cli::command();
        let mut shown = visible(Cli::command());
        assert_eq!(
            real.render_long_help().to_string(),
            shown.render_long_help().to_string()
        );
        assert_eq!(
            real.render_usage().to_string(),
            shown.render_usage().to_string()
        );
        shown.build();
        assert!(shown.get_subcommands().all(|s| !s.is_hide_set()));
        assert!(shown.find_subcommand("__complete").is_none());
        shown.debug_assert();
    }

    #[test]
    fn exit_codes_are_parsed_from_the_help_text() {
        let codes: Vec<&str> = exit_codes().iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, ["0", "1", "2", "3"]);
        assert!(exit_codes()[3].1.starts_with("agent unreachable"));
    }

    #[test]
    fn live_slots_come_from_value_names() {
        let mut cmd = command();
        cmd.build();
        let specs = live_specs(&cmd);
        let find = |path: &[&str]| {
            specs
                .iter()
                .find(|s| s.path == path)
                .unwrap_or_else(|| panic!("no spec for {path:?}"))
        };
        let restart = find(&["restart"]);
        assert_eq!(restart.positionals, [Some(NameKind::Bots)]);
        assert!(restart.repeats);
        assert!(
            restart
                .live_options
                .contains(&("--template".to_string(), NameKind::Templates))
        );
        assert!(restart.value_options.contains(&"--home".to_string()));
        let show = find(&["bots", "show"]);
        assert_eq!(show.positionals, [Some(NameKind::Bots)]);
        let add = find(&["bots", "add"]);
        assert_eq!(add.positionals[0], None);
        let cookies = find(&["auth", "set-cookies"]);
        assert_eq!(cookies.positionals, [Some(NameKind::Bots), None]);
        assert!(!cookies.repeats && cookies.path_positional);
    }

    #[test]
    fn man_pages_cover_nested_commands_but_not_hidden_ones() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "botctl.1",
            "botctl-status.1",
            "botctl-bots-list.1",
            "botctl-agent-install.1",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("__")), "{names:?}");
        let root = &pages[0].1;
        for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES"] {
            assert!(root.contains(section), "{section} missing");
        }
        assert_eq!(root.matches(".ds Aq").count(), 2, "one preamble");
    }
}
