//! The end of a bot's log and its resource history, for a caller that may see the bot, and the
//! host's history for an admin (the CLI reads log files itself; the HTTP API and dashboard
//! come through here).

use botctl_proto::{RpcError, SamplePoint};

use super::{Ops, Who};

/// Lines a request may ask for: the tail is read backwards in chunks, so this bounds its cost.
pub const MAX_LINES: usize = 5_000;

/// Which of a bot's two logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// The last `lines` lines of the bot's stdout or stderr log ("" when it has none yet).
pub async fn tail(
    ops: &Ops,
    who: &Who,
    name: &str,
    stream: Stream,
    lines: usize,
) -> Result<String, RpcError> {
    ops.bot(who, name)?;
    let paths = &ops.ctx.paths;
    let path = match stream {
        Stream::Out => paths.stdout_log(name),
        Stream::Err => paths.stderr_log(name),
    };
    let lines = lines.min(MAX_LINES);
    crate::util::off_runtime(move || match botctl_proto::tail::last_lines(&path, lines) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(RpcError::internal(format!("reading the log: {e}"))),
    })
    .await
}

/// The bot's minute samples since `since_ms`, at most `points` of them (neighbours merged:
/// CPU averaged, memory at its peak).
pub async fn history(
    ops: &Ops,
    who: &Who,
    name: &str,
    since_ms: i64,
    points: usize,
) -> Result<Vec<SamplePoint>, RpcError> {
    ops.bot(who, name)?;
    let samples = ops
        .ctx
        .store
        .history(name, since_ms)
        .await
        .map_err(|e| RpcError::internal(format!("reading the history: {e:#}")))?;
    Ok(thin(samples, points.max(1)))
}

/// The host's minute samples since `since_ms` (an admin's), thinned like a bot's.
pub async fn host_history(
    ops: &Ops,
    who: &Who,
    since_ms: i64,
    points: usize,
) -> Result<Vec<SamplePoint>, RpcError> {
    who.caller.admin_only("see the host's history")?;
    let samples = ops
        .ctx
        .store
        .host_history(since_ms)
        .await
        .map_err(|e| RpcError::internal(format!("reading the history: {e:#}")))?;
    Ok(thin(samples, points.max(1)))
}

fn thin(samples: Vec<SamplePoint>, points: usize) -> Vec<SamplePoint> {
    if samples.len() <= points {
        return samples;
    }
    let per = samples.len().div_ceil(points);
    samples
        .chunks(per)
        .map(|c| SamplePoint {
            ts_ms: c[c.len() - 1].ts_ms,
            cpu_percent: c.iter().map(|p| p.cpu_percent).sum::<f32>() / c.len() as f32,
            memory_bytes: c.iter().map(|p| p.memory_bytes).max().unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_history_is_thinned_to_the_points_asked_for() {
        let samples: Vec<SamplePoint> = (0..1440)
            .map(|i| SamplePoint {
                ts_ms: i * 60_000,
                cpu_percent: (i % 2) as f32 * 10.0,
                memory_bytes: i as u64,
            })
            .collect();
        let thinned = thin(samples.clone(), 288);
        assert_eq!(thinned.len(), 288);
        assert_eq!(thinned[0].cpu_percent, 4.0);
        assert_eq!(thinned[0].memory_bytes, 4);
        assert_eq!(thinned.last().unwrap().ts_ms, 1439 * 60_000);
        assert_eq!(thin(samples[..10].to_vec(), 288).len(), 10);
    }
}
