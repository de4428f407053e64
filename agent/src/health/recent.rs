//! The last few health samples of each running bot and the agent's own cost, kept in memory
//! by the sampler so that `botctl top` is answered without touching /proc or the store.

use std::collections::{HashMap, VecDeque};

use botctl_proto::{AgentUsage, RecentFigures};

/// Points kept per bot: enough for the widest sparkline `top` draws.
pub const POINTS: usize = 20;

#[derive(Default)]
pub struct Recent {
    bots: HashMap<String, VecDeque<(f32, u64)>>,
    pub agent: Option<AgentUsage>,
}

impl Recent {
    /// One tick's figures of the running bots; a bot absent from the tick (stopped, removed)
    /// loses its history, so a restarted bot's graph starts afresh.
    pub fn tick(&mut self, figures: &[(&str, f32, u64)], agent: Option<AgentUsage>) {
        let mut kept = HashMap::with_capacity(figures.len());
        for (name, cpu, memory) in figures {
            let mut points = self.bots.remove(*name).unwrap_or_default();
            if points.len() == POINTS {
                points.pop_front();
            }
            points.push_back((*cpu, *memory));
            kept.insert(name.to_string(), points);
        }
        self.bots = kept;
        self.agent = agent;
    }

    /// The figures of the bots `visible` admits, as the wire carries them.
    pub fn figures(&self, visible: impl Fn(&str) -> bool) -> Vec<RecentFigures> {
        self.bots
            .iter()
            .filter(|(name, _)| visible(name))
            .map(|(name, points)| RecentFigures {
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
