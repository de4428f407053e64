//! Descriptor-relative filesystem walking for cleanup, quota accounting and `run_as`: deletion
//! confined to a root, usage, dangling links, stale files, and handing files to an owner.

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Deepest directory nesting any walk enters. Each level holds one open descriptor and one
/// stack frame, so a pathological (or hostile) tree must not be able to exhaust either.
pub const MAX_DEPTH: usize = 256;

/// How often one entry is re-examined when it changes type under us (a directory swapped for a
/// symlink, refilled while being emptied) before giving up instead of chasing it forever.
const RACE_RETRIES: usize = 4;

// O_NOFOLLOW makes the kernel refuse a symlink as the opened name itself; with O_DIRECTORY the
// result is then guaranteed to be a real directory sitting directly in the parent descriptor.
const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// What a deletion freed.
///
/// `files`, `dirs` and `links` count removed names. `bytes` is the `st_size` of removed files and
/// symlinks, counted once per inode (two hard links removed together free one file), and
/// directories count 0 bytes — the rules of [`usage`], so freed bytes compare with quota bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
}

/// Result of [`remove_under_report`]: what was freed, and what was left alone because it lies on
/// another filesystem or mount (and, necessarily, the directories still containing it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removal {
    pub freed: Freed,
    /// Full paths (root joined) of entries that were neither entered nor removed.
    pub skipped: Vec<PathBuf>,
}

impl Removal {
    /// The [`remove_under`] view: `CrossesFilesystem` naming the first skipped path, if any.
    pub fn into_result(self) -> Result<Freed, DeleteError> {
        match self.skipped.into_iter().next() {
            Some(path) => Err(DeleteError::CrossesFilesystem(path)),
            None => Ok(self.freed),
        }
    }
}

#[derive(Debug)]
pub enum DeleteError {
    /// `rel` is not confined to the root: empty, absolute, `..`, or a symlink where a real
    /// directory is required (including the root itself).
    OutsideRoot(PathBuf),
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// The path, or something inside the tree, is on another filesystem or mount.
    CrossesFilesystem(PathBuf),
    NotFound(PathBuf),
}

impl fmt::Display for DeleteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutsideRoot(p) => write!(
                f,
                "refusing to delete {}: it is not confined to the managed root (absolute, `..`, empty, or reached through a symlink)",
                p.display()
            ),
            Self::Io { path, source } => write!(f, "I/O error at {}: {source}", path.display()),
            Self::CrossesFilesystem(p) => write!(
                f,
                "refusing to cross into another filesystem or mount at {}",
                p.display()
            ),
            Self::NotFound(p) => write!(f, "{} does not exist", p.display()),
        }
    }
}

impl std::error::Error for DeleteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Bytes under a directory as botctl's quota counts them; see [`UsageCounter`] for the rules.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
}

impl Usage {
    fn absorb(&mut self, other: Usage) {
        self.bytes += other.bytes;
        self.files += other.files;
        self.dirs += other.dirs;
        self.links += other.links;
    }
}

/// Deletes `rel` (plain relative components only) under `root` without following any symlink,
/// leaving the root, or entering another filesystem or mount.
///
/// If anything had to be skipped because it is on another filesystem, the rest is still deleted
/// and `CrossesFilesystem` names the first skipped path; use [`remove_under_report`] to also get
/// what was freed. `dry_run` walks identically but removes nothing.
///
/// `root` is configuration, so the kernel resolves its leading components as usual; only its last
/// component must be a real directory. A component of `rel` on the way that sits on another
/// filesystem fails the whole call before anything is touched. Other errors stop the deletion
/// where they happen: what was removed by then stays removed, and a later run picks up the rest.
pub fn remove_under(root: &Path, rel: &Path, dry_run: bool) -> Result<Freed, DeleteError> {
    remove_under_report(root, rel, dry_run)?.into_result()
}

/// Like [`remove_under`], but entries skipped for being on another filesystem are reported in
/// [`Removal::skipped`] next to what was freed, instead of as an error.
pub fn remove_under_report(root: &Path, rel: &Path, dry_run: bool) -> Result<Removal, DeleteError> {
    remove_fenced(root, rel, dry_run, &|base, meta| crosses_fs(base, meta))
}

/// Bytes under `dir` as a quota counts them. See [`UsageCounter`] for the rules.
pub fn usage(dir: &Path) -> io::Result<Usage> {
    let mut counter = UsageCounter::new();
    counter.add(dir)?;
    Ok(counter.total())
}

/// Accumulates [`usage`] over several directories, sharing one set of seen inodes so a file
/// hard-linked between two directories of one owner is counted once.
///
/// Rules: sizes are `st_size` from lstat, not `st_blocks * 512`. Block counts depend on the
/// filesystem (tmpfs vs ext4 vs compressed btrfs), on delayed allocation (a freshly written file
/// may show no blocks yet) and on inline symlinks (0 blocks), so they would make a bot's quota
/// drift with the host and let it write fast before being noticed. `st_size` is what the bot
/// wrote; sparse files are overcounted, which errs on the safe side. A symlink counts its own
/// size (its target's length), never the target's. Directories count as entries but 0 bytes, their
/// sizes being filesystem bookkeeping. Every inode counts once, whichever directory or name it is
/// reached by. The starting directory itself is not counted; other filesystems or mounts inside it
/// are not entered; nothing is followed, and the starting directory must not be a symlink.
#[derive(Debug, Default)]
pub struct UsageCounter {
    seen: HashSet<(u64, u64)>,
    total: Usage,
}

impl UsageCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `dir`'s usage. On error nothing is added, so a retry does not double count.
    pub fn add(&mut self, dir: &Path) -> io::Result<()> {
        let mut fresh = HashSet::new();
        let mut part = Usage::default();
        walk(dir, &mut |entry| {
            let key = (entry.meta.dev, entry.meta.ino);
            if self.seen.contains(&key) || !fresh.insert(key) {
                return Ok(());
            }
            match entry.meta.kind() {
                Kind::Dir => part.dirs += 1,
                Kind::Symlink => {
                    part.links += 1;
                    part.bytes += entry.meta.size;
                }
                Kind::Regular | Kind::Other => {
                    part.files += 1;
                    part.bytes += entry.meta.size;
                }
            }
            Ok(())
        })?;
        self.seen.extend(fresh);
        self.total.absorb(part);
        Ok(())
    }

    pub fn total(&self) -> Usage {
        self.total
    }
}

/// Symlinks under `dir` (recursive, same filesystem) whose target does not resolve, as sorted
/// paths relative to `dir`.
///
/// A target is only stat'ed, never opened, and automounts are not triggered. Broken chains
/// (ENOENT), a path through a non-directory (ENOTDIR) and loops (ELOOP) count as dangling; a
/// target that cannot be checked (e.g. EACCES) does not, since it is not provably gone.
pub fn dangling_links(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(dir, &mut |entry| {
        if entry.meta.kind() == Kind::Symlink && target_missing(entry.parent, entry.name) {
            found.push(entry.rel.to_path_buf());
        }
        Ok(())
    })?;
    found.sort();
    Ok(found)
}

/// Regular files under `dir` (recursive, same filesystem, nothing followed) whose mtime is
/// strictly before `now - older_than_secs`, with their `st_size`, sorted by relative path.
pub fn old_files(dir: &Path, older_than_secs: i64, now: i64) -> io::Result<Vec<(PathBuf, u64)>> {
    let cutoff = now.saturating_sub(older_than_secs);
    let mut found = Vec::new();
    walk(dir, &mut |entry| {
        if entry.meta.kind() == Kind::Regular && entry.meta.mtime < cutoff {
            found.push((entry.rel.to_path_buf(), entry.meta.size));
        }
        Ok(())
    })?;
    found.sort();
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Metadata and the filesystem fence

/// Identity of the filesystem and mount a walk started on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FsId {
    dev: u64,
    /// None when the kernel cannot tell (statx without STATX_MNT_ID, before Linux 5.8).
    mnt_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    Symlink,
    Regular,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    dev: u64,
    ino: u64,
    mode: u32,
    size: u64,
    mtime: i64,
    mnt_id: Option<u64>,
    mount_root: bool,
}

impl Meta {
    fn kind(&self) -> Kind {
        match self.mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFREG => Kind::Regular,
            _ => Kind::Other,
        }
    }

    fn fs(&self) -> FsId {
        FsId {
            dev: self.dev,
            mnt_id: self.mnt_id,
        }
    }
}

/// Whether `entry` (never a symlink; those are not entered anyway) lies beyond the filesystem
/// the walk started on.
///
/// `st_dev` alone misses a bind mount of the same filesystem (same device, different tree), which
/// is exactly how a bot directory could be made to alias shared data, hence the mount id and the
/// mount-root attribute. Conversely, overlayfs reports non-directories with the device of the
/// layer they live on, so only directories are judged by device: otherwise every file in a
/// container would look foreign. File bind mounts still show up by mount id or mount root, and
/// without statx the kernel's EBUSY on unlink catches them.
fn crosses_fs(base: FsId, entry: &Meta) -> bool {
    if entry.mount_root {
        return true;
    }
    if let (Some(a), Some(b)) = (base.mnt_id, entry.mnt_id)
        && a != b
    {
        return true;
    }
    entry.kind() == Kind::Dir && entry.dev != base.dev
}

fn too_deep() -> io::Error {
    io::Error::other(format!(
        "directory nesting exceeds {MAX_DEPTH} levels; refusing to go deeper"
    ))
}

fn has_errno(e: &io::Error, codes: &[libc::c_int]) -> bool {
    e.raw_os_error().is_some_and(|c| codes.contains(&c))
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> DeleteError + '_ {
    move |source| DeleteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn name_path(name: &CStr) -> &Path {
    Path::new(OsStr::from_bytes(name.to_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Thin syscall wrappers: every one retries EINTR and works relative to a descriptor.

fn cvt_retry(mut call: impl FnMut() -> libc::c_int) -> io::Result<libc::c_int> {
    loop {
        let ret = call();
        if ret != -1 {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn open_raw(dirfd: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let fd = cvt_retry(|| unsafe { libc::openat(dirfd, name.as_ptr(), flags) })?;
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    open_raw(libc::AT_FDCWD, &c, DIR_FLAGS)
}

fn open_dir_at(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_raw(parent.as_raw_fd(), name, DIR_FLAGS)
}

fn unlink_at(parent: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt_retry(|| unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// lstat of `name` in `parent`.
fn lstat_at(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<Meta> {
    stat_raw(parent.as_raw_fd(), name, libc::AT_SYMLINK_NOFOLLOW)
}

/// fstat of an open descriptor: decisions about a directory are made on what was actually
/// opened, not on what its name pointed to a moment earlier.
fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<Meta> {
    stat_raw(
        fd.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
    )
}

fn stat_raw(dirfd: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<Meta> {
    // Never let a walk trigger an automount: that would mount something new under the tree.
    let flags = flags | libc::AT_NO_AUTOMOUNT;
    if let Some(meta) = statx_raw(dirfd, name, flags) {
        return meta;
    }
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer for one `stat`; `name` is NUL-terminated.
    cvt_retry(|| unsafe { libc::fstatat(dirfd, name.as_ptr(), st.as_mut_ptr(), flags) })?;
    // SAFETY: fstatat succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    Ok(Meta {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: st.st_mtime,
        mnt_id: None,
        mount_root: false,
    })
}

/// statx, for the mount id and mount-root attribute that plain stat lacks. None means "use
/// fstatat": a libc without the statx binding, or a kernel/seccomp filter rejecting it.
#[cfg(target_env = "gnu")]
fn statx_raw(dirfd: RawFd, name: &CStr, flags: libc::c_int) -> Option<io::Result<Meta>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    let mut stx = MaybeUninit::<libc::statx>::zeroed();
    let mask = libc::STATX_BASIC_STATS | libc::STATX_MNT_ID;
    // SAFETY: `stx` is a valid out-pointer for one `statx`; `name` is NUL-terminated.
    let ret =
        cvt_retry(|| unsafe { libc::statx(dirfd, name.as_ptr(), flags, mask, stx.as_mut_ptr()) });
    match ret {
        Ok(_) => {}
        Err(e) if has_errno(&e, &[libc::ENOSYS]) => {
            UNSUPPORTED.store(true, Ordering::Relaxed);
            return None;
        }
        // Old container seccomp profiles answer EPERM for unknown syscalls; fstatat then gives
        // the genuine answer.
        Err(e) if has_errno(&e, &[libc::EPERM]) => return None,
        Err(e) => return Some(Err(e)),
    }
    // SAFETY: statx succeeded, and the buffer was zeroed, so every field is initialised.
    let stx = unsafe { stx.assume_init() };
    let mount_root_bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Some(Ok(Meta {
        dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
        ino: stx.stx_ino,
        mode: u32::from(stx.stx_mode),
        size: stx.stx_size,
        mtime: stx.stx_mtime.tv_sec,
        mnt_id: (stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id),
        mount_root: stx.stx_attributes_mask & mount_root_bit != 0
            && stx.stx_attributes & mount_root_bit != 0,
    }))
}

#[cfg(not(target_env = "gnu"))]
fn statx_raw(_dirfd: RawFd, _name: &CStr, _flags: libc::c_int) -> Option<io::Result<Meta>> {
    None
}

/// Whether a symlink's target fails to resolve. Follows the link with a plain stat, the one place
/// anything is followed: stat only reads metadata, it opens nothing.
fn target_missing(parent: BorrowedFd<'_>, name: &CStr) -> bool {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer for one `stat`; `name` is NUL-terminated.
    let ret = cvt_retry(|| unsafe {
        libc::fstatat(
            parent.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_NO_AUTOMOUNT,
        )
    });
    matches!(ret, Err(e) if has_errno(&e, &[libc::ENOENT, libc::ENOTDIR, libc::ELOOP]))
}

/// Closes a directory stream (and the descriptor it owns) on every exit path.
struct DirStream(*mut libc::DIR);

impl Drop for DirStream {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful fdopendir and is closed only here.
        unsafe { libc::closedir(self.0) };
    }
}

/// Names in a directory except `.` and `..`. Listing fully before acting keeps deletion from
/// racing our own readdir position, and leaves only one descriptor per level open.
fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    // A fresh open file description: the stream owns (and closes) it, and its offset is not
    // shared with `dir`.
    let fd = open_raw(dir.as_raw_fd(), c".", DIR_FLAGS)?.into_raw_fd();
    // SAFETY: `fd` is an open directory descriptor we own; on success the stream takes it over.
    let dirp = unsafe { libc::fdopendir(fd) };
    if dirp.is_null() {
        let err = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `fd` is still ours to close.
        unsafe { libc::close(fd) };
        return Err(err);
    }
    let stream = DirStream(dirp);
    let mut names = Vec::new();
    loop {
        // readdir signals errors only through errno, so it must be cleared first.
        // SAFETY: __errno_location returns this thread's errno slot.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream.0` is a live stream owned by this function.
        let ent = unsafe { libc::readdir(stream.0) };
        if ent.is_null() {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(0) | None => Ok(names),
                _ => Err(err),
            };
        }
        // SAFETY: d_name of a returned entry is NUL-terminated and valid until the next readdir;
        // it is copied before that.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deletion

type Fence<'a> = &'a dyn Fn(FsId, &Meta) -> bool;

fn remove_fenced(
    root: &Path,
    rel: &Path,
    dry_run: bool,
    fence: Fence<'_>,
) -> Result<Removal, DeleteError> {
    let components = plain_components(root, rel)?;
    let Some((last, intermediate)) = components.split_last() else {
        return Err(DeleteError::OutsideRoot(root.join(rel)));
    };

    let root_fd = open_dir_path(root).map_err(|e| {
        refused_dir(root, e, || {
            std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink())
        })
    })?;
    let base = stat_fd(root_fd.as_fd()).map_err(io_at(root))?.fs();

    let mut path = root.to_path_buf();
    let mut parent = root_fd;
    for name in intermediate {
        path.push(name_path(name));
        let next = open_dir_at(parent.as_fd(), name).map_err(|e| {
            refused_dir(&path, e, || {
                lstat_at(parent.as_fd(), name).is_ok_and(|m| m.kind() == Kind::Symlink)
            })
        })?;
        let meta = stat_fd(next.as_fd()).map_err(io_at(&path))?;
        if fence(base, &meta) {
            return Err(DeleteError::CrossesFilesystem(path));
        }
        parent = next;
    }
    path.push(name_path(last));

    let mut remover = Remover {
        base,
        fence,
        dry_run,
        seen: HashSet::new(),
        removal: Removal::default(),
    };
    match remover.remove(parent.as_fd(), last, &path, 0)? {
        Step::Gone => Err(DeleteError::NotFound(path)),
        Step::Done | Step::Raced => Ok(remover.removal),
    }
}

/// Splits `rel` into single names. Anything but plain names could climb out of the root or
/// replace it, so it is refused.
fn plain_components(root: &Path, rel: &Path) -> Result<Vec<CString>, DeleteError> {
    let outside = || DeleteError::OutsideRoot(root.join(rel));
    let mut names = Vec::new();
    for component in rel.components() {
        let Component::Normal(name) = component else {
            return Err(outside());
        };
        let name = CString::new(name.as_bytes()).map_err(|_| DeleteError::Io {
            path: root.join(rel),
            source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
        })?;
        names.push(name);
    }
    if names.is_empty() {
        return Err(outside());
    }
    Ok(names)
}

/// Maps a failure to open a directory that must be real. O_NOFOLLOW|O_DIRECTORY reports a symlink
/// as ENOTDIR or ELOOP depending on the kernel path, so the entry is looked at to say which.
fn refused_dir(path: &Path, e: io::Error, is_symlink: impl FnOnce() -> bool) -> DeleteError {
    if has_errno(&e, &[libc::ENOENT]) {
        DeleteError::NotFound(path.to_path_buf())
    } else if has_errno(&e, &[libc::ENOTDIR, libc::ELOOP]) && is_symlink() {
        DeleteError::OutsideRoot(path.to_path_buf())
    } else {
        io_at(path)(e)
    }
}

enum Step {
    Done,
    /// The entry vanished before we touched it: someone else cleaned up, which is fine.
    Gone,
    /// The entry changed type between looking and acting; look again.
    Raced,
}

struct Remover<'a> {
    base: FsId,
    fence: Fence<'a>,
    dry_run: bool,
    seen: HashSet<(u64, u64)>,
    removal: Removal,
}

impl Remover<'_> {
    fn remove(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        depth: usize,
    ) -> Result<Step, DeleteError> {
        for _ in 0..RACE_RETRIES {
            let meta = match lstat_at(parent, name) {
                Ok(meta) => meta,
                Err(e) if has_errno(&e, &[libc::ENOENT]) => return Ok(Step::Gone),
                Err(e) => return Err(io_at(path)(e)),
            };
            let step = match meta.kind() {
                Kind::Dir => self.remove_dir(parent, name, path, depth, &meta)?,
                Kind::Symlink | Kind::Regular | Kind::Other => {
                    self.remove_leaf(parent, name, path, &meta)?
                }
            };
            match step {
                Step::Raced => continue,
                done_or_gone => return Ok(done_or_gone),
            }
        }
        Err(io_at(path)(io::Error::other(
            "entry kept changing while being removed; giving up",
        )))
    }

    fn skip(&mut self, path: &Path) -> Result<Step, DeleteError> {
        self.removal.skipped.push(path.to_path_buf());
        Ok(Step::Done)
    }

    fn remove_leaf(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        meta: &Meta,
    ) -> Result<Step, DeleteError> {
        // A symlink is removed as itself wherever it points, so only real files are fenced.
        if meta.kind() != Kind::Symlink && (self.fence)(self.base, meta) {
            return self.skip(path);
        }
        if !self.dry_run {
            match unlink_at(parent, name, 0) {
                Ok(()) => {}
                Err(e) if has_errno(&e, &[libc::ENOENT]) => return Ok(Step::Gone),
                // It became a directory since the lstat.
                Err(e) if has_errno(&e, &[libc::EISDIR]) => return Ok(Step::Raced),
                // A mount point the fence could not see (no statx): leave it.
                Err(e) if has_errno(&e, &[libc::EBUSY]) => return self.skip(path),
                Err(e) => return Err(io_at(path)(e)),
            }
        }
        let freed = &mut self.removal.freed;
        if meta.kind() == Kind::Symlink {
            freed.links += 1;
        } else {
            freed.files += 1;
        }
        if self.seen.insert((meta.dev, meta.ino)) {
            freed.bytes += meta.size;
        }
        Ok(Step::Done)
    }

    fn remove_dir(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        depth: usize,
        meta: &Meta,
    ) -> Result<Step, DeleteError> {
        if (self.fence)(self.base, meta) {
            return self.skip(path);
        }
        if depth >= MAX_DEPTH {
            return Err(io_at(path)(too_deep()));
        }
        let dir = match open_dir_at(parent, name) {
            Ok(dir) => dir,
            Err(e) if has_errno(&e, &[libc::ENOENT]) => return Ok(Step::Gone),
            // Swapped for a symlink or file since the lstat; O_NOFOLLOW refused it.
            Err(e) if has_errno(&e, &[libc::ELOOP, libc::ENOTDIR]) => return Ok(Step::Raced),
            Err(e) => return Err(io_at(path)(e)),
        };
        let opened = stat_fd(dir.as_fd()).map_err(io_at(path))?;
        if (self.fence)(self.base, &opened) {
            return self.skip(path);
        }

        let skipped_before = self.removal.skipped.len();
        for child in read_names(dir.as_fd()).map_err(io_at(path))? {
            let child_path = path.join(name_path(&child));
            self.remove(dir.as_fd(), &child, &child_path, depth + 1)?;
        }
        if self.removal.skipped.len() > skipped_before {
            // It still holds what we may not touch, so it cannot go either.
            return Ok(Step::Done);
        }

        if !self.dry_run {
            match unlink_at(parent, name, libc::AT_REMOVEDIR) {
                Ok(()) => {}
                Err(e) if has_errno(&e, &[libc::ENOENT]) => return Ok(Step::Gone),
                // Refilled meanwhile, or renamed away and replaced: look again.
                Err(e) if has_errno(&e, &[libc::ENOTEMPTY, libc::EEXIST, libc::ENOTDIR]) => {
                    return Ok(Step::Raced);
                }
                Err(e) if has_errno(&e, &[libc::EBUSY]) => return self.skip(path),
                Err(e) => return Err(io_at(path)(e)),
            }
        }
        self.removal.freed.dirs += 1;
        Ok(Step::Done)
    }
}

// ---------------------------------------------------------------------------------------------
// Read-only walking

struct Entry<'a> {
    rel: &'a Path,
    meta: &'a Meta,
    parent: BorrowedFd<'a>,
    name: &'a CStr,
}

type Visit<'v> = dyn FnMut(&Entry<'_>) -> io::Result<()> + 'v;

/// Visits every entry under `dir` (not `dir` itself), depth first, parents before children.
/// Symlinks are visited but never followed; other filesystems are neither visited nor entered.
/// Entries that vanish or change type mid-walk are skipped: the result is a best-effort snapshot
/// of a live tree, and never a reason to follow something.
fn walk(dir: &Path, visit: &mut Visit<'_>) -> io::Result<()> {
    let fd = open_dir_path(dir).map_err(|e| with_path(dir, e))?;
    let base = stat_fd(fd.as_fd()).map_err(|e| with_path(dir, e))?.fs();
    walk_dir(dir, fd.as_fd(), base, Path::new(""), 0, visit)
}

fn walk_dir(
    top: &Path,
    fd: BorrowedFd<'_>,
    base: FsId,
    prefix: &Path,
    depth: usize,
    visit: &mut Visit<'_>,
) -> io::Result<()> {
    let names = read_names(fd).map_err(|e| with_path(&top.join(prefix), e))?;
    for name in names {
        let rel = prefix.join(name_path(&name));
        let meta = match lstat_at(fd, &name) {
            Ok(meta) => meta,
            Err(e) if has_errno(&e, &[libc::ENOENT]) => continue,
            Err(e) => return Err(with_path(&top.join(&rel), e)),
        };
        let mut entry = Entry {
            rel: &rel,
            meta: &meta,
            parent: fd,
            name: &name,
        };
        match meta.kind() {
            Kind::Symlink => visit(&entry)?,
            Kind::Regular | Kind::Other => {
                if !crosses_fs(base, &meta) {
                    visit(&entry)?;
                }
            }
            Kind::Dir => {
                if crosses_fs(base, &meta) {
                    continue;
                }
                if depth + 1 >= MAX_DEPTH {
                    return Err(with_path(&top.join(&rel), too_deep()));
                }
                let sub = match open_dir_at(fd, &name) {
                    Ok(sub) => sub,
                    Err(e) if has_errno(&e, &[libc::ENOENT, libc::ELOOP, libc::ENOTDIR]) => {
                        continue;
                    }
                    Err(e) => return Err(with_path(&top.join(&rel), e)),
                };
                let opened = stat_fd(sub.as_fd()).map_err(|e| with_path(&top.join(&rel), e))?;
                if (opened.dev, opened.ino) != (meta.dev, meta.ino) || crosses_fs(base, &opened) {
                    continue;
                }
                entry.meta = &opened;
                visit(&entry)?;
                walk_dir(top, sub.as_fd(), base, &rel, depth + 1, visit)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handing a bot's files to its owner's account

/// Opens `root/rel`, a real directory: no link below `root` is followed, so a name a bot
/// swapped for a link to elsewhere is refused, never changed.
fn open_beneath(root: &Path, rel: &Path) -> io::Result<OwnedFd> {
    let mut fd = open_dir_path(root).map_err(|e| with_path(root, e))?;
    for component in rel.components() {
        let Component::Normal(name) = component else {
            return Err(with_path(
                &root.join(rel),
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a plain path under its root",
                ),
            ));
        };
        let name = CString::new(name.as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        fd = open_dir_at(fd.as_fd(), &name).map_err(|e| with_path(&root.join(rel), e))?;
    }
    Ok(fd)
}

fn give_fd(fd: BorrowedFd<'_>, uid: u32, gid: u32, mode: Option<u32>) -> io::Result<()> {
    // SAFETY: fchown and fchmod on a descriptor we hold.
    cvt_retry(|| unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })?;
    if let Some(mode) = mode {
        cvt_retry(|| unsafe { libc::fchmod(fd.as_raw_fd(), mode) })?;
    }
    Ok(())
}

/// Gives the directory `root/rel` to `uid:gid` with `mode`; with `all`, everything in it too
/// (owner only: links as links, this filesystem only, modes as they are).
pub fn give_dir(
    root: &Path,
    rel: &Path,
    uid: u32,
    gid: u32,
    mode: u32,
    all: bool,
) -> io::Result<()> {
    let top = root.join(rel);
    let fd = open_beneath(root, rel)?;
    give_fd(fd.as_fd(), uid, gid, Some(mode)).map_err(|e| with_path(&top, e))?;
    if all {
        let base = stat_fd(fd.as_fd()).map_err(|e| with_path(&top, e))?.fs();
        walk_dir(&top, fd.as_fd(), base, Path::new(""), 0, &mut |entry| {
            // SAFETY: `name` is NUL-terminated and names an entry of `parent`.
            cvt_retry(|| unsafe {
                libc::fchownat(
                    entry.parent.as_raw_fd(),
                    entry.name.as_ptr(),
                    uid,
                    gid,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })
            .map(drop)
            .map_err(|e| with_path(&top.join(entry.rel), e))
        })?;
    }
    Ok(())
}

/// Gives the regular file `root/rel` to `uid:gid` with `mode`; a link, a FIFO or a device
/// there is refused.
pub fn give_file(root: &Path, rel: &Path, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    let path = root.join(rel);
    let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(with_path(&path, io::ErrorKind::InvalidInput.into()));
    };
    let parent = open_beneath(root, dir)?;
    let name = CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let fd = open_raw(parent.as_raw_fd(), &name, flags).map_err(|e| with_path(&path, e))?;
    if stat_fd(fd.as_fd()).map_err(|e| with_path(&path, e))?.kind() != Kind::Regular {
        return Err(with_path(
            &path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    give_fd(fd.as_fd(), uid, gid, Some(mode)).map_err(|e| with_path(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, UNIX_EPOCH};

    fn write(path: &Path, len: usize) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, vec![b'x'; len]).unwrap();
    }

    fn link_len(target: &Path) -> u64 {
        target.as_os_str().len() as u64
    }

    /// A managed root with one bot tree and, outside the root, canaries that links point at.
    struct Fixture {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    impl Fixture {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("root");
            let outside = tmp.path().join("outside");
            fs::create_dir_all(&root).unwrap();
            write(&outside.join("canary"), 7);
            write(&outside.join("dir/canary"), 7);
            Self {
                _tmp: tmp,
                root,
                outside,
            }
        }

        fn canaries_intact(&self) {
            assert_eq!(fs::read(self.outside.join("canary")).unwrap().len(), 7);
            assert_eq!(fs::read(self.outside.join("dir/canary")).unwrap().len(), 7);
        }

        /// bot/{a 10B, sub/b 20B, sub/deeper/c 30B, to_dir -> outside/dir, to_file -> outside/canary}
        fn bot_tree(&self) -> Freed {
            let bot = self.root.join("bot");
            write(&bot.join("a"), 10);
            write(&bot.join("sub/b"), 20);
            write(&bot.join("sub/deeper/c"), 30);
            let to_dir = self.outside.join("dir");
            let to_file = self.outside.join("canary");
            symlink(&to_dir, bot.join("to_dir")).unwrap();
            symlink(&to_file, bot.join("sub/to_file")).unwrap();
            Freed {
                files: 3,
                dirs: 3,
                links: 2,
                bytes: 60 + link_len(&to_dir) + link_len(&to_file),
            }
        }
    }

    #[test]
    fn removes_tree_without_following_links_out() {
        let fx = Fixture::new();
        let expected = fx.bot_tree();

        let dry = remove_under(&fx.root, Path::new("bot"), true).unwrap();
        assert_eq!(dry, expected);
        assert!(fx.root.join("bot/sub/deeper/c").exists());
        assert!(fx.root.join("bot/to_dir").symlink_metadata().is_ok());

        let freed = remove_under(&fx.root, Path::new("bot"), false).unwrap();
        assert_eq!(freed, expected);
        assert!(fx.root.join("bot").symlink_metadata().is_err());
        assert!(fx.root.exists());
        fx.canaries_intact();
    }

    #[test]
    fn removes_single_file_and_top_level_symlink() {
        let fx = Fixture::new();
        write(&fx.root.join("f"), 5);
        symlink(fx.outside.join("dir"), fx.root.join("l")).unwrap();

        let freed = remove_under(&fx.root, Path::new("f"), false).unwrap();
        assert_eq!(
            freed,
            Freed {
                files: 1,
                bytes: 5,
                ..Freed::default()
            }
        );

        let freed = remove_under(&fx.root, Path::new("l"), false).unwrap();
        let len = link_len(&fx.outside.join("dir"));
        assert_eq!(
            freed,
            Freed {
                links: 1,
                bytes: len,
                ..Freed::default()
            }
        );
        assert!(fx.root.join("l").symlink_metadata().is_err());
        fx.canaries_intact();
    }

    #[test]
    fn hard_links_free_bytes_once() {
        let fx = Fixture::new();
        write(&fx.root.join("bot/a"), 100);
        fs::hard_link(fx.root.join("bot/a"), fx.root.join("bot/b")).unwrap();
        let expected = Freed {
            files: 2,
            dirs: 1,
            links: 0,
            bytes: 100,
        };
        assert_eq!(
            remove_under(&fx.root, Path::new("bot"), true).unwrap(),
            expected
        );
        assert_eq!(
            remove_under(&fx.root, Path::new("bot"), false).unwrap(),
            expected
        );
    }

    #[test]
    fn rejects_paths_not_confined_to_root() {
        let fx = Fixture::new();
        write(&fx.root.join("x/y"), 1);
        for rel in ["", "../outside", "/etc", "x/../../outside", "x/..", "./x"] {
            let err = remove_under(&fx.root, Path::new(rel), false).unwrap_err();
            assert!(matches!(err, DeleteError::OutsideRoot(_)), "{rel:?}: {err}");
        }
        assert!(fx.root.join("x/y").exists());
        fx.canaries_intact();
    }

    #[test]
    fn refuses_symlink_on_the_way() {
        let fx = Fixture::new();
        symlink(fx.outside.join("dir"), fx.root.join("a")).unwrap();
        let err = remove_under(&fx.root, Path::new("a/canary"), false).unwrap_err();
        assert!(
            matches!(&err, DeleteError::OutsideRoot(p) if p.ends_with("a")),
            "{err}"
        );
        let err = remove_under(&fx.root, Path::new("a/canary"), true).unwrap_err();
        assert!(matches!(err, DeleteError::OutsideRoot(_)), "{err}");
        fx.canaries_intact();
    }

    #[test]
    fn file_on_the_way_is_an_io_error() {
        let fx = Fixture::new();
        write(&fx.root.join("f"), 1);
        let err = remove_under(&fx.root, Path::new("f/x"), false).unwrap_err();
        match err {
            DeleteError::Io { source, .. } => {
                assert_eq!(source.raw_os_error(), Some(libc::ENOTDIR))
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn refuses_symlinked_root() {
        let fx = Fixture::new();
        let link_root = fx.root.join("../link_root");
        symlink(&fx.outside, &link_root).unwrap();
        let err = remove_under(&link_root, Path::new("canary"), false).unwrap_err();
        assert!(matches!(err, DeleteError::OutsideRoot(_)), "{err}");
        fx.canaries_intact();
        assert!(usage(&link_root).is_err());
    }

    #[test]
    fn missing_entries_are_not_found() {
        let fx = Fixture::new();
        fs::create_dir(fx.root.join("d")).unwrap();
        for rel in ["nope", "d/nope", "nope/x"] {
            let err = remove_under(&fx.root, Path::new(rel), false).unwrap_err();
            assert!(matches!(err, DeleteError::NotFound(_)), "{rel}: {err}");
        }
        let missing_root = fx.root.join("missing");
        let err = remove_under(&missing_root, Path::new("x"), false).unwrap_err();
        assert!(matches!(err, DeleteError::NotFound(p) if p == missing_root));
    }

    #[test]
    fn directory_swapped_for_symlink_is_unlinked_not_followed() {
        let fx = Fixture::new();
        fx.bot_tree();
        // What an attacker would do between a check and the deletion: move the directory away
        // and leave a symlink to something precious in its place.
        let sub = fx.root.join("bot/sub");
        fs::rename(&sub, fx.root.join("moved")).unwrap();
        symlink(&fx.outside, &sub).unwrap();

        let freed = remove_under(&fx.root, Path::new("bot/sub"), false).unwrap();
        assert_eq!(freed.links, 1);
        assert_eq!((freed.files, freed.dirs), (0, 0));
        assert!(sub.symlink_metadata().is_err());
        fx.canaries_intact();

        symlink(&fx.outside, &sub).unwrap();
        let freed = remove_under(&fx.root, Path::new("bot"), false).unwrap();
        assert_eq!((freed.files, freed.dirs, freed.links), (1, 1, 2));
        fx.canaries_intact();
        assert!(fx.root.join("moved/deeper/c").exists());
    }

    #[test]
    fn swap_inside_the_check_window_is_caught() {
        let fx = Fixture::new();
        fx.bot_tree();
        let root_fd = open_dir_path(&fx.root).unwrap();
        let bot = open_dir_at(root_fd.as_fd(), c"bot").unwrap();
        // The lstat that classified "sub" as a directory happened before the swap.
        let stale = lstat_at(bot.as_fd(), c"sub").unwrap();
        assert_eq!(stale.kind(), Kind::Dir);
        let sub = fx.root.join("bot/sub");
        fs::rename(&sub, fx.root.join("moved")).unwrap();
        symlink(&fx.outside, &sub).unwrap();

        let base = stat_fd(root_fd.as_fd()).unwrap().fs();
        let fence = |base: FsId, meta: &Meta| crosses_fs(base, meta);
        let mut remover = Remover {
            base,
            fence: &fence,
            dry_run: false,
            seen: HashSet::new(),
            removal: Removal::default(),
        };
        let step = remover
            .remove_dir(bot.as_fd(), c"sub", &sub, 0, &stale)
            .unwrap();
        assert!(matches!(step, Step::Raced));
        assert_eq!(remover.removal.freed, Freed::default());
        fx.canaries_intact();

        // The retry loop looks again and removes the link itself.
        assert!(matches!(
            remover.remove(bot.as_fd(), c"sub", &sub, 0).unwrap(),
            Step::Done
        ));
        assert_eq!(remover.removal.freed.links, 1);
        assert!(sub.symlink_metadata().is_err());
        fx.canaries_intact();
    }

    #[test]
    fn fence_decides_on_device_mount_and_kind() {
        let base = FsId {
            dev: 1,
            mnt_id: Some(10),
        };
        let meta = |mode, dev, mnt_id, mount_root| Meta {
            dev,
            ino: 5,
            mode,
            size: 0,
            mtime: 0,
            mnt_id,
            mount_root,
        };
        let (dir, file) = (libc::S_IFDIR, libc::S_IFREG);
        assert!(!crosses_fs(base, &meta(dir, 1, Some(10), false)));
        assert!(
            crosses_fs(base, &meta(dir, 2, Some(10), false)),
            "other device"
        );
        assert!(
            crosses_fs(base, &meta(dir, 1, Some(11), false)),
            "bind mount, same fs"
        );
        assert!(
            crosses_fs(base, &meta(dir, 1, Some(10), true)),
            "mount root"
        );
        assert!(
            crosses_fs(base, &meta(file, 1, Some(11), false)),
            "file bind mount"
        );
        assert!(
            crosses_fs(base, &meta(file, 1, Some(10), true)),
            "file bind mount"
        );
        // overlayfs: files report their layer's device while sharing the mount.
        assert!(!crosses_fs(base, &meta(file, 2, Some(10), false)));
        // Without mount ids (old kernel) the device still decides.
        let old = FsId {
            dev: 1,
            mnt_id: None,
        };
        assert!(crosses_fs(old, &meta(dir, 2, None, false)));
        assert!(!crosses_fs(old, &meta(dir, 1, None, false)));
    }

    #[test]
    fn real_tree_is_one_filesystem() {
        let fx = Fixture::new();
        fx.bot_tree();
        let fd = open_dir_path(&fx.root).unwrap();
        let base = stat_fd(fd.as_fd()).unwrap().fs();
        let sub = lstat_at(fd.as_fd(), c"bot").unwrap();
        assert!(!crosses_fs(base, &sub));
    }

    #[test]
    fn foreign_subdirectory_is_skipped_and_reported() {
        let fx = Fixture::new();
        let bot = fx.root.join("bot");
        write(&bot.join("mnt/keep"), 3);
        write(&bot.join("other/y"), 4);
        write(&bot.join("z"), 5);
        let foreign = fs::symlink_metadata(bot.join("mnt")).unwrap();
        let foreign = std::os::unix::fs::MetadataExt::ino(&foreign);
        // Stands in for a mount: no second filesystem can be created without mounting.
        let fence = move |base: FsId, meta: &Meta| meta.ino == foreign || crosses_fs(base, meta);
        let expected = Freed {
            files: 2,
            dirs: 1,
            links: 0,
            bytes: 9,
        };

        let dry = remove_fenced(&fx.root, Path::new("bot"), true, &fence).unwrap();
        assert_eq!(dry.freed, expected);
        assert_eq!(dry.skipped, vec![bot.join("mnt")]);
        assert!(bot.join("z").exists());

        let real = remove_fenced(&fx.root, Path::new("bot"), false, &fence).unwrap();
        assert_eq!(real, dry);
        assert!(bot.join("mnt/keep").exists());
        assert!(!bot.join("other").exists() && !bot.join("z").exists());

        // The intermediate path is fenced too.
        let err = remove_fenced(&fx.root, Path::new("bot/mnt/keep"), false, &fence).unwrap_err();
        assert!(matches!(err, DeleteError::CrossesFilesystem(p) if p == bot.join("mnt")));
        assert!(bot.join("mnt/keep").exists());
    }

    #[test]
    fn real_mount_is_not_entered() {
        // The only second filesystem available without mounting one is the host's, so this looks
        // at /proc from / in dry-run mode: nothing can be deleted, and it must not even be opened.
        use std::os::unix::fs::MetadataExt;
        let (Ok(slash), Ok(proc)) = (fs::metadata("/"), fs::symlink_metadata("/proc")) else {
            eprintln!("skipping: / or /proc not accessible");
            return;
        };
        if slash.dev() == proc.dev() {
            eprintln!("skipping: /proc is not a separate filesystem here");
            return;
        }
        let report = remove_under_report(Path::new("/"), Path::new("proc"), true).unwrap();
        assert_eq!(report.freed, Freed::default());
        assert_eq!(report.skipped, vec![PathBuf::from("/proc")]);
        let err = remove_under(Path::new("/"), Path::new("proc"), true).unwrap_err();
        assert!(matches!(err, DeleteError::CrossesFilesystem(p) if p == Path::new("/proc")));
    }

    #[test]
    fn skips_surface_as_crosses_filesystem() {
        let fx = Fixture::new();
        write(&fx.root.join("bot/mnt/keep"), 3);
        write(&fx.root.join("bot/z"), 5);
        let foreign = fs::symlink_metadata(fx.root.join("bot/mnt")).unwrap();
        let foreign = std::os::unix::fs::MetadataExt::ino(&foreign);
        let fence = move |base: FsId, meta: &Meta| meta.ino == foreign || crosses_fs(base, meta);
        let err = remove_fenced(&fx.root, Path::new("bot"), false, &fence)
            .and_then(Removal::into_result)
            .unwrap_err();
        assert!(matches!(&err, DeleteError::CrossesFilesystem(p) if p.ends_with("bot/mnt")));
        assert!(fx.root.join("bot/mnt/keep").exists());
        assert!(!fx.root.join("bot/z").exists());

        // On a single real filesystem nothing is skipped.
        let report = remove_under_report(&fx.root, Path::new("bot/mnt"), false).unwrap();
        assert!(report.skipped.is_empty());
        assert_eq!(
            report.freed,
            Freed {
                files: 1,
                dirs: 1,
                links: 0,
                bytes: 3
            }
        );
    }

    #[test]
    fn depth_is_bounded() {
        let fx = Fixture::new();
        let mut deep = fx.root.join("bot");
        for _ in 0..MAX_DEPTH + 5 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        let err = usage(&fx.root).unwrap_err();
        assert!(err.to_string().contains("nesting"), "{err}");
        let err = remove_under(&fx.root, Path::new("bot"), false).unwrap_err();
        assert!(matches!(&err, DeleteError::Io { .. }), "{err}");
        assert!(err.to_string().contains("nesting"), "{err}");
    }

    #[test]
    fn usage_counts_real_bytes_once() {
        let fx = Fixture::new();
        let dir = fx.root.join("bot");
        write(&dir.join("big"), 1 << 20);
        fs::create_dir_all(dir.join("nested/deeper")).unwrap();
        fs::hard_link(dir.join("big"), dir.join("nested/deeper/big2")).unwrap();
        write(&dir.join("nested/small"), 100);
        let huge = fx.outside.join("huge");
        write(&huge, 5 << 20);
        symlink(&huge, dir.join("nested/to_huge")).unwrap();

        let got = usage(&dir).unwrap();
        assert_eq!(
            got,
            Usage {
                bytes: (1 << 20) + 100 + link_len(&huge),
                files: 2,
                dirs: 2,
                links: 1,
            }
        );
    }

    #[test]
    fn usage_counter_shares_hard_links_across_dirs() {
        let fx = Fixture::new();
        let (a, b) = (fx.root.join("a"), fx.root.join("b"));
        write(&a.join("shared"), 1000);
        write(&b.join("own"), 10);
        fs::hard_link(a.join("shared"), b.join("shared")).unwrap();

        assert_eq!(usage(&a).unwrap().bytes, 1000);
        assert_eq!(usage(&b).unwrap().bytes, 1010);

        let mut counter = UsageCounter::new();
        counter.add(&a).unwrap();
        counter.add(&b).unwrap();
        assert_eq!(
            counter.total(),
            Usage {
                bytes: 1010,
                files: 2,
                dirs: 0,
                links: 0
            }
        );
        // A failed add leaves the total alone.
        assert!(counter.add(&fx.root.join("missing")).is_err());
        assert_eq!(counter.total().bytes, 1010);
    }

    #[test]
    fn finds_dangling_links() {
        let fx = Fixture::new();
        let dir = fx.root.join("bot");
        write(&dir.join("file"), 1);
        symlink("file", dir.join("ok_relative")).unwrap();
        symlink(fx.outside.join("dir"), dir.join("ok_outside_dir")).unwrap();
        symlink("missing", dir.join("gone")).unwrap();
        symlink("file/x", dir.join("through_file")).unwrap();
        symlink("loop_b", dir.join("loop_a")).unwrap();
        symlink("loop_a", dir.join("loop_b")).unwrap();
        fs::create_dir_all(dir.join("nested")).unwrap();
        symlink("../missing", dir.join("nested/gone_too")).unwrap();
        symlink("../file", dir.join("nested/ok_up")).unwrap();

        let got = dangling_links(&dir).unwrap();
        let want: Vec<PathBuf> = [
            "gone",
            "loop_a",
            "loop_b",
            "nested/gone_too",
            "through_file",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(got, want);
        // Found, not followed: the outside tree was not walked into.
        assert!(!got.iter().any(|p| p.starts_with("ok_outside_dir")));
    }

    fn set_mtime_nofollow(path: &Path, secs: i64) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        let times = [libc::timespec {
            tv_sec: secs,
            tv_nsec: 0,
        }; 2];
        // SAFETY: valid path and a two-element timespec array, as utimensat requires.
        let ret = unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                c.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        assert_eq!(ret, 0, "{}", io::Error::last_os_error());
    }

    #[test]
    fn finds_old_files_only() {
        let fx = Fixture::new();
        let dir = fx.root.join("logs");
        let now = 1_700_000_000;
        let day = 86_400;
        write(&dir.join("old.log"), 11);
        write(&dir.join("new.log"), 12);
        write(&dir.join("sub/old2.log"), 13);
        write(&dir.join("sub/edge.log"), 14);
        symlink(fx.outside.join("canary"), dir.join("old_link")).unwrap();
        fs::create_dir(dir.join("old_dir")).unwrap();

        let set = |rel: &str, secs: i64| {
            let f = fs::File::options().write(true).open(dir.join(rel)).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(secs as u64))
                .unwrap();
        };
        set("old.log", now - 10 * day);
        set("new.log", now - 60);
        set("sub/old2.log", now - 8 * day);
        set("sub/edge.log", now - 7 * day);
        set_mtime_nofollow(&dir.join("old_link"), now - 30 * day);
        set_mtime_nofollow(&dir.join("old_dir"), now - 30 * day);
        set_mtime_nofollow(&fx.outside.join("canary"), now - 30 * day);

        let got = old_files(&dir, 7 * day, now).unwrap();
        assert_eq!(
            got,
            vec![
                (PathBuf::from("old.log"), 11),
                (PathBuf::from("sub/old2.log"), 13)
            ]
        );
    }

    #[test]
    fn delete_error_messages_name_the_path() {
        let p = PathBuf::from("/srv/botctl/bots/x");
        let errors = [
            DeleteError::OutsideRoot(p.clone()),
            DeleteError::CrossesFilesystem(p.clone()),
            DeleteError::NotFound(p.clone()),
            DeleteError::Io {
                path: p.clone(),
                source: io::Error::from_raw_os_error(libc::EACCES),
            },
        ];
        for e in &errors {
            assert!(e.to_string().contains("/srv/botctl/bots/x"), "{e}");
        }
        assert!(std::error::Error::source(&errors[3]).is_some());
    }
}

#[cfg(test)]
mod give_tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn files_are_given_without_following_a_link_anywhere() {
        // SAFETY: geteuid and getegid have no preconditions.
        let (me, my_group) = unsafe { (libc::geteuid(), libc::getegid()) };
        // Root hands files to nobody; anyone else can only give them to itself.
        let (uid, gid) = if me == 0 {
            (65534, 65534)
        } else {
            (me, my_group)
        };
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "x").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let bot = root.path().join("alice/bot");
        std::fs::create_dir_all(bot.join("data")).unwrap();
        std::fs::write(bot.join("data/state"), "s").unwrap();
        symlink(&secret, bot.join("cookies.txt")).unwrap();
        symlink(outside.path(), root.path().join("alice/away")).unwrap();

        give_dir(root.path(), Path::new("alice/bot"), uid, gid, 0o700, true).unwrap();
        let meta = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        assert_eq!(meta(&bot).uid(), uid);
        assert_eq!(meta(&bot).mode() & 0o777, 0o700);
        assert_eq!(meta(&bot.join("data/state")).uid(), uid);
        assert_eq!(meta(&bot.join("cookies.txt")).uid(), uid, "the link itself");
        assert_eq!(meta(&secret).uid(), me, "never what a link points to");
        assert_eq!(meta(&secret).mode() & 0o777, 0o644);

        let e = give_file(
            root.path(),
            Path::new("alice/bot/cookies.txt"),
            uid,
            gid,
            0o600,
        );
        assert!(e.is_err(), "a link in place of the cookie file is refused");
        assert_eq!(meta(&secret).mode() & 0o777, 0o644);
        let e = give_dir(root.path(), Path::new("alice/away"), uid, gid, 0o700, false);
        assert!(e.is_err(), "a link in place of a directory is refused");
        assert_eq!(meta(outside.path()).uid(), me);
        std::fs::write(bot.join("real.txt"), "c").unwrap();
        give_file(
            root.path(),
            Path::new("alice/bot/real.txt"),
            uid,
            gid,
            0o600,
        )
        .unwrap();
        assert_eq!(meta(&bot.join("real.txt")).mode() & 0o777, 0o600);
        assert_eq!(meta(&bot.join("real.txt")).uid(), uid);
    }
}
