//! The generic webhook channel: one JSON POST per message, authenticated by a shared-secret
//! header. The URL is handled as a credential, since chat webhooks embed their token in it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use botctl_proto::config::WebhookNotify;
use futures::future::BoxFuture;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::channel::{Channel, Destination};
use super::dispatch::render;
use super::retry::Attempt;
use super::{Alert, DispatchConfig, Level, Secret};

pub(super) const SECRET_HEADER: &str = "X-Botctl-Secret";

#[derive(Clone)]
pub struct WebhookConfig {
    /// Treated as a credential too: Slack and Discord webhook URLs carry their token in the path.
    pub url: String,
    /// Sent as the `X-Botctl-Secret` header.
    pub secret: Option<Secret>,
    pub min_level: Level,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: None,
            min_level: Level::Info,
        }
    }

    /// `[notify.webhook]` with its secret read from `secret_file` (relative to `home`), or
    /// why it cannot be (the channel is then off).
    pub(super) fn from_settings(settings: &WebhookNotify, home: &Path) -> Result<Self, String> {
        let secret = match &settings.secret_file {
            Some(file) => Some(Secret::from_file(&home.join(file)).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(WebhookConfig {
            url: settings.url.clone(),
            secret,
            min_level: Level::from_config(&settings.min_level),
        })
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &origin_only(&self.url))
            .field("secret", &self.secret)
            .field("min_level", &self.min_level)
            .finish()
    }
}

/// The channel `config` describes.
pub(super) fn channel(
    config: WebhookConfig,
    client: &reqwest::Client,
    dispatch: &DispatchConfig,
) -> Option<Arc<dyn Channel>> {
    Some(Arc::new(Webhook::new(config, client.clone(), dispatch)))
}

pub(super) struct Webhook {
    url: String,
    /// The URL's path and query, scrubbed from errors on their own in case a cause quotes them.
    url_path: String,
    secret: Option<Secret>,
    min_level: Level,
    client: reqwest::Client,
    request_timeout: Duration,
}

/// The body: the first alert's fields for receivers that only look at the top level, the merged
/// text as `message`, and every alert for those that want structure.
#[derive(serde::Serialize)]
struct Payload<'a> {
    level: Level,
    kind: &'a str,
    bot: Option<&'a str>,
    owner: Option<&'a str>,
    message: String,
    alerts: &'a [Alert],
}

/// A webhook has one destination, its URL, which is never shown.
const ONLY: &[Destination] = &[Destination(None)];

impl Channel for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn min_level(&self) -> Level {
        self.min_level
    }

    fn destinations(&self) -> &[Destination] {
        ONLY
    }

    fn messages(&self, alerts: &[Alert]) -> Result<Vec<String>, String> {
        let body = serde_json::to_string(&payload(alerts))
            .map_err(|err| format!("cannot encode the alerts: {err}"))?;
        Ok(vec![body])
    }

    fn attempt<'a>(&'a self, _to: usize, message: &'a str) -> BoxFuture<'a, Attempt> {
        Box::pin(self.post(message.as_bytes()))
    }
}

impl Webhook {
    fn new(config: WebhookConfig, client: reqwest::Client, dispatch: &DispatchConfig) -> Webhook {
        let url_path = reqwest::Url::parse(&config.url)
            .map(|url| match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            })
            .unwrap_or_default();
        Webhook {
            url: config.url,
            url_path,
            secret: config.secret,
            min_level: config.min_level,
            client,
            request_timeout: dispatch.request_timeout,
        }
    }

    async fn post(&self, body: &[u8]) -> Attempt {
        let mut request = self
            .client
            .post(self.url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .timeout(self.request_timeout);
        if let Some(secret) = &self.secret {
            let Ok(mut value) = HeaderValue::from_str(secret.expose()) else {
                return Attempt::Permanent("the webhook secret is not a valid header value".into());
            };
            // Keeps it out of reqwest's and hyper's own Debug output.
            value.set_sensitive(true);
            request = request.header(SECRET_HEADER, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Attempt::from_error(err, &self.secrets()),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered;
        }
        // The body is not quoted: a debugging endpoint may echo the request, secret included.
        let reason = match status.canonical_reason() {
            Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
        Attempt::from_status(status, response.headers(), reason)
    }

    fn secrets(&self) -> Vec<&str> {
        let mut secrets = vec![self.url.as_str()];
        // "/" alone would mangle every message and protects nothing.
        if self.url_path.len() > 1 {
            secrets.push(&self.url_path);
        }
        secrets.extend(self.secret.as_ref().map(Secret::expose));
        secrets
    }
}

fn payload(alerts: &[Alert]) -> Payload<'_> {
    // All alerts agree on a field, or it is left out (null) for a mixed burst.
    fn common<'a>(
        alerts: &'a [Alert],
        field: impl Fn(&'a Alert) -> Option<&'a str>,
    ) -> Option<&'a str> {
        let first = field(alerts.first()?)?;
        alerts
            .iter()
            .all(|a| field(a) == Some(first))
            .then_some(first)
    }
    let kind = common(alerts, |a| Some(a.kind.as_str())).unwrap_or("burst");
    Payload {
        level: alerts.iter().map(|a| a.level).max().unwrap_or(Level::Info),
        kind,
        bot: common(alerts, |a| a.bot.as_deref()),
        owner: common(alerts, |a| a.owner.as_deref()),
        message: render(alerts, false),
        alerts,
    }
}

/// Enough of a webhook URL to recognise it in Debug output without revealing a token.
pub(super) fn origin_only(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => format!("{}/<redacted>", url.origin().ascii_serialization()),
        Err(_) => "<redacted>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    #[test]
    fn a_single_alert_fills_the_top_level_fields() {
        let alert = Alert::new(
            Level::Warning,
            EventKind::AuthExpiring,
            "bot a: token expires in 2 days",
        )
        .with_bot("a")
        .with_owner("ann");
        let json = serde_json::to_value(payload(std::slice::from_ref(&alert))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "level": "warning", "kind": "auth-expiring", "bot": "a", "owner": "ann",
                "message": "bot a: token expires in 2 days",
                "alerts": [{"level": "warning", "kind": "auth-expiring", "bot": "a",
                            "owner": "ann", "message": "bot a: token expires in 2 days"}],
            })
        );
    }

    #[test]
    fn a_mixed_burst_keeps_only_what_its_alerts_share() {
        let alerts = vec![
            Alert::new(Level::Info, EventKind::Recovered, "a ok")
                .with_bot("a")
                .with_owner("ann"),
            Alert::new(Level::Critical, EventKind::Failed, "b gave up")
                .with_bot("b")
                .with_owner("ann"),
        ];
        let json = serde_json::to_value(payload(&alerts)).unwrap();
        assert_eq!(json["level"], "critical");
        assert_eq!(json["kind"], "burst");
        assert_eq!(json["bot"], serde_json::Value::Null);
        assert_eq!(json["owner"], "ann");
        assert_eq!(json["message"], "b gave up\na ok");
        assert_eq!(json["alerts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn debug_shows_only_the_origin() {
        let mut config = WebhookConfig::new("https://hooks.example.com/services/T0/B0/XYZSECRET");
        config.secret = Some(Secret::new("hunter2"));
        let debug = format!("{config:?}");
        assert!(
            debug.contains("https://hooks.example.com/<redacted>"),
            "{debug}"
        );
        assert!(
            !debug.contains("XYZSECRET") && !debug.contains("hunter2"),
            "{debug}"
        );
    }
}
