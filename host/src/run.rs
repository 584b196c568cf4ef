//! One pass of `flow run`: lock → recover what a dead host left → plan the
//! graph of items → start every ready item, at most `parallel` at once over
//! all jobs, later stages first, then older inputs → record each end,
//! promote its staging file and start what waited for it → when nothing
//! runs, look again, and end when nothing is runnable. `watch` (its own
//! module) runs passes when something changed.
//!
//! The only place where plan, executor and state meet; holds no SQL and
//! spawns nothing itself. A run with files in a bucket has its inputs
//! downloaded before it starts and its target uploaded before its success
//! is recorded (`transfer.rs`), on the run's own worker thread.

mod adopt;
mod carry;

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Config, ExecutorKind, Job};
use crate::error::Error;
use crate::exec::{self, Executor, Launch, Limits, Progress, SlurmExecutor};
use crate::hooks;
use crate::layout::Layout;
use crate::lock::Lock;
use crate::outcome::{self, Facts, Outcome};
use crate::plan::{self, Decision, Item, Known, Pending, Planned, Reason, Touched};
use crate::scan::{FileMeta, Scan, nanos_since_epoch};
use crate::signals::Shutdown;
use crate::state::{ClusterJob, NewRun, RunEnd, RunPaths, RunRecord, SUBMITTING, State};
use crate::storage::is_remote;
use crate::storage::s3::S3Error;
use crate::transfer::Transfers;
use carry::Start;

pub(crate) use carry::Carry;

/// What one pass did.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Another process holds the lock (its pid, if known); nothing was done.
    pub(crate) lock_held: Option<Option<u32>>,
    pub(crate) succeeded: usize,
    pub(crate) failed: usize,
    pub(crate) interrupted: usize,
    /// Items left in error after using up their attempts (not run this pass).
    pub(crate) gave_up: usize,
    /// The inputs the pass's last plan found settling, relative to the flow
    /// folder: what a watch wakes up for next.
    pub(crate) settling: Vec<String>,
    /// Buckets that could not be listed: their items were left alone.
    pub(crate) unreachable: usize,
}

impl Summary {
    /// One line for a pass that ran something; a pass with nothing to do is
    /// silent, since a crontab mails whatever a job prints.
    pub(crate) fn log(&self) {
        if self.succeeded + self.failed + self.interrupted > 0 {
            tracing::info!(
                succeeded = self.succeeded,
                failed = self.failed,
                interrupted = self.interrupted,
                "pass done"
            );
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ns() -> i64 {
    nanos_since_epoch(SystemTime::now())
}

/// One pass over the whole graph, or, in a watch whose records and
/// listings are still current, over what changed since its last pass.
pub(crate) fn run_pass(
    config: &Config,
    executor: &dyn Executor,
    shutdown: &Shutdown,
    carry: &mut Carry,
) -> Result<Summary, Error> {
    let layout = Layout::new(&config.dir.path);
    let _lock = match Lock::try_acquire(&layout)? {
        Lock::Acquired(lock) => lock,
        Lock::Held(pid) => {
            return Ok(Summary {
                lock_held: Some(pid),
                ..Summary::default()
            });
        }
    };
    let Start { state, kept } = carry.start(&layout)?;
    let on_cluster = recover(config, &layout, &state)?;
    let uses_slurm = config
        .jobs
        .iter()
        .any(|job| job.executor == ExecutorKind::Slurm);
    let slurm = (uses_slurm || !on_cluster.is_empty())
        .then(|| SlurmExecutor::new(&config.dir.path, config.slurm.clone()));
    let slurm = slurm.as_ref();
    let (known, scan, touched) = match kept {
        // nobody else committed since, so no run was left running either
        Some((known, scan, touched)) => (known, scan, Some(touched)),
        None => {
            let (known, scan) = read_state_and_list(config, &state);
            (known?, scan, None)
        }
    };
    let mut pass = Pass {
        known,
        config,
        layout,
        state,
        executor,
        slurm,
        shutdown,
        ran: HashSet::new(),
        open: HashSet::new(),
        unfinished: HashSet::new(),
        adopted: Vec::new(),
        summary: Summary::default(),
    };
    // runs of a dead host: another process committed, so nothing was kept
    let touched = touched.filter(|_| on_cluster.is_empty());
    pass.adopt(on_cluster)?;
    let scan = pass.rounds(scan, touched.as_ref())?;
    if let Some(keep) = config.keep {
        prune(&pass.state, keep)?;
    }
    let Pass {
        state,
        known,
        mut open,
        unfinished,
        summary,
        ..
    } = pass;
    open.extend(unfinished);
    carry.end(state, known, scan, open)?;
    Ok(summary)
}

/// The recorded items and the listings of the folders the sources reach,
/// listed (mostly time in the kernel) while the state is read and hashed.
fn read_state_and_list(config: &Config, state: &State) -> (Result<Known, Error>, Scan) {
    std::thread::scope(|scope| {
        let listing = scope.spawn(|| {
            let mut scan = plan::new_scan(config);
            plan::list_ahead(config, &mut scan);
            scan
        });
        let known = state.items().map(Known::new);
        let scan = crate::threads::join(listing);
        (known, scan)
    })
}

/// Runs pruned in one pass at most: a year of history goes over several
/// passes instead of stalling one.
const PRUNE_PER_PASS: u32 = 2_000;

/// Forgets the runs that ended more than `keep` ago, with their logs; an
/// item's last run stays whatever its age.
fn prune(state: &State, keep: Duration) -> Result<(), Error> {
    let cutoff =
        chrono::Utc::now() - chrono::TimeDelta::from_std(keep).unwrap_or(chrono::TimeDelta::MAX);
    let before = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let logs = state.prune(&before, PRUNE_PER_PASS)?;
    for log in &logs {
        discard(log);
    }
    if !logs.is_empty() {
        tracing::debug!(runs = logs.len(), %before, "pruned old runs and their logs");
    }
    Ok(())
}

fn settling_inputs(plan: &plan::Plan) -> Vec<String> {
    let settling = plan
        .items
        .iter()
        .filter_map(|planned| match &planned.decision {
            Decision::Settling(paths) => Some(paths),
            _ => None,
        });
    settling.flatten().cloned().collect()
}

/// What a pass holds while it runs.
struct Pass<'a> {
    config: &'a Config,
    layout: Layout,
    state: State,
    known: Known,
    /// Where local runs and hooks run.
    executor: &'a dyn Executor,
    /// Where Slurm runs run, when the flow has any.
    slurm: Option<&'a SlurmExecutor>,
    shutdown: &'a Shutdown,
    /// Items started in this pass, by job index and item id.
    ran: HashSet<(usize, String)>,
    /// Items the last plan of this pass did not find up to date, and
    /// items whose run in this pass did not succeed: what a watch decides
    /// again at its next pass, whatever changes.
    open: HashSet<(usize, String)>,
    unfinished: HashSet<(usize, String)>,
    /// Slurm runs of a dead host, for the first round to follow.
    adopted: Vec<adopt::Adopted>,
    summary: Summary,
}

/// Order among ready items: later stages first, then older inputs, then
/// the plan's order.
type Priority = (Reverse<usize>, i64, usize);

/// The items of one round and where each stands.
struct Board {
    entries: Vec<Planned>,
    ready: BTreeSet<Priority>,
    /// Items waiting for an upstream target, by the target's path.
    waiting: HashMap<String, Vec<usize>>,
    pending: Pending,
    /// Runs in flight per job index.
    running: Vec<usize>,
}

impl Board {
    fn new(plan: plan::Plan, config: &Config, ran: &HashSet<(usize, String)>) -> Self {
        let mut board = Self {
            entries: Vec::new(),
            ready: BTreeSet::new(),
            waiting: HashMap::new(),
            pending: plan.pending,
            running: vec![0; config.jobs.len()],
        };
        for (index, planned) in plan.items.into_iter().enumerate() {
            let ran_already =
                !ran.is_empty() && ran.contains(&(planned.item.job, planned.item.id.clone()));
            if !ran_already {
                match &planned.decision {
                    Decision::Run { .. } => {
                        board.ready.insert(priority(config, index, &planned));
                    }
                    Decision::Upstream { paths, .. } => {
                        for path in paths {
                            board.waiting.entry(path.clone()).or_default().push(index);
                        }
                    }
                    _ => {}
                }
            }
            board.entries.push(planned);
        }
        board
    }

    /// The first ready item whose job is under its own cap.
    fn pick(&mut self, config: &Config) -> Option<usize> {
        let found = self.ready.iter().copied().find(|&(_, _, index)| {
            let job = self.entries[index].item.job;
            config.jobs[job]
                .parallel
                .is_none_or(|cap| self.running[job] < cap)
        })?;
        self.ready.remove(&found);
        Some(found.2)
    }
}

fn priority(config: &Config, index: usize, planned: &Planned) -> Priority {
    let stage = config.jobs[planned.item.job].stage;
    (Reverse(stage), planned.newest_input_ns, index)
}

/// A run handed to a worker, and what comes back from it.
struct Started {
    index: usize,
    run: i64,
    attempt: u32,
    log: PathBuf,
    staging: PathBuf,
    clock: Instant,
    transfers: Transfers,
}

struct Ended {
    started: Started,
    facts: Facts,
    /// The upload of an `s3://` target after a success.
    uploaded: Option<Result<FileMeta, S3Error>>,
}

/// What a worker tells the pass: a cluster job's progress, or the end
/// (boxed: far larger than a progress, and sent once a run).
enum Message {
    Progress { run: i64, progress: Progress },
    Ended(Box<Ended>),
}

/// Sends a run's progress to the pass, which records it.
fn reporter(run: i64, done: &mpsc::Sender<Message>) -> impl FnMut(Progress) + '_ {
    move |progress| {
        // the receiver lives until every worker is done
        let _ = done.send(Message::Progress { run, progress });
    }
}

impl<'a> Pass<'a> {
    /// Plans and runs rounds until one starts nothing. A round runs what
    /// the plan makes ready and what that unlocks; the next round sees what
    /// landed meanwhile in local folders (buckets are listed once a pass).
    /// A watch's pass over what `touched` names keeps its listings: the
    /// events tell what lands meanwhile. Each item runs once a pass, so the
    /// rounds end; the scan they ended with is returned.
    fn rounds(&mut self, mut scan: Scan, touched: Option<&Touched>) -> Result<Scan, Error> {
        let scope = touched.map_or(plan::Scope::Everything, plan::Scope::Touched);
        while self.shutdown.count() == 0 {
            let plan = plan::plan(
                self.config,
                &mut scan,
                &self.known,
                now_ns(),
                &self.ran,
                scope,
                plan::Keep::Actionable,
            );
            tracing::debug!(
                folders = scan.folders_listed(),
                decided = plan.decided,
                items = plan.items.len(),
                "planned"
            );
            self.summary.settling = settling_inputs(&plan);
            // counted in the first plan only: later rounds see the same items
            if self.ran.is_empty() {
                self.summary.unreachable = scan.report_failures();
                self.summary.gave_up = plan
                    .items
                    .iter()
                    .filter(|planned| matches!(planned.decision, Decision::GaveUp { .. }))
                    .count();
            }
            let open = plan.items.iter().map(|planned| &planned.item);
            self.open = open.map(|item| (item.job, item.id.clone())).collect();
            let before = self.ran.len();
            let mut board = Board::new(plan, self.config, &self.ran);
            let adopted = self.place_adopted(&mut board, &mut scan);
            self.round(board, adopted, &mut scan)?;
            if self.ran.len() == before {
                break;
            }
            if touched.is_none() {
                scan = scan.next_round();
            }
        }
        Ok(scan)
    }

    /// Follows `adopted` and starts ready items beside them up to the
    /// limits, following them all to their ends and starting what each end
    /// makes ready.
    fn round(
        &mut self,
        mut board: Board,
        adopted: Vec<adopt::Adopted>,
        scan: &mut Scan,
    ) -> Result<(), Error> {
        let (done, ends) = mpsc::channel::<Message>();
        std::thread::scope(|scope| {
            let mut in_flight = adopted.len();
            for run in adopted {
                board.running[board.entries[run.index()].item.job] += 1;
                self.follow_adopted(scope, run, &done);
            }
            loop {
                while in_flight < self.config.parallel && self.shutdown.count() == 0 {
                    let Some(index) = board.pick(self.config) else {
                        break;
                    };
                    let Decision::Run { attempt, reason } = board.entries[index].decision else {
                        continue;
                    };
                    let (started, launch) =
                        self.start(&board.entries[index], index, attempt, reason)?;
                    board.running[board.entries[index].item.job] += 1;
                    in_flight += 1;
                    let job = &self.config.jobs[board.entries[index].item.job];
                    let (done, shutdown) = (done.clone(), self.shutdown);
                    let (executor, limits) = (self.executor_for(job), self.limits(job));
                    scope.spawn(move || {
                        let mut report = reporter(started.run, &done);
                        let ended = run_with_transfers(
                            executor,
                            &launch,
                            limits,
                            shutdown,
                            started,
                            &mut report,
                        );
                        let _ = done.send(Message::Ended(Box::new(ended)));
                    });
                }
                if in_flight == 0 {
                    return Ok(());
                }
                match ends.recv() {
                    Ok(Message::Progress { run, progress }) => {
                        self.record_progress(run, progress)?
                    }
                    Ok(Message::Ended(ended)) => {
                        in_flight -= 1;
                        self.finish(&mut board, scan, *ended)?;
                    }
                    Err(_) => return Ok(()),
                }
            }
        })
    }

    /// Where `job`'s runs happen.
    fn executor_for(&self, job: &Job) -> &'a dyn Executor {
        match (job.executor, self.slurm) {
            (ExecutorKind::Slurm, Some(slurm)) => slurm,
            _ => self.executor,
        }
    }

    fn record_progress(&self, run: i64, progress: Progress) -> Result<(), Error> {
        self.state.set_cluster(
            run,
            &ClusterJob {
                job_id: Some(progress.job_id),
                state: progress.state,
            },
        )
    }

    fn limits(&self, job: &Job) -> Limits {
        Limits {
            timeout: job.timeout,
            grace: self.config.grace,
        }
    }

    /// Records the run as started and makes its launch: the job contract's
    /// argv and environment, the staging path and the log.
    fn start(
        &mut self,
        planned: &Planned,
        index: usize,
        attempt: u32,
        reason: Reason,
    ) -> Result<(Started, Launch), Error> {
        let item = &planned.item;
        let job = &self.config.jobs[item.job];
        let logs = self.layout.logs();
        let staging_area = self.layout.staging_area(&job.target.root);
        for folder in [&staging_area, &logs] {
            create_dir(folder)?;
        }
        let remote_io =
            is_remote(&item.target) || item.inputs.iter().any(|(_, path)| is_remote(path));
        let file_name = crate::scan::split(&item.target).1;
        let new_run = NewRun {
            job: &job.name,
            item: &item.id,
            attempt,
            started_at: &now_rfc3339(),
            inputs: &planned.fingerprint(),
            target: &item.target,
        };
        let (id, RunPaths { log, staging }) = self.state.begin_run(&new_run, |id| RunPaths {
            log: self.layout.log(id, &job.name, &item.id),
            staging: self.layout.staging(&job.target.root, id, file_name),
        })?;
        if job.executor == ExecutorKind::Slurm {
            // before `sbatch`: a host dying during the call leaves a row a
            // later pass resolves by the run id in the job's comment
            let submitting = ClusterJob {
                job_id: None,
                state: SUBMITTING.to_owned(),
            };
            self.state.set_cluster(id, &submitting)?;
        }
        self.ran.insert((item.job, item.id.clone()));
        let dir = &self.config.dir.path;
        let (transfers, inputs) = self.local_inputs(item, id);
        if remote_io && let Some(parent) = staging.parent() {
            create_dir(parent)?;
        }
        let launch = Launch {
            program: job.program.clone(),
            args: arguments(job, &inputs, &staging),
            env: vec![
                ("FLOW_JOB", job.name.clone().into()),
                ("FLOW_ITEM", item.id.clone().into()),
                ("FLOW_RUN_ID", id.to_string().into()),
                ("FLOW_DIR", dir.clone().into_os_string()),
            ],
            dir: dir.clone(),
            log: log.clone(),
            timeout: job.timeout,
        };
        tracing::info!(job = %job.name, item = %item.id, run = id, attempt, reason = reason.describe(), "run started");
        let started = Started {
            index,
            run: id,
            attempt,
            log,
            staging,
            clock: Instant::now(),
            transfers,
        };
        Ok((started, launch))
    }

    /// The paths the job reads its inputs from, a download in the run's
    /// transfer folder for each `s3://` input, and the transfers to make.
    fn local_inputs(&self, item: &Item, run: i64) -> (Transfers, Vec<(String, PathBuf)>) {
        let mut transfers = Transfers::new(self.layout.transfer(run));
        let dir = &self.config.dir.path;
        let inputs = item
            .inputs
            .iter()
            .map(|(role, path)| {
                if is_remote(path) {
                    let local = self.layout.download(run, role, crate::scan::split(path).1);
                    transfers.download(path, local.clone());
                    (role.clone(), local)
                } else {
                    (role.clone(), dir.join(path))
                }
            })
            .collect();
        if is_remote(&item.target) {
            transfers.upload_to(&item.target);
        }
        (transfers, inputs)
    }

    /// Judges a run's end, promotes or discards its output, records it, and
    /// decides again the items that waited for its target.
    fn finish(&mut self, board: &mut Board, scan: &mut Scan, ended: Ended) -> Result<(), Error> {
        let item = board.entries[ended.started.index].item.clone();
        board.running[item.job] -= 1;
        let produced = self.settle(&item, ended)?;
        board.pending.remove(&item.target);
        if let Some(meta) = produced {
            scan.record_file(&item.target, meta);
        }
        self.unblock(board, scan, &item.target);
        Ok(())
    }

    /// Judges a run's end, promotes or uploads or discards its output,
    /// records it and runs its hook; the target's metadata when it was
    /// promoted.
    fn settle(&mut self, item: &Item, ended: Ended) -> Result<Option<FileMeta>, Error> {
        let Ended {
            started,
            facts,
            uploaded,
        } = ended;
        let job = &self.config.jobs[item.job];
        let target = located(&self.config.dir.path, &item.target);
        let mut outcome = outcome::classify(&facts, started.staging.is_file());
        note(
            &started.log,
            &outcome::describe(&facts, outcome, job.timeout),
        );
        let mut produced = None;
        if outcome == Outcome::Success {
            let placed = match uploaded {
                Some(upload) => upload.map(Some).map_err(|error| error.to_string()),
                None => promote(&started.staging, &target).map_err(|error| {
                    format!("could not move the output to {}: {error}", target.display())
                }),
            };
            match placed {
                Ok(meta) => produced = meta,
                Err(line) => {
                    note(&started.log, &line);
                    tracing::error!(job = %job.name, item = %item.id, run = started.run, "{line}");
                    outcome = Outcome::Failed;
                }
            }
        }
        discard(&started.staging);
        started.transfers.clean();
        let duration = started.clock.elapsed();
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.state.finish_run(
            started.run,
            &RunEnd {
                outcome,
                ended_at: &now_rfc3339(),
                duration_ms,
                exit_code: facts.exit_code(),
                signal: facts.signal(),
                produced: produced.map(|meta: FileMeta| (meta.size, meta.mtime_ns)),
            },
        )?;
        if let Some(record) = self.state.item(&job.name, &item.id)? {
            self.known.update(record);
        }
        if outcome != Outcome::Success {
            self.unfinished.insert((item.job, item.id.clone()));
        }
        self.count(job, &item.id, started.run, outcome, duration);
        self.hook(job, item, &started, &facts, outcome)?;
        Ok(produced)
    }

    /// Runs the job's hook for this end, if it has one for it: `on_success`
    /// after a promotion, `on_error` after the last attempt. Its failure is
    /// recorded with the run and changes nothing else.
    fn hook(
        &self,
        job: &Job,
        item: &Item,
        started: &Started,
        facts: &Facts,
        outcome: Outcome,
    ) -> Result<(), Error> {
        let last_attempt = outcome.counts_as_attempt() && started.attempt >= job.retries;
        let (hook, kind) = match outcome {
            Outcome::Success => (&job.hooks.on_success, hooks::Kind::OnSuccess),
            _ if last_attempt => (&job.hooks.on_error, hooks::Kind::OnError),
            _ => return Ok(()),
        };
        let Some(hook) = hook else { return Ok(()) };
        let target = located(&self.config.dir.path, &item.target);
        let ended = hooks::Ended {
            job: &job.name,
            item: &item.id,
            run: started.run,
            outcome,
            exit_code: facts.exit_code(),
            attempts: started.attempt,
            log: &started.log,
            target: &target,
        };
        let context = hooks::Context {
            executor: self.executor,
            shutdown: self.shutdown,
            dir: &self.config.dir.path,
            output: self.layout.hook_output(started.run, kind.as_str()),
            grace: self.config.grace,
        };
        if let Err(why) = hooks::run(hook, kind, &ended, &context) {
            tracing::warn!(job = %job.name, item = %item.id, run = started.run, "{why}");
            self.state.set_hook_error(started.run, &why)?;
        }
        Ok(())
    }

    /// Decides again the items that waited for `target`: ready now, still
    /// waiting for another upstream run, or not runnable in this pass.
    fn unblock(&self, board: &mut Board, scan: &mut Scan, target: &str) {
        let now = now_ns();
        for index in board.waiting.remove(target).unwrap_or_default() {
            let item = board.entries[index].item.clone();
            let planned =
                plan::decide_item(self.config, item, scan, &self.known, &board.pending, now);
            let ran = self
                .ran
                .contains(&(planned.item.job, planned.item.id.clone()));
            if matches!(planned.decision, Decision::Run { .. }) && !ran {
                board.ready.insert(priority(self.config, index, &planned));
            }
            board.entries[index] = planned;
        }
    }

    fn count(&mut self, job: &Job, item: &str, run: i64, outcome: Outcome, duration: Duration) {
        match outcome {
            Outcome::Success => self.summary.succeeded += 1,
            Outcome::Interrupted => self.summary.interrupted += 1,
            _ => self.summary.failed += 1,
        }
        let shown = humantime::format_duration(Duration::from_millis(
            u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        ));
        if outcome == Outcome::Success {
            tracing::info!(job = %job.name, item, run, duration = %shown, outcome = outcome.as_str(), "run finished");
        } else {
            tracing::warn!(job = %job.name, item, run, duration = %shown, outcome = outcome.as_str(), "run finished");
        }
    }
}

fn create_dir(folder: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(folder).map_err(|source| Error::Io {
        action: "create",
        path: folder.to_path_buf(),
        source,
    })
}

/// Downloads a run's `s3://` inputs, runs it, and uploads its `s3://`
/// target if it succeeded. A failed download means the job never starts:
/// nothing partial is ever handed to a job.
fn run_with_transfers(
    executor: &dyn Executor,
    launch: &Launch,
    limits: Limits,
    shutdown: &Shutdown,
    started: Started,
    report: &mut dyn FnMut(Progress),
) -> Ended {
    if let Err(error) = started.transfers.fetch() {
        tracing::error!(run = started.run, "{error}");
        // the log is made here, since the job that would make it never starts
        let _ = std::fs::File::create(&started.log);
        let facts = Facts {
            end: crate::outcome::End::NotStarted(error.to_string()),
            timed_out: false,
            stopped: false,
            signal_sent: None,
        };
        return Ended {
            started,
            facts,
            uploaded: None,
        };
    }
    let facts = exec::execute_reporting(executor, launch, limits, shutdown, report);
    ended_with_upload(started, facts)
}

/// A run's end, with its `s3://` target uploaded first after a success.
fn ended_with_upload(started: Started, facts: Facts) -> Ended {
    let succeeded = outcome::classify(&facts, started.staging.is_file()) == Outcome::Success;
    let uploaded = if succeeded && started.transfers.uploads() {
        note(&started.log, "uploading the output");
        started.transfers.send(&started.staging)
    } else {
        None
    };
    Ended {
        started,
        facts,
        uploaded,
    }
}

/// Where a path of the flow is: a file below the flow folder, or an
/// object's `s3://` URL as it is.
fn located(dir: &Path, path: &str) -> PathBuf {
    if is_remote(path) {
        PathBuf::from(path)
    } else {
        dir.join(path)
    }
}

/// `--input <source> [--<name> <input>]... --output <staging> [--<arg> <value>]...`
fn arguments(job: &Job, inputs: &[(String, PathBuf)], staging: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    for (role, path) in inputs {
        args.push(format!("--{role}").into());
        args.push(path.as_os_str().to_owned());
    }
    args.push("--output".into());
    args.push(staging.as_os_str().to_owned());
    for (name, value) in &job.args {
        args.push(format!("--{name}").into());
        args.push(value.into());
    }
    args
}

/// Moves a finished output to its target, creating the target's folders:
/// a target that exists is always complete.
fn promote(staging: &Path, target: &Path) -> std::io::Result<Option<FileMeta>> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(staging, target)?;
    Ok(FileMeta::of(target))
}

fn discard(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "could not remove a staging file");
        }
    }
}

fn note(log: &Path, line: &str) {
    if let Ok(mut file) = OpenOptions::new().append(true).open(log) {
        let _ = writeln!(file, "[flow] {line}");
    }
}

/// Records a run a dead host left as interrupted, so the plan redoes it.
fn record_interrupted(state: &State, run: &RunRecord) -> Result<(), Error> {
    state.finish_run(
        run.id,
        &RunEnd {
            outcome: Outcome::Interrupted,
            ended_at: &now_rfc3339(),
            duration_ms: 0,
            exit_code: None,
            signal: None,
            produced: None,
        },
    )?;
    note(
        &run.log,
        "flow stopped during this run; the item will be run again",
    );
    tracing::warn!(job = %run.job, item = %run.item, run = run.id, "found a run interrupted by a stopped flow; it will be redone");
    Ok(())
}

/// With the lock held, runs still marked running belong to a host that died
/// (`kill -9`, power loss). Local ones: stop what is left of their jobs,
/// drop their staging files and record them as interrupted, so the plan
/// redoes them. Slurm ones go on on the cluster: they are returned, for
/// [`Pass::adopt`], staging files and all.
fn recover(config: &Config, layout: &Layout, state: &State) -> Result<Vec<RunRecord>, Error> {
    let mut on_cluster = Vec::new();
    for run in state.running_runs()? {
        if run.cluster.is_some() {
            on_cluster.push(run);
            continue;
        }
        exec::kill_orphans(run.id, &config.dir.path);
        discard(&run.staging);
        record_interrupted(state, &run)?;
    }
    // anything else still staged or downloaded is a leftover of a dead run:
    // no local run is live now, and the cluster's keep their files
    let kept: HashSet<PathBuf> = on_cluster
        .iter()
        .flat_map(|run| [run.staging.clone(), layout.transfer(run.id)])
        .collect();
    let areas = config
        .jobs
        .iter()
        .map(|job| layout.staging_area(&job.target.root))
        .chain(std::iter::once(layout.transfers()));
    for area in areas {
        let Ok(entries) = std::fs::read_dir(area) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if kept.contains(&path) {
                continue;
            }
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                discard(&path);
            }
        }
    }
    Ok(on_cluster)
}
