//! `/metrics` in the Prometheus text format (version 0.0.4): items by job
//! and status, run durations as a histogram per job, the time of each
//! job's last success, the Slurm job and state of each item's last run on
//! a cluster, and whether a run holds the lock.
//!
//! Pure: renders numbers it is handed; the queries are in `state.rs`.

use std::fmt::Write as _;

use crate::state::DurationStats;
use crate::status::Report;

/// Bucket bounds of the duration histogram, in milliseconds: jobs of this
/// kind take from a fraction of a second to the default one-hour timeout.
pub(crate) const BUCKETS_MS: [u64; 13] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000,
    3_600_000,
];

/// What the state adds to the report.
pub(crate) struct History {
    pub(crate) durations: Vec<DurationStats>,
    /// Job and RFC 3339 end time of its last successful run.
    pub(crate) last_successes: Vec<(String, String)>,
}

pub(crate) fn render(report: &Report, history: &History) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "flow_items",
        "gauge",
        "Items of each job by status, as `flow status` counts them.",
    );
    for job in &report.jobs {
        let counts = &job.counts;
        for (status, count) in [
            ("success", counts.success),
            ("preliminary", counts.preliminary),
            ("running", counts.running),
            ("error", counts.error),
        ] {
            let _ = writeln!(
                out,
                "flow_items{{job=\"{}\",status=\"{status}\"}} {count}",
                label(&job.name)
            );
        }
    }
    durations(&mut out, &history.durations);
    header(
        &mut out,
        "flow_last_success_timestamp_seconds",
        "gauge",
        "Unix time at which the job's last successful run ended.",
    );
    for (job, ended_at) in &history.last_successes {
        if let Ok(time) = chrono::DateTime::parse_from_rfc3339(ended_at) {
            let seconds = seconds(time.timestamp_millis());
            let _ = writeln!(
                out,
                "flow_last_success_timestamp_seconds{{job=\"{}\"}} {seconds}",
                label(job)
            );
        }
    }
    slurm_jobs(&mut out, report);
    header(
        &mut out,
        "flow_run_in_progress",
        "gauge",
        "1 while a `flow run` holds the run lock.",
    );
    let _ = writeln!(
        out,
        "flow_run_in_progress {}",
        u8::from(report.run_in_progress)
    );
    header(
        &mut out,
        "flow_state_bytes",
        "gauge",
        "Bytes used by the flow's .flow/ folder: state database and run logs.",
    );
    let _ = writeln!(out, "flow_state_bytes {}", report.state_bytes);
    out
}

/// One series per item whose last run went to Slurm: its job id and state.
fn slurm_jobs(out: &mut String, report: &Report) {
    header(
        out,
        "flow_slurm_job_info",
        "gauge",
        "1 for each item's last run on Slurm, labelled with its job id and Slurm state.",
    );
    for job in &report.jobs {
        for item in &job.items {
            let Some(run) = &item.last_run else { continue };
            let (Some(job_id), Some(state)) = (&run.executor.job_id, &run.executor.state) else {
                continue;
            };
            let _ = writeln!(
                out,
                "flow_slurm_job_info{{job=\"{}\",item=\"{}\",job_id=\"{}\",state=\"{}\"}} 1",
                label(&job.name),
                label(&item.item),
                label(job_id),
                label(state)
            );
        }
    }
}

fn durations(out: &mut String, stats: &[DurationStats]) {
    header(
        out,
        "flow_run_duration_seconds",
        "histogram",
        "Wall time of finished job runs.",
    );
    for job in stats {
        let name = label(&job.job);
        for (bound, count) in BUCKETS_MS.iter().zip(&job.buckets) {
            let le = seconds(i64::try_from(*bound).unwrap_or(i64::MAX));
            let _ = writeln!(
                out,
                "flow_run_duration_seconds_bucket{{job=\"{name}\",le=\"{le}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "flow_run_duration_seconds_bucket{{job=\"{name}\",le=\"+Inf\"}} {}",
            job.count
        );
        let sum = seconds(i64::try_from(job.sum_ms).unwrap_or(i64::MAX));
        let _ = writeln!(out, "flow_run_duration_seconds_sum{{job=\"{name}\"}} {sum}");
        let _ = writeln!(
            out,
            "flow_run_duration_seconds_count{{job=\"{name}\"}} {}",
            job.count
        );
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Milliseconds as seconds, printed without a trailing `.0`.
fn seconds(ms: i64) -> String {
    let whole = ms / 1000;
    let frac = (ms % 1000).abs();
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// A label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Counts, JobReport};

    #[test]
    fn renders_items_histogram_and_last_success() {
        let report = Report {
            schema: 1,
            flow: "f".into(),
            generated_at: "t".into(),
            run_in_progress: false,
            run_pid: None,
            state_bytes: 4096,
            jobs: vec![JobReport {
                name: "zscore".into(),
                counts: Counts {
                    success: 2,
                    preliminary: 0,
                    running: 0,
                    error: 1,
                },
                last_run: None,
                items: Vec::new(),
            }],
        };
        let history = History {
            durations: vec![DurationStats {
                job: "zscore".into(),
                buckets: vec![1; BUCKETS_MS.len()],
                count: 3,
                sum_ms: 4_250,
            }],
            last_successes: vec![("zscore".into(), "2026-11-22T04:12:40.500Z".into())],
        };
        let text = render(&report, &history);
        for line in [
            "flow_items{job=\"zscore\",status=\"error\"} 1",
            "flow_run_duration_seconds_bucket{job=\"zscore\",le=\"0.25\"} 1",
            "flow_run_duration_seconds_bucket{job=\"zscore\",le=\"+Inf\"} 3",
            "flow_run_duration_seconds_sum{job=\"zscore\"} 4.25",
            "flow_last_success_timestamp_seconds{job=\"zscore\"} 1795320760.5",
            "flow_run_in_progress 0",
            "flow_state_bytes 4096",
        ] {
            assert!(text.lines().any(|got| got == line), "{line}\n{text}");
        }
    }
}
