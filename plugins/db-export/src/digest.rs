//! The SHA-256 of the input file, computed on a thread of its own while
//! the rows are loaded: the load keeps one core busy, and hashing a large
//! file on the way in took as long as a tenth of the load.
//!
//! Owns the hashing and its thread; `flow_exports` and the receipt ask for
//! the result when they need it.

use std::cell::{OnceCell, RefCell};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use table_io::{Result, TableError};

/// The hash of one file, in hex, once the thread has it.
pub(crate) struct FileDigest {
    pending: RefCell<Option<JoinHandle<Result<String>>>>,
    hex: OnceCell<String>,
}

impl FileDigest {
    /// Starts hashing the file at `path`.
    pub(crate) fn start(path: &Path) -> Self {
        let path = path.to_path_buf();
        Self {
            pending: RefCell::new(Some(std::thread::spawn(move || sha256_of(&path)))),
            hex: OnceCell::new(),
        }
    }

    /// The hash in hex, waiting for the thread the first time.
    pub(crate) fn hex(&self) -> Result<&str> {
        if let Some(hex) = self.hex.get() {
            return Ok(hex);
        }
        let handle = self.pending.borrow_mut().take().ok_or_else(|| {
            TableError::io_message("the hash of the input failed before, and is not known")
        })?;
        let hex = handle.join().map_err(|_| {
            TableError::io_message("the thread hashing the input stopped unexpectedly")
        })??;
        Ok(self.hex.get_or_init(|| hex))
    }
}

/// The SHA-256 of the file's bytes, in hex: `flow_exports` tells from it
/// whether two exports loaded the same content.
fn sha256_of(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|error| TableError::io("cannot read", path, &error))?;
    let mut hasher = Sha256::new();
    let mut block = vec![0_u8; 1 << 20];
    loop {
        let read = file
            .read(&mut block)
            .map_err(|error| TableError::io("cannot read", path, &error))?;
        if read == 0 {
            break;
        }
        hasher.update(&block[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
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
        Ok(())
    }
}
