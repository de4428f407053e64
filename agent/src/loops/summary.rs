//! The periodic summary: every `report_interval`, the fleet's state as an info alert.

use std::time::Duration;

use botctl_proto::{BotInfo, BotState};

use crate::context::Context;
use crate::notify;

/// Sends `text()` as the summary every `every`, forever.
pub async fn run(ctx: &Context, every: Duration, text: impl Fn() -> String) {
    loop {
        tokio::time::sleep(every).await;
        ctx.alerts.notifier().notify(notify::summary(text()));
    }
}

/// The summary (and Telegram's `/status`): counts by state, the host, the bots in trouble.
pub fn text(bots: &[BotInfo], ctx: &Context) -> String {
    let count = |s: BotState| bots.iter().filter(|b| b.state == s).count();
    let mut text = format!(
        "{} bots: {} running, {} failed, {} auth-invalid, {} backoff",
        bots.len(),
        count(BotState::Running),
        count(BotState::Failed),
        count(BotState::AuthInvalid),
        count(BotState::Backoff)
    );
    if let Some(h) = &*ctx.host.lock().unwrap() {
        text.push_str(&format!(
            "\nhost: cpu {:.0}%, memory {:.0}%, disk {:.0}%",
            h.cpu_percent,
            h.memory_percent(),
            h.disk_percent()
        ));
    }
    for b in bots.iter().filter(|b| b.state.is_problem()) {
        text.push_str(&format!("\n{} ({}): {}", b.name, b.owner, b.state));
    }
    text
}
