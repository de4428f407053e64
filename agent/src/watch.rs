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
}

impl DirWatcher {
    pub fn new() -> std::io::Result<DirWatcher> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        // SAFETY: the Inotify owns its fd for as long as the AsyncFd holds it.
        let fd = unsafe {
            AsyncFd::register_with_interest(InotifyFd(inotify), tokio::io::Interest::READABLE)
        }?;
        Ok(DirWatcher { fd })
    }

    pub fn add(&self, dir: &Path, flags: AddWatchFlags) -> std::io::Result<WatchDescriptor> {
        Ok(self.fd.get_ref().0.add_watch(dir, flags)?)
    }

    pub fn remove(&self, wd: WatchDescriptor) {
        let _ = self.fd.get_ref().0.rm_watch(wd);
    }

    /// The next batch of events with a file name. The kernel merges repeats of the same
    /// event that are not read yet, so a file written in a tight loop costs one event per
    /// wake-up, not one per write.
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
            let named: Vec<(WatchDescriptor, OsString)> = events
                .into_iter()
                .filter_map(|e| Some((e.wd, e.name?)))
                .collect();
            if !named.is_empty() {
                return named;
            }
        }
    }
}
