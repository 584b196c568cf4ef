//! Runs one job process: argv and `FLOW_*` environment, output into the run's
//! log, its own process group, and the timeout and shutdown escalation
//! (TERM or the forwarded signal → grace → KILL on the whole group).
//!
//! Returns how the process ended; knows nothing of state, staging or items.
//! Output goes straight to a log file, never through a pipe, so a grandchild
//! that keeps stdout open cannot hang the host.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::signals::{Kill, Shutdown, signal_for};

/// How often a running job is checked for timeout and shutdown. Its exit is
/// not polled: the wait returns as soon as the child exits (duct's deadline
/// wait wakes on SIGCHLD), so a short job costs no idle tick.
const POLL: Duration = Duration::from_millis(20);

/// Everything needed to start one run.
pub(crate) struct Spawn {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(&'static str, OsString)>,
    pub(crate) dir: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
}

/// How a job process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
    /// Killed past `timeout`, by this signal (TERM, or KILL after grace).
    TimedOut {
        signal: Option<i32>,
    },
    /// Stopped because `flow` was asked to stop.
    Interrupted {
        signal: Option<i32>,
    },
    SpawnFailed(String),
}

/// A job's process group: signals go to the group, never to one pid only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcessGroup(Pid);

impl ProcessGroup {
    /// Signals the group; a group that is already gone is not an error.
    pub(crate) fn signal(self, signal: Signal) {
        match killpg(self.0, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::warn!(group = self.0.as_raw(), %error, "could not signal job"),
        }
    }
}

/// Runs `spawn` to its end; `started` gets the pid (= process group id).
pub(crate) fn execute(spawn: &Spawn, shutdown: &Shutdown, started: impl FnOnce(u32)) -> Exit {
    let mut log = match File::create(&spawn.log) {
        Ok(log) => log,
        Err(error) => {
            return Exit::SpawnFailed(format!(
                "cannot create log {}: {error}",
                spawn.log.display()
            ));
        }
    };
    let exit = run(spawn, shutdown, started, &log);
    let _ = writeln!(log, "[flow] {}", describe(&exit, spawn.timeout));
    exit
}

fn run(spawn: &Spawn, shutdown: &Shutdown, started: impl FnOnce(u32), log: &File) -> Exit {
    let (Ok(out), Ok(err)) = (log.try_clone(), log.try_clone()) else {
        return Exit::SpawnFailed("cannot share the log file".into());
    };
    let mut expression = duct::cmd(&spawn.program, &spawn.args)
        .dir(&spawn.dir)
        .stdin_null()
        .stdout_file(out)
        .stderr_file(err)
        .unchecked()
        .before_spawn(|command| {
            // its own group, so that timeouts and shutdown reach grandchildren
            command.process_group(0);
            Ok(())
        });
    for (name, value) in &spawn.env {
        expression = expression.env(name, value);
    }
    let handle = match expression.start() {
        Ok(handle) => handle,
        Err(error) => {
            return Exit::SpawnFailed(format!("cannot start {}: {error}", spawn.program.display()));
        }
    };
    let Some(&pid) = handle.pids().first() else {
        return Exit::SpawnFailed("the job has no process id".into());
    };
    started(pid);
    let group = ProcessGroup(Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)));
    let deadline = Instant::now() + spawn.timeout;
    // a signal that came while this job was being started is forwarded too
    let mut seen = 0;
    let mut timed_out = false;
    let mut interrupted = false;
    let mut kill_at: Option<Instant> = None;
    let mut last_signal: Option<i32> = None;
    // the first look does not wait: a signal that came during the spawn is
    // forwarded at once
    let mut wait = Duration::ZERO;
    let status = loop {
        match handle.wait_timeout(wait) {
            Ok(Some(output)) => break Some(output.status),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "lost track of a job process");
                break None;
            }
        }
        let now = Instant::now();
        let count = shutdown.count();
        let mut send = None;
        if count > seen {
            seen = count;
            interrupted = true;
            if let Some(signal) = shutdown.signal() {
                send = Some(signal_for(Kill::Forwarded { signal, count }));
            }
        } else if !timed_out && !interrupted && now >= deadline {
            timed_out = true;
            send = Some(signal_for(Kill::Timeout));
        } else if kill_at.is_some_and(|at| now >= at) {
            kill_at = None;
            send = Some(signal_for(Kill::GraceOver));
        }
        if let Some(signal) = send {
            group.signal(signal);
            last_signal = Some(signal as i32);
            if signal != Signal::SIGKILL && kill_at.is_none() {
                kill_at = Some(now + spawn.grace);
            }
        }
        wait = POLL;
    };
    // the main process is gone; whatever it left in its group would be an orphan
    group.signal(signal_for(Kill::Leftovers));
    let code = status.and_then(|status| status.code());
    let signal = status.and_then(|status| status.signal()).or(last_signal);
    match (timed_out, interrupted, code) {
        (true, _, _) => Exit::TimedOut { signal },
        (false, true, Some(0)) => Exit::Code(0),
        (false, true, _) => Exit::Interrupted { signal },
        (false, false, Some(code)) => Exit::Code(code),
        (false, false, None) => Exit::Signal(signal.unwrap_or(0)),
    }
}

fn signal_name(signal: i32) -> String {
    Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned())
}

/// One line for the log and the status: what happened to the process.
pub(crate) fn describe(exit: &Exit, timeout: Duration) -> String {
    match exit {
        Exit::Code(code) => format!("exited with code {code}"),
        Exit::Signal(signal) => format!("killed by {}", signal_name(*signal)),
        Exit::TimedOut { signal } => format!(
            "timed out after {}; process group stopped with {}",
            humantime::format_duration(timeout),
            signal.map_or_else(|| "a signal".to_owned(), signal_name)
        ),
        Exit::Interrupted { signal } => format!(
            "interrupted: flow was stopped{}",
            signal.map_or_else(String::new, |s| format!(
                " ({} sent to the job)",
                signal_name(s)
            ))
        ),
        Exit::SpawnFailed(message) => message.clone(),
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
        let mut vars = environ.split(|&byte| byte == 0);
        let (mut ours, mut here) = (false, false);
        for var in &mut vars {
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
