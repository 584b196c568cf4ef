//! Where a pattern's files live: a local folder, or an S3-compatible bucket
//! (`s3://BUCKET/KEY`). Local folders are read by `scan.rs` directly; the
//! bucket side — listing, downloading an input before a run, uploading a
//! target after it — is `storage/s3.rs`, behind plain blocking functions.
//!
//! Paths stay strings throughout the host: an object is named by its
//! `s3://` URL exactly as the user wrote the pattern, so ids, status and
//! logs show keys.

mod profile;
pub(crate) mod s3;

pub(crate) use crate::pattern::s3_location;

/// Whether `path` names an object rather than a file in the flow folder.
pub(crate) fn is_remote(path: &str) -> bool {
    s3_location(path).is_some()
}
