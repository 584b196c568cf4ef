//! The one poll loop for all of a flow's Slurm jobs: each poll is one
//! `squeue` over the flow's job name (plus one `sacct` for the jobs `squeue`
//! forgot, where accounting answers, and one `scontrol show job` for those
//! neither lists), never a call per job. It polls every
//! [`POLL_MIN`] while states change and backs off to [`POLL_MAX`] while
//! they do not; cancellations asked for meanwhile go out as one `scancel`.
//!
//! Runs wait on the [`Tracker`] for their job's end; the loop is the only
//! caller of `squeue`, `sacct`, `scontrol` and `scancel`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::commands;
use super::states::{self, Judged};
use crate::outcome::End;

/// Between polls while something changes.
const POLL_MIN: Duration = Duration::from_secs(2);
/// Between polls at most, after a long while without change.
const POLL_MAX: Duration = Duration::from_secs(15);
/// How long cancellations are gathered before one `scancel` sends them:
/// a Ctrl-C reaches every run within a few milliseconds.
const CANCEL_GATHER: Duration = Duration::from_millis(100);
/// How long an ended job may lack its exit file (a shared file system
/// shows it late), or a job be missing from Slurm, before it counts as lost.
const EXIT_GRACE: Duration = Duration::from_secs(15);
/// The state shown for a job `sbatch` accepted but no poll has seen yet.
const SUBMITTED: &str = "PENDING";

/// One job followed by the loop.
struct Tracked {
    exit_file: PathBuf,
    /// What Slurm last said, as it said it.
    state: String,
    end: Option<End>,
    /// Since when it has waited for its exit file or been missing.
    waiting_since: Option<Instant>,
}

#[derive(Default)]
struct Book {
    jobs: HashMap<String, Tracked>,
    cancels: Vec<String>,
    interval: Duration,
    /// Whether `sacct` answers; unknown until it is first needed.
    accounting: Option<bool>,
    closed: bool,
}

/// The jobs of one flow on the cluster, and what is known of each.
pub(crate) struct Tracker {
    name: String,
    book: Mutex<Book>,
    /// Signalled when a poll has updated the jobs.
    polled: Condvar,
    /// Signalled for the loop: a cancellation, or closing.
    wake: Condvar,
}

impl Tracker {
    /// A tracker for the jobs named `name`.
    pub(crate) fn new(name: String) -> Self {
        Self {
            name,
            book: Mutex::new(Book {
                interval: POLL_MIN,
                ..Book::default()
            }),
            polled: Condvar::new(),
            wake: Condvar::new(),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // a panicked poll leaves the book as consistent as before it
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Follows job `id`, whose script writes `exit_file`.
    pub(crate) fn track(&self, id: &str, exit_file: &Path) {
        let mut book = self.book();
        book.jobs.insert(
            id.to_owned(),
            Tracked {
                exit_file: exit_file.to_path_buf(),
                state: SUBMITTED.to_owned(),
                end: None,
                waiting_since: None,
            },
        );
        book.interval = POLL_MIN;
        // an idle loop sleeps until it is given a job
        self.wake.notify_one();
    }

    /// Job `id`'s last known state.
    pub(crate) fn state(&self, id: &str) -> Option<String> {
        self.book().jobs.get(id).map(|job| job.state.clone())
    }

    /// Waits up to `wait` for job `id` to end; once it has, its end and
    /// last state, and the job is no longer followed.
    pub(crate) fn wait(&self, id: &str, wait: Duration) -> Option<(End, String)> {
        let mut book = self.book();
        if book.jobs.get(id).is_some_and(|job| job.end.is_none()) {
            book = self
                .polled
                .wait_timeout(book, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        match book.jobs.get(id) {
            Some(Tracked { end: Some(_), .. }) => {
                let job = book.jobs.remove(id)?;
                job.end.map(|end| (end, job.state))
            }
            Some(_) => None,
            None => Some((
                End::Lost("flow stopped following the job".into()),
                String::new(),
            )),
        }
    }

    /// Asks the loop to cancel job `id`, with whatever else it is asked.
    pub(crate) fn cancel(&self, id: &str) {
        let mut book = self.book();
        if !book.cancels.iter().any(|queued| queued == id) {
            book.cancels.push(id.to_owned());
        }
        self.wake.notify_one();
    }

    /// Ends the loop.
    pub(crate) fn close(&self) {
        self.book().closed = true;
        self.wake.notify_all();
    }

    /// The loop: runs until [`Tracker::close`].
    pub(crate) fn run(&self) {
        while let Some(cancels) = self.next_turn() {
            if !cancels.is_empty() {
                if let Err(why) = commands::scancel(&cancels) {
                    tracing::warn!(jobs = cancels.len(), "could not cancel Slurm jobs: {why}");
                }
                self.book().interval = POLL_MIN;
                continue;
            }
            let changed = self.poll();
            let mut book = self.book();
            book.interval = if changed {
                POLL_MIN
            } else {
                (book.interval * 3 / 2).min(POLL_MAX)
            };
            drop(book);
            self.polled.notify_all();
        }
    }

    /// Waits for the next thing to do: cancellations to send (gathered a
    /// moment), or an empty list when the interval is over and jobs are
    /// followed; `None` once closed.
    fn next_turn(&self) -> Option<Vec<String>> {
        let began = Instant::now();
        let mut book = self.book();
        loop {
            if book.closed {
                return None;
            }
            if !book.cancels.is_empty() {
                drop(book);
                std::thread::sleep(CANCEL_GATHER);
                return Some(std::mem::take(&mut self.book().cancels));
            }
            let elapsed = began.elapsed();
            if !book.jobs.is_empty() && elapsed >= book.interval {
                return Some(Vec::new());
            }
            let left = if book.jobs.is_empty() {
                POLL_MAX
            } else {
                book.interval - elapsed
            };
            book = self
                .wake
                .wait_timeout(book, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// One poll: one `squeue`, and `sacct` for the jobs it no longer lists.
    /// Whether any job's state changed.
    fn poll(&self) -> bool {
        let live: Vec<String> = {
            let book = self.book();
            let ids = book.jobs.iter().filter(|(_, job)| job.end.is_none());
            ids.map(|(id, _)| id.clone()).collect()
        };
        if live.is_empty() {
            return false;
        }
        let Some(seen) = self.states_of(&live) else {
            return false;
        };
        tracing::debug!(jobs = live.len(), listed = seen.len(), "polled Slurm");
        let now = Instant::now();
        let mut book = self.book();
        let mut changed = false;
        for id in &live {
            let Some(job) = book.jobs.get_mut(id) else {
                continue;
            };
            changed |= update(job, seen.get(id).map(String::as_str), now);
        }
        changed
    }

    /// What Slurm says of the `live` jobs: one `squeue` over the flow's
    /// name; for the jobs it does not list, `sacct` where accounting
    /// answers, then one `scontrol show job` (a job renamed, or `squeue`
    /// failing). `None` when Slurm could not be asked at all: no job is
    /// then taken for gone.
    fn states_of(&self, live: &[String]) -> Option<HashMap<String, String>> {
        let listed = commands::squeue(&self.name);
        let squeue_answered = listed.is_ok();
        let mut seen: HashMap<String, String> = match listed {
            Ok(listed) => listed.into_iter().map(|job| (job.id, job.state)).collect(),
            Err(why) => {
                tracing::warn!("could not list the flow's Slurm jobs: {why}");
                HashMap::new()
            }
        };
        let unlisted = |seen: &HashMap<String, String>| -> Vec<String> {
            let missing = live.iter().filter(|id| !seen.contains_key(*id));
            missing.cloned().collect()
        };
        let missing = unlisted(&seen);
        if missing.is_empty() {
            return Some(seen);
        }
        seen.extend(self.accounted(&missing));
        let missing = unlisted(&seen);
        if missing.is_empty() {
            return Some(seen);
        }
        match commands::scontrol_jobs() {
            Ok(jobs) => seen.extend(jobs.into_iter().filter(|(id, _)| missing.contains(id))),
            Err(why) if !squeue_answered => {
                tracing::warn!("could not ask Slurm about the flow's jobs: {why}");
                return None;
            }
            Err(why) => tracing::debug!("`scontrol show job` did not answer: {why}"),
        }
        Some(seen)
    }

    /// The states accounting holds for `ids`, where the cluster keeps it.
    fn accounted(&self, ids: &[String]) -> Vec<(String, String)> {
        if self.book().accounting == Some(false) {
            return Vec::new();
        }
        let answer = commands::sacct(ids);
        self.book().accounting = Some(answer.is_ok());
        answer.unwrap_or_else(|why| {
            tracing::debug!(
                "no Slurm accounting, jobs gone from squeue are judged by their exit files: {why}"
            );
            Vec::new()
        })
    }
}

/// The exit code the job's script wrote, if the file is there.
fn read_exit_code(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Applies what a poll saw of `job` (its state, `None` when Slurm no
/// longer knows it); whether anything changed.
fn update(job: &mut Tracked, state: Option<&str>, now: Instant) -> bool {
    let before = job.state.clone();
    if let Some(state) = state {
        job.state = state.to_owned();
    }
    let needs_exit = state.is_none_or(states::ended_by_exit);
    let exit_code = if needs_exit {
        read_exit_code(&job.exit_file)
    } else {
        None
    };
    job.end = decide(state, exit_code, &mut job.waiting_since, now);
    job.end.is_some() || before != job.state
}

/// A job's end from its state (`None`: gone from Slurm) and exit code;
/// `None` while it runs or waits, at most [`EXIT_GRACE`], for its exit file.
fn decide(
    state: Option<&str>,
    exit_code: Option<i32>,
    waiting_since: &mut Option<Instant>,
    now: Instant,
) -> Option<End> {
    let judged = match state {
        Some(state) => states::judge(state, exit_code),
        None => match exit_code {
            Some(code) => Judged::Ended(End::Exited(code)),
            None => Judged::AwaitingExitFile,
        },
    };
    match judged {
        Judged::Live => {
            *waiting_since = None;
            None
        }
        Judged::Ended(end) => Some(end),
        Judged::AwaitingExitFile => {
            let since = *waiting_since.get_or_insert(now);
            if now.duration_since(since) < EXIT_GRACE {
                return None;
            }
            Some(match state {
                Some(state) => states::without_exit_file(state),
                None => End::Lost("the job is gone from Slurm and left no exit code".into()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_without_exit_file_waits_the_grace_then_is_lost_never_a_success() {
        let start = Instant::now();
        let mut since = None;
        assert_eq!(decide(Some("RUNNING"), None, &mut since, start), None);
        assert_eq!(decide(Some("COMPLETED"), None, &mut since, start), None);
        assert_eq!(since, Some(start));
        let late = start + EXIT_GRACE;
        assert!(matches!(
            decide(Some("COMPLETED"), None, &mut since, late),
            Some(End::Lost(_))
        ));
        let mut since = None;
        assert_eq!(decide(None, None, &mut since, start), None);
        assert!(matches!(
            decide(None, None, &mut since, late),
            Some(End::Lost(_))
        ));
        let mut since = None;
        assert_eq!(
            decide(None, Some(0), &mut since, start),
            Some(End::Exited(0))
        );
        assert_eq!(
            decide(Some("COMPLETED"), Some(0), &mut since, start),
            Some(End::Exited(0))
        );
    }
}
