//! End-to-end tests: the real `flow` binary on temporary flow folders with
//! fake jobs written as shell scripts, and on the shipped sample flow with
//! the real jobs. One binary, a module per command.

mod check;
mod docker;
mod graph;
mod init;
mod logs;
mod operations;
mod plan;
mod retry;
mod run;
mod s3;
mod sample_flow;
mod serve;
mod slurm;
mod status;
mod watch;

use flow_tests::Flow;

/// The sample flow's shape with the copying fake job at every stage.
pub const CHAIN: &str = "settle: 0s
parallel: 2
jobs:
  - name: merge
    run: ./jobs/copy.sh
    source: zscored/{name}_A.{ext}
    inputs:
      right: timestamped/{name}_B.{ext}
    target: merged/{name}.{ext}
  - name: timestamp
    run: ./jobs/copy.sh
    source: source
    target: timestamped
  - name: zscore
    run: ./jobs/copy.sh
    source: timestamped/{name}_A.{ext}
    target: zscored/{name}_A.{ext}
";

/// Three stages of the copying fake job: `in` -> `s1` -> `s2` -> `s3`.
pub const THREE_STAGES: &str = "settle: 0s
jobs:
  - name: s1
    run: ./jobs/copy.sh
    source: in
    target: s1
  - name: s2
    run: ./jobs/copy.sh
    source: s1
    target: s2
  - name: s3
    run: ./jobs/copy.sh
    source: s2
    target: s3
";

/// A chain flow with one pair of inputs, `X_A.txt` and `X_B.txt`.
pub fn chain() -> Flow {
    Flow::new()
        .yaml(CHAIN)
        .job("jobs/copy.sh", "")
        .file("source/X_A.txt", "left X\n")
        .file("source/X_B.txt", "right X\n")
}

/// A one-job flow `work: in -> out` with `job.sh` running `before` first.
pub fn single(settings: &str, before: &str) -> Flow {
    Flow::new()
        .yaml(&format!(
            "{settings}
jobs:
  - name: work
    run: ./job.sh
    source: in
    target: out
"
        ))
        .job("job.sh", before)
}
