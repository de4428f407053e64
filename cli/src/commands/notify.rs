//! `botctl notify test`: one message through every configured alert channel.

use std::time::Duration;

use crate::CliError;
use crate::client::{Target, connect, ctx};

pub async fn test(target: &Target, message: Option<String>) -> Result<(), CliError> {
    let session = connect(target).await?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this host".into());
    let message =
        message.unwrap_or_else(|| format!("botctl test message from {host}: alerts reach you"));
    let outcome = session
        .client
        .notify_test(ctx(Duration::from_secs(60)), message)
        .await??;
    println!("{outcome}");
    Ok(())
}
