//! Descriptor hygiene where botctl starts a process: the agent and every program it starts get
//! their stdio and what botctl hands them on purpose, never what the caller happened to hold.

use std::io;

/// Marks every descriptor numbered `first` or above close-on-exec, so that the program exec'd
/// next inherits none of them (a caller's `flock`ed file or pipe included). Async-signal-safe,
/// for use between fork and exec: one `close_range` call, or on kernels before 5.11 an `fcntl`
/// per possible descriptor.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on our own descriptors.
    // Called by number rather than through glibc's wrapper, which older glibcs lack.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass; fcntl on a closed descriptor is EBADF.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        let last = limit.rlim_cur.min(1 << 20) as i32;
        for fd in first as i32..last {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// Makes `cmd` hand the program it starts its stdio and nothing else.
pub fn only_stdio(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: cloexec_from is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| cloexec_from(3));
    }
}

/// Closes every descriptor above stderr that this process inherited when it was exec'd: they
/// are exactly those without close-on-exec, since everything Rust (and every library botctl
/// uses) opens is close-on-exec; one kept on purpose is flagged close-on-exec first. Closing
/// them, not only flagging them, matters for a process that outlives its caller, such as the
/// agent run by hand from a script that holds a lock. Call it before any other thread exists.
pub fn close_inherited() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let inherited: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|fd| *fd > 2)
        .filter(|fd| {
            // SAFETY: F_GETFD only reads a flag; the directory's own fd is close-on-exec.
            let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
            flags >= 0 && flags & libc::FD_CLOEXEC == 0
        })
        .collect();
    for fd in inherited {
        // SAFETY: a descriptor this process inherited and nothing in it owns.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn every_descriptor_from_the_first_is_flagged_and_those_below_are_not() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd = file.as_raw_fd();
        // SAFETY: flags of a descriptor we own.
        let cloexec = || unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC != 0;
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        assert!(!cloexec());
        cloexec_from(fd as u32 + 1).unwrap();
        assert!(!cloexec(), "below the first: untouched");
        cloexec_from(fd as u32).unwrap();
        assert!(cloexec());
    }
}
