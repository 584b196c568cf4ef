//! PostgreSQL's binary COPY format, written from the typed columns: the
//! server stores each value as it arrives instead of parsing text (in the
//! profile of a text COPY, the server's parsing of floats and timestamps
//! was most of a load).
//!
//! Owns the bytes only. It is right only for columns whose table type is
//! exactly the one db-export creates for the file's type; the backend
//! checks that and otherwise sends text.

use crate::table::{Cell, Cells, utc};

/// The fixed start of a binary COPY stream: signature, flags, no header
/// extension.
pub(crate) const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The end of the stream: a row of -1 fields.
pub(crate) const TRAILER: &[u8] = &(-1_i16).to_be_bytes();
/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 UTC.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Appends row `row` of `rows`, `width` columns: its field count, then
/// each field as its length and its bytes in network order, or length -1
/// for null.
pub(crate) fn write_row(buffer: &mut Vec<u8>, rows: &impl Cells, width: usize, row: usize) {
    // A table has at most 1,600 columns, so the count fits.
    buffer.extend_from_slice(&i16::try_from(width).unwrap_or(i16::MAX).to_be_bytes());
    for column in 0..width {
        write_cell(buffer, rows.cell(row, column));
    }
}

fn write_cell(buffer: &mut Vec<u8>, cell: Cell<'_>) {
    match cell {
        Cell::Null => null(buffer),
        Cell::Text(text) => match i32::try_from(text.len()) {
            Ok(length) => {
                buffer.extend_from_slice(&length.to_be_bytes());
                buffer.extend_from_slice(text.as_bytes());
            }
            // Beyond 2 GiB: the server refuses such a value in any format.
            Err(_) => null(buffer),
        },
        Cell::Float(x) => field(buffer, &x.to_bits().to_be_bytes()),
        Cell::Integer(i) => field(buffer, &i.to_be_bytes()),
        Cell::Boolean(b) => field(buffer, &[u8::from(b)]),
        // The text path writes an instant chrono cannot represent as null;
        // so does this one.
        Cell::Timestamp(micros) => match (utc(micros), micros.checked_sub(POSTGRES_EPOCH_MICROS)) {
            (Some(_), Some(since_2000)) => field(buffer, &since_2000.to_be_bytes()),
            _ => null(buffer),
        },
    }
}

fn field(buffer: &mut Vec<u8>, bytes: &[u8]) {
    // Callers pass 1 or 8 bytes.
    let length = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    buffer.extend_from_slice(&length.to_be_bytes());
    buffer.extend_from_slice(bytes);
}

fn null(buffer: &mut Vec<u8>) {
    buffer.extend_from_slice(&(-1_i32).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(cell: Cell<'_>) -> Vec<u8> {
        let mut buffer = Vec::new();
        write_cell(&mut buffer, cell);
        buffer
    }

    #[test]
    fn writes_each_type_in_network_order() {
        assert_eq!(bytes(Cell::Null), [255, 255, 255, 255]);
        assert_eq!(bytes(Cell::Text("ab")), [0, 0, 0, 2, b'a', b'b']);
        assert_eq!(
            bytes(Cell::Integer(-2)),
            [0, 0, 0, 8, 255, 255, 255, 255, 255, 255, 255, 254]
        );
        assert_eq!(bytes(Cell::Boolean(true)), [0, 0, 0, 1, 1]);
        assert_eq!(
            bytes(Cell::Float(1.0)),
            [0, 0, 0, 8, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
        // 2000-01-01T00:00:00.000001Z is 1 µs after PostgreSQL's epoch.
        assert_eq!(
            bytes(Cell::Timestamp(POSTGRES_EPOCH_MICROS + 1)),
            [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]
        );
    }

    #[test]
    fn the_header_is_the_signature_and_two_zero_words() {
        assert_eq!(HEADER.len(), 19);
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
    }
}
