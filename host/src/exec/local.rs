//! The local executor: each run is a child process of `flow` in its own
//! process group, its stdout and stderr going straight to the run's log
//! file (never through a pipe, so a grandchild that keeps stdout open
//! cannot hang the host), signals sent to the whole group.

use std::fs::File;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{Executor, Launch, Running};
use crate::outcome::End;

/// Runs jobs as child processes of this host.
#[derive(Debug, Default)]
pub(crate) struct LocalExecutor;

impl Executor for LocalExecutor {
    fn start(&self, launch: &Launch) -> Result<Box<dyn Running>, String> {
        let log = File::create(&launch.log)
            .map_err(|error| format!("cannot create log {}: {error}", launch.log.display()))?;
        let (Ok(out), Ok(err)) = (log.try_clone(), log.try_clone()) else {
            return Err("cannot share the log file".into());
        };
        let mut expression = duct::cmd(&launch.program, &launch.args)
            .dir(&launch.dir)
            .stdin_null()
            .stdout_file(out)
            .stderr_file(err)
            .unchecked()
            .before_spawn(|command| {
                // its own group, so that timeouts and shutdown reach grandchildren
                command.process_group(0);
                Ok(())
            });
        for (name, value) in &launch.env {
            expression = expression.env(name, value);
        }
        let handle = expression
            .start()
            .map_err(|error| format!("cannot start {}: {error}", launch.program.display()))?;
        let pid = handle
            .pids()
            .first()
            .and_then(|&pid| i32::try_from(pid).ok())
            .ok_or("the job has no process id")?;
        Ok(Box::new(LocalRun {
            handle,
            group: ProcessGroup(Pid::from_raw(pid)),
        }))
    }
}

/// A job's process group: signals go to the group, never to one pid only.
#[derive(Debug, Clone, Copy)]
struct ProcessGroup(Pid);

impl ProcessGroup {
    /// Signals the group; a group that is already gone is not an error.
    fn signal(self, signal: Signal) {
        match killpg(self.0, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::warn!(group = self.0.as_raw(), %error, "could not signal job"),
        }
    }
}

struct LocalRun {
    handle: duct::Handle,
    group: ProcessGroup,
}

impl Running for LocalRun {
    fn wait(&mut self, wait: Duration) -> Option<End> {
        // duct's deadline wait wakes on the child's exit, not on a tick
        match self.handle.wait_timeout(wait) {
            Ok(Some(output)) => Some(match output.status.code() {
                Some(code) => End::Exited(code),
                None => End::Killed(output.status.signal().unwrap_or(0)),
            }),
            Ok(None) => None,
            Err(error) => Some(End::Lost(format!("lost track of the job process: {error}"))),
        }
    }

    fn signal(&mut self, signal: Signal) {
        self.group.signal(signal);
    }
}

/// Kills processes left by run `run_id` of the flow in `flow_dir` after the
/// host died. They are found by their `FLOW_RUN_ID` and `FLOW_DIR`, not by a
/// recorded pid, which the kernel may have given to an unrelated process since.
pub(crate) fn kill_orphans(run_id: i64, flow_dir: &Path) {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return;
    };
    let run_marker = format!("FLOW_RUN_ID={run_id}");
    let dir_marker = format!("FLOW_DIR={}", flow_dir.display());
    for entry in processes.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let (mut ours, mut here) = (false, false);
        for var in environ.split(|&byte| byte == 0) {
            ours |= var == run_marker.as_bytes();
            here |= var == dir_marker.as_bytes();
        }
        if ours && here {
            tracing::warn!(
                pid,
                run = run_id,
                "killing a job process left by a stopped flow"
            );
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}
