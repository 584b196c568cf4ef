//! Where a run happens, behind one small interface: an [`Executor`] starts
//! a [`Launch`] and hands back a [`Running`] run that can be waited on and
//! signalled. [`supervise`] drives any of them through the timeout and the
//! shutdown escalation (TERM or the forwarded signal → grace → KILL) and
//! returns the raw [`Facts`]; judging them is `outcome.rs`'s job.
//!
//! Knows nothing of state, staging or items. The local executor, a child
//! process in its own process group, lives in `exec/local.rs`; the Slurm
//! executor, a batch job on a cluster, in `exec/slurm.rs`.

mod local;
mod slurm;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::outcome::{End, Facts};
use crate::signals::{Kill, Shutdown, signal_for};
pub(crate) use local::{LocalExecutor, kill_orphans};
pub(crate) use slurm::SlurmExecutor;

/// How often a running job is checked for timeout and shutdown. Its exit
/// is not polled: a local wait returns as soon as the child exits.
const POLL: Duration = Duration::from_millis(20);

/// Everything needed to start one run: the job contract's argv and
/// environment, where it runs and where its output goes.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(&'static str, OsString)>,
    pub(crate) dir: PathBuf,
    pub(crate) log: PathBuf,
    /// The run's timeout, which a cluster is told as the job's time limit.
    pub(crate) timeout: Duration,
}

/// Starts runs somewhere: a local process, a cluster job.
pub(crate) trait Executor: Sync {
    /// Starts `launch`; why not, when it cannot be started.
    fn start(&self, launch: &Launch) -> Result<Box<dyn Running>, String>;
}

/// A started run.
pub(crate) trait Running: Send {
    /// Waits up to `wait` for the run to end: `Some` once it has.
    fn wait(&mut self, wait: Duration) -> Option<End>;
    /// Sends `signal` to everything the run started.
    fn signal(&mut self, signal: Signal);
    /// Whether the run is under way; a cluster job waiting in its queue is
    /// not, and its timeout starts only once it runs.
    fn under_way(&mut self) -> bool {
        true
    }
    /// What changed since the last call: a cluster job's id and state.
    fn progress(&mut self) -> Option<Progress> {
        None
    }
    /// How often the run is checked for its timeout and a shutdown.
    fn check_every(&self) -> Duration {
        POLL
    }
}

/// A cluster job's id and the state the cluster last reported for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) job_id: String,
    pub(crate) state: String,
}

/// The limits a run is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
}

/// Starts `launch` and follows it to its end.
pub(crate) fn execute(
    executor: &dyn Executor,
    launch: &Launch,
    limits: Limits,
    shutdown: &Shutdown,
) -> Facts {
    execute_reporting(executor, launch, limits, shutdown, &mut |_| {})
}

/// [`execute`], handing every [`Progress`] of the run to `report`.
pub(crate) fn execute_reporting(
    executor: &dyn Executor,
    launch: &Launch,
    limits: Limits,
    shutdown: &Shutdown,
    report: &mut dyn FnMut(Progress),
) -> Facts {
    match executor.start(launch) {
        Ok(running) => supervise(running, limits, shutdown, report),
        Err(why) => Facts {
            end: End::NotStarted(why),
            timed_out: false,
            stopped: false,
            signal_sent: None,
        },
    }
}

/// Follows `running` to its end: past its timeout it is sent TERM, on a
/// shutdown signal that signal (a second one escalates), and KILL once the
/// grace period is over; what is left of it after its end is killed too.
pub(crate) fn supervise(
    mut running: Box<dyn Running>,
    limits: Limits,
    shutdown: &Shutdown,
    report: &mut dyn FnMut(Progress),
) -> Facts {
    let mut deadline: Option<Instant> = None;
    let mut facts = Facts {
        end: End::Lost(String::new()),
        timed_out: false,
        stopped: false,
        signal_sent: None,
    };
    let mut seen = 0;
    let mut kill_at: Option<Instant> = None;
    // the first look does not wait: a signal that came during the start is
    // forwarded at once
    let mut wait = Duration::ZERO;
    facts.end = loop {
        if let Some(progress) = running.progress() {
            report(progress);
        }
        if let Some(end) = running.wait(wait) {
            break end;
        }
        wait = running.check_every();
        let now = Instant::now();
        if deadline.is_none() && running.under_way() {
            deadline = Some(now + limits.timeout);
        }
        let count = shutdown.count();
        let send = if count > seen {
            seen = count;
            facts.stopped = true;
            shutdown
                .signal()
                .map(|signal| signal_for(Kill::Forwarded { signal, count }))
        } else if !facts.timed_out && !facts.stopped && deadline.is_some_and(|at| now >= at) {
            facts.timed_out = true;
            Some(signal_for(Kill::Timeout))
        } else if kill_at.is_some_and(|at| now >= at) {
            kill_at = None;
            Some(signal_for(Kill::GraceOver))
        } else {
            None
        };
        if let Some(signal) = send {
            running.signal(signal);
            facts.signal_sent = Some(signal as i32);
            if signal != Signal::SIGKILL && kill_at.is_none() {
                kill_at = Some(now + limits.grace);
            }
        }
    };
    if let Some(progress) = running.progress() {
        report(progress);
    }
    // the main process is gone; whatever it left behind would be an orphan
    running.signal(signal_for(Kill::Leftovers));
    facts
}
