//! The one planner: every item of every job in one graph, and what each
//! does now: run, wait for an upstream job that writes one of its inputs
//! in this pass, wait to settle or for a missing input, stay in error, or
//! nothing. `run`, `plan`, `status` and `serve` all read this model.
//!
//! Pure but for the [`Scan`] it reads the folders through; it never runs
//! anything and never writes.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::hash::BuildHasher as _;
use std::sync::OnceLock;

use foldhash::HashMap;
use hashbrown::hash_table::{Entry, HashTable};

use crate::config::{Config, Job};
use crate::pattern::{Bindings, Pattern};
use crate::scan::{Entry as Listed, FileMeta, Scan, inside};
use crate::state::{ItemRecord, Outcome};
use crate::storage::is_remote;

/// One binding of a job's wildcards: its files, relative to the flow folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The job's index in `config.jobs` (run order).
    pub(crate) job: usize,
    /// The source path below the source pattern's root: unique within the
    /// job, and what a user types.
    pub(crate) id: String,
    /// `("input", source)` first, then the extra inputs by name.
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) target: String,
}

impl Item {
    /// Each input's role and path, borrowed.
    fn input_paths(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inputs
            .iter()
            .map(|(role, path)| (role.as_str(), path.as_str()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    New,
    InputChanged,
    TargetMissing,
    Retry,
    Rearmed,
    Interrupted,
    Rerun,
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
            Self::Rerun => "asked for by `flow rerun`",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Run {
        attempt: u32,
        reason: Reason,
    },
    /// These jobs write these inputs in this pass; it runs after them.
    Upstream {
        jobs: Vec<String>,
        paths: Vec<String>,
    },
    UpToDate,
    /// These inputs changed less than `settle` ago.
    Settling(Vec<String>),
    /// This input does not exist, and no job writes it in this pass.
    MissingInput(String),
    /// Ended in error `attempts` times with these inputs.
    GaveUp {
        attempts: u32,
    },
    /// A bucket it reads or writes could not be listed in this pass: why.
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub(crate) item: Item,
    pub(crate) decision: Decision,
    /// Size and mtime of each input when planned, `None` where missing.
    metas: Vec<Option<FileMeta>>,
    /// The mtime of the newest input: older inputs run first.
    pub(crate) newest_input_ns: i64,
}

impl Planned {
    /// The inputs' names, sizes and mtimes as a run records them; made
    /// only for the items that run, since most of a pass is up to date.
    pub(crate) fn fingerprint(&self) -> String {
        let mut out = String::new();
        let _ = write_fingerprint(&mut out, self.item.input_paths(), &self.metas);
        out
    }
}

/// The recorded state a plan is made against.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// The state's rows, kept where they were read into.
    records: Vec<ItemRecord>,
    /// Indexes into `records` by job and item, hashed from the record's
    /// own names: no key is copied, and one is looked up by `&str`.
    index: HashTable<usize>,
    hasher: foldhash::fast::RandomState,
    /// Targets this host promoted, by path: settled by construction, since
    /// they appeared whole by rename. Made on first use: a pass with
    /// nothing to do never asks.
    produced: OnceLock<HashMap<String, FileMeta>>,
}

impl Known {
    /// `records` are the state's rows, unique by job and item (its primary
    /// key), so each goes in without a probe for an equal one.
    pub(crate) fn new(records: Vec<ItemRecord>) -> Self {
        let hasher = foldhash::fast::RandomState::default();
        let key = |index: &usize| record_hash(&hasher, &records[*index]);
        let mut table = HashTable::with_capacity(records.len());
        for index in 0..records.len() {
            table.insert_unique(key(&index), index, key);
        }
        Self {
            records,
            index: table,
            hasher,
            produced: OnceLock::new(),
        }
    }

    fn produced(&self, path: &str) -> Option<FileMeta> {
        let produced = self.produced.get_or_init(|| {
            self.records()
                .filter_map(|record| Some((record.target.clone(), produced_meta(record)?)))
                .collect()
        });
        produced.get(path).copied()
    }

    pub(crate) fn record(&self, job: &str, item: &str) -> Option<&ItemRecord> {
        let hash = key_hash(&self.hasher, job, item);
        let records = &self.records;
        let found = self.index.find(hash, |index| {
            let record = &records[*index];
            *record.job == *job && record.item == item
        });
        found.map(|index| &records[*index])
    }

    pub(crate) fn records(&self) -> impl Iterator<Item = &ItemRecord> {
        self.records.iter()
    }

    /// The ids of the items recorded for `job`.
    pub(crate) fn items_of<'a>(&'a self, job: &'a str) -> impl Iterator<Item = &'a str> {
        let records = self
            .records
            .iter()
            .filter(move |record| *record.job == *job);
        records.map(|record| record.item.as_str())
    }

    /// Takes in what a run just recorded.
    pub(crate) fn update(&mut self, record: ItemRecord) {
        if let (Some(produced), Some(meta)) = (self.produced.get_mut(), produced_meta(&record)) {
            produced.insert(record.target.clone(), meta);
        }
        let Self {
            records,
            index,
            hasher,
            ..
        } = self;
        let entry = index.entry(
            record_hash(hasher, &record),
            |known| records[*known].job == record.job && records[*known].item == record.item,
            |known| record_hash(hasher, &records[*known]),
        );
        match entry {
            Entry::Occupied(known) => records[*known.get()] = record,
            Entry::Vacant(vacant) => {
                vacant.insert(records.len());
                records.push(record);
            }
        }
    }
}

/// The hash a record is found by: of its job and item, as `Known::record`
/// is asked for them.
fn key_hash(hasher: &foldhash::fast::RandomState, job: &str, item: &str) -> u64 {
    hasher.hash_one((job, item))
}

fn record_hash(hasher: &foldhash::fast::RandomState, record: &ItemRecord) -> u64 {
    key_hash(hasher, &record.job, &record.item)
}

fn produced_meta(record: &ItemRecord) -> Option<FileMeta> {
    let (size, mtime_ns) = record.produced?;
    Some(FileMeta {
        size,
        mtime_ns,
        etag: None,
    })
}

/// Targets that items planned to run will write in this pass, with the
/// index of the job writing each.
pub(crate) type Pending = HashMap<String, usize>;

/// The items of every job, in run order then item id, each decided.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) items: Vec<Planned>,
    /// What the items to run and those waiting for them will write.
    pub(crate) pending: Pending,
    /// How many items were decided, kept or not: what the plan cost.
    pub(crate) decided: usize,
}

/// Which of the decided items a plan keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Every item: what status shows.
    Every,
    /// All but the items up to date: what a pass acts on, most often a
    /// small part of a large flow.
    Actionable,
}

/// Which items a plan decides.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'t> {
    /// Every item of every job.
    Everything,
    /// What a watch saw change since its last pass, and what that pass
    /// left open; every other item is as that pass left it.
    Touched(&'t Touched),
}

/// What changed since a watch's last pass, by path relative to the flow
/// folder, and the items that pass did not leave up to date.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    /// Files that appeared, changed or vanished.
    pub(crate) files: foldhash::HashSet<String>,
    /// Folders that appeared, vanished or were replaced.
    pub(crate) folders: Vec<String>,
    /// Items by job index and id: settling, waiting, failed, or just run.
    pub(crate) open: HashSet<(usize, String)>,
}

impl Touched {
    /// Whether `job` is planned whole: it reads or writes in a bucket,
    /// which sends no events; a folder it reads or writes in came or went;
    /// or a file changed where an extra input or a target of it can be,
    /// which a source path alone does not name.
    fn reaches_whole(&self, job: &Job) -> bool {
        let roots: Vec<&str> = std::iter::once(&job.source)
            .chain(job.inputs.iter().map(|(_, pattern)| pattern))
            .chain(std::iter::once(&job.target))
            .map(|pattern| pattern.root.as_str())
            .collect();
        if roots.iter().any(|root| crate::storage::is_remote(root)) {
            return true;
        }
        let folder_touched = self.folders.iter().any(|folder| {
            roots
                .iter()
                .any(|root| crate::scan::inside(folder, root) || crate::scan::inside(root, folder))
        });
        folder_touched
            || self.files.iter().any(|file| {
                roots[1..]
                    .iter()
                    .any(|root| crate::scan::inside(file, root))
            })
    }

    /// The ids, with bindings, of `job`'s items this names: sources that
    /// changed, and the items left open, while their source is there.
    fn bound(&self, index: usize, job: &Job, scan: &mut Scan) -> Vec<(String, Bindings)> {
        let open = self
            .open
            .iter()
            .filter(|(job_index, _)| *job_index == index);
        let open = open.map(|(_, id)| source_path(job, id));
        let mut bound = Vec::new();
        for path in self.files.iter().cloned().chain(open) {
            if let (Some(bindings), Some(id)) =
                (job.source.match_path(&path), job.source.below_root(&path))
                && scan.exists(&path)
            {
                bound.push((id.to_owned(), bindings));
            }
        }
        dedup(&mut bound);
        bound
    }
}

/// Items in `skip` (already run in this pass) are decided like any other,
/// but nothing waits for them: they do not run again in this pass.
pub(crate) fn plan(
    config: &Config,
    scan: &mut Scan,
    known: &Known,
    now_ns: i64,
    skip: &HashSet<(usize, String)>,
    scope: Scope<'_>,
    keep: Keep,
) -> Plan {
    let mut plan = Plan::default();
    if matches!(scope, Scope::Everything) {
        scan.prefetch(&roots(config));
    }
    for (index, job) in config.jobs.iter().enumerate() {
        let bound = match scope {
            Scope::Touched(touched) if !touched.reaches_whole(job) => {
                touched.bound(index, job, scan)
            }
            _ => present(job, scan, known),
        };
        let mut bound = with_pending(job, bound, &plan.pending);
        let mut paths = Paths::new(job);
        scan.prefetch(&paths.folders(&bound));
        if keep == Keep::Actionable {
            let ahead = Ahead {
                job,
                scan,
                known,
                pending: &plan.pending,
            };
            let before = bound.len();
            bound = ahead.not_up_to_date(bound);
            plan.decided += before - bound.len();
        }
        let first = plan.items.len();
        for (id, bindings) in bound {
            paths.render(&bindings);
            if !paths.stay_inside() {
                tracing::warn!(job = %job.name, item = %id, "skipped: a wildcard value would leave the flow's folders");
                continue;
            }
            plan.decided += 1;
            let item = paths.item(index, id);
            let planned = decide_item(config, item, scan, known, &plan.pending, now_ns);
            plan.take(planned, skip, keep);
        }
        // sorted once decided: most of a pass is up to date, and dropped
        plan.items[first..].sort_unstable_by(|a, b| a.item.id.cmp(&b.item.id));
    }
    plan
}

impl Plan {
    /// Takes in one decided item: what it will write is pending for the
    /// jobs after it, unless it ran in this pass already.
    fn take(&mut self, planned: Planned, skip: &HashSet<(usize, String)>, keep: Keep) {
        let will_write = matches!(
            planned.decision,
            Decision::Run { .. } | Decision::Upstream { .. }
        );
        let item = &planned.item;
        if will_write && !skip.contains(&(item.job, item.id.clone())) {
            self.pending.insert(item.target.clone(), item.job);
        }
        if keep == Keep::Every || planned.decision != Decision::UpToDate {
            self.items.push(planned);
        }
    }
}

/// What the up-to-date check of one job's items reads, and only reads:
/// shared by the threads that check a large job's items side by side.
struct Ahead<'a> {
    job: &'a Job,
    scan: &'a Scan,
    known: &'a Known,
    pending: &'a Pending,
}

impl Ahead<'_> {
    /// The items of `bound` that are not up to date, in their order: a
    /// pass with nothing to do is mostly this check, on every CPU when
    /// there are enough items to share.
    fn not_up_to_date(&self, bound: Vec<(String, Bindings)>) -> Vec<(String, Bindings)> {
        let up_to_date = crate::threads::share(&bound, bound.len(), |items| self.check_all(items));
        bound
            .into_iter()
            .zip(up_to_date)
            .filter_map(|(item, fresh)| (!fresh).then_some(item))
            .collect()
    }

    fn check_all(&self, items: &[(String, Bindings)]) -> Vec<bool> {
        let mut paths = Paths::new(self.job);
        items.iter().map(|item| paths.check(item, self)).collect()
    }
}

/// A file present, a target about to be written and an item left open can
/// be the same item, bound alike, since by the same pattern to one path.
fn dedup(bound: &mut Vec<(String, Bindings)>) {
    bound.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    bound.dedup_by(|later, first| later.0 == first.0);
}

/// The path of `job`'s source file for the item `id`.
fn source_path(job: &Job, id: &str) -> String {
    if job.source.root.is_empty() {
        id.to_owned()
    } else {
        format!("{}/{id}", job.source.root)
    }
}

/// Lists the roots and the folders the sources reach, before a plan asks
/// for them: what can go on while something else, such as reading the
/// state, does.
pub(crate) fn list_ahead(config: &Config, scan: &mut Scan) {
    scan.prefetch(&roots(config));
    for job in &config.jobs {
        let folders = scan.reach(&job.source);
        scan.prefetch(&folders);
    }
}

/// A scan of the flow's folders in which the targets no job reads are
/// listed without a stat per file: a plan asks only whether they are there.
pub(crate) fn new_scan(config: &Config) -> Scan {
    Scan::new(&config.dir.path).stat_lazily(unread_targets(config))
}

/// The local target roots that no source or input pattern reaches into,
/// or through on its way to its own root.
fn unread_targets(config: &Config) -> Vec<String> {
    let read: Vec<&str> = config
        .jobs
        .iter()
        .flat_map(|job| {
            std::iter::once(&job.source).chain(job.inputs.iter().map(|(_, input)| input))
        })
        .map(|pattern| pattern.root.as_str())
        .collect();
    let mut unread: Vec<String> = Vec::new();
    for job in &config.jobs {
        let root = &job.target.root;
        let reached = read
            .iter()
            .any(|read| inside(root, read) || inside(read, root));
        if !reached && !is_remote(root) && !unread.contains(root) {
            unread.push(root.clone());
        }
    }
    unread
}

/// The root folder of every pattern of the flow, each once: what every plan
/// lists first.
pub(crate) fn roots(config: &Config) -> Vec<String> {
    let mut roots: Vec<String> = Vec::new();
    for job in &config.jobs {
        let patterns = std::iter::once(&job.source)
            .chain(job.inputs.iter().map(|(_, pattern)| pattern))
            .chain(std::iter::once(&job.target));
        for pattern in patterns {
            if !roots.contains(&pattern.root) {
                roots.push(pattern.root.clone());
            }
        }
    }
    roots
}

/// Every source file of `job` present and, when the source's bucket could
/// not be listed, the items recorded: each once, in no order.
fn present(job: &Job, scan: &mut Scan, known: &Known) -> Vec<(String, Bindings)> {
    let mut bound: Vec<(String, Bindings)> = scan
        .sources(&job.source)
        .into_iter()
        .filter_map(|found| Some((id_of(job, found.path)?, found.bindings)))
        .collect();
    if scan.unreachable(&job.source.root).is_some() {
        for id in known.items_of(&job.name) {
            if let Some(bindings) = job.source.match_path(&source_path(job, id)) {
                bound.push((id.to_owned(), bindings));
            }
        }
    }
    bound
}

/// The item id of `job`'s source file at `path`, made of the path itself:
/// one allocation fewer per source file of a pass.
fn id_of(job: &Job, mut path: String) -> Option<String> {
    let root = path.len() - job.source.below_root(&path)?.len();
    path.drain(..root);
    Some(path)
}

/// The sources `bound` and every target an upstream job writes in this
/// pass that `job`'s source pattern matches.
fn with_pending(
    job: &Job,
    mut bound: Vec<(String, Bindings)>,
    pending: &Pending,
) -> Vec<(String, Bindings)> {
    let present = bound.len();
    for path in pending.keys() {
        if let (Some(bindings), Some(id)) =
            (job.source.match_path(path), job.source.below_root(path))
        {
            bound.push((id.to_owned(), bindings));
        }
    }
    if bound.len() > present {
        dedup(&mut bound);
    }
    bound
}

/// One job's input and target paths under one binding at a time, rendered
/// into buffers kept from item to item: most items of a pass are up to
/// date, and are found so on these, with nothing allocated for them.
struct Paths<'j> {
    job: &'j Job,
    /// The source's path first, then the extra inputs' in their order.
    inputs: Vec<String>,
    target: String,
    metas: Vec<Option<FileMeta>>,
}

impl<'j> Paths<'j> {
    fn new(job: &'j Job) -> Self {
        Self {
            job,
            inputs: vec![String::new(); 1 + job.inputs.len()],
            target: String::new(),
            metas: Vec::with_capacity(1 + job.inputs.len()),
        }
    }

    fn render(&mut self, bindings: &Bindings) {
        let patterns = std::iter::once(&self.job.source)
            .chain(self.job.inputs.iter().map(|(_, pattern)| pattern));
        for (path, pattern) in self.inputs.iter_mut().zip(patterns) {
            pattern.render_into(bindings, path);
        }
        self.job.target.render_into(bindings, &mut self.target);
    }

    /// The inputs' roles and paths, as the item will have them.
    fn input_paths(&self) -> impl Iterator<Item = (&str, &str)> {
        let roles =
            std::iter::once("input").chain(self.job.inputs.iter().map(|(role, _)| role.as_str()));
        roles.zip(self.inputs.iter().map(String::as_str))
    }

    fn every_path(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .chain(std::iter::once(&self.target))
            .map(String::as_str)
    }

    fn stay_inside(&self) -> bool {
        self.every_path().all(stays_inside)
    }

    /// The folders of every binding's extra inputs and target, each once:
    /// listed side by side before the items are decided one by one (the
    /// sources' folders were listed to bind them). A pattern whose files
    /// lie in its root has one folder whatever the binding; only the
    /// others are rendered for it.
    fn folders(&self, bound: &[(String, Bindings)]) -> Vec<String> {
        let patterns = (self.job.inputs.iter().map(|(_, pattern)| pattern))
            .chain(std::iter::once(&self.job.target));
        let (fixed, varying): (Vec<&Pattern>, Vec<&Pattern>) =
            patterns.partition(|pattern| pattern.segments().len() == 1);
        let mut folders: Vec<String> = Vec::new();
        for pattern in fixed {
            if !folders.contains(&pattern.root) {
                folders.push(pattern.root.clone());
            }
        }
        let mut seen: foldhash::HashSet<String> = folders.iter().cloned().collect();
        let varying = crate::threads::share(bound, bound.len(), |part| folders_of(&varying, part));
        for folder in varying {
            if seen.insert(folder.clone()) {
                folders.push(folder);
            }
        }
        folders
    }

    /// Whether the item `id`, as rendered, is up to date by the same rule
    /// as [`waiting`]'s: every input there and none about to be written,
    /// its target there, its inputs those of its recorded run, no rerun
    /// asked for, no bucket of it unreachable. It only reads the scan, so
    /// `false` also stands for "not listed or stat'ed yet", and leaves the
    /// question to [`decide_item`].
    fn up_to_date(&mut self, id: &str, scan: &Scan, known: &Known, pending: &Pending) -> bool {
        let Some(record) = known.record(&self.job.name, id) else {
            return false;
        };
        let blocked = record.rerun
            || self
                .inputs
                .iter()
                .any(|path| pending.contains_key(path.as_str()))
            || self
                .every_path()
                .any(|path| scan.unreachable(path).is_some());
        let target_there = matches!(
            scan.peek(&self.target),
            Some(Listed::File(_) | Listed::Unstatted)
        );
        if blocked || !target_there {
            return false;
        }
        self.metas.clear();
        for path in &self.inputs {
            match scan.peek(path) {
                Some(Listed::File(meta)) => self.metas.push(Some(meta)),
                _ => return false,
            }
        }
        fingerprint_is(&record.inputs, self.input_paths(), &self.metas)
    }

    /// Renders `bindings` and tells whether the item is up to date; an
    /// item whose paths would leave the flow's folders is not, and is left
    /// to the caller to skip with its warning.
    fn check(&mut self, (id, bindings): &(String, Bindings), ahead: &Ahead<'_>) -> bool {
        self.render(bindings);
        self.stay_inside() && self.up_to_date(id, ahead.scan, ahead.known, ahead.pending)
    }

    /// The item, owned, for a full decision.
    fn item(&self, job: usize, id: String) -> Item {
        let inputs = self.input_paths();
        Item {
            job,
            id,
            inputs: inputs
                .map(|(role, path)| (role.to_owned(), path.to_owned()))
                .collect(),
            target: self.target.clone(),
        }
    }
}

/// The folders `patterns` put the files of `bound` in, each once, in the
/// order they first come.
fn folders_of(patterns: &[&Pattern], bound: &[(String, Bindings)]) -> Vec<String> {
    let mut seen: foldhash::HashSet<String> = foldhash::HashSet::default();
    let mut folders = Vec::new();
    let mut folder = String::new();
    for (_, bindings) in bound {
        for pattern in patterns {
            pattern.folder_into(bindings, &mut folder);
            if !seen.contains(folder.as_str()) {
                seen.insert(folder.clone());
                folders.push(folder.clone());
            }
        }
    }
    folders
}

/// A value bound inside a segment (`p{x}` on `p..`) must not make a `..`.
/// Hidden names are never bound, so most paths have no part starting with
/// a dot and need no split.
fn stays_inside(path: &str) -> bool {
    let no_dot_part = !path.starts_with('.') && !path.contains("/.");
    no_dot_part || path.split('/').all(|part| part != ".." && part != ".")
}

/// Decides one item against the scan, the state and what is pending; the
/// scheduler calls it again for an item whose upstream run just ended.
pub(crate) fn decide_item(
    config: &Config,
    item: Item,
    scan: &mut Scan,
    known: &Known,
    pending: &Pending,
    now_ns: i64,
) -> Planned {
    let job = &config.jobs[item.job];
    let metas: Vec<Option<FileMeta>> = item
        .inputs
        .iter()
        .map(|(_, path)| scan.meta(path))
        .collect();
    let target = scan.meta(&item.target);
    let record = known.record(&job.name, &item.id);
    let facts = Facts {
        job,
        metas: &metas,
        target,
        same_inputs: record
            .is_some_and(|record| fingerprint_is(&record.inputs, item.input_paths(), &metas)),
        record,
    };
    let decision = unreachable(&item, scan)
        .or_else(|| waiting(&facts, &item, config, known, pending, now_ns))
        .unwrap_or_else(|| to_do(&facts));
    Planned {
        newest_input_ns: newest(&metas),
        item,
        decision,
        metas,
    }
}

/// What is known of one item when it is decided.
struct Facts<'a> {
    job: &'a Job,
    metas: &'a [Option<FileMeta>],
    target: Option<FileMeta>,
    /// The inputs are those of the recorded run.
    same_inputs: bool,
    record: Option<&'a ItemRecord>,
}

impl Facts<'_> {
    fn rerun(&self) -> bool {
        self.record.is_some_and(|record| record.rerun)
    }
}

/// The listing error of a bucket the item reads or writes, if one failed:
/// nothing is known of its objects in this pass.
fn unreachable(item: &Item, scan: &Scan) -> Option<Decision> {
    let error = item
        .inputs
        .iter()
        .map(|(_, path)| path)
        .chain(std::iter::once(&item.target))
        .find_map(|path| scan.unreachable(path))?;
    Some(Decision::Unreachable(error.to_string()))
}

/// Why the item cannot be decided on its inputs yet, if it cannot.
fn waiting(
    facts: &Facts<'_>,
    item: &Item,
    config: &Config,
    known: &Known,
    pending: &Pending,
    now_ns: i64,
) -> Option<Decision> {
    let inputs = item.inputs.iter().zip(facts.metas);
    let mut upstream: Vec<(String, usize)> = Vec::new();
    for ((_, path), meta) in inputs.clone() {
        match (pending.get(path), meta) {
            (Some(&writer), _) => upstream.push((path.clone(), writer)),
            (None, None) => return Some(Decision::MissingInput(path.clone())),
            (None, Some(_)) => {}
        }
    }
    if !upstream.is_empty() {
        let mut jobs: Vec<String> = Vec::new();
        for (_, writer) in &upstream {
            let name = &config.jobs[*writer].name;
            if !jobs.contains(name) {
                jobs.push(name.clone());
            }
        }
        let paths = upstream.into_iter().map(|(path, _)| path).collect();
        return Some(Decision::Upstream { jobs, paths });
    }
    if facts.target.is_some() && facts.same_inputs && !facts.rerun() {
        return Some(Decision::UpToDate);
    }
    let settle_ns = i64::try_from(config.settle.as_nanos()).unwrap_or(i64::MAX);
    let unsettled: Vec<String> = inputs
        .filter_map(|((_, path), meta)| {
            let meta = (*meta)?;
            let ours = known.produced(path) == Some(meta);
            let young = now_ns.saturating_sub(meta.mtime_ns) < settle_ns;
            // an object appears whole when its upload completes: nothing to wait for
            let whole = meta.etag.is_some();
            (young && !ours && !whole).then(|| path.clone())
        })
        .collect();
    (!unsettled.is_empty()).then_some(Decision::Settling(unsettled))
}

/// What to do with an item whose inputs are all present and settled.
fn to_do(facts: &Facts<'_>) -> Decision {
    let first = |reason| Decision::Run { attempt: 1, reason };
    match (facts.target, facts.record) {
        // a target made outside the host, or before the state existed: keep it
        // unless an input is newer
        (Some(target), None) if target.mtime_ns >= newest(facts.metas) => Decision::UpToDate,
        (_, None) => first(Reason::New),
        (_, Some(_)) if !facts.same_inputs => first(Reason::InputChanged),
        (_, Some(record)) if record.rerun => rerun(facts.job, record),
        (Some(_), Some(_)) => Decision::UpToDate,
        (None, Some(record)) => after_last_run(facts.job, record),
    }
}

/// An item `flow rerun` asked for: run again until a run succeeds or the
/// attempts are used up; its previous target stays until a new one is made.
fn rerun(job: &Job, record: &ItemRecord) -> Decision {
    let failed = !matches!(
        record.outcome,
        Outcome::Success | Outcome::Interrupted | Outcome::Running
    );
    if failed && record.attempts >= job.retries {
        Decision::GaveUp {
            attempts: record.attempts,
        }
    } else {
        Decision::Run {
            attempt: record.attempts + 1,
            reason: Reason::Rerun,
        }
    }
}

/// An item with the inputs of its last run and no target.
fn after_last_run(job: &Job, record: &ItemRecord) -> Decision {
    match record.outcome {
        Outcome::Success => Decision::Run {
            attempt: 1,
            reason: Reason::TargetMissing,
        },
        _ if record.rearmed => Decision::Run {
            attempt: 1,
            reason: Reason::Rearmed,
        },
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
    }
}

fn newest(metas: &[Option<FileMeta>]) -> i64 {
    metas
        .iter()
        .flatten()
        .map(|meta| meta.mtime_ns)
        .max()
        .unwrap_or(0)
}

/// `role=path:size:mtime` per input, joined by `;`: what a run records and
/// a later plan compares. An object has `etag=HASH` instead of its mtime:
/// the same content uploaded again is no change.
fn write_fingerprint<'p>(
    out: &mut impl fmt::Write,
    inputs: impl IntoIterator<Item = (&'p str, &'p str)>,
    metas: &[Option<FileMeta>],
) -> fmt::Result {
    // written piece by piece, numbers by itoa: a pass compares this for
    // every item, and `write!` costs several times the comparison
    let mut number = itoa::Buffer::new();
    for (index, ((role, path), meta)) in inputs.into_iter().zip(metas).enumerate() {
        if index > 0 {
            out.write_char(';')?;
        }
        for piece in [role, "=", path, ":"] {
            out.write_str(piece)?;
        }
        match meta {
            Some(FileMeta {
                size,
                etag: Some(etag),
                ..
            }) => {
                out.write_str(number.format(*size))?;
                write!(out, ":etag={etag:016x}")?;
            }
            _ => {
                let (size, mtime) = meta.map_or((0, 0), |meta| (meta.size, meta.mtime_ns));
                out.write_str(number.format(size))?;
                out.write_char(':')?;
                out.write_str(number.format(mtime))?;
            }
        }
    }
    Ok(())
}

/// Whether `recorded` is the fingerprint of these inputs, compared as it
/// is written, without making it: the question of every item of a pass.
fn fingerprint_is<'p>(
    recorded: &str,
    inputs: impl IntoIterator<Item = (&'p str, &'p str)>,
    metas: &[Option<FileMeta>],
) -> bool {
    /// Consumes `rest` while what is written matches it; fails on the first
    /// difference, which stops the writing.
    struct Matching<'a> {
        rest: &'a str,
    }
    impl fmt::Write for Matching<'_> {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            self.rest = self.rest.strip_prefix(text).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut matching = Matching { rest: recorded };
    write_fingerprint(&mut matching, inputs, metas).is_ok() && matching.rest.is_empty()
}

/// `flow plan`: the items that would run or wait, then a count.
pub(crate) fn render(config: &Config, plan: &Plan) -> String {
    let mut out = String::new();
    let mut counts = [0; 5];
    for entry in &plan.items {
        let (kind, line) = plan_line(&config.jobs[entry.item.job].name, entry);
        counts[kind as usize] += 1;
        if let Some(line) = line {
            let _ = writeln!(out, "{line}");
        }
        if matches!(kind, Kind::Run | Kind::After) {
            let sources: Vec<&str> = entry
                .item
                .inputs
                .iter()
                .map(|(_, path)| path.as_str())
                .collect();
            let _ = writeln!(
                out,
                "      {} -> {}",
                sources.join(" + "),
                entry.item.target
            );
        }
    }
    let [runs, after, waits, errors, done] = counts;
    let _ = writeln!(
        out,
        "{runs} to run, {after} after upstream jobs, {waits} waiting, {errors} in error, {done} up to date"
    );
    out
}

/// How `flow plan` counts an item.
#[derive(Clone, Copy)]
enum Kind {
    Run,
    After,
    Wait,
    Error,
    Done,
}

/// An item's kind and its line; up-to-date items have none.
fn plan_line(job: &str, entry: &Planned) -> (Kind, Option<String>) {
    let id = &entry.item.id;
    let (kind, line) = match &entry.decision {
        Decision::Run { attempt, reason } => {
            let reason = reason.describe();
            (
                Kind::Run,
                format!("run {job} {id}: {reason} (attempt {attempt})"),
            )
        }
        Decision::Upstream { jobs, .. } => (
            Kind::After,
            format!("wait {job} {id}: upstream {}", jobs.join(", ")),
        ),
        Decision::Settling(paths) => (
            Kind::Wait,
            format!("wait {job} {id}: settling: {}", paths.join(", ")),
        ),
        Decision::MissingInput(path) => {
            (Kind::Wait, format!("wait {job} {id}: missing input {path}"))
        }
        Decision::Unreachable(why) => (Kind::Wait, format!("wait {job} {id}: {why}")),
        Decision::GaveUp { attempts } => (
            Kind::Error,
            format!(
                "error {job} {id}: failed {attempts} times; `flow retry {job} {id}` re-arms it"
            ),
        ),
        Decision::UpToDate => return (Kind::Done, None),
    };
    (kind, Some(line))
}

#[cfg(test)]
mod tests;
