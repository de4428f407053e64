//! Forecasts before a limit hits, as pure functions: the series a sampler keeps, the
//! least-squares trend of its peaks over a window and the time it projects to a limit, and
//! the episodes that make one event of a forecast however many ticks it lasts.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The fit must explain at least this share of the variance of the peaks. A steady leak with
/// allocator jitter fits at 0.95 and more; noise around a flat line fits near 0; a leak whose
/// rate changes fits somewhere between. 0.8 keeps the first, drops the second and only
/// speaks of the third once the growth dominates: a false forecast wakes someone up (and
/// with `restart_before_limit` restarts a healthy bot), a missed one still meets the limit.
pub const MIN_R2: f64 = 0.8;

/// The fit is made through the highest point of each of this many stretches of the window
/// at least, each of this many points at least (when there are enough), see `peaks`.
const MIN_STRETCHES: usize = 5;
const POINTS_PER_STRETCH: usize = 6;

/// Points a series keeps: at the default 15 s interval a 30 min window needs 121; a shorter
/// interval or a longer window merges neighbours (their peak) so that the series stays this
/// small whatever is configured.
pub const MAX_POINTS: usize = 240;

/// The forecasts in force now, as `status`, `bots show` and `botctl forecast` show them
/// (made by `loops::forecasts`, kept in the context).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    pub bots: HashMap<String, botctl_proto::Forecast>,
    pub host: Vec<botctl_proto::Forecast>,
}

/// What makes a forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub window: Duration,
    pub horizon: Duration,
    pub min_samples: usize,
}

/// Where a growing figure is going.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// Growth per second, in the series' unit.
    pub per_sec: f64,
    /// The trend's value at the last point.
    pub current: f64,
    /// Until the trend reaches the limit, from the last point.
    pub eta: Duration,
    pub r2: f64,
}

impl Projection {
    /// Whether this projection is a forecast under `rules`: the limit is reached within the
    /// horizon.
    pub fn within(&self, rules: &Rules) -> bool {
        self.eta <= rules.horizon
    }
}

/// The projection of `points` (seconds, value; oldest first) towards `limit`, or None when
/// there is nothing to say: too few points in the window, no good fit, no growth, or the
/// limit already reached (the limit itself acts then).
///
/// The line is fitted through the peaks of the window's stretches, not through every point:
/// a garbage-collected heap saws up and down, and what meets a memory limit is its peaks. A
/// sawtooth whose peaks stay level has no trend; one whose peaks climb is a leak.
pub fn project(points: &[(f64, f64)], limit: f64, rules: &Rules) -> Option<Projection> {
    let last_t = points.last()?.0;
    let from = last_t - rules.window.as_secs_f64();
    let start = points.partition_point(|p| p.0 < from);
    let points = &points[start..];
    if points.len() < rules.min_samples.max(3) {
        return None;
    }
    let peaks = peaks(points);
    if peaks.last()?.1 >= limit {
        return None;
    }
    let (slope, intercept, r2) = fit(&peaks)?;
    if slope <= 0.0 || r2 < MIN_R2 {
        return None;
    }
    let current = intercept + slope * last_t;
    let secs = ((limit - current) / slope).max(0.0);
    Some(Projection {
        per_sec: slope,
        current,
        eta: Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX),
        r2,
    })
}

/// The highest point of each stretch: `MIN_STRETCHES` stretches, or one per six points of a
/// longer series (120 points at 15 s give 20 peaks, 1.5 min apart). A saw with a shorter
/// period than a stretch is seen through; a slower one reads as growth and a drop, which a
/// straight line fits badly (R² rejects it) until its peaks really climb.
fn peaks(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let n = points.len();
    let stretches = (n / POINTS_PER_STRETCH).max(MIN_STRETCHES).min(n);
    (0..stretches)
        .filter_map(|i| {
            let chunk = &points[i * n / stretches..(i + 1) * n / stretches];
            chunk
                .iter()
                .copied()
                .reduce(|a, b| if b.1 >= a.1 { b } else { a })
        })
        .collect()
}

/// Least squares: slope, intercept and R² of `points`, None when time or value never varies
/// (a flat series has no trend to speak of).
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_v = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut stt, mut svv, mut stv) = (0.0, 0.0, 0.0);
    for (t, v) in points {
        let (dt, dv) = (t - mean_t, v - mean_v);
        stt += dt * dt;
        svv += dv * dv;
        stv += dt * dv;
    }
    if stt <= 0.0 || svv <= 0.0 {
        return None;
    }
    let slope = stv / stt;
    Some((slope, mean_v - slope * mean_t, stv * stv / (stt * svv)))
}

/// One figure over time, as the sampler keeps it: at most [`MAX_POINTS`] points over the
/// window, neighbours merged into their peak when samples come faster than that. A point is
/// 8 bytes, two f32s, whose 24-bit precision is far finer than any trend: the value, and the
/// seconds since `origin`, which moves up past [`REBASE`] seconds so that they stay fine (to
/// 8 ms at worst). 2,000 bots at the defaults (121 points, room for 128) keep 2 MB,
/// which was 4 MB at 16 bytes a point, a quarter of the agent's RSS at that size.
#[derive(Debug, Default)]
pub struct Series {
    points: VecDeque<(f32, f32)>,
    origin: Option<Instant>,
    /// Neighbouring points whose values differ: none when the series is flat, as an idle
    /// bot's memory is tick after tick, which no trend can come from.
    changes: usize,
}

/// Seconds after its origin at which a series moves its origin up (see [`Series`]): at a
/// day, an f32 of seconds is fine to 8 ms.
const REBASE: f64 = 86_400.0;

impl Series {
    pub fn push(&mut self, at: Instant, value: f64, window: Duration) {
        let origin = *self.origin.get_or_insert(at);
        let mut t = at.saturating_duration_since(origin).as_secs_f64();
        // Slots are counted from the series' start, so that merging never drifts: the
        // origin moves by whole slots, up to the first point's.
        let step = (window.as_secs_f64() / MAX_POINTS as f64).max(0.001);
        if t > REBASE {
            let first = self.points.front().map_or(t, |p| f64::from(p.0));
            let shift = (first / step).floor() * step;
            self.origin = Some(origin + Duration::from_secs_f64(shift));
            for p in self.points.iter_mut() {
                p.0 = (f64::from(p.0) - shift) as f32;
            }
            t -= shift;
        }
        let slot = |t: f64| (t / step) as u64;
        let (t_at, value) = (t as f32, value as f32);
        let n = self.points.len();
        let differs = |a: f32, b: f32| usize::from(a != b);
        match self.points.back() {
            Some(&(last_t, last)) if slot(last_t.into()) == slot(t) => {
                if value >= last {
                    self.points[n - 1] = (t_at, value);
                    if let Some(&(_, before)) = n.checked_sub(2).and_then(|i| self.points.get(i)) {
                        self.changes =
                            self.changes + differs(before, value) - differs(before, last);
                    }
                }
            }
            Some(&(_, last)) => {
                self.changes += differs(last, value);
                self.points.push_back((t_at, value));
            }
            None => self.points.push_back((t_at, value)),
        }
        let window = window.as_secs_f64();
        while self
            .points
            .front()
            .is_some_and(|p| t - f64::from(p.0) > window)
            || self.points.len() > MAX_POINTS
        {
            if let Some((_, gone)) = self.points.pop_front()
                && let Some(&(_, next)) = self.points.front()
            {
                self.changes -= differs(gone, next);
            }
        }
    }

    /// Whether every point has the same value: [`project`] finds no trend in it.
    pub fn is_flat(&self) -> bool {
        self.changes == 0
    }

    /// The points as seconds since the first, for [`project`].
    pub fn points(&self) -> Vec<(f64, f64)> {
        let Some(&(first, _)) = self.points.front() else {
            return Vec::new();
        };
        self.points
            .iter()
            .map(|&(t, v)| (f64::from(t) - f64::from(first), f64::from(v)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// What a tick did to an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A forecast began: say so (once).
    Opened,
    /// The forecast cleared, or what it was about restarted or went away.
    Closed,
    /// Nothing new.
    Same,
}

/// The forecasts going on, one episode each: an event when one begins, another when it
/// ends, nothing in between. An episode belongs to one run (`run`: a bot's pid), so a
/// restart ends it.
#[derive(Debug)]
pub struct Episodes<K> {
    open: crate::util::FastMap<K, u32>,
}

impl<K> Default for Episodes<K> {
    fn default() -> Self {
        Episodes {
            open: Default::default(),
        }
    }
}

impl<K: Eq + Hash + Clone> Episodes<K> {
    /// This tick's verdict for `key` in its run `run`: whether a forecast is due now.
    pub fn turn<Q>(&mut self, key: &Q, run: u32, due: bool) -> Turn
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        match (self.open.get(key).copied(), due) {
            (Some(open), _) if open != run => {
                self.open.remove(key);
                Turn::Closed
            }
            (Some(_), true) => Turn::Same,
            (Some(_), false) => {
                self.open.remove(key);
                Turn::Closed
            }
            (None, true) => {
                self.open.insert(key.to_owned(), run);
                Turn::Opened
            }
            (None, false) => Turn::Same,
        }
    }

    /// Ends the episodes of what is no longer there (a bot stopped or removed); returns them.
    pub fn keep_only(&mut self, present: impl Fn(&K) -> bool) -> Vec<K> {
        let gone: Vec<K> = self.open.keys().filter(|k| !present(k)).cloned().collect();
        for k in &gone {
            self.open.remove(k);
        }
        gone
    }

    pub fn is_open(&self, key: &K) -> bool {
        self.open.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn rules(min_samples: usize) -> Rules {
        Rules {
            window: Duration::from_secs(30 * 60),
            horizon: Duration::from_secs(3600),
            min_samples,
        }
    }

    /// A series sampled each minute: value(i) for i in 0..n.
    fn minutes(n: usize, value: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
        (0..n).map(|i| (i as f64 * 60.0, value(i))).collect()
    }

    /// Deterministic jitter in [-1, 1] (no random crate, no flaky test).
    fn jitter(i: usize) -> f64 {
        // splitmix64 of i.
        let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % 2001) as f64 / 1000.0 - 1.0
    }

    #[test]
    fn a_steady_leak_is_forecast_with_its_rate_and_time_to_the_limit() {
        // 300 MiB growing 0.5 MiB a minute (30 MiB/h) with ±2 MiB of jitter; limit 512 MiB.
        let s = minutes(30, |i| {
            300.0 * MIB + i as f64 * 0.5 * MIB + jitter(i) * 2.0 * MIB
        });
        let p = project(&s, 512.0 * MIB, &rules(10)).expect("a forecast");
        let per_hour = p.per_sec * 3600.0 / MIB;
        assert!((25.0..35.0).contains(&per_hour), "{per_hour} MiB/h");
        // From ~314.5 MiB at 30 MiB/h, 512 MiB is about 6.6 h away.
        let hours = p.eta.as_secs_f64() / 3600.0;
        assert!((5.5..7.5).contains(&hours), "{hours} h");
        assert!(!p.within(&rules(10)), "6 h is beyond a 1 h horizon");
        assert!(p.r2 >= MIN_R2);
    }

    #[test]
    fn a_fast_leak_falls_within_the_horizon() {
        let s = minutes(30, |i| 400.0 * MIB + i as f64 * 2.0 * MIB);
        let p = project(&s, 512.0 * MIB, &rules(10)).unwrap();
        // 458 MiB now, 2 MiB a minute: 27 min to go.
        assert_eq!(p.eta.as_secs() / 60, 27);
        assert!(p.within(&rules(10)));
    }

    #[test]
    fn noise_around_a_flat_line_is_no_forecast() {
        let s = minutes(30, |i| 300.0 * MIB + jitter(i) * 20.0 * MIB);
        assert_eq!(project(&s, 512.0 * MIB, &rules(10)), None);
        // Nor, within the horizon, any of 200 other such series.
        let false_alarms = (0..200)
            .filter(|seed| {
                let s = minutes(30, |i| 300.0 * MIB + jitter(i + seed * 1000) * 20.0 * MIB);
                project(&s, 512.0 * MIB, &rules(10)).is_some_and(|p| p.within(&rules(10)))
            })
            .count();
        assert_eq!(false_alarms, 0);
    }

    #[test]
    fn a_flat_series_is_no_forecast() {
        let s = minutes(30, |_| 300.0 * MIB);
        assert_eq!(project(&s, 512.0 * MIB, &rules(10)), None);
    }

    #[test]
    fn a_garbage_collected_sawtooth_with_level_peaks_is_no_forecast() {
        // Grows 10 MiB a minute for 4 minutes, then a collection drops it back: a fit through
        // every point sees growth inside each tooth; the peaks do not move.
        let s = minutes(30, |i| 200.0 * MIB + (i % 5) as f64 * 10.0 * MIB);
        assert_eq!(project(&s, 512.0 * MIB, &rules(10)), None);
    }

    #[test]
    fn a_sawtooth_whose_peaks_climb_is_forecast_by_its_peaks() {
        // The same teeth on a floor that rises 1 MiB a minute: the peaks climb 60 MiB/h.
        let s = minutes(30, |i| {
            200.0 * MIB + i as f64 * MIB + (i % 5) as f64 * 10.0 * MIB
        });
        let p = project(&s, 512.0 * MIB, &rules(10)).expect("the peaks climb");
        let per_hour = p.per_sec * 3600.0 / MIB;
        assert!((45.0..75.0).contains(&per_hour), "{per_hour} MiB/h");
    }

    #[test]
    fn a_series_already_over_the_limit_is_left_to_the_limit() {
        let s = minutes(30, |i| 500.0 * MIB + i as f64 * MIB);
        assert_eq!(project(&s, 512.0 * MIB, &rules(10)), None);
    }

    #[test]
    fn too_few_samples_in_the_window_is_no_forecast() {
        let s = minutes(9, |i| 400.0 * MIB + i as f64 * 2.0 * MIB);
        assert_eq!(project(&s, 512.0 * MIB, &rules(10)), None);
        assert!(project(&s, 512.0 * MIB, &rules(5)).is_some());
        // Points older than the window do not count: of 40 minutes of samples, 6 are in 5 min.
        let old = minutes(40, |i| 400.0 * MIB + i as f64 * 0.1 * MIB);
        let rules = Rules {
            window: Duration::from_secs(5 * 60),
            ..rules(10)
        };
        assert_eq!(project(&old, 512.0 * MIB, &rules), None, "6 in the window");
    }

    #[test]
    fn a_shrinking_series_is_no_forecast() {
        let s = minutes(30, |i| 400.0 * MIB - i as f64 * 2.0 * MIB);
        assert_eq!(project(&s, 512.0 * MIB, &rules(10)), None);
    }

    #[test]
    fn an_episode_is_one_event_until_it_clears_or_the_bot_restarts() {
        let mut e = Episodes::default();
        let k = "news".to_string();
        assert_eq!(e.turn(&k, 7, false), Turn::Same);
        assert_eq!(e.turn(&k, 7, true), Turn::Opened);
        assert_eq!(e.turn(&k, 7, true), Turn::Same, "once per episode");
        assert_eq!(e.turn(&k, 7, true), Turn::Same);
        assert_eq!(e.turn(&k, 7, false), Turn::Closed, "the forecast cleared");
        assert_eq!(e.turn(&k, 7, false), Turn::Same);
        assert_eq!(e.turn(&k, 7, true), Turn::Opened, "a new episode");
        assert_eq!(e.turn(&k, 8, true), Turn::Closed, "restarted: a new run");
        assert_eq!(e.turn(&k, 8, true), Turn::Opened);
        assert!(e.is_open(&k));
        assert_eq!(e.keep_only(|_| false), vec![k.clone()], "stopped");
        assert!(!e.is_open(&k));
    }

    #[test]
    fn a_series_knows_whether_it_is_flat_as_points_come_merge_and_leave() {
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        let mut s = Series::default();
        // Runs of equal values, some within one slot (merged), some changing, for longer than
        // the window so that points leave at the front too.
        let mut x: u64 = 7;
        for i in 0..2000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let value = if (x >> 40).is_multiple_of(5) {
                (x >> 50) % 3
            } else {
                1
            };
            s.push(t0 + Duration::from_millis(i * 150), value as f64, window);
            let points = s.points();
            let flat = points.windows(2).all(|w| w[0].1 == w[1].1);
            assert_eq!(s.is_flat(), flat, "after sample {i}: {points:?}");
        }
        let mut idle = Series::default();
        for i in 0..100u64 {
            idle.push(t0 + Duration::from_secs(i * 15), 5e6, window);
        }
        assert!(idle.is_flat() && idle.len() > 1, "an idle bot's memory");
        idle.push(t0 + Duration::from_secs(1500), 6e6, window);
        assert!(!idle.is_flat(), "it grew");
        for i in 101..110u64 {
            idle.push(t0 + Duration::from_secs(i * 15), 6e6, window);
        }
        assert!(idle.is_flat(), "the growth left the window");
    }

    /// A bot that runs for weeks: its series' origin moves up, and what it holds and
    /// projects stays as fine as on its first day.
    #[test]
    fn a_series_stays_exact_for_weeks() {
        let t0 = Instant::now();
        let window = Duration::from_secs(30 * 60);
        let mut s = Series::default();
        let mut at = t0;
        // 1 MiB an hour on top of 100 MiB, sampled every 15.007 s (a tick is never exact)
        // for 20 days.
        let step = Duration::from_millis(15_007);
        for _ in 0..(20 * 24 * 240) {
            let hours = at.duration_since(t0).as_secs_f64() / 3600.0;
            s.push(at, (100.0 + hours) * MIB, window);
            at += step;
        }
        let points = s.points();
        assert_eq!(points.len(), 120, "the 30 min window at 15.007 s");
        for pair in points.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!((gap - 15.007).abs() < 0.01, "points 15.007 s apart: {gap}");
        }
        let p = project(&points, 1024.0 * MIB, &rules(10)).expect("a steady leak");
        assert!(
            (p.per_sec * 3600.0 / MIB - 1.0).abs() < 0.01,
            "1 MiB/h, as on day one: {}",
            p.per_sec * 3600.0 / MIB
        );
        assert!(s.origin.unwrap() > t0 + Duration::from_secs(19 * 86_400));
    }

    #[test]
    fn a_series_keeps_the_window_and_merges_fast_samples_into_their_peak() {
        let t0 = Instant::now();
        let window = Duration::from_secs(240);
        let mut s = Series::default();
        // A sample every 100 ms for 10 minutes: one slot is a second (240 s / 240).
        for i in 0..6000u64 {
            s.push(t0 + Duration::from_millis(i * 100), i as f64, window);
        }
        assert!(s.len() <= MAX_POINTS, "{}", s.len());
        let points = s.points();
        let span = points.last().unwrap().0 - points[0].0;
        assert!(span <= 240.0 && span > 230.0, "{span}");
        assert_eq!(
            points.last().unwrap().1,
            5999.0,
            "the peak of the last slot"
        );
        // And a slow sampler keeps every sample.
        let mut slow = Series::default();
        for i in 0..30u64 {
            slow.push(
                t0 + Duration::from_secs(i * 60),
                1.0,
                Duration::from_secs(3600),
            );
        }
        assert_eq!(slow.len(), 30);
    }

    /// What a forecast pass costs at 200 bots × 30 points (the README's Performance section).
    #[test]
    #[ignore = "a measurement: cargo test -p botctl-agent --release forecast_pass_cost -- --ignored --nocapture"]
    fn forecast_pass_cost() {
        let series: Vec<Vec<(f64, f64)>> = (0..200)
            .map(|b| {
                minutes(30, |i| {
                    100.0 * MIB + (b * i) as f64 * 0.1 * MIB + jitter(i) * MIB
                })
            })
            .collect();
        let rounds = 1000;
        let t = Instant::now();
        let mut found = 0;
        for _ in 0..rounds {
            for s in &series {
                found +=
                    project(std::hint::black_box(s), 512.0 * MIB, &rules(10)).is_some() as usize;
            }
        }
        let per_pass = t.elapsed() / rounds;
        println!("forecast pass, 200 series x 30 points: {per_pass:?} ({found} forecasts)");
    }
}
