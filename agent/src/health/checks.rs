//! A bot's `[health]` probe: a TCP connect to a port on 127.0.0.1 and/or an HTTP GET, each
//! bounded by a timeout; the fleet runs it per bot (`fleet::checks`).

use botctl_proto::config::{HealthCheck, ReadyMode};

/// One probe of a bot's checks: Ok when every configured check passes.
pub async fn probe(check: &HealthCheck, client: &reqwest::Client) -> Result<(), String> {
    let timeout = check.timeout.0;
    if let Some(port) = check.port {
        let addr = ("127.0.0.1", port);
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("tcp 127.0.0.1:{port}: {e}")),
            Err(_) => {
                return Err(format!(
                    "tcp 127.0.0.1:{port}: no answer within {timeout:?}"
                ));
            }
        }
    }
    if let Some(url) = &check.http {
        let response = client.get(url).timeout(timeout).send().await;
        let status = match response {
            Ok(r) => r.status().as_u16(),
            Err(e) if e.is_timeout() => {
                return Err(format!("http {url}: no answer within {timeout:?}"));
            }
            Err(e) => return Err(format!("http {url}: {}", short_error(&e))),
        };
        let expected = if check.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            check.expect.contains(&status)
        };
        if !expected {
            return Err(format!("http {url}: status {status}"));
        }
    }
    Ok(())
}

/// reqwest's Display stops at "error sending request"; the cause says what happened.
fn short_error(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

/// "tcp 127.0.0.1:8080, http http://..." for `bots show`.
pub fn describe(check: &HealthCheck) -> String {
    let mut parts = Vec::new();
    if let Some(port) = check.port {
        parts.push(format!("tcp 127.0.0.1:{port}"));
    }
    if let Some(url) = &check.http {
        parts.push(format!("http {url}"));
    }
    let human = botctl_proto::human::duration;
    let mut out = if parts.is_empty() {
        String::new()
    } else {
        format!(
            "{}; {} failures in a row restart it, after a {} grace",
            parts.join(", "),
            check.failures,
            human(check.start_grace.0)
        )
    };
    let mut watch = |what: String| {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(&what);
    };
    if check.ready == ReadyMode::Notify {
        watch(format!(
            "ready at READY=1 (within {})",
            human(check.start_timeout.0)
        ));
    }
    if let Some(d) = check.watchdog {
        watch(format!("watchdog {}", human(d.0)));
    }
    if let Some(d) = check.log_silence {
        watch(format!("hung after {} without log output", human(d.0)));
    }
    out
}
