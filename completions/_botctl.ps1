
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'botctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'botctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'botctl' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start bots')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout)')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Restart bots')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Retry failed bots now instead of after their cool-down (all failing bots by default)')
            [CompletionResult]::new('bots', 'bots', [CompletionResultType]::ParameterValue, 'Add, remove, list and inspect bots')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show bots'' output (logs/BOT.out and logs/BOT.err), read straight from the files')
            [CompletionResult]::new('events', 'events', [CompletionResultType]::ParameterValue, 'Show the event history: starts, exits, restarts, backoff, failures, config errors')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Check the configuration files')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Session cookies of bots with an [auth] section: check them, install new ones')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Update bots'' code (`git pull --ff-only` in the bot''s directory, or its update_command) and restart them; a failed update leaves the old code running')
            [CompletionResult]::new('notify', 'notify', [CompletionResultType]::ParameterValue, 'Alerts: send a test message through the configured channels')
            [CompletionResult]::new('templates', 'templates', [CompletionResultType]::ParameterValue, 'Shared bot code that `bots create` makes bots from')
            [CompletionResult]::new('forecast', 'forecast', [CompletionResultType]::ParameterValue, 'What will break next, soonest first: bots whose memory grows towards max_memory_mb, the host''s disk and memory growing towards their thresholds, expiring sessions')
            [CompletionResult]::new('storage', 'storage', [CompletionResultType]::ParameterValue, 'Disk use per owner against quotas, and what template links save')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs, stale records); --force removes it')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host''s JSON: shows what it would write and what does not map; --write writes')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Hand bots to systemd units or Kubernetes manifests, saying what each target does not keep')
            [CompletionResult]::new('tokens', 'tokens', [CompletionResultType]::ParameterValue, 'Make, list and revoke tokens for the HTTP API and the dashboard')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'Print the dashboard''s address ([remote.http] listen, https when TLS is set)')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Control the agent itself')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish or powershell)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;status' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Only this owner''s bots')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only this owner''s bots')
            [CompletionResult]::new('--hosts', '--hosts', [CompletionResultType]::ParameterName, 'Several hosts in one table with a HOST column, asked at once: names from hosts.toml or ssh:// addresses, comma-separated')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (with a `summary` object) instead of a table')
            [CompletionResult]::new('--all-hosts', '--all-hosts', [CompletionResultType]::ParameterName, 'Every host named in hosts.toml')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;top' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;start' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Every bot made from this template (e.g. after its code changed)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only once each bot is ready (with `[health] ready = "notify"`: once it sent READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for a bot that is not ready by then or stopped trying')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every bot')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done to each bot as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;stop' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Every bot made from this template (e.g. after its code changed)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every bot')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done to each bot as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;restart' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Every bot made from this template (e.g. after its code changed)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only once each bot is ready (with `[health] ready = "notify"`: once it sent READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for a bot that is not ready by then or stopped trying')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every bot')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done to each bot as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;recover' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done to each bot as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;bots' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List bots')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a bot (writes bots.d/NAME.toml) and start it')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a bot from a template: links to the shared code, its own copies and dirs')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Stop a bot and remove its file (and with --purge its directory)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot in detail')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;bots;list' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Only bots of this owner; without a value, of the invoking Unix user')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only bots of this owner; without a value, of the invoking Unix user')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;bots;add' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'The owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The owner')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Working directory (default bots/OWNER/NAME under the home)')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment variable for the bot (repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment variable for the bot (repeatable)')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'twitter, messenger, telegram or generic')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--no-start', '--no-start', [CompletionResultType]::ParameterName, 'Write the file but do not start the bot')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;bots;create' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'The owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The owner')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'The template (a directory under templates/)')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'The template (a directory under templates/)')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a field of the bot file (repeatable)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--no-start', '--no-start', [CompletionResultType]::ParameterName, 'Make the bot but do not start it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;bots;remove' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--purge', '--purge', [CompletionResultType]::ParameterName, 'Also delete the bot''s directory under bots/ (never a custom cwd)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;bots;show' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;bots;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List bots')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a bot (writes bots.d/NAME.toml) and start it')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a bot from a template: links to the shared code, its own copies and dirs')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Stop a bot and remove its file (and with --purge its directory)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot in detail')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;bots;help;list' {
            break
        }
        'botctl;bots;help;add' {
            break
        }
        'botctl;bots;help;create' {
            break
        }
        'botctl;bots;help;remove' {
            break
        }
        'botctl;bots;help;show' {
            break
        }
        'botctl;bots;help;help' {
            break
        }
        'botctl;logs' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Every bot of this owner')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many lines from the end of each file (0: none, with -f only new lines)')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'How many lines from the end of each file (0: none, with -f only new lines)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every bot in bots.d')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new output as it arrives, through log rotations')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new output as it arrives, through log rotations')
            [CompletionResult]::new('--stderr', '--stderr', [CompletionResultType]::ParameterName, 'Only standard error')
            [CompletionResult]::new('--stdout', '--stdout', [CompletionResultType]::ParameterName, 'Only standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;events' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'Only this bot''s events')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only events about this owner''s bots')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events newer than this, e.g. 30m, 1h, 2d')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many events at most (the newest); 0 with -f: only new events')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'How many events at most (the newest); 0 with -f: only new events')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new events as they happen')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new events as they happen')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON: an array, or with -f one object a line (the same object either way, times as `ts_ms` and as an RFC 3339 `time`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;reload' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;config' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;config;check' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;config;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;config;help;check' {
            break
        }
        'botctl;config;help;help' {
            break
        }
        'botctl;auth' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid')
            [CompletionResult]::new('set-cookies', 'set-cookies', [CompletionResultType]::ParameterValue, 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;auth;check' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;auth;set-cookies' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the check of the installed file as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;auth;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid')
            [CompletionResult]::new('set-cookies', 'set-cookies', [CompletionResultType]::ParameterValue, 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;auth;help;check' {
            break
        }
        'botctl;auth;help;set-cookies' {
            break
        }
        'botctl;auth;help;help' {
            break
        }
        'botctl;update' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every bot with an [update] section')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was done to each bot as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;notify' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send one test message to every configured channel and say what happened')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;notify;test' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;notify;help' {
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send one test message to every configured channel and say what happened')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;notify;help;test' {
            break
        }
        'botctl;notify;help;help' {
            break
        }
        'botctl;templates' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The templates, with the number of bots using each')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;templates;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;templates;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The templates, with the number of bots using each')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;templates;help;list' {
            break
        }
        'botctl;templates;help;help' {
            break
        }
        'botctl;forecast' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;storage' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Only this owner')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only this owner')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;cleanup' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Only this owner''s bots')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only this owner''s bots')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Remove what the plan lists (without it, nothing is deleted)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the plan (or, with --force, what was removed) as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;import' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('pm2', 'pm2', [CompletionResultType]::ParameterValue, 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`''s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`')
            [CompletionResult]::new('supervisord', 'supervisord', [CompletionResultType]::ParameterValue, 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process')
            [CompletionResult]::new('bot-config', 'bot-config', [CompletionResultType]::ParameterValue, 'The Messenger bot host''s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml''s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;import;pm2' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Use the apps'' `env_NAME` section over `env` (as `pm2 start --env NAME`)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'The owner of the imported bots (default: you; for supervisord, a program''s `user=` when it is a valid owner name)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the bot files (without it, only show them)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --write, overwrite bot files that already exist')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the files (env values hidden) and what was not mapped as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;import;supervisord' {
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'The owner of the imported bots (default: you; for supervisord, a program''s `user=` when it is a valid owner name)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the bot files (without it, only show them)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --write, overwrite bot files that already exist')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the files (env values hidden) and what was not mapped as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;import;bot-config' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write botctl.toml (without it, only show the changes and the result)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --write, replace values botctl.toml already sets differently')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the changes, what was not mapped and the result as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;import;help' {
            [CompletionResult]::new('pm2', 'pm2', [CompletionResultType]::ParameterValue, 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`''s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`')
            [CompletionResult]::new('supervisord', 'supervisord', [CompletionResultType]::ParameterValue, 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process')
            [CompletionResult]::new('bot-config', 'bot-config', [CompletionResultType]::ParameterValue, 'The Messenger bot host''s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml''s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;import;help;pm2' {
            break
        }
        'botctl;import;help;supervisord' {
            break
        }
        'botctl;import;help;bot-config' {
            break
        }
        'botctl;import;help;help' {
            break
        }
        'botctl;export' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('systemd', 'systemd', [CompletionResultType]::ParameterValue, 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer')
            [CompletionResult]::new('kubernetes', 'kubernetes', [CompletionResultType]::ParameterValue, 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;export;systemd' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Where to write the files (created if needed)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was written and what is not kept as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;export;kubernetes' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'The container image holding the bots'' code, at their directory''s path')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Where to write the files (created if needed)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print what was written and what is not kept as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;export;help' {
            [CompletionResult]::new('systemd', 'systemd', [CompletionResultType]::ParameterValue, 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer')
            [CompletionResult]::new('kubernetes', 'kubernetes', [CompletionResultType]::ParameterValue, 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;export;help;systemd' {
            break
        }
        'botctl;export;help;kubernetes' {
            break
        }
        'botctl;export;help;help' {
            break
        }
        'botctl;tokens' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a token and print it (the only time it is shown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The tokens: id, user, scope, created, expires, last used (never the token)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token by id: refused from then on, and its dashboard sessions end')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;tokens;create' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'The person it is for: the owner whose bots it reaches')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The person it is for: the owner whose bots it reaches')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Valid for this long, e.g. 30d, 12h (default: until revoked)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--read-only', '--read-only', [CompletionResultType]::ParameterName, 'Can look but not act (start, stop, restart, recover, cleanup are refused)')
            [CompletionResult]::new('--admin', '--admin', [CompletionResultType]::ParameterName, 'Reaches every owner''s bots, the system figures, cleanup and /metrics')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"id", "token", ...} as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;tokens;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;tokens;revoke' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the revoked token''s row as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;tokens;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a token and print it (the only time it is shown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The tokens: id, user, scope, created, expires, last used (never the token)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token by id: refused from then on, and its dashboard sessions end')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;tokens;help;create' {
            break
        }
        'botctl;tokens;help;list' {
            break
        }
        'botctl;tokens;help;revoke' {
            break
        }
        'botctl;tokens;help;help' {
            break
        }
        'botctl;dashboard' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"url": ...} as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the agent in the foreground (what the CLI starts in the background)')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start the agent if it is not running')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether the agent runs, without starting it')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the systemd unit written by `agent install`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;agent;run' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;start' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;stop' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--keep-bots', '--keep-bots', [CompletionResultType]::ParameterName, 'Leave the bots running; the next agent adopts them')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;restart' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;status' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;install' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--system', '--system', [CompletionResultType]::ParameterName, 'A system unit in /etc/systemd/system (needs root and a home: --home or BOTCTL_HOME) instead of a user unit in ~/.config/systemd/user')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Also enable and start it now (`systemctl enable --now`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;uninstall' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('--system', '--system', [CompletionResultType]::ParameterName, 'The system unit instead of the user unit')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;agent;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the agent in the foreground (what the CLI starts in the background)')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start the agent if it is not running')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether the agent runs, without starting it')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the systemd unit written by `agent install`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;agent;help;run' {
            break
        }
        'botctl;agent;help;start' {
            break
        }
        'botctl;agent;help;stop' {
            break
        }
        'botctl;agent;help;restart' {
            break
        }
        'botctl;agent;help;status' {
            break
        }
        'botctl;agent;help;install' {
            break
        }
        'botctl;agent;help;uninstall' {
            break
        }
        'botctl;agent;help;help' {
            break
        }
        'botctl;completions' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Put everything (config, bots, logs, state, socket) under this directory')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'botctl;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start bots')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout)')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Restart bots')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Retry failed bots now instead of after their cool-down (all failing bots by default)')
            [CompletionResult]::new('bots', 'bots', [CompletionResultType]::ParameterValue, 'Add, remove, list and inspect bots')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show bots'' output (logs/BOT.out and logs/BOT.err), read straight from the files')
            [CompletionResult]::new('events', 'events', [CompletionResultType]::ParameterValue, 'Show the event history: starts, exits, restarts, backoff, failures, config errors')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Check the configuration files')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Session cookies of bots with an [auth] section: check them, install new ones')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Update bots'' code (`git pull --ff-only` in the bot''s directory, or its update_command) and restart them; a failed update leaves the old code running')
            [CompletionResult]::new('notify', 'notify', [CompletionResultType]::ParameterValue, 'Alerts: send a test message through the configured channels')
            [CompletionResult]::new('templates', 'templates', [CompletionResultType]::ParameterValue, 'Shared bot code that `bots create` makes bots from')
            [CompletionResult]::new('forecast', 'forecast', [CompletionResultType]::ParameterValue, 'What will break next, soonest first: bots whose memory grows towards max_memory_mb, the host''s disk and memory growing towards their thresholds, expiring sessions')
            [CompletionResult]::new('storage', 'storage', [CompletionResultType]::ParameterValue, 'Disk use per owner against quotas, and what template links save')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs, stale records); --force removes it')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host''s JSON: shows what it would write and what does not map; --write writes')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Hand bots to systemd units or Kubernetes manifests, saying what each target does not keep')
            [CompletionResult]::new('tokens', 'tokens', [CompletionResultType]::ParameterValue, 'Make, list and revoke tokens for the HTTP API and the dashboard')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'Print the dashboard''s address ([remote.http] listen, https when TLS is set)')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Control the agent itself')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish or powershell)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'botctl;help;status' {
            break
        }
        'botctl;help;top' {
            break
        }
        'botctl;help;start' {
            break
        }
        'botctl;help;stop' {
            break
        }
        'botctl;help;restart' {
            break
        }
        'botctl;help;recover' {
            break
        }
        'botctl;help;bots' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List bots')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a bot (writes bots.d/NAME.toml) and start it')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a bot from a template: links to the shared code, its own copies and dirs')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Stop a bot and remove its file (and with --purge its directory)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot in detail')
            break
        }
        'botctl;help;bots;list' {
            break
        }
        'botctl;help;bots;add' {
            break
        }
        'botctl;help;bots;create' {
            break
        }
        'botctl;help;bots;remove' {
            break
        }
        'botctl;help;bots;show' {
            break
        }
        'botctl;help;logs' {
            break
        }
        'botctl;help;events' {
            break
        }
        'botctl;help;reload' {
            break
        }
        'botctl;help;config' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)')
            break
        }
        'botctl;help;config;check' {
            break
        }
        'botctl;help;auth' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid')
            [CompletionResult]::new('set-cookies', 'set-cookies', [CompletionResultType]::ParameterValue, 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid')
            break
        }
        'botctl;help;auth;check' {
            break
        }
        'botctl;help;auth;set-cookies' {
            break
        }
        'botctl;help;update' {
            break
        }
        'botctl;help;notify' {
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send one test message to every configured channel and say what happened')
            break
        }
        'botctl;help;notify;test' {
            break
        }
        'botctl;help;templates' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The templates, with the number of bots using each')
            break
        }
        'botctl;help;templates;list' {
            break
        }
        'botctl;help;forecast' {
            break
        }
        'botctl;help;storage' {
            break
        }
        'botctl;help;cleanup' {
            break
        }
        'botctl;help;import' {
            [CompletionResult]::new('pm2', 'pm2', [CompletionResultType]::ParameterValue, 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`''s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`')
            [CompletionResult]::new('supervisord', 'supervisord', [CompletionResultType]::ParameterValue, 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process')
            [CompletionResult]::new('bot-config', 'bot-config', [CompletionResultType]::ParameterValue, 'The Messenger bot host''s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml''s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file')
            break
        }
        'botctl;help;import;pm2' {
            break
        }
        'botctl;help;import;supervisord' {
            break
        }
        'botctl;help;import;bot-config' {
            break
        }
        'botctl;help;export' {
            [CompletionResult]::new('systemd', 'systemd', [CompletionResultType]::ParameterValue, 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer')
            [CompletionResult]::new('kubernetes', 'kubernetes', [CompletionResultType]::ParameterValue, 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)')
            break
        }
        'botctl;help;export;systemd' {
            break
        }
        'botctl;help;export;kubernetes' {
            break
        }
        'botctl;help;tokens' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a token and print it (the only time it is shown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The tokens: id, user, scope, created, expires, last used (never the token)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token by id: refused from then on, and its dashboard sessions end')
            break
        }
        'botctl;help;tokens;create' {
            break
        }
        'botctl;help;tokens;list' {
            break
        }
        'botctl;help;tokens;revoke' {
            break
        }
        'botctl;help;dashboard' {
            break
        }
        'botctl;help;agent' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the agent in the foreground (what the CLI starts in the background)')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start the agent if it is not running')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether the agent runs, without starting it')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the systemd unit written by `agent install`')
            break
        }
        'botctl;help;agent;run' {
            break
        }
        'botctl;help;agent;start' {
            break
        }
        'botctl;help;agent;stop' {
            break
        }
        'botctl;help;agent;restart' {
            break
        }
        'botctl;help;agent;status' {
            break
        }
        'botctl;help;agent;install' {
            break
        }
        'botctl;help;agent;uninstall' {
            break
        }
        'botctl;help;completions' {
            break
        }
        'botctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
