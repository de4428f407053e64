//! The agent itself: `hello` (version check), `notify test`, and `agent stop` (bots stopped
//! or left running for the next agent).

use std::time::Duration;

use botctl_proto::{
    AgentInfo, ClientHello, ErrorKind, PROTOCOL_VERSION, RpcError, ShutdownReport, VERSION, now_ms,
};

use super::{Ops, Who};

/// What `hello` says about the agent: known before it opens anything, so that it answers
/// while its database opens and its fleet loads.
#[derive(Clone)]
pub struct Identity {
    pub started_at_ms: i64,
    pub home: std::path::PathBuf,
}

impl Identity {
    pub fn of(ops: &Ops) -> Identity {
        Identity {
            started_at_ms: ops.ctx.started_at_ms,
            home: ops.ctx.paths.home.clone(),
        }
    }
}

pub fn info(agent: &Identity) -> AgentInfo {
    AgentInfo {
        pid: std::process::id(),
        version: VERSION.to_string(),
        protocol: PROTOCOL_VERSION,
        started_at_ms: agent.started_at_ms,
        uptime_secs: ((now_ms() - agent.started_at_ms).max(0) / 1000) as u64,
        home: agent.home.display().to_string(),
        host: botctl_proto::hostname(),
        containment: crate::contain::info(),
    }
}

/// Checks the client's protocol: a CLI of another version is told to replace the agent.
pub fn hello(agent: &Identity, client: ClientHello) -> Result<AgentInfo, RpcError> {
    if client.protocol != PROTOCOL_VERSION {
        return Err(RpcError::new(
            ErrorKind::VersionMismatch,
            format!(
                "the running agent is botctl {VERSION} (protocol {PROTOCOL_VERSION}) but this command is botctl {} (protocol {}): run `botctl agent restart` to replace the agent (bots keep running)",
                client.version, client.protocol
            ),
        ));
    }
    Ok(info(agent))
}

pub async fn notify_test(ops: &Ops, who: &Who, message: String) -> Result<String, RpcError> {
    who.caller.admin_only("send a test notification")?;
    ops.ctx
        .notifier()
        .test(message, Duration::from_secs(30))
        .await
        .map_err(RpcError::invalid)
}

pub async fn shutdown(ops: &Ops, who: &Who, keep_bots: bool) -> Result<ShutdownReport, RpcError> {
    who.caller.admin_only("stop the agent")?;
    let report = ops.fleet.shutdown(keep_bots, &who.actor).await;
    // Give this reply a moment to reach the client before the agent exits.
    let shutdown = ops.shutdown.clone();
    let by = who.actor.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.request(by);
    });
    Ok(report)
}
