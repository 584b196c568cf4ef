//! An output file synced to disk on a second thread while it is written.
//!
//! Every output is synced before its rename ([`crate::Output`]). Left to
//! that one sync at the end, the 0.5 to 0.8 GB of a 10M-row CSV output were
//! written to disk only then, with every core idle (about a second,
//! docs/performance.md). Syncing as the bytes accumulate overlaps that
//! writing with the job's work; the final sync finds little left.
//!
//! Owns the syncing thread only: what is written, and the final sync before
//! the rename, are the caller's.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// Bytes written between two syncs. A sync is one `fdatasync` and a
/// journal commit: at this size a 780 MB output takes about 25.
const SYNC_EVERY: u64 = 32 << 20;

/// A file whose written bytes a second thread syncs to disk, started once
/// the first [`SYNC_EVERY`] bytes are written (a small output starts none).
pub struct SyncedFile<'f> {
    file: &'f File,
    unsynced: u64,
    syncer: Option<Syncer>,
}

/// The syncing thread and the way to wake it.
struct Syncer {
    wake: SyncSender<()>,
    thread: JoinHandle<io::Result<()>>,
}

impl<'f> SyncedFile<'f> {
    /// `file` behind a write buffer of `capacity` bytes, as a large output
    /// is written; [`SyncedFile::finish_buffered`] ends it.
    pub fn buffered(file: &'f File, capacity: usize) -> BufWriter<Self> {
        BufWriter::with_capacity(capacity, Self::new(file))
    }

    /// Writes out what `out` still holds, then waits for the syncing
    /// thread: the first write or sync error.
    pub fn finish_buffered(out: BufWriter<Self>) -> io::Result<()> {
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .finish()
    }

    /// Writes to `file`; the thread starts with the first sync.
    fn new(file: &'f File) -> Self {
        Self {
            file,
            unsynced: 0,
            syncer: None,
        }
    }

    /// Waits for the syncing thread: its error, if a sync failed.
    fn finish(self) -> io::Result<()> {
        let Some(Syncer { wake, thread }) = self.syncer else {
            return Ok(());
        };
        drop(wake);
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the syncing thread panicked")))
    }

    /// Asks for a sync of what is written so far; one already asked for
    /// and not yet begun covers these bytes too.
    fn request_sync(&mut self) -> io::Result<()> {
        let syncer = match self.syncer.take() {
            Some(syncer) => syncer,
            None => Syncer::start(self.file.try_clone()?),
        };
        match syncer.wake.try_send(()) {
            // Full: a sync asked for and not yet begun covers these bytes.
            // Disconnected: the thread stopped at a failed sync, which
            // `finish` reports.
            Ok(()) | Err(TrySendError::Full(()) | TrySendError::Disconnected(())) => {}
        }
        self.syncer = Some(syncer);
        Ok(())
    }
}

impl Syncer {
    fn start(file: File) -> Self {
        let (wake, requests) = sync_channel(1);
        let thread = std::thread::spawn(move || sync_on_request(&file, &requests));
        Self { wake, thread }
    }
}

/// Syncs `file` at each request until the writer is done.
fn sync_on_request(file: &File, requests: &Receiver<()>) -> io::Result<()> {
    while requests.recv().is_ok() {
        file.sync_data()?;
    }
    Ok(())
}

impl Write for SyncedFile<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut file = self.file;
        let written = file.write(bytes)?;
        self.unsynced += written as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            self.request_sync()?;
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut file = self.file;
        file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn what_is_written_is_in_the_file_whether_a_sync_ran_or_not() -> io::Result<()> {
        let folder = tempfile::tempdir()?;
        for size in [10, SYNC_EVERY as usize * 2 + 7] {
            let path = folder.path().join(format!("out_{size}"));
            let bytes: Vec<u8> = (0..size).map(|at| (at % 251) as u8).collect();
            let file = File::create(&path)?;
            let mut out = SyncedFile::new(&file);
            for chunk in bytes.chunks(1 << 20) {
                out.write_all(chunk)?;
            }
            assert_eq!(out.syncer.is_some(), size > SYNC_EVERY as usize);
            out.finish()?;
            let mut back = Vec::new();
            File::open(&path)?.read_to_end(&mut back)?;
            assert!(back == bytes, "{size} bytes read back differently");
        }
        Ok(())
    }
}
