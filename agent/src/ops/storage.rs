//! `storage`: disk use per owner against the quotas; an owner sees its own line only.

use botctl_proto::StorageReport;

use super::{Ops, Who};

pub fn storage(ops: &Ops, who: &Who, owner: Option<String>) -> StorageReport {
    let owner = who.caller.narrow(owner);
    crate::loops::cleanup::storage_report(&ops.ctx, &ops.fleet, owner.as_deref())
}
