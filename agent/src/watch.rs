//! inotify for the agent's event-driven parts (cookie files, log sizes): one small wrapper
//! so each user only says which directories and which events it cares about.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;

struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

pub struct DirWatcher {
    fd: AsyncFd<InotifyFd>,
    /// The kernel's queue of events overflowed since [`DirWatcher::overflowed`] last said so.
    overflow: std::sync::atomic::AtomicBool,
}

impl DirWatcher {
    pub fn new() -> std::io::Result<DirWatcher> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        // SAFETY: the Inotify owns its fd for as long as the AsyncFd holds it.
        let fd = unsafe {
            AsyncFd::register_with_interest(InotifyFd(inotify), tokio::io::Interest::READABLE)
        }?;
        Ok(DirWatcher {
            fd,
            overflow: Default::default(),
        })
    }

    pub fn add(&self, dir: &Path, flags: AddWatchFlags) -> std::io::Result<WatchDescriptor> {
        Ok(self.fd.get_ref().0.add_watch(dir, flags)?)
    }

    pub fn remove(&self, wd: WatchDescriptor) {
        let _ = self.fd.get_ref().0.rm_watch(wd);
    }

    /// Whether events were lost since the last call: the kernel's queue overflowed, so any
    /// watched file may have changed unseen.
    pub fn overflowed(&self) -> bool {
        self.overflow
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// The next batch of events with a file name (possibly none when events were lost: see
    /// [`DirWatcher::overflowed`]). The kernel merges repeats of the same event that are not
    /// read yet, so a file written in a tight loop costs one event per wake-up, not one per
    /// write.
    pub async fn next(&self) -> Vec<(WatchDescriptor, OsString)> {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            let events = match guard
                .try_io(|fd| fd.get_ref().0.read_events().map_err(std::io::Error::from))
            {
                Ok(Ok(events)) => events,
                Ok(Err(_)) | Err(_) => continue,
            };
            let lost = events
                .iter()
                .any(|e| e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW));
            if lost {
                self.overflow
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let named: Vec<(WatchDescriptor, OsString)> = events
                .into_iter()
                .filter_map(|e| Some((e.wd, e.name?)))
                .collect();
            if lost || !named.is_empty() {
                return named;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// More events than the kernel queues while nobody reads: the watcher says events were
    /// lost (the log sweep then checks every log), and the next batch still comes.
    #[tokio::test]
    async fn a_queue_overflow_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let w = DirWatcher::new().unwrap();
        w.add(dir.path(), AddWatchFlags::IN_MODIFY).unwrap();
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut files = ["a", "b"].map(|n| std::fs::File::create(dir.path().join(n)).unwrap());
        // Two files in turn: no event repeats the one before, so none is merged.
        for i in 0..limit + 10 {
            files[i % 2].write_all(b"x").unwrap();
        }
        assert!(!w.overflowed(), "nothing read yet");
        w.next().await;
        let mut lost = w.overflowed();
        // The overflow is the queue's last event: it may come with a later batch.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !lost {
            tokio::time::timeout_at(deadline, w.next())
                .await
                .expect("the overflow is reported");
            lost = w.overflowed();
        }
        assert!(!w.overflowed(), "said once");
        files[0].write_all(b"x").unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), w.next()).await;
        assert!(next.is_ok_and(|batch| batch.iter().any(|(_, n)| n == "a")));
    }
}
