//! `botctl tokens create|list|revoke`: the HTTP API's tokens. A token's value is printed once,
//! by `create`; the agent keeps only its hash.

use std::time::Duration;

use botctl_proto::config::parse_duration;
use botctl_proto::{NewToken, now_ms};

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render::{self, Cell};

const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn create(
    target: &Target,
    user: String,
    expires: Option<String>,
    read_only: bool,
    admin: bool,
    json: bool,
) -> Result<(), CliError> {
    let expires_in_ms = match expires {
        Some(text) => Some(
            parse_duration(&text)
                .map_err(|e| CliError {
                    code: 2,
                    message: format!("--expires: {e}"),
                })?
                .as_millis() as u64,
        ),
        None => None,
    };
    let session = connect(target).await?;
    let made = session
        .client
        .tokens_create(
            ctx(TIMEOUT),
            NewToken {
                user,
                admin,
                read_only,
                expires_in_ms,
            },
        )
        .await??;
    if json {
        let mut value = serde_json::to_value(&made.info).unwrap_or_default();
        value["token"] = made.token.into();
        value["scope"] = made.info.scope().into();
        render::print_json(&value);
    } else {
        println!("{}", made.token);
        eprintln!(
            "token {} for {} ({}, {}): shown this once, hand it to its owner now",
            made.info.id,
            made.info.user,
            made.info.scope(),
            expiry(made.info.expires_ms)
        );
    }
    Ok(())
}

pub async fn list(target: &Target, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let tokens = session.client.tokens_list(ctx(TIMEOUT)).await??;
    if json {
        let rows: Vec<serde_json::Value> = tokens
            .iter()
            .map(|t| {
                let mut value = serde_json::to_value(t).unwrap_or_default();
                value["scope"] = t.scope().into();
                value
            })
            .collect();
        render::print_json(&rows);
        return Ok(());
    }
    if tokens.is_empty() {
        println!("no tokens: `botctl tokens create --user NAME` makes one");
        return Ok(());
    }
    let now = now_ms();
    let mut table = render::table(&["ID", "USER", "SCOPE", "CREATED", "EXPIRES", "LAST USED"]);
    for t in &tokens {
        table.add_row(vec![
            Cell::new(&t.id),
            Cell::new(&t.user),
            Cell::new(t.scope()),
            Cell::new(render::local_time(t.created_ms)),
            Cell::new(match t.expires_ms {
                Some(ms) if ms <= now => "expired".to_string(),
                Some(ms) => render::local_time(ms),
                None => "never".to_string(),
            }),
            Cell::new(match t.last_used_ms {
                Some(ms) => format!("{} ago", render::ago(now - ms)),
                None => "never".to_string(),
            }),
        ]);
    }
    println!("{table}");
    Ok(())
}

pub async fn revoke(target: &Target, id: String, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let t = session.client.tokens_revoke(ctx(TIMEOUT), id).await??;
    if json {
        render::print_json(&t);
    } else {
        println!("revoked token {} of {} ({})", t.id, t.user, t.scope());
    }
    Ok(())
}

fn expiry(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => format!("expires {}", render::local_time(ms)),
        None => "does not expire".to_string(),
    }
}
