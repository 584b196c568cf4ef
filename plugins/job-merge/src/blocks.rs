//! Whole records of a CSV file handed out in blocks to two worker threads,
//! their results taken back in file order: the streaming merge's per-value
//! work (parsing and writing numbers and timestamps) then runs on both
//! cores while one thread reads and writes the files.
//!
//! Owns the threads and the order only; what a block turns into is the
//! caller's. A block is a run of records, each ending in `\n` (line ends
//! are normalised; quoted line breaks stay as they are), read again by
//! [`Records`].

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, TryRecvError, channel, sync_channel};
use std::sync::{Arc, Mutex};

use table_io::append::Records;

/// Bytes of records per block.
const BLOCK: usize = 1 << 20;
/// Threads that work on blocks.
const WORKERS: usize = 2;
/// Blocks read ahead of the workers.
const AHEAD: usize = 2 * WORKERS;

/// What a run of blocks ended in.
pub enum Ended<E> {
    /// Every block was worked and taken.
    Done,
    /// A worker could not work a block (`None` from `work`).
    Refused,
    /// Reading failed, or `take` did.
    Failed(E),
}

/// Reads the rest of `records` in blocks, runs `work` (with per-thread state
/// from `init`) on each on the worker threads, and hands the results to
/// `take` in file order.
pub fn run<R, S, T, E>(
    records: &mut Records<R>,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &[u8]) -> Option<T> + Sync,
    mut take: impl FnMut(T) -> Result<(), E>,
    read_error: impl Fn(std::io::Error) -> E,
) -> Ended<E>
where
    R: Read,
    T: Send,
{
    std::thread::scope(|scope| {
        let (jobs, queue) = sync_channel::<(usize, Vec<u8>)>(AHEAD);
        let queue = Arc::new(Mutex::new(queue));
        let (results, done) = channel::<(usize, Option<T>)>();
        for _ in 0..WORKERS {
            let (queue, results) = (Arc::clone(&queue), results.clone());
            let (init, work) = (&init, &work);
            scope.spawn(move || {
                let mut state = init();
                while let Some((number, block)) = next_job(&queue) {
                    if results.send((number, work(&mut state, &block))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        let mut order = InOrder::default();
        let mut sent = 0;
        let mut block = Vec::with_capacity(BLOCK + BLOCK / 8);
        loop {
            match records.next_record() {
                Ok(Some((record, _))) => {
                    block.extend_from_slice(record.bytes());
                    block.push(b'\n');
                    if block.len() < BLOCK {
                        continue;
                    }
                }
                Ok(None) => break,
                Err(cause) => return Ended::Failed(read_error(cause)),
            }
            let full = std::mem::replace(&mut block, Vec::with_capacity(BLOCK + BLOCK / 8));
            if jobs.send((sent, full)).is_err() {
                return Ended::Refused;
            }
            sent += 1;
            if let Some(ended) = order.drain(&done, &mut take, false) {
                return ended;
            }
        }
        if !block.is_empty() && jobs.send((sent, block)).is_ok() {
            sent += 1;
        }
        drop(jobs);
        while order.next < sent {
            if let Some(ended) = order.drain(&done, &mut take, true) {
                return ended;
            }
        }
        Ended::Done
    })
}

fn next_job(queue: &Mutex<Receiver<(usize, Vec<u8>)>>) -> Option<(usize, Vec<u8>)> {
    queue.lock().ok()?.recv().ok()
}

/// Results that came back early, held until their turn.
struct InOrder<T> {
    next: usize,
    early: BTreeMap<usize, Option<T>>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        Self {
            next: 0,
            early: BTreeMap::new(),
        }
    }
}

impl<T> InOrder<T> {
    /// Takes the results that are ready (waiting for one if `wait`) and
    /// hands those whose turn it is to `take`; `Some` when the run ends.
    fn drain<E>(
        &mut self,
        done: &Receiver<(usize, Option<T>)>,
        take: &mut impl FnMut(T) -> Result<(), E>,
        wait: bool,
    ) -> Option<Ended<E>> {
        let first = if wait {
            done.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            done.try_recv()
        };
        if matches!(first, Err(TryRecvError::Disconnected)) {
            // Every worker is gone and a block's result never came.
            return Some(Ended::Refused);
        }
        let mut received = first;
        while let Ok((number, result)) = received {
            self.early.insert(number, result);
            received = done.try_recv();
        }
        while let Some(result) = self.early.remove(&self.next) {
            self.next += 1;
            match result.map(&mut *take) {
                Some(Ok(())) => {}
                Some(Err(error)) => return Some(Ended::Failed(error)),
                None => return Some(Ended::Refused),
            }
        }
        None
    }
}
