//! Whether a `flow run` holds the run lock, seen without touching it.
//!
//! `flow status` probes the lock with a non-blocking shared `flock`, which
//! for an instant looks like a holder to a run starting then. A page that
//! polls every few seconds would make that instant frequent, so the server
//! reads the kernel's table of locks (`/proc/locks`) instead: it never
//! opens the lock file for locking and can never make a run skip its pass.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// Whether some process holds an exclusive `flock` on `lock_file`. Without
/// `/proc/locks` (not Linux) the answer is `false`: the page then only
/// misses the "run in progress" badge.
pub(crate) fn run_in_progress(lock_file: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(lock_file) else {
        return false;
    };
    let Ok(table) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    let device = format!(
        "{:02x}:{:02x}:{}",
        nix::sys::stat::major(meta.dev()),
        nix::sys::stat::minor(meta.dev()),
        meta.ino()
    );
    holds(&table, &device)
}

/// Whether a line of the table is a granted exclusive `FLOCK` on the file
/// `major:minor:inode`; waiting requests (`->`) are not holders.
fn holds(table: &str, file: &str) -> bool {
    table.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        matches!(fields.as_slice(), [_, "FLOCK", _, "WRITE", _, id, ..] if *id == file)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_granted_exclusive_flock_only() {
        let table = "1: POSIX  ADVISORY  WRITE 10 00:2d:77 0 EOF\n\
                     2: FLOCK  ADVISORY  READ 11 00:2d:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 12 00:2d:78 0 EOF\n\
                     3: -> FLOCK  ADVISORY  WRITE 13 00:2d:77 0 EOF\n";
        assert!(!holds(table, "00:2d:77"));
        assert!(holds(table, "00:2d:78"));
    }

    #[test]
    fn sees_a_lock_held_in_this_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = std::fs::File::create(dir.path().join("lock")).expect("create");
        assert!(!run_in_progress(&dir.path().join("lock")));
        let locked = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock);
        assert!(locked.is_ok());
        assert!(run_in_progress(&dir.path().join("lock")));
        drop(locked);
        assert!(!run_in_progress(&dir.path().join("lock")));
    }
}
