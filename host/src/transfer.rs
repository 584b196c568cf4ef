//! The copies around a run whose files live in a bucket: each `s3://`
//! input is downloaded into the run's folder under `.flow/transfers/`
//! before the job starts, and an `s3://` target is uploaded from the
//! staging file after the job succeeded. The job only ever sees local
//! paths; the run's folder goes away when the run is over, whatever its
//! outcome.
//!
//! Runs on the worker thread of its run, so transfers of different runs
//! overlap; knows nothing of state or outcomes.

use std::path::{Path, PathBuf};

use crate::scan::FileMeta;
use crate::storage::s3::{S3, S3Error};
use crate::storage::s3_location;

/// One run's copies: the inputs to fetch and the target to send.
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    /// `s3://` path of each input and the local file the job reads.
    downloads: Vec<(String, PathBuf)>,
    /// The `s3://` target, when the target lives in a bucket.
    upload: Option<String>,
    /// The run's own folder under `.flow/transfers/`.
    folder: PathBuf,
}

impl Transfers {
    pub(crate) fn new(folder: PathBuf) -> Self {
        Self {
            folder,
            ..Self::default()
        }
    }

    /// Notes that the input at `remote` is read from `local`.
    pub(crate) fn download(&mut self, remote: &str, local: PathBuf) {
        self.downloads.push((remote.to_owned(), local));
    }

    /// Notes that the staging file goes up to `remote` after a success.
    pub(crate) fn upload_to(&mut self, remote: &str) {
        self.upload = Some(remote.to_owned());
    }

    pub(crate) fn uploads(&self) -> bool {
        self.upload.is_some()
    }

    /// Downloads every input; the first failure stops the others.
    pub(crate) fn fetch(&self) -> Result<(), S3Error> {
        for (remote, local) in &self.downloads {
            let (bucket, key) = split(remote);
            if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent).map_err(|error| S3Error {
                    bucket: bucket.to_owned(),
                    action: format!("download `{key}`"),
                    detail: format!("{}: {error}", parent.display()),
                    hint: "check the space and permissions of the flow folder's `.flow/`".into(),
                })?;
            }
            S3::shared(bucket)?.download(bucket, key, local)?;
        }
        Ok(())
    }

    /// Uploads `staging` to the target; the target's meta as a listing
    /// will show it. `None` when the target is local.
    pub(crate) fn send(&self, staging: &Path) -> Option<Result<FileMeta, S3Error>> {
        let remote = self.upload.as_ref()?;
        let (bucket, key) = split(remote);
        Some(
            S3::shared(bucket)
                .and_then(|s3| s3.upload(bucket, key, staging))
                .map(|object| FileMeta::of_object(&object)),
        )
    }

    /// Removes the run's folder: downloads, and a staging file left over.
    pub(crate) fn clean(&self) {
        match std::fs::remove_dir_all(&self.folder) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %self.folder.display(), %error, "could not remove a run's downloads");
            }
        }
    }
}

fn split(remote: &str) -> (&str, &str) {
    s3_location(remote).unwrap_or(("", remote))
}
