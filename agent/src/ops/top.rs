//! `botctl top`: one answer per refresh with `status`, the agent's own cost and the bots'
//! recent samples, all read from memory the sampler keeps (no /proc, no store).

use botctl_proto::{AgentInfo, TopReport};

use super::{Ops, Who};

pub fn top(ops: &Ops, who: &Who, agent: AgentInfo) -> TopReport {
    let status = super::show::status(ops, who, agent);
    let recent = ops.ctx.recent.lock().unwrap();
    // The caller's bots are those `status` listed: an owner never sees another's figures.
    let visible: std::collections::HashSet<&str> =
        status.bots.iter().map(|b| b.name.as_str()).collect();
    let figures = recent.figures(|name| visible.contains(name));
    let usage = recent.agent;
    drop(recent);
    TopReport {
        status,
        usage,
        recent: figures,
    }
}
