//! Supervision of bots: the pure state machine deciding what to do, and the per-bot runner
//! that does it with real processes.

pub mod bot;
pub mod machine;
pub mod spawn_record;
