//! `botctl forecast`: what will break next, soonest first: the sampler's forecasts (bot
//! memory, host disk and memory) and the sessions the auth monitor sees expiring.

use std::time::Duration;

use botctl_proto::{AuthReport, BotInfo, Forecast, ForecastKind, now_ms};

use super::{Ops, Who};

/// Every forecast the caller may see, soonest first. An owner sees its own bots' only: the
/// host is the admin's, like the files and the store in `status`.
pub fn list(ops: &Ops, who: &Who) -> Vec<Forecast> {
    let mut out: Vec<Forecast> = {
        let published = ops.ctx.forecasts.lock().unwrap();
        let bots = published
            .bots
            .values()
            .filter(|f| f.owner.as_deref().is_some_and(|o| who.caller.sees(o)));
        let host = published
            .host
            .iter()
            .filter(|_| who.caller.owner().is_none());
        bots.chain(host).cloned().collect()
    };
    let now = now_ms();
    out.extend(
        ops.auth
            .expiring()
            .iter()
            .filter(|r| who.caller.sees(&r.owner))
            .filter_map(|r| session(r, now)),
    );
    out.sort_by_key(|f| f.at_ms);
    out
}

/// A session the auth monitor found expiring, as a forecast.
fn session(r: &AuthReport, now: i64) -> Option<Forecast> {
    let at_ms = r.expires_at_ms?;
    let left = Duration::from_millis((at_ms - now).max(0) as u64);
    Some(Forecast {
        kind: ForecastKind::Session,
        bot: Some(r.bot.clone()),
        owner: Some(r.owner.clone()),
        at_ms,
        made_at_ms: r.checked_at_ms,
        bytes_per_hour: None,
        current_bytes: None,
        limit_bytes: None,
        message: format!("session expires in {}", botctl_proto::human::duration(left)),
    })
}

/// Puts each running bot's memory forecast on its row (`status`, `bots list`, `bots show`).
pub fn attach(ops: &Ops, rows: &mut [BotInfo]) {
    let published = ops.ctx.forecasts.lock().unwrap();
    if published.bots.is_empty() {
        return;
    }
    for row in rows {
        row.forecast = published.bots.get(&row.name).cloned();
    }
}
