//! Adoption of the Slurm jobs a dead host left running: a `kill -9` of
//! `flow` loses none of them. Runs recorded with a job id are followed by
//! it; a run recorded as submitting, without one, is looked up by the run id
//! in its job's comment (one `squeue`) and followed, or, never submitted,
//! recorded interrupted. The pass waits for the adopted jobs and records
//! their ends as it records its own, before it plans: they never run twice.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

use super::{Message, Pass, Started, discard, ended_with_upload, record_interrupted, reporter};
use crate::error::Error;
use crate::exec::{self, Running, SlurmExecutor};
use crate::plan::Item;
use crate::state::{ClusterJob, RunRecord};
use crate::storage::is_remote;
use crate::transfer::Transfers;

/// One adopted run: its job, how to follow it, and the item it is for.
struct Adopted {
    running: Box<dyn Running>,
    item: Item,
    started: Started,
}

impl Pass<'_> {
    /// Follows the Slurm runs a dead host left to their ends and records them.
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
        self.follow_adopted(adopted)
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
        Ok(Adopted {
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
                clock: Instant::now(),
                transfers,
            },
        })
    }

    /// Waits for every adopted job, recording each end as it comes.
    fn follow_adopted(&mut self, adopted: Vec<Adopted>) -> Result<(), Error> {
        let (done, ends) = mpsc::channel::<Message>();
        let mut items = HashMap::new();
        std::thread::scope(|scope| {
            for Adopted {
                running,
                item,
                started,
            } in adopted
            {
                let limits = self.limits(&self.config.jobs[item.job]);
                let (done, shutdown) = (done.clone(), self.shutdown);
                items.insert(started.run, item);
                scope.spawn(move || {
                    let mut report = reporter(started.run, &done);
                    let facts = exec::supervise(running, limits, shutdown, &mut report);
                    let _ = done.send(Message::Ended(Box::new(ended_with_upload(started, facts))));
                });
            }
            drop(done);
            for message in ends {
                match message {
                    Message::Progress { run, progress } => self.record_progress(run, progress)?,
                    Message::Ended(ended) => {
                        if let Some(item) = items.remove(&ended.started.run) {
                            self.settle(&item, *ended)?;
                        }
                    }
                }
            }
            Ok(())
        })
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
