//! The `on_error` and `on_success` hooks: run once an item has ended (in
//! error after its last attempt, or with a promoted target), through the
//! same executor and supervision as a job, with a timeout of their own.
//!
//! A hook's output goes to the pass's log; its failure is returned for the
//! caller to record. Nothing here changes an item or the pass's outcome.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Hook;
use crate::exec::{self, Executor, Launch, Limits};
use crate::outcome::{self, Outcome};
use crate::signals::Shutdown;

/// How long a hook may run before it is stopped.
pub(crate) const HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    OnError,
    OnSuccess,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::OnError => "on_error",
            Self::OnSuccess => "on_success",
        }
    }
}

/// The run a hook is about, as its environment tells it.
pub(crate) struct Ended<'a> {
    pub(crate) job: &'a str,
    pub(crate) item: &'a str,
    pub(crate) run: i64,
    pub(crate) outcome: Outcome,
    pub(crate) exit_code: Option<i32>,
    pub(crate) attempts: u32,
    pub(crate) log: &'a Path,
    pub(crate) target: &'a Path,
}

/// Where and how hooks run.
pub(crate) struct Context<'a> {
    pub(crate) executor: &'a dyn Executor,
    pub(crate) shutdown: &'a Shutdown,
    pub(crate) dir: &'a Path,
    /// Where the hook's output is kept until it is copied to the pass's log.
    pub(crate) output: PathBuf,
    pub(crate) grace: Duration,
}

/// Runs `hook` for `ended` and waits for it; why it failed, if it did.
pub(crate) fn run(
    hook: &Hook,
    kind: Kind,
    ended: &Ended<'_>,
    context: &Context<'_>,
) -> Result<(), String> {
    let launch = Launch {
        program: hook.program.clone(),
        args: hook.args.iter().map(OsString::from).collect(),
        env: environment(ended, context.dir),
        dir: context.dir.to_path_buf(),
        log: context.output.clone(),
        timeout: HOOK_TIMEOUT,
    };
    let limits = Limits {
        timeout: HOOK_TIMEOUT,
        grace: context.grace,
    };
    let facts = exec::execute(context.executor, &launch, limits, context.shutdown);
    copy_to_pass_log(&context.output, kind, ended);
    let judged = outcome::classify(&facts, true);
    if judged == Outcome::Success {
        return Ok(());
    }
    let name = hook
        .program
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    Err(format!(
        "{} hook `{name}` {}",
        kind.as_str(),
        outcome::describe(&facts, judged, HOOK_TIMEOUT)
    ))
}

fn environment(ended: &Ended<'_>, dir: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("FLOW_JOB", ended.job.into()),
        ("FLOW_ITEM", ended.item.into()),
        ("FLOW_RUN_ID", ended.run.to_string().into()),
        ("FLOW_DIR", dir.into()),
        ("FLOW_OUTCOME", ended.outcome.as_str().into()),
        (
            "FLOW_EXIT_CODE",
            ended
                .exit_code
                .map_or_else(String::new, |code| code.to_string())
                .into(),
        ),
        ("FLOW_ATTEMPTS", ended.attempts.to_string().into()),
        ("FLOW_LOG", ended.log.into()),
        ("FLOW_TARGET", ended.target.into()),
    ]
}

/// Every line the hook printed, into the pass's log; the file then goes.
fn copy_to_pass_log(output: &Path, kind: Kind, ended: &Ended<'_>) {
    if let Ok(text) = std::fs::read_to_string(output) {
        for line in text.lines() {
            tracing::info!(
                hook = kind.as_str(),
                job = ended.job,
                item = ended.item,
                "{line}"
            );
        }
    }
    let _ = std::fs::remove_file(output);
}
