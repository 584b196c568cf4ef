//! `db-export` run as a user runs it, the real binary against real
//! databases: one suite of scenarios, each run on SQLite, PostgreSQL and
//! MariaDB, plus the cases only one of them has, TLS to both servers, and
//! SQLite's streamed load.
//!
//! Server tests need `FLOW_TEST_POSTGRES_URL`, `FLOW_TEST_MYSQL_URL` and
//! their `_TLS_` variants (run `scripts/test`, or `eval` what
//! `scripts/pg-throwaway` and `scripts/mysql-throwaway` print). Without
//! one, its tests say they are skipped; with `CI` set, they fail.

mod backend;
mod only;
mod scenarios;
mod stream;
mod tls;

/// Every scenario in `scenarios`, as one test per database:
/// `sqlite::first_load`, `postgres::first_load`, `mysql::first_load`.
macro_rules! on_every_database {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    crate::scenarios::$name(&crate::backend::Backend::sqlite()?)
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    match crate::backend::Backend::postgres(stringify!($name))? {
                        Some(db) => crate::scenarios::$name(&db),
                        None => Ok(()),
                    }
                }
            )*
        }
        mod mysql {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    match crate::backend::Backend::mysql(stringify!($name))? {
                        Some(db) => crate::scenarios::$name(&db),
                        None => Ok(()),
                    }
                }
            )*
        }
    };
}

on_every_database!(
    first_load,
    repeated_load,
    changed_file,
    refused_row_late_in_the_file_leaves_the_table_as_before,
    kill_in_the_middle_leaves_the_table_as_before,
    table_without_a_unique_key_is_explained,
    columns_that_differ_are_named_and_nothing_changes,
    replace_mode_recreates_the_table_from_the_file,
    type_that_differs_is_named,
    missing_key_column,
    duplicate_keys_are_named_with_their_rows,
    empty_key,
    excel_input_and_receipt,
    every_type_round_trips_and_upsert_matches_first_load,
    a_table_of_other_types_is_loaded_through_conversion,
);
