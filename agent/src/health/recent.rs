//! The last few health samples of each running bot and the agent's own cost, kept in memory
//! by the sampler so that `botctl top` is answered without touching /proc or the store.

use std::collections::VecDeque;

use botctl_proto::{AgentUsage, RecentFigures};

/// Points kept per bot: enough for the widest sparkline `top` draws.
pub const POINTS: usize = 20;

#[derive(Default)]
pub struct Recent {
    /// Each bot's points, with the tick that last had the bot.
    bots: crate::util::FastMap<String, (u64, VecDeque<(f32, u64)>)>,
    ticks: u64,
    pub agent: Option<AgentUsage>,
}

impl Recent {
    /// One tick's figures of the running bots; a bot absent from the tick (stopped, removed)
    /// loses its history, so a restarted bot's graph starts afresh.
    pub fn tick(&mut self, figures: &[(&str, f32, u64)], agent: Option<AgentUsage>) {
        // In place: a new map every tick copied every bot's name, 2,000 allocations a tick.
        self.ticks += 1;
        for (name, cpu, memory) in figures {
            let (seen, points) = crate::util::slot(&mut self.bots, name);
            // Room for exactly the points kept: growing by doubling ended at 32 (512 bytes,
            // where 20 points are 320) after reallocating three times.
            points.reserve_exact(POINTS - points.len());
            if points.len() == POINTS {
                points.pop_front();
            }
            points.push_back((*cpu, *memory));
            *seen = self.ticks;
        }
        if self.bots.len() > figures.len() {
            self.bots.retain(|_, (seen, _)| *seen == self.ticks);
        }
        self.agent = agent;
    }

    /// The figures of the bots `visible` admits, as the wire carries them.
    pub fn figures(&self, visible: impl Fn(&str) -> bool) -> Vec<RecentFigures> {
        self.bots
            .iter()
            .filter(|(name, _)| visible(name))
            .map(|(name, (_, points))| RecentFigures {
                bot: name.clone(),
                cpu_percent: points.iter().map(|p| p.0).collect(),
                memory_bytes: points.iter().map(|p| p.1).collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_points_and_forgets_bots_that_stopped() {
        let mut r = Recent::default();
        for i in 0..POINTS + 5 {
            r.tick(&[("a", i as f32, i as u64), ("b", 1.0, 2)], None);
        }
        r.tick(&[("a", 99.0, 99)], None);
        let f = r.figures(|_| true);
        assert_eq!(f.len(), 1, "b stopped: {f:?}");
        assert_eq!(f[0].cpu_percent.len(), POINTS);
        assert_eq!(f[0].cpu_percent.last(), Some(&99.0));
        assert_eq!(f[0].memory_bytes[0], 6);
        assert!(r.figures(|n| n != "a").is_empty());
    }
}
