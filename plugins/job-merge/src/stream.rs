//! The streaming CSV-to-CSV merge: the right table (B) is read once into a
//! compact index, then the left table (A) is streamed through in order and
//! every output row written as it is joined, and synced to disk on a
//! second thread as it goes (table-io's `SyncedFile`).
//!
//! Memory is B's index, not the frames of both tables and a join's hash
//! table; time is one pass over each file. The output equals the polars
//! path's byte for byte: values are read with the types polars would infer
//! (`schema.rs`) and written as its CSV writer writes them (`cell.rs`).
//! Anything it does not reproduce exactly makes it step aside before or
//! while writing, leaving no output behind, and the caller runs the polars
//! path, which also reports every error but one: a key repeated in B,
//! reported here in the polars path's words.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use table_io::append::{AppendOutcome, Records};
use table_io::{Format, Input, Output, Repeated, Result, SyncedFile, TableError};

use crate::blocks::{self, Buffers, Ended};
use table_io::fields::{Field, FieldReader, Fields};

use crate::cell::{self, ColumnType, Transcoder, Value, plain_fields, plain_record};
use crate::fill::Fill;
use crate::layout::Layout;
use crate::merge::repeated_key_error;
use crate::right_index::{Inserted, RightIndex};
use crate::schema::CsvSchema;

/// Bytes written to the output at a time.
const BLOCK: usize = 1 << 20;

/// What is merged: the two tables and the options, as on the command line.
pub struct Request<'a> {
    pub left: &'a Path,
    pub right: &'a Path,
    pub on: &'a str,
    pub fills: &'a [Fill],
    pub earliest: Option<&'a str>,
}

/// Merges CSV to CSV by streaming, or returns
/// [`AppendOutcome::NotApplicable`] without output when the polars path
/// must run instead.
pub fn merge(request: &Request<'_>, output: &Output) -> Result<AppendOutcome> {
    let csv = |path: &Path| Format::of(path).map(|format| format == Format::Csv);
    if !(csv(request.left)? && csv(request.right)? && csv(output.path())?) {
        return Ok(AppendOutcome::NotApplicable);
    }
    // The files are checked and read in the polars path's order, so that
    // whichever fails first is reported as it would be.
    Input::check(request.left)?;
    let Some(left) = CsvSchema::infer(request.left)? else {
        return Ok(AppendOutcome::NotApplicable);
    };
    Input::check(request.right)?;
    let Some(right) = CsvSchema::infer(request.right)? else {
        return Ok(AppendOutcome::NotApplicable);
    };
    let layout = Layout::resolve(&left, &right, request.on, request.fills, request.earliest);
    let Some(layout) = layout else {
        return Ok(AppendOutcome::NotApplicable);
    };
    let Some(index) = load_right(request, &right, &layout)? else {
        return Ok(AppendOutcome::NotApplicable);
    };
    stream_left(request.left, &left, &layout, &index, output)
}

/// The key of a record as the join compares it (integers in canonical
/// decimal); `Some(None)` for a missing key, `None` when it does not fit
/// the key's type.
fn key<'a>(
    field: Field<'a>,
    key_type: ColumnType,
    transcoder: &'a mut Transcoder,
) -> Option<Option<&'a [u8]>> {
    match cell::read(field, key_type)? {
        Value::Missing => Some(None),
        Value::Integer(x) => Some(Some(transcoder.integer(x))),
        _ => Some(Some(field.text)),
    }
}

/// The right table's index, or `None` when a record is not one the fast
/// path reads; a repeated key is the polars path's error. Records are read
/// and written on the worker threads, stored in file order.
fn load_right(
    request: &Request<'_>,
    schema: &CsvSchema,
    layout: &Layout,
) -> Result<Option<RightIndex>> {
    let path = request.right;
    let read_error =
        |cause: std::io::Error| Stop::Read(TableError::io("cannot read", path, &cause));
    let size = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    let rows = usize::try_from(size).unwrap_or(0) / schema.bytes_per_record + 1;
    let mut index = RightIndex::with_capacity(rows, schema.bytes_per_record);
    let mut records = after_header(path)?;
    let (mut missing_keys, mut repeated) = (0, HashSet::new());
    let ended = blocks::run(
        &mut records,
        &Buffers::default(),
        || {
            (
                Transcoder::default(),
                Transcoder::default(),
                FieldReader::default(),
            )
        },
        |state, block| right_block(state, block, schema, layout),
        |block: RightBlock| {
            for (key, rest) in block.rows() {
                match key.map(|key| (index.insert(key, rest), key)) {
                    // Two missing keys: whether the join's check counts
                    // them is polars' to say.
                    None if missing_keys > 0 => return Err(Stop::NotApplicable),
                    None => missing_keys += 1,
                    Some((None, _)) => return Err(Stop::NotApplicable),
                    Some((Some(Inserted::New), _)) => {}
                    Some((Some(Inserted::Repeated), key)) => {
                        repeated.insert(key.to_vec());
                    }
                }
            }
            Ok(())
        },
        read_error,
    );
    match ended {
        Ended::Done => {}
        Ended::Refused | Ended::Failed(Stop::NotApplicable) => return Ok(None),
        Ended::Failed(Stop::Read(error)) => return Err(error),
    }
    if repeated.is_empty() {
        return Ok(Some(index));
    }
    let first = first_repeated(path, schema, layout, &repeated)?;
    Err(repeated_key_error(path, request.on, &first))
}

/// The CSV file at `path`, read up to its first record (past the header).
fn after_header(path: &Path) -> Result<File> {
    let read_error = |cause: std::io::Error| TableError::io("cannot read", path, &cause);
    let mut records = Records::open(path)?;
    let header_length = match records.next_record().map_err(read_error)? {
        Some((header, line_end)) => header.bytes().len() + line_end.len(),
        None => 0,
    };
    let mut file = records.into_inner();
    let offset = u64::try_from(header_length).unwrap_or(u64::MAX);
    file.seek(SeekFrom::Start(offset)).map_err(read_error)?;
    Ok(file)
}

/// Why storing the right table's rows stopped.
enum Stop {
    Read(TableError),
    NotApplicable,
}

/// The keys and right-hand bytes of a block of right records.
#[derive(Default)]
struct RightBlock {
    bytes: Vec<u8>,
    /// Per row: its key's length (`u32::MAX`: missing) and its bytes' end.
    rows: Vec<(u32, u32)>,
}

impl RightBlock {
    /// Each row's key (`None` when missing) and right-hand bytes.
    fn rows(&self) -> impl Iterator<Item = (Option<&[u8]>, &[u8])> {
        let mut start = 0;
        self.rows.iter().map(move |&(key_len, end)| {
            let row = &self.bytes[start..end as usize];
            start = end as usize;
            match key_len {
                u32::MAX => (None, row),
                key_len => {
                    let (key, rest) = row.split_at(key_len as usize);
                    (Some(key), rest)
                }
            }
        })
    }
}

/// A block of right records read and written (see `blocks`), or `None`
/// when a record is not one the fast path reads.
fn right_block(
    (transcoder, key_text, reader): &mut (Transcoder, Transcoder, FieldReader),
    block: &[u8],
    schema: &CsvSchema,
    layout: &Layout,
) -> Option<RightBlock> {
    std::str::from_utf8(block).ok()?;
    let mut out = RightBlock::default();
    let mut rest = Vec::new();
    for record in blocks::records(block) {
        let fields = plain_fields(reader, record, schema.names.len())?;
        if !right_text(&fields, schema, layout, transcoder, &mut rest) {
            return None;
        }
        let key_len = match key(fields.get(layout.right_key)?, layout.key_type, key_text)? {
            Some(key) => {
                out.bytes.extend_from_slice(key);
                u32::try_from(key.len())
                    .ok()
                    .filter(|&len| len != u32::MAX)?
            }
            None => u32::MAX,
        };
        out.bytes.extend_from_slice(&rest);
        out.rows
            .push((key_len, u32::try_from(out.bytes.len()).ok()?));
    }
    Some(out)
}

/// The bytes a right record adds to an output row: the earlier-of column's
/// microseconds (8 bytes, `i64::MIN` when missing) if there is one, then
/// its other columns as written, missing values filled. `false` when a
/// value does not fit its column's type.
fn right_text(
    fields: &Fields<'_>,
    schema: &CsvSchema,
    layout: &Layout,
    transcoder: &mut Transcoder,
    rest: &mut Vec<u8>,
) -> bool {
    rest.clear();
    if let Some((_, column)) = layout.earliest {
        match fields
            .get(column)
            .and_then(|f| transcoder.read(f, ColumnType::Timestamp))
        {
            Some(Value::Timestamp(micros)) => rest.extend_from_slice(&micros.to_le_bytes()),
            Some(_) => rest.extend_from_slice(&i64::MIN.to_le_bytes()),
            None => return false,
        }
    }
    for (slot, (&column, fill)) in layout.right_columns.iter().zip(&layout.fills).enumerate() {
        if slot > 0 {
            rest.push(b',');
        }
        let Some(field) = fields.get(column) else {
            return false;
        };
        match fill {
            Some(fill) if field.is_missing() => rest.extend_from_slice(fill),
            _ if transcoder.transcode(field, schema.types[column], rest) => {}
            _ => return false,
        }
    }
    true
}

/// The repeated key whose first row comes first, with its rows: a second
/// pass over the right table, run only once a key has repeated.
fn first_repeated(
    path: &Path,
    schema: &CsvSchema,
    layout: &Layout,
    repeated: &HashSet<Vec<u8>>,
) -> Result<Repeated> {
    let read_error = |cause: std::io::Error| TableError::io("cannot read", path, &cause);
    let mut records = Records::open(path)?;
    records.next_record().map_err(read_error)?;
    let (mut reader, mut key_text) = (FieldReader::default(), Transcoder::default());
    let mut found: HashMap<Vec<u8>, (usize, Vec<usize>)> = HashMap::new();
    let mut row = 1;
    while let Some((record, _)) = records.next_record().map_err(read_error)? {
        row += 1;
        let key = plain_record(&mut reader, record.bytes(), schema.names.len())
            .and_then(|fields| fields.get(layout.right_key))
            .and_then(|field| key(field, layout.key_type, &mut key_text).flatten());
        if let Some(key) = key.filter(|key| repeated.contains(*key)) {
            let (count, rows) = found.entry(key.to_vec()).or_default();
            *count += 1;
            rows.push(row);
        }
    }
    let first = found
        .into_iter()
        .min_by_key(|(_, (_, rows))| rows.first().copied().unwrap_or(usize::MAX));
    let (value, (count, mut rows)) = first.unwrap_or_default();
    rows.truncate(5);
    Ok(Repeated {
        value: String::from_utf8_lossy(&value).into_owned(),
        count,
        rows,
    })
}

/// Streams the left table through the index into the output.
fn stream_left(
    path: &Path,
    schema: &CsvSchema,
    layout: &Layout,
    index: &RightIndex,
    output: &Output,
) -> Result<AppendOutcome> {
    let read_error = |cause: std::io::Error| TableError::io("cannot read", path, &cause);
    let mut records = after_header(path)?;
    let write_error = |cause: std::io::Error| TableError::io("cannot write", output.path(), &cause);
    // A record the fast path cannot read must leave no output behind, which
    // only an error out of `write_file` does; the flag turns it back.
    let mut applicable = true;
    let written = output.write_file(|file| {
        let mut out = SyncedFile::buffered(file, BLOCK);
        out.write_all(&layout.header).map_err(write_error)?;
        let buffers = Buffers::default();
        let ended = blocks::run(
            &mut records,
            &buffers,
            || {
                let joiner = Joiner::new(schema, layout, index, &buffers);
                (joiner, FieldReader::default())
            },
            |(joiner, reader), block| joiner.block(reader, block),
            |lines: Vec<u8>| {
                let written = out.write_all(&lines).map_err(write_error);
                buffers.give(lines);
                written
            },
            read_error,
        );
        match ended {
            Ended::Done => SyncedFile::finish_buffered(out).map_err(write_error),
            Ended::Failed(error) => Err(error),
            Ended::Refused => {
                applicable = false;
                Err(TableError::invalid_data(
                    "a record is not one the fast path reads",
                ))
            }
        }
    });
    match written {
        Ok(()) => Ok(AppendOutcome::Written),
        Err(_) if !applicable => Ok(AppendOutcome::NotApplicable),
        Err(error) => Err(error),
    }
}

/// Joins one left record at a time into an output line.
struct Joiner<'a> {
    schema: &'a CsvSchema,
    layout: &'a Layout,
    index: &'a RightIndex,
    /// Where the output lines' buffers come from.
    buffers: &'a Buffers,
    unmatched: Vec<u8>,
    transcoder: Transcoder,
    key_text: Transcoder,
    /// The row after the last match: where the next match is tried first.
    next_row: usize,
}

impl<'a> Joiner<'a> {
    fn new(
        schema: &'a CsvSchema,
        layout: &'a Layout,
        index: &'a RightIndex,
        buffers: &'a Buffers,
    ) -> Self {
        Self {
            schema,
            layout,
            index,
            buffers,
            unmatched: layout.unmatched(),
            transcoder: Transcoder::default(),
            key_text: Transcoder::default(),
            next_row: 0,
        }
    }

    /// The output lines of a block of left records (see `blocks`), or
    /// `None` when a record is not one the fast path reads.
    fn block(&mut self, reader: &mut FieldReader, block: &[u8]) -> Option<Vec<u8>> {
        std::str::from_utf8(block).ok()?;
        let mut out = self.buffers.take(block.len() + block.len() / 4);
        for record in blocks::records(block) {
            let fields = plain_fields(reader, record, self.schema.names.len())?;
            if !self.row(&fields, &mut out) {
                return None;
            }
        }
        Some(out)
    }

    /// Writes the output line of `fields` onto `line`; `false` when a value
    /// does not fit its column's type.
    fn row(&mut self, fields: &Fields<'_>, line: &mut Vec<u8>) -> bool {
        let layout = self.layout;
        let key = fields
            .get(layout.left_key)
            .and_then(|field| key(field, layout.key_type, &mut self.key_text));
        let Some(key) = key else {
            return false;
        };
        let found = key.and_then(|key| self.index.find_from(key, self.next_row));
        if let Some(row) = found {
            self.next_row = row + 1;
        }
        let rest = found.map(|row| self.index.rest(row));
        let (right_micros, right_text) = match (layout.earliest, rest) {
            (Some(_), Some(rest)) => split_micros(rest),
            (Some(_), None) => (None, &self.unmatched[..]),
            (None, rest) => (None, rest.unwrap_or(&self.unmatched)),
        };
        let earliest = layout.earliest.map(|(left, _)| left);
        for (column, field) in fields.iter().enumerate() {
            if column > 0 {
                line.push(b',');
            }
            let column_type = self.schema.types[column];
            if Some(column) != earliest {
                if !self.transcoder.transcode(field, column_type, line) {
                    return false;
                }
                continue;
            }
            let Some(value) = self.transcoder.read(field, column_type) else {
                return false;
            };
            write_earlier(&mut self.transcoder, line, &value, right_micros);
        }
        if !layout.right_columns.is_empty() {
            line.push(b',');
            line.extend_from_slice(right_text);
        }
        line.push(b'\n');
        true
    }
}

/// Writes the earlier of the left value and the right one; either missing
/// yields the other.
fn write_earlier(
    transcoder: &mut Transcoder,
    line: &mut Vec<u8>,
    left: &Value<'_>,
    right: Option<i64>,
) {
    let left = match left {
        Value::Timestamp(micros) => Some(*micros),
        _ => None,
    };
    let earlier = match (left, right) {
        (Some(l), Some(r)) => Some(l.min(r)),
        (one, other) => one.or(other),
    };
    if let Some(micros) = earlier {
        transcoder.write_timestamp(micros, line);
    }
}

/// The right-hand bytes of an index row split into the earlier-of column's
/// microseconds (missing as `None`) and the text that follows.
fn split_micros(rest: &[u8]) -> (Option<i64>, &[u8]) {
    let Some((micros, text)) = rest.split_first_chunk::<8>() else {
        return (None, rest);
    };
    let micros = i64::from_le_bytes(*micros);
    ((micros != i64::MIN).then_some(micros), text)
}
