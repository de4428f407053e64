//! `cleanup` and `cleanup --force`: the plan, and the removal of what is still in a fresh
//! plan; an owner's plan holds only its own files.

use botctl_proto::{CleanupItem, CleanupReport};

use super::{Ops, Who};
use crate::loops::cleanup;

pub async fn plan(ops: &Ops, who: &Who, owner: Option<String>) -> CleanupReport {
    let owner = who.caller.narrow(owner);
    let items = cleanup::plan(&ops.ctx, &ops.fleet, owner.as_deref()).await;
    CleanupReport {
        bytes: items.iter().map(|i| i.bytes).sum(),
        items,
        failed: Vec::new(),
    }
}

pub async fn apply(ops: &Ops, who: &Who, items: Vec<CleanupItem>) -> CleanupReport {
    // What an owner may remove is what its own fresh plan holds: anything else is left alone.
    let fresh = cleanup::plan(&ops.ctx, &ops.fleet, who.caller.owner()).await;
    cleanup::apply(&ops.ctx, &ops.fleet, items, &fresh, &who.actor).await
}
