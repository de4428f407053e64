//! `storage`: disk use per owner against the quotas; an owner sees its own line only.

use std::sync::Arc;

use botctl_proto::StorageReport;

use super::{Ops, Who};

/// Measuring the owners' directories is blocking work: off the runtime.
pub async fn storage(ops: &Arc<Ops>, who: &Who, owner: Option<String>) -> StorageReport {
    let owner = who.caller.narrow(owner);
    let ops = ops.clone();
    crate::util::off_runtime(move || {
        crate::loops::cleanup::storage_report(&ops.ctx, &ops.fleet, owner.as_deref())
    })
    .await
}
