//! Files seen changing that have not settled yet: each is due `settle`
//! after its last modification, and the watch sleeps until the first one
//! is. Knows nothing of events, jobs or passes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The modification time last seen of each file still settling.
#[derive(Debug, Default)]
pub(crate) struct Settling {
    files: HashMap<PathBuf, SystemTime>,
}

impl Settling {
    /// Notes that `path` changed at `mtime`; a later change moves its due
    /// time, an earlier one (a file moved in) leaves it due at once.
    pub(crate) fn note(&mut self, path: &Path, mtime: SystemTime) {
        let seen = self.files.entry(path.to_path_buf()).or_insert(mtime);
        *seen = (*seen).max(mtime);
    }

    /// When the first file settles, as a deadline on the monotonic clock.
    pub(crate) fn next(&self, settle: Duration) -> Option<Instant> {
        let first = self.files.values().min()?;
        let wait = (*first + settle)
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Some(Instant::now() + wait)
    }

    /// Forgets the files that have settled by now, looking at each again
    /// (a change whose event is still queued counts); true if any did.
    pub(crate) fn take_settled(&mut self, settle: Duration) -> bool {
        let now = SystemTime::now();
        let before = self.files.len();
        self.files.retain(|path, seen| {
            if let Some(mtime) = modified(path) {
                *seen = (*seen).max(mtime);
            }
            *seen + settle > now
        });
        self.files.len() < before
    }
}

/// A file's modification time; `None` for what is not a file (any more).
pub(crate) fn modified(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| meta.modified().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_due_settle_after_its_last_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "a").expect("write");
        let mtime = modified(&path).expect("a file");
        let mut settling = Settling::default();
        settling.note(&path, mtime);
        let settle = Duration::from_secs(3600);
        let due = settling.next(settle).expect("one file");
        assert!(due > Instant::now() + Duration::from_secs(3000));
        assert!(!settling.take_settled(settle), "an hour is not over");
        assert!(settling.take_settled(Duration::ZERO), "no settle: due now");
        assert_eq!(settling.next(settle), None, "nothing left to settle");
    }

    #[test]
    fn a_file_gone_meanwhile_is_due_on_its_last_seen_change() {
        let mut settling = Settling::default();
        let old = SystemTime::now() - Duration::from_secs(10);
        settling.note(Path::new("/nonexistent/flow/a.csv"), old);
        assert!(settling.take_settled(Duration::from_secs(1)));
    }
}
