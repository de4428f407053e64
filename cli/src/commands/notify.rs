//! `botctl notify test`: one message through every configured alert channel.

use std::time::Duration;

use crate::CliError;
use crate::client::{Target, connect, ctx};

pub async fn test(target: &Target, message: Option<String>) -> Result<(), CliError> {
    let session = connect(target).await?;
    // The agent's host, which is not this one over `--host`.
    let host = &session.agent.host;
    let message =
        message.unwrap_or_else(|| format!("botctl test message from {host}: alerts reach you"));
    let outcome = session
        .client
        .notify_test(ctx(Duration::from_secs(60)), message)
        .await??;
    println!("{outcome}");
    Ok(())
}
