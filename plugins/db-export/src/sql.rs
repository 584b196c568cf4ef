//! The text of the statements every database runs, written once with the
//! differences of dialect spelled out: table creation, the upsert clause,
//! the `flow_exports` table.
//!
//! Pure string building; the backends execute what it returns.

use crate::export::EXPORTS_TABLE;
use crate::schema::{Dialect, FileColumn, MYSQL_TEXT_KEY, SqlType, quote};

/// The columns of [`EXPORTS_TABLE`], after its generated `id`, in the
/// order [`insert_export`] binds them.
const EXPORT_COLUMNS: [(&str, SqlType); 6] = [
    ("file_name", SqlType::Text),
    ("content_sha256", SqlType::Text),
    ("row_count", SqlType::Integer),
    ("exported_at", SqlType::Timestamp),
    ("table_name", SqlType::Text),
    ("mode", SqlType::Text),
];

/// `CREATE TABLE` for the file's columns, the key as primary key (and not
/// null: SQLite would otherwise allow null keys).
pub(crate) fn create_table(
    table: &str,
    columns: &[FileColumn],
    key: &str,
    dialect: Dialect,
) -> String {
    let definitions: Vec<String> = columns
        .iter()
        .map(|c| {
            let constraint = if c.name == key {
                " PRIMARY KEY NOT NULL"
            } else {
                ""
            };
            let sql = match (dialect, c.sql) {
                (Dialect::Mysql, SqlType::Text) if c.name == key => MYSQL_TEXT_KEY,
                (_, sql) => sql.name(dialect),
            };
            format!("{} {sql}{constraint}", dialect.quote(&c.name))
        })
        .collect();
    let options = match dialect {
        // Stored by key alone: one B-tree instead of a table and an index
        // of its key, a tenth off a large load. The table reads the same;
        // only `rowid` is gone, which nothing of flow uses.
        Dialect::Sqlite => " WITHOUT ROWID",
        Dialect::Postgres | Dialect::Mysql => "",
    };
    format!(
        "CREATE TABLE {} ({}){options}",
        dialect.quote(table),
        definitions.join(", ")
    )
}

/// The quoted names of `columns`, comma-separated.
pub(crate) fn column_list(columns: &[FileColumn]) -> String {
    column_list_in(columns, Dialect::Postgres)
}

/// The names of `columns` quoted for `dialect`, comma-separated.
pub(crate) fn column_list_in(columns: &[FileColumn], dialect: Dialect) -> String {
    let names: Vec<String> = columns.iter().map(|c| dialect.quote(&c.name)).collect();
    names.join(", ")
}

/// The `ON CONFLICT` clause of an upsert into `table`: every column but the
/// key takes the file's value, and only where some value differs, so rows
/// already as in the file are neither rewritten nor counted as changed.
pub(crate) fn on_conflict(
    table: &str,
    columns: &[FileColumn],
    key: &str,
    dialect: Dialect,
) -> String {
    let table = quote(table);
    let others: Vec<String> = columns
        .iter()
        .filter(|c| c.name != key)
        .map(|c| quote(&c.name))
        .collect();
    let target = format!("ON CONFLICT ({})", quote(key));
    if others.is_empty() {
        return format!("{target} DO NOTHING");
    }
    let set: Vec<String> = others
        .iter()
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let old: Vec<String> = others.iter().map(|n| format!("{table}.{n}")).collect();
    let new: Vec<String> = others.iter().map(|n| format!("excluded.{n}")).collect();
    let (old, new) = (old.join(", "), new.join(", "));
    let differs = match dialect {
        Dialect::Sqlite => format!("({old}) IS NOT ({new})"),
        Dialect::Postgres | Dialect::Mysql => format!("ROW({old}) IS DISTINCT FROM ROW({new})"),
    };
    format!("{target} DO UPDATE SET {} WHERE {differs}", set.join(", "))
}

/// MySQL's `ON DUPLICATE KEY UPDATE` clause: every column but the key
/// takes the file's value. `VALUES(c)` rather than MySQL 8's row alias,
/// which MariaDB rejects. A row set to the values it has is not written
/// and counts 0 affected rows, so nothing else is needed to keep rows
/// already as in the file.
pub(crate) fn on_duplicate_key(columns: &[FileColumn], key: &str) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| c.name != key)
        .map(|c| {
            let name = Dialect::Mysql.quote(&c.name);
            format!("{name} = VALUES({name})")
        })
        .collect();
    if set.is_empty() {
        let key = Dialect::Mysql.quote(key);
        return format!("ON DUPLICATE KEY UPDATE {key} = {key}");
    }
    format!("ON DUPLICATE KEY UPDATE {}", set.join(", "))
}

/// Creates [`EXPORTS_TABLE`] unless it exists.
pub(crate) fn create_exports_table(dialect: Dialect) -> String {
    let id = match dialect {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY",
        Dialect::Postgres => "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        Dialect::Mysql => "id bigint AUTO_INCREMENT PRIMARY KEY",
    };
    let columns: Vec<String> = EXPORT_COLUMNS
        .iter()
        .map(|(name, sql)| format!("{name} {} NOT NULL", sql.name(dialect)))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {EXPORTS_TABLE} ({id}, {})",
        columns.join(", ")
    )
}

/// Adds one export; parameters in the order of [`EXPORT_COLUMNS`], the
/// time as text.
pub(crate) fn insert_export(dialect: Dialect) -> String {
    let names: Vec<&str> = EXPORT_COLUMNS.iter().map(|(name, _)| *name).collect();
    let values: Vec<String> = EXPORT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, sql))| match (dialect, sql) {
            (Dialect::Sqlite, _) => format!("?{}", i + 1),
            (Dialect::Mysql, _) => "?".to_string(),
            (Dialect::Postgres, SqlType::Timestamp) => format!("${}::text::timestamptz", i + 1),
            (Dialect::Postgres, _) => format!("${}", i + 1),
        })
        .collect();
    format!(
        "INSERT INTO {EXPORTS_TABLE} ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<FileColumn> {
        [("isin", SqlType::Text), ("nav", SqlType::Float)]
            .into_iter()
            .map(|(name, sql)| FileColumn {
                name: name.into(),
                sql,
                all_missing: false,
            })
            .collect()
    }

    #[test]
    fn creates_the_table_with_the_key_as_primary_key() {
        assert_eq!(
            create_table("file", &columns(), "isin", Dialect::Postgres),
            "CREATE TABLE \"file\" (\"isin\" text PRIMARY KEY NOT NULL, \"nav\" double precision)"
        );
        assert!(
            create_table("file", &columns(), "isin", Dialect::Sqlite).ends_with(") WITHOUT ROWID")
        );
    }

    #[test]
    fn updates_only_rows_that_differ() {
        assert_eq!(
            on_conflict("file", &columns(), "isin", Dialect::Sqlite),
            "ON CONFLICT (\"isin\") DO UPDATE SET \"nav\" = excluded.\"nav\" WHERE (\"file\".\"nav\") IS NOT (excluded.\"nav\")"
        );
        assert_eq!(
            on_conflict("file", &columns()[..1], "isin", Dialect::Postgres),
            "ON CONFLICT (\"isin\") DO NOTHING"
        );
    }

    #[test]
    fn mysql_keys_are_varchar_and_upserts_take_the_new_values() {
        assert_eq!(
            create_table("file", &columns(), "isin", Dialect::Mysql),
            "CREATE TABLE `file` (`isin` varchar(255) PRIMARY KEY NOT NULL, `nav` double)"
        );
        assert_eq!(
            on_duplicate_key(&columns(), "isin"),
            "ON DUPLICATE KEY UPDATE `nav` = VALUES(`nav`)"
        );
        assert_eq!(
            on_duplicate_key(&columns()[..1], "isin"),
            "ON DUPLICATE KEY UPDATE `isin` = `isin`"
        );
    }

    #[test]
    fn the_exports_insert_binds_every_column() {
        assert_eq!(
            insert_export(Dialect::Postgres),
            "INSERT INTO flow_exports (file_name, content_sha256, row_count, exported_at, table_name, mode) VALUES ($1, $2, $3, $4::text::timestamptz, $5, $6)"
        );
    }
}
