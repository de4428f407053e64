//! The sampler's forecasts: each bot's memory and the host's disk and memory, kept as series,
//! projected each tick, turned into one event per episode and the list `botctl forecast` shows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use botctl_proto::config::{BotLimits, FleetLimits};
use botctl_proto::human::{bytes, duration};
use botctl_proto::{Forecast, ForecastKind, HostInfo};

use crate::events::{Event, EventKind};
use crate::health::forecast::{Episodes, Projection, Published, Rules, Series, Turn, project};

const MIB: u64 = 1024 * 1024;

/// What a tick of forecasts asks of the sampler.
#[derive(Debug)]
pub enum News {
    Record(Event),
    /// Restart this bot before its limit (`restart_before_limit`), for this reason.
    Restart {
        bot: String,
        reason: String,
    },
}

/// A bot as the forecaster needs it.
pub struct BotSample<'a> {
    pub name: &'a str,
    pub owner: &'a str,
    pub pid: u32,
    pub memory_bytes: u64,
    pub limits: &'a BotLimits,
}

#[derive(Default)]
struct Tracked {
    pid: u32,
    owner: String,
    series: Series,
}

#[derive(Default)]
pub struct Forecaster {
    /// Each bot's memory, with the pid it belongs to (a restarted bot starts afresh) and its
    /// owner (what the event that ends an episode names).
    bots: crate::util::FastMap<String, Tracked>,
    host: HashMap<ForecastKind, Series>,
    bot_episodes: Episodes<String>,
    host_episodes: Episodes<ForecastKind>,
    published: Published,
}

fn rules(limits: &BotLimits) -> Rules {
    Rules {
        window: limits.forecast_window,
        horizon: limits.forecast_horizon,
        min_samples: limits.forecast_min_samples as usize,
    }
}

/// "in about 40m", from a projection's time to go.
fn in_about(eta: Duration) -> String {
    format!("in about {}", duration(eta))
}

fn per_hour(p: &Projection) -> String {
    format!("{}/h", bytes((p.per_sec * 3600.0).max(0.0) as u64))
}

impl Forecaster {
    /// One sample of a running bot's memory.
    pub fn bot(&mut self, at: Instant, now_ms: i64, b: &BotSample) -> Vec<News> {
        let rules = rules(b.limits);
        let tracked = crate::util::slot(&mut self.bots, b.name);
        let restarted = tracked.pid != b.pid;
        if restarted || tracked.owner != b.owner {
            *tracked = Tracked {
                pid: b.pid,
                owner: b.owner.to_string(),
                series: Series::default(),
            };
        }
        let series = &mut tracked.series;
        series.push(at, b.memory_bytes as f64, rules.window);
        let limit = b.limits.max_memory_mb.saturating_mul(MIB);
        let projection = due(series, limit, &rules);
        let turn = self.bot_episodes.turn(b.name, b.pid, projection.is_some());
        let mut news = Vec::new();
        match (turn, projection) {
            (Turn::Closed, _) => {
                self.published.bots.remove(b.name);
                let why = if restarted {
                    "the bot restarted"
                } else {
                    "memory no longer grows towards its limit"
                };
                news.push(cleared(Some((b.name, b.owner)), why));
            }
            (_, Some(p)) => {
                let message = format!(
                    "grows {}; reaches its {} MiB limit {}",
                    per_hour(&p),
                    b.limits.max_memory_mb,
                    in_about(p.eta)
                );
                if turn == Turn::Opened {
                    news.push(News::Record(
                        Event::new(EventKind::Forecast, message.clone()).of(b.name, b.owner),
                    ));
                    if b.limits.restart_before_limit {
                        news.push(News::Restart {
                            bot: b.name.to_string(),
                            reason: format!(
                                "restarted before its memory limit: forecast {message}"
                            ),
                        });
                    }
                }
                let mut forecast = shown(
                    ForecastKind::BotMemory,
                    now_ms,
                    &p,
                    b.memory_bytes,
                    limit,
                    message,
                );
                forecast.bot = Some(b.name.to_string());
                forecast.owner = Some(b.owner.to_string());
                self.published.bots.insert(b.name.to_string(), forecast);
            }
            (_, None) => {}
        }
        news
    }

    /// After a tick's bots: ends what belongs to bots no longer running.
    pub fn keep_bots(&mut self, running: impl Fn(&str) -> bool) -> Vec<News> {
        self.published.bots.retain(|name, _| running(name));
        let news = self
            .bot_episodes
            .keep_only(|name| running(name))
            .into_iter()
            .map(|name| {
                let owner = self
                    .bots
                    .get(&name)
                    .map(|t| t.owner.as_str())
                    .unwrap_or_default();
                cleared(Some((&name, owner)), "the bot is no longer running")
            })
            .collect();
        self.bots.retain(|name, _| running(name));
        news
    }

    /// One host sample: its disk against `max_disk_percent`, its memory against
    /// `memory_threshold_percent`, with the global `[limits]` forecast settings.
    pub fn host(
        &mut self,
        at: Instant,
        now_ms: i64,
        host: &HostInfo,
        limits: &FleetLimits,
    ) -> Vec<News> {
        let rules = rules(&limits.bot);
        let watched = [
            (
                ForecastKind::HostDisk,
                host.disk_used_bytes,
                host.disk_total_bytes,
                limits.max_disk_percent,
            ),
            (
                ForecastKind::HostMemory,
                host.memory_used_bytes,
                host.memory_total_bytes,
                limits.memory_threshold_percent,
            ),
        ];
        let mut news = Vec::new();
        for (kind, used, total, percent) in watched {
            if total == 0 {
                continue;
            }
            let series = self.host.entry(kind).or_default();
            series.push(at, used as f64, rules.window);
            let limit = (total as u128 * percent as u128 / 100) as u64;
            let projection = due(series, limit, &rules);
            let what = match kind {
                ForecastKind::HostDisk => format!("disk of {}", host.disk_path),
                _ => "host memory".to_string(),
            };
            self.host_published_remove(kind);
            match (
                self.host_episodes.turn(&kind, 0, projection.is_some()),
                projection,
            ) {
                (Turn::Closed, _) => news.push(cleared(
                    None,
                    &format!("{what} no longer grows towards its threshold"),
                )),
                (turn, Some(p)) => {
                    let reaches = match (kind, percent) {
                        (ForecastKind::HostDisk, 100) => "is full".to_string(),
                        (ForecastKind::HostDisk, _) => {
                            format!("reaches {percent}% (max_disk_percent)")
                        }
                        _ => format!("reaches {percent}% (memory_threshold_percent)"),
                    };
                    let message = format!(
                        "{what} grows {}; {reaches} {}",
                        per_hour(&p),
                        in_about(p.eta)
                    );
                    if turn == Turn::Opened {
                        news.push(News::Record(Event::new(
                            EventKind::Forecast,
                            message.clone(),
                        )));
                    }
                    self.published
                        .host
                        .push(shown(kind, now_ms, &p, used, limit, message));
                }
                (_, None) => {}
            }
        }
        news
    }

    fn host_published_remove(&mut self, kind: ForecastKind) {
        self.published.host.retain(|f| f.kind != kind);
    }

    pub fn published(&self) -> &Published {
        &self.published
    }
}

/// The projection of `series` towards `limit` when it is a forecast now.
fn due(series: &Series, limit: u64, rules: &Rules) -> Option<Projection> {
    // A flat series (an idle bot's) is the common case: no trend, and no need to copy it.
    if series.len() < rules.min_samples || series.is_flat() {
        return None;
    }
    project(&series.points(), limit as f64, rules).filter(|p| p.within(rules))
}

/// A projection as `botctl forecast` shows it (about the host until a bot is named).
fn shown(
    kind: ForecastKind,
    now_ms: i64,
    p: &Projection,
    current: u64,
    limit: u64,
    message: String,
) -> Forecast {
    Forecast {
        kind,
        bot: None,
        owner: None,
        at_ms: now_ms.saturating_add(p.eta.as_millis().min(i64::MAX as u128) as i64),
        made_at_ms: now_ms,
        bytes_per_hour: Some(p.per_sec * 3600.0),
        current_bytes: Some(current),
        limit_bytes: Some(limit),
        message,
    }
}

fn cleared(bot: Option<(&str, &str)>, why: &str) -> News {
    let event = Event::new(
        EventKind::ForecastCleared,
        format!("forecast cleared: {why}"),
    );
    News::Record(match bot {
        Some((name, owner)) => event.of(name, owner),
        None => event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use botctl_proto::config::GlobalConfig;

    fn limits(f: impl FnOnce(&mut BotLimits)) -> BotLimits {
        let mut l = GlobalConfig::default().limits.bot;
        l.forecast_window = Duration::from_secs(10);
        l.forecast_horizon = Duration::from_secs(60);
        l.forecast_min_samples = 5;
        l.max_memory_mb = 100;
        f(&mut l);
        l
    }

    fn kinds(news: &[News]) -> Vec<String> {
        news.iter()
            .map(|n| match n {
                News::Record(e) => e.kind.to_string(),
                News::Restart { reason, .. } => format!("restart: {reason}"),
            })
            .collect()
    }

    /// A bot growing 1 MiB a second from 50 MiB, sampled each second, limit 100 MiB.
    fn leak(
        f: &mut Forecaster,
        l: &BotLimits,
        pid: u32,
        seconds: std::ops::Range<u64>,
    ) -> Vec<News> {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for s in seconds {
            out.extend(f.bot(
                t0 + Duration::from_secs(s),
                1_000 * s as i64,
                &BotSample {
                    name: "news",
                    owner: "alice",
                    pid,
                    memory_bytes: (50 + s) * MIB,
                    limits: l,
                },
            ));
        }
        out
    }

    #[test]
    fn a_leaking_bot_gets_one_forecast_event_per_run() {
        let l = limits(|_| {});
        let mut f = Forecaster::default();
        let news = leak(&mut f, &l, 7, 0..20);
        assert_eq!(kinds(&news), ["forecast"], "once per episode");
        let News::Record(e) = &news[0] else { panic!() };
        // From 54 MiB at 1 MiB/s, 100 MiB is 46 s away.
        assert_eq!(
            e.message,
            "grows 3.5 GiB/h; reaches its 100 MiB limit in about 46s"
        );
        let shown = &f.published().bots["news"];
        assert_eq!(shown.owner.as_deref(), Some("alice"));
        assert_eq!(shown.limit_bytes, Some(100 * MIB));
        assert!(shown.message.contains("in about 31s"), "{}", shown.message);
        // Restarted: the episode ends, the new run needs its own samples first.
        let news = leak(&mut f, &l, 8, 0..3);
        assert_eq!(kinds(&news), ["forecast-cleared"]);
        let News::Record(e) = &news[0] else { panic!() };
        assert_eq!(e.message, "forecast cleared: the bot restarted");
        assert!(f.published().bots.is_empty());
        assert_eq!(kinds(&leak(&mut f, &l, 8, 3..10)), ["forecast"]);
        // Stopped.
        let news = f.keep_bots(|_| false);
        assert_eq!(kinds(&news), ["forecast-cleared"]);
        assert!(f.published().bots.is_empty());
    }

    #[test]
    fn restart_before_limit_asks_for_a_restart_with_the_forecast_as_reason() {
        let l = limits(|l| l.restart_before_limit = true);
        let mut f = Forecaster::default();
        let news = kinds(&leak(&mut f, &l, 7, 0..20));
        assert_eq!(news.len(), 2, "{news:?}");
        assert_eq!(
            news[1],
            "restart: restarted before its memory limit: forecast grows 3.5 GiB/h; reaches its 100 MiB limit in about 46s"
        );
    }

    #[test]
    fn a_bot_beyond_the_horizon_has_no_forecast() {
        let l = limits(|l| l.forecast_horizon = Duration::from_secs(20));
        let mut f = Forecaster::default();
        assert!(leak(&mut f, &l, 7, 0..10).is_empty());
        assert!(f.published().bots.is_empty());
    }

    /// What forecasts add to a health tick at 200 bots, all of them leaking (every bot is
    /// fitted and forecast each tick: the worst case), with 30-point series (the default
    /// window at one sample a minute) and with full 240-point ones (a 1 s interval):
    /// `cargo test -p botctl-agent --lib forecast_tick_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement; run it by name"]
    fn forecast_tick_cost_at_200_bots() {
        for (points, interval) in [(30usize, 60u64), (240, 1)] {
            let l = limits(|l| {
                l.forecast_window = Duration::from_secs(points as u64 * interval);
                l.forecast_horizon = Duration::from_secs(365 * 86_400);
                l.max_memory_mb = 10_000;
            });
            let names: Vec<String> = (0..200).map(|i| format!("bot{i:03}")).collect();
            let mut f = Forecaster::default();
            let t0 = Instant::now();
            let tick = |f: &mut Forecaster, n: u64| {
                for (i, name) in names.iter().enumerate() {
                    f.bot(
                        t0 + Duration::from_secs(n * interval),
                        0,
                        &BotSample {
                            name,
                            owner: "alice",
                            pid: 1,
                            memory_bytes: (100 + n * (1 + i as u64 % 3)) * MIB,
                            limits: &l,
                        },
                    );
                }
            };
            for n in 0..points as u64 {
                tick(&mut f, n);
            }
            let rounds = 50;
            let started = Instant::now();
            for n in 0..rounds {
                tick(&mut f, points as u64 + n);
            }
            assert_eq!(f.published().bots.len(), 200);
            println!(
                "forecasts of one tick, 200 bots x {points} points: {:?}",
                started.elapsed() / rounds as u32
            );
        }
    }

    fn host(disk_used_gib: f64, memory_used: u64) -> HostInfo {
        HostInfo {
            cpu_percent: 0.0,
            memory_used_bytes: memory_used,
            memory_total_bytes: 1000 * MIB,
            disk_path: "/srv".into(),
            disk_used_bytes: (disk_used_gib * 1024.0) as u64 * MIB,
            disk_total_bytes: 100 * 1024 * MIB,
            load: vec![],
            uptime_secs: 0,
            sampled_at_ms: 0,
        }
    }

    /// A disk filling 1 GiB a minute from 50 GiB of 100 GiB, sampled each minute for 30
    /// minutes (the default window and horizon), host memory flat: the same code the sampler
    /// calls each tick.
    #[test]
    fn a_filling_disk_is_forecast_against_max_disk_percent() {
        let mut global = GlobalConfig::default();
        let t0 = Instant::now();
        let mut f = Forecaster::default();
        let mut news = Vec::new();
        for m in 0..30u64 {
            let h = host(50.0 + m as f64, 400 * MIB);
            news.extend(f.host(t0 + Duration::from_secs(m * 60), 0, &h, &global.limits));
        }
        // 79 GiB now, 90 GiB is 11 minutes away.
        assert_eq!(kinds(&news), ["forecast"]);
        let News::Record(e) = &news[0] else { panic!() };
        assert_eq!(e.bot, None);
        assert!(
            e.message.starts_with(
                "disk of /srv grows 60.0 GiB/h; reaches 90% (max_disk_percent) in about"
            ),
            "{}",
            e.message
        );
        assert_eq!(f.published().host.len(), 1);
        assert_eq!(f.published().host[0].kind, ForecastKind::HostDisk);
        // Full at 100%: says so.
        global.limits.max_disk_percent = 100;
        let mut f = Forecaster::default();
        let mut last = Vec::new();
        for m in 0..30u64 {
            let h = host(50.0 + m as f64, 400 * MIB);
            last = f.host(t0 + Duration::from_secs(m * 60), 0, &h, &global.limits);
        }
        assert!(last.is_empty(), "the event came once, earlier");
        assert!(
            f.published().host[0]
                .message
                .contains("is full in about 21m"),
            "{:?}",
            f.published().host
        );
    }

    #[test]
    fn host_memory_growing_towards_its_threshold_is_forecast() {
        let global = GlobalConfig::default();
        let t0 = Instant::now();
        let mut f = Forecaster::default();
        let mut news = Vec::new();
        for m in 0..30u64 {
            let h = host(10.0, (500 + 5 * m) * MIB);
            news.extend(f.host(t0 + Duration::from_secs(m * 60), 0, &h, &global.limits));
        }
        // Forecast from the 10th sample: 545 of 1000 MiB, 5 MiB a minute, 800 MiB (80%) 51
        // minutes away.
        assert_eq!(kinds(&news), ["forecast"]);
        let News::Record(e) = &news[0] else { panic!() };
        assert_eq!(
            e.message,
            "host memory grows 300 MiB/h; reaches 80% (memory_threshold_percent) in about 51m"
        );
        // Then it stops growing: the episode ends.
        let mut news = Vec::new();
        for m in 30..70u64 {
            news.extend(f.host(
                t0 + Duration::from_secs(m * 60),
                0,
                &host(10.0, 645 * MIB),
                &global.limits,
            ));
        }
        assert_eq!(kinds(&news), ["forecast-cleared"]);
        assert!(f.published().host.is_empty());
    }
}
