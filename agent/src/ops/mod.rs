//! The agent's use cases, one module each: every op takes the agent (`Ops`), who is asking
//! (`Who`: the Caller and the Actor) and a typed request, and answers a typed reply.
//!
//! The socket, Telegram and the HTTP listener are doors into these rooms: nothing else
//! reaches the fleet for a person. An owner sees and acts on its own bots only; another
//! owner's bot answers exactly like a missing one.

pub mod add;
pub mod agent;
pub mod auth;
pub mod cleanup;
pub mod control;
pub mod create;
pub mod events;
pub mod forecast;
pub mod logs;
pub mod reload;
pub mod remove;
pub mod resources;
pub mod show;
pub mod storage;
pub mod templates;
pub mod tokens;
pub mod top;
pub mod update;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use botctl_proto::config::GlobalConfig;
use botctl_proto::{ErrorKind, RpcError};

use crate::bot::BotHandle;
use crate::context::{Context, Shutdown};
use crate::events::Actor;
use crate::fleet::Fleet;
use crate::loops::auth::Monitor;

/// Whose request it is: an admin (the local socket, Telegram admins, the GitHub webhook)
/// or one owner, who sees only its own bots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Owner(String),
}

impl Caller {
    /// Whether this caller may see a bot of `owner`.
    pub fn sees(&self, owner: &str) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Owner(me) => me == owner,
        }
    }

    /// The owner this caller is limited to, if any.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Caller::Admin => None,
            Caller::Owner(me) => Some(me),
        }
    }

    /// Refuses what only an admin may do.
    pub fn admin_only(&self, what: &str) -> Result<(), RpcError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Owner(_) => Err(RpcError::new(
                ErrorKind::Invalid,
                format!("only an admin may {what}"),
            )),
        }
    }

    /// The owner filter of a request, narrowed to the caller's own.
    pub fn narrow(&self, wanted: Option<String>) -> Option<String> {
        match self {
            Caller::Admin => wanted,
            Caller::Owner(me) => Some(me.clone()),
        }
    }
}

/// Who is asking, decided once at the door: what it may do (`caller`) and what events name
/// (`actor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub caller: Caller,
    pub actor: Actor,
}

impl Who {
    pub fn admin(actor: Actor) -> Who {
        Who {
            caller: Caller::Admin,
            actor,
        }
    }
}

/// What the ops work with.
pub struct Ops {
    pub ctx: Arc<Context>,
    pub fleet: Arc<Fleet>,
    pub auth: Arc<Monitor>,
    pub shutdown: Arc<Shutdown>,
    /// Re-applies the services (notifier, summary, remote) after the configuration changed;
    /// they live above the ops, so they are reached through this.
    pub reconfigure: Box<dyn Fn(&GlobalConfig) + Send + Sync>,
    /// The rows of `status` and `bots list`, shared between answers.
    pub rows: show::SharedRows,
}

impl Ops {
    /// A bot this caller may see, or the same error a missing bot gives.
    pub fn bot(&self, who: &Who, name: &str) -> Result<BotHandle, RpcError> {
        self.fleet
            .handle(name)
            .filter(|h| who.caller.sees(h.owner()))
            .ok_or_else(|| no_such_bot(name))
    }
}

pub fn no_such_bot(name: &str) -> RpcError {
    RpcError::not_found(format!(
        "no bot named {name}: `botctl bots list` shows the fleet"
    ))
}

/// The same error text for a malformed config error of a request's bot file.
pub(crate) fn config_error_text(e: &botctl_proto::config::ConfigError) -> String {
    match &e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message.clone(),
    }
}
