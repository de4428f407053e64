
use builtin;
use str;

set edit:completion:arg-completer[botctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'botctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'botctl'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention'
            cand top 'A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions'
            cand start 'Start bots'
            cand stop 'Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout)'
            cand restart 'Restart bots'
            cand recover 'Retry failed bots now instead of after their cool-down (all failing bots by default)'
            cand bots 'Add, remove, list and inspect bots'
            cand logs 'Show bots'' output (logs/BOT.out and logs/BOT.err), read straight from the files'
            cand events 'Show the event history: starts, exits, restarts, backoff, failures, config errors'
            cand reload 'Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones'
            cand config 'Check the configuration files'
            cand auth 'Session cookies of bots with an [auth] section: check them, install new ones'
            cand update 'Update bots'' code (`git pull --ff-only` in the bot''s directory, or its update_command) and restart them; a failed update leaves the old code running'
            cand notify 'Alerts: send a test message through the configured channels'
            cand templates 'Shared bot code that `bots create` makes bots from'
            cand forecast 'What will break next, soonest first: bots whose memory grows towards max_memory_mb, the host''s disk and memory growing towards their thresholds, expiring sessions'
            cand storage 'Disk use per owner against quotas, and what template links save'
            cand cleanup 'Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs, stale records); --force removes it'
            cand import 'Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host''s JSON: shows what it would write and what does not map; --write writes'
            cand export 'Hand bots to systemd units or Kubernetes manifests, saying what each target does not keep'
            cand tokens 'Make, list and revoke tokens for the HTTP API and the dashboard'
            cand dashboard 'Print the dashboard''s address ([remote.http] listen, https when TLS is set)'
            cand agent 'Control the agent itself'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish or powershell)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;status'= {
            cand -u 'Only this owner''s bots'
            cand --user 'Only this owner''s bots'
            cand --hosts 'Several hosts in one table with a HOST column, asked at once: names from hosts.toml or ssh:// addresses, comma-separated'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON (with a `summary` object) instead of a table'
            cand --all-hosts 'Every host named in hosts.toml'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;top'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;start'= {
            cand -u 'Every bot of this owner'
            cand --user 'Every bot of this owner'
            cand --template 'Every bot made from this template (e.g. after its code changed)'
            cand --wait 'Return only once each bot is ready (with `[health] ready = "notify"`: once it sent READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for a bot that is not ready by then or stopped trying'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --all 'Every bot'
            cand --json 'Print what was done to each bot as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;stop'= {
            cand -u 'Every bot of this owner'
            cand --user 'Every bot of this owner'
            cand --template 'Every bot made from this template (e.g. after its code changed)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --all 'Every bot'
            cand --json 'Print what was done to each bot as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;restart'= {
            cand -u 'Every bot of this owner'
            cand --user 'Every bot of this owner'
            cand --template 'Every bot made from this template (e.g. after its code changed)'
            cand --wait 'Return only once each bot is ready (with `[health] ready = "notify"`: once it sent READY=1; otherwise once it runs), waiting at most this long (default 2m); exit 1 for a bot that is not ready by then or stopped trying'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --all 'Every bot'
            cand --json 'Print what was done to each bot as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;recover'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print what was done to each bot as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;bots'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List bots'
            cand add 'Add a bot (writes bots.d/NAME.toml) and start it'
            cand create 'Make a bot from a template: links to the shared code, its own copies and dirs'
            cand remove 'Stop a bot and remove its file (and with --purge its directory)'
            cand show 'Show one bot in detail'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;bots;list'= {
            cand -u 'Only bots of this owner; without a value, of the invoking Unix user'
            cand --user 'Only bots of this owner; without a value, of the invoking Unix user'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;bots;add'= {
            cand -u 'The owner'
            cand --user 'The owner'
            cand --cwd 'Working directory (default bots/OWNER/NAME under the home)'
            cand -e 'Environment variable for the bot (repeatable)'
            cand --env 'Environment variable for the bot (repeatable)'
            cand --platform 'twitter, messenger, telegram or generic'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --no-start 'Write the file but do not start the bot'
            cand --json 'Print what was done as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;bots;create'= {
            cand -u 'The owner'
            cand --user 'The owner'
            cand -t 'The template (a directory under templates/)'
            cand --template 'The template (a directory under templates/)'
            cand --set 'Override a field of the bot file (repeatable)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --no-start 'Make the bot but do not start it'
            cand --json 'Print what was done as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;bots;remove'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --purge 'Also delete the bot''s directory under bots/ (never a custom cwd)'
            cand --json 'Print what was done as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;bots;show'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;bots;help'= {
            cand list 'List bots'
            cand add 'Add a bot (writes bots.d/NAME.toml) and start it'
            cand create 'Make a bot from a template: links to the shared code, its own copies and dirs'
            cand remove 'Stop a bot and remove its file (and with --purge its directory)'
            cand show 'Show one bot in detail'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;bots;help;list'= {
        }
        &'botctl;bots;help;add'= {
        }
        &'botctl;bots;help;create'= {
        }
        &'botctl;bots;help;remove'= {
        }
        &'botctl;bots;help;show'= {
        }
        &'botctl;bots;help;help'= {
        }
        &'botctl;logs'= {
            cand -u 'Every bot of this owner'
            cand --user 'Every bot of this owner'
            cand -n 'How many lines from the end of each file (0: none, with -f only new lines)'
            cand --lines 'How many lines from the end of each file (0: none, with -f only new lines)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --all 'Every bot in bots.d'
            cand -f 'Keep printing new output as it arrives, through log rotations'
            cand --follow 'Keep printing new output as it arrives, through log rotations'
            cand --stderr 'Only standard error'
            cand --stdout 'Only standard output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;events'= {
            cand --bot 'Only this bot''s events'
            cand --user 'Only events about this owner''s bots'
            cand --since 'Only events newer than this, e.g. 30m, 1h, 2d'
            cand -n 'How many events at most (the newest); 0 with -f: only new events'
            cand --lines 'How many events at most (the newest); 0 with -f: only new events'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -f 'Keep printing new events as they happen'
            cand --follow 'Keep printing new events as they happen'
            cand --json 'Print JSON: an array, or with -f one object a line (the same object either way, times as `ts_ms` and as an RFC 3339 `time`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;reload'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;config'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;config;check'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;config;help'= {
            cand check 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;config;help;check'= {
        }
        &'botctl;config;help;help'= {
        }
        &'botctl;auth'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid'
            cand set-cookies 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;auth;check'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;auth;set-cookies'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print the check of the installed file as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;auth;help'= {
            cand check 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid'
            cand set-cookies 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;auth;help;check'= {
        }
        &'botctl;auth;help;set-cookies'= {
        }
        &'botctl;auth;help;help'= {
        }
        &'botctl;update'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --all 'Every bot with an [update] section'
            cand --json 'Print what was done to each bot as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;notify'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand test 'Send one test message to every configured channel and say what happened'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;notify;test'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;notify;help'= {
            cand test 'Send one test message to every configured channel and say what happened'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;notify;help;test'= {
        }
        &'botctl;notify;help;help'= {
        }
        &'botctl;templates'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'The templates, with the number of bots using each'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;templates;list'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;templates;help'= {
            cand list 'The templates, with the number of bots using each'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;templates;help;list'= {
        }
        &'botctl;templates;help;help'= {
        }
        &'botctl;forecast'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;storage'= {
            cand -u 'Only this owner'
            cand --user 'Only this owner'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;cleanup'= {
            cand -u 'Only this owner''s bots'
            cand --user 'Only this owner''s bots'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --force 'Remove what the plan lists (without it, nothing is deleted)'
            cand --json 'Print the plan (or, with --force, what was removed) as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;import'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand pm2 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`''s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`'
            cand supervisord 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process'
            cand bot-config 'The Messenger bot host''s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml''s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;import;pm2'= {
            cand --env 'Use the apps'' `env_NAME` section over `env` (as `pm2 start --env NAME`)'
            cand --owner 'The owner of the imported bots (default: you; for supervisord, a program''s `user=` when it is a valid owner name)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --write 'Write the bot files (without it, only show them)'
            cand --force 'With --write, overwrite bot files that already exist'
            cand --json 'Print the files (env values hidden) and what was not mapped as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;import;supervisord'= {
            cand --owner 'The owner of the imported bots (default: you; for supervisord, a program''s `user=` when it is a valid owner name)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --write 'Write the bot files (without it, only show them)'
            cand --force 'With --write, overwrite bot files that already exist'
            cand --json 'Print the files (env values hidden) and what was not mapped as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;import;bot-config'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --write 'Write botctl.toml (without it, only show the changes and the result)'
            cand --force 'With --write, replace values botctl.toml already sets differently'
            cand --json 'Print the changes, what was not mapped and the result as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;import;help'= {
            cand pm2 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`''s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`'
            cand supervisord 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process'
            cand bot-config 'The Messenger bot host''s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml''s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;import;help;pm2'= {
        }
        &'botctl;import;help;supervisord'= {
        }
        &'botctl;import;help;bot-config'= {
        }
        &'botctl;import;help;help'= {
        }
        &'botctl;export'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand systemd 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer'
            cand kubernetes 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;export;systemd'= {
            cand --out 'Where to write the files (created if needed)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print what was written and what is not kept as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;export;kubernetes'= {
            cand --image 'The container image holding the bots'' code, at their directory''s path'
            cand --out 'Where to write the files (created if needed)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print what was written and what is not kept as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;export;help'= {
            cand systemd 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer'
            cand kubernetes 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;export;help;systemd'= {
        }
        &'botctl;export;help;kubernetes'= {
        }
        &'botctl;export;help;help'= {
        }
        &'botctl;tokens'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Make a token and print it (the only time it is shown)'
            cand list 'The tokens: id, user, scope, created, expires, last used (never the token)'
            cand revoke 'Revoke a token by id: refused from then on, and its dashboard sessions end'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;tokens;create'= {
            cand -u 'The person it is for: the owner whose bots it reaches'
            cand --user 'The person it is for: the owner whose bots it reaches'
            cand --expires 'Valid for this long, e.g. 30d, 12h (default: until revoked)'
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --read-only 'Can look but not act (start, stop, restart, recover, cleanup are refused)'
            cand --admin 'Reaches every owner''s bots, the system figures, cleanup and /metrics'
            cand --json 'Print {"id", "token", ...} as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;tokens;list'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;tokens;revoke'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print the revoked token''s row as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;tokens;help'= {
            cand create 'Make a token and print it (the only time it is shown)'
            cand list 'The tokens: id, user, scope, created, expires, last used (never the token)'
            cand revoke 'Revoke a token by id: refused from then on, and its dashboard sessions end'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;tokens;help;create'= {
        }
        &'botctl;tokens;help;list'= {
        }
        &'botctl;tokens;help;revoke'= {
        }
        &'botctl;tokens;help;help'= {
        }
        &'botctl;dashboard'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print {"url": ...} as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand run 'Run the agent in the foreground (what the CLI starts in the background)'
            cand start 'Start the agent if it is not running'
            cand stop 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)'
            cand restart 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit'
            cand status 'Say whether the agent runs, without starting it'
            cand install 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it'
            cand uninstall 'Remove the systemd unit written by `agent install`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;agent;run'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;start'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;stop'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --keep-bots 'Leave the bots running; the next agent adopts them'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;restart'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;status'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;install'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --system 'A system unit in /etc/systemd/system (needs root and a home: --home or BOTCTL_HOME) instead of a user unit in ~/.config/systemd/user'
            cand --now 'Also enable and start it now (`systemctl enable --now`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;uninstall'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand --system 'The system unit instead of the user unit'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;agent;help'= {
            cand run 'Run the agent in the foreground (what the CLI starts in the background)'
            cand start 'Start the agent if it is not running'
            cand stop 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)'
            cand restart 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit'
            cand status 'Say whether the agent runs, without starting it'
            cand install 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it'
            cand uninstall 'Remove the systemd unit written by `agent install`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;agent;help;run'= {
        }
        &'botctl;agent;help;start'= {
        }
        &'botctl;agent;help;stop'= {
        }
        &'botctl;agent;help;restart'= {
        }
        &'botctl;agent;help;status'= {
        }
        &'botctl;agent;help;install'= {
        }
        &'botctl;agent;help;uninstall'= {
        }
        &'botctl;agent;help;help'= {
        }
        &'botctl;completions'= {
            cand --home 'Put everything (config, bots, logs, state, socket) under this directory'
            cand --host 'Run the command against the agent on another host, over ssh: an ssh://user@host[:port] address or a host named in hosts.toml (see `botctl status --hosts`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'botctl;help'= {
            cand status 'Show the agent and every bot (or the ones named): state, pid, uptime, restarts, last exit. Exits 0 when every bot is where it is wanted, 1 when something needs attention'
            cand top 'A live full-screen view of the fleet: CPU and memory with sparklines, logs, actions'
            cand start 'Start bots'
            cand stop 'Stop bots (SIGTERM to the whole process group, SIGKILL after stop_timeout)'
            cand restart 'Restart bots'
            cand recover 'Retry failed bots now instead of after their cool-down (all failing bots by default)'
            cand bots 'Add, remove, list and inspect bots'
            cand logs 'Show bots'' output (logs/BOT.out and logs/BOT.err), read straight from the files'
            cand events 'Show the event history: starts, exits, restarts, backoff, failures, config errors'
            cand reload 'Re-read botctl.toml and bots.d: start new bots, apply changes, stop removed ones'
            cand config 'Check the configuration files'
            cand auth 'Session cookies of bots with an [auth] section: check them, install new ones'
            cand update 'Update bots'' code (`git pull --ff-only` in the bot''s directory, or its update_command) and restart them; a failed update leaves the old code running'
            cand notify 'Alerts: send a test message through the configured channels'
            cand templates 'Shared bot code that `bots create` makes bots from'
            cand forecast 'What will break next, soonest first: bots whose memory grows towards max_memory_mb, the host''s disk and memory growing towards their thresholds, expiring sessions'
            cand storage 'Disk use per owner against quotas, and what template links save'
            cand cleanup 'Show what is garbage (old temp files, orphaned bot dirs, dangling links, old logs, stale records); --force removes it'
            cand import 'Bring a fleet in from PM2 or supervisord, or limits from the Messenger bot host''s JSON: shows what it would write and what does not map; --write writes'
            cand export 'Hand bots to systemd units or Kubernetes manifests, saying what each target does not keep'
            cand tokens 'Make, list and revoke tokens for the HTTP API and the dashboard'
            cand dashboard 'Print the dashboard''s address ([remote.http] listen, https when TLS is set)'
            cand agent 'Control the agent itself'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish or powershell)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'botctl;help;status'= {
        }
        &'botctl;help;top'= {
        }
        &'botctl;help;start'= {
        }
        &'botctl;help;stop'= {
        }
        &'botctl;help;restart'= {
        }
        &'botctl;help;recover'= {
        }
        &'botctl;help;bots'= {
            cand list 'List bots'
            cand add 'Add a bot (writes bots.d/NAME.toml) and start it'
            cand create 'Make a bot from a template: links to the shared code, its own copies and dirs'
            cand remove 'Stop a bot and remove its file (and with --purge its directory)'
            cand show 'Show one bot in detail'
        }
        &'botctl;help;bots;list'= {
        }
        &'botctl;help;bots;add'= {
        }
        &'botctl;help;bots;create'= {
        }
        &'botctl;help;bots;remove'= {
        }
        &'botctl;help;bots;show'= {
        }
        &'botctl;help;logs'= {
        }
        &'botctl;help;events'= {
        }
        &'botctl;help;reload'= {
        }
        &'botctl;help;config'= {
            cand check 'Parse botctl.toml and every bots.d file and report problems (never starts an agent)'
        }
        &'botctl;help;config;check'= {
        }
        &'botctl;help;auth'= {
            cand check 'Check sessions now: a line per bot with outcome, expiry, time left, last probe. Exits 1 when any session is invalid'
            cand set-cookies 'Validate a cookie file and install it for a bot (mode 0600), then check it; a bot stopped for an invalid session starts again once it is valid'
        }
        &'botctl;help;auth;check'= {
        }
        &'botctl;help;auth;set-cookies'= {
        }
        &'botctl;help;update'= {
        }
        &'botctl;help;notify'= {
            cand test 'Send one test message to every configured channel and say what happened'
        }
        &'botctl;help;notify;test'= {
        }
        &'botctl;help;templates'= {
            cand list 'The templates, with the number of bots using each'
        }
        &'botctl;help;templates;list'= {
        }
        &'botctl;help;forecast'= {
        }
        &'botctl;help;storage'= {
        }
        &'botctl;help;cleanup'= {
        }
        &'botctl;help;import'= {
            cand pm2 'PM2 apps: an ecosystem file (.json, or .js/.cjs/.mjs evaluated by node), `pm2 jlist` output or `pm2 save`''s dump (~/.pm2/dump.pm2). One bot per app, NAME-0..N-1 for `instances`'
            cand supervisord 'supervisord programs: `[program:x]` sections of these files and of the files their `[include]` names; `numprocs` makes one bot per process'
            cand bot-config 'The Messenger bot host''s JSON configuration (resourceManagement, storageOptimization, botRecovery) merged into botctl.toml''s [limits], [restart], [logs], [cleanup] and [agent], keeping the rest of the file'
        }
        &'botctl;help;import;pm2'= {
        }
        &'botctl;help;import;supervisord'= {
        }
        &'botctl;help;import;bot-config'= {
        }
        &'botctl;help;export'= {
            cand systemd 'One systemd service per bot (bot-NAME.service), its env values in bot-NAME.env (0600), its restart schedule as bot-NAME-restart.timer'
            cand kubernetes 'Per bot a Deployment and a PersistentVolumeClaim (NAME.yaml), and a Secret with its env values and cookie file (NAME-secret.yaml, 0600)'
        }
        &'botctl;help;export;systemd'= {
        }
        &'botctl;help;export;kubernetes'= {
        }
        &'botctl;help;tokens'= {
            cand create 'Make a token and print it (the only time it is shown)'
            cand list 'The tokens: id, user, scope, created, expires, last used (never the token)'
            cand revoke 'Revoke a token by id: refused from then on, and its dashboard sessions end'
        }
        &'botctl;help;tokens;create'= {
        }
        &'botctl;help;tokens;list'= {
        }
        &'botctl;help;tokens;revoke'= {
        }
        &'botctl;help;dashboard'= {
        }
        &'botctl;help;agent'= {
            cand run 'Run the agent in the foreground (what the CLI starts in the background)'
            cand start 'Start the agent if it is not running'
            cand stop 'Stop the bots, then the agent (under the botctl.service unit, also the unit, through systemctl)'
            cand restart 'Replace the agent (after an upgrade); the bots keep running and are adopted. Under the botctl.service unit this is `systemctl restart` of the unit'
            cand status 'Say whether the agent runs, without starting it'
            cand install 'Write a systemd unit that runs the agent at boot (a user unit; --system for a system unit) and print the command that enables it'
            cand uninstall 'Remove the systemd unit written by `agent install`'
        }
        &'botctl;help;agent;run'= {
        }
        &'botctl;help;agent;start'= {
        }
        &'botctl;help;agent;stop'= {
        }
        &'botctl;help;agent;restart'= {
        }
        &'botctl;help;agent;status'= {
        }
        &'botctl;help;agent;install'= {
        }
        &'botctl;help;agent;uninstall'= {
        }
        &'botctl;help;completions'= {
        }
        &'botctl;help;help'= {
        }
    ]
    $completions[$command]
}
