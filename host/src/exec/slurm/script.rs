//! The batch script of one run and the `sbatch` options that submit it.
//! The script runs the job with exactly the local argv and `FLOW_*`
//! environment, stdin from /dev/null, and writes its exit code to the exit
//! file by a rename. Pure: builds bytes and words, writes nothing.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::time::Duration;

use super::super::Launch;
use crate::config::SlurmOptions;

/// `text` quoted for a POSIX shell: between single quotes, each `'` as `'\''`.
fn quote(text: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::with_capacity(text.len() + 2);
    quoted.push(b'\'');
    for &byte in text {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// The batch script for `launch`, writing the exit code to `exit_file`.
pub(crate) fn batch_script(launch: &Launch, exit_file: &Path) -> Vec<u8> {
    let mut script =
        b"#!/bin/sh\n# written by flow for one run; sbatch runs it on a compute node\n".to_vec();
    for (name, value) in &launch.env {
        script.extend_from_slice(b"export ");
        script.extend_from_slice(name.as_bytes());
        script.push(b'=');
        script.extend(quote(value.as_bytes()));
        script.push(b'\n');
    }
    script.extend(quote(launch.program.as_os_str().as_bytes()));
    for arg in &launch.args {
        script.push(b' ');
        script.extend(quote(arg.as_bytes()));
    }
    script.extend_from_slice(b" </dev/null\ncode=$?\n");
    // written beside, then renamed: a reader sees the whole code or none
    let exit = quote(exit_file.as_os_str().as_bytes());
    let mut partial = exit_file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = quote(partial.as_bytes());
    script.extend_from_slice(b"printf '%s\\n' \"$code\" >");
    script.extend(partial.iter().copied());
    script.extend_from_slice(b" && mv -f ");
    script.extend(partial);
    script.push(b' ');
    script.extend(exit);
    script.extend_from_slice(b"\nexit \"$code\"\n");
    script
}

/// Slurm's `--time` in whole minutes: the timeout rounded up, plus one, so
/// that the host's own timeout (which Slurm would enforce late) comes first.
pub(crate) fn time_limit_minutes(timeout: Duration) -> u64 {
    timeout.as_secs().div_ceil(60) + 1
}

/// What one `sbatch` is given: who the job is, where its log goes, and the
/// flow's `slurm:` options.
pub(crate) struct Submission<'a> {
    pub(crate) name: &'a str,
    pub(crate) comment: &'a str,
    pub(crate) log: &'a Path,
    pub(crate) dir: &'a Path,
    pub(crate) timeout: Duration,
    pub(crate) script: &'a Path,
}

/// The arguments of `sbatch` for `submission`.
pub(crate) fn sbatch_args(submission: &Submission<'_>, options: &SlurmOptions) -> Vec<OsString> {
    let path = |flag: &str, path: &Path| {
        let mut word = OsString::from(flag);
        word.push(path.as_os_str());
        word
    };
    let mut args: Vec<OsString> = vec![
        "--parsable".into(),
        format!("--job-name={}", submission.name).into(),
        format!("--comment={}", submission.comment).into(),
        path("--output=", submission.log),
        path("--chdir=", submission.dir),
        format!("--time={}", time_limit_minutes(submission.timeout)).into(),
        "--no-requeue".into(),
    ];
    let named = [
        ("--partition=", options.partition.as_ref()),
        ("--account=", options.account.as_ref()),
        ("--mem=", options.mem.as_ref()),
    ];
    for (flag, value) in named {
        if let Some(value) = value {
            args.push(format!("{flag}{value}").into());
        }
    }
    if let Some(cpus) = options.cpus {
        args.push(format!("--cpus-per-task={cpus}").into());
    }
    args.extend(options.args.iter().map(OsString::from));
    args.push(submission.script.as_os_str().to_owned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_script_runs_the_local_argv_and_writes_the_exit_code_by_a_rename() {
        let launch = Launch {
            program: PathBuf::from("/bin/job"),
            args: vec!["--input".into(), "/f/it's.csv".into()],
            env: vec![("FLOW_RUN_ID", "7".into())],
            dir: PathBuf::from("/f"),
            log: PathBuf::from("/f/.flow/logs/7.log"),
            timeout: Duration::from_secs(60),
        };
        let script = batch_script(&launch, Path::new("/f/.flow/slurm/7.exit"));
        let script = String::from_utf8_lossy(&script);
        let expected = "#!/bin/sh
# written by flow for one run; sbatch runs it on a compute node
export FLOW_RUN_ID='7'
'/bin/job' '--input' '/f/it'\\''s.csv' </dev/null
code=$?
printf '%s\\n' \"$code\" >'/f/.flow/slurm/7.exit.partial' && mv -f '/f/.flow/slurm/7.exit.partial' '/f/.flow/slurm/7.exit'
exit \"$code\"
";
        assert_eq!(script, expected);
    }

    #[test]
    fn sbatch_gets_identity_log_time_and_the_slurm_block() {
        let options = SlurmOptions {
            partition: Some("batch".into()),
            account: None,
            cpus: Some(2),
            mem: Some("2G".into()),
            args: vec!["--qos=normal".into()],
        };
        let submission = Submission {
            name: "flow-abc",
            comment: "flow-run=7",
            log: Path::new("/f/7.log"),
            dir: Path::new("/f"),
            timeout: Duration::from_secs(90),
            script: Path::new("/f/7.sh"),
        };
        let args: Vec<String> = sbatch_args(&submission, &options)
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--parsable",
                "--job-name=flow-abc",
                "--comment=flow-run=7",
                "--output=/f/7.log",
                "--chdir=/f",
                "--time=3",
                "--no-requeue",
                "--partition=batch",
                "--mem=2G",
                "--cpus-per-task=2",
                "--qos=normal",
                "/f/7.sh"
            ]
        );
    }
}
