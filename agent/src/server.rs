//! The RPC server: the Unix socket (0600 in a 0700 dir), the peer-uid check, and the tarpc
//! handlers, each a thin call into the fleet.

use std::sync::Arc;

use botctl_proto::{
    Action, ActionReport, AddBot, Agent, AgentInfo, AuthReport, BotDetail, BotInfo, BotOutcome,
    CleanupItem, CleanupReport, ClientHello, CreateBot, EventQuery, EventRecord, MAX_FRAME_BYTES,
    PROTOCOL_VERSION, ReloadReport, RpcError, ShutdownReport, StatusReport, StorageReport, Target,
    TemplateInfo, VERSION, now_ms,
};
use botctl_proto::{AgentRequest, AgentResponse};
use futures::StreamExt;
use tarpc::ServerError;
use tarpc::context::Context as RpcContext;
use tarpc::server::{BaseChannel, Channel, Serve};
use tarpc::tokio_serde::formats::Bincode;
use tokio::net::UnixListener;
use tokio_util::codec::LengthDelimitedCodec;

use crate::fleet::Fleet;
use crate::{Context, Shutdown};

#[derive(Clone)]
pub struct Handler {
    pub ctx: Arc<Context>,
    pub fleet: Arc<Fleet>,
    pub shutdown: Arc<Shutdown>,
    pub auth: Arc<crate::auth::Monitor>,
    pub services: Arc<crate::services::Services>,
}

/// What `hello` says about the agent: known before it opens anything, so that it answers
/// while its database opens and its fleet loads.
#[derive(Clone)]
pub struct Identity {
    pub started_at_ms: i64,
    pub home: std::path::PathBuf,
}

impl Identity {
    fn of(ctx: &Context) -> Identity {
        Identity {
            started_at_ms: ctx.started_at_ms,
            home: ctx.paths.home.clone(),
        }
    }
}

fn hello(agent: &Identity, client: &ClientHello) -> Result<AgentInfo, RpcError> {
    if client.protocol != PROTOCOL_VERSION {
        return Err(RpcError::new(
            botctl_proto::ErrorKind::VersionMismatch,
            format!(
                "the running agent is botctl {VERSION} (protocol {PROTOCOL_VERSION}) but this command is botctl {} (protocol {}): run `botctl agent restart` to replace the agent (bots keep running)",
                client.version, client.protocol
            ),
        ));
    }
    Ok(info(agent))
}

fn info(agent: &Identity) -> AgentInfo {
    AgentInfo {
        pid: std::process::id(),
        version: VERSION.to_string(),
        protocol: PROTOCOL_VERSION,
        started_at_ms: agent.started_at_ms,
        uptime_secs: ((now_ms() - agent.started_at_ms).max(0) / 1000) as u64,
        home: agent.home.display().to_string(),
    }
}

/// What the socket serves: `hello` at once, every other call once the fleet is loaded (the
/// handler is set). The agent reports ready before it loads its fleet, so that its start
/// never waits for work that grows with the fleet; a call that needs the fleet waits for it.
#[derive(Clone)]
pub struct Gate {
    pub agent: Identity,
    pub handler: tokio::sync::watch::Receiver<Option<Handler>>,
}

impl Serve for Gate {
    type Req = AgentRequest;
    type Resp = AgentResponse;

    async fn serve(self, rpc: RpcContext, req: AgentRequest) -> Result<AgentResponse, ServerError> {
        let mut loaded = self.handler.clone();
        if let AgentRequest::Hello { client } = &req
            && loaded.borrow().is_none()
        {
            return Ok(AgentResponse::Hello(hello(&self.agent, client)));
        }
        let handler = loaded.wait_for(Option::is_some).await.map(|h| h.clone());
        let Ok(Some(handler)) = handler else {
            return Err(ServerError::new(
                std::io::ErrorKind::Interrupted,
                "the agent is shutting down".into(),
            ));
        };
        handler.serve().serve(rpc, req).await
    }
}

impl Agent for Handler {
    async fn update_bot(self, _: RpcContext, bot: String) -> Result<BotOutcome, RpcError> {
        self.fleet.update(&bot).await
    }

    async fn updatable_bots(self, _: RpcContext) -> Vec<String> {
        self.fleet.updatable_bots()
    }

    async fn notify_test(self, _: RpcContext, message: String) -> Result<String, RpcError> {
        self.ctx
            .notifier()
            .test(message, std::time::Duration::from_secs(30))
            .await
            .map_err(RpcError::invalid)
    }

    async fn auth_check(
        self,
        _: RpcContext,
        bots: Vec<String>,
    ) -> Result<Vec<AuthReport>, RpcError> {
        let names = if bots.is_empty() {
            self.fleet.auth_bots()
        } else {
            for name in &bots {
                match self.fleet.auth_target(name) {
                    None => {
                        return Err(crate::fleet::no_such_bot(name));
                    }
                    Some(t) if t.config.auth.is_none() => {
                        return Err(RpcError::invalid(format!(
                            "{name} has no [auth] section in its bot file: nothing to check"
                        )));
                    }
                    Some(_) => {}
                }
            }
            bots
        };
        Ok(self.auth.check(&names).await)
    }

    async fn set_cookies(
        self,
        _: RpcContext,
        bot: String,
        file: String,
    ) -> Result<AuthReport, RpcError> {
        let Some(target) = self.fleet.auth_target(&bot) else {
            return Err(crate::fleet::no_such_bot(&bot));
        };
        let Some(auth) = &target.config.auth else {
            return Err(RpcError::invalid(format!(
                "{bot} has no [auth] section: add one with cookies = \"cookies.json\" first"
            )));
        };
        let dest = target.cwd.join(&auth.cookies);
        let source = std::path::PathBuf::from(&file);
        tokio::task::spawn_blocking(move || crate::auth::install_cookies(&source, &dest))
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?
            .map_err(RpcError::invalid)?;
        self.ctx.record(crate::store::NewEvent {
            bot: Some(bot.clone()),
            owner: Some(target.config.user.clone()),
            kind: "auth-cookies".into(),
            message: format!("new cookie file installed as {}", auth.cookies),
        });
        let mut reports = self.auth.check(std::slice::from_ref(&bot)).await;
        reports
            .pop()
            .ok_or_else(|| RpcError::internal("the check did not run"))
    }

    async fn create_bot(self, _: RpcContext, bot: CreateBot) -> Result<BotOutcome, RpcError> {
        self.fleet.create(bot).await
    }

    async fn templates(self, _: RpcContext) -> Vec<TemplateInfo> {
        let fleet = self.fleet.clone();
        crate::off_runtime(move || fleet.templates()).await
    }

    async fn storage(self, _: RpcContext, owner: Option<String>) -> StorageReport {
        let fleet = self.fleet.clone();
        crate::off_runtime(move || fleet.storage(owner.as_deref())).await
    }

    async fn cleanup_plan(self, _: RpcContext, owner: Option<String>) -> CleanupReport {
        let items = self.fleet.cleanup_plan(owner.as_deref()).await;
        CleanupReport {
            bytes: items.iter().map(|i| i.bytes).sum(),
            items,
            failed: Vec::new(),
        }
    }

    async fn cleanup_apply(self, _: RpcContext, items: Vec<CleanupItem>) -> CleanupReport {
        self.fleet.cleanup_apply(items).await
    }

    async fn hello(self, _: RpcContext, client: ClientHello) -> Result<AgentInfo, RpcError> {
        hello(&Identity::of(&self.ctx), &client)
    }

    async fn status(self, _: RpcContext) -> StatusReport {
        let mut config_issues = self.fleet.issues();
        // A database that cannot be written is a problem a person must fix, like a config one.
        if let Some(problem) = self.ctx.store.problem() {
            config_issues.push(botctl_proto::ConfigIssue {
                file: self.ctx.paths.display(&self.ctx.paths.db_file),
                field: None,
                message: problem,
                bot: None,
                kept_last_good: false,
                line: None,
                column: None,
            });
        }
        StatusReport {
            agent: info(&Identity::of(&self.ctx)),
            bots: self.fleet.list(None),
            config_issues,
            host: self.ctx.host.lock().unwrap().clone(),
        }
    }

    async fn list_bots(self, _: RpcContext, owner: Option<String>) -> Vec<BotInfo> {
        self.fleet.list(owner.as_deref())
    }

    async fn control(
        self,
        _: RpcContext,
        action: Action,
        target: Target,
    ) -> Result<ActionReport, RpcError> {
        self.fleet.control(action, target).await
    }

    async fn add_bot(self, _: RpcContext, bot: AddBot) -> Result<BotOutcome, RpcError> {
        self.fleet.add(bot).await
    }

    async fn remove_bot(
        self,
        _: RpcContext,
        name: String,
        purge: bool,
    ) -> Result<BotOutcome, RpcError> {
        self.fleet.remove(&name, purge).await
    }

    async fn show_bot(self, _: RpcContext, name: String) -> Result<BotDetail, RpcError> {
        self.fleet.show(&name).await
    }

    async fn reload(self, _: RpcContext) -> ReloadReport {
        let report = self.fleet.reload().await;
        self.services.apply(&self.fleet.global());
        report
    }

    async fn events(self, _: RpcContext, query: EventQuery) -> Result<Vec<EventRecord>, RpcError> {
        self.ctx
            .store
            .events(query)
            .await
            .map_err(|e| RpcError::internal(format!("reading events: {e:#}")))
    }

    async fn shutdown(self, _: RpcContext, keep_bots: bool) -> ShutdownReport {
        let report = self.fleet.shutdown(keep_bots).await;
        // Give this reply a moment to reach the client before the agent exits.
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            shutdown.request();
        });
        report
    }
}

/// Accepts connections until the agent shuts down. Each connection is its own task: a bad
/// peer or a malformed frame ends that connection only.
pub async fn serve(listener: UnixListener, gate: Gate) {
    let own_uid = nix::unistd::getuid().as_raw();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                crate::store::log_line(format_args!("accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == own_uid || cred.uid() == 0 => {}
            Ok(cred) => {
                let event = crate::store::NewEvent {
                    bot: None,
                    owner: None,
                    kind: "refused".into(),
                    message: format!(
                        "refused a connection from uid {} (pid {:?}): only uid {own_uid} and root may control this agent",
                        cred.uid(),
                        cred.pid()
                    ),
                };
                // Recorded once the store is open (at once, but for the agent's first moments).
                let mut loaded = gate.handler.clone();
                tokio::spawn(async move {
                    if let Ok(handler) = loaded.wait_for(Option::is_some).await
                        && let Some(handler) = handler.as_ref()
                    {
                        handler.ctx.record(event);
                    }
                });
                continue;
            }
            Err(e) => {
                crate::store::log_line(format_args!(
                    "peer credentials unavailable: {e}; refusing the connection"
                ));
                continue;
            }
        }
        let framed = LengthDelimitedCodec::builder()
            .max_frame_length(MAX_FRAME_BYTES)
            .new_framed(stream);
        let transport = tarpc::serde_transport::new(framed, Bincode::default());
        tokio::spawn(
            BaseChannel::with_defaults(transport)
                .execute(gate.clone())
                .for_each(|call| async {
                    tokio::spawn(call);
                }),
        );
    }
}
