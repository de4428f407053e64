//! A bot as Kubernetes objects: a one-replica Deployment with its command, env, resources and
//! probes, a Secret for its env values and cookie file, and a PersistentVolumeClaim for data.

use std::time::Duration;

use base64::Engine as _;
use botctl_proto::config::{ReadyMode, RestartMode};
use serde_json::{Map, Value, json};

use super::{BotView, OutFile, Rendered, lost_everywhere};

/// Where the claim is mounted, under the bot's directory (the code stays the image's).
const DATA_DIR: &str = "data";

pub fn render(view: &BotView, image: &str) -> Result<Rendered, String> {
    let bot = view.bot;
    let policy = bot.policy(view.global);
    let limits = bot.limits(view.global);
    let mut not_kept = lost_everywhere(view);
    let name = object_name(&bot.name);
    if name != bot.name {
        not_kept.push(format!(
            "the name {:?}: Kubernetes names its objects {name:?} (lowercase letters, digits and -)",
            bot.name
        ));
    }
    let labels = json!({
        "app.kubernetes.io/name": name,
        "botctl/bot": label_value(&bot.name),
        "botctl/owner": label_value(&bot.user),
    });
    let cwd = view.cwd.to_string_lossy().into_owned();

    let mut container = Map::new();
    container.insert("name".into(), json!("bot"));
    container.insert("image".into(), json!(image));
    container.insert("command".into(), json!(bot.command));
    container.insert("workingDir".into(), json!(cwd));
    container.insert(
        "env".into(),
        json!([
            {"name": "BOTCTL_BOT", "value": bot.name},
            {"name": "BOTCTL_OWNER", "value": bot.user},
        ]),
    );
    let mut secrets = Vec::new();
    if !bot.env.is_empty() {
        let secret = format!("{name}-env");
        container.insert("envFrom".into(), json!([{"secretRef": {"name": secret}}]));
        let data: Map<String, Value> = bot
            .env
            .iter()
            .map(|(k, v)| (k.clone(), json!(base64(v.as_bytes()))))
            .collect();
        secrets.push(secret_object(&secret, &labels, data));
    }
    if let Some(file) = &bot.env_file {
        not_kept.push(format!(
            "env_file {file:?} (read on the host at each start): put its variables in the Secret {name}-env"
        ));
    }
    // The kernel's quota when the bot has one; botctl's restart threshold otherwise.
    let cpu_millis = u64::from(limits.cpu_quota_percent.unwrap_or(limits.max_cpu_percent)) * 10;
    container.insert(
        "securityContext".into(),
        json!({"allowPrivilegeEscalation": !bot.no_new_privs}),
    );
    if let Some(account) = view.global.run_as(&bot.user) {
        not_kept.push(format!(
            "run_as {account:?}: set securityContext.runAsUser to its uid in the image"
        ));
    }
    not_kept.push(format!(
        "max_pids {}: a pod's process limit is the node's (podPidsLimit)",
        limits.max_pids
    ));
    if let Some(nofile) = limits.nofile {
        not_kept.push(format!(
            "nofile {nofile}: the container runtime sets RLIMIT_NOFILE"
        ));
    }
    if bot.core_dumps {
        not_kept.push("core_dumps: the node decides where cores go".to_string());
    }
    container.insert(
        "resources".into(),
        json!({"limits": {
            "memory": format!("{}Mi", limits.max_memory_mb),
            "cpu": format!("{cpu_millis}m"),
        }}),
    );
    let health = bot.health.clone().unwrap_or_default();
    if let Some(probe) = probe(view, &health, &mut not_kept) {
        container.insert("livenessProbe".into(), probe.clone());
        container.insert("readinessProbe".into(), probe);
    }
    if health.ready == ReadyMode::Notify || health.watchdog.is_some() {
        not_kept.push(
            "sd_notify readiness and watchdog ([health] ready, watchdog): Kubernetes has no \
             NOTIFY_SOCKET; use an HTTP or TCP probe"
                .to_string(),
        );
    }
    let mut mounts = vec![json!({
        "name": "data",
        "mountPath": format!("{cwd}/{DATA_DIR}"),
    })];
    let mut volumes = vec![json!({
        "name": "data",
        "persistentVolumeClaim": {"claimName": format!("{name}-data")},
    })];
    if let Some(auth) = &bot.auth {
        let secret = format!("{name}-cookies");
        let path = view.cwd.join(&auth.cookies);
        let mut data = Map::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                data.insert("cookies".into(), json!(base64(&bytes)));
            }
            Err(_) => not_kept.push(format!(
                "the cookie file {} was not found: fill the Secret with `kubectl create secret \
                 generic {secret} --from-file=cookies=FILE`",
                path.display()
            )),
        }
        secrets.push(secret_object(&secret, &labels, data));
        mounts.push(json!({
            "name": "cookies",
            "mountPath": path.to_string_lossy(),
            "subPath": "cookies",
            "readOnly": true,
        }));
        volumes.push(json!({
            "name": "cookies",
            // 0400: the bot's session is for the bot alone.
            "secret": {"secretName": secret, "defaultMode": 0o400},
        }));
    }
    container.insert("volumeMounts".into(), Value::Array(mounts));

    if policy.policy != RestartMode::Always {
        not_kept.push(format!(
            "restart policy {:?}: a Deployment restarts its container always",
            policy.policy.as_str()
        ));
    }
    not_kept.push(format!(
        "botctl's backoff ({} doubling to {}) and max_restarts {} within {}: Kubernetes backs \
         off on its own (CrashLoopBackOff, 10s doubling to 5m) and never gives up",
        botctl_proto::config::format_duration(policy.backoff_initial),
        botctl_proto::config::format_duration(policy.backoff_max),
        policy.max_restarts,
        botctl_proto::config::format_duration(policy.window)
    ));
    if let Some(schedule) = &policy.schedule {
        not_kept.push(format!(
            "the restart schedule {:?}: a CronJob running `kubectl rollout restart deployment/{name}`",
            schedule.as_str()
        ));
    }
    not_kept.push(format!(
        "output in logs/{}.out and .err: `kubectl logs deployment/{name}`",
        bot.name
    ));

    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            // Never two copies of a bot, not even during a rollout.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"botctl/bot": label_value(&bot.name)}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": whole_seconds(policy.stop_timeout),
                    "containers": [Value::Object(container)],
                    "volumes": volumes,
                },
            },
        },
    });
    let quota = view.global.storage_quota_for(&bot.user).max(1);
    let claim = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": format!("{name}-data"), "labels": labels},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": format!("{quota}Mi")}},
        },
    });
    let mut files = vec![OutFile {
        name: format!("{name}.yaml"),
        text: documents(&bot.name, &[deployment, claim]),
        private: false,
    }];
    if !secrets.is_empty() {
        files.push(OutFile {
            name: format!("{name}-secret.yaml"),
            text: documents(&bot.name, &secrets),
            private: true,
        });
    }
    Ok(Rendered { files, not_kept })
}

/// The liveness (and readiness) probe for `[health]`'s port or http check.
fn probe(
    view: &BotView,
    health: &botctl_proto::config::HealthCheck,
    not_kept: &mut Vec<String>,
) -> Option<Value> {
    let mut probe = Map::new();
    if let Some(url) = &health.http {
        let (scheme, rest) = url.split_once("://")?;
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (authority, if scheme == "https" { 443 } else { 80 }),
        };
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            not_kept.push(format!(
                "the health check's host {host}: the kubelet probes the pod's own address"
            ));
        }
        probe.insert(
            "httpGet".into(),
            json!({"path": path, "port": port, "scheme": scheme.to_ascii_uppercase()}),
        );
        if !health.expect.is_empty() {
            not_kept.push(format!(
                "expected statuses {:?}: the kubelet accepts any 200-399",
                health.expect
            ));
        }
        if health.port.is_some() {
            not_kept.push(
                "the port check beside the http check: one probe is made, the http one".to_string(),
            );
        }
    } else if let Some(port) = health.port {
        probe.insert("tcpSocket".into(), json!({"port": port}));
    } else {
        return None;
    }
    let interval = health
        .interval
        .map_or(view.global.agent.health_interval, |d| d.0);
    probe.insert(
        "periodSeconds".into(),
        json!(whole_seconds(interval).max(1)),
    );
    probe.insert(
        "timeoutSeconds".into(),
        json!(whole_seconds(health.timeout.0).max(1)),
    );
    probe.insert("failureThreshold".into(), json!(health.failures));
    probe.insert(
        "initialDelaySeconds".into(),
        json!(whole_seconds(health.start_grace.0)),
    );
    Some(Value::Object(probe))
}

fn secret_object(name: &str, labels: &Value, data: Map<String, Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": labels},
        "type": "Opaque",
        "data": data,
    })
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A DNS label as Kubernetes names objects: `-` for `_`, alphanumeric at both ends, at most
/// 50 characters so that `-cookies` and `-data` still fit in 63.
fn object_name(bot: &str) -> String {
    let name: String = bot.replace('_', "-").chars().take(50).collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "bot".to_string()
    } else {
        name.to_string()
    }
}

/// A label value: at most 63 characters, alphanumeric at both ends.
fn label_value(text: &str) -> String {
    let value: String = text.chars().take(63).collect();
    value
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// YAML documents, each introduced by `---`.
fn documents(bot: &str, objects: &[Value]) -> String {
    let mut out = format!("# Exported by `botctl export kubernetes` from bots.d/{bot}.toml.\n");
    for object in objects {
        out.push_str("---\n");
        if let Value::Object(map) = object {
            write_map(map, 0, &mut out, false);
        }
    }
    out
}

fn write_map(map: &Map<String, Value>, indent: usize, out: &mut String, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&yaml_key(key));
        out.push(':');
        write_child(value, indent, out, false);
    }
}

fn write_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        write_child(item, indent, out, true);
    }
}

/// A value after its key's colon or its item's dash: a scalar on the same line, a
/// collection on the lines below; `in_seq` puts an item's first key beside its dash.
fn write_child(value: &Value, indent: usize, out: &mut String, in_seq: bool) {
    match value {
        Value::Object(m) if !m.is_empty() && in_seq => {
            out.push(' ');
            write_map(m, indent + 2, out, true);
        }
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(m, indent + 2, out, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(a, indent + 2, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

/// Strings in JSON's double-quoted form, which YAML reads the same: no value is ever taken
/// for a number, a boolean or a null by accident.
fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        other => other.to_string(),
    }
}

/// A key plain when YAML (1.1 too, which reads `on` as true) takes it as that string.
fn yaml_key(key: &str) -> String {
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_is_block_style_with_quoted_strings() {
        let doc = json!({"a": {"b": [{"c": "x", "d": 1}, "y"], "on": true, "e": {}}});
        let mut out = String::new();
        write_map(doc.as_object().unwrap(), 0, &mut out, false);
        assert_eq!(
            out,
            "a:\n  b:\n    - c: \"x\"\n      d: 1\n    - \"y\"\n  e: {}\n  \"on\": true\n"
        );
    }

    #[test]
    fn names_fit_kubernetes() {
        assert_eq!(object_name("my_bot"), "my-bot");
        assert_eq!(object_name(&"a".repeat(64)).len(), 50);
        assert_eq!(label_value("bob.x-"), "bob.x");
    }
}
