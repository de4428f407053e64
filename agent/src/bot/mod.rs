//! One bot: the handle the rest of the agent reaches it by (send a command, read a snapshot),
//! the runner task that alone writes its state, the pure state machine and the process code.

pub mod containment;
pub mod envfile;
pub mod liveness;
pub mod machine;
pub mod process;
pub mod runner;
pub mod spawn;

use std::sync::{Arc, Mutex};

use botctl_proto::BotState;
use botctl_proto::config::BotConfig;
use tokio::sync::{mpsc, oneshot};

pub use runner::{AuthSeen, Begin, Command, Left, Prepared, Settings, View};

/// When the bot last wrote to its logs, as the log watcher saw it (inotify): read by the
/// bot's task for `[health] log_silence`. A fact fed in, like a sample, not the bot's state.
#[derive(Debug, Default)]
pub struct OutputSeen(Mutex<Option<std::time::Instant>>);

impl OutputSeen {
    pub fn now(&self) {
        *self.0.lock().unwrap() = Some(std::time::Instant::now());
    }

    /// Output seen otherwise (a log file's modification time).
    pub fn seen_at(&self, at: std::time::Instant) {
        let mut last = self.0.lock().unwrap();
        *last = (*last).max(Some(at));
    }

    pub fn last(&self) -> Option<std::time::Instant> {
        *self.0.lock().unwrap()
    }
}

/// A bot as the fleet and the loops hold it: its configuration as last applied, a way to
/// send it a command, and a read-only view of its state. Only the bot's own task writes
/// the view; everyone else sends what they saw.
#[derive(Clone)]
pub struct BotHandle {
    pub config: Arc<BotConfig>,
    tx: mpsc::UnboundedSender<Command>,
    view: Arc<Mutex<View>>,
    pub output: Arc<OutputSeen>,
}

impl BotHandle {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn owner(&self) -> &str {
        &self.config.user
    }

    /// Sends a command; false if the task has ended.
    pub fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).is_ok()
    }

    /// Sends a command that answers, and waits for the answer (None if the task ended).
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        if !self.send(make(tx)) {
            return None;
        }
        rx.await.ok()
    }

    /// Reads the state without asking the task (what `status` answers from).
    pub fn read<R>(&self, f: impl FnOnce(&View) -> R) -> R {
        f(&self.view.lock().unwrap())
    }

    pub fn snapshot(&self) -> View {
        self.read(View::clone)
    }

    pub fn state(&self) -> BotState {
        self.read(|v| v.state)
    }

    pub fn pid(&self) -> Option<u32> {
        self.read(|v| v.pid)
    }

    /// The same bot under a configuration the fleet applied since.
    pub fn with_config(&self, config: Arc<BotConfig>) -> BotHandle {
        BotHandle {
            config,
            tx: self.tx.clone(),
            view: self.view.clone(),
            output: self.output.clone(),
        }
    }
}
