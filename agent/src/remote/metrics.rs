//! `GET /metrics`: the fleet, the agent and the host in the OpenMetrics text format (which
//! Prometheus reads), encoded by the `prometheus-client` crate from what the agent holds.

use std::sync::atomic::AtomicU64;

use botctl_proto::{BotState, now_ms};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::events::Actor;
use crate::ops::{self, Ops, Who};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Bot {
    bot: String,
    owner: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BotIn {
    bot: String,
    owner: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

/// The exposition, as an admin sees the fleet.
pub fn render(ops: &Ops) -> String {
    let who = Who::admin(Actor::Agent);
    let mut registry = Registry::with_prefix("botctl");

    let bots = ops::show::rows(ops, &who, None);
    let health: std::collections::HashMap<String, &'static str> = ops.fleet.read(|r| {
        r.bots
            .iter()
            .map(|(n, e)| (n.clone(), e.health().as_str()))
            .collect()
    });
    let up = Family::<Bot, Gauge>::default();
    let state = Family::<BotIn, Gauge>::default();
    let restarts = Family::<Bot, Counter>::default();
    let cpu_seconds = Family::<Bot, FloatCounter>::default();
    let cpu_percent = Family::<Bot, FloatGauge>::default();
    let memory = Family::<Bot, Gauge>::default();
    let exit_code = Family::<Bot, Gauge>::default();
    let auth = Family::<BotIn, Gauge>::default();
    let checks = Family::<BotIn, Gauge>::default();
    for b in &bots {
        let labels = Bot {
            bot: b.name.clone(),
            owner: b.owner.clone(),
        };
        let with = |value: &str| BotIn {
            bot: b.name.clone(),
            owner: b.owner.clone(),
            state: value.to_string(),
        };
        up.get_or_create(&labels)
            .set(i64::from(b.state == BotState::Running));
        // One series per state, 1 for the one it is in: `botctl_bot_state{state="failed"} == 1`
        // alerts without knowing the others.
        for s in BotState::ALL {
            state
                .get_or_create(&with(s.as_str()))
                .set(i64::from(s == b.state));
        }
        restarts
            .get_or_create(&labels)
            .inc_by(u64::from(b.restarts));
        let used = b.pid.and_then(crate::health::cpu_seconds);
        cpu_seconds
            .get_or_create(&labels)
            .inc_by(used.unwrap_or(0.0));
        cpu_percent
            .get_or_create(&labels)
            .set(f64::from(b.cpu_percent.unwrap_or(0.0)));
        memory
            .get_or_create(&labels)
            .set(b.memory_bytes.unwrap_or(0).min(i64::MAX as u64) as i64);
        if let Some(code) = b.last_exit.as_ref().and_then(|e| e.code) {
            exit_code.get_or_create(&labels).set(i64::from(code));
        }
        if let Some(a) = &b.auth {
            auth.get_or_create(&with(a)).set(1);
        }
        checks
            .get_or_create(&with(health.get(&b.name).copied().unwrap_or("none")))
            .set(1);
    }
    registry.register("bot_up", "1 while the bot's process runs", up);
    registry.register(
        "bot_state",
        "1 for the state the bot is in, 0 for the others",
        state,
    );
    registry.register("bot_restarts", "Restarts since the bot was added", restarts);
    registry.register(
        "bot_cpu_seconds",
        "CPU time of the bot's main process and the children it waited for",
        cpu_seconds,
    );
    registry.register(
        "bot_cpu_percent",
        "CPU of the bot's process tree at the last sample, % of one core",
        cpu_percent,
    );
    registry.register(
        "bot_memory_bytes",
        "Resident memory of the bot's process tree at the last sample",
        memory,
    );
    registry.register(
        "bot_last_exit_code",
        "Exit code of the bot's last exit (bots whose last exit had one)",
        exit_code,
    );
    registry.register(
        "bot_auth_state",
        "1 for the outcome of the bot's last session check (bots with [auth])",
        auth,
    );
    registry.register(
        "bot_health_state",
        "1 for how the bot's [health] probes fare: none, passing or failing",
        checks,
    );

    let agent = ops::agent::info(&ops::agent::Identity::of(ops));
    let info = Family::<Version, Gauge>::default();
    info.get_or_create(&Version {
        version: agent.version.clone(),
    })
    .set(1);
    registry.register("agent_info", "The agent's version", info);
    let uptime = Gauge::<i64>::default();
    uptime.set(((now_ms() - agent.started_at_ms).max(0) / 1000) as i64);
    registry.register("agent_uptime_seconds", "Since the agent started", uptime);
    if let Some(usage) = ops.ctx.recent.lock().unwrap().agent {
        let cpu = FloatGauge::default();
        cpu.set(f64::from(usage.cpu_percent));
        registry.register(
            "agent_cpu_percent",
            "The agent's own CPU, % of one core",
            cpu,
        );
        let mem = Gauge::<i64>::default();
        mem.set(usage.memory_bytes.min(i64::MAX as u64) as i64);
        registry.register("agent_memory_bytes", "The agent's resident memory", mem);
    }
    let counts = Family::<Kind, Counter>::default();
    for (kind, n) in ops.ctx.event_counts.each() {
        counts
            .get_or_create(&Kind {
                kind: kind.as_str().to_string(),
            })
            .inc_by(n);
    }
    registry.register(
        "events",
        "Events recorded since the agent started, by kind",
        counts,
    );

    if let Some(host) = ops.ctx.host.lock().unwrap().clone() {
        let gauge = |registry: &mut Registry, name: &str, help: &str, value: f64| {
            let g = FloatGauge::default();
            g.set(value);
            registry.register(name, help, g);
        };
        let r = &mut registry;
        gauge(
            r,
            "host_cpu_percent",
            "Host CPU, % of all cores",
            f64::from(host.cpu_percent),
        );
        gauge(
            r,
            "host_memory_used_bytes",
            "Host memory in use",
            host.memory_used_bytes as f64,
        );
        gauge(
            r,
            "host_memory_total_bytes",
            "Host memory",
            host.memory_total_bytes as f64,
        );
        gauge(
            r,
            "host_disk_used_bytes",
            "Used on the botctl home's filesystem",
            host.disk_used_bytes as f64,
        );
        gauge(
            r,
            "host_disk_total_bytes",
            "Size of the botctl home's filesystem",
            host.disk_total_bytes as f64,
        );
        gauge(
            r,
            "host_load1",
            "1 minute load average",
            host.load.first().copied().unwrap_or(0.0),
        );
    }

    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}
