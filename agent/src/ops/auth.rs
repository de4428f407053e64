//! `auth check` and `auth set-cookies`: sessions checked now, and a cookie file validated,
//! installed (0600, atomically) and checked.

use botctl_proto::{AuthReport, RpcError};

use super::{Ops, Who};
use crate::events::{Event, EventKind};
use crate::loops::auth::auth_bots;

pub async fn check(ops: &Ops, who: &Who, bots: Vec<String>) -> Result<Vec<AuthReport>, RpcError> {
    let names = if bots.is_empty() {
        let mut names = auth_bots(&ops.fleet);
        names.retain(|n| ops.bot(who, n).is_ok());
        names
    } else {
        for name in &bots {
            if ops.bot(who, name)?.config.auth.is_none() {
                return Err(RpcError::invalid(format!(
                    "{name} has no [auth] section in its bot file: nothing to check"
                )));
            }
        }
        bots
    };
    Ok(ops.auth.check(&names).await)
}

pub async fn set_cookies(
    ops: &Ops,
    who: &Who,
    bot: String,
    file: String,
) -> Result<AuthReport, RpcError> {
    let handle = ops.bot(who, &bot)?;
    let config = handle.config.clone();
    let Some(auth) = &config.auth else {
        return Err(RpcError::invalid(format!(
            "{bot} has no [auth] section: add one with cookies = \"cookies.json\" first"
        )));
    };
    let dest = crate::storage::bot_cwd(&ops.ctx.paths, &config).join(&auth.cookies);
    let source = std::path::PathBuf::from(&file);
    tokio::task::spawn_blocking(move || crate::auth::install_cookies(&source, &dest))
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
        .map_err(RpcError::invalid)?;
    ops.ctx.record(
        Event::new(
            EventKind::AuthCookies,
            format!("new cookie file installed as {}", auth.cookies),
        )
        .of(&bot, &config.user)
        .by(&who.actor),
    );
    let mut reports = ops.auth.check(std::slice::from_ref(&bot)).await;
    reports
        .pop()
        .ok_or_else(|| RpcError::internal("the check did not run"))
}
