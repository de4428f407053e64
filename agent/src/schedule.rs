//! When periodic work is next due: counted from its last run at the interval the settings say
//! now, and re-counted when a reload is announced, so that a changed interval applies at once.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A far deadline for an interval too long to add (it is never reached in practice).
const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);

/// When work last run at `last` is due again at `interval`: a shortened interval whose time
/// has already passed is due at once, a lengthened one waits for the rest.
pub fn next_due(last: Instant, interval: Duration) -> Instant {
    last.checked_add(interval)
        .unwrap_or_else(|| last + FAR.min(interval))
}

/// Announces reloads to the loops that wait out an interval: async loops watch a counter,
/// the sampler's thread waits on a condition variable.
pub struct Reloads {
    tx: watch::Sender<u64>,
    count: Mutex<u64>,
    changed: Condvar,
}

impl Default for Reloads {
    fn default() -> Self {
        Reloads {
            tx: watch::Sender::new(0),
            count: Mutex::new(0),
            changed: Condvar::new(),
        }
    }
}

impl Reloads {
    /// The settings changed: every waiting loop recomputes its deadline. Call it after the
    /// new settings are in place, so that a woken loop reads them.
    pub fn announce(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
        self.tx.send_modify(|n| *n += 1);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Waits until `last + interval()`, re-reading `interval` after every reload.
    pub async fn wait_due(
        rx: &mut watch::Receiver<u64>,
        last: Instant,
        interval: impl Fn() -> Duration,
    ) {
        loop {
            // Marked seen before the interval is read: a reload in between wakes the wait.
            rx.borrow_and_update();
            let due = next_due(last, interval());
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => return,
                // Without a sender no reload can come: the sleep alone decides.
                Ok(()) = rx.changed() => {}
            }
        }
    }

    /// `wait_due` for a thread: blocks until `last + interval()`, re-reading `interval`
    /// after every reload.
    pub fn block_until_due(&self, last: Instant, interval: impl Fn() -> Duration) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let seen = *count;
            // Read with the lock held: `announce` cannot slip in between this and the wait.
            let due = next_due(last, interval());
            let now = Instant::now();
            if now >= due {
                return;
            }
            count = self
                .changed
                .wait_timeout_while(count, due - now, |c| *c == seen)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    /// Bounds every wait here: far above what a reload needs, far below the hour waited out.
    const DEADLINE: Duration = Duration::from_secs(10);

    #[test]
    fn due_counts_from_the_last_run_at_the_interval_of_now() {
        let last = Instant::now();
        assert_eq!(next_due(last, HOUR), last + HOUR);
        // Shortened below the time already waited: due in the past, so at once.
        let later = last + Duration::from_secs(5);
        assert!(next_due(last, Duration::from_secs(1)) < later);
        // An interval too long to add does not panic.
        assert!(next_due(last, Duration::MAX) > last + HOUR);
    }

    /// An interval the test can change as a reload would, in seconds.
    fn interval(secs: &Arc<AtomicU64>) -> impl Fn() -> Duration + use<> {
        let secs = secs.clone();
        move || Duration::from_secs(secs.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_shortened_interval_ends_an_async_wait_at_the_reload() {
        let reloads = Reloads::default();
        let secs = Arc::new(AtomicU64::new(3600));
        let mut rx = reloads.subscribe();
        let last = Instant::now();
        let wait = Reloads::wait_due(&mut rx, last, interval(&secs));
        tokio::pin!(wait);
        // Still waiting out the hour: nothing has changed yet.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut wait)
                .await
                .is_err()
        );
        secs.store(0, Ordering::SeqCst);
        reloads.announce();
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("the wait ends once the shorter interval is announced");
    }

    #[tokio::test]
    async fn a_reload_that_keeps_the_interval_keeps_waiting() {
        let reloads = Reloads::default();
        let secs = Arc::new(AtomicU64::new(3600));
        let mut rx = reloads.subscribe();
        let wait = Reloads::wait_due(&mut rx, Instant::now(), interval(&secs));
        tokio::pin!(wait);
        reloads.announce();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut wait)
                .await
                .is_err()
        );
    }

    #[test]
    fn a_shortened_interval_ends_a_blocking_wait_at_the_reload() {
        let reloads = Arc::new(Reloads::default());
        let secs = Arc::new(AtomicU64::new(3600));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let waiter = {
            let (reloads, interval) = (reloads.clone(), interval(&secs));
            std::thread::spawn(move || {
                reloads.block_until_due(Instant::now(), interval);
                let _ = done_tx.send(());
            })
        };
        assert!(done_rx.recv_timeout(Duration::from_millis(50)).is_err());
        secs.store(0, Ordering::SeqCst);
        reloads.announce();
        done_rx
            .recv_timeout(DEADLINE)
            .expect("the thread wakes once the shorter interval is announced");
        waiter.join().unwrap();
    }
}
