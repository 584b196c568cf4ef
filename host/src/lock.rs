//! The run lock `<flow>/.flow/lock`: one `run` (or `watch` pass) per flow
//! folder at a time. A lock held by another process is a value, not an
//! error: overlapping crontab minutes are normal.
//!
//! The lock file holds the holder's pid, for the message only; the kernel's
//! `flock` is what decides, and it is released when the holder dies.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::Error;

pub(crate) enum Lock {
    /// Ours until dropped.
    Acquired(#[allow(dead_code)] Flock<File>),
    /// Another process holds it; its pid if it wrote one.
    Held(Option<u32>),
}

impl Lock {
    pub(crate) fn try_acquire(dot_flow: &Path) -> Result<Self, Error> {
        let path = dot_flow.join("lock");
        let io = |source| Error::Io {
            action: "open the lock file",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dot_flow).map_err(io)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut locked) => {
                let _ = locked.set_len(0);
                let _ = locked.rewind();
                let _ = write!(locked, "{}", std::process::id());
                Ok(Self::Acquired(locked))
            }
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                Ok(Self::Held(pid.trim().parse().ok()))
            }
            Err((_, errno)) => Err(io(std::io::Error::from(errno))),
        }
    }

    /// Whether a run holds the lock right now (for `status`), without
    /// keeping it or touching the holder's pid. A run starting in the same
    /// instant sees this probe as a holder and skips its pass; the next
    /// crontab minute does the work, which is cheaper than a lock protocol.
    pub(crate) fn is_held(dot_flow: &Path) -> bool {
        let Ok(file) = File::open(dot_flow.join("lock")) else {
            return false;
        };
        matches!(
            Flock::lock(file, FlockArg::LockSharedNonblock),
            Err((_, Errno::EWOULDBLOCK))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_the_same_process_is_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Lock::try_acquire(dir.path()).expect("lock");
        assert!(matches!(first, Lock::Acquired(_)));
        match Lock::try_acquire(dir.path()).expect("lock") {
            Lock::Held(pid) => assert_eq!(pid, Some(std::process::id())),
            Lock::Acquired(_) => panic!("flock must exclude a second open file"),
        }
        assert!(Lock::is_held(dir.path()));
        drop(first);
        assert!(!Lock::is_held(dir.path()));
    }
}
