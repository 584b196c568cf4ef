//! The fast path of the largest exports: a CSV file parsed on a thread of
//! its own while the database takes the rows already parsed, so reading
//! and inserting overlap and the file is never held in memory whole.
//!
//! It takes only what it parses exactly as [`Table::read`] would: plain
//! quoting, numbers in the usual notation, RFC 3339 timestamps, keys
//! present and strictly increasing (the usual merged file, which proves
//! them unique without remembering them). Anything else makes it give up
//! with a reason: the backend rolls back and the caller reads the file
//! whole, whose path has the exact checks and the located messages.
//!
//! [`Table::read`]: crate::table::Table::read

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, channel, sync_channel};

use polars::prelude::DataType;
use table_io::append::{Record, Records};
use table_io::fields::{Field, FieldReader};
use table_io::{Format, Input, Result, TableError, infer, parse_micros};

use crate::digest::Hashing;
use crate::schema::{FileColumn, SqlType};
use crate::table::{Cell, Cells};

/// Parsed batches waiting for the database: enough to keep it busy while
/// the parser reads on, few enough to keep memory flat.
const BATCHES_AHEAD: usize = 2;

/// A CSV file to stream into a table.
pub(crate) struct CsvStream {
    path: PathBuf,
    columns: Vec<FileColumn>,
    key: usize,
}

/// How a streamed load ended.
pub(crate) enum Streamed {
    /// Every row went to the database: how many, and the SHA-256 of the
    /// file in hex, computed on the way.
    Rows { rows: u64, sha256: String },
    /// The file holds something only the whole-file reader handles.
    Declined(&'static str),
}

impl CsvStream {
    /// The stream for `input` when it is a CSV file whose header is plain
    /// and whose columns all have types this parser reads, with a text or
    /// integer `key`; `None` leaves the file to the whole-file reader.
    pub(crate) fn plan(input: &Input, key: &str) -> Result<Option<Self>> {
        if input.format() != Format::Csv {
            return Ok(None);
        }
        let mut columns = Vec::new();
        for (name, dtype) in input.schema().iter() {
            let Some(sql) = streamed_type(dtype) else {
                return Ok(None);
            };
            columns.push(FileColumn {
                name: name.to_string(),
                sql,
                // Unknown until the end; a table check that depends on it
                // declines, and the whole-file reader decides.
                all_missing: false,
            });
        }
        let Some(key) = columns.iter().position(|column| column.name == key) else {
            return Ok(None);
        };
        if !matches!(columns[key].sql, SqlType::Text | SqlType::Integer) {
            return Ok(None);
        }
        let stream = Self {
            path: input.path().to_path_buf(),
            columns,
            key,
        };
        Ok(stream.header_matches()?.then_some(stream))
    }

    /// The columns, in file order.
    pub(crate) fn columns(&self) -> &[FileColumn] {
        &self.columns
    }

    /// Parses the file in batches of `batch_rows` rows on a thread of its
    /// own and hands each batch, with the index of its first row, to `load`
    /// on this one. An error of `load` stops the parser.
    pub(crate) fn load<F>(&self, batch_rows: usize, mut load: F) -> Result<Streamed>
    where
        F: FnMut(usize, &Batch) -> Result<()>,
    {
        std::thread::scope(|scope| {
            let (parsed, arrivals) = sync_channel(BATCHES_AHEAD);
            let (recycle, recycled) = channel();
            scope.spawn(move || self.parse(batch_rows.max(1), &parsed, &recycled));
            let mut rows = 0;
            for message in arrivals {
                match message {
                    Parsed::Batch(batch) => {
                        load(rows, &batch)?;
                        rows += batch.rows;
                        // The parser may be done and gone; the batch is then
                        // simply dropped.
                        let _ = recycle.send(batch);
                    }
                    Parsed::End { sha256 } => {
                        return Ok(Streamed::Rows {
                            rows: rows as u64,
                            sha256,
                        });
                    }
                    Parsed::Declined(reason) => return Ok(Streamed::Declined(reason)),
                    Parsed::Failed(error) => return Err(error),
                }
            }
            Err(TableError::io_message(format!(
                "the thread reading `{}` stopped unexpectedly",
                self.path.display()
            )))
        })
    }

    /// Whether the header names the schema's columns in order, each once
    /// and unquoted: polars renames repeated or empty names, which this
    /// reader would not.
    fn header_matches(&self) -> Result<bool> {
        let mut records = Records::open(&self.path)?;
        let Some((header, _)) = records
            .next_record()
            .map_err(|cause| TableError::io("cannot read", &self.path, &cause))?
        else {
            return Ok(false);
        };
        let mut reader = FieldReader::default();
        let Some(names) = reader.read(header.bytes()) else {
            return Ok(false);
        };
        Ok(names.len() == self.columns.len()
            && names
                .iter()
                .zip(&self.columns)
                .all(|(name, column)| name.raw == column.name.as_bytes()))
    }

    /// The parser thread: sends batches until the file ends (then its
    /// hash), the file turns out not to suit the stream, or the loader
    /// hangs up.
    fn parse(&self, batch_rows: usize, parsed: &SyncSender<Parsed>, recycled: &Receiver<Batch>) {
        let outcome = self.parse_batches(batch_rows, parsed, recycled);
        let last = match outcome {
            Ok(()) | Err(Stop::LoaderGone) => return,
            Err(Stop::Declined(reason)) => Parsed::Declined(reason),
            Err(Stop::Failed(error)) => Parsed::Failed(error),
        };
        let _ = parsed.send(last);
    }

    fn parse_batches(
        &self,
        batch_rows: usize,
        parsed: &SyncSender<Parsed>,
        recycled: &Receiver<Batch>,
    ) -> Result<(), Stop> {
        let read_error = |cause| Stop::Failed(TableError::io("cannot read", &self.path, &cause));
        let file = File::open(&self.path).map_err(read_error)?;
        let mut records = Records::new(Hashing::new(file));
        records.next_record().map_err(read_error)?;
        let mut order = KeyOrder::default();
        let mut batch = Batch::new(self.columns.len(), batch_rows);
        let mut reader = FieldReader::default();
        while let Some((record, _)) = records.next_record().map_err(read_error)? {
            batch.push(&mut reader, &record, &self.columns)?;
            order.check(batch.cell(batch.rows - 1, self.key))?;
            if batch.rows == batch_rows {
                let next = match recycled.try_recv() {
                    Ok(mut used) => {
                        used.clear();
                        used
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        Batch::new(self.columns.len(), batch_rows)
                    }
                };
                let full = std::mem::replace(&mut batch, next);
                parsed
                    .send(Parsed::Batch(full))
                    .map_err(|_| Stop::LoaderGone)?;
            }
        }
        if batch.rows > 0 {
            parsed
                .send(Parsed::Batch(batch))
                .map_err(|_| Stop::LoaderGone)?;
        }
        let sha256 = records.into_inner().finish();
        parsed
            .send(Parsed::End { sha256 })
            .map_err(|_| Stop::LoaderGone)
    }
}

/// The SQL type a streamed column of `dtype` gets; `None` for types only
/// the whole-file reader converts (dates, durations, unsigned integers…).
fn streamed_type(dtype: &DataType) -> Option<SqlType> {
    match dtype {
        DataType::String => Some(SqlType::Text),
        DataType::Float64 => Some(SqlType::Float),
        DataType::Int64 => Some(SqlType::Integer),
        DataType::Boolean => Some(SqlType::Boolean),
        DataType::Datetime(_, _) => Some(SqlType::Timestamp),
        _ => None,
    }
}

/// What the parser thread sends.
enum Parsed {
    Batch(Batch),
    End { sha256: String },
    Declined(&'static str),
    Failed(TableError),
}

/// Why the parser stopped early.
enum Stop {
    Declined(&'static str),
    Failed(TableError),
    LoaderGone,
}

/// Keys must be present and each greater than the one before.
#[derive(Default)]
struct KeyOrder {
    previous_text: Option<String>,
    previous_integer: Option<i64>,
}

impl KeyOrder {
    fn check(&mut self, key: Cell<'_>) -> Result<(), Stop> {
        const UNORDERED: &str = "its keys are not in increasing order";
        match key {
            Cell::Text(text) => {
                match &mut self.previous_text {
                    Some(previous) if text <= previous.as_str() => {
                        return Err(Stop::Declined(UNORDERED));
                    }
                    Some(previous) => {
                        previous.clear();
                        previous.push_str(text);
                    }
                    None => self.previous_text = Some(text.to_string()),
                }
                Ok(())
            }
            Cell::Integer(value) => {
                if self
                    .previous_integer
                    .is_some_and(|previous| value <= previous)
                {
                    return Err(Stop::Declined(UNORDERED));
                }
                self.previous_integer = Some(value);
                Ok(())
            }
            _ => Err(Stop::Declined("a key is empty")),
        }
    }
}

/// Rows parsed from the file, ready to bind: one slot per cell, row after
/// row, text kept in one buffer.
pub(crate) struct Batch {
    width: usize,
    slots: Vec<Slot>,
    text: String,
    rows: usize,
}

/// A parsed cell; text is a range of [`Batch::text`].
#[derive(Clone, Copy)]
enum Slot {
    Null,
    Text(usize, usize),
    Float(f64),
    Integer(i64),
    Boolean(bool),
    Timestamp(i64),
}

impl Batch {
    fn new(width: usize, rows: usize) -> Self {
        Self {
            width,
            slots: Vec::with_capacity(width * rows),
            text: String::new(),
            rows: 0,
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.text.clear();
        self.rows = 0;
    }

    /// The number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Parses `record` by the types of `columns` and adds it.
    fn push(
        &mut self,
        reader: &mut FieldReader,
        record: &Record<'_>,
        columns: &[FileColumn],
    ) -> Result<(), Stop> {
        let fields = reader
            .read(record.bytes())
            .ok_or(Stop::Declined("a field is not quoted the plain way"))?;
        if fields.len() < columns.len() {
            return Err(Stop::Declined("a row has fewer fields than the header"));
        }
        if fields.len() > columns.len() {
            return Err(Stop::Declined("a row has more fields than the header"));
        }
        for (field, column) in fields.iter().zip(columns) {
            let slot = self.parse(field, column.sql).ok_or(Stop::Declined(
                "a value is not in a form this reader parses",
            ))?;
            self.slots.push(slot);
        }
        self.rows += 1;
        Ok(())
    }

    /// A field as the whole-file reader reads a value of type `sql`: by
    /// table-io's number classifier (NaN and infinities left to it).
    fn parse(&mut self, field: Field<'_>, sql: SqlType) -> Option<Slot> {
        if field.is_missing() {
            return Some(Slot::Null);
        }
        let value = field.text;
        Some(match sql {
            SqlType::Text => {
                let start = self.text.len();
                self.text.push_str(std::str::from_utf8(value).ok()?);
                Slot::Text(start, self.text.len())
            }
            SqlType::Float => Slot::Float(infer::float(value).filter(|x| x.is_finite())?),
            SqlType::Integer => Slot::Integer(infer::integer(value)?),
            SqlType::Boolean => match value {
                b"true" => Slot::Boolean(true),
                b"false" => Slot::Boolean(false),
                _ => return None,
            },
            SqlType::Timestamp => Slot::Timestamp(parse_micros(std::str::from_utf8(value).ok()?)?),
        })
    }
}

impl Cells for Batch {
    fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        match self.slots[row * self.width + column] {
            Slot::Null => Cell::Null,
            Slot::Text(start, end) => Cell::Text(&self.text[start..end]),
            Slot::Float(x) => Cell::Float(x),
            Slot::Integer(i) => Cell::Integer(i),
            Slot::Boolean(b) => Cell::Boolean(b),
            Slot::Timestamp(micros) => Cell::Timestamp(micros),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_present_and_increasing() {
        let mut order = KeyOrder::default();
        assert!(order.check(Cell::Text("A")).is_ok());
        assert!(order.check(Cell::Text("B")).is_ok());
        assert!(matches!(
            order.check(Cell::Text("B")),
            Err(Stop::Declined(_))
        ));
        let mut order = KeyOrder::default();
        assert!(order.check(Cell::Integer(2)).is_ok());
        assert!(matches!(
            order.check(Cell::Integer(1)),
            Err(Stop::Declined(_))
        ));
        assert!(matches!(
            KeyOrder::default().check(Cell::Null),
            Err(Stop::Declined(_))
        ));
    }
}
