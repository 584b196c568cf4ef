//! Whole records of a CSV file handed out in blocks to two worker threads,
//! their results taken back in file order: the streaming merge's per-value
//! work (parsing and writing numbers and timestamps) then runs on both
//! cores while one thread reads and writes the files. A file that fits in
//! one read is worked on the calling thread, with no thread started.
//!
//! Owns the threads and the order only; what a block turns into is the
//! caller's. A block is a run of whole records as the file holds them
//! (line ends as they are, the last record of the file with or without
//! one), cut where [`Records`] would end a record, and read again by it.
//!
//! [`Records`]: table_io::append::Records

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, TryRecvError, channel, sync_channel};
use std::sync::{Arc, Mutex};

/// Bytes of records per block (at least).
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

/// Reads the rest of `input` (positioned at a record's start) in blocks of
/// whole records, runs `work` (with per-thread state from `init`) on each
/// on the worker threads, and hands the results to `take` in file order.
pub fn run<S, T, E>(
    input: &mut impl Read,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &[u8]) -> Option<T> + Sync,
    mut take: impl FnMut(T) -> Result<(), E>,
    read_error: impl Fn(std::io::Error) -> E,
) -> Ended<E>
where
    T: Send,
{
    let mut reader = BlockReader::default();
    let first = match reader.next_block(input) {
        Ok(Some(block)) => block,
        Ok(None) => return Ended::Done,
        Err(cause) => return Ended::Failed(read_error(cause)),
    };
    if reader.at_end {
        // a small file, all read: starting threads would cost more than it
        let rest = std::mem::take(&mut reader.carried);
        return on_this_thread([first, rest], init, work, take);
    }
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
        if jobs.send((0, first)).is_err() {
            return Ended::Refused;
        }
        let mut sent = 1;
        loop {
            let block = match reader.next_block(input) {
                Ok(Some(block)) => block,
                Ok(None) => break,
                Err(cause) => return Ended::Failed(read_error(cause)),
            };
            if jobs.send((sent, block)).is_err() {
                return Ended::Refused;
            }
            sent += 1;
            if let Some(ended) = order.drain(&done, &mut take, false) {
                return ended;
            }
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

/// Works the non-empty `blocks` in order on the calling thread.
fn on_this_thread<S, T, E>(
    blocks: [Vec<u8>; 2],
    init: impl Fn() -> S,
    work: impl Fn(&mut S, &[u8]) -> Option<T>,
    mut take: impl FnMut(T) -> Result<(), E>,
) -> Ended<E> {
    let mut state = init();
    for block in blocks.iter().filter(|block| !block.is_empty()) {
        let Some(result) = work(&mut state, block) else {
            return Ended::Refused;
        };
        if let Err(error) = take(result) {
            return Ended::Failed(error);
        }
    }
    Ended::Done
}

/// Cuts a file into blocks of whole records, reading it in large pieces
/// and carrying a record cut in two over to the next block.
#[derive(Default)]
struct BlockReader {
    /// The start of the next block: the part of a record the last read cut.
    carried: Vec<u8>,
    at_end: bool,
}

impl BlockReader {
    /// The next block: at least [`BLOCK`] bytes of whole records, or the
    /// rest of the file; `None` at its end.
    fn next_block(&mut self, input: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
        let mut block = Vec::with_capacity(BLOCK + BLOCK / 8 + self.carried.len());
        block.append(&mut self.carried);
        loop {
            if self.at_end {
                return Ok((!block.is_empty()).then_some(block));
            }
            let wanted = BLOCK.saturating_sub(block.len()).max(BLOCK / 8);
            let read = input.by_ref().take(wanted as u64).read_to_end(&mut block)?;
            self.at_end = read == 0;
            if block.len() < BLOCK && !self.at_end {
                continue;
            }
            if let Some(end) = last_record_end(&block) {
                self.carried.extend_from_slice(&block[end..]);
                block.truncate(end);
                return Ok(Some(block));
            }
        }
    }
}

/// Where the last record of `block` that ends in a line break ends (after
/// the `\n`), line breaks inside quotes not counting, as
/// [`Records`](table_io::append::Records) reads them; `None` when there is none.
fn last_record_end(block: &[u8]) -> Option<usize> {
    if memchr::memchr(b'"', block).is_none() {
        return memchr::memrchr(b'\n', block).map(|at| at + 1);
    }
    let (mut quoted, mut last, mut at) = (false, None, 0);
    while let Some(found) = memchr::memchr2(b'\n', b'"', &block[at..]) {
        let position = at + found;
        if block[position] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            last = Some(position + 1);
        }
        at = position + 1;
    }
    last
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

#[cfg(test)]
mod tests {
    use super::*;
    use table_io::append::Records;

    /// The records `Records` reads from `bytes`, with their line ends.
    fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut records = Records::new(bytes);
        let mut found = Vec::new();
        while let Ok(Some((record, end))) = records.next_record() {
            found.push([record.bytes(), end].concat());
        }
        found
    }

    #[test]
    fn blocks_end_where_records_end_even_inside_quoted_line_breaks() -> std::io::Result<()> {
        let mut file = Vec::new();
        let mut row = 0;
        while file.len() < 3 * BLOCK + BLOCK / 2 {
            let line = match row % 3 {
                0 => format!("LU{row},\"two\nlines, {row}\"\r\n"),
                1 => format!("LU{row},\"say \"\"{row}\"\"\"\n"),
                _ => format!("LU{row},{row}.5\n"),
            };
            file.extend_from_slice(line.as_bytes());
            row += 1;
        }
        file.extend_from_slice(b"last,\"no\nline end\"");
        let (mut reader, mut input) = (BlockReader::default(), &file[..]);
        let mut blocks = Vec::new();
        while let Some(block) = reader.next_block(&mut input)? {
            blocks.push(block);
        }
        assert!(blocks.len() >= 3);
        assert_eq!(blocks.concat(), file);
        let per_block: Vec<Vec<u8>> = blocks.iter().flat_map(|block| records(block)).collect();
        assert_eq!(per_block, records(&file));
        Ok(())
    }
}
