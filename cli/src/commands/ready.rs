//! `start --wait` and `restart --wait`: once the agent has started the bots, wait until each is
//! ready (READY=1 with `[health] ready = "notify"`, else running), up to a deadline.

use std::time::{Duration, Instant};

use botctl_proto::{BotInfo, BotOutcome, BotState};

use crate::CliError;
use crate::client::{Session, ctx};

/// How often the agent is asked while waiting: readiness is seen within this.
const POLL: Duration = Duration::from_millis(100);

/// Where a bot is, for someone waiting for it to be ready.
#[derive(Debug, PartialEq, Eq)]
enum Wait {
    Ready,
    Pending,
    /// It will not become ready as this process: why.
    Gave(String),
}

/// Waits for the bots whose start worked; a bot not ready in time, or that stopped trying,
/// becomes a failed outcome that says why.
pub async fn wait(
    session: &Session,
    outcomes: &mut [BotOutcome],
    within: Duration,
) -> Result<(), CliError> {
    let deadline = Instant::now() + within;
    let mut pending: Vec<usize> = (0..outcomes.len()).filter(|&i| outcomes[i].ok).collect();
    while !pending.is_empty() {
        let bots = session
            .client
            .list_bots(ctx(Duration::from_secs(10)), None)
            .await?;
        pending.retain(|&i| {
            let o = &mut outcomes[i];
            match where_is(o, bots.iter().find(|b| b.name == o.bot)) {
                Wait::Pending => true,
                Wait::Ready => {
                    o.message = format!("{}, ready", o.message);
                    false
                }
                Wait::Gave(why) => {
                    o.ok = false;
                    o.message = format!("not ready: {why}");
                    false
                }
            }
        });
        if pending.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            for &i in &pending {
                outcomes[i].ok = false;
                outcomes[i].message = format!(
                    "not ready after {} (no READY=1 yet; it is still starting)",
                    botctl_proto::human::duration(within)
                );
            }
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

fn where_is(started: &BotOutcome, now: Option<&BotInfo>) -> Wait {
    let Some(b) = now else {
        return Wait::Gave("it is no longer in the fleet".into());
    };
    let why = || match &b.detail {
        Some(d) => format!("{} ({d})", b.state),
        None => b.state.to_string(),
    };
    match b.state {
        BotState::Running if started.pid.is_some() && b.pid != started.pid => Wait::Gave(format!(
            "its process was replaced before it was ready (pid {} now)",
            b.pid.map_or_else(|| "-".into(), |p| p.to_string())
        )),
        BotState::Running if b.waiting_ready => Wait::Pending,
        BotState::Running => Wait::Ready,
        _ => Wait::Gave(why()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(pid: u32) -> BotOutcome {
        BotOutcome {
            bot: "b".into(),
            ok: true,
            message: format!("started (pid {pid})"),
            state: Some(BotState::Running),
            pid: Some(pid),
        }
    }

    fn info(state: BotState, pid: Option<u32>, waiting: bool, detail: Option<&str>) -> BotInfo {
        BotInfo {
            name: "b".into(),
            owner: "o".into(),
            platform: "generic".into(),
            state,
            enabled: true,
            pid,
            uptime_secs: None,
            restarts: 0,
            last_exit: None,
            detail: detail.map(str::to_string),
            cpu_percent: None,
            memory_bytes: None,
            auth: None,
            forecast: None,
            notify_status: None,
            waiting_ready: waiting,
        }
    }

    #[test]
    fn ready_once_running_without_waiting_for_ready() {
        let o = outcome(7);
        let running = |waiting| info(BotState::Running, Some(7), waiting, None);
        assert_eq!(where_is(&o, Some(&running(true))), Wait::Pending);
        assert_eq!(where_is(&o, Some(&running(false))), Wait::Ready);
        assert_eq!(
            where_is(&o, Some(&info(BotState::Running, Some(9), true, None))),
            Wait::Gave("its process was replaced before it was ready (pid 9 now)".into())
        );
        assert_eq!(
            where_is(
                &o,
                Some(&info(
                    BotState::Backoff,
                    None,
                    false,
                    Some("restarting in 2s")
                ))
            ),
            Wait::Gave("backoff (restarting in 2s)".into())
        );
        assert_eq!(
            where_is(&o, None),
            Wait::Gave("it is no longer in the fleet".into())
        );
    }
}
