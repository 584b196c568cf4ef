//! The name of the table a file goes into: given with `--table`, or made
//! from the file's name.

use std::path::Path;

use table_io::{Result, TableError};

use crate::export::EXPORTS_TABLE;

/// PostgreSQL cuts identifiers at 63 bytes; a longer name would silently
/// name another table.
const MAX_LENGTH: usize = 63;

/// The table for `--input path` when `--table` is not given: the file stem
/// in lower case, every run of characters other than letters and digits
/// made one `_`, and a `t_` in front of a leading digit.
/// `merged/File.xlsx` goes into `file`, `2026-11 NAV.csv` into `t_2026_11_nav`.
pub(crate) fn from_file(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut name = String::with_capacity(stem.len());
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('_') {
            name.push('_');
        }
    }
    let mut name = name.trim_end_matches('_').to_string();
    if name.is_empty() {
        name = "export".to_string();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "t_");
    }
    if name == EXPORTS_TABLE {
        name.push_str("_data");
    }
    name.truncate(MAX_LENGTH);
    name
}

/// Checks a `--table` name: letters, digits and `_`, not starting with a
/// digit, so it means the same unquoted in any SQL a user writes later.
pub(crate) fn check(name: &str) -> Result<()> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_LENGTH;
    if !valid {
        return Err(TableError::usage(format!("`--table {name}` is not a table name db-export accepts"))
            .with_hint(format!("use letters, digits and `_`, not starting with a digit, at most {MAX_LENGTH} characters, as in `--table nav_daily`")));
    }
    if name.eq_ignore_ascii_case(EXPORTS_TABLE) {
        return Err(TableError::usage(format!(
            "`--table {name}` is the table where db-export records its exports"
        ))
        .with_hint("choose another table name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_a_plain_lowercase_name_from_the_file_stem() {
        assert_eq!(from_file(Path::new("merged/File.xlsx")), "file");
        assert_eq!(
            from_file(Path::new("2026-11 NAV (final).csv")),
            "t_2026_11_nav_final"
        );
        assert_eq!(from_file(Path::new("é.csv")), "export");
        assert_eq!(
            from_file(Path::new("flow_exports.csv")),
            "flow_exports_data"
        );
    }

    #[test]
    fn accepts_only_plain_names() {
        assert!(check("nav_daily").is_ok());
        assert!(check("1nav").is_err());
        assert!(check("nav;drop").is_err());
        assert!(check("FLOW_EXPORTS").is_err());
    }
}
