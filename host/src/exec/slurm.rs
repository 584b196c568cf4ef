//! The Slurm executor: each run is a batch job on a cluster whose compute
//! nodes share the flow folder. A run's batch script (`script.rs`) runs the
//! job with the local argv and environment; `sbatch --parsable` submits it,
//! paced so that a backlog does not flood the controller, and again when the
//! controller did not answer (never twice: a job it took is found by its
//! comment); one poll loop
//! (`tracker.rs`) follows all of the flow's jobs; a signal from the
//! supervisor becomes a batched `scancel`. Jobs of a dead host are adopted
//! by their recorded ids ([`SlurmExecutor::adopt`]) or found by the run id
//! in their comment ([`SlurmExecutor::submitted`]).
//!
//! Knows nothing of state or staging: the run id comes from the job
//! contract's `FLOW_RUN_ID`, paths from [`Layout`].

mod commands;
mod script;
mod states;
mod tracker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Executor, Launch, Progress, Running};
use crate::config::SlurmOptions;
use crate::layout::Layout;
use crate::outcome::End;
use script::Submission;
use tracker::Tracker;

/// At most this many submissions a second: a backlog of thousands reaches
/// the controller as a steady stream, not a burst.
const SUBMIT_GAP: Duration = Duration::from_millis(100);

/// At most this many `sbatch` calls for one run, when the controller does
/// not answer (busy, restarting); then the run fails with the last error.
const SUBMIT_TRIES: u32 = 4;
/// The pause before the second try; longer by as much before each next.
const SUBMIT_PAUSE: Duration = Duration::from_secs(1);

/// How often a run's worker checks its job for the timeout and a shutdown:
/// Slurm's states change only at polls, seconds apart, and a hundred jobs
/// in flight checked as often as a local child would keep a core busy.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// The Slurm job name of every job of the flow in `dir`: `flow-` and a
/// stable hash of the folder, so that one `squeue --name` finds them all,
/// whichever host process submitted them.
fn flow_job_name(dir: &Path) -> String {
    // FNV-1a: stable across builds and Rust versions, unlike std's hasher
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in dir.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("flow-{:08x}", hash >> 32)
}

/// The comment of a run's job: its run id first, for [`run_of_comment`].
fn comment(launch: &Launch) -> String {
    let var = |name: &str| {
        launch
            .env
            .iter()
            .find(|(key, _)| *key == name)
            .map_or_else(String::new, |(_, value)| {
                value.to_string_lossy().into_owned()
            })
    };
    format!(
        "flow-run={} job={} item={} dir={}",
        var("FLOW_RUN_ID"),
        var("FLOW_JOB"),
        var("FLOW_ITEM"),
        launch.dir.display()
    )
}

/// The run id a job's comment names.
fn run_of_comment(comment: &str) -> Option<i64> {
    comment
        .strip_prefix("flow-run=")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Submits runs to Slurm and follows them.
pub(crate) struct SlurmExecutor {
    name: String,
    layout: Layout,
    options: SlurmOptions,
    tracker: Arc<Tracker>,
    poller: Option<JoinHandle<()>>,
    next_submission: Mutex<Instant>,
}

impl SlurmExecutor {
    /// An executor for the flow in `dir`, its poll loop started.
    pub(crate) fn new(dir: &Path, options: SlurmOptions) -> Self {
        let name = flow_job_name(dir);
        let tracker = Arc::new(Tracker::new(name.clone()));
        let looped = Arc::clone(&tracker);
        let poller = std::thread::Builder::new()
            .name("slurm-poll".into())
            .spawn(move || looped.run())
            .map_err(|error| tracing::error!(%error, "could not start the Slurm poll loop"))
            .ok();
        Self {
            name,
            layout: Layout::new(dir),
            options,
            tracker,
            poller,
            next_submission: Mutex::new(Instant::now()),
        }
    }

    /// Follows job `job_id` of run `run`, submitted by an earlier host.
    pub(crate) fn adopt(&self, run: i64, job_id: &str) -> Box<dyn Running> {
        self.follow(run, job_id.to_owned())
    }

    /// The job ids of the flow's jobs Slurm knows, by the run their
    /// comment names: one `squeue`, for runs recorded without a job id.
    pub(crate) fn submitted(&self) -> Result<HashMap<i64, String>, String> {
        let listed = commands::squeue(&self.name)?;
        Ok(listed
            .into_iter()
            .filter_map(|job| Some((run_of_comment(&job.comment)?, job.id)))
            .collect())
    }

    /// Cancels jobs found without a run to follow them.
    pub(crate) fn cancel_now(&self, job_ids: &[String]) -> Result<(), String> {
        commands::scancel(job_ids)
    }

    fn follow(&self, run: i64, job_id: String) -> Box<dyn Running> {
        self.tracker.track(&job_id, &self.layout.exit_file(run));
        Box::new(SlurmRun {
            tracker: Arc::clone(&self.tracker),
            job_id,
            files: [self.layout.batch_script(run), self.layout.exit_file(run)],
            last_state: None,
            reported: None,
            ended: false,
        })
    }

    /// `sbatch`, tried again while the controller does not answer, at most
    /// [`SUBMIT_TRIES`] times. A job the controller took before its answer
    /// was lost is found by the run id in its comment: no run is submitted
    /// twice.
    fn submit(&self, run: i64, args: &[std::ffi::OsString]) -> Result<String, String> {
        let mut tries = 1;
        loop {
            let why = match commands::sbatch(args) {
                Ok(job_id) => return Ok(job_id),
                Err(why) if tries < SUBMIT_TRIES && commands::transient(&why) => why,
                Err(why) if tries > 1 => return Err(format!("{why} ({tries} tries)")),
                Err(why) => return Err(why),
            };
            tracing::warn!(
                run,
                tries,
                "Slurm did not take the job, trying again: {why}"
            );
            std::thread::sleep(SUBMIT_PAUSE * tries);
            if let Some(job_id) = self
                .submitted()
                .ok()
                .and_then(|mut found| found.remove(&run))
            {
                return Ok(job_id);
            }
            tries += 1;
        }
    }

    /// Waits for this submission's turn, at most one per [`SUBMIT_GAP`].
    fn pace(&self) {
        let wait = {
            let mut next = self
                .next_submission
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + SUBMIT_GAP;
            at - now
        };
        std::thread::sleep(wait);
    }
}

impl Drop for SlurmExecutor {
    fn drop(&mut self) {
        self.tracker.close();
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
    }
}

impl Executor for SlurmExecutor {
    fn start(&self, launch: &Launch) -> Result<Box<dyn Running>, String> {
        let run: i64 = launch
            .env
            .iter()
            .find(|(name, _)| *name == "FLOW_RUN_ID")
            .and_then(|(_, value)| value.to_str()?.parse().ok())
            .ok_or("a Slurm run needs its FLOW_RUN_ID")?;
        // made here, so that why a submission failed has a log to go in
        std::fs::File::create(&launch.log)
            .map_err(|error| format!("cannot create log {}: {error}", launch.log.display()))?;
        let script_path = self.layout.batch_script(run);
        write_script(
            &script_path,
            &script::batch_script(launch, &self.layout.exit_file(run)),
        )?;
        let submission = Submission {
            name: &self.name,
            comment: &comment(launch),
            log: &launch.log,
            dir: &launch.dir,
            timeout: launch.timeout,
            script: &script_path,
        };
        self.pace();
        let job_id = self
            .submit(run, &script::sbatch_args(&submission, &self.options))
            .map_err(|why| {
                format!(
                    "could not submit to Slurm: {why}; hint: `scontrol ping` tells whether \
                     the controller answers, `sbatch` by hand why it refuses"
                )
            })?;
        Ok(self.follow(run, job_id))
    }
}

fn write_script(path: &Path, text: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let failed = |error: std::io::Error| {
        format!("cannot write the batch script {}: {error}", path.display())
    };
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(failed)
}

/// A run's job on the cluster.
struct SlurmRun {
    tracker: Arc<Tracker>,
    job_id: String,
    /// The batch script and the exit file, removed once the job ended.
    files: [std::path::PathBuf; 2],
    /// The state the job ended in.
    last_state: Option<String>,
    reported: Option<String>,
    ended: bool,
}

impl SlurmRun {
    fn state(&self) -> Option<String> {
        self.last_state
            .clone()
            .or_else(|| self.tracker.state(&self.job_id))
    }
}

impl Running for SlurmRun {
    fn wait(&mut self, wait: Duration) -> Option<End> {
        let (end, state) = self.tracker.wait(&self.job_id, wait)?;
        self.ended = true;
        if !state.is_empty() {
            self.last_state = Some(state);
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        Some(end)
    }

    /// Any signal is a cancellation: Slurm sends the job TERM, then KILL
    /// after its own grace. Nothing is left to signal once the job ended.
    fn signal(&mut self, _signal: Signal) {
        if !self.ended {
            self.tracker.cancel(&self.job_id);
        }
    }

    fn check_every(&self) -> Duration {
        CHECK_EVERY
    }

    fn under_way(&mut self) -> bool {
        self.state().is_some_and(|state| states::under_way(&state))
    }

    fn progress(&mut self) -> Option<Progress> {
        let state = self.state()?;
        if self.reported.as_deref() == Some(state.as_str()) {
            return None;
        }
        self.reported = Some(state.clone());
        Some(Progress {
            job_id: self.job_id.clone(),
            state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_stable_per_folder_and_comments_name_the_run() {
        let name = flow_job_name(Path::new("/data/flow"));
        assert_eq!(name, flow_job_name(Path::new("/data/flow")));
        assert_ne!(name, flow_job_name(Path::new("/data/flow2")));
        assert_eq!(name.len(), "flow-".len() + 8);
        let launch = Launch {
            program: "/bin/job".into(),
            args: Vec::new(),
            env: vec![
                ("FLOW_JOB", "stamp".into()),
                ("FLOW_ITEM", "a.csv".into()),
                ("FLOW_RUN_ID", "12".into()),
            ],
            dir: "/data/flow".into(),
            log: "/data/flow/.flow/logs/12.log".into(),
            timeout: Duration::from_secs(60),
        };
        let text = comment(&launch);
        assert_eq!(text, "flow-run=12 job=stamp item=a.csv dir=/data/flow");
        assert_eq!(run_of_comment(&text), Some(12));
        assert_eq!(run_of_comment("(null)"), None);
    }
}
