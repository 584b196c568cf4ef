//! One pass of `flow run`: lock → recover what a dead host left → per job in
//! order: scan, plan, execute `parallel` items at a time, record, promote the
//! staging file. `watch` is passes in a loop.
//!
//! The only place where plan, exec and state meet; holds no SQL and spawns
//! nothing itself.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Config, FlowDir, Job};
use crate::error::Error;
use crate::error::exit;
use crate::exec::{self, Exit, Spawn};
use crate::lock::Lock;
use crate::plan::{
    Decision, FileMeta, Known, Planned, Reason, Scan, nanos_since_epoch, plan_pending,
};
use crate::signals::Shutdown;
use crate::state::{NewRun, Outcome, RunEnd, State};

/// The hidden folder inside a target folder where jobs write.
pub(crate) const STAGING: &str = ".flow-staging";

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
}

pub(crate) fn dot_flow(config: &Config) -> PathBuf {
    config.dir.path.join(".flow")
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Passes until a signal; `flow.yaml` is read again before each pass, and an
/// invalid edit keeps the last good configuration.
pub(crate) fn watch(dir: FlowDir, interval: Duration, shutdown: &Shutdown) -> Result<i32, Error> {
    let mut config = Config::load(dir.clone())?;
    tracing::info!(flow = %dir.shown.display(), interval = %humantime::format_duration(interval), "watching");
    loop {
        match Config::load(dir.clone()) {
            Ok(fresh) => config = fresh,
            Err(error) => eprintln!(
                "{}flow: keeping the last valid configuration",
                error.report()
            ),
        }
        let summary = run_once(&config, shutdown)?;
        if summary.lock_held.is_some() {
            tracing::info!("another run holds the lock; skipping this pass");
        }
        if let Some(signal) = shutdown.signal() {
            tracing::info!(signal = signal.as_str(), "stopping");
            return Ok(exit::SIGNAL_BASE + signal as i32);
        }
        shutdown.sleep(interval);
        if let Some(signal) = shutdown.signal() {
            tracing::info!(signal = signal.as_str(), "stopping");
            return Ok(exit::SIGNAL_BASE + signal as i32);
        }
    }
}

/// One pass over every job, in order.
pub(crate) fn run_once(config: &Config, shutdown: &Shutdown) -> Result<Summary, Error> {
    let dot = dot_flow(config);
    let _lock = match Lock::try_acquire(&dot)? {
        Lock::Acquired(lock) => lock,
        Lock::Held(pid) => {
            return Ok(Summary {
                lock_held: Some(pid),
                ..Summary::default()
            });
        }
    };
    let state = State::open(&dot)?;
    recover(config, &state)?;
    let state = Mutex::new(state);
    let mut summary = Summary::default();
    // the state in one query and each folder in one listing per pass; both
    // are read again only after a job changed them, so a pass with nothing
    // to do costs one query and one listing per folder. The two are
    // independent: the folders are listed (mostly time in the kernel) while
    // the state is read.
    let (records, mut scan) = std::thread::scope(|scope| {
        let listing = scope.spawn(|| Scan::read_parallel(config, &config.jobs));
        let records = lock_state(&state).items();
        let scan = listing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (records, scan)
    });
    let mut records = records?;
    for job in &config.jobs {
        if shutdown.count() > 0 {
            break;
        }
        scan.read_job(config, job);
        let now = nanos_since_epoch(SystemTime::now());
        // only the items to run are kept: the rest are logged and dropped
        let mut runnable = VecDeque::new();
        let known = Known::new(&records);
        plan_pending(
            job,
            &scan,
            &known,
            config.settle,
            now,
            |entry| match &entry.decision {
                Decision::Settling(paths) => {
                    tracing::debug!(job = %job.name, item = %entry.item.id, ?paths, "waiting to settle");
                }
                Decision::MissingInput(path) => {
                    tracing::debug!(job = %job.name, item = %entry.item.id, %path, "waiting for an input");
                }
                Decision::GaveUp { attempts } => {
                    summary.gave_up += 1;
                    tracing::debug!(job = %job.name, item = %entry.item.id, attempts, "stays in error");
                }
                &Decision::Run { attempt, reason } => runnable.push_back(Runnable {
                    planned: entry,
                    attempt,
                    reason,
                }),
                Decision::UpToDate => {}
            },
        );
        if runnable.is_empty() {
            continue;
        }
        let outcomes = run_items(config, job, runnable, &state, shutdown)?;
        // later jobs see the targets this one promoted and their records
        scan.forget(&job.target.folder);
        records = lock_state(&state).items()?;
        for outcome in outcomes {
            match outcome {
                Outcome::Success => summary.succeeded += 1,
                Outcome::Interrupted => summary.interrupted += 1,
                _ => summary.failed += 1,
            }
        }
    }
    Ok(summary)
}

fn lock_state(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // a panicking worker leaves the connection usable: SQLite rolls back
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An item the plan says to run, with the attempt it will be.
struct Runnable {
    planned: Planned,
    attempt: u32,
    reason: Reason,
}

/// Runs `items` with up to `parallel` at once; one failing never stops the rest.
fn run_items(
    config: &Config,
    job: &Job,
    items: VecDeque<Runnable>,
    state: &Mutex<State>,
    shutdown: &Shutdown,
) -> Result<Vec<Outcome>, Error> {
    let workers = config.parallel.min(items.len()).max(1);
    let queue = Mutex::new(items);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if shutdown.count() > 0 {
                        break;
                    }
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop_front();
                    let Some(runnable) = next else { break };
                    let result = run_item(config, job, &runnable, state, shutdown);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .collect()
}

fn run_item(
    config: &Config,
    job: &Job,
    runnable: &Runnable,
    state: &Mutex<State>,
    shutdown: &Shutdown,
) -> Result<Outcome, Error> {
    let Runnable {
        planned,
        attempt,
        reason,
    } = runnable;
    let (attempt, reason) = (*attempt, *reason);
    let item = &planned.item;
    let dir = &config.dir.path;
    let target = dir.join(&item.target);
    let staging_dir = target.parent().unwrap_or(dir).join(STAGING);
    let logs = dot_flow(config).join("logs");
    for folder in [&staging_dir, &logs] {
        std::fs::create_dir_all(folder).map_err(|source| Error::Io {
            action: "create",
            path: folder.clone(),
            source,
        })?;
    }
    let started_at = now_rfc3339();
    let id = lock_state(state).begin_run(&NewRun {
        job: &job.name,
        item: &item.id,
        attempt,
        started_at: &started_at,
        inputs: &planned.fingerprint,
        target: &item.target,
    })?;
    let file_name = target.file_name().map_or_else(
        || "output".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    // the run id keeps concurrent attempts apart; the name keeps the extension,
    // from which jobs choose the output format
    let staging = staging_dir.join(format!("{id}-{file_name}"));
    let log = logs.join(format!("{id}-{}-{}.log", job.name, item.id));
    lock_state(state).set_run_paths(id, &log, &staging)?;
    let spawn = Spawn {
        program: job.program.clone(),
        args: arguments(job, planned, dir, &staging),
        env: vec![
            ("FLOW_JOB", job.name.clone().into()),
            ("FLOW_ITEM", item.id.clone().into()),
            ("FLOW_RUN_ID", id.to_string().into()),
            ("FLOW_DIR", dir.clone().into_os_string()),
        ],
        dir: dir.clone(),
        log: log.clone(),
        timeout: job.timeout,
        grace: config.grace,
    };
    tracing::info!(job = %job.name, item = %item.id, run = id, attempt, reason = reason.describe(), "run started");
    let clock = Instant::now();
    let exit = exec::execute(&spawn, shutdown, |pid| {
        if let Err(error) = lock_state(state).set_pid(id, pid) {
            tracing::warn!(%error, "could not record the job's pid");
        }
    });
    let exit = match exit {
        // a job that stops cleanly on a forwarded Ctrl-C, leaving no output,
        // was interrupted; it did not fail an attempt
        Exit::Code(0) if shutdown.count() > 0 && !staging.is_file() => {
            Exit::Interrupted { signal: None }
        }
        exit => exit,
    };
    let (outcome, produced) = settle_output(&exit, &staging, &target, &log);
    let duration = clock.elapsed();
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let (exit_code, signal) = match exit {
        Exit::Code(code) => (Some(code), None),
        Exit::Signal(signal) => (None, Some(signal)),
        Exit::TimedOut { signal } | Exit::Interrupted { signal } => (None, signal),
        Exit::SpawnFailed(_) => (None, None),
    };
    lock_state(state).finish_run(
        id,
        &RunEnd {
            outcome,
            ended_at: &now_rfc3339(),
            duration_ms,
            exit_code,
            signal,
            produced,
        },
    )?;
    let shown = humantime::format_duration(std::time::Duration::from_millis(duration_ms));
    let detail = exec::describe(&exit, job.timeout);
    if outcome == Outcome::Success {
        tracing::info!(job = %job.name, item = %item.id, run = id, duration = %shown, outcome = outcome.as_str(), "run finished");
    } else {
        tracing::warn!(job = %job.name, item = %item.id, run = id, duration = %shown, outcome = outcome.as_str(), %detail, "run finished");
    }
    Ok(outcome)
}

/// `--input <source> [--<name> <input>]... --output <staging> [--<arg> <value>]...`
fn arguments(job: &Job, planned: &Planned, dir: &Path, staging: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    for (role, path) in &planned.item.inputs {
        args.push(format!("--{role}").into());
        args.push(dir.join(path).into_os_string());
    }
    args.push("--output".into());
    args.push(staging.as_os_str().to_owned());
    for (name, value) in &job.args {
        args.push(format!("--{name}").into());
        args.push(value.into());
    }
    args
}

/// Promotes the staging file after exit 0, or discards it: a target that
/// exists is always complete.
fn settle_output(
    exit: &Exit,
    staging: &Path,
    target: &Path,
    log: &Path,
) -> (Outcome, Option<(u64, i64)>) {
    let outcome = match exit {
        Exit::Code(0) if staging.is_file() => match std::fs::rename(staging, target) {
            Ok(()) => {
                let produced = FileMeta::of(target).map(|meta| (meta.size, meta.mtime_ns));
                return (Outcome::Success, produced);
            }
            Err(error) => {
                note(
                    log,
                    &format!("could not move the output to {}: {error}", target.display()),
                );
                Outcome::Failed
            }
        },
        Exit::Code(0) => {
            note(
                log,
                "the job exited 0 but wrote nothing at its --output path: counted as an error",
            );
            Outcome::NoOutput
        }
        Exit::Code(_) => Outcome::Failed,
        Exit::Signal(_) => Outcome::Signaled,
        Exit::TimedOut { .. } => Outcome::TimedOut,
        Exit::Interrupted { .. } => Outcome::Interrupted,
        Exit::SpawnFailed(_) => Outcome::SpawnFailed,
    };
    discard(staging);
    (outcome, None)
}

fn discard(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "could not remove a staging file")
        }
    }
}

fn note(log: &Path, line: &str) {
    if let Ok(mut file) = OpenOptions::new().append(true).open(log) {
        let _ = writeln!(file, "[flow] {line}");
    }
}

/// With the lock held, runs still marked running belong to a host that died
/// (`kill -9`, power loss): stop what is left of their jobs, drop their
/// staging files and record them as interrupted, so the plan redoes them.
fn recover(config: &Config, state: &State) -> Result<(), Error> {
    for run in state.running_runs()? {
        exec::kill_orphans(run.id, &config.dir.path);
        discard(&run.staging);
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
    }
    // anything still staged is a leftover of a dead run: no run is live now
    for job in &config.jobs {
        let staging = config.dir.path.join(&job.target.folder).join(STAGING);
        if let Ok(entries) = std::fs::read_dir(&staging) {
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    let _ = std::fs::remove_dir_all(&path);
                } else {
                    discard(&path);
                }
            }
        }
    }
    Ok(())
}
