//! The shape of a streamed merge's output, resolved from the two CSV
//! schemas as `MergeSpec::resolve` resolves it from polars' schemas: the key,
//! the fill values, the column of which the earlier value is kept, and the
//! output's columns in the order polars' left join gives them.
//!
//! `None` wherever the polars path would fail (an unknown column, a fill
//! value of the wrong type) or decide by rules this path does not
//! reproduce (keys of different types, float keys, a clash with a `_right`
//! name): the polars path then runs and reports it in its own words.

use crate::cell::{ColumnType, write_str};
use crate::fill::Fill;
use crate::schema::CsvSchema;

const RIGHT_SUFFIX: &str = "_right";
const DEFAULT_FILL: (&str, &str) = ("subscriptions", "0");
const DEFAULT_EARLIEST: &str = "time_started";

/// Where the columns of a streamed merge come from.
#[derive(Debug)]
pub struct Layout {
    /// The key's position in the left and in the right table, and its type.
    pub left_key: usize,
    pub right_key: usize,
    pub key_type: ColumnType,
    /// The positions of the column of which the earlier value is kept.
    pub earliest: Option<(usize, usize)>,
    /// The right table's columns that follow the left's, in order.
    pub right_columns: Vec<usize>,
    /// For each of `right_columns`, the fill value as written, if any.
    pub fills: Vec<Option<Vec<u8>>>,
    /// The output's header line.
    pub header: Vec<u8>,
}

impl Layout {
    /// The layout of `left` joined with `right` on `on`, or `None` when the
    /// polars path must decide.
    pub fn resolve(
        left: &CsvSchema,
        right: &CsvSchema,
        on: &str,
        fills: &[Fill],
        earliest: Option<&str>,
    ) -> Option<Self> {
        let (left_key, right_key) = (left.position(on)?, right.position(on)?);
        let key_type = left.types[left_key];
        let key_types_match = key_type == right.types[right_key]
            && matches!(key_type, ColumnType::Text | ColumnType::Integer);
        if !key_types_match {
            return None;
        }
        let earliest = earliest_columns(left, right, earliest)?;
        let right_columns: Vec<usize> = (0..right.names.len())
            .filter(|&index| index != right_key && Some(index) != earliest.map(|(_, r)| r))
            .collect();
        let fills = fill_texts(right, right_key, &right_columns, fills)?;
        let header = header(left, right, &right_columns)?;
        Some(Self {
            left_key,
            right_key,
            key_type,
            earliest,
            right_columns,
            fills,
            header,
        })
    }

    /// The right-hand part of an output row without a match: each column's
    /// fill value or nothing, comma-separated.
    pub fn unmatched(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (index, fill) in self.fills.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(fill.as_deref().unwrap_or_default());
        }
        out
    }
}

/// The positions of the column of which the earlier value is kept: named,
/// it must be in both; by default, `time_started` when both have it. Both
/// must hold timestamps.
fn earliest_columns(
    left: &CsvSchema,
    right: &CsvSchema,
    named: Option<&str>,
) -> Option<Option<(usize, usize)>> {
    let positions = match named {
        Some(name) => Some((left.position(name)?, right.position(name)?)),
        None => left
            .position(DEFAULT_EARLIEST)
            .zip(right.position(DEFAULT_EARLIEST)),
    };
    match positions {
        Some((l, r))
            if left.types[l] != ColumnType::Timestamp
                || right.types[r] != ColumnType::Timestamp =>
        {
            None
        }
        positions => Some(positions),
    }
}

/// Each right column's fill value as polars writes it after `fill_null`.
fn fill_texts(
    right: &CsvSchema,
    right_key: usize,
    right_columns: &[usize],
    fills: &[Fill],
) -> Option<Vec<Option<Vec<u8>>>> {
    let default;
    let fills = if fills.is_empty() {
        let (column, value) = DEFAULT_FILL;
        default = right.position(column).map(|_| Fill {
            column: column.to_string(),
            value: value.to_string(),
        });
        default.as_slice()
    } else {
        fills
    };
    let mut texts = vec![None; right_columns.len()];
    for fill in fills {
        let column = right.position(&fill.column)?;
        let slot = right_columns.iter().position(|&index| index == column);
        let slot = slot.filter(|_| column != right_key)?;
        if texts[slot].is_some() {
            return None;
        }
        texts[slot] = Some(fill_text(right.types[column], &fill.value)?);
    }
    Some(texts)
}

/// `value` as polars writes it once cast to a column of type `column`.
fn fill_text(column: ColumnType, value: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match column {
        ColumnType::Text => write_str(value, &mut out),
        ColumnType::Integer => {
            let value: i64 = value.parse().ok()?;
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
        ColumnType::Float => {
            let value = value.parse::<f64>().ok().filter(|x| x.is_finite())?;
            out.extend_from_slice(zmij::Buffer::new().format(value).as_bytes());
        }
        ColumnType::Timestamp => return None,
    }
    Some(out)
}

/// The output's header: the left's names, then the right's columns, a name
/// the left has too suffixed with `_right`; `None` if a name repeats.
fn header(left: &CsvSchema, right: &CsvSchema, right_columns: &[usize]) -> Option<Vec<u8>> {
    let mut names: Vec<String> = left.names.clone();
    for &index in right_columns {
        let name = &right.names[index];
        let name = if left.names.contains(name) {
            format!("{name}{RIGHT_SUFFIX}")
        } else {
            name.clone()
        };
        if names.contains(&name) {
            return None;
        }
        names.push(name);
    }
    let mut out = Vec::new();
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(name, &mut out);
    }
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(names: &[&str], types: &[ColumnType]) -> CsvSchema {
        CsvSchema {
            names: names.iter().map(|name| name.to_string()).collect(),
            types: types.to_vec(),
            bytes_per_record: 1,
        }
    }

    #[test]
    fn orders_columns_as_the_left_join_does() {
        use ColumnType::*;
        let left = schema(&["isin", "nav", "time_started"], &[Text, Float, Timestamp]);
        let right = schema(
            &["time_started", "isin", "nav", "subscriptions"],
            &[Timestamp, Text, Integer, Integer],
        );
        let layout = Layout::resolve(&left, &right, "isin", &[], None);
        let layout = layout.map(|l| (l.right_columns.clone(), l.unmatched(), l.header, l.earliest));
        assert_eq!(
            layout,
            Some((
                vec![2, 3],
                b",0".to_vec(),
                b"isin,nav,time_started,nav_right,subscriptions\n".to_vec(),
                Some((2, 0))
            ))
        );
    }

    #[test]
    fn leaves_errors_and_mismatched_keys_to_polars() {
        use ColumnType::*;
        let left = schema(&["isin", "nav"], &[Integer, Float]);
        let right = schema(&["isin", "subscriptions"], &[Text, Integer]);
        assert!(Layout::resolve(&left, &right, "isin", &[], None).is_none());
        let right = schema(&["isin", "subscriptions"], &[Integer, Integer]);
        assert!(Layout::resolve(&left, &right, "code", &[], None).is_none());
        let bad_fill = [Fill {
            column: "subscriptions".into(),
            value: "many".into(),
        }];
        assert!(Layout::resolve(&left, &right, "isin", &bad_fill, None).is_none());
        assert!(Layout::resolve(&left, &right, "isin", &[], Some("nav")).is_none());
    }
}
