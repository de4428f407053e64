//! `events`: the history from the store; an owner reads the events of its own bots only.

use botctl_proto::{EventQuery, EventRecord, RpcError};

use super::{Ops, Who};

pub async fn events(
    ops: &Ops,
    who: &Who,
    mut query: EventQuery,
) -> Result<Vec<EventRecord>, RpcError> {
    query.owner = who.caller.narrow(query.owner);
    ops.ctx
        .store
        .events(query)
        .await
        .map_err(|e| RpcError::internal(format!("reading events: {e:#}")))
}
