//! What an owner has against its limits (bots, storage, CPU, memory) with its recovery
//! statistics, and the admin's system view: host, agent, every owner, the fleet's recovery.

use std::collections::BTreeMap;
use std::sync::Arc;

use botctl_proto::{AgentInfo, AgentUsage, BotInfo, BotState, ConfigIssue, HostInfo, RpcError};
use serde::Serialize;

use super::{Ops, Who};

/// What supervision had to do for a set of bots, from the retained events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecoveryStats {
    /// Restarts the agent did since each bot was added (or the agent's history began).
    pub restarts: u64,
    /// Exits nobody asked for.
    pub crashes: u64,
    /// Restarts for limits, host pressure or failing health checks.
    pub forced_restarts: u64,
    /// Of the crashes and forced restarts, those after which the bot ran again.
    pub recoveries: u64,
    pub mean_time_to_recovery_ms: Option<u64>,
    /// recoveries / (crashes + forced restarts); None when nothing went down.
    pub success_rate: Option<f64>,
}

/// One owner's use against its limits.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerResources {
    pub owner: String,
    pub bots: u32,
    pub running: u32,
    pub max_bots: u32,
    pub storage_bytes: u64,
    pub quota_bytes: u64,
    pub over_quota: bool,
    /// Sum over its bots, % of one core.
    pub cpu_percent: f32,
    pub memory_bytes: u64,
    pub recovery: RecoveryStats,
}

/// The admin's view of the whole system.
#[derive(Debug, Clone, Serialize)]
pub struct System {
    pub agent: AgentInfo,
    /// The agent's own CPU and memory (None until the first sample).
    pub agent_usage: Option<AgentUsage>,
    pub host: Option<HostInfo>,
    pub bots: usize,
    pub running: usize,
    pub failed: usize,
    pub owners: Vec<OwnerResources>,
    pub recovery: RecoveryStats,
    pub config_issues: Vec<ConfigIssue>,
}

/// Every owner the caller sees (an owner: itself), with its use and statistics.
pub async fn resources(ops: &Arc<Ops>, who: &Who) -> Vec<OwnerResources> {
    let bots = super::show::rows(ops, who, None);
    owners(ops, who, &bots).await
}

async fn owners(ops: &Arc<Ops>, who: &Who, bots: &[BotInfo]) -> Vec<OwnerResources> {
    let storage = super::storage::storage(ops, who, None).await;
    let global = ops.fleet.global();
    let mut by_owner: BTreeMap<&str, Vec<&BotInfo>> = BTreeMap::new();
    for b in bots.iter().filter(|b| b.state != BotState::ConfigError) {
        by_owner.entry(&b.owner).or_default().push(b);
    }
    if let Some(me) = who.caller.owner() {
        by_owner.entry(me).or_default();
    }
    let mut out = Vec::new();
    for (owner, bots) in by_owner {
        let disk = storage.owners.iter().find(|o| o.owner == owner);
        out.push(OwnerResources {
            owner: owner.to_string(),
            bots: bots.len() as u32,
            running: bots.iter().filter(|b| b.state == BotState::Running).count() as u32,
            max_bots: global.max_bots_for(owner),
            storage_bytes: disk.map_or(0, |d| d.bytes_used),
            quota_bytes: global.storage_quota_for(owner) * 1024 * 1024,
            over_quota: disk.is_some_and(|d| d.over_quota),
            cpu_percent: bots.iter().filter_map(|b| b.cpu_percent).sum(),
            memory_bytes: bots.iter().filter_map(|b| b.memory_bytes).sum(),
            recovery: recovery(ops, &bots).await,
        });
    }
    out
}

/// The recovery statistics of these bots, summed.
pub async fn recovery(ops: &Ops, bots: &[&BotInfo]) -> RecoveryStats {
    let mut stats = RecoveryStats::default();
    let mut recovery_ms: u64 = 0;
    for b in bots {
        let r = ops.ctx.store.recovery(&b.name).await.unwrap_or_default();
        stats.restarts += u64::from(b.restarts);
        stats.crashes += u64::from(r.crashes);
        stats.forced_restarts += u64::from(r.limit_restarts + r.health_restarts);
        stats.recoveries += u64::from(r.recoveries);
        recovery_ms += r.mean_time_to_recovery_ms.unwrap_or(0) * u64::from(r.recoveries);
    }
    stats.mean_time_to_recovery_ms = recovery_ms.checked_div(stats.recoveries);
    let down = stats.crashes + stats.forced_restarts;
    if down > 0 {
        stats.success_rate = Some((stats.recoveries as f64 / down as f64).min(1.0));
    }
    stats
}

pub async fn system(ops: &Arc<Ops>, who: &Who) -> Result<System, RpcError> {
    who.caller.admin_only("see the system view")?;
    let agent = super::agent::info(&super::agent::Identity::of(ops));
    let status = super::show::status(ops, who, agent);
    let visible: Vec<&BotInfo> = status.bots.iter().collect();
    let recovery = recovery(ops, &visible).await;
    let owners = owners(ops, who, &status.bots).await;
    let count = |s: BotState| status.bots.iter().filter(|b| b.state == s).count();
    Ok(System {
        agent_usage: ops.ctx.recent.lock().unwrap().agent,
        host: status.host.clone(),
        bots: status.bots.len(),
        running: count(BotState::Running),
        failed: count(BotState::Failed),
        owners,
        recovery,
        config_issues: status.config_issues,
        agent: status.agent,
    })
}
