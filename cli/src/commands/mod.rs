//! One module per command; `run` dispatches.

mod agent;
mod auth;
mod bots;
mod cleanup;
mod completions;
mod config;
mod control;
mod dashboard;
mod events;
mod export;
mod forecast;
mod import;
mod logs;
mod notify;
mod ready;
mod reload;
mod status;
mod stdio;
mod storage;
mod templates;
mod tokens;
mod update;

use crate::CliError;
use crate::args::{
    AgentCommand, AuthCommand, BotsCommand, Command, ConfigCommand, ExportCommand, ImportArgs,
    ImportCommand, NameKind, NotifyCommand, TemplatesCommand, TokensCommand,
};
use crate::client::Target;

/// Where a command does its work when `--host` names another machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Here, whatever `--host` says (completion scripts, docs, the agent itself, the bridge).
    Here,
    /// Calls to the host's agent, over ssh.
    Agent,
    /// Run whole on the host (`botctl` there): it reads the host's files or manages its agent.
    There,
    /// Not over ssh; the reason says what to do instead.
    Refused(&'static str),
}

pub fn reach(command: &Command) -> Reach {
    match command {
        Command::Completions { .. }
        | Command::GenerateDocs { .. }
        | Command::Stdio { .. }
        | Command::Complete {
            kind: NameKind::Hosts,
        }
        | Command::Agent {
            command: AgentCommand::Run,
        } => Reach::Here,
        // Several hosts are named by `--hosts`, each reached on its own.
        Command::Status(s) if !s.hosts.is_empty() || s.all_hosts => Reach::Here,
        Command::Logs { .. } | Command::Config { .. } | Command::Agent { .. } => Reach::There,
        Command::Import { .. } => Reach::Refused(
            "`import` reads FILE and writes bots.d (or botctl.toml) here: copy FILE to the host (scp) and run `botctl import` there",
        ),
        Command::Export { .. } => Reach::Refused(
            "`export` writes its files here from this machine's bots.d: run `botctl export` on the host (ssh HOST botctl export ...) and copy --out back",
        ),
        Command::Auth {
            command: AuthCommand::SetCookies { .. },
        } => Reach::Refused(
            "`auth set-cookies` reads FILE where the agent runs: copy it to the host (scp) and run `botctl auth set-cookies` there",
        ),
        _ => Reach::Agent,
    }
}

pub async fn run(command: Command, target: &Target) -> Result<(), CliError> {
    match command {
        Command::Status(s) => status::run(target, s).await,
        Command::Top => crate::top::run(target).await,
        Command::Start(s) => control::start(target, botctl_proto::Action::Start, s).await,
        Command::Stop(s) => control::run(target, botctl_proto::Action::Stop, s).await,
        Command::Restart(s) => control::start(target, botctl_proto::Action::Restart, s).await,
        Command::Recover { bots, json } => control::recover(target, bots, json).await,
        Command::Bots { command } => match command {
            BotsCommand::List { user, json } => bots::list(target, user, json).await,
            BotsCommand::Add {
                name,
                user,
                cwd,
                env,
                platform,
                no_start,
                json,
                command,
            } => {
                let add = bots::AddArgs {
                    name,
                    user,
                    cwd,
                    env,
                    platform,
                    start: !no_start,
                    command,
                };
                bots::add(target, add, json).await
            }
            BotsCommand::Create {
                name,
                user,
                template,
                sets,
                no_start,
                json,
            } => {
                let req = botctl_proto::CreateBot {
                    name,
                    owner: user,
                    template,
                    sets: Vec::new(),
                    start: !no_start,
                };
                bots::create(target, req, sets, json).await
            }
            BotsCommand::Remove { name, purge, json } => {
                bots::remove(target, name, purge, json).await
            }
            BotsCommand::Show { name, json } => bots::show(target, name, json).await,
        },
        Command::Logs {
            bots,
            all,
            user,
            lines,
            follow,
            stderr,
            stdout,
        } => {
            let which = if all {
                logs::Which::All
            } else if let Some(owner) = user {
                logs::Which::Owner(owner)
            } else {
                logs::Which::Bots(bots)
            };
            let streams = logs::Streams {
                stdout: !stderr,
                stderr: !stdout,
            };
            logs::run(target, which, lines, follow, streams)
        }
        Command::Events {
            bot,
            user,
            since,
            lines,
            follow,
            json,
        } => events::run(target, bot, user, since, lines, follow, json).await,
        Command::Reload(f) => reload::run(target, f.json).await,
        Command::Config {
            command: ConfigCommand::Check(f),
        } => config::check(target, f.json),
        Command::Import { command } => match command {
            ImportCommand::Pm2 { file, env, args } => {
                import::pm2(target, &file, env.as_deref(), &options(args))
            }
            ImportCommand::Supervisord { files, args } => {
                import::supervisord(target, &files, &options(args))
            }
            ImportCommand::BotConfig {
                file,
                write,
                force,
                json,
            } => import::bot_config(target, &file, write, force, json),
        },
        Command::Export { command } => match command {
            ExportCommand::Systemd { bots, out, json } => {
                export::run(target, export::Kind::Systemd, &bots, &out, None, json)
            }
            ExportCommand::Kubernetes {
                bots,
                image,
                out,
                json,
            } => export::run(
                target,
                export::Kind::Kubernetes,
                &bots,
                &out,
                Some(&image),
                json,
            ),
        },
        Command::Agent { command } => agent::run(target, command).await,
        Command::Auth { command } => match command {
            AuthCommand::Check { bots, json } => auth::check(target, bots, json).await,
            AuthCommand::SetCookies { bot, file, json } => {
                auth::set_cookies(target, bot, file, json).await
            }
        },
        Command::Update { bots, all, json } => update::run(target, bots, all, json).await,
        Command::Notify {
            command: NotifyCommand::Test { message },
        } => notify::test(target, message).await,
        Command::Templates {
            command: TemplatesCommand::List(f),
        } => templates::list(target, f.json).await,
        Command::Forecast { json } => forecast::run(target, json).await,
        Command::Storage { user, json } => storage::run(target, user, json).await,
        Command::Cleanup { force, user, json } => cleanup::run(target, force, user, json).await,
        Command::Tokens { command } => match command {
            TokensCommand::Create {
                user,
                expires,
                read_only,
                admin,
                json,
            } => tokens::create(target, user, expires, read_only, admin, json).await,
            TokensCommand::List(f) => tokens::list(target, f.json).await,
            TokensCommand::Revoke { id, json } => tokens::revoke(target, id, json).await,
        },
        Command::Dashboard { json } => dashboard::run(target, json),
        Command::Completions { shell } => {
            completions::run(shell);
            Ok(())
        }
        Command::Complete { kind } => completions::names(target, kind).await,
        Command::GenerateDocs { dir } => completions::generate_docs(&dir),
        Command::Stdio {
            no_start,
            called,
            args,
        } => stdio::run(target, no_start, called, args).await,
    }
}

fn options(args: ImportArgs) -> import::Options {
    import::Options {
        owner: args.owner,
        write: args.write,
        force: args.force,
        json: args.json,
    }
}
