# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_botctl_global_optspecs
    string join \n home= host= h/help V/version
end

function __fish_botctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_botctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_botctl_using_subcommand
    set -l cmd (__fish_botctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c botctl -n "__fish_botctl_needs_command" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_needs_command" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c botctl -n "__fish_botctl_needs_command" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "status" -d 'Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "top" -d 'A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "start" -d 'Start bots'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "stop" -d 'Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout)'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "restart" -d 'Restart bots'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "recover" -d 'Retry failed bots now instead of after their cool-down (all failing bots by default)'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "bots" -d 'Add, remove, list and inspect bots'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "logs" -d 'Show bots\' output (logs/BOT.out and logs/BOT.err), read straight from the files'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "events" -d 'Show the event history: starts, exits, restarts, backoff, failures, config errors'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "reload" -d 'Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "config" -d 'Check the configuration files'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "auth" -d 'Session cookies of bots with an [auth] section: check them, install new ones'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "update" -d 'Update bots\' code (`git pull --ff-only` in the bot\'s directory, or its update_command) and restart them; a failed update leaves the old code running'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "notify" -d 'Alerts: send a test message through the configured channels'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "templates" -d 'Shared bot code that `bots create` makes bots from'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "forecast" -d 'What will break next, soonest first: bots whose memory grows towards max_memory_mb, the host\'s disk and memory growing towards their thresholds, expiring sessions'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "storage" -d 'Disk use per owner against quotas, and what template links save'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "cleanup" -d 'Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs, stale records); --force removes it'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "import" -d 'Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host\'s JSON: shows what it would write and what does not map; --write writes'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "export" -d 'Hand bots to systemd units or Kubernetes manifests, saying what each target does not keep'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "tokens" -d 'Make, list and revoke tokens for the HTTP API and the dashboard'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "dashboard" -d 'Print the dashboard\'s address ([remote.http] listen, https when TLS is set)'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "agent" -d 'Control the agent itself'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish or powershell)'
complete -c botctl -n "__fish_botctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand status" -s u -l user -d 'Only this owner\'s bots' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand status" -l hosts -d 'Several hosts in one table with a HOST column, asked at once: names from hosts.toml or ssh:// addresses, comma-separated' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand status" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand status" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand status" -l json -d 'Print JSON (with a `summary` object) instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand status" -l all-hosts -d 'Every host named in hosts.toml'
complete -c botctl -n "__fish_botctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand status" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand top" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand top" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c botctl -n "__fish_botctl_using_subcommand top" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand start" -s u -l user -d 'Every bot of this owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand start" -l template -d 'Every bot made from this template (e.g. after its code changed)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand start" -l wait -d 'Return only once each bot is ready (with `[health] ready = "notify"`: once it sent READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for a bot that is not ready by then or stopped trying' -r
complete -c botctl -n "__fish_botctl_using_subcommand start" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand start" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand start" -l all -d 'Every bot'
complete -c botctl -n "__fish_botctl_using_subcommand start" -l json -d 'Print what was done to each bot as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand start" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand start" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand stop" -s u -l user -d 'Every bot of this owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l template -d 'Every bot made from this template (e.g. after its code changed)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l all -d 'Every bot'
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l json -d 'Print what was done to each bot as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand stop" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand stop" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand restart" -s u -l user -d 'Every bot of this owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l template -d 'Every bot made from this template (e.g. after its code changed)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l wait -d 'Return only once each bot is ready (with `[health] ready = "notify"`: once it sent READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for a bot that is not ready by then or stopped trying' -r
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l all -d 'Every bot'
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l json -d 'Print what was done to each bot as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand restart" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand restart" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand recover" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand recover" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand recover" -l json -d 'Print what was done to each bot as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand recover" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand recover" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -f -a "list" -d 'List bots'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -f -a "add" -d 'Add a bot (writes bots.d/NAME.toml) and start it'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -f -a "create" -d 'Make a bot from a template: links to the shared code, its own copies and dirs'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -f -a "remove" -d 'Stop a bot and remove its file (and with --purge its directory)'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -f -a "show" -d 'Show one bot in detail'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and not __fish_seen_subcommand_from list add create remove show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -s u -l user -d 'Only bots of this owner; without a value, of the invoking Unix user' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -s u -l user -d 'The owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l cwd -d 'Working directory (default bots/OWNER/NAME under the home)' -r
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -s e -l env -d 'Environment variable for the bot (repeatable)' -r
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l platform -d 'twitter, messenger, telegram or generic' -r
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l no-start -d 'Write the file but do not start the bot'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l json -d 'Print what was done as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -s u -l user -d 'The owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -s t -l template -d 'The template (a directory under templates/)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -l set -d 'Override a field of the bot file (repeatable)' -r
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -l no-start -d 'Make the bot but do not start it'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -l json -d 'Print what was done as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -l purge -d 'Also delete the bot\'s directory under bots/ (never a custom cwd)'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -l json -d 'Print what was done as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -l json -d 'Print JSON instead of text'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "list" -d 'List bots'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a bot (writes bots.d/NAME.toml) and start it'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "create" -d 'Make a bot from a template: links to the shared code, its own copies and dirs'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Stop a bot and remove its file (and with --purge its directory)'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one bot in detail'
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand logs" -s u -l user -d 'Every bot of this owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand logs" -s n -l lines -d 'How many lines from the end of each file (0: none, with -f only new lines)' -r
complete -c botctl -n "__fish_botctl_using_subcommand logs" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand logs" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand logs" -l all -d 'Every bot in bots.d'
complete -c botctl -n "__fish_botctl_using_subcommand logs" -s f -l follow -d 'Keep printing new output as it arrives, through log rotations'
complete -c botctl -n "__fish_botctl_using_subcommand logs" -l stderr -d 'Only standard error'
complete -c botctl -n "__fish_botctl_using_subcommand logs" -l stdout -d 'Only standard output'
complete -c botctl -n "__fish_botctl_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c botctl -n "__fish_botctl_using_subcommand logs" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand events" -l bot -d 'Only this bot\'s events' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand events" -l user -d 'Only events about this owner\'s bots' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand events" -l since -d 'Only events newer than this, e.g. 30m, 1h, 2d' -r
complete -c botctl -n "__fish_botctl_using_subcommand events" -s n -l lines -d 'How many events at most (the newest); 0 with -f: only new events' -r
complete -c botctl -n "__fish_botctl_using_subcommand events" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand events" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand events" -s f -l follow -d 'Keep printing new events as they happen'
complete -c botctl -n "__fish_botctl_using_subcommand events" -l json -d 'Print JSON: an array, or with -f one object a line (the same object either way, times as `ts_ms` and as an RFC 3339 `time`)'
complete -c botctl -n "__fish_botctl_using_subcommand events" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand events" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand reload" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand reload" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand reload" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand reload" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand reload" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand config; and not __fish_seen_subcommand_from check help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand config; and not __fish_seen_subcommand_from check help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand config; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)'
complete -c botctl -n "__fish_botctl_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from check" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from check" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from check" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)'
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -f -a "check" -d 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -f -a "set-cookies" -d 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and not __fish_seen_subcommand_from check set-cookies help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -l json -d 'Print the check of the installed file as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "set-cookies" -d 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid'
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand update" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand update" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand update" -l all -d 'Every bot with an [update] section'
complete -c botctl -n "__fish_botctl_using_subcommand update" -l json -d 'Print what was done to each bot as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand update" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand update" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and not __fish_seen_subcommand_from test help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand notify; and not __fish_seen_subcommand_from test help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand notify; and not __fish_seen_subcommand_from test help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and not __fish_seen_subcommand_from test help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and not __fish_seen_subcommand_from test help" -f -a "test" -d 'Send one test message to every configured channel and say what happened'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and not __fish_seen_subcommand_from test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from test" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from test" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send one test message to every configured channel and say what happened'
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and not __fish_seen_subcommand_from list help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand templates; and not __fish_seen_subcommand_from list help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand templates; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and not __fish_seen_subcommand_from list help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'The templates, with the number of bots using each'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from list" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from list" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from list" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from help" -f -a "list" -d 'The templates, with the number of bots using each'
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand forecast" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand forecast" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand forecast" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand forecast" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand forecast" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand storage" -s u -l user -d 'Only this owner' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand storage" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand storage" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand storage" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand storage" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand storage" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -s u -l user -d 'Only this owner\'s bots' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -l force -d 'Remove what the plan lists (without it, nothing is deleted)'
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -l json -d 'Print the plan (or, with --force, what was removed) as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -f -a "pm2" -d 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`\'s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`'
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -f -a "supervisord" -d 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process'
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -f -a "bot-config" -d 'The Messenger bot host\'s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml\'s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file'
complete -c botctl -n "__fish_botctl_using_subcommand import; and not __fish_seen_subcommand_from pm2 supervisord bot-config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l env -d 'Use the apps\' `env_NAME` section over `env` (as `pm2 start --env NAME`)' -r
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l owner -d 'The owner of the imported bots (default: you; for supervisord, a program\'s `user=` when it is a valid owner name)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l write -d 'Write the bot files (without it, only show them)'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l force -d 'With --write, overwrite bot files that already exist'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l json -d 'Print the files (env values hidden) and what was not mapped as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l owner -d 'The owner of the imported bots (default: you; for supervisord, a program\'s `user=` when it is a valid owner name)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l write -d 'Write the bot files (without it, only show them)'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l force -d 'With --write, overwrite bot files that already exist'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l json -d 'Print the files (env values hidden) and what was not mapped as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -l write -d 'Write botctl.toml (without it, only show the changes and the result)'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -l force -d 'With --write, replace values botctl.toml already sets differently'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -l json -d 'Print the changes, what was not mapped and the result as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "pm2" -d 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`\'s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "supervisord" -d 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "bot-config" -d 'The Messenger bot host\'s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml\'s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file'
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -f -a "systemd" -d 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer'
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -f -a "kubernetes" -d 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)'
complete -c botctl -n "__fish_botctl_using_subcommand export; and not __fish_seen_subcommand_from systemd kubernetes help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -l out -d 'Where to write the files (created if needed)' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -l json -d 'Print what was written and what is not kept as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l image -d 'The container image holding the bots\' code, at their directory\'s path' -r
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l out -d 'Where to write the files (created if needed)' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l json -d 'Print what was written and what is not kept as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "systemd" -d 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "kubernetes" -d 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)'
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -f -a "create" -d 'Make a token and print it (the only time it is shown)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -f -a "list" -d 'The tokens: id, user, scope, created, expires, last used (never the token)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -f -a "revoke" -d 'Revoke a token by id: refused from then on, and its dashboard sessions end'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and not __fish_seen_subcommand_from create list revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -s u -l user -d 'The person it is for: the owner whose bots it reaches' -r
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l expires -d 'Valid for this long, e.g. 30d, 12h (default: until revoked)' -r
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l read-only -d 'Can look but not act (start, stop, restart, recover, cleanup are refused)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l admin -d 'Reaches every owner\'s bots, the system figures, cleanup and /metrics'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l json -d 'Print {"id", "token", ...} as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from list" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from list" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from list" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l json -d 'Print the revoked token\'s row as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "create" -d 'Make a token and print it (the only time it is shown)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "list" -d 'The tokens: id, user, scope, created, expires, last used (never the token)'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a token by id: refused from then on, and its dashboard sessions end'
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand dashboard" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand dashboard" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand dashboard" -l json -d 'Print {"url": ...} as JSON'
complete -c botctl -n "__fish_botctl_using_subcommand dashboard" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand dashboard" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "run" -d 'Run the agent in the foreground (what the CLI starts in the background)'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "start" -d 'Start the agent if it is not running'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "stop" -d 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "restart" -d 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "status" -d 'Say whether the agent runs, without starting it'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "install" -d 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "uninstall" -d 'Remove the systemd unit written by `agent install`'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and not __fish_seen_subcommand_from run start stop restart status install uninstall help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from run" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from run" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from start" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from start" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from stop" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from stop" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from stop" -l keep-bots -d 'Leave the bots running; the next agent adopts them'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from restart" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from restart" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from restart" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from restart" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from status" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from status" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from status" -l json -d 'Print JSON instead of a table'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -l system -d 'A system unit in /etc/systemd/system (needs root and a home: --home or BOTCTL_HOME) instead of a user unit in ~/.config/systemd/user'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -l now -d 'Also enable and start it now (`systemctl enable --now`)'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l system -d 'The system unit instead of the user unit'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run the agent in the foreground (what the CLI starts in the background)'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start the agent if it is not running'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "restart" -d 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "status" -d 'Say whether the agent runs, without starting it'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Remove the systemd unit written by `agent install`'
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand completions" -l home -d 'Put everything (config, bots, logs, state, socket) under this directory' -r -F
complete -c botctl -n "__fish_botctl_using_subcommand completions" -l host -d 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)' -r -f
complete -c botctl -n "__fish_botctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c botctl -n "__fish_botctl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "status" -d 'Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "top" -d 'A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "start" -d 'Start bots'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "stop" -d 'Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "restart" -d 'Restart bots'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "recover" -d 'Retry failed bots now instead of after their cool-down (all failing bots by default)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "bots" -d 'Add, remove, list and inspect bots'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "logs" -d 'Show bots\' output (logs/BOT.out and logs/BOT.err), read straight from the files'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "events" -d 'Show the event history: starts, exits, restarts, backoff, failures, config errors'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "reload" -d 'Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "config" -d 'Check the configuration files'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "auth" -d 'Session cookies of bots with an [auth] section: check them, install new ones'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "update" -d 'Update bots\' code (`git pull --ff-only` in the bot\'s directory, or its update_command) and restart them; a failed update leaves the old code running'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "notify" -d 'Alerts: send a test message through the configured channels'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "templates" -d 'Shared bot code that `bots create` makes bots from'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "forecast" -d 'What will break next, soonest first: bots whose memory grows towards max_memory_mb, the host\'s disk and memory growing towards their thresholds, expiring sessions'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "storage" -d 'Disk use per owner against quotas, and what template links save'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "cleanup" -d 'Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs, stale records); --force removes it'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "import" -d 'Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host\'s JSON: shows what it would write and what does not map; --write writes'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "export" -d 'Hand bots to systemd units or Kubernetes manifests, saying what each target does not keep'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "tokens" -d 'Make, list and revoke tokens for the HTTP API and the dashboard'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "dashboard" -d 'Print the dashboard\'s address ([remote.http] listen, https when TLS is set)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "agent" -d 'Control the agent itself'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish or powershell)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and not __fish_seen_subcommand_from status top start stop restart recover bots logs events reload config auth update notify templates forecast storage cleanup import export tokens dashboard agent completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "list" -d 'List bots'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "add" -d 'Add a bot (writes bots.d/NAME.toml) and start it'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "create" -d 'Make a bot from a template: links to the shared code, its own copies and dirs'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "remove" -d 'Stop a bot and remove its file (and with --purge its directory)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "show" -d 'Show one bot in detail'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "check" -d 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "set-cookies" -d 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "test" -d 'Send one test message to every configured channel and say what happened'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from templates" -f -a "list" -d 'The templates, with the number of bots using each'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "pm2" -d 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`\'s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "supervisord" -d 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "bot-config" -d 'The Messenger bot host\'s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml\'s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "systemd" -d 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "kubernetes" -d 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "create" -d 'Make a token and print it (the only time it is shown)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "list" -d 'The tokens: id, user, scope, created, expires, last used (never the token)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "revoke" -d 'Revoke a token by id: refused from then on, and its dashboard sessions end'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "run" -d 'Run the agent in the foreground (what the CLI starts in the background)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "start" -d 'Start the agent if it is not running'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "stop" -d 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "restart" -d 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "status" -d 'Say whether the agent runs, without starting it'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "install" -d 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it'
complete -c botctl -n "__fish_botctl_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "uninstall" -d 'Remove the systemd unit written by `agent install`'

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
complete -c botctl -n "__fish_botctl_using_subcommand status" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand status" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand status" -l hosts -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand status" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand top" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand start" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand start" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand start" -l template -r -f -a "(__fish_botctl_live templates)"
complete -c botctl -n "__fish_botctl_using_subcommand start" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand stop" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand stop" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l template -r -f -a "(__fish_botctl_live templates)"
complete -c botctl -n "__fish_botctl_using_subcommand stop" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand restart" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand restart" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l template -r -f -a "(__fish_botctl_live templates)"
complete -c botctl -n "__fish_botctl_using_subcommand restart" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand recover" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand recover" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand bots" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from list" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from add" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -s t -l template -r -f -a "(__fish_botctl_live templates)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from create" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from remove" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand bots; and __fish_seen_subcommand_from show" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand logs" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand logs" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand logs" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand events" -l bot -r -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand events" -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand events" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand reload" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand config" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand config; and __fish_seen_subcommand_from check" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand auth" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from check" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand auth; and __fish_seen_subcommand_from set-cookies" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand update" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand update" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand notify" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand notify; and __fish_seen_subcommand_from test" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand templates" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand templates; and __fish_seen_subcommand_from list" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand forecast" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand storage" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand storage" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -s u -l user -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand cleanup" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand import" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l owner -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from pm2" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l owner -r -f -a "(__fish_botctl_live owners)"
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from supervisord" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand import; and __fish_seen_subcommand_from bot-config" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand export" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from systemd" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -f -a "(__fish_botctl_live bots)"
complete -c botctl -n "__fish_botctl_using_subcommand export; and __fish_seen_subcommand_from kubernetes" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand tokens" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from create" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from list" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand dashboard" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from run" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from start" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from stop" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from restart" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from status" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from install" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l host -r -f -a "(__fish_botctl_live hosts)"
complete -c botctl -n "__fish_botctl_using_subcommand completions" -l host -r -f -a "(__fish_botctl_live hosts)"
