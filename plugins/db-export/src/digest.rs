//! The SHA-256 of the input file, computed beside the load rather than
//! before it: on a thread of its own while the rows are loaded (hashing a
//! large file on the way in took as long as a tenth of the load), or on the
//! way through a reader that reads every byte anyway ([`Hashing`]), so that
//! a streamed file is read once, not twice.
//!
//! Owns the hashing and its thread; `flow_exports` and the receipt ask for
//! the result when they need it.

use std::cell::{OnceCell, RefCell};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use table_io::{Result, TableError};

/// The hash of one file, in hex, once known.
pub(crate) struct FileDigest {
    path: PathBuf,
    pending: RefCell<Option<JoinHandle<Result<String>>>>,
    hex: OnceCell<String>,
}

impl FileDigest {
    /// Starts hashing the file at `path` on a thread of its own.
    pub(crate) fn start(path: &Path) -> Self {
        let digest = Self::expected(path);
        digest.start_thread();
        digest
    }

    /// The hash of the file at `path`, to be handed in by a reader that
    /// reads it whole anyway ([`FileDigest::provide`]); else hashed when
    /// asked for.
    pub(crate) fn expected(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            pending: RefCell::new(None),
            hex: OnceCell::new(),
        }
    }

    /// Hashes the file on a thread of its own, unless the hash is known or
    /// under way.
    pub(crate) fn start_thread(&self) {
        let mut pending = self.pending.borrow_mut();
        if self.hex.get().is_none() && pending.is_none() {
            let path = self.path.clone();
            *pending = Some(std::thread::spawn(move || sha256_of(&path)));
        }
    }

    /// Hands in the hash of the whole file, as [`Hashing`] computed it.
    pub(crate) fn provide(&self, hex: String) {
        let _ = self.hex.set(hex);
    }

    /// The hash in hex: handed in, or waited for, or computed now.
    pub(crate) fn hex(&self) -> Result<&str> {
        if let Some(hex) = self.hex.get() {
            return Ok(hex);
        }
        let pending = self.pending.borrow_mut().take();
        let hex = match pending {
            Some(handle) => handle.join().map_err(|_| {
                TableError::io_message("the thread hashing the input stopped unexpectedly")
            })??,
            None => sha256_of(&self.path)?,
        };
        Ok(self.hex.get_or_init(|| hex))
    }
}

/// A reader that hashes every byte it passes on.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The hash, in hex, of everything read so far.
    pub(crate) fn finish(self) -> String {
        self.hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        Ok(read)
    }
}

/// The SHA-256 of the file's bytes, in hex: `flow_exports` tells from it
/// whether two exports loaded the same content.
fn sha256_of(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|error| TableError::io("cannot read", path, &error))?;
    let mut reader = Hashing::new(file);
    std::io::copy(&mut reader, &mut std::io::sink())
        .map_err(|error| TableError::io("cannot read", path, &error))?;
    Ok(reader.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_file_once_and_keeps_the_result() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "abc")?;
        let digest = FileDigest::start(&path);
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest.hex()?, expected);
        assert_eq!(digest.hex()?, expected);
        assert_eq!(FileDigest::expected(&path).hex()?, expected);
        let mut reader = Hashing::new(std::fs::File::open(&path)?);
        std::io::copy(&mut reader, &mut std::io::sink())?;
        assert_eq!(reader.finish(), expected);
        Ok(())
    }
}
