//! Adoption of the Slurm jobs a dead host left running: a `kill -9` of
//! `flow` loses none of them. Runs recorded with a job id are followed by
//! it; a run recorded as submitting, without one, is looked up by the run id
//! in its job's comment (one `squeue`) and followed, or, never submitted,
//! recorded interrupted. The adopted runs are in flight in the pass's first
//! round like its own: new items start beside them, within `parallel`, the
//! items downstream of them wait for their targets, and they never run
//! twice. Their timeouts count from their recorded starts.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::Scope;
use std::time::{Duration, Instant};

use super::{
    Board, Message, Pass, Started, discard, ended_with_upload, now_ns, priority,
    record_interrupted, reporter,
};
use crate::error::Error;
use crate::exec::{self, Running, SlurmExecutor};
use crate::plan::{self, Item};
use crate::scan::Scan;
use crate::state::{ClusterJob, RunRecord};
use crate::storage::is_remote;
use crate::transfer::Transfers;

/// One adopted run: its job, how to follow it, and the item it is for.
pub(super) struct Adopted {
    running: Box<dyn Running>,
    item: Item,
    started: Started,
    /// How long ago its run was recorded as started.
    age: Duration,
}

impl Adopted {
    /// Its entry on the round's board.
    pub(super) fn index(&self) -> usize {
        self.started.index
    }
}

impl<'a> Pass<'a> {
    /// Takes up the Slurm runs a dead host left, for the first round to
    /// follow to their ends.
    pub(super) fn adopt(&mut self, runs: Vec<RunRecord>) -> Result<(), Error> {
        let Some(slurm) = self.slurm else {
            return Ok(());
        };
        if runs.is_empty() {
            return Ok(());
        }
        let found = submitted_without_id(slurm, &runs);
        let mut adopted = Vec::new();
        for run in runs {
            let recorded = run.cluster.as_ref().and_then(|job| job.job_id.clone());
            let job_id = recorded.clone().or_else(|| found.get(&run.id).cloned());
            let job = self.config.jobs.iter().position(|job| job.name == run.job);
            match (job, job_id) {
                (Some(job), Some(job_id)) => {
                    if recorded.is_none() {
                        let known = ClusterJob {
                            job_id: Some(job_id.clone()),
                            state: "PENDING".to_owned(),
                        };
                        self.state.set_cluster(run.id, &known)?;
                    }
                    adopted.push(self.adopted(slurm, job, run, &job_id)?);
                }
                (None, Some(job_id)) => {
                    // its job is gone from flow.yaml: nobody would take its output
                    if let Err(why) = slurm.cancel_now(&[job_id]) {
                        tracing::warn!(run = run.id, "{why}");
                    }
                    discard(&run.staging);
                    record_interrupted(&self.state, &run)?;
                }
                (_, None) => {
                    discard(&run.staging);
                    record_interrupted(&self.state, &run)?;
                }
            }
        }
        tracing::info!(
            jobs = adopted.len(),
            "following Slurm jobs left by a stopped flow"
        );
        self.adopted = adopted;
        Ok(())
    }

    fn adopted(
        &self,
        slurm: &SlurmExecutor,
        job: usize,
        run: RunRecord,
        job_id: &str,
    ) -> Result<Adopted, Error> {
        let target = self
            .state
            .item(&run.job, &run.item)?
            .map(|record| record.target)
            .unwrap_or_default();
        // its inputs were fetched when it was submitted; an `s3://` target
        // is still to be uploaded once it succeeds
        let mut transfers = Transfers::new(self.layout.transfer(run.id));
        if is_remote(&target) {
            transfers.upload_to(&target);
        }
        let age = chrono::DateTime::parse_from_rfc3339(&run.started_at)
            .ok()
            .and_then(|at| (chrono::Utc::now() - at.to_utc()).to_std().ok())
            .unwrap_or_default();
        Ok(Adopted {
            age,
            running: slurm.adopt(run.id, job_id),
            item: Item {
                job,
                id: run.item,
                inputs: Vec::new(),
                target,
            },
            started: Started {
                index: 0,
                run: run.id,
                attempt: run.attempt,
                log: run.log,
                staging: run.staging,
                // its duration counts from its recorded start
                clock: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
                transfers,
            },
        })
    }

    /// The adopted runs, each given its entry on `board`: the plan's for
    /// its item (which is not started again), or one decided for it. They
    /// are marked run in this pass, so no later round starts them either.
    pub(super) fn place_adopted(&mut self, board: &mut Board, scan: &mut Scan) -> Vec<Adopted> {
        let mut adopted = std::mem::take(&mut self.adopted);
        for run in &mut adopted {
            let key = (run.item.job, run.item.id.clone());
            let planned = board
                .entries
                .iter()
                .position(|entry| entry.item.job == run.item.job && entry.item.id == run.item.id);
            run.started.index = planned.unwrap_or_else(|| {
                let item = run.item.clone();
                let now = now_ns();
                let decided =
                    plan::decide_item(self.config, item, scan, &self.known, &board.pending, now);
                board.entries.push(decided);
                board.entries.len() - 1
            });
            let index = run.started.index;
            board
                .ready
                .remove(&priority(self.config, index, &board.entries[index]));
            self.ran.insert(key);
        }
        adopted
    }

    /// Follows adopted run `run` on a worker of `scope`, as a run of the
    /// round, its timeout what is left of it since its recorded start.
    pub(super) fn follow_adopted<'scope>(
        &self,
        scope: &'scope Scope<'scope, '_>,
        run: Adopted,
        done: &mpsc::Sender<Message>,
    ) where
        'a: 'scope,
    {
        let Adopted {
            running,
            item,
            started,
            age,
        } = run;
        let mut limits = self.limits(&self.config.jobs[item.job]);
        limits.timeout = limits.timeout.saturating_sub(age);
        let (done, shutdown) = (done.clone(), self.shutdown);
        scope.spawn(move || {
            let mut report = reporter(started.run, &done);
            let facts = exec::supervise(running, limits, shutdown, &mut report);
            let _ = done.send(Message::Ended(Box::new(ended_with_upload(started, facts))));
        });
    }
}

/// The job ids of runs recorded without one, by their comments; none when
/// no such run or Slurm does not answer (those runs are then redone).
fn submitted_without_id(slurm: &SlurmExecutor, runs: &[RunRecord]) -> HashMap<i64, String> {
    let unknown = runs
        .iter()
        .any(|run| run.cluster.as_ref().is_some_and(|job| job.job_id.is_none()));
    if !unknown {
        return HashMap::new();
    }
    slurm.submitted().unwrap_or_else(|why| {
        tracing::warn!("could not look up jobs submitted by a stopped flow: {why}");
        HashMap::new()
    })
}
