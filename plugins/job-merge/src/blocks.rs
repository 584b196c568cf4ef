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

/// Buffers of about a block's size, handed back once used and taken again:
/// a fresh megabyte each block cost page faults and zeroed pages (perf:
/// 4 % of a 10M-row merge, most of it on the reading thread).
#[derive(Default)]
pub struct Buffers(Mutex<Vec<Vec<u8>>>);

/// Buffers kept for reuse, at most: more than the blocks in flight at once.
const KEPT: usize = 4 * AHEAD;

impl Buffers {
    /// An empty buffer with room for at least `capacity` bytes.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let kept = self.0.lock().ok().and_then(|mut kept| kept.pop());
        let mut buffer = kept.unwrap_or_default();
        buffer.clear();
        buffer.reserve(capacity);
        buffer
    }

    /// Keeps `buffer` for a later [`take`](Self::take).
    pub fn give(&self, buffer: Vec<u8>) {
        if let Ok(mut kept) = self.0.lock()
            && kept.len() < KEPT
        {
            kept.push(buffer);
        }
    }
}

/// Reads the rest of `input` (positioned at a record's start) in blocks of
/// whole records, runs `work` (with per-thread state from `init`) on each
/// on the worker threads, and hands the results to `take` in file order.
/// The blocks' buffers come from and go back to `buffers`.
pub fn run<S, T, E>(
    input: &mut impl Read,
    buffers: &Buffers,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &[u8]) -> Option<T> + Sync,
    mut take: impl FnMut(T) -> Result<(), E>,
    read_error: impl Fn(std::io::Error) -> E,
) -> Ended<E>
where
    T: Send,
{
    let mut reader = BlockReader::default();
    let first = match reader.next_block(input, buffers) {
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
                    let result = work(&mut state, &block);
                    buffers.give(block);
                    if results.send((number, result)).is_err() {
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
            let block = match reader.next_block(input, buffers) {
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
    fn next_block(
        &mut self,
        input: &mut impl Read,
        buffers: &Buffers,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let mut block = buffers.take(BLOCK + BLOCK / 8 + self.carried.len());
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

/// The records of a block, without their line ends, as
/// [`Records`](table_io::append::Records) reads them from a file (a line
/// break inside quotes belongs to its record; a carriage return before the
/// line end, or at the very end, is not the record's). Read in place:
/// `Records` over a block would copy it into a fresh, zeroed megabyte of
/// its own (callgrind: 7 % of a merge's instructions).
pub fn records(block: &[u8]) -> BlockRecords<'_> {
    BlockRecords { block, start: 0 }
}

/// See [`records`].
pub struct BlockRecords<'a> {
    block: &'a [u8],
    start: usize,
}

impl<'a> Iterator for BlockRecords<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let block = self.block;
        if self.start >= block.len() {
            return None;
        }
        let (line_end, next) = match line_break(block, self.start) {
            Some(newline) => (newline, newline + 1),
            None => (block.len(), block.len()),
        };
        let record_end = if line_end > self.start && block[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        let start = std::mem::replace(&mut self.start, next);
        Some(&block[start..record_end])
    }
}

/// The first line break at or after `from` outside quotes.
fn line_break(block: &[u8], from: usize) -> Option<usize> {
    let (mut scanned, mut quoted) = (from, false);
    loop {
        let at = scanned + memchr::memchr2(b'\n', b'"', &block[scanned..])?;
        if block[at] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            return Some(at);
        }
        scanned = at + 1;
    }
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
        let buffers = Buffers::default();
        while let Some(block) = reader.next_block(&mut input, &buffers)? {
            blocks.push(block);
        }
        assert!(blocks.len() >= 3);
        assert_eq!(blocks.concat(), file);
        let per_block: Vec<Vec<u8>> = blocks.iter().flat_map(|block| records(block)).collect();
        assert_eq!(per_block, records(&file));
        Ok(())
    }

    #[test]
    fn a_block_is_read_in_place_into_the_records_records_reads() {
        for bytes in [
            &b""[..],
            b"\n",
            b"a,b\nc,d",
            b"a,b\r\nc,d\r\n",
            b"a\n\nb\n",
            b"a\r",
            b"\r\n\r\n",
            b"\"two\nlines\",x\r\ny",
            b"\"open\nquote,x\ny",
            b"a\rb\nc",
        ] {
            let in_place: Vec<&[u8]> = super::records(bytes).collect();
            let mut from_reader = Records::new(bytes);
            let mut expected = Vec::new();
            while let Ok(Some((record, _))) = from_reader.next_record() {
                expected.push(record.bytes().to_vec());
            }
            assert_eq!(in_place, expected, "{:?}", String::from_utf8_lossy(bytes));
        }
    }
}
