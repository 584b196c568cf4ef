//! S3-compatible buckets through the `object_store` crate: one recursive
//! listing of a prefix, a streamed download to a local file, an upload of
//! a local file (multipart above [`MULTIPART_ABOVE`]).
//!
//! `object_store` is async; the host is not. One small tokio runtime, made
//! on first use and kept for the process, drives every request, and each
//! call here blocks its caller until done (`block_on`), so a flow without
//! `s3://` patterns never starts one. Endpoint and credentials come only
//! from the standard `AWS_*` variables (`AmazonS3Builder::from_env`) and
//! the AWS profile files (`profile.rs`); no error, log line or status ever
//! carries the secret key.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig,
    WriteMultipart,
};

use super::profile::Profile;

/// Files up to this size go up in one PUT; larger ones in parts.
pub(crate) const MULTIPART_ABOVE: u64 = 16 * 1024 * 1024;

/// The size of one part of a multipart upload.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// The longest a request other than a download may take: a listing page,
/// a PUT of up to [`MULTIPART_ABOVE`], one part (at least 140 kB/s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A download that receives nothing for this long has stalled: it fails,
/// and the run does not start. Downloads have no limit on their whole
/// length, so a large object on a slow link still arrives.
pub(crate) const STALL: Duration = Duration::from_secs(30);

/// Longest detail of a server's error kept in a message: error bodies can
/// be whole XML documents.
const DETAIL_MAX: usize = 400;

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub(crate) key: String,
    pub(crate) size: u64,
    /// Without the quotes the protocol wraps it in.
    pub(crate) etag: String,
    pub(crate) modified_ns: i64,
}

/// A request to a bucket that failed: which bucket, doing what, the
/// server's or the network's words (never a credential) and what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Error {
    pub(crate) bucket: String,
    pub(crate) action: String,
    pub(crate) detail: String,
    pub(crate) hint: String,
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bucket `{}`: could not {}: {}; {}",
            self.bucket, self.action, self.detail, self.hint
        )
    }
}

/// The runtime and one client per bucket, for the whole process.
pub(crate) struct S3 {
    runtime: tokio::runtime::Runtime,
    stores: Mutex<HashMap<(String, Use), Arc<dyn ObjectStore>>>,
}

/// What a client is for: requests with a time limit on each, or downloads
/// limited by [`STALL`] between chunks instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Use {
    Requests,
    Downloads,
}

static SHARED: OnceLock<Result<S3, String>> = OnceLock::new();

impl S3 {
    /// The process's S3 access, made on first use.
    pub(crate) fn shared(bucket: &str) -> Result<&'static Self, S3Error> {
        let made = SHARED.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("flow-s3")
                .enable_all()
                .build()
                .map(|runtime| Self {
                    runtime,
                    stores: Mutex::new(HashMap::new()),
                })
                .map_err(|error| error.to_string())
        });
        made.as_ref().map_err(|why| S3Error {
            bucket: bucket.to_owned(),
            action: "start the client".into(),
            detail: why.clone(),
            hint: "this is a problem of the machine (threads, file handles), not of the bucket"
                .into(),
        })
    }

    /// Every object under `prefix` (a key prefix ending in `/`, or `""` for
    /// the whole bucket), all pages of one recursive listing. A server that
    /// sends no page for [`STALL`] (stopped, or hung) fails the listing then,
    /// not after the longer request limit and its retries.
    pub(crate) fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, S3Error> {
        let action = format!("list `{prefix}`");
        let store = self.store(bucket, Use::Requests)?;
        let prefix_key = key(bucket, prefix.trim_end_matches('/'))?;
        let result = self.runtime.block_on(async {
            let scope = (!prefix_key.as_ref().is_empty()).then_some(&prefix_key);
            let mut listing = store.list(scope);
            let mut objects = Vec::new();
            while let Some(meta) = tokio::time::timeout(STALL, listing.next())
                .await
                .map_err(|_| Failure::Stalled)?
            {
                let meta = meta.map_err(Failure::Store)?;
                objects.push(Object {
                    key: meta.location.as_ref().to_owned(),
                    size: meta.size,
                    etag: unquote(meta.e_tag.as_deref()),
                    modified_ns: meta.last_modified.timestamp_nanos_opt().unwrap_or(0),
                });
            }
            Ok(objects)
        });
        result.map_err(|failure: Failure| failure.into_error(bucket, &action, Path::new("")))
    }

    /// Streams object `object_key` into `dest`: written under a temporary
    /// name beside it and renamed once whole, so `dest` is never partial.
    pub(crate) fn download(
        &self,
        bucket: &str,
        object_key: &str,
        dest: &Path,
    ) -> Result<(), S3Error> {
        let action = format!("download `{object_key}`");
        let store = self.store(bucket, Use::Downloads)?;
        let location = key(bucket, object_key)?;
        let name = dest
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let partial = dest.with_file_name(format!(".{name}.part"));
        let result = self.runtime.block_on(async {
            let got = tokio::time::timeout(STALL, store.get(&location))
                .await
                .map_err(|_| Failure::Stalled)?
                .map_err(Failure::Store)?;
            let mut stream = got.into_stream();
            let mut file = std::fs::File::create(&partial).map_err(Failure::Local)?;
            while let Some(chunk) = tokio::time::timeout(STALL, stream.next())
                .await
                .map_err(|_| Failure::Stalled)?
            {
                let chunk = chunk.map_err(Failure::Store)?;
                file.write_all(&chunk).map_err(Failure::Local)?;
            }
            file.flush().map_err(Failure::Local)?;
            std::fs::rename(&partial, dest).map_err(Failure::Local)
        });
        result.map_err(|failure| {
            let _ = std::fs::remove_file(&partial);
            failure.into_error(bucket, &action, dest)
        })
    }

    /// Uploads the file at `source` to `object_key`; the object appears
    /// whole when the upload completes, never before. Its listing entry as
    /// the server would show it.
    pub(crate) fn upload(
        &self,
        bucket: &str,
        object_key: &str,
        source: &Path,
    ) -> Result<Object, S3Error> {
        let action = format!("upload `{object_key}`");
        let store = self.store(bucket, Use::Requests)?;
        let location = key(bucket, object_key)?;
        let result = self.runtime.block_on(async {
            let size = std::fs::metadata(source).map_err(Failure::Local)?.len();
            let put = if size <= MULTIPART_ABOVE {
                let bytes = std::fs::read(source).map_err(Failure::Local)?;
                store
                    .put(&location, PutPayload::from(bytes))
                    .await
                    .map_err(Failure::Store)?
            } else {
                upload_parts(store.as_ref(), &location, source).await?
            };
            Ok::<_, Failure>((size, put.e_tag))
        });
        let (size, etag) = result.map_err(|failure| failure.into_error(bucket, &action, source))?;
        Ok(Object {
            key: object_key.to_owned(),
            size,
            etag: unquote(etag.as_deref()),
            modified_ns: crate::scan::nanos_since_epoch(std::time::SystemTime::now()),
        })
    }

    fn store(&self, bucket: &str, made_for: Use) -> Result<Arc<dyn ObjectStore>, S3Error> {
        let mut stores = self
            .stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = (bucket.to_owned(), made_for);
        if let Some(store) = stores.get(&id) {
            return Ok(Arc::clone(store));
        }
        let store: Arc<dyn ObjectStore> = Arc::new(
            builder(bucket, made_for)
                .build()
                .map_err(|error| S3Error::of(bucket, "set up the client", &error))?,
        );
        stores.insert(id, Arc::clone(&store));
        Ok(store)
    }
}

/// The client for `bucket` from the standard variables, then the profile
/// files for what they leave unset. Retries are few and short, so an
/// endpoint that does not answer fails the pass's requests within seconds,
/// not minutes; a plain `http://` endpoint (a server on loopback) is
/// allowed as the AWS CLI allows it.
fn builder(bucket: &str, made_for: Use) -> AmazonS3Builder {
    let set = |names: &[&str]| names.iter().find_map(|name| std::env::var(name).ok());
    let profile = Profile::from_files();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if set(&["AWS_ACCESS_KEY_ID"]).is_none()
        && let (Some(key), Some(secret)) = (
            profile.get("aws_access_key_id"),
            profile.get("aws_secret_access_key"),
        )
    {
        builder = builder
            .with_access_key_id(key)
            .with_secret_access_key(secret);
        if let Some(token) = profile.get("aws_session_token") {
            builder = builder.with_token(token);
        }
    }
    if set(&["AWS_REGION", "AWS_DEFAULT_REGION"]).is_none()
        && let Some(region) = profile.get("region")
    {
        builder = builder.with_region(region);
    }
    let mut endpoint = set(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]);
    if endpoint.is_none()
        && let Some(url) = profile.get("endpoint_url")
    {
        builder = builder.with_endpoint(url);
        endpoint = Some(url.to_owned());
    }
    let plain_http = endpoint.is_some_and(|url| url.starts_with("http://"));
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        // a busy server answers 500 or 503 now and then: worth a few tries
        max_retries: 5,
        retry_timeout: Duration::from_secs(30),
    };
    let options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_allow_http(plain_http);
    let options = match made_for {
        Use::Requests => options.with_timeout(REQUEST_TIMEOUT),
        Use::Downloads => options.with_timeout_disabled(),
    };
    builder.with_retry(retry).with_client_options(options)
}

/// Sends the file at `source` in parts; a failed part aborts the upload,
/// so no part is left for the server to keep.
async fn upload_parts(
    store: &dyn ObjectStore,
    location: &Key,
    source: &Path,
) -> Result<object_store::PutResult, Failure> {
    let upload = store
        .put_multipart(location)
        .await
        .map_err(Failure::Store)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut file = std::fs::File::open(source).map_err(Failure::Local)?;
    let mut buffer = vec![0; PART_SIZE];
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) => {
                let _ = writer.abort().await;
                return Err(Failure::Local(error));
            }
        };
        if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            let _ = writer.abort().await;
            return Err(Failure::Store(error));
        }
        writer.write(&buffer[..read]);
    }
    writer.finish().await.map_err(Failure::Store)
}

/// What went wrong inside a transfer: the bucket's side or our disk's.
enum Failure {
    Store(object_store::Error),
    Local(std::io::Error),
    /// Nothing came from the server for [`STALL`].
    Stalled,
}

impl Failure {
    fn into_error(self, bucket: &str, action: &str, local: &Path) -> S3Error {
        match self {
            Self::Store(error) => S3Error::of(bucket, action, &error),
            Self::Local(error) => S3Error {
                bucket: bucket.to_owned(),
                action: action.to_owned(),
                detail: format!("{}: {error}", local.display()),
                hint: "check the space and permissions of the flow folder's `.flow/`".into(),
            },
            Self::Stalled => S3Error {
                bucket: bucket.to_owned(),
                action: action.to_owned(),
                detail: format!("no data came from the server for {}s", STALL.as_secs()),
                hint: "check that the server AWS_ENDPOINT_URL names is up and not overloaded; \
                       the item is tried again on the next pass"
                    .into(),
            },
        }
    }
}

fn key(bucket: &str, text: &str) -> Result<Key, S3Error> {
    Key::parse(text).map_err(|error| S3Error::of(bucket, &format!("name the key `{text}`"), &error))
}

fn unquote(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

impl S3Error {
    /// The error of `action` on `bucket`: its chain of causes in one line,
    /// without the secret key, and what to check for it.
    fn of(bucket: &str, action: &str, error: &dyn std::error::Error) -> Self {
        let detail = scrub(&chain(error));
        let hint = hint(bucket, &detail.to_ascii_lowercase());
        Self {
            bucket: bucket.to_owned(),
            action: action.to_owned(),
            detail,
            hint,
        }
    }
}

/// An error and its sources, `: `-joined, each once and on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    let mut one_line = without_xml(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.len() > DETAIL_MAX {
        let mut end = DETAIL_MAX;
        while !one_line.is_char_boundary(end) {
            end -= 1;
        }
        one_line.truncate(end);
        one_line.push('…');
    }
    one_line
}

/// An S3 error document (`<Error><Code>…</Code><Message>…</Message>…`)
/// in `text` cut down to its code and message.
fn without_xml(text: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find('<')?;
        Some(&text[start..end])
    };
    let Some(at) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_owned();
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{}{code}: {message}", &text[..at]),
        (Some(code), None) => format!("{}{code}", &text[..at]),
        _ => text.to_owned(),
    }
}

/// The text with the secret key (should a server echo it) blanked out.
fn scrub(text: &str) -> String {
    match std::env::var("AWS_SECRET_ACCESS_KEY") {
        Ok(secret) if !secret.is_empty() => text.replace(&secret, "***"),
        _ => text.to_owned(),
    }
}

/// What to check, from the words of the failure.
fn hint(bucket: &str, detail: &str) -> String {
    let any = |words: &[&str]| words.iter().any(|word| detail.contains(word));
    // a status code as a word of its own: the URL in the detail names the
    // bucket, and `flow-4012` holds no 401
    let status = |codes: &[&str]| {
        detail
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| codes.contains(&word))
    };
    if any(&["nosuchbucket", "bucket does not exist", "bucket not found"]) {
        format!(
            "check that bucket `{bucket}` exists on the server AWS_ENDPOINT_URL names, and its name in flow.yaml"
        )
    } else if status(&["401", "403"])
        || any(&[
            "forbidden",
            "signaturedoesnotmatch",
            "invalidaccesskeyid",
            "accessdenied",
            "unauthenticated",
            "permission",
        ])
    {
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile in ~/.aws/credentials): the server refused them".into()
    } else if any(&[
        "connect",
        "dns",
        "timed out",
        "error sending request",
        "connection",
    ]) {
        "check AWS_ENDPOINT_URL and that the server answers there".into()
    } else if any(&["500 internal", "502 bad", "503 service", "504 gateway"]) {
        "the server failed the request (a 5xx answer): check its health and its log; the item is tried again on the next pass".into()
    } else if status(&["404"]) || any(&["not found"]) {
        format!("check that the object exists in bucket `{bucket}`")
    } else {
        format!("check AWS_ENDPOINT_URL, AWS_REGION, the keys and that bucket `{bucket}` exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_what_to_check() {
        assert!(hint("b", "404 not found: nosuchbucket").contains("exists on the server"));
        assert!(hint("b", "status 403 forbidden").contains("AWS_SECRET_ACCESS_KEY"));
        assert!(hint("b", "http status: 401").contains("AWS_SECRET_ACCESS_KEY"));
        let refused = "error performing put http://127.0.0.1:9/flow-out-4012-6/a.csv in 647.7ms: \
             tcp connect error: connection refused (os error 111)";
        assert!(
            hint("flow-out-4012-6", refused)
                .contains("AWS_ENDPOINT_URL and that the server answers"),
            "a code inside the bucket's name is no status"
        );
        assert!(
            hint("b", "error sending request: connection refused").contains("AWS_ENDPOINT_URL")
        );
        let busy =
            "after 2 retries, max_retries: 2, retry_timeout: 10s - 500 internal server error";
        assert!(hint("b", busy).contains("5xx"));
        assert_eq!(unquote(Some("\"abc-2\"")), "abc-2");
        assert_eq!(
            without_xml(
                "403 Forbidden: <?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>No.</Message></Error>"
            ),
            "403 Forbidden: SignatureDoesNotMatch: No."
        );
    }
}
