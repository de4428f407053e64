//! `supervise`: the one way a long-lived loop of the agent runs. A panic or an unexpected end
//! is a `component-restart` event and a restart with capped backoff; nothing else goes down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::events::{Event, EventKind};

/// A boxed future, as a component's `make` returns it.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The first restart waits this long; each quick one after it twice as long, up to `MAX_DELAY`.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A component that ran this long before it ended starts again from `FIRST_DELAY`.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Names a component whose first run panics at once (`BOTCTL_FAULT_PANIC=NAME`): how the
/// fault tests show that a panicking loop is restarted and the agent carries on.
pub const FAULT_PANIC_ENV: &str = "BOTCTL_FAULT_PANIC";

fn inject_fault(name: &str, first: bool) {
    if first && std::env::var(FAULT_PANIC_ENV).is_ok_and(|n| n == name) {
        panic!("{FAULT_PANIC_ENV}={name}: injected panic");
    }
}

/// Capped exponential backoff between restarts.
struct Backoff {
    delay: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { delay: FIRST_DELAY }
    }

    /// The wait before the next run of a component that ran for `ran`.
    fn next(&mut self, ran: Duration) -> Duration {
        if ran > STABLE_AFTER {
            self.delay = FIRST_DELAY;
        }
        let now = self.delay;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        now
    }
}

fn restarting(ctx: &Context, name: &str, why: &str, delay: Duration) {
    ctx.record(Event::new(
        EventKind::ComponentRestart,
        format!(
            "{name} {why}; restarting in {}",
            botctl_proto::human::duration(delay)
        ),
    ));
}

/// Runs an async component forever: `make` builds one run; when it ends or panics, that is
/// an event and a new run follows after the backoff. Ends only when its task is aborted.
pub async fn supervise<F>(name: &'static str, ctx: Arc<Context>, make: F)
where
    F: Fn() -> BoxFuture<Result<(), String>> + Send + 'static,
{
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let started = Instant::now();
        let run = make();
        let result = tokio::spawn(async move {
            inject_fault(name, first);
            run.await
        })
        .await;
        first = false;
        let why = match result {
            Ok(Ok(())) => "ended".to_string(),
            Ok(Err(e)) => e,
            Err(e) if e.is_panic() => "panicked".to_string(),
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        };
        let delay = backoff.next(started.elapsed());
        restarting(&ctx, name, &why, delay);
        tokio::time::sleep(delay).await;
    }
}

/// Runs a blocking component on a thread of its own, forever, the same way: a panic or an
/// end is an event and a restart after the backoff. The thread runs at background priority
/// inside the runtime (events and messages it sends may need it).
pub fn supervise_thread<F>(name: &'static str, ctx: Arc<Context>, run: F) -> std::io::Result<()>
where
    F: Fn() -> Result<(), String> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(name.replace(' ', "-"))
        .spawn(move || {
            let _entered = runtime.enter();
            crate::util::background_thread();
            let mut backoff = Backoff::new();
            let mut first = true;
            loop {
                let started = Instant::now();
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    inject_fault(name, first);
                    run()
                }));
                first = false;
                let why = match result {
                    Ok(Ok(())) => "ended".to_string(),
                    Ok(Err(e)) => e,
                    Err(_) => "panicked".to_string(),
                };
                let delay = backoff.next(started.elapsed());
                restarting(&ctx, name, &why, delay);
                std::thread::sleep(delay);
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn context() -> (tempfile::TempDir, Arc<Context>) {
        let dir = tempfile::tempdir().unwrap();
        let paths = botctl_proto::Paths::under(dir.path());
        let (store, _) = crate::store::Store::open(&paths.db_file);
        (dir, Arc::new(Context::new(paths, store)))
    }

    async fn restarts(ctx: &Context) -> Vec<String> {
        ctx.store.flush().await;
        let events = ctx
            .store
            .events(botctl_proto::EventQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        events
            .into_iter()
            .filter(|e| e.kind == "component-restart")
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets_after_a_stable_run() {
        let mut b = Backoff::new();
        let quick = Duration::from_millis(5);
        let waits: Vec<u64> = (0..8).map(|_| b.next(quick).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.next(STABLE_AFTER * 2), FIRST_DELAY);
    }

    #[tokio::test]
    async fn a_panicking_loop_is_an_event_and_runs_again() {
        let (_dir, ctx) = context();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let task = tokio::spawn(supervise("test loop", ctx.clone(), move || {
            let runs = counted.clone();
            Box::pin(async move {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("boom");
                }
                std::future::pending::<()>().await;
                Ok(())
            })
        }));
        // Paused time: the backoff's sleep passes at once once every task is idle.
        while runs.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        task.abort();
        assert_eq!(
            restarts(&ctx).await,
            ["test loop panicked; restarting in 1s"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panicking_thread_is_an_event_and_runs_again() {
        let (_dir, ctx) = context();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        supervise_thread("test thread", ctx.clone(), move || {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("boom");
            }
            // The second run stays, like a sampler would.
            loop {
                std::thread::park();
            }
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while runs.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "the thread was not restarted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            restarts(&ctx).await,
            ["test thread panicked; restarting in 1s"]
        );
    }
}
