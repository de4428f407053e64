//! The RPC server: the Unix socket's connections, the peer-uid check (who is asking is
//! decided here, once per connection), and the tarpc service: one line per RPC into ops.

use std::sync::Arc;

use botctl_proto::{
    Action, ActionReport, AddBot, Agent, AgentInfo, AuthReport, BotDetail, BotOutcome, CleanupItem,
    CleanupReport, ClientHello, CreateBot, EventQuery, EventRecord, Forecast, MAX_FRAME_BYTES,
    ReloadReport, Rows, RpcError, ShutdownReport, StatusReport, StatusText, StorageReport, Target,
    TemplateInfo, TopReport,
};
use botctl_proto::{AgentRequest, AgentResponse};
use botctl_proto::{CreatedToken, NewToken, TokenInfo};
use futures::StreamExt;
use tarpc::ServerError;
use tarpc::context::Context as RpcContext;
use tarpc::server::{BaseChannel, Channel, Serve};
use tarpc::tokio_serde::formats::Bincode;
use tokio_util::codec::LengthDelimitedCodec;

use crate::events::{Actor, Event, EventKind};
use crate::ops::{self, Ops, Who};

/// One connection's handler: the ops, and who is on the other end.
#[derive(Clone)]
pub struct Handler {
    pub ops: Arc<Ops>,
    pub who: Arc<Who>,
}

/// The socket admits only the agent's own uid and root, both admins; what is refused to an
/// owner never reaches here, so an admin-only op cannot fail for this caller.
fn admin<T: Default>(r: Result<T, RpcError>) -> T {
    r.unwrap_or_default()
}

/// What the socket serves: `hello` at once, every other call once the fleet is loaded (the
/// ops are set). The agent reports ready before it loads its fleet, so that its start never
/// waits for work that grows with the fleet; a call that needs the fleet waits for it.
#[derive(Clone)]
pub struct Gate {
    pub agent: ops::agent::Identity,
    pub ops: tokio::sync::watch::Receiver<Option<Arc<Ops>>>,
}

/// One accepted connection: the gate, and who is on the other end (decided at accept).
#[derive(Clone)]
struct Connection {
    gate: Gate,
    who: Arc<Who>,
}

impl Serve for Connection {
    type Req = AgentRequest;
    type Resp = AgentResponse;

    async fn serve(self, rpc: RpcContext, req: AgentRequest) -> Result<AgentResponse, ServerError> {
        let mut loaded = self.gate.ops.clone();
        if let AgentRequest::Hello { client } = &req
            && loaded.borrow().is_none()
        {
            let answer = ops::agent::hello(&self.gate.agent, client.clone());
            return Ok(AgentResponse::Hello(answer));
        }
        let ops = loaded.wait_for(Option::is_some).await.map(|o| o.clone());
        let Ok(Some(ops)) = ops else {
            return Err(ServerError::new(
                std::io::ErrorKind::Interrupted,
                "the agent is shutting down".into(),
            ));
        };
        let handler = Handler { ops, who: self.who };
        handler.serve().serve(rpc, req).await
    }
}

impl Agent for Handler {
    async fn update_bot(self, _: RpcContext, bot: String) -> Result<BotOutcome, RpcError> {
        ops::update::update(&self.ops, &self.who, &bot).await
    }

    async fn updatable_bots(self, _: RpcContext) -> Vec<String> {
        ops::update::updatable(&self.ops, &self.who)
    }

    async fn notify_test(self, _: RpcContext, message: String) -> Result<String, RpcError> {
        ops::agent::notify_test(&self.ops, &self.who, message).await
    }

    async fn auth_check(
        self,
        _: RpcContext,
        bots: Vec<String>,
    ) -> Result<Vec<AuthReport>, RpcError> {
        ops::auth::check(&self.ops, &self.who, bots).await
    }

    async fn set_cookies(
        self,
        _: RpcContext,
        bot: String,
        file: String,
    ) -> Result<AuthReport, RpcError> {
        ops::auth::set_cookies(&self.ops, &self.who, bot, file).await
    }

    async fn create_bot(self, _: RpcContext, bot: CreateBot) -> Result<BotOutcome, RpcError> {
        ops::create::create(&self.ops, &self.who, bot).await
    }

    async fn templates(self, _: RpcContext) -> Vec<TemplateInfo> {
        ops::templates::templates(&self.ops, &self.who).await
    }

    async fn storage(self, _: RpcContext, owner: Option<String>) -> StorageReport {
        ops::storage::storage(&self.ops, &self.who, owner).await
    }

    async fn cleanup_plan(self, _: RpcContext, owner: Option<String>) -> CleanupReport {
        ops::cleanup::plan(&self.ops, &self.who, owner).await
    }

    async fn cleanup_apply(self, _: RpcContext, items: Vec<CleanupItem>) -> CleanupReport {
        ops::cleanup::apply(&self.ops, &self.who, items).await
    }

    async fn hello(self, _: RpcContext, client: ClientHello) -> Result<AgentInfo, RpcError> {
        ops::agent::hello(&ops::agent::Identity::of(&self.ops), client)
    }

    async fn top(self, _: RpcContext) -> TopReport {
        let agent = ops::agent::info(&ops::agent::Identity::of(&self.ops));
        ops::top::top(&self.ops, &self.who, agent)
    }

    async fn forecast(self, _: RpcContext) -> Vec<Forecast> {
        ops::forecast::list(&self.ops, &self.who)
    }

    async fn tokens_create(self, _: RpcContext, token: NewToken) -> Result<CreatedToken, RpcError> {
        ops::tokens::create(&self.ops, &self.who, token)
    }

    async fn tokens_list(self, _: RpcContext) -> Result<Vec<TokenInfo>, RpcError> {
        ops::tokens::list(&self.ops, &self.who)
    }

    async fn tokens_revoke(self, _: RpcContext, id: String) -> Result<TokenInfo, RpcError> {
        ops::tokens::revoke(&self.ops, &self.who, &id)
    }

    async fn status(self, _: RpcContext) -> StatusReport {
        let agent = ops::agent::info(&ops::agent::Identity::of(&self.ops));
        ops::show::status(&self.ops, &self.who, agent)
    }

    async fn status_text(self, _: RpcContext) -> Option<StatusText> {
        let agent = ops::agent::info(&ops::agent::Identity::of(&self.ops));
        ops::show::status_text(&self.ops, &self.who, agent)
    }

    async fn list_bots(self, _: RpcContext, owner: Option<String>) -> Rows {
        ops::show::rows(&self.ops, &self.who, owner)
    }

    async fn control(
        self,
        _: RpcContext,
        action: Action,
        target: Target,
    ) -> Result<ActionReport, RpcError> {
        ops::control::control(&self.ops, &self.who, action, target).await
    }

    async fn add_bot(self, _: RpcContext, bot: AddBot) -> Result<BotOutcome, RpcError> {
        ops::add::add(&self.ops, &self.who, bot).await
    }

    async fn remove_bot(
        self,
        _: RpcContext,
        name: String,
        purge: bool,
    ) -> Result<BotOutcome, RpcError> {
        ops::remove::remove(&self.ops, &self.who, &name, purge).await
    }

    async fn show_bot(self, _: RpcContext, name: String) -> Result<BotDetail, RpcError> {
        ops::show::show(&self.ops, &self.who, &name).await
    }

    async fn reload(self, _: RpcContext) -> ReloadReport {
        admin(ops::reload::reload(&self.ops, &self.who).await)
    }

    async fn events(self, _: RpcContext, query: EventQuery) -> Result<Vec<EventRecord>, RpcError> {
        ops::events::events(&self.ops, &self.who, query).await
    }

    async fn shutdown(self, _: RpcContext, keep_bots: bool) -> ShutdownReport {
        admin(ops::agent::shutdown(&self.ops, &self.who, keep_bots).await)
    }
}

/// Serves one connection's calls, each call its own task.
pub async fn serve_transport<T>(transport: T, handler: Handler)
where
    T: tarpc::Transport<
            tarpc::Response<botctl_proto::AgentResponse>,
            tarpc::ClientMessage<botctl_proto::AgentRequest>,
        > + Send
        + 'static,
{
    BaseChannel::with_defaults(transport)
        .execute(handler.serve())
        .for_each(|call| async {
            tokio::spawn(call);
        })
        .await;
}

/// A socket the agent bound, and which file it is (device, inode): a socket bound again
/// after its file was removed replaces it.
pub struct Socket {
    pub listener: tokio::net::UnixListener,
    pub id: (u64, u64),
}

/// The socket the server accepts on, as the agent's start-up and its socket keeper set it.
pub type Sockets = tokio::sync::watch::Receiver<Arc<Socket>>;

/// Accepts connections on the current socket (a socket bound again replaces it) until the
/// agent shuts down. Each connection is its own task: a bad peer or a malformed frame ends
/// that connection only.
pub async fn serve(mut sockets: Sockets, gate: Gate) {
    let own_uid = nix::unistd::getuid().as_raw();
    let mut socket = sockets.borrow_and_update().clone();
    loop {
        let accepted = tokio::select! {
            accepted = socket.listener.accept() => accepted,
            changed = sockets.changed() => {
                if changed.is_err() {
                    // The sender is gone: the agent is on its way out.
                    return;
                }
                socket = sockets.borrow_and_update().clone();
                continue;
            }
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                crate::util::log_line(format_args!("accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let uid = match stream.peer_cred() {
            Ok(cred) if cred.uid() == own_uid || cred.uid() == 0 => cred.uid(),
            Ok(cred) => {
                let event = Event::new(
                    EventKind::Refused,
                    format!(
                        "refused a connection from uid {} (pid {:?}): only uid {own_uid} and root may control this agent",
                        cred.uid(),
                        cred.pid()
                    ),
                )
                .by(&Actor::Uid(cred.uid()));
                // Recorded once the store is open (at once, but for the agent's first moments).
                let mut loaded = gate.ops.clone();
                tokio::spawn(async move {
                    if let Ok(ops) = loaded.wait_for(Option::is_some).await
                        && let Some(ops) = ops.as_ref()
                    {
                        ops.ctx.record(event);
                    }
                });
                continue;
            }
            Err(e) => {
                crate::util::log_line(format_args!(
                    "peer credentials unavailable: {e}; refusing the connection"
                ));
                continue;
            }
        };
        let framed = LengthDelimitedCodec::builder()
            .max_frame_length(MAX_FRAME_BYTES)
            .new_framed(stream);
        let transport = tarpc::serde_transport::new(framed, Bincode::default());
        let connection = Connection {
            gate: gate.clone(),
            who: Arc::new(Who::admin(Actor::Uid(uid))),
        };
        tokio::spawn(
            BaseChannel::with_defaults(transport)
                .execute(connection)
                .for_each(|call| async {
                    tokio::spawn(call);
                }),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use botctl_proto::{
        Action, AgentClient, ClientHello, EventQuery, PROTOCOL_VERSION, Target, VERSION,
    };

    use crate::ops::tests::{admin, agent, names};

    #[tokio::test]
    async fn the_rpc_service_answers_over_an_in_memory_channel() {
        let a = agent().await;
        let (client_side, server_side) = tarpc::transport::channel::unbounded();
        let handler = super::Handler {
            ops: a.ops.clone(),
            who: Arc::new(admin()),
        };
        tokio::spawn(super::serve_transport(server_side, handler));
        let client = AgentClient::new(tarpc::client::Config::default(), client_side).spawn();
        let ctx = tarpc::context::current;
        let info = client
            .hello(
                ctx(),
                ClientHello {
                    version: VERSION.into(),
                    protocol: PROTOCOL_VERSION,
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.protocol, PROTOCOL_VERSION);
        let status = client.status(ctx()).await.unwrap();
        assert_eq!(names(&status.bots), ["a1", "a2", "b1"]);
        let report = client
            .control(ctx(), Action::Start, Target::Bots(vec!["b1".into()]))
            .await
            .unwrap()
            .unwrap();
        assert!(report.outcomes[0].ok, "{:?}", report.outcomes);
        let shown = client.show_bot(ctx(), "b1".into()).await.unwrap().unwrap();
        assert!(shown.info.pid.is_some());
        let events = client
            .events(
                ctx(),
                EventQuery {
                    bot: Some("b1".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == "started" && e.actor.as_deref() == Some("uid 0")),
            "{events:?}"
        );
        // Only b1 was started: the others were not running and are not counted as stopped.
        let stopped = client.shutdown(ctx(), false).await.unwrap();
        assert_eq!(stopped.stopped, ["b1"]);
    }
}
