//! Starting a bot's process: a vfork-style clone that is born in the bot's cgroup, starts
//! with an empty descriptor table of its own, and makes only system calls until the exec.
//!
//! Why not `std::process::Command`: the hardening steps (limits, umask, account) need a
//! pre-exec hook, which makes std fork the whole agent, and a child that then writes itself
//! into `cgroup.procs` waits for the kernel's cgroup migration lock (an RCU grace period):
//! together about 15 ms from a crash to the new program, where posix_spawn took 1.5 ms.
//! Here the child shares the agent's memory until it execs (no page tables copied), shares
//! its descriptor table only long enough to drop it (no per-descriptor copy, which grows
//! with the fleet: two per bot), and `clone3(CLONE_INTO_CGROUP)` puts it in its cgroup as it
//! is made. Where clone3 is missing (an old kernel, a seccomp filter) the legacy clone runs
//! the same child, which then writes itself into `cgroup.procs` first.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use libc::{c_char, c_int, c_long};

/// What every bot gets, whoever runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    pub no_new_privs: bool,
    pub core_dumps: bool,
    /// `RLIMIT_NOFILE`, soft and hard; None keeps the agent's.
    pub nofile: Option<u64>,
}

/// The process as the child is asked to set it up.
pub struct Launch<'a> {
    pub command: &'a [String],
    pub cwd: &'a Path,
    /// The agent's variables the bot gets, but for those `env` sets.
    pub inherited: &'a [Inherited],
    /// The bot's own variables.
    pub env: Vec<(OsString, OsString)>,
    /// Opened by the child, appending (created with `mode`): stdout and stderr.
    pub stdout: &'a Path,
    pub stderr: &'a Path,
    pub log_mode: u32,
    /// The bot's cgroup, which the child enters before anything else.
    pub cgroup: Option<CgroupEntry>,
    /// uid, gid and supplementary groups to take (`run_as`).
    pub ids: Option<(u32, u32, Vec<u32>)>,
    pub hardening: Hardening,
}

/// A variable of the agent's environment, as bots inherit it: its name, and `NAME=value`
/// ready for the exec.
pub struct Inherited {
    name: OsString,
    entry: CString,
}

impl Inherited {
    /// None for a variable the exec cannot pass (a NUL byte).
    pub fn new(name: OsString, value: &OsStr) -> Option<Inherited> {
        let mut entry = name.clone().into_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        Some(Inherited {
            name,
            entry: CString::new(entry).ok()?,
        })
    }

    fn value(&self) -> &OsStr {
        let entry = self.entry.as_bytes();
        OsStr::from_bytes(&entry[self.name.len() + 1..])
    }
}

/// How the child enters its cgroup.
#[derive(Debug, Clone, Copy)]
pub struct CgroupEntry {
    /// The cgroup's directory, opened.
    pub dir: RawFd,
    /// Born in it (`CLONE_INTO_CGROUP`), else it writes itself into `cgroup.procs`.
    pub born_inside: bool,
}

/// Why a start failed.
#[derive(Debug)]
pub enum SpawnError {
    /// The bot's log could not be opened.
    Log { path: PathBuf, error: io::Error },
    /// The program could not be run; `step` says what failed before the exec, if not it.
    Run {
        program: String,
        step: Option<&'static str>,
        error: io::Error,
    },
}

impl SpawnError {
    /// The bot's working directory or its logs' directory is not there.
    pub fn lacks_a_directory(&self) -> bool {
        match self {
            SpawnError::Log { error, .. } => error.kind() == io::ErrorKind::NotFound,
            SpawnError::Run {
                step: Some(step),
                error,
                ..
            } => Some(*step) == Step::Directory.says() && error.kind() == io::ErrorKind::NotFound,
            SpawnError::Run { .. } => false,
        }
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Log { path, error } => {
                write!(f, "cannot open log {}: {error}", path.display())
            }
            SpawnError::Run {
                program,
                step: None,
                error,
            } => write!(f, "cannot run `{program}`: {error}"),
            SpawnError::Run {
                program,
                step: Some(step),
                error,
            } => write!(f, "cannot run `{program}`: {step}: {error}"),
        }
    }
}

/// A started child: its pid and a pidfd for it.
pub struct Started {
    pub pid: u32,
    pub pidfd: OwnedFd,
}

impl Started {
    /// The child a successful clone with `CLONE_PIDFD` returned: its pid and that pidfd.
    fn cloned(pid: c_long, pidfd: c_int) -> Started {
        Started {
            pid: pid as u32,
            // SAFETY: CLONE_PIDFD gave us this descriptor, and nothing else owns it.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }
    }
}

/// Starts the process (see the module comment); returns once it runs the program, or with
/// why it could not (the failed child is reaped).
pub fn launch(spec: Launch<'_>) -> Result<Started, SpawnError> {
    let plan = Plan::new(&spec)?;
    let moves_itself = spec.cgroup.is_some_and(|c| !c.born_inside);
    let method = if moves_itself || CLONE3_MISSING.load(Ordering::Relaxed) {
        Method::Legacy
    } else {
        Method::Clone3
    };
    plan.run(method, spec.cgroup.map(|c| c.dir))
}

/// How the child is made: clone3 (born in its cgroup) or the legacy clone (moves itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Clone3,
    Legacy,
}

/// Set once clone3 turned out to be unavailable: every later start uses the legacy clone.
static CLONE3_MISSING: AtomicBool = AtomicBool::new(false);

/// The child's stack, while it shares the agent's memory: a few system calls need little.
const STACK_BYTES: usize = 64 * 1024;

/// What the child does, in order; its number is what a failed child reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
enum Step {
    Cgroup = 1,
    Descriptors,
    Stdin,
    Stdout,
    Stderr,
    Session,
    Limits,
    Directory,
    Account,
    NoNewPrivs,
    Exec,
}

impl Step {
    const ALL: [Step; 11] = [
        Step::Cgroup,
        Step::Descriptors,
        Step::Stdin,
        Step::Stdout,
        Step::Stderr,
        Step::Session,
        Step::Limits,
        Step::Directory,
        Step::Account,
        Step::NoNewPrivs,
        Step::Exec,
    ];

    fn from_code(code: i32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as i32 == code)
    }

    fn says(self) -> Option<&'static str> {
        Some(match self {
            Step::Cgroup => "cannot enter its cgroup",
            Step::Descriptors => "cannot drop the agent's descriptors",
            Step::Stdin => "cannot open /dev/null",
            Step::Session => "cannot start a session",
            Step::Limits => "cannot set its resource limits",
            Step::Directory => "cannot enter its working directory",
            Step::Account => "cannot take its account",
            Step::NoNewPrivs => "cannot set no_new_privs",
            Step::Stdout | Step::Stderr | Step::Exec => return None,
        })
    }
}

/// Everything the child reads, made before the clone: the child allocates nothing.
struct Plan {
    program: String,
    /// Where the program may be, in order (PATH searched here, as execvp would).
    candidates: Vec<CString>,
    argv: Vec<CString>,
    /// The inherited variables the bot gets, as pointers into the launch's `inherited`
    /// (which outlives the plan); then the bot's own.
    inherited: Vec<*const c_char>,
    envp: Vec<CString>,
    cwd: CString,
    stdout: (PathBuf, CString),
    stderr: (PathBuf, CString),
    log_mode: libc::mode_t,
    ids: Option<(u32, u32, Vec<libc::gid_t>)>,
    hardening: Hardening,
    /// The agent's hard open-file limit: only root may raise it.
    nofile_hard: u64,
    /// The agent's soft limit: the highest descriptor to close where close_range is missing.
    nofile_soft: u64,
    /// The soft limit to give back, where the agent raised its own (see [`raise_open_files`]).
    nofile_started: Option<libc::rlimit>,
}

fn cstring(what: &str, bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// Null-terminated pointers to `strings`, valid while they live.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

impl Plan {
    fn new(spec: &Launch<'_>) -> Result<Plan, SpawnError> {
        let program = spec.command.first().cloned().unwrap_or_default();
        let run_error = |error| SpawnError::Run {
            program: program.clone(),
            step: None,
            error,
        };
        Plan::build(spec, &program).map_err(run_error)
    }

    fn build(spec: &Launch<'_>, program: &str) -> io::Result<Plan> {
        if program.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
        }
        let own = |name: &OsStr| spec.env.iter().any(|(k, _)| k == name);
        let inherited: Vec<&Inherited> = spec.inherited.iter().filter(|i| !own(&i.name)).collect();
        let path = spec
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str())
            .or_else(|| {
                inherited
                    .iter()
                    .find(|i| i.name == "PATH")
                    .map(|i| i.value())
            })
            .unwrap_or(OsStr::new("/bin:/usr/bin"));
        let candidates = search(program, path)
            .into_iter()
            .map(|c| cstring("the command", c.as_os_str().as_bytes()))
            .collect::<io::Result<_>>()?;
        let argv = spec
            .command
            .iter()
            .map(|a| cstring("the command", a.as_bytes()))
            .collect::<io::Result<_>>()?;
        let envp = spec
            .env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.clone().into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstring("the environment", &kv)
            })
            .collect::<io::Result<_>>()?;
        let log = |p: &Path| -> io::Result<(PathBuf, CString)> {
            Ok((
                p.to_path_buf(),
                cstring("a log path", p.as_os_str().as_bytes())?,
            ))
        };
        let (nofile_soft, nofile_hard) = rlimit_nofile();
        Ok(Plan {
            program: program.to_string(),
            candidates,
            argv,
            inherited: inherited.iter().map(|i| i.entry.as_ptr()).collect(),
            envp,
            cwd: cstring("the working directory", spec.cwd.as_os_str().as_bytes())?,
            stdout: log(spec.stdout)?,
            stderr: log(spec.stderr)?,
            log_mode: spec.log_mode as libc::mode_t,
            ids: spec.ids.clone(),
            hardening: spec.hardening,
            nofile_hard,
            nofile_soft,
            nofile_started: STARTED_WITH
                .get()
                .copied()
                .filter(|l| l.rlim_cur != nofile_soft),
        })
    }

    fn run(&self, method: Method, cgroup: Option<RawFd>) -> Result<Started, SpawnError> {
        let candidates = pointers(&self.candidates);
        let argv = pointers(&self.argv);
        let envp: Vec<*const c_char> = self
            .inherited
            .iter()
            .copied()
            .chain(self.envp.iter().map(|s| s.as_ptr()))
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let mut child = Child {
            plan: self,
            candidates: &candidates,
            argv: &argv,
            envp: &envp,
            procs: -1,
            step: AtomicI32::new(0),
            errno: AtomicI32::new(0),
        };
        let started = match method {
            Method::Clone3 => match clone3(&mut child, cgroup) {
                Err(e) if clone3_is_missing(&e) => {
                    CLONE3_MISSING.store(true, Ordering::Relaxed);
                    legacy(&mut child, cgroup)
                }
                other => other,
            },
            Method::Legacy => legacy(&mut child, cgroup),
        };
        if child.procs >= 0 {
            // SAFETY: the descriptor `legacy` opened for the child; ours to close.
            unsafe { libc::close(child.procs) };
        }
        let run_error = |step: Option<&'static str>, error| SpawnError::Run {
            program: self.program.clone(),
            step,
            error,
        };
        let started = started.map_err(|e| run_error(Some("cannot start a process"), e))?;
        let code = child.step.load(Ordering::Acquire);
        if code == 0 {
            return Ok(started);
        }
        // The child failed before its exec and has exited: reap it, say why.
        // SAFETY: waits for our own child, whose pid nobody else reaps.
        unsafe { libc::waitpid(started.pid as libc::pid_t, std::ptr::null_mut(), 0) };
        let error = io::Error::from_raw_os_error(child.errno.load(Ordering::Acquire));
        Err(match Step::from_code(code) {
            Some(Step::Stdout) => SpawnError::Log {
                path: self.stdout.0.clone(),
                error,
            },
            Some(Step::Stderr) => SpawnError::Log {
                path: self.stderr.0.clone(),
                error,
            },
            step => run_error(step.and_then(Step::says), error),
        })
    }
}

/// Where `program` may be: itself when it names a path, else each PATH entry joined with
/// it (an empty entry is the working directory), as execvp searches.
fn search(program: &str, path: &OsStr) -> Vec<PathBuf> {
    if program.contains('/') {
        return vec![PathBuf::from(program)];
    }
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| {
            if dir.is_empty() {
                PathBuf::from(program)
            } else {
                Path::new(OsStr::from_bytes(dir)).join(program)
            }
        })
        .collect()
}

/// The open-file limit the agent was started with, before [`raise_open_files`]: what bots
/// get unless `nofile` says otherwise.
static STARTED_WITH: std::sync::OnceLock<libc::rlimit> = std::sync::OnceLock::new();

/// Raises the agent's soft open-file limit to its hard one. A bot costs the agent several
/// descriptors (its pidfd, its cgroup's directory and files, its processes' `/proc` files),
/// so 2,000 bots need several thousand where most hosts start a program with a soft limit of
/// 1024 (systemd's default, and a login shell's): past it, starts and health reads would
/// fail. Bots keep the limit the agent was started with (programs that still use `select`
/// break with descriptors above 1024), as systemd does for its services.
pub fn raise_open_files() {
    let (soft, hard) = rlimit_nofile();
    let _ = STARTED_WITH.set(libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    });
    if soft < hard {
        let raised = libc::rlimit {
            rlim_cur: hard,
            rlim_max: hard,
        };
        // SAFETY: setrlimit reads the struct we pass.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    }
}

fn rlimit_nofile() -> (u64, u64) {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) };
    (current.rlim_cur, current.rlim_max)
}

/// The child's view: the plan, its pointer arrays, and where it reports a failure.
struct Child<'a> {
    plan: &'a Plan,
    candidates: &'a [*const c_char],
    argv: &'a [*const c_char],
    envp: &'a [*const c_char],
    /// `cgroup.procs` to write itself into (legacy clone with a cgroup), else -1.
    procs: RawFd,
    /// The failed step (0: none) and its errno, written by the child before it exits.
    step: AtomicI32,
    errno: AtomicI32,
}

/// Blocks every signal in the calling thread until dropped: no handler of the agent may run
/// in the child while it shares the agent's memory (it resets them all before unblocking).
struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        // SAFETY: sigset functions fill the sets we pass; pthread_sigmask acts on this thread.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            SignalsBlocked(old)
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// Shared memory (until the exec), parent paused until the exec, shared descriptor table
/// (the child drops its share at once), and a pidfd for the parent.
const FLAGS: u64 = (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES) as u64 | CLONE_PIDFD;

/// clone3's arguments, as `struct clone_args` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

fn clone3_is_missing(e: &io::Error) -> bool {
    // ENOSYS: no clone3 (before Linux 5.3, or a seccomp filter that hides it); E2BIG: no
    // `cgroup` field (before 5.7); EPERM: a filter that refuses it.
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS) | Some(libc::E2BIG) | Some(libc::EPERM)
    )
}

#[cfg(target_arch = "x86_64")]
fn clone3(child: &mut Child<'_>, cgroup: Option<RawFd>) -> io::Result<Started> {
    let mut stack: Vec<u128> = Vec::with_capacity(STACK_BYTES / 16);
    let mut pidfd: c_int = -1;
    let mut args = CloneArgs {
        flags: FLAGS | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        pidfd: &mut pidfd as *mut c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.as_mut_ptr() as u64,
        stack_size: STACK_BYTES as u64,
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        ..CloneArgs::default()
    };
    let blocked = SignalsBlocked::new();
    let ret: c_long;
    // SAFETY: clone3 with CLONE_VM | CLONE_VFORK: the child runs on `stack` (the kernel
    // points its stack pointer at the top, 16-byte aligned) and calls `child_main`, which
    // never returns (it execs or exits); this thread waits in the syscall until then, so
    // `child`, the stack and everything they point to outlive the child's use of them. The
    // syscall keeps every register but rax, rcx and r11; r12 and r13 carry the child's
    // function and argument across it.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &mut args as *mut CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") child as *mut Child<'_>,
            in("r13") child_main as unsafe extern "C" fn(*mut Child<'_>) -> !,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    drop(blocked);
    drop(stack);
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(Started::cloned(ret, pidfd))
}

#[cfg(not(target_arch = "x86_64"))]
fn clone3(_child: &mut Child<'_>, _cgroup: Option<RawFd>) -> io::Result<Started> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The legacy clone: the same child, which writes itself into its cgroup's `cgroup.procs`.
fn legacy(child: &mut Child<'_>, cgroup: Option<RawFd>) -> io::Result<Started> {
    if let Some(dir) = cgroup {
        // SAFETY: openat on a directory descriptor we hold, with a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                dir,
                c"cgroup.procs".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        child.procs = fd;
    }
    let mut stack: Vec<u128> = Vec::with_capacity(STACK_BYTES / 16);
    let mut pidfd: c_int = -1;
    let blocked = SignalsBlocked::new();
    // SAFETY: as for clone3: the child runs `trampoline` on `stack` (glibc's clone switches
    // to its top) and execs or exits while this thread waits (CLONE_VFORK); with CLONE_PIDFD
    // the legacy clone stores the pidfd where parent_tid points.
    let ret = unsafe {
        libc::clone(
            trampoline,
            stack.as_mut_ptr().cast::<u8>().add(STACK_BYTES).cast(),
            FLAGS as c_int | libc::SIGCHLD,
            (child as *mut Child<'_>).cast(),
            &mut pidfd as *mut c_int,
        )
    };
    let error = io::Error::last_os_error();
    drop(blocked);
    drop(stack);
    if ret < 0 {
        return Err(error);
    }
    Ok(Started::cloned(ret as c_long, pidfd))
}

extern "C" fn trampoline(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `legacy` passes its `Child`.
    unsafe { child_main(arg.cast()) }
}

/// The child, from the clone to the exec. It shares the agent's memory and, until its first
/// step, its descriptors: it makes raw system calls only (glibc's wrappers of setuid and
/// friends would signal the agent's threads), allocates nothing and never returns.
unsafe extern "C" fn child_main(child: *mut Child<'_>) -> ! {
    // SAFETY: the parent keeps `child` alive and untouched until this process execs or exits.
    let child = unsafe { &*child };
    // SAFETY: system calls with values the plan made ready.
    let (step, errno) = unsafe { child.setup_and_exec() };
    child.errno.store(errno, Ordering::Release);
    child.step.store(step as i32, Ordering::Release);
    // SAFETY: ends this process (never the agent: it is a process of its own).
    unsafe { libc::_exit(127) }
}

/// The kernel's `struct sigaction` (x86-64 and arm64 layout); all zero is `SIG_DFL`.
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

impl Child<'_> {
    /// Returns only on failure: the step and its errno.
    unsafe fn setup_and_exec(&self) -> (Step, i32) {
        let plan = self.plan;
        macro_rules! sys {
            ($step:expr, $call:expr) => {
                if ($call) as c_long == -1 {
                    return ($step, errno());
                }
            };
        }
        // SAFETY (for the block): system calls on this process alone, with pointers into
        // the plan, which lives until the exec.
        unsafe {
            if self.procs >= 0 {
                // "0": the writer, before it forks anything.
                sys!(
                    Step::Cgroup,
                    libc::write(self.procs, b"0".as_ptr().cast(), 1)
                );
            }
            // A descriptor table of our own, empty: nothing of the agent's is inherited.
            const CLOSE_RANGE_UNSHARE: c_long = 1 << 1;
            let unshared = libc::syscall(
                libc::SYS_close_range,
                0 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_UNSHARE,
            );
            if unshared == -1 {
                // Before Linux 5.9: copy the table, then close it all.
                sys!(
                    Step::Descriptors,
                    libc::syscall(libc::SYS_unshare, libc::CLONE_FILES)
                );
                for fd in 0..plan.nofile_soft.min(c_int::MAX as u64) as c_int {
                    libc::close(fd);
                }
            }
            let open = |path: &std::ffi::CStr, flags: c_int, want: c_int| -> Result<(), i32> {
                let fd = libc::open(path.as_ptr(), flags, plan.log_mode);
                if fd == -1 {
                    return Err(errno());
                }
                if fd != want && (libc::dup2(fd, want) == -1 || libc::close(fd) == -1) {
                    return Err(errno());
                }
                Ok(())
            };
            let append = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND;
            for (step, path, flags, want) in [
                (Step::Stdin, c"/dev/null", libc::O_RDONLY, 0),
                (Step::Stdout, plan.stdout.1.as_c_str(), append, 1),
                (Step::Stderr, plan.stderr.1.as_c_str(), append, 2),
            ] {
                if let Err(e) = open(path, flags, want) {
                    return (step, e);
                }
            }
            sys!(Step::Session, libc::setsid());
            // Every disposition back to the default, glibc's own signals included (ignored
            // ones would survive the exec); the raw call, as glibc's refuses those two.
            let default = KernelSigaction::default();
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        sig,
                        &default as *const KernelSigaction,
                        std::ptr::null_mut::<KernelSigaction>(),
                        8usize,
                    );
                }
            }
            if !plan.hardening.core_dumps {
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                sys!(Step::Limits, libc::setrlimit(libc::RLIMIT_CORE, &none));
            }
            if let Some(n) = plan.hardening.nofile {
                let n = if libc::geteuid() == 0 {
                    n
                } else {
                    n.min(plan.nofile_hard)
                };
                let limit = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                sys!(Step::Limits, libc::setrlimit(libc::RLIMIT_NOFILE, &limit));
            } else if let Some(limit) = &plan.nofile_started {
                sys!(Step::Limits, libc::setrlimit(libc::RLIMIT_NOFILE, limit));
            }
            libc::umask(0o077);
            sys!(Step::Directory, libc::chdir(plan.cwd.as_ptr()));
            if let Some((uid, gid, groups)) = &plan.ids {
                sys!(
                    Step::Account,
                    libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr())
                );
                sys!(
                    Step::Account,
                    libc::syscall(libc::SYS_setresgid, *gid, *gid, *gid)
                );
                sys!(
                    Step::Account,
                    libc::syscall(libc::SYS_setresuid, *uid, *uid, *uid)
                );
            }
            if plan.hardening.no_new_privs {
                sys!(
                    Step::NoNewPrivs,
                    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
                );
            }
            let empty: libc::sigset_t = std::mem::zeroed();
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &empty as *const libc::sigset_t,
                std::ptr::null_mut::<libc::sigset_t>(),
                8usize,
            );
            // As execvp: the first candidate that runs; one that exists but may not be run
            // is the error if none runs.
            let mut denied = false;
            let mut last = libc::ENOENT;
            for candidate in self.candidates.iter().take_while(|c| !c.is_null()) {
                libc::execve(*candidate, self.argv.as_ptr(), self.envp.as_ptr());
                last = errno();
                match last {
                    libc::EACCES => denied = true,
                    libc::ENOENT
                    | libc::ENOTDIR
                    | libc::ESTALE
                    | libc::ENODEV
                    | libc::ETIMEDOUT => {}
                    _ => return (Step::Exec, last),
                }
            }
            (Step::Exec, if denied { libc::EACCES } else { last })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    struct Run {
        dir: tempfile::TempDir,
    }

    impl Run {
        fn new() -> Run {
            Run {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn out(&self) -> PathBuf {
            self.dir.path().join("out.log")
        }

        fn err(&self) -> PathBuf {
            self.dir.path().join("err.log")
        }

        fn launch(
            &self,
            method: Method,
            command: &[&str],
            env: &[(&str, &str)],
            cgroup: Option<RawFd>,
        ) -> Result<Started, SpawnError> {
            let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
            let (out, err) = (self.out(), self.err());
            let spec = Launch {
                command: &command,
                cwd: self.dir.path(),
                inherited: &[],
                env: env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
                stdout: &out,
                stderr: &err,
                log_mode: 0o640,
                cgroup: cgroup.map(|dir| CgroupEntry {
                    dir,
                    born_inside: method == Method::Clone3,
                }),
                ids: None,
                hardening: Hardening {
                    no_new_privs: true,
                    core_dumps: false,
                    nofile: Some(64),
                },
            };
            Plan::new(&spec)?.run(method, cgroup)
        }

        /// Waits for the child and returns its stdout.
        fn finish(&self, started: Started) -> String {
            let mut status = 0;
            // SAFETY: our own child.
            unsafe { libc::waitpid(started.pid as i32, &mut status, 0) };
            assert!(libc::WIFEXITED(status), "status {status}");
            std::fs::read_to_string(self.out()).unwrap()
        }
    }

    const PATH: (&str, &str) = ("PATH", "/usr/local/bin:/usr/bin:/bin");

    #[test]
    fn the_child_gets_its_logs_session_directory_limits_and_nothing_of_the_agent() {
        for method in [Method::Clone3, Method::Legacy] {
            let run = Run::new();
            // A descriptor of ours without close-on-exec: the child must not see it.
            let leak = std::fs::File::open("/dev/null").unwrap();
            // SAFETY: clears FD_CLOEXEC on a descriptor we own.
            unsafe { libc::fcntl(leak.as_raw_fd(), libc::F_SETFD, 0) };
            let script = "ls /proc/self/fd; echo to-err >&2; echo sid $(cut -d' ' -f6 /proc/self/stat); \
                          grep -E '^(SigBlk|SigIgn|NoNewPrivs)' /proc/self/status; umask; pwd; \
                          ulimit -n; ulimit -c; echo $GREETING";
            let started = run
                .launch(
                    method,
                    &["sh", "-c", script],
                    &[PATH, ("GREETING", "hello there")],
                    None,
                )
                .unwrap();
            let pid = started.pid;
            let out = run.finish(started);
            let fds: Vec<&str> = out.lines().take_while(|l| l.len() <= 2).collect();
            // ls's own directory descriptor is the one above stdio.
            assert_eq!(fds, ["0", "1", "2", "3"], "{method:?}: {out}");
            assert!(out.contains(&format!("sid {pid}\n")), "{method:?}: {out}");
            assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
            assert!(out.contains("SigIgn:\t0000000000000000"), "{out}");
            assert!(out.contains("NoNewPrivs:\t1"), "{out}");
            assert!(out.contains("\n0077\n"), "{out}");
            let dir = run.dir.path().canonicalize().unwrap();
            assert!(out.contains(&format!("\n{}\n", dir.display())), "{out}");
            assert!(out.ends_with("\n64\n0\nhello there\n"), "{out}");
            assert_eq!(std::fs::read_to_string(run.err()).unwrap(), "to-err\n");
            drop(leak);
        }
        assert!(
            !CLONE3_MISSING.load(Ordering::Relaxed),
            "clone3 works on this kernel: the legacy clone is only a fallback"
        );
    }

    #[test]
    fn a_program_is_searched_in_the_bots_path_and_a_missing_one_says_so() {
        for method in [Method::Clone3, Method::Legacy] {
            let run = Run::new();
            let bin = run.dir.path().join("bin");
            std::fs::create_dir(&bin).unwrap();
            let tool = bin.join("greet");
            std::fs::write(&tool, "#!/bin/sh\necho greeted\n").unwrap();
            let not_runnable = bin.join("nope");
            std::fs::write(&not_runnable, "#!/bin/sh\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
            let path = format!("/nonexistent:{}", bin.display());
            let started = run
                .launch(method, &["greet"], &[("PATH", &path)], None)
                .unwrap();
            assert_eq!(run.finish(started), "greeted\n");

            let e = run
                .launch(method, &["no-such-program"], &[("PATH", &path)], None)
                .err()
                .unwrap();
            assert_eq!(
                e.to_string(),
                "cannot run `no-such-program`: No such file or directory (os error 2)"
            );
            let e = run
                .launch(method, &["nope"], &[("PATH", &path)], None)
                .err()
                .unwrap();
            assert_eq!(
                e.to_string(),
                "cannot run `nope`: Permission denied (os error 13)"
            );
        }
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_named() {
        for method in [Method::Clone3, Method::Legacy] {
            let run = Run::new();
            std::fs::create_dir(run.out()).unwrap();
            let e = run.launch(method, &["true"], &[PATH], None).err().unwrap();
            assert_eq!(
                e.to_string(),
                format!(
                    "cannot open log {}: Is a directory (os error 21)",
                    run.out().display()
                )
            );
        }
    }

    #[test]
    fn the_legacy_child_writes_itself_into_cgroup_procs() {
        // A stand-in cgroup: the child's write is all the legacy path does with it.
        let run = Run::new();
        let cg = run.dir.path().join("cg");
        std::fs::create_dir(&cg).unwrap();
        std::fs::write(cg.join("cgroup.procs"), "").unwrap();
        let dir = std::fs::File::open(&cg).unwrap();
        let started = run
            .launch(Method::Legacy, &["true"], &[PATH], Some(dir.as_raw_fd()))
            .unwrap();
        run.finish(started);
        assert_eq!(
            std::fs::read_to_string(cg.join("cgroup.procs")).unwrap(),
            "0"
        );
    }
}
