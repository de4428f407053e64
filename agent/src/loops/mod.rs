//! Periodic work that reads the fleet: the health sampler, the auth monitor, log rotation,
//! cleanup and the summary report. `boot` starts each through `supervise`.

pub mod auth;
pub mod cleanup;
pub mod forecasts;
pub mod logs;
pub mod notify_socket;
pub mod sampler;
pub mod summary;
