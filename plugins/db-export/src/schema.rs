//! Column types: how a file's polars types map to SQL types on each
//! database, how a table's declared types map back, and what differs
//! between a file and an existing table.
//!
//! Pure: no database access, so the rules are unit-tested here.

use polars::prelude::DataType;

/// The SQL types db-export creates. Everything else in a file is stored as
/// text, so no value is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlType {
    Text,
    Float,
    Integer,
    Boolean,
    /// An instant in UTC: the frames carry naive UTC datetimes.
    Timestamp,
}

/// Which database a type name is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
    /// MySQL 8 and MariaDB 10.11+.
    Mysql,
}

impl Dialect {
    /// An SQL identifier quoted for this database: `"x"`, or MySQL's
    /// `` `x` `` (double quotes are strings there unless `ANSI_QUOTES`).
    pub(crate) fn quote(self, identifier: &str) -> String {
        match self {
            Self::Sqlite | Self::Postgres => quote(identifier),
            Self::Mysql => format!("`{}`", identifier.replace('`', "``")),
        }
    }
}

/// The type of a MySQL key column of text: `TEXT` cannot be a key without
/// a prefix length, and 255 characters of utf8mb4 fit InnoDB's index limit.
pub(crate) const MYSQL_TEXT_KEY: &str = "varchar(255)";

impl SqlType {
    /// The SQL type of a file column of polars type `dtype`.
    pub(crate) fn of(dtype: &DataType) -> Self {
        match dtype {
            DataType::Boolean => Self::Boolean,
            DataType::Float32 | DataType::Float64 => Self::Float,
            dtype if dtype.is_integer() => Self::Integer,
            DataType::Datetime(_, _) | DataType::Date => Self::Timestamp,
            _ => Self::Text,
        }
    }

    /// The type name used in `CREATE TABLE`.
    pub(crate) fn name(self, dialect: Dialect) -> &'static str {
        match (dialect, self) {
            (Dialect::Sqlite, Self::Text) => "TEXT",
            (Dialect::Sqlite, Self::Float) => "REAL",
            (Dialect::Sqlite, Self::Integer) => "INTEGER",
            (Dialect::Sqlite, Self::Boolean) => "BOOLEAN",
            // SQLite has no time type; ISO 8601 text in UTC sorts and works
            // with its date functions, and the declared name says what it is.
            (Dialect::Sqlite, Self::Timestamp) => "TIMESTAMP",
            (Dialect::Postgres, Self::Text) => "text",
            (Dialect::Postgres, Self::Float) => "double precision",
            (Dialect::Postgres, Self::Integer) => "bigint",
            (Dialect::Postgres, Self::Boolean) => "boolean",
            (Dialect::Postgres, Self::Timestamp) => "timestamp with time zone",
            // Up to 4 GB, so no value of a file is cut; a key is
            // MYSQL_TEXT_KEY instead.
            (Dialect::Mysql, Self::Text) => "longtext",
            (Dialect::Mysql, Self::Float) => "double",
            (Dialect::Mysql, Self::Integer) => "bigint",
            // What BOOLEAN is in MySQL, and how the table reads back.
            (Dialect::Mysql, Self::Boolean) => "tinyint(1)",
            // DATETIME holds the UTC instant as written, with microseconds;
            // TIMESTAMP would convert by the session's time zone and end in
            // 2038.
            (Dialect::Mysql, Self::Timestamp) => "datetime(6)",
        }
    }

    /// The type a table column declared as `declared` holds, when it is one
    /// db-export knows; `None` leaves the conversion to the database.
    pub(crate) fn from_declared(declared: &str, dialect: Dialect) -> Option<Self> {
        let declared = declared.to_ascii_lowercase();
        match dialect {
            // SQLite's own affinity rules, in its order, plus the names of
            // the types it has no affinity for.
            Dialect::Sqlite => {
                if declared.contains("int") {
                    Some(Self::Integer)
                } else if ["char", "clob", "text"]
                    .iter()
                    .any(|t| declared.contains(t))
                {
                    Some(Self::Text)
                } else if declared.contains("bool") {
                    Some(Self::Boolean)
                } else if ["timestamp", "datetime", "date"]
                    .iter()
                    .any(|t| declared.contains(t))
                {
                    Some(Self::Timestamp)
                } else if ["real", "floa", "doub"]
                    .iter()
                    .any(|t| declared.contains(t))
                {
                    Some(Self::Float)
                } else {
                    None
                }
            }
            Dialect::Postgres => match declared.as_str() {
                "text" | "character varying" | "character" => Some(Self::Text),
                "double precision" | "real" | "numeric" => Some(Self::Float),
                "bigint" | "integer" | "smallint" => Some(Self::Integer),
                "boolean" => Some(Self::Boolean),
                "timestamp with time zone" | "timestamp without time zone" | "date" => {
                    Some(Self::Timestamp)
                }
                _ => None,
            },
            // COLUMN_TYPE, as `information_schema` gives it: `bigint(20)`,
            // `tinyint(1)`, `varchar(255)`, `double unsigned`.
            Dialect::Mysql => {
                if declared.starts_with("tinyint(1)") || declared.starts_with("bool") {
                    return Some(Self::Boolean);
                }
                let base = declared
                    .split(|c: char| c == '(' || c.is_whitespace())
                    .next()
                    .unwrap_or_default();
                match base {
                    "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                        Some(Self::Text)
                    }
                    "double" | "float" | "real" | "decimal" | "numeric" => Some(Self::Float),
                    "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
                        Some(Self::Integer)
                    }
                    "datetime" | "timestamp" | "date" => Some(Self::Timestamp),
                    _ => None,
                }
            }
        }
    }

    /// Whether values of a file column of this type can go into a table
    /// column of type `table`. Whole numbers fit a float column: an xlsx
    /// column of whole numbers reads as integers one day and floats the next.
    fn fits(self, table: Option<Self>) -> bool {
        match table {
            None => true,
            Some(table) => self == table || (self == Self::Integer && table == Self::Float),
        }
    }
}

/// A column of the file, as the table should have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileColumn {
    pub(crate) name: String,
    pub(crate) sql: SqlType,
    /// A column with no value at all fits any table type: CSV gives an
    /// empty column the text type.
    pub(crate) all_missing: bool,
}

/// A column of an existing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableColumn {
    pub(crate) name: String,
    /// The type as the database declares it.
    pub(crate) declared: String,
}

/// How a file's columns differ from an existing table's.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SchemaDiff {
    /// Columns of the file the table lacks, with the type they would get.
    pub(crate) only_in_file: Vec<(String, SqlType)>,
    pub(crate) only_in_table: Vec<String>,
    /// Columns both have whose types do not fit: name, table type, file type.
    pub(crate) mistyped: Vec<(String, String, SqlType)>,
}

impl SchemaDiff {
    /// The differences between `file` and `table`, or `None` when the file
    /// can be loaded into the table as it is. Order does not matter: rows
    /// are inserted by column name.
    pub(crate) fn between(
        file: &[FileColumn],
        table: &[TableColumn],
        dialect: Dialect,
    ) -> Option<Self> {
        let mut diff = Self::default();
        for column in file {
            match table.iter().find(|t| t.name == column.name) {
                None => diff.only_in_file.push((column.name.clone(), column.sql)),
                Some(existing) => {
                    let declared = SqlType::from_declared(&existing.declared, dialect);
                    if !column.all_missing && !column.sql.fits(declared) {
                        diff.mistyped.push((
                            column.name.clone(),
                            existing.declared.clone(),
                            column.sql,
                        ));
                    }
                }
            }
        }
        diff.only_in_table = table
            .iter()
            .filter(|t| !file.iter().any(|column| column.name == t.name))
            .map(|t| t.name.clone())
            .collect();
        let same = diff.only_in_file.is_empty()
            && diff.only_in_table.is_empty()
            && diff.mistyped.is_empty();
        (!same).then_some(diff)
    }

    /// What differs, as clauses for one message: "`x` is only in the file".
    pub(crate) fn describe(&self, dialect: Dialect) -> String {
        let mut parts = Vec::new();
        if !self.only_in_file.is_empty() {
            let names: Vec<&str> = self.only_in_file.iter().map(|(n, _)| n.as_str()).collect();
            parts.push(format!("only the file has {}", quoted_list(&names)));
        }
        if !self.only_in_table.is_empty() {
            let names: Vec<&str> = self.only_in_table.iter().map(String::as_str).collect();
            parts.push(format!("only the table has {}", quoted_list(&names)));
        }
        for (name, declared, sql) in &self.mistyped {
            parts.push(format!(
                "`{name}` is {declared} in the table but {} in the file",
                sql.name(dialect)
            ));
        }
        parts.join("; ")
    }

    /// The statements that would let the file in without losing the
    /// table's rows: new columns added, columns the file lacks dropped.
    pub(crate) fn alter_statements(&self, table: &str, dialect: Dialect) -> Vec<String> {
        let table = dialect.quote(table);
        let added = self.only_in_file.iter().map(|(name, sql)| {
            format!(
                "ALTER TABLE {table} ADD COLUMN {} {}",
                dialect.quote(name),
                sql.name(dialect)
            )
        });
        let dropped = self
            .only_in_table
            .iter()
            .map(|name| format!("ALTER TABLE {table} DROP COLUMN {}", dialect.quote(name)));
        added.chain(dropped).collect()
    }
}

/// "`a`, `b`"
pub(crate) fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

/// An SQL identifier, quoted for both databases: any column name a file
/// carries is used as it is, quotes included.
pub(crate) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::TimeUnit;

    fn file(name: &str, sql: SqlType) -> FileColumn {
        FileColumn {
            name: name.into(),
            sql,
            all_missing: false,
        }
    }

    fn table(name: &str, declared: &str) -> TableColumn {
        TableColumn {
            name: name.into(),
            declared: declared.into(),
        }
    }

    #[test]
    fn maps_the_merged_file_types() {
        assert_eq!(SqlType::of(&DataType::String), SqlType::Text);
        assert_eq!(SqlType::of(&DataType::Float64), SqlType::Float);
        assert_eq!(SqlType::of(&DataType::Int64), SqlType::Integer);
        assert_eq!(SqlType::of(&DataType::UInt32), SqlType::Integer);
        assert_eq!(SqlType::of(&DataType::Boolean), SqlType::Boolean);
        assert_eq!(
            SqlType::of(&DataType::Datetime(TimeUnit::Microseconds, None)),
            SqlType::Timestamp
        );
    }

    #[test]
    fn declared_types_read_back_as_what_was_created() {
        for sql in [
            SqlType::Text,
            SqlType::Float,
            SqlType::Integer,
            SqlType::Boolean,
            SqlType::Timestamp,
        ] {
            for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
                assert_eq!(
                    SqlType::from_declared(sql.name(dialect), dialect),
                    Some(sql)
                );
            }
        }
        assert_eq!(
            SqlType::from_declared("VARCHAR(12)", Dialect::Sqlite),
            Some(SqlType::Text)
        );
        assert_eq!(SqlType::from_declared("jsonb", Dialect::Postgres), None);
        // MariaDB shows integer display widths; MySQL 8.0.19+ drops them
        // but for `tinyint(1)`.
        for (declared, sql) in [
            ("bigint(20)", SqlType::Integer),
            ("bigint", SqlType::Integer),
            ("tinyint(4)", SqlType::Integer),
            ("tinyint", SqlType::Integer),
            ("tinyint(1)", SqlType::Boolean),
            (MYSQL_TEXT_KEY, SqlType::Text),
            ("datetime", SqlType::Timestamp),
            ("double unsigned", SqlType::Float),
        ] {
            assert_eq!(SqlType::from_declared(declared, Dialect::Mysql), Some(sql));
        }
        assert_eq!(SqlType::from_declared("json", Dialect::Mysql), None);
    }

    #[test]
    fn the_same_columns_in_another_order_do_not_differ() {
        let file = [file("nav", SqlType::Integer), file("isin", SqlType::Text)];
        let table = [table("isin", "text"), table("nav", "double precision")];
        assert_eq!(SchemaDiff::between(&file, &table, Dialect::Postgres), None);
    }

    #[test]
    fn names_every_difference_and_the_statements_that_fix_it() {
        let file = [
            file("isin", SqlType::Text),
            file("nav", SqlType::Text),
            file("new", SqlType::Float),
        ];
        let table = [
            table("isin", "TEXT"),
            table("nav", "REAL"),
            table("old", "TEXT"),
        ];
        let diff = SchemaDiff::between(&file, &table, Dialect::Sqlite);
        let text = diff.as_ref().map(|d| d.describe(Dialect::Sqlite));
        assert_eq!(
            text.as_deref(),
            Some(
                "only the file has `new`; only the table has `old`; `nav` is REAL in the table but TEXT in the file"
            )
        );
        let statements = diff.map(|d| d.alter_statements("t", Dialect::Sqlite));
        assert_eq!(
            statements,
            Some(vec![
                "ALTER TABLE \"t\" ADD COLUMN \"new\" REAL".to_string(),
                "ALTER TABLE \"t\" DROP COLUMN \"old\"".to_string(),
            ])
        );
    }

    #[test]
    fn an_empty_column_fits_any_type() {
        let mut empty = file("nav", SqlType::Text);
        empty.all_missing = true;
        let table = [table("nav", "double precision")];
        assert_eq!(
            SchemaDiff::between(&[empty], &table, Dialect::Postgres),
            None
        );
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Mysql.quote("a`b"), "`a``b`");
    }
}
