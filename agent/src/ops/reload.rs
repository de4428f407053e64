//! `reload` (and SIGHUP): botctl.toml and bots.d read again and applied to the fleet, then
//! the services re-applied from the new settings.

use botctl_proto::{ReloadReport, RpcError};

use super::{Ops, Who};
use crate::events::{Event, EventKind};

pub async fn reload(ops: &Ops, who: &Who) -> Result<ReloadReport, RpcError> {
    who.caller.admin_only("reload the configuration")?;
    let report = ops.fleet.reload().await;
    // The loops that wait out an interval re-count it from their last run at once.
    ops.ctx.reloads.announce();
    (ops.reconfigure)(&ops.fleet.global());
    Ok(report)
}

/// SIGHUP: a reload recorded as an event (the RPC's answer is its record).
pub async fn on_hangup(ops: &Ops, who: &Who) {
    if let Ok(report) = reload(ops, who).await {
        ops.ctx.record(
            Event::new(
                EventKind::Reload,
                format!(
                    "reload on SIGHUP: {} added, {} changed, {} removed, {} config problems",
                    report.added.len(),
                    report.changed.len(),
                    report.removed.len(),
                    report.issues.len()
                ),
            )
            .by(&who.actor),
        );
    }
}
