//! What `run` would do now: bind each job's wildcards to the files present,
//! then decide per item whether it runs, waits or is done, from the scan and
//! the recorded state. [`plan_job`] and [`plan_all`] are pure; only
//! [`Scan::read`] touches the disk, and only for names, sizes and mtimes: the
//! host never opens a data file.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::DirEntry;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Job};
use crate::pattern::{Bound, Pattern};
use crate::state::{ItemRecord, Outcome};

/// Size and modification time: how the host tells a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
}

impl FileMeta {
    pub(crate) fn of(path: &Path) -> Option<Self> {
        Self::from_metadata(&std::fs::metadata(path).ok()?)
    }

    /// A listed file's meta: one `fstatat` relative to the open folder, with
    /// no path to build and walk; a symbolic link is followed, as by [`of`].
    ///
    /// [`of`]: Self::of
    fn of_entry(entry: &DirEntry) -> Option<Self> {
        let kind = entry.file_type().ok()?;
        if kind.is_symlink() {
            return Self::of(&entry.path());
        }
        // the kind comes with the listing: folders cost no stat at all
        if !kind.is_file() {
            return None;
        }
        Self::from_metadata(&entry.metadata().ok()?)
    }

    fn from_metadata(meta: &std::fs::Metadata) -> Option<Self> {
        meta.is_file().then(|| Self {
            size: meta.len(),
            mtime_ns: meta.modified().map_or(0, nanos_since_epoch),
        })
    }
}

pub(crate) fn nanos_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    })
}

/// The files of some folders (relative to the flow folder), by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    folders: HashMap<String, BTreeMap<String, FileMeta>>,
}

impl Scan {
    /// Lists the folders `jobs` read and write. Names starting with `.` are
    /// never items: that is where staging and editors' temporary files live.
    pub(crate) fn read(config: &Config, jobs: &[&Job]) -> Self {
        let mut scan = Self::default();
        for job in jobs {
            scan.read_job(config, job);
        }
        scan
    }

    /// Lists the folders of `job` not listed yet: each folder once per pass,
    /// however many jobs read it.
    pub(crate) fn read_job(&mut self, config: &Config, job: &Job) {
        for folder in job_folders(job) {
            if !self.folders.contains_key(folder) {
                self.folders
                    .insert(folder.to_owned(), list_folder(config, folder));
            }
        }
    }

    /// Lists the folders of every job, as [`read_job`] for each would, with
    /// up to one thread per CPU: a listing is mostly one `fstatat` per file,
    /// time spent in the kernel that folders on different CPUs share.
    ///
    /// [`read_job`]: Self::read_job
    pub(crate) fn read_parallel(config: &Config, jobs: &[Job]) -> Self {
        let mut folders: Vec<&str> = Vec::new();
        for folder in jobs.iter().flat_map(job_folders) {
            if !folders.contains(&folder) {
                folders.push(folder);
            }
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(folders.len());
        let next = AtomicUsize::new(0);
        let listed = Mutex::new(HashMap::with_capacity(folders.len()));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(folder) = folders.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let files = list_folder(config, folder);
                        listed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert((*folder).to_owned(), files);
                    }
                });
            }
        });
        Self {
            folders: listed
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Drops a folder's listing, so that the next [`read_job`] lists it again
    /// (after a job wrote into it).
    ///
    /// [`read_job`]: Self::read_job
    pub(crate) fn forget(&mut self, folder: &str) {
        self.folders.remove(folder);
    }

    pub(crate) fn insert(&mut self, path: &str, meta: FileMeta) {
        let (folder, name) = split(path);
        self.folders
            .entry(folder.to_owned())
            .or_default()
            .insert(name.to_owned(), meta);
    }

    /// The files of one folder, by name; empty when it was not listed.
    fn folder(&self, folder: &str) -> &BTreeMap<String, FileMeta> {
        static EMPTY: BTreeMap<String, FileMeta> = BTreeMap::new();
        self.folders.get(folder).unwrap_or(&EMPTY)
    }
}

/// The folders a job reads and writes: source, extra inputs, target.
fn job_folders(job: &Job) -> impl Iterator<Item = &str> {
    std::iter::once(&job.source)
        .chain(job.inputs.iter().map(|(_, pattern)| pattern))
        .chain(std::iter::once(&job.target))
        .map(|pattern| pattern.folder.as_str())
}

/// The files of one folder of the flow (relative to the flow folder).
fn list_folder(config: &Config, folder: &str) -> BTreeMap<String, FileMeta> {
    let mut files = list(&config.dir.path.join(folder));
    if folder.is_empty() {
        // a job reading the flow folder itself must not take its configuration
        files.remove(crate::config::FILE_NAME);
    }
    files
}

fn list(folder: &Path) -> BTreeMap<String, FileMeta> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return BTreeMap::new();
    };
    let mut files: Vec<(String, FileMeta)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if name.starts_with('.') {
                return None;
            }
            Some((name, FileMeta::of_entry(&entry)?))
        })
        .collect();
    // names are unique, so an unstable sort gives the same order, faster;
    // the map then builds from sorted input without sorting again
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    files.into_iter().collect()
}

fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// One binding of a job's wildcards: its files, relative to the flow folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The source file name: unique within the job, and what a user types.
    pub(crate) id: String,
    /// `("input", source)` first, then the extra inputs by name.
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    New,
    InputChanged,
    TargetMissing,
    Retry,
    Rearmed,
    Interrupted,
}

impl Reason {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::New => "not run yet",
            Self::InputChanged => "an input changed",
            Self::TargetMissing => "its target is missing",
            Self::Retry => "retrying after an error",
            Self::Rearmed => "re-armed by `flow retry`",
            Self::Interrupted => "its last run was interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Run {
        attempt: u32,
        reason: Reason,
    },
    UpToDate,
    /// These inputs changed less than `settle` ago.
    Settling(Vec<String>),
    /// This extra input does not exist (yet).
    MissingInput(String),
    /// Ended in error `attempts` times with these inputs.
    GaveUp {
        attempts: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub(crate) item: Item,
    pub(crate) decision: Decision,
    /// The inputs' names, sizes and mtimes, as recorded with a run.
    pub(crate) fingerprint: String,
}

/// The recorded state a plan is made against.
pub(crate) struct Known<'a> {
    pub(crate) records: &'a HashMap<(String, String), ItemRecord>,
    /// Targets this host promoted, by path: settled by construction, since
    /// they appeared whole by rename. Built on first use: only an item that
    /// is not up to date asks, so a pass with nothing to do never builds it.
    produced: OnceCell<HashMap<String, FileMeta>>,
}

impl<'a> Known<'a> {
    pub(crate) fn new(records: &'a HashMap<(String, String), ItemRecord>) -> Self {
        Self {
            records,
            produced: OnceCell::new(),
        }
    }

    fn with_produced(
        records: &'a HashMap<(String, String), ItemRecord>,
        produced: HashMap<String, FileMeta>,
    ) -> Self {
        Self {
            records,
            produced: OnceCell::from(produced),
        }
    }

    pub(crate) fn produced(&self) -> &HashMap<String, FileMeta> {
        self.produced.get_or_init(|| {
            self.records
                .values()
                .filter_map(|record| {
                    let (size, mtime_ns) = record.produced?;
                    Some((record.target.clone(), FileMeta { size, mtime_ns }))
                })
                .collect()
        })
    }
}

/// Items of one job and what to do with each.
pub(crate) fn plan_job(
    job: &Job,
    scan: &Scan,
    known: &Known<'_>,
    settle: Duration,
    now_ns: i64,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    plan_items(job, scan, known, settle, now_ns, true, |entry| {
        planned.push(entry)
    });
    planned
}

/// [`plan_job`] one item at a time, in name order, without the items that
/// are up to date: a run keeps only the items to run, and those up to date
/// (in a pass with nothing to do, every item) cost no allocation.
pub(crate) fn plan_pending(
    job: &Job,
    scan: &Scan,
    known: &Known<'_>,
    settle: Duration,
    now_ns: i64,
    each: impl FnMut(Planned),
) {
    plan_items(job, scan, known, settle, now_ns, false, each);
}

fn plan_items(
    job: &Job,
    scan: &Scan,
    known: &Known<'_>,
    settle: Duration,
    now_ns: i64,
    up_to_date_too: bool,
    mut each: impl FnMut(Planned),
) {
    let settle_ns = i64::try_from(settle.as_nanos()).unwrap_or(i64::MAX);
    // each folder is found once per job, not once per path: a lookup per
    // item is then by file name only
    let extra: Vec<&BTreeMap<String, FileMeta>> = job
        .inputs
        .iter()
        .map(|(_, pattern)| scan.folder(&pattern.folder))
        .collect();
    let targets = scan.folder(&job.target.folder);
    let roles: Vec<&str> = std::iter::once("input")
        .chain(job.inputs.iter().map(|(role, _)| role.as_str()))
        .collect();
    // buffers reused from item to item; an item is copied out of them only
    // when it is handed on
    let mut paths = vec![String::new(); roles.len()];
    let mut metas: Vec<Option<FileMeta>> = vec![None; roles.len()];
    let mut target = String::new();
    let mut fingerprint = String::new();
    // one key for every lookup: its item part is overwritten per item
    // instead of cloning the job's and the item's names each time
    let mut key = (job.name.clone(), String::new());
    let mut bound = Bound::new();
    for (name, meta) in scan.folder(&job.source.folder) {
        if !job.source.file.matches_borrowed(name, &mut bound) {
            continue;
        }
        job.source.render_bound(&bound, &mut paths[0]);
        metas[0] = Some(*meta);
        for (index, ((_, pattern), files)) in job.inputs.iter().zip(&extra).enumerate() {
            let path = &mut paths[index + 1];
            pattern.render_bound(&bound, path);
            metas[index + 1] = files.get(file_part(pattern, path)).copied();
        }
        job.target.render_bound(&bound, &mut target);
        let target_meta = targets.get(file_part(&job.target, &target)).copied();
        write_fingerprint(&mut fingerprint, &roles, &paths, &metas);
        key.1.clear();
        key.1.push_str(name);
        let record = known.records.get(&key);
        // the first test of `decide`, made before anything is copied
        let up_to_date = target_meta.is_some()
            && metas.iter().all(Option::is_some)
            && record.is_some_and(|record| record.inputs == fingerprint);
        if up_to_date && !up_to_date_too {
            continue;
        }
        let item = Item {
            id: name.clone(),
            target: target.clone(),
            inputs: roles
                .iter()
                .zip(&paths)
                .map(|(role, path)| ((*role).to_owned(), path.clone()))
                .collect(),
        };
        let decision = decide(
            job,
            &item,
            &metas,
            target_meta,
            &fingerprint,
            record,
            known,
            settle_ns,
            now_ns,
        );
        each(Planned {
            item,
            decision,
            fingerprint: fingerprint.clone(),
        });
    }
}

/// The file name in a path rendered from `pattern`: what follows its folder.
fn file_part<'p>(pattern: &Pattern, path: &'p str) -> &'p str {
    if pattern.folder.is_empty() {
        path
    } else {
        path.get(pattern.folder.len() + 1..).unwrap_or(path)
    }
}

/// `role=path:size:mtime` per input, joined by `;`, into `out`: what a run
/// records and a later plan compares.
fn write_fingerprint(
    out: &mut String,
    roles: &[&str],
    paths: &[String],
    metas: &[Option<FileMeta>],
) {
    out.clear();
    for (index, ((role, path), meta)) in roles.iter().zip(paths).zip(metas).enumerate() {
        let meta = meta.unwrap_or(FileMeta {
            size: 0,
            mtime_ns: 0,
        });
        if index > 0 {
            out.push(';');
        }
        let _ = write!(out, "{role}={path}:{}:{}", meta.size, meta.mtime_ns);
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    job: &Job,
    item: &Item,
    metas: &[Option<FileMeta>],
    target: Option<FileMeta>,
    fingerprint: &str,
    record: Option<&ItemRecord>,
    known: &Known<'_>,
    settle_ns: i64,
    now_ns: i64,
) -> Decision {
    if let Some(((_, path), _)) = item
        .inputs
        .iter()
        .zip(metas)
        .find(|(_, meta)| meta.is_none())
    {
        return Decision::MissingInput(path.clone());
    }
    let same_inputs = record.is_some_and(|record| record.inputs == fingerprint);
    if target.is_some() && same_inputs {
        return Decision::UpToDate;
    }
    let unsettled: Vec<String> = item
        .inputs
        .iter()
        .zip(metas)
        .filter_map(|((_, path), meta)| {
            let meta = (*meta)?;
            let ours = known.produced().get(path) == Some(&meta);
            let young = now_ns.saturating_sub(meta.mtime_ns) < settle_ns;
            (young && !ours).then(|| path.clone())
        })
        .collect();
    if !unsettled.is_empty() {
        return Decision::Settling(unsettled);
    }
    let newest_input = metas
        .iter()
        .flatten()
        .map(|meta| meta.mtime_ns)
        .max()
        .unwrap_or(0);
    let first = |reason| Decision::Run { attempt: 1, reason };
    match (target, record) {
        // a target made outside the host, or before the state existed: keep it
        // unless an input is newer
        (Some(target), None) if target.mtime_ns >= newest_input => Decision::UpToDate,
        (_, None) => first(Reason::New),
        (_, Some(_)) if !same_inputs => first(Reason::InputChanged),
        (Some(_), Some(_)) => Decision::UpToDate,
        (None, Some(record)) => match record.outcome {
            Outcome::Success => first(Reason::TargetMissing),
            _ if record.rearmed => first(Reason::Rearmed),
            Outcome::Interrupted | Outcome::Running => Decision::Run {
                attempt: record.attempts + 1,
                reason: Reason::Interrupted,
            },
            _ if record.attempts >= job.retries => Decision::GaveUp {
                attempts: record.attempts,
            },
            _ => Decision::Run {
                attempt: record.attempts + 1,
                reason: Reason::Retry,
            },
        },
    }
}

/// The plan of every job in run order, as `flow run` would unfold it: the
/// targets an upstream job is planned to write count as present downstream.
pub(crate) fn plan_all(
    config: &Config,
    scan: &Scan,
    known: &Known<'_>,
    now_ns: i64,
) -> Vec<(String, Vec<Planned>)> {
    let mut scan = scan.clone();
    let mut produced = known.produced().clone();
    let mut plans = Vec::new();
    for job in &config.jobs {
        let view = Known::with_produced(known.records, produced.clone());
        let planned = plan_job(job, &scan, &view, config.settle, now_ns);
        for entry in &planned {
            if matches!(entry.decision, Decision::Run { .. }) {
                let meta = FileMeta {
                    size: 0,
                    mtime_ns: now_ns,
                };
                scan.insert(&entry.item.target, meta);
                produced.insert(entry.item.target.clone(), meta);
            }
        }
        plans.push((job.name.clone(), planned));
    }
    plans
}

/// `flow plan`: the items that would run or wait, then a count.
pub(crate) fn render(plans: &[(String, Vec<Planned>)]) -> String {
    let mut out = String::new();
    let (mut runs, mut waits, mut done, mut errors) = (0, 0, 0, 0);
    for (job, planned) in plans {
        for entry in planned {
            let line = match &entry.decision {
                Decision::Run { attempt, reason } => {
                    runs += 1;
                    let sources: Vec<&str> = entry
                        .item
                        .inputs
                        .iter()
                        .map(|(_, path)| path.as_str())
                        .collect();
                    format!(
                        "run   {job} {}: {} (attempt {attempt})\n      {} -> {}",
                        entry.item.id,
                        reason.describe(),
                        sources.join(" + "),
                        entry.item.target
                    )
                }
                Decision::Settling(paths) => {
                    waits += 1;
                    format!(
                        "wait  {job} {}: settling: {}",
                        entry.item.id,
                        paths.join(", ")
                    )
                }
                Decision::MissingInput(path) => {
                    waits += 1;
                    format!("wait  {job} {}: missing input {path}", entry.item.id)
                }
                Decision::GaveUp { attempts } => {
                    errors += 1;
                    format!(
                        "error {job} {}: failed {attempts} times; `flow retry {job} {}` re-arms it",
                        entry.item.id, entry.item.id
                    )
                }
                Decision::UpToDate => {
                    done += 1;
                    continue;
                }
            };
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(
        out,
        "{runs} to run, {waits} waiting, {errors} in error, {done} up to date"
    );
    out
}

#[cfg(test)]
mod tests;
