//! What is on disk, as a plan needs it: the files and sub-folders of the
//! folders a pattern can reach, listed once each per pass, and the sources
//! a pattern binds there.
//!
//! Only names, sizes and mtimes are read: the host never opens a data file.
//! A folder is listed on first use, so a branch whose literal part does not
//! match is never listed. Names starting with `.` are skipped at every level.
//!
//! A folder in a bucket (`s3://BUCKET/PREFIX`) is listed differently: the
//! first folder of a bucket the pass asks for, mostly a pattern's root, is
//! listed once, recursively (one ListObjectsV2 with that prefix, all its
//! pages), and every folder below it is filled from that one listing. A
//! bucket that cannot be listed is remembered with its error, and the
//! planner leaves the items that touch it alone for this pass.

use std::collections::BTreeSet;
use std::fs::DirEntry;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::pattern::{Bindings, Pattern, Segment};
use crate::storage::s3::{Object, S3, S3Error};
use crate::storage::{is_remote, s3_location};

/// Size and modification time: how the host tells a file changed; for an
/// object in a bucket, its size and ETag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    /// An object's ETag, hashed (FNV-1a, the same in every build) to keep
    /// this a small `Copy` value; `None` for a local file.
    pub(crate) etag: Option<u64>,
}

impl FileMeta {
    pub(crate) fn of(path: &Path) -> Option<Self> {
        Self::from_metadata(&std::fs::metadata(path).ok()?)
    }

    fn from_metadata(meta: &std::fs::Metadata) -> Option<Self> {
        meta.is_file().then(|| Self {
            size: meta.len(),
            mtime_ns: meta.modified().map_or(0, nanos_since_epoch),
            etag: None,
        })
    }

    /// An object's meta: objects appear whole, so its ETag stands for its
    /// content and its mtime only orders it.
    pub(crate) fn of_object(object: &Object) -> Self {
        Self {
            size: object.size,
            mtime_ns: object.modified_ns,
            etag: Some(fnv1a(object.etag.as_bytes())),
        }
    }
}

/// FNV-1a, 64 bits: a hash that never changes between builds or versions,
/// as a fingerprint stored in the state must not.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) fn nanos_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    })
}

/// One folder's visible entries. Files are hashed, not ordered: a folder
/// may hold tens of thousands, each looked up by name, and the planner
/// orders what it binds itself.
#[derive(Debug, Clone, Default)]
struct Listing {
    files: HashMap<Box<str>, FileMeta>,
    /// Files seen in a folder listed without a stat per file
    /// ([`Scan::stat_lazily`]): each is stat'ed when its meta is asked for.
    unstatted: HashSet<Box<str>>,
    folders: BTreeSet<String>,
}

/// What a listing says of one name: a file whose size and mtime are not
/// read yet is `Unstatted`.
pub(crate) enum Entry {
    File(FileMeta),
    Unstatted,
    Absent,
}

impl Listing {
    fn entry(&self, name: &str) -> Entry {
        match self.files.get(name) {
            Some(meta) => Entry::File(*meta),
            None if self.unstatted.contains(name) => Entry::Unstatted,
            None => Entry::Absent,
        }
    }
}

/// A source file a pattern bound: its path (relative to the flow folder)
/// and the bindings. Its size and mtime stay in the listing, where a plan
/// looks them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) path: String,
    pub(crate) bindings: Bindings,
}

/// Listings of the flow's folders by path relative to the flow folder.
#[derive(Debug)]
pub(crate) struct Scan {
    base: PathBuf,
    listings: HashMap<String, Listing>,
    /// Bucket folders listed recursively in this pass: every folder below
    /// one is in `listings` already, or empty.
    listed_remote: Vec<String>,
    /// Bucket folders whose listing failed, with the error.
    unreachable: Vec<(String, S3Error)>,
    /// Folders read from the disk or a bucket since this scan was made or
    /// carried over: what a pass cost.
    listed: usize,
    /// Local folders, with those below them, listed without a stat per
    /// file: see [`Scan::stat_lazily`].
    lazy: Vec<String>,
}

impl Scan {
    pub(crate) fn new(base: &Path) -> Self {
        Self {
            base: base.to_path_buf(),
            listings: HashMap::new(),
            listed_remote: Vec::new(),
            unreachable: Vec::new(),
            listed: 0,
            lazy: Vec::new(),
        }
    }

    /// Files in `folders` and below are listed by name only, and each is
    /// stat'ed when its meta is asked for: for folders where a pass only
    /// asks whether a file is there (targets no job reads), that saves a
    /// stat per file (a sixth of the stat calls of the sample flow).
    pub(crate) fn stat_lazily(mut self, folders: Vec<String>) -> Self {
        self.lazy = folders;
        self
    }

    /// The scan of the next round of a pass: local folders are listed
    /// again; what the buckets' listings found, what the pass uploaded and
    /// which listings failed are kept, since a bucket is listed once a pass.
    pub(crate) fn next_round(self) -> Self {
        let listings = self
            .listings
            .into_iter()
            .filter(|(folder, _)| is_remote(folder))
            .collect();
        Self {
            base: self.base,
            listings,
            listed_remote: self.listed_remote,
            unreachable: self.unreachable,
            listed: self.listed,
            lazy: self.lazy,
        }
    }

    /// The scan a watch starts its next pass with: the local folders'
    /// listings, kept up to date since by [`Scan::refresh_file`] and
    /// [`Scan::forget`] from the file-system events; buckets, which send
    /// none, are listed again.
    pub(crate) fn carried_over(self) -> Self {
        let listings = self
            .listings
            .into_iter()
            .filter(|(folder, _)| !is_remote(folder))
            .collect();
        Self {
            listings,
            ..Self::new(&self.base).stat_lazily(self.lazy)
        }
    }

    /// Takes in what an event says of the file at `path`: its size and
    /// mtime now, or its absence. Whether that is news: a file the host
    /// promoted itself is not; one in a folder not listed yet may be, and
    /// is seen when the folder is.
    pub(crate) fn refresh_file(&mut self, path: &str) -> bool {
        let (folder, name) = split(path);
        let Some(listing) = self.listings.get_mut(folder) else {
            return true;
        };
        let now = FileMeta::of(&self.base.join(path));
        listing.unstatted.remove(name);
        let before = match now {
            Some(meta) => listing.files.insert(name.into(), meta),
            None => listing.files.remove(name),
        };
        before != now
    }

    /// Drops the listings of `folder` and every folder below it, and the
    /// folder from its parent's: they are listed again when asked for.
    pub(crate) fn forget(&mut self, folder: &str) {
        self.listings.retain(|listed, _| !inside(listed, folder));
        let (parent, _) = split(folder);
        self.listings.remove(parent);
    }

    /// The listing error of the bucket folder `path` lies in, if its
    /// listing failed in this pass.
    pub(crate) fn unreachable(&self, path: &str) -> Option<&S3Error> {
        self.unreachable
            .iter()
            .find(|(folder, _)| inside(path, folder))
            .map(|(_, error)| error)
    }

    /// Every bucket listing that failed in this pass.
    pub(crate) fn failures(&self) -> impl Iterator<Item = &S3Error> {
        self.unreachable.iter().map(|(_, error)| error)
    }

    /// Logs each failed bucket listing as an error; returns how many.
    pub(crate) fn report_failures(&self) -> usize {
        for error in self.failures() {
            tracing::error!("{error}; its items wait for the next pass");
        }
        self.unreachable.len()
    }

    /// Lists the bucket folder `folder` recursively, once, unless a folder
    /// above it was: then it is known already, or it has nothing in it.
    fn list_remote(&mut self, folder: &str) {
        if self.listed_remote.iter().any(|root| inside(folder, root)) {
            self.listings.entry(folder.to_owned()).or_default();
            return;
        }
        self.listed_remote.push(folder.to_owned());
        self.listed += 1;
        self.listings.entry(folder.to_owned()).or_default();
        let Some((bucket, prefix)) = s3_location(folder) else {
            return;
        };
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let listed = S3::shared(bucket).and_then(|s3| s3.list(bucket, &prefix));
        match listed {
            Ok(objects) => self.fill_from_objects(folder, &prefix, &objects),
            Err(error) => self.unreachable.push((folder.to_owned(), error)),
        }
    }

    /// Files and folders below `folder` from the keys of one listing;
    /// names starting with `.` in any segment and "folder" placeholder
    /// keys are not files. A placeholder is an empty object whose key ends
    /// in `/`, a `/` object_store drops: so an empty object is never a
    /// file (it carries no data a job could read), and neither is a name
    /// that is also a folder.
    fn fill_from_objects(&mut self, folder: &str, prefix: &str, objects: &[Object]) {
        for object in objects.iter().filter(|object| object.size > 0) {
            let Some(below) = object.key.strip_prefix(prefix) else {
                continue;
            };
            let hidden = below
                .split('/')
                .any(|part| part.is_empty() || part.starts_with('.'));
            if hidden {
                continue;
            }
            let path = join(folder, below);
            let (parent, name) = split(&path);
            self.add_folders(folder, parent);
            self.listings
                .entry(parent.to_owned())
                .or_default()
                .files
                .insert(name.into(), FileMeta::of_object(object));
        }
        let below = self
            .listings
            .iter_mut()
            .filter(|(path, _)| inside(path, folder));
        for (_, listing) in below {
            let folders = &listing.folders;
            listing
                .files
                .retain(|name, _| !folders.contains(name.as_ref()));
        }
    }

    /// Notes `folder` and the folders between it and `root` in their
    /// parents' listings.
    fn add_folders(&mut self, root: &str, folder: &str) {
        let mut child = folder;
        while child != root && inside(child, root) {
            let (parent, name) = split(child);
            self.listings.entry(child.to_owned()).or_default();
            self.listings
                .entry(parent.to_owned())
                .or_default()
                .folders
                .insert(name.to_owned());
            child = parent;
        }
    }

    /// How many folders were listed: one per folder visited.
    pub(crate) fn folders_listed(&self) -> usize {
        self.listed
    }

    fn listing(&mut self, folder: &str) -> &Listing {
        // looked up by `&str` first: most lookups find a folder listed already
        if !self.listings.contains_key(folder) && is_remote(folder) {
            self.list_remote(folder);
        }
        if !self.listings.contains_key(folder) {
            let listing = list(&self.base, folder, self.is_lazy(folder));
            self.listed += 1;
            self.listings.insert(folder.to_owned(), listing);
        }
        &self.listings[folder]
    }

    /// Lists those of `folders` not listed yet, up to one thread per CPU at
    /// once: a listing is mostly one stat per file, time in the kernel that
    /// folders on different CPUs share.
    pub(crate) fn prefetch(&mut self, folders: &[String]) {
        for folder in folders.iter().filter(|folder| is_remote(folder)) {
            if !self.listings.contains_key(folder.as_str()) {
                self.list_remote(folder);
            }
        }
        let todo: Vec<(&String, bool)> = folders
            .iter()
            .filter(|folder| !self.listings.contains_key(folder.as_str()))
            .map(|folder| (folder, self.is_lazy(folder)))
            .collect();
        self.listed += todo.len();
        let threads = crate::threads::cpus().min(todo.len());
        if threads < 2 {
            for (folder, lazy) in todo {
                let listing = list(&self.base, folder, lazy);
                self.listings.insert(folder.clone(), listing);
            }
            return;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let base = &self.base;
        let listed: Vec<(String, Listing)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        while let Some((folder, lazy)) =
                            todo.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                        {
                            done.push(((*folder).clone(), list(base, folder, *lazy)));
                        }
                        done
                    })
                })
                .collect();
            crate::threads::gather(workers)
        });
        self.listings.extend(listed);
    }

    /// Size and mtime of the file at `path`, from its folder's listing.
    pub(crate) fn meta(&mut self, path: &str) -> Option<FileMeta> {
        match self.entry(path) {
            Entry::File(meta) => Some(meta),
            Entry::Unstatted => self.stat_now(path),
            Entry::Absent => None,
        }
    }

    /// Whether a file is at `path`, by its folder's listing: no stat.
    pub(crate) fn exists(&mut self, path: &str) -> bool {
        !matches!(self.entry(path), Entry::Absent)
    }

    /// What is known of `path` without listing or stat'ing anything, for
    /// checks that share the scan between threads: `None` when its folder
    /// is not listed yet.
    pub(crate) fn peek(&self, path: &str) -> Option<Entry> {
        let (folder, name) = split(path);
        Some(self.listings.get(folder)?.entry(name))
    }

    fn entry(&mut self, path: &str) -> Entry {
        let (folder, name) = split(path);
        // one lookup for the folder listed already, as most are
        match self.listings.get(folder) {
            Some(listing) => listing.entry(name),
            None => self.listing(folder).entry(name),
        }
    }

    fn stat_now(&mut self, path: &str) -> Option<FileMeta> {
        let meta = FileMeta::of(&self.base.join(path));
        let (folder, name) = split(path);
        if let Some(listing) = self.listings.get_mut(folder) {
            listing.unstatted.remove(name);
            if let Some(meta) = meta {
                listing.files.insert(name.into(), meta);
            }
        }
        meta
    }

    fn is_lazy(&self, folder: &str) -> bool {
        self.lazy.iter().any(|lazy| inside(folder, lazy))
    }

    /// Every file `pattern` binds, folder by folder in name order, files in
    /// no order: only the folders its segments can reach are listed, and a
    /// literal segment costs no listing of the folder above it.
    pub(crate) fn sources(&mut self, pattern: &Pattern) -> Vec<Found> {
        let Some((files, folders)) = pattern.segments().split_last() else {
            return Vec::new();
        };
        let mut branches = vec![(pattern.root.clone(), Bindings::new())];
        for segment in folders {
            // folders that a literal segment passes through are not listed
            if segment.literal().is_none() {
                self.prefetch_branches(&branches);
            }
            let mut next = Vec::new();
            for (folder, bindings) in branches {
                if let Some(literal) = segment.literal() {
                    next.push((join(&folder, literal), bindings));
                } else {
                    for name in &self.listing(&folder).folders {
                        if let Some(bound) = segment.bound(name, &bindings) {
                            next.push((join(&folder, name), bound));
                        }
                    }
                }
            }
            branches = next;
        }
        self.prefetch_branches(&branches);
        bind_files(&self.listings, &branches, files)
    }

    fn prefetch_branches(&mut self, branches: &[(String, Bindings)]) {
        let folders: Vec<String> = branches.iter().map(|(folder, _)| folder.clone()).collect();
        self.prefetch(&folders);
    }

    /// The folders `pattern` can find files in or below, its root first:
    /// the root and every folder its folder segments bind, as `sources`
    /// lists them. What a watch subscribes to.
    pub(crate) fn reach(&mut self, pattern: &Pattern) -> Vec<String> {
        let segments = pattern.segments();
        let mut reached = vec![pattern.root.clone()];
        let mut branches = vec![(pattern.root.clone(), Bindings::new())];
        for segment in &segments[..segments.len().saturating_sub(1)] {
            let mut next = Vec::new();
            for (folder, bindings) in branches {
                for name in &self.listing(&folder).folders {
                    let mut bound = bindings.clone();
                    if segment.bind(name, &mut bound) {
                        next.push((join(&folder, name), bound));
                    }
                }
            }
            reached.extend(next.iter().map(|(folder, _)| folder.clone()));
            branches = next;
        }
        reached
    }

    /// Notes a file the host just put at `path`, so that later lookups in
    /// this pass see it without listing its folder again.
    pub(crate) fn record_file(&mut self, path: &str, meta: FileMeta) {
        if let Some(root) = self
            .listed_remote
            .iter()
            .find(|root| inside(path, root))
            .cloned()
        {
            // a new object's folders are known from now on: the bucket
            // folder above it is not listed again in this pass
            let (folder, name) = split(path);
            self.add_folders(&root, folder);
            self.listings
                .entry(folder.to_owned())
                .or_default()
                .files
                .insert(name.into(), meta);
            return;
        }
        let (folder, name) = split(path);
        if let Some(listing) = self.listings.get_mut(folder) {
            listing.unstatted.remove(name);
            listing.files.insert(name.into(), meta);
        }
        let mut child = folder;
        while !child.is_empty() {
            let (parent, name) = split(child);
            if let Some(listing) = self.listings.get_mut(parent) {
                listing.folders.insert(name.to_owned());
            }
            child = parent;
        }
    }
}

/// Whether `path` is `folder` or below it.
/// The files in the folders of `branches` that `segment` binds, after
/// each folder's bindings; the folders are listed already. Shared between
/// the CPUs when there are many files: a pass binds every source file.
fn bind_files(
    listings: &HashMap<String, Listing>,
    branches: &[(String, Bindings)],
    segment: &Segment,
) -> Vec<Found> {
    let listing = |folder: &str| listings.get(folder);
    let files = branches
        .iter()
        .filter_map(|(folder, _)| listing(folder))
        .map(|listed| listed.files.len())
        .sum();
    crate::threads::share(branches, files, |part| {
        let mut found = Vec::new();
        for (folder, bindings) in part {
            let Some(listed) = listing(folder) else {
                continue;
            };
            for name in listed.files.keys() {
                if let Some(bound) = segment.bound(name, bindings) {
                    found.push(Found {
                        path: join(folder, name),
                        bindings: bound,
                    });
                }
            }
        }
        found
    })
}

pub(crate) fn inside(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        return name.to_owned();
    }
    // called for every file of a pass: no formatting machinery
    let mut path = String::with_capacity(folder.len() + 1 + name.len());
    path.push_str(folder);
    path.push('/');
    path.push_str(name);
    path
}

pub(crate) fn split(path: &str) -> (&str, &str) {
    // memchr's search: a pass splits two paths per item, and the standard
    // library's reverse search goes byte by byte
    match memchr::memrchr(b'/', path.as_bytes()) {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => ("", path),
    }
}

/// The visible files and folders of `folder`; a folder that cannot be read
/// lists as empty (it does not exist yet, mostly).
fn list(base: &Path, folder: &str, lazy: bool) -> Listing {
    let mut listing = Listing::default();
    let Ok(entries) = std::fs::read_dir(base.join(folder)) else {
        return listing;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || (folder.is_empty() && name == crate::config::FILE_NAME) {
            continue;
        }
        match kind(&entry, lazy) {
            Some(Kind::File(meta)) => {
                listing.files.insert(name.into_boxed_str(), meta);
            }
            Some(Kind::Unstatted) => {
                listing.unstatted.insert(name.into_boxed_str());
            }
            Some(Kind::Folder) => {
                listing.folders.insert(name);
            }
            None => {}
        }
    }
    listing
}

enum Kind {
    File(FileMeta),
    /// A plain file, in a folder listed lazily.
    Unstatted,
    Folder,
}

/// The kind comes with the listing: folders cost no stat; a symbolic link
/// is followed.
fn kind(entry: &DirEntry, lazy: bool) -> Option<Kind> {
    let kind = entry.file_type().ok()?;
    if kind.is_dir() {
        return Some(Kind::Folder);
    }
    if kind.is_symlink() {
        let meta = std::fs::metadata(entry.path()).ok()?;
        if meta.is_dir() {
            return Some(Kind::Folder);
        }
        return FileMeta::from_metadata(&meta).map(Kind::File);
    }
    if !kind.is_file() {
        return None;
    }
    if lazy {
        return Some(Kind::Unstatted);
    }
    FileMeta::from_metadata(&entry.metadata().ok()?).map(Kind::File)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, rel).expect("write");
    }

    #[test]
    fn lists_only_the_folders_a_pattern_can_reach_and_skips_hidden_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        for rel in [
            "landing/2026/11/30/23/a.csv",
            "landing/2026/11/30/23/.partial.csv",
            "landing/2026/11/.hidden/23/b.csv",
            "landing/2026/12/01/00/c.csv",
            "landing/2026/12/01/00/c.txt",
            "landing/other/x/y/z.csv",
            "flow.yaml",
        ] {
            touch(dir.path(), rel);
        }
        let pattern = Pattern::parse("landing/2026/{mm}/{dd}/{HH}/{name}.csv").expect("valid");
        let mut scan = Scan::new(dir.path());
        let found: Vec<String> = scan
            .sources(&pattern)
            .into_iter()
            .map(|found| found.path)
            .collect();
        assert_eq!(
            found,
            ["landing/2026/11/30/23/a.csv", "landing/2026/12/01/00/c.csv"]
        );
        // 2026, 11, 12, 11/30, 12/01, 11/30/23, 12/01/00: never landing/ nor other/
        assert_eq!(scan.folders_listed(), 7);
        let root = Pattern::parse("{name}.yaml").expect("valid");
        assert!(
            scan.sources(&root).is_empty(),
            "flow.yaml is never an input"
        );
    }

    #[test]
    fn a_lazily_listed_folder_stats_a_file_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        for rel in ["out/a.csv", "out/d1/b.csv", "out/gone.csv", "in/c.csv"] {
            touch(dir.path(), rel);
        }
        let mut scan = Scan::new(dir.path()).stat_lazily(vec!["out".to_owned()]);
        assert!(scan.exists("out/a.csv") && scan.exists("out/gone.csv"));
        assert!(!scan.exists("out/none.csv"));
        std::fs::write(dir.path().join("out/a.csv"), "longer than before").expect("write");
        std::fs::remove_file(dir.path().join("out/gone.csv")).expect("remove");
        let size = |scan: &mut Scan, path| scan.meta(path).map(|meta| meta.size);
        assert_eq!(
            size(&mut scan, "out/a.csv"),
            Some(18),
            "the size when asked"
        );
        assert_eq!(
            size(&mut scan, "out/d1/b.csv"),
            Some(12),
            "below the folder too"
        );
        assert_eq!(size(&mut scan, "out/gone.csv"), None);
        assert!(!scan.exists("out/gone.csv"), "a stat found it gone");
        std::fs::write(dir.path().join("in/c.csv"), "longer").expect("write");
        assert_eq!(size(&mut scan, "in/c.csv"), Some(6));
        std::fs::write(dir.path().join("in/c.csv"), "longer still").expect("write");
        assert_eq!(
            size(&mut scan, "in/c.csv"),
            Some(6),
            "other folders are stat'ed as listed"
        );
    }

    #[test]
    fn a_recorded_file_is_seen_without_listing_its_parent_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut scan = Scan::new(dir.path());
        let pattern = Pattern::parse("out/{day}/{name}.csv").expect("valid");
        assert!(scan.sources(&pattern).is_empty());
        touch(dir.path(), "out/d1/a.csv");
        assert!(
            scan.sources(&pattern).is_empty(),
            "`out` is listed once a pass"
        );
        let meta = FileMeta::of(&dir.path().join("out/d1/a.csv")).expect("a file");
        scan.record_file("out/d1/a.csv", meta);
        let found = scan.sources(&pattern);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "out/d1/a.csv");
        assert_eq!(scan.meta("out/d1/a.csv"), Some(meta));
    }

    #[test]
    fn a_carried_scan_lists_nothing_again_but_takes_in_what_events_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), "in/d1/a.csv");
        let pattern = Pattern::parse("in/{day}/{name}.csv").expect("valid");
        let mut scan = Scan::new(dir.path());
        assert_eq!(scan.sources(&pattern).len(), 1);
        let promoted = FileMeta::of(&dir.path().join("in/d1/a.csv")).expect("a file");
        let mut scan = scan.carried_over();
        assert!(
            !scan.refresh_file("in/d1/a.csv"),
            "a file seen as it is now is no news"
        );
        touch(dir.path(), "in/d1/b.csv");
        assert!(scan.refresh_file("in/d1/b.csv"));
        assert_eq!(scan.sources(&pattern).len(), 2);
        assert_eq!(scan.folders_listed(), 0, "no folder listed again");
        assert_eq!(scan.meta("in/d1/a.csv"), Some(promoted));
        touch(dir.path(), "in/d2/c.csv");
        scan.forget("in/d2");
        assert_eq!(scan.sources(&pattern).len(), 3, "a new folder is listed");
        assert_eq!(scan.folders_listed(), 2, "`in` and `in/d2`, nothing else");
    }
}
