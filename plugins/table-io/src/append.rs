//! The fast path for the most common job on the largest files: a CSV in,
//! the same CSV out with one more column.
//!
//! It streams bytes instead of parsing the table: every byte of the input is
//! copied as it is (quoting, number formats, CRLF line ends, a missing final
//! newline), and only the new field is added before each line end. Records
//! are split on newlines outside quotes, so quoted fields may hold commas and
//! newlines; the header's fields are split by [`FieldReader`]. Anything
//! unusual (a byte-order mark, a header that already has the column or is
//! not plain CSV, text that is not UTF-8) is left to the general polars path,
//! which the caller takes when [`AppendOutcome::NotApplicable`] comes back.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::fields::FieldReader;
use crate::{Format, Output, Result, SyncedFile, TableError};

/// Bytes read from the input at a time; a record longer than this grows the
/// buffer.
const BLOCK: usize = 1 << 20;

/// The smallest buffer of a file opened by path.
const SMALL_BLOCK: usize = 8 << 10;

/// The buffer size for a file of `len` bytes: the whole file and a byte
/// more, so that the first read takes it all and the second sees its end;
/// at least [`SMALL_BLOCK`], at most [`BLOCK`]. A 1 MiB buffer is above
/// malloc's mmap threshold, a mapping of its own: its `mmap`, page fault and
/// `munmap` cost a run on a 1-row file more than reading the file does.
fn block_for(len: u64) -> usize {
    usize::try_from(len).map_or(BLOCK, |len| len.saturating_add(1).clamp(SMALL_BLOCK, BLOCK))
}

/// Whether the fast path did the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The output is written.
    Written,
    /// The fast path does not apply to this input; nothing was written.
    NotApplicable,
}

/// One CSV record: its bytes without the line end.
pub struct Record<'a> {
    bytes: &'a [u8],
}

impl<'a> Record<'a> {
    /// The record's bytes as they stand in the file, without the line end.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Reads CSV records, in blocks, from a file or any other reader.
pub struct Records<R = File> {
    reader: R,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    at_end: bool,
}

impl Records {
    /// Opens `path` for reading records, in a buffer sized to the file
    /// ([`block_for`]).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|cause| TableError::io("cannot read", path, &cause))?;
        let block = file
            .metadata()
            .map_or(BLOCK, |metadata| block_for(metadata.len()));
        Ok(Self::with_block(file, block))
    }
}

impl<R: Read> Records<R> {
    /// Reads records from `reader`, which is read once, front to back, to
    /// its end.
    pub fn new(reader: R) -> Self {
        Self::with_block(reader, BLOCK)
    }

    fn with_block(reader: R, block: usize) -> Self {
        Self {
            reader,
            buffer: vec![0; block],
            start: 0,
            end: 0,
            at_end: false,
        }
    }

    /// The size of the read buffer, which the output's buffer follows.
    fn block(&self) -> usize {
        self.buffer.len()
    }

    /// The reader back, for what it kept of the bytes it gave.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// The next record and its line end (`\n`, `\r\n`, or empty for a last
    /// line without one), or `None` at the end of the file.
    pub fn next_record(&mut self) -> std::io::Result<Option<(Record<'_>, &[u8])>> {
        let mut scanned = self.start;
        let mut quoted = false;
        let newline = loop {
            match memchr::memchr2(b'\n', b'"', &self.buffer[scanned..self.end]) {
                Some(offset) if self.buffer[scanned + offset] == b'"' => {
                    quoted = !quoted;
                    scanned += offset + 1;
                }
                Some(offset) if !quoted => break Some(scanned + offset),
                Some(offset) => scanned += offset + 1,
                None if self.at_end => break None,
                None => {
                    scanned = self.refill(scanned)?;
                }
            }
        };
        let (line_end, next) = match newline {
            Some(newline) => (newline, newline + 1),
            None if self.start == self.end => return Ok(None),
            None => (self.end, self.end),
        };
        let record_end = if line_end > self.start && self.buffer[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        let start = std::mem::replace(&mut self.start, next);
        Ok(Some((
            Record {
                bytes: &self.buffer[start..record_end],
            },
            &self.buffer[record_end..next],
        )))
    }

    /// Moves the unread bytes to the front, reads more, and returns where
    /// the scan at `scanned` now continues.
    fn refill(&mut self, scanned: usize) -> std::io::Result<usize> {
        let kept = self.end - self.start;
        self.buffer.copy_within(self.start..self.end, 0);
        let scanned = scanned - self.start;
        self.start = 0;
        self.end = kept;
        if self.end == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        let read = self.reader.read(&mut self.buffer[self.end..])?;
        self.end += read;
        self.at_end = read == 0;
        Ok(scanned)
    }
}

/// The column's name as a CSV field: quoted when it holds a comma, a quote
/// or a line break.
fn header_field(name: &str) -> Cow<'_, str> {
    if name.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", name.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(name)
    }
}

/// The column names of a header record, or `None` when it is not plain
/// CSV ([`FieldReader`]).
pub fn header_names(header: &Record<'_>) -> Option<Vec<String>> {
    let mut reader = FieldReader::default();
    let fields = reader.read(header.bytes)?;
    fields
        .iter()
        .map(|name| String::from_utf8(name.text.to_vec()).ok())
        .collect()
}

/// Copies the CSV `input` to the CSV `output` with a column `name` added at
/// the end; `value` writes each record's field, already CSV-escaped, into
/// the buffer it is given (empty for a missing value), and may stop the copy
/// with an error. Returns
/// [`AppendOutcome::NotApplicable`] without writing when the input or output
/// is not CSV, starts with a byte-order mark, already has `name`, or is not
/// UTF-8.
pub fn append_column<F>(
    input: &Path,
    output: &Output,
    name: &str,
    mut value: F,
) -> Result<AppendOutcome>
where
    F: FnMut(&Record<'_>, &mut Vec<u8>) -> Result<()>,
{
    if Format::of(input)? != Format::Csv || Format::of(output.path())? != Format::Csv {
        return Ok(AppendOutcome::NotApplicable);
    }
    let mut records = Records::open(input)?;
    let read_error = |cause: std::io::Error| TableError::io("cannot read", input, &cause);
    let Some((header, header_end)) = records.next_record().map_err(read_error)? else {
        return Ok(AppendOutcome::NotApplicable);
    };
    let names = header_names(&header).unwrap_or_default();
    if names.is_empty() || names.iter().any(|existing| existing == name) {
        return Ok(AppendOutcome::NotApplicable);
    }
    let header_line = [
        header.bytes,
        b",",
        header_field(name).as_bytes(),
        header_end,
    ]
    .concat();
    // A record that is not UTF-8 must leave no output behind, which only an
    // error out of `write_file` does (it drops the staging file); the flag
    // then turns that error back into "not applicable". The output is synced
    // as it is written ([`SyncedFile`]), so the sync before the rename finds
    // little left of a large one.
    let mut applicable = true;
    let mut field = Vec::new();
    let block = records.block();
    output
        .write_file(|file| {
            let mut out = SyncedFile::buffered(file, block);
            let write_error =
                |cause: std::io::Error| TableError::io("cannot write", output.path(), &cause);
            out.write_all(&header_line).map_err(write_error)?;
            while let Some((record, line_end)) = records.next_record().map_err(read_error)? {
                if std::str::from_utf8(record.bytes).is_err() {
                    applicable = false;
                    return Err(TableError::invalid_data("a record is not UTF-8"));
                }
                if record.bytes.is_empty() {
                    out.write_all(line_end).map_err(write_error)?;
                    continue;
                }
                field.clear();
                value(&record, &mut field)?;
                for part in [record.bytes, b",", &field, line_end] {
                    out.write_all(part).map_err(write_error)?;
                }
            }
            SyncedFile::finish_buffered(out).map_err(write_error)
        })
        .map(|()| AppendOutcome::Written)
        .or_else(|error| {
            if applicable {
                Err(error)
            } else {
                Ok(AppendOutcome::NotApplicable)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_read_unless_their_quoting_is_odd() {
        let names = |line: &str| {
            header_names(&Record {
                bytes: line.as_bytes(),
            })
        };
        assert_eq!(
            names("a,\"b,c\",\"say \"\"hi\"\"\""),
            Some(vec!["a".into(), "b,c".into(), "say \"hi\"".into()])
        );
        assert_eq!(names("a,b\"c"), None);
        assert_eq!(names("\u{feff}a,b"), None);
    }

    #[test]
    fn a_small_file_is_read_whole_and_a_large_one_in_blocks() -> std::io::Result<()> {
        assert_eq!(block_for(0), SMALL_BLOCK);
        assert_eq!(block_for(20_000), 20_001);
        assert_eq!(block_for(10 << 20), BLOCK);
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("in.csv");
        let long = "x".repeat(30_000);
        std::fs::write(&path, format!("h\n\"{long}\n{long}\"\nlast"))?;
        let mut records = Records::open(&path).map_err(std::io::Error::other)?;
        assert_eq!(records.block(), 60_011);
        let mut lengths = Vec::new();
        while let Some((record, _)) = records.next_record()? {
            lengths.push(record.bytes.len());
        }
        assert_eq!(lengths, [1, 60_003, 4]);
        Ok(())
    }

    #[test]
    fn reads_records_across_quoted_newlines_crlf_and_a_missing_final_newline() -> std::io::Result<()>
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "h1,h2\r\n1,\"two\nlines\"\r\n3,4")?;
        let mut records = Records::open(&path).map_err(std::io::Error::other)?;
        let mut seen = Vec::new();
        while let Some((record, end)) = records.next_record()? {
            seen.push((
                String::from_utf8_lossy(record.bytes).into_owned(),
                end.to_vec(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("h1,h2".to_string(), b"\r\n".to_vec()),
                ("1,\"two\nlines\"".to_string(), b"\r\n".to_vec()),
                ("3,4".to_string(), Vec::new()),
            ]
        );
        Ok(())
    }

    #[test]
    fn names_that_need_it_are_quoted() {
        assert_eq!(header_field("z"), "z");
        assert_eq!(header_field("a,b"), "\"a,b\"");
        assert_eq!(header_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
