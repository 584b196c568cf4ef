//! The status model of a flow (per job: counts and last run; per item:
//! status, attempts, last run, log tail) and its two renderers, text and
//! JSON. `flow status` and the later `flow serve` share it.
//!
//! [`collect`] reads the folders, the state and the lock; [`build`] and the
//! renderers are pure. The JSON shape is documented in `docs/status-json.md`
//! and only grows: fields are never renamed or removed within a `schema`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::layout::Layout;
use crate::lock::Lock;
use crate::plan::{self, Decision, Known, Planned, Reason};
use crate::run::now_rfc3339;
use crate::scan::nanos_since_epoch;
use crate::state::{Outcome, RunRecord, State};

/// Version of the JSON shape.
pub(crate) const SCHEMA: u32 = 1;
/// Lines of a failed run's log shown with it.
pub(crate) const LOG_TAIL_LINES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Success,
    Preliminary,
    Running,
    Error,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Preliminary => "preliminary",
            Self::Running => "running",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Report {
    pub(crate) schema: u32,
    /// The flow folder as given on the command line.
    pub(crate) flow: String,
    pub(crate) generated_at: String,
    /// Whether a `flow run` or `watch` pass holds the lock now.
    pub(crate) run_in_progress: bool,
    /// The pid of the process holding the lock, while one does.
    pub(crate) run_pid: Option<u32>,
    /// Bytes used by `<flow>/.flow/`: the state database and the run logs.
    pub(crate) state_bytes: u64,
    pub(crate) jobs: Vec<JobReport>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub(crate) success: usize,
    pub(crate) preliminary: usize,
    pub(crate) running: usize,
    pub(crate) error: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct JobReport {
    pub(crate) name: String,
    pub(crate) counts: Counts,
    pub(crate) last_run: Option<RunView>,
    pub(crate) items: Vec<ItemReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ItemReport {
    /// The source file name; what `flow logs` and `flow retry` take.
    pub(crate) item: String,
    pub(crate) status: Status,
    /// Why it has this status, as a word a program can match: `up_to_date`,
    /// `will_run`, `upstream`, `settling`, `missing_input`, `retry`,
    /// `gave_up` or `running`.
    pub(crate) reason: &'static str,
    /// The jobs it waits for, when `reason` is `upstream`.
    pub(crate) upstream: Vec<String>,
    /// Why it has this status, in words.
    pub(crate) detail: String,
    pub(crate) inputs: Vec<String>,
    pub(crate) target: String,
    /// Attempts that count against `retries` since the inputs last changed.
    pub(crate) attempts: u32,
    pub(crate) retries: u32,
    pub(crate) last_run: Option<RunView>,
    /// The last lines of the last run's log, for items in error.
    pub(crate) log_tail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RunView {
    pub(crate) id: i64,
    pub(crate) item: String,
    pub(crate) attempt: u32,
    pub(crate) started_at: String,
    pub(crate) ended_at: Option<String>,
    pub(crate) duration_ms: Option<u64>,
    /// `running`, `success`, `failed`, `no_output`, `timeout`, `signal`,
    /// `interrupted` or `spawn_failed`.
    pub(crate) outcome: String,
    pub(crate) exit_code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) log: String,
    /// Why the hook run after this run failed, if it did.
    pub(crate) hook_error: Option<String>,
    pub(crate) executor: ExecutorView,
}

/// Where a run ran: `local`, or `slurm` with the job id and Slurm state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ExecutorView {
    pub(crate) kind: &'static str,
    pub(crate) job_id: Option<String>,
    pub(crate) state: Option<String>,
}

impl ExecutorView {
    fn of(run: &RunRecord) -> Self {
        Self {
            kind: run.executor.as_str(),
            job_id: run.cluster.as_ref().and_then(|job| job.job_id.clone()),
            state: run.cluster.as_ref().map(|job| job.state.clone()),
        }
    }
}

impl RunView {
    pub(crate) fn of(run: &RunRecord) -> Self {
        Self {
            id: run.id,
            item: run.item.clone(),
            attempt: run.attempt,
            started_at: run.started_at.clone(),
            ended_at: run.ended_at.clone(),
            duration_ms: run.duration_ms,
            outcome: run.outcome.as_str().to_owned(),
            exit_code: run.exit_code,
            signal: run.signal,
            log: run.log.display().to_string(),
            hook_error: run.hook_error.clone(),
            executor: ExecutorView::of(run),
        }
    }

    fn summary(&self) -> String {
        let mut text = format!("#{} {} {}", self.id, self.item, self.outcome);
        if let Some(code) = self.exit_code.filter(|&code| code != 0) {
            let _ = write!(text, " (exit {code})");
        }
        if let Some(signal) = self.signal {
            let _ = write!(text, " (signal {signal})");
        }
        if let (Some(job), Some(state)) = (&self.executor.job_id, &self.executor.state) {
            let _ = write!(text, " (slurm job {job} {state})");
        }
        let _ = write!(text, " at {}", self.started_at);
        if let Some(ms) = self.duration_ms {
            let _ = write!(
                text,
                ", {}",
                humantime::format_duration(std::time::Duration::from_millis(ms))
            );
        }
        text
    }
}

/// Everything the pure [`build`] needs, read from disk.
pub(crate) struct Inputs<'a> {
    pub(crate) config: &'a Config,
    pub(crate) plan: plan::Plan,
    pub(crate) known: &'a Known,
    pub(crate) runs: HashMap<i64, RunRecord>,
    pub(crate) last_runs: HashMap<String, RunRecord>,
    pub(crate) run_pid: Option<u32>,
    pub(crate) generated_at: String,
    /// Log tails by run id, for runs of items in error.
    pub(crate) tails: HashMap<i64, Vec<String>>,
}

/// Reads folders, state and lock, and builds the report.
pub(crate) fn collect(config: &Config) -> Result<Report, Error> {
    let layout = Layout::new(&config.dir.path);
    let run_pid = Lock::holder(&layout);
    let state = State::open(&layout)?;
    collect_from(config, Some(&state), run_pid)
}

/// The report from a state the caller opened (`flow serve` opens it
/// read-only); `None` when no run has made a state database yet, so every
/// item is new.
pub(crate) fn collect_from(
    config: &Config,
    state: Option<&State>,
    run_pid: Option<u32>,
) -> Result<Report, Error> {
    let Some(state) = state else {
        return Ok(collect_known(
            config,
            &Known::default(),
            run_pid,
            History::default(),
        ));
    };
    let known = Known::new(state.items()?);
    let history = History::read(state, &known)?;
    Ok(collect_known(config, &known, run_pid, history))
}

/// What the state says about past runs, for [`build`].
#[derive(Default)]
struct History {
    runs: HashMap<i64, RunRecord>,
    last_runs: HashMap<String, RunRecord>,
    tails: HashMap<i64, Vec<String>>,
}

impl History {
    /// The last run of every recorded item and job, and the log tail of
    /// items not in success.
    fn read(state: &State, known: &Known) -> Result<Self, Error> {
        let mut history = Self {
            last_runs: state.last_runs()?,
            ..Self::default()
        };
        for record in known.records() {
            if let Some(run) = state.run(record.last_run)? {
                if record.outcome != Outcome::Success {
                    history.tails.insert(run.id, tail(&run.log, LOG_TAIL_LINES));
                }
                history.runs.insert(run.id, run);
            }
        }
        Ok(history)
    }
}

/// The same plan `flow run` makes, read into the report.
fn collect_known(config: &Config, known: &Known, run_pid: Option<u32>, history: History) -> Report {
    let mut scan = plan::new_scan(config);
    let now = nanos_since_epoch(SystemTime::now());
    let plan = plan::plan(
        config,
        &mut scan,
        known,
        now,
        &std::collections::HashSet::new(),
        plan::Scope::Everything,
        plan::Keep::Every,
    );
    build(Inputs {
        config,
        plan,
        known,
        runs: history.runs,
        last_runs: history.last_runs,
        run_pid,
        generated_at: now_rfc3339(),
        tails: history.tails,
    })
}

/// The last `lines` lines of a log; an unreadable log gives none.
pub(crate) fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

pub(crate) fn build(inputs: Inputs<'_>) -> Report {
    let jobs = inputs
        .config
        .jobs
        .iter()
        .enumerate()
        .map(|(index, job)| {
            let items: Vec<ItemReport> = inputs
                .plan
                .items
                .iter()
                .filter(|planned| planned.item.job == index)
                .map(|planned| item_report(&inputs, &job.name, planned, job.retries))
                .collect();
            let mut counts = Counts::default();
            for item in &items {
                match item.status {
                    Status::Success => counts.success += 1,
                    Status::Preliminary => counts.preliminary += 1,
                    Status::Running => counts.running += 1,
                    Status::Error => counts.error += 1,
                }
            }
            JobReport {
                name: job.name.clone(),
                counts,
                last_run: inputs.last_runs.get(&job.name).map(RunView::of),
                items,
            }
        })
        .collect();
    Report {
        schema: SCHEMA,
        flow: inputs.config.dir.shown.display().to_string(),
        generated_at: inputs.generated_at.clone(),
        run_in_progress: inputs.run_pid.is_some(),
        run_pid: inputs.run_pid,
        state_bytes: Layout::new(&inputs.config.dir.path).bytes_used(),
        jobs,
    }
}

/// The status, the reason's word and the detail of an item.
struct Standing {
    status: Status,
    reason: &'static str,
    upstream: Vec<String>,
    detail: String,
}

impl Standing {
    fn new(status: Status, reason: &'static str, detail: String) -> Self {
        Self {
            status,
            reason,
            upstream: Vec::new(),
            detail,
        }
    }
}

/// `rerun`: `flow rerun` asked for the item, so a target it has is the
/// previous one, kept.
fn standing(
    entry: &Planned,
    run: Option<&RunRecord>,
    job: &str,
    retries: u32,
    rerun: bool,
) -> Standing {
    match &entry.decision {
        Decision::UpToDate => {
            Standing::new(Status::Success, "up_to_date", "target is up to date".into())
        }
        Decision::Run {
            reason: Reason::Retry,
            attempt,
        } => Standing::new(
            Status::Error,
            "retry",
            format!(
                "{}; attempt {attempt} of {retries} on the next run",
                failure(run)
            ),
        ),
        Decision::Run {
            reason: Reason::Rerun,
            attempt,
        } if run.is_some_and(|run| {
            run.outcome.counts_as_attempt() && run.outcome != Outcome::Success
        }) =>
        {
            Standing::new(
                Status::Error,
                "retry",
                format!(
                    "a rerun {}; the previous target is kept; attempt {attempt} of {retries} on the next run",
                    failure(run)
                ),
            )
        }
        Decision::GaveUp { attempts } => Standing::new(
            Status::Error,
            "gave_up",
            format!(
                "{}; gave up after {attempts} attempts: fix it, then `flow retry {job} {}`{}",
                failure(run),
                entry.item.id,
                if rerun {
                    "; the previous target is kept"
                } else {
                    ""
                }
            ),
        ),
        Decision::Run { reason, .. } => Standing::new(
            Status::Preliminary,
            "will_run",
            format!("will run: {}", reason.describe()),
        ),
        Decision::Upstream { jobs, paths } => Standing {
            status: Status::Preliminary,
            reason: "upstream",
            upstream: jobs.clone(),
            detail: format!(
                "waiting for upstream job {} to write {}",
                jobs.iter()
                    .map(|job| format!("`{job}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                paths.join(", ")
            ),
        },
        Decision::Settling(paths) => Standing::new(
            Status::Preliminary,
            "settling",
            format!("waiting for {} to settle", paths.join(", ")),
        ),
        Decision::MissingInput(path) => Standing::new(
            Status::Preliminary,
            "missing_input",
            format!("waiting for input {path}"),
        ),
        // nothing is known of its objects now: it stands as it last ended
        Decision::Unreachable(why) => {
            let status = match run.map(|run| run.outcome) {
                Some(Outcome::Success) => Status::Success,
                Some(outcome) if outcome.counts_as_attempt() => Status::Error,
                _ => Status::Preliminary,
            };
            Standing::new(status, "unreachable", why.clone())
        }
    }
}

fn item_report(inputs: &Inputs<'_>, job: &str, entry: &Planned, retries: u32) -> ItemReport {
    let record = inputs.known.record(job, &entry.item.id);
    let run = record.and_then(|record| inputs.runs.get(&record.last_run));
    let running =
        record.is_some_and(|record| record.outcome == Outcome::Running) && inputs.run_pid.is_some();
    let mut standing = if running {
        Standing::new(Status::Running, "running", "a run is in progress".into())
    } else {
        standing(
            entry,
            run,
            job,
            retries,
            record.is_some_and(|record| record.rerun),
        )
    };
    if let Some(why) = run.and_then(|run| run.hook_error.as_ref()) {
        standing.detail.push_str(&format!("; {why}"));
    }
    let log_tail = if standing.status == Status::Error {
        run.and_then(|run| inputs.tails.get(&run.id))
            .cloned()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    ItemReport {
        item: entry.item.id.clone(),
        status: standing.status,
        reason: standing.reason,
        upstream: standing.upstream,
        detail: standing.detail,
        inputs: entry
            .item
            .inputs
            .iter()
            .map(|(_, path)| path.clone())
            .collect(),
        target: entry.item.target.clone(),
        attempts: record.map_or(0, |record| record.attempts),
        retries,
        last_run: run.map(RunView::of),
        log_tail,
    }
}

fn failure(run: Option<&RunRecord>) -> String {
    let Some(run) = run else {
        return "failed".to_owned();
    };
    match (run.outcome, run.exit_code, run.signal) {
        (Outcome::NoOutput, ..) => "exited 0 without writing its output".to_owned(),
        (Outcome::TimedOut, ..) => "timed out".to_owned(),
        (Outcome::SpawnFailed, ..) => "could not be started".to_owned(),
        (_, Some(code), _) => format!("exited with code {code}"),
        (_, None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "failed".to_owned(),
    }
}

/// `flow status`: a table of jobs, then every item that is not a success.
pub(crate) fn render_text(report: &Report) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "job",
        "success",
        "preliminary",
        "running",
        "error",
        "last run",
    ]);
    for job in &report.jobs {
        table.add_row([
            job.name.clone(),
            job.counts.success.to_string(),
            job.counts.preliminary.to_string(),
            job.counts.running.to_string(),
            job.counts.error.to_string(),
            job.last_run
                .as_ref()
                .map_or_else(|| "never".to_owned(), RunView::summary),
        ]);
    }
    let progress = report.run_pid.map_or_else(String::new, |pid| {
        format!(" (a run is in progress, pid {pid})")
    });
    let mut out = format!(
        "flow {}{progress}\n{table}\nstate: {} in .flow/\n",
        report.flow,
        human_bytes(report.state_bytes)
    );
    for job in &report.jobs {
        for item in job
            .items
            .iter()
            .filter(|item| item.status != Status::Success)
        {
            let _ = writeln!(
                out,
                "\n{} {} {}: {}",
                item.status.as_str(),
                job.name,
                item.item,
                item.detail
            );
            if let Some(run) = &item.last_run {
                let _ = writeln!(
                    out,
                    "  attempts {} of {}, log {}",
                    item.attempts, item.retries, run.log
                );
            }
            for line in &item.log_tail {
                let _ = writeln!(out, "  | {line}");
            }
        }
    }
    out
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// `flow status --json`: the same model, pretty-printed.
pub(crate) fn render_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}
