//! The Slurm client commands flow calls, each one process per call over
//! all the jobs it concerns: `sbatch --parsable`, `squeue` for every job of
//! the flow, `sacct` for the jobs `squeue` no longer knows and `scontrol
//! show job` for those neither knows, `scancel` in batches. They are found on PATH, as a user's shell finds them. The
//! parsing of their output is pure and tested on what Slurm prints.

use std::ffi::OsString;
use std::process::{Command, Output};

/// Jobs cancelled by one `scancel`: a long list stays one call per batch.
const CANCEL_BATCH: usize = 200;

/// One job as `squeue` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) id: String,
    pub(crate) state: String,
    pub(crate) comment: String,
}

fn run(program: &str, args: &[OsString]) -> Result<Output, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run `{program}`: {error}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "`{program}` failed ({}): {}",
            output.status,
            stderr.trim()
        ))
    }
}

/// Submits; the job id.
pub(crate) fn sbatch(args: &[OsString]) -> Result<String, String> {
    let output = run("sbatch", args)?;
    parse_parsable(&String::from_utf8_lossy(&output.stdout))
}

/// Whether a failed call's error says the controller did not answer (it
/// is busy or restarting), not that it refused: worth another try.
pub(crate) fn transient(error: &str) -> bool {
    const UNANSWERED: [&str; 5] = [
        "timed out",
        "unable to contact slurm controller",
        "temporarily unavailable",
        "connection refused",
        "zero bytes were transmitted",
    ];
    let error = error.to_ascii_lowercase();
    UNANSWERED.iter().any(|words| error.contains(words))
}

/// Every job named `name`, in every state Slurm still remembers.
pub(crate) fn squeue(name: &str) -> Result<Vec<Listed>, String> {
    let args: Vec<OsString> = vec![
        "-h".into(),
        "-t".into(),
        "all".into(),
        format!("--name={name}").into(),
        "-o".into(),
        "%i|%T|%k".into(),
    ];
    let output = run("squeue", &args)?;
    Ok(parse_listing(&String::from_utf8_lossy(&output.stdout)))
}

/// The states accounting recorded for `ids`; an error where the cluster
/// keeps no accounting.
pub(crate) fn sacct(ids: &[String]) -> Result<Vec<(String, String)>, String> {
    let args: Vec<OsString> = vec![
        "-X".into(),
        "-P".into(),
        "-n".into(),
        "-o".into(),
        "JobID,State".into(),
        "-j".into(),
        ids.join(",").into(),
    ];
    let output = run("sacct", &args)?;
    Ok(parse_accounting(&String::from_utf8_lossy(&output.stdout)))
}

/// The states of every job the controller holds, by `scontrol -o show
/// job` (it takes one id or none, so one call lists them all): the last
/// word on jobs that neither `squeue` nor `sacct` lists.
pub(crate) fn scontrol_jobs() -> Result<Vec<(String, String)>, String> {
    let args: Vec<OsString> = vec!["-o".into(), "show".into(), "job".into()];
    let output = run("scontrol", &args)?;
    Ok(parse_job_records(&String::from_utf8_lossy(&output.stdout)))
}

/// Cancels `ids`, a batch of them per call.
pub(crate) fn scancel(ids: &[String]) -> Result<(), String> {
    for batch in ids.chunks(CANCEL_BATCH) {
        let args: Vec<OsString> = batch.iter().map(OsString::from).collect();
        run("scancel", &args)?;
    }
    Ok(())
}

/// `123` or `123;cluster`, as `sbatch --parsable` prints it.
fn parse_parsable(stdout: &str) -> Result<String, String> {
    let id = stdout.trim().split(';').next().unwrap_or("").trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        Ok(id.to_owned())
    } else {
        Err(format!("sbatch printed no job id: `{}`", stdout.trim()))
    }
}

/// Lines `id|state|comment`; the comment, last, may itself hold `|`.
fn parse_listing(stdout: &str) -> Vec<Listed> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '|');
            let id = fields.next()?.trim();
            let state = fields.next()?.trim();
            let comment = fields.next().unwrap_or("").trim();
            (!id.is_empty()).then(|| Listed {
                id: id.to_owned(),
                state: state.to_owned(),
                comment: comment.to_owned(),
            })
        })
        .collect()
}

/// Lines `id|state` of `sacct -X -P -n -o JobID,State`.
fn parse_accounting(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (id, state) = line.split_once('|')?;
            Some((id.trim().to_owned(), state.trim().to_owned()))
        })
        .collect()
}

/// Lines of `Key=value` words, one a job, as `scontrol -o show job`
/// prints them; `No jobs in the system` has none.
fn parse_job_records(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let value = |key: &str| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
            };
            Some((value("JobId")?.to_owned(), value("JobState")?.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_commands_print() {
        assert_eq!(parse_parsable("42\n"), Ok("42".to_owned()));
        assert_eq!(parse_parsable("42;cluster\n"), Ok("42".to_owned()));
        assert!(parse_parsable("Submitted batch job 42").is_err());
        assert_eq!(
            parse_listing("1|FAILED|flow-run=1 a|b\n2|RUNNING|(null)\n\n"),
            [
                Listed {
                    id: "1".into(),
                    state: "FAILED".into(),
                    comment: "flow-run=1 a|b".into()
                },
                Listed {
                    id: "2".into(),
                    state: "RUNNING".into(),
                    comment: "(null)".into()
                }
            ]
        );
        assert_eq!(
            parse_accounting("7|CANCELLED by 0\n8|COMPLETED\n"),
            [
                ("7".to_owned(), "CANCELLED by 0".to_owned()),
                ("8".to_owned(), "COMPLETED".to_owned())
            ]
        );
        let shown = "JobId=48 JobName=flow-3c6773c2 UserId=root(0) JobState=COMPLETED \
                     Reason=None ExitCode=0:0 Comment=flow-run=1 job=work\n\
                     JobId=49 ArrayJobId=49 JobName=x JobState=RUNNING Reason=None\n";
        assert_eq!(
            parse_job_records(shown),
            [
                ("48".to_owned(), "COMPLETED".to_owned()),
                ("49".to_owned(), "RUNNING".to_owned())
            ]
        );
        assert!(parse_job_records("No jobs in the system\n").is_empty());
        assert!(transient(
            "`sbatch` failed (exit status: 1): sbatch: error: Batch job submission failed: \
             Socket timed out on send/recv operation"
        ));
        assert!(transient(
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller \
             (connect failure)"
        ));
        assert!(!transient(
            "sbatch: error: Batch job submission failed: Invalid account or account/partition \
             combination specified"
        ));
    }
}
