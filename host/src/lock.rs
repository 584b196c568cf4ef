//! The run lock `<flow>/.flow/lock`: one `run` (or `watch` pass) per flow
//! folder at a time. A lock held by another process is a value, not an
//! error: overlapping crontab minutes are normal.
//!
//! The kernel's `flock` decides. Who holds it is read from the kernel's
//! table of locks (`/proc/locks`), never by taking the lock, so that
//! `status` and `serve` can never make a starting run skip its pass.

use std::fs::{File, OpenOptions};
use std::io::{Seek as _, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::Error;
use crate::layout::Layout;

pub(crate) enum Lock {
    /// Ours until dropped.
    Acquired(#[allow(dead_code)] Flock<File>),
    /// Another process holds it; its pid, when the kernel tells.
    Held(Option<u32>),
}

impl Lock {
    pub(crate) fn try_acquire(layout: &Layout) -> Result<Self, Error> {
        let path = layout.lock();
        let io = |source| Error::Io {
            action: "open the lock file",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(layout.dot_flow()).map_err(io)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut locked) => {
                // for a person looking at the file; the program asks the kernel
                let _ = locked.set_len(0);
                let _ = locked.rewind();
                let _ = write!(locked, "{}", std::process::id());
                Ok(Self::Acquired(locked))
            }
            Err((_, Errno::EWOULDBLOCK)) => Ok(Self::Held(holder(&path))),
            Err((_, errno)) => Err(io(std::io::Error::from(errno))),
        }
    }

    /// The pid of the process holding the run lock, if one does.
    pub(crate) fn holder(layout: &Layout) -> Option<u32> {
        holder(&layout.lock())
    }
}

/// Without `/proc/locks` (not Linux) nobody is seen holding it: the status
/// then only misses "a run is in progress".
fn holder(lock_file: &Path) -> Option<u32> {
    let meta = std::fs::metadata(lock_file).ok()?;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let file = format!(
        "{:02x}:{:02x}:{}",
        nix::sys::stat::major(meta.dev()),
        nix::sys::stat::minor(meta.dev()),
        meta.ino()
    );
    holder_in(&table, &file)
}

/// The pid of a granted exclusive `FLOCK` on the file `major:minor:inode`
/// in the table; waiting requests (`->`) are not holders.
fn holder_in(table: &str, file: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, "WRITE", pid, id, ..] if *id == file => pid.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_holder_of_a_granted_exclusive_flock_only() {
        let table = "1: POSIX  ADVISORY  WRITE 10 00:2d:77 0 EOF\n\
                     2: FLOCK  ADVISORY  READ 11 00:2d:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 12 00:2d:78 0 EOF\n\
                     3: -> FLOCK  ADVISORY  WRITE 13 00:2d:77 0 EOF\n";
        assert_eq!(holder_in(table, "00:2d:77"), None);
        assert_eq!(holder_in(table, "00:2d:78"), Some(12));
    }

    #[test]
    fn a_second_lock_is_held_and_its_holder_is_this_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(dir.path());
        assert_eq!(Lock::holder(&layout), None);
        let first = Lock::try_acquire(&layout).expect("lock");
        assert!(matches!(first, Lock::Acquired(_)));
        match Lock::try_acquire(&layout).expect("lock") {
            Lock::Held(pid) => assert_eq!(pid, Some(std::process::id())),
            Lock::Acquired(_) => panic!("flock must exclude a second open file"),
        }
        assert_eq!(Lock::holder(&layout), Some(std::process::id()));
        drop(first);
        assert_eq!(Lock::holder(&layout), None);
        assert!(matches!(
            Lock::try_acquire(&layout).expect("lock"),
            Lock::Acquired(_)
        ));
    }
}
