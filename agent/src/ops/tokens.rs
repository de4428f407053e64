//! `tokens create|list|revoke`: the HTTP API's tokens, an admin's business only; each made or
//! revoked token is an event that names its id and user, never its value.

use botctl_proto::{CreatedToken, NewToken, RpcError, TokenInfo, human};

use super::{Ops, Who};
use crate::events::{Event, EventKind};

pub fn create(ops: &Ops, who: &Who, req: NewToken) -> Result<CreatedToken, RpcError> {
    who.caller.admin_only("make API tokens")?;
    let made = ops.ctx.tokens.create(req)?;
    let t = &made.info;
    let expires = match t.expires_ms {
        Some(ms) => format!("expires {}", human::rfc3339(ms)),
        None => "does not expire".to_string(),
    };
    ops.ctx.record(
        Event::new(
            EventKind::TokenCreated,
            format!(
                "token {} made for {} ({}; {expires})",
                t.id,
                t.user,
                t.scope()
            ),
        )
        .by(&who.actor),
    );
    Ok(made)
}

pub fn list(ops: &Ops, who: &Who) -> Result<Vec<TokenInfo>, RpcError> {
    who.caller.admin_only("list API tokens")?;
    Ok(ops.ctx.tokens.list())
}

pub fn revoke(ops: &Ops, who: &Who, id: &str) -> Result<TokenInfo, RpcError> {
    who.caller.admin_only("revoke API tokens")?;
    let t = ops.ctx.tokens.revoke(id)?;
    ops.ctx.record(
        Event::new(
            EventKind::TokenRevoked,
            format!("token {} of {} revoked ({})", t.id, t.user, t.scope()),
        )
        .by(&who.actor),
    );
    Ok(t)
}
