//! How a run ended: the raw facts an executor hands back, the one pure
//! function that turns them into an [`Outcome`], and the line that says so
//! in the run's log and the status.
//!
//! Knows nothing of processes, files or SQL; `state.rs` stores outcomes.

use std::time::Duration;

use nix::sys::signal::Signal;

/// How a run ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Running,
    Success,
    /// Exited non-zero.
    Failed,
    /// Exited 0 without writing its output.
    NoOutput,
    TimedOut,
    /// Killed by a signal nobody in the host sent.
    Signaled,
    /// Stopped because `flow` was stopped (signal, or `kill -9` of the host).
    Interrupted,
    SpawnFailed,
    /// The executor lost track of the run: it ended without telling how.
    Lost,
}

impl Outcome {
    /// Every outcome, for tests that must cover them all.
    pub(crate) const ALL: [Self; 9] = [
        Self::Running,
        Self::Success,
        Self::Failed,
        Self::NoOutput,
        Self::TimedOut,
        Self::Signaled,
        Self::Interrupted,
        Self::SpawnFailed,
        Self::Lost,
    ];

    /// The name shown in the status, the JSON and the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::NoOutput => "no_output",
            Self::TimedOut => "timeout",
            Self::Signaled => "signal",
            Self::Interrupted => "interrupted",
            Self::SpawnFailed => "spawn_failed",
            Self::Lost => "lost",
        }
    }

    /// The outcome named `text`; `None` for a name no version wrote.
    pub(crate) fn from_name(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }

    /// Whether the run counts against `retries`; an interruption is the
    /// host's doing, not the item's.
    pub(crate) fn counts_as_attempt(self) -> bool {
        !matches!(self, Self::Interrupted | Self::Running)
    }
}

/// How the run's process (or cluster job) ended, as the executor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    Exited(i32),
    Killed(i32),
    /// It could not be started; why.
    NotStarted(String),
    /// The executor lost track of it; why.
    Lost(String),
    /// A cluster ended the job for a reason of its own, in the state it
    /// reported (`OUT_OF_MEMORY`, `NODE_FAIL`...).
    Cluster {
        stop: ClusterStop,
        state: String,
    },
}

/// Why a cluster ended a job itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClusterStop {
    /// Its time limit passed.
    TimeLimit,
    /// It used more memory than it asked for.
    OutOfMemory,
    /// Its node failed or it was preempted: not the job's doing.
    NodeLost,
    /// Someone cancelled it (the facts say whether this host did).
    Cancelled,
    /// It failed without writing its exit code: the batch script failed.
    Failed,
}

/// Everything known about a finished run, before it is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) end: End,
    /// The host stopped it for passing its timeout.
    pub(crate) timed_out: bool,
    /// The host stopped it because `flow` itself was asked to stop.
    pub(crate) stopped: bool,
    /// The last signal the host sent its process group.
    pub(crate) signal_sent: Option<i32>,
}

impl Facts {
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match self.end {
            End::Exited(code) => Some(code),
            _ => None,
        }
    }

    pub(crate) fn signal(&self) -> Option<i32> {
        match self.end {
            End::Killed(signal) => Some(signal),
            _ => self.signal_sent.filter(|_| self.timed_out || self.stopped),
        }
    }
}

/// The outcome of a run from its facts and whether its staging output
/// exists. A job that finished its work (exit 0 and an output) succeeded
/// even if a shutdown signal reached it; one that stopped cleanly on that
/// signal without an output was interrupted, which costs no attempt.
pub(crate) fn classify(facts: &Facts, output: bool) -> Outcome {
    match (&facts.end, facts.timed_out, facts.stopped) {
        (End::NotStarted(_), ..) => Outcome::SpawnFailed,
        (_, true, _) => Outcome::TimedOut,
        (End::Exited(0), _, _) if output => Outcome::Success,
        (_, _, true) => Outcome::Interrupted,
        (End::Exited(0), ..) => Outcome::NoOutput,
        (End::Exited(_), ..) => Outcome::Failed,
        (End::Killed(_), ..) => Outcome::Signaled,
        (End::Lost(_), ..) => Outcome::Lost,
        (End::Cluster { stop, .. }, ..) => match stop {
            ClusterStop::TimeLimit => Outcome::TimedOut,
            ClusterStop::OutOfMemory | ClusterStop::Failed => Outcome::Failed,
            ClusterStop::NodeLost => Outcome::Interrupted,
            ClusterStop::Cancelled => Outcome::Signaled,
        },
    }
}

/// What a cluster's own end of a job means, for the log and the status.
fn describe_cluster(stop: ClusterStop, state: &str) -> String {
    match stop {
        ClusterStop::TimeLimit => {
            format!("timed out: Slurm ended the job at its time limit ({state})")
        }
        ClusterStop::OutOfMemory => format!(
            "out of memory: Slurm ended the job for using more than its `slurm.mem` ({state})"
        ),
        ClusterStop::NodeLost => format!(
            "interrupted: Slurm lost the job's node or preempted it ({state}); it will run again"
        ),
        ClusterStop::Cancelled => format!("cancelled outside flow ({state})"),
        ClusterStop::Failed => {
            format!("failed before the job could report its exit code ({state})")
        }
    }
}

fn signal_name(signal: i32) -> String {
    Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned())
}

/// One line for the log and the status: what happened to the run.
pub(crate) fn describe(facts: &Facts, outcome: Outcome, timeout: Duration) -> String {
    let sent = facts
        .signal_sent
        .map_or_else(|| "a signal".to_owned(), signal_name);
    match (outcome, &facts.end) {
        (Outcome::SpawnFailed, End::NotStarted(why)) => why.clone(),
        (_, End::Cluster { stop, state }) if !facts.timed_out && !facts.stopped => {
            describe_cluster(*stop, state)
        }
        (Outcome::TimedOut, _) => format!(
            "timed out after {}; process group stopped with {sent}",
            humantime::format_duration(timeout)
        ),
        (Outcome::Interrupted, _) => format!(
            "interrupted: flow was stopped{}",
            facts.signal_sent.map_or_else(String::new, |s| format!(
                " ({} sent to the job)",
                signal_name(s)
            ))
        ),
        (Outcome::NoOutput, _) => {
            "exited with code 0 but wrote nothing at its --output path: counted as an error"
                .to_owned()
        }
        (_, End::Exited(code)) => format!("exited with code {code}"),
        (_, End::Killed(signal)) => format!("killed by {}", signal_name(*signal)),
        (_, End::Lost(why) | End::NotStarted(why)) => format!("lost: {why}"),
        (_, End::Cluster { stop, state }) => describe_cluster(*stop, state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(end: End, timed_out: bool, stopped: bool) -> Facts {
        Facts {
            end,
            timed_out,
            stopped,
            signal_sent: (timed_out || stopped).then_some(15),
        }
    }

    #[test]
    fn every_case_of_the_facts_has_its_outcome() {
        use End::{Cluster, Exited, Killed, Lost, NotStarted};
        let cluster = |stop| {
            facts(
                Cluster {
                    stop,
                    state: "X".into(),
                },
                false,
                false,
            )
        };
        let cases = [
            (facts(Exited(0), false, false), true, Outcome::Success),
            (facts(Exited(0), false, false), false, Outcome::NoOutput),
            (facts(Exited(3), false, false), false, Outcome::Failed),
            (facts(Exited(3), false, false), true, Outcome::Failed),
            (facts(Killed(9), false, false), false, Outcome::Signaled),
            (facts(Killed(15), true, false), false, Outcome::TimedOut),
            (facts(Exited(0), true, false), true, Outcome::TimedOut),
            (facts(Exited(0), false, true), true, Outcome::Success),
            (facts(Exited(0), false, true), false, Outcome::Interrupted),
            (facts(Exited(130), false, true), false, Outcome::Interrupted),
            (facts(Killed(2), false, true), false, Outcome::Interrupted),
            (
                facts(NotStarted("no".into()), false, false),
                false,
                Outcome::SpawnFailed,
            ),
            (
                facts(Lost("gone".into()), false, false),
                false,
                Outcome::Lost,
            ),
            (cluster(ClusterStop::TimeLimit), false, Outcome::TimedOut),
            (cluster(ClusterStop::OutOfMemory), false, Outcome::Failed),
            (cluster(ClusterStop::Failed), false, Outcome::Failed),
            (cluster(ClusterStop::NodeLost), false, Outcome::Interrupted),
            (cluster(ClusterStop::Cancelled), false, Outcome::Signaled),
            (
                facts(
                    Cluster {
                        stop: ClusterStop::Cancelled,
                        state: "CANCELLED".into(),
                    },
                    true,
                    false,
                ),
                false,
                Outcome::TimedOut,
            ),
            (
                facts(
                    Cluster {
                        stop: ClusterStop::Cancelled,
                        state: "CANCELLED".into(),
                    },
                    false,
                    true,
                ),
                false,
                Outcome::Interrupted,
            ),
        ];
        for (facts, output, expected) in cases {
            assert_eq!(
                classify(&facts, output),
                expected,
                "{facts:?}, output {output}"
            );
        }
    }

    #[test]
    fn the_log_line_follows_the_outcome() {
        let minute = Duration::from_secs(60);
        let stopped = facts(End::Exited(0), false, true);
        let outcome = classify(&stopped, false);
        assert_eq!(
            describe(&stopped, outcome, minute),
            "interrupted: flow was stopped (SIGTERM sent to the job)"
        );
        let timed_out = facts(End::Killed(15), true, false);
        assert_eq!(
            describe(&timed_out, classify(&timed_out, false), minute),
            "timed out after 1m; process group stopped with SIGTERM"
        );
        let failed = facts(End::Exited(3), false, false);
        assert_eq!(
            describe(&failed, Outcome::Failed, minute),
            "exited with code 3"
        );
        let oom = facts(
            End::Cluster {
                stop: ClusterStop::OutOfMemory,
                state: "OUT_OF_MEMORY".into(),
            },
            false,
            false,
        );
        assert_eq!(
            describe(&oom, classify(&oom, false), minute),
            "out of memory: Slurm ended the job for using more than its `slurm.mem` (OUT_OF_MEMORY)"
        );
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_none() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_name(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::from_name("exploded"), None);
    }
}
