//! The machine's floor under the curve's start and storm rows: the same `sleep 100000`s
//! started, and in a storm killed, reaped and started again, by this bench itself, with no
//! supervisor's work at all. Two threads do it, one per core of the 2-core machine the
//! targets were set on, each blocked only while its child execs (std spawns with
//! posix_spawn). What botctl takes above these rows is its own cost; what the rows take is
//! the kernel's and the bots' (a `sleep` loads its libraries and locale before it sleeps).

use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::cpu_ns;

/// The floor's `sleep`s, in two halves (one per thread). Dropping them kills and reaps all.
pub struct Sleeps([Vec<Child>; 2]);

impl Drop for Sleeps {
    fn drop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Sleeps {
    fn pids(&self) -> Vec<u32> {
        self.0.iter().flatten().map(Child::id).collect()
    }

    /// The CPU the running `sleep`s used so far: their exec and their program's start.
    pub fn cpu(&self) -> Duration {
        started_cpu(&self.pids())
    }
}

/// Starts `n` sleeps: the time until every spawn returned (each child has exec'd).
pub fn start(n: usize) -> (Duration, Sleeps) {
    let t = Instant::now();
    let halves = std::thread::scope(|s| {
        let a = s.spawn(|| spawn_many(n / 2));
        let b = spawn_many(n - n / 2);
        [a.join().expect("the floor's spawning thread"), b]
    });
    (t.elapsed(), Sleeps(halves))
}

/// SIGKILL to every sleep, as the curve's storm does to the bots; each thread reaps its
/// half in turn and starts each again at once. The time from the first kill until every
/// new sleep runs.
pub fn storm(sleeps: &mut Sleeps) -> Duration {
    let pids = sleeps.pids();
    let ready = Barrier::new(3);
    let t0 = std::thread::scope(|s| {
        for half in sleeps.0.iter_mut() {
            let ready = &ready;
            s.spawn(move || {
                ready.wait();
                for child in half.iter_mut() {
                    let _ = child.wait();
                    *child = spawn_one();
                }
            });
        }
        ready.wait();
        let t0 = Instant::now();
        for pid in pids {
            // SAFETY: a pid of this bench's own child, not yet reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        t0
    });
    t0.elapsed()
}

/// CPU used so far by this process (`RUSAGE_SELF`, every thread's) or by the children it
/// waited for (`RUSAGE_CHILDREN`).
pub fn rusage(who: i32) -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut r) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(r.ru_utime) + tv(r.ru_stime)
}

/// The CPU processes have used so far, summed.
pub fn started_cpu(pids: &[u32]) -> Duration {
    Duration::from_nanos(pids.iter().map(|p| cpu_ns(*p)).sum())
}

fn spawn_many(k: usize) -> Vec<Child> {
    (0..k).map(|_| spawn_one()).collect()
}

fn spawn_one() -> Child {
    Command::new("sleep")
        .arg("100000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting sleep")
}
