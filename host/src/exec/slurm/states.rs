//! What a Slurm job state means for a run: still going, or ended and how.
//! States are matched by their first word, so `CANCELLED by 0` (as sacct
//! writes it) is `CANCELLED`. Pure; the tracker feeds it what it read.

use crate::outcome::{ClusterStop, End};

/// A job's state read together with its exit-code file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Queued or running.
    Live,
    /// Ended; how.
    Ended(End),
    /// Ended by the job's own exit, whose code is not readable yet: a
    /// shared file system may show the exit file a little later.
    AwaitingExitFile,
}

/// The state's first word, upper case: `CANCELLED by 0` → `CANCELLED`.
pub(crate) fn base(state: &str) -> &str {
    state.split_whitespace().next().unwrap_or("")
}

/// Whether a job in `state` has started running (its timeout counts).
pub(crate) fn under_way(state: &str) -> bool {
    !matches!(
        base(state),
        "" | "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
    )
}

/// Whether a job in `state` ended by its own exit, whose code is in the
/// exit file.
pub(crate) fn ended_by_exit(state: &str) -> bool {
    matches!(base(state), "COMPLETED" | "FAILED")
}

/// What `state` and the exit code the job's script wrote (if it did) say.
pub(crate) fn judge(state: &str, exit_code: Option<i32>) -> Judged {
    let cluster = |stop| {
        Judged::Ended(End::Cluster {
            stop,
            state: base(state).to_owned(),
        })
    };
    if ended_by_exit(state) {
        return exit_code.map_or(Judged::AwaitingExitFile, |code| {
            Judged::Ended(End::Exited(code))
        });
    }
    match base(state) {
        "TIMEOUT" | "DEADLINE" => cluster(ClusterStop::TimeLimit),
        "OUT_OF_MEMORY" => cluster(ClusterStop::OutOfMemory),
        "NODE_FAIL" | "BOOT_FAIL" | "PREEMPTED" | "REVOKED" => cluster(ClusterStop::NodeLost),
        "CANCELLED" => cluster(ClusterStop::Cancelled),
        // PENDING, RUNNING, CONFIGURING, COMPLETING, SUSPENDED, REQUEUED,
        // RESIZING, SIGNALING, STAGE_OUT, STOPPED and any newer state
        _ => Judged::Live,
    }
}

/// What a job that waited too long for its exit file ended as: a script
/// that failed before writing it, or a completion that cannot be trusted.
pub(crate) fn without_exit_file(state: &str) -> End {
    if base(state) == "FAILED" {
        End::Cluster {
            stop: ClusterStop::Failed,
            state: "FAILED".to_owned(),
        }
    } else {
        End::Lost(format!(
            "Slurm reports the job {} but its script left no exit code",
            base(state)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(stop: ClusterStop, state: &str) -> Judged {
        Judged::Ended(End::Cluster {
            stop,
            state: state.to_owned(),
        })
    }

    #[test]
    fn every_state_has_its_meaning() {
        let cases = [
            ("PENDING", None, Judged::Live),
            ("RUNNING", None, Judged::Live),
            ("CONFIGURING", None, Judged::Live),
            ("COMPLETING", None, Judged::Live),
            ("SUSPENDED", None, Judged::Live),
            ("REQUEUED", None, Judged::Live),
            ("SOMETHING_NEW", None, Judged::Live),
            ("COMPLETED", Some(0), Judged::Ended(End::Exited(0))),
            ("COMPLETED", None, Judged::AwaitingExitFile),
            ("FAILED", Some(3), Judged::Ended(End::Exited(3))),
            ("FAILED", None, Judged::AwaitingExitFile),
            ("TIMEOUT", None, ended(ClusterStop::TimeLimit, "TIMEOUT")),
            ("DEADLINE", None, ended(ClusterStop::TimeLimit, "DEADLINE")),
            (
                "OUT_OF_MEMORY",
                Some(137),
                ended(ClusterStop::OutOfMemory, "OUT_OF_MEMORY"),
            ),
            ("NODE_FAIL", None, ended(ClusterStop::NodeLost, "NODE_FAIL")),
            ("BOOT_FAIL", None, ended(ClusterStop::NodeLost, "BOOT_FAIL")),
            ("PREEMPTED", None, ended(ClusterStop::NodeLost, "PREEMPTED")),
            ("REVOKED", None, ended(ClusterStop::NodeLost, "REVOKED")),
            (
                "CANCELLED",
                None,
                ended(ClusterStop::Cancelled, "CANCELLED"),
            ),
            (
                "CANCELLED by 0",
                None,
                ended(ClusterStop::Cancelled, "CANCELLED"),
            ),
        ];
        for (state, code, expected) in cases {
            assert_eq!(judge(state, code), expected, "{state} {code:?}");
        }
    }

    #[test]
    fn queued_jobs_are_not_under_way_and_a_missing_exit_file_is_never_success() {
        assert!(!under_way("PENDING"));
        assert!(under_way("RUNNING"));
        assert!(under_way("CANCELLED by 0"));
        assert!(matches!(
            without_exit_file("FAILED"),
            End::Cluster {
                stop: ClusterStop::Failed,
                ..
            }
        ));
        assert!(matches!(without_exit_file("COMPLETED"), End::Lost(_)));
    }
}
